/* Status strings, per-thread error detail, logging. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "clcdd_internal.h"

#define CLCDD_ERRMSG_MAX 4096

static _Thread_local char tls_error[CLCDD_ERRMSG_MAX];

const char *clcdd_status_string(clcdd_status status) {
    switch (status) {
    case CLCDD_OK: return "ok";
    case CLCDD_ERR_INVALID_ARGUMENT: return "invalid argument";
    case CLCDD_ERR_IO: return "i/o error";
    case CLCDD_ERR_FORMAT: return "format error";
    case CLCDD_ERR_UNSUPPORTED: return "unsupported";
    case CLCDD_ERR_OUT_OF_MEMORY: return "out of host memory";
    case CLCDD_ERR_DEVICE_MEMORY: return "out of device memory";
    case CLCDD_ERR_NO_PLATFORM: return "no OpenCL platform";
    case CLCDD_ERR_NO_DEVICE: return "no matching OpenCL device";
    case CLCDD_ERR_OPENCL: return "OpenCL error";
    case CLCDD_ERR_BUILD: return "kernel build failed";
    case CLCDD_ERR_CHECK_FAILED: return "self-check failed";
    case CLCDD_ERR_PLUGIN: return "plugin error";
    case CLCDD_ERR_NOT_FOUND: return "not found";
    case CLCDD_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *clcdd_last_error(void) { return tls_error; }

void clcdd_clear_error(void) { tls_error[0] = '\0'; }

clcdd_status clcdd_fail(clcdd_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_error, sizeof tls_error, fmt, ap);
    va_end(ap);
    return status;
}

clcdd_status clcdd_fail_context(clcdd_status status, const char *fmt, ...) {
    char prev[CLCDD_ERRMSG_MAX];
    memcpy(prev, tls_error, sizeof prev);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tls_error, sizeof tls_error, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof tls_error && prev[0])
        snprintf(tls_error + n, sizeof tls_error - (size_t)n, ": %s", prev);
    return status;
}

static clcdd_log_fn log_fn = NULL;
static void *log_user = NULL;
static clcdd_log_level log_min = CLCDD_LOG_WARN;

void clcdd_set_log_callback(clcdd_log_fn fn, void *user, clcdd_log_level min_level) {
    log_fn = fn;
    log_user = user;
    log_min = min_level;
}

void clcdd_log(clcdd_log_level level, const char *fmt, ...) {
    if (level < log_min) return;
    char msg[CLCDD_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_fn) {
        log_fn(level, msg, log_user);
    } else {
        static const char *names[] = {"debug", "info", "warning", "error"};
        fprintf(stderr, "clcdd: %s: %s\n", names[level & 3], msg);
    }
}

const char *clcdd_version(void) { return CLCDD_VERSION_STRING; }

uint64_t clcdd_fnv1a64(const void *data, size_t len, uint64_t seed) {
    const unsigned char *p = data;
    uint64_t h = seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
