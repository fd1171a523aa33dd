/* The op harness: shared helpers for kernel tests.
 *
 * - th_ctx(): one context per test process (Criterion runs each test in its own process).
 * - th_rand(): seeded uniform data; th_sizes[]: the sizes every element-wise op is run at
 *   (1, primes, non-multiples of every work-group size, and one large size).
 * - th_check_close(): compares a device result with a plain-C reference. NaN/Inf in either fails
 *   first; then the element-wise error |got - want| <= atol + rtol * |want| must hold everywhere.
 *   On failure it reports the op, the index, both values and the largest difference.
 * - th_gradcheck(): central finite differences for backward kernels: for a scalar loss L(x)
 *   computed on the device, compares the analytic gradient with (L(x+h e_i) - L(x-h e_i)) / 2h
 *   on a sample of coordinates, by relative error max|g - fd| / max(1, max|fd|). */
#ifndef CLCDD_TEST_HARNESS_H
#define CLCDD_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd/runtime.h"

clcdd_ctx *th_ctx(void);
void th_release(void);

void th_rand(float *x, size_t n, uint64_t seed, float lo, float hi);

extern const size_t th_sizes[];
extern const size_t th_n_sizes;

/* Upload host data into a new 1-D f32 tensor (asserts on failure). */
clcdd_tensor th_upload(const float *host, size_t n);
/* Download a tensor into a malloc'd array (asserts on failure). */
float *th_download(const clcdd_tensor *t);

/* Returns 1 when close; prints a diagnostic and returns 0 otherwise. */
int th_check_close(const char *what, const float *got, const float *want, size_t n, double rtol,
                   double atol);

/* Scalar loss of x on the device; return 0 on success. */
typedef int (*th_loss_fn)(const float *x, size_t n, double *loss, void *user);

/* Checks `grad` (analytic, length n) against central differences of `loss` at x.
 * h: step; samples: coordinates checked (all if >= n); tol: max relative error.
 * Returns 1 when it passes; prints the worst coordinate otherwise. */
int th_gradcheck(const char *what, th_loss_fn loss, void *user, float *x, size_t n,
                 const float *grad, double h, size_t samples, double tol);

#define TH_OK(expr)                                                                              \
    do {                                                                                         \
        clcdd_status th_st_ = (expr);                                                            \
        cr_assert(th_st_ == CLCDD_OK, "%s failed: %s: %s", #expr, clcdd_status_string(th_st_), \
                  clcdd_last_error());                                                           \
    } while (0)

#endif
