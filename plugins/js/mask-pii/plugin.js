// mask-pii: masks payment card numbers and e-mail addresses in message bodies.
//
// * A card number is a run of 13–19 digits, optionally grouped by single spaces or dashes,
//   that passes the Luhn check; all its digits but the last `keep_last` become the mask
//   character (`4111 1111 1111 1111` → `**** **** **** 1111`).
// * An e-mail address keeps the first character of its local part and its domain
//   (`jane.doe@example.com` → `j*******@example.com`).
//
// Bodies are scanned as bytes, so bodies that are not UTF-8 are masked too and never
// corrupted. A body with nothing to mask is passed on unchanged (nothing is copied).
//
// Configuration: `mask` (one ASCII character, default `*`), `keep_last` (0–8, default 4),
// `cards` and `emails` (`true`/`false`, default `true`). Counters: `cards_masked`,
// `emails_masked`.

import { ConfigError, counterAdd, unchanged } from '#sluice';

let mask;
let keepLast;
let cards;
let emails;

export function init(config) {
  config.only(['mask', 'keep_last', 'cards', 'emails']);
  const m = config.get('mask') ?? '*';
  // One printable ASCII character (0x21–0x7e), as Rust's `is_ascii_graphic`.
  if (m.length !== 1 || m.charCodeAt(0) < 0x21 || m.charCodeAt(0) > 0x7e) {
    throw new ConfigError('`mask` must be one printable ASCII character', 'mask');
  }
  mask = m.charCodeAt(0);
  keepLast = config.uint('keep_last', 4);
  if (keepLast > 8) throw new ConfigError('`keep_last` may be at most 8', 'keep_last');
  cards = config.bool('cards', true);
  emails = config.bool('emails', true);
}

export function transform(msg) {
  const { body, cardCount, emailCount } = maskBody(msg.body);
  if (body === null) return unchanged;
  if (cardCount > 0) counterAdd('cards_masked', cardCount);
  if (emailCount > 0) counterAdd('emails_masked', emailCount);
  return { body };
}

/**
 * The masked body (`null` when nothing matched) and the counts of cards and e-mails.
 * @param {Uint8Array} body
 */
export function maskBody(body) {
  let out = null;
  let cardCount = 0;
  let emailCount = 0;
  if (cards) {
    for (const [start, end] of cardSpans(body)) {
      out ??= body.slice();
      let digits = 0;
      for (let i = start; i < end; i++) if (isDigit(out[i])) digits++;
      const masked = digits - Math.min(keepLast, digits);
      let seen = 0;
      for (let i = start; i < end; i++) {
        if (isDigit(out[i])) {
          seen++;
          if (seen <= masked) out[i] = mask;
        }
      }
      cardCount++;
    }
  }
  if (emails) {
    for (const [start, end] of emailLocalParts(body)) {
      out ??= body.slice();
      for (let i = start + 1; i < end; i++) out[i] = mask;
      emailCount++;
    }
  }
  return { body: out, cardCount, emailCount };
}

const isDigit = (b) => b >= 0x30 && b <= 0x39;
const isAlpha = (b) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
const isAlnum = (b) => isDigit(b) || isAlpha(b);

function luhn(digits) {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits[digits.length - 1 - i] - 0x30;
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

/** Byte ranges `[start, end)` of card numbers. */
function cardSpans(s) {
  const spans = [];
  let i = 0;
  while (i < s.length) {
    if (!isDigit(s[i]) || (i > 0 && isAlnum(s[i - 1]))) {
      i++;
      continue;
    }
    // A run of digits with single separators between digits.
    const start = i;
    const digits = [];
    let end = i;
    while (i < s.length) {
      if (isDigit(s[i])) {
        digits.push(s[i]);
        i++;
        end = i;
      } else if ((s[i] === 0x20 || s[i] === 0x2d) && i + 1 < s.length && isDigit(s[i + 1]) && digits.length > 0) {
        i++;
      } else {
        break;
      }
    }
    const bounded = end >= s.length || !isAlnum(s[end]);
    if (bounded && digits.length >= 13 && digits.length <= 19 && luhn(digits)) spans.push([start, end]);
    i = Math.max(end, start + 1);
  }
  return spans;
}

// . _ % + -
const isLocal = (b) => isAlnum(b) || b === 0x2e || b === 0x5f || b === 0x25 || b === 0x2b || b === 0x2d;

/** Byte ranges `[start, at)` of the local parts of e-mail addresses. */
function emailLocalParts(s) {
  const spans = [];
  for (let at = 0; at < s.length; at++) {
    if (s[at] !== 0x40) continue;
    let start = at;
    while (start > 0 && isLocal(s[start - 1])) start--;
    while (start < at && s[start] === 0x2e) start++;
    let end = at + 1;
    while (end < s.length && (isAlnum(s[end]) || s[end] === 0x2e || s[end] === 0x2d)) end++;
    let domainEnd = end;
    if (domainEnd > at + 1 && s[domainEnd - 1] === 0x2e) domainEnd--; // one trailing dot
    const domain = s.subarray(at + 1, domainEnd);
    const lastDot = domain.lastIndexOf(0x2e);
    const tld = domain.subarray(lastDot + 1);
    const tldOk = tld.length >= 2 && tld.every(isAlpha);
    if (at > start && lastDot >= 0 && tldOk) spans.push([start, at]);
  }
  return spans;
}
