/* Decoder backward (the reverse of decoder.c's forward, op by op). */
#include "nn/backward.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd/gemm.h"
#include "nn/ops.h"
#include "runtime/ctx_internal.h"
#include "runtime/gemm_packed.h"

void clcdd_trainable_default(int t[CLCDD_ROLE_COUNT]) {
    for (int r = 0; r < CLCDD_ROLE_COUNT; r++) t[r] = 1;
    t[CLCDD_ROLE_EMBED] = 0;
    t[CLCDD_ROLE_LM_HEAD] = 0;
}

clcdd_status clcdd_grads_create(clcdd_ctx *ctx, const clcdd_model *m,
                                const int trainable[CLCDD_ROLE_COUNT], clcdd_grads *g) {
    memset(g, 0, sizeof *g);
    g->n_layers = m->hp.n_layers;
    int tied_train = m->hp.tie_word_embeddings && (trainable[CLCDD_ROLE_EMBED] || trainable[CLCDD_ROLE_LM_HEAD]);
    size_t rows = (size_t)m->hp.n_layers + 1;
    g->slots = malloc(rows * CLCDD_ROLE_COUNT * sizeof *g->slots);
    if (!g->slots) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "gradient slots");
    for (size_t i = 0; i < rows * CLCDD_ROLE_COUNT; i++) g->slots[i] = CLCDD_NO_SLOT;
    clcdd_arena_init(&g->arena, "gradients");
    for (size_t i = 0; i < rows * CLCDD_ROLE_COUNT; i++) {
        int role = (int)(i % CLCDD_ROLE_COUNT);
        int want = trainable[role] || (role == CLCDD_ROLE_EMBED && tied_train);
        if (!want || m->slots[i] == CLCDD_NO_SLOT) continue;
        if (i < CLCDD_ROLE_COUNT && clcdd_role_is_per_layer((clcdd_tensor_role)role)) continue;
        const clcdd_arena_slot *ps = &m->params.slots[m->slots[i]];
        clcdd_status st = clcdd_arena_add(&g->arena, ps->name, CLCDD_F32, ps->ndim, ps->shape, &g->slots[i]);
        if (st != CLCDD_OK) {
            clcdd_grads_destroy(g);
            return st;
        }
    }
    clcdd_status st = clcdd_arena_alloc(ctx, &g->arena, 1);
    if (st != CLCDD_OK) clcdd_grads_destroy(g);
    return st;
}

void clcdd_grads_destroy(clcdd_grads *g) {
    clcdd_arena_free(&g->arena);
    free(g->slots);
    memset(g, 0, sizeof *g);
}

static size_t gslot(const clcdd_grads *g, clcdd_tensor_role role, uint32_t layer) {
    if (!g || !g->slots || (unsigned)role >= CLCDD_ROLE_COUNT) return CLCDD_NO_SLOT;
    if (clcdd_role_is_per_layer(role)) {
        if (layer >= g->n_layers) return CLCDD_NO_SLOT;
        return g->slots[(1 + (size_t)layer) * CLCDD_ROLE_COUNT + role];
    }
    return g->slots[role];
}

int clcdd_grads_has(const clcdd_grads *g, clcdd_tensor_role role, uint32_t layer) {
    return gslot(g, role, layer) != CLCDD_NO_SLOT;
}

clcdd_tensor clcdd_grads_tensor(const clcdd_grads *g, clcdd_tensor_role role, uint32_t layer) {
    return clcdd_arena_view(&g->arena, gslot(g, role, layer));
}

#define ADD1(name, slot, n0)                                                                   \
    do {                                                                                        \
        int64_t s_[1] = {(int64_t)(n0)};                                                        \
        st = clcdd_arena_add(&s->arena, name, CLCDD_F32, 1, s_, &(slot));                       \
        if (st) goto fail;                                                                      \
    } while (0)

clcdd_status clcdd_bwd_scratch_create(clcdd_ctx *ctx, const clcdd_hparams *hp, size_t B, size_t T,
                                      clcdd_bwd_scratch *s) {
    memset(s, 0, sizeof *s);
    clcdd_arena_init(&s->arena, "backward scratch");
    size_t N = B * T, d = hp->hidden_size, f = hp->intermediate_size;
    size_t dq = (size_t)hp->n_heads * hp->head_dim, dkv = (size_t)hp->n_kv_heads * hp->head_dim;
    clcdd_status st;
    ADD1("d residual", s->dx, N * d);
    ADD1("d norm out", s->da, N * d);
    ADD1("d q", s->dq, N * dq);
    ADD1("d k", s->dk, N * dkv);
    ADD1("d v", s->dv, N * dkv);
    ADD1("d q normed", s->dqn, hp->qk_norm ? N * dq : 1);
    ADD1("d k normed", s->dkn, hp->qk_norm ? N * dkv : 1);
    ADD1("d q heads", s->dqh, N * dq);
    ADD1("d k heads", s->dkh, N * dkv);
    ADD1("d v heads", s->dvh, N * dkv);
    ADD1("d attention", s->dP, B * hp->n_heads * T * T);
    ADD1("d attention out heads", s->doh, N * dq);
    ADD1("d attention out", s->dout, N * dq);
    ADD1("d gate", s->dg, N * f);
    ADD1("d up", s->du, N * f);
    ADD1("d swiglu", s->dh, N * f);
    st = clcdd_arena_alloc(ctx, &s->arena, 0);
    if (st == CLCDD_OK) return CLCDD_OK;
fail:
    clcdd_bwd_scratch_destroy(s);
    return st;
}

void clcdd_bwd_scratch_destroy(clcdd_bwd_scratch *s) {
    clcdd_arena_free(&s->arena);
    memset(s, 0, sizeof *s);
}

static clcdd_matrix mat(const clcdd_tensor *t, size_t ld) {
    clcdd_matrix m = {t->buf, t->offset / 4, ld};
    return m;
}

/* Given dy (N, out) of y = x W^T (+ b): dx (N, in) = dy W (+= when beta 1); dW += dy^T x and
 * db += colsum(dy) when the role is trainable. */
static clcdd_status linear_bwd(clcdd_ctx *ctx, const clcdd_model *m, clcdd_grads *g,
                               clcdd_tensor_role role, clcdd_tensor_role bias_role, uint32_t l,
                               clcdd_tensor *dx, float beta, const clcdd_tensor *dy,
                               const clcdd_tensor *x, size_t N, size_t out, size_t in) {
    clcdd_tensor W;
    TRY(clcdd_model_tensor(m, role, l, &W));
    const clcdd_packed_weight *pw = clcdd_model_packed(m, role, l);
    if (dx && pw && pw->packed_bwd && N >= 5)
        TRY(clcdd_gemm_packed_backward(ctx, N, 1.0f, mat(dy, out), pw, beta, mat(dx, in)));
    else if (dx)
        TRY(clcdd_gemm(ctx, CLCDD_NO_TRANS, CLCDD_NO_TRANS, N, in, out, 1.0f, mat(dy, out),
                       mat(&W, in), beta, mat(dx, in)));
    if (clcdd_grads_has(g, role, l)) {
        clcdd_tensor dW = clcdd_grads_tensor(g, role, l);
        TRY(clcdd_gemm(ctx, CLCDD_TRANS, CLCDD_NO_TRANS, out, in, N, 1.0f, mat(dy, out),
                       mat(x, in), 1.0f, mat(&dW, in)));
    }
    if (bias_role != CLCDD_ROLE_COUNT && clcdd_grads_has(g, bias_role, l)) {
        clcdd_tensor db = clcdd_grads_tensor(g, bias_role, l);
        TRY(clcdd_bias_grad_rows(ctx, &db, dy, N, out));
    }
    return CLCDD_OK;
}

static clcdd_status norm_bwd(clcdd_ctx *ctx, const clcdd_model *m, clcdd_grads *g,
                             clcdd_tensor_role role, uint32_t l, clcdd_tensor *dx, int accumulate,
                             const clcdd_tensor *dy, const clcdd_tensor *x,
                             const clcdd_tensor *rstd, size_t rows, size_t d) {
    clcdd_tensor w, dw, *pdw = NULL;
    TRY(clcdd_model_tensor(m, role, l, &w));
    if (clcdd_grads_has(g, role, l)) {
        dw = clcdd_grads_tensor(g, role, l);
        pdw = &dw;
    }
    return clcdd_rmsnorm_backward(ctx, dx, accumulate, pdw, dy, x, &w, rstd, rows, d);
}

static clcdd_status layer_backward(clcdd_ctx *ctx, const clcdd_model *m, const clcdd_batch *bt,
                                   clcdd_acts *A, clcdd_grads *gr, clcdd_bwd_scratch *s,
                                   uint32_t l) {
    const clcdd_hparams *hp = &m->hp;
    size_t B = bt->B, T = bt->T, N = B * T, d = hp->hidden_size, f = hp->intermediate_size;
    size_t H = hp->n_heads, Hkv = hp->n_kv_heads, hd = hp->head_dim, G = H / Hkv;
    size_t dq = H * hd, dkv = Hkv * hd;
    const clcdd_layer_acts *la = &A->layer[l];
#define ACT(x) clcdd_act(A, la->x)
#define SCR(x) clcdd_arena_view(&s->arena, s->x)
    clcdd_tensor x = clcdd_act(A, A->x[l]), a = ACT(a), r1 = ACT(rstd1), q = ACT(q), k = ACT(k);
    clcdd_tensor qh = ACT(qh), kh = ACT(kh), vh = ACT(vh), P = ACT(P), o = ACT(o);
    clcdd_tensor xm = ACT(xmid), mm = ACT(m), r2 = ACT(rstd2), g = ACT(g), u = ACT(u), h = ACT(h);
    clcdd_tensor dx = SCR(dx), da = SCR(da), dqt = SCR(dq), dkt = SCR(dk), dvt = SCR(dv);
    clcdd_tensor dqh = SCR(dqh), dkh = SCR(dkh), dvh = SCR(dvh), dP = SCR(dP), doh = SCR(doh);
    clcdd_tensor dout = SCR(dout), dg = SCR(dg), du = SCR(du), dh = SCR(dh);

    /* MLP: x[l+1] = xm + swiglu(m Wg^T, m Wu^T) Wd^T. dx holds d/dx[l+1]. */
    TRY(linear_bwd(ctx, m, gr, CLCDD_ROLE_DOWN, CLCDD_ROLE_DOWN_BIAS, l, &dh, 0.0f, &dx, &h, N, d, f));
    TRY(clcdd_swiglu_backward(ctx, &dg, &du, &dh, &g, &u, N * f));
    TRY(linear_bwd(ctx, m, gr, CLCDD_ROLE_GATE, CLCDD_ROLE_GATE_BIAS, l, &da, 0.0f, &dg, &mm, N, f, d));
    TRY(linear_bwd(ctx, m, gr, CLCDD_ROLE_UP, CLCDD_ROLE_UP_BIAS, l, &da, 1.0f, &du, &mm, N, f, d));
    TRY(norm_bwd(ctx, m, gr, CLCDD_ROLE_FFN_NORM, l, &dx, 1, &da, &xm, &r2, N, d));

    /* Attention: xm = x + merge(P V) Wo^T. dx now holds d/dxm. */
    TRY(linear_bwd(ctx, m, gr, CLCDD_ROLE_O, CLCDD_ROLE_O_BIAS, l, &dout, 0.0f, &dx, &o, N, d, dq));
    TRY(clcdd_split_heads_rope(ctx, &doh, &dout, &bt->pos, &m->inv_freq, &m->rope_cs, B, T, H, hd, CLCDD_ROPE_NONE));
    /* dP = dO V^T; dV = P^T dO (summed over the G query heads sharing the kv head). */
    TRY(clcdd_gemm_strided_batched(ctx, CLCDD_NO_TRANS, CLCDD_TRANS, G * T, T, hd, 1.0f,
                                   mat(&doh, hd), G * T * hd, mat(&vh, hd), T * hd, 0.0f,
                                   mat(&dP, T), G * T * T, B * Hkv));
    TRY(clcdd_gemm_strided_batched(ctx, CLCDD_TRANS, CLCDD_NO_TRANS, T, hd, G * T, 1.0f,
                                   mat(&P, T), G * T * T, mat(&doh, hd), G * T * hd, 0.0f,
                                   mat(&dvh, hd), T * hd, B * Hkv));
    TRY(clcdd_softmax_backward(ctx, &dP, &P, B * H * T, T, 1.0f / sqrtf((float)hd)));
    /* dQ = dS K; dK = dS^T Q. */
    TRY(clcdd_gemm_strided_batched(ctx, CLCDD_NO_TRANS, CLCDD_NO_TRANS, G * T, hd, T, 1.0f,
                                   mat(&dP, T), G * T * T, mat(&kh, hd), T * hd, 0.0f,
                                   mat(&dqh, hd), G * T * hd, B * Hkv));
    TRY(clcdd_gemm_strided_batched(ctx, CLCDD_TRANS, CLCDD_NO_TRANS, T, hd, G * T, 1.0f,
                                   mat(&dP, T), G * T * T, mat(&qh, hd), G * T * hd, 0.0f,
                                   mat(&dkh, hd), T * hd, B * Hkv));
    TRY(clcdd_merge_heads_rope(ctx, &dvt, &dvh, &bt->pos, &m->inv_freq, &m->rope_cs, B, T, Hkv, hd, CLCDD_ROPE_NONE, 1.0f));
    if (hp->qk_norm) {
        clcdd_tensor dqn = SCR(dqn), dkn = SCR(dkn), rq = ACT(rstdq), rk = ACT(rstdk);
        TRY(clcdd_merge_heads_rope(ctx, &dqn, &dqh, &bt->pos, &m->inv_freq, &m->rope_cs, B, T, H, hd, CLCDD_ROPE_HALF, -1.0f));
        TRY(clcdd_merge_heads_rope(ctx, &dkn, &dkh, &bt->pos, &m->inv_freq, &m->rope_cs, B, T, Hkv, hd, CLCDD_ROPE_HALF, -1.0f));
        TRY(norm_bwd(ctx, m, gr, CLCDD_ROLE_Q_NORM, l, &dqt, 0, &dqn, &q, &rq, N * H, hd));
        TRY(norm_bwd(ctx, m, gr, CLCDD_ROLE_K_NORM, l, &dkt, 0, &dkn, &k, &rk, N * Hkv, hd));
    } else {
        TRY(clcdd_merge_heads_rope(ctx, &dqt, &dqh, &bt->pos, &m->inv_freq, &m->rope_cs, B, T, H, hd, CLCDD_ROPE_HALF, -1.0f));
        TRY(clcdd_merge_heads_rope(ctx, &dkt, &dkh, &bt->pos, &m->inv_freq, &m->rope_cs, B, T, Hkv, hd, CLCDD_ROPE_HALF, -1.0f));
    }
    TRY(linear_bwd(ctx, m, gr, CLCDD_ROLE_Q, CLCDD_ROLE_Q_BIAS, l, &da, 0.0f, &dqt, &a, N, dq, d));
    TRY(linear_bwd(ctx, m, gr, CLCDD_ROLE_K, CLCDD_ROLE_K_BIAS, l, &da, 1.0f, &dkt, &a, N, dkv, d));
    TRY(linear_bwd(ctx, m, gr, CLCDD_ROLE_V, CLCDD_ROLE_V_BIAS, l, &da, 1.0f, &dvt, &a, N, dkv, d));
    TRY(norm_bwd(ctx, m, gr, CLCDD_ROLE_ATTN_NORM, l, &dx, 1, &da, &x, &r1, N, d));
#undef ACT
#undef SCR
    return CLCDD_OK;
}

clcdd_status clcdd_decoder_backward(clcdd_ctx *ctx, const clcdd_model *m, const clcdd_batch *bt,
                                    clcdd_acts *A, clcdd_grads *gr, clcdd_bwd_scratch *s,
                                    clcdd_tensor *dprompt, size_t prompt_rows) {
    return clcdd_decoder_backward_hooked(ctx, m, bt, A, gr, s, dprompt, prompt_rows, NULL, NULL);
}

clcdd_status clcdd_decoder_backward_hooked(clcdd_ctx *ctx, const clcdd_model *m,
                                           const clcdd_batch *bt, clcdd_acts *A, clcdd_grads *gr,
                                           clcdd_bwd_scratch *s, clcdd_tensor *dprompt,
                                           size_t prompt_rows, clcdd_backward_hook hook,
                                           void *user) {
    const clcdd_hparams *hp = &m->hp;
    if (!A->training)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "backward needs training-mode activations");
    size_t N = bt->B * bt->T, d = hp->hidden_size, V = hp->vocab_size;
    clcdd_tensor dlogits = clcdd_act(A, A->logits), xf = clcdd_act(A, A->xf);
    clcdd_tensor xL = clcdd_act(A, A->x[hp->n_layers]), rf = clcdd_act(A, A->rstdf);
    clcdd_tensor dx = clcdd_arena_view(&s->arena, s->dx), dxf = clcdd_arena_view(&s->arena, s->da);
    TRY(linear_bwd(ctx, m, gr, CLCDD_ROLE_LM_HEAD, CLCDD_ROLE_COUNT, 0, &dxf, 0.0f, &dlogits, &xf,
                   N, V, d));
    int embed_grad = clcdd_grads_has(gr, CLCDD_ROLE_EMBED, 0);
    if (embed_grad && hp->tie_word_embeddings) {
        /* The tied head's weight gradient lands in the embedding's. */
        clcdd_tensor dE = clcdd_grads_tensor(gr, CLCDD_ROLE_EMBED, 0);
        TRY(clcdd_gemm(ctx, CLCDD_TRANS, CLCDD_NO_TRANS, V, d, N, 1.0f, mat(&dlogits, V),
                       mat(&xf, d), 1.0f, mat(&dE, d)));
    }
    TRY(norm_bwd(ctx, m, gr, CLCDD_ROLE_FINAL_NORM, 0, &dx, 0, &dxf, &xL, &rf, N, d));
    for (uint32_t l = hp->n_layers; l-- > 0;) {
        if (hook) TRY(hook(ctx, l, &dx, user));
        TRY(layer_backward(ctx, m, bt, A, gr, s, l));
    }
    if (dprompt && prompt_rows) TRY(clcdd_prompt_grad(ctx, dprompt, &dx, &bt->ids, N, d, prompt_rows));
    if (embed_grad) {
        if (!bt->csr_ids.buf)
            return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                              "the embeddings are trainable but the batch has no token grouping "
                              "(clcdd_batch_add_csr)");
        clcdd_tensor dE = clcdd_grads_tensor(gr, CLCDD_ROLE_EMBED, 0);
        TRY(clcdd_embed_backward(ctx, &dE, &dx, &bt->csr_ids, &bt->csr_starts, &bt->csr_rows,
                                 bt->n_unique, d));
    }
    return CLCDD_OK;
}
