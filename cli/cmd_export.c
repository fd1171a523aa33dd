/* clcdd export CARRIER --base BASE --out DIR [--erase NAME] [--prompts-only] (also reached as
 * `clcdd carrier export`): the LCDD model as an HF checkpoint plus each eraser prompt as a
 * safetensors tensor and a PEFT prompt-tuning adapter. */
#include <stdio.h>
#include <string.h>

#include "clcdd/export.h"
#include "commands.h"
#include "common.h"

static const char *usage =
    "usage: clcdd export CARRIER --base BASE --out DIR [--erase NAME] [--prompts-only]\n"
    "                    [--base-model NAME] [--json] [--device D]\n"
    "       (the same as `clcdd carrier export`)\n"
    "\n"
    "Applies the carrier archive to BASE (the model it was trained from) and saves the LCDD model\n"
    "as an HF checkpoint in DIR (with BASE's tokenizer files), then, for each eraser prompt of the\n"
    "archive (or only NAME), writes\n"
    "  DIR/eraser-NAME.safetensors   tensor \"prompt\" [T, d] F32; metadata: name, placement,\n"
    "                                settings, metrics, fingerprints\n"
    "  DIR/peft-NAME/                a PEFT prompt-tuning adapter (adapter_config.json,\n"
    "                                adapter_model.safetensors with \"prompt_embeddings\" [T, d])\n"
    "PEFT prepends the virtual tokens before the whole input, as clcdd does: feed it the ids of the\n"
    "chat-formatted prompt (docs/cli.md).\n"
    "  --erase NAME       export only this prompt\n"
    "  --prompts-only     skip the checkpoint (no BASE needed)\n"
    "  --base-model NAME  base_model_name_or_path in adapter_config.json (default: DIR's path)\n"
    "  --json             summary as JSON on stdout\n"
    "  --device D         device index or name substring\n";

static int need(const char *cmd, const char *opt) {
    fprintf(stderr, "clcdd %s: %s needs a value\n", cmd, opt);
    return EXIT_USAGE;
}

int clcdd_cmd_export(int argc, char **argv) {
    const char *cmd = "export";
    if (argc > 0 && !strcmp(argv[0], "carrier-export")) cmd = "carrier export";
    const char *file = NULL, *base = NULL, *out = NULL, *device = NULL;
    clcdd_export_options o;
    clcdd_export_options_default(&o);
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--prompts-only")) {
            o.no_model = 1;
        } else if (cli_opt_value(argc, argv, &i, "--base-model", &v)) {
            if (!(o.base_model = v)) return need(cmd, "--base-model");
        } else if (cli_opt_value(argc, argv, &i, "--base", &v)) {
            if (!(base = v)) return need(cmd, "--base");
        } else if (cli_opt_value(argc, argv, &i, "--out", &v)) {
            if (!(out = v)) return need(cmd, "--out");
        } else if (cli_opt_value(argc, argv, &i, "--erase", &v)) {
            if (!(o.erase = v)) return need(cmd, "--erase");
        } else if (cli_opt_value(argc, argv, &i, "--device", &v)) {
            if (!(device = v)) return need(cmd, "--device");
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "clcdd %s: unknown option '%s'\n%s", cmd, argv[i], usage);
            return EXIT_USAGE;
        } else if (!file) {
            file = argv[i];
        } else {
            fprintf(stderr, "clcdd %s: unexpected argument '%s'\n%s", cmd, argv[i], usage);
            return EXIT_USAGE;
        }
    }
    if (!file || !out || (!base && !o.no_model)) {
        fprintf(stderr, "clcdd %s: CARRIER, --out and --base (unless --prompts-only) are required\n%s",
                cmd, usage);
        return EXIT_USAGE;
    }
    clcdd_ctx *ctx = NULL;
    clcdd_plugin_registry *reg = NULL;
    clcdd_status st = CLCDD_OK;
    if (!o.no_model) {
        clcdd_ctx_options copts = {0};
        copts.device = device;
        st = clcdd_ctx_create(&copts, &ctx);
        if (st == CLCDD_OK) st = clcdd_plugin_registry_create(CLCDD_PLUGINS_DEFAULT, &reg);
    }
    clcdd_export_result r = {0};
    if (st == CLCDD_OK) st = clcdd_export_run(ctx, reg, base, file, out, &o, &r);
    clcdd_plugin_registry_destroy(reg);
    cli_ctx_destroy(ctx);
    if (st != CLCDD_OK) {
        int code = cli_report(cmd, st);
        return code == EXIT_USAGE ? EXIT_FAILURE_RUN : code;
    }
    if (json) {
        printf("{\"out\": ");
        cli_json_string(stdout, out);
        printf(", \"model\": %s, \"prompts\": %u}\n", r.model_written ? "true" : "false", r.prompts);
    } else {
        if (r.model_written) printf("saved the LCDD model (%s applied to %s) to %s\n", file, base, out);
        printf("exported %u eraser prompt%s to %s (eraser-NAME.safetensors, peft-NAME/)\n", r.prompts,
               r.prompts == 1 ? "" : "s", out);
    }
    return EXIT_OK;
}
