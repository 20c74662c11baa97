// `node --test` in this directory (after one build, which puts the kit in .sluice-build/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyText, counters, runTransform } from '#sluice/testing';
import * as plugin from './plugin.js';

function masked(config, body) {
  const [o] = runTransform(plugin, config, [{ body }]);
  if (o.outcome === 'unchanged') return body;
  assert.equal(o.outcome, 'replaced');
  return typeof body === 'string' ? bodyText(o.outputs[0]) : o.outputs[0].body;
}

test('masks cards and e-mails', () => {
  assert.equal(masked({}, 'card 4111 1111 1111 1111 ok'), 'card **** **** **** 1111 ok');
  assert.equal(masked({}, '4111-1111-1111-1111'), '****-****-****-1111');
  assert.equal(masked({}, '{"pan":"5500005555555559"}'), '{"pan":"************5559"}');
  assert.equal(masked({}, 'mail jane.doe@example.com now'), 'mail j*******@example.com now');
  assert.equal(masked({ mask: '#', keep_last: '0' }, '4111111111111111'), '################');
  assert.ok(counters.get('cards_masked') >= 4);
});

test('leaves other numbers and non-UTF-8 alone', () => {
  const out = runTransform(plugin, {}, [{ body: 'order 1234567890123 total 12' }, { body: 'a@b' }, { body: '' }]);
  assert.deepEqual(out, [{ outcome: 'unchanged' }, { outcome: 'unchanged' }, { outcome: 'unchanged' }]);
  const body = Uint8Array.from([0xfe, ...new TextEncoder().encode(' 4111111111111111')]);
  assert.deepEqual([...masked({}, body)], [0xfe, ...new TextEncoder().encode(' ************1111')]);
});

test('refuses bad configuration', () => {
  for (const cfg of [{ mask: 'ab' }, { mask: ' ' }, { keep_last: '9' }, { keep_last: '-1' }, { cards: 'yes' }, { colour: 'red' }]) {
    assert.throws(() => runTransform(plugin, cfg, []), { name: 'ConfigError' }, JSON.stringify(cfg));
  }
});
