/* The public clcdd_llm handle over the model loader and the decoder (clcdd/llm.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd/llm.h"
#include "algo/carrier.h"
#include "clcdd_internal.h"
#include "nn/decoder.h"
#include "nn/sample.h"
#include "nn/load.h"

struct clcdd_llm {
    clcdd_ctx *ctx;
    clcdd_model model;
    clcdd_load_info info;
    clcdd_tensor soft;      /* soft-prompt rows (soft_rows x d) when soft_rows > 0 */
    size_t soft_rows;
};

clcdd_status clcdd_llm_load(clcdd_ctx *ctx, const char *path, const clcdd_plugin_registry *reg,
                            clcdd_llm **out) {
    if (!out) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_llm_load: NULL out");
    *out = NULL;
    clcdd_llm *m = calloc(1, sizeof *m);
    if (!m) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "clcdd_llm_load");
    m->ctx = ctx;
    clcdd_status st = clcdd_model_load(ctx, path, reg, &m->model, &m->info);
    if (st != CLCDD_OK) {
        free(m);
        return st;
    }
    *out = m;
    return CLCDD_OK;
}

void clcdd_llm_free(clcdd_llm *m) {
    if (!m) return;
    if (m->soft_rows) clcdd_tensor_destroy(&m->soft);
    clcdd_load_info_free(&m->info);
    clcdd_model_destroy(&m->model);
    free(m);
}

const clcdd_hparams *clcdd_llm_hparams(const clcdd_llm *m) { return m ? &m->model.hp : NULL; }
const clcdd_plugin *clcdd_llm_plugin(const clcdd_llm *m) { return m ? m->info.plugin : NULL; }
const clcdd_tokenizer *clcdd_llm_tokenizer(const clcdd_llm *m) {
    return m ? m->info.tokenizer : NULL;
}

void clcdd_llm_get_summary(const clcdd_llm *m, clcdd_llm_summary *out) {
    memset(out, 0, sizeof *out);
    if (!m) return;
    out->plugin = m->info.plugin;
    out->format = m->info.format;
    out->n_params = m->info.n_params;
    out->weight_dtype = m->info.weight_dtype;
    out->tokenizer_source = m->info.tokenizer_note;
    out->rope_freqs = m->info.rope_freqs;
}

/* The first `soft` ids are soft-prompt rows (-1 - k). */
static clcdd_status check_ids(const clcdd_llm *m, const int32_t *ids, size_t n, size_t soft) {
    if (!m || !ids || !n) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "no token ids");
    if (n > 0x7fffffff) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%zu ids: too many", n);
    for (size_t i = soft; i < n; i++)
        if (ids[i] < 0 || (uint32_t)ids[i] >= m->model.hp.vocab_size)
            return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "token id %d at position %zu is outside "
                              "the vocabulary (0..%u)", ids[i], i, m->model.hp.vocab_size - 1);
    return CLCDD_OK;
}

/* Forward of one sequence; acts stay alive for the caller (destroy them). */
static clcdd_status run(clcdd_llm *m, const int32_t *ids, size_t n, size_t soft, clcdd_batch *bt,
                        clcdd_acts *A) {
    clcdd_status st = check_ids(m, ids, n, soft);
    if (st != CLCDD_OK) return st;
    int32_t len = (int32_t)n;
    st = clcdd_batch_create(m->ctx, 1, n, ids, &len, 0, bt);
    if (st != CLCDD_OK) return st;
    st = clcdd_acts_create(m->ctx, &m->model.hp, 1, n, 0, A);
    if (st != CLCDD_OK) {
        clcdd_batch_destroy(bt);
        return st;
    }
    st = clcdd_decoder_forward(m->ctx, &m->model, bt, soft ? &m->soft : NULL, A);
    if (st != CLCDD_OK) {
        clcdd_acts_destroy(A);
        clcdd_batch_destroy(bt);
    }
    return st;
}

clcdd_status clcdd_llm_forward(clcdd_llm *m, const int32_t *ids, size_t n, float *logits,
                               float *hidden) {
    clcdd_batch bt;
    clcdd_acts A;
    clcdd_status st = run(m, ids, n, 0, &bt, &A);
    if (st != CLCDD_OK) return st;
    clcdd_tensor t = clcdd_act(&A, A.logits);
    if (logits) st = clcdd_tensor_download(m->ctx, &t, logits);
    size_t stride = n * m->model.hp.hidden_size;
    for (uint32_t l = 0; hidden && st == CLCDD_OK && l <= m->model.hp.n_layers; l++) {
        t = clcdd_act(&A, A.x[l]);
        st = clcdd_tensor_download(m->ctx, &t, hidden + l * stride);
    }
    clcdd_acts_destroy(&A);
    clcdd_batch_destroy(&bt);
    return st;
}

static int is_eos(const clcdd_hparams *hp, int32_t id) {
    for (uint32_t i = 0; i < hp->n_eos; i++)
        if (hp->eos_ids[i] == id) return 1;
    return 0;
}

/* The prompt (after any soft-prompt rows) is prefilled into a KV cache in one forward; then each
 * new token is one cached forward of a single position. Only the last row of logits comes back. */
clcdd_sampling clcdd_sampling_greedy(void) {
    clcdd_sampling s = {0.0f, 0, 1.0f, 1.0f, 42};
    return s;
}

clcdd_status clcdd_llm_generate(clcdd_llm *m, const int32_t *prompt, size_t n, size_t max_new,
                                clcdd_llm_token_fn fn, void *user, size_t *n_out) {
    clcdd_sampling g = clcdd_sampling_greedy();
    return clcdd_llm_generate_sampled(m, prompt, n, max_new, &g, fn, user, n_out);
}

clcdd_status clcdd_llm_generate_sampled(clcdd_llm *m, const int32_t *prompt, size_t n,
                                        size_t max_new, const clcdd_sampling *smp,
                                        clcdd_llm_token_fn fn, void *user, size_t *n_out) {
    if (n_out) *n_out = 0;
    if (!smp || smp->temperature < 0 || !(smp->top_p > 0 && smp->top_p <= 1) ||
        !(smp->repetition_penalty > 0))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "sampling: temperature >= 0, 0 < top_p <= 1 and repetition penalty > 0");
    uint64_t rng = smp->seed;
    clcdd_status st = check_ids(m, prompt, n, 0);
    if (st != CLCDD_OK) return st;
    size_t V = m->model.hp.vocab_size, T = m->soft_rows, Tmax = T + n + max_new;
    int32_t *seq = malloc((Tmax + 1) * sizeof *seq);
    float *row = malloc(V * sizeof *row);
    clcdd_sample_cand *buf = malloc(V * sizeof *buf);
    if (!seq || !row || !buf) {
        free(seq);
        free(row);
        free(buf);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "generation buffers");
    }
    for (size_t k = 0; k < T; k++) seq[k] = -1 - (int32_t)k;
    memcpy(seq + T, prompt, n * sizeof *seq);
    clcdd_kv_cache kv;
    clcdd_acts A;
    memset(&A, 0, sizeof A);
    st = clcdd_kv_cache_create(m->ctx, &m->model.hp, 1, Tmax, &kv);
    if (st == CLCDD_OK) st = clcdd_acts_create(m->ctx, &m->model.hp, 1, Tmax, 0, &A);
    size_t len = T + n, made = 0, start = 0;
    const clcdd_tensor *soft = m->soft_rows ? &m->soft : NULL;
    while (st == CLCDD_OK && made < max_new) {
        size_t step = len - start;
        clcdd_batch bt;
        st = clcdd_batch_create_cached(m->ctx, 1, step, seq + start, start, &bt);
        if (st != CLCDD_OK) break;
        st = clcdd_decoder_forward_cached(m->ctx, &m->model, &bt, soft, &kv, &A);
        clcdd_batch_destroy(&bt);
        if (st != CLCDD_OK) break;
        clcdd_tensor lg = clcdd_act(&A, A.logits), last;
        int64_t shape[1] = {(int64_t)V};
        st = clcdd_tensor_view(&lg, (int64_t)((step - 1) * V), 1, shape, &last);
        if (st == CLCDD_OK) st = clcdd_tensor_download(m->ctx, &last, row);
        if (st != CLCDD_OK) break;
        start = len;
        int32_t best = clcdd_sample_token(row, V, seq + T, len - T, smp, &rng, buf);
        seq[len++] = best;
        made++;
        int stop = fn ? fn((int32_t)best, user) : 0;
        if (stop || is_eos(&m->model.hp, (int32_t)best)) break;
    }
    clcdd_acts_destroy(&A);
    clcdd_kv_cache_destroy(&kv);
    if (n_out) *n_out = made;
    free(seq);
    free(row);
    free(buf);
    return st;
}

clcdd_status clcdd_llm_apply_carrier(clcdd_llm *m, const clcdd_carrier *c) {
    if (!m || !c) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_llm_apply_carrier: NULL argument");
    clcdd_model out;
    clcdd_status st = clcdd_model_create(m->ctx, &m->model.hp, &out);
    if (st != CLCDD_OK) return st;
    st = clcdd_carrier_apply(m->ctx, &m->model, c, &out);
    if (st != CLCDD_OK) {
        clcdd_model_destroy(&out);
        return st;
    }
    clcdd_model_destroy(&m->model);
    m->model = out;
    return CLCDD_OK;
}

clcdd_status clcdd_llm_set_soft_prompt(clcdd_llm *m, const float *rows, size_t n_rows) {
    if (!m) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_llm_set_soft_prompt: NULL model");
    if (m->soft_rows) clcdd_tensor_destroy(&m->soft);
    m->soft_rows = 0;
    if (!rows || !n_rows) return CLCDD_OK;
    if (n_rows > 4096) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%zu soft-prompt rows: too many", n_rows);
    int64_t shape[1] = {(int64_t)(n_rows * m->model.hp.hidden_size)};
    clcdd_status st = clcdd_tensor_create(m->ctx, CLCDD_F32, 1, shape, "soft prompt", &m->soft);
    if (st != CLCDD_OK) return st;
    st = clcdd_tensor_upload(m->ctx, &m->soft, rows);
    if (st != CLCDD_OK) {
        clcdd_tensor_destroy(&m->soft);
        return st;
    }
    m->soft_rows = n_rows;
    return CLCDD_OK;
}
