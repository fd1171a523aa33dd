/* clcdd: git-style dispatcher. `clcdd <command> [args]`; `clcdd <command> --help` for each. */
#include <stdio.h>
#include <string.h>

#include "clcdd/status.h"
#include "commands.h"
#include "common.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"carrier", clcdd_cmd_carrier, "inspect a carrier archive, or export it (= clcdd export)"},
    {"chat", clcdd_cmd_chat, "talk to a model through its chat template (one message per line)"},
    {"debug", clcdd_cmd_debug, "debug tools: `debug forward` dumps logits and hidden states, `debug backward` gradients"},
    {"demo", clcdd_cmd_demo, "run SFT -> LCDD -> eraser -> evaluation on the embedded demo world"},
    {"devices", clcdd_cmd_devices, "list OpenCL devices and their capabilities"},
    {"doctor", clcdd_cmd_doctor, "check that clcdd works on a device (kernels, GEMM, ops)"},
    {"erase", clcdd_cmd_erase, "SFT-Eraser: train a soft prompt that switches the behaviour off, into the archive"},
    {"eval", clcdd_cmd_eval, "behaviour rates, task accuracy, perplexity, multiple choice, KL: plain and erased"},
    {"export", clcdd_cmd_export, "the LCDD model as an HF checkpoint, eraser prompts as safetensors and PEFT adapters"},
    {"generate", clcdd_cmd_generate, "generate text from a prompt (greedy; --chat uses the chat template)"},
    {"info", clcdd_cmd_info, "describe a model: family, dimensions, parameters, tokenizer, chat template"},
    {"inspect", clcdd_cmd_inspect, "list a checkpoint's tensors and metadata (safetensors, GGUF, config.json)"},
    {"plugins", clcdd_cmd_plugins, "list model-family plugins, their architectures and rejected files"},
    {"sft", clcdd_cmd_sft, "fine-tune a model on a JSONL chat dataset and save an HF checkpoint"},
    {"train", clcdd_cmd_train, "LCDD: move an SFT behaviour into a sparse carrier archive"},
    {"tune", clcdd_cmd_tune, "measure GEMM backends and tile sizes on a device and store the choice"},
    {"tokenize", clcdd_cmd_tokenize, "encode text to token ids (or --decode ids) with a tokenizer"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: clcdd [--version] [--help] <command> [<args>]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`clcdd <command> --help` describes each command. Exit codes: 0 success, 1 failure,\n"
               "2 usage error, 3 no OpenCL device, 4 a check failed.\n");
}

static void log_to_stderr(clcdd_log_level level, const char *msg, void *user) {
    (void)user;
    static const char *names[] = {"debug", "info", "warning", "error"};
    fprintf(stderr, "clcdd: %s: %s\n", names[level & 3], msg);
}

int main(int argc, char **argv) {
    clcdd_set_log_callback(log_to_stderr, NULL, CLCDD_LOG_WARN);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("clcdd %s\n", clcdd_version());
        return EXIT_OK;
    }
    if (cli_is_help(argv[1]) || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "clcdd: '%s' is not a clcdd command.\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
