// The batch loops, init and Config, through the testing helpers (the loop the component runs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config, ConfigError, drop, reject, retry, unchanged } from '../sluice.js';
import { filterBatch, runInit, transformBatch } from '../glue.js';
import { encodeBatch, readOutcomes } from '../frames.js';
import { bodyText, counters, init, runFilter, runTransform } from '../testing.js';
import { counterAdd } from '../host.js';

const BATCH = { topic: 't', queueId: 0, pipeline: 'p', stage: 's' };

test('a filter keeps, drops, retries and rejects', () => {
  const plugin = {
    filter(m) {
      const v = m.property('v');
      if (v === 'retry') throw retry('later');
      if (v === 'reject') throw reject('never');
      return v === 'keep';
    },
  };
  const out = runFilter(plugin, {}, [
    { properties: { v: 'keep' } },
    { properties: { v: 'no' } },
    { properties: { v: 'retry' } },
    { properties: { v: 'reject' } },
    {},
  ]);
  assert.deepEqual(out, [
    { outcome: 'unchanged' },
    { outcome: 'drop' },
    { outcome: 'retry', reason: 'later' },
    { outcome: 'reject', reason: 'never' },
    { outcome: 'drop' },
  ]);
});

test('long reasons do not crowd out the tags of the frames after them', () => {
  const plugin = {
    filter(m) {
      if (m.queueOffset % 7 === 0) throw reject('x'.repeat(500 + m.queueOffset));
      return m.queueOffset % 2 === 0;
    },
  };
  const msgs = Array.from({ length: 300 }, () => ({}));
  const out = runFilter(plugin, {}, msgs);
  out.forEach((o, i) => {
    if (i % 7 === 0) assert.equal(o.reason.length, 500 + i);
    else assert.equal(o.outcome, i % 2 === 0 ? 'unchanged' : 'drop', `message ${i}`);
  });
});

test('an uncaught exception traps, naming the message', () => {
  const plugin = {
    filter(m) {
      return m.body.foo.bar;
    },
  };
  assert.throws(() => runFilter(plugin, {}, [{ messageId: 'm-1', queueOffset: 7 }]), (e) => {
    assert.match(e.message, /filter\(\) threw on the message at queue offset 7 \(id "m-1"\): TypeError/);
    return true;
  });
  assert.throws(() => runFilter({ filter: () => 'yes' }, {}, [{}]), /must return true \(keep\) or false \(drop\), not yes/);
  assert.throws(() => runFilter({ filter: () => undefined }, {}, [{}]), /not undefined/);
});

test('a transform answers unchanged, drop, one output or many', () => {
  const plugin = {
    transform(m) {
      switch (m.key) {
        case 'same':
          return unchanged;
        case 'gone':
          return drop;
        case 'one':
          return { body: `${m.bodyText()}!`, properties: m.propertiesWith('p', '2') };
        case 'many':
          return [
            { keys: ['a', 'b'], tag: '', destination: 'fraud' },
            { properties: new Map([['x', 'y']]), body: Uint8Array.from([0xff]) },
            { properties: { o: 'k' } },
          ];
        case 'none':
          return [];
        case 'retry':
          throw retry('r');
        default:
          throw reject('unknown');
      }
    },
  };
  const out = runTransform(plugin, [], [
    { keys: ['same'] },
    { keys: ['gone'] },
    { keys: ['one'], body: 'hi', properties: [['p', '1'], ['q', '1']] },
    { keys: ['many'] },
    { keys: ['none'] },
    { keys: ['retry'] },
    {},
  ]);
  assert.deepEqual(out[0], { outcome: 'unchanged' });
  assert.deepEqual(out[1], { outcome: 'drop' });
  assert.equal(bodyText(out[2].outputs[0]), 'hi!');
  assert.deepEqual(out[2].outputs[0].properties, [['p', '2'], ['q', '1']]);
  assert.deepEqual(out[3].outputs[0], { keys: ['a', 'b'], tag: '', destination: 'fraud' });
  assert.deepEqual(out[3].outputs[1].properties, [['x', 'y']]);
  assert.deepEqual([...out[3].outputs[1].body], [0xff]);
  assert.deepEqual(out[3].outputs[2], { properties: [['o', 'k']] });
  assert.deepEqual(out[4], { outcome: 'replaced', outputs: [] });
  assert.deepEqual(out[5], { outcome: 'retry', reason: 'r' });
  assert.deepEqual(out[6], { outcome: 'reject', reason: 'unknown' });
});

test('a transform answer that is not one traps', () => {
  const run = (answer) => runTransform({ transform: () => answer }, {}, [{}]);
  assert.throws(() => run(undefined), /returned nothing/);
  assert.throws(() => run({ bdy: 'x' }), /no field `bdy`/);
  assert.throws(() => run({ body: 42 }), /body must be a string or a Uint8Array/);
  assert.throws(() => run({ keys: 'k' }), /keys must be an array/);
  assert.throws(() => run({ properties: [['k']] }), /string pairs/);
  assert.throws(() => run(null), /must be an object/);
});

test('many outputs and large bodies grow the buffer', () => {
  const big = new Uint8Array(70000).fill(0x61);
  const plugin = { transform: (m) => (m.queueOffset % 3 === 0 ? { body: big } : unchanged) };
  const out = runTransform(plugin, {}, Array.from({ length: 100 }, () => ({})));
  out.forEach((o, i) => assert.equal(o.outcome, i % 3 === 0 ? 'replaced' : 'unchanged'));
  assert.equal(out[99].outputs[0].body.length, 70000);
});

test('init: ConfigError refuses, a module without init takes no configuration', () => {
  const plugin = {
    init(c) {
      c.only(['a']);
      c.require('a');
    },
    filter: () => true,
  };
  assert.throws(() => runInit(plugin, [['b', '1']]), (e) => {
    assert.deepEqual(e, { key: 'b', message: 'unknown key `b`; expected one of: a' });
    return true;
  });
  assert.throws(() => runInit(plugin, []), (e) => e.key === 'a' && e.message === 'missing required key `a`');
  runInit(plugin, [['a', '1']]);
  assert.throws(() => init({ filter: () => true }, { x: '1' }), (e) => e instanceof ConfigError && e.key === 'x');
  init({ filter: () => true }, {});
  assert.throws(() => runInit({ init: () => { throw new TypeError('bug'); } }, []), (e) => e.key === null && /^init\(\) threw TypeError: bug/.test(e.message));
});

test('Config reads like the Rust SDK', () => {
  const c = new Config([
    ['a', '1'],
    ['a', '2'],
    ['n', '-3'],
    ['u', '+4'],
    ['neg', '-1'],
    ['t', 'true'],
    ['y', 'yes'],
    ['e', ''],
    ['big', '99999999999999999999'],
  ]);
  assert.equal(c.get('a'), '2', 'the last one set wins');
  assert.equal(c.get('zz'), null);
  assert.equal(c.has('a'), true);
  assert.equal(c.int('n', 0), -3);
  assert.equal(c.uint('u', 0), 4);
  assert.equal(c.uint('missing', 9), 9);
  assert.equal(c.bool('t', false), true);
  assert.equal(c.bool('missing', true), true);
  assert.throws(() => c.uint('neg', 0), /invalid value "-1" for `neg`: invalid digit found in string/);
  assert.throws(() => c.bool('y', false), /provided string was not `true` or `false`/);
  assert.throws(() => c.int('e', 0), /cannot parse integer from empty string/);
  assert.throws(() => c.int('big', 0), /number too large/);
  assert.equal(c.parse('n', 0, (v) => Number(v) * 2), -6);
  assert.throws(() => c.parse('y', 0, () => { throw new Error('nope'); }), (e) => e instanceof ConfigError && e.key === 'y' && /nope/.test(e.message));
  new Config([['a', '']]).only(['a']);
  assert.throws(() => new Config([['b', '']]).only([]), /this plugin takes no configuration/);
  assert.throws(() => c.require('zz'), (e) => e instanceof ConfigError && e.key === 'zz');
});

test('counters count natively', () => {
  counterAdd('seen');
  counterAdd('seen', 2);
  assert.equal(counters.get('seen'), 3);
  assert.throws(() => counterAdd('bad', -1), /non-negative integer/);
});

test('the batch loops refuse a malformed batch', () => {
  const frames = encodeBatch([{ body: 'x' }]);
  assert.throws(() => filterBatch({ filter: () => true }, BATCH, frames.subarray(0, frames.length - 1)), /malformed batch/);
  assert.throws(() => transformBatch({ transform: () => unchanged }, BATCH, frames.subarray(0, 20)), /malformed batch/);
  assert.deepEqual(readOutcomes(filterBatch({ filter: () => true }, BATCH, new Uint8Array(0)), 0), []);
});
