// {{name}}: a Sluice transform plugin. It adds the property `processed-by` = `{{name}}` to
// every message (a stage configuration `by = "..."` sets another value).
//
// Write your logic in `transform(msg)`. Return:
// * `unchanged`: pass the message on as it is (the cheapest answer: nothing crosses back);
// * `drop`: emit nothing for it;
// * an output `{ body, keys, tag, properties, destination }`: every field is optional and
//   what it leaves out is inherited from the input (`body` a string or a Uint8Array,
//   `properties` the complete new list as [key, value] pairs or an object, `tag: ""` removes
//   the tag, `destination` a sink or topic name);
// * an array of outputs: zero, one or many messages in place of the input.
// `msg` reads the message in place: msg.property(name), msg.properties,
// msg.propertiesWith(name, value), msg.key, msg.keys, msg.tag, msg.body, msg.bodyText(), ...
// It is valid during the call only. `throw reject("why")` / `throw retry("why")` fail one
// message; any other exception is a bug: the instance traps and the message is retried.
//
// Build:      sluice plugin build          (writes {{name}}.wasm; the kit lands in .sluice-build/)
// Try it:     sluice plugin test .         (runs sample.jsonl)
// Unit tests: node --test                  (plugin.test.js; after one build)

let by;

export function init(config) {
  config.only(['by']);
  by = config.get('by') ?? '{{name}}';
}

export function transform(msg) {
  return { properties: msg.propertiesWith('processed-by', by) };
}
