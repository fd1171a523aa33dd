/* clcdd generate MODEL --prompt TEXT [--max-new N] [--chat] [--system S] [--carrier FILE
 * [--erase NAME]] [--json]: greedy generation, streaming the text to stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "common.h"
#include "model_open.h"

static const char usage[] =
    "usage: clcdd generate [--device D] MODEL --prompt TEXT [--max-new N] [--chat] [--system S]\n"
    "                      [--carrier FILE [--erase NAME]] [--json]\n"
    "Greedy generation (argmax at every step) until an end-of-sequence token or N new tokens.\n"
    "MODEL: an HF model directory (with tokenizer.json) or a .gguf file.\n"
    "  --prompt TEXT  the prompt (without --chat: used as is, BOS added as the tokenizer says)\n"
    "  --chat         wrap the prompt as a user message with the model's chat template\n"
    "  --system S     system message for --chat (default: the template's own, if any)\n"
    "  --max-new N    at most N new tokens (default 64)\n"
    "  --temperature T, --top-k K, --top-p P, --repetition-penalty R, --seed S\n"
    "                 sampling (default greedy: temperature 0); the same seed gives the same text\n"
    "  --carrier FILE MODEL is the base of this carrier archive: generate with the LCDD model\n"
    "                 (base + carrier)\n"
    "  --erase NAME   prepend the archive's eraser prompt NAME (`clcdd erase --name`)\n"
    "  --json         print one JSON object (prompt ids, generated ids, text) at the end\n";

typedef struct gen_state {
    clcdd_decode_stream *ds;
    int json;
    int32_t *ids;
    size_t n;
} gen_state;

static int on_token(int32_t id, void *user) {
    gen_state *g = user;
    g->ids[g->n++] = id;
    if (!g->json) {
        const char *t;
        size_t len;
        if (clcdd_decode_stream_push(g->ds, id, &t, &len) == CLCDD_OK && len) {
            fwrite(t, 1, len, stdout);
            fflush(stdout);
        }
    }
    return 0;
}

static clcdd_sampling sampling;

static int run(cli_model *m, const char *prompt, const char *system, int chat, size_t max_new,
               int json) {
    const clcdd_tokenizer *tok = clcdd_llm_tokenizer(m->llm);
    if (!tok) {
        fprintf(stderr, "clcdd generate: the model has no tokenizer (tokenizer.json or GGUF "
                        "tokenizer.ggml.*)\n");
        return EXIT_FAILURE_RUN;
    }
    char *text = NULL;
    unsigned flags = CLCDD_ENCODE_DEFAULT;
    clcdd_status st = CLCDD_OK;
    if (chat) {
        clcdd_chat_message msgs[2];
        size_t nm = 0;
        if (system) msgs[nm++] = (clcdd_chat_message){"system", system};
        msgs[nm++] = (clcdd_chat_message){"user", prompt};
        st = clcdd_plugin_render_chat(clcdd_llm_plugin(m->llm), clcdd_llm_hparams(m->llm), msgs,
                                      nm, 1, &text);
        if (st != CLCDD_OK) return cli_report("generate", st);
        /* the rendered template carries its own special tokens (as HF's apply_chat_template) */
        flags = CLCDD_ENCODE_PARSE_SPECIAL;
    }
    clcdd_tokens in = {0};
    const char *src = text ? text : prompt;
    st = clcdd_tokenizer_encode(tok, src, strlen(src), flags, &in);
    free(text);
    gen_state g = {0};
    g.json = json;
    g.ids = malloc((max_new + 1) * sizeof *g.ids);
    if (st == CLCDD_OK && !g.ids) st = CLCDD_ERR_OUT_OF_MEMORY;
    if (st == CLCDD_OK) st = clcdd_decode_stream_create(tok, CLCDD_DECODE_SKIP_SPECIAL, &g.ds);
    double t0 = cli_now();
    if (st == CLCDD_OK && in.n == 0) {
        fprintf(stderr, "clcdd generate: the prompt encodes to no tokens\n");
        st = CLCDD_ERR_INVALID_ARGUMENT;
    }
    if (st == CLCDD_OK) st = clcdd_llm_generate_sampled(m->llm, in.ids, in.n, max_new, &sampling, on_token, &g, NULL);
    double dt = cli_now() - t0;
    int code = EXIT_OK;
    if (st != CLCDD_OK) {
        code = cli_report("generate", st);
    } else if (json) {
        char *out = NULL;
        size_t len = 0;
        st = clcdd_tokenizer_decode(tok, g.ids, g.n, CLCDD_DECODE_SKIP_SPECIAL, &out, &len);
        if (st != CLCDD_OK) return cli_report("generate", st);
        printf("{\"prompt_ids\": [");
        for (size_t i = 0; i < in.n; i++) printf("%s%d", i ? ", " : "", in.ids[i]);
        printf("], \"ids\": [");
        for (size_t i = 0; i < g.n; i++) printf("%s%d", i ? ", " : "", g.ids[i]);
        printf("], \"text\": ");
        cli_json_string(stdout, out);
        printf(", \"seconds\": %.3f}\n", dt);
        clcdd_tokenizer_free_text(out);
    } else {
        const char *t;
        size_t len;
        if (clcdd_decode_stream_flush(g.ds, &t, &len) == CLCDD_OK && len) fwrite(t, 1, len, stdout);
        printf("\n");
        fprintf(stderr, "clcdd generate: %zu prompt tokens, %zu new in %.1f s\n", in.n, g.n, dt);
    }
    clcdd_decode_stream_destroy(g.ds);
    free(g.ids);
    clcdd_tokens_free(&in);
    return code;
}

int clcdd_cmd_generate(int argc, char **argv) {
    const char *path = NULL, *device = NULL, *prompt = NULL, *system = NULL, *v;
    const char *carrier = NULL, *erase = NULL;
    int chat = 0, json = 0;
    long max_new = 64;
    sampling = clcdd_sampling_greedy();
    for (int i = 1; i < argc; i++) {
        char *endp = NULL;
        if (cli_opt_value(argc, argv, &i, "--temperature", &v)) {
            sampling.temperature = v ? strtof(v, &endp) : -1;
            if (!v || *endp || sampling.temperature < 0) {
                fprintf(stderr, "clcdd generate: --temperature wants a number >= 0\n");
                return EXIT_USAGE;
            }
            continue;
        } else if (cli_opt_value(argc, argv, &i, "--top-p", &v)) {
            sampling.top_p = v ? strtof(v, &endp) : -1;
            if (!v || *endp || !(sampling.top_p > 0 && sampling.top_p <= 1)) {
                fprintf(stderr, "clcdd generate: --top-p wants a number in (0, 1]\n");
                return EXIT_USAGE;
            }
            continue;
        } else if (cli_opt_value(argc, argv, &i, "--top-k", &v)) {
            long k = v ? strtol(v, &endp, 10) : -1;
            if (!v || *endp || k < 0) {
                fprintf(stderr, "clcdd generate: --top-k wants a number >= 0\n");
                return EXIT_USAGE;
            }
            sampling.top_k = (uint32_t)k;
            continue;
        } else if (cli_opt_value(argc, argv, &i, "--repetition-penalty", &v)) {
            sampling.repetition_penalty = v ? strtof(v, &endp) : -1;
            if (!v || *endp || !(sampling.repetition_penalty > 0)) {
                fprintf(stderr, "clcdd generate: --repetition-penalty wants a number > 0\n");
                return EXIT_USAGE;
            }
            continue;
        } else if (cli_opt_value(argc, argv, &i, "--seed", &v)) {
            unsigned long long sd = v ? strtoull(v, &endp, 10) : 0;
            if (!v || *endp) {
                fprintf(stderr, "clcdd generate: --seed wants a number\n");
                return EXIT_USAGE;
            }
            sampling.seed = sd;
            continue;
        }
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--chat")) {
            chat = 1;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (cli_opt_value(argc, argv, &i, "--device", &v)) {
            if (!v) goto bad;
            device = v;
        } else if (cli_opt_value(argc, argv, &i, "--prompt", &v)) {
            if (!v) goto bad;
            prompt = v;
        } else if (cli_opt_value(argc, argv, &i, "--carrier", &v)) {
            if (!v) goto bad;
            carrier = v;
        } else if (cli_opt_value(argc, argv, &i, "--erase", &v)) {
            if (!v) goto bad;
            erase = v;
        } else if (cli_opt_value(argc, argv, &i, "--system", &v)) {
            if (!v) goto bad;
            system = v;
        } else if (cli_opt_value(argc, argv, &i, "--max-new", &v)) {
            char *end;
            max_new = v ? strtol(v, &end, 10) : -1;
            if (!v || *end || max_new < 1 || max_new > 100000) {
                fprintf(stderr, "clcdd generate: --max-new wants a number from 1 to 100000\n");
                goto bad;
            }
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "clcdd generate: unexpected argument '%s'\n", argv[i]);
            goto bad;
        } else {
            path = argv[i];
        }
    }
    if (!path || !prompt) {
        fprintf(stderr, "clcdd generate: MODEL and --prompt are required\n");
        goto bad;
    }
    if (system && !chat) {
        fprintf(stderr, "clcdd generate: --system needs --chat\n");
        goto bad;
    }
    if (erase && !carrier) {
        fprintf(stderr, "clcdd generate: --erase needs --carrier\n");
        goto bad;
    }
    clcdd_carrier *car = NULL;
    long pi = -1;
    if (carrier) {
        clcdd_status st = clcdd_carrier_read(carrier, &car);
        if (st != CLCDD_OK) return cli_report("generate", st);
        if (erase && (pi = clcdd_carrier_find_prompt(car, erase)) < 0) {
            fprintf(stderr, "clcdd generate: %s has no eraser prompt '%s'; available:", carrier, erase);
            for (uint32_t k = 0; k < car->n_prompts; k++)
                fprintf(stderr, "%s %s", k ? "," : "", car->prompts[k].name);
            fprintf(stderr, "%s\n", car->n_prompts ? "" : " none (train one with `clcdd erase`)");
            clcdd_carrier_free(car);
            return EXIT_FAILURE_RUN;
        }
    }
    cli_model m;
    int code = cli_model_open("generate", path, device, &m);
    if (code != EXIT_OK) {
        clcdd_carrier_free(car);
        return code;
    }
    if (car) {
        clcdd_status st = clcdd_llm_apply_carrier(m.llm, car);
        if (st == CLCDD_OK && pi >= 0) {
            const clcdd_carrier_prompt *p = &car->prompts[pi];
            if (p->dim != clcdd_llm_hparams(m.llm)->hidden_size) {
                fprintf(stderr, "clcdd generate: eraser prompt '%s' has %u columns, the model's "
                        "hidden size is %u\n", p->name, p->dim, clcdd_llm_hparams(m.llm)->hidden_size);
                clcdd_carrier_free(car);
                cli_model_close(&m);
                return EXIT_FAILURE_RUN;
            }
            st = clcdd_llm_set_soft_prompt(m.llm, p->data, p->rows);
        }
        clcdd_carrier_free(car);
        if (st != CLCDD_OK) {
            code = cli_report("generate", st);
            cli_model_close(&m);
            return code == EXIT_USAGE ? EXIT_FAILURE_RUN : code;
        }
    }
    code = run(&m, prompt, system, chat, (size_t)max_new, json);
    cli_model_close(&m);
    return code;
bad:
    fputs(usage, stderr);
    return EXIT_USAGE;
}
