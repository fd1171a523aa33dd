/* Runtime behaviour: the program cache (hit, corrupt entry detected and rebuilt), device memory
 * limits, device selection errors. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness/harness.h"
#include "nn/basic.h"
#include "runtime/arena.h"

static int count_entries(const char *dir, char *first, size_t cap) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".clbin")) {
            if (n++ == 0 && first) snprintf(first, cap, "%s/%s", dir, e->d_name);
        }
    closedir(d);
    return n;
}

static void use_elementwise(clcdd_ctx *ctx) {
    float x[3] = {1, 2, 3}, y[3];
    int64_t s[1] = {3};
    clcdd_tensor t;
    TH_OK(clcdd_tensor_create(ctx, CLCDD_F32, 1, s, "t", &t));
    TH_OK(clcdd_tensor_upload(ctx, &t, x));
    TH_OK(clcdd_scale(ctx, &t, &t, 2.0f));
    TH_OK(clcdd_tensor_download(ctx, &t, y));
    cr_expect(y[0] == 2 && y[1] == 4 && y[2] == 6);
    clcdd_tensor_destroy(&t);
}

Test(runtime, kernel_cache_hit_and_corruption) {
    char dir[] = "/tmp/clcdd-cache-test-XXXXXX";
    cr_assert(mkdtemp(dir) != NULL);
    clcdd_ctx_options o = {.cache_dir = dir};
    clcdd_cache_stats st;

    clcdd_ctx *c1;
    TH_OK(clcdd_ctx_create(&o, &c1));
    use_elementwise(c1);
    clcdd_ctx_cache_stats(c1, &st);
    cr_expect(st.programs_built == 1 && st.programs_from_cache == 0);
    clcdd_ctx_destroy(c1);
    char entry[4096];
    cr_assert(count_entries(dir, entry, sizeof entry) == 1, "one cache entry written");

    clcdd_ctx *c2;
    TH_OK(clcdd_ctx_create(&o, &c2));
    use_elementwise(c2);
    clcdd_ctx_cache_stats(c2, &st);
    cr_expect(st.programs_built == 0 && st.programs_from_cache == 1, "second context uses the cache");
    clcdd_ctx_destroy(c2);

    /* Flip a byte of the payload: the checksum must catch it, and the program is rebuilt. */
    FILE *f = fopen(entry, "r+b");
    cr_assert(f != NULL);
    fseek(f, 60, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 60, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
    clcdd_ctx *c3;
    TH_OK(clcdd_ctx_create(&o, &c3));
    use_elementwise(c3);
    clcdd_ctx_cache_stats(c3, &st);
    cr_expect(st.cache_rejected == 1 && st.programs_built == 1, "corrupt entry rebuilt");
    clcdd_ctx_destroy(c3);

    /* Truncate it to 10 bytes: also rejected and rebuilt, never a crash. */
    cr_assert(truncate(entry, 10) == 0);
    clcdd_ctx *c4;
    TH_OK(clcdd_ctx_create(&o, &c4));
    use_elementwise(c4);
    clcdd_ctx_cache_stats(c4, &st);
    cr_expect(st.cache_rejected == 1 && st.programs_built == 1, "truncated entry rebuilt");
    clcdd_ctx_destroy(c4);

    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect(system(cmd) == 0);
}

Test(runtime, oversized_allocation_is_a_clear_error) {
    clcdd_ctx *ctx = th_ctx();
    const clcdd_device_info *d = clcdd_ctx_device(ctx);
    int64_t shape[2] = {(int64_t)(d->max_alloc_bytes / 4 / 1024) + 1, 1024};
    clcdd_tensor t;
    cr_expect(clcdd_tensor_create(ctx, CLCDD_F32, 2, shape, "huge activations", &t) ==
              CLCDD_ERR_DEVICE_MEMORY);
    cr_expect(strstr(clcdd_last_error(), "huge activations") != NULL, "message names the tensor: %s",
              clcdd_last_error());
    int64_t overflow[2] = {INT64_MAX / 2, 16};
    cr_expect(clcdd_tensor_create(ctx, CLCDD_F32, 2, overflow, "overflow", &t) ==
              CLCDD_ERR_INVALID_ARGUMENT);
    th_release();
}

Test(runtime, device_selection_errors) {
    clcdd_device_info info;
    cr_expect(clcdd_select_device("9999", &info) == CLCDD_ERR_NO_DEVICE);
    cr_expect(strstr(clcdd_last_error(), "clcdd devices") != NULL);
    cr_expect(clcdd_select_device("no-such-device-name", &info) == CLCDD_ERR_NO_DEVICE);
    cr_expect(clcdd_select_device("0", &info) == CLCDD_OK);
    cr_expect(info.index == 0 && info.name[0] != '\0' && info.max_alloc_bytes > 0);
    cr_expect(info.base_align_bytes >= 4 && info.preferred_vector_width_float >= 1);
}

/* The device-memory statistics against the sizes the test itself allocates: a tensor, an arena
 * of two chunks' worth of slots, and their release (also after the context is gone). */
Test(runtime, device_memory_accounting) {
    clcdd_ctx *ctx;
    TH_OK(clcdd_ctx_create(NULL, &ctx));
    clcdd_memory_stats m0, m1, m2, m3;
    clcdd_ctx_memory(ctx, &m0);
    int64_t s[2] = {100, 37};
    clcdd_tensor t;
    TH_OK(clcdd_tensor_create(ctx, CLCDD_F32, 2, s, "t", &t));
    clcdd_ctx_memory(ctx, &m1);
    cr_expect_eq(m1.live_bytes - m0.live_bytes, 100 * 37 * 4);
    cr_expect_eq(m1.buffers - m0.buffers, 1);
    cr_expect(m1.peak_bytes >= m1.live_bytes);

    clcdd_arena a;
    clcdd_arena_init(&a, "test arena");
    size_t slot;
    int64_t s2[1] = {1000};
    TH_OK(clcdd_arena_add(&a, "x", CLCDD_F32, 1, s2, &slot));
    TH_OK(clcdd_arena_add(&a, "y", CLCDD_F32, 1, s2, &slot));
    TH_OK(clcdd_arena_alloc(ctx, &a, 1));
    clcdd_ctx_memory(ctx, &m2);
    cr_expect_eq(m2.live_bytes - m1.live_bytes, a.total_bytes);
    cr_expect(a.total_bytes >= 8000, "two 4000-byte slots (plus alignment)");
    clcdd_tensor_destroy(&t);
    clcdd_arena_free(&a);
    /* Drivers may free a released buffer later (when its queued commands are done); the figures
     * follow the driver, so wait for it, at most ~2 s. */
    TH_OK(clcdd_ctx_finish(ctx));
    for (int i = 0; i < 400; i++) {
        clcdd_ctx_memory(ctx, &m3);
        if (m3.live_bytes == m0.live_bytes) break;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    cr_expect_eq(m3.live_bytes, m0.live_bytes, "released buffers are subtracted");
    cr_expect_eq(m3.peak_bytes, m2.live_bytes > m0.peak_bytes ? m2.live_bytes : m0.peak_bytes);
    clcdd_ctx_memory_reset_peak(ctx);
    clcdd_ctx_memory(ctx, &m3);
    cr_expect_eq(m3.peak_bytes, m3.live_bytes);

    /* A tensor that outlives its context is released without touching freed memory (ASan). */
    TH_OK(clcdd_tensor_create(ctx, CLCDD_F32, 2, s, "late", &t));
    clcdd_ctx_destroy(ctx);
    clcdd_tensor_destroy(&t);
}

/* Kernel timing: off by default (a clear error), on with enable_profiling; the launches of a
 * known op are counted under their kernel's name. */
Test(runtime, kernel_profile) {
    clcdd_ctx *off;
    TH_OK(clcdd_ctx_create(NULL, &off));
    clcdd_kernel_time kt[32];
    size_t n = 99;
    if (!getenv("CLCDD_PROFILE")) {
        cr_expect(clcdd_ctx_profile(off, kt, 32, &n) == CLCDD_ERR_INVALID_ARGUMENT);
        cr_expect(strstr(clcdd_last_error(), "CLCDD_PROFILE") != NULL);
    }
    clcdd_ctx_destroy(off);
    clcdd_ctx_options o = {.enable_profiling = 1};
    clcdd_ctx *ctx;
    TH_OK(clcdd_ctx_create(&o, &ctx));
    use_elementwise(ctx);
    use_elementwise(ctx);
    use_elementwise(ctx);
    TH_OK(clcdd_ctx_profile(ctx, kt, 32, &n));
    cr_assert(n >= 1);
    uint64_t launches = 0;
    for (size_t i = 0; i < n && i < 32; i++) {
        cr_expect(kt[i].name[0] != '\0');
        cr_expect(kt[i].seconds >= 0);
        launches += kt[i].launches;
    }
    cr_expect_eq(launches, 3, "three scale launches, got %llu", (unsigned long long)launches);
    clcdd_ctx_profile_reset(ctx);
    TH_OK(clcdd_ctx_profile(ctx, kt, 32, &n));
    cr_expect_eq(n, 0);
    clcdd_ctx_destroy(ctx);
}
