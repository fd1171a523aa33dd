#include "runtime/arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx_internal.h"

void clcdd_arena_init(clcdd_arena *a, const char *what) {
    memset(a, 0, sizeof *a);
    snprintf(a->what, sizeof a->what, "%s", what ? what : "tensors");
}

clcdd_status clcdd_arena_add(clcdd_arena *a, const char *name, clcdd_dtype dtype, int ndim,
                             const int64_t *shape, size_t *slot) {
    if (a->chunks)
        return clcdd_fail(CLCDD_ERR_INTERNAL, "%s: cannot add %s after allocation", a->what, name);
    if (ndim < 0 || ndim > CLCDD_MAX_DIMS)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: %s has %d dims", a->what, name, ndim);
    size_t bytes = clcdd_dtype_size(dtype);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0 || !clcdd_mul_size(bytes, (size_t)shape[i], &bytes))
            return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: %s has an invalid shape", a->what,
                              name);
    if (a->n_slots == a->cap_slots) {
        size_t cap = a->cap_slots ? a->cap_slots * 2 : 64;
        clcdd_arena_slot *g = realloc(a->slots, cap * sizeof *g);
        if (!g) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: size table", a->what);
        a->slots = g;
        a->cap_slots = cap;
    }
    clcdd_arena_slot *s = &a->slots[a->n_slots];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->dtype = dtype;
    s->ndim = ndim;
    for (int i = 0; i < ndim; i++) s->shape[i] = shape[i];
    s->bytes = bytes;
    *slot = a->n_slots++;
    return CLCDD_OK;
}

clcdd_status clcdd_arena_alloc(clcdd_ctx *ctx, clcdd_arena *a, int zero) {
    if (a->chunks) return CLCDD_OK;
    size_t align = ctx->dev.base_align_bytes < 64 ? 64 : ctx->dev.base_align_bytes;
    size_t limit = (size_t)ctx->dev.max_alloc_bytes;
    /* Greedy packing in plan order: start a new buffer when the next tensor does not fit. */
    size_t n_chunks = 0, cur = 0, total = 0;
    size_t *sizes = calloc(a->n_slots + 1, sizeof *sizes);
    if (!sizes) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: size table", a->what);
    for (size_t i = 0; i < a->n_slots; i++) {
        clcdd_arena_slot *s = &a->slots[i];
        size_t b = (s->bytes + align - 1) / align * align;
        if (b == 0) b = align;
        if (b > limit) {
            free(sizes);
            return clcdd_fail(CLCDD_ERR_DEVICE_MEMORY,
                              "%s: %s needs %zu bytes in one buffer but device '%s' allows %zu; "
                              "use a smaller batch/sequence or a device with more memory",
                              a->what, s->name, s->bytes, ctx->dev.name, limit);
        }
        if (n_chunks == 0 || cur + b > limit) {
            if (n_chunks) sizes[n_chunks - 1] = cur;
            n_chunks++;
            cur = 0;
        }
        s->chunk = n_chunks - 1;
        s->offset = cur;
        cur += b;
        total += b;
    }
    if (n_chunks) sizes[n_chunks - 1] = cur;
    a->chunks = calloc(n_chunks ? n_chunks : 1, sizeof(cl_mem));
    a->chunk_bytes = sizes;
    if (!a->chunks) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: buffers", a->what);
    a->n_chunks = n_chunks;
    a->total_bytes = total;
    for (size_t c = 0; c < n_chunks; c++) {
        cl_int err = CL_SUCCESS;
        a->chunks[c] = clcdd_ctx_create_buffer(ctx, sizes[c], &err);
        if (err != CL_SUCCESS) {
            clcdd_status st = clcdd_cl_fail(err, "allocating %s (%zu MiB in %zu buffers) on %s",
                                            a->what, total >> 20, n_chunks, ctx->dev.name);
            clcdd_arena_free(a);
            return st;
        }
    }
    if (zero) TRY(clcdd_arena_zero(ctx, a));
    return CLCDD_OK;
}

clcdd_tensor clcdd_arena_view(const clcdd_arena *a, size_t slot) {
    clcdd_tensor t;
    memset(&t, 0, sizeof t);
    if (!a->chunks || slot >= a->n_slots) return t;
    const clcdd_arena_slot *s = &a->slots[slot];
    t.buf = a->chunks[s->chunk];
    t.offset = s->offset;
    t.dtype = s->dtype;
    t.ndim = s->ndim;
    for (int i = 0; i < s->ndim; i++) t.shape[i] = s->shape[i];
    t.owns = 0;
    return t;
}

clcdd_status clcdd_arena_zero(clcdd_ctx *ctx, clcdd_arena *a) {
    for (size_t c = 0; c < a->n_chunks; c++) {
        cl_float z = 0.0f;
        CL_TRY(clEnqueueFillBuffer(ctx->queue, a->chunks[c], &z, sizeof z, 0, a->chunk_bytes[c], 0,
                                   NULL, NULL),
               "zeroing %s", a->what);
    }
    return CLCDD_OK;
}

void clcdd_arena_free(clcdd_arena *a) {
    for (size_t c = 0; c < a->n_chunks; c++)
        if (a->chunks[c]) clReleaseMemObject(a->chunks[c]);
    free(a->chunks);
    free(a->chunk_bytes);
    free(a->slots);
    char what[64];
    memcpy(what, a->what, sizeof what);
    memset(a, 0, sizeof *a);
    memcpy(a->what, what, sizeof what);
}
