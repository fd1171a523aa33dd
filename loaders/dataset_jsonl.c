/* JSONL chat datasets -> token sequences with loss flags (see dataset_jsonl.h). */
#include "dataset_jsonl.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd_internal.h"

#define FIX_HINT "each line must be {\"prompt\": \"...\", \"response\": \"...\"} or " \
                 "{\"messages\": [{\"role\": ..., \"content\": ...}, ...]} ending with an assistant message"

typedef struct line_ctx {
    const char *name;
    size_t line;
} line_ctx;

static const char *string_field(json_t *obj, const char *key, const line_ctx *lc, clcdd_status *st) {
    json_t *v = json_object_get(obj, key);
    if (!v) {
        *st = clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: missing field \"%s\" (" FIX_HINT ")", lc->name,
                         lc->line, key);
        return NULL;
    }
    if (!json_is_string(v)) {
        *st = clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: field \"%s\" must be a string", lc->name,
                         lc->line, key);
        return NULL;
    }
    return json_string_value(v);
}

/* Parse one JSON object into prompt messages (msgs[0..*n_prompt)) and the response text. */
static clcdd_status parse_example(json_t *root, const line_ctx *lc, clcdd_chat_message **msgs,
                                  size_t *n_prompt, const char **response) {
    clcdd_status st = CLCDD_OK;
    *msgs = NULL;
    if (!json_is_object(root))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: not a JSON object (" FIX_HINT ")", lc->name, lc->line);
    json_t *arr = json_object_get(root, "messages");
    if (!arr) {
        const char *p = string_field(root, "prompt", lc, &st);
        if (!p) return st;
        const char *r = string_field(root, "response", lc, &st);
        if (!r) return st;
        *msgs = malloc(sizeof **msgs);
        if (!*msgs) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s:%zu", lc->name, lc->line);
        (*msgs)[0] = (clcdd_chat_message){"user", p};
        *n_prompt = 1;
        *response = r;
    } else {
        size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
        if (!json_is_array(arr))
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: \"messages\" must be an array", lc->name, lc->line);
        if (n < 2)
            return clcdd_fail(CLCDD_ERR_FORMAT,
                              "%s:%zu: \"messages\" needs at least one prompt message and a final "
                              "assistant message", lc->name, lc->line);
        *msgs = malloc(n * sizeof **msgs);
        if (!*msgs) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s:%zu", lc->name, lc->line);
        for (size_t i = 0; i < n; i++) {
            json_t *m = json_array_get(arr, i);
            if (!json_is_object(m)) {
                free(*msgs), *msgs = NULL;
                return clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: messages[%zu] is not an object with "
                                  "\"role\" and \"content\"", lc->name, lc->line, i);
            }
            json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
            if (!json_is_string(role) || !json_is_string(content)) {
                free(*msgs), *msgs = NULL;
                return clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: messages[%zu] needs string \"role\" and "
                                  "string \"content\" (%s)", lc->name, lc->line, i,
                                  !role ? "no role" : !json_is_string(role) ? "role is not a string"
                                  : !content ? "no content" : "content is not a string");
            }
            (*msgs)[i] = (clcdd_chat_message){json_string_value(role), json_string_value(content)};
        }
        if (strcmp((*msgs)[n - 1].role, "assistant") != 0) {
            st = clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: the last message has role \"%s\"; it must be "
                            "the assistant's response", lc->name, lc->line, (*msgs)[n - 1].role);
            free(*msgs), *msgs = NULL;
            return st;
        }
        *n_prompt = n - 1;
        *response = (*msgs)[n - 1].content;
    }
    if (!**response) {
        free(*msgs), *msgs = NULL;
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: empty response: give the text the model should "
                          "learn to answer, or remove the line", lc->name, lc->line);
    }
    return CLCDD_OK;
}

static clcdd_status add_example(const clcdd_jsonl_config *cfg, const line_ctx *lc,
                                const clcdd_chat_message *msgs, size_t n_prompt, const char *response,
                                int32_t eos, clcdd_tokens *ids, uint8_t **loss, size_t *loss_cap,
                                clcdd_dataset *out, clcdd_jsonl_stats *stats) {
    char *prompt = NULL;
    clcdd_status st = cfg->render(cfg->render_user, msgs, n_prompt, 1, &prompt);
    if (st != CLCDD_OK) return clcdd_fail_context(st, "%s:%zu: rendering the chat template", lc->name, lc->line);
    ids->n = 0;
    /* the rendered template carries its own special tokens (as HF's apply_chat_template) */
    st = clcdd_tokenizer_encode(cfg->tok, prompt, strlen(prompt), CLCDD_ENCODE_PARSE_SPECIAL, ids);
    free(prompt);
    size_t p_len = ids->n;
    if (st == CLCDD_OK) st = clcdd_tokenizer_encode(cfg->tok, response, strlen(response), 0, ids);
    if (st == CLCDD_OK && ids->n == ids->cap) {
        /* room for EOS: encode an empty string never grows, so grow by hand */
        int32_t *g = realloc(ids->ids, (ids->cap * 2 + 8) * sizeof *g);
        if (!g) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s:%zu", lc->name, lc->line);
        else ids->ids = g, ids->cap = ids->cap * 2 + 8;
    }
    if (st != CLCDD_OK) return clcdd_fail_context(st, "%s:%zu: tokenizing", lc->name, lc->line);
    ids->ids[ids->n++] = eos;
    size_t len = ids->n;
    if (cfg->max_len && len > cfg->max_len) {
        len = cfg->max_len;
        stats->truncated++;
    }
    if (*loss_cap < len) {
        uint8_t *g = realloc(*loss, len);
        if (!g) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s:%zu", lc->name, lc->line);
        *loss = g, *loss_cap = len;
    }
    size_t n_loss = 0;
    for (size_t t = 0; t < len; t++) {
        (*loss)[t] = t > 0 && (cfg->all_tokens || t >= p_len);
        n_loss += (*loss)[t];
    }
    /* a response cut off completely teaches nothing (and would divide by zero loss tokens) */
    if (!cfg->all_tokens && len <= p_len) {
        stats->dropped++;
        return CLCDD_OK;
    }
    if (len < 2) {
        stats->dropped++;
        return CLCDD_OK;
    }
    st = clcdd_dataset_add(out, ids->ids, *loss, len);
    if (st != CLCDD_OK) return st;
    stats->examples++;
    stats->tokens += len;
    stats->loss_tokens += n_loss;
    return CLCDD_OK;
}

clcdd_status clcdd_dataset_parse_jsonl(const char *text, size_t len, const char *name,
                                       const clcdd_jsonl_config *cfg, clcdd_dataset *out,
                                       clcdd_jsonl_stats *stats) {
    clcdd_jsonl_stats local;
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    if (!cfg || !cfg->tok || !cfg->render || !out)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_dataset_parse_jsonl: NULL argument");
    int32_t eos = cfg->eos_id >= 0 ? cfg->eos_id : clcdd_tokenizer_eos_id(cfg->tok);
    if (eos < 0)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: the tokenizer has no EOS token to end each response "
                          "with (set eos_token in the tokenizer or eos_token_id in config.json)", name);
    clcdd_tokens ids = {0};
    uint8_t *loss = NULL;
    size_t loss_cap = 0;
    clcdd_status st = CLCDD_OK;
    line_ctx lc = {name, 0};
    size_t pos = 0;
    while (pos < len && st == CLCDD_OK) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len, l_end = end;
        lc.line++;
        if (l_end > pos && text[l_end - 1] == '\r') l_end--;
        size_t a = pos;
        while (a < l_end && (text[a] == ' ' || text[a] == '\t')) a++;
        if (a < l_end) {
            stats->lines++;
            json_error_t err;
            json_t *root = json_loadb(text + pos, l_end - pos, JSON_REJECT_DUPLICATES, &err);
            if (!root) {
                st = clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: malformed JSON at column %d: %s (each "
                                "example must be one JSON object on one line)", name, lc.line,
                                err.column, err.text);
            } else {
                clcdd_chat_message *msgs = NULL;
                size_t n_prompt = 0;
                const char *response = NULL;
                st = parse_example(root, &lc, &msgs, &n_prompt, &response);
                if (st == CLCDD_OK)
                    st = add_example(cfg, &lc, msgs, n_prompt, response, eos, &ids, &loss, &loss_cap,
                                     out, stats);
                free(msgs);
                json_decref(root);
            }
        }
        pos = end + 1;
    }
    if (st == CLCDD_OK && stats->examples == 0)
        st = clcdd_fail(CLCDD_ERR_FORMAT, "%s: no examples (%zu non-blank lines, %zu dropped by "
                        "truncation): add lines or raise the maximum length", name, stats->lines,
                        stats->dropped);
    clcdd_tokens_free(&ids);
    free(loss);
    return st;
}

clcdd_status clcdd_dataset_load_jsonl(const char *path, const clcdd_jsonl_config *cfg,
                                      clcdd_dataset *out, clcdd_jsonl_stats *stats) {
    char *text = NULL;
    size_t len = 0;
    clcdd_status st = clcdd_read_file(path, &text, &len);
    if (st != CLCDD_OK) return clcdd_fail_context(st, "reading the data file %s", path);
    st = clcdd_dataset_parse_jsonl(text, len, path, cfg, out, stats);
    free(text);
    return st;
}
