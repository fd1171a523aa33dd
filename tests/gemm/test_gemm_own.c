/* The own GEMM kernels (kernels/gemm_tiled.cl) against a plain-C reference accumulated in double.
 *
 * Tolerance, per element: |c - ref| <= 1e-5 * sqrt(k) * (|alpha| * sum_p |a_ip||b_pj| + |beta||c_ij|)
 * + 1e-30: fp32 accumulation error grows like sqrt(k) ulps of the magnitude sum for random-sign
 * data (worst case k ulps; 1e-5 is ~80 ulps, so the sqrt model has a wide margin for k <= 1024).
 * Rows and columns around C that the product must not touch (padding from ld > n, the elements
 * before the offset) are filled with a sentinel and checked unchanged. beta == 0 runs with NaN
 * in C: the result must not contain it. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd/gemm.h"
#include "runtime/ctx_internal.h"
#include "runtime/gemm_internal.h"
#include "runtime/gemm_packed.h"

static clcdd_ctx *ctx;

static void setup(void) {
    clcdd_ctx_options o = {0};
    cr_assert_eq(clcdd_ctx_create(&o, &ctx), CLCDD_OK, "%s", clcdd_last_error());
}
static void teardown(void) { clcdd_ctx_destroy(ctx); }

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

#define SENTINEL 1234.5f

static cl_mem upload(const float *h, size_t count) {
    cl_int err;
    cl_mem b = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                              (count ? count : 1) * sizeof(float), (void *)h, &err);
    cr_assert_eq(err, CL_SUCCESS);
    return b;
}

/* How a product is run: through the params-explicit own path, the public entry (with the own
 * backend forced), or the packed-weight forward/backward. */
typedef enum { VIA_OWN_WITH, VIA_PUBLIC, VIA_PACKED } via;

typedef struct problem {
    int ta, tb;
    size_t m, n, k, batch;
    size_t off, pad; /* element offset of every operand, ld = cols + pad */
    float alpha, beta;
} problem;

static void check(const problem *p, via how, const clcdd_gemm_params *params, int pack) {
    size_t ra = p->ta ? p->k : p->m, ca = p->ta ? p->m : p->k;
    size_t rb = p->tb ? p->n : p->k, cb = p->tb ? p->k : p->n;
    size_t lda = ca + p->pad, ldb = cb + p->pad, ldc = p->n + p->pad;
    size_t sa = ra * lda + 3, sb = rb * ldb + 5, sc = p->m * ldc + 7; /* batch strides */
    size_t na = p->off + sa * p->batch, nb = p->off + sb * p->batch, nc = p->off + sc * p->batch;
    float *ha = malloc(na * 4), *hb = malloc(nb * 4), *hc = malloc(nc * 4), *out = malloc(nc * 4);
    cr_assert(ha && hb && hc && out);
    for (size_t i = 0; i < na; i++) ha[i] = frand();
    for (size_t i = 0; i < nb; i++) hb[i] = frand();
    for (size_t i = 0; i < nc; i++) hc[i] = SENTINEL;
    for (size_t z = 0; z < p->batch; z++)
        for (size_t i = 0; i < p->m; i++)
            for (size_t j = 0; j < p->n; j++)
                hc[p->off + z * sc + i * ldc + j] = p->beta == 0.0f ? NAN : frand();
    cl_mem A = upload(ha, na), B = upload(hb, nb), C = upload(hc, nc);
    clcdd_matrix ma = {A, p->off, lda}, mb = {B, p->off, ldb}, mc = {C, p->off, ldc};
    clcdd_status st = CLCDD_OK;
    if (how == VIA_OWN_WITH) {
        clcdd_gemm_args g = {.ta = p->ta, .tb = p->tb, .m = p->m, .n = p->n, .k = p->k,
                             .alpha = p->alpha, .a = ma, .b = mb, .beta = p->beta, .c = mc,
                             .batch = p->batch, .stride_a = sa, .stride_b = sb, .stride_c = sc};
        st = clcdd_gemm_own_with(ctx, &g, params, pack);
    } else if (how == VIA_PUBLIC) {
        clcdd_gemm_force_backend(ctx, CLCDD_GEMM_OWN);
        st = p->batch == 1 ? clcdd_gemm(ctx, p->ta, p->tb, p->m, p->n, p->k, p->alpha, ma, mb,
                                        p->beta, mc)
                           : clcdd_gemm_strided_batched(ctx, p->ta, p->tb, p->m, p->n, p->k,
                                                        p->alpha, ma, sa, mb, sb, p->beta, mc, sc,
                                                        p->batch);
    } else {
        /* forward y = x W^T (tb = 1, W is n x k) or backward dX = dY W (tb = 0, W is k x n). */
        clcdd_gemm_force_backend(ctx, CLCDD_GEMM_OWN);
        clcdd_packed_weight pw;
        int fwd = p->tb;
        st = clcdd_packed_weight_create(ctx, mb, fwd ? p->n : p->k, fwd ? p->k : p->n,
                                        CLCDD_PACK_FORWARD | CLCDD_PACK_BACKWARD, &pw);
        cr_assert_eq(st, CLCDD_OK, "%s", clcdd_last_error());
        st = fwd ? clcdd_gemm_packed(ctx, p->m, p->alpha, ma, &pw, p->beta, mc)
                 : clcdd_gemm_packed_backward(ctx, p->m, p->alpha, ma, &pw, p->beta, mc);
        cr_assert_eq(clcdd_ctx_finish(ctx), CLCDD_OK);
        clcdd_packed_weight_destroy(&pw);
    }
    cr_assert_eq(st, CLCDD_OK, "%s", clcdd_last_error());
    cr_assert_eq(clEnqueueReadBuffer(ctx->queue, C, CL_TRUE, 0, nc * 4, out, 0, NULL, NULL),
                 CL_SUCCESS);
    double worst = 0;
    for (size_t z = 0; z < p->batch; z++) {
        const float *a = ha + p->off + z * sa, *b = hb + p->off + z * sb;
        for (size_t i = 0; i < p->m; i++)
            for (size_t j = 0; j < p->n; j++) {
                double acc = 0, mag = 0;
                for (size_t q = 0; q < p->k; q++) {
                    double x = p->ta ? a[q * lda + i] : a[i * lda + q];
                    double y = p->tb ? b[j * ldb + q] : b[q * ldb + j];
                    acc += x * y;
                    mag += fabs(x * y);
                }
                size_t ci = p->off + z * sc + i * ldc + j;
                double ref = p->alpha * acc, tol_mag = fabs(p->alpha) * mag;
                if (p->beta != 0.0f) {
                    ref += p->beta * (double)hc[ci];
                    tol_mag += fabs(p->beta * (double)hc[ci]);
                }
                double err = fabs((double)out[ci] - ref);
                double tol = 1e-5 * sqrt((double)p->k + 1) * tol_mag + 1e-30;
                cr_assert(isfinite(out[ci]), "non-finite C[%zu][%zu][%zu] = %g", z, i, j, out[ci]);
                cr_assert(err <= tol,
                          "C[%zu][%zu][%zu] = %.9g, reference %.9g (err %.3g > tol %.3g); "
                          "ta %d tb %d m %zu n %zu k %zu via %d pack %d",
                          z, i, j, out[ci], ref, err, tol, p->ta, p->tb, p->m, p->n, p->k, how,
                          pack);
                if (err / (tol_mag + 1e-30) > worst) worst = err / (tol_mag + 1e-30);
            }
    }
    /* Everything outside the m x n blocks is untouched. */
    for (size_t i = 0; i < nc; i++) {
        size_t r = i < p->off ? 0 : i - p->off, z = r / sc, w = r % sc;
        int inside = i >= p->off && z < p->batch && w / ldc < p->m && w % ldc < p->n;
        if (!inside) cr_assert_eq(out[i], SENTINEL, "element %zu outside C was written", i);
    }
    clReleaseMemObject(A);
    clReleaseMemObject(B);
    clReleaseMemObject(C);
    free(ha);
    free(hb);
    free(hc);
    free(out);
}

static const size_t sizes[][3] = {{1, 1, 1},   {3, 17, 5},   {17, 33, 3},  {33, 1, 127},
                                  {127, 40, 17}, {9, 64, 33}, {64, 96, 64}, {20, 127, 1}};

/* Every (ta, tb) pair x sizes x offsets/ld x alpha/beta for one kernel parameter set. */
static void sweep(const clcdd_gemm_params *params, int pack) {
    int c = 0;
    for (int t = 0; t < 4; t++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++, c++) {
            problem p = {.ta = t >> 1, .tb = t & 1, .m = sizes[s][0], .n = sizes[s][1],
                         .k = sizes[s][2], .batch = 1, .off = (size_t)(c % 3) * 7,
                         .pad = (size_t)(c % 4), .alpha = c % 2 ? 0.75f : -1.5f,
                         .beta = (float[]){0.0f, 1.0f, -0.5f}[c % 3]};
            check(&p, VIA_OWN_WITH, params, pack);
        }
}

TestSuite(gemm_own, .init = setup, .fini = teardown, .timeout = 120);

Test(gemm_own, default_params_direct_and_packed) {
    clcdd_gemm_params d = clcdd_gemm_default_params(&ctx->dev);
    sweep(&d, 0);
    sweep(&d, 1);
}

/* Other points of the tuning grid, both work-item orders, vector width 1, tiles taller than m. */
Test(gemm_own, tuning_grid_variants) {
    const clcdd_gemm_params v[] = {{16, 4, 1, 0}, {4, 12, 2, 1}, {1, 3, 5, 0}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) sweep(&v[i], 0);
}

Test(gemm_own, public_entry_and_batched) {
    for (int t = 0; t < 4; t++) {
        problem p = {.ta = t >> 1, .tb = t & 1, .m = 33, .n = 65, .k = 19, .batch = 1, .off = 5,
                     .pad = 3, .alpha = 1.0f, .beta = 0.0f};
        check(&p, VIA_PUBLIC, NULL, 0);
        p.batch = 3;
        p.beta = 0.5f;
        p.m = 17;
        p.n = 32;
        check(&p, VIA_PUBLIC, NULL, 0);
        p.beta = 0.0f;
        p.n = 31;
        check(&p, VIA_PUBLIC, NULL, 0);
    }
}

Test(gemm_own, packed_weights_forward_and_backward) {
    const size_t s[][3] = {{1, 1, 1}, {17, 33, 3}, {127, 64, 40}, {33, 96, 127}, {5, 37, 64}};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        for (int fwd = 0; fwd < 2; fwd++) {
            problem p = {.ta = 0, .tb = fwd, .m = s[i][0], .n = s[i][1], .k = s[i][2],
                         .batch = 1, .off = i * 3, .pad = i % 3, .alpha = 0.5f,
                         .beta = i % 2 ? 0.0f : 2.0f};
            check(&p, VIA_PACKED, NULL, 0);
        }
}

/* Long k (split into chunks accumulated through C) and op(A) with many rows (packed into row
 * panels from 64 rows on: both A and A^T, ragged m, with and without k chunks), each with direct
 * and packed B. */
Test(gemm_own, long_k_and_tall_a) {
    clcdd_gemm_params d = clcdd_gemm_default_params(&ctx->dev);
    const problem ps[] = {
        {.ta = 0, .tb = 0, .m = 5, .n = 64, .k = 2500, .batch = 1, .off = 3, .pad = 1,
         .alpha = 1.0f, .beta = 0.0f},
        {.ta = 1, .tb = 1, .m = 9, .n = 33, .k = 4099, .batch = 1, .off = 0, .pad = 0,
         .alpha = 0.5f, .beta = 1.5f},
        {.ta = 1, .tb = 0, .m = 2100, .n = 32, .k = 7, .batch = 1, .off = 2, .pad = 3,
         .alpha = -1.0f, .beta = 0.0f},
        {.ta = 1, .tb = 1, .m = 2053, .n = 17, .k = 2101, .batch = 1, .off = 1, .pad = 0,
         .alpha = 1.0f, .beta = 0.25f},
        {.ta = 0, .tb = 1, .m = 70, .n = 33, .k = 2500, .batch = 1, .off = 4, .pad = 2,
         .alpha = 0.5f, .beta = -1.0f},
        {.ta = 0, .tb = 0, .m = 64, .n = 64, .k = 9, .batch = 1, .off = 0, .pad = 0,
         .alpha = 1.0f, .beta = 0.0f},
        {.ta = 0, .tb = 0, .m = 63, .n = 48, .k = 5, .batch = 1, .off = 1, .pad = 1,
         .alpha = 1.0f, .beta = 0.0f},
    };
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        check(&ps[i], VIA_OWN_WITH, &d, 0);
        check(&ps[i], VIA_OWN_WITH, &d, 1);
    }
}

/* The self-check problems (the ones CLBlast is held to) pass on the own path too. */
Test(gemm_own, self_check_problems) {
    double worst = 0;
    cr_assert_eq(clcdd_gemm_check_backend(ctx, CLCDD_GEMM_OWN, &worst), CLCDD_OK, "%s",
                 clcdd_last_error());
    cr_assert(worst <= 1e-4, "own kernels: max relative error %g", worst);
}
