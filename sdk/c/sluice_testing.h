/*
 * sluice_testing.h: unit-test a plugin natively (gcc or clang on the host), through the
 * very batch loop and outcome encoding the component runs.
 *
 *     #include "sluice_testing.h"
 *
 *     int main(void) {
 *         SLUICE_CHECK(sluice_test_init(SLUICE_KEYS("region", "eu")) == NULL);
 *         sluice_test_batch *b = sluice_test_batch_new();
 *         sluice_test_add(b, "a");
 *         sluice_test_property(b, "region", "eu");
 *         sluice_test_add(b, "b");
 *         sluice_test_run *r = sluice_test_filter(b);
 *         SLUICE_CHECK(r->outcomes[0].result == SLUICE_KEEP);
 *         SLUICE_CHECK(r->outcomes[1].result == SLUICE_DROP);
 *         sluice_test_run_free(r);
 *         sluice_test_batch_free(b);
 *         return sluice_test_report();
 *     }
 *
 * Build: cc -I KIT test.c plugin.c KIT/sluice.c KIT/sluice_testing.c && ./a.out
 * (KIT is the kit directory; `sluice plugin build` leaves a copy in .sluice-build/c/sdk).
 * Natively, sluice_log() prints to stderr and sluice_counter_add() adds to counters that
 * sluice_test_counter() reads.
 */
#ifndef SLUICE_TESTING_H
#define SLUICE_TESTING_H

#include "sluice.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- batches ---- */

/** Messages to feed a plugin. */
typedef struct sluice_test_batch sluice_test_batch;

sluice_test_batch *sluice_test_batch_new(void);
void sluice_test_batch_free(sluice_test_batch *b);
/** Appends a message with this body (a NUL-terminated string); its id is `msg-<n>`, n from
 * 1, and its queue offset n - 1. The setters below apply to the last message added. */
void sluice_test_add(sluice_test_batch *b, const char *body);
/** Appends a message with a body of `len` bytes (any bytes). */
void sluice_test_add_bytes(sluice_test_batch *b, const void *body, size_t len);
void sluice_test_key(sluice_test_batch *b, const char *key);
void sluice_test_tag(sluice_test_batch *b, const char *tag);
void sluice_test_property(sluice_test_batch *b, const char *key, const char *value);
void sluice_test_message_id(sluice_test_batch *b, const char *id);
/** The batch as the host sends it (wit/FRAMES.md); valid until the batch changes. */
const uint8_t *sluice_test_frames(sluice_test_batch *b, size_t *len);

/* ---- running ---- */

/**
 * Calls sluice_init with the configuration `pairs`: key, value, key, value, ..., NULL
 * (SLUICE_KEYS("property", "region", "equals", "eu") builds one). Returns NULL when the
 * plugin accepts it, else the refusal as "key: message" (valid until the next call).
 */
const char *sluice_test_init(const char *const *pairs);

/** One output of a replaced message, as the host reads it (absent fields inherit). */
typedef struct sluice_test_output {
    uint8_t fields;               /* which fields are present: SLUICE_TEST_* bits */
    sluice_bytes keys_block;      /* read with sluice_test_block_next() */
    sluice_str tag;
    sluice_bytes properties_block; /* read with sluice_test_block_get() */
    sluice_bytes body;
    sluice_str destination;
} sluice_test_output;

enum {
    SLUICE_TEST_KEYS = 1,
    SLUICE_TEST_TAG = 2,
    SLUICE_TEST_PROPERTIES = 4,
    SLUICE_TEST_BODY = 8,
    SLUICE_TEST_DESTINATION = 16
};

/** What the plugin answered for one message. */
typedef struct sluice_test_outcome {
    sluice_result result; /* SLUICE_KEEP/UNCHANGED, SLUICE_DROP, SLUICE_REPLACED, SLUICE_FAILED */
    bool retry;           /* SLUICE_FAILED: retry (true) or reject (false) */
    sluice_str reason;    /* SLUICE_FAILED: why */
    size_t n_outputs;     /* SLUICE_REPLACED */
    sluice_test_output *outputs;
} sluice_test_outcome;

/** A run over one batch. Views point into `buffer`, the outcome buffer itself. */
typedef struct sluice_test_run {
    const char *error;  /* the batch failed as a whole, or the answer is invalid; else NULL */
    size_t n;
    sluice_test_outcome *outcomes;
    uint8_t *buffer;
    size_t buffer_len;
} sluice_test_run;

/** Runs sluice_filter over the batch (never NULL; see `error`). */
sluice_test_run *sluice_test_filter(sluice_test_batch *b);
/** Runs sluice_transform over the batch. */
sluice_test_run *sluice_test_transform(sluice_test_batch *b);
void sluice_test_run_free(sluice_test_run *r);
/**
 * Checks an outcome buffer as the host does (magic, count, tags, lengths, UTF-8, filter
 * tags only for a filter) and reads it. Takes ownership of `buf` (malloc'd).
 */
sluice_test_run *sluice_test_read_outcomes(uint8_t *buf, size_t len, size_t count, bool filter);

/** The value of property `key` in a properties block. */
bool sluice_test_block_get(sluice_bytes block, const char *key, sluice_str *value);
/** The next string of a keys block (start `*pos` at 0). */
bool sluice_test_block_next(sluice_bytes block, size_t *pos, sluice_str *out);

/** The total a plugin added to counter `name` since the program started. */
uint64_t sluice_test_counter(const char *name);

/* ---- checks ---- */

/** Counts a check; prints the failed ones with file and line. */
#define SLUICE_CHECK(cond) sluice_test_check((cond), #cond, __FILE__, __LINE__)
bool sluice_test_check(bool ok, const char *what, const char *file, int line);
/** Prints "N passed, N failed" and returns the exit status for main (0 when all passed). */
int sluice_test_report(void);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_TESTING_H */
