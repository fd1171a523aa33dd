/* clcdd carrier inspect FILE [--json] | carrier export (= clcdd export, cmd_export.c) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd/carrier.h"
#include "commands.h"
#include "common.h"

static const char *usage =
    "usage: clcdd carrier inspect FILE [--json]\n"
    "       clcdd carrier export FILE --base BASE --out DIR [--erase NAME] [--prompts-only] ...\n"
    "\n"
    "inspect: the archive's model identity, fingerprints, masks (active channels, sparsity overall\n"
    "         and per layer x mask group), stored eraser prompts and training settings.\n"
    "export:  `clcdd export`: applies the carrier to BASE (the model it was trained from), saves\n"
    "         the LCDD model as an HF checkpoint in DIR (with BASE's tokenizer files when it has\n"
    "         them) and each eraser prompt as safetensors and a PEFT adapter (`clcdd export --help`).\n";

/* Mask groups in the archive's layout (docs/archive.md, ALGORITHMS.md §3.1). */
static const char *group_names[8] = {"ffn_read", "ffn_hidden", "ffn_write", "attn_read",
                                     "attn_q", "attn_k", "attn_v", "attn_write"};

static void group_lens(const clcdd_carrier *c, uint64_t len[8]) {
    uint64_t d = c->hidden_size, f = c->intermediate_size, dq = (uint64_t)c->n_heads * c->head_dim,
             dkv = (uint64_t)c->n_kv_heads * c->head_dim;
    uint64_t l[8] = {d, f, d, d, dq, dkv, dkv, d};
    memcpy(len, l, sizeof l);
}

static int inspect(const char *path, int json) {
    clcdd_carrier *c = NULL;
    clcdd_status st = clcdd_carrier_read(path, &c);
    if (st != CLCDD_OK) {
        int code = cli_report("carrier inspect", st);
        return code == EXIT_USAGE ? EXIT_FAILURE_RUN : code;
    }
    uint64_t len[8], S = 0, active = 0;
    group_lens(c, len);
    for (int g = 0; g < 8; g++) S += len[g];
    for (uint64_t i = 0; i < c->n_mask; i++) active += c->mask[i] != 0;
    int table = S && c->n_mask == S * c->n_layers;
    double sparsity = c->n_mask ? 1.0 - (double)active / (double)c->n_mask : 0;
    /* density[layer][group] */
    double *dens = calloc((size_t)c->n_layers * 8 + 1, sizeof *dens);
    if (!dens) return EXIT_FAILURE_RUN;
    if (table && clcdd_carrier_density(c, dens) != CLCDD_OK) table = 0;
    if (json) {
        printf("{\"file\": ");
        cli_json_string(stdout, path);
        printf(", \"version\": %u, \"family\": ", c->version);
        cli_json_string(stdout, c->family);
        printf(", \"architecture\": ");
        cli_json_string(stdout, c->architecture);
        printf(", \"vocab_size\": %u, \"hidden_size\": %u, \"intermediate_size\": %u, \"n_layers\": %u, "
               "\"n_heads\": %u, \"n_kv_heads\": %u, \"head_dim\": %u, \"base_fingerprint\": ",
               c->vocab_size, c->hidden_size, c->intermediate_size, c->n_layers, c->n_heads,
               c->n_kv_heads, c->head_dim);
        cli_json_string(stdout, c->base_fingerprint);
        printf(", \"sft_fingerprint\": ");
        cli_json_string(stdout, c->sft_fingerprint);
        printf(", \"masks\": %llu, \"active\": %llu, \"sparsity\": %.6f, \"matrices\": %u, \"norms\": %u",
               (unsigned long long)c->n_mask, (unsigned long long)active, sparsity, c->n_matrices,
               c->n_norms);
        printf(", \"groups\": [");
        for (int g = 0; g < 8; g++) printf("%s\"%s\"", g ? ", " : "", group_names[g]);
        printf("], \"density\": [");
        for (uint32_t l = 0; table && l < c->n_layers; l++) {
            printf("%s[", l ? ", " : "");
            for (int g = 0; g < 8; g++) printf("%s%.6f", g ? ", " : "", dens[l * 8 + g]);
            printf("]");
        }
        printf("], \"prompts\": [");
        for (uint32_t i = 0; i < c->n_prompts; i++) {
            printf("%s{\"name\": ", i ? ", " : "");
            cli_json_string(stdout, c->prompts[i].name);
            printf(", \"rows\": %u, \"dim\": %u}", c->prompts[i].rows, c->prompts[i].dim);
        }
        printf("], \"train\": %s}\n", c->train_json && c->train_json[0] ? c->train_json : "null");
    } else {
        printf("%s: carrier archive v%u\n", path, c->version);
        printf("model:     %s (%s), V %u, d %u, d_ff %u, L %u, H %u, H_kv %u, hd %u\n", c->family,
               c->architecture, c->vocab_size, c->hidden_size, c->intermediate_size, c->n_layers,
               c->n_heads, c->n_kv_heads, c->head_dim);
        printf("base:      %s\nsft:       %s\n", c->base_fingerprint,
               c->sft_fingerprint[0] ? c->sft_fingerprint : "(not recorded)");
        printf("masks:     %llu channels, %llu active, sparsity %.2f%%\n", (unsigned long long)c->n_mask,
               (unsigned long long)active, 100 * sparsity);
        printf("deltas:    %u matrices, %u norm vectors\n", c->n_matrices, c->n_norms);
        if (table) {
            printf("\ndensity (active share) per layer and mask group:\n%5s", "layer");
            for (int g = 0; g < 8; g++) printf(" %10s", group_names[g]);
            printf("\n");
            for (uint32_t l = 0; l < c->n_layers; l++) {
                printf("%5u", l);
                for (int g = 0; g < 8; g++) printf(" %9.1f%%", 100 * dens[l * 8 + g]);
                printf("\n");
            }
        }
        printf("\nprompts:   %u\n", c->n_prompts);
        for (uint32_t i = 0; i < c->n_prompts; i++)
            printf("  %-24s %u x %u\n", c->prompts[i].name, c->prompts[i].rows, c->prompts[i].dim);
        if (c->train_json && c->train_json[0]) printf("train:     %s\n", c->train_json);
    }
    free(dens);
    clcdd_carrier_free(c);
    return EXIT_OK;
}

int clcdd_cmd_carrier(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *sub = argv[1], *file = NULL;
    if (!strcmp(sub, "export")) {
        /* the same command as `clcdd export` */
        static char name[] = "carrier-export";
        argv[1] = name;
        return clcdd_cmd_export(argc - 1, argv + 1);
    }
    if (strcmp(sub, "inspect") != 0) {
        fprintf(stderr, "clcdd carrier: unknown subcommand '%s'\n%s", sub, usage);
        return EXIT_USAGE;
    }
    int json = 0;
    for (int i = 2; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "clcdd carrier %s: unknown option '%s'\n%s", sub, argv[i], usage);
            return EXIT_USAGE;
        } else if (!file) {
            file = argv[i];
        } else {
            fprintf(stderr, "clcdd carrier %s: unexpected argument '%s'\n%s", sub, argv[i], usage);
            return EXIT_USAGE;
        }
    }
    if (!file) {
        fprintf(stderr, "clcdd carrier %s: FILE is required\n%s", sub, usage);
        return EXIT_USAGE;
    }
    return inspect(file, json);
}
