/* clcdd's own GEMM path: the register-tiled kernel of kernels/gemm_tiled.cl, packing of op(B)
 * into panels when the kernel cannot read it directly, and packed weights.
 *
 * The kernel reads op(B) as k rows of n contiguous floats. That is B itself for tb = 0 when n is a
 * multiple of the tile width RN; every other case (tb = 1, ragged n) first packs op(B) into
 * RN-wide zero-padded panels in a scratch buffer (O(n k) work against O(m n k) for the product).
 * Packed weights (gemm_packed.h) do that packing once per weight update instead of per call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx_internal.h"
#include "clcdd_internal.h"
#include "runtime/gemm_internal.h"
#include "runtime/gemm_packed.h"

#define PACK_GROUP 16 /* work-items per group of the pack kernels */
#define TILE_GROUP 4  /* work-items per group of the tile kernel */
#define K_SPLIT 2048  /* k above this is split into chunks of at most K_CHUNK */
#define K_CHUNK 1024
#define PACK_MIN_M 128    /* row-major B is packed per call from this m on (unless rows are short) */
#define APACK_MIN_M 64 /* op(A) with at least this many rows is packed into row panels */

clcdd_status clcdd_gemm_own_state_get(clcdd_ctx *ctx, clcdd_gemm_own_state **out) {
    clcdd_gemm_state *g = NULL;
    TRY(clcdd_gemm_state_get(ctx, &g));
    if (!g->own) {
        g->own = calloc(1, sizeof(clcdd_gemm_own_state));
        if (!g->own) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "GEMM own-kernel state");
    }
    *out = g->own;
    return CLCDD_OK;
}

void clcdd_gemm_own_free(clcdd_gemm_state *g) {
    clcdd_gemm_own_state *o = g->own;
    if (!o) return;
    if (o->scratch) clReleaseMemObject(o->scratch);
    if (o->scratch_a) clReleaseMemObject(o->scratch_a);
    free(o);
    g->own = NULL;
}

clcdd_gemm_params clcdd_gemm_default_params(const clcdd_device_info *dev) {
    /* CPU: RM x 32 tiles in vector registers (8 x 32 with 16-wide vectors: 16 accumulators of the
     * 32 AVX-512 registers). Other devices: narrower tiles; CLBlast is their default anyway. */
    int vw = (int)dev->preferred_vector_width_float;
    if (vw >= 16) vw = 16;
    else if (vw >= 8) vw = 8;
    else if (vw >= 4) vw = 4;
    else if (vw >= 2) vw = 2;
    else vw = 1;
    clcdd_gemm_params p = {.vw = vw, .rm = 8, .nv = vw >= 32 ? 1 : 32 / vw, .rows_first = 1};
    if (!dev->is_cpu) {
        p.rm = 4;
        p.nv = vw >= 16 ? 1 : 16 / vw;
    }
    return p;
}

void clcdd_gemm_options(const clcdd_gemm_params *p, int ta, int apack, int bpack, char *buf,
                        size_t cap) {
    snprintf(buf, cap, "-DVW=%d -DRM=%d -DNV=%d -DTA=%d -DAPACK=%d -DBPACK=%d -DROWS_FIRST=%d",
             p->vw, p->rm, p->nv, ta, apack, bpack, p->rows_first);
}

static clcdd_status ensure_scratch(clcdd_ctx *ctx, cl_mem *buf, size_t *have, size_t bytes) {
    if (*buf && *have >= bytes) return CLCDD_OK;
    if (*buf) clReleaseMemObject(*buf);
    *buf = NULL;
    *have = 0;
    if (bytes > ctx->dev.max_alloc_bytes)
        return clcdd_fail(CLCDD_ERR_DEVICE_MEMORY,
                          "GEMM packing buffer of %zu bytes exceeds the max allocation (%llu) of %s",
                          bytes, (unsigned long long)ctx->dev.max_alloc_bytes, ctx->dev.name);
    cl_int err = CL_SUCCESS;
    *buf = clcdd_ctx_create_buffer(ctx, bytes, &err);
    if (err != CL_SUCCESS)
        return clcdd_cl_fail(err, "allocating a %zu-byte GEMM packing buffer", bytes);
    *have = bytes;
    return CLCDD_OK;
}

/* Packs op(B) of every batch entry into `dst` (panel layout of gemm_tiled.cl); per-entry stride
 * returned in *stride_p (elements). */
clcdd_status clcdd_gemm_own_pack(clcdd_ctx *ctx, const clcdd_gemm_params *p, int tb, size_t n, size_t k,
                           clcdd_matrix b, size_t stride_b, size_t batch, cl_mem dst,
                           size_t stride_p) {
    char opts[128];
    clcdd_gemm_params pp = *p;
    pp.rows_first = 0; /* the pack kernel only depends on the tile width */
    clcdd_gemm_options(&pp, 0, 0, 1, opts, sizeof opts);
    cl_kernel kp;
    TRY(clcdd_ctx_kernel(ctx, "gemm_tiled", opts, tb ? "gemm_pack_t" : "gemm_pack_n", &kp));
    size_t rn = (size_t)p->vw * p->nv, panels = (n + rn - 1) / rn;
    cl_ulong nn = n, kk = k, bo = b.offset, ldb = b.ld, sb = stride_b, sp = stride_p;
    int i = 0;
    KARG(kp, i++, nn); KARG(kp, i++, kk); KARG(kp, i++, b.buf);
    KARG(kp, i++, bo); KARG(kp, i++, ldb); KARG(kp, i++, sb); KARG(kp, i++, dst); KARG(kp, i++, sp);
    /* A fixed local size (one kernel build on drivers that specialise per shape) that still
     * amortises per-group overhead over several small work-items; the kernel ignores the
     * rounding-up. */
    size_t rows = tb ? (k + 15) / 16 : k;
    size_t global[3] = {(rows + PACK_GROUP - 1) / PACK_GROUP * PACK_GROUP, panels, batch};
    size_t local[3] = {PACK_GROUP, 1, 1};
    CL_TRY(clcdd_enqueue(ctx, kp, 3, global, local),
           "packing a %zux%zu GEMM operand on %s", k, n, ctx->dev.name);
    return CLCDD_OK;
}

/* Runs the tile kernel; B is either row-major op(B) (bpack 0) or panels. */
clcdd_status clcdd_gemm_own_tiles(clcdd_ctx *ctx, const clcdd_gemm_args *g,
                                  const clcdd_gemm_params *p, int bpack, clcdd_matrix b,
                                  size_t stride_b) {
    /* op(A) is packed into RM-row panels first (O(m k) against O(m n k)): read directly, a
     * transposed A crosses a page per k step once m is large, and a row-major A needs RM row
     * pointers in the inner loop, which PoCL's x86 code keeps partly in vector registers and
     * extracts every step (bench/gemm: +15-30% on the transformer shapes with the panels).
     * Below APACK_MIN_M rows the extra launch is not worth it. Batch 1 only. */
    int apack = g->batch == 1 && g->m >= APACK_MIN_M;
    clcdd_gemm_args ga = *g;
    if (apack) {
        clcdd_gemm_own_state *o = NULL;
        TRY(clcdd_gemm_own_state_get(ctx, &o));
        size_t tiles_m = (g->m + p->rm - 1) / p->rm, bytes = 0;
        if (!clcdd_mul_size(tiles_m * (size_t)p->rm, g->k, &bytes) ||
            !clcdd_mul_size(bytes, sizeof(float), &bytes))
            return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "own GEMM: packing size overflows");
        TRY(ensure_scratch(ctx, &o->scratch_a, &o->scratch_a_bytes, bytes));
        char popts[128];
        clcdd_gemm_options(p, g->ta, 1, 0, popts, sizeof popts);
        cl_kernel kp;
        TRY(clcdd_ctx_kernel(ctx, "gemm_tiled", popts, "gemm_pack_a", &kp));
        cl_ulong mm = g->m, kk = g->k, ao = g->a.offset, lda = g->a.ld, sp = g->k * (size_t)p->rm;
        int i = 0;
        KARG(kp, i++, mm); KARG(kp, i++, kk); KARG(kp, i++, g->a.buf); KARG(kp, i++, ao);
        KARG(kp, i++, lda); KARG(kp, i++, o->scratch_a); KARG(kp, i++, sp);
        size_t blocks = (g->k + 15) / 16; /* 16 panel rows per work-item */
        size_t gl[3] = {(blocks + PACK_GROUP - 1) / PACK_GROUP * PACK_GROUP, tiles_m, 1};
        size_t lo[3] = {PACK_GROUP, 1, 1};
        CL_TRY(clcdd_enqueue(ctx, kp, 3, gl, lo),
               "packing a %zux%zu GEMM operand (A%s) on %s", g->m, g->k, g->ta ? "^T" : "",
               ctx->dev.name);
        ga.a = (clcdd_matrix){o->scratch_a, 0, g->k * (size_t)p->rm};
        g = &ga;
    }
    char opts[128];
    clcdd_gemm_options(p, g->ta, apack, bpack, opts, sizeof opts);
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "gemm_tiled", opts, "gemm_tile", &k));
    size_t rn = (size_t)p->vw * p->nv;
    /* A fixed local size keeps drivers that specialise per work-group shape (PoCL) at one build
     * per variant; TILE_GROUP work-items per group amortise the per-group cost. The kernel
     * ignores work-items past the edge of C. */
    size_t tiles[2] = {(g->n + rn - 1) / rn, (g->m + p->rm - 1) / p->rm};
    if (p->rows_first) {
        size_t t = tiles[0];
        tiles[0] = tiles[1];
        tiles[1] = t;
    }
    size_t global[3] = {(tiles[0] + TILE_GROUP - 1) / TILE_GROUP * TILE_GROUP, tiles[1], g->batch};
    size_t local[3] = {TILE_GROUP, 1, 1};
    /* Long k is split into chunks accumulated through C (beta 1 after the first), so that the
     * panel of B and the rows of A one work-item streams stay in cache for its neighbours. */
    size_t chunks = g->k > K_SPLIT ? (g->k + K_CHUNK - 1) / K_CHUNK : 1;
    size_t kc = (g->k + chunks - 1) / chunks;
    for (size_t k0 = 0; k0 < g->k || k0 == 0; k0 += kc) {
        size_t kl = g->k - k0 < kc ? g->k - k0 : kc;
        cl_ulong m = g->m, n = g->n, kk = kl;
        cl_ulong ao = g->a.offset + (apack ? k0 * p->rm : g->ta ? k0 * g->a.ld : k0);
        cl_ulong lda = g->a.ld, sa = g->stride_a;
        cl_ulong bo = b.offset + (bpack ? k0 * rn : k0 * b.ld), ldb = b.ld, sb = stride_b;
        cl_ulong pstride = (cl_ulong)g->k * rn;
        cl_ulong co = g->c.offset, ldc = g->c.ld, sc = g->stride_c;
        float beta = k0 == 0 ? g->beta : 1.0f;
        int i = 0;
        KARG(k, i++, m); KARG(k, i++, n); KARG(k, i++, kk); KARG(k, i++, g->alpha);
        KARG(k, i++, g->a.buf); KARG(k, i++, ao); KARG(k, i++, lda); KARG(k, i++, sa);
        KARG(k, i++, b.buf); KARG(k, i++, bo); KARG(k, i++, ldb); KARG(k, i++, sb);
        KARG(k, i++, pstride); KARG(k, i++, beta);
        KARG(k, i++, g->c.buf); KARG(k, i++, co); KARG(k, i++, ldc); KARG(k, i++, sc);
        CL_TRY(clcdd_enqueue(ctx, k, 3, global, local),
               "own GEMM %zux%zux%zu (batch %zu, %s) on %s", g->m, g->n, g->k, g->batch, opts,
               ctx->dev.name);
        if (g->k == 0) break;
    }
    return CLCDD_OK;
}

clcdd_status clcdd_gemm_own_with(clcdd_ctx *ctx, const clcdd_gemm_args *g,
                                 const clcdd_gemm_params *p, int pack) {
    size_t rn = (size_t)p->vw * p->nv;
    /* Streaming B row-major crosses a page every k step once rows are a few KB long; packing is
     * O(n k) against O(m n k), so it pays for itself unless m is small. */
    if (!pack && !g->tb && g->n % rn == 0 && (g->m < PACK_MIN_M || g->n * sizeof(float) < 1024))
        return clcdd_gemm_own_tiles(ctx, g, p, 0, g->b, g->stride_b);
    clcdd_gemm_own_state *o = NULL;
    TRY(clcdd_gemm_own_state_get(ctx, &o));
    size_t panels = (g->n + rn - 1) / rn, per = 0, bytes = 0;
    if (!clcdd_mul_size(panels * rn, g->k, &per) || !clcdd_mul_size(per, g->batch, &bytes) ||
        !clcdd_mul_size(bytes, sizeof(float), &bytes))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "own GEMM: packing buffer size overflows");
    TRY(ensure_scratch(ctx, &o->scratch, &o->scratch_bytes, bytes));
    TRY(clcdd_gemm_own_pack(ctx, p, g->tb, g->n, g->k, g->b, g->stride_b, g->batch, o->scratch, per));
    clcdd_matrix pb = {o->scratch, 0, rn};
    return clcdd_gemm_own_tiles(ctx, g, p, 1, pb, per);
}

clcdd_status clcdd_gemm_own(clcdd_ctx *ctx, const clcdd_gemm_args *g) {
    clcdd_gemm_params p = clcdd_gemm_own_params(ctx, g);
    return clcdd_gemm_own_with(ctx, g, &p, 0);
}

/* ---- packed weights ------------------------------------------------------------------------ */

static clcdd_status alloc_panels(clcdd_ctx *ctx, size_t n, size_t k, size_t rn, cl_mem *out,
                                 size_t *total) {
    size_t bytes = 0;
    if (!clcdd_mul_size((n + rn - 1) / rn * rn, k, &bytes) ||
        !clcdd_mul_size(bytes, sizeof(float), &bytes))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "packed weight %zux%zu overflows", n, k);
    if (bytes > ctx->dev.max_alloc_bytes)
        return clcdd_fail(CLCDD_ERR_DEVICE_MEMORY,
                          "packed weight of %zu bytes exceeds the max allocation of %s", bytes,
                          ctx->dev.name);
    cl_int err = CL_SUCCESS;
    *out = clcdd_ctx_create_buffer(ctx, bytes, &err);
    if (err != CL_SUCCESS)
        return clcdd_cl_fail(err, "allocating a packed %zux%zu weight (%zu bytes)", n, k, bytes);
    *total += bytes;
    return CLCDD_OK;
}

clcdd_status clcdd_packed_weight_create(clcdd_ctx *ctx, clcdd_matrix w, size_t out, size_t in,
                                        int flags, clcdd_packed_weight *pw) {
    memset(pw, 0, sizeof *pw);
    pw->out = out;
    pw->in = in;
    pw->w = w;
    if (out == 0 || in == 0) return CLCDD_OK;
    TRY(clcdd_gemm_check_matrix("W", w, out, in, 0, 1));
    clcdd_gemm_state *g = NULL;
    TRY(clcdd_gemm_state_get(ctx, &g));
    if (!g->checked && g->forced == CLCDD_GEMM_AUTO) TRY(clcdd_gemm_self_check(ctx, NULL));
    /* Problems with this weight: m unknown; a typical batch of tokens stands for it. */
    clcdd_gemm_args a = {.ta = 0, .tb = 1, .m = 512, .n = out, .k = in, .batch = 1};
    clcdd_gemm_backend be = g->forced != CLCDD_GEMM_AUTO ? g->forced
                                                          : clcdd_gemm_own_choose(ctx, g, &a);
    if (be != CLCDD_GEMM_OWN) return CLCDD_OK; /* no packed copy: the products use w */
    pw->params = clcdd_gemm_own_params(ctx, &a);
    size_t rn = (size_t)pw->params.vw * pw->params.nv;
    clcdd_status st = CLCDD_OK;
    if (flags & CLCDD_PACK_FORWARD) st = alloc_panels(ctx, out, in, rn, &pw->packed, &pw->bytes);
    if (!st && (flags & CLCDD_PACK_BACKWARD))
        st = alloc_panels(ctx, in, out, rn, &pw->packed_bwd, &pw->bytes);
    if (!st) st = clcdd_packed_weight_update(ctx, pw);
    if (st) clcdd_packed_weight_destroy(pw);
    return st;
}

clcdd_status clcdd_packed_weight_update(clcdd_ctx *ctx, clcdd_packed_weight *pw) {
    if (pw->packed)
        TRY(clcdd_gemm_own_pack(ctx, &pw->params, 1, pw->out, pw->in, pw->w, 0, 1, pw->packed, 0));
    if (pw->packed_bwd)
        TRY(clcdd_gemm_own_pack(ctx, &pw->params, 0, pw->in, pw->out, pw->w, 0, 1, pw->packed_bwd,
                                0));
    return CLCDD_OK;
}

void clcdd_packed_weight_destroy(clcdd_packed_weight *pw) {
    if (pw->packed) clReleaseMemObject(pw->packed);
    if (pw->packed_bwd) clReleaseMemObject(pw->packed_bwd);
    memset(pw, 0, sizeof *pw);
}

static clcdd_status packed_product(clcdd_ctx *ctx, const char *what, size_t m, size_t n, size_t k,
                                   float alpha, clcdd_matrix x, const clcdd_packed_weight *w,
                                   cl_mem panels, float beta, clcdd_matrix y) {
    if (m == 0 || n == 0) return CLCDD_OK;
    if (x.ld < k || y.ld < n)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "%s: leading dimensions %zu (input) and %zu (output) below %zu and %zu",
                          what, x.ld, y.ld, k, n);
    TRY(clcdd_gemm_check_matrix("input", x, m, k, 0, 1));
    TRY(clcdd_gemm_check_matrix("output", y, m, n, 0, 1));
    clcdd_gemm_args g = {.ta = 0, .tb = 0, .m = m, .n = n, .k = k, .alpha = alpha, .a = x,
                         .beta = beta, .c = y, .batch = 1};
    clcdd_matrix pb = {panels, 0, (size_t)w->params.vw * w->params.nv};
    return clcdd_gemm_own_tiles(ctx, &g, &w->params, 1, pb, 0);
}

clcdd_status clcdd_gemm_packed(clcdd_ctx *ctx, size_t m, float alpha, clcdd_matrix x,
                               const clcdd_packed_weight *w, float beta, clcdd_matrix y) {
    if (!w->packed)
        return clcdd_gemm(ctx, CLCDD_NO_TRANS, CLCDD_TRANS, m, w->out, w->in, alpha, x, w->w, beta,
                          y);
    return packed_product(ctx, "packed GEMM", m, w->out, w->in, alpha, x, w, w->packed, beta, y);
}

clcdd_status clcdd_gemm_packed_backward(clcdd_ctx *ctx, size_t m, float alpha, clcdd_matrix dy,
                                        const clcdd_packed_weight *w, float beta,
                                        clcdd_matrix dx) {
    if (!w->packed_bwd)
        return clcdd_gemm(ctx, CLCDD_NO_TRANS, CLCDD_NO_TRANS, m, w->in, w->out, alpha, dy, w->w,
                          beta, dx);
    return packed_product(ctx, "packed backward GEMM", m, w->in, w->out, alpha, dy, w, w->packed_bwd,
                          beta, dx);
}
