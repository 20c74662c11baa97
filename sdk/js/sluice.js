// Write Sluice plugins in JavaScript: export `init(config)` and `filter(msg)` or
// `transform(msg)` from plugin.js; this module gives them their types.
//
//   import { ConfigError, reject } from '#sluice';
//
//   let region;
//   export function init(config) {
//     config.only(['region']);
//     region = config.require('region');
//   }
//   export function filter(msg) {
//     return msg.property('region') === region;
//   }
//
// A filter returns `true` (keep) or `false` (drop). A transform returns `unchanged` (the
// cheapest answer: nothing crosses back to the host), `drop`, one output object
// `{ body, keys, tag, properties, destination }` (every field optional: what it leaves out is
// inherited from the input) or an array of them. `throw retry(reason)` /
// `throw reject(reason)` fail one message; any other exception is a bug and traps, as a
// Rust panic does (see README.md). The batch loop, the frame layout and the host imports are
// handled by the kit.

export { Message } from './frames.js';
export { log, counterAdd } from './host.js';
export { encode as encodeUtf8, decodeStrict as decodeUtf8 } from './utf8.js';

/** A transform's answer: pass the input on as it is. */
export const unchanged = Symbol.for('sluice.unchanged');

/** A transform's answer: emit nothing for this input. */
export const drop = Symbol.for('sluice.drop');

const PLUGIN_ERROR = Symbol.for('sluice.plugin-error');
const CONFIG_ERROR = Symbol.for('sluice.config-error');

/** An expected failure of one message: throw `retry(reason)` or `reject(reason)`. */
export class PluginError extends Error {
  /**
   * @param {'retry' | 'reject'} kind
   * @param {string} reason
   */
  constructor(kind, reason) {
    super(`${kind}: ${reason}`);
    this.name = 'PluginError';
    /** `retry` or `reject`. */
    this.kind = kind;
    /** Why, for the dead-letter record and the logs. */
    this.reason = String(reason);
    this[PLUGIN_ERROR] = true;
  }
}

/**
 * A transient failure (a dependency was down, say): the host retries the message with
 * backoff, then dead-letters it. Use as `throw retry("…")`.
 * @param {string} reason
 */
export function retry(reason) {
  return new PluginError('retry', reason);
}

/**
 * A permanent failure (the message is malformed, say): the host dead-letters (or skips) it
 * without retrying. Use as `throw reject("…")`.
 * @param {string} reason
 */
export function reject(reason) {
  return new PluginError('reject', reason);
}

/** Whether `e` is a `retry`/`reject` error (by brand, so that two copies of the kit agree). */
export function isPluginError(e) {
  return e != null && e[PLUGIN_ERROR] === true;
}

/** A refused configuration: `throw new ConfigError("… what is wrong …", "key")`. */
export class ConfigError extends Error {
  /**
   * @param {string} message what is wrong and what would be accepted
   * @param {string | null} [key] the configuration key at fault, if any
   */
  constructor(message, key = null) {
    super(key == null ? String(message) : `${key}: ${message}`);
    this.name = 'ConfigError';
    /** The key at fault, or `null`. */
    this.key = key == null ? null : String(key);
    /** What is wrong, for the operator. */
    this.detail = String(message);
    this[CONFIG_ERROR] = true;
  }
}

/** Whether `e` is a `ConfigError` (by brand). */
export function isConfigError(e) {
  return e != null && e[CONFIG_ERROR] === true;
}

const quote = (v) => JSON.stringify(v);

function parseInteger(key, v, signed) {
  if (v === '') return 'cannot parse integer from empty string';
  const re = signed ? /^[+-]?[0-9]+$/ : /^\+?[0-9]+$/;
  if (!re.test(v) || v === '+' || v === '-') return 'invalid digit found in string';
  const n = Number(v);
  if (!Number.isSafeInteger(n)) return `number too ${n < 0 ? 'small' : 'large'} to fit in target type`;
  return n;
}

/**
 * The stage configuration: the string pairs of the stage's `config` table, in order.
 */
export class Config {
  /** @param {[string, string][]} pairs */
  constructor(pairs) {
    /** All pairs, in order. */
    this.pairs = pairs.map(([k, v]) => [String(k), String(v)]);
  }

  /**
   * The value of `key` (the last one set), or `null`.
   * @param {string} key
   * @returns {string | null}
   */
  get(key) {
    for (let i = this.pairs.length - 1; i >= 0; i--) {
      if (this.pairs[i][0] === key) return this.pairs[i][1];
    }
    return null;
  }

  /** Whether `key` is set. */
  has(key) {
    return this.get(key) !== null;
  }

  /**
   * The value of `key`; throws a `ConfigError` when it is missing.
   * @param {string} key
   * @returns {string}
   */
  require(key) {
    const v = this.get(key);
    if (v === null) throw new ConfigError(`missing required key \`${key}\``, key);
    return v;
  }

  /**
   * Refuses keys other than `allowed`, so that a typo in the host configuration is an error
   * rather than a silently ignored setting.
   * @param {string[]} allowed
   */
  only(allowed) {
    for (const [k] of this.pairs) {
      if (allowed.includes(k)) continue;
      throw new ConfigError(
        allowed.length === 0
          ? `unknown key \`${k}\`: this plugin takes no configuration`
          : `unknown key \`${k}\`; expected one of: ${allowed.join(', ')}`,
        k,
      );
    }
  }

  /**
   * `key` as an integer (optional sign, digits only, as Rust's `i64::from_str`), or
   * `fallback` when it is not set; throws a `ConfigError` when it does not parse.
   * @param {string} key
   * @param {number} fallback
   */
  int(key, fallback) {
    return this._parse(key, fallback, (v) => parseInteger(key, v, true));
  }

  /** As `int`, but refusing a sign (`-1`), as Rust's `usize::from_str`. */
  uint(key, fallback) {
    return this._parse(key, fallback, (v) => parseInteger(key, v, false));
  }

  /**
   * `key` as a boolean (exactly `true` or `false`), or `fallback` when it is not set.
   * @param {string} key
   * @param {boolean} fallback
   */
  bool(key, fallback) {
    return this._parse(key, fallback, (v) =>
      v === 'true' ? true : v === 'false' ? false : 'provided string was not `true` or `false`',
    );
  }

  /**
   * `key` parsed by `parse` (which returns the value or throws), or `fallback` when it is not
   * set; a throw becomes a `ConfigError` naming the key and the value.
   * @template T
   * @param {string} key
   * @param {T} fallback
   * @param {(v: string) => T} parse
   */
  parse(key, fallback, parse) {
    const v = this.get(key);
    if (v === null) return fallback;
    try {
      return parse(v);
    } catch (e) {
      if (isConfigError(e)) throw e;
      throw new ConfigError(`invalid value ${quote(v)} for \`${key}\`: ${e && e.message ? e.message : e}`, key);
    }
  }

  _parse(key, fallback, parse) {
    const v = this.get(key);
    if (v === null) return fallback;
    const r = parse(v);
    if (typeof r === 'string') throw new ConfigError(`invalid value ${quote(v)} for \`${key}\`: ${r}`, key);
    return r;
  }
}
