/* Context: one device, its OpenCL context and in-order queue, program/kernel tables. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx_internal.h"

static void pick_cache_dir(const clcdd_ctx_options *opts, char *out, size_t cap) {
    out[0] = '\0';
    const char *env = getenv("CLCDD_KERNEL_CACHE");
    if ((opts && opts->no_kernel_cache) || (env && strcmp(env, "0") == 0)) return;
    if (opts && opts->cache_dir && *opts->cache_dir) {
        snprintf(out, cap, "%s", opts->cache_dir);
        return;
    }
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(out, cap, "%s/clcdd", xdg);
    else if (home && *home)
        snprintf(out, cap, "%s/.cache/clcdd", home);
}

/* Shared by the context and every live buffer (one reference each), so a buffer released after
 * its context still finds its counter; freed with the last reference. */
struct clcdd_mem_counter {
    atomic_uint_fast64_t live, peak, buffers;
    atomic_uint_fast64_t refs;
};

typedef struct mem_record {
    struct clcdd_mem_counter *c;
    uint64_t bytes;
} mem_record;

static void counter_unref(struct clcdd_mem_counter *c) {
    if (atomic_fetch_sub(&c->refs, 1) == 1) free(c);
}

static void CL_CALLBACK buffer_released(cl_mem m, void *user) {
    (void)m;
    mem_record *r = user;
    atomic_fetch_sub(&r->c->live, r->bytes);
    atomic_fetch_sub(&r->c->buffers, 1);
    counter_unref(r->c);
    free(r);
}

cl_mem clcdd_ctx_create_buffer(clcdd_ctx *ctx, size_t bytes, cl_int *err) {
    cl_mem m = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, err);
    if (*err != CL_SUCCESS || !m) return m;
    mem_record *r = malloc(sizeof *r);
    if (!r) return m; /* not counted: the buffer itself is fine */
    r->c = ctx->mem;
    r->bytes = bytes;
    atomic_fetch_add(&r->c->refs, 1);
    if (clSetMemObjectDestructorCallback(m, buffer_released, r) != CL_SUCCESS) {
        counter_unref(r->c);
        free(r);
        return m;
    }
    uint64_t live = atomic_fetch_add(&r->c->live, bytes) + bytes;
    atomic_fetch_add(&r->c->buffers, 1);
    uint64_t peak = atomic_load(&r->c->peak);
    while (live > peak && !atomic_compare_exchange_weak(&r->c->peak, &peak, live)) {
    }
    return m;
}

void clcdd_ctx_memory(const clcdd_ctx *ctx, clcdd_memory_stats *out) {
    out->live_bytes = atomic_load(&ctx->mem->live);
    out->peak_bytes = atomic_load(&ctx->mem->peak);
    out->buffers = atomic_load(&ctx->mem->buffers);
}

void clcdd_ctx_memory_reset_peak(clcdd_ctx *ctx) {
    atomic_store(&ctx->mem->peak, atomic_load(&ctx->mem->live));
}

clcdd_status clcdd_ctx_create(const clcdd_ctx_options *opts, clcdd_ctx **out) {
    *out = NULL;
    clcdd_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "context");
    ctx->mem = calloc(1, sizeof *ctx->mem);
    if (!ctx->mem) {
        free(ctx);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "context");
    }
    atomic_init(&ctx->mem->refs, 1);
    clcdd_status st = clcdd_select_device(opts ? opts->device : NULL, &ctx->dev);
    if (st != CLCDD_OK) {
        counter_unref(ctx->mem);
        free(ctx);
        return st;
    }
    cl_int err = CL_SUCCESS;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->dev.platform,
                                     0};
    ctx->context = clCreateContext(props, 1, &ctx->dev.device, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        st = clcdd_cl_fail(err, "creating an OpenCL context on %s", ctx->dev.name);
        counter_unref(ctx->mem);
        free(ctx);
        return st;
    }
    const char *penv = getenv("CLCDD_PROFILE");
    int profile = (opts && opts->enable_profiling) || (penv && *penv && strcmp(penv, "0") != 0);
    cl_command_queue_properties qp = profile ? CL_QUEUE_PROFILING_ENABLE : 0;
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
    /* clCreateCommandQueue is the OpenCL 1.2 entry point; 2.0+ devices still accept it. */
    ctx->queue = clCreateCommandQueue(ctx->context, ctx->dev.device, qp, &err);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
    if (err != CL_SUCCESS) {
        clReleaseContext(ctx->context);
        st = clcdd_cl_fail(err, "creating a command queue on %s", ctx->dev.name);
        counter_unref(ctx->mem);
        free(ctx);
        return st;
    }
    if (profile && (st = clcdd_profile_create(ctx)) != CLCDD_OK) {
        clReleaseCommandQueue(ctx->queue);
        clReleaseContext(ctx->context);
        counter_unref(ctx->mem);
        free(ctx);
        return st;
    }
    pick_cache_dir(opts, ctx->cache_dir, sizeof ctx->cache_dir);
    /* 1-D element-wise launches: 64 items a group suits GPUs; a CPU runtime runs each group as
     * one loop on one core and pays a fixed cost per group, so it gets large groups. */
    size_t want = ctx->dev.is_cpu ? 1024 : 64;
    ctx->wg_1d = ctx->dev.max_work_group_size >= want ? want : ctx->dev.max_work_group_size;
    size_t r = 256;
    while (r > ctx->dev.max_work_group_size) r /= 2;
    ctx->wg_reduce = r;
    *out = ctx;
    return CLCDD_OK;
}

void clcdd_ctx_destroy(clcdd_ctx *ctx) {
    if (!ctx) return;
    if (ctx->queue) clFinish(ctx->queue);
    clcdd_profile_free(ctx);
    clcdd_gemm_state_free(ctx);
    for (size_t i = 0; i < ctx->n_kernels; i++) {
        clReleaseKernel(ctx->kernels[i].kernel);
        free(ctx->kernels[i].name);
    }
    free(ctx->kernels);
    for (size_t i = 0; i < ctx->n_programs; i++) {
        clReleaseProgram(ctx->programs[i].program);
        free(ctx->programs[i].file);
        free(ctx->programs[i].options);
    }
    free(ctx->programs);
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->context) clReleaseContext(ctx->context);
    counter_unref(ctx->mem);
    free(ctx);
}

const clcdd_device_info *clcdd_ctx_device(const clcdd_ctx *ctx) { return &ctx->dev; }
cl_context clcdd_ctx_cl_context(const clcdd_ctx *ctx) { return ctx->context; }
cl_command_queue clcdd_ctx_queue(const clcdd_ctx *ctx) { return ctx->queue; }

clcdd_status clcdd_ctx_finish(clcdd_ctx *ctx) {
    CL_TRY(clFinish(ctx->queue), "waiting for the queue on %s", ctx->dev.name);
    return CLCDD_OK;
}

void clcdd_ctx_cache_stats(const clcdd_ctx *ctx, clcdd_cache_stats *out) { *out = ctx->stats; }

clcdd_status clcdd_ctx_create_many(const char *list, const clcdd_ctx_options *opts,
                                   clcdd_ctx ***out, size_t *count) {
    *out = NULL;
    *count = 0;
    int *idx = NULL;
    size_t n = 0;
    TRY(clcdd_select_devices(list, &idx, &n));
    clcdd_ctx **c = calloc(n, sizeof *c);
    if (!c) {
        free(idx);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "contexts");
    }
    clcdd_status st = CLCDD_OK;
    for (size_t i = 0; i < n && st == CLCDD_OK; i++) {
        clcdd_ctx_options o;
        memset(&o, 0, sizeof o);
        if (opts) o = *opts;
        char sel[24];
        snprintf(sel, sizeof sel, "%d", idx[i]);
        o.device = sel;
        st = clcdd_ctx_create(&o, &c[i]);
    }
    free(idx);
    if (st != CLCDD_OK) {
        clcdd_ctx_destroy_many(c, n);
        return st;
    }
    *out = c;
    *count = n;
    return CLCDD_OK;
}

void clcdd_ctx_destroy_many(clcdd_ctx **ctx, size_t count) {
    if (!ctx) return;
    for (size_t i = 0; i < count; i++) clcdd_ctx_destroy(ctx[i]);
    free(ctx);
}
