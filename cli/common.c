#include "common.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int cli_exit_for(clcdd_status st) {
    switch (st) {
    case CLCDD_OK: return EXIT_OK;
    case CLCDD_ERR_NO_PLATFORM:
    case CLCDD_ERR_NO_DEVICE: return EXIT_NO_DEVICE;
    case CLCDD_ERR_INVALID_ARGUMENT: return EXIT_USAGE;
    case CLCDD_ERR_CHECK_FAILED: return EXIT_CHECK_FAILED;
    default: return EXIT_FAILURE_RUN;
    }
}

int cli_report(const char *cmd, clcdd_status st) {
    const char *detail = clcdd_last_error();
    fprintf(stderr, "clcdd %s: %s%s%s\n", cmd, clcdd_status_string(st), detail[0] ? ": " : "",
            detail);
    return cli_exit_for(st);
}

int cli_opt_value(int argc, char **argv, int *i, const char *name, const char **value) {
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0') return 0;
    if (*i + 1 >= argc) {
        *value = NULL;
        return 1;
    }
    *value = argv[++*i];
    return 1;
}

int cli_is_help(const char *arg) { return !strcmp(arg, "--help") || !strcmp(arg, "-h"); }

void cli_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_ctx_print_profile(clcdd_ctx *ctx) {
    if (!ctx) return;
    const char *env = getenv("CLCDD_PROFILE");
    if (env && *env && strcmp(env, "0") != 0) {
        clcdd_kernel_time kt[40];
        size_t n = 0;
        if (clcdd_ctx_profile(ctx, kt, 40, &n) == CLCDD_OK) {
            double total = 0;
            uint64_t launches = 0;
            for (size_t i = 0; i < n && i < 40; i++) total += kt[i].seconds, launches += kt[i].launches;
            fprintf(stderr, "clcdd: device time by kernel (CLCDD_PROFILE): %.3f s in %llu launches "
                    "(the %zu longest of %zu kernels)\n", total, (unsigned long long)launches,
                    n < 40 ? n : (size_t)40, n);
            for (size_t i = 0; i < n && i < 40; i++)
                fprintf(stderr, "  %-34s %10.3f s %6.1f%% %10llu launches %9.1f us/launch\n",
                        kt[i].name, kt[i].seconds, total > 0 ? 100 * kt[i].seconds / total : 0,
                        (unsigned long long)kt[i].launches,
                        kt[i].launches ? 1e6 * kt[i].seconds / (double)kt[i].launches : 0);
        } else {
            fprintf(stderr, "clcdd: kernel profile unavailable: %s\n", clcdd_last_error());
        }
    }
}

void cli_ctx_destroy(clcdd_ctx *ctx) {
    if (!ctx) return;
    cli_ctx_print_profile(ctx);
    clcdd_ctx_destroy(ctx);
}
