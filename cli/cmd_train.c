/* clcdd train BASE SFT --data FILE --out carrier.clcdd: LCDD (ALGORITHMS.md §3). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clcdd/train.h"
#include "commands.h"
#include "common.h"
#include "parallel.h"
#include "train_common.h"

static const char *usage =
    "usage: clcdd train BASE SFT --data FILE.jsonl --out CARRIER.clcdd [options]\n"
    "\n"
    "LCDD: re-trains the SFT model with binary channel masks on its deltas from BASE, under a\n"
    "loss budget, so the SFT behaviour moves into a sparse carrier; writes the carrier archive.\n"
    "BASE and SFT: HF directories or .gguf files with the same dimensions. The data is the SFT\n"
    "dataset (JSONL, as for `clcdd sft`).\n"
    "\n"
    "  --steps N          optimizer steps (300)\n"
    "  --rho X            loss budget slack: budget = baseline * (1 + rho) (0.30)\n"
    "  --warmup-steps N   penalty warm-up T_w; the baseline is taken at T_w (300)\n"
    "  --lr X             AdamW learning rate of the weights (2e-5)\n"
    "  --theta-lr X       SGD learning rate of the mask logits (0.1)\n"
    "  --lambda-init X    initial dual variable (0.01)\n"
    "  --micro-batch N    (8)   --accum N (4)   --max-len N (512)   --seed N (42)\n"
    "  --all-tokens       loss on the prompt tokens too\n"
    "  --kl-loss          task loss = KL(SFT || LCDD model) on the loss tokens instead of the\n"
    "                     cross-entropy (the SFT model stays loaded as the teacher: one more\n"
    "                     forward per micro-batch and one more model in device memory)\n"
    "  --early-stop       stop when the active-channel count stalls under budget or the loss\n"
    "                     median stays over 1.35 x baseline (windows of 20 steps, 3 running)\n"
    "  --log-every N      progress and metrics every N steps (10)\n"
    "  --metrics FILE     JSONL per logged step: step, task_loss, ema, budget, lambda, active\n"
    "  --save-every N     write the whole training state (weights, AdamW moments, mask logits,\n"
    "                     dual state, data order) every N steps, atomically, to --state FILE\n"
    "                     (default: CARRIER.state.safetensors)\n"
    "  --resume FILE      continue the run saved in FILE (same BASE, SFT, data and options);\n"
    "                     bit-identical to an uninterrupted run on the same device. Pass\n"
    "                     --save-every again to keep saving.\n"
    "  --json             final summary as JSON on stdout\n"
    "  --report DIR       a report folder: metrics.json, lcdd.jsonl, plots of the loss, budget,\n"
    "                     lambda and active channels, the carrier density map, index.html\n"
    "  --device D         device index or name substring\n"
    "  --devices LIST     train on several devices at once (indices, name substrings or all),\n"
    "                     each taking a share of every step's examples by its measured speed\n"
    "  --split N,N,...    examples per step of each device instead of the measured split\n"
    "Under mpirun (one rank per device) the ranks train together; rank 0 writes.\n";

#define NEED(cond, what)                                                                        \
    if (!(cond)) {                                                                              \
        fprintf(stderr, "clcdd train: %s needs %s\n", argv[i], what);                           \
        return EXIT_USAGE;                                                                      \
    }

static void human(double b, char *out, size_t cap) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int k = 0;
    while (b >= 1024 && k < 4) b /= 1024, k++;
    snprintf(out, cap, k ? "%.1f %s" : "%.0f %s", b, u[k]);
}

static const char *stop_name(int reason, int json) {
    switch (reason) {
    case 1: return json ? "\"stall\"" : "the active-channel count stalled with the loss under budget";
    case 2: return json ? "\"loss\"" : "the task-loss median stayed over 1.35 x the baseline";
    default: return json ? "null" : "none";
    }
}

static void print_json(FILE *f, const char *out, const clcdd_lcdd_options *o, const clcdd_lcdd_result *r) {
    fprintf(f, "{\"out\": ");
    cli_json_string(f, out);
    fprintf(f, ", \"steps\": %lld, \"active\": %llu, \"total\": %llu, \"sparsity\": %.6f, "
            "\"task_loss\": %.6g, \"ema\": %.6g, \"budget\": %.6g, \"lambda\": %.6g, "
            "\"archive_bytes\": %llu, \"full_f32_bytes\": %llu, \"seconds\": %.2f, "
            "\"steps_done\": %lld, \"early_stop\": %s",
            (long long)o->steps, (unsigned long long)r->active, (unsigned long long)r->total,
            r->sparsity, r->final_loss, r->ema, r->budget, r->lambda,
            (unsigned long long)r->archive_bytes, (unsigned long long)r->full_f32_bytes, r->seconds,
            (long long)r->steps_done, stop_name(r->early_stopped, 1));
    cli_parallel_json(f, &r->plan);
    fprintf(f, "}\n");
}

/* --report: the final metrics, key numbers and plots; error: NULL when the run succeeded. */
static int write_report(report *rep, const char *out, const cli_train_display *d,
                        const clcdd_lcdd_options *o, const clcdd_lcdd_result *r, const char *error) {
    if (!error) {
        FILE *m = report_metrics_begin(rep);
        if (m) print_json(m, out, o, r);
        report_metrics_end(rep, m);
        report_key(rep, "carrier archive", "%s", out);
        report_key(rep, "active mask channels", "%llu of %llu", (unsigned long long)r->active,
                   (unsigned long long)r->total);
        report_key(rep, "sparsity", "%.2f%%", 100 * r->sparsity);
        report_key(rep, "final task loss / EMA / budget", "%.4f / %.4f / %.4f", r->final_loss, r->ema, r->budget);
        report_key(rep, "lambda", "%.4g", r->lambda);
        report_key(rep, "archive size", "%.2f%% of a full F32 checkpoint", r->full_f32_bytes ?
                   100.0 * (double)r->archive_bytes / (double)r->full_f32_bytes : 0.0);
        report_key(rep, "wall time", "%.1f s", r->seconds);
    }
    cli_train_report_plots(rep, d->log, 1);
    if (!error)
        cli_report_archive_density(rep, out, "The share of each mask group's channels that are on, per "
                                   "layer: where the behaviour lives. Outside these channels the LCDD "
                                   "model's weights are the base model's.");
    return report_finish(rep, error);
}

int clcdd_cmd_train(int argc, char **argv) {
    clcdd_lcdd_options o;
    clcdd_lcdd_options_default(&o);
    const char *base = NULL, *sft = NULL;
    int json = 0;
    cli_run_opts ro = {"train", "a file", NULL, NULL, NULL, NULL, NULL, &o.state_path, &o.resume_path,
                       &o.save_every, &o.steps, &o.log_every, &o.micro_batch, &o.accum, &o.max_len,
                       &o.seed, &o.all_tokens, &o.lr};
    cli_parallel par;
    memset(&par, 0, sizeof par);
    par.cmd = "train";
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        long long n;
        int pr = cli_parallel_option(&par, argc, argv, &i);
        if (pr == 2) return EXIT_USAGE;
        int rr = pr == 1 ? 0 : cli_run_option(&ro, argc, argv, &i);
        if (rr < 0) return EXIT_USAGE;
        if (pr == 1 || rr == 1) {
            continue;
        } else if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--kl-loss")) {
            o.kl_loss = 1;
        } else if (!strcmp(argv[i], "--early-stop")) {
            o.early_stop = 1;
        } else if (cli_opt_value(argc, argv, &i, "--warmup-steps", &v)) {
            NEED(cli_parse_i64(v, 0, &n), "a non-negative integer") o.warmup_steps = n;
        } else if (cli_opt_value(argc, argv, &i, "--rho", &v)) {
            NEED(cli_parse_f(v, &o.rho), "a non-negative number")
        } else if (cli_opt_value(argc, argv, &i, "--theta-lr", &v)) {
            NEED(cli_parse_f(v, &o.theta_lr), "a non-negative number")
        } else if (cli_opt_value(argc, argv, &i, "--lambda-init", &v)) {
            NEED(cli_parse_f(v, &o.lambda_init), "a non-negative number")
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "clcdd train: unknown option '%s'\n%s", argv[i], usage);
            return EXIT_USAGE;
        } else if (!base) {
            base = argv[i];
        } else if (!sft) {
            sft = argv[i];
        } else {
            fprintf(stderr, "clcdd train: unexpected argument '%s'\n%s", argv[i], usage);
            return EXIT_USAGE;
        }
    }
    const char *data = ro.data, *out = ro.out, *metrics = ro.metrics, *device = ro.device;
    const char *report_dir = ro.report_dir;
    if (!base || !sft || !data || !out) {
        fprintf(stderr, "clcdd train: BASE, SFT, --data and --out are required\n%s", usage);
        return EXIT_USAGE;
    }
    char state_default[4096];
    if (cli_run_state(&ro, state_default, sizeof state_default)) return EXIT_USAGE;
    if (o.warmup_steps >= o.steps)
        fprintf(stderr, "clcdd train: note: --warmup-steps %lld >= --steps %lld: the loss budget is "
                "never set and lambda stays at --lambda-init\n", (long long)o.warmup_steps,
                (long long)o.steps);
    clcdd_ctx *ctx = NULL;
    int pc = cli_parallel_open(&par, device, &ctx, &o.dp);
    if (pc != EXIT_OK) {
        cli_parallel_close(&par);
        return pc;
    }
    int lead = cli_parallel_leader(&par);
    cli_train_display d = {"train", lead && isatty(2), 1, NULL, NULL, NULL, 0, 0, 0, NULL};
    report rep;
    memset(&rep, 0, sizeof rep);
    if (!lead) report_dir = NULL; /* rank 0 writes the report */
    if (report_dir && report_open(&rep, report_dir, "train", argc, argv)) {
        if (par.ranks > 1) cli_parallel_fail(&par, CLCDD_OK);
        cli_parallel_close(&par);
        return EXIT_FAILURE_RUN;
    }
    if (report_dir)
        d.log = report_log_new(&rep, "lcdd", "the --metrics lines: one per logged step", cli_lcdd_log_cols, 11);
    /* a resumed run adds to the metrics of the run it continues; rank 0 writes them */
    if (lead && metrics && !(d.metrics = fopen(metrics, o.resume_path ? "a" : "w"))) {
        perror(metrics);
        if (report_dir) report_finish(&rep, "--metrics file could not be opened");
        if (par.ranks > 1) cli_parallel_fail(&par, CLCDD_OK);
        cli_parallel_close(&par);
        return EXIT_FAILURE_RUN;
    }
    clcdd_plugin_registry *reg = NULL;
    clcdd_lcdd_result r;
    memset(&r, 0, sizeof r);
    clcdd_status st = clcdd_plugin_registry_create(CLCDD_PLUGINS_DEFAULT, &reg);
    if (st == CLCDD_OK)
        st = clcdd_lcdd_run(ctx, reg, base, sft, data, out, &o, lead ? cli_train_progress : NULL, &d, &r);
    cli_train_display_end(&d);
    clcdd_plugin_registry_destroy(reg);
    if (st != CLCDD_OK) {
        if (report_dir) write_report(&rep, out, &d, &o, &r, clcdd_last_error());
        int code = cli_parallel_fail(&par, st);
        cli_parallel_close(&par);
        return code;
    }
    cli_parallel_close(&par);
    if (!lead) return EXIT_OK;
    cli_parallel_print_timing("train", &r.plan);
    cli_print_data_summary("train", data, &r.data);
    if (o.resume_path)
        fprintf(stderr, "clcdd train: resumed from %s at step %lld of %lld\n", o.resume_path,
                (long long)r.resumed_step, (long long)o.steps);
    if (report_dir && write_report(&rep, out, &d, &o, &r, NULL)) return EXIT_FAILURE_RUN;
    if (json) {
        print_json(stdout, out, &o, &r);
        return EXIT_OK;
    }
    char a[32], f[32];
    human((double)r.archive_bytes, a, sizeof a);
    human((double)r.full_f32_bytes, f, sizeof f);
    printf("wrote %s: %llu of %llu mask channels active, sparsity %.2f%%\n", out,
           (unsigned long long)r.active, (unsigned long long)r.total, 100 * r.sparsity);
    if (r.early_stopped)
        printf("early stop after %lld of %lld steps: %s\n", (long long)r.steps_done,
               (long long)o.steps, stop_name(r.early_stopped, 0));
    printf("task loss %.4g (EMA %.3g, budget %.3g), lambda %.4g, %.1f s\n", r.final_loss, r.ema,
           r.budget, r.lambda, r.seconds);
    printf("archive %s vs %s for a full F32 checkpoint (%.2f%%)\n", a, f,
           r.full_f32_bytes ? 100.0 * (double)r.archive_bytes / (double)r.full_f32_bytes : 0.0);
    return EXIT_OK;
}
