/*
 * The kit's guest-side cost per message, natively: the batch loop over 64 messages shaped
 * like `sluice plugin bench`'s (a key, a tag, 3 properties, a 100-byte body), outcome
 * buffer included, without the component boundary. Link with one plugin:
 *
 *   cc -O2 -I sdk/c -o /tmp/bench_pf sdk/c/test/bench_loop.c sdk/c/sluice.c \
 *      sdk/c/sluice_testing.c plugins/c/property-filter/property_filter.c && /tmp/bench_pf
 *   (the same with plugins/c/passthrough/passthrough.c)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sluice_kit.h"
#include "sluice_testing.h"

#pragma weak sluice_filter
#pragma weak sluice_transform

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); /* CPU time: the machine may be busy */
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
    const char *err = sluice_test_init(sluice_filter ? SLUICE_KEYS("property", "region", "equals", "eu")
                                                     : SLUICE_NO_KEYS);
    if (err) {
        fprintf(stderr, "init: %s\n", err);
        return 1;
    }
    sluice_test_batch *b = sluice_test_batch_new();
    char body[101], trace[17];
    for (int i = 0; i < 100; i++) body[i] = 'x';
    body[100] = 0;
    for (int i = 0; i < 64; i++) {
        sluice_test_add(b, body);
        sluice_test_key(b, "order-1");
        sluice_test_tag(b, i % 2 ? "created" : "paid");
        sluice_test_property(b, "region", i % 2 ? "us" : "eu");
        sluice_test_property(b, "source", "web");
        snprintf(trace, sizeof trace, "%016x", i);
        sluice_test_property(b, "trace", trace);
    }
    size_t len;
    const uint8_t *frames = sluice_test_frames(b, &len);
    static const sluice_batch batch = {{"orders", 6}, 3, {"bench", 5}, {"s", 1}};
    double best = 1e9;
    for (int round = 0; round < 20; round++) {
        const int calls = 20000;
        double t = now();
        for (int c = 0; c < calls; c++) {
            sluice_buf out;
            char *why;
            bool ok = sluice_filter ? sluice__filter_batch(sluice_filter, &batch, frames, len, &out, &why)
                                    : sluice__transform_batch(sluice_transform, &batch, frames, len, &out, &why);
            if (!ok) abort();
            free(out.ptr);
        }
        double ns = (now() - t) * 1e9 / (calls * 64.0);
        if (ns < best) best = ns;
    }
    printf("%s: %.1f ns/msg (best of 20 rounds of 20000 batches of 64)\n",
           sluice_filter ? "filter" : "transform", best);
    sluice_test_batch_free(b);
    return 0;
}
