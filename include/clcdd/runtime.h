/* clcdd runtime: OpenCL devices, contexts, tensors.
 *
 * Dimension conventions used throughout clcdd: tensors are row-major, shape[0] slowest.
 * All model state lives in device buffers; the host touches it only to load, save and print. */
#ifndef CLCDD_RUNTIME_H
#define CLCDD_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include "clcdd/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Devices ---------------------------------------------------------------------------- */

/* Capability record of one OpenCL device, filled by querying it (never by vendor names). */
typedef struct clcdd_device_info {
    int index;                   /* position in clcdd_list_devices order */
    int platform_index;          /* which platform (ICD) it came from */
    cl_platform_id platform;
    cl_device_id device;
    char name[256];
    char vendor[128];
    char platform_name[128];
    char platform_version[128];
    char driver_version[128];
    char device_version[128];    /* "OpenCL 3.0 ..." */
    char opencl_c_version[128];  /* "OpenCL C 1.2 ..." */
    int opencl_c_major, opencl_c_minor;
    int is_gpu, is_cpu, is_accelerator;
    uint32_t compute_units;
    uint32_t max_clock_mhz;
    uint64_t global_mem_bytes;
    uint64_t local_mem_bytes;
    uint64_t max_alloc_bytes;
    uint32_t base_align_bytes;   /* CL_DEVICE_MEM_BASE_ADDR_ALIGN converted from bits to bytes */
    size_t max_work_group_size;
    uint32_t preferred_vector_width_float;
    int has_fp16;                /* cl_khr_fp16 */
    int has_fp64;                /* cl_khr_fp64 */
    int has_subgroups;           /* cl_khr_subgroups or cl_intel_subgroups */
    int unified_memory;          /* CL_DEVICE_HOST_UNIFIED_MEMORY */
} clcdd_device_info;

/* Enumerate every device of every platform. *out is malloc'd (free with clcdd_free_devices).
 * With no platform installed returns CLCDD_ERR_NO_PLATFORM and a message saying what to install. */
CLCDD_API clcdd_status clcdd_list_devices(clcdd_device_info **out, size_t *count);
CLCDD_API void clcdd_free_devices(clcdd_device_info *devices);

/* Pick a device: `selector` is a decimal index or a case-insensitive name substring; NULL or ""
 * means the environment variable CLCDD_DEVICE, and if that is unset, the first GPU, else the
 * first device. */
CLCDD_API clcdd_status clcdd_select_device(const char *selector, clcdd_device_info *out);

/* Pick several devices for data-parallel training: `list` is `all` or comma-separated items, each
 * a decimal index (one device) or a case-insensitive name substring (every device whose name or
 * platform name contains it, in clcdd_list_devices order). A device picked twice, an index out of
 * range or an item that matches nothing is CLCDD_ERR_NO_DEVICE with a message naming the item.
 * *out (malloc'd, free()) receives the device indices in the order given. */
CLCDD_API clcdd_status clcdd_select_devices(const char *list, int **out, size_t *count);

/* ---- Context ---------------------------------------------------------------------------- */

/* A device with its OpenCL context, in-order queue, built programs, GEMM state and RNG seed.
 * Not thread-safe: use one context per thread. */
typedef struct clcdd_ctx clcdd_ctx;

typedef struct clcdd_ctx_options {
    const char *device;        /* selector as in clcdd_select_device (NULL: default rules) */
    int no_kernel_cache;       /* 1: never read or write the on-disk program cache */
    const char *cache_dir;     /* NULL: $XDG_CACHE_HOME/clcdd, else ~/.cache/clcdd */
    int enable_profiling;      /* 1: kernel timing (clcdd_ctx_profile); also CLCDD_PROFILE=1 */
} clcdd_ctx_options;

CLCDD_API clcdd_status clcdd_ctx_create(const clcdd_ctx_options *opts, clcdd_ctx **out);
CLCDD_API void clcdd_ctx_destroy(clcdd_ctx *ctx);
/* One context per device of clcdd_select_devices(list) (opts->device is ignored). *out is a
 * malloc'd array of *count contexts; free it with clcdd_ctx_destroy_many. */
CLCDD_API clcdd_status clcdd_ctx_create_many(const char *list, const clcdd_ctx_options *opts,
                                             clcdd_ctx ***out, size_t *count);
CLCDD_API void clcdd_ctx_destroy_many(clcdd_ctx **ctx, size_t count);
CLCDD_API const clcdd_device_info *clcdd_ctx_device(const clcdd_ctx *ctx);
CLCDD_API cl_context clcdd_ctx_cl_context(const clcdd_ctx *ctx);
CLCDD_API cl_command_queue clcdd_ctx_queue(const clcdd_ctx *ctx);
/* Block until all queued work is done. */
CLCDD_API clcdd_status clcdd_ctx_finish(clcdd_ctx *ctx);

/* Statistics of the program cache since the context was created. */
typedef struct clcdd_cache_stats {
    int programs_built;      /* compiled from source */
    int programs_from_cache; /* loaded as binaries from disk */
    int cache_rejected;      /* corrupt or stale entries found and rebuilt */
} clcdd_cache_stats;
CLCDD_API void clcdd_ctx_cache_stats(const clcdd_ctx *ctx, clcdd_cache_stats *out);

/* Device memory the library holds in this context: bytes of live buffers, the peak since creation
 * (or the last reset) and the number of live buffers. A released buffer counts until the driver
 * frees it (possibly after its queued commands finish), so a peak can only be over-, never
 * under-stated. Buffers made inside CLBlast for its own scratch are not counted. */
typedef struct clcdd_memory_stats {
    uint64_t live_bytes, peak_bytes, buffers;
} clcdd_memory_stats;
CLCDD_API void clcdd_ctx_memory(const clcdd_ctx *ctx, clcdd_memory_stats *out);
/* Start a new peak measurement from the current live bytes. */
CLCDD_API void clcdd_ctx_memory_reset_peak(clcdd_ctx *ctx);

/* Kernel timing, on when the context was created with enable_profiling or with CLCDD_PROFILE=1
 * in the environment: device time per kernel function summed over its launches since creation
 * (or the last reset), longest first. Fills up to cap entries, *n = the number of kernels. Waits
 * for queued work. Launches made inside CLBlast are not included. */
typedef struct clcdd_kernel_time {
    char name[64];
    uint64_t launches;
    double seconds;
} clcdd_kernel_time;
CLCDD_API clcdd_status clcdd_ctx_profile(clcdd_ctx *ctx, clcdd_kernel_time *out, size_t cap, size_t *n);
CLCDD_API void clcdd_ctx_profile_reset(clcdd_ctx *ctx);

/* Build (or load from cache) every embedded kernel file; used by `clcdd doctor`. */
CLCDD_API clcdd_status clcdd_ctx_build_all(clcdd_ctx *ctx);

/* ---- Tensors ---------------------------------------------------------------------------- */

typedef enum clcdd_dtype {
    CLCDD_F32 = 0,
    CLCDD_F16 = 1,
    CLCDD_BF16 = 2,
    CLCDD_I32 = 3,
    CLCDD_U8 = 4
} clcdd_dtype;

CLCDD_API size_t clcdd_dtype_size(clcdd_dtype dtype);
CLCDD_API const char *clcdd_dtype_name(clcdd_dtype dtype);

#define CLCDD_MAX_DIMS 4

/* A view into a device buffer. A tensor created by clcdd_tensor_create owns its buffer; a view
 * (clcdd_tensor_view) shares it and must not outlive the owner. */
typedef struct clcdd_tensor {
    cl_mem buf;
    size_t offset;                  /* in bytes from the start of buf */
    clcdd_dtype dtype;
    int ndim;
    int64_t shape[CLCDD_MAX_DIMS];
    int owns;                       /* 1: clcdd_tensor_destroy releases buf */
} clcdd_tensor;

CLCDD_API int64_t clcdd_tensor_numel(const clcdd_tensor *t);
CLCDD_API size_t clcdd_tensor_bytes(const clcdd_tensor *t);

/* Allocate an uninitialised device tensor. Fails with CLCDD_ERR_DEVICE_MEMORY (naming `what`)
 * if the size exceeds the device's max allocation or the allocation fails. */
CLCDD_API clcdd_status clcdd_tensor_create(clcdd_ctx *ctx, clcdd_dtype dtype, int ndim,
                                           const int64_t *shape, const char *what,
                                           clcdd_tensor *out);
CLCDD_API void clcdd_tensor_destroy(clcdd_tensor *t);
/* A view of `ndim`/`shape` starting `elem_offset` elements into `base` (bounds-checked). */
CLCDD_API clcdd_status clcdd_tensor_view(const clcdd_tensor *base, int64_t elem_offset, int ndim,
                                         const int64_t *shape, clcdd_tensor *out);

/* Blocking host <-> device copies of the whole tensor (bytes = clcdd_tensor_bytes). */
CLCDD_API clcdd_status clcdd_tensor_upload(clcdd_ctx *ctx, clcdd_tensor *t, const void *host);
CLCDD_API clcdd_status clcdd_tensor_download(clcdd_ctx *ctx, const clcdd_tensor *t, void *host);
/* Fill an F32 tensor with a value. */
CLCDD_API clcdd_status clcdd_tensor_fill(clcdd_ctx *ctx, clcdd_tensor *t, float value);
/* dst = src, converting F16/BF16/F32 -> F32 on the device when dtypes differ (same numel). */
CLCDD_API clcdd_status clcdd_tensor_copy(clcdd_ctx *ctx, clcdd_tensor *dst, const clcdd_tensor *src);

#ifdef __cplusplus
}
#endif
#endif
