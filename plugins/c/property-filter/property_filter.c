/*
 * property-filter: keeps messages whose user property equals a value; the cheapest
 * useful filter, and the filter of the per-language benchmark. As the Rust
 * plugins/property-filter.
 *
 * Configuration: `property` (required), `equals` (required), `missing` = `drop` (default)
 * or `keep` for messages without the property.
 */
#include <string.h>

#include "sluice.h"

static sluice_str property, equals;
static bool keep_missing;

bool sluice_init(const sluice_config *cfg, sluice_config_error *err) {
    if (!sluice_config_only(cfg, SLUICE_KEYS("property", "equals", "missing"), err)) return false;
    const char *missing = sluice_config_get(cfg, "missing");
    if (!missing || strcmp(missing, "drop") == 0) {
        keep_missing = false;
    } else if (strcmp(missing, "keep") == 0) {
        keep_missing = true;
    } else {
        return sluice_config_failf(err, "missing", "expected `drop` or `keep`, got \"%s\"", missing);
    }
    const char *p = sluice_config_require(cfg, "property", err);
    if (!p) return false;
    const char *e = sluice_config_require(cfg, "equals", err);
    if (!e) return false;
    property = sluice_str_from(p);
    equals = sluice_str_from(e);
    return true;
}

sluice_result sluice_filter(const sluice_message *m, sluice_error *err) {
    (void)err;
    sluice_str v;
    if (!sluice_property_n(m, property.ptr, property.len, &v)) {
        return keep_missing ? SLUICE_KEEP : SLUICE_DROP;
    }
    return sluice_str_eq(v, equals) ? SLUICE_KEEP : SLUICE_DROP;
}
