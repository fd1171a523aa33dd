/* Quick on-device checks of the basic kernels and GEMM, used by `clcdd doctor`. */
#ifndef CLCDD_SELFTEST_H
#define CLCDD_SELFTEST_H

#include "clcdd/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clcdd_check_result {
    const char *name;     /* "add", "gemm:clblast", ... */
    int passed;
    double max_error;     /* largest relative difference from the host reference */
    double tolerance;
    double seconds;       /* wall time of the check */
    int skipped;          /* not run (detail says why) */
    char detail[256];     /* why it failed, if it did */
} clcdd_check_result;

typedef void (*clcdd_check_fn)(const clcdd_check_result *result, void *user);

/* Runs every check, calling `fn` after each. *n_failed counts failures. Returns a non-OK status
 * only when the checks could not run at all (e.g. the device cannot allocate). */
/* with_clblast: also check CLBlast even where the dispatcher would not use it (on CPU devices
 * its kernels take about a minute to compile under PoCL). */
CLCDD_API clcdd_status clcdd_self_test(clcdd_ctx *ctx, int with_clblast, clcdd_check_fn fn,
                                       void *user, int *n_failed);

#ifdef __cplusplus
}
#endif
#endif
