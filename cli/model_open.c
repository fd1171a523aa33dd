#include "model_open.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int cli_model_open(const char *cmd, const char *path, const char *device, cli_model *out) {
    memset(out, 0, sizeof *out);
    clcdd_ctx_options opts = {0};
    opts.device = device;
    clcdd_status st = clcdd_ctx_create(&opts, &out->ctx);
    if (st == CLCDD_OK) st = clcdd_plugin_registry_create(CLCDD_PLUGINS_DEFAULT, &out->reg);
    if (st == CLCDD_OK) st = clcdd_llm_load(out->ctx, path, out->reg, &out->llm);
    if (st != CLCDD_OK) {
        int code = cli_report(cmd, st);
        /* a bad model path is a failed run, not a usage error */
        if (code == EXIT_USAGE) code = EXIT_FAILURE_RUN;
        cli_model_close(out);
        return code;
    }
    return EXIT_OK;
}

void cli_model_close(cli_model *m) {
    clcdd_llm_free(m->llm);
    clcdd_plugin_registry_destroy(m->reg);
    cli_ctx_destroy(m->ctx);
    memset(m, 0, sizeof *m);
}

int cli_parse_ids(const char *list, int32_t **ids, size_t *n) {
    size_t cap = 16;
    *n = 0;
    *ids = malloc(cap * sizeof **ids);
    const char *p = list;
    while (*ids && *p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 0x7FFFFFFF || (*end && *end != ',')) break;
        if (*n == cap) {
            int32_t *q = realloc(*ids, (cap *= 2) * sizeof **ids);
            if (!q) break;
            *ids = q;
        }
        (*ids)[(*n)++] = (int32_t)v;
        p = *end ? end + 1 : end;
        if (!*p) return *n > 0;
    }
    free(*ids);
    *ids = NULL;
    return 0;
}
