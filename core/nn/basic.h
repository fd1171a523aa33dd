/* Host wrappers of the basic device kernels (kernels/elementwise.cl, reduce.cl, rng.cl).
 * Every function enqueues work on the context's in-order queue and returns at once; results are
 * visible to later enqueued work and to blocking downloads. Tensors must be F32 unless noted. */
#ifndef CLCDD_NN_BASIC_H
#define CLCDD_NN_BASIC_H

#include "clcdd/runtime.h"

/* y = a + b (same numel; y may alias a or b) */
clcdd_status clcdd_add(clcdd_ctx *ctx, clcdd_tensor *y, const clcdd_tensor *a, const clcdd_tensor *b);
/* y = a * b element-wise (y may alias a or b) */
clcdd_status clcdd_mul(clcdd_ctx *ctx, clcdd_tensor *y, const clcdd_tensor *a, const clcdd_tensor *b);
/* y = alpha * x */
clcdd_status clcdd_scale(clcdd_ctx *ctx, clcdd_tensor *y, const clcdd_tensor *x, float alpha);
/* y += alpha * x */
clcdd_status clcdd_axpy(clcdd_ctx *ctx, clcdd_tensor *y, const clcdd_tensor *x, float alpha);

/* out[0] (a 1-element F32 tensor, stays on the device) = sum(x) or sum(x^2), fixed order. */
clcdd_status clcdd_sum(clcdd_ctx *ctx, clcdd_tensor *out, const clcdd_tensor *x);
clcdd_status clcdd_sumsq(clcdd_ctx *ctx, clcdd_tensor *out, const clcdd_tensor *x);

/* The reduction geometry for n elements on this context: groups, work-group size, chunk length
 * (exposed so the plain-C reference in the tests can reproduce the exact order). */
void clcdd_reduce_geometry(const clcdd_ctx *ctx, size_t n, size_t *groups, size_t *wg,
                           size_t *chunk);

/* Seeded counter-based random fill (Philox4x32-10, see kernels/rng.cl). */
clcdd_status clcdd_rng_uniform(clcdd_ctx *ctx, clcdd_tensor *y, uint64_t seed, uint64_t counter,
                               float lo, float hi);
clcdd_status clcdd_rng_normal(clcdd_ctx *ctx, clcdd_tensor *y, uint64_t seed, uint64_t counter,
                              float mean, float stddev);

#endif
