/*
 * json-filter: keeps messages whose JSON body has a configured field equal to a configured
 * value, drops the others, and rejects bodies that are not JSON. As the Rust
 * plugins/json-filter, with serde_json's semantics (json.h).
 *
 * Configuration:
 *   field  (required): the field, as a dotted path (`order.status`) or a JSON Pointer
 *          (`/order/items/0/sku`).
 *   equals (required): the value. Read as JSON when it parses (`42`, `true`, `"paid"`,
 *          `{"a":1}`), else as a plain string (`paid`).
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "sluice.h"

static json_pointer pointer;
static json_doc equals_doc; /* holds the configured value */
static int32_t equals;
static json_doc body_doc;   /* reused for every message */

/* `a.b` -> `/a/b`, each part escaped (`~` -> `~0`, `/` -> `~1`), as the Rust plugin. */
static char *dotted_to_pointer(const char *field) {
    size_t n = strlen(field), cap = 2 * n + 2, w = 0;
    char *out = malloc(cap);
    if (!out) abort();
    out[w++] = '/';
    for (const char *c = field; *c; c++) {
        if (*c == '.') out[w++] = '/';
        else if (*c == '~') out[w++] = '~', out[w++] = '0';
        else if (*c == '/') out[w++] = '~', out[w++] = '1';
        else out[w++] = *c;
    }
    out[w] = 0;
    return out;
}

bool sluice_init(const sluice_config *cfg, sluice_config_error *err) {
    if (!sluice_config_only(cfg, SLUICE_KEYS("field", "equals"), err)) return false;
    const char *field = sluice_config_require(cfg, "field", err);
    if (!field) return false;
    if (!*field) {
        return sluice_config_fail(err, "field", "`field` is empty; give a dotted path like `order.status`");
    }
    char *ptr = field[0] == '/' ? NULL : dotted_to_pointer(field);
    const char *p = ptr ? ptr : field;
    json_pointer_parse(&pointer, p, strlen(p));
    free(ptr);
    if (!sluice_config_require(cfg, "equals", err)) return false;
    const sluice_config_pair *raw = sluice_config_find(cfg, "equals");
    equals = json_parse(&equals_doc, (const uint8_t *)raw->value, raw->value_len);
    if (equals < 0) equals = json_string(&equals_doc, (const uint8_t *)raw->value, raw->value_len);
    return true;
}

sluice_result sluice_filter(const sluice_message *m, sluice_error *err) {
    if (m->body.len == 0) return sluice_reject(err, "body is empty, not JSON");
    int32_t root = json_parse(&body_doc, m->body.ptr, m->body.len);
    if (root < 0) return sluice_rejectf(err, "body is not JSON: %s", body_doc.error);
    int32_t v = json_lookup(&body_doc, root, &pointer);
    return v >= 0 && json_equal(&body_doc, v, &equals_doc, equals) ? SLUICE_KEEP : SLUICE_DROP;
}
