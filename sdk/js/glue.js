// The glue between the component exports and the author's module: `init`, and the batch
// loop over the frame layout. The generated entry module calls `filterExports(plugin)` /
// `transformExports(plugin)`; `testing.js` runs the very same loops under Node.

import { Message, OutcomeWriter } from './frames.js';
import { Config, drop, isConfigError, isPluginError, unchanged } from './sluice.js';
import { encode } from './utf8.js';

function describe(e, frames = Infinity) {
  if (e instanceof Error) {
    const stack = (e.stack ?? '').split('\n').filter((l) => l.trim() !== '').slice(0, frames).join('\n');
    return stack ? `${e.name}: ${e.message}\n${stack}` : `${e.name}: ${e.message}`;
  }
  try {
    return `a thrown ${typeof e}: ${JSON.stringify(e)}`;
  } catch {
    return `a thrown ${typeof e}`;
  }
}

/**
 * Runs the author's `init` (a module without one takes no configuration). Throws the WIT
 * `config-error` record `{ key, message }`: the `ConfigError`'s, or for any other exception
 * one that names it (the plugin does not start either way; the operator reads why).
 * @param {{init?: (c: Config) => void}} plugin
 * @param {[string, string][]} pairs
 */
export function runInit(plugin, pairs) {
  const config = new Config(pairs);
  try {
    if (typeof plugin.init === 'function') {
      const r = plugin.init(config);
      if (r != null && typeof r.then === 'function') {
        throw new TypeError('init() returned a promise: it must be synchronous (components have no event loop)');
      }
    } else {
      config.only([]);
    }
  } catch (e) {
    if (isConfigError(e)) throw { key: e.key, message: e.detail };
    // Both engines agree this way: componentize-js would lower an Error as a config-error
    // anyway, where componentize-qjs would trap.
    throw { key: null, message: `init() threw ${describe(e, 3)}` };
  }
}

// An exception that is not `retry`/`reject` is a bug in the plugin: like a Rust panic it
// traps, with the message, so the host discards the instance, retries the message alone
// and dead-letters it if it keeps failing (and the stage's circuit breaker counts it).
function uncaught(fn, m, e) {
  let where = '';
  try {
    where = ` on the message at queue offset ${m.queueOffset} (id ${JSON.stringify(m.messageId)})`;
  } catch {
    // The frame itself is bad; the message says so.
  }
  return new Error(`${fn}() threw${where}: ${describe(e)}`);
}

function answerError(w, e) {
  if (e.kind === 'retry') w.retry(e.reason);
  else w.reject(e.reason);
}

// The batch loops below are written for QuickJS, whose interpreter charges for every
// operation: one `Message` moved along the batch, tag bytes written straight into the
// outcome buffer (sized so that they always fit: a frame is at least 48 bytes), and the
// writer's methods only for the rarer answers.

function badFrame(pos, n) {
  return new Error(`sluice: malformed batch from the host: no frame fits at byte ${pos} of ${n}`);
}

/**
 * Runs a filter over one batch of frames and returns the outcome buffer.
 * @param {{filter: (m: Message) => boolean}} plugin
 * @param {{topic: string, queueId: number, pipeline: string, stage: string}} batch
 * @param {Uint8Array} frames
 */
export function filterBatch(plugin, batch, frames) {
  const filter = plugin.filter;
  const n = frames.length;
  const dv = new DataView(frames.buffer, frames.byteOffset, n);
  const w = new OutcomeWriter(9 + ((n / 48) | 0));
  let buf = w.buf;
  let o = 8;
  let count = 0;
  const m = new Message(frames, dv, 0, 0, batch);
  let pos = 0;
  while (pos < n) {
    const len = pos + 48 <= n ? dv.getUint32(pos, true) : 0;
    if (len < 48 || pos + len > n) throw badFrame(pos, n);
    m._at = pos;
    pos += len;
    m._end = pos;
    count++;
    let keep;
    try {
      keep = filter(m);
    } catch (e) {
      if (!isPluginError(e)) throw uncaught('filter', m, e);
      w.pos = o;
      answerError(w, e);
      w._room(1 + (((n - pos) / 48) | 0)); // the tags of the frames left
      buf = w.buf;
      o = w.pos;
      continue;
    }
    if (keep === true) buf[o++] = 0;
    else if (keep === false) buf[o++] = 1;
    else throw uncaught('filter', m, new TypeError(`filter() must return true (keep) or false (drop), not ${String(keep)}`));
  }
  w.pos = o;
  w.count = count;
  return w.finish();
}

const OUTPUT_FIELDS = new Set(['body', 'keys', 'tag', 'properties', 'destination']);

// Not `instanceof Uint8Array`: under componentize-js the batch's bytes (and so views of them)
// come from another realm, whose Uint8Array is another constructor.
const isBytes = (v) => ArrayBuffer.isView(v) && v.BYTES_PER_ELEMENT === 1;

function text(v, what) {
  if (typeof v !== 'string') throw new TypeError(`an output's ${what} must be a string, not ${typeof v}`);
  return v;
}

function propertyList(p) {
  let entries;
  if (Array.isArray(p)) entries = p;
  else if (p instanceof Map) entries = [...p];
  else if (typeof p === 'object') entries = Object.entries(p);
  else throw new TypeError(`an output's properties must be [key, value] pairs, a Map or an object, not ${typeof p}`);
  for (const e of entries) {
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string' || typeof e[1] !== 'string') {
      throw new TypeError(`an output's properties must be string pairs; found ${JSON.stringify(e)}`);
    }
  }
  return entries;
}

function writeOutput(w, o) {
  if (o === null || typeof o !== 'object' || Array.isArray(o) || isBytes(o)) {
    throw new TypeError(`an output must be an object like { body, properties }, not ${o === null ? 'null' : typeof o}`);
  }
  for (const k in o) {
    if (!OUTPUT_FIELDS.has(k)) {
      throw new TypeError(`an output has no field \`${k}\`; its fields are body, keys, tag, properties, destination`);
    }
  }
  let body = o.body;
  if (body != null) {
    if (typeof body === 'string') body = encode(body);
    else if (!isBytes(body)) throw new TypeError(`an output's body must be a string or a Uint8Array, not ${typeof body}`);
  }
  let keys = o.keys;
  if (keys != null) {
    if (!Array.isArray(keys)) throw new TypeError('an output\'s keys must be an array of strings');
    keys.forEach((k) => text(k, 'keys'));
  }
  const tag = o.tag == null ? null : text(o.tag, 'tag');
  const props = o.properties == null ? null : propertyList(o.properties);
  const dest = o.destination == null ? null : text(o.destination, 'destination');
  w.output(keys, tag, props, body, dest);
}

/**
 * Runs a transform over one batch of frames and returns the outcome buffer.
 * @param {{transform: (m: Message) => unknown}} plugin
 * @param {{topic: string, queueId: number, pipeline: string, stage: string}} batch
 * @param {Uint8Array} frames
 */
export function transformBatch(plugin, batch, frames) {
  const transform = plugin.transform;
  const n = frames.length;
  const dv = new DataView(frames.buffer, frames.byteOffset, n);
  const w = new OutcomeWriter(9 + ((n / 48) | 0));
  let buf = w.buf;
  let o = 8;
  let count = 0;
  const m = new Message(frames, dv, 0, 0, batch);
  let pos = 0;
  while (pos < n) {
    const len = pos + 48 <= n ? dv.getUint32(pos, true) : 0;
    if (len < 48 || pos + len > n) throw badFrame(pos, n);
    m._at = pos;
    pos += len;
    m._end = pos;
    count++;
    let r;
    try {
      r = transform(m);
    } catch (e) {
      if (!isPluginError(e)) throw uncaught('transform', m, e);
      w.pos = o;
      answerError(w, e);
      w._room(1 + (((n - pos) / 48) | 0)); // the tags of the frames left
      buf = w.buf;
      o = w.pos;
      continue;
    }
    if (r === unchanged) {
      buf[o++] = 0;
    } else if (r === drop) {
      buf[o++] = 1;
    } else {
      w.pos = o;
      try {
        if (r === undefined) {
          throw new TypeError('transform() returned nothing: return unchanged, drop, an output or an array of outputs');
        }
        w.replaced();
        if (Array.isArray(r)) r.forEach((out) => writeOutput(w, out));
        else writeOutput(w, r);
      } catch (e) {
        throw uncaught('transform', m, e);
      }
      w._room(1 + (((n - pos) / 48) | 0));
      buf = w.buf;
      o = w.pos;
    }
  }
  w.pos = o;
  w.count = count;
  return w.finish();
}

function checkExport(plugin, name) {
  if (typeof plugin[name] !== 'function') {
    const found = Object.keys(plugin).join(', ') || 'nothing';
    throw new Error(`plugin.js must export a function \`${name}\` (it exports: ${found})`);
  }
}

/** The `frames-filter` export object for the author's module. */
export function filterExports(plugin) {
  checkExport(plugin, 'filter');
  return {
    init(config) {
      runInit(plugin, config);
    },
    filter(context, frames) {
      return filterBatch(plugin, context, frames);
    },
  };
}

/** The `frames-transform` export object for the author's module. */
export function transformExports(plugin) {
  checkExport(plugin, 'transform');
  return {
    init(config) {
      runInit(plugin, config);
    },
    transform(context, frames) {
      return transformBatch(plugin, context, frames);
    },
  };
}
