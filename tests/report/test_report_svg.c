/* The report SVG writer: well-formed XML for every chart kind and odd input (NaN, inf, empty,
 * text that needs escaping, invalid UTF-8), data mapped to the right pixels, nice ticks. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_svg.h"

/* ---- a tiny XML well-formedness checker --------------------------------------------------- */

static int valid_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 && c >= 0xc2 ? 2 : (c & 0xf0) == 0xe0 ? 3
                 : (c & 0xf8) == 0xf0 && c <= 0xf4 ? 4 : 0;
        if (!k || i + k > n) return 0;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xc0) != 0x80) return 0;
        if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') return 0;
        i += k;
    }
    return 1;
}

static int is_name(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == ':' || c == '.';
}

/* An entity at p ('&'): returns its length or 0. */
static size_t entity(const char *p) {
    static const char *known[5] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (int i = 0; i < 5; i++)
        if (!strncmp(p, known[i], strlen(known[i]))) return strlen(known[i]);
    if (p[1] == '#') {
        size_t i = 2;
        int hex = p[2] == 'x';
        if (hex) i++;
        size_t d = i;
        while ((hex ? strchr("0123456789abcdefABCDEF", p[i]) : strchr("0123456789", p[i])) && p[i]) i++;
        if (i > d && p[i] == ';') return i + 1;
    }
    return 0;
}

/* 1 when doc is well-formed: one root element, balanced tags, quoted attributes without '<',
 * entities only of the predefined kinds, no raw '<' or '&' in text, valid UTF-8. */
static int well_formed(const char *doc, char *why, size_t cap) {
#define BAD(...) do { snprintf(why, cap, __VA_ARGS__); return 0; } while (0)
    if (!valid_utf8((const unsigned char *)doc, strlen(doc))) BAD("invalid UTF-8 or control character");
    const char *p = doc;
    if (!strncmp(p, "<?xml", 5)) {
        p = strstr(p, "?>");
        if (!p) BAD("unterminated prolog");
        p += 2;
    }
    char stack[64][32];
    int depth = 0, roots = 0;
    while (*p) {
        if (*p == '<') {
            if (p[1] == '/') {
                p += 2;
                const char *n = p;
                while (is_name(*p)) p++;
                if (depth == 0) BAD("close tag without open");
                if ((size_t)(p - n) != strlen(stack[depth - 1]) || strncmp(n, stack[depth - 1], (size_t)(p - n)))
                    BAD("</%.*s> closes <%.31s>", (int)(p - n), n, stack[depth - 1]);
                while (*p == ' ') p++;
                if (*p != '>') BAD("bad close tag");
                p++, depth--;
                continue;
            }
            p++;
            const char *n = p;
            while (is_name(*p)) p++;
            if (p == n || (size_t)(p - n) >= 32) BAD("bad element name at offset %ld", (long)(n - doc));
            if (depth == 0 && roots++) BAD("second root element");
            char name[32];
            snprintf(name, sizeof name, "%.*s", (int)(p - n), n);
            char attrs[64][32];
            int na = 0;
            for (;;) {
                int sp = 0;
                while (*p == ' ' || *p == '\n' || *p == '\t') p++, sp = 1;
                if (*p == '/' && p[1] == '>') { p += 2; break; }
                if (*p == '>') {
                    p++;
                    if (depth >= 64) BAD("too deep");
                    snprintf(stack[depth++], 32, "%s", name);
                    break;
                }
                if (!sp) BAD("no space before attribute in <%s>", name);
                const char *a = p;
                while (is_name(*p)) p++;
                if (p == a || *p != '=') BAD("bad attribute in <%s>", name);
                for (int i = 0; i < na; i++)
                    if (strlen(attrs[i]) == (size_t)(p - a) && !strncmp(attrs[i], a, (size_t)(p - a)))
                        BAD("duplicate attribute %s in <%s>", attrs[i], name);
                if (na < 64) snprintf(attrs[na++], 32, "%.*s", (int)(p - a), a);
                p++;
                char q = *p;
                if (q != '"' && q != '\'') BAD("unquoted attribute in <%s>", name);
                p++;
                while (*p && *p != q) {
                    if (*p == '<') BAD("'<' in an attribute of <%s>", name);
                    if (*p == '&') {
                        size_t e = entity(p);
                        if (!e) BAD("bad entity in an attribute of <%s>", name);
                        p += e;
                    } else {
                        p++;
                    }
                }
                if (!*p) BAD("unterminated attribute");
                p++;
            }
        } else if (*p == '&') {
            size_t e = entity(p);
            if (!e) BAD("bad entity in text at offset %ld", (long)(p - doc));
            if (depth == 0) BAD("text outside the root");
            p += e;
        } else {
            if (depth == 0 && *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') BAD("text outside the root");
            p++;
        }
    }
    if (depth) BAD("unclosed <%.31s>", stack[depth - 1]);
    if (roots != 1) BAD("no root element");
    return 1;
#undef BAD
}

static void expect_well_formed(const svg_buf *b) {
    char why[160] = "";
    cr_assert(!b->oom);
    cr_assert(b->data && b->len > 0);
    cr_assert(well_formed(b->data, why, sizeof why), "not well-formed: %s\n%s", why, b->data);
}

/* The checker itself must reject broken documents, or the tests above prove nothing. */
Test(report_svg, checker_rejects_broken_xml) {
    char why[160];
    cr_expect(well_formed("<a><b/></a>", why, sizeof why));
    cr_expect(!well_formed("<a><b></a>", why, sizeof why));
    cr_expect(!well_formed("<a>x < y</a>", why, sizeof why));
    cr_expect(!well_formed("<a>R&D</a>", why, sizeof why));
    cr_expect(!well_formed("<a t=\"x\"y=\"z\"/>", why, sizeof why));
    cr_expect(!well_formed("<a t=\"<\"/>", why, sizeof why));
    cr_expect(!well_formed("<a/><b/>", why, sizeof why));
    cr_expect(!well_formed("<a>\xff</a>", why, sizeof why));
}

/* ---- helpers to read the output back ---------------------------------------------------------- */

/* The points of the n-th polyline of a series ("class=\"series-K\""), or 0 when there is none. */
static size_t polyline_points(const char *svg, int series, int nth, double *xy, size_t cap) {
    char key[48];
    snprintf(key, sizeof key, "class=\"series-%d\"", series);
    const char *p = svg;
    for (int i = 0; i <= nth; i++) {
        p = strstr(p, key);
        if (!p) return 0;
        p += strlen(key);
    }
    p = strstr(p, "points=\"");
    cr_assert(p);
    p += 8;
    size_t n = 0;
    while (*p != '"' && n + 2 <= cap) {
        char *end;
        xy[n] = strtod(p, &end);
        cr_assert(*end == ',');
        xy[n + 1] = strtod(end + 1, &end);
        n += 2;
        p = end;
        while (*p == ' ') p++;
    }
    return n / 2;
}

static size_t count(const char *s, const char *needle) {
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

/* ---- line charts ------------------------------------------------------------------------------ */

Test(report_svg, points_land_where_the_axes_say) {
    double x[5] = {0, 25, 50, 75, 100}, y[5] = {0, 0.25, 0.5, 0.75, 1.0}, y2[5] = {1, 0.8, 0.6, 0.4, 0.2};
    svg_series s[2] = {{"rising", x, y, 5, 0, 0}, {"falling", x, y2, 5, 0, 1}};
    svg_line_chart c = {"Two lines", "step", "value", NULL, 0, 0, s, 2, 0, 0};
    svg_layout L;
    svg_line_layout(&c, &L);
    cr_assert(L.has_data);
    cr_expect_float_eq(L.x.lo, 0, 1e-12);
    cr_expect_float_eq(L.x.hi, 100, 1e-12);
    cr_expect_float_eq(L.y.lo, 0, 1e-12);
    cr_expect_float_eq(L.y.hi, 1, 1e-12);
    cr_expect(L.left > 20 && L.right <= 720 && L.top > 30 && L.bottom < 400);
    /* the data's corners are the plot area's corners, its middle the middle */
    cr_expect_float_eq(svg_map_x(&L, 0), L.left, 1e-9);
    cr_expect_float_eq(svg_map_x(&L, 100), L.right, 1e-9);
    cr_expect(L.pad >= 0 && L.pad < 20);
    cr_expect_float_eq(svg_map_y(&L, 0, 0), L.bottom - L.pad, 1e-9);
    cr_expect_float_eq(svg_map_y(&L, 1, 0), L.top + L.pad, 1e-9);
    cr_expect_float_eq(svg_map_x(&L, 50), (L.left + L.right) / 2, 1e-9);
    cr_expect_float_eq(svg_map_y(&L, 0.5, 0), (L.top + L.bottom) / 2, 1e-9);
    svg_buf b = {0};
    svg_line_chart_render(&c, &b);
    expect_well_formed(&b);
    double xy[20];
    cr_assert_eq(polyline_points(b.data, 0, 0, xy, 20), 5);
    for (int i = 0; i < 5; i++) {
        cr_expect(fabs(xy[2 * i] - (L.left + (L.right - L.left) * i / 4.0)) < 0.01, "x of point %d: %g", i, xy[2 * i]);
        cr_expect(fabs(xy[2 * i + 1] - (L.bottom - L.pad - (L.bottom - L.top - 2 * L.pad) * i / 4.0)) < 0.01,
                  "y of point %d", i);
    }
    cr_assert_eq(polyline_points(b.data, 1, 0, xy, 20), 5);
    cr_expect(fabs(xy[1] - svg_map_y(&L, 1.0, 0)) < 0.01);
    cr_expect(strstr(b.data, ">rising</text>") && strstr(b.data, ">falling</text>"), "legend entries");
    cr_expect(strstr(b.data, "stroke-dasharray"), "the second series is dashed");
    svg_buf_free(&b);
}

Test(report_svg, right_axis_has_its_own_scale) {
    double x[3] = {1, 2, 3}, lam[3] = {1e-6, 1e-3, 1}, act[3] = {4448, 2000, 433};
    svg_series s[2] = {{"lambda", x, lam, 3, 0, 0}, {"active", x, act, 3, 1, 0}};
    svg_line_chart c = {"dual", "step", "lambda", "active channels", 1, 0, s, 2, 0, 0};
    svg_layout L;
    svg_line_layout(&c, &L);
    cr_assert(L.has_y2);
    cr_expect(L.y.log && !L.y2.log);
    cr_expect_float_eq(L.y.lo, 1e-6, 1e-18);
    cr_expect_float_eq(L.y.hi, 1, 1e-12);
    cr_expect(L.y2.lo <= 433 && L.y2.hi >= 4448);
    /* 1e-3 is half way up a 1e-6 .. 1 log axis */
    cr_expect_float_eq(svg_map_y(&L, 1e-3, 0), (L.top + L.bottom) / 2, 1e-6);
    cr_expect_float_eq(svg_map_y(&L, L.y2.hi, 1), L.top + L.pad, 1e-9);
    svg_buf b = {0};
    svg_line_chart_render(&c, &b);
    expect_well_formed(&b);
    cr_expect(strstr(b.data, "active (right axis)"));
    svg_buf_free(&b);
}

Test(report_svg, nan_and_inf_break_lines_and_are_skipped) {
    double x[7] = {0, 1, 2, 3, 4, 5, 6}, y[7] = {1, 2, NAN, 3, 4, INFINITY, 5};
    svg_series s = {"gappy", x, y, 7, 0, 0};
    svg_line_chart c = {"gaps", "step", "v", NULL, 0, 0, &s, 1, 0, 0};
    svg_buf b = {0};
    svg_line_chart_render(&c, &b);
    expect_well_formed(&b);
    double xy[20];
    cr_expect_eq(polyline_points(b.data, 0, 0, xy, 20), 2);
    cr_expect_eq(polyline_points(b.data, 0, 1, xy, 20), 2);
    cr_expect_eq(polyline_points(b.data, 0, 2, xy, 20), 0, "the lone last point is a marker, not a line");
    cr_expect(!strstr(b.data, "nan") && !strstr(b.data, "inf"), "no NaN or inf coordinate leaks out");
    cr_expect(!strstr(b.data, "no data"));
    svg_buf_free(&b);
}

Test(report_svg, log_axis_skips_zero_and_negative) {
    double x[4] = {0, 1, 2, 3}, y[4] = {0, -1, 0.01, 10};
    svg_series s = {"loss", x, y, 4, 0, 0};
    svg_line_chart c = {"log", "step", "loss", NULL, 1, 0, &s, 1, 0, 0};
    svg_layout L;
    svg_line_layout(&c, &L);
    cr_expect_float_eq(L.y.lo, 0.01, 1e-12);
    cr_expect_float_eq(L.y.hi, 10, 1e-9);
    cr_expect_float_eq(svg_map_y(&L, 0.1, 0), L.bottom - L.pad - (L.bottom - L.top - 2 * L.pad) / 3, 1e-6);
    cr_expect(isnan(svg_map_y(&L, 0, 0)));
    svg_buf b = {0};
    svg_line_chart_render(&c, &b);
    expect_well_formed(&b);
    double xy[8];
    cr_expect_eq(polyline_points(b.data, 0, 0, xy, 8), 2);
    svg_buf_free(&b);
}

Test(report_svg, empty_and_all_nan_say_no_data) {
    double x[2] = {NAN, 1}, y[2] = {1, NAN};
    svg_series s[3] = {{"nan", x, y, 2, 0, 0}, {"empty", x, y, 0, 0, 0}, {"null", NULL, NULL, 5, 0, 0}};
    svg_line_chart c = {"nothing", "step", "v", NULL, 1, 0, s, 3, 0, 0};
    svg_buf b = {0};
    svg_line_chart_render(&c, &b);
    expect_well_formed(&b);
    cr_expect(strstr(b.data, "no data"));
    cr_expect(!strstr(b.data, "<polyline"));
    svg_buf_free(&b);
    svg_line_chart none = {NULL, NULL, NULL, NULL, 0, 0, NULL, 0, 0, 0};
    svg_line_chart_render(&none, &b);
    expect_well_formed(&b);
    cr_expect(strstr(b.data, "no data"));
    svg_buf_free(&b);
    /* a single point is drawn (as a marker), with a padded axis */
    double px = 7, py = 0.5;
    svg_series one = {"one", &px, &py, 1, 0, 0};
    svg_line_chart c1 = {"one point", "step", "v", NULL, 0, 0, &one, 1, 0, 0};
    svg_line_chart_render(&c1, &b);
    expect_well_formed(&b);
    cr_expect(strstr(b.data, "class=\"point-0\""));
    svg_buf_free(&b);
}

Test(report_svg, text_is_escaped) {
    double x[2] = {0, 1}, y[2] = {0, 1};
    svg_series s = {"a<b & \"c\" 'd' \x01 \xff\xfe λ", x, y, 2, 0, 0};
    svg_line_chart c = {"R&D <script>", "x > 0", "y", NULL, 0, 0, &s, 1, 0, 0};
    svg_buf b = {0};
    svg_line_chart_render(&c, &b);
    expect_well_formed(&b);
    cr_expect(strstr(b.data, "R&amp;D &lt;script&gt;"));
    cr_expect(strstr(b.data, "a&lt;b &amp; &quot;c&quot; &apos;d&apos;"));
    cr_expect(strstr(b.data, "?? λ"), "invalid bytes become '?', valid UTF-8 stays");
    svg_buf_free(&b);
}

/* ---- ticks and numbers ------------------------------------------------------------------------ */

Test(report_svg, nice_ticks) {
    svg_scale s;
    svg_nice_scale(0, 0.93, 0, 7, &s);
    cr_expect_float_eq(s.lo, 0, 1e-12);
    cr_expect_float_eq(s.hi, 1, 1e-12);
    cr_expect_eq(s.n_ticks, 6);
    cr_expect_float_eq(s.ticks[1], 0.2, 1e-12);
    svg_nice_scale(1, 1500, 0, 8, &s);
    cr_expect_float_eq(s.lo, 0, 1e-12);
    cr_expect_float_eq(s.hi, 1500, 1e-9);
    cr_expect_float_eq(s.ticks[1] - s.ticks[0], 250, 1e-9);
    svg_nice_scale(-3.2, 7.9, 0, 7, &s);
    cr_expect(s.lo <= -3.2 && s.hi >= 7.9 && s.n_ticks <= 7);
    for (int i = 1; i < s.n_ticks; i++) cr_expect(s.ticks[i] > s.ticks[i - 1]);
    svg_nice_scale(5, 5, 0, 7, &s); /* a constant series still gets a range */
    cr_expect(s.lo < 5 && s.hi > 5);
    svg_nice_scale(NAN, 1, 0, 7, &s);
    cr_expect(s.lo == 0 && s.hi == 1);
    svg_nice_scale(0.03, 0.4, 1, 7, &s); /* few decades: 1-2-5 ticks */
    cr_expect_float_eq(s.lo, 0.02, 1e-12);
    cr_expect_float_eq(s.hi, 0.5, 1e-12);
    cr_expect(s.n_ticks >= 4);
    svg_nice_scale(1e-9, 1e3, 1, 7, &s); /* many decades: every k-th power of ten */
    cr_expect(s.n_ticks <= 7 && s.lo <= 1e-9 && s.hi >= 1e3);
}

Test(report_svg, number_labels) {
    struct { double v; const char *want; } c[] = {
        {0, "0"}, {0.001, "0.001"}, {1e-6, "1e-6"}, {2e-5, "2e-5"}, {1500, "1500"}, {0.25, "0.25"},
        {-0.5, "-0.5"}, {1e7, "1e7"}, {2.5e8, "2.5e8"}, {100, "100"}, {0.1 + 0.2, "0.3"}, {NAN, "NaN"}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char out[64];
        svg_format_number(c[i].v, out, sizeof out);
        cr_expect_str_eq(out, c[i].want, "%g", c[i].v);
    }
}

/* ---- bars and heat maps ----------------------------------------------------------------------- */

Test(report_svg, bar_heights_follow_values) {
    const char *groups[3] = {"base", "LCDD + random-channel eraser with a long name", "SFT"};
    const char *series[2] = {"strict IDK", "task acc."};
    double v[6] = {1.0, 0.5, NAN, 0.25, 0.0, 1.0};
    svg_bar_chart c = {"Behaviour", "share of prompts", groups, 3, series, 2, v, 1.0, 1, 0, 0};
    svg_buf b = {0};
    svg_bar_chart_render(&c, &b);
    expect_well_formed(&b);
    double h[6];
    size_t n = 0;
    for (const char *p = strstr(b.data, "class=\"bar\""); p && n < 6; p = strstr(p + 1, "class=\"bar\"")) {
        const char *q = strstr(p, "height=\"");
        cr_assert(q);
        h[n++] = strtod(q + 8, NULL);
    }
    cr_assert_eq(n, 5, "one bar per finite value");
    cr_expect(fabs(h[1] - h[0] / 2) < 0.01, "0.5 is half as tall as 1.0: %g vs %g", h[1], h[0]);
    cr_expect(fabs(h[2] - h[0] / 4) < 0.01);
    cr_expect(h[3] > 0 && h[3] < 2, "a zero is a sliver: %g", h[3]);
    cr_expect(strstr(b.data, ">n/a</text>"));
    cr_expect(strstr(b.data, ">100%</text>"), "percent ticks");
    cr_expect(count(b.data, ">strict IDK</text>") == 1, "legend");
    svg_buf_free(&b);
    double nan2[2] = {NAN, NAN};
    svg_bar_chart e = {"Empty", NULL, groups, 1, series, 2, nan2, 0, 0, 0, 0};
    svg_bar_chart_render(&e, &b);
    expect_well_formed(&b);
    cr_expect(strstr(b.data, "no data"));
    svg_buf_free(&b);
}

Test(report_svg, heat_map_cells_and_scale) {
    const char *cols[3] = {"ffn_read", "ffn_hidden", "attn<&>"};
    double v[6] = {0, 0.5, 1, NAN, 0.25, 0.75};
    svg_heat_map c = {"Density", "layer", "mask group", NULL, cols, 2, 3, v, 0, 1, 1, 0};
    svg_buf b = {0};
    svg_heat_map_render(&c, &b);
    expect_well_formed(&b);
    cr_expect_eq(count(b.data, "class=\"cell\""), 6);
    cr_expect(strstr(b.data, "fill=\"#440154\""), "0 is the low end of the scale");
    cr_expect(strstr(b.data, "fill=\"#fde725\""), "1 is the high end");
    cr_expect(strstr(b.data, "fill=\"#cccccc\""), "NaN is grey");
    cr_expect(strstr(b.data, ">50.0%</text>"));
    cr_expect(strstr(b.data, "attn&lt;&amp;&gt;"));
    svg_buf_free(&b);
    char col[8];
    svg_heat_colour(NAN, col);
    cr_expect_str_eq(col, "#440154");
    svg_heat_colour(2, col);
    cr_expect_str_eq(col, "#fde725");
    /* many layers: no per-cell labels, thinned row labels, still well-formed */
    double *big = malloc(80 * 8 * sizeof *big);
    const char *g8[8] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    for (int i = 0; i < 640; i++) big[i] = (i % 17) / 16.0;
    svg_heat_map m = {"80 layers", "layer", "group", NULL, g8, 80, 8, big, 0, 1, 1, 0};
    svg_heat_map_render(&m, &b);
    expect_well_formed(&b);
    cr_expect_eq(count(b.data, "class=\"cell\""), 640);
    svg_buf_free(&b);
    free(big);
    svg_heat_map z = {"none", NULL, NULL, NULL, cols, 0, 3, NULL, 0, 1, 0, 0};
    svg_heat_map_render(&z, &b);
    expect_well_formed(&b);
    cr_expect(strstr(b.data, "no data"));
    svg_buf_free(&b);
}
