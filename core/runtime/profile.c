/* Kernel timing: with profiling on, every launch keeps its event; events are folded into a
 * per-kernel-name table (launch count, summed device time) when the list fills up or when the
 * table is read. Off by default: then clcdd_enqueue is a plain enqueue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx_internal.h"

#define PROF_PENDING 4096

typedef struct prof_entry {
    char name[64];
    uint64_t launches;
    double seconds;
} prof_entry;

struct clcdd_profile {
    cl_event *ev;
    cl_kernel *kern;
    size_t n;
    prof_entry *tab;
    size_t n_tab, cap_tab;
    cl_int error; /* first failure while folding (reported by clcdd_ctx_profile) */
};

clcdd_status clcdd_profile_create(clcdd_ctx *ctx) {
    struct clcdd_profile *p = calloc(1, sizeof *p);
    if (p) {
        p->ev = calloc(PROF_PENDING, sizeof *p->ev);
        p->kern = calloc(PROF_PENDING, sizeof *p->kern);
    }
    if (!p || !p->ev || !p->kern) {
        if (p) free(p->ev), free(p->kern);
        free(p);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "kernel profiling table");
    }
    ctx->prof = p;
    return CLCDD_OK;
}

static prof_entry *entry(struct clcdd_profile *p, const char *name) {
    for (size_t i = 0; i < p->n_tab; i++)
        if (!strcmp(p->tab[i].name, name)) return &p->tab[i];
    if (p->n_tab == p->cap_tab) {
        size_t cap = p->cap_tab ? 2 * p->cap_tab : 64;
        prof_entry *t = realloc(p->tab, cap * sizeof *t);
        if (!t) return NULL;
        p->tab = t;
        p->cap_tab = cap;
    }
    prof_entry *e = &p->tab[p->n_tab++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    return e;
}

static void fold(struct clcdd_profile *p) {
    if (p->n && p->error == CL_SUCCESS) {
        cl_int err = clWaitForEvents((cl_uint)p->n, p->ev);
        if (err != CL_SUCCESS) p->error = err;
    }
    for (size_t i = 0; i < p->n; i++) {
        cl_ulong t0 = 0, t1 = 0;
        char name[64] = "";
        cl_int err = clGetEventProfilingInfo(p->ev[i], CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
        if (err == CL_SUCCESS)
            err = clGetEventProfilingInfo(p->ev[i], CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        if (err == CL_SUCCESS)
            err = clGetKernelInfo(p->kern[i], CL_KERNEL_FUNCTION_NAME, sizeof name - 1, name, NULL);
        if (err == CL_SUCCESS) {
            prof_entry *e = entry(p, name);
            if (e) {
                e->launches++;
                e->seconds += t1 > t0 ? 1e-9 * (double)(t1 - t0) : 0.0;
            }
        } else if (p->error == CL_SUCCESS) {
            p->error = err;
        }
        clReleaseEvent(p->ev[i]);
    }
    p->n = 0;
}

void clcdd_profile_free(clcdd_ctx *ctx) {
    struct clcdd_profile *p = ctx->prof;
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) clReleaseEvent(p->ev[i]);
    free(p->ev);
    free(p->kern);
    free(p->tab);
    free(p);
    ctx->prof = NULL;
}

cl_int clcdd_enqueue(clcdd_ctx *ctx, cl_kernel k, cl_uint dim, const size_t *global,
                     const size_t *local) {
    struct clcdd_profile *p = ctx->prof;
    if (!p) return clEnqueueNDRangeKernel(ctx->queue, k, dim, NULL, global, local, 0, NULL, NULL);
    if (p->n == PROF_PENDING) fold(p);
    cl_event ev = NULL;
    cl_int err = clEnqueueNDRangeKernel(ctx->queue, k, dim, NULL, global, local, 0, NULL, &ev);
    if (err == CL_SUCCESS && ev) {
        p->ev[p->n] = ev;
        p->kern[p->n] = k;
        p->n++;
    }
    return err;
}

static int by_time(const void *a, const void *b) {
    double x = ((const prof_entry *)a)->seconds, y = ((const prof_entry *)b)->seconds;
    return x < y ? 1 : x > y ? -1 : 0;
}

clcdd_status clcdd_ctx_profile(clcdd_ctx *ctx, clcdd_kernel_time *out, size_t cap, size_t *n) {
    *n = 0;
    struct clcdd_profile *p = ctx->prof;
    if (!p)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "kernel profiling is off: create the context with enable_profiling or "
                          "set CLCDD_PROFILE=1");
    fold(p);
    if (p->error != CL_SUCCESS)
        return clcdd_cl_fail(p->error, "reading kernel profiling events on %s", ctx->dev.name);
    qsort(p->tab, p->n_tab, sizeof *p->tab, by_time);
    for (size_t i = 0; i < p->n_tab && i < cap; i++) {
        memcpy(out[i].name, p->tab[i].name, sizeof out[i].name);
        out[i].launches = p->tab[i].launches;
        out[i].seconds = p->tab[i].seconds;
    }
    *n = p->n_tab;
    return CLCDD_OK;
}

void clcdd_ctx_profile_reset(clcdd_ctx *ctx) {
    struct clcdd_profile *p = ctx->prof;
    if (!p) return;
    fold(p);
    p->n_tab = 0;
    p->error = CL_SUCCESS;
}
