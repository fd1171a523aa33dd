/* A report folder (`--report DIR` of the long commands): metrics.json (the command's final
 * results, as its --json prints them), one NAME.jsonl per step log (the lines --metrics writes),
 * SVG plots, and index.html showing the plots with titles, captions and the key numbers.
 *
 * A command opens the report before the long work (so a bad folder fails early), feeds its step
 * logs while it runs, and at the end adds key numbers, plots and the metrics JSON, then calls
 * report_finish, which writes every file atomically (temporary file + rename) and frees the
 * report. Adding a command takes a few lines:
 *     report rep;
 *     if (dir && report_open(&rep, dir, "eval", argc, argv)) return EXIT_FAILURE_RUN;
 *     ...
 *     report_key(&rep, "accuracy", "%.1f%%", 100 * acc);
 *     report_bars(&rep, "rates.svg", "Rates", "What the bars show.", models, n, names, 2, v,
 *                 "share of prompts", 1);
 *     FILE *m = report_metrics_begin(&rep); print_json(m, ...); report_metrics_end(&rep, m);
 *     if (report_finish(&rep, NULL)) return EXIT_FAILURE_RUN;
 */
#ifndef CLCDD_CLI_REPORT_H
#define CLCDD_CLI_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "report_svg.h"

#define REPORT_MAX_COLS 16

/* One step log: numeric columns for the plots and the JSONL text as written. */
typedef struct report_log {
    char name[64];                    /* written as NAME.jsonl */
    char caption[160];                /* its line in index.html's file list */
    const char *cols[REPORT_MAX_COLS];/* static strings */
    size_t n_cols;
    double *v;                        /* n_rows x n_cols */
    size_t n_rows, cap_rows;
    svg_buf jsonl;
} report_log;

typedef struct report_item {
    char file[64];
    char *title, *caption;
} report_item;

typedef struct report {
    char *dir;
    char cmd[32];
    char *command_line;
    report_log *logs[32];
    size_t n_logs;
    char (*keys)[2][128];             /* label, value */
    size_t n_keys, cap_keys;
    report_item *plots;
    size_t n_plots, cap_plots;
    svg_buf html;                     /* extra HTML sections (e.g. a result table) */
    char *metrics;                    /* metrics.json text */
    char *mbuf;                       /* report_metrics_begin's stream */
    size_t mlen;
    int write_failed;
} report;

/* Create DIR (and its parents) if missing and check it is a writable folder. Prints the reason
 * to stderr and returns 1 on failure, else 0. */
int report_open(report *r, const char *dir, const char *cmd, int argc, char **argv);

/* A new step log with the given column names (static strings; at most REPORT_MAX_COLS), or NULL
 * (out of memory or too many logs: the report then goes without it). */
report_log *report_log_new(report *r, const char *name, const char *caption, const char *const *cols,
                           size_t n_cols);
/* Append a row of n_cols values and its JSONL line (without the newline); line NULL: one is
 * made from the column names (integers plain, other numbers %.6g, non-finite as null). */
void report_log_row(report_log *l, const double *v, const char *line);
/* A column as a new array of n_rows values (NaN when absent); free() it. */
double *report_log_column(const report_log *l, const char *col);

/* A key number for the index's table, e.g. report_key(r, "final loss", "%.4f", loss). */
void report_key(report *r, const char *label, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* A raw HTML section added to the index after the key numbers (the caller escapes text with
 * report_html_escape). */
void report_html(report *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void report_html_escape(report *r, const char *s);

/* metrics.json: write the command's --json output into the returned stream, then end it. */
FILE *report_metrics_begin(report *r);
void report_metrics_end(report *r, FILE *f);

/* Write an SVG now (FILE inside the folder) and list it in the index with a title and caption. */
void report_svg(report *r, const char *file, const char *title, const char *caption, const svg_buf *svg);

/* One series of report_lines: a column of the log, its legend name, right axis, dashed line. */
typedef struct report_line {
    const char *col, *name;
    int right, dashed;
} report_line;

/* A line chart of columns of one log against its "step" column. zero_is_missing drops values
 * <= 0 (a budget not set yet); series without a finite non-zero value are left out. */
void report_lines(report *r, const char *file, const char *title, const char *caption,
                  const report_log *log, const report_line *lines, size_t n, const char *y_label,
                  const char *y2_label, int log_y, int log_y2, int zero_is_missing);
/* A grouped bar chart: values[g * n_series + s]; percent: shares of 1 on a 0-100% axis. */
void report_bars(report *r, const char *file, const char *title, const char *caption,
                 const char *const *groups, size_t n_groups, const char *const *series, size_t n_series,
                 const double *values, const char *y_label, int percent);
/* The carrier density heat map (density[l * 8 + g]). */
void report_density(report *r, const char *file, const double *density, uint32_t n_layers,
                    const char *caption);

/* Write the logs, metrics.json and index.html, free everything. error: NULL when the command
 * succeeded, else what went wrong (shown at the top of the index). Returns 1 when a file could
 * not be written (the reason is on stderr), else 0. */
int report_finish(report *r, const char *error);

#endif
