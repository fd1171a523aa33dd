/* Internals of the GEMM dispatcher shared between gemm.c (entry point, CLBlast, reference,
 * self-check) and gemm_own.c (the project's own kernels and the per-shape choice). */
#ifndef CLCDD_GEMM_INTERNAL_H
#define CLCDD_GEMM_INTERNAL_H

#include "clcdd/gemm.h"

typedef struct clcdd_gemm_args {
    int ta, tb;
    size_t m, n, k;
    float alpha, beta;
    clcdd_matrix a, b, c;
    size_t batch, stride_a, stride_b, stride_c; /* batch 1: strides unused */
} clcdd_gemm_args;

typedef struct clcdd_gemm_state {
    clcdd_gemm_backend forced; /* AUTO unless a test/bench forces one */
    int checked;               /* self-check has run */
    int clblast_ok;            /* CLBlast passed it */
    double clblast_max_err;    /* its worst relative error (-1: it failed to run) */
    void *own;                 /* gemm_own.c's private state */
} clcdd_gemm_state;

clcdd_status clcdd_gemm_reference(clcdd_ctx *ctx, const clcdd_gemm_args *g);
clcdd_status clcdd_gemm_own(clcdd_ctx *ctx, const clcdd_gemm_args *g);
void clcdd_gemm_own_free(clcdd_gemm_state *g);
/* Which backend serves this shape on this device (self-check already ran). */
clcdd_gemm_backend clcdd_gemm_own_choose(clcdd_ctx *ctx, clcdd_gemm_state *g,
                                         const clcdd_gemm_args *a);
/* Compare a backend with the reference on the self-check problems; *worst = max rel. error. */
clcdd_status clcdd_gemm_check_backend(clcdd_ctx *ctx, clcdd_gemm_backend backend, double *worst);

#endif
