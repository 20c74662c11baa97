/*
 * Native tests of json-filter (the conformance corpus checks it against the Rust plugin):
 *
 *   cc -I sdk/c -I plugins/c/json-filter -o /tmp/json_filter_test \
 *     plugins/c/json-filter/json_filter_test.c plugins/c/json-filter/json_filter.c \
 *     plugins/c/json-filter/json.c sdk/c/sluice.c sdk/c/sluice_testing.c -lm && /tmp/json_filter_test
 */
#include <string.h>

#include "sluice_testing.h"

static sluice_test_run *run(const char *field, const char *equals, const char *const *bodies, size_t n) {
    SLUICE_CHECK(sluice_test_init(SLUICE_KEYS("field", field, "equals", equals)) == NULL);
    sluice_test_batch *b = sluice_test_batch_new();
    for (size_t i = 0; i < n; i++) sluice_test_add(b, bodies[i]);
    sluice_test_run *r = sluice_test_filter(b);
    sluice_test_batch_free(b);
    return r;
}

static bool reason_starts(const sluice_test_outcome *o, const char *prefix) {
    return o->result == SLUICE_FAILED && !o->retry && o->reason.len >= strlen(prefix) &&
           memcmp(o->reason.ptr, prefix, strlen(prefix)) == 0;
}

int main(void) {
    const char *bodies[] = {
        "{\"order\":{\"status\":\"paid\"}}", "{\"order\":{\"status\":\"new\"}}", "{\"other\":1}",
        "not json", "", "{\"order\":{\"status\":\"pa\\u0069d\"}} ", "{\"order\":{\"status\":\"paid\"},}",
    };
    sluice_test_run *r = run("order.status", "paid", bodies, 7);
    SLUICE_CHECK(r->error == NULL && r->n == 7);
    SLUICE_CHECK(r->outcomes[0].result == SLUICE_KEEP);
    SLUICE_CHECK(r->outcomes[1].result == SLUICE_DROP && r->outcomes[2].result == SLUICE_DROP);
    SLUICE_CHECK(reason_starts(&r->outcomes[3], "body is not JSON: expected ident at line 1 column 2"));
    SLUICE_CHECK(reason_starts(&r->outcomes[4], "body is empty, not JSON"));
    SLUICE_CHECK(r->outcomes[5].result == SLUICE_KEEP);
    SLUICE_CHECK(reason_starts(&r->outcomes[6], "body is not JSON: trailing comma"));
    sluice_test_run_free(r);

    /* Numbers keep their kind: 42 is not 42.0; -0 is a float equal to 0.0. */
    const char *nums[] = {"{\"n\":42}", "{\"n\":42.0}", "{\"n\":4.2e1}", "{\"n\":\"42\"}", "{\"n\":-0}"};
    r = run("n", "42.0", nums, 5);
    SLUICE_CHECK(r->outcomes[0].result == SLUICE_DROP && r->outcomes[1].result == SLUICE_KEEP);
    SLUICE_CHECK(r->outcomes[2].result == SLUICE_KEEP && r->outcomes[3].result == SLUICE_DROP);
    sluice_test_run_free(r);
    r = run("n", "0.0", nums, 5);
    SLUICE_CHECK(r->outcomes[4].result == SLUICE_KEEP);
    sluice_test_run_free(r);

    /* Objects compare as maps; duplicate keys: the last wins; pointers index arrays. */
    const char *objs[] = {"{\"n\":{\"b\":2,\"a\":1}}", "{\"n\":{\"a\":1,\"b\":2,\"a\":3}}",
                          "{\"n\":[{\"s\":\"x\"}]}"};
    r = run("n", "{\"a\": 1, \"b\": 2}", objs, 3);
    SLUICE_CHECK(r->outcomes[0].result == SLUICE_KEEP && r->outcomes[1].result == SLUICE_DROP);
    sluice_test_run_free(r);
    r = run("/n/0/s", "x", objs, 3);
    SLUICE_CHECK(r->outcomes[2].result == SLUICE_KEEP && r->outcomes[0].result == SLUICE_DROP);
    sluice_test_run_free(r);

    SLUICE_CHECK(sluice_test_init(SLUICE_KEYS("field", "", "equals", "x")) != NULL);
    SLUICE_CHECK(sluice_test_init(SLUICE_KEYS("equals", "x")) != NULL);
    return sluice_test_report();
}
