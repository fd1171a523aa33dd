/* Shared CLI helpers: exit codes, option matching, JSON output, progress display. */
#ifndef CLCDD_CLI_COMMON_H
#define CLCDD_CLI_COMMON_H

#include <stdio.h>

#include "clcdd/runtime.h"
#include "clcdd/status.h"

/* Exit codes (documented in docs/cli.md). */
enum {
    EXIT_OK = 0,
    EXIT_FAILURE_RUN = 1,   /* the operation failed (bad file, I/O, numerical failure) */
    EXIT_USAGE = 2,         /* bad command line */
    EXIT_NO_DEVICE = 3,     /* no OpenCL platform or no matching device */
    EXIT_CHECK_FAILED = 4   /* a self-check or test reported failures */
};

/* Exit code for a library status. */
int cli_exit_for(clcdd_status st);

/* Print "clcdd <cmd>: <status>: <detail>" to stderr and return the exit code for it. */
int cli_report(const char *cmd, clcdd_status st);

/* "--name=value" or "--name value": on match sets *value (advancing *i) and returns 1. */
int cli_opt_value(int argc, char **argv, int *i, const char *name, const char **value);
int cli_is_help(const char *arg);

/* Write s as a JSON string literal (with quotes). */
void cli_json_string(FILE *f, const char *s);

/* Monotonic seconds. */
double cli_now(void);

/* The per-kernel device time on stderr when the context was made with profiling on
 * (CLCDD_PROFILE=1 in the environment). */
void cli_ctx_print_profile(clcdd_ctx *ctx);
/* clcdd_ctx_destroy after cli_ctx_print_profile. */
void cli_ctx_destroy(clcdd_ctx *ctx);

#endif
