/*
 * sluice_glue.c: the component's exports and host imports, over the bindings that
 * `wit-bindgen c --rename-world sluice_world` generates at build time. Compiled only into
 * the wasm build, with -DSLUICE_KIND_FILTER or -DSLUICE_KIND_TRANSFORM.
 *
 * Ownership (wit-bindgen's C convention): the export functions own their arguments and
 * free them here; what they return (the outcome buffer, error strings) is malloc'd and
 * freed by the generated post-return functions after the host has copied it out.
 */
#include "sluice_world.h"

#include <stdlib.h>
#include <string.h>

#include "sluice_kit.h"

#if defined(SLUICE_KIND_FILTER)
#define EXPORT_INIT exports_sluice_plugin_frames_filter_init
#define EXPORT_RUN exports_sluice_plugin_frames_filter_filter
#define RUN_BATCH(b, p, n, out, why) sluice__filter_batch(sluice_filter, b, p, n, out, why)
#elif defined(SLUICE_KIND_TRANSFORM)
#define EXPORT_INIT exports_sluice_plugin_frames_transform_init
#define EXPORT_RUN exports_sluice_plugin_frames_transform_transform
#define RUN_BATCH(b, p, n, out, why) sluice__transform_batch(sluice_transform, b, p, n, out, why)
#else
#error "compile with -DSLUICE_KIND_FILTER or -DSLUICE_KIND_TRANSFORM"
#endif

static char *copy_cstr(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    if (!s) abort();
    if (n) memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* A malloc'd C string handed to the host (freed by post-return; an empty one here). */
static sluice_world_string_t give(char *s) {
    size_t n = strlen(s);
    if (n == 0) {
        free(s);
        return (sluice_world_string_t){NULL, 0};
    }
    return (sluice_world_string_t){(uint8_t *)s, n};
}

bool EXPORT_INIT(sluice_plugin_types_config_t *config, sluice_plugin_types_config_error_t *ret) {
    size_t n = config->len;
    sluice_config_pair *pairs = n ? calloc(n, sizeof *pairs) : NULL;
    if (n && !pairs) abort();
    for (size_t i = 0; i < n; i++) {
        sluice_world_tuple2_string_string_t *t = &config->ptr[i];
        pairs[i].key = copy_cstr(t->f0.ptr, t->f0.len);
        pairs[i].key_len = t->f0.len;
        pairs[i].value = copy_cstr(t->f1.ptr, t->f1.len);
        pairs[i].value_len = t->f1.len;
    }
    sluice_plugin_types_config_free(config);
    sluice_config_error err;
    if (sluice__init(pairs, n, &err)) return true;
    ret->key.is_some = err.key != NULL;
    if (err.key) ret->key.val = give(err.key);
    ret->message = give(err.message);
    return false;
}

bool EXPORT_RUN(sluice_plugin_types_batch_context_t *ctx, sluice_world_list_u8_t *frames,
                sluice_world_list_u8_t *ret, sluice_plugin_types_plugin_error_t *err) {
    sluice_batch batch = {
        .topic = {(const char *)ctx->topic.ptr, ctx->topic.len},
        .queue_id = ctx->queue_id,
        .pipeline = {(const char *)ctx->pipeline.ptr, ctx->pipeline.len},
        .stage = {(const char *)ctx->stage.ptr, ctx->stage.len},
    };
    sluice_buf out;
    char *why = NULL;
    bool ok;
    if (!sluice__ready()) {
        static const char not_ready[] = "plugin called before a successful init";
        why = copy_cstr((const uint8_t *)not_ready, sizeof not_ready - 1);
        ok = false;
    } else {
        ok = RUN_BATCH(&batch, frames->ptr, frames->len, &out, &why);
    }
    sluice_world_list_u8_free(frames);
    sluice_plugin_types_batch_context_free(ctx);
    if (ok) {
        ret->ptr = out.ptr;
        ret->len = out.len;
        return true;
    }
    err->tag = SLUICE_PLUGIN_TYPES_PLUGIN_ERROR_REJECT;
    err->val.reject = give(why);
    return false;
}

void sluice_counter_add(const char *name, uint64_t delta) {
    sluice_world_string_t s = {(uint8_t *)name, strlen(name)};
    sluice_plugin_host_counter_add(&s, delta);
}

void sluice_log(sluice_level level, const char *message, const sluice_field *fields,
                size_t n_fields) {
    /* The host copies what it is given: the list can borrow the caller's strings. */
    sluice_world_tuple2_string_string_t small[8];
    sluice_world_tuple2_string_string_t *list = small;
    if (n_fields > 8) {
        list = malloc(n_fields * sizeof *list);
        if (!list) abort();
    }
    for (size_t i = 0; i < n_fields; i++) {
        list[i].f0 = (sluice_world_string_t){(uint8_t *)fields[i].key, strlen(fields[i].key)};
        list[i].f1 = (sluice_world_string_t){(uint8_t *)fields[i].value, strlen(fields[i].value)};
    }
    sluice_world_string_t msg = {(uint8_t *)message, strlen(message)};
    sluice_world_list_tuple2_string_string_t fl = {list, n_fields};
    sluice_plugin_host_log((sluice_plugin_host_log_level_t)level, &msg, &fl);
    if (list != small) free(list);
}
