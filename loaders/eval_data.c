/* The input files of `clcdd eval` (docs/eval.md) -> token sequences: JSONL prompts with optional
 * reference answers, multiple-choice items, held-out text. Prompts are rendered with the caller's
 * chat renderer and tokenized as loaders/dataset_jsonl.c tokenizes them for `clcdd sft`. Every error
 * names the file and the line. */
#include "eval_data.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd_internal.h"

#define TRY(expr)                                                                               \
    do {                                                                                        \
        clcdd_status s_ = (expr);                                                               \
        if (s_ != CLCDD_OK) return s_;                                                          \
    } while (0)

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void clcdd_eval_strs_free(char **s, size_t n) {
    if (!s) return;
    for (size_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

/* ---- token sequences ----------------------------------------------------------------------- */

void clcdd_eval_seqs_free(clcdd_eval_seqs *l) {
    for (size_t i = 0; i < l->n; i++) free(l->s[i].ids);
    free(l->s);
    memset(l, 0, sizeof *l);
}

clcdd_status clcdd_eval_seqs_push(clcdd_eval_seqs *l, const int32_t *ids, size_t n) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        clcdd_eval_seq *g = realloc(l->s, cap * sizeof *g);
        if (!g) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "token sequences");
        l->s = g, l->cap = cap;
    }
    int32_t *c = malloc((n ? n : 1) * sizeof *c);
    if (!c) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "token sequences");
    if (n) memcpy(c, ids, n * sizeof *c);
    l->s[l->n].ids = c;
    l->s[l->n].n = n;
    l->n++;
    return CLCDD_OK;
}

static clcdd_status encode(const clcdd_eval_tok *t, const char *text, unsigned flags, const char *file,
                           size_t line, clcdd_tokens *out) {
    out->n = 0;
    clcdd_status st = clcdd_tokenizer_encode(t->tok, text, strlen(text), flags, out);
    if (st != CLCDD_OK) return clcdd_fail_context(st, "%s:%zu: tokenizing", file, line);
    for (size_t i = 0; i < out->n; i++)
        if (out->ids[i] < 0 || (uint32_t)out->ids[i] >= t->vocab)
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: token id %d is outside the model's vocabulary "
                              "(%u): the tokenizer does not belong to the model", file, line,
                              (int)out->ids[i], t->vocab);
    return CLCDD_OK;
}

/* The generation prompt of messages: the chat template (or the plain fallback), special-token
 * text parsed, as `clcdd sft` and `clcdd erase` tokenize prompts. */
static clcdd_status encode_prompt(const clcdd_eval_tok *t, const clcdd_chat_message *m, size_t n,
                                  const char *file, size_t line, clcdd_tokens *out) {
    char *text = NULL;
    clcdd_status st = t->render(t->render_user, m, n, 1, &text);
    if (st != CLCDD_OK) return clcdd_fail_context(st, "%s:%zu: rendering the chat template", file, line);
    st = encode(t, text, CLCDD_ENCODE_PARSE_SPECIAL, file, line, out);
    free(text);
    if (st == CLCDD_OK && out->n == 0)
        st = clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: the prompt encodes to no tokens", file, line);
    return st;
}

/* ---- JSONL --------------------------------------------------------------------------------- */

typedef clcdd_status (*line_fn)(void *user, const char *file, size_t line, const char *text, size_t len);

/* Calls fn for each non-blank line (1-based numbers) until limit lines were taken (0: all). */
static clcdd_status for_lines(const char *path, size_t limit, line_fn fn, void *user, size_t *taken) {
    char *data = NULL;
    size_t len = 0;
    *taken = 0;
    clcdd_status st = clcdd_read_file(path, &data, &len);
    if (st != CLCDD_OK) return st;
    size_t line = 0;
    for (size_t i = 0; i < len && st == CLCDD_OK && (!limit || *taken < limit);) {
        size_t j = i;
        while (j < len && data[j] != '\n') j++;
        line++;
        size_t e = j;
        if (e > i && data[e - 1] == '\r') e--;
        size_t k = i;
        while (k < e && (data[k] == ' ' || data[k] == '\t')) k++;
        if (k < e) {
            st = fn(user, path, line, data + i, e - i);
            (*taken)++;
        }
        i = j + 1;
    }
    free(data);
    return st;
}

static clcdd_status parse_json(const char *file, size_t line, const char *text, size_t len, json_t **out) {
    json_error_t err;
    *out = json_loadb(text, len, 0, &err);
    if (!*out) return clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: malformed JSON (%s)", file, line, err.text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: a line must be a JSON object", file, line);
    }
    return CLCDD_OK;
}

static clcdd_status prompt_line(void *u, const char *file, size_t line, const char *text, size_t len) {
    clcdd_eval_prompts *p = u;
    json_t *j = NULL;
    TRY(parse_json(file, line, text, len, &j));
    clcdd_chat_message msgs[64];
    size_t n = 0;
    const char *ref = NULL, *user = "";
    clcdd_status st = CLCDD_OK;
    json_t *jp = json_object_get(j, "prompt"), *jm = json_object_get(j, "messages");
    json_t *jr = json_object_get(j, "response");
    if (jp) {
        if (!json_is_string(jp)) st = clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: \"prompt\" must be a string", file, line);
        else msgs[n++] = (clcdd_chat_message){"user", json_string_value(jp)}, user = json_string_value(jp);
        if (st == CLCDD_OK && jr && !json_is_null(jr)) {
            if (!json_is_string(jr)) st = clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: \"response\" must be a string", file, line);
            else ref = json_string_value(jr);
        }
    } else if (jm) {
        size_t nm = json_is_array(jm) ? json_array_size(jm) : 0;
        if (!nm || nm > 64)
            st = clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: \"messages\" must be an array of 1 to 64 messages", file, line);
        for (size_t i = 0; st == CLCDD_OK && i < nm; i++) {
            json_t *m = json_array_get(jm, i);
            json_t *r = json_object_get(m, "role"), *c = json_object_get(m, "content");
            if (!json_is_string(r) || !json_is_string(c))
                st = clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: message %zu needs string \"role\" and \"content\"",
                                file, line, i + 1);
            else
                msgs[n++] = (clcdd_chat_message){json_string_value(r), json_string_value(c)};
        }
        if (st == CLCDD_OK && n > 1 && !strcmp(msgs[n - 1].role, "assistant")) ref = msgs[--n].content;
        for (size_t i = 0; st == CLCDD_OK && i < n; i++)
            if (!strcmp(msgs[i].role, "user")) user = msgs[i].content;
    } else {
        st = clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: needs \"prompt\" (with an optional \"response\") or "
                        "\"messages\"", file, line);
    }
    clcdd_tokens ids = {0};
    if (st == CLCDD_OK) st = encode_prompt(p->t, msgs, n, file, line, &ids);
    if (st == CLCDD_OK) st = clcdd_eval_seqs_push(&p->ids, ids.ids, ids.n);
    if (st == CLCDD_OK && p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        char **r = realloc(p->reference, cap * sizeof *r);
        if (r) p->reference = r;
        char **us = r ? realloc(p->user, cap * sizeof *us) : NULL;
        if (us) p->user = us;
        if (!r || !us) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s", file);
        else p->cap = cap;
    }
    if (st == CLCDD_OK) {
        p->reference[p->n] = ref ? dup_str(ref) : NULL;
        p->user[p->n] = dup_str(user);
        p->n++;
        if ((ref && !p->reference[p->n - 1]) || !p->user[p->n - 1])
            st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s", file);
    }
    clcdd_tokens_free(&ids);
    json_decref(j);
    return st;
}

void clcdd_eval_prompts_free(clcdd_eval_prompts *p) {
    clcdd_eval_seqs_free(&p->ids);
    clcdd_eval_strs_free(p->reference, p->n);
    clcdd_eval_strs_free(p->user, p->n);
    memset(p, 0, sizeof *p);
}

void clcdd_eval_mc_free(clcdd_eval_mc *m) {
    for (size_t i = 0; i < m->n; i++) {
        free(m->items[i].prompt.ids);
        clcdd_eval_seqs_free(&m->items[i].choices);
    }
    free(m->items);
    memset(m, 0, sizeof *m);
}

static clcdd_status mc_line(void *u, const char *file, size_t line, const char *text, size_t len) {
    clcdd_eval_mc *m = u;
    json_t *j = NULL;
    TRY(parse_json(file, line, text, len, &j));
    clcdd_status st = CLCDD_OK;
    json_t *q = json_object_get(j, "question"), *c = json_object_get(j, "choices"), *a = json_object_get(j, "answer");
    size_t nc = json_is_array(c) ? json_array_size(c) : 0;
    if (!json_is_string(q)) st = clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: needs a string \"question\"", file, line);
    else if (nc < 2) st = clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: \"choices\" must be an array of at least 2 strings", file, line);
    for (size_t i = 0; st == CLCDD_OK && i < nc; i++)
        if (!json_is_string(json_array_get(c, i)))
            st = clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: choice %zu is not a string", file, line, i + 1);
    long ans = -1;
    if (st == CLCDD_OK) {
        if (json_is_integer(a)) {
            ans = (long)json_integer_value(a);
        } else if (json_is_string(a)) {
            const char *s = json_string_value(a);
            for (size_t i = 0; i < nc && ans < 0; i++)
                if (!strcmp(s, json_string_value(json_array_get(c, i)))) ans = (long)i;
            if (ans < 0 && s[0] >= 'A' && s[0] <= 'Z' && !s[1]) ans = s[0] - 'A';
        }
        if (ans < 0 || (size_t)ans >= nc)
            st = clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: \"answer\" must be a choice index 0..%zu, a letter "
                            "A.. or the text of a choice", file, line, nc - 1);
    }
    if (st == CLCDD_OK && m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        clcdd_eval_mc_item *g = realloc(m->items, cap * sizeof *g);
        if (!g) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s", file);
        else m->items = g, m->cap = cap;
    }
    clcdd_tokens ids = {0};
    if (st == CLCDD_OK) {
        clcdd_eval_mc_item *it = &m->items[m->n];
        memset(it, 0, sizeof *it);
        it->answer = (size_t)ans;
        clcdd_chat_message msg = {"user", json_string_value(q)};
        st = encode_prompt(m->t, &msg, 1, file, line, &ids);
        if (st == CLCDD_OK) {
            it->prompt.ids = malloc(ids.n * sizeof(int32_t));
            if (!it->prompt.ids) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s", file);
            else memcpy(it->prompt.ids, ids.ids, ids.n * sizeof(int32_t)), it->prompt.n = ids.n;
        }
        /* a choice is the response: plain text, special-token strings stay text */
        for (size_t i = 0; st == CLCDD_OK && i < nc; i++) {
            st = encode(m->t, json_string_value(json_array_get(c, i)), 0, file, line, &ids);
            if (st == CLCDD_OK && ids.n == 0)
                st = clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: choice %zu encodes to no tokens", file, line, i + 1);
            if (st == CLCDD_OK) st = clcdd_eval_seqs_push(&it->choices, ids.ids, ids.n);
        }
        m->n++; /* freed by clcdd_eval_mc_free even when incomplete */
    }
    clcdd_tokens_free(&ids);
    json_decref(j);
    return st;
}

typedef struct text_in {
    const clcdd_eval_tok *t;
    int jsonl;
    size_t max_len;
    clcdd_eval_seqs ids;
} text_in;

static clcdd_status text_line(void *u, const char *file, size_t line, const char *text, size_t len) {
    text_in *t = u;
    clcdd_status st = CLCDD_OK;
    json_t *j = NULL;
    char *plain = NULL;
    const char *s = NULL;
    if (t->jsonl) {
        TRY(parse_json(file, line, text, len, &j));
        json_t *x = json_object_get(j, "text");
        if (!json_is_string(x)) st = clcdd_fail(CLCDD_ERR_FORMAT, "%s:%zu: needs a string \"text\"", file, line);
        else s = json_string_value(x);
    } else {
        plain = malloc(len + 1);
        if (!plain) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s", file);
        memcpy(plain, text, len);
        plain[len] = 0;
        s = plain;
    }
    clcdd_tokens ids = {0};
    if (st == CLCDD_OK) st = encode(t->t, s, CLCDD_ENCODE_DEFAULT, file, line, &ids);
    if (st == CLCDD_OK && ids.n >= 2)
        st = clcdd_eval_seqs_push(&t->ids, ids.ids, ids.n < t->max_len ? ids.n : t->max_len);
    clcdd_tokens_free(&ids);
    free(plain);
    json_decref(j);
    return st;
}

/* ---- the three files ------------------------------------------------------------------------ */

clcdd_status clcdd_eval_load_prompts(const char *path, size_t limit, const clcdd_eval_tok *t,
                                     clcdd_eval_prompts *out) {
    memset(out, 0, sizeof *out);
    out->t = t;
    size_t taken = 0;
    clcdd_status st = for_lines(path, limit, prompt_line, out, &taken);
    if (st == CLCDD_OK && out->n == 0) st = clcdd_fail(CLCDD_ERR_FORMAT, "%s: no prompts", path);
    if (st != CLCDD_OK) clcdd_eval_prompts_free(out);
    return st;
}

clcdd_status clcdd_eval_load_mc(const char *path, size_t limit, const clcdd_eval_tok *t,
                                clcdd_eval_mc *out) {
    memset(out, 0, sizeof *out);
    out->t = t;
    size_t taken = 0;
    clcdd_status st = for_lines(path, limit, mc_line, out, &taken);
    if (st == CLCDD_OK && out->n == 0) st = clcdd_fail(CLCDD_ERR_FORMAT, "%s: no questions", path);
    if (st != CLCDD_OK) clcdd_eval_mc_free(out);
    return st;
}

clcdd_status clcdd_eval_load_text(const char *path, size_t limit, size_t max_len,
                                  const clcdd_eval_tok *t, clcdd_eval_seqs *out) {
    size_t n = strlen(path), taken = 0;
    text_in in;
    memset(&in, 0, sizeof in);
    in.t = t;
    in.jsonl = n >= 6 && !strcmp(path + n - 6, ".jsonl");
    in.max_len = max_len;
    clcdd_status st = for_lines(path, limit, text_line, &in, &taken);
    if (st == CLCDD_OK && in.ids.n == 0) st = clcdd_fail(CLCDD_ERR_FORMAT, "%s: no text of at least 2 tokens", path);
    if (st != CLCDD_OK) clcdd_eval_seqs_free(&in.ids);
    *out = in.ids;
    return st;
}
