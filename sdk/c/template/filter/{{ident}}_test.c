/*
 * Native unit tests of {{name}}, through the same batch loop the component runs. After one
 * `sluice plugin build` (which leaves a copy of the kit in .sluice-build/c/sdk):
 *
 *   K=.sluice-build/c/sdk; cc -I$K -o /tmp/{{ident}}_test {{ident}}_test.c {{ident}}.c \
 *     $K/sluice.c $K/sluice_testing.c && /tmp/{{ident}}_test
 */
#include "sluice_testing.h"

int main(void) {
    SLUICE_CHECK(sluice_test_init(SLUICE_KEYS("equals", "eu")) != NULL); /* `property` missing */
    SLUICE_CHECK(sluice_test_init(SLUICE_KEYS("property", "region", "equals", "eu")) == NULL);

    sluice_test_batch *b = sluice_test_batch_new();
    sluice_test_add(b, "a");
    sluice_test_property(b, "region", "eu");
    sluice_test_add(b, "b");
    sluice_test_property(b, "region", "us");
    sluice_test_add(b, "c");
    sluice_test_run *r = sluice_test_filter(b);
    SLUICE_CHECK(r->error == NULL);
    SLUICE_CHECK(r->outcomes[0].result == SLUICE_KEEP);
    SLUICE_CHECK(r->outcomes[1].result == SLUICE_DROP);
    SLUICE_CHECK(r->outcomes[2].result == SLUICE_DROP);
    sluice_test_run_free(r);
    sluice_test_batch_free(b);
    return sluice_test_report();
}
