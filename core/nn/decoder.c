/* Generic decoder forward (see decoder.h and FORMATS.md §2.3 for the math). */
#include "nn/decoder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd/gemm.h"
#include "nn/ops.h"
#include "runtime/ctx_internal.h"
#include "runtime/gemm_packed.h"

clcdd_status clcdd_batch_create(clcdd_ctx *ctx, size_t B, size_t T, const int32_t *ids_host,
                                const int32_t *lens, int32_t pos0, clcdd_batch *out) {
    memset(out, 0, sizeof *out);
    if (B == 0 || T == 0) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "empty batch");
    int32_t *pos = malloc(B * T * sizeof *pos);
    if (!pos) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "batch positions");
    for (size_t b = 0; b < B; b++) {
        if (lens[b] < 1 || (size_t)lens[b] > T) {
            free(pos);
            return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "sequence %zu has length %d (1..%zu)", b,
                              lens[b], T);
        }
        for (size_t t = 0; t < T; t++) pos[b * T + t] = pos0 + (int32_t)t;
    }
    int64_t n[1] = {(int64_t)(B * T)}, nb[1] = {(int64_t)B};
    clcdd_status st;
    if ((st = clcdd_tensor_create(ctx, CLCDD_I32, 1, n, "token ids", &out->ids)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_I32, 1, n, "positions", &out->pos)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_I32, 1, nb, "sequence lengths", &out->key_len)) ||
        (st = clcdd_tensor_upload(ctx, &out->ids, ids_host)) ||
        (st = clcdd_tensor_upload(ctx, &out->pos, pos)) ||
        (st = clcdd_tensor_upload(ctx, &out->key_len, lens))) {
        clcdd_batch_destroy(out);
    }
    out->B = B;
    out->T = T;
    free(pos);
    return st;
}

clcdd_status clcdd_batch_create_cached(clcdd_ctx *ctx, size_t B, size_t T, const int32_t *ids_host,
                                       size_t past, clcdd_batch *out) {
    int32_t *lens = calloc(B ? B : 1, sizeof *lens); /* calloc: keeps gcc's -Wmaybe-uninitialized quiet */
    if (!lens) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "batch");
    for (size_t b = 0; b < B; b++) lens[b] = (int32_t)T;
    clcdd_status st = clcdd_batch_create(ctx, B, T, ids_host, lens, (int32_t)past, out);
    for (size_t b = 0; b < B; b++) lens[b] = (int32_t)(past + T);
    if (st == CLCDD_OK) st = clcdd_tensor_upload(ctx, &out->key_len, lens);
    if (st != CLCDD_OK) clcdd_batch_destroy(out);
    free(lens);
    return st;
}

clcdd_status clcdd_batch_add_csr(clcdd_ctx *ctx, clcdd_batch *b, const int32_t *ids_host) {
    size_t n = b->B * b->T;
    int32_t *u = malloc(n * sizeof *u), *s = malloc((n + 1) * sizeof *s), *r = malloc(n * sizeof *r);
    clcdd_status st = CLCDD_OK;
    if (!u || !s || !r) {
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "embedding gradient index");
        goto done;
    }
    b->n_unique = clcdd_embed_csr(ids_host, n, u, s, r);
    int64_t sn[1] = {(int64_t)n}, sn1[1] = {(int64_t)n + 1};
    if ((st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sn, "token groups", &b->csr_ids)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sn1, "token group starts", &b->csr_starts)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sn, "token group rows", &b->csr_rows)) ||
        (st = clcdd_tensor_upload(ctx, &b->csr_ids, u)) ||
        (st = clcdd_tensor_upload(ctx, &b->csr_starts, s)) ||
        (st = clcdd_tensor_upload(ctx, &b->csr_rows, r)))
        goto done;
done:
    free(u), free(s), free(r);
    return st;
}

void clcdd_batch_destroy(clcdd_batch *b) {
    clcdd_tensor_destroy(&b->csr_ids);
    clcdd_tensor_destroy(&b->csr_starts);
    clcdd_tensor_destroy(&b->csr_rows);
    clcdd_tensor_destroy(&b->ids);
    clcdd_tensor_destroy(&b->pos);
    clcdd_tensor_destroy(&b->key_len);
}

#define ADD1(name, slot, n0)                                                                   \
    do {                                                                                        \
        int64_t s_[1] = {(int64_t)(n0)};                                                        \
        TRY(clcdd_arena_add(&a->arena, name, CLCDD_F32, 1, s_, &(slot)));                       \
    } while (0)

static clcdd_status plan(clcdd_acts *a, const clcdd_hparams *hp) {
    size_t N = a->B * a->T, d = hp->hidden_size, f = hp->intermediate_size, hd = hp->head_dim;
    size_t H = hp->n_heads, Hkv = hp->n_kv_heads, dq = H * hd, dkv = Hkv * hd;
    char name[96];
    for (uint32_t l = 0; l <= hp->n_layers; l++) {
        snprintf(name, sizeof name, "residual %u", l);
        ADD1(name, a->x[l], N * d);
    }
    uint32_t distinct = a->training ? hp->n_layers : 1;
    for (uint32_t l = 0; l < distinct; l++) {
        clcdd_layer_acts *la = &a->layer[l];
        memset(la, 0xff, sizeof *la); /* CLCDD_NO_SLOT everywhere */
        ADD1("attn norm", la->a, N * d);
        ADD1("attn rstd", la->rstd1, N);
        ADD1("q", la->q, N * dq);
        ADD1("k", la->k, N * dkv);
        ADD1("v", la->v, N * dkv);
        if (hp->qk_norm) {
            ADD1("q norm", la->qn, N * dq);
            ADD1("k norm", la->kn, N * dkv);
            ADD1("q rstd", la->rstdq, N * H);
            ADD1("k rstd", la->rstdk, N * Hkv);
        }
        ADD1("q heads", la->qh, N * dq);
        ADD1("k heads", la->kh, N * dkv);
        ADD1("v heads", la->vh, N * dkv);
        ADD1("attention probabilities", la->P, a->B * H * a->T * a->T);
        ADD1("attention out heads", la->oh, N * dq);
        ADD1("attention out", la->o, N * dq);
        ADD1("residual mid", la->xmid, N * d);
        ADD1("ffn norm", la->m, N * d);
        ADD1("ffn rstd", la->rstd2, N);
        ADD1("gate", la->g, N * f);
        ADD1("up", la->u, N * f);
        ADD1("swiglu", la->h, N * f);
    }
    for (uint32_t l = distinct; l < hp->n_layers; l++) a->layer[l] = a->layer[0];
    ADD1("final norm", a->xf, N * d);
    ADD1("final rstd", a->rstdf, N);
    ADD1("logits", a->logits, N * hp->vocab_size);
    return CLCDD_OK;
}

clcdd_status clcdd_acts_create(clcdd_ctx *ctx, const clcdd_hparams *hp, size_t B, size_t T,
                               int training, clcdd_acts *a) {
    memset(a, 0, sizeof *a);
    a->B = B;
    a->T = T;
    a->training = training;
    clcdd_arena_init(&a->arena, "activations");
    a->x = calloc(hp->n_layers + 1, sizeof *a->x);
    a->layer = calloc(hp->n_layers, sizeof *a->layer);
    if (!a->x || !a->layer) {
        clcdd_acts_destroy(a);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "activation table");
    }
    clcdd_status st = plan(a, hp);
    if (st == CLCDD_OK) st = clcdd_arena_alloc(ctx, &a->arena, 0);
    if (st != CLCDD_OK) {
        clcdd_acts_destroy(a);
        return clcdd_fail_context(st, "activations for batch %zu x %zu", B, T);
    }
    return CLCDD_OK;
}

void clcdd_acts_destroy(clcdd_acts *a) {
    clcdd_arena_free(&a->arena);
    free(a->x);
    free(a->layer);
    memset(a, 0, sizeof *a);
}

static clcdd_matrix mat(const clcdd_tensor *t, size_t ld) {
    clcdd_matrix m = {t->buf, t->offset / 4, ld};
    return m;
}

/* Rows from which a packed weight serves the product; fewer rows (decoding) go to clcdd_gemm,
 * which uses the matrix-vector kernel there. */
#define PACKED_MIN_ROWS 5

/* y (N, out) = x (N, in) W^T + beta * y, W (out, in) = (role, layer) of m: its packed copy when the
 * model has one (clcdd_model_pack). */
static clcdd_status linear(clcdd_ctx *ctx, const clcdd_model *m, clcdd_tensor_role role,
                           uint32_t layer, clcdd_tensor *y, const clcdd_tensor *x,
                           const clcdd_tensor *W, size_t N, size_t out, size_t in, float beta) {
    const clcdd_packed_weight *pw = N >= PACKED_MIN_ROWS ? clcdd_model_packed(m, role, layer) : NULL;
    if (pw) return clcdd_gemm_packed(ctx, N, 1.0f, mat(x, in), pw, beta, mat(y, out));
    return clcdd_gemm(ctx, CLCDD_NO_TRANS, CLCDD_TRANS, N, out, in, 1.0f, mat(x, in), mat(W, in),
                      beta, mat(y, out));
}

static clcdd_status maybe_bias(clcdd_ctx *ctx, const clcdd_model *m, clcdd_tensor_role role,
                               uint32_t l, clcdd_tensor *y, size_t N, size_t cols) {
    if (!clcdd_model_has(m, role, l)) return CLCDD_OK;
    clcdd_tensor b;
    TRY(clcdd_model_tensor(m, role, l, &b));
    return clcdd_add_bias_rows(ctx, y, &b, N, cols);
}

static clcdd_status layer_forward(clcdd_ctx *ctx, const clcdd_model *m, const clcdd_batch *bt,
                                  clcdd_acts *A, uint32_t l, const clcdd_kv_cache *cache) {
    const clcdd_hparams *hp = &m->hp;
    size_t B = bt->B, T = bt->T, N = B * T, d = hp->hidden_size, f = hp->intermediate_size;
    /* With a cache, the T new rows of each sequence sit at positions past .. past + T - 1 and
     * attend to Tk = past + T cached keys; without, Tk = T. */
    size_t past = cache ? cache->len : 0, Tk = past + T, Tc = cache ? cache->Tmax : T;
    size_t H = hp->n_heads, Hkv = hp->n_kv_heads, hd = hp->head_dim, G = H / Hkv;
    size_t dq = H * hd, dkv = Hkv * hd;
    const clcdd_layer_acts *la = &A->layer[l];
    clcdd_tensor x = clcdd_act(A, A->x[l]), xn = clcdd_act(A, A->x[l + 1]);
    clcdd_tensor a = clcdd_act(A, la->a), r1 = clcdd_act(A, la->rstd1);
    clcdd_tensor q = clcdd_act(A, la->q), k = clcdd_act(A, la->k), v = clcdd_act(A, la->v);
    clcdd_tensor qh = clcdd_act(A, la->qh), kh = clcdd_act(A, la->kh), vh = clcdd_act(A, la->vh);
    clcdd_tensor P = clcdd_act(A, la->P), oh = clcdd_act(A, la->oh), o = clcdd_act(A, la->o);
    clcdd_tensor xm = clcdd_act(A, la->xmid), mm = clcdd_act(A, la->m), r2 = clcdd_act(A, la->rstd2);
    clcdd_tensor g = clcdd_act(A, la->g), u = clcdd_act(A, la->u), h = clcdd_act(A, la->h);
    clcdd_tensor w_an, w_q, w_k, w_v, w_o, w_fn, w_g, w_u, w_d;
    TRY(clcdd_model_tensor(m, CLCDD_ROLE_ATTN_NORM, l, &w_an));
    TRY(clcdd_model_tensor(m, CLCDD_ROLE_Q, l, &w_q));
    TRY(clcdd_model_tensor(m, CLCDD_ROLE_K, l, &w_k));
    TRY(clcdd_model_tensor(m, CLCDD_ROLE_V, l, &w_v));
    TRY(clcdd_model_tensor(m, CLCDD_ROLE_O, l, &w_o));
    TRY(clcdd_model_tensor(m, CLCDD_ROLE_FFN_NORM, l, &w_fn));
    TRY(clcdd_model_tensor(m, CLCDD_ROLE_GATE, l, &w_g));
    TRY(clcdd_model_tensor(m, CLCDD_ROLE_UP, l, &w_u));
    TRY(clcdd_model_tensor(m, CLCDD_ROLE_DOWN, l, &w_d));

    /* attention */
    TRY(clcdd_rmsnorm_forward(ctx, &a, &r1, &x, &w_an, N, d, hp->rms_eps));
    TRY(linear(ctx, m, CLCDD_ROLE_Q, l, &q, &a, &w_q, N, dq, d, 0.0f));
    TRY(linear(ctx, m, CLCDD_ROLE_K, l, &k, &a, &w_k, N, dkv, d, 0.0f));
    TRY(linear(ctx, m, CLCDD_ROLE_V, l, &v, &a, &w_v, N, dkv, d, 0.0f));
    TRY(maybe_bias(ctx, m, CLCDD_ROLE_Q_BIAS, l, &q, N, dq));
    TRY(maybe_bias(ctx, m, CLCDD_ROLE_K_BIAS, l, &k, N, dkv));
    TRY(maybe_bias(ctx, m, CLCDD_ROLE_V_BIAS, l, &v, N, dkv));
    clcdd_tensor qsrc = q, ksrc = k;
    if (hp->qk_norm) {
        clcdd_tensor qn = clcdd_act(A, la->qn), kn = clcdd_act(A, la->kn);
        clcdd_tensor rq = clcdd_act(A, la->rstdq), rk = clcdd_act(A, la->rstdk), wqn, wkn;
        TRY(clcdd_model_tensor(m, CLCDD_ROLE_Q_NORM, l, &wqn));
        TRY(clcdd_model_tensor(m, CLCDD_ROLE_K_NORM, l, &wkn));
        TRY(clcdd_rmsnorm_forward(ctx, &qn, &rq, &q, &wqn, N * H, hd, hp->rms_eps));
        TRY(clcdd_rmsnorm_forward(ctx, &kn, &rk, &k, &wkn, N * Hkv, hd, hp->rms_eps));
        qsrc = qn;
        ksrc = kn;
    }
    TRY(clcdd_split_heads_rope(ctx, &qh, &qsrc, &bt->pos, &m->inv_freq, &m->rope_cs, B, T, H, hd, CLCDD_ROPE_HALF));
    if (cache) {
        kh = clcdd_arena_view(&cache->arena, cache->k[l]);
        vh = clcdd_arena_view(&cache->arena, cache->v[l]);
    }
    TRY(clcdd_split_heads_rope_into(ctx, &kh, &ksrc, &bt->pos, &m->inv_freq, &m->rope_cs, B, T, Hkv, hd,
                                    CLCDD_ROPE_HALF, Tc, past));
    TRY(clcdd_split_heads_rope_into(ctx, &vh, &v, &bt->pos, &m->inv_freq, &m->rope_cs, B, T, Hkv, hd,
                                    CLCDD_ROPE_NONE, Tc, past));
    /* Scores per (sequence, kv head): the G query heads of a kv head are consecutive rows. */
    TRY(clcdd_gemm_strided_batched(ctx, CLCDD_NO_TRANS, CLCDD_TRANS, G * T, Tk, hd, 1.0f,
                                   mat(&qh, hd), G * T * hd, mat(&kh, hd), Tc * hd, 0.0f,
                                   mat(&P, Tk), G * T * Tk, B * Hkv));
    size_t window = (hp->sliding_window && l >= hp->sliding_window_from_layer) ? hp->sliding_window : 0;
    TRY(clcdd_softmax_forward(ctx, &P, B, H, T, Tk, past, window, &bt->key_len,
                              1.0f / sqrtf((float)hd)));
    TRY(clcdd_gemm_strided_batched(ctx, CLCDD_NO_TRANS, CLCDD_NO_TRANS, G * T, hd, Tk, 1.0f,
                                   mat(&P, Tk), G * T * Tk, mat(&vh, hd), Tc * hd, 0.0f,
                                   mat(&oh, hd), G * T * hd, B * Hkv));
    TRY(clcdd_merge_heads_rope(ctx, &o, &oh, &bt->pos, &m->inv_freq, &m->rope_cs, B, T, H, hd, CLCDD_ROPE_NONE, 1.0f));
    TRY(clcdd_tensor_copy(ctx, &xm, &x));
    TRY(linear(ctx, m, CLCDD_ROLE_O, l, &xm, &o, &w_o, N, d, dq, 1.0f));
    TRY(maybe_bias(ctx, m, CLCDD_ROLE_O_BIAS, l, &xm, N, d));

    /* MLP */
    TRY(clcdd_rmsnorm_forward(ctx, &mm, &r2, &xm, &w_fn, N, d, hp->rms_eps));
    TRY(linear(ctx, m, CLCDD_ROLE_GATE, l, &g, &mm, &w_g, N, f, d, 0.0f));
    TRY(linear(ctx, m, CLCDD_ROLE_UP, l, &u, &mm, &w_u, N, f, d, 0.0f));
    TRY(maybe_bias(ctx, m, CLCDD_ROLE_GATE_BIAS, l, &g, N, f));
    TRY(maybe_bias(ctx, m, CLCDD_ROLE_UP_BIAS, l, &u, N, f));
    TRY(clcdd_swiglu_forward(ctx, &h, &g, &u, N * f));
    TRY(clcdd_tensor_copy(ctx, &xn, &xm));
    TRY(linear(ctx, m, CLCDD_ROLE_DOWN, l, &xn, &h, &w_d, N, d, f, 1.0f));
    TRY(maybe_bias(ctx, m, CLCDD_ROLE_DOWN_BIAS, l, &xn, N, d));
    return CLCDD_OK;
}

static clcdd_status forward(clcdd_ctx *ctx, const clcdd_model *m, const clcdd_batch *bt,
                             const clcdd_tensor *prompt, clcdd_acts *A, clcdd_kv_cache *cache) {
    const clcdd_hparams *hp = &m->hp;
    if (bt->B > A->B || bt->T > A->T)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "batch %zux%zu does not fit activations %zux%zu",
                          bt->B, bt->T, A->B, A->T);
    if (cache && (bt->B != cache->B || cache->len + bt->T > cache->Tmax || cache->Tmax > A->T))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "%zu new positions after %zu do not fit the KV cache of %zu (batch %zu vs %zu; "
                          "activations for %zu positions)", bt->T, cache->len, cache->Tmax, bt->B,
                          cache->B, A->T);
    size_t N = bt->B * bt->T, d = hp->hidden_size;
    clcdd_tensor emb, x0 = clcdd_act(A, A->x[0]);
    TRY(clcdd_model_tensor(m, CLCDD_ROLE_EMBED, 0, &emb));
    TRY(clcdd_embed_gather(ctx, &x0, &emb, prompt, &bt->ids, N, d));
    for (uint32_t l = 0; l < hp->n_layers; l++) TRY(layer_forward(ctx, m, bt, A, l, cache));
    clcdd_tensor xL = clcdd_act(A, A->x[hp->n_layers]), xf = clcdd_act(A, A->xf);
    clcdd_tensor rf = clcdd_act(A, A->rstdf), logits = clcdd_act(A, A->logits), wn, head;
    TRY(clcdd_model_tensor(m, CLCDD_ROLE_FINAL_NORM, 0, &wn));
    TRY(clcdd_model_tensor(m, CLCDD_ROLE_LM_HEAD, 0, &head));
    TRY(clcdd_rmsnorm_forward(ctx, &xf, &rf, &xL, &wn, N, d, hp->rms_eps));
    TRY(linear(ctx, m, CLCDD_ROLE_LM_HEAD, 0, &logits, &xf, &head, N, hp->vocab_size, d, 0.0f));
    if (cache) cache->len += bt->T;
    return CLCDD_OK;
}

clcdd_status clcdd_decoder_forward(clcdd_ctx *ctx, const clcdd_model *m, const clcdd_batch *bt,
                                   const clcdd_tensor *prompt, clcdd_acts *A) {
    return forward(ctx, m, bt, prompt, A, NULL);
}

clcdd_status clcdd_decoder_forward_cached(clcdd_ctx *ctx, const clcdd_model *m,
                                          const clcdd_batch *bt, const clcdd_tensor *prompt,
                                          clcdd_kv_cache *cache, clcdd_acts *A) {
    return forward(ctx, m, bt, prompt, A, cache);
}

clcdd_status clcdd_kv_cache_create(clcdd_ctx *ctx, const clcdd_hparams *hp, size_t B, size_t Tmax,
                                   clcdd_kv_cache *c) {
    memset(c, 0, sizeof *c);
    c->B = B;
    c->Tmax = Tmax;
    clcdd_arena_init(&c->arena, "KV cache");
    c->k = calloc(hp->n_layers, sizeof *c->k);
    c->v = calloc(hp->n_layers, sizeof *c->v);
    if (!c->k || !c->v) {
        clcdd_kv_cache_destroy(c);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "KV cache");
    }
    int64_t n[1] = {(int64_t)(B * hp->n_kv_heads * Tmax * hp->head_dim)};
    clcdd_status st = CLCDD_OK;
    for (uint32_t l = 0; l < hp->n_layers && st == CLCDD_OK; l++) {
        st = clcdd_arena_add(&c->arena, "keys", CLCDD_F32, 1, n, &c->k[l]);
        if (st == CLCDD_OK) st = clcdd_arena_add(&c->arena, "values", CLCDD_F32, 1, n, &c->v[l]);
    }
    if (st == CLCDD_OK) st = clcdd_arena_alloc(ctx, &c->arena, 1);
    if (st != CLCDD_OK) clcdd_kv_cache_destroy(c);
    return st;
}

void clcdd_kv_cache_destroy(clcdd_kv_cache *c) {
    clcdd_arena_free(&c->arena);
    free(c->k);
    free(c->v);
    memset(c, 0, sizeof *c);
}
