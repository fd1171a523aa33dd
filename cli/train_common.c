#include "train_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd/carrier.h"
#include "common.h"

static void eta_text(const clcdd_train_progress *p, char *out, size_t cap) {
    double per = p->step ? p->elapsed_s / (double)p->step : 0;
    double eta = per * (double)(p->steps - p->step);
    if (eta >= 3600) snprintf(out, cap, "%dh%02dm", (int)(eta / 3600), (int)fmod(eta / 60, 60));
    else snprintf(out, cap, "%dm%02ds", (int)(eta / 60), (int)fmod(eta, 60));
}

/* Sparsity has stalled: the active count changed < 1% over the last 200 steps while the EMA
 * loss is under budget, so the dual ascent is not pushing hard enough. */
static void check_stall(cli_train_display *d, const clcdd_train_progress *p) {
    if (d->n_hist == d->cap_hist) {
        size_t cap = d->cap_hist ? 2 * d->cap_hist : 64;
        int64_t *s = realloc(d->hist_step, cap * sizeof *s);
        if (!s) return;
        d->hist_step = s;
        uint64_t *a = realloc(d->hist_active, cap * sizeof *a);
        if (!a) return;
        d->hist_active = a;
        d->cap_hist = cap;
    }
    d->hist_step[d->n_hist] = p->step;
    d->hist_active[d->n_hist++] = p->active;
    if (d->warned_stall || !p->budget_set || p->ema >= p->budget || p->step < 200) return;
    for (size_t i = d->n_hist; i-- > 0;) {
        if (p->step - d->hist_step[i] < 200) continue;
        double old = (double)d->hist_active[i];
        if (old > 0 && fabs(old - (double)p->active) / old < 0.01) {
            if (d->tty) fputc('\n', stderr);
            fprintf(stderr, "clcdd %s: warning: sparsity has stalled (active channels %llu -> %llu over "
                    "%lld steps) while the loss EMA %.4f is under budget %.4f; try a larger --rho or "
                    "--lr (or --theta-lr)\n", d->cmd, (unsigned long long)d->hist_active[i],
                    (unsigned long long)p->active, (long long)(p->step - d->hist_step[i]), p->ema,
                    p->budget);
            d->warned_stall = 1;
        }
        break;
    }
}

void cli_train_record(report_log *log, FILE *metrics, int lcdd, const clcdd_train_progress *p) {
    if (!metrics && !log) return;
    char line[512];
    int n = snprintf(line, sizeof line, "{\"step\": %lld, \"loss\": %.6g, \"lr\": %.6g, \"tokens_per_s\": %.1f, "
                     "\"elapsed_s\": %.2f", (long long)p->step, p->loss, p->lr, p->tokens_per_s, p->elapsed_s);
    if (lcdd && n > 0 && (size_t)n < sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, ", \"task_loss\": %.6g, \"ema\": %.6g, \"budget\": %.6g, "
                      "\"lambda\": %.6g, \"active\": %llu, \"total\": %llu", p->loss, p->ema,
                      p->budget_set ? p->budget : 0.0, p->lambda, (unsigned long long)p->active,
                      (unsigned long long)p->total);
    if (n > 0 && (size_t)n < sizeof line) snprintf(line + n, sizeof line - (size_t)n, "}");
    if (metrics) {
        fprintf(metrics, "%s\n", line);
        fflush(metrics);
    }
    double v[11] = {(double)p->step, p->loss, p->lr, p->tokens_per_s, p->elapsed_s, p->loss, p->ema,
                    p->budget_set ? p->budget : 0.0, p->lambda, (double)p->active, (double)p->total};
    report_log_row(log, v, line);
}

void cli_erase_record(report_log *log, FILE *metrics, const clcdd_erase_progress *p) {
    if (!metrics && !log) return;
    char line[400];
    snprintf(line, sizeof line, "{\"step\": %lld, \"loss\": %.6g, \"mse\": %.6g, \"kl\": %.6g, "
             "\"resp\": %.6g, \"act\": %.6g, \"l2\": %.6g, \"best\": %.6g, \"elapsed_s\": %.2f}",
             (long long)p->step, p->loss, p->mse, p->kl, p->resp, p->act, p->l2, p->best, p->elapsed_s);
    if (metrics) {
        fprintf(metrics, "%s\n", line);
        fflush(metrics);
    }
    double v[8] = {(double)p->step, p->loss, p->mse, p->kl, p->resp, p->l2, p->best, p->elapsed_s};
    report_log_row(log, v, line);
}

void cli_train_progress(const clcdd_train_progress *p, void *user) {
    cli_train_display *d = user;
    char eta[32], extra[160] = "";
    eta_text(p, eta, sizeof eta);
    if (d->lcdd) {
        double sp = p->total ? 100.0 * (1.0 - (double)p->active / (double)p->total) : 0;
        if (p->budget_set)
            snprintf(extra, sizeof extra, " ema %.3g budget %.3g lambda %.3g active %llu (%.1f%% sparse)",
                     p->ema, p->budget, p->lambda, (unsigned long long)p->active, sp);
        else
            snprintf(extra, sizeof extra, " ema %.3g (warm-up) lambda %.3g active %llu (%.1f%% sparse)",
                     p->ema, p->lambda, (unsigned long long)p->active, sp);
    }
    if (d->tty) {
        int w = 20, fill = p->steps ? (int)((double)p->step / (double)p->steps * w) : w;
        fputc('\r', stderr);
        fputc('[', stderr);
        for (int i = 0; i < w; i++) fputc(i < fill ? '#' : '.', stderr);
        fprintf(stderr, "] %lld/%lld loss %.4g %.0f tok/s ETA %s%s\033[K", (long long)p->step,
                (long long)p->steps, p->loss, p->tokens_per_s, eta, extra);
    } else {
        fprintf(stderr, "step %lld/%lld loss %.4g lr %.3g %.0f tok/s eta %s%s\n", (long long)p->step,
                (long long)p->steps, p->loss, p->lr, p->tokens_per_s, eta, extra);
    }
    fflush(stderr);
    cli_train_record(d->log, d->metrics, d->lcdd, p);
    if (d->lcdd) check_stall(d, p);
}

void cli_train_display_end(cli_train_display *d) {
    if (d->tty) fputc('\n', stderr);
    if (d->metrics) fclose(d->metrics);
    free(d->hist_step);
    free(d->hist_active);
    d->metrics = NULL, d->hist_step = NULL, d->hist_active = NULL;
}

const char *const cli_sft_log_cols[5] = {"step", "loss", "lr", "tokens_per_s", "elapsed_s"};
const char *const cli_erase_log_cols[8] = {"step", "loss", "mse", "kl", "resp", "l2", "best", "elapsed_s"};
const char *const cli_lcdd_log_cols[11] = {"step", "loss", "lr", "tokens_per_s", "elapsed_s", "task_loss",
                                          "ema", "budget", "lambda", "active", "total"};

void cli_train_report_plots(report *r, const report_log *log, int lcdd) {
    if (!lcdd) {
        report_line y[1] = {{"loss", "loss (mean token cross-entropy)", 0, 0}};
        report_lines(r, "sft_loss.svg", "SFT: training loss", "The mean token cross-entropy of each logged "
                     "optimizer step (log scale). It should fall and flatten; a rise or NaN means the "
                     "learning rate is too high.", log, y, 1, "loss", NULL, 1, 0, 0);
        return;
    }
    report_line y[3] = {{"task_loss", "task loss", 0, 0}, {"ema", "EMA of the task loss", 0, 0},
                        {"budget", "budget (baseline x (1 + rho))", 0, 1}};
    report_lines(r, "lcdd_loss.svg", "LCDD: task loss, EMA and budget", "The task loss of each logged step, "
                 "its bias-corrected EMA (beta 0.95) and the loss budget, set from the EMA at the end of the "
                 "penalty warm-up. Below the budget lambda grows and more channels switch off; above it "
                 "lambda shrinks and the loss recovers.", log, y, 3, "loss", NULL, 1, 0, 1);
    report_line y2[2] = {{"lambda", "lambda (dual variable)", 0, 0}, {"active", "active mask channels", 1, 0}};
    report_lines(r, "lcdd_dual.svg", "LCDD: lambda and active channels", "The dual variable lambda "
                 "(left, log scale) and the number of mask channels that are on (right). Sparsity grows "
                 "while lambda is large; a flat active count with lambda at its floor means the carrier "
                 "has settled.", log, y2, 2, "lambda", "active channels", 1, 0, 0);
}

/* The carrier density map of an archive (a report without it when the archive cannot be read). */
void cli_report_archive_density(report *rep, const char *path, const char *caption) {
    clcdd_carrier *c = NULL;
    if (clcdd_carrier_read(path, &c) != CLCDD_OK) {
        fprintf(stderr, "clcdd %s: --report: no density map: %s\n", rep->cmd, clcdd_last_error());
        return;
    }
    double *dens = calloc((size_t)c->n_layers * CLCDD_CARRIER_GROUPS + 1, sizeof *dens);
    if (dens && clcdd_carrier_density(c, dens) == CLCDD_OK)
        report_density(rep, "carrier_density.svg", dens, c->n_layers, caption);
    else
        fprintf(stderr, "clcdd %s: --report: no density map: %s\n", rep->cmd, dens ? clcdd_last_error() : "out of memory");
    free(dens);
    clcdd_carrier_free(c);
}

int cli_parse_i64(const char *s, long long min, long long *out) {
    if (!s) return 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < min) return 0;
    *out = v;
    return 1;
}

int cli_parse_f(const char *s, float *out) {
    if (!s) return 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || v < 0) return 0;
    *out = (float)v;
    return 1;
}

void cli_print_data_summary(const char *cmd, const char *path, const clcdd_data_summary *s) {
    fprintf(stderr, "clcdd %s: %s: %zu examples, %zu tokens (%zu with loss), longest %zu", cmd, path,
            s->examples, s->tokens, s->loss_tokens, s->longest);
    if (s->truncated) fprintf(stderr, ", %zu truncated to --max-len", s->truncated);
    if (s->dropped) fprintf(stderr, ", %zu dropped (no response token left after truncation)", s->dropped);
    fputc('\n', stderr);
}

int cli_state_path(const char *out, char *buf, size_t cap) {
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/') n--;
    int w = snprintf(buf, cap, "%.*s.state.safetensors", (int)n, out);
    return w > 0 && (size_t)w < cap;
}

int cli_run_option(cli_run_opts *r, int argc, char **argv, int *i) {
    const char *v = NULL, *opt = argv[*i], *what = NULL;
    long long n = 0;
#define RUN_NEED(cond, w)                                                                       \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            what = (w);                                                                         \
            goto bad;                                                                           \
        }                                                                                       \
    } while (0)
    if (!strcmp(opt, "--all-tokens")) {
        *r->all_tokens = 1;
    } else if (cli_opt_value(argc, argv, i, "--data", &v)) {
        RUN_NEED(v, "a file");
        r->data = v;
    } else if (cli_opt_value(argc, argv, i, "--out", &v)) {
        RUN_NEED(v, r->out_what);
        r->out = v;
    } else if (cli_opt_value(argc, argv, i, "--metrics", &v)) {
        RUN_NEED(v, "a file");
        r->metrics = v;
    } else if (cli_opt_value(argc, argv, i, "--report", &v)) {
        RUN_NEED(v, "a folder");
        r->report_dir = v;
    } else if (cli_opt_value(argc, argv, i, "--state", &v)) {
        RUN_NEED(v, "a file");
        *r->state_path = v;
    } else if (cli_opt_value(argc, argv, i, "--resume", &v)) {
        RUN_NEED(v, "a file");
        *r->resume_path = v;
    } else if (cli_opt_value(argc, argv, i, "--device", &v)) {
        RUN_NEED(v, "a value");
        r->device = v;
    } else if (cli_opt_value(argc, argv, i, "--save-every", &v)) {
        RUN_NEED(cli_parse_i64(v, 1, &n), "a positive integer");
        *r->save_every = n;
    } else if (cli_opt_value(argc, argv, i, "--steps", &v)) {
        RUN_NEED(cli_parse_i64(v, 1, &n), "a positive integer");
        *r->steps = n;
    } else if (cli_opt_value(argc, argv, i, "--micro-batch", &v)) {
        RUN_NEED(cli_parse_i64(v, 1, &n), "a positive integer");
        *r->micro_batch = (size_t)n;
    } else if (cli_opt_value(argc, argv, i, "--accum", &v)) {
        RUN_NEED(cli_parse_i64(v, 1, &n), "a positive integer");
        *r->accum = (size_t)n;
    } else if (cli_opt_value(argc, argv, i, "--max-len", &v)) {
        RUN_NEED(cli_parse_i64(v, 2, &n), "an integer >= 2");
        *r->max_len = (size_t)n;
    } else if (cli_opt_value(argc, argv, i, "--seed", &v)) {
        RUN_NEED(cli_parse_i64(v, 0, &n), "a number");
        *r->seed = (uint64_t)n;
    } else if (cli_opt_value(argc, argv, i, "--log-every", &v)) {
        RUN_NEED(cli_parse_i64(v, 1, &n), "a positive integer");
        *r->log_every = n;
    } else if (cli_opt_value(argc, argv, i, "--lr", &v)) {
        RUN_NEED(cli_parse_f(v, r->lr), "a non-negative number");
    } else {
        return 0;
    }
    return 1;
#undef RUN_NEED
bad:
    fprintf(stderr, "clcdd %s: %s needs %s\n", r->cmd, opt, what);
    return -1;
}

int cli_run_state(cli_run_opts *r, char *buf, size_t cap) {
    if (*r->save_every > 0 && !*r->state_path) {
        if (!cli_state_path(r->out, buf, cap)) {
            fprintf(stderr, "clcdd %s: --out is too long for the default --state path\n", r->cmd);
            return -1;
        }
        *r->state_path = buf;
    } else if (*r->state_path && !*r->save_every) {
        fprintf(stderr, "clcdd %s: --state needs --save-every N\n", r->cmd);
        return -1;
    }
    return 0;
}
