/* The one matrix-product entry point of clcdd.
 *
 * C = alpha * op(A) * op(B) + beta * C, row-major, op(X) = X or X^T.
 * op(A) is m x k, op(B) is k x n, C is m x n. Offsets and leading dimensions are in elements.
 * Every matrix product in clcdd goes through here; the backend (CLBlast or clcdd's own kernels)
 * is chosen per device and shape class behind this call, so callers never change. */
#ifndef CLCDD_GEMM_H
#define CLCDD_GEMM_H

#include "clcdd/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum clcdd_trans { CLCDD_NO_TRANS = 0, CLCDD_TRANS = 1 } clcdd_trans;

typedef struct clcdd_matrix {
    cl_mem buf;
    size_t offset; /* elements */
    size_t ld;     /* leading dimension (row stride) in elements */
} clcdd_matrix;

CLCDD_API clcdd_status clcdd_gemm(clcdd_ctx *ctx, clcdd_trans ta, clcdd_trans tb, size_t m,
                                  size_t n, size_t k, float alpha, clcdd_matrix a, clcdd_matrix b,
                                  float beta, clcdd_matrix c);

/* `batch` independent products; matrix i starts stride_x elements after matrix i-1. */
CLCDD_API clcdd_status clcdd_gemm_strided_batched(clcdd_ctx *ctx, clcdd_trans ta, clcdd_trans tb,
                                                  size_t m, size_t n, size_t k, float alpha,
                                                  clcdd_matrix a, size_t stride_a, clcdd_matrix b,
                                                  size_t stride_b, float beta, clcdd_matrix c,
                                                  size_t stride_c, size_t batch);

typedef enum clcdd_gemm_backend {
    CLCDD_GEMM_AUTO = 0,    /* what the device's self-check and tuning record chose */
    CLCDD_GEMM_CLBLAST = 1,
    CLCDD_GEMM_OWN = 2,     /* clcdd's own kernels */
    CLCDD_GEMM_REFERENCE = 3 /* the simple reference kernel (for checks; slow) */
} clcdd_gemm_backend;

/* Force a backend for this context (tests, benchmarks, `clcdd doctor`). */
CLCDD_API void clcdd_gemm_force_backend(clcdd_ctx *ctx, clcdd_gemm_backend backend);

/* The backend the dispatcher uses for ordinary shapes on this context ("clblast", "own", ...). */
CLCDD_API clcdd_gemm_backend clcdd_gemm_default_backend(clcdd_ctx *ctx);
CLCDD_API const char *clcdd_gemm_backend_name(clcdd_gemm_backend backend);

/* Run the GEMM self-check now (normally done on first use): compares CLBlast with the reference
 * kernel on small problems; on disagreement the context falls back to the own kernels and a
 * warning is logged. *clblast_ok tells which happened. */
CLCDD_API clcdd_status clcdd_gemm_self_check(clcdd_ctx *ctx, int *clblast_ok);

/* ---- Tuning (`clcdd tune`) ---------------------------------------------------------------- */

typedef struct clcdd_gemm_shape {
    clcdd_trans ta, tb;
    size_t m, n, k;
} clcdd_gemm_shape;

typedef struct clcdd_gemm_tune_result {
    clcdd_gemm_shape shape;
    clcdd_gemm_backend backend; /* the winner: CLCDD_GEMM_CLBLAST or CLCDD_GEMM_OWN */
    char params[64];            /* the winner's own-kernel parameters ("vw=16 rm=8 nv=2"), or "" */
    double gflops;              /* the winner's speed */
    double clblast_gflops;      /* CLBlast's (-1: not usable on this device) */
    double default_gflops;      /* the own kernel with default parameters */
    int tried, rejected;        /* candidates measured; candidates failing the reference check */
    char clblast_set[64];       /* CLBlast's parameters behind clblast_gflops: "built-in", or
                                   the tuned set kept in the record ("tuned: Xgemm, GemmRoutine") */
} clcdd_gemm_tune_result;

typedef void (*clcdd_gemm_tune_progress_fn)(const char *message, void *user);

/* Measure CLBlast and a grid of own-kernel parameters on this context's device for each shape
 * (spending about budget_seconds in all), check every candidate against the reference kernel
 * before it may win, and store the winners as the device's tuning record in the kernel cache
 * directory (keyed by device name and driver version; later contexts load it on first GEMM use).
 * results[i] describes shapes[i]. progress (may be NULL) receives one line per step. */
CLCDD_API clcdd_status clcdd_gemm_tune(clcdd_ctx *ctx, const clcdd_gemm_shape *shapes,
                                       size_t count, double budget_seconds,
                                       clcdd_gemm_tune_progress_fn progress, void *user,
                                       clcdd_gemm_tune_result *results);

/* clcdd_gemm_tune with CLBlast parameter candidates. CLBlast's parameters are per device, not per
 * shape, so they are chosen as a set: the parameters in force (built-in, or an earlier record's),
 * the parameters in `clblast_json` (files CLBlast's own tuner programs write, e.g.
 * clblast_xgemm_1_32.json and clblast_xgemm_direct_1_32.json, all applied together), and on
 * non-CPU devices the indirect-path threshold (GemmRoutine XGEMM_MIN_INDIRECT_SIZE) forced to
 * "always the indirect kernel" and "always the direct kernel" on top of those. Each set must pass
 * the reference check on every transpose pair in `shapes`; the set with the least total time over
 * the shapes is kept in the record and installed by every later context at start-up. Trying a
 * set installs it in this process (CLBlast has no way back to its built-in parameters), so a
 * process that tunes should exit afterwards, as `clcdd tune` does. */
CLCDD_API clcdd_status clcdd_gemm_tune_with_clblast(clcdd_ctx *ctx, const clcdd_gemm_shape *shapes,
                                                    size_t count, double budget_seconds,
                                                    const char *const *clblast_json,
                                                    size_t n_clblast_json,
                                                    clcdd_gemm_tune_progress_fn progress,
                                                    void *user, clcdd_gemm_tune_result *results);

/* Path of this device's tuning record (whether or not it exists); "" if the cache is off. */
CLCDD_API void clcdd_gemm_tune_record_path(const clcdd_ctx *ctx, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
