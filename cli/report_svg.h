/* SVG charts for report folders (`--report DIR`): line charts (several series, legend, nice axis
 * ticks, optional log scale, optional right-hand axis), grouped bar charts and heat maps with a
 * colour scale. Presentation only: libc, no other dependency. Every chart is rendered into a
 * growable text buffer; text is escaped for XML (invalid UTF-8 becomes '?'). Non-finite values
 * (and values <= 0 on a log axis) are skipped, breaking a line; a chart without any drawable value
 * says "no data". */
#ifndef CLCDD_CLI_REPORT_SVG_H
#define CLCDD_CLI_REPORT_SVG_H

#include <stddef.h>

/* Growable text; oom is set (and further output dropped) when an allocation fails. */
typedef struct svg_buf {
    char *data;
    size_t len, cap;
    int oom;
} svg_buf;

void svg_buf_free(svg_buf *b);
void svg_printf(svg_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Append s escaped for XML text and attribute values (& < > " ' and control characters). */
void svg_escape(svg_buf *b, const char *s);

/* ---- line charts ----------------------------------------------------------------------------- */
typedef struct svg_series {
    const char *name;       /* legend text */
    const double *x, *y;    /* n points */
    size_t n;
    int right;              /* 1: against the right-hand axis (y2) */
    int dashed;
} svg_series;

typedef struct svg_line_chart {
    const char *title;
    const char *x_label, *y_label, *y2_label;
    int log_y, log_y2;      /* log10 scale of the left / right axis */
    const svg_series *series;
    size_t n_series;
    int width, height;      /* pixels; 0: 720 x 400 */
} svg_line_chart;

#define SVG_MAX_TICKS 24

/* One axis as drawn: the range, its scale and the tick values. */
typedef struct svg_scale {
    double lo, hi;
    int log;
    double ticks[SVG_MAX_TICKS];
    int n_ticks;
} svg_scale;

/* Where a line chart puts things: the plot area in pixels (y grows downwards) and the axes.
 * has_data: some series has a drawable point; has_y2: some series uses the right axis. Lines
 * keep clear of the frame: the y range lies pad pixels inside it. */
typedef struct svg_layout {
    double left, top, right, bottom;
    double pad;             /* the y axes' range maps to [top + pad, bottom - pad] */
    svg_scale x, y, y2;
    int has_data, has_y2;
    int legend_rows;
} svg_layout;

void svg_line_layout(const svg_line_chart *c, svg_layout *L);
/* Pixel coordinates of a data value under a layout (NaN when the value cannot be drawn). */
double svg_map_x(const svg_layout *L, double x);
double svg_map_y(const svg_layout *L, double y, int right);
void svg_line_chart_render(const svg_line_chart *c, svg_buf *out);

/* Nice ticks for [lo, hi]: a 1-2-5 step covering the range with at most max_ticks ticks (linear),
 * or powers of ten (with 2 and 5 when the range spans few decades) on a log axis. lo/hi of the
 * result are the extended axis range. Empty or non-finite input gives [0, 1]. */
void svg_nice_scale(double lo, double hi, int log, int max_ticks, svg_scale *s);
/* A tick label: the shortest of plain decimals or 1e-6 style that shows the value. */
void svg_format_number(double v, char *out, size_t cap);

/* ---- grouped bar charts ---------------------------------------------------------------------- */
typedef struct svg_bar_chart {
    const char *title, *y_label;
    const char *const *groups;   /* category names along x (wrapped to fit) */
    size_t n_groups;
    const char *const *series;   /* one bar per series in each group (legend) */
    size_t n_series;
    const double *values;        /* n_groups x n_series, row-major; non-finite: "n/a" */
    double y_max;                /* 0: from the data */
    int percent;                 /* values are shares of 1, shown as percentages */
    int width, height;           /* 0: 800 x 440 */
} svg_bar_chart;

void svg_bar_chart_render(const svg_bar_chart *c, svg_buf *out);

/* ---- heat maps ------------------------------------------------------------------------------- */
typedef struct svg_heat_map {
    const char *title, *row_label, *col_label;
    const char *const *rows;     /* NULL: rows are numbered from 0 */
    const char *const *cols;
    size_t n_rows, n_cols;
    const double *values;        /* n_rows x n_cols, row-major; non-finite: grey "n/a" */
    double lo, hi;               /* colour scale range */
    int percent;                 /* cell labels and legend as percentages */
    int width;                   /* 0: 720 */
} svg_heat_map;

void svg_heat_map_render(const svg_heat_map *c, svg_buf *out);
/* The colour of t in [0, 1] on the heat map's scale (viridis-like), as "#rrggbb". */
void svg_heat_colour(double t, char out[8]);

#endif
