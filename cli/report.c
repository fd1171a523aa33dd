#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clcdd/carrier.h"
#include "clcdd/status.h"

/* ---- files --------------------------------------------------------------------------------- */

static int mkdir_p(const char *dir) {
    char *p = strdup(dir);
    if (!p) return ENOMEM;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            free(p);
            return e;
        }
        *s = '/';
    }
    int e = mkdir(p, 0777) != 0 && errno != EEXIST ? errno : 0;
    free(p);
    return e;
}

int report_open(report *r, const char *dir, const char *cmd, int argc, char **argv) {
    memset(r, 0, sizeof *r);
    struct stat sb;
    int e = dir && dir[0] ? mkdir_p(dir) : EINVAL;
    if (e == 0 && (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))) e = ENOTDIR;
    if (e == 0 && access(dir, W_OK | X_OK) != 0) e = errno;
    if (e) {
        fprintf(stderr, "clcdd %s: --report %s: cannot use it as the report folder: %s; give a folder "
                "that can be created or written\n", cmd, dir ? dir : "", strerror(e));
        return 1;
    }
    r->dir = strdup(dir);
    snprintf(r->cmd, sizeof r->cmd, "%s", cmd);
    size_t len = 8;
    for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 3;
    r->command_line = malloc(len);
    if (!r->dir || !r->command_line) {
        free(r->dir), free(r->command_line);
        fprintf(stderr, "clcdd %s: --report: out of memory\n", cmd);
        return 1;
    }
    strcpy(r->command_line, "clcdd");
    for (int i = 0; i < argc; i++) {
        strcat(r->command_line, " ");
        int quote = argv[i][0] == 0 || strpbrk(argv[i], " \t\"'$\\") != NULL;
        if (quote) strcat(r->command_line, "'");
        strcat(r->command_line, argv[i]);
        if (quote) strcat(r->command_line, "'");
    }
    return 0;
}

/* Write dir/name atomically: a temporary file in the same folder, then rename over the old one. */
static void write_file(report *r, const char *name, const char *data, size_t len) {
    size_t n = strlen(r->dir) + strlen(name) + 48;
    char *path = malloc(n), *tmp = malloc(n);
    int ok = path && tmp;
    if (ok) {
        snprintf(path, n, "%s/%s", r->dir, name);
        snprintf(tmp, n, "%s/.%s.tmp%ld", r->dir, name, (long)getpid());
        FILE *f = fopen(tmp, "wb");
        ok = f && fwrite(data ? data : "", 1, len, f) == len;
        if (f && fflush(f) != 0) ok = 0;
        if (f && fsync(fileno(f)) != 0) ok = 0;
        if (f && fclose(f) != 0) ok = 0;
        if (ok && rename(tmp, path) != 0) ok = 0;
        if (!ok) {
            fprintf(stderr, "clcdd %s: --report: cannot write %s: %s; check the folder is writable and "
                    "the disk has room\n", r->cmd, path, strerror(errno));
            unlink(tmp);
        }
    } else {
        fprintf(stderr, "clcdd %s: --report: out of memory writing %s\n", r->cmd, name);
    }
    if (!ok) r->write_failed = 1;
    free(path), free(tmp);
}

/* ---- logs ---------------------------------------------------------------------------------- */

report_log *report_log_new(report *r, const char *name, const char *caption, const char *const *cols,
                           size_t n_cols) {
    if (r->n_logs >= sizeof r->logs / sizeof r->logs[0] || n_cols > REPORT_MAX_COLS) return NULL;
    report_log *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    snprintf(l->name, sizeof l->name, "%s", name);
    snprintf(l->caption, sizeof l->caption, "%s", caption ? caption : "");
    for (size_t i = 0; i < n_cols; i++) l->cols[i] = cols[i];
    l->n_cols = n_cols;
    r->logs[r->n_logs++] = l;
    return l;
}

void report_log_row(report_log *l, const double *v, const char *line) {
    if (!l) return;
    if (l->n_rows == l->cap_rows) {
        size_t cap = l->cap_rows ? 2 * l->cap_rows : 256;
        double *nv = realloc(l->v, cap * (l->n_cols ? l->n_cols : 1) * sizeof *nv);
        if (!nv) return;
        l->v = nv, l->cap_rows = cap;
    }
    memcpy(l->v + l->n_rows * l->n_cols, v, l->n_cols * sizeof *v);
    l->n_rows++;
    if (line) {
        svg_printf(&l->jsonl, "%s\n", line);
        return;
    }
    svg_printf(&l->jsonl, "{");
    for (size_t i = 0; i < l->n_cols; i++) {
        svg_printf(&l->jsonl, "%s\"%s\": ", i ? ", " : "", l->cols[i]);
        if (!isfinite(v[i])) svg_printf(&l->jsonl, "null");
        else if (v[i] == floor(v[i]) && fabs(v[i]) < 1e15) svg_printf(&l->jsonl, "%.0f", v[i]);
        else svg_printf(&l->jsonl, "%.6g", v[i]);
    }
    svg_printf(&l->jsonl, "}\n");
}

double *report_log_column(const report_log *l, const char *col) {
    double *out = malloc((l && l->n_rows ? l->n_rows : 1) * sizeof *out);
    if (!out || !l) return out;
    size_t c = l->n_cols;
    for (size_t i = 0; i < l->n_cols; i++)
        if (!strcmp(l->cols[i], col)) c = i;
    for (size_t i = 0; i < l->n_rows; i++) out[i] = c < l->n_cols ? l->v[i * l->n_cols + c] : NAN;
    return out;
}

/* ---- index content ------------------------------------------------------------------------- */

void report_key(report *r, const char *label, const char *fmt, ...) {
    if (r->n_keys == r->cap_keys) {
        size_t cap = r->cap_keys ? 2 * r->cap_keys : 16;
        char(*k)[2][128] = realloc(r->keys, cap * sizeof *k);
        if (!k) return;
        r->keys = k, r->cap_keys = cap;
    }
    snprintf(r->keys[r->n_keys][0], 128, "%s", label);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->keys[r->n_keys][1], 128, fmt, ap);
    va_end(ap);
    r->n_keys++;
}

void report_html(report *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    char *s = malloc((size_t)n + 1);
    if (!s) return;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    svg_printf(&r->html, "%s", s);
    free(s);
}

void report_html_escape(report *r, const char *s) { svg_escape(&r->html, s); }

FILE *report_metrics_begin(report *r) {
    free(r->mbuf);
    r->mbuf = NULL, r->mlen = 0;
    return open_memstream(&r->mbuf, &r->mlen);
}

void report_metrics_end(report *r, FILE *f) {
    if (!f) return;
    fclose(f);
    free(r->metrics);
    r->metrics = r->mbuf;
    r->mbuf = NULL;
}

void report_svg(report *r, const char *file, const char *title, const char *caption, const svg_buf *svg) {
    if (svg->oom || !svg->data) {
        fprintf(stderr, "clcdd %s: --report: out of memory drawing %s\n", r->cmd, file);
        r->write_failed = 1;
        return;
    }
    write_file(r, file, svg->data, svg->len);
    if (r->n_plots == r->cap_plots) {
        size_t cap = r->cap_plots ? 2 * r->cap_plots : 8;
        report_item *p = realloc(r->plots, cap * sizeof *p);
        if (!p) return;
        r->plots = p, r->cap_plots = cap;
    }
    report_item *it = &r->plots[r->n_plots++];
    snprintf(it->file, sizeof it->file, "%s", file);
    it->title = strdup(title ? title : file);
    it->caption = strdup(caption ? caption : "");
}

void report_lines(report *r, const char *file, const char *title, const char *caption,
                  const report_log *log, const report_line *lines, size_t n, const char *y_label,
                  const char *y2_label, int log_y, int log_y2, int zero_is_missing) {
    svg_series s[REPORT_MAX_COLS];
    double *cols[REPORT_MAX_COLS];
    double *x = report_log_column(log, "step");
    size_t ns = 0, rows = log ? log->n_rows : 0;
    for (size_t i = 0; i < n && i < REPORT_MAX_COLS; i++) {
        double *y = report_log_column(log, lines[i].col);
        int any = 0;
        for (size_t k = 0; y && k < rows; k++) {
            if (zero_is_missing && y[k] <= 0) y[k] = NAN;
            any |= isfinite(y[k]) && y[k] != 0;
        }
        if (!y || !any) {
            free(y);
            continue;
        }
        cols[ns] = y;
        s[ns] = (svg_series){lines[i].name, x, y, rows, lines[i].right, lines[i].dashed};
        ns++;
    }
    svg_line_chart c = {title, "optimizer step", y_label, y2_label, log_y, log_y2, s, ns, 0, 0};
    svg_buf b = {0};
    svg_line_chart_render(&c, &b);
    report_svg(r, file, title, caption, &b);
    svg_buf_free(&b);
    for (size_t i = 0; i < ns; i++) free(cols[i]);
    free(x);
}

void report_bars(report *r, const char *file, const char *title, const char *caption,
                 const char *const *groups, size_t n_groups, const char *const *series, size_t n_series,
                 const double *values, const char *y_label, int percent) {
    svg_bar_chart c = {title, y_label, groups, n_groups, series, n_series, values, percent ? 1.0 : 0.0,
                       percent, 0, 0};
    svg_buf b = {0};
    svg_bar_chart_render(&c, &b);
    report_svg(r, file, title, caption, &b);
    svg_buf_free(&b);
}

void report_density(report *r, const char *file, const double *density, uint32_t n_layers,
                    const char *caption) {
    const char *cols[CLCDD_CARRIER_GROUPS];
    for (int g = 0; g < CLCDD_CARRIER_GROUPS; g++) cols[g] = clcdd_carrier_group_name(g);
    const char *title = "Carrier density per layer and mask group";
    /* A sparse carrier would be one dark colour on a 0-100% scale: the scale ends at the next of
     * 1, 2, 5, 10, 20, 50, 100% above the largest density (the legend says where). */
    double mx = 0, hi = 1;
    for (size_t i = 0; i < (size_t)n_layers * CLCDD_CARRIER_GROUPS; i++)
        if (isfinite(density[i]) && density[i] > mx) mx = density[i];
    static const double ends[6] = {0.01, 0.02, 0.05, 0.1, 0.2, 0.5};
    for (int i = 5; i >= 0; i--)
        if (mx <= ends[i]) hi = ends[i];
    char cap[640];
    if (hi < 1)
        snprintf(cap, sizeof cap, "%s The colour scale ends at %g%%, above the largest density.", caption,
                 100 * hi);
    else
        snprintf(cap, sizeof cap, "%s", caption);
    svg_heat_map h = {title, "layer", "mask group (share of channels on)", NULL, cols, n_layers,
                      CLCDD_CARRIER_GROUPS, density, 0, hi, 1, 0};
    svg_buf b = {0};
    svg_heat_map_render(&h, &b);
    report_svg(r, file, title, cap, &b);
    svg_buf_free(&b);
}

/* ---- index.html ---------------------------------------------------------------------------- */

static const char *style =
    "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;max-width:980px;margin:2em auto;"
    "padding:0 1em;color:#222}h1{margin-bottom:.2em}code{background:#f3f3f3;padding:.1em .3em;"
    "word-break:break-all}table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;"
    "padding:.25em .6em;text-align:right}td:first-child,th:first-child{text-align:left}"
    "th{background:#f3f3f3}figure{margin:1.5em 0 2.5em}figure img{max-width:100%;border:1px solid #ddd}"
    "figcaption{color:#444;margin-top:.4em;line-height:1.4}.error{background:#fde8e8;border:1px solid #e99;"
    "padding:.6em}.meta{color:#555}\n";

int report_finish(report *r, const char *error) {
    if (!r->dir) return 1;
    svg_buf h = {0};
    time_t now = time(NULL);
    struct tm tm;
    char when[64] = "";
    if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    for (size_t i = 0; i < r->n_logs; i++) {
        char name[80];
        snprintf(name, sizeof name, "%s.jsonl", r->logs[i]->name);
        write_file(r, name, r->logs[i]->jsonl.data, r->logs[i]->jsonl.len);
    }
    if (r->metrics) write_file(r, "metrics.json", r->metrics, strlen(r->metrics));
    svg_printf(&h, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>clcdd %s report</title>\n"
                   "<style>\n%s</style>\n</head>\n<body>\n<h1>clcdd %s</h1>\n<p class=\"meta\"><code>",
               r->cmd, style, r->cmd);
    svg_escape(&h, r->command_line);
    svg_printf(&h, "</code><br>clcdd %s, written %s</p>\n", clcdd_version(), when);
    if (error) {
        svg_printf(&h, "<p class=\"error\">The run failed: ");
        svg_escape(&h, error);
        svg_printf(&h, ". The plots show what was logged before the failure.</p>\n");
    }
    if (r->n_keys) {
        svg_printf(&h, "<h2>Key numbers</h2>\n<table class=\"keys\">\n");
        for (size_t i = 0; i < r->n_keys; i++) {
            svg_printf(&h, "<tr><td>");
            svg_escape(&h, r->keys[i][0]);
            svg_printf(&h, "</td><td>");
            svg_escape(&h, r->keys[i][1]);
            svg_printf(&h, "</td></tr>\n");
        }
        svg_printf(&h, "</table>\n");
    }
    if (r->html.data) svg_printf(&h, "%s", r->html.data);
    if (r->n_plots) svg_printf(&h, "<h2>Plots</h2>\n");
    for (size_t i = 0; i < r->n_plots; i++) {
        const report_item *it = &r->plots[i];
        svg_printf(&h, "<figure>\n<h3>");
        svg_escape(&h, it->title);
        svg_printf(&h, "</h3>\n<img src=\"");
        svg_escape(&h, it->file);
        svg_printf(&h, "\" alt=\"");
        svg_escape(&h, it->title);
        svg_printf(&h, "\">\n<figcaption>");
        svg_escape(&h, it->caption);
        svg_printf(&h, "</figcaption>\n</figure>\n");
    }
    svg_printf(&h, "<h2>Files</h2>\n<ul>\n");
    if (r->metrics)
        svg_printf(&h, "<li><a href=\"metrics.json\">metrics.json</a>: the final results (what --json "
                       "prints)</li>\n");
    for (size_t i = 0; i < r->n_logs; i++) {
        svg_printf(&h, "<li><a href=\"");
        svg_escape(&h, r->logs[i]->name);
        svg_printf(&h, ".jsonl\">");
        svg_escape(&h, r->logs[i]->name);
        svg_printf(&h, ".jsonl</a>: ");
        svg_escape(&h, r->logs[i]->caption);
        svg_printf(&h, " (%zu lines)</li>\n", r->logs[i]->n_rows);
    }
    for (size_t i = 0; i < r->n_plots; i++) {
        svg_printf(&h, "<li><a href=\"");
        svg_escape(&h, r->plots[i].file);
        svg_printf(&h, "\">");
        svg_escape(&h, r->plots[i].file);
        svg_printf(&h, "</a></li>\n");
    }
    svg_printf(&h, "</ul>\n</body>\n</html>\n");
    if (h.oom) {
        fprintf(stderr, "clcdd %s: --report: out of memory writing index.html\n", r->cmd);
        r->write_failed = 1;
    } else {
        write_file(r, "index.html", h.data, h.len);
    }
    svg_buf_free(&h);
    int failed = r->write_failed;
    if (!failed) fprintf(stderr, "clcdd %s: report written to %s/index.html\n", r->cmd, r->dir);
    for (size_t i = 0; i < r->n_logs; i++) {
        free(r->logs[i]->v);
        svg_buf_free(&r->logs[i]->jsonl);
        free(r->logs[i]);
    }
    for (size_t i = 0; i < r->n_plots; i++) free(r->plots[i].title), free(r->plots[i].caption);
    free(r->plots), free(r->keys), free(r->metrics), free(r->mbuf), free(r->dir), free(r->command_line);
    svg_buf_free(&r->html);
    memset(r, 0, sizeof *r);
    return failed;
}
