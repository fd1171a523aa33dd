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

/* ---- CLBlast parameters: its tuner's JSON files, the record's clblast lines --------------- */

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

#define TUNER_JSON(prec, params)                                                                  \
    "{\n  \"kernel_family\": \"xgemm_direct_1\",\n  \"precision\": \"" prec "\",\n"              \
    "  \"best_kernel\": \"XgemmDirect\",\n  \"best_time\": \"0.12\",\n"                          \
    "  \"best_parameters\": \"" params "\",\n  \"results\": []\n}\n"
#define DIRECT_PARAMS                                                                             \
    "KWID=2 MDIMAD=8 MDIMCD=8 NDIMBD=8 NDIMCD=8 PADA=1 PADB=1 PRECISION=32 VWMD=2 VWND=2 WGD=16"

Test(gemm_tune, clblast_tuner_json) {
    char path[128];
    snprintf(path, sizeof path, "%s/t.json", dir);
    write_text(path, TUNER_JSON("32", DIRECT_PARAMS));
    clcdd_clblast_params p;
    cr_assert_eq(clcdd_gemm_clblast_read_tuner_json(path, &p), CLCDD_OK, "%s", clcdd_last_error());
    cr_assert_str_eq(p.kernel, "XgemmDirect");
    cr_assert_eq(p.count, 10, "PRECISION is not one of the kernel's parameters");
    cr_assert_str_eq(p.names[0], "KWID");
    cr_assert_eq(p.values[0], 2);
    cr_assert_str_eq(p.names[9], "WGD");
    cr_assert_eq(p.values[9], 16);
    /* Refused, each with the file named: another precision, not JSON, keys missing, a value that
     * is not a number, a missing file. */
    const char *bad[] = {TUNER_JSON("64", DIRECT_PARAMS), "{\"best_kernel\": ",
                         "{\"best_kernel\": \"Xgemm\", \"precision\": \"32\"}",
                         TUNER_JSON("32", "KWID=2 WGD=x16")};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(path, bad[i]);
        cr_assert_neq(clcdd_gemm_clblast_read_tuner_json(path, &p), CLCDD_OK, "case %zu", i);
        cr_assert(strstr(clcdd_last_error(), path), "case %zu: %s", i, clcdd_last_error());
    }
    cr_assert_eq(clcdd_gemm_clblast_read_tuner_json("/nonexistent/x.json", &p), CLCDD_ERR_IO);
}

/* The record keeps a CLBlast set (clblast lines) through save and load; CLBlast refusing a
 * record's parameters (names that are not the kernel's) leaves it on its built-in ones. */
Test(gemm_tune, clblast_set_in_record) {
    clcdd_ctx *ctx = open_ctx();
    clcdd_gemm_tune_record *rec = calloc(1, sizeof *rec);
    cr_assert(rec);
    rec->count = 1;
    rec->e[0] = (clcdd_gemm_tune_entry){.ta = 0, .tb = 1, .m = 64, .n = 64, .k = 64,
                                        .backend = CLCDD_GEMM_OWN,
                                        .params = clcdd_gemm_default_params(&ctx->dev),
                                        .gflops = 1};
    clcdd_clblast_params p = {.kernel = "GemmRoutine", .count = 1,
                              .names = {"XGEMM_MIN_INDIRECT_SIZE"}, .values = {4096}};
    cr_assert_eq(clcdd_clblast_set_put(&rec->clblast, &p), CLCDD_OK);
    cr_assert_eq(clcdd_gemm_record_save(ctx, rec), CLCDD_OK, "%s", clcdd_last_error());
    clcdd_ctx_destroy(ctx);
    char path[1200];
    ctx = open_ctx();
    clcdd_gemm_record_path(ctx, path, sizeof path);
    clcdd_gemm_record_ensure(ctx);
    clcdd_gemm_own_state *o = NULL;
    cr_assert_eq(clcdd_gemm_own_state_get(ctx, &o), CLCDD_OK);
    cr_assert_eq(o->rec.count, 1);
    cr_assert_eq(o->rec.clblast.count, 1, "clblast line not read back from %s", path);
    cr_assert_str_eq(o->rec.clblast.k[0].kernel, "GemmRoutine");
    cr_assert_str_eq(o->rec.clblast.k[0].names[0], "XGEMM_MIN_INDIRECT_SIZE");
    cr_assert_eq(o->rec.clblast.k[0].values[0], 4096);
    /* CLBlast itself refuses a name that is not one of the kernel's parameters. */
    clcdd_clblast_set bad = {0};
    clcdd_clblast_params q = {.kernel = "GemmRoutine", .count = 1, .names = {"NOT_A_PARAMETER"},
                              .values = {1}};
    cr_assert_eq(clcdd_clblast_set_put(&bad, &q), CLCDD_OK);
    cr_assert_neq(clcdd_gemm_clblast_apply(ctx, &bad), CLCDD_OK);
    cr_assert(strstr(clcdd_last_error(), "GemmRoutine"), "%s", clcdd_last_error());
    clcdd_ctx_destroy(ctx);
    free(rec);
}

/* The whole path: `clcdd tune`'s CLBlast phase with a tuner file, the set kept in the record,
 * installed by a fresh context, and CLBlast with it agreeing with the reference kernel. Compiling
 * CLBlast's kernels takes minutes under PoCL (its self-check alone ~1 minute, each parameter set
 * as long again), so this runs only with CLCDD_TEST_CLBLAST_TUNE=1 (by hand, and on GPU
 * machines). */
Test(gemm_tune, clblast_set_tuned_installed_and_checked, .timeout = 900) {
    if (!getenv("CLCDD_TEST_CLBLAST_TUNE")) {
        cr_skip_test("compiling CLBlast's kernels takes minutes on a CPU OpenCL device; set "
                     "CLCDD_TEST_CLBLAST_TUNE=1 to run it");
    }
    char path[128];
    snprintf(path, sizeof path, "%s/direct.json", dir);
    write_text(path, TUNER_JSON("32", DIRECT_PARAMS));
    clcdd_ctx *ctx = open_ctx();
    int ok = 0;
    cr_assert_eq(clcdd_gemm_self_check(ctx, &ok), CLCDD_OK);
    if (!ok) cr_skip_test("CLBlast failed its self-check on this device");
    const clcdd_gemm_shape shapes[2] = {{0, 0, 64, 64, 64}, {0, 1, 64, 48, 64}};
    const char *files[1] = {path};
    clcdd_gemm_tune_result res[2];
    cr_assert_eq(clcdd_gemm_tune_with_clblast(ctx, shapes, 2, 5, files, 1, NULL, NULL, res),
                 CLCDD_OK, "%s", clcdd_last_error());
    cr_assert(res[0].clblast_gflops > 0 && res[1].clblast_gflops > 0);
    clcdd_ctx_destroy(ctx);
    ctx = open_ctx();
    clcdd_gemm_record_ensure(ctx);
    clcdd_gemm_own_state *o = NULL;
    cr_assert_eq(clcdd_gemm_own_state_get(ctx, &o), CLCDD_OK);
    /* Kept only if faster than the parameters in force; either way CLBlast must be right. */
    if (strcmp(res[0].clblast_set, "built-in") != 0)
        cr_assert_eq(o->rec.clblast.count, 1, "%s", res[0].clblast_set);
    double worst = 1;
    cr_assert_eq(clcdd_gemm_check_backend(ctx, CLCDD_GEMM_CLBLAST, &worst), CLCDD_OK, "%s",
                 clcdd_last_error());
    cr_assert(worst <= 1e-4, "CLBlast with the record's parameters: max relative error %g", worst);
    clcdd_ctx_destroy(ctx);
}
