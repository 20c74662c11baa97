// UTF-8 for the engines that lack TextEncoder/TextDecoder (QuickJS has neither).
//
// `decode` reads strings the host already checked (message ids, keys, tags, properties);
// `decodeStrict` reads bytes that may not be UTF-8 (bodies) and answers `null` for them,
// with the same rules as Rust's `std::str::from_utf8`: no overlong forms, no surrogates,
// nothing above U+10FFFF, a leading byte-order mark kept as U+FEFF.

// `String.fromCharCode.apply` takes its arguments on the stack; chunks keep it bounded.
const CHUNK = 4096;

/** Whether `bytes[start, end)` is all ASCII. */
export function isAscii(bytes, start, end) {
  for (let i = start; i < end; i++) {
    if (bytes[i] > 0x7f) return false;
  }
  return true;
}

function ascii(bytes, start, end) {
  if (end - start <= CHUNK) return String.fromCharCode.apply(null, bytes.subarray(start, end));
  let s = '';
  for (let i = start; i < end; i += CHUNK) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(i + CHUNK, end)));
  }
  return s;
}

/**
 * Decodes `bytes[start, end)` as UTF-8, or returns `null` when it is not valid UTF-8.
 * @param {Uint8Array} bytes
 * @param {number} [start]
 * @param {number} [end]
 * @returns {string | null}
 */
export function decodeStrict(bytes, start = 0, end = bytes.length) {
  let i = start;
  while (i < end && bytes[i] < 0x80) i++;
  if (i === end) return ascii(bytes, start, end);
  const units = [];
  let s = ascii(bytes, start, i);
  while (i < end) {
    const b = bytes[i];
    let cp;
    if (b < 0x80) {
      cp = b;
      i += 1;
    } else if (b >= 0xc2 && b <= 0xdf) {
      if (i + 1 >= end) return null;
      const b1 = bytes[i + 1];
      if ((b1 & 0xc0) !== 0x80) return null;
      cp = ((b & 0x1f) << 6) | (b1 & 0x3f);
      i += 2;
    } else if (b >= 0xe0 && b <= 0xef) {
      if (i + 2 >= end) return null;
      const b1 = bytes[i + 1];
      const b2 = bytes[i + 2];
      // E0 needs A0..BF (no overlong forms), ED needs 80..9F (no surrogates).
      const lo = b === 0xe0 ? 0xa0 : 0x80;
      const hi = b === 0xed ? 0x9f : 0xbf;
      if (b1 < lo || b1 > hi || (b2 & 0xc0) !== 0x80) return null;
      cp = ((b & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
      i += 3;
    } else if (b >= 0xf0 && b <= 0xf4) {
      if (i + 3 >= end) return null;
      const b1 = bytes[i + 1];
      const b2 = bytes[i + 2];
      const b3 = bytes[i + 3];
      // F0 needs 90..BF (no overlong forms), F4 needs 80..8F (nothing past U+10FFFF).
      const lo = b === 0xf0 ? 0x90 : 0x80;
      const hi = b === 0xf4 ? 0x8f : 0xbf;
      if (b1 < lo || b1 > hi || (b2 & 0xc0) !== 0x80 || (b3 & 0xc0) !== 0x80) return null;
      cp = ((b & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
      i += 4;
    } else {
      return null;
    }
    if (cp < 0x10000) {
      units.push(cp);
    } else {
      cp -= 0x10000;
      units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    }
    if (units.length >= CHUNK) {
      s += String.fromCharCode.apply(null, units);
      units.length = 0;
    }
  }
  return s + String.fromCharCode.apply(null, units);
}

/**
 * Decodes `bytes[start, end)`, which must be UTF-8 (the host checks every string it
 * sends); throws when it is not.
 */
export function decode(bytes, start = 0, end = bytes.length) {
  // The usual case, a short ASCII string, without a second pass.
  if (end - start <= 64) {
    let i = start;
    while (i < end && bytes[i] < 0x80) i++;
    if (i === end) return String.fromCharCode.apply(null, bytes.subarray(start, end));
  }
  const s = decodeStrict(bytes, start, end);
  if (s === null) throw new Error(`sluice: malformed batch from the host: a string at byte ${start} is not UTF-8`);
  return s;
}

/**
 * The number of bytes `s` takes in UTF-8 (a lone surrogate counts as U+FFFD, 3 bytes).
 * @param {string} s
 */
export function encodedLength(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      n += 1;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // 4 bytes for 2 units
      i++;
    } else {
      n += 2;
    }
  }
  return n;
}

/**
 * Writes `s` as UTF-8 into `out` at `at` (which must have room: at most 3 bytes per
 * UTF-16 unit) and returns the position after it. Lone surrogates become U+FFFD, as
 * `TextEncoder` does.
 */
export function encodeInto(s, out, at) {
  let p = at;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[p++] = c;
    } else if (c < 0x800) {
      out[p++] = 0xc0 | (c >> 6);
      out[p++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && (d & 0xfc00) === 0xdc00) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          out[p++] = 0xf0 | (cp >> 18);
          out[p++] = 0x80 | ((cp >> 12) & 0x3f);
          out[p++] = 0x80 | ((cp >> 6) & 0x3f);
          out[p++] = 0x80 | (cp & 0x3f);
          i++;
          continue;
        }
        c = 0xfffd;
      }
      out[p++] = 0xe0 | (c >> 12);
      out[p++] = 0x80 | ((c >> 6) & 0x3f);
      out[p++] = 0x80 | (c & 0x3f);
    }
  }
  return p;
}

/**
 * `s` as UTF-8 bytes.
 * @param {string} s
 * @returns {Uint8Array}
 */
export function encode(s) {
  const out = new Uint8Array(encodedLength(s));
  encodeInto(s, out, 0);
  return out;
}
