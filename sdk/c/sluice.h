/*
 * sluice.h: write Sluice plugins in C.
 *
 * A Sluice plugin is a WebAssembly component that Sluice calls with batches of RocketMQ
 * messages. This kit hides the WIT bindings, the batch loop and the bulk frame layout
 * (wit/FRAMES.md, the contract's fast path): you write what happens to *one* message.
 *
 * A filter implements two functions:
 *
 *     static sluice_str want;
 *
 *     bool sluice_init(const sluice_config *cfg, sluice_config_error *err) {
 *         if (!sluice_config_only(cfg, SLUICE_KEYS("region"), err)) return false;
 *         const char *region = sluice_config_require(cfg, "region", err);
 *         if (!region) return false;
 *         want = sluice_str_from(region);   // config strings live as long as the instance
 *         return true;
 *     }
 *
 *     sluice_result sluice_filter(const sluice_message *m, sluice_error *err) {
 *         sluice_str v;
 *         if (sluice_property(m, "region", &v) && sluice_str_eq(v, want)) return SLUICE_KEEP;
 *         return SLUICE_DROP;
 *     }
 *
 * A transform implements sluice_init and sluice_transform, which answers SLUICE_UNCHANGED
 * (nothing crosses back to the host: the cheapest answer), SLUICE_DROP, or
 * SLUICE_REPLACED after emitting outputs with sluice_emit(); an output inherits every
 * field it does not set from its input:
 *
 *     sluice_result sluice_transform(const sluice_message *m, sluice_outputs *out,
 *                                    sluice_error *err) {
 *         sluice_output *o = sluice_emit(out);
 *         sluice_output_properties_from(o, m);
 *         sluice_output_property(o, "seen", "yes");
 *         return SLUICE_REPLACED;
 *     }
 *
 * Failures of one message: `return sluice_reject(err, "why");` (never retried, dead-
 * lettered) or `return sluice_retry(err, "why");` (retried with backoff). A crash
 * (abort(), a bad pointer) is a trap: the host discards the instance and applies the
 * stage's failure policy.
 *
 * Build with `sluice plugin build` (the kit's build.sh); unit-test natively with
 * sluice_testing.h. Plugins may not use libc I/O (printf, fopen, getenv, time): the
 * component gets no WASI capabilities. Use sluice_log() instead of printf.
 *
 * Ownership, in one place:
 *   - Everything a sluice_message points to is borrowed from the batch buffer and valid
 *     only during the call that received it. Copy what you keep.
 *   - Config strings (sluice_config, sluice_config_get) are NUL-terminated copies owned by
 *     the kit and valid for the life of the instance: keep pointers to them freely.
 *   - Every function that takes data from you (reasons, output fields, log lines, counter
 *     names) copies it before returning: pass stack buffers freely.
 *   - sluice_str / sluice_bytes are views (pointer + length). A sluice_str is UTF-8 and is
 *     NOT NUL-terminated: compare with sluice_str_eq*, print with "%.*s", (int)s.len, s.ptr.
 *   - Strings you hand the host (reasons, tags, keys, properties, destinations, log
 *     lines) must be UTF-8: the host refuses a batch answer that is not.
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------ */
/* Views */

/** A borrowed UTF-8 string: `len` bytes at `ptr`, not NUL-terminated. */
typedef struct sluice_str {
    const char *ptr;
    size_t len;
} sluice_str;

/** Borrowed bytes: `len` bytes at `ptr` (any bytes, possibly empty). */
typedef struct sluice_bytes {
    const uint8_t *ptr;
    size_t len;
} sluice_bytes;

/** A view of a NUL-terminated string (no copy). */
sluice_str sluice_str_from(const char *s);
/** Whether `s` holds exactly the NUL-terminated string `c`. */
bool sluice_str_eq_c(sluice_str s, const char *c);
/** Whether two views hold the same bytes. */
bool sluice_str_eq(sluice_str a, sluice_str b);
/** Whether `len` bytes at `p` are valid UTF-8 (as Rust's `str::from_utf8` decides). */
bool sluice_utf8_valid(const void *p, size_t len);
/** The length of the longest valid UTF-8 prefix (Rust's `Utf8Error::valid_up_to`). */
size_t sluice_utf8_prefix(const void *p, size_t len);

/* ------------------------------------------------------------------------------------ */
/* Messages */

/** What every message of a batch shares. */
typedef struct sluice_batch {
    sluice_str topic;    /* the RocketMQ topic */
    uint32_t queue_id;   /* the queue id within the topic */
    sluice_str pipeline; /* the pipeline's name */
    sluice_str stage;    /* the stage's name */
} sluice_batch;

/**
 * One message, read in place from the batch the host sent (see "Ownership" above: every
 * pointer in it is valid only during the call that received it).
 */
typedef struct sluice_message {
    const sluice_batch *batch;
    int64_t queue_offset;       /* position of the message in its queue */
    int64_t born_timestamp_ms;  /* when the producer created it, ms since the Unix epoch */
    uint32_t reconsume_count;   /* how many times this stage already retried it */
    sluice_str message_id;      /* RocketMQ's message id */
    bool has_tag;               /* an empty tag and no tag differ */
    sluice_str tag;             /* the tag (empty when has_tag is false) */
    sluice_bytes body;          /* the payload: any bytes, possibly empty */
    sluice_bytes keys_block;    /* raw keys; read with sluice_keys()/sluice_next_key() */
    sluice_bytes properties_block; /* raw properties; read with sluice_property() etc. */
} sluice_message;

/**
 * The value of the first property named `key` (NUL-terminated), into `*value`.
 * Returns false when the message has no such property.
 */
bool sluice_property(const sluice_message *m, const char *key, sluice_str *value);
/** As sluice_property, with a key of `key_len` bytes. */
bool sluice_property_n(const sluice_message *m, const char *key, size_t key_len, sluice_str *value);

/** A cursor over the keys or properties of a message. */
typedef struct sluice_iter {
    const uint8_t *pos;
    const uint8_t *end;
} sluice_iter;

/** The message's keys: `for (sluice_iter it = sluice_keys(m); sluice_next_key(&it, &k);)`. */
sluice_iter sluice_keys(const sluice_message *m);
/** The next key, or false at the end. */
bool sluice_next_key(sluice_iter *it, sluice_str *key);
/** The first key; false when the message has none. */
bool sluice_first_key(const sluice_message *m, sluice_str *key);

/** The message's properties, in the order the producer set them. */
sluice_iter sluice_properties(const sluice_message *m);
/** The next property, or false at the end. */
bool sluice_next_property(sluice_iter *it, sluice_str *key, sluice_str *value);

/* ------------------------------------------------------------------------------------ */
/* Answers */

/**
 * What a plugin answers for one message. The values are the outcome tags of
 * wit/FRAMES.md.
 */
typedef enum sluice_result {
    SLUICE_KEEP = 0,      /* filter: pass the message on */
    SLUICE_UNCHANGED = 0, /* transform: pass the input on as it is (nothing crosses back) */
    SLUICE_DROP = 1,      /* emit nothing for this message */
    SLUICE_REPLACED = 2,  /* transform only: the outputs made with sluice_emit() replace it */
    SLUICE_FAILED = 3     /* returned by sluice_retry()/sluice_reject() */
} sluice_result;

/** Where the reason of a failed message goes; owned by the kit. */
typedef struct sluice_error sluice_error;

/** A permanent failure: the host dead-letters the message. Copies `reason`. */
sluice_result sluice_reject(sluice_error *err, const char *reason);
/** A transient failure: the host retries the message with backoff. Copies `reason`. */
sluice_result sluice_retry(sluice_error *err, const char *reason);
/** sluice_reject with a reason of `len` bytes. */
sluice_result sluice_reject_n(sluice_error *err, const char *reason, size_t len);
/** sluice_retry with a reason of `len` bytes. */
sluice_result sluice_retry_n(sluice_error *err, const char *reason, size_t len);
/**
 * sluice_reject with a printf-style reason. The kit's own formatter (libc's snprintf
 * needs WASI file calls a plugin does not get): flags `-` `0`, width, precision (`.N`,
 * `.*`), length modifiers hh h l ll z j t, conversions d i u x X o c s p %. No floating
 * point: %f %g %e print `?`.
 */
sluice_result sluice_rejectf(sluice_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** sluice_retry with a printf-style reason. */
sluice_result sluice_retryf(sluice_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/**
 * snprintf with the kit's formatter (see sluice_rejectf): writes at most `size` bytes
 * including the terminating NUL and returns the length the whole text has.
 */
size_t sluice_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------------------------ */
/* Transform outputs */

/** The outputs of the message being transformed; owned by the kit. */
typedef struct sluice_outputs sluice_outputs;
/** One output under construction; owned by the kit. */
typedef struct sluice_output sluice_output;

/**
 * Starts a new output (after any earlier one of this message), inheriting every field
 * from the input. The pointer is valid until the next sluice_emit() or the end of the
 * call. Outputs count only if sluice_transform returns SLUICE_REPLACED; returning
 * SLUICE_REPLACED without emitting any is the same as SLUICE_DROP.
 */
sluice_output *sluice_emit(sluice_outputs *out);

/** Sets the body (copied). */
void sluice_output_body(sluice_output *o, const void *body, size_t len);
/**
 * Sets the body to `len` bytes that you write into the returned buffer (owned by the
 * kit, valid until your next call on this output or sluice_emit()). Saves a copy when
 * the body is built in place.
 */
uint8_t *sluice_output_body_buffer(sluice_output *o, size_t len);
/** Sets the tag (copied); an empty tag removes the input's tag. */
void sluice_output_tag(sluice_output *o, const char *tag);
void sluice_output_tag_n(sluice_output *o, const char *tag, size_t len);
/** Routes the output to a sink or topic of the pipeline instead of its default sinks. */
void sluice_output_destination(sluice_output *o, const char *destination);
void sluice_output_destination_n(sluice_output *o, const char *destination, size_t len);
/**
 * Appends a key (copied). The first call on an output starts a new key list in place of
 * the inherited one.
 */
void sluice_output_key(sluice_output *o, const char *key);
void sluice_output_key_n(sluice_output *o, const char *key, size_t len);
/** Sets the key list to an empty one (the output has no keys). */
void sluice_output_clear_keys(sluice_output *o);
/**
 * Starts the output's property list from the input's properties, so that
 * sluice_output_property() adds to or overrides them rather than replacing the list.
 */
void sluice_output_properties_from(sluice_output *o, const sluice_message *m);
/**
 * Sets one property (copied), replacing one of the same name in place. On an output
 * that still inherits its properties this starts an empty list: call
 * sluice_output_properties_from() first to keep the input's.
 */
void sluice_output_property(sluice_output *o, const char *key, const char *value);
void sluice_output_property_n(sluice_output *o, const char *key, size_t key_len,
                              const char *value, size_t value_len);
/** Sets the property list to an empty one. */
void sluice_output_clear_properties(sluice_output *o);

/* ------------------------------------------------------------------------------------ */
/* Configuration */

/** One `key = value` pair of the stage configuration (NUL-terminated copies). */
typedef struct sluice_config_pair {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
} sluice_config_pair;

/** The stage configuration, in the order written. Valid for the life of the instance. */
typedef struct sluice_config {
    const sluice_config_pair *pairs;
    size_t len;
} sluice_config;

/** Why init refused the configuration; owned by the kit. */
typedef struct sluice_config_error sluice_config_error;

/** A NULL-terminated list of key names for sluice_config_only(). */
#define SLUICE_KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})
/** The empty key list: the plugin takes no configuration. */
#define SLUICE_NO_KEYS ((const char *const[]){NULL})

/** The last pair named `key`, or NULL. */
const sluice_config_pair *sluice_config_find(const sluice_config *cfg, const char *key);
/** The value of `key` (the last one if repeated), or NULL when it is not set. */
const char *sluice_config_get(const sluice_config *cfg, const char *key);
/** The value of `key`; NULL (and `err` set) when it is missing. */
const char *sluice_config_require(const sluice_config *cfg, const char *key,
                                  sluice_config_error *err);
/**
 * Refuses keys other than `allowed` (a NULL-terminated list: SLUICE_KEYS("a", "b") or
 * SLUICE_NO_KEYS), so that a typo in the host configuration is an error rather than a
 * silently ignored setting. Returns false (and sets `err`) on the first unknown key.
 */
bool sluice_config_only(const sluice_config *cfg, const char *const *allowed,
                        sluice_config_error *err);
/**
 * `key` as `true`/`false` into `*out`, or `def` when it is not set. Returns false (and
 * sets `err`) for any other value.
 */
bool sluice_config_bool(const sluice_config *cfg, const char *key, bool def, bool *out,
                        sluice_config_error *err);
/** `key` as a signed decimal integer (optional sign, digits only), or `def`. */
bool sluice_config_int(const sluice_config *cfg, const char *key, int64_t def, int64_t *out,
                       sluice_config_error *err);
/** `key` as an unsigned decimal integer (optional `+`, digits only), or `def`. */
bool sluice_config_uint(const sluice_config *cfg, const char *key, uint64_t def,
                        uint64_t *out, sluice_config_error *err);
/**
 * Refuses the configuration: `key` is the key at fault (NULL when the refusal is about the
 * configuration as a whole), `message` says what is wrong and what would be accepted.
 * Both are copied. Returns false, so `return sluice_config_fail(...)` ends init.
 */
bool sluice_config_fail(sluice_config_error *err, const char *key, const char *message);
/** sluice_config_fail with a printf-style message. */
bool sluice_config_failf(sluice_config_error *err, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------------------------ */
/* What the plugin writes (you implement these) */

/**
 * Called once per instance before any batch, with the stage configuration. Return true to
 * accept it, or false after sluice_config_fail() (or a helper that failed) to refuse it:
 * the host then does not start the stage.
 */
bool sluice_init(const sluice_config *cfg, sluice_config_error *err);
/** A filter: SLUICE_KEEP, SLUICE_DROP, or SLUICE_FAILED from sluice_retry/reject. */
sluice_result sluice_filter(const sluice_message *m, sluice_error *err);
/**
 * A transform: SLUICE_UNCHANGED, SLUICE_DROP, SLUICE_REPLACED (the outputs made with
 * sluice_emit), or SLUICE_FAILED from sluice_retry/reject.
 */
sluice_result sluice_transform(const sluice_message *m, sluice_outputs *out, sluice_error *err);

/* ------------------------------------------------------------------------------------ */
/* Host services */

/** Log levels of sluice_log(). Do not log per message above SLUICE_LOG_DEBUG. */
typedef enum sluice_level {
    SLUICE_LOG_TRACE,
    SLUICE_LOG_DEBUG,
    SLUICE_LOG_INFO,
    SLUICE_LOG_WARN,
    SLUICE_LOG_ERROR
} sluice_level;

/** A structured log field. */
typedef struct sluice_field {
    const char *key;
    const char *value;
} sluice_field;

/**
 * Writes a line into the host's log, tagged with the plugin, pipeline and stage, with
 * `n_fields` key/value fields (may be NULL and 0). Natively (in tests) it goes to stderr.
 */
void sluice_log(sluice_level level, const char *message, const sluice_field *fields,
                size_t n_fields);
/** sluice_log with a printf-style message and no fields. */
void sluice_logf(sluice_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/**
 * Adds `delta` to the plugin counter `name` (the host metric
 * `sluice_plugin_counter_total{name=...}`; at most 64 names per plugin).
 */
void sluice_counter_add(const char *name, uint64_t delta);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_H */
