/* GEMM tuning: the tuner's record round trip, its use by a fresh context, and rejection of a
 * corrupt record (ignored with a warning, defaults used). Each test uses its own cache dir. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clcdd/gemm.h"
#include "runtime/ctx_internal.h"
#include "runtime/gemm_internal.h"

static char dir[64];

static clcdd_ctx *open_ctx(void) {
    clcdd_ctx_options o = {.cache_dir = dir};
    clcdd_ctx *ctx = NULL;
    cr_assert_eq(clcdd_ctx_create(&o, &ctx), CLCDD_OK, "%s", clcdd_last_error());
    return ctx;
}

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/clcdd-gemm-tune-XXXXXX");
    cr_assert(mkdtemp(dir));
}
static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    (void)system(cmd);
}

TestSuite(gemm_tune, .init = setup, .fini = teardown, .timeout = 120);

static clcdd_gemm_backend choose(clcdd_ctx *ctx, int ta, int tb, size_t m, size_t n, size_t k) {
    clcdd_gemm_state *g = NULL;
    cr_assert_eq(clcdd_gemm_state_get(ctx, &g), CLCDD_OK);
    if (!g->checked) cr_assert_eq(clcdd_gemm_self_check(ctx, NULL), CLCDD_OK);
    clcdd_gemm_args a = {.ta = ta, .tb = tb, .m = m, .n = n, .k = k, .batch = 1};
    return clcdd_gemm_own_choose(ctx, g, &a);
}

Test(gemm_tune, record_round_trip) {
    clcdd_ctx *ctx = open_ctx();
    /* Without a record: own kernels on a CPU device, CLBlast (if it passed) elsewhere. */
    if (ctx->dev.is_cpu) cr_assert_eq(choose(ctx, 0, 1, 64, 96, 40), CLCDD_GEMM_OWN);
    clcdd_gemm_shape s[2] = {{CLCDD_NO_TRANS, CLCDD_TRANS, 64, 96, 40},
                             {CLCDD_TRANS, CLCDD_NO_TRANS, 33, 64, 17}};
    clcdd_gemm_tune_result r[2];
    cr_assert_eq(clcdd_gemm_tune(ctx, s, 2, 1.0, NULL, NULL, r), CLCDD_OK, "%s",
                 clcdd_last_error());
    for (int i = 0; i < 2; i++) {
        cr_assert(r[i].gflops > 0);
        cr_assert(r[i].tried >= 1);
        cr_assert_eq(r[i].rejected, 0, "a candidate disagreed with the reference");
        cr_assert(r[i].backend == CLCDD_GEMM_OWN || r[i].backend == CLCDD_GEMM_CLBLAST);
    }
    char path[1200];
    clcdd_gemm_tune_record_path(ctx, path, sizeof path);
    cr_assert(access(path, R_OK) == 0, "no record at %s", path);
    clcdd_ctx_destroy(ctx);

    /* A fresh context loads the record at first use and follows it. */
    ctx = open_ctx();
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(choose(ctx, s[i].ta, s[i].tb, s[i].m, s[i].n, s[i].k), r[i].backend);
        if (r[i].backend == CLCDD_GEMM_OWN) {
            clcdd_gemm_args a = {.ta = s[i].ta, .tb = s[i].tb, .m = s[i].m, .n = s[i].n,
                                 .k = s[i].k, .batch = 1};
            clcdd_gemm_params p = clcdd_gemm_own_params(ctx, &a);
            char want[64];
            snprintf(want, sizeof want, "vw=%d rm=%d nv=%d rows_first=%d", p.vw, p.rm, p.nv,
                     p.rows_first);
            cr_assert_str_eq(want, r[i].params);
        }
    }
    clcdd_ctx_destroy(ctx);
}

static void write_record(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

static int warnings;
static void count_warnings(clcdd_log_level level, const char *msg, void *user) {
    (void)user;
    if (level == CLCDD_LOG_WARN && strstr(msg, "tuning record")) warnings++;
}

Test(gemm_tune, corrupt_record_is_ignored) {
    clcdd_ctx *ctx = open_ctx();
    char path[1200];
    clcdd_gemm_tune_record_path(ctx, path, sizeof path);
    clcdd_gemm_tune_record rec = {.count = 1};
    rec.e[0] = (clcdd_gemm_tune_entry){.ta = 0, .tb = 0, .m = 64, .n = 64, .k = 64,
                                       .backend = CLCDD_GEMM_OWN, .params = {4, 3, 2, 0},
                                       .gflops = 1};
    cr_assert_eq(clcdd_gemm_record_save(ctx, &rec), CLCDD_OK, "%s", clcdd_last_error());
    clcdd_ctx_destroy(ctx);
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(clcdd_read_file(path, &text, &len), CLCDD_OK);
    clcdd_gemm_args a = {.ta = 0, .tb = 0, .m = 64, .n = 64, .k = 64, .batch = 1};

    /* Intact: followed. */
    ctx = open_ctx();
    clcdd_gemm_params p = clcdd_gemm_own_params(ctx, &a);
    cr_assert(p.vw == 4 && p.rm == 3 && p.nv == 2 && p.rows_first == 0);
    clcdd_ctx_destroy(ctx);

    /* One changed digit (checksum mismatch), a truncated file, garbage: ignored, with a warning. */
    char *bad = strdup(text);
    char *digit = strstr(bad, "entry 0 0 64");
    digit[10] = '5';
    const char *variants[] = {bad, "clcdd-gemm-tune 1\ndevice x\n", "\x01\x02garbage"};
    clcdd_set_log_callback(count_warnings, NULL, CLCDD_LOG_DEBUG);
    for (int i = 0; i < 3; i++) {
        write_record(path, variants[i]);
        warnings = 0;
        ctx = open_ctx();
        p = clcdd_gemm_own_params(ctx, &a);
        clcdd_gemm_params d = clcdd_gemm_default_params(&ctx->dev);
        cr_assert(p.vw == d.vw && p.rm == d.rm && p.nv == d.nv, "variant %d was not ignored", i);
        cr_assert_eq(warnings, 1, "variant %d: %d warnings", i, warnings);
        clcdd_ctx_destroy(ctx);
    }
    clcdd_set_log_callback(NULL, NULL, CLCDD_LOG_WARN);
    free(bad);
    free(text);
}
