/* clcdd demo: the whole pipeline on the embedded demo world, ending in the result table. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clcdd/demo.h"
#include "commands.h"
#include "common.h"

static const char *usage =
    "usage: clcdd demo [--quick] [--device D] [--seed N] [--json]\n"
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
    "  --lcdd-no-early-stop\n"
    "               run all --lcdd-steps (by default LCDD stops once the active-channel count\n"
    "               has stalled for 3 windows of 20 steps with the loss under budget)\n"
    "  --lcdd-only  stop after the LCDD row (base, SFT and LCDD rows; no eraser stages)\n"
    "  --json       the table as JSON on stdout\n"
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

int clcdd_cmd_demo(int argc, char **argv) {
    clcdd_ctx_options copts = {0};
    int json = 0, quick = 0, lcdd_only = 0, lcdd_kl = 0, lcdd_no_es = 0;
    float fv[4] = {-1, -1, -1, -1}; /* lcdd lr, theta lr, rho, lambda min */
    long long lcdd_warmup = -1;
    static const char *fv_names[4] = {"--lcdd-lr", "--lcdd-theta-lr", "--lcdd-rho", "--lcdd-lambda-min"};
    unsigned long long seed = 42;
    long long ov[5] = {-1, -1, -1, -1, -1}; /* eval, sft, lcdd, eraser, pool */
    const char *pretrain_dir = NULL;
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
        } else if (!strcmp(argv[i], "--lcdd-no-early-stop")) {
            lcdd_no_es = 1;
        } else if (cli_opt_value(argc, argv, &i, "--device", &v)) {
            if (!v) { fprintf(stderr, "clcdd demo: --device needs a value\n"); return EXIT_USAGE; }
            copts.device = v;
        } else if (cli_opt_value(argc, argv, &i, "--pretrain-steps", &v)) {
            if (!v || sscanf(v, "%lld", &pretrain_steps) != 1 || pretrain_steps < 1) {
                fprintf(stderr, "clcdd demo: --pretrain-steps needs a positive number\n");
                return EXIT_USAGE;
            }
        } else if (cli_opt_value(argc, argv, &i, "--pretrain", &v)) {
            if (!v) { fprintf(stderr, "clcdd demo: --pretrain needs a directory\n"); return EXIT_USAGE; }
            pretrain_dir = v;
        } else if (cli_opt_value(argc, argv, &i, "--seed", &v)) {
            if (!v || sscanf(v, "%llu", &seed) != 1) {
                fprintf(stderr, "clcdd demo: --seed needs a number\n");
                return EXIT_USAGE;
            }
        } else if (cli_opt_value(argc, argv, &i, "--lcdd-warmup", &v)) {
            if (!v || sscanf(v, "%lld", &lcdd_warmup) != 1 || lcdd_warmup < 0) {
                fprintf(stderr, "clcdd demo: --lcdd-warmup needs a non-negative number\n");
                return EXIT_USAGE;
            }
        } else {
            int matched = 0;
            for (int k = 0; k < 4 && !matched; k++)
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
    clcdd_ctx *ctx = NULL;
    clcdd_status st = clcdd_ctx_create(&copts, &ctx);
    if (st != CLCDD_OK) return cli_report("demo", st);
    if (pretrain_dir) {
        prog pp = {isatty(2), cli_now(), cli_now(), ""};
        float loss = 0;
        st = clcdd_demo_pretrain(ctx, pretrain_steps, pretrain_dir, on_progress, &pp, &loss);
        if (pp.tty) fputc('\n', stderr);
        clcdd_ctx_destroy(ctx);
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
    o.lcdd_only = lcdd_only;
    if (lcdd_kl) o.lcdd_kl_loss = 1;
    if (lcdd_no_es) o.lcdd_early_stop = 0;
    prog p = {isatty(2), cli_now(), cli_now(), ""};
    clcdd_demo_row rows[CLCDD_DEMO_ROWS];
    size_t n = 0;
    st = clcdd_demo_run(ctx, &o, on_progress, &p, rows, &n);
    if (p.tty) fputc('\n', stderr);
    clcdd_ctx_destroy(ctx);
    if (st != CLCDD_OK) return cli_report("demo", st);
    if (json) {
        printf("{\"quick\": %s, \"seed\": %llu, \"eval_prompts\": %zu, \"rows\": [", quick ? "true" : "false",
               seed, o.eval_n);
        for (size_t i = 0; i < n; i++) {
            printf("%s\n  {\"name\": ", i ? "," : "");
            cli_json_string(stdout, rows[i].name);
            printf(", \"idk_strict\": %.4f, \"idk_loose\": %.4f, \"fragments\": %.4f, "
                   "\"first_token_agrees_with_base\": %.4f, \"task_accuracy\": %.4f, "
                   "\"kl_sft\": %.5f, \"kl_base\": %.5f, \"sparsity\": %.4f, \"seconds\": %.1f}",
                   rows[i].strict, rows[i].loose, rows[i].fragments, rows[i].first_agree,
                   rows[i].task_acc, rows[i].kl_sft, rows[i].kl_base, rows[i].sparsity, rows[i].seconds);
        }
        printf("\n]}\n");
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
