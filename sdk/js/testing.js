// Unit-test a plugin under Node, through the very batch loop the component runs:
//
//   import { test } from 'node:test';
//   import assert from 'node:assert/strict';
//   import { runFilter } from '#sluice/testing';
//   import * as plugin from './plugin.js';
//
//   test('keeps eu', () => {
//     const out = runFilter(plugin, { region: 'eu' }, [{ properties: { region: 'eu' } }, {}]);
//     assert.deepEqual(out, [{ outcome: 'unchanged' }, { outcome: 'drop' }]);
//   });
//
// A test message is `{ body, keys, tag, properties, messageId, queueOffset, ... }` (all
// optional; `body` a string or a Uint8Array). An outcome is `{ outcome: 'unchanged' }`,
// `{ outcome: 'drop' }`, `{ outcome: 'replaced', outputs: [...] }`, `{ outcome: 'retry',
// reason }` or `{ outcome: 'reject', reason }`; an output holds only the fields it sets, its
// body as a Uint8Array (`bodyText(output)` reads it as text).

import { encodeBatch, readOutcomes } from './frames.js';
import { filterBatch, runInit, transformBatch } from './glue.js';
import { decodeStrict } from './utf8.js';
import { ConfigError } from './sluice.js';

export { counters } from './host.js';

const BATCH = Object.freeze({ topic: 'test', queueId: 0, pipeline: 'test', stage: 'test' });

function pairs(config) {
  if (config == null) return [];
  if (Array.isArray(config)) return config;
  return Object.entries(config);
}

/**
 * Runs `plugin.init` with `config` (an object or `[key, value]` pairs); throws the
 * `ConfigError` it refused the configuration with.
 */
export function init(plugin, config) {
  try {
    runInit(plugin, pairs(config));
  } catch (e) {
    if (e && typeof e === 'object' && 'message' in e && 'key' in e && !(e instanceof Error)) {
      throw new ConfigError(e.message, e.key);
    }
    throw e;
  }
}

/** Initialises a filter with `config` and runs it over `messages` as one batch. */
export function runFilter(plugin, config, messages) {
  init(plugin, config);
  return readOutcomes(filterBatch(plugin, BATCH, encodeBatch(messages)), messages.length);
}

/** Initialises a transform with `config` and runs it over `messages` as one batch. */
export function runTransform(plugin, config, messages) {
  init(plugin, config);
  return readOutcomes(transformBatch(plugin, BATCH, encodeBatch(messages)), messages.length);
}

/** An output's body as text (`null` when it has none or it is not UTF-8). */
export function bodyText(output) {
  return output.body == null ? null : decodeStrict(output.body);
}
