/*
 * sluice.c: the portable part of the kit: the frame walk (wit/FRAMES.md), the outcome
 * buffer, output building, errors and configuration helpers. No WIT bindings here: the
 * same code runs in the component (through sluice_glue.c) and natively in tests (through
 * sluice_testing.c).
 */
#include "sluice_kit.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_HEADER_LEN 48u
static const uint8_t OUTCOME_MAGIC[4] = {0x53, 0x4C, 0x4F, 0x01};

/* ------------------------------------------------------------------------------------ */
/* Buffers */

void sluice__host_bug(void) {
    /* wasi-libc's abort() is a trap; natively it ends the test with SIGABRT. */
    abort();
}

void sluice__reserve(sluice_buf *b, size_t extra) {
    if (b->cap - b->len >= extra) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len < extra) cap *= 2;
    uint8_t *p = realloc(b->ptr, cap);
    if (!p) abort();
    b->ptr = p;
    b->cap = cap;
}

void sluice__put(sluice_buf *b, const void *p, size_t n) {
    sluice__reserve(b, n);
    if (n) memcpy(b->ptr + b->len, p, n);
    b->len += n;
}

void sluice__put_u8(sluice_buf *b, uint8_t v) {
    sluice__reserve(b, 1);
    b->ptr[b->len++] = v;
}

/* The batch loop's one byte per message, without a call when there is room. */
static inline void put_tag(sluice_buf *b, uint8_t v) {
    if (b->len == b->cap) sluice__reserve(b, 1);
    b->ptr[b->len++] = v;
}

static void wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void sluice__put_u32(sluice_buf *b, uint32_t v) {
    sluice__reserve(b, 4);
    wr32(b->ptr + b->len, v);
    b->len += 4;
}

void sluice__put_cstr(sluice_buf *b, const char *s) { sluice__put(b, s, strlen(s)); }

void sluice__put_dec(sluice_buf *b, uint64_t v) {
    char d[20];
    size_t i = sizeof d;
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sluice__put(b, d + i, sizeof d - i);
}

char *sluice__take_cstr(sluice_buf *b) {
    sluice__put_u8(b, 0);
    char *s = (char *)b->ptr;
    *b = (sluice_buf){0};
    return s;
}

/* A length-prefixed field: u32 length, then the bytes. */
static void put_sized(sluice_buf *b, const void *p, size_t n) {
    sluice__reserve(b, 4 + n);
    wr32(b->ptr + b->len, (uint32_t)n);
    if (n) memcpy(b->ptr + b->len + 4, p, n);
    b->len += 4 + n;
}

/* ------------------------------------------------------------------------------------ */
/* Views */

/* Short keys are the rule: an inline loop beats a call to memcmp (natively and in wasm). */
static inline bool same_bytes(const uint8_t *a, const uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return false;
    return true;
}

sluice_str sluice_str_from(const char *s) { return (sluice_str){s, strlen(s)}; }

bool sluice_str_eq(sluice_str a, sluice_str b) {
    return a.len == b.len && same_bytes((const uint8_t *)a.ptr, (const uint8_t *)b.ptr, a.len);
}

bool sluice_str_eq_c(sluice_str s, const char *c) { return sluice_str_eq(s, sluice_str_from(c)); }

bool sluice_utf8_valid(const void *ptr, size_t len) { return sluice_utf8_prefix(ptr, len) == len; }

size_t sluice_utf8_prefix(const void *ptr, size_t len) {
    const uint8_t *start = ptr, *s = start, *end = s + len;
    while (s < end) {
        uint8_t c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        size_t n;
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) n = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0) lo = 0xA0;      /* no overlongs */
            else if (c == 0xED) hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0) lo = 0x90;
            else if (c == 0xF4) hi = 0x8F; /* at most U+10FFFF */
        } else return (size_t)(s - start);
        if ((size_t)(end - s) <= n) return (size_t)(s - start);
        if (s[1] < lo || s[1] > hi) return (size_t)(s - start);
        for (size_t i = 2; i <= n; i++)
            if ((s[i] & 0xC0) != 0x80) return (size_t)(s - start);
        s += n + 1;
    }
    return len;
}

/* ------------------------------------------------------------------------------------ */
/* Messages */

/* The next length-prefixed string of a block; traps on a malformed block. */
static inline bool next_sized(sluice_iter *it, sluice_str *out) {
    if (it->pos >= it->end) return false;
    if ((size_t)(it->end - it->pos) < 4) sluice__host_bug();
    uint32_t n = sluice__rd32(it->pos);
    if (n > (size_t)(it->end - it->pos) - 4) sluice__host_bug();
    out->ptr = (const char *)it->pos + 4;
    out->len = n;
    it->pos += 4 + (size_t)n;
    return true;
}

bool sluice_property_n(const sluice_message *m, const char *key, size_t key_len,
                       sluice_str *value) {
    /* The hot path of most filters: keys compared by length first, values skipped. */
    const uint8_t *p = m->properties_block.ptr, *end = p + m->properties_block.len;
    while (p < end) {
        if ((size_t)(end - p) < 8) sluice__host_bug();
        uint32_t kl = sluice__rd32(p);
        if (kl > (size_t)(end - p) - 8) sluice__host_bug();
        const uint8_t *k = p + 4;
        p = k + kl;
        uint32_t vl = sluice__rd32(p);
        if (vl > (size_t)(end - p) - 4) sluice__host_bug();
        if (kl == key_len && same_bytes(k, (const uint8_t *)key, key_len)) {
            value->ptr = (const char *)p + 4;
            value->len = vl;
            return true;
        }
        p += 4 + (size_t)vl;
    }
    return false;
}

bool sluice_property(const sluice_message *m, const char *key, sluice_str *value) {
    return sluice_property_n(m, key, strlen(key), value);
}

sluice_iter sluice_keys(const sluice_message *m) {
    return (sluice_iter){m->keys_block.ptr, m->keys_block.ptr + m->keys_block.len};
}

bool sluice_next_key(sluice_iter *it, sluice_str *key) { return next_sized(it, key); }

bool sluice_first_key(const sluice_message *m, sluice_str *key) {
    sluice_iter it = sluice_keys(m);
    return next_sized(&it, key);
}

sluice_iter sluice_properties(const sluice_message *m) {
    return (sluice_iter){m->properties_block.ptr,
                         m->properties_block.ptr + m->properties_block.len};
}

bool sluice_next_property(sluice_iter *it, sluice_str *key, sluice_str *value) {
    if (!next_sized(it, key)) return false;
    if (!next_sized(it, value)) sluice__host_bug(); /* a key without a value */
    return true;
}

/* Why the frame at `at` is malformed (the Rust SDK's words), as a malloc'd string. */
__attribute__((noinline, cold)) static char *frame_error(const uint8_t *buf, size_t len, size_t at) {
    sluice_buf e = {0};
    sluice__put_cstr(&e, "malformed batch from the host: ");
    if (len - at < FRAME_HEADER_LEN) {
        sluice__put_cstr(&e, "message frame header cut short");
    } else {
        const uint8_t *h = buf + at;
        uint32_t frame_len = sluice__rd32(h);
        uint64_t total = FRAME_HEADER_LEN;
        for (int i = 0; i < 5; i++) total += sluice__rd32(h + 28 + 4 * i);
        if (total != frame_len) {
            sluice__put_cstr(&e, "frame length ");
            sluice__put_dec(&e, frame_len);
            sluice__put_cstr(&e, " does not match its fields (");
            sluice__put_dec(&e, total);
            sluice__put_cstr(&e, ")");
        } else {
            sluice__put_cstr(&e, "frame of ");
            sluice__put_dec(&e, frame_len);
            sluice__put_cstr(&e, " bytes runs past the end of the buffer");
        }
    }
    sluice__put_cstr(&e, " (at byte ");
    sluice__put_dec(&e, at);
    sluice__put_cstr(&e, ")");
    return sluice__take_cstr(&e);
}

/*
 * Reads the frame at `*pos` into `m` and moves `*pos` past it. On a malformed frame
 * returns false with the reason in `why`.
 */
static inline bool read_frame(const uint8_t *buf, size_t len, size_t *pos, sluice_message *m,
                              char **why) {
    size_t at = *pos;
    const uint8_t *h = buf + at;
    if (len - at < FRAME_HEADER_LEN) goto fail;
    uint32_t frame_len = sluice__rd32(h);
    uint32_t id_len = sluice__rd32(h + 28), keys_len = sluice__rd32(h + 32),
             tags_len = sluice__rd32(h + 36), props_len = sluice__rd32(h + 40),
             body_len = sluice__rd32(h + 44);
    uint64_t total = (uint64_t)FRAME_HEADER_LEN + id_len + keys_len + tags_len + props_len +
                     body_len;
    if (total != frame_len || frame_len > len - at) goto fail;
    m->queue_offset = (int64_t)((uint64_t)sluice__rd32(h + 8) | (uint64_t)sluice__rd32(h + 12) << 32);
    m->born_timestamp_ms =
        (int64_t)((uint64_t)sluice__rd32(h + 16) | (uint64_t)sluice__rd32(h + 20) << 32);
    m->reconsume_count = sluice__rd32(h + 24);
    m->has_tag = (sluice__rd32(h + 4) & 1u) != 0;
    const uint8_t *p = h + FRAME_HEADER_LEN;
    m->message_id = (sluice_str){(const char *)p, id_len};
    p += id_len;
    m->keys_block = (sluice_bytes){p, keys_len};
    p += keys_len;
    m->tag = (sluice_str){(const char *)p, m->has_tag ? tags_len : 0};
    p += tags_len;
    m->properties_block = (sluice_bytes){p, props_len};
    p += props_len;
    m->body = (sluice_bytes){p, body_len};
    *pos = at + frame_len;
    return true;
fail:
    *why = frame_error(buf, len, at);
    return false;
}

/* ------------------------------------------------------------------------------------ */
/* Errors */

static sluice_result fail_n(sluice_error *err, uint8_t tag, const char *reason, size_t len) {
    err->tag = tag;
    err->reason.len = 0;
    sluice__put(&err->reason, reason, len);
    return SLUICE_FAILED;
}

sluice_result sluice_reject_n(sluice_error *err, const char *reason, size_t len) {
    return fail_n(err, 4, reason, len);
}

sluice_result sluice_retry_n(sluice_error *err, const char *reason, size_t len) {
    return fail_n(err, 3, reason, len);
}

sluice_result sluice_reject(sluice_error *err, const char *reason) {
    return fail_n(err, 4, reason, strlen(reason));
}

sluice_result sluice_retry(sluice_error *err, const char *reason) {
    return fail_n(err, 3, reason, strlen(reason));
}

/*
 * A small printf for reasons and log lines. wasi-libc's vsnprintf links the stdio exit
 * path, which imports WASI file calls a plugin does not get; this one needs nothing.
 * Supports flags `-` and `0`, a width, a precision (`.N` or `.*`, for strings and
 * integers' minimum digits), the length modifiers hh h l ll z j t, and the conversions
 * d i u x X o c s p %. No floating point (%f %g %e print `?`).
 */
static void pad(sluice_buf *b, size_t n, char c) {
    if (!n) return;
    sluice__reserve(b, n);
    memset(b->ptr + b->len, c, n);
    b->len += n;
}

void sluice__vformat(sluice_buf *b, const char *fmt, va_list ap) {
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            const char *run = f;
            while (f[1] && f[1] != '%') f++;
            sluice__put(b, run, (size_t)(f - run) + 1);
            continue;
        }
        f++;
        bool left = false, zero = false;
        for (;; f++) {
            if (*f == '-') left = true;
            else if (*f == '0') zero = true;
            else if (*f == ' ' || *f == '+' || *f == '#') continue;
            else break;
        }
        size_t width = 0;
        if (*f == '*') {
            int w = va_arg(ap, int);
            if (w < 0) left = true, w = -w;
            width = (size_t)w;
            f++;
        }
        while (*f >= '0' && *f <= '9') width = width * 10 + (size_t)(*f++ - '0');
        long prec = -1;
        if (*f == '.') {
            f++;
            prec = 0;
            if (*f == '*') {
                prec = va_arg(ap, int);
                f++;
            }
            while (*f >= '0' && *f <= '9') prec = prec * 10 + (*f++ - '0');
        }
        int len = 0; /* 1 hh, 2 h, 3 l, 4 ll, 5 z, 6 j, 7 t */
        if (f[0] == 'h' && f[1] == 'h') len = 1, f += 2;
        else if (*f == 'h') len = 2, f++;
        else if (f[0] == 'l' && f[1] == 'l') len = 4, f += 2;
        else if (*f == 'l') len = 3, f++;
        else if (*f == 'z') len = 5, f++;
        else if (*f == 'j') len = 6, f++;
        else if (*f == 't') len = 7, f++;
        char tmp[24];
        const char *s = tmp;
        size_t n = 0, zeros = 0;
        bool neg = false;
        switch (*f) {
        case '%':
            sluice__put_u8(b, '%');
            continue;
        case 'c':
            tmp[0] = (char)va_arg(ap, int);
            n = 1;
            break;
        case 's':
            s = va_arg(ap, const char *);
            if (!s) s = "(null)";
            if (prec >= 0) {
                const char *z = memchr(s, 0, (size_t)prec);
                n = z ? (size_t)(z - s) : (size_t)prec;
            } else {
                n = strlen(s);
            }
            break;
        case 'd':
        case 'i':
        case 'u':
        case 'x':
        case 'X':
        case 'o':
        case 'p': {
            uint64_t v;
            bool is_signed = *f == 'd' || *f == 'i';
            if (*f == 'p') v = (uintptr_t)va_arg(ap, void *);
            else if (is_signed) {
                int64_t x = len == 4 || len == 6 ? va_arg(ap, long long)
                          : len == 3 || len == 5 || len == 7 ? (int64_t)va_arg(ap, long)
                                                              : (int64_t)va_arg(ap, int);
                if (len == 1) x = (signed char)x;
                if (len == 2) x = (short)x;
                neg = x < 0;
                v = neg ? 0 - (uint64_t)x : (uint64_t)x;
            } else {
                v = len == 4 || len == 6 ? va_arg(ap, unsigned long long)
                  : len == 3 || len == 5 || len == 7 ? (uint64_t)va_arg(ap, unsigned long)
                                                      : (uint64_t)va_arg(ap, unsigned);
                if (len == 1) v = (unsigned char)v;
                if (len == 2) v = (unsigned short)v;
            }
            unsigned base = *f == 'x' || *f == 'X' || *f == 'p' ? 16 : *f == 'o' ? 8 : 10;
            const char *digits = *f == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
            size_t i = sizeof tmp;
            do {
                tmp[--i] = digits[v % base];
                v /= base;
            } while (v);
            if (*f == 'p') tmp[--i] = 'x', tmp[--i] = '0';
            if (neg) tmp[--i] = '-';
            s = tmp + i;
            n = sizeof tmp - i;
            size_t nd = n - (neg ? 1 : 0);
            if (prec >= 0 && (size_t)prec > nd) zeros = (size_t)prec - nd;
            else if (zero && !left && prec < 0 && width > n) zeros = width - n;
            break;
        }
        default: /* floating point and anything unknown */
            while (*f && !strchr("aAeEfFgGn", *f)) f++;
            if (!*f) return;
            if (*f != 'n') (void)va_arg(ap, double);
            tmp[0] = '?';
            n = 1;
        }
        size_t total = n + zeros;
        if (!left && width > total) pad(b, width - total, ' ');
        if (zeros && neg) sluice__put_u8(b, '-'), s++, n--;
        pad(b, zeros, '0');
        sluice__put(b, s, n);
        if (left && width > total) pad(b, width - total, ' ');
    }
}

/* Formats into `b`, replacing its contents. */
static void vformat(sluice_buf *b, const char *fmt, va_list ap) {
    b->len = 0;
    sluice__vformat(b, fmt, ap);
}

size_t sluice_snprintf(char *buf, size_t size, const char *fmt, ...) {
    sluice_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    sluice__vformat(&b, fmt, ap);
    va_end(ap);
    if (size) {
        size_t n = b.len < size - 1 ? b.len : size - 1;
        if (n) memcpy(buf, b.ptr, n);
        buf[n] = 0;
    }
    free(b.ptr);
    return b.len;
}

sluice_result sluice_rejectf(sluice_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vformat(&err->reason, fmt, ap);
    va_end(ap);
    err->tag = 4;
    return SLUICE_FAILED;
}

sluice_result sluice_retryf(sluice_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vformat(&err->reason, fmt, ap);
    va_end(ap);
    err->tag = 3;
    return SLUICE_FAILED;
}

void sluice_logf(sluice_level level, const char *fmt, ...) {
    sluice_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    vformat(&b, fmt, ap);
    va_end(ap);
    char *s = sluice__take_cstr(&b);
    sluice_log(level, s, NULL, 0);
    free(s);
}

/* ------------------------------------------------------------------------------------ */
/* The batch loop */

static sluice_error g_err;       /* reused: no allocation per failed message */
static sluice_outputs g_outputs; /* reused: staging buffers keep their capacity */

static void start_outcomes(sluice_buf *out, size_t frames_len) {
    *out = (sluice_buf){0};
    sluice__reserve(out, 8 + frames_len / 32 + 16);
    sluice__put(out, OUTCOME_MAGIC, 4);
    sluice__put_u32(out, 0); /* the count, written at the end */
}

static void put_failure(sluice_buf *out, const sluice_error *err) {
    if (err->tag == 3 || err->tag == 4) {
        sluice__put_u8(out, err->tag);
        put_sized(out, err->reason.ptr, err->reason.len);
    } else {
        static const char none[] = "the plugin answered SLUICE_FAILED without a reason "
                                   "(use sluice_reject or sluice_retry)";
        sluice__put_u8(out, 4);
        put_sized(out, none, sizeof none - 1);
    }
}

static void put_bad_answer(sluice_buf *out, const char *fn, int r) {
    sluice_buf b = {0};
    sluice__put_cstr(&b, fn);
    sluice__put_cstr(&b, " returned an answer it may not give: ");
    if (r < 0) {
        sluice__put_cstr(&b, "-");
        sluice__put_dec(&b, (uint64_t)(-(int64_t)r));
    } else {
        sluice__put_dec(&b, (uint64_t)r);
    }
    sluice__put_u8(out, 4);
    put_sized(out, b.ptr, b.len);
    free(b.ptr);
}

bool sluice__filter_batch(sluice__filter_fn f, const sluice_batch *batch, const uint8_t *frames,
                          size_t len, sluice_buf *out, char **why) {
    start_outcomes(out, len);
    uint32_t count = 0;
    size_t pos = 0;
    sluice_message m;
    m.batch = batch;
    while (pos < len) {
        if (!read_frame(frames, len, &pos, &m, why)) {
            free(out->ptr);
            *out = (sluice_buf){0};
            return false;
        }
        g_err.tag = 0;
        sluice_result r = f(&m, &g_err);
        switch (r) {
        case SLUICE_KEEP:
        case SLUICE_DROP:
            put_tag(out, (uint8_t)r);
            break;
        case SLUICE_FAILED:
            put_failure(out, &g_err);
            break;
        default:
            put_bad_answer(out, "sluice_filter", (int)r);
        }
        count++;
    }
    wr32(out->ptr + 4, count);
    return true;
}

static void put_output(sluice_buf *w, const sluice_output *o) {
    sluice__put_u8(w, o->fields);
    if (o->fields & SLUICE_FIELD_KEYS) put_sized(w, o->keys.ptr, o->keys.len);
    if (o->fields & SLUICE_FIELD_TAGS) put_sized(w, o->tag.ptr, o->tag.len);
    if (o->fields & SLUICE_FIELD_PROPERTIES) put_sized(w, o->properties.ptr, o->properties.len);
    if (o->fields & SLUICE_FIELD_BODY) put_sized(w, o->body.ptr, o->body.len);
    if (o->fields & SLUICE_FIELD_DESTINATION) put_sized(w, o->destination.ptr, o->destination.len);
}

sluice_output *sluice_emit(sluice_outputs *out) {
    if (out->open) {
        put_output(out->w, &out->cur);
    } else if (out->n == 0) {
        sluice__put_u8(out->w, 2);
        sluice__put_u32(out->w, 0); /* the output count, written at the end */
    }
    out->n++;
    out->open = true;
    out->cur.fields = 0;
    return &out->cur;
}

bool sluice__transform_batch(sluice__transform_fn f, const sluice_batch *batch,
                             const uint8_t *frames, size_t len, sluice_buf *out, char **why) {
    start_outcomes(out, len);
    uint32_t count = 0;
    size_t pos = 0;
    sluice_message m;
    m.batch = batch;
    sluice_outputs *o = &g_outputs;
    o->w = out;
    while (pos < len) {
        if (!read_frame(frames, len, &pos, &m, why)) {
            free(out->ptr);
            *out = (sluice_buf){0};
            return false;
        }
        g_err.tag = 0;
        o->mark = out->len;
        o->n = 0;
        o->open = false;
        sluice_result r = f(&m, o, &g_err);
        if (r == SLUICE_REPLACED) {
            if (o->open) put_output(out, &o->cur);
            if (o->n == 0) {
                sluice__put_u8(out, 2);
                sluice__put_u32(out, 0);
            } else {
                wr32(out->ptr + o->mark + 1, o->n);
            }
        } else {
            out->len = o->mark; /* forget outputs the answer does not use */
            switch (r) {
            case SLUICE_UNCHANGED:
            case SLUICE_DROP:
                put_tag(out, (uint8_t)r);
                break;
            case SLUICE_FAILED:
                put_failure(out, &g_err);
                break;
            default:
                put_bad_answer(out, "sluice_transform", (int)r);
            }
        }
        o->open = false;
        count++;
    }
    wr32(out->ptr + 4, count);
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* Outputs */

static void set_field(sluice_output *o, uint8_t flag, sluice_buf *b, const void *p, size_t n) {
    o->fields |= flag;
    b->len = 0;
    sluice__put(b, p, n);
}

void sluice_output_body(sluice_output *o, const void *body, size_t len) {
    set_field(o, SLUICE_FIELD_BODY, &o->body, body, len);
}

uint8_t *sluice_output_body_buffer(sluice_output *o, size_t len) {
    o->fields |= SLUICE_FIELD_BODY;
    o->body.len = 0;
    sluice__reserve(&o->body, len ? len : 1);
    o->body.len = len;
    return o->body.ptr;
}

void sluice_output_tag_n(sluice_output *o, const char *tag, size_t len) {
    set_field(o, SLUICE_FIELD_TAGS, &o->tag, tag, len);
}

void sluice_output_tag(sluice_output *o, const char *tag) {
    sluice_output_tag_n(o, tag, strlen(tag));
}

void sluice_output_destination_n(sluice_output *o, const char *d, size_t len) {
    set_field(o, SLUICE_FIELD_DESTINATION, &o->destination, d, len);
}

void sluice_output_destination(sluice_output *o, const char *d) {
    sluice_output_destination_n(o, d, strlen(d));
}

void sluice_output_clear_keys(sluice_output *o) {
    o->fields |= SLUICE_FIELD_KEYS;
    o->keys.len = 0;
}

void sluice_output_key_n(sluice_output *o, const char *key, size_t len) {
    if (!(o->fields & SLUICE_FIELD_KEYS)) sluice_output_clear_keys(o);
    put_sized(&o->keys, key, len);
}

void sluice_output_key(sluice_output *o, const char *key) {
    sluice_output_key_n(o, key, strlen(key));
}

void sluice_output_clear_properties(sluice_output *o) {
    o->fields |= SLUICE_FIELD_PROPERTIES;
    o->properties.len = 0;
}

void sluice_output_properties_from(sluice_output *o, const sluice_message *m) {
    set_field(o, SLUICE_FIELD_PROPERTIES, &o->properties, m->properties_block.ptr,
              m->properties_block.len);
}

void sluice_output_property_n(sluice_output *o, const char *key, size_t key_len,
                              const char *value, size_t value_len) {
    if (!(o->fields & SLUICE_FIELD_PROPERTIES)) sluice_output_clear_properties(o);
    sluice_buf *b = &o->properties;
    /* Replace the value of a property of the same name in place, keeping the order. */
    size_t p = 0;
    while (p < b->len) {
        uint32_t kl = sluice__rd32(b->ptr + p);
        size_t v = p + 4 + kl;
        uint32_t vl = sluice__rd32(b->ptr + v);
        size_t next = v + 4 + vl;
        if (kl == key_len && memcmp(b->ptr + p + 4, key, key_len) == 0) {
            size_t tail = b->len - next;
            if (value_len > vl) sluice__reserve(b, value_len - vl);
            memmove(b->ptr + v + 4 + value_len, b->ptr + next, tail);
            wr32(b->ptr + v, (uint32_t)value_len);
            if (value_len) memcpy(b->ptr + v + 4, value, value_len);
            b->len = v + 4 + value_len + tail;
            return;
        }
        p = next;
    }
    put_sized(b, key, key_len);
    put_sized(b, value, value_len);
}

void sluice_output_property(sluice_output *o, const char *key, const char *value) {
    sluice_output_property_n(o, key, strlen(key), value, strlen(value));
}

/* ------------------------------------------------------------------------------------ */
/* Configuration */

static sluice_config g_config;
static bool g_ready;

static void free_config(void) {
    for (size_t i = 0; i < g_config.len; i++) {
        free((char *)g_config.pairs[i].key);
        free((char *)g_config.pairs[i].value);
    }
    free((void *)g_config.pairs);
    g_config = (sluice_config){0};
}

bool sluice__init(sluice_config_pair *pairs, size_t n, sluice_config_error *err) {
    free_config();
    g_config.pairs = pairs;
    g_config.len = n;
    g_ready = false;
    *err = (sluice_config_error){0};
    if (sluice_init(&g_config, err)) {
        g_ready = true;
        return true;
    }
    if (!err->message) {
        sluice_config_fail(err, NULL, "sluice_init refused the configuration without saying why");
    }
    return false;
}

bool sluice__ready(void) { return g_ready; }

static bool key_is(const sluice_config_pair *p, const char *key) {
    size_t n = strlen(key);
    return p->key_len == n && memcmp(p->key, key, n) == 0;
}

const sluice_config_pair *sluice_config_find(const sluice_config *cfg, const char *key) {
    for (size_t i = cfg->len; i > 0; i--)
        if (key_is(&cfg->pairs[i - 1], key)) return &cfg->pairs[i - 1];
    return NULL;
}

const char *sluice_config_get(const sluice_config *cfg, const char *key) {
    const sluice_config_pair *p = sluice_config_find(cfg, key);
    return p ? p->value : NULL;
}

static char *dup_cstr(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (!d) abort();
    memcpy(d, s, n);
    return d;
}

bool sluice_config_fail(sluice_config_error *err, const char *key, const char *message) {
    free(err->key);
    free(err->message);
    err->key = key ? dup_cstr(key) : NULL;
    err->message = dup_cstr(message);
    return false;
}

bool sluice_config_failf(sluice_config_error *err, const char *key, const char *fmt, ...) {
    sluice_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    vformat(&b, fmt, ap);
    va_end(ap);
    char *m = sluice__take_cstr(&b);
    sluice_config_fail(err, key, m);
    free(m);
    return false;
}

/* Fails with the message in `b` (consumed). */
static bool fail_buf(sluice_config_error *err, const char *key, sluice_buf *b) {
    char *m = sluice__take_cstr(b);
    sluice_config_fail(err, key, m);
    free(m);
    return false;
}

const char *sluice_config_require(const sluice_config *cfg, const char *key,
                                  sluice_config_error *err) {
    const char *v = sluice_config_get(cfg, key);
    if (!v) {
        sluice_buf b = {0};
        sluice__put_cstr(&b, "missing required key `");
        sluice__put_cstr(&b, key);
        sluice__put_cstr(&b, "`");
        fail_buf(err, key, &b);
    }
    return v;
}

bool sluice_config_only(const sluice_config *cfg, const char *const *allowed,
                        sluice_config_error *err) {
    for (size_t i = 0; i < cfg->len; i++) {
        const sluice_config_pair *p = &cfg->pairs[i];
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++) known = key_is(p, *a);
        if (known) continue;
        sluice_buf b = {0};
        sluice__put_cstr(&b, "unknown key `");
        sluice__put(&b, p->key, p->key_len);
        if (!allowed[0]) {
            sluice__put_cstr(&b, "`: this plugin takes no configuration");
        } else {
            sluice__put_cstr(&b, "`; expected one of: ");
            for (const char *const *a = allowed; *a; a++) {
                if (a != allowed) sluice__put_cstr(&b, ", ");
                sluice__put_cstr(&b, *a);
            }
        }
        return fail_buf(err, p->key, &b);
    }
    return true;
}

/* "invalid value "v" for `key`: why", as the Rust SDK's parse_or says it. */
static bool invalid_value(sluice_config_error *err, const sluice_config_pair *p,
                          const char *why) {
    sluice_buf b = {0};
    sluice__put_cstr(&b, "invalid value \"");
    for (size_t i = 0; i < p->value_len; i++) {
        char c = p->value[i];
        if (c == '"' || c == '\\') sluice__put_u8(&b, '\\');
        sluice__put_u8(&b, (uint8_t)c);
    }
    sluice__put_cstr(&b, "\" for `");
    sluice__put(&b, p->key, p->key_len);
    sluice__put_cstr(&b, "`: ");
    sluice__put_cstr(&b, why);
    return fail_buf(err, p->key, &b);
}

bool sluice_config_bool(const sluice_config *cfg, const char *key, bool def, bool *out,
                        sluice_config_error *err) {
    const sluice_config_pair *p = sluice_config_find(cfg, key);
    if (!p) {
        *out = def;
        return true;
    }
    if (p->value_len == 4 && memcmp(p->value, "true", 4) == 0) *out = true;
    else if (p->value_len == 5 && memcmp(p->value, "false", 5) == 0) *out = false;
    else return invalid_value(err, p, "provided string was not `true` or `false`");
    return true;
}

/*
 * Parses an integer as Rust's `FromStr` does: an optional sign (`-` only when `is_signed`),
 * then one or more ASCII digits, nothing else. The magnitude goes to `*mag`, the sign to
 * `*neg`; returns NULL or what is wrong.
 */
static const char *parse_int(const sluice_config_pair *p, bool is_signed, uint64_t limit_pos,
                             uint64_t limit_neg, uint64_t *mag, bool *neg) {
    const char *s = p->value, *end = p->value + p->value_len;
    if (s == end) return "cannot parse integer from empty string";
    *neg = false;
    if ((*s == '+' || *s == '-') && end - s == 1) return "invalid digit found in string";
    if (*s == '+') s++;
    else if (*s == '-' && is_signed) {
        *neg = true;
        s++;
    }
    uint64_t v = 0, limit = *neg ? limit_neg : limit_pos;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9') return "invalid digit found in string";
        unsigned d = (unsigned)(*s - '0');
        if (v > (limit - d) / 10) {
            return *neg ? "number too small to fit in target type"
                        : "number too large to fit in target type";
        }
        v = v * 10 + d;
    }
    *mag = v;
    return NULL;
}

bool sluice_config_int(const sluice_config *cfg, const char *key, int64_t def, int64_t *out,
                       sluice_config_error *err) {
    const sluice_config_pair *p = sluice_config_find(cfg, key);
    if (!p) {
        *out = def;
        return true;
    }
    uint64_t mag;
    bool neg;
    const char *why = parse_int(p, true, (uint64_t)INT64_MAX, (uint64_t)INT64_MAX + 1, &mag, &neg);
    if (why) return invalid_value(err, p, why);
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return true;
}

bool sluice_config_uint(const sluice_config *cfg, const char *key, uint64_t def,
                        uint64_t *out, sluice_config_error *err) {
    const sluice_config_pair *p = sluice_config_find(cfg, key);
    if (!p) {
        *out = def;
        return true;
    }
    uint64_t mag;
    bool neg;
    const char *why = parse_int(p, false, UINT64_MAX, 0, &mag, &neg);
    if (why) return invalid_value(err, p, why);
    *out = mag;
    return true;
}
