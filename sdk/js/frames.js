// The bulk frame layout of the Sluice plugin contract, version 1 (wit/FRAMES.md): the
// reader of message frames (`Message`, lazy: nothing is decoded until asked for), the
// outcome buffer writer the batch loop answers with, and — for tests — the reverse pair
// (`encodeBatch`, `readOutcomes`) that the host implements in Rust.
//
// All integers are little-endian; every frame starts with a fixed 48-byte header:
//
//   0 frame_len   4 flags (bit 0: has a tag)   8 queue_offset i64   16 born_timestamp_ms i64
//   24 reconsume_count   28 message_id_len   32 keys_len   36 tags_len   40 properties_len
//   44 body_len   48 message_id, keys block, tags, properties block, body

import { decode, decodeStrict, encodeInto, encode } from './utf8.js';

export const HEADER = 48;
export const MAGIC = [0x53, 0x4c, 0x4f, 0x01];

export const TAG_UNCHANGED = 0;
export const TAG_DROP = 1;
export const TAG_REPLACED = 2;
export const TAG_RETRY = 3;
export const TAG_REJECT = 4;

const OUT_KEYS = 1;
const OUT_TAGS = 2;
const OUT_PROPERTIES = 4;
const OUT_BODY = 8;
const OUT_DESTINATION = 16;

const TWO32 = 4294967296;

function u32(b, p) {
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}

function i64(b, p) {
  // Exact below 2^53 in magnitude, as every offset and timestamp is.
  return (b[p + 4] | (b[p + 5] << 8) | (b[p + 6] << 16) | (b[p + 7] << 24)) * TWO32 + u32(b, p);
}

// Property names an author looks up, as UTF-8 with their first and last four bytes as
// words, so that a lookup compares two words per candidate and decodes only the value it
// returns. The last name is kept aside; others in a bounded map (plugins look up a handful
// of fixed names).
const nameCache = new Map();
let lastName = null;
let lastKey = null;
// The last key's fields, as plain variables: cheaper to read than properties on QuickJS.
let lastN = 0;
let lastW0 = 0;
let lastW1 = 0;

function keyOf(name) {
  if (name === lastName) return lastKey;
  let k = nameCache.get(name);
  if (k === undefined) {
    if (typeof name !== 'string') throw new TypeError(`a property name must be a string, not ${typeof name}`);
    const bytes = encode(name);
    const n = bytes.length;
    k = { bytes, n, w0: n >= 4 ? u32(bytes, 0) : 0, w1: n >= 4 ? u32(bytes, n - 4) : 0 };
    if (nameCache.size >= 256) nameCache.clear();
    nameCache.set(name, k);
  }
  lastName = name;
  lastKey = k;
  lastN = k.n;
  lastW0 = k.w0;
  lastW1 = k.w1;
  return k;
}

// Whether the `k.n` bytes at `p` are the name `k`.
function sameName(b, dv, p, k) {
  const n = k.n;
  if (n >= 4) {
    if (dv.getUint32(p, true) !== k.w0 || dv.getUint32(p + n - 4, true) !== k.w1) return false;
    if (n <= 8) return true;
  }
  const kb = k.bytes;
  for (let i = 0; i < n; i++) if (b[p + i] !== kb[i]) return false;
  return true;
}

const fcc = String.fromCharCode;

/**
 * One message, read in place from the batch the host sent. Every accessor decodes on
 * demand; nothing is copied that is not asked for.
 *
 * The batch loop hands the author's function one `Message` per batch, moved from message to
 * message (allocating one per message would double the kit's cost): read what you need
 * during the call, or keep `msg.clone()`.
 */
export class Message {
  /**
   * @param {Uint8Array} b the batch
   * @param {DataView} dv a view of the same bytes
   * @param {number} at where this message's frame starts
   * @param {number} end where it ends
   * @param {{topic: string, queueId: number, pipeline: string, stage: string}} batch
   */
  constructor(b, dv, at, end, batch) {
    this._b = b;
    this._dv = dv;
    this._at = at;
    this._end = end;
    this._batch = batch;
  }

  /** This message as an object of its own, safe to keep after the call. */
  clone() {
    return new Message(this._b, this._dv, this._at, this._end, this._batch);
  }

  /** The batch context: `{ topic, queueId, pipeline, stage }`. */
  get batch() {
    return this._batch;
  }

  /** The RocketMQ topic the message was consumed from. */
  get topic() {
    return this._batch.topic;
  }

  /** The queue id within the topic. */
  get queueId() {
    return this._batch.queueId;
  }

  /** The position of the message in its queue. */
  get queueOffset() {
    return i64(this._b, this._at + 8);
  }

  /** When the producer created the message, in ms since the Unix epoch. */
  get bornTimestampMs() {
    return i64(this._b, this._at + 16);
  }

  /** How many times this stage already retried the message. */
  get reconsumeCount() {
    return this._dv.getUint32(this._at + 24, true);
  }

  /** The RocketMQ message id. */
  get messageId() {
    const s = this._at + HEADER;
    return decode(this._b, s, s + this._dv.getUint32(this._at + 28, true));
  }

  /** The keys, in order (a new array on every access). */
  get keys() {
    const b = this._b;
    const dv = this._dv;
    let p = this._at + HEADER + dv.getUint32(this._at + 28, true);
    const end = p + dv.getUint32(this._at + 32, true);
    const keys = [];
    while (p < end) {
      const l = dv.getUint32(p, true);
      keys.push(decode(b, p + 4, p + 4 + l));
      p += 4 + l;
    }
    return keys;
  }

  /** The first key, or `null`. */
  get key() {
    const dv = this._dv;
    if (dv.getUint32(this._at + 32, true) === 0) return null;
    const p = this._at + HEADER + dv.getUint32(this._at + 28, true);
    return decode(this._b, p + 4, p + 4 + dv.getUint32(p, true));
  }

  /** The tag, or `null` when the message has none (an empty tag is `""`). */
  get tag() {
    const dv = this._dv;
    const at = this._at;
    if ((this._b[at + 4] & 1) === 0) return null;
    const s = at + HEADER + dv.getUint32(at + 28, true) + dv.getUint32(at + 32, true);
    return decode(this._b, s, s + dv.getUint32(at + 36, true));
  }

  /** The user properties as `[key, value]` pairs, in the order the producer set them. */
  get properties() {
    const b = this._b;
    const dv = this._dv;
    const end = this._end - dv.getUint32(this._at + 44, true);
    let p = end - dv.getUint32(this._at + 40, true);
    const out = [];
    while (p < end) {
      const kl = dv.getUint32(p, true);
      const k = decode(b, p + 4, p + 4 + kl);
      p += 4 + kl;
      const vl = dv.getUint32(p, true);
      out.push([k, decode(b, p + 4, p + 4 + vl)]);
      p += 4 + vl;
    }
    return out;
  }

  /**
   * The value of the property `name` (the first one of that name), or `null`.
   * @param {string} name
   * @returns {string | null}
   */
  property(name) {
    // The hot path of most filters, written for QuickJS, which runs every operation
    // through its interpreter: few calls, few property lookups.
    if (name !== lastName) keyOf(name);
    const kl = lastN;
    const dv = this._dv;
    const end = this._end - dv.getUint32(this._at + 44, true);
    let p = end - dv.getUint32(this._at + 40, true);
    while (p < end) {
      const l = dv.getUint32(p, true);
      const v = p + 4 + l;
      const vl = dv.getUint32(v, true);
      // Names of 4 to 8 bytes (most) compare as two words: the first four bytes and the last.
      if (
        l === kl &&
        (kl >= 4 && kl <= 8
          ? dv.getUint32(p + 4, true) === lastW0 && dv.getUint32(v - 4, true) === lastW1
          : sameName(this._b, dv, p + 4, lastKey))
      ) {
        const b = this._b;
        const s = v + 4;
        switch (vl) {
          case 0:
            return '';
          case 1:
            if (b[s] < 0x80) return fcc(b[s]);
            break;
          case 2:
            if ((b[s] | b[s + 1]) < 0x80) return fcc(b[s], b[s + 1]);
            break;
          case 3:
            if ((b[s] | b[s + 1] | b[s + 2]) < 0x80) return fcc(b[s], b[s + 1], b[s + 2]);
            break;
          case 4:
            if ((b[s] | b[s + 1] | b[s + 2] | b[s + 3]) < 0x80) return fcc(b[s], b[s + 1], b[s + 2], b[s + 3]);
            break;
        }
        return decode(b, s, s + vl);
      }
      p = v + 4 + vl;
    }
    return null;
  }

  /**
   * This message's properties with `name` set to `value` (replacing the first property of
   * that name, else appended): the list to give an output that adds one property.
   * @returns {[string, string][]}
   */
  propertiesWith(name, value) {
    const props = this.properties;
    const i = props.findIndex((p) => p[0] === name);
    if (i >= 0) props[i] = [name, value];
    else props.push([name, value]);
    return props;
  }

  /** The body's length in bytes. */
  get bodyLength() {
    return this._dv.getUint32(this._at + 44, true);
  }

  /**
   * The body bytes: a view into the batch (not a copy), possibly empty, not necessarily
   * UTF-8. Do not write into it.
   * @returns {Uint8Array}
   */
  get body() {
    return this._b.subarray(this._end - this._dv.getUint32(this._at + 44, true), this._end);
  }

  /**
   * The body as text, or `null` when it is not UTF-8.
   * @returns {string | null}
   */
  bodyText() {
    return decodeStrict(this._b, this._end - this._dv.getUint32(this._at + 44, true), this._end);
  }

  /** A plain object of every field, for logs and tests. */
  toJSON() {
    return {
      queueOffset: this.queueOffset,
      messageId: this.messageId,
      keys: this.keys,
      tag: this.tag,
      properties: this.properties,
      bodyText: this.bodyText(),
      bornTimestampMs: this.bornTimestampMs,
      reconsumeCount: this.reconsumeCount,
    };
  }
}

/** Writes an outcome buffer: magic, count, one outcome per message. */
export class OutcomeWriter {
  /** @param {number} capacity initial size in bytes (it grows as needed) */
  constructor(capacity) {
    this.buf = new Uint8Array(capacity < 64 ? 64 : capacity);
    this.pos = 8;
    this.count = 0;
    this._open = -1; // where the output count of the open `replaced` outcome is
  }

  _room(n) {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  _u32(v) {
    const b = this.buf;
    const p = this.pos;
    b[p] = v & 0xff;
    b[p + 1] = (v >>> 8) & 0xff;
    b[p + 2] = (v >>> 16) & 0xff;
    b[p + 3] = (v >>> 24) & 0xff;
    this.pos = p + 4;
  }

  _patch(at, v) {
    const b = this.buf;
    b[at] = v & 0xff;
    b[at + 1] = (v >>> 8) & 0xff;
    b[at + 2] = (v >>> 16) & 0xff;
    b[at + 3] = (v >>> 24) & 0xff;
  }

  _str(s) {
    this._room(4 + s.length * 3);
    const start = this.pos + 4;
    const end = encodeInto(s, this.buf, start);
    this._patch(this.pos, end - start);
    this.pos = end;
  }

  _bytes(bytes) {
    this._room(4 + bytes.length);
    this._u32(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Keep / pass on unchanged. */
  unchanged() {
    if (this.pos >= this.buf.length) this._room(1);
    this.buf[this.pos++] = TAG_UNCHANGED;
    this.count++;
  }

  /** Emit nothing for this input. */
  drop() {
    if (this.pos >= this.buf.length) this._room(1);
    this.buf[this.pos++] = TAG_DROP;
    this.count++;
  }

  /** A transient failure of this input. */
  retry(reason) {
    this._room(1);
    this.buf[this.pos++] = TAG_RETRY;
    this._str(reason);
    this.count++;
  }

  /** A permanent failure of this input. */
  reject(reason) {
    this._room(1);
    this.buf[this.pos++] = TAG_REJECT;
    this._str(reason);
    this.count++;
  }

  /** Opens a `replaced` outcome; follow with `output` calls. */
  replaced() {
    this._room(5);
    this.buf[this.pos++] = TAG_REPLACED;
    this._open = this.pos;
    this._u32(0);
    this.count++;
  }

  /**
   * Appends one output to the open `replaced` outcome. Every field is optional (`null` or
   * `undefined`: inherited from the input).
   * @param {string[] | null} keys
   * @param {string | null} tag
   * @param {[string, string][] | null} properties
   * @param {Uint8Array | null} body
   * @param {string | null} destination
   */
  output(keys, tag, properties, body, destination) {
    if (this._open < 0) throw new Error('OutcomeWriter.output called outside a replaced outcome');
    const b = this.buf;
    this._patch(this._open, u32(b, this._open) + 1);
    const flags =
      (keys != null ? OUT_KEYS : 0) |
      (tag != null ? OUT_TAGS : 0) |
      (properties != null ? OUT_PROPERTIES : 0) |
      (body != null ? OUT_BODY : 0) |
      (destination != null ? OUT_DESTINATION : 0);
    this._room(1);
    this.buf[this.pos++] = flags;
    if (keys != null) {
      this._room(4);
      const lenAt = this.pos;
      this._u32(0);
      for (const k of keys) this._str(k);
      this._patch(lenAt, this.pos - lenAt - 4);
    }
    if (tag != null) this._str(tag);
    if (properties != null) {
      this._room(4);
      const lenAt = this.pos;
      this._u32(0);
      for (const [k, v] of properties) {
        this._str(k);
        this._str(v);
      }
      this._patch(lenAt, this.pos - lenAt - 4);
    }
    if (body != null) this._bytes(body);
    if (destination != null) this._str(destination);
  }

  /** The finished buffer (a view of the first `pos` bytes). */
  finish() {
    const b = this.buf;
    b[0] = MAGIC[0];
    b[1] = MAGIC[1];
    b[2] = MAGIC[2];
    b[3] = MAGIC[3];
    this._patch(4, this.count);
    return b.subarray(0, this.pos);
  }
}

// -----------------------------------------------------------------------------------------
// The host's side, for tests: encode messages into a batch, read an outcome buffer back.

function toBytes(v) {
  if (v == null) return new Uint8Array(0);
  if (typeof v === 'string') return encode(v);
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return Uint8Array.from(v);
  throw new TypeError('a body must be a string, a Uint8Array or an array of bytes');
}

/**
 * Encodes messages into a batch of frames, as the host does.
 * @param {{queueOffset?: number, bornTimestampMs?: number, reconsumeCount?: number,
 *   messageId?: string, keys?: string[], tag?: string | null,
 *   properties?: [string, string][] | Record<string, string>, body?: string | Uint8Array}[]} messages
 * @returns {Uint8Array}
 */
export function encodeBatch(messages) {
  const parts = [];
  let total = 0;
  messages.forEach((m, i) => {
    const id = encode(m.messageId ?? `msg-${i}`);
    const keys = (m.keys ?? []).map(encode);
    const hasTag = m.tag != null;
    const tag = encode(m.tag ?? '');
    const props = Array.isArray(m.properties) ? m.properties : Object.entries(m.properties ?? {});
    const propBytes = props.map(([k, v]) => [encode(k), encode(v)]);
    const body = toBytes(m.body);
    const keysLen = keys.reduce((n, k) => n + 4 + k.length, 0);
    const propsLen = propBytes.reduce((n, [k, v]) => n + 8 + k.length + v.length, 0);
    const len = HEADER + id.length + keysLen + tag.length + propsLen + body.length;
    const f = new Uint8Array(len);
    const dv = new DataView(f.buffer);
    dv.setUint32(0, len, true);
    dv.setUint32(4, hasTag ? 1 : 0, true);
    dv.setBigInt64(8, BigInt(m.queueOffset ?? i), true);
    dv.setBigInt64(16, BigInt(m.bornTimestampMs ?? 0), true);
    dv.setUint32(24, m.reconsumeCount ?? 0, true);
    dv.setUint32(28, id.length, true);
    dv.setUint32(32, keysLen, true);
    dv.setUint32(36, tag.length, true);
    dv.setUint32(40, propsLen, true);
    dv.setUint32(44, body.length, true);
    let p = HEADER;
    const put = (bytes) => {
      f.set(bytes, p);
      p += bytes.length;
    };
    const sized = (bytes) => {
      dv.setUint32(p, bytes.length, true);
      p += 4;
      put(bytes);
    };
    put(id);
    keys.forEach(sized);
    put(tag);
    for (const [k, v] of propBytes) {
      sized(k);
      sized(v);
    }
    put(body);
    parts.push(f);
    total += len;
  });
  const out = new Uint8Array(total);
  let at = 0;
  for (const f of parts) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

function reader(buf) {
  let pos = 0;
  const need = (n, what) => {
    if (pos + n > buf.length) throw new Error(`outcome buffer: ${what} runs past the end at byte ${pos}`);
  };
  const r = {
    get pos() {
      return pos;
    },
    u8(what) {
      need(1, what);
      return buf[pos++];
    },
    u32(what) {
      need(4, what);
      const v = u32(buf, pos);
      pos += 4;
      return v;
    },
    bytes(what) {
      const n = r.u32(what);
      need(n, what);
      const v = buf.slice(pos, pos + n);
      pos += n;
      return v;
    },
    str(what) {
      const v = r.bytes(what);
      const s = decodeStrict(v);
      if (s === null) throw new Error(`outcome buffer: ${what} is not UTF-8`);
      return s;
    },
  };
  return r;
}

function strList(block, per) {
  const r = reader(block);
  const out = [];
  while (r.pos < block.length) {
    if (per === 1) out.push(r.str('key'));
    else out.push([r.str('property key'), r.str('property value')]);
  }
  return out;
}

/**
 * Reads an outcome buffer with the host's checks. Outcomes are `{ outcome: 'unchanged' }`,
 * `{ outcome: 'drop' }`, `{ outcome: 'replaced', outputs: [...] }`,
 * `{ outcome: 'retry', reason }` or `{ outcome: 'reject', reason }`; an output has only the
 * fields it sets (`keys`, `tag`, `properties` as pairs, `body` as bytes, `destination`).
 * @param {Uint8Array} buf
 * @param {number} expected the number of messages in the batch
 */
export function readOutcomes(buf, expected) {
  const r = reader(buf);
  for (const m of MAGIC) {
    if (r.u8('magic') !== m) throw new Error('outcome buffer: bad magic');
  }
  const count = r.u32('count');
  if (count !== expected) throw new Error(`outcome buffer: ${count} outcomes for a batch of ${expected}`);
  const out = [];
  for (let i = 0; i < count; i++) {
    const tag = r.u8('outcome tag');
    switch (tag) {
      case TAG_UNCHANGED:
        out.push({ outcome: 'unchanged' });
        break;
      case TAG_DROP:
        out.push({ outcome: 'drop' });
        break;
      case TAG_RETRY:
        out.push({ outcome: 'retry', reason: r.str('retry reason') });
        break;
      case TAG_REJECT:
        out.push({ outcome: 'reject', reason: r.str('reject reason') });
        break;
      case TAG_REPLACED: {
        const n = r.u32('output count');
        const outputs = [];
        for (let j = 0; j < n; j++) {
          const flags = r.u8('output flags');
          if (flags & ~31) throw new Error(`outcome buffer: unknown output flags ${flags}`);
          const o = {};
          if (flags & OUT_KEYS) o.keys = strList(r.bytes('keys block'), 1);
          if (flags & OUT_TAGS) o.tag = r.str('tag');
          if (flags & OUT_PROPERTIES) o.properties = strList(r.bytes('properties block'), 2);
          if (flags & OUT_BODY) o.body = r.bytes('body');
          if (flags & OUT_DESTINATION) o.destination = r.str('destination');
          outputs.push(o);
        }
        out.push({ outcome: 'replaced', outputs });
        break;
      }
      default:
        throw new Error(`outcome buffer: unknown outcome tag ${tag}`);
    }
  }
  if (r.pos !== buf.length) throw new Error(`outcome buffer: ${buf.length - r.pos} bytes trail the last outcome`);
  return out;
}
