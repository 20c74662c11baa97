/*
 * passthrough: passes every message on unchanged. The smallest transform, and the measure
 * of what the plugin boundary itself costs. As the Rust plugins/passthrough.
 */
#include "sluice.h"

bool sluice_init(const sluice_config *cfg, sluice_config_error *err) {
    return sluice_config_only(cfg, SLUICE_NO_KEYS, err);
}

sluice_result sluice_transform(const sluice_message *m, sluice_outputs *out, sluice_error *err) {
    (void)m, (void)out, (void)err;
    return SLUICE_UNCHANGED;
}
