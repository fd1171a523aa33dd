/* Shared by `clcdd sft` and `clcdd train`: the progress display (a bar on a TTY, plain lines
 * otherwise), the --metrics JSONL file, number parsing and the data summary line. */
#ifndef CLCDD_CLI_TRAIN_COMMON_H
#define CLCDD_CLI_TRAIN_COMMON_H

#include <stdio.h>

#include "clcdd/erase.h"
#include "clcdd/train.h"
#include "report.h"

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
    report_log *log;        /* NULL: no --report */
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

/* The options `clcdd sft` and `clcdd train` share: the file arguments go here, the numbers into
 * the command's own option struct through the pointers (set them before parsing). */
typedef struct cli_run_opts {
    const char *cmd;                       /* "sft", "train" (messages) */
    const char *out_what;                  /* "a directory", "a file" (--out's message) */
    const char *data, *out, *metrics, *report_dir, *device;
    const char **state_path, **resume_path;
    int64_t *save_every, *steps, *log_every;
    size_t *micro_batch, *accum, *max_len;
    uint64_t *seed;
    int *all_tokens;
    float *lr;
} cli_run_opts;
/* argv[*i] is a shared option: consume it (and its value). Returns 1 when consumed, 0 when it is
 * not a shared option, -1 after printing a usage error for a bad or missing value. */
int cli_run_option(cli_run_opts *r, int argc, char **argv, int *i);
/* After parsing: --save-every without --state writes OUT.state.safetensors (kept in buf);
 * --state without --save-every is an error. Returns 0, or -1 after printing the reason. */
int cli_run_state(cli_run_opts *r, char *buf, size_t cap);

/* The step log's columns in a report (the --metrics keys): sft, and train (LCDD). */
extern const char *const cli_sft_log_cols[5];
extern const char *const cli_lcdd_log_cols[11];
extern const char *const cli_erase_log_cols[8];
/* One step as a --metrics JSONL line (to metrics when not NULL) and a report log row (log not
 * NULL): sft/train (lcdd: with the dual state) and erase. */
void cli_train_record(report_log *log, FILE *metrics, int lcdd, const clcdd_train_progress *p);
void cli_erase_record(report_log *log, FILE *metrics, const clcdd_erase_progress *p);
/* The report's plots of an sft or train step log (loss; LCDD: loss, EMA and budget; lambda and
 * active channels). */
void cli_train_report_plots(report *r, const report_log *log, int lcdd);

/* The carrier density heat map of the archive at path (train, erase). */
void cli_report_archive_density(report *rep, const char *path, const char *caption);

/* The eraser's loss terms of a step log (columns step, loss, best, mse, kl, resp, l2). */
void cli_report_eraser_plot(report *rep, const report_log *log, const char *file, const char *title);

void cli_print_data_summary(const char *cmd, const char *path, const clcdd_data_summary *s);

#endif
