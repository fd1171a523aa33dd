/* clcdd debug forward MODEL --ids 1,2,3 [--hidden] --out FILE.safetensors: run one forward and
 * dump the logits (and every layer's output) for comparison with another implementation.
 * clcdd debug backward: cmd_debug_backward.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd/safetensors.h"
#include "cmd_debug_backward.h"
#include "commands.h"
#include "common.h"
#include "model_open.h"

static const char usage[] =
    "usage: clcdd debug forward [--device D] MODEL --ids ID,ID,... [--hidden] --out FILE\n"
    "Runs one forward over the ids and writes FILE (safetensors, F32):\n"
    "  logits    [n, V]\n"
    "  hidden.L  [n, d] with --hidden: L = 0 the embeddings, L = i + 1 the output of layer i\n"
    "and the ids as metadata. MODEL: an HF model directory or a .gguf file.\n";

static int forward(int argc, char **argv) {
    const char *path = NULL, *device = NULL, *ids_s = NULL, *out = NULL, *v;
    int hidden = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--hidden")) {
            hidden = 1;
        } else if (cli_opt_value(argc, argv, &i, "--device", &v)) {
            if (!v) goto bad;
            device = v;
        } else if (cli_opt_value(argc, argv, &i, "--ids", &v)) {
            if (!v) goto bad;
            ids_s = v;
        } else if (cli_opt_value(argc, argv, &i, "--out", &v)) {
            if (!v) goto bad;
            out = v;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "clcdd debug forward: unexpected argument '%s'\n", argv[i]);
            goto bad;
        } else {
            path = argv[i];
        }
    }
    if (!path || !ids_s || !out) {
        fprintf(stderr, "clcdd debug forward: MODEL, --ids and --out are required\n");
        goto bad;
    }
    int32_t *ids;
    size_t n;
    if (!cli_parse_ids(ids_s, &ids, &n)) {
        fprintf(stderr, "clcdd debug forward: --ids wants comma-separated token ids, got '%s'\n",
                ids_s);
        goto bad;
    }
    cli_model m;
    int code = cli_model_open("debug forward", path, device, &m);
    if (code != EXIT_OK) {
        free(ids);
        return code;
    }
    const clcdd_hparams *hp = clcdd_llm_hparams(m.llm);
    size_t V = hp->vocab_size, d = hp->hidden_size, L = hp->n_layers;
    float *logits = malloc(n * V * sizeof *logits);
    float *hid = hidden ? malloc((L + 1) * n * d * sizeof *hid) : NULL;
    clcdd_status st = (!logits || (hidden && !hid))
                          ? CLCDD_ERR_OUT_OF_MEMORY
                          : clcdd_llm_forward(m.llm, ids, n, logits, hid);
    if (st == CLCDD_OK) {
        size_t nt = 1 + (hidden ? L + 1 : 0);
        clcdd_st_write_tensor *w = calloc(nt, sizeof *w);
        uint64_t *shapes = calloc(nt * 2, sizeof *shapes);
        char (*names)[32] = calloc(nt, sizeof *names);
        char *idtext = malloc(n * 12 + 1);
        if (!w || !shapes || !names || !idtext) {
            st = CLCDD_ERR_OUT_OF_MEMORY;
        } else {
            for (size_t k = 0; k < nt; k++) {
                shapes[2 * k] = n;
                shapes[2 * k + 1] = k == 0 ? V : d;
                if (k == 0) snprintf(names[k], sizeof names[k], "logits");
                else snprintf(names[k], sizeof names[k], "hidden.%zu", k - 1);
                w[k] = (clcdd_st_write_tensor){names[k], CLCDD_DTYPE_F32, 2, shapes + 2 * k,
                                               k == 0 ? (void *)logits : (void *)(hid + (k - 1) * n * d)};
            }
            size_t o = 0;
            for (size_t k = 0; k < n; k++)
                o += (size_t)sprintf(idtext + o, "%s%d", k ? "," : "", ids[k]);
            const char *meta[4] = {"ids", idtext, "model", path};
            st = clcdd_safetensors_write(out, w, nt, meta, 2);
        }
        free(w);
        free(shapes);
        free(names);
        free(idtext);
    }
    if (st != CLCDD_OK) code = cli_report("debug forward", st);
    else fprintf(stderr, "clcdd debug forward: wrote %s (%zu positions)\n", out, n);
    free(logits);
    free(hid);
    free(ids);
    cli_model_close(&m);
    return code; /* an id outside the vocabulary is a usage error (2) */
bad:
    fputs(usage, stderr);
    return EXIT_USAGE;
}

static const char debug_usage[] =
    "usage: clcdd debug forward ...    logits and hidden states of token ids\n"
    "       clcdd debug backward ...   loss and every gradient over a JSONL dataset\n"
    "(see `clcdd debug forward --help`, `clcdd debug backward --help`)\n";

int clcdd_cmd_debug(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "forward")) return forward(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "backward")) return cli_debug_backward(argc - 1, argv + 1);
    if (argc >= 2 && cli_is_help(argv[1])) {
        fputs(debug_usage, stdout);
        return EXIT_OK;
    }
    fputs(debug_usage, stderr);
    return EXIT_USAGE;
}
