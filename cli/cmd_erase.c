/* clcdd erase BASE --carrier FILE --data FILE: the SFT-Eraser (ALGORITHMS.md §4); stores the soft
 * prompt in the carrier archive. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clcdd/erase.h"
#include "commands.h"
#include "common.h"
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
    "  --answer-max N     resp: longest base answer generated (32)\n"
    "  --metrics FILE     JSONL per logged step: step, loss, mse, kl, resp, l2, best\n"
    "  --json             final summary as JSON on stdout\n"
    "  --device D         device index or name substring\n";

#define NEED(cond, what)                                                                        \
    if (!(cond)) {                                                                              \
        fprintf(stderr, "clcdd erase: %s needs %s\n", argv[i], what);                           \
        return EXIT_USAGE;                                                                      \
    }

typedef struct display {
    int tty;
    FILE *metrics;
} display;

static void progress(const clcdd_erase_progress *p, void *user) {
    display *d = user;
    if (d->tty) {
        int w = 20, fill = p->steps ? (int)((double)p->step / (double)p->steps * w) : w;
        fputs("\r[", stderr);
        for (int i = 0; i < w; i++) fputc(i < fill ? '#' : '.', stderr);
        fprintf(stderr, "] %lld/%lld loss %.4f (mse %.4f kl %.4f resp %.4f l2 %.4f) best %.4f\033[K",
                (long long)p->step, (long long)p->steps, p->loss, p->mse, p->kl, p->resp, p->l2, p->best);
    } else {
        fprintf(stderr, "step %lld/%lld loss %.4f mse %.4f kl %.4f resp %.4f l2 %.4f best %.4f %.1f s\n",
                (long long)p->step, (long long)p->steps, p->loss, p->mse, p->kl, p->resp, p->l2,
                p->best, p->elapsed_s);
    }
    fflush(stderr);
    if (d->metrics) {
        fprintf(d->metrics, "{\"step\": %lld, \"loss\": %.6g, \"mse\": %.6g, \"kl\": %.6g, \"resp\": %.6g, "
                "\"l2\": %.6g, \"best\": %.6g, \"elapsed_s\": %.2f}\n", (long long)p->step, p->loss,
                p->mse, p->kl, p->resp, p->l2, p->best, p->elapsed_s);
        fflush(d->metrics);
    }
}

int clcdd_cmd_erase(int argc, char **argv) {
    clcdd_erase_options o;
    clcdd_erase_options_default(&o);
    const char *base = NULL, *carrier = NULL, *data = NULL, *metrics = NULL, *device = NULL;
    const char *model = "lcdd", *sft = NULL;
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
        } else if (cli_opt_value(argc, argv, &i, "--device", &v)) {
            NEED(v, "a value") device = v;
        } else if (cli_opt_value(argc, argv, &i, "--steps", &v)) {
            NEED(cli_parse_i64(v, 1, &n), "a positive integer") o.steps = n;
        } else if (cli_opt_value(argc, argv, &i, "--rows", &v)) {
            NEED(cli_parse_i64(v, 1, &n) && n <= 4096, "an integer from 1 to 4096") o.rows = n;
        } else if (cli_opt_value(argc, argv, &i, "--batch", &v)) {
            NEED(cli_parse_i64(v, 1, &n) && n <= 1024, "an integer from 1 to 1024") o.batch = n;
        } else if (cli_opt_value(argc, argv, &i, "--answer-max", &v)) {
            NEED(cli_parse_i64(v, 1, &n) && n <= 4096, "an integer from 1 to 4096") o.answer_max = (size_t)n;
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
    if (random_ch && no_mse) {
        fprintf(stderr, "clcdd erase: --random-channels and --no-mse exclude each other\n");
        return EXIT_USAGE;
    }
    o.sft = sft;
    o.channels = no_mse ? CLCDD_ERASE_CH_NONE : random_ch ? CLCDD_ERASE_CH_RANDOM : CLCDD_ERASE_CH_CARRIER;
    display d = {isatty(2), NULL};
    if (metrics && !(d.metrics = fopen(metrics, "w"))) {
        perror(metrics);
        return EXIT_FAILURE_RUN;
    }
    clcdd_ctx_options copts = {0};
    copts.device = device;
    clcdd_ctx *ctx = NULL;
    clcdd_plugin_registry *reg = NULL;
    clcdd_erase_result r;
    memset(&r, 0, sizeof r);
    clcdd_status st = clcdd_ctx_create(&copts, &ctx);
    if (st == CLCDD_OK) st = clcdd_plugin_registry_create(CLCDD_PLUGINS_DEFAULT, &reg);
    if (st == CLCDD_OK) st = clcdd_erase_run(ctx, reg, base, carrier, data, &o, progress, &d, &r);
    if (d.tty) fputc('\n', stderr);
    if (d.metrics) fclose(d.metrics);
    clcdd_plugin_registry_destroy(reg);
    cli_ctx_destroy(ctx);
    if (st != CLCDD_OK) {
        int code = cli_report("erase", st);
        return code == EXIT_USAGE ? EXIT_FAILURE_RUN : code;
    }
    if (json) {
        printf("{\"carrier\": ");
        cli_json_string(stdout, carrier);
        printf(", \"name\": ");
        cli_json_string(stdout, o.name);
        printf(", \"prompts\": %zu, \"channels\": %zu, \"rows\": %u, \"dim\": %u, \"loss\": %.6g, "
               "\"mse\": %.6g, \"kl\": %.6g, \"resp\": %.6g, \"l2\": %.6g, \"best\": %.6g, "
               "\"seconds\": %.2f}\n", r.prompts, r.channels, r.rows, r.dim, r.loss, r.mse, r.kl,
               r.resp, r.l2, r.best, r.seconds);
        return EXIT_OK;
    }
    printf("stored prompt '%s' (%u x %u) in %s: %zu prompts, %zu channels\n", o.name, r.rows, r.dim,
           carrier, r.prompts, r.channels);
    printf("loss %.4f (mse %.4f, kl %.4f, resp %.4f, l2 %.4f), best %.4f, %.1f s\n", r.loss, r.mse,
           r.kl, r.resp, r.l2, r.best, r.seconds);
    return EXIT_OK;
}
