/* Internal helpers shared by core/ and loaders/: error recording, logging, small utilities.
 * Not installed; plugins and applications see only include/clcdd/. */
#ifndef CLCDD_INTERNAL_H
#define CLCDD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "clcdd/status.h"

#if defined(__GNUC__)
#define CLCDD_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLCDD_PRINTF(a, b)
#endif

/* Record a failure message for this thread and return `status`, so callers write
 *   return clcdd_fail(CLCDD_ERR_FORMAT, "%s: header length %llu exceeds file size", path, n); */
clcdd_status clcdd_fail(clcdd_status status, const char *fmt, ...) CLCDD_PRINTF(2, 3);

/* Prepend context to the current thread's message: "loading model X: <previous message>". */
clcdd_status clcdd_fail_context(clcdd_status status, const char *fmt, ...) CLCDD_PRINTF(2, 3);

void clcdd_log(clcdd_log_level level, const char *fmt, ...) CLCDD_PRINTF(2, 3);

/* Overflow-checked size arithmetic: return 0 on overflow, 1 on success. */
static inline int clcdd_mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline int clcdd_add_size(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
static inline int clcdd_mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline int clcdd_add_u64(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

/* FNV-1a 64-bit, used for cache keys and fingerprints (not for security). */
uint64_t clcdd_fnv1a64(const void *data, size_t len, uint64_t seed);
#define CLCDD_FNV_SEED 0xcbf29ce484222325ULL

/* Write `len` bytes to `path` atomically: a temporary file in the same directory, fsync, rename.
 * On failure the previous file (if any) is untouched. */
clcdd_status clcdd_write_file_atomic(const char *path, const void *data, size_t len);

/* Read a whole file into a malloc'd buffer (NUL-terminated for convenience; *len excludes it). */
clcdd_status clcdd_read_file(const char *path, char **data, size_t *len);

/* mkdir -p */
clcdd_status clcdd_mkdirs(const char *path);

#endif
