// `node --test` in this directory (after one build, which puts the kit in .sluice-build/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFilter } from '#sluice/testing';
import * as plugin from './plugin.js';
import { jsonEqual, jsonPointer, parseJson } from './serde-json.js';

const te = new TextEncoder();
const parse = (s) => parseJson(typeof s === 'string' ? te.encode(s) : s);

test('keeps equal, drops other, rejects non-JSON', () => {
  const out = runFilter(plugin, { field: 'order.status', equals: 'paid' }, [
    { body: '{"order":{"status":"paid"}}' },
    { body: '{"order":{"status":"new"}}' },
    { body: '{"other":1}' },
    { body: 'not json' },
    { body: '' },
    { body: Uint8Array.from([0xff, 0xfe]) },
  ]);
  assert.deepEqual(out.slice(0, 3), [{ outcome: 'unchanged' }, { outcome: 'drop' }, { outcome: 'drop' }]);
  assert.equal(out[3].outcome, 'reject');
  assert.match(out[3].reason, /^body is not JSON: /);
  assert.deepEqual(out[4], { outcome: 'reject', reason: 'body is empty, not JSON' });
  assert.equal(out[5].outcome, 'reject');
});

test('values are JSON when they parse, and numbers keep their kind', () => {
  const cfg = { field: '/n', equals: '42' };
  const out = runFilter(plugin, cfg, [{ body: '{"n":42}' }, { body: '{"n":"42"}' }, { body: '{"n":42.0}' }]);
  assert.deepEqual(out.map((o) => o.outcome), ['unchanged', 'drop', 'drop']);
  assert.throws(() => runFilter(plugin, { equals: '1' }, []), (e) => /missing required key `field`/.test(e.message));
});

test('serde_json semantics', () => {
  assert.equal(parse('42'), 42n);
  assert.equal(parse('42.0'), 42);
  assert.ok(Object.is(parse('-0'), -0));
  assert.equal(parse('18446744073709551615'), 18446744073709551615n);
  assert.equal(parse('18446744073709551616'), 18446744073709551616);
  assert.equal(parse('-9223372036854775808'), -9223372036854775808n);
  assert.equal(typeof parse('-9223372036854775809'), 'number');
  assert.equal(parse('1e-400'), 0);
  for (const bad of ['1e400', 'NaN', '01', '[1,]', '{"a":1,}', '{"a":1} x', '\u{feff}{}', '"\\ud800"', '[', '', ' ']) {
    assert.throws(() => parse(bad), { name: 'JsonError' }, bad);
  }
  assert.throws(() => parse(Uint8Array.from([0x22, 0xff, 0x22])), { name: 'JsonError' });
  assert.equal(parse('"\\ud83d\\ude00"'), '😀');
  assert.equal(parse('{"a":1,"a":2}').get('a'), 2n, 'the last duplicate wins');
  assert.ok(jsonEqual(parse('{"a":1,"b":[true,null]}'), parse('{"b":[true,null],"a":1}')));
  assert.ok(!jsonEqual(parse('1'), parse('1.0')));
  assert.ok(jsonEqual(parse('0.0'), parse('-0.0')));
  assert.equal(parse('['.repeat(127) + ']'.repeat(127)).length, 1);
  assert.throws(() => parse('['.repeat(128) + ']'.repeat(128)), /recursion limit/);
  const doc = parse('{"a~b":{"c/d":[10,20]}}');
  assert.equal(jsonPointer(doc, '/a~0b/c~1d/1'), 20n);
  assert.equal(jsonPointer(doc, '/a~0b/c~1d/01'), undefined);
  assert.equal(jsonPointer(doc, ''), doc);
  assert.equal(jsonPointer(doc, 'a'), undefined);
});
