/* The report folder (cli/report.c): created with its parents, every file written and replaced
 * whole, JSONL lines as given or made from the columns (non-finite as null), index.html showing
 * every plot with its caption, the key numbers and an escaped error. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"

static char *slurp(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = calloc((size_t)n + 1, 1);
    cr_assert(s && fread(s, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    return s;
}

static char tmpdir[256];

static void setup(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/clcdd_report_XXXXXX");
    cr_assert(mkdtemp(tmpdir));
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_expect(system(cmd) == 0);
}

static report_log *filled_log(report *r) {
    static const char *cols[3] = {"step", "loss", "active"};
    report_log *l = report_log_new(r, "steps", "per step", cols, 3);
    cr_assert(l);
    for (int i = 1; i <= 4; i++) {
        double v[3] = {i, i == 3 ? NAN : 1.0 / i, 100 - i};
        report_log_row(l, v, NULL);
    }
    return l;
}

Test(report_dir, writes_every_file_and_the_index, .init = setup, .fini = teardown) {
    char dir[300];
    snprintf(dir, sizeof dir, "%s/a/b", tmpdir);
    char *argv[3] = {"demo", "--report", dir};
    report r;
    cr_assert_eq(report_open(&r, dir, "demo", 3, argv), 0);
    report_log *l = filled_log(&r);
    report_line lines[2] = {{"loss", "loss", 0, 0}, {"active", "active", 1, 0}};
    report_lines(&r, "curve.svg", "A <curve>", "Caption & more", l, lines, 2, "loss", "active", 1, 0, 0);
    const char *groups[2] = {"x", "y"}, *series[1] = {"rate"};
    double v[2] = {0.5, NAN};
    report_bars(&r, "bars.svg", "Bars", "Two bars", groups, 2, series, 1, v, "share", 1);
    report_key(&r, "final loss", "%.2f", 0.25);
    FILE *m = report_metrics_begin(&r);
    cr_assert(m);
    fprintf(m, "{\"ok\": true}\n");
    report_metrics_end(&r, m);
    cr_assert_eq(report_finish(&r, "NaN <loss> at step 3"), 0);

    char *jsonl = slurp(dir, "steps.jsonl");
    cr_assert(jsonl, "steps.jsonl written");
    cr_expect_str_eq(jsonl, "{\"step\": 1, \"loss\": 1, \"active\": 99}\n"
                            "{\"step\": 2, \"loss\": 0.5, \"active\": 98}\n"
                            "{\"step\": 3, \"loss\": null, \"active\": 97}\n"
                            "{\"step\": 4, \"loss\": 0.25, \"active\": 96}\n");
    char *metrics = slurp(dir, "metrics.json");
    cr_expect(metrics && !strcmp(metrics, "{\"ok\": true}\n"));
    char *html = slurp(dir, "index.html");
    cr_assert(html);
    cr_expect(strstr(html, "<img src=\"curve.svg\""));
    cr_expect(strstr(html, "<img src=\"bars.svg\""));
    cr_expect(strstr(html, "A &lt;curve&gt;"));
    cr_expect(strstr(html, "Caption &amp; more"));
    cr_expect(strstr(html, "<td>final loss</td><td>0.25</td>"));
    cr_expect(strstr(html, "The run failed: NaN &lt;loss&gt; at step 3"));
    cr_expect(strstr(html, "href=\"steps.jsonl\""));
    cr_expect(strstr(html, "clcdd demo --report"));
    char *svg = slurp(dir, "curve.svg");
    cr_expect(svg && strstr(svg, "<polyline") && strstr(svg, "</svg>"));
    /* no temporary file is left behind */
    DIR *d = opendir(dir);
    cr_assert(d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, ".."))) continue;
        cr_expect(!strstr(e->d_name, ".tmp"), "left over: %s", e->d_name);
        files++;
    }
    closedir(d);
    cr_expect_eq(files, 5, "steps.jsonl, metrics.json, curve.svg, bars.svg, index.html");
    free(jsonl), free(metrics), free(html), free(svg);

    /* a second report replaces the files */
    cr_assert_eq(report_open(&r, dir, "demo", 3, argv), 0);
    report_key(&r, "final loss", "%.2f", 0.5);
    cr_assert_eq(report_finish(&r, NULL), 0);
    html = slurp(dir, "index.html");
    cr_expect(strstr(html, "<td>0.50</td>") && !strstr(html, "failed"));
    free(html);
}

Test(report_dir, refuses_a_folder_it_cannot_make, .init = setup, .fini = teardown) {
    char file[300], dir[320];
    snprintf(file, sizeof file, "%s/plain", tmpdir);
    FILE *f = fopen(file, "w");
    cr_assert(f);
    fclose(f);
    snprintf(dir, sizeof dir, "%s/sub", file);
    report r;
    cr_expect_eq(report_open(&r, dir, "sft", 0, NULL), 1);
    cr_expect_eq(report_open(&r, file, "sft", 0, NULL), 1, "a file is not a folder");
    cr_expect_eq(report_open(&r, "", "sft", 0, NULL), 1);
}
