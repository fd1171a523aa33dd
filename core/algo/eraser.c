#include "algo/eraser.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/basic.h"
#include "nn/ops.h"
#include "nn/optim.h"
#include "runtime/ctx_internal.h"

void clcdd_channel_set_free(clcdd_channel_set *s) {
    if (!s) return;
    for (uint32_t l = 0; l < s->n_layers && s->idx; l++) free(s->idx[l]);
    free(s->idx);
    free(s->count);
    memset(s, 0, sizeof *s);
}

size_t clcdd_channel_set_total(const clcdd_channel_set *s) {
    size_t n = 0;
    for (uint32_t l = 0; s && l < s->n_layers; l++) n += s->count[l];
    return n;
}

static uint64_t mix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

clcdd_status clcdd_channel_set_random(const clcdd_channel_set *like, uint32_t d, uint64_t seed,
                                      clcdd_channel_set *out) {
    memset(out, 0, sizeof *out);
    out->n_layers = like->n_layers;
    out->count = calloc(like->n_layers, sizeof *out->count);
    out->idx = calloc(like->n_layers, sizeof *out->idx);
    int32_t *perm = malloc(d * sizeof *perm);
    if (!out->count || !out->idx || !perm) {
        free(perm);
        clcdd_channel_set_free(out);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "random channel set");
    }
    uint64_t s = seed;
    for (uint32_t l = 0; l < like->n_layers; l++) {
        uint32_t k = like->count[l] < d ? like->count[l] : d;
        for (uint32_t i = 0; i < d; i++) perm[i] = (int32_t)i;
        for (uint32_t i = 0; i < k; i++) { /* partial Fisher-Yates */
            uint32_t j = i + (uint32_t)(mix(&s) % (d - i));
            int32_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        out->count[l] = k;
        out->idx[l] = malloc((k ? k : 1) * sizeof(int32_t));
        if (!out->idx[l]) {
            free(perm);
            clcdd_channel_set_free(out);
            return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "random channel set");
        }
        memcpy(out->idx[l], perm, k * sizeof(int32_t));
        qsort(out->idx[l], k, sizeof(int32_t), cmp_i32);
    }
    free(perm);
    return CLCDD_OK;
}

void clcdd_eraser_config_paper(clcdd_eraser_config *c) {
    memset(c, 0, sizeof *c);
    c->rows = 20;
    c->max_norm = 1.0f;
    c->lr = 0.003f;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-8f;
    c->clip = 1.0f;
    c->steps = 2000;
    c->batch = 16;
    c->n_target = 200;
    c->tail_k = 8;
    c->w_mse = 1.0f;
    c->w_kl = 0.7f;
    c->w_l2 = 0.1f;
    c->w_resp = 0.0f;
    c->trigger_pos = CLCDD_TRIGGER_PREFIX;
    c->seed = 42;
}

void clcdd_eraser_config_resp(clcdd_eraser_config *c) {
    clcdd_eraser_config_paper(c);
    c->w_mse = 0.0f;
    c->w_kl = 0.0f;
    c->w_resp = 1.0f;
    c->cosine = 1;
}

/* ---- state --------------------------------------------------------------------------------- */

typedef struct eraser {
    clcdd_ctx *ctx;
    const clcdd_model *base, *model;
    const clcdd_channel_set *ch;
    const clcdd_prompt_pool *pool;
    const clcdd_eraser_config *cfg;
    size_t d, V, Tb, Tt, L_c;            /* base batch length, triggered batch length */
    clcdd_acts base_acts, acts;
    clcdd_bwd_scratch scratch;
    clcdd_tensor P, Pbest, dP, m, v, gsq, best, loss, part;
    clcdd_tensor ids_b, pos_b, len_b, ids_t, pos_t, len_t;
    clcdd_tensor rows_b, rows_t, kw, kl, klw, logp, compact;
    clcdd_tensor mse_rows, *chans, *targets, mse_loss;
    size_t max_kl_rows;
    int32_t *h_ids, *h_pos, *h_rows_b, *h_rows_t, *h_mse_rows;
    float *h_kw, *h_kl;
} eraser;

static clcdd_status mk(clcdd_ctx *ctx, clcdd_dtype dt, size_t n, const char *what, clcdd_tensor *t) {
    int64_t s[1] = {(int64_t)(n ? n : 1)};
    return clcdd_tensor_create(ctx, dt, 1, s, what, t);
}

static clcdd_tensor head(const clcdd_tensor *t, size_t n) {
    clcdd_tensor v = *t;
    v.shape[0] = (int64_t)(n ? n : 1);
    v.owns = 0;
    return v;
}

static void eraser_free(eraser *e) {
    clcdd_acts_destroy(&e->base_acts);
    clcdd_acts_destroy(&e->acts);
    clcdd_bwd_scratch_destroy(&e->scratch);
    clcdd_tensor *ts[] = {&e->P, &e->Pbest, &e->dP, &e->m, &e->v, &e->gsq, &e->best, &e->loss,
                          &e->part, &e->ids_b, &e->pos_b, &e->len_b, &e->ids_t, &e->pos_t,
                          &e->len_t, &e->rows_b, &e->rows_t, &e->kw, &e->kl, &e->klw, &e->logp,
                          &e->compact, &e->mse_rows, &e->mse_loss};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) clcdd_tensor_destroy(ts[i]);
    if (e->chans)
        for (uint32_t l = 0; l < e->base->hp.n_layers; l++) {
            clcdd_tensor_destroy(&e->chans[l]);
            clcdd_tensor_destroy(&e->targets[l]);
        }
    free(e->chans), free(e->targets);
    free(e->h_ids), free(e->h_pos), free(e->h_rows_b), free(e->h_rows_t), free(e->h_mse_rows);
    free(e->h_kw), free(e->h_kl);
}

/* Base-model targets: mean over n_target pool prompts of x[l+1] at the last prompt position. */
static clcdd_status make_targets(eraser *e) {
    clcdd_ctx *ctx = e->ctx;
    size_t B = e->cfg->batch, n = e->cfg->n_target < e->pool->n ? e->cfg->n_target : e->pool->n;
    for (size_t first = 0; first < n; first += B) {
        size_t nb = n - first < B ? n - first : B, T = 1;
        for (size_t b = 0; b < nb; b++)
            if (e->pool->prompt_len[first + b] > T) T = e->pool->prompt_len[first + b];
        int32_t lens[1024];
        for (size_t b = 0; b < nb; b++) {
            size_t len = e->pool->prompt_len[first + b];
            lens[b] = (int32_t)len;
            for (size_t t = 0; t < T; t++) {
                e->h_ids[b * T + t] = t < len ? e->pool->prompt[first + b][t] : 0;
                e->h_pos[b * T + t] = (int32_t)t;
            }
            e->h_mse_rows[b] = (int32_t)(b * T + len - 1);
        }
        clcdd_tensor ids = head(&e->ids_b, nb * T), pos = head(&e->pos_b, nb * T), len = head(&e->len_b, nb);
        clcdd_tensor mr = head(&e->mse_rows, nb);
        clcdd_batch bt;
        memset(&bt, 0, sizeof bt);
        bt.B = nb, bt.T = T, bt.ids = ids, bt.pos = pos, bt.key_len = len;
        TRY(clcdd_tensor_upload(ctx, &ids, e->h_ids));
        TRY(clcdd_tensor_upload(ctx, &pos, e->h_pos));
        TRY(clcdd_tensor_upload(ctx, &len, lens));
        TRY(clcdd_tensor_upload(ctx, &mr, e->h_mse_rows));
        TRY(clcdd_decoder_forward(ctx, e->base, &bt, NULL, &e->base_acts));
        for (uint32_t l = 0; l < e->base->hp.n_layers; l++) {
            if (!e->ch || !e->ch->count[l]) continue;
            cl_kernel k;
            TRY(clcdd_ctx_kernel(ctx, "eraser", "", "act_accumulate", &k));
            clcdd_tensor x = clcdd_act(&e->base_acts, e->base_acts.x[l + 1]);
            cl_ulong xo = x.offset / 4;
            cl_uint ub = (cl_uint)nb, uc = e->ch->count[l], ud = (cl_uint)e->d;
            int i = 0;
            KARG(k, i++, e->targets[l].buf); KARG(k, i++, x.buf); KARG(k, i++, xo);
            KARG(k, i++, e->mse_rows.buf); KARG(k, i++, ub); KARG(k, i++, e->chans[l].buf);
            KARG(k, i++, uc); KARG(k, i++, ud);
            TRY(clcdd_launch_1d(ctx, k, uc, "act_accumulate"));
        }
    }
    for (uint32_t l = 0; l < e->base->hp.n_layers; l++)
        if (e->ch && e->ch->count[l]) TRY(clcdd_scale(ctx, &e->targets[l], &e->targets[l], 1.0f / (float)n));
    return CLCDD_OK;
}

typedef struct {
    eraser *e;
    size_t B;
} hook_ctx;

static clcdd_status mse_hook(clcdd_ctx *ctx, uint32_t l, clcdd_tensor *dx, void *user) {
    hook_ctx *h = user;
    eraser *e = h->e;
    if (!e->ch || l >= e->ch->n_layers || !e->ch->count[l] || e->cfg->w_mse == 0.0f) return CLCDD_OK;
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "eraser", "", "act_mse", &k));
    clcdd_tensor x = clcdd_act(&e->acts, e->acts.x[l + 1]);
    cl_ulong dxo = dx->offset / 4, xo = x.offset / 4;
    cl_uint ub = (cl_uint)h->B, uc = e->ch->count[l], ud = (cl_uint)e->d;
    float scale = e->cfg->w_mse / ((float)e->L_c * (float)uc);
    int i = 0;
    KARG(k, i++, dx->buf); KARG(k, i++, dxo); KARG(k, i++, x.buf); KARG(k, i++, xo);
    KARG(k, i++, e->mse_rows.buf); KARG(k, i++, ub); KARG(k, i++, e->chans[l].buf);
    KARG(k, i++, e->targets[l].buf); KARG(k, i++, e->part.buf); KARG(k, i++, uc); KARG(k, i++, ud);
    KARG(k, i++, scale);
    TRY(clcdd_launch_1d(ctx, k, uc, "act_mse"));
    /* accumulate this layer's weighted squared errors into loss[0] */
    clcdd_tensor part = head(&e->part, uc), one;
    int64_t s1[1] = {1};
    TRY(clcdd_tensor_view(&e->loss, 1, 1, s1, &one)); /* loss[1]: MSE accumulator */
    clcdd_tensor tmp;
    TRY(clcdd_tensor_view(&e->loss, 4, 1, s1, &tmp)); /* loss[4]: scratch */
    TRY(clcdd_sum(ctx, &tmp, &part));
    return clcdd_axpy(ctx, &one, &tmp, 1.0f);
}

static clcdd_status setup(eraser *e) {
    clcdd_ctx *ctx = e->ctx;
    const clcdd_eraser_config *c = e->cfg;
    const clcdd_hparams *hp = &e->model->hp;
    size_t B = c->batch, maxp = 0, maxa = 0;
    for (size_t i = 0; i < e->pool->n; i++) {
        if (e->pool->prompt_len[i] > maxp) maxp = e->pool->prompt_len[i];
        if (e->pool->answer && e->pool->answer_len[i] > maxa) maxa = e->pool->answer_len[i];
    }
    if (c->w_resp == 0.0f) maxa = 0;
    e->Tb = maxp + maxa;
    e->Tt = c->rows + maxp + maxa;
    e->max_kl_rows = B * (c->tail_k + maxa + 1);
    size_t Nt = B * e->Tt, Nb = B * e->Tb, n = c->rows * e->d, maxc = 1;
    e->L_c = 0;
    for (uint32_t l = 0; e->ch && l < e->ch->n_layers; l++) {
        if (e->ch->count[l]) e->L_c++;
        if (e->ch->count[l] > maxc) maxc = e->ch->count[l];
    }
    e->h_ids = malloc(Nt * sizeof(int32_t));
    e->h_pos = malloc(Nt * sizeof(int32_t));
    e->h_rows_b = malloc(e->max_kl_rows * sizeof(int32_t));
    e->h_rows_t = malloc(e->max_kl_rows * sizeof(int32_t));
    e->h_mse_rows = malloc((B > c->n_target ? B : c->n_target) * sizeof(int32_t));
    e->h_kw = malloc(e->max_kl_rows * sizeof(float));
    e->h_kl = malloc(e->max_kl_rows * sizeof(float));
    e->chans = calloc(hp->n_layers, sizeof *e->chans);
    e->targets = calloc(hp->n_layers, sizeof *e->targets);
    if (!e->h_ids || !e->h_pos || !e->h_rows_b || !e->h_rows_t || !e->h_mse_rows || !e->h_kw ||
        !e->h_kl || !e->chans || !e->targets)
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "eraser buffers");
    TRY(clcdd_acts_create(ctx, hp, B, e->Tb, 0, &e->base_acts));
    TRY(clcdd_acts_create(ctx, hp, B, e->Tt, 1, &e->acts));
    TRY(clcdd_bwd_scratch_create(ctx, hp, B, e->Tt, &e->scratch));
    TRY(mk(ctx, CLCDD_F32, n, "soft prompt", &e->P));
    TRY(mk(ctx, CLCDD_F32, n, "best soft prompt", &e->Pbest));
    TRY(mk(ctx, CLCDD_F32, n, "soft prompt gradient", &e->dP));
    TRY(mk(ctx, CLCDD_F32, n, "Adam m", &e->m));
    TRY(mk(ctx, CLCDD_F32, n, "Adam v", &e->v));
    TRY(mk(ctx, CLCDD_F32, 1, "gradient norm", &e->gsq));
    TRY(mk(ctx, CLCDD_F32, 1, "best loss", &e->best));
    TRY(mk(ctx, CLCDD_F32, 8, "losses", &e->loss));
    TRY(mk(ctx, CLCDD_F32, maxc > e->max_kl_rows ? maxc : e->max_kl_rows, "partials", &e->part));
    TRY(mk(ctx, CLCDD_I32, Nb, "base ids", &e->ids_b));
    TRY(mk(ctx, CLCDD_I32, Nb, "base positions", &e->pos_b));
    TRY(mk(ctx, CLCDD_I32, B, "base lengths", &e->len_b));
    TRY(mk(ctx, CLCDD_I32, Nt, "ids", &e->ids_t));
    TRY(mk(ctx, CLCDD_I32, Nt, "positions", &e->pos_t));
    TRY(mk(ctx, CLCDD_I32, B, "lengths", &e->len_t));
    TRY(mk(ctx, CLCDD_I32, e->max_kl_rows, "base KL rows", &e->rows_b));
    TRY(mk(ctx, CLCDD_I32, e->max_kl_rows, "KL rows", &e->rows_t));
    TRY(mk(ctx, CLCDD_F32, e->max_kl_rows, "KL weights", &e->kw));
    TRY(mk(ctx, CLCDD_F32, e->max_kl_rows, "KL values", &e->kl));
    TRY(mk(ctx, CLCDD_F32, e->max_kl_rows, "weighted KL", &e->klw));
    TRY(mk(ctx, CLCDD_F32, e->max_kl_rows * e->V, "base log-probs", &e->logp));
    TRY(mk(ctx, CLCDD_F32, e->max_kl_rows * e->V, "model logits", &e->compact));
    TRY(mk(ctx, CLCDD_I32, B > c->n_target ? B : c->n_target, "MSE rows", &e->mse_rows));
    TRY(mk(ctx, CLCDD_F32, maxc, "MSE losses", &e->mse_loss));
    for (uint32_t l = 0; e->ch && l < hp->n_layers; l++) {
        if (!e->ch->count[l]) continue;
        TRY(mk(ctx, CLCDD_I32, e->ch->count[l], "channels", &e->chans[l]));
        TRY(clcdd_tensor_upload(ctx, &e->chans[l], e->ch->idx[l]));
        TRY(mk(ctx, CLCDD_F32, e->ch->count[l], "targets", &e->targets[l]));
        TRY(clcdd_tensor_fill(ctx, &e->targets[l], 0.0f));
    }
    /* P from the embeddings of `rows` uniformly drawn token ids. */
    int32_t *tok = malloc(c->rows * sizeof *tok);
    if (!tok) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "eraser init");
    uint64_t s = c->seed ^ 0x5eed;
    for (size_t i = 0; i < c->rows; i++) tok[i] = (int32_t)(mix(&s) % e->V);
    clcdd_tensor ids = head(&e->ids_t, c->rows), emb;
    clcdd_status st = clcdd_tensor_upload(ctx, &ids, tok);
    free(tok);
    TRY(st);
    TRY(clcdd_model_tensor(e->model, CLCDD_ROLE_EMBED, 0, &emb));
    TRY(clcdd_embed_gather(ctx, &e->P, &emb, NULL, &e->ids_t, c->rows, e->d));
    TRY(clcdd_tensor_fill(ctx, &e->m, 0.0f));
    TRY(clcdd_tensor_fill(ctx, &e->v, 0.0f));
    TRY(clcdd_tensor_fill(ctx, &e->best, INFINITY));
    TRY(clcdd_tensor_copy(ctx, &e->Pbest, &e->P));
    return make_targets(e);
}

static clcdd_status run_kernel_rows(eraser *e, const char *name, clcdd_tensor *out,
                                    const clcdd_tensor *logits, const clcdd_tensor *rows, size_t n) {
    cl_kernel k;
    TRY(clcdd_ctx_kernel(e->ctx, "eraser", "", name, &k));
    cl_ulong lo = logits->offset / 4;
    cl_uint un = (cl_uint)n, uV = (cl_uint)e->V;
    int i = 0;
    KARG(k, i++, out->buf); KARG(k, i++, logits->buf); KARG(k, i++, lo); KARG(k, i++, rows->buf);
    KARG(k, i++, un); KARG(k, i++, uV);
    return clcdd_launch_1d(e->ctx, k, strcmp(name, "gather_rows") ? n : n * e->V, name);
}

static void draw_batch(const eraser *e, uint64_t *rng, size_t *pick, size_t B) {
    for (size_t b = 0; b < B; b++) { /* without replacement inside a batch */
        for (;;) {
            size_t cand = (size_t)(mix(rng) % e->pool->n), dup = 0;
            for (size_t j = 0; j < b; j++) dup |= pick[j] == cand;
            if (!dup) {
                pick[b] = cand;
                break;
            }
        }
    }
}

/* Loss and gradient on P for the prompts pick[0..B); with update, the Adam step and projection. */
static clcdd_status step(eraser *e, const size_t *pick, size_t B, size_t it, int update,
                         clcdd_eraser_progress *pr) {
    clcdd_ctx *ctx = e->ctx;
    const clcdd_eraser_config *c = e->cfg;
    size_t Tp = c->rows;
    int use_resp = c->w_resp != 0.0f && e->pool->answer;
    size_t Tb = 1;
    for (size_t b = 0; b < B; b++) {
        size_t len = e->pool->prompt_len[pick[b]] + (use_resp ? e->pool->answer_len[pick[b]] : 0);
        if (len > Tb) Tb = len;
    }
    size_t Tt = Tp + Tb, nk = 0;
    int32_t lens_b[1024], lens_t[1024];
    /* base batch */
    for (size_t b = 0; b < B; b++) {
        size_t pn = e->pool->prompt_len[pick[b]], an = use_resp ? e->pool->answer_len[pick[b]] : 0;
        lens_b[b] = (int32_t)(pn + an);
        lens_t[b] = (int32_t)(Tp + pn + an);
        for (size_t t = 0; t < Tb; t++) {
            int32_t v = 0;
            if (t < pn) v = e->pool->prompt[pick[b]][t];
            else if (t < pn + an) v = e->pool->answer[pick[b]][t - pn];
            e->h_ids[b * Tb + t] = v;
            e->h_pos[b * Tb + t] = (int32_t)t;
        }
        size_t ins = clcdd_trigger_insert(pn, c->trigger_pos);
        /* KL rows: last k prompt positions (tail) and the answer-predicting positions. */
        size_t k0 = pn > c->tail_k ? pn - c->tail_k : 0;
        float wt = c->w_kl / ((float)B * (float)(pn - k0));
        for (size_t t = 0; t + 1 <= pn + an; t++) {
            float w = 0;
            if (c->w_kl != 0.0f && t >= k0 && t < pn) w += wt;
            if (use_resp && t + 1 >= pn && t + 1 < pn + an) w += c->w_resp; /* scaled below */
            if (w == 0) continue;
            e->h_rows_b[nk] = (int32_t)(b * Tb + t);
            e->h_rows_t[nk] = (int32_t)(b * Tt + clcdd_trigger_pred_row(t, ins, Tp));
            e->h_kw[nk] = w;
            e->h_kl[nk] = (use_resp && t + 1 >= pn && t + 1 < pn + an) ? 1.0f : 0.0f; /* is answer row */
            nk++;
        }
    }
    if (use_resp) { /* mean over all answer positions of the batch */
        size_t na = 0;
        for (size_t i = 0; i < nk; i++) na += e->h_kl[i] != 0;
        for (size_t i = 0; i < nk; i++)
            if (e->h_kl[i] != 0) e->h_kw[i] += c->w_resp / (float)na - c->w_resp;
    }
    clcdd_batch bb, bt;
    memset(&bb, 0, sizeof bb);
    memset(&bt, 0, sizeof bt);
    bb.B = bt.B = B, bb.T = Tb, bt.T = Tt;
    bb.ids = head(&e->ids_b, B * Tb), bb.pos = head(&e->pos_b, B * Tb), bb.key_len = head(&e->len_b, B);
    bt.ids = head(&e->ids_t, B * Tt), bt.pos = head(&e->pos_t, B * Tt), bt.key_len = head(&e->len_t, B);
    clcdd_tensor rb = head(&e->rows_b, nk), rt = head(&e->rows_t, nk), kw = head(&e->kw, nk);
    TRY(clcdd_tensor_upload(ctx, &bb.ids, e->h_ids));
    TRY(clcdd_tensor_upload(ctx, &bb.pos, e->h_pos));
    TRY(clcdd_tensor_upload(ctx, &bb.key_len, lens_b));
    if (nk) {
        TRY(clcdd_tensor_upload(ctx, &rb, e->h_rows_b));
        TRY(clcdd_tensor_upload(ctx, &rt, e->h_rows_t));
        TRY(clcdd_tensor_upload(ctx, &kw, e->h_kw));
    }
    /* triggered batch: soft-prompt rows then the same tokens */
    for (size_t b = 0; b < B; b++) {
        for (size_t t = 0; t < Tt; t++) {
            e->h_pos[b * Tt + t] = (int32_t)t;
        }
    }
    int32_t *tid = malloc(B * Tt * sizeof *tid);
    if (!tid) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "eraser batch");
    for (size_t b = 0; b < B; b++) {
        size_t pn = e->pool->prompt_len[pick[b]], ins = clcdd_trigger_insert(pn, c->trigger_pos);
        clcdd_trigger_build(tid + b * Tt, e->h_ids + b * Tb, Tb, ins, Tp);
        e->h_mse_rows[b] = (int32_t)(b * Tt + clcdd_trigger_pred_row(pn - 1, ins, Tp));
    }
    clcdd_tensor mr = head(&e->mse_rows, B);
    clcdd_status st = clcdd_tensor_upload(ctx, &bt.ids, tid);
    free(tid);
    TRY(st);
    TRY(clcdd_tensor_upload(ctx, &bt.pos, e->h_pos));
    TRY(clcdd_tensor_upload(ctx, &bt.key_len, lens_t));
    TRY(clcdd_tensor_upload(ctx, &mr, e->h_mse_rows));
    TRY(clcdd_tensor_fill(ctx, &e->loss, 0.0f));
    clcdd_tensor lg_b = clcdd_act(&e->base_acts, e->base_acts.logits);
    clcdd_tensor lg_t = clcdd_act(&e->acts, e->acts.logits);
    if (nk) {
        TRY(clcdd_decoder_forward(ctx, e->base, &bb, NULL, &e->base_acts));
        TRY(run_kernel_rows(e, "log_softmax_rows", &e->logp, &lg_b, &rb, nk));
    }
    TRY(clcdd_decoder_forward(ctx, e->model, &bt, &e->P, &e->acts));
    if (nk) TRY(run_kernel_rows(e, "gather_rows", &e->compact, &lg_t, &rt, nk));
    TRY(clcdd_tensor_fill(ctx, &lg_t, 0.0f));
    if (nk) {
        cl_kernel k;
        TRY(clcdd_ctx_kernel(ctx, "eraser", "", "kl_rows", &k));
        cl_ulong lo = lg_t.offset / 4;
        cl_uint un = (cl_uint)nk, uV = (cl_uint)e->V;
        int i = 0;
        KARG(k, i++, lg_t.buf); KARG(k, i++, lo); KARG(k, i++, e->compact.buf);
        KARG(k, i++, e->logp.buf); KARG(k, i++, e->rows_t.buf); KARG(k, i++, e->kw.buf);
        KARG(k, i++, e->kl.buf); KARG(k, i++, un); KARG(k, i++, uV);
        TRY(clcdd_launch_1d(ctx, k, nk, "kl_rows"));
    }
    TRY(clcdd_tensor_fill(ctx, &e->dP, 0.0f));
    hook_ctx h = {e, B};
    TRY(clcdd_decoder_backward_hooked(ctx, e->model, &bt, &e->acts, NULL, &e->scratch, &e->dP, Tp,
                                      mse_hook, &h));
    /* L2 term: w_l2 * mean_t ||P_t||^2 */
    int64_t s1[1] = {1};
    clcdd_tensor l2v, totv, mv;
    TRY(clcdd_tensor_view(&e->loss, 3, 1, s1, &l2v));
    TRY(clcdd_tensor_view(&e->loss, 0, 1, s1, &totv));
    TRY(clcdd_tensor_view(&e->loss, 1, 1, s1, &mv));
    TRY(clcdd_sumsq(ctx, &l2v, &e->P));
    TRY(clcdd_scale(ctx, &l2v, &l2v, c->w_l2 / (float)Tp));
    TRY(clcdd_axpy(ctx, &e->dP, &e->P, 2.0f * c->w_l2 / (float)Tp));
    /* total = mse + l2 + sum_i w_i kl_i (host knows w_i: read kl on logging steps only) */
    TRY(clcdd_axpy(ctx, &totv, &mv, 1.0f));
    TRY(clcdd_axpy(ctx, &totv, &l2v, 1.0f));
    if (nk) {
        /* klw = kw * kl, summed: reuse the scale-free dot through the partial buffer */
        clcdd_tensor klv = head(&e->kl, nk), kwt = head(&e->kw, nk), part = head(&e->klw, nk);
        TRY(clcdd_mul(ctx, &part, &klv, &kwt));
        clcdd_tensor kls;
        TRY(clcdd_tensor_view(&e->loss, 2, 1, s1, &kls));
        TRY(clcdd_sum(ctx, &kls, &part));
        TRY(clcdd_axpy(ctx, &totv, &kls, 1.0f));
    }
    if (!update) goto report;
    /* keep the best P (the one that produced this loss), then the Adam step and projection */
    {
        cl_kernel k;
        TRY(clcdd_ctx_kernel(ctx, "eraser", "", "keep_best", &k));
        cl_uint un = (cl_uint)(Tp * e->d);
        int i = 0;
        KARG(k, i++, e->Pbest.buf); KARG(k, i++, e->P.buf); KARG(k, i++, un);
        KARG(k, i++, e->loss.buf); KARG(k, i++, e->best.buf);
        TRY(clcdd_launch_1d(ctx, k, 1, "keep_best"));
    }
    TRY(clcdd_sumsq(ctx, &e->gsq, &e->dP));
    float lr = c->lr;
    if (c->cosine) lr = (float)(c->lr * 0.5 * (1.0 + cos(3.14159265358979323846 * (double)it / (double)c->steps)));
    {
        cl_kernel k;
        TRY(clcdd_ctx_kernel(ctx, "optim", "", "adamw_step", &k));
        cl_ulong z = 0, n = (cl_ulong)(Tp * e->d);
        float bc1 = 1.0f - powf(c->beta1, (float)(it + 1)), sbc2 = sqrtf(1.0f - powf(c->beta2, (float)(it + 1)));
        float wd = 0.0f;
        cl_int l2 = 0;
        int i = 0;
        KARG(k, i++, e->P.buf); KARG(k, i++, z); KARG(k, i++, e->dP.buf); KARG(k, i++, z);
        KARG(k, i++, e->m.buf); KARG(k, i++, z); KARG(k, i++, e->v.buf); KARG(k, i++, z);
        KARG(k, i++, n); KARG(k, i++, lr); KARG(k, i++, c->beta1); KARG(k, i++, c->beta2);
        KARG(k, i++, c->eps); KARG(k, i++, wd); KARG(k, i++, bc1); KARG(k, i++, sbc2);
        KARG(k, i++, e->gsq.buf); KARG(k, i++, c->clip); KARG(k, i++, l2);
        TRY(clcdd_launch_1d(ctx, k, (size_t)n, "adamw_step"));
        TRY(clcdd_ctx_kernel(ctx, "eraser", "", "project_rows", &k));
        cl_uint ur = (cl_uint)Tp, ud = (cl_uint)e->d;
        i = 0;
        KARG(k, i++, e->P.buf); KARG(k, i++, ur); KARG(k, i++, ud); KARG(k, i++, c->max_norm);
        TRY(clcdd_launch_1d(ctx, k, Tp, "project_rows"));
    }
report:
    if (pr) {
        float l[8], kl[4096];
        TRY(clcdd_tensor_download(ctx, &e->loss, l));
        pr->loss = l[0], pr->mse = l[1], pr->l2 = l[3];
        pr->kl = pr->resp = 0;
        if (nk && nk <= 4096) {
            clcdd_tensor klv = head(&e->kl, nk);
            TRY(clcdd_tensor_download(ctx, &klv, kl));
            size_t na = 0, nt = 0;
            for (size_t i = 0; i < nk; i++) {
                if (e->h_kl[i] != 0) { pr->resp += kl[i]; na++; }
                else { pr->kl += kl[i]; nt++; }
            }
            if (na) pr->resp /= (float)na;
            if (nt) pr->kl /= (float)nt;
        }
        TRY(clcdd_tensor_download(ctx, &e->best, &pr->best));
    }
    return CLCDD_OK;
}

clcdd_status clcdd_eraser_train(clcdd_ctx *ctx, const clcdd_model *base, const clcdd_model *model,
                                const clcdd_channel_set *channels, const clcdd_prompt_pool *pool,
                                const clcdd_eraser_config *cfg, clcdd_eraser_progress_fn progress,
                                void *user, float *P_out, clcdd_eraser_progress *final) {
    if (!pool || pool->n == 0) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "the eraser needs prompts");
    if (cfg->batch == 0 || cfg->batch > 1024 || cfg->rows == 0)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "eraser batch must be 1..1024 and rows > 0");
    if (cfg->w_resp != 0.0f && !pool->answer)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "the response-KL term needs the base model's answers for the prompt pool");
    eraser e;
    memset(&e, 0, sizeof e);
    e.ctx = ctx, e.base = base, e.model = model, e.pool = pool, e.cfg = cfg;
    e.ch = channels && clcdd_channel_set_total(channels) ? channels : NULL;
    e.d = model->hp.hidden_size, e.V = model->hp.vocab_size;
    clcdd_status st = setup(&e);
    uint64_t rng = cfg->seed;
    clcdd_eraser_progress pr;
    memset(&pr, 0, sizeof pr);
    pr.steps = cfg->steps;
    size_t B = cfg->batch < pool->n ? cfg->batch : pool->n, pick[1024];
    size_t every = cfg->log_every ? cfg->log_every : 50;
    for (size_t it = 0; st == CLCDD_OK && it < cfg->steps; it++) {
        int log = progress && (it % every == 0 || it + 1 == cfg->steps);
        pr.step = it;
        draw_batch(&e, &rng, pick, B);
        st = step(&e, pick, B, it, 1, log || (final && it + 1 == cfg->steps) ? &pr : NULL);
        if (st == CLCDD_OK && log) progress(&pr, user);
    }
    if (st == CLCDD_OK) {
        float best = INFINITY;
        st = clcdd_tensor_download(ctx, &e.best, &best);
        if (st == CLCDD_OK) st = clcdd_tensor_download(ctx, isfinite(best) ? &e.Pbest : &e.P, P_out);
        pr.best = best;
    }
    if (final) *final = pr;
    eraser_free(&e);
    return st;
}

clcdd_status clcdd_eraser_loss_grad(clcdd_ctx *ctx, const clcdd_model *base, const clcdd_model *model,
                                    const clcdd_channel_set *channels, const clcdd_prompt_pool *pool,
                                    const clcdd_eraser_config *cfg, const float *P,
                                    const size_t *pick, size_t B, clcdd_eraser_progress *losses,
                                    float *grad) {
    if (B == 0 || B > cfg->batch || B > 1024)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "batch of %zu prompts (1..%zu)", B, cfg->batch);
    eraser e;
    memset(&e, 0, sizeof e);
    e.ctx = ctx, e.base = base, e.model = model, e.pool = pool, e.cfg = cfg;
    e.ch = channels && clcdd_channel_set_total(channels) ? channels : NULL;
    e.d = model->hp.hidden_size, e.V = model->hp.vocab_size;
    clcdd_status st = setup(&e);
    if (st == CLCDD_OK) st = clcdd_tensor_upload(ctx, &e.P, P);
    if (st == CLCDD_OK) st = step(&e, pick, B, 0, 0, losses);
    if (st == CLCDD_OK) st = clcdd_tensor_download(ctx, &e.dP, grad);
    eraser_free(&e);
    return st;
}
