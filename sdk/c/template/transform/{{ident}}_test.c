/*
 * Native unit tests of {{name}}, through the same batch loop the component runs. After one
 * `sluice plugin build` (which leaves a copy of the kit in .sluice-build/c/sdk):
 *
 *   K=.sluice-build/c/sdk; cc -I$K -o /tmp/{{ident}}_test {{ident}}_test.c {{ident}}.c \
 *     $K/sluice.c $K/sluice_testing.c && /tmp/{{ident}}_test
 */
#include "sluice_testing.h"

int main(void) {
    SLUICE_CHECK(sluice_test_init(SLUICE_KEYS("x", "1")) != NULL); /* takes no configuration */
    SLUICE_CHECK(sluice_test_init(SLUICE_NO_KEYS) == NULL);

    sluice_test_batch *b = sluice_test_batch_new();
    sluice_test_add(b, "a");
    sluice_test_property(b, "region", "eu");
    sluice_test_run *r = sluice_test_transform(b);
    SLUICE_CHECK(r->error == NULL);
    SLUICE_CHECK(r->outcomes[0].result == SLUICE_REPLACED && r->outcomes[0].n_outputs == 1);
    sluice_str v;
    sluice_bytes props = r->outcomes[0].outputs[0].properties_block;
    SLUICE_CHECK(sluice_test_block_get(props, "processed-by", &v) && sluice_str_eq_c(v, "{{name}}"));
    SLUICE_CHECK(sluice_test_block_get(props, "region", &v) && sluice_str_eq_c(v, "eu"));
    sluice_test_run_free(r);
    sluice_test_batch_free(b);
    return sluice_test_report();
}
