/* clcdd chat MODEL: an interactive conversation through the family's chat template. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clcdd/llm.h"
#include "clcdd/plugins.h"
#include "clcdd/tokenizer.h"
#include "commands.h"
#include "common.h"
#include "model_open.h"

static const char *usage =
    "usage: clcdd chat [--device D] MODEL [--system S] [--max-new N] [--temperature T]\n"
    "                  [--top-p P] [--seed S]\n"
    "\n"
    "Reads one user message per line from stdin and answers each with the model, keeping the\n"
    "whole conversation in the prompt (rendered with the family's chat template). An empty line,\n"
    "/quit or end of input ends the chat.\n";

typedef struct {
    clcdd_decode_stream *ds;
    int32_t *ids;
    size_t n, cap;
} chat_state;

static int on_token(int32_t id, void *user) {
    chat_state *c = user;
    if (c->n < c->cap) c->ids[c->n++] = id;
    const char *t;
    size_t len;
    if (clcdd_decode_stream_push(c->ds, id, &t, &len) == CLCDD_OK && len) {
        fwrite(t, 1, len, stdout);
        fflush(stdout);
    }
    return 0;
}

int clcdd_cmd_chat(int argc, char **argv) {
    const char *path = NULL, *device = NULL, *system = NULL, *v;
    long max_new = 256;
    clcdd_sampling smp = clcdd_sampling_greedy();
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (cli_opt_value(argc, argv, &i, "--device", &v)) {
            if (!v) goto bad;
            device = v;
        } else if (cli_opt_value(argc, argv, &i, "--system", &v)) {
            if (!v) goto bad;
            system = v;
        } else if (cli_opt_value(argc, argv, &i, "--max-new", &v)) {
            max_new = v ? strtol(v, &end, 10) : -1;
            if (!v || *end || max_new < 1 || max_new > 100000) goto bad;
        } else if (cli_opt_value(argc, argv, &i, "--temperature", &v)) {
            smp.temperature = v ? strtof(v, &end) : -1;
            if (!v || *end || smp.temperature < 0) goto bad;
        } else if (cli_opt_value(argc, argv, &i, "--top-p", &v)) {
            smp.top_p = v ? strtof(v, &end) : -1;
            if (!v || *end || !(smp.top_p > 0 && smp.top_p <= 1)) goto bad;
        } else if (cli_opt_value(argc, argv, &i, "--seed", &v)) {
            if (!v) goto bad;
            smp.seed = strtoull(v, &end, 10);
            if (*end) goto bad;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "clcdd chat: unknown argument '%s'\n%s", argv[i], usage);
            return EXIT_USAGE;
        } else if (!path) {
            path = argv[i];
        } else {
            goto bad;
        }
    }
    if (!path) goto bad;
    cli_model m;
    int code = cli_model_open("chat", path, device, &m);
    if (code != EXIT_OK) return code;
    const clcdd_tokenizer *tok = clcdd_llm_tokenizer(m.llm);
    if (!tok) {
        fprintf(stderr, "clcdd chat: the model has no tokenizer\n");
        cli_model_close(&m);
        return EXIT_FAILURE_RUN;
    }
    size_t cap = 64, n = 0;
    clcdd_chat_message *msgs = calloc(cap, sizeof *msgs);
    char **owned = calloc(cap, sizeof *owned);
    chat_state cs = {NULL, malloc((size_t)max_new * sizeof(int32_t)), 0, (size_t)max_new};
    char line[8192];
    int tty = isatty(0);
    if (!msgs || !owned || !cs.ids) {
        fprintf(stderr, "clcdd chat: out of memory\n");
        code = EXIT_FAILURE_RUN;
        goto out;
    }
    if (system) msgs[n++] = (clcdd_chat_message){"system", system};
    for (;;) {
        if (tty) fputs("> ", stderr);
        if (!fgets(line, sizeof line, stdin)) break;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || !strcmp(line, "/quit")) break;
        if (n + 2 >= cap) {
            fprintf(stderr, "clcdd chat: the conversation is too long (start a new chat)\n");
            break;
        }
        owned[n] = strdup(line);
        msgs[n] = (clcdd_chat_message){"user", owned[n]};
        n++;
        char *text = NULL;
        clcdd_status st = clcdd_plugin_render_chat(clcdd_llm_plugin(m.llm), clcdd_llm_hparams(m.llm),
                                                   msgs, n, 1, &text);
        clcdd_tokens in = {0};
        if (st == CLCDD_OK)
            st = clcdd_tokenizer_encode(tok, text, strlen(text), CLCDD_ENCODE_PARSE_SPECIAL, &in);
        free(text);
        cs.n = 0;
        if (st == CLCDD_OK) st = clcdd_decode_stream_create(tok, CLCDD_DECODE_SKIP_SPECIAL, &cs.ds);
        if (st == CLCDD_OK)
            st = clcdd_llm_generate_sampled(m.llm, in.ids, in.n, (size_t)max_new, &smp, on_token, &cs, NULL);
        const char *t;
        size_t len;
        if (st == CLCDD_OK && clcdd_decode_stream_flush(cs.ds, &t, &len) == CLCDD_OK && len)
            fwrite(t, 1, len, stdout);
        printf("\n");
        fflush(stdout);
        clcdd_decode_stream_destroy(cs.ds);
        cs.ds = NULL;
        clcdd_tokens_free(&in);
        char *answer = NULL;
        size_t alen = 0;
        if (st == CLCDD_OK) st = clcdd_tokenizer_decode(tok, cs.ids, cs.n, CLCDD_DECODE_SKIP_SPECIAL, &answer, &alen);
        if (st != CLCDD_OK) {
            code = cli_report("chat", st);
            break;
        }
        owned[n] = strdup(answer);
        clcdd_tokenizer_free_text(answer);
        msgs[n] = (clcdd_chat_message){"assistant", owned[n]};
        n++;
    }
out:
    for (size_t i = 0; i < cap && owned; i++) free(owned[i]);
    free(owned);
    free(msgs);
    free(cs.ids);
    cli_model_close(&m);
    return code;
bad:
    fprintf(stderr, "clcdd chat: bad arguments\n%s", usage);
    return EXIT_USAGE;
}
