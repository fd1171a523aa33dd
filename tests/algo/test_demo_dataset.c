/* The demo world's training sets: the all-token variant (demo --lcdd-all-tokens) holds the same
 * token sequences as the answer-only one and counts every token after the first, where the
 * answer-only set counts a suffix (the answer) that leaves at least the prompt's tokens out. */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "algo/demo_train.h"

Test(demo_dataset, all_tokens_counts_the_prompt_too) {
    clcdd_dataset a, all;
    cr_assert_eq(clcdd_demo_dataset(3042, 64, 0.0f, 1, &a), CLCDD_OK);
    cr_assert_eq(clcdd_demo_dataset_all_tokens(3042, 64, 0.0f, 1, &all), CLCDD_OK);
    cr_assert_eq(a.n, 64);
    cr_assert_eq(all.n, a.n);
    cr_assert_eq(all.max_len, a.max_len);
    size_t counted_a = 0, counted_all = 0;
    for (size_t i = 0; i < a.n; i++) {
        const clcdd_example *x = &a.items[i], *y = &all.items[i];
        cr_assert_eq(y->len, x->len, "sample %zu", i);
        cr_assert(!memcmp(x->ids, y->ids, x->len * sizeof *x->ids), "sample %zu: other tokens", i);
        size_t a0 = 0;
        while (a0 < x->len && !x->loss[a0]) a0++;
        cr_assert(a0 >= 2 && a0 < x->len, "sample %zu: the answer starts at %zu of %zu", i, a0, x->len);
        for (size_t t = 0; t < x->len; t++) {
            cr_assert_eq(x->loss[t], t >= a0, "sample %zu token %zu: answer-only mask not a suffix", i, t);
            cr_assert_eq(y->loss[t], t >= 1, "sample %zu token %zu: all-token mask", i, t);
            counted_a += x->loss[t], counted_all += y->loss[t];
        }
    }
    cr_assert_gt(counted_all, counted_a);
    clcdd_dataset_free(&a);
    clcdd_dataset_free(&all);
}
