/* clcdd demo: the whole pipeline on the embedded demo world, ending in the result table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clcdd/carrier.h"
#include "clcdd/demo.h"
#include "commands.h"
#include "common.h"
#include "train_common.h"

static const char *usage =
    "usage: clcdd demo [--quick] [--device D] [--seed N] [--json] [--report DIR]\n"
    "\n"
    "Runs the demo world end to end on one device: the embedded pre-trained base model, SFT that\n"
    "answers \"I don't know.\" to everything, LCDD (the behaviour moves into a sparse carrier), the\n"
    "SFT-Eraser on the LCDD model, and the ablations (eraser on plain SFT, with and without the\n"
    "carrier's channels; random channels on LCDD). Prints the result table (docs/demo.md).\n"
    "\n"
    "  --quick      a ~1-minute smoke run with tiny step counts (numbers are not meaningful)\n"
    "  --device D   device index or name substring\n"
    "  --seed N     seed of every stage (42)\n"
    "  --eval N, --sft-steps N, --lcdd-steps N, --eraser-steps N, --pool N\n"
    "               override the held-out prompt count and the stages' step counts\n"
    "  --lcdd-lr X, --lcdd-theta-lr X, --lcdd-rho X, --lcdd-warmup N, --lcdd-lambda-min X\n"
    "               override the LCDD stage's weight lr, mask-logit lr, budget slack, T_w and\n"
    "               the floor of lambda\n"
    "  --lcdd-kl-loss  LCDD with the KL-to-SFT task loss instead of the cross-entropy\n"
    "  --lcdd-all-tokens  LCDD's task loss on the prompt tokens too (SFT's stays on the\n"
    "               answers); with the cross-entropy the budget then mostly measures how\n"
    "               well the model predicts the prompts: pair it with --lcdd-kl-loss\n"
    "  --lcdd-early-stop, --lcdd-no-early-stop\n"
    "               stop LCDD once the active-channel count has stalled for 3 windows of 20\n"
    "               steps with the loss under budget (default: off, all --lcdd-steps run)\n"
    "  --lcdd-only  stop after the LCDD row (base, SFT and LCDD rows; no eraser stages)\n"
    "  --eraser-rows N, --eraser-lr X, --eraser-mse X\n"
    "               the eraser's soft-prompt rows (20), Adam lr (3e-3, cosine decay) and the\n"
    "               weight of its activation-matching term (1; 0 turns it off); every eraser row\n"
    "               uses the same settings\n"
    "  --eraser-act X  weight of a per-position activation match at the channel set on every\n"
    "               answer row, teacher-forced on the base's answers (0: off, the default;\n"
    "               not on the KL-only row, which has no channel terms)\n"
    "  --eraser-trigger prefix|before-assistant|end\n"
    "               where the soft prompt sits: before <bos> (the default), between the user's\n"
    "               text and <assistant>, or after <assistant>\n"
    "  --core-rows  only the LCDD + eraser and SFT + eraser (KL only) eraser rows\n"
    "  --eraser-resp X  weight of the response KL on the base's answers (1; 0 leaves the channel\n"
    "               terms alone: with --eraser-act, the activation match is the objective)\n"
    "  --other-carrier-row\n"
    "               also train a second carrier (LCDD seeded seed + 1) and erase the LCDD\n"
    "               model with its write channels: does this carrier's channel set matter?\n"
    "  --eraser-keep-last\n"
    "               keep the last soft prompt instead of the one with the lowest batch loss\n"
    "  --json       the table as JSON on stdout\n"
    "  --report DIR a report folder: metrics.json (the --json table), the step logs (sft.jsonl,\n"
    "               lcdd.jsonl, eraser-*.jsonl), SVG plots and index.html\n"
    "  --pretrain DIR [--pretrain-steps N]\n"
    "               instead: pre-train a base model from scratch with the recipe that made the\n"
    "               embedded one (2000 steps) and save it as an HF checkpoint in DIR\n";

typedef struct {
    int tty;
    double t0, stage_t0;
    char stage[48];
} prog;

static void on_progress(const char *stage, size_t step, size_t steps, const char *detail, void *user) {
    prog *p = user;
    double t = cli_now();
    if (strcmp(stage, p->stage) != 0) {
        if (p->tty) fputc('\n', stderr);
        snprintf(p->stage, sizeof p->stage, "%s", stage);
        p->stage_t0 = t;
    }
    double frac = steps ? (double)(step + 1) / (double)steps : 1.0;
    double el = t - p->stage_t0, eta = frac > 0 ? el / frac - el : 0;
    if (p->tty) {
        int w = 24, fill = (int)(frac * w);
        fprintf(stderr, "\r%-30.30s [", stage);
        for (int i = 0; i < w; i++) fputc(i < fill ? '#' : '.', stderr);
        fprintf(stderr, "] %5zu/%-5zu ETA %4.0fs  %-80.80s", step + 1, steps, eta, detail ? detail : "");
    } else {
        fprintf(stderr, "%s %zu/%zu %.0fs %s\n", stage, step + 1, steps, t - p->t0, detail ? detail : "");
    }
    fflush(stderr);
}

/* ---- --report ------------------------------------------------------------------------------ */

typedef struct demo_report {
    report rep;
    report_log *sft, *lcdd;
    report_log *eraser[8];
    char eraser_row[8][48];
    size_t n_eraser;
    double *density;
    uint32_t n_layers;
} demo_report;

static void obs_sft(const clcdd_train_progress *p, void *user) {
    demo_report *r = user;
    cli_train_record(r->sft, NULL, 0, p);
}

static void obs_lcdd(const clcdd_train_progress *p, void *user) {
    demo_report *r = user;
    cli_train_record(r->lcdd, NULL, 1, p);
}

static void obs_eraser(const char *row, const clcdd_erase_progress *p, void *user) {
    demo_report *r = user;
    size_t k = 0;
    while (k < r->n_eraser && strcmp(r->eraser_row[k], row)) k++;
    if (k == r->n_eraser) {
        if (k == 8) return;
        char name[64] = "eraser-";
        size_t n = strlen(name);
        for (const char *c = row; *c && n + 1 < sizeof name; c++) { /* a file-name slug of the row */
            char ch = *c >= 'A' && *c <= 'Z' ? (char)(*c - 'A' + 'a') : *c;
            int keep = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
            if (keep) name[n++] = ch;
            else if (n && name[n - 1] != '-') name[n++] = '-';
        }
        while (n && name[n - 1] == '-') n--;
        name[n] = 0;
        char cap[120];
        snprintf(cap, sizeof cap, "eraser steps of the row '%s'", row);
        r->eraser[k] = report_log_new(&r->rep, name, cap, cli_erase_log_cols, 8);
        snprintf(r->eraser_row[k], sizeof r->eraser_row[k], "%s", row);
        r->n_eraser++;
    }
    cli_erase_record(r->eraser[k], NULL, p);
}

static void obs_carrier(const double *density, uint32_t n_layers, void *user) {
    demo_report *r = user;
    free(r->density);
    r->density = malloc((size_t)n_layers * CLCDD_CARRIER_GROUPS * sizeof *density);
    if (r->density) memcpy(r->density, density, (size_t)n_layers * CLCDD_CARRIER_GROUPS * sizeof *density);
    r->n_layers = n_layers;
}

static void print_json(FILE *f, int quick, unsigned long long seed, const clcdd_demo_options *o,
                       const clcdd_demo_row *rows, size_t n) {
    fprintf(f, "{\"quick\": %s, \"seed\": %llu, \"eval_prompts\": %zu, \"rows\": [", quick ? "true" : "false",
            seed, o->eval_n);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
        cli_json_string(f, rows[i].name);
        fprintf(f, ", \"idk_strict\": %.4f, \"idk_loose\": %.4f, \"fragments\": %.4f, "
                "\"first_token_agrees_with_base\": %.4f, \"task_accuracy\": %.4f, "
                "\"kl_sft\": %.5f, \"kl_base\": %.5f, \"sparsity\": %.4f, \"seconds\": %.1f}",
                rows[i].strict, rows[i].loose, rows[i].fragments, rows[i].first_agree,
                rows[i].task_acc, rows[i].kl_sft, rows[i].kl_base, rows[i].sparsity, rows[i].seconds);
    }
    fprintf(f, "\n]}\n");
}

static void demo_bars(report *rep, const clcdd_demo_row *rows, size_t n) {
    const char *groups[CLCDD_DEMO_ROWS];
    double v[CLCDD_DEMO_ROWS * 5], kl[CLCDD_DEMO_ROWS * 2];
    for (size_t i = 0; i < n; i++) {
        groups[i] = rows[i].name;
        double r[5] = {rows[i].strict, rows[i].loose, rows[i].fragments, rows[i].first_agree, rows[i].task_acc};
        memcpy(v + 5 * i, r, sizeof r);
        kl[2 * i] = rows[i].kl_sft, kl[2 * i + 1] = rows[i].kl_base;
    }
    const char *series[5] = {"strict IDK", "loose IDK", "fragments", "1st token = base", "task accuracy"};
    report_bars(rep, "behaviour.svg", "Behaviour rates on held-out prompts", "Per model, the share of greedy "
                "answers that are the fixed response (strict and loose IDK), that contain its fragments "
                "(\"n't\", \"know\"), whose first token is the base model's, and that solve the task exactly. "
                "SFT and LCDD should answer IDK; the eraser on LCDD should bring the base's answers back; the "
                "eraser on plain SFT is the ablation.", groups, n, series, 5, v, "share of held-out prompts", 1);
    const char *ks[2] = {"KL(SFT || model)", "KL(Base || model)"};
    report_bars(rep, "kl.svg", "KL to the SFT and the base model", "Per-token KL, teacher-forced on the SFT "
                "model's answers (behaviour kept: small) and on the base model's own answers (reverted to "
                "base: small).", groups, n, ks, 2, kl, "mean per-token KL (nats)", 0);
}

static const clcdd_demo_row *find_row(const clcdd_demo_row *rows, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(rows[i].name, name)) return &rows[i];
    return NULL;
}

static int write_report(demo_report *dr, int quick, unsigned long long seed, const clcdd_demo_options *o,
                        const clcdd_demo_row *rows, size_t n, const char *error) {
    report *rep = &dr->rep;
    if (!error) {
        FILE *m = report_metrics_begin(rep);
        if (m) print_json(m, quick, seed, o, rows, n);
        report_metrics_end(rep, m);
    }
    report_key(rep, "run", "%s, seed %llu, %zu held-out prompts", quick ? "--quick (smoke run: numbers "
               "not meaningful)" : "full", seed, o->eval_n);
    report_key(rep, "steps: SFT / LCDD / eraser", "%lld / %lld / %zu", (long long)o->sft_steps,
               (long long)o->lcdd_steps, o->eraser_steps);
    const clcdd_demo_row *lcdd = find_row(rows, n, "LCDD"), *sft = find_row(rows, n, "SFT");
    const clcdd_demo_row *er = find_row(rows, n, "LCDD + eraser"), *abl = find_row(rows, n, "SFT + eraser (KL only)");
    const clcdd_demo_row *base = find_row(rows, n, "base");
    if (lcdd) report_key(rep, "carrier sparsity", "%.1f%% of the mask channels off", 100 * lcdd->sparsity);
    if (lcdd && sft)
        report_key(rep, "behaviour kept by LCDD (strict IDK: SFT, LCDD)", "%.1f%%, %.1f%%", 100 * sft->strict,
                   100 * lcdd->strict);
    if (er && base)
        report_key(rep, "LCDD + eraser: strict IDK, task accuracy (base)", "%.1f%%, %.1f%% (%.1f%%)",
                   100 * er->strict, 100 * er->task_acc, 100 * base->task_acc);
    if (abl) report_key(rep, "ablation, SFT + eraser (KL only): task accuracy", "%.1f%%", 100 * abl->task_acc);
    double total = 0;
    for (size_t i = 0; i < n; i++) total += rows[i].seconds;
    if (n) report_key(rep, "wall time of the stages", "%.0f s", total);
    if (n) {
        report_html(rep, "<h2>Result table</h2>\n<table>\n<tr><th>model</th><th>strict IDK</th><th>loose IDK</th>"
                    "<th>fragments</th><th>1st token = base</th><th>task acc.</th><th>KL(SFT&#8214;&#183;)</th>"
                    "<th>KL(Base&#8214;&#183;)</th><th>sparsity</th><th>time s</th></tr>\n");
        for (size_t i = 0; i < n; i++) {
            report_html(rep, "<tr><td>");
            report_html_escape(rep, rows[i].name);
            char sp[16] = "-";
            if (rows[i].sparsity >= 0) snprintf(sp, sizeof sp, "%.1f%%", 100 * rows[i].sparsity);
            report_html(rep, "</td><td>%.1f%%</td><td>%.1f%%</td><td>%.1f%%</td><td>%.1f%%</td><td>%.1f%%</td>"
                        "<td>%.3f</td><td>%.3f</td><td>%s</td><td>%.0f</td></tr>\n", 100 * rows[i].strict,
                        100 * rows[i].loose, 100 * rows[i].fragments, 100 * rows[i].first_agree,
                        100 * rows[i].task_acc, rows[i].kl_sft, rows[i].kl_base, sp, rows[i].seconds);
        }
        report_html(rep, "</table>\n");
        demo_bars(rep, rows, n);
    }
    cli_train_report_plots(rep, dr->sft, 0);
    cli_train_report_plots(rep, dr->lcdd, 1);
    if (dr->density)
        report_density(rep, "carrier_density.svg", dr->density, dr->n_layers, "The LCDD carrier: the share "
                       "of each mask group's channels that are on, per layer. Outside these channels the "
                       "LCDD model's weights are the base model's.");
    if (dr->n_eraser) { /* every eraser run's total loss on one chart, then the main run's terms */
        svg_series s[8];
        double *x[8], *y[8];
        for (size_t k = 0; k < dr->n_eraser; k++) {
            x[k] = report_log_column(dr->eraser[k], "step");
            y[k] = report_log_column(dr->eraser[k], "loss");
            s[k] = (svg_series){dr->eraser_row[k], x[k], y[k], dr->eraser[k] ? dr->eraser[k]->n_rows : 0, 0, 0};
        }
        const char *t = "SFT-Eraser runs: total loss";
        svg_line_chart c = {t, "optimizer step", "loss", NULL, 1, 0, s, dr->n_eraser, 0, 0};
        svg_buf b = {0};
        svg_line_chart_render(&c, &b);
        report_svg(rep, "eraser_loss.svg", t, "The eraser's total loss (log scale) of each run: on the LCDD "
                   "model (the method), on the plain SFT model (the ablation, with and without the carrier's "
                   "channels) and on LCDD with random channels. The losses are not comparable across "
                   "models in absolute terms; each run keeps its best prompt.", &b);
        svg_buf_free(&b);
        for (size_t k = 0; k < dr->n_eraser; k++) free(x[k]), free(y[k]);
        char title[96];
        snprintf(title, sizeof title, "%s: loss terms", dr->eraser_row[0]);
        cli_report_eraser_plot(rep, dr->eraser[0], "eraser_terms.svg", title);
    }
    free(dr->density);
    dr->density = NULL;
    return report_finish(rep, error);
}

int clcdd_cmd_demo(int argc, char **argv) {
    clcdd_ctx_options copts = {0};
    int json = 0, quick = 0, lcdd_only = 0, lcdd_kl = 0, lcdd_no_es = 0, lcdd_es = 0;
    float fv[8] = {-1, -1, -1, -1, -1, -1, -1, -1}; /* lcdd lr, theta lr, rho, lambda min, eraser lr, mse, act, resp */
    long long lcdd_warmup = -1;
    static const char *fv_names[8] = {"--lcdd-lr", "--lcdd-theta-lr", "--lcdd-rho", "--lcdd-lambda-min",
                                      "--eraser-lr", "--eraser-mse", "--eraser-act", "--eraser-resp"};
    long long eraser_rows = -1, eraser_trigger = -2;
    int core_rows = 0, keep_last = 0, other_row = 0, lcdd_all = 0;
    unsigned long long seed = 42;
    long long ov[5] = {-1, -1, -1, -1, -1}; /* eval, sft, lcdd, eraser, pool */
    const char *pretrain_dir = NULL, *report_dir = NULL;
    long long pretrain_steps = 2000;
    static const char *ov_names[5] = {"--eval", "--sft-steps", "--lcdd-steps", "--eraser-steps", "--pool"};
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--quick")) {
            quick = 1;
        } else if (!strcmp(argv[i], "--lcdd-only")) {
            lcdd_only = 1;
        } else if (!strcmp(argv[i], "--lcdd-kl-loss")) {
            lcdd_kl = 1;
        } else if (!strcmp(argv[i], "--lcdd-all-tokens")) {
            lcdd_all = 1;
        } else if (!strcmp(argv[i], "--lcdd-no-early-stop")) {
            lcdd_no_es = 1, lcdd_es = 0;
        } else if (!strcmp(argv[i], "--lcdd-early-stop")) {
            lcdd_es = 1, lcdd_no_es = 0;
        } else if (cli_opt_value(argc, argv, &i, "--device", &v)) {
            if (!v) { fprintf(stderr, "clcdd demo: --device needs a value\n"); return EXIT_USAGE; }
            copts.device = v;
        } else if (cli_opt_value(argc, argv, &i, "--pretrain-steps", &v)) {
            if (!v || sscanf(v, "%lld", &pretrain_steps) != 1 || pretrain_steps < 1) {
                fprintf(stderr, "clcdd demo: --pretrain-steps needs a positive number\n");
                return EXIT_USAGE;
            }
        } else if (cli_opt_value(argc, argv, &i, "--report", &v)) {
            if (!v) { fprintf(stderr, "clcdd demo: --report needs a folder\n"); return EXIT_USAGE; }
            report_dir = v;
        } else if (cli_opt_value(argc, argv, &i, "--pretrain", &v)) {
            if (!v) { fprintf(stderr, "clcdd demo: --pretrain needs a directory\n"); return EXIT_USAGE; }
            pretrain_dir = v;
        } else if (cli_opt_value(argc, argv, &i, "--seed", &v)) {
            if (!v || sscanf(v, "%llu", &seed) != 1) {
                fprintf(stderr, "clcdd demo: --seed needs a number\n");
                return EXIT_USAGE;
            }
        } else if (!strcmp(argv[i], "--core-rows")) {
            core_rows = 1;
        } else if (!strcmp(argv[i], "--eraser-keep-last")) {
            keep_last = 1;
        } else if (!strcmp(argv[i], "--other-carrier-row")) {
            other_row = 1;
        } else if (cli_opt_value(argc, argv, &i, "--eraser-rows", &v)) {
            if (!v || sscanf(v, "%lld", &eraser_rows) != 1 || eraser_rows < 1 || eraser_rows > 256) {
                fprintf(stderr, "clcdd demo: --eraser-rows needs a number of rows from 1 to 256\n");
                return EXIT_USAGE;
            }
        } else if (cli_opt_value(argc, argv, &i, "--eraser-trigger", &v)) {
            if (v && !strcmp(v, "prefix")) eraser_trigger = -1;
            else if (v && !strcmp(v, "before-assistant")) eraser_trigger = 1;
            else if (v && !strcmp(v, "end")) eraser_trigger = 0;
            else {
                fprintf(stderr, "clcdd demo: --eraser-trigger is prefix, before-assistant or end\n");
                return EXIT_USAGE;
            }
        } else if (cli_opt_value(argc, argv, &i, "--lcdd-warmup", &v)) {
            if (!v || sscanf(v, "%lld", &lcdd_warmup) != 1 || lcdd_warmup < 0) {
                fprintf(stderr, "clcdd demo: --lcdd-warmup needs a non-negative number\n");
                return EXIT_USAGE;
            }
        } else {
            int matched = 0;
            for (int k = 0; k < 8 && !matched; k++)
                if (cli_opt_value(argc, argv, &i, fv_names[k], &v)) {
                    matched = 1;
                    if (!v || sscanf(v, "%f", &fv[k]) != 1 || !(fv[k] >= 0)) {
                        fprintf(stderr, "clcdd demo: %s needs a non-negative number\n", fv_names[k]);
                        return EXIT_USAGE;
                    }
                }
            for (int k = 0; k < 5 && !matched; k++)
                if (cli_opt_value(argc, argv, &i, ov_names[k], &v)) {
                    matched = 1;
                    if (!v || sscanf(v, "%lld", &ov[k]) != 1 || ov[k] < 1) {
                        fprintf(stderr, "clcdd demo: %s needs a positive number\n", ov_names[k]);
                        return EXIT_USAGE;
                    }
                }
            if (!matched) {
                fprintf(stderr, "clcdd demo: unknown argument '%s'\n%s", argv[i], usage);
                return EXIT_USAGE;
            }
        }
    }
    if (pretrain_dir && report_dir) {
        fprintf(stderr, "clcdd demo: --report goes with the demo run, not with --pretrain\n");
        return EXIT_USAGE;
    }
    demo_report dr;
    memset(&dr, 0, sizeof dr);
    if (report_dir && report_open(&dr.rep, report_dir, "demo", argc, argv)) return EXIT_FAILURE_RUN;
    if (report_dir) {
        dr.sft = report_log_new(&dr.rep, "sft", "SFT steps (the keys of clcdd sft --metrics)", cli_sft_log_cols, 5);
        dr.lcdd = report_log_new(&dr.rep, "lcdd", "LCDD steps (the keys of clcdd train --metrics)",
                                 cli_lcdd_log_cols, 11);
    }
    clcdd_ctx *ctx = NULL;
    clcdd_status st = clcdd_ctx_create(&copts, &ctx);
    if (st != CLCDD_OK) {
        if (report_dir) report_finish(&dr.rep, clcdd_last_error());
        return cli_report("demo", st);
    }
    if (pretrain_dir) {
        prog pp = {isatty(2), cli_now(), cli_now(), ""};
        float loss = 0;
        st = clcdd_demo_pretrain(ctx, pretrain_steps, pretrain_dir, on_progress, &pp, &loss);
        if (pp.tty) fputc('\n', stderr);
        cli_ctx_destroy(ctx);
        if (st != CLCDD_OK) return cli_report("demo", st);
        if (json)
            printf("{\"pretrained\": \"%s\", \"steps\": %lld, \"final_loss\": %.5f}\n", pretrain_dir,
                   pretrain_steps, loss);
        else
            printf("pre-trained %lld steps (final loss %.4f) into %s\n", pretrain_steps, loss, pretrain_dir);
        return EXIT_OK;
    }
    clcdd_demo_options o;
    clcdd_demo_options_default(&o, quick);
    o.seed = seed;
    if (ov[0] > 0) o.eval_n = (size_t)ov[0];
    if (ov[1] > 0) o.sft_steps = ov[1];
    if (ov[2] > 0) o.lcdd_steps = ov[2];
    if (ov[3] > 0) o.eraser_steps = (size_t)ov[3];
    if (ov[4] > 0) o.pool_n = (size_t)ov[4];
    if (fv[0] >= 0) o.lcdd_lr = fv[0];
    if (fv[1] >= 0) o.lcdd_theta_lr = fv[1];
    if (fv[2] >= 0) o.lcdd_rho = fv[2];
    if (fv[3] >= 0) o.lcdd_lambda_min = fv[3];
    if (lcdd_warmup >= 0) o.lcdd_warmup = lcdd_warmup;
    if (fv[4] > 0) o.eraser_lr = fv[4];
    if (fv[5] >= 0) o.eraser_w_mse = fv[5] > 0 ? fv[5] : -1.0f;
    if (fv[6] >= 0) o.eraser_w_act = fv[6];
    if (fv[7] >= 0) o.eraser_w_resp = fv[7] > 0 ? fv[7] : -1.0f;
    if (eraser_rows > 0) o.eraser_rows = eraser_rows;
    if (eraser_trigger >= -1) o.eraser_trigger = (int32_t)eraser_trigger;
    o.core_rows = core_rows;
    o.eraser_keep_last = keep_last;
    o.other_carrier_row = other_row;
    o.lcdd_only = lcdd_only;
    if (lcdd_kl) o.lcdd_kl_loss = 1;
    o.lcdd_all_tokens = lcdd_all;
    if (lcdd_no_es) o.lcdd_early_stop = 0;
    if (lcdd_es) o.lcdd_early_stop = 1;
    prog p = {isatty(2), cli_now(), cli_now(), ""};
    clcdd_demo_row rows[CLCDD_DEMO_ROWS];
    size_t n = 0;
    clcdd_demo_observer obs = {&dr, obs_sft, obs_lcdd, obs_eraser, obs_carrier};
    st = clcdd_demo_run_observed(ctx, &o, on_progress, &p, report_dir ? &obs : NULL, rows, &n);
    if (p.tty) fputc('\n', stderr);
    cli_ctx_destroy(ctx);
    if (st != CLCDD_OK) {
        if (report_dir) write_report(&dr, quick, seed, &o, rows, n, clcdd_last_error());
        return cli_report("demo", st);
    }
    if (report_dir && write_report(&dr, quick, seed, &o, rows, n, NULL)) return EXIT_FAILURE_RUN;
    if (json) {
        print_json(stdout, quick, seed, &o, rows, n);
        return EXIT_OK;
    }
    printf("%s demo world, %zu held-out prompts, seed %llu%s\n\n", quick ? "Quick" : "The", o.eval_n,
           seed, quick ? " (smoke run: step counts too small for meaningful numbers)" : "");
    printf("%-30s %7s %7s %7s %8s %7s %9s %9s %8s %7s\n", "model", "strict", "loose", "frag.",
           "1st=base", "task", "KL(SFT|.)", "KL(Base|.)", "sparsity", "time s");
    for (size_t i = 0; i < n; i++) {
        char sp[16] = "-";
        if (rows[i].sparsity >= 0) snprintf(sp, sizeof sp, "%.1f%%", 100 * rows[i].sparsity);
        printf("%-30s %6.1f%% %6.1f%% %6.1f%% %7.1f%% %6.1f%% %9.3f %9.3f %8s %7.0f\n", rows[i].name,
               100 * rows[i].strict, 100 * rows[i].loose, 100 * rows[i].fragments,
               100 * rows[i].first_agree, 100 * rows[i].task_acc, rows[i].kl_sft, rows[i].kl_base,
               sp, rows[i].seconds);
    }
    return EXIT_OK;
}
