// {{name}}: a Sluice filter plugin. It keeps the messages whose property `property` equals
// `equals` (both from the stage's configuration) and drops the others.
//
// Write your logic in `filter(msg)`: return true to keep the message, false to drop it.
// `msg` reads the message in place: msg.property(name), msg.properties, msg.key, msg.keys,
// msg.tag, msg.body (a Uint8Array), msg.bodyText() (null when not UTF-8), msg.queueOffset,
// msg.messageId, msg.bornTimestampMs, msg.reconsumeCount. It is valid during the call only.
// `throw reject("why")` fails one message for good (it is dead-lettered), `throw
// retry("why")` fails it for now (it is retried); any other exception is a bug: the
// instance traps and the host retries the message alone.
//
// Check the configuration once in `init(config)`; a ConfigError refuses it and the stage
// does not start.
//
// Build:      sluice plugin build          (writes {{name}}.wasm; the kit lands in .sluice-build/)
// Try it:     sluice plugin test .         (runs sample.jsonl with the [test] config)
// Unit tests: node --test                  (plugin.test.js; after one build)

import { log } from '#sluice';

let property;
let equals;

export function init(config) {
  config.only(['property', 'equals']);
  property = config.require('property');
  equals = config.require('equals');
  log.debug('{{name}} ready', { property, equals });
}

export function filter(msg) {
  return msg.property(property) === equals;
}
