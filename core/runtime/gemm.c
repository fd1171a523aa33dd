/* The GEMM entry point and its backend dispatch.
 *
 * Backends: CLBlast (default where it passes the self-check), the project's own kernels, and the
 * reference kernel. The self-check runs once per context on first use: a few small problems
 * covering every transpose pair, odd sizes, offsets and beta != 0 are computed by CLBlast and by
 * the reference kernel; if CLBlast fails or disagrees beyond tolerance, the context falls back to
 * the own kernels and a warning is logged. The dispatcher (choose_backend) is the one place where a
 * per-device, per-shape choice is made; callers never change. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <clblast_c.h>

#include "ctx_internal.h"
#include "runtime/gemm_internal.h"

void clcdd_gemm_state_free(clcdd_ctx *ctx) {
    if (!ctx->gemm) return;
    clcdd_gemm_own_free(ctx->gemm);
    free(ctx->gemm);
    ctx->gemm = NULL;
}

clcdd_status clcdd_gemm_state_get(clcdd_ctx *ctx, clcdd_gemm_state **out) {
    if (!ctx->gemm) {
        ctx->gemm = calloc(1, sizeof *ctx->gemm);
        if (!ctx->gemm) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "GEMM state");
    }
    *out = ctx->gemm;
    return CLCDD_OK;
}

static clcdd_status state(clcdd_ctx *ctx, clcdd_gemm_state **out) {
    return clcdd_gemm_state_get(ctx, out);
}

void clcdd_gemm_force_backend(clcdd_ctx *ctx, clcdd_gemm_backend backend) {
    clcdd_gemm_state *g = NULL;
    if (state(ctx, &g) == CLCDD_OK) g->forced = backend;
}

/* ---- validation ----------------------------------------------------------------------------- */

clcdd_status clcdd_gemm_check_matrix(const char *name, clcdd_matrix x, size_t rows, size_t cols,
                                 size_t stride, size_t batch) {
    /* Stored (not op'd) shape is rows x cols with row stride ld. */
    if (rows == 0 || cols == 0) return CLCDD_OK;
    if (x.ld < cols)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "gemm: leading dimension of %s is %zu but rows have %zu columns", name,
                          x.ld, cols);
    if (!x.buf) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "gemm: %s has no buffer", name);
    size_t last = 0, t = 0;
    if (!clcdd_mul_size(rows - 1, x.ld, &last) || !clcdd_add_size(last, cols, &last) ||
        !clcdd_mul_size(batch - 1, stride, &t) || !clcdd_add_size(last, t, &last) ||
        !clcdd_add_size(last, x.offset, &last) || !clcdd_mul_size(last, 4, &last))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "gemm: %s extent overflows", name);
    size_t bytes = 0;
    if (clGetMemObjectInfo(x.buf, CL_MEM_SIZE, sizeof bytes, &bytes, NULL) != CL_SUCCESS)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "gemm: %s is not a valid buffer", name);
    if (last > bytes)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "gemm: %s needs %zu bytes but its buffer has %zu", name, last, bytes);
    return CLCDD_OK;
}

/* ---- backends ------------------------------------------------------------------------------- */

clcdd_status clcdd_gemm_reference(clcdd_ctx *ctx, const clcdd_gemm_args *g) {
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "gemm_ref", "", "gemm_ref", &k));
    cl_int ta = g->ta, tb = g->tb;
    cl_ulong m = g->m, n = g->n, kk = g->k;
    cl_ulong ao = g->a.offset, lda = g->a.ld, sa = g->stride_a;
    cl_ulong bo = g->b.offset, ldb = g->b.ld, sb = g->stride_b;
    cl_ulong co = g->c.offset, ldc = g->c.ld, sc = g->stride_c;
    int i = 0;
    KARG(k, i++, ta); KARG(k, i++, tb); KARG(k, i++, m); KARG(k, i++, n); KARG(k, i++, kk);
    KARG(k, i++, g->alpha);
    KARG(k, i++, g->a.buf); KARG(k, i++, ao); KARG(k, i++, lda); KARG(k, i++, sa);
    KARG(k, i++, g->b.buf); KARG(k, i++, bo); KARG(k, i++, ldb); KARG(k, i++, sb);
    KARG(k, i++, g->beta);
    KARG(k, i++, g->c.buf); KARG(k, i++, co); KARG(k, i++, ldc); KARG(k, i++, sc);
    size_t global[3] = {g->n, g->m, g->batch};
    CL_TRY(clcdd_enqueue(ctx, k, 3, global, NULL),
           "reference GEMM %zux%zux%zu (batch %zu) on %s", g->m, g->n, g->k, g->batch,
           ctx->dev.name);
    return CLCDD_OK;
}

/* x W^T for a few rows (decoding): the matrix-vector kernel of kernels/gemv.cl. */
static clcdd_status gemm_gemv(clcdd_ctx *ctx, const clcdd_gemm_args *g) {
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "gemv", "", "gemv_nt", &k));
    cl_uint m = (cl_uint)g->m, n = (cl_uint)g->n, kk = (cl_uint)g->k;
    cl_ulong ao = g->a.offset, lda = g->a.ld, bo = g->b.offset, ldb = g->b.ld;
    cl_ulong co = g->c.offset, ldc = g->c.ld;
    int i = 0;
    KARG(k, i++, m); KARG(k, i++, n); KARG(k, i++, kk); KARG(k, i++, g->alpha);
    KARG(k, i++, g->a.buf); KARG(k, i++, ao); KARG(k, i++, lda);
    KARG(k, i++, g->b.buf); KARG(k, i++, bo); KARG(k, i++, ldb);
    KARG(k, i++, g->beta); KARG(k, i++, g->c.buf); KARG(k, i++, co); KARG(k, i++, ldc);
    return clcdd_launch_1d(ctx, k, g->n, "gemv_nt");
}

static clcdd_status gemm_clblast(clcdd_ctx *ctx, const clcdd_gemm_args *g) {
    CLBlastTranspose ta = g->ta ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = g->tb ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastStatusCode s;
    cl_command_queue q = ctx->queue;
    if (g->batch == 1)
        s = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, g->m, g->n, g->k, g->alpha, g->a.buf,
                         g->a.offset, g->a.ld, g->b.buf, g->b.offset, g->b.ld, g->beta, g->c.buf,
                         g->c.offset, g->c.ld, &q, NULL);
    else
        s = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, g->m, g->n, g->k, g->alpha,
                                       g->a.buf, g->a.offset, g->a.ld, g->stride_a, g->b.buf,
                                       g->b.offset, g->b.ld, g->stride_b, g->beta, g->c.buf,
                                       g->c.offset, g->c.ld, g->stride_c, g->batch, &q, NULL);
    if (s != CLBlastSuccess)
        return clcdd_fail(s == CLBlastOpenCLOutOfResources || s == -4 /* CL_MEM_OBJECT_ALLOCATION_FAILURE */
                              ? CLCDD_ERR_DEVICE_MEMORY
                              : CLCDD_ERR_OPENCL,
                          "CLBlast GEMM %zux%zux%zu (batch %zu) on %s failed with status %d",
                          g->m, g->n, g->k, g->batch, ctx->dev.name, (int)s);
    return CLCDD_OK;
}

/* ---- self-check ----------------------------------------------------------------------------- */

/* Runs one problem through `backend` and the reference; returns the max relative error. */
clcdd_status clcdd_gemm_compare_one(clcdd_ctx *ctx, clcdd_gemm_backend backend, int ta, int tb,
                                    size_t m, size_t n, size_t k, size_t off, float beta,
                                    double *max_err) {
    size_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
    size_t na = off + (ta ? k : m) * lda, nb = off + (tb ? n : k) * ldb, nc = off + m * ldc;
    float *host = malloc((na + nb + 2 * nc) * sizeof(float));
    if (!host) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "GEMM self-check");
    uint64_t s = 0x2545F4914F6CDD1DULL;
    for (size_t i = 0; i < na + nb + nc; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        host[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
    clcdd_tensor ta_t = {0}, tb_t = {0}, tc1 = {0}, tc2 = {0};
    int64_t sa[1] = {(int64_t)na}, sb[1] = {(int64_t)nb}, sc[1] = {(int64_t)nc};
    clcdd_status st;
    if ((st = clcdd_tensor_create(ctx, CLCDD_F32, 1, sa, "self-check A", &ta_t)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, sb, "self-check B", &tb_t)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, sc, "self-check C", &tc1)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, sc, "self-check C", &tc2)) ||
        (st = clcdd_tensor_upload(ctx, &ta_t, host)) ||
        (st = clcdd_tensor_upload(ctx, &tb_t, host + na)) ||
        (st = clcdd_tensor_upload(ctx, &tc1, host + na + nb)) ||
        (st = clcdd_tensor_upload(ctx, &tc2, host + na + nb)))
        goto done;
    clcdd_gemm_args g = {.ta = ta, .tb = tb, .m = m, .n = n, .k = k, .alpha = 0.75f,
                         .a = {ta_t.buf, off, lda}, .b = {tb_t.buf, off, ldb}, .beta = beta,
                         .c = {tc1.buf, off, ldc}, .batch = 1};
    st = backend == CLCDD_GEMM_CLBLAST ? gemm_clblast(ctx, &g) : clcdd_gemm_own(ctx, &g);
    if (st) goto done;
    g.c.buf = tc2.buf;
    if ((st = clcdd_gemm_reference(ctx, &g))) goto done;
    float *c1 = host + na + nb + nc, *c2 = host + na + nb;
    if ((st = clcdd_tensor_download(ctx, &tc1, c1)) || (st = clcdd_tensor_download(ctx, &tc2, c2)))
        goto done;
    double worst = 0;
    for (size_t i = 0; i < nc; i++) {
        double d = fabs((double)c1[i] - c2[i]) / (1.0 + fabs((double)c2[i]));
        if (!(d <= worst)) worst = d; /* NaN propagates as the worst */
    }
    *max_err = worst;
done:
    clcdd_tensor_destroy(&ta_t);
    clcdd_tensor_destroy(&tb_t);
    clcdd_tensor_destroy(&tc1);
    clcdd_tensor_destroy(&tc2);
    free(host);
    return st;
}

/* Tolerance: inputs in [-1,1], k <= 67, fp32 accumulation in any order: |err| <= k * 2^-23 * max
 * partial sums ~ 1e-5 relative; 1e-4 leaves room for FMA vs separate multiply-add. */
#define SELF_CHECK_TOL 1e-4

clcdd_status clcdd_gemm_check_backend(clcdd_ctx *ctx, clcdd_gemm_backend backend, double *worst) {
    static const struct { int ta, tb; size_t m, n, k, off; float beta; } cases[] = {
        {0, 0, 33, 17, 19, 0, 0.0f}, {0, 1, 17, 33, 67, 5, 0.5f}, {1, 0, 64, 48, 32, 0, 1.0f},
        {1, 1, 7, 5, 3, 1, 0.0f},    {0, 0, 1, 1, 1, 0, 0.25f},  {0, 1, 96, 80, 64, 2, 0.0f},
    };
    *worst = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double e = 0;
        TRY(clcdd_gemm_compare_one(ctx, backend, cases[i].ta, cases[i].tb, cases[i].m, cases[i].n, cases[i].k,
                        cases[i].off, cases[i].beta, &e));
        if (!(e <= *worst)) *worst = e;
    }
    return CLCDD_OK;
}

clcdd_status clcdd_gemm_self_check(clcdd_ctx *ctx, int *clblast_ok) {
    clcdd_gemm_state *g = NULL;
    TRY(state(ctx, &g));
    /* A tuning record's CLBlast parameters are installed first, so they are what gets checked. */
    clcdd_gemm_record_ensure(ctx);
    double worst = 0;
    clcdd_status st = clcdd_gemm_check_backend(ctx, CLCDD_GEMM_CLBLAST, &worst);
    g->checked = 1;
    if (st == CLCDD_OK && worst <= SELF_CHECK_TOL) {
        g->clblast_ok = 1;
    } else {
        g->clblast_ok = 0;
        clcdd_log(CLCDD_LOG_WARN,
                  "CLBlast GEMM on '%s' %s (%s); using clcdd's own GEMM kernels on this device",
                  ctx->dev.name, st == CLCDD_OK ? "disagrees with the reference kernel" : "failed",
                  st == CLCDD_OK ? "max relative error above 1e-4" : clcdd_last_error());
        clcdd_clear_error();
    }
    g->clblast_max_err = st == CLCDD_OK ? worst : -1;
    if (clblast_ok) *clblast_ok = g->clblast_ok;
    return CLCDD_OK;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static clcdd_gemm_backend choose_backend(clcdd_ctx *ctx, clcdd_gemm_state *g,
                                         const clcdd_gemm_args *a) {
    if (g->forced != CLCDD_GEMM_AUTO) return g->forced;
    return clcdd_gemm_own_choose(ctx, g, a);
}

const char *clcdd_gemm_backend_name(clcdd_gemm_backend backend) {
    switch (backend) {
    case CLCDD_GEMM_AUTO: return "auto";
    case CLCDD_GEMM_CLBLAST: return "clblast";
    case CLCDD_GEMM_OWN: return "own";
    case CLCDD_GEMM_REFERENCE: return "reference";
    }
    return "?";
}

clcdd_gemm_backend clcdd_gemm_default_backend(clcdd_ctx *ctx) {
    clcdd_gemm_state *g = NULL;
    if (state(ctx, &g) != CLCDD_OK) return CLCDD_GEMM_OWN;
    clcdd_gemm_args a = {.m = 512, .n = 512, .k = 512, .batch = 1};
    if (!g->checked && choose_backend(ctx, g, &a) == CLCDD_GEMM_CLBLAST &&
        clcdd_gemm_self_check(ctx, NULL) != CLCDD_OK)
        return CLCDD_GEMM_OWN;
    return choose_backend(ctx, g, &a);
}

static clcdd_status run(clcdd_ctx *ctx, clcdd_gemm_args *a) {
    if (a->m == 0 || a->n == 0 || a->batch == 0) return CLCDD_OK;
    TRY(clcdd_gemm_check_matrix("A", a->a, a->ta ? a->k : a->m, a->ta ? a->m : a->k, a->stride_a, a->batch));
    TRY(clcdd_gemm_check_matrix("B", a->b, a->tb ? a->n : a->k, a->tb ? a->k : a->n, a->stride_b, a->batch));
    TRY(clcdd_gemm_check_matrix("C", a->c, a->m, a->n, a->stride_c, a->batch));
    clcdd_gemm_state *g = NULL;
    TRY(state(ctx, &g));
    /* CLBlast is checked (which costs its kernel compilation) only when it would be used. */
    if (!g->checked && choose_backend(ctx, g, a) == CLCDD_GEMM_CLBLAST)
        TRY(clcdd_gemm_self_check(ctx, NULL));
    if (a->k == 0) {
        /* C = beta * C: the reference kernel handles it without reading A or B. */
        return clcdd_gemm_reference(ctx, a);
    }
    clcdd_gemm_backend be = choose_backend(ctx, g, a);
    /* A few rows times a transposed weight (decoding one token): a matrix-vector product, unless a
     * backend was forced for testing. */
    if (g->forced == CLCDD_GEMM_AUTO && a->batch == 1 && !a->ta && a->tb && a->m <= 4 && a->k >= 8)
        return gemm_gemv(ctx, a);
    switch (be) {
    case CLCDD_GEMM_CLBLAST: return gemm_clblast(ctx, a);
    case CLCDD_GEMM_REFERENCE: return clcdd_gemm_reference(ctx, a);
    case CLCDD_GEMM_OWN:
    case CLCDD_GEMM_AUTO: break;
    }
    return clcdd_gemm_own(ctx, a);
}

clcdd_status clcdd_gemm(clcdd_ctx *ctx, clcdd_trans ta, clcdd_trans tb, size_t m, size_t n,
                        size_t k, float alpha, clcdd_matrix a, clcdd_matrix b, float beta,
                        clcdd_matrix c) {
    clcdd_gemm_args g = {.ta = ta, .tb = tb, .m = m, .n = n, .k = k, .alpha = alpha, .a = a,
                         .b = b, .beta = beta, .c = c, .batch = 1};
    return run(ctx, &g);
}

clcdd_status clcdd_gemm_strided_batched(clcdd_ctx *ctx, clcdd_trans ta, clcdd_trans tb, size_t m,
                                        size_t n, size_t k, float alpha, clcdd_matrix a,
                                        size_t stride_a, clcdd_matrix b, size_t stride_b,
                                        float beta, clcdd_matrix c, size_t stride_c, size_t batch) {
    clcdd_gemm_args g = {.ta = ta, .tb = tb, .m = m, .n = n, .k = k, .alpha = alpha, .a = a,
                         .b = b, .beta = beta, .c = c, .batch = batch, .stride_a = stride_a,
                         .stride_b = stride_b, .stride_c = stride_c};
    return run(ctx, &g);
}
