/* clcdd eval MODEL [--carrier FILE [--erase NAME]] --data FILE [--mc FILE] [--text FILE] ...:
 * behaviour rates, task accuracy, perplexity, multiple-choice accuracy and the KL benchmark,
 * plain and with the eraser prompt (docs/eval.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clcdd/eval.h"
#include "commands.h"
#include "common.h"
#include "report.h"

static const char *usage =
    "usage: clcdd eval MODEL [--carrier FILE [--erase NAME]] [--data FILE.jsonl] [--mc FILE.jsonl]\n"
    "                  [--text FILE] [--sft DIR [--model sft]] [--max-new N] [--json] [--out FILE]\n"
    "                  [--device D]\n"
    "\n"
    "Greedy answers to the prompts of --data, scored (docs/eval.md): strict and loose IDK rate,\n"
    "refusal rate, archaic-word rate, fragments of \"I don't know\", task accuracy against\n"
    "reference answers; perplexity on --text; multiple-choice accuracy on --mc. With --carrier,\n"
    "MODEL is the archive's base and the LCDD model is evaluated; --erase NAME adds a column with\n"
    "the archive's eraser prompt prepended (the same decoding settings).\n"
    "  --data FILE      JSONL: {\"prompt\", optional \"response\" = reference} or {\"messages\"}\n"
    "  --mc FILE        JSONL: {\"question\", \"choices\": [...], \"answer\": index | letter | text}\n"
    "  --text FILE      held-out text: FILE.jsonl with {\"text\"} per line, else one text per line\n"
    "  --erase NAME     eraser prompt of the archive (--trigger NAME is the same)\n"
    "  --sft DIR        the SFT model: the KL benchmark (needs --carrier, --erase and --data)\n"
    "  --model M        lcdd (default with --carrier) or sft: evaluate the SFT model of --sft with\n"
    "                   the archive's eraser prompt instead of the LCDD model (the standard-SFT\n"
    "                   ablation, e.g. a prompt from `clcdd erase --model sft`; needs --carrier)\n"
    "  --max-new N      new tokens per answer (64)   --kl-max-new N  SFT reference length (128)\n"
    "  --max-len N      tokens per held-out text (512)\n"
    "  --limit N        only the first N lines of each file\n"
    "  --answers        print every prompt and answer (with --json: an \"answers\" array)\n"
    "  --json           JSON on stdout instead of the table\n"
    "  --out FILE       also write the JSON to FILE (atomically)\n"
    "  --report DIR     a report folder: metrics.json, the rates as bars, index.html with the\n"
    "                   key numbers and every prompt's answers\n"
    "  --device D       device index or name substring\n";

static int tty;
static const char *evaluated = "model"; /* "model", "lcdd" or "sft": what the columns measure */

static void progress(const char *stage, size_t done, size_t total, void *user) {
    (void)user;
    if (!tty) return;
    fprintf(stderr, "\r%s %zu/%zu\033[K", stage, done, total);
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
}

static void num(FILE *f, const char *key, double v, int last) {
    fprintf(f, "\"%s\": ", key);
    if (v < 0) fputs("null", f);
    else fprintf(f, "%.9g", v);
    if (!last) fputs(", ", f);
}

static void metrics_json(FILE *f, const clcdd_eval_metrics *m) {
    fprintf(f, "{\"prompts\": %zu, ", m->prompts);
    num(f, "idk_strict", m->prompts ? m->idk_strict : -1, 0);
    num(f, "idk_loose", m->prompts ? m->idk_loose : -1, 0);
    num(f, "refusal", m->prompts ? m->refusal : -1, 0);
    num(f, "archaic", m->prompts ? m->archaic : -1, 0);
    num(f, "fragments", m->prompts ? m->fragments : -1, 0);
    num(f, "mean_new_tokens", m->prompts ? m->mean_new_tokens : -1, 0);
    fprintf(f, "\"references\": %zu, ", m->references);
    num(f, "task_acc", m->task_acc, 0);
    fprintf(f, "\"ppl_texts\": %zu, \"ppl_tokens\": %zu, ", m->ppl_texts, m->ppl_tokens);
    num(f, "nll", m->nll, 0);
    num(f, "perplexity", m->perplexity, 0);
    fprintf(f, "\"mc_items\": %zu, ", m->mc_items);
    num(f, "mc_acc", m->mc_acc, 0);
    num(f, "mc_acc_norm", m->mc_acc_norm, 1);
    fputc('}', f);
}

static void write_json(FILE *f, const char *model, const char *carrier, const char *erase,
                       const clcdd_eval_result *r, int answers) {
    fputs("{\"model\": ", f);
    cli_json_string(f, model);
    fputs(", \"evaluated\": ", f);
    cli_json_string(f, evaluated);
    fputs(", \"carrier\": ", f);
    if (carrier) cli_json_string(f, carrier);
    else fputs("null", f);
    fputs(", \"erase\": ", f);
    if (erase) cli_json_string(f, erase);
    else fputs("null", f);
    fputs(", \"plain\": ", f);
    metrics_json(f, &r->plain);
    fputs(", \"erased\": ", f);
    if (r->erased) metrics_json(f, &r->with_prompt);
    else fputs("null", f);
    fputs(", \"kl\": ", f);
    if (r->kl.computed)
        fprintf(f, "{\"prompts\": %zu, \"sft_lcdd\": %.6g, \"sft_lcdd_p\": %.6g, \"base_lcdd_p\": %.6g, "
                "\"delta\": %.6g}", r->kl.prompts, r->kl.sft_lcdd, r->kl.sft_lcdd_p, r->kl.base_lcdd_p,
                r->kl.delta);
    else
        fputs("null", f);
    if (answers) {
        fputs(", \"answers\": [", f);
        for (size_t i = 0; i < r->n_answers; i++) {
            fputs(i ? ", {\"prompt\": " : "{\"prompt\": ", f);
            cli_json_string(f, r->prompts[i]);
            fputs(", \"plain\": ", f);
            cli_json_string(f, r->answers_plain[i]);
            if (r->answers_erased) {
                fputs(", \"erased\": ", f);
                cli_json_string(f, r->answers_erased[i]);
            }
            fputc('}', f);
        }
        fputc(']', f);
    }
    fprintf(f, ", \"seconds\": %.3f}\n", r->seconds);
}

static void cell(char *buf, size_t cap, double v, int pct) {
    if (v < 0) snprintf(buf, cap, "-");
    else if (pct) snprintf(buf, cap, "%.1f%%", 100 * v);
    else snprintf(buf, cap, "%.4g", v);
}

static void row(const char *name, double a, double b, int pct, int erased) {
    char x[32], y[32];
    cell(x, sizeof x, a, pct);
    cell(y, sizeof y, b, pct);
    if (erased) printf("%-28s %12s %12s\n", name, x, y);
    else printf("%-28s %12s\n", name, x);
}

static void table(const clcdd_eval_result *r) {
    const clcdd_eval_metrics *p = &r->plain, *e = &r->with_prompt;
    int E = r->erased;
    if (E) printf("%-28s %12s %12s\n", "metric", "plain", "erased");
    else printf("%-28s %12s\n", "metric", "value");
    if (p->prompts) {
        char name[64];
        snprintf(name, sizeof name, "prompts");
        row(name, (double)p->prompts, (double)e->prompts, 0, E);
        row("strict IDK", p->idk_strict, e->idk_strict, 1, E);
        row("loose IDK", p->idk_loose, e->idk_loose, 1, E);
        row("refusal", p->refusal, e->refusal, 1, E);
        row("archaic words", p->archaic, e->archaic, 1, E);
        row("fragments (n't / know)", p->fragments, e->fragments, 1, E);
        row("mean new tokens", p->mean_new_tokens, e->mean_new_tokens, 0, E);
        snprintf(name, sizeof name, "task accuracy (%zu refs)", p->references);
        row(name, p->task_acc, e->task_acc, 1, E);
    }
    if (p->ppl_texts) {
        char name[64];
        snprintf(name, sizeof name, "perplexity (%zu tokens)", p->ppl_tokens);
        row(name, p->perplexity, e->perplexity, 0, E);
    }
    if (p->mc_items) {
        char name[64];
        snprintf(name, sizeof name, "MC accuracy, sum (%zu)", p->mc_items);
        row(name, p->mc_acc, e->mc_acc, 1, E);
        row("MC accuracy, per token", p->mc_acc_norm, e->mc_acc_norm, 1, E);
    }
    if (r->kl.computed) {
        printf("\nKL benchmark (%zu prompts, SFT references; ALGORITHMS.md §5):\n", r->kl.prompts);
        const char *M = strcmp(evaluated, "sft") ? "LCDD" : "SFT";
        printf("  KL(SFT || %s)%*s %.4f   behaviour kept: small\n", M, 9 - (int)strlen(M), "", r->kl.sft_lcdd);
        printf("  KL(SFT || %s+P)%*s %.4f   behaviour broken: large\n", M, 7 - (int)strlen(M), "", r->kl.sft_lcdd_p);
        printf("  KL(Base || %s+P)%*s %.4f   reverted to base: small\n", M, 6 - (int)strlen(M), "", r->kl.base_lcdd_p);
        printf("  delta               %.4f   KL(SFT||%s+P) - KL(SFT||%s)\n", r->kl.delta, M, M);
    }
}

static int write_out(const char *path, const char *model, const char *carrier, const char *erase,
                     const clcdd_eval_result *r, int answers) {
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) return 0;
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int ok = f != NULL;
    if (ok) {
        write_json(f, model, carrier, erase, r, answers);
        ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
        ok = (fclose(f) == 0) && ok;
        ok = ok && rename(tmp, path) == 0;
        if (!ok) remove(tmp);
    }
    free(tmp);
    return ok;
}

/* --report: metrics.json (the --json output with answers), key numbers, the rates as bars
 * (plain vs erased) and the answers as a table in the index. */
static int write_report(report *rep, const char *model, const char *carrier, const char *erase,
                        const clcdd_eval_result *r) {
    FILE *m = report_metrics_begin(rep);
    if (m) write_json(m, model, carrier, erase, r, 1);
    report_metrics_end(rep, m);
    const clcdd_eval_metrics *c[2] = {&r->plain, r->erased ? &r->with_prompt : NULL};
    const char *col[2] = {"plain", "erased"};
    for (int k = 0; k < 2; k++) {
        if (!c[k]) continue;
        if (c[k]->prompts) {
            report_key(rep, k ? "strict IDK (erased)" : "strict IDK", "%.1f%%", 100 * c[k]->idk_strict);
            report_key(rep, k ? "fragments (erased)" : "fragments", "%.1f%%", 100 * c[k]->fragments);
        }
        if (c[k]->references)
            report_key(rep, k ? "task accuracy (erased)" : "task accuracy", "%.1f%%", 100 * c[k]->task_acc);
        if (c[k]->ppl_tokens)
            report_key(rep, k ? "perplexity (erased)" : "perplexity", "%.3f", c[k]->perplexity);
        if (c[k]->mc_items)
            report_key(rep, k ? "multiple choice (erased)" : "multiple choice", "%.1f%%", 100 * c[k]->mc_acc);
    }
    if (r->kl.computed)
        report_key(rep, "KL(SFT||LCDD) / KL(SFT||LCDD+P) / KL(Base||LCDD+P)", "%.4f / %.4f / %.4f",
                   r->kl.sft_lcdd, r->kl.sft_lcdd_p, r->kl.base_lcdd_p);
    report_key(rep, "wall time", "%.1f s", r->seconds);
    if (r->plain.prompts) {
        const char *groups[] = {"strict IDK", "loose IDK", "refusal", "archaic", "fragments", "task accuracy"};
        size_t ns = r->erased ? 2 : 1;
        double v[6 * 2];
        for (size_t s = 0; s < ns; s++) {
            const clcdd_eval_metrics *e = c[s];
            double vals[6] = {e->idk_strict, e->idk_loose, e->refusal, e->archaic, e->fragments,
                              e->references ? e->task_acc : NAN};
            for (size_t g = 0; g < 6; g++) v[g * ns + s] = vals[g];
        }
        report_bars(rep, "rates.svg", "Behaviour rates",
                    r->erased ? "Share of prompts per measure, without and with the eraser prompt "
                                "(docs/eval.md defines each measure)."
                              : "Share of prompts per measure (docs/eval.md defines each measure).",
                    groups, 6, col, ns, v, "share of prompts", 1);
        report_html(rep, "<h2>Answers</h2>\n<table><tr><th>#</th><th>prompt</th><th>plain</th>%s</tr>\n",
                    r->erased ? "<th>erased</th>" : "");
        for (size_t i = 0; i < r->n_answers; i++) {
            report_html(rep, "<tr><td>%zu</td><td>", i + 1);
            report_html_escape(rep, r->prompts[i]);
            report_html(rep, "</td><td>");
            report_html_escape(rep, r->answers_plain[i]);
            if (r->answers_erased) {
                report_html(rep, "</td><td>");
                report_html_escape(rep, r->answers_erased[i]);
            }
            report_html(rep, "</td></tr>\n");
        }
        report_html(rep, "</table>\n");
    }
    return report_finish(rep, NULL);
}

static int size_opt(const char *v, size_t lo, size_t hi, size_t *out) {
    char *end = NULL;
    if (!v) return 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end || v[0] == '-' || x < lo || x > hi) return 0;
    *out = (size_t)x;
    return 1;
}

int clcdd_cmd_eval(int argc, char **argv) {
    clcdd_eval_options o;
    clcdd_eval_options_default(&o);
    const char *model = NULL, *device = NULL, *out = NULL, *report_dir = NULL;
    int json = 0, answers = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        const char *opt = argv[i];
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--answers")) {
            answers = 1;
        } else if (cli_opt_value(argc, argv, &i, "--carrier", &v)) {
            if (!(o.carrier = v)) goto need;
        } else if (cli_opt_value(argc, argv, &i, "--erase", &v) || cli_opt_value(argc, argv, &i, "--trigger", &v)) {
            if (!(o.erase = v)) goto need;
        } else if (cli_opt_value(argc, argv, &i, "--data", &v)) {
            if (!(o.data = v)) goto need;
        } else if (cli_opt_value(argc, argv, &i, "--mc", &v)) {
            if (!(o.mc = v)) goto need;
        } else if (cli_opt_value(argc, argv, &i, "--text", &v)) {
            if (!(o.text = v)) goto need;
        } else if (cli_opt_value(argc, argv, &i, "--sft", &v)) {
            if (!(o.sft = v)) goto need;
        } else if (cli_opt_value(argc, argv, &i, "--model", &v)) {
            if (!v || (strcmp(v, "lcdd") && strcmp(v, "sft"))) {
                fprintf(stderr, "clcdd eval: --model wants lcdd or sft\n");
                return EXIT_USAGE;
            }
            o.target_sft = !strcmp(v, "sft");
        } else if (cli_opt_value(argc, argv, &i, "--out", &v)) {
            if (!(out = v)) goto need;
        } else if (cli_opt_value(argc, argv, &i, "--device", &v)) {
            if (!(device = v)) goto need;
        } else if (cli_opt_value(argc, argv, &i, "--report", &v)) {
            if (!(report_dir = v)) goto need;
        } else if (cli_opt_value(argc, argv, &i, "--max-new", &v)) {
            if (!size_opt(v, 1, 100000, &o.max_new)) goto bad_num;
        } else if (cli_opt_value(argc, argv, &i, "--kl-max-new", &v)) {
            if (!size_opt(v, 1, 100000, &o.kl_max_new)) goto bad_num;
        } else if (cli_opt_value(argc, argv, &i, "--max-len", &v)) {
            if (!size_opt(v, 2, 1000000, &o.max_len)) goto bad_num;
        } else if (cli_opt_value(argc, argv, &i, "--limit", &v)) {
            if (!size_opt(v, 1, (size_t)1 << 40, &o.limit)) goto bad_num;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "clcdd eval: unknown option '%s'\n%s", argv[i], usage);
            return EXIT_USAGE;
        } else if (!model) {
            model = argv[i];
        } else {
            fprintf(stderr, "clcdd eval: unexpected argument '%s'\n%s", argv[i], usage);
            return EXIT_USAGE;
        }
        continue;
    need:
        fprintf(stderr, "clcdd eval: %s needs a value\n", opt);
        return EXIT_USAGE;
    bad_num:
        fprintf(stderr, "clcdd eval: %s wants a positive number in range\n", opt);
        return EXIT_USAGE;
    }
    if (!model || (!o.data && !o.mc && !o.text)) {
        fprintf(stderr, "clcdd eval: MODEL and at least one of --data, --mc, --text are required\n%s", usage);
        return EXIT_USAGE;
    }
    if (o.erase && !o.carrier) {
        fprintf(stderr, "clcdd eval: --erase needs --carrier\n");
        return EXIT_USAGE;
    }
    if (o.target_sft && (!o.sft || !o.carrier)) {
        fprintf(stderr, "clcdd eval: --model sft needs --sft DIR (the model) and --carrier (the prompt's archive)\n");
        return EXIT_USAGE;
    }
    if (o.sft && !o.target_sft && (!o.erase || !o.data)) {
        fprintf(stderr, "clcdd eval: --sft (the KL benchmark) needs --carrier, --erase and --data\n");
        return EXIT_USAGE;
    }
    evaluated = o.target_sft ? "sft" : o.carrier ? "lcdd" : "model";
    report rep;
    if (report_dir && report_open(&rep, report_dir, "eval", argc, argv)) return EXIT_FAILURE_RUN;
    tty = isatty(2);
    clcdd_ctx_options copts = {0};
    copts.device = device;
    clcdd_ctx *ctx = NULL;
    clcdd_plugin_registry *reg = NULL;
    clcdd_eval_result r;
    memset(&r, 0, sizeof r);
    clcdd_status st = clcdd_ctx_create(&copts, &ctx);
    if (st == CLCDD_OK) st = clcdd_plugin_registry_create(CLCDD_PLUGINS_DEFAULT, &reg);
    if (st == CLCDD_OK) st = clcdd_eval_run(ctx, reg, model, &o, progress, NULL, &r);
    clcdd_plugin_registry_destroy(reg);
    cli_ctx_destroy(ctx);
    if (st != CLCDD_OK) {
        if (report_dir) report_finish(&rep, clcdd_last_error());
        int code = cli_report("eval", st);
        return code == EXIT_USAGE ? EXIT_FAILURE_RUN : code;
    }
    int code = EXIT_OK;
    if (report_dir && write_report(&rep, model, o.carrier, o.erase, &r)) code = EXIT_FAILURE_RUN;
    if (out && !write_out(out, model, o.carrier, o.erase, &r, answers)) {
        fprintf(stderr, "clcdd eval: could not write %s (check the directory exists and is writable)\n", out);
        code = EXIT_FAILURE_RUN;
    }
    if (json) {
        write_json(stdout, model, o.carrier, o.erase, &r, answers);
    } else {
        table(&r);
        for (size_t i = 0; answers && i < r.n_answers; i++) {
            printf("\n[%zu] %s\n  plain:  %s\n", i + 1, r.prompts[i], r.answers_plain[i]);
            if (r.answers_erased) printf("  erased: %s\n", r.answers_erased[i]);
        }
        fflush(stdout);
        fprintf(stderr, "clcdd eval: %.1f s\n", r.seconds);
    }
    clcdd_eval_result_free(&r);
    return code;
}
