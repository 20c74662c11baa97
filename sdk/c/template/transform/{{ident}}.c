/*
 * {{name}}: adds the property `processed-by = {{name}}` to every message.
 *
 * Write your logic in sluice_transform: it sees one message at a time and answers
 * SLUICE_UNCHANGED (the cheapest answer: nothing crosses back to the host), SLUICE_DROP,
 * or SLUICE_REPLACED after making outputs with sluice_emit(); an output inherits every
 * field it does not set from its input. Failures: `return sluice_reject(err, "why")` or
 * `return sluice_retry(err, "why")`. Everything a message points to is borrowed for the
 * call; output setters copy what you pass. Plugins get no files, clocks or environment:
 * use sluice_log() for output.
 *
 * Build:     sluice plugin build          (writes {{name}}.wasm)
 * Try it:    sluice plugin test .         (runs it over sample.jsonl)
 * Unit test: see {{ident}}_test.c.
 */
#include "sluice.h"

bool sluice_init(const sluice_config *cfg, sluice_config_error *err) {
    return sluice_config_only(cfg, SLUICE_NO_KEYS, err);
}

sluice_result sluice_transform(const sluice_message *m, sluice_outputs *out, sluice_error *err) {
    (void)err;
    sluice_output *o = sluice_emit(out);
    sluice_output_properties_from(o, m); /* keep the input's properties, then add one */
    sluice_output_property(o, "processed-by", "{{name}}");
    return SLUICE_REPLACED;
}
