#include "nn/basic.h"

#include "runtime/ctx_internal.h"

static clcdd_status need_f32(const clcdd_tensor *t, const char *op) {
    if (t->dtype != CLCDD_F32 || t->offset % 4 != 0)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s needs aligned f32 tensors, got %s", op,
                          clcdd_dtype_name(t->dtype));
    return CLCDD_OK;
}

static clcdd_status same_numel(const clcdd_tensor *a, const clcdd_tensor *b, const char *op) {
    if (clcdd_tensor_numel(a) != clcdd_tensor_numel(b))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: %lld vs %lld elements", op,
                          (long long)clcdd_tensor_numel(a), (long long)clcdd_tensor_numel(b));
    return CLCDD_OK;
}

static clcdd_status binary(clcdd_ctx *ctx, const char *kname, clcdd_tensor *y, const clcdd_tensor *a,
                          const clcdd_tensor *b);

clcdd_status clcdd_mul(clcdd_ctx *ctx, clcdd_tensor *y, const clcdd_tensor *a, const clcdd_tensor *b) {
    return binary(ctx, "mul_f32", y, a, b);
}

clcdd_status clcdd_add(clcdd_ctx *ctx, clcdd_tensor *y, const clcdd_tensor *a, const clcdd_tensor *b) {
    return binary(ctx, "add_f32", y, a, b);
}

static clcdd_status binary(clcdd_ctx *ctx, const char *kname, clcdd_tensor *y, const clcdd_tensor *a,
                          const clcdd_tensor *b) {
    TRY(need_f32(y, "add"));
    TRY(need_f32(a, "add"));
    TRY(need_f32(b, "add"));
    TRY(same_numel(y, a, "add"));
    TRY(same_numel(y, b, "add"));
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "elementwise", "", kname, &k));
    cl_ulong yo = y->offset / 4, ao = a->offset / 4, bo = b->offset / 4;
    cl_ulong n = (cl_ulong)clcdd_tensor_numel(y);
    KARG(k, 0, y->buf);
    KARG(k, 1, yo);
    KARG(k, 2, a->buf);
    KARG(k, 3, ao);
    KARG(k, 4, b->buf);
    KARG(k, 5, bo);
    KARG(k, 6, n);
    return clcdd_launch_1d(ctx, k, (size_t)n, kname);
}

static clcdd_status scale_like(clcdd_ctx *ctx, const char *kname, clcdd_tensor *y,
                               const clcdd_tensor *x, float alpha) {
    TRY(need_f32(y, kname));
    TRY(need_f32(x, kname));
    TRY(same_numel(y, x, kname));
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "elementwise", "", kname, &k));
    cl_ulong yo = y->offset / 4, xo = x->offset / 4, n = (cl_ulong)clcdd_tensor_numel(y);
    KARG(k, 0, y->buf);
    KARG(k, 1, yo);
    KARG(k, 2, x->buf);
    KARG(k, 3, xo);
    KARG(k, 4, alpha);
    KARG(k, 5, n);
    return clcdd_launch_1d(ctx, k, (size_t)n, kname);
}

clcdd_status clcdd_scale(clcdd_ctx *ctx, clcdd_tensor *y, const clcdd_tensor *x, float alpha) {
    return scale_like(ctx, "scale_f32", y, x, alpha);
}

clcdd_status clcdd_axpy(clcdd_ctx *ctx, clcdd_tensor *y, const clcdd_tensor *x, float alpha) {
    return scale_like(ctx, "axpy_f32", y, x, alpha);
}

void clcdd_reduce_geometry(const clcdd_ctx *ctx, size_t n, size_t *groups, size_t *wg,
                           size_t *chunk) {
    size_t w = ctx->wg_reduce;
    /* At most 256 groups, each at least 8 elements per work-item: enough parallelism for large
     * inputs, and a deterministic function of n and the device's limit only. */
    size_t g = (n + w * 8 - 1) / (w * 8);
    if (g > 256) g = 256;
    if (g == 0) g = 1;
    *groups = g;
    *wg = w;
    *chunk = (n + g - 1) / g;
    if (*chunk == 0) *chunk = 1;
}

static clcdd_status reduce(clcdd_ctx *ctx, clcdd_tensor *out, const clcdd_tensor *x, int mode) {
    const char *op = mode ? "sumsq" : "sum";
    TRY(need_f32(out, op));
    TRY(need_f32(x, op));
    if (clcdd_tensor_numel(out) < 1)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: output needs one element", op);
    size_t n = (size_t)clcdd_tensor_numel(x), groups, wg, chunk;
    clcdd_reduce_geometry(ctx, n, &groups, &wg, &chunk);
    clcdd_tensor partial;
    int64_t shape[1] = {(int64_t)groups};
    TRY(clcdd_tensor_create(ctx, CLCDD_F32, 1, shape, "reduction partials", &partial));
    clcdd_status st = CLCDD_OK;
    cl_kernel k1, k2;
    cl_ulong xo = x->offset / 4, un = n, uc = chunk, ug = groups, oo = out->offset / 4;
    cl_int m = mode;
    size_t gsize = groups * wg;
    cl_int e = CL_SUCCESS;
    /* CPU devices: contiguous slices per work-item (kernels/reduce.cl, CONTIG). */
    const char *opts = ctx->dev.is_cpu ? "-DCONTIG=1" : "-DCONTIG=0";
    if ((st = clcdd_ctx_kernel(ctx, "reduce", opts, "reduce_partial_f32", &k1)) != CLCDD_OK) goto done;
    if ((st = clcdd_ctx_kernel(ctx, "reduce", opts, "reduce_final_f32", &k2)) != CLCDD_OK) goto done;
    e |= clSetKernelArg(k1, 0, sizeof partial.buf, &partial.buf);
    e |= clSetKernelArg(k1, 1, sizeof x->buf, &x->buf);
    e |= clSetKernelArg(k1, 2, sizeof xo, &xo);
    e |= clSetKernelArg(k1, 3, sizeof un, &un);
    e |= clSetKernelArg(k1, 4, sizeof uc, &uc);
    e |= clSetKernelArg(k1, 5, sizeof m, &m);
    e |= clSetKernelArg(k1, 6, wg * sizeof(float), NULL);
    e |= clSetKernelArg(k2, 0, sizeof out->buf, &out->buf);
    e |= clSetKernelArg(k2, 1, sizeof oo, &oo);
    e |= clSetKernelArg(k2, 2, sizeof partial.buf, &partial.buf);
    e |= clSetKernelArg(k2, 3, sizeof ug, &ug);
    e |= clSetKernelArg(k2, 4, wg * sizeof(float), NULL);
    if (e != CL_SUCCESS) {
        st = clcdd_fail(CLCDD_ERR_OPENCL, "%s: setting kernel arguments failed", op);
        goto done;
    }
    e = clcdd_enqueue(ctx, k1, 1, &gsize, &wg);
    if (e != CL_SUCCESS) {
        st = clcdd_cl_fail(e, "%s: launching reduce_partial_f32", op);
        goto done;
    }
    e = clcdd_enqueue(ctx, k2, 1, &wg, &wg);
    if (e != CL_SUCCESS) {
        st = clcdd_cl_fail(e, "%s: launching reduce_final_f32", op);
        goto done;
    }
    /* The partial buffer must live until the kernels ran; releasing it is deferred by OpenCL's
     * reference counting (the enqueued kernels hold it), so no clFinish is needed here. */
done:
    clcdd_tensor_destroy(&partial);
    return st;
}

clcdd_status clcdd_sum(clcdd_ctx *ctx, clcdd_tensor *out, const clcdd_tensor *x) {
    return reduce(ctx, out, x, 0);
}

clcdd_status clcdd_sumsq(clcdd_ctx *ctx, clcdd_tensor *out, const clcdd_tensor *x) {
    return reduce(ctx, out, x, 1);
}

static clcdd_status rng(clcdd_ctx *ctx, const char *kname, clcdd_tensor *y, uint64_t seed,
                        uint64_t counter, float a, float b) {
    TRY(need_f32(y, kname));
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "rng", "", kname, &k));
    cl_ulong yo = y->offset / 4, n = (cl_ulong)clcdd_tensor_numel(y), s = seed, c = counter;
    KARG(k, 0, y->buf);
    KARG(k, 1, yo);
    KARG(k, 2, n);
    KARG(k, 3, s);
    KARG(k, 4, c);
    KARG(k, 5, a);
    KARG(k, 6, b);
    return clcdd_launch_1d(ctx, k, (size_t)n, kname);
}

clcdd_status clcdd_rng_uniform(clcdd_ctx *ctx, clcdd_tensor *y, uint64_t seed, uint64_t counter,
                               float lo, float hi) {
    return rng(ctx, "rng_uniform_f32", y, seed, counter, lo, hi);
}

clcdd_status clcdd_rng_normal(clcdd_ctx *ctx, clcdd_tensor *y, uint64_t seed, uint64_t counter,
                              float mean, float stddev) {
    return rng(ctx, "rng_normal_f32", y, seed, counter, mean, stddev);
}
