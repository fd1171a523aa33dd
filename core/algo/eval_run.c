/* include/clcdd/eval.h: evaluation from files. Loads MODEL (and applies the carrier), reads the
 * prompt, multiple-choice and text files (each error names the file and line), generates greedy
 * answers with and without the eraser prompt (the same settings for both), scores them
 * (eval_text.c), computes perplexity and choice log-likelihoods by teacher forcing one sequence at
 * a time, and runs the KL benchmark (eval.c) when an SFT model is given.
 * Dimension legend: T_p soft-prompt rows, n sequence length, V vocabulary. */
#include "clcdd/eval.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "algo/carrier.h"
#include "algo/eval.h"
#include "algo/train_run.h"
#include "clcdd_internal.h"
#include "nn/decoder.h"
#include "nn/sample.h"
#include "nn/load.h"
#include "runtime/cl_check.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void clcdd_eval_options_default(clcdd_eval_options *o) {
    memset(o, 0, sizeof *o);
    o->max_new = 64;
    o->kl_max_new = 128;
    o->max_len = 512;
}

static void free_strs(char **s, size_t n) {
    if (!s) return;
    for (size_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

void clcdd_eval_result_free(clcdd_eval_result *r) {
    if (!r) return;
    free_strs(r->answers_plain, r->n_answers);
    free_strs(r->answers_erased, r->n_answers);
    free_strs(r->prompts, r->n_answers);
    r->answers_plain = r->answers_erased = r->prompts = NULL;
    r->n_answers = 0;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ---- token sequences ----------------------------------------------------------------------- */

typedef struct seq {
    int32_t *ids;
    size_t n;
} seq;

typedef struct seq_list {
    seq *s;
    size_t n, cap;
} seq_list;

static void seqs_free(seq_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->s[i].ids);
    free(l->s);
    memset(l, 0, sizeof *l);
}

static clcdd_status seqs_push(seq_list *l, const int32_t *ids, size_t n) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        seq *g = realloc(l->s, cap * sizeof *g);
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

/* What the files are tokenized with. */
typedef struct tok_ctx {
    const clcdd_tokenizer *tok;
    clcdd_run_render_ctx rc;
    uint32_t vocab;
} tok_ctx;

static clcdd_status encode(const tok_ctx *t, const char *text, unsigned flags, const char *file,
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
static clcdd_status encode_prompt(const tok_ctx *t, const clcdd_chat_message *m, size_t n,
                                  const char *file, size_t line, clcdd_tokens *out) {
    char *text = NULL;
    clcdd_status st = clcdd_run_render((void *)&t->rc, m, n, 1, &text);
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

typedef struct prompts_in {
    const tok_ctx *t;
    seq_list ids;
    char **reference;      /* NULL entries: no reference */
    char **user;           /* the last user message */
    size_t n, cap;
} prompts_in;

static clcdd_status prompt_line(void *u, const char *file, size_t line, const char *text, size_t len) {
    prompts_in *p = u;
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
    if (st == CLCDD_OK) st = seqs_push(&p->ids, ids.ids, ids.n);
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

static void prompts_free(prompts_in *p) {
    seqs_free(&p->ids);
    free_strs(p->reference, p->n);
    free_strs(p->user, p->n);
    memset(p, 0, sizeof *p);
}

/* Multiple choice: the question's prompt, each choice's tokens, the right index. */
typedef struct mc_item {
    seq prompt;
    seq_list choices;
    size_t answer;
} mc_item;

typedef struct mc_in {
    const tok_ctx *t;
    mc_item *items;
    size_t n, cap;
} mc_in;

static void mc_free(mc_in *m) {
    for (size_t i = 0; i < m->n; i++) {
        free(m->items[i].prompt.ids);
        seqs_free(&m->items[i].choices);
    }
    free(m->items);
    memset(m, 0, sizeof *m);
}

static clcdd_status mc_line(void *u, const char *file, size_t line, const char *text, size_t len) {
    mc_in *m = u;
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
        mc_item *g = realloc(m->items, cap * sizeof *g);
        if (!g) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s", file);
        else m->items = g, m->cap = cap;
    }
    clcdd_tokens ids = {0};
    if (st == CLCDD_OK) {
        mc_item *it = &m->items[m->n];
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
            if (st == CLCDD_OK) st = seqs_push(&it->choices, ids.ids, ids.n);
        }
        m->n++; /* freed by mc_free even when incomplete */
    }
    clcdd_tokens_free(&ids);
    json_decref(j);
    return st;
}

typedef struct text_in {
    const tok_ctx *t;
    int jsonl;
    size_t max_len;
    seq_list ids;
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
        st = seqs_push(&t->ids, ids.ids, ids.n < t->max_len ? ids.n : t->max_len);
    clcdd_tokens_free(&ids);
    free(plain);
    json_decref(j);
    return st;
}

/* ---- teacher-forced log-likelihoods -------------------------------------------------------- */

typedef struct scorer {
    clcdd_ctx *ctx;
    const clcdd_model *m;
    const clcdd_tensor *soft;  /* (T_p, d) or NULL */
    size_t rows;               /* T_p */
    clcdd_acts A;
    size_t Tcap;
    int32_t *full;
    float *lg;
    size_t lg_cap;             /* floats */
} scorer;

static void scorer_free(scorer *s) {
    if (s->Tcap) clcdd_acts_destroy(&s->A);
    free(s->full), free(s->lg);
    s->Tcap = 0, s->full = NULL, s->lg = NULL, s->lg_cap = 0;
}

/* Sum and count of log p(ids[t] | soft rows, ids[<t]) for t = first .. n-1 (first >= 1). */
static clcdd_status seq_logprob(scorer *s, const int32_t *ids, size_t n, size_t first, double *sum) {
    *sum = 0;
    if (first < 1 || first >= n) return CLCDD_OK;
    size_t T = s->rows + n, V = s->m->hp.vocab_size, need = (n - first) * V;
    if (T > s->Tcap) {
        if (s->Tcap) clcdd_acts_destroy(&s->A);
        s->Tcap = 0;
        free(s->full);
        s->full = malloc(T * sizeof *s->full);
        if (!s->full) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "scoring buffers");
        TRY(clcdd_acts_create(s->ctx, &s->m->hp, 1, T, 0, &s->A));
        s->Tcap = T;
    }
    if (need > s->lg_cap) {
        free(s->lg);
        s->lg = malloc(need * sizeof *s->lg);
        s->lg_cap = s->lg ? need : 0;
        if (!s->lg) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "scoring buffers (%zu logits)", need);
    }
    for (size_t k = 0; k < s->rows; k++) s->full[k] = -1 - (int32_t)k;
    memcpy(s->full + s->rows, ids, n * sizeof *ids);
    int32_t len = (int32_t)T;
    clcdd_batch bt;
    TRY(clcdd_batch_create(s->ctx, 1, T, s->full, &len, 0, &bt));
    clcdd_status st = clcdd_decoder_forward(s->ctx, s->m, &bt, s->soft, &s->A);
    clcdd_batch_destroy(&bt);
    if (st != CLCDD_OK) return st;
    /* logits row r predicts token r + 1: rows T_p + first - 1 .. T_p + n - 2 */
    clcdd_tensor lg = clcdd_act(&s->A, s->A.logits), v;
    int64_t shape[1] = {(int64_t)need};
    TRY(clcdd_tensor_view(&lg, (int64_t)((s->rows + first - 1) * V), 1, shape, &v));
    TRY(clcdd_tensor_download(s->ctx, &v, s->lg));
    double total = 0;
    for (size_t t = first; t < n; t++) {
        const float *row = s->lg + (t - first) * V;
        double mx = row[0];
        for (size_t j = 1; j < V; j++) mx = row[j] > mx ? row[j] : mx;
        double z = 0;
        for (size_t j = 0; j < V; j++) z += exp((double)row[j] - mx);
        total += (double)row[ids[t]] - mx - log(z);
    }
    if (!isfinite(total)) return clcdd_fail(CLCDD_ERR_CHECK_FAILED, "a log-likelihood is not finite (NaN/Inf logits)");
    *sum = total;
    return CLCDD_OK;
}

/* ---- the run ------------------------------------------------------------------------------- */

typedef struct run_ctx {
    clcdd_ctx *ctx;
    const clcdd_eval_options *o;
    clcdd_eval_progress_fn progress;
    void *user;
    const clcdd_tokenizer *tok;
} run_ctx;

static int is_eos(const clcdd_hparams *hp, int32_t id) {
    for (uint32_t i = 0; i < hp->n_eos; i++)
        if (hp->eos_ids[i] == id) return 1;
    return 0;
}

/* Greedy answer of one prompt (ids incl. EOS when it stopped) with a KV cache, as `clcdd generate`
 * decodes: the soft rows and the prompt are prefilled in one forward, then one cached forward per
 * new token; argmax on the host (lowest id on ties). kv and A hold at least T_p + n + max_new
 * positions; seq has room for as many ids, row and cand for V entries. */
static clcdd_status greedy_one(clcdd_ctx *ctx, const clcdd_model *m, const clcdd_tensor *soft,
                               size_t rows, const seq *prompt, size_t max_new, clcdd_kv_cache *kv,
                               clcdd_acts *A, int32_t *seqbuf, float *row, clcdd_sample_cand *cand,
                               int32_t *out, size_t *out_len) {
    size_t V = m->hp.vocab_size, len = rows + prompt->n, start = 0;
    clcdd_sampling g = clcdd_sampling_greedy();
    uint64_t rng = g.seed;
    *out_len = 0;
    kv->len = 0;
    for (size_t k = 0; k < rows; k++) seqbuf[k] = -1 - (int32_t)k;
    memcpy(seqbuf + rows, prompt->ids, prompt->n * sizeof *seqbuf);
    while (*out_len < max_new) {
        size_t step = len - start;
        clcdd_batch bt;
        TRY(clcdd_batch_create_cached(ctx, 1, step, seqbuf + start, start, &bt));
        clcdd_status st = clcdd_decoder_forward_cached(ctx, m, &bt, soft, kv, A);
        clcdd_batch_destroy(&bt);
        if (st != CLCDD_OK) return st;
        clcdd_tensor lg = clcdd_act(A, A->logits), last;
        int64_t shape[1] = {(int64_t)V};
        TRY(clcdd_tensor_view(&lg, (int64_t)((step - 1) * V), 1, shape, &last));
        TRY(clcdd_tensor_download(ctx, &last, row));
        start = len;
        int32_t best = clcdd_sample_token(row, V, seqbuf + rows, len - rows, &g, &rng, cand);
        seqbuf[len++] = best;
        out[(*out_len)++] = best;
        if (is_eos(&m->hp, best)) break;
    }
    return CLCDD_OK;
}

/* Greedy answers for every prompt, soft rows (T_p) prepended. */
static clcdd_status generate_all(run_ctx *r, const clcdd_model *m, const clcdd_tensor *soft,
                                 size_t rows, const seq_list *prompts, size_t max_new,
                                 const char *stage, seq_list *out) {
    size_t n = prompts->n, maxp = 0, V = m->hp.vocab_size;
    for (size_t i = 0; i < n; i++) maxp = prompts->s[i].n > maxp ? prompts->s[i].n : maxp;
    size_t Tmax = rows + maxp + max_new;
    int32_t *seqbuf = malloc((Tmax + 1) * sizeof *seqbuf), *gen = malloc(max_new * sizeof *gen);
    float *row = malloc(V * sizeof *row);
    clcdd_sample_cand *cand = malloc(V * sizeof *cand);
    clcdd_kv_cache kv;
    clcdd_acts A;
    int have_kv = 0, have_a = 0;
    clcdd_status st = CLCDD_OK;
    if (!seqbuf || !gen || !row || !cand) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "generation buffers");
    if (st == CLCDD_OK && (st = clcdd_kv_cache_create(r->ctx, &m->hp, 1, Tmax, &kv)) == CLCDD_OK) have_kv = 1;
    if (st == CLCDD_OK && (st = clcdd_acts_create(r->ctx, &m->hp, 1, Tmax, 0, &A)) == CLCDD_OK) have_a = 1;
    for (size_t i = 0; st == CLCDD_OK && i < n; i++) {
        if (r->progress && (i % 4 == 0)) r->progress(stage, i, n, r->user);
        size_t got = 0;
        st = greedy_one(r->ctx, m, soft, rows, &prompts->s[i], max_new, &kv, &A, seqbuf, row, cand, gen, &got);
        if (st == CLCDD_OK) st = seqs_push(out, gen, got);
    }
    if (st == CLCDD_OK && r->progress) r->progress(stage, n, n, r->user);
    if (have_a) clcdd_acts_destroy(&A);
    if (have_kv) clcdd_kv_cache_destroy(&kv);
    free(seqbuf), free(gen), free(row), free(cand);
    return st;
}

static clcdd_status score_answers(run_ctx *r, const clcdd_hparams *hp, const prompts_in *pin,
                                  seq_list *ans, char **texts, clcdd_eval_metrics *mt) {
    size_t n = ans->n, refs = 0, correct = 0, tokens = 0;
    size_t strict = 0, loose = 0, refusal = 0, archaic = 0, frag = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = ans->s[i].n;
        tokens += len;
        while (len && is_eos(hp, ans->s[i].ids[len - 1])) len--;
        /* ids the tokenizer does not have (rows a model pads its vocabulary with) decode to
         * nothing; filter them in place (the ids are not used again) */
        size_t kept = 0, tv = clcdd_tokenizer_vocab_size(r->tok);
        for (size_t j = 0; j < len; j++)
            if (ans->s[i].ids[j] >= 0 && (size_t)ans->s[i].ids[j] < tv) ans->s[i].ids[kept++] = ans->s[i].ids[j];
        char *text = NULL;
        size_t tl = 0;
        clcdd_status st = kept ? clcdd_tokenizer_decode(r->tok, ans->s[i].ids, kept, CLCDD_DECODE_SKIP_SPECIAL, &text, &tl)
                               : CLCDD_OK;
        if (st != CLCDD_OK) return clcdd_fail_context(st, "decoding answer %zu", i + 1);
        texts[i] = dup_str(text ? text : "");
        if (text) clcdd_tokenizer_free_text(text);
        if (!texts[i]) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "answers");
        clcdd_eval_text_flags f;
        clcdd_eval_score_text(texts[i], pin->reference[i], &f);
        strict += (size_t)f.idk_strict, loose += (size_t)f.idk_loose, refusal += (size_t)f.refusal;
        archaic += (size_t)f.archaic, frag += (size_t)f.fragment;
        if (f.correct >= 0) refs++, correct += (size_t)f.correct;
    }
    double dn = n ? (double)n : 1;
    mt->prompts = n;
    mt->idk_strict = (double)strict / dn, mt->idk_loose = (double)loose / dn;
    mt->refusal = (double)refusal / dn, mt->archaic = (double)archaic / dn;
    mt->fragments = (double)frag / dn, mt->mean_new_tokens = (double)tokens / dn;
    mt->references = refs;
    mt->task_acc = refs ? (double)correct / (double)refs : -1;
    return CLCDD_OK;
}

static clcdd_status perplexity(run_ctx *r, scorer *s, const seq_list *texts, const char *stage,
                               clcdd_eval_metrics *mt) {
    double nll = 0;
    size_t tokens = 0;
    for (size_t i = 0; i < texts->n; i++) {
        if (r->progress && i % 8 == 0) r->progress(stage, i, texts->n, r->user);
        double sum = 0;
        TRY(seq_logprob(s, texts->s[i].ids, texts->s[i].n, 1, &sum));
        nll -= sum;
        tokens += texts->s[i].n - 1;
    }
    mt->ppl_texts = texts->n, mt->ppl_tokens = tokens;
    mt->nll = tokens ? nll / (double)tokens : -1;
    mt->perplexity = tokens ? exp(mt->nll) : -1;
    return CLCDD_OK;
}

static clcdd_status multiple_choice(run_ctx *r, scorer *s, const mc_in *mc, const char *stage,
                                    clcdd_eval_metrics *mt) {
    size_t right = 0, right_norm = 0;
    int32_t *buf = NULL;
    size_t cap = 0;
    clcdd_status st = CLCDD_OK;
    for (size_t i = 0; st == CLCDD_OK && i < mc->n; i++) {
        if (r->progress && i % 8 == 0) r->progress(stage, i, mc->n, r->user);
        const mc_item *it = &mc->items[i];
        double best = -INFINITY, best_norm = -INFINITY;
        size_t arg = 0, arg_norm = 0;
        for (size_t c = 0; st == CLCDD_OK && c < it->choices.n; c++) {
            size_t n = it->prompt.n + it->choices.s[c].n;
            if (n > cap) {
                free(buf);
                buf = malloc(n * sizeof *buf);
                cap = buf ? n : 0;
                if (!buf) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "multiple choice");
            }
            if (st != CLCDD_OK) break;
            memcpy(buf, it->prompt.ids, it->prompt.n * sizeof *buf);
            memcpy(buf + it->prompt.n, it->choices.s[c].ids, it->choices.s[c].n * sizeof *buf);
            double sum = 0;
            st = seq_logprob(s, buf, n, it->prompt.n, &sum);
            double norm = sum / (double)it->choices.s[c].n;
            /* ties go to the first choice */
            if (sum > best) best = sum, arg = c;
            if (norm > best_norm) best_norm = norm, arg_norm = c;
        }
        right += arg == it->answer;
        right_norm += arg_norm == it->answer;
    }
    free(buf);
    mt->mc_items = mc->n;
    mt->mc_acc = mc->n ? (double)right / (double)mc->n : -1;
    mt->mc_acc_norm = mc->n ? (double)right_norm / (double)mc->n : -1;
    return st;
}

static void metrics_unset(clcdd_eval_metrics *m) {
    memset(m, 0, sizeof *m);
    m->idk_strict = m->idk_loose = m->refusal = m->archaic = m->fragments = -1;
    m->mean_new_tokens = m->task_acc = m->nll = m->perplexity = m->mc_acc = m->mc_acc_norm = -1;
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

/* The KL benchmark of ALGORITHMS.md §5 on the data prompts: the SFT model's greedy references. */
static clcdd_status kl_bench(run_ctx *r, clcdd_model *base, const clcdd_model *lcdd,
                             const clcdd_tensor *P, size_t rows, const char *sft_path,
                             const clcdd_plugin_registry *reg, const seq_list *prompts,
                             clcdd_eval_kl *kl) {
    clcdd_model sft;
    clcdd_status st = clcdd_model_load(r->ctx, sft_path, reg, &sft, NULL);
    if (st != CLCDD_OK) return clcdd_fail_context(st, "loading the SFT model %s", sft_path);
    seq_list refs = {0};
    clcdd_prompt_pool pool;
    memset(&pool, 0, sizeof pool);
    if (sft.hp.hidden_size != base->hp.hidden_size || sft.hp.vocab_size != base->hp.vocab_size ||
        sft.hp.n_layers != base->hp.n_layers)
        st = clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s has other dimensions than the base model", sft_path);
    if (st == CLCDD_OK) st = generate_all(r, &sft, NULL, 0, prompts, r->o->kl_max_new, "KL benchmark: SFT references", &refs);
    size_t n = prompts->n;
    pool.n = n;
    pool.prompt = calloc(n, sizeof *pool.prompt);
    pool.prompt_len = calloc(n, sizeof *pool.prompt_len);
    pool.answer = calloc(n, sizeof *pool.answer);
    pool.answer_len = calloc(n, sizeof *pool.answer_len);
    int32_t eos = sft.hp.n_eos ? sft.hp.eos_ids[0] : 0;
    if (st == CLCDD_OK && (!pool.prompt || !pool.prompt_len || !pool.answer || !pool.answer_len))
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "KL benchmark");
    for (size_t i = 0; st == CLCDD_OK && i < n; i++) {
        pool.prompt[i] = prompts->s[i].ids;
        pool.prompt_len[i] = prompts->s[i].n;
        pool.answer[i] = refs.s[i].n ? refs.s[i].ids : &eos;
        pool.answer_len[i] = refs.s[i].n ? refs.s[i].n : 1;
    }
    if (st == CLCDD_OK && r->progress) r->progress("KL benchmark: teacher forcing", 0, 3, r->user);
    if (st == CLCDD_OK) st = clcdd_kl_benchmark(r->ctx, &sft, lcdd, NULL, 0, &pool, &kl->sft_lcdd);
    if (st == CLCDD_OK && r->progress) r->progress("KL benchmark: teacher forcing", 1, 3, r->user);
    if (st == CLCDD_OK) st = clcdd_kl_benchmark(r->ctx, &sft, lcdd, P, rows, &pool, &kl->sft_lcdd_p);
    if (st == CLCDD_OK && r->progress) r->progress("KL benchmark: teacher forcing", 2, 3, r->user);
    if (st == CLCDD_OK) st = clcdd_kl_benchmark(r->ctx, base, lcdd, P, rows, &pool, &kl->base_lcdd_p);
    if (st == CLCDD_OK) {
        if (r->progress) r->progress("KL benchmark: teacher forcing", 3, 3, r->user);
        kl->delta = kl->sft_lcdd_p - kl->sft_lcdd;
        kl->prompts = n;
        kl->computed = 1;
    }
    free(pool.prompt), free(pool.prompt_len), free(pool.answer), free(pool.answer_len);
    seqs_free(&refs);
    clcdd_model_destroy(&sft);
    return st;
}

clcdd_status clcdd_eval_run(clcdd_ctx *ctx, const clcdd_plugin_registry *reg, const char *model,
                            const clcdd_eval_options *o, clcdd_eval_progress_fn progress, void *user,
                            clcdd_eval_result *res) {
    if (!res) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_eval_run: NULL result");
    memset(res, 0, sizeof *res);
    metrics_unset(&res->plain);
    metrics_unset(&res->with_prompt);
    if (!ctx || !reg || !model || !o)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_eval_run: NULL argument");
    if (o->erase && !o->carrier)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "an eraser prompt needs the carrier archive that holds it");
    if (o->sft && (!o->erase || !o->data))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "the KL benchmark needs the carrier, an eraser prompt "
                          "and the prompt data (--carrier, --erase, --data)");
    if (!o->data && !o->mc && !o->text)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "nothing to evaluate: give prompt data, multiple "
                          "choice items or held-out text");
    if (o->max_new == 0 || o->max_new > 100000 || o->max_len < 2 || (o->sft && o->kl_max_new == 0))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "max_new must be 1..100000 and max_len >= 2");
    double t0 = now_s();
    clcdd_carrier *car = NULL;
    clcdd_model b, m;
    clcdd_load_info bi;
    memset(&bi, 0, sizeof bi);
    int have_b = 0, have_m = 0;
    clcdd_tensor P;
    memset(&P, 0, sizeof P);
    size_t rows = 0;
    prompts_in pin;
    memset(&pin, 0, sizeof pin);
    mc_in mc;
    memset(&mc, 0, sizeof mc);
    text_in txt;
    memset(&txt, 0, sizeof txt);
    seq_list ans_plain = {0}, ans_erased = {0};
    scorer sc;
    memset(&sc, 0, sizeof sc);
    clcdd_status st = CLCDD_OK;
    if (o->carrier && (st = clcdd_carrier_read(o->carrier, &car))) goto done;
    long pi = -1;
    if (o->erase && (pi = clcdd_carrier_find_prompt(car, o->erase)) < 0) {
        char names[512] = "";
        size_t k = 0;
        for (uint32_t i = 0; i < car->n_prompts && k + 70 < sizeof names; i++)
            k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", i ? ", " : "", car->prompts[i].name);
        st = clcdd_fail(CLCDD_ERR_NOT_FOUND, "%s has no eraser prompt '%s'; available: %s", o->carrier, o->erase,
                        car->n_prompts ? names : "none (train one with `clcdd erase`)");
        goto done;
    }
    if ((st = clcdd_model_load(ctx, model, reg, &b, &bi))) {
        st = clcdd_fail_context(st, "loading %s", model);
        goto done;
    }
    have_b = 1;
    if (!bi.tokenizer) {
        st = clcdd_fail(CLCDD_ERR_FORMAT, "%s has no tokenizer (%s): put a tokenizer.json in the model "
                        "directory", model, bi.tokenizer_note);
        goto done;
    }
    const clcdd_model *target = &b;
    if (car) {
        if ((st = clcdd_model_create(ctx, &b.hp, &m))) goto done;
        have_m = 1;
        if ((st = clcdd_carrier_apply(ctx, &b, car, &m))) {
            st = clcdd_fail_context(st, "applying %s to %s", o->carrier, model);
            goto done;
        }
        target = &m;
    }
    if (pi >= 0) {
        const clcdd_carrier_prompt *p = &car->prompts[pi];
        if (p->dim != b.hp.hidden_size) {
            st = clcdd_fail(CLCDD_ERR_FORMAT, "eraser prompt '%s' has %u columns, the model's hidden size "
                            "is %u", p->name, p->dim, b.hp.hidden_size);
            goto done;
        }
        int64_t shape[1] = {(int64_t)p->rows * p->dim};
        if ((st = clcdd_tensor_create(ctx, CLCDD_F32, 1, shape, "eraser prompt", &P)) ||
            (st = clcdd_tensor_upload(ctx, &P, p->data)))
            goto done;
        rows = p->rows;
        res->erased = 1;
    }
    tok_ctx tc = {bi.tokenizer, {bi.plugin, &b.hp}, b.hp.vocab_size};
    size_t taken = 0;
    pin.t = &tc, mc.t = &tc, txt.t = &tc, txt.max_len = o->max_len;
    if (o->data && (st = for_lines(o->data, o->limit, prompt_line, &pin, &taken))) goto done;
    if (o->data && pin.n == 0) {
        st = clcdd_fail(CLCDD_ERR_FORMAT, "%s: no prompts", o->data);
        goto done;
    }
    if (o->mc && (st = for_lines(o->mc, o->limit, mc_line, &mc, &taken))) goto done;
    if (o->text) {
        txt.jsonl = ends_with(o->text, ".jsonl");
        if ((st = for_lines(o->text, o->limit, text_line, &txt, &taken))) goto done;
        if (txt.ids.n == 0) {
            st = clcdd_fail(CLCDD_ERR_FORMAT, "%s: no text of at least 2 tokens", o->text);
            goto done;
        }
    }
    run_ctx rc = {ctx, o, progress, user, bi.tokenizer};
    if (o->data) {
        res->n_answers = pin.n;
        res->answers_plain = calloc(pin.n, sizeof *res->answers_plain);
        res->prompts = calloc(pin.n, sizeof *res->prompts);
        if (rows) res->answers_erased = calloc(pin.n, sizeof *res->answers_erased);
        if (!res->answers_plain || !res->prompts || (rows && !res->answers_erased)) {
            st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "answers");
            goto done;
        }
        for (size_t i = 0; i < pin.n; i++)
            if (!(res->prompts[i] = dup_str(pin.user[i]))) {
                st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "answers");
                goto done;
            }
        if ((st = generate_all(&rc, target, NULL, 0, &pin.ids, o->max_new, "answers", &ans_plain)) ||
            (st = score_answers(&rc, &b.hp, &pin, &ans_plain, res->answers_plain, &res->plain)))
            goto done;
        if (rows && ((st = generate_all(&rc, target, &P, rows, &pin.ids, o->max_new, "answers (erased)", &ans_erased)) ||
                     (st = score_answers(&rc, &b.hp, &pin, &ans_erased, res->answers_erased, &res->with_prompt))))
            goto done;
    }
    for (int pass = 0; pass < (rows ? 2 : 1); pass++) {
        clcdd_eval_metrics *mt = pass ? &res->with_prompt : &res->plain;
        scorer_free(&sc);
        sc.ctx = ctx, sc.m = target, sc.soft = pass ? &P : NULL, sc.rows = pass ? rows : 0;
        if (o->text && (st = perplexity(&rc, &sc, &txt.ids, pass ? "perplexity (erased)" : "perplexity", mt))) goto done;
        if (o->mc && (st = multiple_choice(&rc, &sc, &mc, pass ? "multiple choice (erased)" : "multiple choice", mt)))
            goto done;
    }
    scorer_free(&sc);
    if (o->sft && (st = kl_bench(&rc, &b, target, &P, rows, o->sft, reg, &pin.ids, &res->kl))) goto done;
done:
    res->seconds = now_s() - t0;
    if (st != CLCDD_OK) clcdd_eval_result_free(res);
    scorer_free(&sc);
    seqs_free(&ans_plain);
    seqs_free(&ans_erased);
    prompts_free(&pin);
    mc_free(&mc);
    seqs_free(&txt.ids);
    clcdd_tensor_destroy(&P);
    if (have_m) clcdd_model_destroy(&m);
    if (have_b) clcdd_model_destroy(&b);
    clcdd_load_info_free(&bi);
    clcdd_carrier_free(car);
    return st;
}
