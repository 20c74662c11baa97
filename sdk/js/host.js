// The host imports (`sluice:plugin/host`: log and counter-add). Inside the component the
// generated entry module hands the real imports to `setHost`; under Node (unit tests)
// logs go to standard error and counters into `counters`.

/** Counters added while running natively (tests), by name. */
export const counters = new Map();

const native = {
  log(level, message, fields) {
    if (typeof console !== 'undefined') {
      const f = fields.map(([k, v]) => ` ${k}=${v}`).join('');
      console.error(`[${level}] ${message}${f}`);
    }
  },
  counterAdd(name, delta) {
    counters.set(name, (counters.get(name) ?? 0) + delta);
  },
};

let host = native;

/** Installs the component's host imports (called by the generated entry module). */
export function setHost(h) {
  host = h;
}

function fieldList(fields) {
  if (fields == null) return [];
  const entries = fields instanceof Map ? [...fields] : Array.isArray(fields) ? fields : Object.entries(fields);
  return entries.map(([k, v]) => [String(k), String(v)]);
}

function line(level) {
  return (message, fields) => host.log(level, String(message), fieldList(fields));
}

/**
 * Writes a line into the host's log, tagged with the plugin, pipeline and stage:
 * `log.info("cache warmed", { entries: 42 })`. Levels: trace, debug, info, warn, error.
 * Do not log per message above `debug`: the host drops lines past 100 per second.
 */
export const log = Object.freeze({
  trace: line('trace'),
  debug: line('debug'),
  info: line('info'),
  warn: line('warn'),
  error: line('error'),
});

/**
 * Adds `delta` (default 1) to the plugin counter `name`, exported by the host as the metric
 * `sluice_plugin_counter_total{name=…}`. The host keeps at most 64 names per plugin.
 * @param {string} name
 * @param {number} [delta]
 */
export function counterAdd(name, delta = 1) {
  if (!Number.isSafeInteger(delta) || delta < 0) {
    throw new TypeError(`counterAdd(${JSON.stringify(name)}, ${delta}): delta must be a non-negative integer`);
  }
  host.counterAdd(String(name), delta);
}
