/* clcdd doctor: can this machine run clcdd? Builds every kernel, runs the GEMM self-check and the
 * op checks on the chosen device, prints pass/fail with timings. */
#include <stdio.h>
#include <string.h>

#include "clcdd/gemm.h"
#include "clcdd/runtime.h"
#include "clcdd/selftest.h"
#include "commands.h"
#include "common.h"

static const char *usage =
    "usage: clcdd doctor [--device INDEX|NAME] [--no-cache] [--with-clblast] [--json]\n"
    "\n"
    "Checks that clcdd works on a device: builds every kernel (or loads it from the on-disk\n"
    "cache), compares CLBlast's and clcdd's own GEMM with a reference kernel, and checks the basic\n"
    "kernels against host computations. Exit code 0 when everything passed, 4 when a check failed,\n"
    "3 when there is no usable OpenCL device.\n"
    "\n"
    "  --device D   device index or name substring (default: CLCDD_DEVICE, else first GPU, else first)\n"
    "  --no-cache   ignore the on-disk kernel cache (rebuild everything)\n"
    "  --with-clblast  also check CLBlast on CPU devices, where clcdd does not use it\n"
    "  --json       machine-readable output\n";

typedef struct {
    int json;
    int count;
} doctor_out;

static void on_check(const clcdd_check_result *r, void *user) {
    doctor_out *o = user;
    if (o->json) {
        printf("%s\n    {\"name\": \"%s\", \"skipped\": %s, \"passed\": %s, \"max_error\": %.3g, \"tolerance\": %.3g, "
               "\"seconds\": %.4f, \"detail\": ",
               o->count ? "," : "", r->name, r->skipped ? "true" : "false", r->passed ? "true" : "false", r->max_error,
               r->tolerance, r->seconds);
        cli_json_string(stdout, r->detail);
        printf("}");
    } else {
        if (r->skipped) {
            printf("  %-14s skip  %s\n", r->name, r->detail);
            o->count++;
            return;
        }
        printf("  %-14s %s  max rel. error %.2e (tol %.0e)  %8.1f ms%s%s\n", r->name,
               r->passed ? "pass" : "FAIL", r->max_error, r->tolerance, 1e3 * r->seconds,
               r->detail[0] ? "  " : "", r->detail);
    }
    o->count++;
    fflush(stdout);
}

int clcdd_cmd_doctor(int argc, char **argv) {
    clcdd_ctx_options opts = {0};
    int json = 0, with_clblast = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--with-clblast")) {
            with_clblast = 1;
        } else if (!strcmp(argv[i], "--no-cache")) {
            opts.no_kernel_cache = 1;
        } else if (cli_opt_value(argc, argv, &i, "--device", &v)) {
            if (!v) {
                fprintf(stderr, "clcdd doctor: --device needs a value\n%s", usage);
                return EXIT_USAGE;
            }
            opts.device = v;
        } else {
            fprintf(stderr, "clcdd doctor: unknown argument '%s'\n%s", argv[i], usage);
            return EXIT_USAGE;
        }
    }
    double t0 = cli_now();
    clcdd_ctx *ctx = NULL;
    clcdd_status st = clcdd_ctx_create(&opts, &ctx);
    if (st != CLCDD_OK) return cli_report("doctor", st);
    double t_ctx = cli_now() - t0;
    const clcdd_device_info *dev = clcdd_ctx_device(ctx);
    double t1 = cli_now();
    st = clcdd_ctx_build_all(ctx);
    double t_build = cli_now() - t1;
    clcdd_cache_stats cs;
    clcdd_ctx_cache_stats(ctx, &cs);
    if (st != CLCDD_OK) {
        int rc = cli_report("doctor", st);
        cli_ctx_destroy(ctx);
        return rc == EXIT_FAILURE_RUN ? EXIT_CHECK_FAILED : rc;
    }
    if (json) {
        printf("{\"device\": ");
        cli_json_string(stdout, dev->name);
        printf(", \"driver_version\": ");
        cli_json_string(stdout, dev->driver_version);
        printf(", \"context_seconds\": %.4f, \"kernel_build_seconds\": %.4f, \"programs_built\": %d, "
               "\"programs_from_cache\": %d, \"cache_rejected\": %d, \"checks\": [",
               t_ctx, t_build, cs.programs_built, cs.programs_from_cache, cs.cache_rejected);
    } else {
        printf("device:  %s (%s, driver %s)\n", dev->name, dev->platform_name, dev->driver_version);
        printf("kernels: %d built, %d from cache%s in %.1f ms\n", cs.programs_built,
               cs.programs_from_cache, cs.cache_rejected ? " (stale entries rebuilt)" : "",
               1e3 * t_build);
        printf("checks:\n");
    }
    doctor_out out = {json, 0};
    int failed = 0;
    st = clcdd_self_test(ctx, with_clblast, on_check, &out, &failed);
    const char *backend = clcdd_gemm_backend_name(clcdd_gemm_default_backend(ctx));
    double total = cli_now() - t0;
    if (json) {
        printf("\n  ], \"gemm_backend\": \"%s\", \"failed\": %d, \"total_seconds\": %.4f, "
               "\"ok\": %s}\n",
               backend, failed, total,
               st == CLCDD_OK && failed == 0 ? "true" : "false");
    } else {
        printf("GEMM backend: %s\n", backend);
        if (st == CLCDD_OK && failed == 0)
            printf("all checks passed in %.2f s\n", total);
    }
    cli_ctx_destroy(ctx);
    if (st != CLCDD_OK) return cli_report("doctor", st);
    if (failed) {
        fprintf(stderr,
                "clcdd doctor: %d check(s) failed on '%s'. The device's OpenCL driver computes "
                "wrong results; try another device (`clcdd devices`, --device) or update the "
                "driver, and report the output of `clcdd doctor --json`.\n",
                failed, dev ? "this device" : "?");
        return EXIT_CHECK_FAILED;
    }
    return EXIT_OK;
}
