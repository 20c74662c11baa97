/*
 * sluice_testing.c: the native test harness (see sluice_testing.h). Also the native
 * stand-ins of the host imports (sluice_log, sluice_counter_add).
 */
#include "sluice_testing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice_kit.h"

/* A plugin defines sluice_filter or sluice_transform, not both. */
#pragma weak sluice_filter
#pragma weak sluice_transform

/* ---- host stand-ins ----------------------------------------------------------------- */

static struct {
    char *name;
    uint64_t total;
} counters[64];

void sluice_counter_add(const char *name, uint64_t delta) {
    for (size_t i = 0; i < 64; i++) {
        if (!counters[i].name) {
            size_t n = strlen(name) + 1;
            counters[i].name = malloc(n);
            if (!counters[i].name) abort();
            memcpy(counters[i].name, name, n);
        }
        if (strcmp(counters[i].name, name) == 0) {
            counters[i].total += delta;
            return;
        }
    }
}

uint64_t sluice_test_counter(const char *name) {
    for (size_t i = 0; i < 64 && counters[i].name; i++) {
        if (strcmp(counters[i].name, name) == 0) return counters[i].total;
    }
    return 0;
}

void sluice_log(sluice_level level, const char *message, const sluice_field *fields,
                size_t n_fields) {
    static const char *names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR"};
    fprintf(stderr, "[%s] %s", (unsigned)level < 5 ? names[level] : "?", message);
    for (size_t i = 0; i < n_fields; i++) fprintf(stderr, " %s=%s", fields[i].key, fields[i].value);
    fputc('\n', stderr);
}

/* ---- batches ------------------------------------------------------------------------ */

typedef struct test_message {
    sluice_buf id, keys, tag, properties, body;
    bool has_tag;
} test_message;

struct sluice_test_batch {
    test_message *m;
    size_t n, cap;
    sluice_buf frames;
};

sluice_test_batch *sluice_test_batch_new(void) {
    sluice_test_batch *b = calloc(1, sizeof *b);
    if (!b) abort();
    return b;
}

void sluice_test_batch_free(sluice_test_batch *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) {
        test_message *m = &b->m[i];
        free(m->id.ptr), free(m->keys.ptr), free(m->tag.ptr), free(m->properties.ptr), free(m->body.ptr);
    }
    free(b->m);
    free(b->frames.ptr);
    free(b);
}

static test_message *last(sluice_test_batch *b) {
    if (!b->n) {
        fprintf(stderr, "sluice_testing: add a message before setting its fields\n");
        abort();
    }
    return &b->m[b->n - 1];
}

static void put_sized(sluice_buf *buf, const void *p, size_t n) {
    sluice__put_u32(buf, (uint32_t)n);
    sluice__put(buf, p, n);
}

void sluice_test_add_bytes(sluice_test_batch *b, const void *body, size_t len) {
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 8;
        b->m = realloc(b->m, b->cap * sizeof *b->m);
        if (!b->m) abort();
    }
    test_message *m = &b->m[b->n++];
    memset(m, 0, sizeof *m);
    sluice__put_cstr(&m->id, "msg-");
    sluice__put_dec(&m->id, b->n);
    sluice__put(&m->body, body, len);
}

void sluice_test_add(sluice_test_batch *b, const char *body) {
    sluice_test_add_bytes(b, body, strlen(body));
}

void sluice_test_key(sluice_test_batch *b, const char *key) {
    put_sized(&last(b)->keys, key, strlen(key));
}

void sluice_test_tag(sluice_test_batch *b, const char *tag) {
    test_message *m = last(b);
    m->has_tag = true;
    m->tag.len = 0;
    sluice__put_cstr(&m->tag, tag);
}

void sluice_test_property(sluice_test_batch *b, const char *key, const char *value) {
    test_message *m = last(b);
    put_sized(&m->properties, key, strlen(key));
    put_sized(&m->properties, value, strlen(value));
}

void sluice_test_message_id(sluice_test_batch *b, const char *id) {
    test_message *m = last(b);
    m->id.len = 0;
    sluice__put_cstr(&m->id, id);
}

static void put_u64(sluice_buf *buf, uint64_t v) {
    sluice__put_u32(buf, (uint32_t)v);
    sluice__put_u32(buf, (uint32_t)(v >> 32));
}

const uint8_t *sluice_test_frames(sluice_test_batch *b, size_t *len) {
    b->frames.len = 0;
    for (size_t i = 0; i < b->n; i++) {
        test_message *m = &b->m[i];
        size_t total = 48 + m->id.len + m->keys.len + m->tag.len + m->properties.len + m->body.len;
        sluice__put_u32(&b->frames, (uint32_t)total);
        sluice__put_u32(&b->frames, m->has_tag ? 1 : 0);
        put_u64(&b->frames, i);             /* queue offset */
        put_u64(&b->frames, 1700000000000); /* born timestamp */
        sluice__put_u32(&b->frames, 0);     /* reconsume count */
        sluice__put_u32(&b->frames, (uint32_t)m->id.len);
        sluice__put_u32(&b->frames, (uint32_t)m->keys.len);
        sluice__put_u32(&b->frames, (uint32_t)m->tag.len);
        sluice__put_u32(&b->frames, (uint32_t)m->properties.len);
        sluice__put_u32(&b->frames, (uint32_t)m->body.len);
        sluice__put(&b->frames, m->id.ptr, m->id.len);
        sluice__put(&b->frames, m->keys.ptr, m->keys.len);
        sluice__put(&b->frames, m->tag.ptr, m->tag.len);
        sluice__put(&b->frames, m->properties.ptr, m->properties.len);
        sluice__put(&b->frames, m->body.ptr, m->body.len);
    }
    *len = b->frames.len;
    return b->frames.ptr;
}

/* ---- running ------------------------------------------------------------------------ */

const char *sluice_test_init(const char *const *pairs) {
    static char *refusal;
    free(refusal);
    refusal = NULL;
    size_t n = 0;
    while (pairs[2 * n]) {
        if (!pairs[2 * n + 1]) {
            fprintf(stderr, "sluice_test_init: key `%s` has no value\n", pairs[2 * n]);
            abort();
        }
        n++;
    }
    sluice_config_pair *cp = calloc(n ? n : 1, sizeof *cp);
    if (!cp) abort();
    for (size_t i = 0; i < n; i++) {
        sluice_buf k = {0}, v = {0};
        sluice__put_cstr(&k, pairs[2 * i]);
        sluice__put_cstr(&v, pairs[2 * i + 1]);
        cp[i].key_len = k.len;
        cp[i].value_len = v.len;
        cp[i].key = sluice__take_cstr(&k);
        cp[i].value = sluice__take_cstr(&v);
    }
    sluice_config_error err;
    if (sluice__init(cp, n, &err)) return NULL;
    sluice_buf r = {0};
    if (err.key) {
        sluice__put_cstr(&r, err.key);
        sluice__put_cstr(&r, ": ");
    }
    sluice__put_cstr(&r, err.message);
    free(err.key);
    free(err.message);
    refusal = sluice__take_cstr(&r);
    return refusal;
}

static const sluice_batch TEST_BATCH = {{"test", 4}, 0, {"test", 4}, {"test", 4}};

static sluice_test_run *failed_run(char *why) {
    sluice_test_run *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->error = why;
    return r;
}

static sluice_test_run *run(sluice_test_batch *b, bool filter) {
    if (filter ? !sluice_filter : !sluice_transform) {
        fprintf(stderr, "sluice_testing: the plugin defines no %s\n",
                filter ? "sluice_filter" : "sluice_transform");
        abort();
    }
    size_t len;
    const uint8_t *frames = sluice_test_frames(b, &len);
    if (!sluice__ready()) {
        sluice_buf e = {0};
        sluice__put_cstr(&e, "plugin called before a successful init");
        return failed_run(sluice__take_cstr(&e));
    }
    sluice_buf out;
    char *why = NULL;
    bool ok = filter ? sluice__filter_batch(sluice_filter, &TEST_BATCH, frames, len, &out, &why)
                     : sluice__transform_batch(sluice_transform, &TEST_BATCH, frames, len, &out, &why);
    if (!ok) return failed_run(why);
    return sluice_test_read_outcomes(out.ptr, out.len, b->n, filter);
}

sluice_test_run *sluice_test_filter(sluice_test_batch *b) { return run(b, true); }
sluice_test_run *sluice_test_transform(sluice_test_batch *b) { return run(b, false); }

void sluice_test_run_free(sluice_test_run *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) free(r->outcomes[i].outputs);
    free(r->outcomes);
    free(r->buffer);
    free((char *)r->error);
    free(r);
}

/* ---- reading outcome buffers (the host's checks) ------------------------------------ */

typedef struct reader {
    const uint8_t *p;
    size_t len, pos;
    const char *err;
} reader;

static bool rd_u32(reader *r, uint32_t *v) {
    if (r->len - r->pos < 4) {
        r->err = "buffer ends inside a length";
        return false;
    }
    *v = sluice__rd32(r->p + r->pos);
    r->pos += 4;
    return true;
}

static bool rd_sized(reader *r, sluice_bytes *out) {
    uint32_t n;
    if (!rd_u32(r, &n)) return false;
    if (r->len - r->pos < n) {
        r->err = "a field runs past the end of the buffer";
        return false;
    }
    *out = (sluice_bytes){r->p + r->pos, n};
    r->pos += n;
    return true;
}

static bool rd_str(reader *r, sluice_str *out) {
    sluice_bytes b;
    if (!rd_sized(r, &b)) return false;
    if (!sluice_utf8_valid(b.ptr, b.len)) {
        r->err = "a string is not UTF-8";
        return false;
    }
    *out = (sluice_str){(const char *)b.ptr, b.len};
    return true;
}

/* A keys (per 1) or properties (per 2) block: every item sized and UTF-8. */
static bool check_block(reader *r, sluice_bytes block, int per) {
    reader in = {block.ptr, block.len, 0, NULL};
    while (in.pos < in.len) {
        for (int k = 0; k < per; k++) {
            sluice_str s;
            if (!rd_str(&in, &s)) {
                r->err = in.err;
                return false;
            }
        }
    }
    return true;
}

sluice_test_run *sluice_test_read_outcomes(uint8_t *buf, size_t len, size_t count, bool filter) {
    sluice_test_run *run = calloc(1, sizeof *run);
    if (!run) abort();
    run->buffer = buf;
    run->buffer_len = len;
    run->outcomes = calloc(count ? count : 1, sizeof *run->outcomes);
    if (!run->outcomes) abort();
    reader r = {buf, len, 0, NULL};
    static const uint8_t magic[4] = {0x53, 0x4C, 0x4F, 0x01};
    uint32_t n;
    if (len < 4 || memcmp(buf, magic, 4) != 0) {
        r.err = "bad magic";
        goto bad;
    }
    r.pos = 4;
    if (!rd_u32(&r, &n)) goto bad;
    if (n != count) {
        r.err = "the outcome count is not the batch's";
        goto bad;
    }
    for (size_t i = 0; i < count; i++) {
        sluice_test_outcome *o = &run->outcomes[i];
        run->n = i + 1;
        if (r.pos >= len) {
            r.err = "buffer ends before an outcome";
            goto bad;
        }
        uint8_t tag = buf[r.pos++];
        switch (tag) {
        case 0:
        case 1:
            o->result = (sluice_result)tag;
            break;
        case 3:
        case 4:
            o->result = SLUICE_FAILED;
            o->retry = tag == 3;
            if (!rd_str(&r, &o->reason)) goto bad;
            break;
        case 2: {
            if (filter) {
                r.err = "a filter answered `replaced`";
                goto bad;
            }
            o->result = SLUICE_REPLACED;
            uint32_t k;
            if (!rd_u32(&r, &k)) goto bad;
            if (k > len) {
                r.err = "implausible output count";
                goto bad;
            }
            o->outputs = calloc(k ? k : 1, sizeof *o->outputs);
            if (!o->outputs) abort();
            for (o->n_outputs = 0; o->n_outputs < k; o->n_outputs++) {
                sluice_test_output *x = &o->outputs[o->n_outputs];
                if (r.pos >= len) {
                    r.err = "buffer ends before an output";
                    goto bad;
                }
                x->fields = buf[r.pos++];
                if (x->fields & ~0x1Fu) {
                    r.err = "unknown output field flags";
                    goto bad;
                }
                if (x->fields & SLUICE_TEST_KEYS) {
                    if (!rd_sized(&r, &x->keys_block) || !check_block(&r, x->keys_block, 1)) goto bad;
                }
                if ((x->fields & SLUICE_TEST_TAG) && !rd_str(&r, &x->tag)) goto bad;
                if (x->fields & SLUICE_TEST_PROPERTIES) {
                    if (!rd_sized(&r, &x->properties_block) ||
                        !check_block(&r, x->properties_block, 2)) {
                        goto bad;
                    }
                }
                if ((x->fields & SLUICE_TEST_BODY) && !rd_sized(&r, &x->body)) goto bad;
                if ((x->fields & SLUICE_TEST_DESTINATION) && !rd_str(&r, &x->destination)) goto bad;
            }
            break;
        }
        default:
            r.err = "unknown outcome tag";
            goto bad;
        }
    }
    if (r.pos != len) {
        r.err = "bytes trail the last outcome";
        goto bad;
    }
    return run;
bad: {
    sluice_buf e = {0};
    sluice__put_cstr(&e, "invalid outcome buffer: ");
    sluice__put_cstr(&e, r.err);
    sluice__put_cstr(&e, " (at byte ");
    sluice__put_dec(&e, r.pos);
    sluice__put_cstr(&e, ")");
    run->error = sluice__take_cstr(&e);
    return run;
}
}

bool sluice_test_block_next(sluice_bytes block, size_t *pos, sluice_str *out) {
    if (*pos + 4 > block.len) return false;
    uint32_t n = sluice__rd32(block.ptr + *pos);
    if (n > block.len - *pos - 4) return false;
    *out = (sluice_str){(const char *)block.ptr + *pos + 4, n};
    *pos += 4 + n;
    return true;
}

bool sluice_test_block_get(sluice_bytes block, const char *key, sluice_str *value) {
    size_t pos = 0;
    sluice_str k, v;
    while (sluice_test_block_next(block, &pos, &k) && sluice_test_block_next(block, &pos, &v)) {
        if (sluice_str_eq_c(k, key)) {
            *value = v;
            return true;
        }
    }
    return false;
}

/* ---- checks ------------------------------------------------------------------------- */

static unsigned passed, failed;

bool sluice_test_check(bool ok, const char *what, const char *file, int line) {
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    }
    return ok;
}

int sluice_test_report(void) {
    printf("%u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
