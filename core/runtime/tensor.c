/* Device tensors: allocation, views, host transfers, fill and cast-copy. */
#include <stdlib.h>
#include <string.h>

#include "ctx_internal.h"

size_t clcdd_dtype_size(clcdd_dtype dtype) {
    switch (dtype) {
    case CLCDD_F32: return 4;
    case CLCDD_F16: return 2;
    case CLCDD_BF16: return 2;
    case CLCDD_I32: return 4;
    case CLCDD_U8: return 1;
    }
    return 0;
}

const char *clcdd_dtype_name(clcdd_dtype dtype) {
    switch (dtype) {
    case CLCDD_F32: return "f32";
    case CLCDD_F16: return "f16";
    case CLCDD_BF16: return "bf16";
    case CLCDD_I32: return "i32";
    case CLCDD_U8: return "u8";
    }
    return "?";
}

int64_t clcdd_tensor_numel(const clcdd_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t clcdd_tensor_bytes(const clcdd_tensor *t) {
    return (size_t)clcdd_tensor_numel(t) * clcdd_dtype_size(t->dtype);
}

static clcdd_status check_shape(int ndim, const int64_t *shape, size_t esize, size_t *bytes,
                                const char *what) {
    if (ndim < 0 || ndim > CLCDD_MAX_DIMS)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: %d dimensions (at most %d)", what, ndim,
                          CLCDD_MAX_DIMS);
    size_t n = esize;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || !clcdd_mul_size(n, (size_t)shape[i], &n))
            return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: invalid or overflowing shape", what);
    }
    *bytes = n;
    return CLCDD_OK;
}

clcdd_status clcdd_tensor_create(clcdd_ctx *ctx, clcdd_dtype dtype, int ndim, const int64_t *shape,
                                 const char *what, clcdd_tensor *out) {
    memset(out, 0, sizeof *out);
    if (!what) what = "tensor";
    size_t bytes = 0;
    TRY(check_shape(ndim, shape, clcdd_dtype_size(dtype), &bytes, what));
    if (bytes > ctx->dev.max_alloc_bytes)
        return clcdd_fail(CLCDD_ERR_DEVICE_MEMORY,
                          "%s needs %zu bytes in one buffer but device '%s' allows at most %llu; "
                          "use a smaller batch or model, or a device with more memory (PoCL: "
                          "POCL_MEMORY_LIMIT raises its cap)",
                          what, bytes, ctx->dev.name, (unsigned long long)ctx->dev.max_alloc_bytes);
    cl_int err = CL_SUCCESS;
    /* OpenCL forbids zero-sized buffers; an empty tensor still gets a minimal one. */
    out->buf = clcdd_ctx_create_buffer(ctx, bytes ? bytes : 4, &err);
    if (err != CL_SUCCESS)
        return clcdd_cl_fail(err, "allocating %s (%zu bytes) on %s", what, bytes, ctx->dev.name);
    out->dtype = dtype;
    out->ndim = ndim;
    for (int i = 0; i < ndim; i++) out->shape[i] = shape[i];
    out->owns = 1;
    return CLCDD_OK;
}

void clcdd_tensor_destroy(clcdd_tensor *t) {
    if (!t) return;
    if (t->owns && t->buf) clReleaseMemObject(t->buf);
    memset(t, 0, sizeof *t);
}

clcdd_status clcdd_tensor_view(const clcdd_tensor *base, int64_t elem_offset, int ndim,
                               const int64_t *shape, clcdd_tensor *out) {
    size_t esize = clcdd_dtype_size(base->dtype), bytes = 0;
    TRY(check_shape(ndim, shape, esize, &bytes, "tensor view"));
    size_t base_bytes = clcdd_tensor_bytes(base), off = 0, end = 0;
    if (elem_offset < 0 || !clcdd_mul_size((size_t)elem_offset, esize, &off) ||
        !clcdd_add_size(off, bytes, &end) || end > base_bytes)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "tensor view [%lld, +%zu bytes) exceeds its base of %zu bytes",
                          (long long)elem_offset, bytes, base_bytes);
    memset(out, 0, sizeof *out);
    out->buf = base->buf;
    out->offset = base->offset + off;
    out->dtype = base->dtype;
    out->ndim = ndim;
    for (int i = 0; i < ndim; i++) out->shape[i] = shape[i];
    out->owns = 0;
    return CLCDD_OK;
}

clcdd_status clcdd_tensor_upload(clcdd_ctx *ctx, clcdd_tensor *t, const void *host) {
    size_t bytes = clcdd_tensor_bytes(t);
    if (bytes == 0) return CLCDD_OK;
    CL_TRY(clEnqueueWriteBuffer(ctx->queue, t->buf, CL_TRUE, t->offset, bytes, host, 0, NULL, NULL),
           "uploading %zu bytes to %s", bytes, ctx->dev.name);
    return CLCDD_OK;
}

clcdd_status clcdd_tensor_download(clcdd_ctx *ctx, const clcdd_tensor *t, void *host) {
    size_t bytes = clcdd_tensor_bytes(t);
    if (bytes == 0) return CLCDD_OK;
    CL_TRY(clEnqueueReadBuffer(ctx->queue, t->buf, CL_TRUE, t->offset, bytes, host, 0, NULL, NULL),
           "downloading %zu bytes from %s", bytes, ctx->dev.name);
    return CLCDD_OK;
}

clcdd_status clcdd_tensor_fill(clcdd_ctx *ctx, clcdd_tensor *t, float value) {
    if (t->dtype != CLCDD_F32)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "fill needs an f32 tensor, got %s",
                          clcdd_dtype_name(t->dtype));
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "elementwise", "", "fill_f32", &k));
    cl_ulong off = t->offset / 4, n = (cl_ulong)clcdd_tensor_numel(t);
    KARG(k, 0, t->buf);
    KARG(k, 1, off);
    KARG(k, 2, value);
    KARG(k, 3, n);
    return clcdd_launch_1d(ctx, k, (size_t)n, "fill_f32");
}

clcdd_status clcdd_tensor_copy(clcdd_ctx *ctx, clcdd_tensor *dst, const clcdd_tensor *src) {
    int64_t n = clcdd_tensor_numel(src);
    if (n != clcdd_tensor_numel(dst))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "copy: %lld elements into %lld",
                          (long long)n, (long long)clcdd_tensor_numel(dst));
    if (dst->dtype == src->dtype) {
        size_t bytes = clcdd_tensor_bytes(src);
        if (bytes == 0) return CLCDD_OK;
        CL_TRY(clEnqueueCopyBuffer(ctx->queue, src->buf, dst->buf, src->offset, dst->offset, bytes,
                                   0, NULL, NULL),
               "copying %zu bytes on %s", bytes, ctx->dev.name);
        return CLCDD_OK;
    }
    const char *kname = NULL;
    size_t es = clcdd_dtype_size(src->dtype);
    if (dst->dtype == CLCDD_F32 && src->dtype == CLCDD_F16) kname = "cast_f16_f32";
    if (dst->dtype == CLCDD_F32 && src->dtype == CLCDD_BF16) kname = "cast_bf16_f32";
    if (!kname)
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "copy from %s to %s is not supported",
                          clcdd_dtype_name(src->dtype), clcdd_dtype_name(dst->dtype));
    if (src->offset % es != 0)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "copy: misaligned source offset");
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "elementwise", "", kname, &k));
    cl_ulong yoff = dst->offset / 4, xoff = src->offset / es, un = (cl_ulong)n;
    KARG(k, 0, dst->buf);
    KARG(k, 1, yoff);
    KARG(k, 2, src->buf);
    KARG(k, 3, xoff);
    KARG(k, 4, un);
    return clcdd_launch_1d(ctx, k, (size_t)n, kname);
}
