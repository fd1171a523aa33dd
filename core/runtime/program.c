/* Program build with an on-disk binary cache.
 *
 * Cache entries live in <cache_dir>/<key>.clbin where key is a 128-bit hash of the cache format
 * version, the kernel source, the build options, the device name, the driver version and the
 * platform version. An entry is: magic "CLCDDBIN", u32 format version, u32 reserved, u64 key hi,
 * u64 key lo, u64 payload length, u64 FNV-1a of the payload, payload (the device binary).
 * Anything that does not match is ignored, counted as rejected, and rebuilt. Entries are written
 * to a temporary file and renamed, so concurrent processes never see half a file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx_internal.h"

#define CACHE_FORMAT_VERSION 1u
static const char cache_magic[8] = {'C', 'L', 'C', 'D', 'D', 'B', 'I', 'N'};

static const struct clcdd_embedded_source *find_source(const char *file) {
    for (size_t i = 0; i < clcdd_embedded_source_count; i++)
        if (strcmp(clcdd_embedded_sources[i].name, file) == 0) return &clcdd_embedded_sources[i];
    return NULL;
}

static void cache_key(const clcdd_ctx *ctx, const struct clcdd_embedded_source *src,
                      const char *options, uint64_t key[2]) {
    for (int h = 0; h < 2; h++) {
        uint64_t v = CLCDD_FNV_SEED ^ (uint64_t)(h * 0x9e3779b97f4a7c15ULL);
        uint32_t ver = CACHE_FORMAT_VERSION;
        v = clcdd_fnv1a64(&ver, sizeof ver, v);
        v = clcdd_fnv1a64(src->text, src->len, v);
        v = clcdd_fnv1a64("\0", 1, v);
        v = clcdd_fnv1a64(options, strlen(options) + 1, v);
        v = clcdd_fnv1a64(ctx->dev.name, strlen(ctx->dev.name) + 1, v);
        v = clcdd_fnv1a64(ctx->dev.driver_version, strlen(ctx->dev.driver_version) + 1, v);
        v = clcdd_fnv1a64(ctx->dev.platform_version, strlen(ctx->dev.platform_version) + 1, v);
        key[h] = v;
    }
}

static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

#define CACHE_HEADER 48

/* Returns a program built from a cached binary, or NULL if there is no usable entry. */
static cl_program cache_load(clcdd_ctx *ctx, const char *path, const uint64_t key[2],
                             const char *build_opts) {
    char *data = NULL;
    size_t len = 0;
    if (clcdd_read_file(path, &data, &len) != CLCDD_OK) {
        clcdd_clear_error();
        return NULL; /* no entry */
    }
    const unsigned char *p = (const unsigned char *)data;
    int ok = len >= CACHE_HEADER && memcmp(p, cache_magic, 8) == 0 &&
             (p[8] | p[9] << 8 | p[10] << 16 | (uint32_t)p[11] << 24) == CACHE_FORMAT_VERSION &&
             get_u64(p + 16) == key[0] && get_u64(p + 24) == key[1] &&
             get_u64(p + 32) == len - CACHE_HEADER &&
             get_u64(p + 40) == clcdd_fnv1a64(p + CACHE_HEADER, len - CACHE_HEADER, CLCDD_FNV_SEED);
    cl_program prog = NULL;
    if (ok) {
        size_t blen = len - CACHE_HEADER;
        const unsigned char *bin = p + CACHE_HEADER;
        cl_int bin_status = CL_SUCCESS, err = CL_SUCCESS;
        prog = clCreateProgramWithBinary(ctx->context, 1, &ctx->dev.device, &blen, &bin,
                                         &bin_status, &err);
        if (err != CL_SUCCESS || bin_status != CL_SUCCESS) {
            if (prog) clReleaseProgram(prog);
            prog = NULL;
        } else if (clBuildProgram(prog, 1, &ctx->dev.device, build_opts, NULL, NULL) !=
                   CL_SUCCESS) {
            clReleaseProgram(prog);
            prog = NULL;
        }
    }
    free(data);
    if (!prog) {
        ctx->stats.cache_rejected++;
        clcdd_log(CLCDD_LOG_INFO, "kernel cache entry %s is corrupt or stale; rebuilding", path);
    }
    return prog;
}

static void cache_store(clcdd_ctx *ctx, const char *path, const uint64_t key[2], cl_program prog) {
    size_t blen = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof blen, &blen, NULL) != CL_SUCCESS ||
        blen == 0)
        return;
    unsigned char *buf = malloc(CACHE_HEADER + blen);
    if (!buf) return;
    unsigned char *bin = buf + CACHE_HEADER;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS) {
        free(buf);
        return;
    }
    memcpy(buf, cache_magic, 8);
    uint32_t ver = CACHE_FORMAT_VERSION;
    for (int i = 0; i < 4; i++) buf[8 + i] = (unsigned char)(ver >> (8 * i));
    memset(buf + 12, 0, 4);
    put_u64(buf + 16, key[0]);
    put_u64(buf + 24, key[1]);
    put_u64(buf + 32, blen);
    put_u64(buf + 40, clcdd_fnv1a64(bin, blen, CLCDD_FNV_SEED));
    /* A cache that cannot be written only costs time: log it, never fail the caller. */
    if (clcdd_mkdirs(ctx->cache_dir) != CLCDD_OK ||
        clcdd_write_file_atomic(path, buf, CACHE_HEADER + blen) != CLCDD_OK) {
        clcdd_log(CLCDD_LOG_INFO, "kernel cache not written: %s", clcdd_last_error());
        clcdd_clear_error();
    }
    free(buf);
}

static clcdd_status build_from_source(clcdd_ctx *ctx, const struct clcdd_embedded_source *src,
                                      const char *build_opts, cl_program *out) {
    cl_int err = CL_SUCCESS;
    const char *text = src->text;
    size_t len = src->len;
    cl_program prog = clCreateProgramWithSource(ctx->context, 1, &text, &len, &err);
    CL_TRY(err, "kernels/%s.cl: creating program", src->name);
    err = clBuildProgram(prog, 1, &ctx->dev.device, build_opts, NULL, NULL);
    if (err != CL_SUCCESS) {
        size_t log_len = 0;
        char *log = NULL;
        if (clGetProgramBuildInfo(prog, ctx->dev.device, CL_PROGRAM_BUILD_LOG, 0, NULL,
                                  &log_len) == CL_SUCCESS &&
            (log = calloc(log_len + 1, 1)) != NULL)
            if (clGetProgramBuildInfo(prog, ctx->dev.device, CL_PROGRAM_BUILD_LOG, log_len, log,
                                      NULL) != CL_SUCCESS)
                log[0] = '\0';
        clReleaseProgram(prog);
        clcdd_status st = clcdd_fail(CLCDD_ERR_BUILD,
                                     "kernels/%s.cl failed to build for device '%s' (options '%s'): "
                                     "%s (%d). Build log:\n%s\nThis device's OpenCL compiler rejects "
                                     "the kernel; please report it with `clcdd devices --json`",
                                     src->name, ctx->dev.name, build_opts, clcdd_cl_error_name(err),
                                     (int)err, log && log[0] ? log : "(empty)");
        free(log);
        return st;
    }
    *out = prog;
    ctx->stats.programs_built++;
    return CLCDD_OK;
}

clcdd_status clcdd_ctx_program(clcdd_ctx *ctx, const char *file, const char *options,
                               cl_program *out) {
    if (!options) options = "";
    for (size_t i = 0; i < ctx->n_programs; i++)
        if (strcmp(ctx->programs[i].file, file) == 0 && strcmp(ctx->programs[i].options, options) == 0) {
            *out = ctx->programs[i].program;
            return CLCDD_OK;
        }
    const struct clcdd_embedded_source *src = find_source(file);
    if (!src) return clcdd_fail(CLCDD_ERR_INTERNAL, "no embedded kernel file kernels/%s.cl", file);

    char build_opts[1024];
    snprintf(build_opts, sizeof build_opts, "%s %s",
             (ctx->dev.opencl_c_major > 1 || ctx->dev.opencl_c_minor >= 2) ? "-cl-std=CL1.2" : "",
             options);

    uint64_t key[2];
    char path[1200] = "";
    cl_program prog = NULL;
    if (ctx->cache_dir[0]) {
        cache_key(ctx, src, build_opts, key);
        snprintf(path, sizeof path, "%s/%016llx%016llx.clbin", ctx->cache_dir,
                 (unsigned long long)key[0], (unsigned long long)key[1]);
        prog = cache_load(ctx, path, key, build_opts);
        if (prog) ctx->stats.programs_from_cache++;
    }
    if (!prog) {
        TRY(build_from_source(ctx, src, build_opts, &prog));
        if (ctx->cache_dir[0]) cache_store(ctx, path, key, prog);
    }
    if (ctx->n_programs == ctx->cap_programs) {
        size_t cap = ctx->cap_programs ? 2 * ctx->cap_programs : 16;
        clcdd_program_entry *grown = realloc(ctx->programs, cap * sizeof *grown);
        if (!grown) {
            clReleaseProgram(prog);
            return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "program table");
        }
        ctx->programs = grown;
        ctx->cap_programs = cap;
    }
    clcdd_program_entry *e = &ctx->programs[ctx->n_programs];
    e->file = strdup(file);
    e->options = strdup(options);
    e->program = prog;
    if (!e->file || !e->options) {
        free(e->file);
        free(e->options);
        clReleaseProgram(prog);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "program table");
    }
    ctx->n_programs++;
    *out = prog;
    return CLCDD_OK;
}

clcdd_status clcdd_ctx_kernel(clcdd_ctx *ctx, const char *file, const char *options,
                              const char *name, cl_kernel *out) {
    cl_program prog;
    TRY(clcdd_ctx_program(ctx, file, options, &prog));
    for (size_t i = 0; i < ctx->n_kernels; i++)
        if (ctx->kernels[i].program == prog && strcmp(ctx->kernels[i].name, name) == 0) {
            *out = ctx->kernels[i].kernel;
            return CLCDD_OK;
        }
    cl_int err = CL_SUCCESS;
    cl_kernel k = clCreateKernel(prog, name, &err);
    if (err != CL_SUCCESS)
        return clcdd_cl_fail(err, "kernel %s in kernels/%s.cl", name, file);
    if (ctx->n_kernels == ctx->cap_kernels) {
        size_t cap = ctx->cap_kernels ? 2 * ctx->cap_kernels : 32;
        clcdd_kernel_entry *grown = realloc(ctx->kernels, cap * sizeof *grown);
        if (!grown) {
            clReleaseKernel(k);
            return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "kernel table");
        }
        ctx->kernels = grown;
        ctx->cap_kernels = cap;
    }
    clcdd_kernel_entry *e = &ctx->kernels[ctx->n_kernels];
    e->program = prog;
    e->name = strdup(name);
    e->kernel = k;
    if (!e->name) {
        clReleaseKernel(k);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "kernel table");
    }
    ctx->n_kernels++;
    *out = k;
    return CLCDD_OK;
}

clcdd_status clcdd_ctx_build_all(clcdd_ctx *ctx) {
    for (size_t i = 0; i < clcdd_embedded_source_count; i++) {
        cl_program p;
        TRY(clcdd_ctx_program(ctx, clcdd_embedded_sources[i].name, "", &p));
    }
    return CLCDD_OK;
}

clcdd_status clcdd_launch_1d(clcdd_ctx *ctx, cl_kernel k, size_t n, const char *what) {
    if (n == 0) return CLCDD_OK;
    size_t local = ctx->wg_1d;
    size_t global = (n + local - 1) / local * local;
    CL_TRY(clcdd_enqueue(ctx, k, 1, &global, &local),
           "launching %s over %zu items on %s", what, n, ctx->dev.name);
    return CLCDD_OK;
}

clcdd_status clcdd_launch_2d(clcdd_ctx *ctx, cl_kernel k, const size_t global[2],
                             const size_t *local, const char *what) {
    if (global[0] == 0 || global[1] == 0) return CLCDD_OK;
    CL_TRY(clcdd_enqueue(ctx, k, 2, global, local),
           "launching %s (%zu x %zu) on %s", what, global[0], global[1], ctx->dev.name);
    return CLCDD_OK;
}
