// A strict JSON reader with the semantics of Rust's serde_json 1.0 (`Value`, default
// features), so that this plugin decides exactly as the Rust json-filter does:
//
// * integers stay integers: `42` is an integer (a BigInt here), `42.0` and `4.2e1` are
//   floats (Numbers), and they are not equal; `-0` is the float -0.0;
// * floats are computed as serde_json computes them (significand times or divided by a power
//   of ten), not correctly rounded as JSON.parse does, so that the same text gives the same
//   double; numbers out of the double range are errors;
// * duplicate object keys: the last wins; objects are Maps and compare as maps;
// * no NaN, Infinity, leading zeros, trailing commas, comments, byte-order mark or trailing
//   garbage; strings must be UTF-8, without raw control characters, with paired surrogate
//   escapes; at most 127 nested arrays/objects.
//
// Values: null, true/false, BigInt (integer), Number (float), string, Array, Map.

import { decodeUtf8 } from '#sluice';

/** Why a text is not JSON; `message` says what and where. */
export class JsonError extends Error {
  constructor(what, at) {
    super(`${what} at byte ${at}`);
    this.name = 'JsonError';
  }
}

// serde_json's POW10 table: 1e0 ..= 1e308, each the correctly rounded double.
const POW10 = [];
for (let i = 0; i <= 308; i++) POW10.push(Number(`1e${i}`));

const U64_MAX = 18446744073709551615n;
const I32_MAX = 2147483647;
const I32_MIN = -2147483648;
const SAFE_SMALL = 1e14; // below this, `sig * 10 + digit` stays an exact Number

function clampI32(x) {
  return x > I32_MAX ? I32_MAX : x < I32_MIN ? I32_MIN : x;
}

/**
 * Parses `bytes` as one JSON value (whitespace around it allowed, nothing else).
 * @param {Uint8Array} bytes
 * @returns {null | boolean | bigint | number | string | unknown[] | Map<string, unknown>}
 * @throws {JsonError}
 */
export function parseJson(bytes) {
  const n = bytes.length;
  let i = 0;
  let depth = 128;

  const fail = (what, at = i) => {
    throw new JsonError(what, at);
  };

  const ws = () => {
    while (i < n) {
      const c = bytes[i];
      if (c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d) i++;
      else break;
    }
  };

  const hex4 = () => {
    if (i + 4 > n) fail('EOF while parsing a string');
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = bytes[i++];
      let d;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
      else fail('invalid escape', i - 1);
      v = v * 16 + d;
    }
    return v;
  };

  const string = () => {
    // At the opening quote.
    i++;
    let out = '';
    let start = i;
    for (;;) {
      if (i >= n) fail('EOF while parsing a string');
      const c = bytes[i];
      if (c === 0x22 || c === 0x5c || c < 0x20) {
        if (i > start) {
          const s = decodeUtf8(bytes, start, i);
          if (s === null) fail('invalid unicode code point', start);
          out += s;
        }
        if (c === 0x22) {
          i++;
          return out;
        }
        if (c < 0x20) fail('control character (\\u0000-\\u001F) found while parsing a string');
        i++; // the backslash
        if (i >= n) fail('EOF while parsing a string');
        const e = bytes[i++];
        switch (e) {
          case 0x22: out += '"'; break;
          case 0x5c: out += '\\'; break;
          case 0x2f: out += '/'; break;
          case 0x62: out += '\b'; break;
          case 0x66: out += '\f'; break;
          case 0x6e: out += '\n'; break;
          case 0x72: out += '\r'; break;
          case 0x74: out += '\t'; break;
          case 0x75: {
            const u = hex4();
            if (u >= 0xdc00 && u <= 0xdfff) fail('lone leading surrogate in hex escape');
            if (u >= 0xd800 && u <= 0xdbff) {
              if (i >= n) fail('EOF while parsing a string');
              if (bytes[i] !== 0x5c) fail('unexpected end of hex escape', i + 1);
              i++;
              if (i >= n) fail('EOF while parsing a string');
              if (bytes[i] !== 0x75) fail('unexpected end of hex escape', i + 1);
              i++;
              const lo = hex4();
              if (lo < 0xdc00 || lo > 0xdfff) fail('lone leading surrogate in hex escape');
              out += String.fromCharCode(u, lo);
            } else {
              out += String.fromCharCode(u);
            }
            break;
          }
          default:
            fail('invalid escape', i - 1);
        }
        start = i;
      } else {
        i++;
      }
    }
  };

  const isDigit = (c) => c >= 0x30 && c <= 0x39;

  // serde_json's f64_from_parts (without the float_roundtrip feature).
  const fromParts = (positive, sig, exponent) => {
    let f = typeof sig === 'bigint' ? Number(sig) : sig;
    for (;;) {
      const a = Math.abs(exponent);
      if (a < POW10.length) {
        if (exponent >= 0) {
          f *= POW10[a];
          if (!Number.isFinite(f)) fail('number out of range');
        } else {
          f /= POW10[a];
        }
        break;
      }
      if (f === 0) break;
      if (exponent >= 0) fail('number out of range');
      f /= 1e308;
      exponent += 308;
    }
    return positive ? f : -f;
  };

  // The significand is a Number while it is small, a BigInt past that (as serde's u64).
  // Returns the next significand, or null when `sig * 10 + d` overflows a u64.
  const push = (sig, d) => {
    if (typeof sig === 'number') {
      if (sig < SAFE_SMALL) return sig * 10 + d;
      sig = BigInt(sig);
    }
    const next = sig * 10n + BigInt(d);
    return next > U64_MAX ? null : next;
  };

  const isZero = (sig) => sig === 0 || sig === 0n;

  const exponentPart = (positive, sig, startingExp) => {
    i++; // 'e' or 'E'
    let positiveExp = true;
    if (i < n && bytes[i] === 0x2b) i++;
    else if (i < n && bytes[i] === 0x2d) {
      positiveExp = false;
      i++;
    }
    if (i >= n) fail('EOF while parsing a value');
    const first = bytes[i++];
    if (!isDigit(first)) fail('invalid number', i - 1);
    let exp = first - 0x30;
    while (i < n && isDigit(bytes[i])) {
      const d = bytes[i++] - 0x30;
      if (exp >= 214748364 && (exp > 214748364 || d > 7)) { // exp * 10 + d > i32::MAX
        // serde_json: infinity is an error, zero stays zero.
        if (!isZero(sig) && positiveExp) fail('number out of range', i - 1);
        while (i < n && isDigit(bytes[i])) i++;
        return positive ? 0 : -0;
      }
      exp = exp * 10 + d;
    }
    const finalExp = clampI32(positiveExp ? startingExp + exp : startingExp - exp);
    return fromParts(positive, sig, finalExp);
  };

  const decimal = (positive, sig, expBefore) => {
    i++; // '.'
    let after = 0;
    while (i < n && isDigit(bytes[i])) {
      const next = push(sig, bytes[i] - 0x30);
      if (next === null) {
        // Further digits only add precision a u64 cannot hold: skip them.
        while (i < n && isDigit(bytes[i])) i++;
        const exponent = expBefore + after;
        if (i < n && (bytes[i] === 0x65 || bytes[i] === 0x45)) return exponentPart(positive, sig, exponent);
        return fromParts(positive, sig, exponent);
      }
      i++;
      sig = next;
      after -= 1;
    }
    if (after === 0) fail(i < n ? 'invalid number' : 'EOF while parsing a value');
    const exponent = expBefore + after;
    if (i < n && (bytes[i] === 0x65 || bytes[i] === 0x45)) return exponentPart(positive, sig, exponent);
    return fromParts(positive, sig, exponent);
  };

  const longInteger = (positive, sig) => {
    let exponent = 0;
    while (i < n && isDigit(bytes[i])) {
      i++;
      exponent += 1;
    }
    if (i < n && bytes[i] === 0x2e) return decimal(positive, sig, exponent);
    if (i < n && (bytes[i] === 0x65 || bytes[i] === 0x45)) return exponentPart(positive, sig, exponent);
    return fromParts(positive, sig, exponent);
  };

  const number = (positive) => {
    if (i >= n) fail('EOF while parsing a value');
    const c = bytes[i++];
    let sig;
    if (c === 0x30) {
      if (i < n && isDigit(bytes[i])) fail('invalid number');
      sig = 0;
    } else if (c >= 0x31 && c <= 0x39) {
      sig = c - 0x30;
      while (i < n && isDigit(bytes[i])) {
        const next = push(sig, bytes[i] - 0x30);
        if (next === null) return longInteger(positive, sig);
        i++;
        sig = next;
      }
    } else {
      fail('invalid number', i - 1);
    }
    if (i < n && bytes[i] === 0x2e) return decimal(positive, sig, 0);
    if (i < n && (bytes[i] === 0x65 || bytes[i] === 0x45)) return exponentPart(positive, sig, 0);
    const big = BigInt(sig);
    if (positive) return big;
    // serde_json: -0 is the float -0.0, and below i64::MIN the value is a float.
    if (big === 0n) return -0;
    if (big > 9223372036854775808n) return -Number(big);
    return -big;
  };

  const ident = (rest, v) => {
    i++;
    for (let k = 0; k < rest.length; k++) {
      if (i >= n) fail('EOF while parsing a value');
      if (bytes[i] !== rest.charCodeAt(k)) fail('expected ident');
      i++;
    }
    return v;
  };

  const value = () => {
    ws();
    if (i >= n) fail('EOF while parsing a value');
    const c = bytes[i];
    switch (c) {
      case 0x6e: return ident('ull', null);
      case 0x74: return ident('rue', true);
      case 0x66: return ident('alse', false);
      case 0x2d:
        i++;
        return number(false);
      case 0x22: return string();
      case 0x5b: {
        if (--depth === 0) fail('recursion limit exceeded');
        i++;
        const arr = [];
        ws();
        if (i < n && bytes[i] === 0x5d) {
          i++;
        } else {
          for (;;) {
            arr.push(value());
            ws();
            if (i >= n) fail('EOF while parsing a list');
            const d = bytes[i++];
            if (d === 0x5d) break;
            if (d !== 0x2c) fail('expected `,` or `]`', i - 1);
            ws();
            if (i < n && bytes[i] === 0x5d) fail('trailing comma');
          }
        }
        depth++;
        return arr;
      }
      case 0x7b: {
        if (--depth === 0) fail('recursion limit exceeded');
        i++;
        const map = new Map();
        ws();
        if (i < n && bytes[i] === 0x7d) {
          i++;
        } else {
          for (;;) {
            ws();
            if (i >= n) fail('EOF while parsing an object');
            if (bytes[i] !== 0x22) fail(bytes[i] === 0x7d ? 'trailing comma' : 'key must be a string');
            const key = string();
            ws();
            if (i >= n) fail('EOF while parsing an object');
            if (bytes[i++] !== 0x3a) fail('expected `:`', i - 1);
            const v = value();
            map.delete(key); // the last duplicate wins
            map.set(key, v);
            ws();
            if (i >= n) fail('EOF while parsing an object');
            const d = bytes[i++];
            if (d === 0x7d) break;
            if (d !== 0x2c) fail('expected `,` or `}`', i - 1);
          }
        }
        depth++;
        return map;
      }
      default:
        if (isDigit(c)) return number(true);
        return fail('expected value');
    }
  };

  const v = value();
  ws();
  if (i < n) fail('trailing characters');
  return v;
}

/** serde_json's `Value == Value`: integers and floats differ, objects compare as maps. */
export function jsonEqual(a, b) {
  if (a === b) return true; // null, booleans, strings, equal BigInts, equal Numbers (0 === -0)
  const ta = typeof a;
  if (ta !== typeof b || ta !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let k = 0; k < a.length; k++) if (!jsonEqual(a[k], b[k])) return false;
    return true;
  }
  if (!(a instanceof Map) || !(b instanceof Map) || a.size !== b.size) return false;
  for (const [k, v] of a) {
    if (!b.has(k) || !jsonEqual(v, b.get(k))) return false;
  }
  return true;
}

function arrayIndex(token) {
  if (!/^(0|[1-9][0-9]*)$/.test(token)) return -1;
  const x = Number(token);
  return x > 4294967295 ? -1 : x; // a usize of wasm32
}

/** serde_json's `Value::pointer`: the value at the JSON Pointer `pointer`, or undefined. */
export function jsonPointer(value, pointer) {
  if (pointer === '') return value;
  if (!pointer.startsWith('/')) return undefined;
  let target = value;
  for (const raw of pointer.split('/').slice(1)) {
    const token = raw.split('~1').join('/').split('~0').join('~');
    if (target instanceof Map) {
      if (!target.has(token)) return undefined;
      target = target.get(token);
    } else if (Array.isArray(target)) {
      const x = arrayIndex(token);
      if (x < 0 || x >= target.length) return undefined;
      target = target[x];
    } else {
      return undefined;
    }
  }
  return target;
}
