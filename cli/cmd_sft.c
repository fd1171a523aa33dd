/* clcdd sft BASE --data train.jsonl --out DIR: full fine-tuning (ALGORITHMS.md §2). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clcdd/train.h"
#include "commands.h"
#include "common.h"
#include "parallel.h"
#include "train_common.h"

static const char *usage =
    "usage: clcdd sft BASE --data FILE.jsonl --out DIR [options]\n"
    "\n"
    "Fine-tunes BASE (an HF model directory or a .gguf file) on a JSONL chat dataset and saves an\n"
    "HF checkpoint (config.json, model.safetensors in F32, and the base's tokenizer files).\n"
    "Each line: {\"prompt\": ..., \"response\": ...} or {\"messages\": [{\"role\", \"content\"}, ...]}\n"
    "ending with the assistant's message; rendered with the model's chat template.\n"
    "\n"
    "  --steps N         optimizer steps (100)\n"
    "  --lr X            AdamW learning rate (2e-5; 10% warm-up, linear decay)\n"
    "  --micro-batch N   sequences per micro-batch (8)\n"
    "  --accum N         micro-batches per optimizer step (4)\n"
    "  --max-len N       truncate examples to N tokens (512)\n"
    "  --seed N          data order (42)\n"
    "  --all-tokens      loss on the prompt tokens too (default: response tokens only)\n"
    "  --log-every N     progress and metrics every N steps (10)\n"
    "  --metrics FILE    JSONL, one line per logged step: step, loss, lr, tokens_per_s\n"
    "  --save-every N    write the whole training state every N steps (atomically) to\n"
    "                    --state FILE (default: DIR.state.safetensors)\n"
    "  --resume FILE     continue the run saved in FILE (a state from --save-every, made with\n"
    "                    the same BASE, data and options); bit-identical to an uninterrupted run\n"
    "                    on the same device. Pass --save-every again to keep saving.\n"
    "  --json            final metrics as JSON on stdout\n"
    "  --report DIR      a report folder: metrics.json, sft.jsonl, a loss plot, index.html\n"
    "  --device D        device index or name substring\n"
    "  --devices LIST    train on several devices at once (indices, name substrings or all):\n"
    "                    each holds a replica and takes a share of every step's micro-batch x\n"
    "                    accum examples, in proportion to its measured speed\n"
    "  --split N,N,...   examples per step of each device instead of the measured split\n"
    "                    (the same split gives bit-identical runs)\n"
    "Under mpirun (one rank per device) the ranks train together; rank 0 writes.\n";

static void print_json(FILE *f, const char *out, const clcdd_sft_options *o, const clcdd_sft_result *r) {
    fprintf(f, "{\"out\": ");
    cli_json_string(f, out);
    fprintf(f, ", \"steps\": %lld, \"final_loss\": %.6g, \"seconds\": %.2f, \"examples\": %zu, "
            "\"tokens\": %zu, \"loss_tokens\": %zu, \"truncated\": %zu, \"dropped\": %zu, "
            "\"tokenizer_files\": %d", (long long)o->steps, r->final_loss, r->seconds,
            r->data.examples, r->data.tokens, r->data.loss_tokens, r->data.truncated, r->data.dropped,
            r->tokenizer_files_copied);
    cli_parallel_json(f, &r->plan);
    fprintf(f, "}\n");
}

/* --report: the final metrics, key numbers and the loss plot; error: NULL when the run succeeded. */
static int write_report(report *rep, const char *out, const cli_train_display *d,
                        const clcdd_sft_options *o, const clcdd_sft_result *r, const char *error) {
    if (!error) {
        FILE *m = report_metrics_begin(rep);
        if (m) print_json(m, out, o, r);
        report_metrics_end(rep, m);
        report_key(rep, "saved model", "%s", out);
        report_key(rep, "final loss", "%.4f", r->final_loss);
        report_key(rep, "optimizer steps", "%lld", (long long)o->steps);
        report_key(rep, "examples / tokens with loss", "%zu / %zu", r->data.examples, r->data.loss_tokens);
        report_key(rep, "wall time", "%.1f s", r->seconds);
    }
    cli_train_report_plots(rep, d->log, 0);
    return report_finish(rep, error);
}

int clcdd_cmd_sft(int argc, char **argv) {
    clcdd_sft_options o;
    clcdd_sft_options_default(&o);
    const char *base = NULL;
    int json = 0;
    cli_run_opts ro = {"sft", "a directory", NULL, NULL, NULL, NULL, NULL, &o.state_path, &o.resume_path,
                       &o.save_every, &o.steps, &o.log_every, &o.micro_batch, &o.accum, &o.max_len,
                       &o.seed, &o.all_tokens, &o.lr};
    cli_parallel par;
    memset(&par, 0, sizeof par);
    par.cmd = "sft";
    for (int i = 1; i < argc; i++) {
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
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "clcdd sft: unknown option '%s'\n%s", argv[i], usage);
            return EXIT_USAGE;
        } else if (!base) {
            base = argv[i];
        } else {
            fprintf(stderr, "clcdd sft: unexpected argument '%s'\n%s", argv[i], usage);
            return EXIT_USAGE;
        }
    }
    const char *data = ro.data, *out = ro.out, *metrics = ro.metrics, *device = ro.device;
    const char *report_dir = ro.report_dir;
    if (!base || !data || !out) {
        fprintf(stderr, "clcdd sft: BASE, --data and --out are required\n%s", usage);
        return EXIT_USAGE;
    }
    char state_default[4096];
    if (cli_run_state(&ro, state_default, sizeof state_default)) return EXIT_USAGE;
    clcdd_ctx *ctx = NULL;
    int pc = cli_parallel_open(&par, device, &ctx, &o.dp);
    if (pc != EXIT_OK) {
        cli_parallel_close(&par);
        return pc;
    }
    int lead = cli_parallel_leader(&par);
    cli_train_display d = {"sft", lead && isatty(2), 0, NULL, NULL, NULL, 0, 0, 0, NULL};
    report rep;
    memset(&rep, 0, sizeof rep);
    if (!lead) report_dir = NULL; /* rank 0 writes the report */
    if (report_dir && report_open(&rep, report_dir, "sft", argc, argv)) {
        if (par.ranks > 1) cli_parallel_fail(&par, CLCDD_OK);
        cli_parallel_close(&par);
        return EXIT_FAILURE_RUN;
    }
    if (report_dir)
        d.log = report_log_new(&rep, "sft", "the --metrics lines: one per logged step", cli_sft_log_cols, 5);
    /* a resumed run adds to the metrics of the run it continues; rank 0 writes them */
    if (lead && metrics && !(d.metrics = fopen(metrics, o.resume_path ? "a" : "w"))) {
        perror(metrics);
        if (report_dir) report_finish(&rep, "--metrics file could not be opened");
        if (par.ranks > 1) cli_parallel_fail(&par, CLCDD_OK);
        cli_parallel_close(&par);
        return EXIT_FAILURE_RUN;
    }
    clcdd_plugin_registry *reg = NULL;
    clcdd_sft_result r;
    memset(&r, 0, sizeof r);
    clcdd_status st = clcdd_plugin_registry_create(CLCDD_PLUGINS_DEFAULT, &reg);
    if (st == CLCDD_OK)
        st = clcdd_sft_run(ctx, reg, base, data, out, &o, lead ? cli_train_progress : NULL, &d, &r);
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
    cli_parallel_print_timing("sft", &r.plan);
    cli_print_data_summary("sft", data, &r.data);
    if (o.resume_path)
        fprintf(stderr, "clcdd sft: resumed from %s at step %lld of %lld\n", o.resume_path,
                (long long)r.resumed_step, (long long)o.steps);
    if (r.base_is_gguf && !r.tokenizer_files_copied)
        fprintf(stderr, "clcdd sft: note: the GGUF base has no tokenizer, so neither has %s; copy a "
                "matching tokenizer.json there to use it with text\n", out);
    else if (r.base_is_gguf)
        fprintf(stderr, "clcdd sft: the base is a GGUF file: its tokenizer is saved as %s/tokenizer.gguf%s\n",
                out, r.tokenizer_files_copied > 1 ? " and its chat template as chat_template.jinja" : "");
    if (report_dir && write_report(&rep, out, &d, &o, &r, NULL)) return EXIT_FAILURE_RUN;
    if (json) {
        print_json(stdout, out, &o, &r);
    } else {
        printf("saved %s: %lld steps, final loss %.4g, %.1f s\n", out, (long long)o.steps,
               r.final_loss, r.seconds);
    }
    return EXIT_OK;
}
