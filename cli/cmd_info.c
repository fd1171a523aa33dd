/* clcdd info MODEL: family, dimensions, parameter count, tokenizer and a chat-template sample. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "common.h"
#include "model_open.h"

static const char usage[] =
    "usage: clcdd info [--json] [--device D] MODEL\n"
    "MODEL: a Hugging Face model directory (config.json + model.safetensors) or a .gguf file.\n"
    "Prints the family and plugin, the dimensions, the parameter count, the tokenizer and the\n"
    "prompt the model's chat template makes of a sample conversation.\n"
    "  --json       one JSON object on stdout\n"
    "  --device D   device index or name substring (default: CLCDD_DEVICE, else the first)\n";

static const char *const rope_names[] = {"none", "linear", "llama3", "dynamic", "yarn"};

static char *chat_sample(const clcdd_llm *m) {
    const clcdd_chat_message msgs[1] = {{"user", "What is the capital of France?"}};
    char *out = NULL;
    if (clcdd_plugin_render_chat(clcdd_llm_plugin(m), clcdd_llm_hparams(m), msgs, 1, 1, &out) !=
        CLCDD_OK) {
        clcdd_clear_error();
        return NULL;
    }
    return out;
}

static void print_text(const clcdd_llm *m, const char *path) {
    const clcdd_hparams *hp = clcdd_llm_hparams(m);
    const clcdd_tokenizer *tok = clcdd_llm_tokenizer(m);
    clcdd_llm_summary s;
    clcdd_llm_get_summary(m, &s);
    printf("model        %s\n", path);
    printf("format       %s (weights %s)\n", s.format == CLCDD_SOURCE_GGUF ? "GGUF" : "HF safetensors",
           s.weight_dtype);
    printf("family       %s (plugin %s %s), architecture %s\n", hp->family, s.plugin->name,
           s.plugin->version, hp->architecture);
    printf("parameters   %llu (%.1f M)\n", (unsigned long long)s.n_params, s.n_params / 1e6);
    printf("dims         d %u, f %u, layers %u, heads %u, kv heads %u, head dim %u, vocab %u\n",
           hp->hidden_size, hp->intermediate_size, hp->n_layers, hp->n_heads, hp->n_kv_heads,
           hp->head_dim, hp->vocab_size);
    printf("attention    rope theta %g, scaling %s%s, sliding window %u, qkv bias %d, q/k norm %d\n",
           hp->rope_theta, rope_names[hp->rope_scaling % 5], s.rope_freqs ? " (rope_freqs)" : "",
           hp->sliding_window, hp->qkv_bias, hp->qk_norm);
    printf("norm eps     %g, tied embeddings %d, max positions %u\n", hp->rms_eps,
           hp->tie_word_embeddings, hp->max_position_embeddings);
    printf("special ids  bos %d, pad %d, eos", hp->bos_id, hp->pad_id);
    for (uint32_t i = 0; i < hp->n_eos; i++) printf(" %d", hp->eos_ids[i]);
    printf("\ntokenizer    %s", s.tokenizer_source);
    if (tok)
        printf(", %zu tokens, bos %d, eos %d", clcdd_tokenizer_vocab_size(tok),
               clcdd_tokenizer_bos_id(tok), clcdd_tokenizer_eos_id(tok));
    char *chat = chat_sample(m);
    printf("\nchat sample  %s\n", chat ? "" : "(no chat template)");
    if (chat) printf("%s\n", chat);
    free(chat);
}

static void print_json(const clcdd_llm *m, const char *path) {
    const clcdd_hparams *hp = clcdd_llm_hparams(m);
    const clcdd_tokenizer *tok = clcdd_llm_tokenizer(m);
    clcdd_llm_summary s;
    clcdd_llm_get_summary(m, &s);
    printf("{\"model\": ");
    cli_json_string(stdout, path);
    printf(", \"format\": \"%s\", \"weight_dtype\": ", s.format == CLCDD_SOURCE_GGUF ? "gguf" : "hf");
    cli_json_string(stdout, s.weight_dtype);
    printf(", \"family\": ");
    cli_json_string(stdout, hp->family);
    printf(", \"architecture\": ");
    cli_json_string(stdout, hp->architecture);
    printf(", \"plugin\": ");
    cli_json_string(stdout, s.plugin->name);
    printf(", \"parameters\": %llu, \"vocab_size\": %u, \"hidden_size\": %u, "
           "\"intermediate_size\": %u, \"n_layers\": %u, \"n_heads\": %u, \"n_kv_heads\": %u, "
           "\"head_dim\": %u, \"rope_theta\": %g, \"rope_scaling\": \"%s\", \"rms_eps\": %g, "
           "\"sliding_window\": %u, \"tie_word_embeddings\": %s, \"qkv_bias\": %s, "
           "\"qk_norm\": %s, \"bos_id\": %d, \"eos_ids\": [",
           (unsigned long long)s.n_params, hp->vocab_size, hp->hidden_size,
           hp->intermediate_size, hp->n_layers, hp->n_heads, hp->n_kv_heads, hp->head_dim,
           hp->rope_theta, rope_names[hp->rope_scaling % 5], hp->rms_eps, hp->sliding_window,
           hp->tie_word_embeddings ? "true" : "false", hp->qkv_bias ? "true" : "false",
           hp->qk_norm ? "true" : "false", hp->bos_id);
    for (uint32_t i = 0; i < hp->n_eos; i++) printf("%s%d", i ? ", " : "", hp->eos_ids[i]);
    printf("], \"tokenizer\": {\"source\": ");
    cli_json_string(stdout, s.tokenizer_source);
    if (tok)
        printf(", \"vocab_size\": %zu, \"bos_id\": %d, \"eos_id\": %d",
               clcdd_tokenizer_vocab_size(tok), clcdd_tokenizer_bos_id(tok),
               clcdd_tokenizer_eos_id(tok));
    printf("}, \"chat_sample\": ");
    char *chat = chat_sample(m);
    if (chat) cli_json_string(stdout, chat);
    else printf("null");
    free(chat);
    printf("}\n");
}

int clcdd_cmd_info(int argc, char **argv) {
    const char *path = NULL, *device = NULL, *v;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (cli_opt_value(argc, argv, &i, "--device", &v)) {
            if (!v) goto bad;
            device = v;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "clcdd info: unexpected argument '%s'\n", argv[i]);
            goto bad;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "clcdd info: MODEL is missing\n");
        goto bad;
    }
    cli_model m;
    int code = cli_model_open("info", path, device, &m);
    if (code != EXIT_OK) return code;
    if (json) print_json(m.llm, path);
    else print_text(m.llm, path);
    cli_model_close(&m);
    return EXIT_OK;
bad:
    fputs(usage, stderr);
    return EXIT_USAGE;
}
