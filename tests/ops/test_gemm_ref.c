/* Every GEMM backend through the public entry point against a double-accumulated host GEMM:
 * all transpose pairs, odd sizes, offsets, padded leading dimensions, alpha/beta, beta = 0 with
 * NaN in C, and the strided-batched form. Tolerance: |err| <= 1e-5 * sum_p |a_ip||b_pj| + 1e-6
 * (fp32 accumulation over k terms in any order stays well inside k*eps of that sum). */
#include <math.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "clcdd/gemm.h"
#include "harness/harness.h"

static void host_gemm(int ta, int tb, size_t m, size_t n, size_t k, float alpha, const float *A,
                      size_t lda, const float *B, size_t ldb, float beta, const float *C0,
                      size_t ldc, float *C, double *absbound) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double acc = 0, ab = 0;
            for (size_t p = 0; p < k; p++) {
                double a = ta ? A[p * lda + i] : A[i * lda + p];
                double b = tb ? B[j * ldb + p] : B[p * ldb + j];
                acc += a * b;
                ab += fabs(a * b);
            }
            double c = beta == 0 ? 0 : beta * (double)C0[i * ldc + j];
            C[i * ldc + j] = (float)(alpha * acc + c);
            absbound[i * ldc + j] = fabs(alpha) * ab + fabs(c);
        }
}

static void run_case(clcdd_gemm_backend be, int ta, int tb, size_t m, size_t n, size_t k,
                     size_t off, float alpha, float beta, size_t batch) {
    clcdd_ctx *ctx = th_ctx();
    clcdd_gemm_force_backend(ctx, be);
    size_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 1;
    size_t sa = (ta ? k : m) * lda + 2, sb = (tb ? n : k) * ldb + 1, sc = m * ldc + 3;
    size_t na = off + batch * sa, nb = off + batch * sb, nc = off + batch * sc;
    float *A = malloc(na * 4), *B = malloc(nb * 4), *C = malloc(nc * 4), *W = malloc(nc * 4);
    double *bound = malloc(nc * sizeof(double));
    th_rand(A, na, m * 31 + k, -1, 1);
    th_rand(B, nb, n * 17 + k, -1, 1);
    th_rand(C, nc, 5, -1, 1);
    if (beta == 0)
        for (size_t i = 0; i < nc; i++) C[i] = NAN; /* must never be read */
    for (size_t i = 0; i < nc; i++) W[i] = C[i], bound[i] = 0;
    for (size_t b = 0; b < batch; b++)
        host_gemm(ta, tb, m, n, k, alpha, A + off + b * sa, lda, B + off + b * sb, ldb, beta,
                  C + off + b * sc, ldc, W + off + b * sc, bound + off + b * sc);
    clcdd_tensor tA = th_upload(A, na), tB = th_upload(B, nb), tC = th_upload(C, nc);
    clcdd_matrix ma = {tA.buf, off, lda}, mb = {tB.buf, off, ldb}, mc = {tC.buf, off, ldc};
    if (batch == 1)
        TH_OK(clcdd_gemm(ctx, ta, tb, m, n, k, alpha, ma, mb, beta, mc));
    else
        TH_OK(clcdd_gemm_strided_batched(ctx, ta, tb, m, n, k, alpha, ma, sa, mb, sb, beta, mc, sc,
                                         batch));
    float *got = th_download(&tC);
    size_t bad = 0;
    for (size_t b = 0; b < batch; b++)
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                size_t x = off + b * sc + i * ldc + j;
                double tol = 1e-5 * bound[x] + 1e-6;
                if (!(fabs((double)got[x] - W[x]) <= tol) && bad++ == 0)
                    cr_log_error("backend %d ta=%d tb=%d %zux%zux%zu batch %zu: C[%zu][%zu][%zu] "
                                 "= %.8g, expected %.8g", be, ta, tb, m, n, k, batch, b, i, j,
                                 got[x], W[x]);
            }
    cr_expect(bad == 0, "%zu wrong elements", bad);
    /* Elements outside the m x n windows (padding) must be untouched. */
    size_t touched = 0;
    for (size_t b = 0; b < batch; b++)
        for (size_t i = 0; i < m; i++)
            for (size_t j = n; j < ldc; j++) {
                size_t x = off + b * sc + i * ldc + j;
                if (!(got[x] == C[x] || (isnan(got[x]) && isnan(C[x])))) touched++;
            }
    cr_expect(touched == 0, "%zu padding elements overwritten", touched);
    clcdd_tensor_destroy(&tA);
    clcdd_tensor_destroy(&tB);
    clcdd_tensor_destroy(&tC);
    free(A), free(B), free(C), free(W), free(bound), free(got);
}

static const size_t dims[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 64, 64},
                                 {127, 65, 130}, {1, 300, 257}, {200, 1, 31},
                                 {4, 77, 96}, {2, 131, 13}}; /* last two: the decode matrix-vector path */

static void sweep(clcdd_gemm_backend be) {
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
                run_case(be, ta, tb, dims[d][0], dims[d][1], dims[d][2], d % 3, 1.25f,
                         d % 2 ? 0.0f : -0.5f, 1);
    run_case(be, 0, 1, 13, 11, 16, 1, 1.0f, 0.0f, 4);  /* attention scores: Q K^T per head */
    run_case(be, 0, 0, 13, 16, 11, 2, 0.5f, 1.0f, 3);  /* attention output: P V per head */
    run_case(be, 0, 0, 4, 4, 0, 0, 1.0f, 0.5f, 1);     /* k = 0: C = beta C */
}

Test(ops, gemm_reference) { sweep(CLCDD_GEMM_REFERENCE); }
Test(ops, gemm_own) { sweep(CLCDD_GEMM_OWN); }
Test(ops, gemm_auto) { sweep(CLCDD_GEMM_AUTO); }

Test(ops, gemm_rejects_bad_arguments) {
    clcdd_ctx *ctx = th_ctx();
    float x[16] = {0};
    clcdd_tensor t = th_upload(x, 16);
    clcdd_matrix a = {t.buf, 0, 4};
    /* 5 x 4 does not fit into 16 elements. */
    cr_expect(clcdd_gemm(ctx, CLCDD_NO_TRANS, CLCDD_NO_TRANS, 5, 4, 4, 1, a, a, 0, a) ==
              CLCDD_ERR_INVALID_ARGUMENT);
    clcdd_matrix bad_ld = {t.buf, 0, 2};
    cr_expect(clcdd_gemm(ctx, CLCDD_NO_TRANS, CLCDD_NO_TRANS, 2, 2, 4, 1, bad_ld, a, 0, a) ==
              CLCDD_ERR_INVALID_ARGUMENT);
    clcdd_tensor_destroy(&t);
}
