/* clcdd erase BASE --carrier FILE --data FILE: the SFT-Eraser (ALGORITHMS.md §4); stores the soft
 * prompt in the carrier archive. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clcdd/erase.h"
#include "commands.h"
#include "common.h"
#include "parallel.h"
#include "train_common.h"

static const char *usage =
    "usage: clcdd erase BASE --carrier CARRIER.clcdd --data FILE.jsonl [options]\n"
    "\n"
    "SFT-Eraser: optimises a soft prompt P (T x d), prepended to the chat-formatted prompt with\n"
    "all weights frozen, so the LCDD model (BASE + carrier) behaves like BASE again: the residual\n"
    "stream at the carrier's write channels is pulled to the base's, plus KL to the base's next-\n"
    "token distributions. P is stored in the archive under NAME (the archive is rewritten).\n"
    "The data: JSONL prompts as for `clcdd sft` (the responses are ignored).\n"
    "\n"
    "  --name NAME        name of the prompt in the archive (default); replaces one of that name\n"
    "  --preset P         paper: channel MSE + tail KL + L2 (default)\n"
    "                     resp: + KL on the base model's greedy answers, cosine lr\n"
    "  --steps N          optimizer steps (2000)   --rows T soft-prompt rows (20)\n"
    "  --lr X             Adam learning rate (0.003)   --batch B prompts per step (16)\n"
    "  --seed N           (42)\n"
    "  --model M          lcdd (default) or sft: erase in the SFT model (ablation; needs --sft)\n"
    "  --sft DIR          the SFT checkpoint for --model sft\n"
    "  --random-channels  MSE on as many random channels per layer (ablation)\n"
    "  --no-mse           no channel MSE term (KL only)\n"
    "  --channels-from F  the channel terms on the write channels of another carrier F of\n"
    "                     the same base instead of this carrier's (ablation)\n"
    "  --answer-max N     resp: longest base answer generated (32)\n"
    "  --act X            add a per-position activation match at the channels on every answer\n"
    "                     row, teacher-forced on the base's answers, weight X (0: off)\n"
    "  --metrics FILE     JSONL per logged step: step, loss, mse, kl, resp, act, l2, best\n"
    "  --json             final summary as JSON on stdout\n"
    "  --report DIR       a report folder: metrics.json, eraser.jsonl, plots of the loss terms\n"
    "                     and the carrier density map, index.html\n"
    "  --device D         device index or name substring\n"
    "  --devices LIST     erase on several devices at once (indices, name substrings or all):\n"
    "                     each holds the base and the model and takes a share of every step's\n"
    "                     batch, in proportion to its measured speed; the result equals one\n"
    "                     device's up to float rounding\n"
    "  --split N,N,...    prompts per step of each device instead of the measured split\n"
    "                     (the same split gives bit-identical runs)\n"
    "Under mpirun (one rank per device) the ranks erase together; rank 0 writes.\n";

#define NEED(cond, what)                                                                        \
    if (!(cond)) {                                                                              \
        fprintf(stderr, "clcdd erase: %s needs %s\n", argv[i], what);                           \
        return EXIT_USAGE;                                                                      \
    }

typedef struct display {
    int tty;
    FILE *metrics;
    report_log *log;
} display;

static void progress(const clcdd_erase_progress *p, void *user) {
    display *d = user;
    if (p->step == 0) { /* the base model's answers, before step 1 */
        if (d->tty) fprintf(stderr, "\rbase answers %zu/%zu %.0f s\033[K", p->answers_done, p->answers_total,
                            p->elapsed_s);
        else fprintf(stderr, "base answers %zu/%zu %.1f s\n", p->answers_done, p->answers_total, p->elapsed_s);
        fflush(stderr);
        return;
    }
    if (d->tty) {
        int w = 20, fill = p->steps ? (int)((double)p->step / (double)p->steps * w) : w;
        fputs("\r[", stderr);
        for (int i = 0; i < w; i++) fputc(i < fill ? '#' : '.', stderr);
        fprintf(stderr, "] %lld/%lld loss %.4f (mse %.4f kl %.4f resp %.4f l2 %.4f) best %.4f\033[K",
                (long long)p->step, (long long)p->steps, p->loss, p->mse, p->kl, p->resp, p->l2, p->best);
    } else {
        fprintf(stderr, "step %lld/%lld loss %.4f mse %.4f kl %.4f resp %.4f l2 %.4f best %.4f",
                (long long)p->step, (long long)p->steps, p->loss, p->mse, p->kl, p->resp, p->l2, p->best);
        if (p->act != 0) fprintf(stderr, " act %.4f", p->act);
        fprintf(stderr, " %.1f s\n", p->elapsed_s);
    }
    fflush(stderr);
    cli_erase_record(d->log, d->metrics, p);
}

static void print_json(FILE *f, const char *carrier, const clcdd_erase_options *o,
                       const clcdd_erase_result *r) {
    fprintf(f, "{\"carrier\": ");
    cli_json_string(f, carrier);
    fprintf(f, ", \"name\": ");
    cli_json_string(f, o->name);
    fprintf(f, ", \"prompts\": %zu, \"channels\": %zu, \"rows\": %u, \"dim\": %u, \"loss\": %.6g, "
            "\"mse\": %.6g, \"kl\": %.6g, \"resp\": %.6g, \"l2\": %.6g, \"best\": %.6g, "
            "\"seconds\": %.2f", r->prompts, r->channels, r->rows, r->dim, r->loss, r->mse, r->kl,
            r->resp, r->l2, r->best, r->seconds);
    cli_parallel_json(f, &r->plan);
    fprintf(f, "}\n");
}

/* The plan on stderr (a clcdd_dp_plan_fn). */
static void print_plan(const clcdd_dp_plan *plan, void *user) {
    (void)user;
    const cli_plan_words w = {"prompts", "one calibration slice", "channel sums and the prompt's gradient",
                              "soft prompt"};
    cli_parallel_print_plan_as("erase", &w, plan);
}

/* The eraser's loss terms against steps (a report of `erase`, and of each eraser run of `demo`). */
void cli_report_eraser_plot(report *rep, const report_log *log, const char *file, const char *title) {
    report_line y[6] = {{"loss", "total loss", 0, 0}, {"best", "best loss so far", 0, 1},
                        {"mse", "channel MSE", 0, 0},  {"kl", "tail KL", 0, 0},
                        {"resp", "response KL", 0, 0}, {"l2", "L2", 0, 0}};
    report_lines(rep, file, title, "The eraser's loss and its terms at each logged step (log scale): the "
                 "channel MSE pulls the carrier's activations to the base model's, the KL terms pull the "
                 "next-token distributions to the base's, L2 keeps the prompt rows small. The stored prompt "
                 "is the one with the best loss. Terms that stay zero (switched off) are not drawn.",
                 log, y, 6, "loss", NULL, 1, 0, 0);
}

/* --report: final metrics, key numbers and plots; error: NULL when the run succeeded. */
static int write_report(report *rep, const char *carrier, const display *d, const clcdd_erase_options *o,
                        const clcdd_erase_result *r, const char *error) {
    if (!error) {
        FILE *m = report_metrics_begin(rep);
        if (m) print_json(m, carrier, o, r);
        report_metrics_end(rep, m);
        report_key(rep, "eraser prompt", "'%s' (%u x %u) in %s", o->name, r->rows, r->dim, carrier);
        report_key(rep, "best loss", "%.4f", r->best);
        report_key(rep, "last step: loss (mse, kl, resp, l2)", "%.4f (%.4f, %.4f, %.4f, %.4f)", r->loss,
                   r->mse, r->kl, r->resp, r->l2);
        report_key(rep, "prompts / channels", "%zu / %zu", r->prompts, r->channels);
        report_key(rep, "wall time", "%.1f s", r->seconds);
    }
    cli_report_eraser_plot(rep, d->log, "eraser_loss.svg", "SFT-Eraser: loss terms");
    cli_report_archive_density(rep, carrier, "The carrier the eraser works against: the share of each mask "
                               "group's channels that are on, per layer. The channel MSE uses the write "
                               "channels (ffn_write or attn_write on).");
    return report_finish(rep, error);
}

int clcdd_cmd_erase(int argc, char **argv) {
    clcdd_erase_options o;
    clcdd_erase_options_default(&o);
    const char *base = NULL, *carrier = NULL, *data = NULL, *metrics = NULL, *device = NULL;
    const char *model = "lcdd", *sft = NULL, *report_dir = NULL, *devices = NULL, *split = NULL;
    const char *channels_from = NULL;
    int json = 0, random_ch = 0, no_mse = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        long long n;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--random-channels")) {
            random_ch = 1;
        } else if (!strcmp(argv[i], "--no-mse")) {
            no_mse = 1;
        } else if (cli_opt_value(argc, argv, &i, "--channels-from", &v)) {
            NEED(v, "a carrier archive") channels_from = v;
        } else if (cli_opt_value(argc, argv, &i, "--carrier", &v)) {
            NEED(v, "a file") carrier = v;
        } else if (cli_opt_value(argc, argv, &i, "--data", &v)) {
            NEED(v, "a file") data = v;
        } else if (cli_opt_value(argc, argv, &i, "--name", &v)) {
            NEED(v && v[0] && strlen(v) < 64, "a name of 1 to 63 bytes") o.name = v;
        } else if (cli_opt_value(argc, argv, &i, "--preset", &v)) {
            NEED(v && (!strcmp(v, "paper") || !strcmp(v, "resp")), "paper or resp")
            o.preset = !strcmp(v, "resp") ? CLCDD_ERASE_RESP : CLCDD_ERASE_PAPER;
        } else if (cli_opt_value(argc, argv, &i, "--model", &v)) {
            NEED(v && (!strcmp(v, "lcdd") || !strcmp(v, "sft")), "lcdd or sft") model = v;
        } else if (cli_opt_value(argc, argv, &i, "--sft", &v)) {
            NEED(v, "a model directory or .gguf file") sft = v;
        } else if (cli_opt_value(argc, argv, &i, "--metrics", &v)) {
            NEED(v, "a file") metrics = v;
        } else if (cli_opt_value(argc, argv, &i, "--report", &v)) {
            NEED(v, "a folder") report_dir = v;
        } else if (cli_opt_value(argc, argv, &i, "--device", &v)) {
            NEED(v, "a value") device = v;
        } else if (cli_opt_value(argc, argv, &i, "--devices", &v)) {
            NEED(v && *v, "a list: indices, name substrings or all") devices = v;
        } else if (cli_opt_value(argc, argv, &i, "--split", &v)) {
            NEED(v && *v, "prompts per device, e.g. 5,3") split = v;
        } else if (cli_opt_value(argc, argv, &i, "--steps", &v)) {
            NEED(cli_parse_i64(v, 1, &n), "a positive integer") o.steps = n;
        } else if (cli_opt_value(argc, argv, &i, "--rows", &v)) {
            NEED(cli_parse_i64(v, 1, &n) && n <= 4096, "an integer from 1 to 4096") o.rows = n;
        } else if (cli_opt_value(argc, argv, &i, "--batch", &v)) {
            NEED(cli_parse_i64(v, 1, &n) && n <= 1024, "an integer from 1 to 1024") o.batch = n;
        } else if (cli_opt_value(argc, argv, &i, "--answer-max", &v)) {
            NEED(cli_parse_i64(v, 1, &n) && n <= 4096, "an integer from 1 to 4096") o.answer_max = (size_t)n;
        } else if (cli_opt_value(argc, argv, &i, "--act", &v)) {
            char *end = NULL;
            double x = v ? strtod(v, &end) : -1;
            NEED(v && end && !*end && x >= 0 && x <= 1e6, "a weight >= 0") o.w_act = (float)x;
        } else if (cli_opt_value(argc, argv, &i, "--seed", &v)) {
            NEED(cli_parse_i64(v, 0, &n), "a number") o.seed = (uint64_t)n;
        } else if (cli_opt_value(argc, argv, &i, "--lr", &v)) {
            NEED(cli_parse_f(v, &o.lr) && o.lr > 0, "a positive number")
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "clcdd erase: unknown option '%s'\n%s", argv[i], usage);
            return EXIT_USAGE;
        } else if (!base) {
            base = argv[i];
        } else {
            fprintf(stderr, "clcdd erase: unexpected argument '%s'\n%s", argv[i], usage);
            return EXIT_USAGE;
        }
    }
    if (!base || !carrier || !data) {
        fprintf(stderr, "clcdd erase: BASE, --carrier and --data are required\n%s", usage);
        return EXIT_USAGE;
    }
    if (!strcmp(model, "sft") != !!sft) {
        fprintf(stderr, "clcdd erase: --model sft and --sft DIR go together\n");
        return EXIT_USAGE;
    }
    if (random_ch + no_mse + !!channels_from > 1) {
        fprintf(stderr, "clcdd erase: --random-channels, --no-mse and --channels-from exclude each other\n");
        return EXIT_USAGE;
    }
    o.sft = sft;
    o.channels_from = channels_from;
    o.channels = no_mse ? CLCDD_ERASE_CH_NONE
                 : random_ch ? CLCDD_ERASE_CH_RANDOM
                 : channels_from ? CLCDD_ERASE_CH_OTHER
                                 : CLCDD_ERASE_CH_CARRIER;
    clcdd_ctx *ctx = NULL;
    cli_parallel par;
    memset(&par, 0, sizeof par);
    par.cmd = "erase";
    par.devices = devices, par.split = split;
    int pc = cli_parallel_open(&par, device, &ctx, &o.dp);
    if (pc != EXIT_OK) {
        cli_parallel_close(&par);
        return pc;
    }
    int lead = cli_parallel_leader(&par);
    if (o.dp.on_plan) o.dp.on_plan = print_plan;
    display d = {lead && isatty(2), NULL, NULL};
    report rep;
    memset(&rep, 0, sizeof rep);
    if (!lead) report_dir = NULL; /* rank 0 writes the report */
    if (report_dir && report_open(&rep, report_dir, "erase", argc, argv)) {
        if (par.ranks > 1) cli_parallel_fail(&par, CLCDD_OK);
        cli_parallel_close(&par);
        return EXIT_FAILURE_RUN;
    }
    if (report_dir) d.log = report_log_new(&rep, "eraser", "the --metrics lines: one per logged step", cli_erase_log_cols, 8);
    if (lead && metrics && !(d.metrics = fopen(metrics, "w"))) {
        perror(metrics);
        if (report_dir) report_finish(&rep, "--metrics file could not be opened");
        if (par.ranks > 1) cli_parallel_fail(&par, CLCDD_OK);
        cli_parallel_close(&par);
        return EXIT_FAILURE_RUN;
    }
    clcdd_plugin_registry *reg = NULL;
    clcdd_erase_result r;
    memset(&r, 0, sizeof r);
    clcdd_status st = clcdd_plugin_registry_create(CLCDD_PLUGINS_DEFAULT, &reg);
    if (st == CLCDD_OK && lead && o.preset == CLCDD_ERASE_RESP)
        fprintf(stderr, "clcdd erase: generating the base model's greedy answers to every prompt of %s "
                        "(the resp preset's targets; minutes on a real model) before step 1\n", data);
    if (st == CLCDD_OK) st = clcdd_erase_run(ctx, reg, base, carrier, data, &o, lead ? progress : NULL, &d, &r);
    if (d.tty) fputc('\n', stderr);
    if (d.metrics) fclose(d.metrics);
    clcdd_plugin_registry_destroy(reg);
    if (par.n_ctx == 1) cli_ctx_print_profile(ctx);
    if (st != CLCDD_OK) {
        if (report_dir) write_report(&rep, carrier, &d, &o, &r, clcdd_last_error());
        int code = cli_parallel_fail(&par, st);
        cli_parallel_close(&par);
        return code;
    }
    cli_parallel_close(&par);
    if (!lead) return EXIT_OK;
    cli_parallel_print_timing("erase", &r.plan);
    if (report_dir && write_report(&rep, carrier, &d, &o, &r, NULL)) return EXIT_FAILURE_RUN;
    if (json) {
        print_json(stdout, carrier, &o, &r);
        return EXIT_OK;
    }
    printf("stored prompt '%s' (%u x %u) in %s: %zu prompts, %zu channels\n", o.name, r.rows, r.dim,
           carrier, r.prompts, r.channels);
    printf("loss %.4f (mse %.4f, kl %.4f, resp %.4f, l2 %.4f), best %.4f, %.1f s\n", r.loss, r.mse,
           r.kl, r.resp, r.l2, r.best, r.seconds);
    return EXIT_OK;
}
