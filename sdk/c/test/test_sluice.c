/*
 * Native unit tests of the C kit: the frame walk, the outcome encoding (byte for byte
 * against wit/FRAMES.md), output building, configuration helpers and the formatter.
 *
 *   cc -std=c11 -Wall -Wextra -I sdk/c -o /tmp/test_sluice sdk/c/test/test_sluice.c \
 *      sdk/c/sluice.c sdk/c/sluice_testing.c && /tmp/test_sluice
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice_kit.h"
#include "sluice_testing.h"

/* ---- a plugin whose behaviour each test picks ---------------------------------------- */

static int mode;
static sluice_message seen[8];
static size_t n_seen;

bool sluice_init(const sluice_config *cfg, sluice_config_error *err) {
    const char *m = sluice_config_get(cfg, "refuse");
    if (m) return sluice_config_fail(err, "refuse", m);
    return sluice_config_only(cfg, SLUICE_KEYS("x", "refuse"), err);
}

sluice_result sluice_filter(const sluice_message *m, sluice_error *err) {
    if (n_seen < 8) seen[n_seen++] = *m;
    switch (mode) {
    case 0: return SLUICE_KEEP;
    default: {
        sluice_str b = {(const char *)m->body.ptr, m->body.len};
        if (sluice_str_eq_c(b, "keep")) return SLUICE_KEEP;
        if (sluice_str_eq_c(b, "drop")) return SLUICE_DROP;
        if (sluice_str_eq_c(b, "retry")) return sluice_retry(err, "later");
        if (sluice_str_eq_c(b, "reject")) return sluice_rejectf(err, "never %d", 42);
        if (sluice_str_eq_c(b, "bare")) return SLUICE_FAILED;
        return SLUICE_REPLACED; /* not a filter answer */
    }
    }
}

sluice_result sluice_transform(const sluice_message *m, sluice_outputs *out, sluice_error *err) {
    sluice_str b = {(const char *)m->body.ptr, m->body.len};
    if (sluice_str_eq_c(b, "same")) return SLUICE_UNCHANGED;
    if (sluice_str_eq_c(b, "drop")) return SLUICE_DROP;
    if (sluice_str_eq_c(b, "none")) return SLUICE_REPLACED;
    if (sluice_str_eq_c(b, "changed-mind")) {
        sluice_output_body(sluice_emit(out), "x", 1);
        return SLUICE_UNCHANGED;
    }
    if (sluice_str_eq_c(b, "fail-after-emit")) {
        sluice_output_body(sluice_emit(out), "x", 1);
        return sluice_reject(err, "no");
    }
    if (sluice_str_eq_c(b, "one-body")) {
        sluice_output_body(sluice_emit(out), "B", 1);
        return SLUICE_REPLACED;
    }
    /* "two": every field, then a second output */
    sluice_output *o = sluice_emit(out);
    sluice_output_key(o, "k1");
    sluice_output_key(o, "k2");
    sluice_output_tag(o, "");
    sluice_output_properties_from(o, m);
    sluice_output_property(o, "a", "longer-value"); /* replaces a=1 in place */
    sluice_output_property(o, "b", "");             /* replaces b=22 in place */
    sluice_output_property(o, "new", "v");
    uint8_t *body = sluice_output_body_buffer(o, 3);
    memcpy(body, "\xff\x00z", 3);
    sluice_output_destination(o, "fraud");
    o = sluice_emit(out);
    sluice_output_property(o, "only", "1"); /* starts an empty list */
    sluice_output_clear_keys(o);
    sluice_counter_add("two", 2);
    return SLUICE_REPLACED;
}

/* ---- helpers ------------------------------------------------------------------------- */

static void le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static bool bytes_eq(const uint8_t *a, size_t an, const void *b, size_t bn) {
    return an == bn && memcmp(a, b, an) == 0;
}

/* ---- tests --------------------------------------------------------------------------- */

static void frames_are_read_as_written(void) {
    /* One frame written by hand from wit/FRAMES.md: id "A1", keys k1 k2, an empty tag
     * (flag set), properties a=1 region=eu, body ff 00 'x'. */
    uint8_t f[200] = {0};
    const char *id = "A1";
    uint8_t keys[] = {2, 0, 0, 0, 'k', '1', 2, 0, 0, 0, 'k', '2'};
    uint8_t props[] = {1, 0, 0, 0, 'a', 1, 0, 0, 0, '1', 6, 0, 0, 0, 'r', 'e', 'g', 'i', 'o', 'n',
                       2, 0, 0, 0, 'e', 'u'};
    uint8_t body[] = {0xff, 0x00, 'x'};
    uint32_t total = 48 + 2 + sizeof keys + 0 + sizeof props + sizeof body;
    le32(f, total);
    le32(f + 4, 1); /* has a tag */
    le32(f + 8, 10);
    le32(f + 12, 0);
    le32(f + 16, 0xFFFFFFFFu); /* born = -1 */
    le32(f + 20, 0xFFFFFFFFu);
    le32(f + 24, 2);
    le32(f + 28, 2);
    le32(f + 32, sizeof keys);
    le32(f + 36, 0);
    le32(f + 40, sizeof props);
    le32(f + 44, sizeof body);
    uint8_t *p = f + 48;
    memcpy(p, id, 2), p += 2;
    memcpy(p, keys, sizeof keys), p += sizeof keys;
    memcpy(p, props, sizeof props), p += sizeof props;
    memcpy(p, body, sizeof body), p += sizeof body;
    /* A second frame: nothing at all, no tag. */
    memset(p, 0, 48);
    le32(p, 48);
    le32(p + 8, 11);
    size_t len = total + 48;

    mode = 0;
    n_seen = 0;
    static const sluice_batch batch = {{"t", 1}, 3, {"p", 1}, {"s", 1}};
    sluice_buf out;
    char *why = NULL;
    SLUICE_CHECK(sluice__filter_batch(sluice_filter, &batch, f, len, &out, &why));
    SLUICE_CHECK(n_seen == 2);
    const sluice_message *m = &seen[0];
    SLUICE_CHECK(m->queue_offset == 10 && m->born_timestamp_ms == -1 && m->reconsume_count == 2);
    SLUICE_CHECK(sluice_str_eq_c(m->message_id, "A1"));
    SLUICE_CHECK(m->has_tag && m->tag.len == 0);
    SLUICE_CHECK(m->batch == &batch && m->batch->queue_id == 3);
    sluice_str k, v;
    sluice_iter it = sluice_keys(m);
    SLUICE_CHECK(sluice_next_key(&it, &k) && sluice_str_eq_c(k, "k1"));
    SLUICE_CHECK(sluice_next_key(&it, &k) && sluice_str_eq_c(k, "k2"));
    SLUICE_CHECK(!sluice_next_key(&it, &k));
    SLUICE_CHECK(sluice_first_key(m, &k) && sluice_str_eq_c(k, "k1"));
    SLUICE_CHECK(sluice_property(m, "region", &v) && sluice_str_eq_c(v, "eu"));
    SLUICE_CHECK(sluice_property(m, "a", &v) && sluice_str_eq_c(v, "1"));
    SLUICE_CHECK(!sluice_property(m, "regio", &v) && !sluice_property(m, "missing", &v));
    it = sluice_properties(m);
    size_t n = 0;
    while (sluice_next_property(&it, &k, &v)) n++;
    SLUICE_CHECK(n == 2);
    SLUICE_CHECK(bytes_eq(m->body.ptr, m->body.len, body, sizeof body));
    m = &seen[1];
    SLUICE_CHECK(m->queue_offset == 11 && !m->has_tag && m->body.len == 0 && m->message_id.len == 0);
    SLUICE_CHECK(!sluice_first_key(m, &k) && !sluice_property(m, "a", &v));
    static const uint8_t want[] = {'S', 'L', 'O', 1, 2, 0, 0, 0, 0, 0};
    SLUICE_CHECK(bytes_eq(out.ptr, out.len, want, sizeof want));
    free(out.ptr);

    /* Malformed batches fail as a whole, naming the problem and the byte. */
    SLUICE_CHECK(!sluice__filter_batch(sluice_filter, &batch, f, len - 1, &out, &why));
    SLUICE_CHECK(why && strstr(why, "malformed batch from the host: message frame header cut short (at byte"));
    free(why);
    SLUICE_CHECK(!sluice__filter_batch(sluice_filter, &batch, f, total - 1, &out, &why));
    SLUICE_CHECK(why && strstr(why, "runs past the end of the buffer (at byte 0)"));
    free(why);
    f[44] ^= 0x10;
    SLUICE_CHECK(!sluice__filter_batch(sluice_filter, &batch, f, len, &out, &why));
    SLUICE_CHECK(why && strstr(why, "does not match its fields"));
    free(why);
    /* An empty batch is an empty answer. */
    SLUICE_CHECK(sluice__filter_batch(sluice_filter, &batch, f, 0, &out, &why));
    SLUICE_CHECK(bytes_eq(out.ptr, out.len, "SLO\x01\0\0\0\0", 8));
    free(out.ptr);
}

static void filter_outcomes_are_encoded_exactly(void) {
    mode = 1;
    sluice_test_batch *b = sluice_test_batch_new();
    const char *bodies[] = {"keep", "drop", "retry", "reject", "bare", "odd"};
    for (int i = 0; i < 6; i++) sluice_test_add(b, bodies[i]);
    sluice_test_run *r = sluice_test_filter(b);
    SLUICE_CHECK(r->error == NULL);
    static const uint8_t want_head[] = {'S', 'L', 'O', 1, 6, 0, 0, 0, 0, 1, 3, 5, 0, 0, 0, 'l',
                                        'a', 't', 'e', 'r', 4, 8, 0, 0, 0, 'n', 'e', 'v', 'e', 'r',
                                        ' ', '4', '2', 4};
    SLUICE_CHECK(r->buffer_len > sizeof want_head && memcmp(r->buffer, want_head, sizeof want_head) == 0);
    SLUICE_CHECK(r->n == 6);
    SLUICE_CHECK(r->outcomes[0].result == SLUICE_KEEP && r->outcomes[1].result == SLUICE_DROP);
    SLUICE_CHECK(r->outcomes[2].result == SLUICE_FAILED && r->outcomes[2].retry &&
                 sluice_str_eq_c(r->outcomes[2].reason, "later"));
    SLUICE_CHECK(r->outcomes[3].result == SLUICE_FAILED && !r->outcomes[3].retry &&
                 sluice_str_eq_c(r->outcomes[3].reason, "never 42"));
    SLUICE_CHECK(r->outcomes[4].result == SLUICE_FAILED && !r->outcomes[4].retry &&
                 strstr(r->outcomes[4].reason.ptr, "without a reason"));
    SLUICE_CHECK(r->outcomes[5].result == SLUICE_FAILED && !r->outcomes[5].retry &&
                 strstr(r->outcomes[5].reason.ptr, "sluice_filter returned an answer it may not give: 2"));
    sluice_test_run_free(r);
    sluice_test_batch_free(b);
}

static void transform_outputs_are_encoded_exactly(void) {
    sluice_test_batch *b = sluice_test_batch_new();
    const char *bodies[] = {"same", "drop", "none", "changed-mind", "fail-after-emit", "one-body", "two"};
    for (int i = 0; i < 7; i++) sluice_test_add(b, bodies[i]);
    sluice_test_property(b, "a", "1");
    sluice_test_property(b, "b", "22");
    sluice_test_property(b, "c", "3");
    sluice_test_run *r = sluice_test_transform(b);
    SLUICE_CHECK(r->error == NULL);
    if (r->error) fprintf(stderr, "%s\n", r->error);
    SLUICE_CHECK(r->n == 7);
    if (r->n != 7) return;
    static const uint8_t head[] = {'S', 'L', 'O', 1, 7, 0, 0, 0,
                                   0,                      /* same */
                                   1,                      /* drop */
                                   2, 0, 0, 0, 0,          /* none: replaced by nothing */
                                   0,                      /* changed-mind: outputs forgotten */
                                   4, 2, 0, 0, 0, 'n', 'o', /* fail-after-emit */
                                   2, 1, 0, 0, 0, 8, 1, 0, 0, 0, 'B'}; /* one-body */
    SLUICE_CHECK(memcmp(r->buffer, head, sizeof head) == 0);
    SLUICE_CHECK(r->outcomes[0].result == SLUICE_UNCHANGED && r->outcomes[3].result == SLUICE_UNCHANGED);
    SLUICE_CHECK(r->outcomes[2].result == SLUICE_REPLACED && r->outcomes[2].n_outputs == 0);
    SLUICE_CHECK(r->outcomes[4].result == SLUICE_FAILED);
    const sluice_test_outcome *two = &r->outcomes[6];
    SLUICE_CHECK(two->result == SLUICE_REPLACED && two->n_outputs == 2);
    const sluice_test_output *o = &two->outputs[0];
    SLUICE_CHECK(o->fields == 0x1F);
    size_t pos = 0;
    sluice_str s;
    SLUICE_CHECK(sluice_test_block_next(o->keys_block, &pos, &s) && sluice_str_eq_c(s, "k1"));
    SLUICE_CHECK(sluice_test_block_next(o->keys_block, &pos, &s) && sluice_str_eq_c(s, "k2"));
    SLUICE_CHECK(o->tag.len == 0 && sluice_str_eq_c(o->destination, "fraud"));
    SLUICE_CHECK(bytes_eq(o->body.ptr, o->body.len, "\xff\x00z", 3));
    /* The properties keep their order: a (replaced), b (replaced), c, new. */
    static const uint8_t props[] = {1, 0, 0, 0, 'a', 12, 0, 0, 0, 'l', 'o', 'n', 'g', 'e', 'r', '-',
                                    'v', 'a', 'l', 'u', 'e', 1, 0, 0, 0, 'b', 0, 0, 0, 0,
                                    1, 0, 0, 0, 'c', 1, 0, 0, 0, '3', 3, 0, 0, 0, 'n', 'e', 'w',
                                    1, 0, 0, 0, 'v'};
    SLUICE_CHECK(bytes_eq(o->properties_block.ptr, o->properties_block.len, props, sizeof props));
    o = &two->outputs[1];
    SLUICE_CHECK(o->fields == (SLUICE_TEST_KEYS | SLUICE_TEST_PROPERTIES) && o->keys_block.len == 0);
    SLUICE_CHECK(sluice_test_block_get(o->properties_block, "only", &s) && sluice_str_eq_c(s, "1"));
    SLUICE_CHECK(!sluice_test_block_get(o->properties_block, "a", &s));
    SLUICE_CHECK(sluice_test_counter("two") == 2 && sluice_test_counter("none") == 0);
    sluice_test_run_free(r);
    sluice_test_batch_free(b);
}

static void the_outcome_reader_refuses_what_the_host_refuses(void) {
    static const uint8_t ok[] = {'S', 'L', 'O', 1, 1, 0, 0, 0, 4, 1, 0, 0, 0, 'x'};
    struct {
        size_t len;
        int at, value;
        bool filter;
        const char *what;
    } cases[] = {
        {sizeof ok, -1, 0, true, NULL},
        {sizeof ok - 1, -1, 0, true, "past the end"},
        {sizeof ok, 0, 'X', true, "bad magic"},
        {sizeof ok, 4, 2, true, "count"},
        {sizeof ok, 8, 9, true, "unknown outcome tag"},
        {sizeof ok, 8, 2, true, "filter answered"},
        {sizeof ok, 13, 0xff, true, "UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t *buf = malloc(sizeof ok + 1);
        memcpy(buf, ok, sizeof ok);
        if (cases[i].at >= 0) buf[cases[i].at] = (uint8_t)cases[i].value;
        sluice_test_run *r = sluice_test_read_outcomes(buf, cases[i].len, 1, cases[i].filter);
        if (cases[i].what) {
            SLUICE_CHECK(r->error && strstr(r->error, cases[i].what));
        } else {
            SLUICE_CHECK(!r->error && r->outcomes[0].result == SLUICE_FAILED);
        }
        sluice_test_run_free(r);
    }
    uint8_t *buf = malloc(sizeof ok + 1);
    memcpy(buf, ok, sizeof ok);
    buf[sizeof ok] = 0;
    sluice_test_run *r = sluice_test_read_outcomes(buf, sizeof ok + 1, 1, true);
    SLUICE_CHECK(r->error && strstr(r->error, "trail"));
    sluice_test_run_free(r);
}

static sluice_config cfg_of(sluice_config_pair *p, size_t n) { return (sluice_config){p, n}; }
#define PAIR(k, v) {k, sizeof k - 1, v, sizeof v - 1}

static void config_helpers_behave_like_the_rust_sdk(void) {
    sluice_config_pair pairs[] = {PAIR("n", "+4"), PAIR("neg", "-1"), PAIR("big", "18446744073709551616"),
                                  PAIR("b", "true"), PAIR("yes", "yes"), PAIR("n", "7"), PAIR("e", "")};
    sluice_config cfg = cfg_of(pairs, 7);
    sluice_config_error err = {0};
    uint64_t u;
    int64_t i;
    bool b;
    SLUICE_CHECK(strcmp(sluice_config_get(&cfg, "n"), "7") == 0); /* the last one wins */
    SLUICE_CHECK(sluice_config_get(&cfg, "zzz") == NULL);
    SLUICE_CHECK(sluice_config_uint(&cfg, "n", 0, &u, &err) && u == 7);
    SLUICE_CHECK(sluice_config_uint(&cfg, "missing", 9, &u, &err) && u == 9);
    SLUICE_CHECK(!sluice_config_uint(&cfg, "neg", 0, &u, &err));
    SLUICE_CHECK(strcmp(err.message, "invalid value \"-1\" for `neg`: invalid digit found in string") == 0);
    SLUICE_CHECK(strcmp(err.key, "neg") == 0);
    SLUICE_CHECK(sluice_config_int(&cfg, "neg", 0, &i, &err) && i == -1);
    SLUICE_CHECK(!sluice_config_uint(&cfg, "big", 0, &u, &err) && strstr(err.message, "too large"));
    SLUICE_CHECK(!sluice_config_int(&cfg, "e", 0, &i, &err) && strstr(err.message, "empty string"));
    SLUICE_CHECK(sluice_config_bool(&cfg, "b", false, &b, &err) && b);
    SLUICE_CHECK(!sluice_config_bool(&cfg, "yes", false, &b, &err) &&
                 strstr(err.message, "provided string was not `true` or `false`"));
    SLUICE_CHECK(sluice_config_require(&cfg, "nope", &err) == NULL &&
                 strcmp(err.message, "missing required key `nope`") == 0);
    SLUICE_CHECK(!sluice_config_only(&cfg, SLUICE_KEYS("n", "neg"), &err) &&
                 strcmp(err.message, "unknown key `big`; expected one of: n, neg") == 0);
    SLUICE_CHECK(!sluice_config_only(&cfg, SLUICE_NO_KEYS, &err) &&
                 strcmp(err.message, "unknown key `n`: this plugin takes no configuration") == 0);
    SLUICE_CHECK(sluice_config_only(&cfg, SLUICE_KEYS("n", "neg", "big", "b", "yes", "e"), &err));
    sluice_config_pair minp[] = {PAIR("m", "-9223372036854775808"), PAIR("o", "-9223372036854775809")};
    cfg = cfg_of(minp, 2);
    SLUICE_CHECK(sluice_config_int(&cfg, "m", 0, &i, &err) && i == INT64_MIN);
    SLUICE_CHECK(!sluice_config_int(&cfg, "o", 0, &i, &err) && strstr(err.message, "too small"));
    free(err.key);
    free(err.message);

    /* Through init: refusals carry the key. */
    SLUICE_CHECK(strcmp(sluice_test_init(SLUICE_KEYS("y", "1")), "y: unknown key `y`; expected one of: x, refuse") == 0);
    SLUICE_CHECK(strcmp(sluice_test_init(SLUICE_KEYS("refuse", "because")), "refuse: because") == 0);
    SLUICE_CHECK(sluice_test_init(SLUICE_KEYS("x", "1")) == NULL);
}

static void the_formatter_handles_the_common_conversions(void) {
    char buf[128];
    size_t n = sluice_snprintf(buf, sizeof buf, "%s|%d|%u|%x|%05d|%-3s|%.*s|%lld|%zu|%%|%c|%3d|%X",
                               "a", -12, 7u, 255u, -42, "b", 2, "xyz", (long long)INT64_MIN,
                               (size_t)9, 'q', 5, 0xABCu);
    const char *want = "a|-12|7|ff|-0042|b  |xy|-9223372036854775808|9|%|q|  5|ABC";
    SLUICE_CHECK(strcmp(buf, want) == 0);
    SLUICE_CHECK(n == strlen(want));
    SLUICE_CHECK(sluice_snprintf(buf, 4, "%s", "abcdef") == 6 && strcmp(buf, "abc") == 0);
    SLUICE_CHECK(sluice_snprintf(buf, sizeof buf, "%f|%hhd|%ld", 1.5, (signed char)-3, -5L) && strcmp(buf, "?|-3|-5") == 0);
}

static void utf8_is_checked_as_rust_does(void) {
    SLUICE_CHECK(sluice_utf8_valid("", 0) && sluice_utf8_valid("Zo\xc3\xab \xf0\x9f\x98\x80", 9));
    SLUICE_CHECK(!sluice_utf8_valid("\xc0\x80", 2));         /* overlong */
    SLUICE_CHECK(!sluice_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    SLUICE_CHECK(!sluice_utf8_valid("\xf4\x90\x80\x80", 4)); /* beyond U+10FFFF */
    SLUICE_CHECK(!sluice_utf8_valid("\xe2\x82", 2));         /* cut short */
    SLUICE_CHECK(!sluice_utf8_valid("\xff", 1));
    SLUICE_CHECK(sluice_utf8_valid("\xef\xbb\xbf", 3)); /* a BOM is valid UTF-8 */
}

int main(void) {
    /* Before init, a batch fails as a whole. */
    sluice_test_batch *b = sluice_test_batch_new();
    sluice_test_add(b, "x");
    sluice_test_run *r = sluice_test_filter(b);
    SLUICE_CHECK(r->error && strcmp(r->error, "plugin called before a successful init") == 0);
    sluice_test_run_free(r);
    sluice_test_batch_free(b);

    config_helpers_behave_like_the_rust_sdk();
    frames_are_read_as_written();
    filter_outcomes_are_encoded_exactly();
    transform_outputs_are_encoded_exactly();
    the_outcome_reader_refuses_what_the_host_refuses();
    the_formatter_handles_the_common_conversions();
    utf8_is_checked_as_rust_does();
    return sluice_test_report();
}
