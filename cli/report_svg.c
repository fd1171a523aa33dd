#include "report_svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Colour-blind-safe palette (Okabe-Ito without the yellow, which is unreadable on white). */
static const char *palette[8] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                 "#e69f00", "#56b4e9", "#555555", "#000000"};
#define FONT 12.0
#define CHAR_W 0.6 /* average glyph width of the sans-serif font, in font sizes */

/* ---- text buffer --------------------------------------------------------------------------- */

void svg_buf_free(svg_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

static int reserve(svg_buf *b, size_t extra) {
    if (b->oom) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->oom = 1;
        return 0;
    }
    b->data = d, b->cap = cap;
    return 1;
}

void svg_printf(svg_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void put(svg_buf *b, const char *s, size_t n) {
    if (!reserve(b, n)) return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s) {
    if (s[0] < 0x80) return 1;
    size_t n = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (!n || (n == 2 && s[0] < 0xc2) || (n == 4 && s[0] > 0xf4)) return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (n == 3 && s[0] == 0xe0 && s[1] < 0xa0) return 0;   /* overlong */
    if (n == 3 && s[0] == 0xed && s[1] >= 0xa0) return 0;  /* surrogates */
    if (n == 4 && s[0] == 0xf0 && s[1] < 0x90) return 0;
    if (n == 4 && s[0] == 0xf4 && s[1] >= 0x90) return 0;
    return n;
}

void svg_escape(svg_buf *b, const char *s) {
    if (!s) return;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        switch (*p) {
        case '&': put(b, "&amp;", 5); p++; continue;
        case '<': put(b, "&lt;", 4); p++; continue;
        case '>': put(b, "&gt;", 4); p++; continue;
        case '"': put(b, "&quot;", 6); p++; continue;
        case '\'': put(b, "&apos;", 6); p++; continue;
        default: break;
        }
        if (*p < 0x20) { /* XML 1.0 allows only tab, newline, return; show every control as a space */
            put(b, " ", 1);
            p++;
            continue;
        }
        size_t n = utf8_len(p);
        if (!n) {
            put(b, "?", 1);
            p++;
            continue;
        }
        put(b, (const char *)p, n);
        p += n;
    }
}

/* Display width of s in pixels at font size fs (UTF-8 continuation bytes do not count). */
static double text_w(const char *s, double fs) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) n += (*p & 0xc0) != 0x80;
    return (double)n * fs * CHAR_W;
}

static void text(svg_buf *b, double x, double y, const char *anchor, double fs, const char *extra,
                 const char *s) {
    svg_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" text-anchor=\"%s\"%s%s>", x, y, fs,
               anchor, extra && extra[0] ? " " : "", extra ? extra : "");
    svg_escape(b, s);
    svg_printf(b, "</text>\n");
}

static void header(svg_buf *b, int w, int h, const char *title) {
    svg_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
               w, h, w, h);
    svg_printf(b, "<title>");
    svg_escape(b, title ? title : "chart");
    svg_printf(b, "</title>\n<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", w, h);
    if (title && title[0]) text(b, w / 2.0, 24, "middle", 15, "font-weight=\"bold\"", title);
}

static void no_data(svg_buf *b, double l, double t, double r, double bt) {
    svg_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#f6f6f6\" "
                  "stroke=\"#cccccc\"/>\n", l, t, r - l, bt - t);
    text(b, (l + r) / 2, (t + bt) / 2 + 6, "middle", 16, "fill=\"#777777\"", "no data");
}

/* ---- numbers and ticks ----------------------------------------------------------------------- */

void svg_format_number(double v, char *out, size_t cap) {
    if (!isfinite(v)) {
        snprintf(out, cap, "%s", isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf");
        return;
    }
    if (v == 0) {
        snprintf(out, cap, "0");
        return;
    }
    double a = fabs(v);
    /* plain decimals with up to 6 significant digits, trailing zeros dropped */
    char plain[64] = "";
    if (a >= 1e-4 && a < 1e7) {
        int dec = 0;
        while (dec < 10) {
            double s = v * pow(10, dec);
            if (fabs(s - round(s)) <= 1e-6 * fabs(s) + 1e-9) break;
            dec++;
        }
        int sig = (int)floor(log10(a)) + 1 + dec;
        if (sig > 6) dec -= sig - 6;
        if (dec < 0) dec = 0;
        snprintf(plain, sizeof plain, "%.*f", dec, v);
    }
    /* 1e-6 style: mantissa with up to 3 digits, no '+' or leading zeros in the exponent */
    int e = (int)floor(log10(a));
    double m = v / pow(10, e);
    if (fabs(m) >= 9.9995) m /= 10, e++;
    char mant[32], sci[64];
    snprintf(mant, sizeof mant, "%.3f", m);
    char *z = mant + strlen(mant) - 1;
    while (*z == '0') *z-- = 0;
    if (*z == '.') *z = 0;
    snprintf(sci, sizeof sci, "%se%d", mant, e);
    snprintf(out, cap, "%s", plain[0] && strlen(plain) <= strlen(sci) + 1 ? plain : sci);
}

static double nice_step(double raw) {
    double p = pow(10, floor(log10(raw))), f = raw / p;
    double n = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
    return n * p;
}

/* Largest 1-2-5 number <= v (down) or smallest >= v (up), v > 0. */
static double nice125(double v, int up) {
    double p = pow(10, floor(log10(v))), f = v / p;
    static const double m[4] = {1, 2, 5, 10};
    if (up) {
        for (int i = 0; i < 4; i++)
            if (m[i] * p >= v * (1 - 1e-9)) return m[i] * p;
        return 10 * p;
    }
    for (int i = 3; i >= 0; i--)
        if (m[i] * p <= v * (1 + 1e-9)) return m[i] * p;
    (void)f;
    return p;
}

void svg_nice_scale(double lo, double hi, int log, int max_ticks, svg_scale *s) {
    memset(s, 0, sizeof *s);
    s->log = log;
    if (max_ticks < 2) max_ticks = 2;
    if (max_ticks > SVG_MAX_TICKS) max_ticks = SVG_MAX_TICKS;
    if (!isfinite(lo) || !isfinite(hi) || lo > hi || (log && hi <= 0)) lo = log ? 1 : 0, hi = log ? 10 : 1;
    if (log) {
        if (lo <= 0) lo = hi / 10;
        double a = nice125(lo, 0), b = nice125(hi, 1);
        if (b <= a) b = nice125(a * 1.5, 1);
        s->lo = a, s->hi = b;
        int d0 = (int)floor(log10(a) + 1e-9), d1 = (int)ceil(log10(b) - 1e-9);
        if (d1 - d0 <= 2) { /* few decades: 1, 2, 5 of each */
            for (int d = d0; d <= d1; d++)
                for (int k = 0; k < 3; k++) {
                    double v = (k == 0 ? 1 : k == 1 ? 2 : 5) * pow(10, d);
                    if (v >= a * (1 - 1e-9) && v <= b * (1 + 1e-9) && s->n_ticks < SVG_MAX_TICKS)
                        s->ticks[s->n_ticks++] = v;
                }
        }
        if (s->n_ticks < 2 || s->n_ticks > max_ticks) { /* decades, every k-th when there are many */
            s->n_ticks = 0;
            int every = 1;
            while ((d1 - d0) / every + 1 > max_ticks) every++;
            s->lo = pow(10, d0), s->hi = pow(10, d1);
            for (int d = d0; d <= d1 && s->n_ticks < SVG_MAX_TICKS; d += every)
                s->ticks[s->n_ticks++] = pow(10, d);
        }
        return;
    }
    if (hi == lo) {
        double pad = lo == 0 ? 1 : fabs(lo) * 0.1;
        lo -= pad, hi += pad;
    }
    double step = nice_step((hi - lo) / (max_ticks - 1));
    double a = floor(lo / step + 1e-9) * step, b = ceil(hi / step - 1e-9) * step;
    while ((int)llround((b - a) / step) + 1 > max_ticks) {
        step = nice_step(step * 1.01);
        a = floor(lo / step + 1e-9) * step, b = ceil(hi / step - 1e-9) * step;
    }
    s->lo = a, s->hi = b;
    int n = (int)llround((b - a) / step) + 1;
    for (int i = 0; i < n && i < SVG_MAX_TICKS; i++) {
        double v = a + i * step;
        if (fabs(v) < step * 1e-9) v = 0;
        s->ticks[s->n_ticks++] = v;
    }
}

static double scale_frac(const svg_scale *s, double v) {
    if (!isfinite(v) || (s->log && v <= 0)) return NAN;
    if (s->log) return (log10(v) - log10(s->lo)) / (log10(s->hi) - log10(s->lo));
    return (v - s->lo) / (s->hi - s->lo);
}

/* ---- line charts ----------------------------------------------------------------------------- */

static int drawable(const svg_series *s, size_t i, int logy) {
    return isfinite(s->x[i]) && isfinite(s->y[i]) && (!logy || s->y[i] > 0);
}

/* Tick label i of an axis: when any tick of the axis needs the 1e-6 style, every tick below 1
 * uses it too, so a log axis reads 1e-4, 1e-3, 1e-2 rather than 1e-4, 0.001, 0.01. */
static void tick_label(const svg_scale *s, int i, char *out, size_t cap) {
    int sci = 0;
    for (int k = 0; k < s->n_ticks; k++) {
        char t[64];
        svg_format_number(s->ticks[k], t, sizeof t);
        sci |= strchr(t, 'e') != NULL;
    }
    double v = s->ticks[i], a = fabs(v);
    if (sci && v != 0 && a < 1) {
        int e = (int)floor(log10(a) + 1e-9);
        double m = v / pow(10, e);
        char t[40];
        svg_format_number(m, t, sizeof t);
        snprintf(out, cap, "%.32se%d", t, e);
        return;
    }
    svg_format_number(v, out, cap);
}

static double label_w(const svg_scale *s) {
    double w = 0;
    for (int i = 0; i < s->n_ticks; i++) {
        char t[64];
        tick_label(s, i, t, sizeof t);
        double tw = text_w(t, 11);
        if (tw > w) w = tw;
    }
    return w;
}

/* Legend entries laid out left to right, wrapping; returns the number of rows. */
static int legend_layout(const svg_line_chart *c, double width, double *xs, int *row) {
    double x = 0;
    int r = 0;
    for (size_t i = 0; i < c->n_series; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s%s", c->series[i].name ? c->series[i].name : "",
                 c->series[i].right && c->y2_label ? " (right axis)" : "");
        double w = 28 + text_w(name, 11) + 18;
        if (x > 0 && x + w > width) x = 0, r++;
        xs[i] = x, row[i] = r;
        x += w;
    }
    return c->n_series ? r + 1 : 0;
}

void svg_line_layout(const svg_line_chart *c, svg_layout *L) {
    memset(L, 0, sizeof *L);
    double W = c->width > 0 ? c->width : 720, H = c->height > 0 ? c->height : 400;
    double xlo = INFINITY, xhi = -INFINITY, ylo[2] = {INFINITY, INFINITY}, yhi[2] = {-INFINITY, -INFINITY};
    for (size_t k = 0; k < c->n_series; k++) {
        const svg_series *s = &c->series[k];
        int r = s->right != 0, lg = r ? c->log_y2 : c->log_y;
        if (r) L->has_y2 = 1;
        for (size_t i = 0; s->x && s->y && i < s->n; i++) {
            if (!drawable(s, i, lg)) continue;
            L->has_data = 1;
            if (s->x[i] < xlo) xlo = s->x[i];
            if (s->x[i] > xhi) xhi = s->x[i];
            if (s->y[i] < ylo[r]) ylo[r] = s->y[i];
            if (s->y[i] > yhi[r]) yhi[r] = s->y[i];
        }
    }
    svg_nice_scale(xlo, xhi, 0, 8, &L->x);
    svg_nice_scale(ylo[0], yhi[0], c->log_y, 7, &L->y);
    svg_nice_scale(ylo[1], yhi[1], c->log_y2, 7, &L->y2);
    double xs[64];
    int rows[64];
    const svg_line_chart *cc = c;
    svg_line_chart tmp;
    if (c->n_series > 64) {
        tmp = *c;
        tmp.n_series = 64;
        cc = &tmp;
    }
    L->legend_rows = legend_layout(cc, W - 80, xs, rows);
    L->top = 44 + 18.0 * L->legend_rows;
    L->left = 16 + (c->y_label && c->y_label[0] ? 18 : 0) + label_w(&L->y) + 8;
    L->right = W - 20;
    if (L->has_y2) L->right = W - (16 + (c->y2_label && c->y2_label[0] ? 18 : 0) + label_w(&L->y2) + 8);
    L->bottom = H - (c->x_label && c->x_label[0] ? 46 : 28);
    L->pad = 6;
}

double svg_map_x(const svg_layout *L, double x) {
    return L->left + scale_frac(&L->x, x) * (L->right - L->left);
}

double svg_map_y(const svg_layout *L, double y, int right) {
    return L->bottom - L->pad - scale_frac(right ? &L->y2 : &L->y, y) * (L->bottom - L->top - 2 * L->pad);
}

static void y_axis(svg_buf *b, const svg_layout *L, const svg_scale *s, int right, const char *label,
                   double W, int grid) {
    double x = right ? L->right : L->left;
    for (int i = 0; i < s->n_ticks; i++) {
        double y = svg_map_y(L, s->ticks[i], right);
        char t[64];
        tick_label(s, i, t, sizeof t);
        if (grid)
            svg_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n",
                       L->left, y, L->right, y);
        svg_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n", x, y,
                   right ? x + 5 : x - 5, y);
        text(b, right ? x + 8 : x - 8, y + 4, right ? "start" : "end", 11, "", t);
    }
    if (label && label[0]) {
        double lx = right ? W - 14 : 16, ly = (L->top + L->bottom) / 2;
        char tr[64];
        snprintf(tr, sizeof tr, "transform=\"rotate(%d %.1f %.1f)\"", right ? 90 : -90, lx, ly);
        text(b, lx, ly, "middle", FONT, tr, label);
    }
}

void svg_line_chart_render(const svg_line_chart *c, svg_buf *b) {
    svg_layout L;
    svg_line_layout(c, &L);
    int W = c->width > 0 ? c->width : 720, H = c->height > 0 ? c->height : 400;
    header(b, W, H, c->title);
    if (!L.has_data) {
        no_data(b, L.left, L.top, L.right, L.bottom);
        svg_printf(b, "</svg>\n");
        return;
    }
    /* legend */
    double xs[64];
    int rows[64];
    size_t ns = c->n_series < 64 ? c->n_series : 64;
    svg_line_chart lc = *c;
    lc.n_series = ns;
    legend_layout(&lc, W - 80, xs, rows);
    double lw = 0;
    for (size_t i = 0; i < ns; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s%s", c->series[i].name ? c->series[i].name : "",
                 c->series[i].right && c->y2_label ? " (right axis)" : "");
        double end = xs[i] + 28 + text_w(name, 11);
        if (rows[i] == 0 && end > lw) lw = end;
    }
    double lx0 = (W - (L.legend_rows > 1 ? W - 80 : lw)) / 2;
    for (size_t i = 0; i < ns; i++) {
        const char *col = palette[i % 8];
        double x = lx0 + xs[i], y = 44 + 18.0 * rows[i] - 4;
        svg_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"%s/>\n",
                   x, y - 4, x + 22, y - 4, col, c->series[i].dashed ? " stroke-dasharray=\"6 3\"" : "");
        char name[160];
        snprintf(name, sizeof name, "%s%s", c->series[i].name ? c->series[i].name : "",
                 c->series[i].right && c->y2_label ? " (right axis)" : "");
        text(b, x + 28, y, "start", 11, "", name);
    }
    /* axes and grid */
    y_axis(b, &L, &L.y, 0, c->y_label, W, 1);
    if (L.has_y2) y_axis(b, &L, &L.y2, 1, c->y2_label, W, 0);
    for (int i = 0; i < L.x.n_ticks; i++) {
        double x = svg_map_x(&L, L.x.ticks[i]);
        char t[64];
        tick_label(&L.x, i, t, sizeof t);
        svg_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eeeeee\"/>\n", x, L.top,
                   x, L.bottom);
        svg_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n", x,
                   L.bottom, x, L.bottom + 5);
        text(b, x, L.bottom + 18, "middle", 11, "", t);
    }
    if (c->x_label && c->x_label[0]) text(b, (L.left + L.right) / 2, H - 10, "middle", FONT, "", c->x_label);
    svg_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333333\"/>\n",
               L.left, L.top, L.right - L.left, L.bottom - L.top);
    /* series: one polyline per run of drawable points; markers when there are few points */
    for (size_t k = 0; k < c->n_series; k++) {
        const svg_series *s = &c->series[k];
        if (!s->x || !s->y) continue;
        int r = s->right != 0, lg = r ? c->log_y2 : c->log_y;
        const char *col = palette[k % 8];
        size_t shown = 0;
        for (size_t i = 0; i < s->n; i++) shown += drawable(s, i, lg);
        size_t i = 0;
        while (i < s->n) {
            while (i < s->n && !drawable(s, i, lg)) i++;
            size_t j = i;
            while (j < s->n && drawable(s, j, lg)) j++;
            if (j - i >= 2) {
                svg_printf(b, "<polyline class=\"series-%zu\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                              "stroke-linejoin=\"round\"%s points=\"", k, col,
                           s->dashed ? " stroke-dasharray=\"6 3\"" : "");
                for (size_t q = i; q < j; q++)
                    svg_printf(b, "%s%.2f,%.2f", q > i ? " " : "", svg_map_x(&L, s->x[q]),
                               svg_map_y(&L, s->y[q], r));
                svg_printf(b, "\"/>\n");
            }
            for (size_t q = i; q < j && (j - i == 1 || shown <= 40); q++)
                svg_printf(b, "<circle class=\"point-%zu\" cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n", k,
                           svg_map_x(&L, s->x[q]), svg_map_y(&L, s->y[q], r), col);
            i = j;
        }
    }
    svg_printf(b, "</svg>\n");
}

/* ---- bar charts ------------------------------------------------------------------------------ */

/* Split s into at most max_lines lines of at most width pixels at spaces (a long word is cut). */
static int wrap(const char *s, double width, double fs, char lines[][96], int max_lines) {
    int n = 0;
    size_t per = (size_t)(width / (fs * CHAR_W));
    if (per < 4) per = 4;
    if (per > 95) per = 95;
    const char *p = s ? s : "";
    while (*p && n < max_lines) {
        while (*p == ' ') p++;
        size_t len = strlen(p), take = len;
        if (len > per) {
            take = per;
            while (take > 0 && p[take] != ' ') take--;
            if (take == 0) take = per;
            while (take > 0 && ((unsigned char)p[take] & 0xc0) == 0x80) take--; /* not inside a char */
        }
        if (n == max_lines - 1 && len > take) { /* last line: cut with an ellipsis */
            take = per > 3 ? per - 3 : per;
            while (take > 0 && ((unsigned char)p[take] & 0xc0) == 0x80) take--;
            snprintf(lines[n], 96, "%.*s...", (int)take, p);
            return n + 1;
        }
        snprintf(lines[n++], 96, "%.*s", (int)take, p);
        p += take;
    }
    return n;
}

void svg_bar_chart_render(const svg_bar_chart *c, svg_buf *b) {
    int W = c->width > 0 ? c->width : 800, H = c->height > 0 ? c->height : 440;
    header(b, W, H, c->title);
    double vmax = 0;
    int any = 0;
    for (size_t i = 0; c->values && i < c->n_groups * c->n_series; i++)
        if (isfinite(c->values[i])) {
            any = 1;
            if (c->values[i] > vmax) vmax = c->values[i];
        }
    if (c->y_max > 0) vmax = c->y_max;
    /* legend row(s) */
    double x = 0, legend_w = W - 80.0;
    int lrows = c->n_series ? 1 : 0;
    double lx[64];
    int lr[64];
    size_t ns = c->n_series < 64 ? c->n_series : 64;
    for (size_t i = 0; i < ns; i++) {
        double w = 20 + text_w(c->series[i], 11) + 18;
        if (x > 0 && x + w > legend_w) x = 0, lrows++;
        lx[i] = x, lr[i] = lrows - 1;
        x += w;
    }
    double top = 44 + 18.0 * lrows;
    svg_scale ys;
    svg_nice_scale(0, vmax > 0 ? vmax : 1, 0, 6, &ys);
    if (c->percent) { /* ticks as whole percentages */
        for (int i = 0; i < ys.n_ticks; i++) ys.ticks[i] *= 100;
    }
    double left = 16 + (c->y_label && c->y_label[0] ? 18 : 0) + label_w(&ys) + (c->percent ? 8 : 0) + 8;
    double right = W - 16.0;
    size_t ng = c->n_groups ? c->n_groups : 1;
    double gw = (right - left) / (double)ng;
    char lines[3][96];
    int max_lines = 1;
    for (size_t g = 0; g < c->n_groups; g++) {
        int n = wrap(c->groups[g], gw - 6, 11, lines, 3);
        if (n > max_lines) max_lines = n;
    }
    double bottom = H - (12 + 14.0 * max_lines + 6);
    if (!any || !c->n_groups || !c->n_series) {
        no_data(b, left, top, right, bottom);
        svg_printf(b, "</svg>\n");
        return;
    }
    double x0 = (W - (lrows > 1 ? legend_w : x - 18)) / 2;
    for (size_t i = 0; i < ns; i++) {
        double lxx = x0 + lx[i], ly = 44 + 18.0 * lr[i] - 4;
        svg_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"12\" fill=\"%s\"/>\n", lxx, ly - 10,
                   palette[i % 8]);
        text(b, lxx + 20, ly, "start", 11, "", c->series[i]);
    }
    double span = ys.hi - ys.lo;
    for (int i = 0; i < ys.n_ticks; i++) {
        double v = c->percent ? ys.ticks[i] / 100 : ys.ticks[i];
        double y = bottom - (v - ys.lo) / span * (bottom - top);
        char t[64], t2[72];
        svg_format_number(ys.ticks[i], t, sizeof t);
        snprintf(t2, sizeof t2, "%s%s", t, c->percent ? "%" : "");
        svg_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", left, y,
                   right, y);
        text(b, left - 8, y + 4, "end", 11, "", t2);
    }
    if (c->y_label && c->y_label[0]) {
        double ly = (top + bottom) / 2;
        char tr[64];
        snprintf(tr, sizeof tr, "transform=\"rotate(-90 16 %.1f)\"", ly);
        text(b, 16, ly, "middle", FONT, tr, c->y_label);
    }
    double bw = gw * 0.8 / (double)c->n_series;
    for (size_t g = 0; g < c->n_groups; g++) {
        double gx = left + gw * (double)g + gw * 0.1;
        for (size_t s = 0; s < c->n_series; s++) {
            double v = c->values[g * c->n_series + s], bx = gx + bw * (double)s;
            if (!isfinite(v)) {
                char tr[80];
                snprintf(tr, sizeof tr, "fill=\"#999999\" transform=\"rotate(-90 %.1f %.1f)\"", bx + bw / 2 + 3,
                         bottom - 4);
                text(b, bx + bw / 2 + 3, bottom - 4, "start", 9, tr, "n/a");
                continue;
            }
            double fv = (v - ys.lo) / span;
            if (fv < 0) fv = 0;
            if (fv > 1) fv = 1;
            double h = fv * (bottom - top);
            if (h < 1.5) h = 1.5; /* a zero still shows as a sliver of its colour, unlike n/a */
            svg_printf(b, "<rect class=\"bar\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\">"
                          "<title>", bx, bottom - h, bw > 1 ? bw - 1 : bw, h, palette[s % 8]);
            char t[64];
            svg_format_number(c->percent ? round(v * 1000) / 10 : v, t, sizeof t);
            svg_escape(b, c->groups[g]);
            svg_printf(b, ", ");
            svg_escape(b, c->series[s]);
            svg_printf(b, ": %s%s</title></rect>\n", t, c->percent ? "%" : "");
        }
        int n = wrap(c->groups[g], gw - 6, 11, lines, 3);
        for (int k = 0; k < n; k++) text(b, left + gw * ((double)g + 0.5), bottom + 16 + 14.0 * k, "middle", 11, "", lines[k]);
        if (g > 0)
            svg_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eeeeee\"/>\n",
                       left + gw * (double)g, top, left + gw * (double)g, bottom);
    }
    svg_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333333\"/>\n",
               left, top, right - left, bottom - top);
    svg_printf(b, "</svg>\n");
}

/* ---- heat maps ------------------------------------------------------------------------------- */

void svg_heat_colour(double t, char out[8]) {
    static const unsigned char stops[5][3] = {
        {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    if (!isfinite(t)) t = 0;
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    double p = t * 4;
    int i = (int)floor(p);
    if (i > 3) i = 3;
    double f = p - i;
    int rgb[3];
    for (int k = 0; k < 3; k++) rgb[k] = (int)lround(stops[i][k] + f * (stops[i + 1][k] - stops[i][k]));
    snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

void svg_heat_map_render(const svg_heat_map *c, svg_buf *b) {
    int W = c->width > 0 ? c->width : 720;
    size_t nr = c->n_rows, nc = c->n_cols;
    double rh = nr ? 520.0 / (double)nr : 28;
    if (rh > 30) rh = 30;
    if (rh < 6) rh = 6;
    double rowlab = 0;
    for (size_t r = 0; r < nr; r++) {
        char t[32];
        const char *s = c->rows ? c->rows[r] : t;
        if (!c->rows) snprintf(t, sizeof t, "%zu", r);
        double w = text_w(s, 11);
        if (w > rowlab) rowlab = w;
    }
    double top = 44, left = 16 + (c->row_label && c->row_label[0] ? 18 : 0) + rowlab + 8;
    double legend_x = W - 86.0, right = legend_x - 24;
    double cw = nc ? (right - left) / (double)nc : 0;
    double colfs = 11;
    for (size_t k = 0; k < nc; k++)
        while (colfs > 8 && text_w(c->cols[k], colfs) > cw - 4) colfs -= 0.5;
    double plot_h = nr ? rh * (double)nr : 200;
    if (plot_h < 160) plot_h = nr ? plot_h : 160;
    double bottom = top + plot_h;
    int H = (int)(bottom + 22 + (c->col_label && c->col_label[0] ? 24 : 0) + 8);
    int any = 0;
    for (size_t i = 0; c->values && i < nr * nc; i++) any |= isfinite(c->values[i]) != 0;
    if ((!any || !nr || !nc) && H < 260) H = 260;
    header(b, W, H, c->title);
    if (!any || !nr || !nc) {
        no_data(b, left, top, right, top + 160);
        svg_printf(b, "</svg>\n");
        return;
    }
    double span = c->hi > c->lo ? c->hi - c->lo : 1;
    int labels = rh >= 14 && cw >= 34;
    for (size_t r = 0; r < nr; r++) {
        double y = top + rh * (double)r;
        for (size_t k = 0; k < nc; k++) {
            double v = c->values[r * nc + k], x = left + cw * (double)k;
            double t = (v - c->lo) / span;
            char col[8], lab[64] = "n/a";
            if (isfinite(v)) svg_heat_colour(t, col);
            else snprintf(col, sizeof col, "#cccccc");
            svg_printf(b, "<rect class=\"cell\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\" "
                          "stroke=\"#ffffff\" stroke-width=\"%s\"><title>", x, y, cw, rh, col,
                       rh >= 10 ? "1" : "0.3");
            if (isfinite(v)) {
                if (c->percent) snprintf(lab, sizeof lab, "%.1f%%", 100 * v);
                else svg_format_number(v, lab, sizeof lab);
            }
            char rname[32];
            snprintf(rname, sizeof rname, "%zu", r);
            svg_escape(b, c->rows ? c->rows[r] : rname);
            svg_printf(b, ", ");
            svg_escape(b, c->cols[k]);
            svg_printf(b, ": %s</title></rect>\n", lab);
            if (labels) {
                char fill[24];
                snprintf(fill, sizeof fill, "fill=\"%s\"", !isfinite(v) ? "#555555" : t < 0.55 ? "#ffffff" : "#000000");
                text(b, x + cw / 2, y + rh / 2 + 4, "middle", rh >= 18 ? 11 : 9, fill, lab);
            }
        }
    }
    /* row labels, thinned so they do not overlap */
    size_t every = 1;
    while (rh * (double)every < 12) every++;
    for (size_t r = 0; r < nr; r += every) {
        char t[32];
        snprintf(t, sizeof t, "%zu", r);
        text(b, left - 6, top + rh * ((double)r + 0.5) + 4, "end", 11, "", c->rows ? c->rows[r] : t);
    }
    for (size_t k = 0; k < nc; k++) text(b, left + cw * ((double)k + 0.5), bottom + 16, "middle", colfs, "", c->cols[k]);
    if (c->col_label && c->col_label[0]) text(b, (left + right) / 2, bottom + 40, "middle", FONT, "", c->col_label);
    if (c->row_label && c->row_label[0]) {
        double ly = (top + bottom) / 2;
        char tr[64];
        snprintf(tr, sizeof tr, "transform=\"rotate(-90 16 %.1f)\"", ly);
        text(b, 16, ly, "middle", FONT, tr, c->row_label);
    }
    svg_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333333\"/>\n",
               left, top, right - left, bottom - top);
    /* colour scale: a gradient of 32 steps with ticks at quarters */
    double lh = bottom - top < 240 ? bottom - top : 240, lt = top;
    for (int i = 0; i < 32; i++) {
        char col[8];
        svg_heat_colour(1.0 - (i + 0.5) / 32.0, col);
        svg_printf(b, "<rect x=\"%.1f\" y=\"%.2f\" width=\"16\" height=\"%.2f\" fill=\"%s\"/>\n", legend_x,
                   lt + lh * i / 32.0, lh / 32.0 + 0.3, col);
    }
    svg_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"%.1f\" fill=\"none\" stroke=\"#333333\"/>\n",
               legend_x, lt, lh);
    for (int i = 0; i <= 4; i++) {
        double v = c->lo + span * i / 4.0, y = lt + lh * (1 - i / 4.0);
        char t[64];
        if (c->percent) {
            char num[48];
            svg_format_number(round(1e4 * v) / 100, num, sizeof num);
            snprintf(t, sizeof t, "%s%%", num);
        } else {
            svg_format_number(v, t, sizeof t);
        }
        svg_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n",
                   legend_x + 16, y, legend_x + 20, y);
        text(b, legend_x + 23, y + 4, "start", 11, "", t);
    }
    svg_printf(b, "</svg>\n");
}
