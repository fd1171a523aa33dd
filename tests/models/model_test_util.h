/* Helpers for the model tests: a registry of the statically linked family plugins, reference
 * tensors from a fixture safetensors, and an element-wise comparison that reports the largest
 * difference. */
#ifndef CLCDD_MODEL_TEST_UTIL_H
#define CLCDD_MODEL_TEST_UTIL_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd/plugins.h"
#include "clcdd/safetensors.h"
#include "harness/harness.h"
#include "llama/llama.h"
#include "mistral/mistral.h"
#include "qwen/qwen.h"

static inline clcdd_plugin_registry *mt_registry(void) {
    clcdd_plugin_registry *r = NULL;
    TH_OK(clcdd_plugin_registry_create(0, &r));
    TH_OK(clcdd_plugin_registry_add(r, clcdd_plugin_llama_descriptor(), NULL));
    TH_OK(clcdd_plugin_registry_add(r, clcdd_plugin_mistral_descriptor(), NULL));
    TH_OK(clcdd_plugin_registry_add(r, clcdd_plugin_qwen_descriptor(), NULL));
    return r;
}

/* A reference tensor as f32 (malloc'd); *n receives the element count. */
static inline float *mt_ref(const clcdd_safetensors *st, const char *name, size_t *n) {
    clcdd_st_tensor t;
    TH_OK(clcdd_safetensors_find(st, name, &t));
    float *x = malloc((t.n_elements ? t.n_elements : 1) * sizeof *x);
    cr_assert(x);
    TH_OK(clcdd_tensor_to_f32(&t, x, (size_t)t.n_elements));
    if (n) *n = (size_t)t.n_elements;
    return x;
}

/* Compare rows [r0, r1) of every block of `rows_per_block` rows: only the rows where `valid`
 * (NULL: all) is non-zero. |got - want| <= atol + rtol * |want|; NaN/Inf fail first. Returns the
 * largest absolute difference through *maxdiff; 1 on success. */
static inline int mt_close(const char *what, const float *got, const float *want, size_t rows,
                           size_t cols, const unsigned char *valid, double rtol, double atol,
                           double *maxdiff) {
    double worst = 0, worst_excess = 0;
    size_t wi = 0;
    for (size_t r = 0; r < rows; r++) {
        if (valid && !valid[r]) continue;
        for (size_t c = 0; c < cols; c++) {
            size_t i = r * cols + c;
            if (!isfinite(got[i]) || !isfinite(want[i])) {
                fprintf(stderr, "%s: non-finite at %zu: got %g want %g\n", what, i, got[i],
                        want[i]);
                return 0;
            }
            double d = fabs((double)got[i] - want[i]);
            double excess = d - (atol + rtol * fabs(want[i]));
            if (d > worst) worst = d;
            if (excess > worst_excess) {
                worst_excess = excess;
                wi = i;
            }
        }
    }
    if (maxdiff && worst > *maxdiff) *maxdiff = worst;
    if (worst_excess > 0) {
        fprintf(stderr, "%s: mismatch at %zu: got %.8g want %.8g (max |diff| %.3g, rtol %g atol %g)\n",
                what, wi, got[wi], want[wi], worst, rtol, atol);
        return 0;
    }
    return 1;
}

#endif
