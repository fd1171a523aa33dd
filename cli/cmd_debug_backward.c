/* clcdd debug backward MODEL --data FILE.jsonl --out FILE.safetensors: one forward + backward
 * over the dataset with every parameter trainable, every gradient written for comparison with
 * PyTorch (tests/fixtures/check_debug_backward.py does it with transformers). */
#include <stdio.h>
#include <string.h>

#include "clcdd/debug.h"
#include "cmd_debug_backward.h"
#include "commands.h"
#include "common.h"
#include "train_common.h"

static const char usage[] =
    "usage: clcdd debug backward [--device D] MODEL --data FILE.jsonl --out FILE [options]\n"
    "\n"
    "Tokenizes FILE.jsonl with the model's tokenizer and chat template exactly as `clcdd sft`\n"
    "does, runs one forward and backward over all examples as one window (loss = sum of token\n"
    "losses / loss tokens of the window) with EVERY parameter trainable, including the token\n"
    "embeddings and lm_head (which `clcdd sft` freezes), and writes FILE (safetensors):\n"
    "  loss                   F32 []         the window's mean token loss\n"
    "  ids, loss_mask         I32 [n, T]     tokens (right-padded with 0) and 1 where a token is\n"
    "                                        a target: HF labels = where(loss_mask, ids, -100)\n"
    "  lens                   I32 [n]        tokens per example\n"
    "  grad.<HF tensor name>  F32            every parameter's gradient, named as in the HF\n"
    "                                        checkpoint (a tied lm_head's is in the embedding's)\n"
    "  grad.inputs_embeds     F32 [n, T, d]  gradient of the input embeddings\n"
    "The file is written to a temporary name and renamed. MODEL: an HF directory or a .gguf file.\n"
    "\n"
    "  --all-tokens      loss on the prompt tokens too (default: response tokens only)\n"
    "  --max-len N       truncate examples to N tokens (512)\n"
    "  --micro-batch N   examples per forward/backward pass; gradients accumulate (8)\n"
    "  --device D        device index or name substring\n";

#define NEED(cond, what)                                                                        \
    if (!(cond)) {                                                                              \
        fprintf(stderr, "clcdd debug backward: %s needs %s\n", argv[i], what);                  \
        return EXIT_USAGE;                                                                      \
    }

int cli_debug_backward(int argc, char **argv) {
    clcdd_debug_backward_options o;
    clcdd_debug_backward_options_default(&o);
    const char *model = NULL, *data = NULL, *out = NULL, *device = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        long long n;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--all-tokens")) {
            o.all_tokens = 1;
        } else if (cli_opt_value(argc, argv, &i, "--data", &v)) {
            NEED(v, "a file") data = v;
        } else if (cli_opt_value(argc, argv, &i, "--out", &v)) {
            NEED(v, "a file") out = v;
        } else if (cli_opt_value(argc, argv, &i, "--device", &v)) {
            NEED(v, "a value") device = v;
        } else if (cli_opt_value(argc, argv, &i, "--max-len", &v)) {
            NEED(cli_parse_i64(v, 2, &n), "an integer >= 2") o.max_len = (size_t)n;
        } else if (cli_opt_value(argc, argv, &i, "--micro-batch", &v)) {
            NEED(cli_parse_i64(v, 1, &n), "a positive integer") o.micro_batch = (size_t)n;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "clcdd debug backward: unknown option '%s'\n%s", argv[i], usage);
            return EXIT_USAGE;
        } else if (!model) {
            model = argv[i];
        } else {
            fprintf(stderr, "clcdd debug backward: unexpected argument '%s'\n%s", argv[i], usage);
            return EXIT_USAGE;
        }
    }
    if (!model || !data || !out) {
        fprintf(stderr, "clcdd debug backward: MODEL, --data and --out are required\n%s", usage);
        return EXIT_USAGE;
    }
    clcdd_ctx_options copts = {0};
    copts.device = device;
    clcdd_ctx *ctx = NULL;
    clcdd_plugin_registry *reg = NULL;
    clcdd_debug_backward_result r;
    memset(&r, 0, sizeof r);
    clcdd_status st = clcdd_ctx_create(&copts, &ctx);
    if (st == CLCDD_OK) st = clcdd_plugin_registry_create(CLCDD_PLUGINS_DEFAULT, &reg);
    if (st == CLCDD_OK) st = clcdd_debug_backward_run(ctx, reg, model, data, out, &o, &r);
    clcdd_plugin_registry_destroy(reg);
    cli_ctx_destroy(ctx);
    if (st != CLCDD_OK) {
        int code = cli_report("debug backward", st);
        return code == EXIT_USAGE ? EXIT_FAILURE_RUN : code;
    }
    cli_print_data_summary("debug backward", data, &r.data);
    printf("wrote %s: loss %.7g, %zu parameter gradients (global norm %.6g) + input embeddings\n",
           out, r.loss, r.n_param_grads, r.grad_norm);
    return EXIT_OK;
}
