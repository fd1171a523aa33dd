/* Helpers for the loader tests: temporary directories, file writing, float comparison. */
#ifndef CLCDD_LOADER_TEST_UTIL_H
#define CLCDD_LOADER_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIXTURES CLCDD_TEST_DATA "/fixtures/formats"

/* mkdtemp under $TMPDIR (or /tmp); returns a static buffer. */
static inline const char *test_tmpdir(void) {
    static char buf[512];
    const char *base = getenv("TMPDIR");
    snprintf(buf, sizeof buf, "%s/clcdd-loaders-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(buf);
}

static inline int test_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    return fclose(f) == 0 && w == n;
}

/* Same value, or both NaN (f32 conversion of F16/BF16 is exact: tolerance 0). */
static inline int same_float(float a, float b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return a == b;
}

#endif
