// The frame layout (wit/FRAMES.md): messages read in place, outcome buffers written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Message, OutcomeWriter, encodeBatch, readOutcomes } from '../frames.js';

const BATCH = { topic: 'orders', queueId: 3, pipeline: 'p', stage: 's' };

function messages(buf) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  const out = [];
  for (let pos = 0; pos < buf.length; ) {
    const len = dv.getUint32(pos, true);
    out.push(new Message(buf, dv, pos, pos + len, BATCH));
    pos += len;
  }
  return out;
}

test('every field reads back', () => {
  const buf = encodeBatch([
    {
      queueOffset: 10,
      bornTimestampMs: 1_700_000_000_000,
      reconsumeCount: 2,
      messageId: 'A1',
      keys: ['k1', 'k2'],
      tag: '',
      properties: [['a', '1'], ['region', 'eu'], ['region', 'us']],
      body: Uint8Array.from([0xff, 0x00, 0x78]),
    },
    { queueOffset: -5, bornTimestampMs: -1, messageId: '', body: '' },
    { queueOffset: 2 ** 53 - 1, messageId: 'Zoë', keys: ['ключ'], tag: 'paid', properties: { 'név': 'Zoë 😀' }, body: 'Zoë' },
  ]);
  const [a, b, c] = messages(buf);
  assert.equal(a.queueOffset, 10);
  assert.equal(a.bornTimestampMs, 1_700_000_000_000);
  assert.equal(a.reconsumeCount, 2);
  assert.equal(a.messageId, 'A1');
  assert.deepEqual(a.keys, ['k1', 'k2']);
  assert.equal(a.key, 'k1');
  assert.equal(a.tag, '', 'an empty tag is not the same as no tag');
  assert.deepEqual(a.properties, [['a', '1'], ['region', 'eu'], ['region', 'us']]);
  assert.equal(a.property('region'), 'eu', 'the first of a name wins');
  assert.equal(a.property('missing'), null);
  assert.deepEqual([...a.body], [0xff, 0x00, 0x78]);
  assert.equal(a.bodyLength, 3);
  assert.equal(a.bodyText(), null, 'not UTF-8');
  assert.equal(a.topic, 'orders');
  assert.equal(a.queueId, 3);
  assert.equal(b.queueOffset, -5);
  assert.equal(b.bornTimestampMs, -1);
  assert.equal(b.tag, null);
  assert.equal(b.key, null);
  assert.deepEqual(b.keys, []);
  assert.deepEqual(b.properties, []);
  assert.equal(b.bodyText(), '');
  assert.equal(b.body.length, 0);
  assert.equal(c.queueOffset, 2 ** 53 - 1);
  assert.equal(c.messageId, 'Zoë');
  assert.deepEqual(c.keys, ['ключ']);
  assert.equal(c.tag, 'paid');
  assert.equal(c.property('név'), 'Zoë 😀');
  assert.equal(c.bodyText(), 'Zoë');
  assert.deepEqual(c.propertiesWith('x', 'y'), [['név', 'Zoë 😀'], ['x', 'y']]);
  assert.deepEqual(c.propertiesWith('név', 'z'), [['név', 'z']]);
  assert.equal(c.toJSON().bodyText, 'Zoë');
});

test('property() finds names of every length and compares every byte', () => {
  const names = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'region', 'abcdefg', 'abcdefgh', 'abcdefghi', 'a-long-property-name-indeed', 'é', 'ééé', '😀😀'];
  const props = [];
  for (const n of names) {
    props.push([n, `v:${n}`]);
    // Same length, one byte different in each position: must never match.
    for (let i = 0; i < n.length; i++) {
      const c = n.charCodeAt(i);
      if (c < 0x80) props.unshift([n.slice(0, i) + String.fromCharCode(c ^ 1) + n.slice(i + 1), 'decoy']);
    }
  }
  const [m] = messages(encodeBatch([{ properties: props }]));
  for (const n of names) assert.equal(m.property(n), `v:${n}`, JSON.stringify(n));
  for (const n of ['abcdefgx', 'x', 'abcdefghij', 'regio', 'abcdxfgh']) assert.equal(m.property(n), null, n);
  // Values of every short length, ASCII and not.
  const values = ['', 'e', 'eu', 'eur', 'euro', 'europe', 'é', 'éé', 'aé', '😀'];
  const [v] = messages(encodeBatch([{ properties: values.map((x, i) => [`k${i}`, x]) }]));
  values.forEach((x, i) => assert.equal(v.property(`k${i}`), x));
  assert.throws(() => v.property(42), /must be a string/);
});

test('clone() keeps a message while the loop moves on', () => {
  const buf = encodeBatch([{ body: 'one' }, { body: 'two' }]);
  const dv = new DataView(buf.buffer);
  const m = new Message(buf, dv, 0, dv.getUint32(0, true), BATCH);
  const kept = m.clone();
  m._at = m._end;
  m._end = buf.length;
  assert.equal(m.bodyText(), 'two');
  assert.equal(kept.bodyText(), 'one');
});

test('outcomes round-trip, and the writer grows', () => {
  const w = new OutcomeWriter(8);
  w.unchanged();
  w.drop();
  w.retry('later');
  w.reject('never: Zoë 😀');
  w.replaced();
  w.output(['k'], '', [['p', 'v'], ['név', 'é']], Uint8Array.from([1, 2, 3]), 'fraud');
  w.output(null, null, null, new Uint8Array(100000), null);
  w.replaced(); // zero outputs
  for (let i = 0; i < 1000; i++) w.unchanged();
  const out = readOutcomes(w.finish(), 1006);
  assert.deepEqual(out.slice(0, 4), [
    { outcome: 'unchanged' },
    { outcome: 'drop' },
    { outcome: 'retry', reason: 'later' },
    { outcome: 'reject', reason: 'never: Zoë 😀' },
  ]);
  const [first, second] = out[4].outputs;
  assert.deepEqual(first.keys, ['k']);
  assert.equal(first.tag, '');
  assert.deepEqual(first.properties, [['p', 'v'], ['név', 'é']]);
  assert.deepEqual([...first.body], [1, 2, 3]);
  assert.equal(first.destination, 'fraud');
  assert.deepEqual(Object.keys(second), ['body']);
  assert.equal(second.body.length, 100000);
  assert.deepEqual(out[5], { outcome: 'replaced', outputs: [] });
  assert.equal(out.length, 1006);
});

test('the reader refuses what the host refuses', () => {
  const w = new OutcomeWriter(8);
  w.unchanged();
  const good = w.finish();
  assert.throws(() => readOutcomes(good, 2), /1 outcomes for a batch of 2/);
  assert.throws(() => readOutcomes(Uint8Array.from([...good, 0]), 1), /trail/);
  assert.throws(() => readOutcomes(Uint8Array.from([0, ...good.slice(1)]), 1), /magic/);
});
