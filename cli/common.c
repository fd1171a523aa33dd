#include "common.h"

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
