/* Shared by `clcdd sft` and `clcdd train`: the progress display (a bar on a TTY, plain lines
 * otherwise), the --metrics JSONL file, number parsing and the data summary line. */
#ifndef CLCDD_CLI_TRAIN_COMMON_H
#define CLCDD_CLI_TRAIN_COMMON_H

#include <stdio.h>

#include "clcdd/train.h"

typedef struct cli_train_display {
    const char *cmd;
    int tty;
    int lcdd;               /* show and record the dual state */
    FILE *metrics;          /* NULL: no --metrics */
    /* stall detection (LCDD): active counts at logged steps */
    int64_t *hist_step;
    uint64_t *hist_active;
    size_t n_hist, cap_hist;
    int warned_stall;
} cli_train_display;

void cli_train_progress(const clcdd_train_progress *p, void *user);
/* Ends the bar line; closes the metrics file; frees the history. */
void cli_train_display_end(cli_train_display *d);

/* Parse helpers: return 1 on success. */
int cli_parse_i64(const char *s, long long min, long long *out);
int cli_parse_f(const char *s, float *out);

/* The default --state of a run writing to `out` (trailing slashes dropped):
 * OUT.state.safetensors. Returns 0 when it does not fit in cap. */
int cli_state_path(const char *out, char *buf, size_t cap);

void cli_print_data_summary(const char *cmd, const char *path, const clcdd_data_summary *s);

#endif
