// The UTF-8 codec against Node's TextDecoder/TextEncoder (which QuickJS lacks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, decodeStrict, encode, encodedLength } from '../utf8.js';

const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const reference = (bytes) => {
  try {
    return fatal.decode(bytes);
  } catch {
    return null;
  }
};

// A tiny deterministic generator, so that failures reproduce.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

test('decodeStrict agrees with a fatal TextDecoder on edge cases', () => {
  const cases = [
    [],
    [0x41],
    [0xef, 0xbb, 0xbf, 0x7b, 0x7d], // a byte-order mark is kept, as Rust's from_utf8 keeps it
    [0xc3, 0xa9],
    [0xc3],
    [0xc0, 0xaf], // overlong
    [0xc1, 0xbf],
    [0xe0, 0x80, 0x80], // overlong
    [0xe0, 0xa0, 0x80],
    [0xed, 0x9f, 0xbf],
    [0xed, 0xa0, 0x80], // surrogate
    [0xef, 0xbf, 0xbf],
    [0xf0, 0x8f, 0xbf, 0xbf], // overlong
    [0xf0, 0x90, 0x80, 0x80],
    [0xf0, 0x9f, 0x98, 0x80],
    [0xf4, 0x8f, 0xbf, 0xbf],
    [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
    [0xf5, 0x80, 0x80, 0x80],
    [0xff],
    [0x80],
    [0x61, 0xe2, 0x82],
  ];
  for (const c of cases) {
    const b = Uint8Array.from(c);
    assert.equal(decodeStrict(b), reference(b), `bytes ${c.map((x) => x.toString(16))}`);
  }
});

test('decodeStrict agrees with a fatal TextDecoder on random bytes', () => {
  const r = rng(1);
  const pool = [0x00, 0x41, 0x7f, 0x80, 0xbf, 0xc2, 0xc3, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf3, 0xf4, 0xf5, 0xa0, 0x9f, 0x90, 0x8f];
  for (let n = 0; n < 20000; n++) {
    const len = Math.floor(r() * 8);
    const b = new Uint8Array(len);
    for (let i = 0; i < len; i++) b[i] = r() < 0.5 ? pool[Math.floor(r() * pool.length)] : Math.floor(r() * 256);
    assert.equal(decodeStrict(b), reference(b), `bytes ${[...b].map((x) => x.toString(16))}`);
  }
});

test('decodeStrict reads a range and long texts', () => {
  const text = 'Zoë 😀 '.repeat(5000);
  const b = new TextEncoder().encode(`xx${text}yy`);
  assert.equal(decodeStrict(b, 2, b.length - 2), text);
  const ascii = 'a'.repeat(100000);
  assert.equal(decodeStrict(new TextEncoder().encode(ascii)), ascii);
});

test('decode throws on what the host would never send', () => {
  assert.equal(decode(Uint8Array.from([0x68, 0x69])), 'hi');
  assert.throws(() => decode(Uint8Array.from([0xff])), /not UTF-8/);
});

test('encode agrees with TextEncoder, lone surrogates included', () => {
  const r = rng(2);
  const units = [0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xfffd, 0xffff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe9, 0x1f600];
  const te = new TextEncoder();
  for (let n = 0; n < 5000; n++) {
    let s = '';
    const len = Math.floor(r() * 6);
    for (let i = 0; i < len; i++) {
      const u = units[Math.floor(r() * units.length)];
      s += u > 0xffff ? String.fromCodePoint(u) : String.fromCharCode(u);
    }
    assert.deepEqual(encode(s), te.encode(s), JSON.stringify(s));
    assert.equal(encodedLength(s), te.encode(s).length);
  }
});
