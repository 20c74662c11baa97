/*
 * {{name}}: keeps messages whose property `property` equals `equals`.
 *
 * Write your logic in sluice_filter: it sees one message at a time (the kit runs the batch
 * loop and the contract's fast path) and answers SLUICE_KEEP, SLUICE_DROP, or
 * `return sluice_reject(err, "why")` (dead-lettered) / `return sluice_retry(err, "why")`
 * (retried later). Everything a message points to is borrowed for the call; copy what
 * you keep. Plugins get no files, clocks or environment: use sluice_log() for output.
 *
 * Build:     sluice plugin build          (writes {{name}}.wasm)
 * Try it:    sluice plugin test .         (runs it over sample.jsonl)
 * Unit test: see {{ident}}_test.c.
 */
#include "sluice.h"

static sluice_str property, equals; /* config strings live as long as the instance */

bool sluice_init(const sluice_config *cfg, sluice_config_error *err) {
    if (!sluice_config_only(cfg, SLUICE_KEYS("property", "equals"), err)) return false;
    const char *p = sluice_config_require(cfg, "property", err);
    const char *e = p ? sluice_config_require(cfg, "equals", err) : NULL;
    if (!p || !e) return false;
    property = sluice_str_from(p);
    equals = sluice_str_from(e);
    return true;
}

sluice_result sluice_filter(const sluice_message *m, sluice_error *err) {
    (void)err;
    sluice_str value;
    if (sluice_property_n(m, property.ptr, property.len, &value) && sluice_str_eq(value, equals)) {
        return SLUICE_KEEP;
    }
    return SLUICE_DROP;
}
