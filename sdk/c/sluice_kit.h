/*
 * sluice_kit.h: the kit's internals, shared by sluice.c (the batch loop and the frame
 * layout, plain C), sluice_glue.c (the canonical-ABI exports and host imports, wasm only)
 * and sluice_testing.c (the native test harness). Plugin code does not include it.
 */
#ifndef SLUICE_KIT_H
#define SLUICE_KIT_H

#include <stdarg.h>

#include "sluice.h"

/** A growable byte buffer (malloc'd; aborts when memory runs out). */
typedef struct sluice_buf {
    uint8_t *ptr;
    size_t len;
    size_t cap;
} sluice_buf;

void sluice__reserve(sluice_buf *b, size_t extra);
void sluice__put(sluice_buf *b, const void *p, size_t n);
void sluice__put_u8(sluice_buf *b, uint8_t v);
void sluice__put_u32(sluice_buf *b, uint32_t v);
void sluice__put_cstr(sluice_buf *b, const char *s);
void sluice__put_dec(sluice_buf *b, uint64_t v);
/** Appends printf-style text (the subset sluice_rejectf documents). */
void sluice__vformat(sluice_buf *b, const char *fmt, va_list ap);
/** The buffer's bytes as a malloc'd NUL-terminated string; the buffer is emptied. */
char *sluice__take_cstr(sluice_buf *b);

/** Little-endian u32 at `p`. */
static inline uint32_t sluice__rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/** A malformed block inside a frame the host sent: a host bug, so trap (as Rust's SDK). */
_Noreturn void sluice__host_bug(void);

struct sluice_error {
    uint8_t tag; /* 0 unset, 3 retry, 4 reject (outcome tags) */
    sluice_buf reason;
};

/** Output field flags (wit/FRAMES.md). */
enum {
    SLUICE_FIELD_KEYS = 1,
    SLUICE_FIELD_TAGS = 2,
    SLUICE_FIELD_PROPERTIES = 4,
    SLUICE_FIELD_BODY = 8,
    SLUICE_FIELD_DESTINATION = 16
};

struct sluice_output {
    uint8_t fields; /* SLUICE_FIELD_* set so far */
    sluice_buf keys, tag, properties, body, destination;
};

struct sluice_outputs {
    sluice_buf *w;   /* the outcome buffer */
    size_t mark;     /* where this message's outcome starts */
    uint32_t n;      /* outputs emitted so far */
    bool open;       /* `cur` is being built */
    sluice_output cur;
};

struct sluice_config_error {
    char *key;     /* malloc'd, or NULL */
    char *message; /* malloc'd, or NULL while unset */
};

typedef sluice_result (*sluice__filter_fn)(const sluice_message *, sluice_error *);
typedef sluice_result (*sluice__transform_fn)(const sluice_message *, sluice_outputs *,
                                              sluice_error *);

/**
 * Installs the configuration (the kit takes ownership of `pairs` and of every string in
 * it, each malloc'd and NUL-terminated) and calls sluice_init. On refusal `err` holds the
 * reason (message never NULL).
 */
bool sluice__init(sluice_config_pair *pairs, size_t n, sluice_config_error *err);
/** Whether sluice_init has accepted a configuration. */
bool sluice__ready(void);

/**
 * Runs a filter or transform over the frames of one batch. On success `*out` holds the
 * outcome buffer (malloc'd, the caller's); on a malformed batch it returns false and
 * `*why` holds the reason (malloc'd, NUL-terminated).
 */
bool sluice__filter_batch(sluice__filter_fn f, const sluice_batch *batch, const uint8_t *frames,
                          size_t len, sluice_buf *out, char **why);
bool sluice__transform_batch(sluice__transform_fn f, const sluice_batch *batch,
                             const uint8_t *frames, size_t len, sluice_buf *out, char **why);

#endif /* SLUICE_KIT_H */
