#include "algo/eraser.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "algo/dp.h"
#include "clcdd_internal.h"
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
    clcdd_tensor mse_rows, *chans, *targets, mse_loss, sums;
    clcdd_tensor act_rows_b, act_rows_t, act_diff, act_part; /* the w_act term */
    size_t max_kl_rows;
    size_t n_ch;                         /* channels over all layers: the floats of sums */
    size_t *ch_off;                      /* (L) the first float of each layer's channels in sums */
    int32_t *h_ids, *h_pos, *h_rows_b, *h_rows_t, *h_mse_rows, *h_act_b, *h_act_t;
    float *h_kw, *h_kl, *h_klv;
    /* the slice of the current step (slice_forward, then slice_backward) */
    size_t n, B, nk;                     /* its prompts, the whole batch's prompts, its KL rows */
    size_t n_act, na;                    /* its answer rows (w_act), the whole batch's */
    clcdd_batch bt;                      /* its triggered batch */
    float stats[5];                      /* its tail-KL sum and rows, response-KL sum and rows,
                                          * w_act term (unweighted) */
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

static int mse_on(const eraser *e) { return e->ch && e->cfg->w_mse != 0.0f; }
static int act_on(const eraser *e) {
    return e->ch && e->cfg->w_act != 0.0f && e->pool->answer;
}
/* The base's answers are teacher-forced after the prompts: for the response KL, the activation
 * match, or both. */
static int uses_answers(const clcdd_eraser_config *c, const clcdd_prompt_pool *p) {
    return (c->w_resp != 0.0f || c->w_act != 0.0f) && p->answer;
}

/* Layer l has channels in the MSE term. */
static int has_channels(const eraser *e, uint32_t l) {
    return e->ch && l < e->ch->n_layers && e->ch->count[l];
}

static void eraser_free(eraser *e) {
    clcdd_acts_destroy(&e->base_acts);
    clcdd_acts_destroy(&e->acts);
    clcdd_bwd_scratch_destroy(&e->scratch);
    clcdd_tensor *ts[] = {&e->P, &e->Pbest, &e->dP, &e->m, &e->v, &e->gsq, &e->best, &e->loss,
                          &e->part, &e->ids_b, &e->pos_b, &e->len_b, &e->ids_t, &e->pos_t,
                          &e->len_t, &e->rows_b, &e->rows_t, &e->kw, &e->kl, &e->klw, &e->logp,
                          &e->compact, &e->mse_rows, &e->mse_loss, &e->sums, &e->act_rows_b,
                          &e->act_rows_t, &e->act_diff, &e->act_part};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) clcdd_tensor_destroy(ts[i]);
    if (e->chans)
        for (uint32_t l = 0; l < e->base->hp.n_layers; l++) {
            clcdd_tensor_destroy(&e->chans[l]);
            clcdd_tensor_destroy(&e->targets[l]);
        }
    free(e->chans), free(e->targets), free(e->ch_off);
    free(e->h_ids), free(e->h_pos), free(e->h_rows_b), free(e->h_rows_t), free(e->h_mse_rows);
    free(e->h_act_b), free(e->h_act_t);
    free(e->h_kw), free(e->h_kl), free(e->h_klv);
}

/* dst[off + c] += the sum over the nb rows e->mse_rows of x[l + 1] of a at channel c of layer l. */
static clcdd_status act_accumulate(eraser *e, const clcdd_tensor *dst, cl_ulong off,
                                   const clcdd_acts *a, uint32_t l, size_t nb) {
    cl_kernel k;
    TRY(clcdd_ctx_kernel(e->ctx, "eraser", "", "act_accumulate", &k));
    clcdd_tensor x = clcdd_act(a, a->x[l + 1]);
    cl_ulong xo = x.offset / 4;
    cl_uint ub = (cl_uint)nb, uc = e->ch->count[l], ud = (cl_uint)e->d;
    int i = 0;
    KARG(k, i++, dst->buf); KARG(k, i++, off); KARG(k, i++, x.buf); KARG(k, i++, xo);
    KARG(k, i++, e->mse_rows.buf); KARG(k, i++, ub); KARG(k, i++, e->chans[l].buf);
    KARG(k, i++, uc); KARG(k, i++, ud);
    return clcdd_launch_1d(e->ctx, k, uc, "act_accumulate");
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
        for (uint32_t l = 0; l < e->base->hp.n_layers; l++)
            if (has_channels(e, l)) TRY(act_accumulate(e, &e->targets[l], 0, &e->base_acts, l, nb));
    }
    for (uint32_t l = 0; l < e->base->hp.n_layers; l++)
        if (has_channels(e, l)) TRY(clcdd_scale(ctx, &e->targets[l], &e->targets[l], 1.0f / (float)n));
    return CLCDD_OK;
}

/* act_mse at layer l against the batch mean e->sums / e->B: the weighted squared errors into
 * part, and the gradient into dx at the first n rows of mse_rows (dx NULL: none). */
static clcdd_status act_mse(eraser *e, uint32_t l, const clcdd_tensor *dx, size_t n) {
    cl_kernel k;
    TRY(clcdd_ctx_kernel(e->ctx, "eraser", "", "act_mse", &k));
    cl_mem dxb = dx ? dx->buf : e->dP.buf;
    cl_ulong dxo = dx ? dx->offset / 4 : 0, so = e->ch_off[l];
    cl_uint un = dx ? (cl_uint)n : 0, ub = (cl_uint)e->B, uc = e->ch->count[l], ud = (cl_uint)e->d;
    float scale = e->cfg->w_mse / ((float)e->L_c * (float)uc);
    int i = 0;
    KARG(k, i++, dxb); KARG(k, i++, dxo); KARG(k, i++, e->mse_rows.buf); KARG(k, i++, un);
    KARG(k, i++, ub); KARG(k, i++, e->chans[l].buf); KARG(k, i++, e->sums.buf); KARG(k, i++, so);
    KARG(k, i++, e->targets[l].buf); KARG(k, i++, e->part.buf); KARG(k, i++, uc); KARG(k, i++, ud);
    KARG(k, i++, scale);
    return clcdd_launch_1d(e->ctx, k, uc, "act_mse");
}

/* The channel MSE of the batch mean into loss[1], layer by layer in the backward's order: a
 * function of the whole batch's sums and the targets only, so the same on every replica. */
static clcdd_status mse_loss(eraser *e) {
    if (!mse_on(e)) return CLCDD_OK;
    int64_t s1[1] = {1};
    clcdd_tensor one, tmp;
    TRY(clcdd_tensor_view(&e->loss, 1, 1, s1, &one)); /* loss[1]: MSE accumulator */
    TRY(clcdd_tensor_view(&e->loss, 4, 1, s1, &tmp)); /* loss[4]: scratch */
    for (uint32_t l = e->model->hp.n_layers; l-- > 0;) {
        if (!has_channels(e, l)) continue;
        TRY(act_mse(e, l, NULL, 0));
        clcdd_tensor part = head(&e->part, e->ch->count[l]);
        TRY(clcdd_sum(e->ctx, &tmp, &part));
        TRY(clcdd_axpy(e->ctx, &one, &tmp, 1.0f));
    }
    return CLCDD_OK;
}

/* The backward's hook: the MSE gradient at this slice's rows (user: the eraser). */
/* The w_act term at layer l in the forward: diff = x_model+P - x_base at the slice's answer rows
 * and the layer's channels into act_diff (kept for the backward), the unweighted term into
 * loss[5]. */
static clcdd_status act_pair_forward(eraser *e, uint32_t l) {
    cl_kernel k;
    TRY(clcdd_ctx_kernel(e->ctx, "eraser", "", "act_pair_diff", &k));
    clcdd_tensor xm = clcdd_act(&e->acts, e->acts.x[l + 1]), xb = clcdd_act(&e->base_acts, e->base_acts.x[l + 1]);
    cl_ulong xmo = xm.offset / 4, xbo = xb.offset / 4, doff = (cl_ulong)(e->max_kl_rows * e->ch_off[l]);
    cl_uint un = (cl_uint)e->n_act, uc = e->ch->count[l], ud = (cl_uint)e->d;
    float scale = 1.0f / ((float)e->L_c * (float)uc * (float)e->na);
    int i = 0;
    KARG(k, i++, e->act_diff.buf); KARG(k, i++, doff); KARG(k, i++, xm.buf); KARG(k, i++, xmo);
    KARG(k, i++, xb.buf); KARG(k, i++, xbo); KARG(k, i++, e->act_rows_t.buf); KARG(k, i++, e->act_rows_b.buf);
    KARG(k, i++, un); KARG(k, i++, e->chans[l].buf); KARG(k, i++, e->act_part.buf); KARG(k, i++, uc);
    KARG(k, i++, ud); KARG(k, i++, scale);
    TRY(clcdd_launch_1d(e->ctx, k, uc, "act_pair_diff"));
    int64_t s1[1] = {1};
    clcdd_tensor acc, tmp, part = head(&e->act_part, uc);
    TRY(clcdd_tensor_view(&e->loss, 5, 1, s1, &acc));
    TRY(clcdd_tensor_view(&e->loss, 4, 1, s1, &tmp));
    TRY(clcdd_sum(e->ctx, &tmp, &part));
    return clcdd_axpy(e->ctx, &acc, &tmp, 1.0f);
}

/* Its gradient into dx (d loss / d x[l + 1]) at the slice's answer rows. */
static clcdd_status act_pair_backward(eraser *e, uint32_t l, const clcdd_tensor *dx) {
    cl_kernel k;
    TRY(clcdd_ctx_kernel(e->ctx, "eraser", "", "act_pair_grad", &k));
    cl_ulong dxo = dx->offset / 4, doff = (cl_ulong)(e->max_kl_rows * e->ch_off[l]);
    cl_uint un = (cl_uint)e->n_act, uc = e->ch->count[l], ud = (cl_uint)e->d;
    float g = 2.0f * e->cfg->w_act / ((float)e->L_c * (float)uc * (float)e->na);
    int i = 0;
    KARG(k, i++, dx->buf); KARG(k, i++, dxo); KARG(k, i++, e->act_rows_t.buf); KARG(k, i++, un);
    KARG(k, i++, e->chans[l].buf); KARG(k, i++, uc); KARG(k, i++, ud); KARG(k, i++, e->act_diff.buf);
    KARG(k, i++, doff); KARG(k, i++, g);
    return clcdd_launch_1d(e->ctx, k, uc, "act_pair_grad");
}

static clcdd_status mse_hook(clcdd_ctx *ctx, uint32_t l, clcdd_tensor *dx, void *user) {
    eraser *e = user;
    (void)ctx;
    if (!has_channels(e, l)) return CLCDD_OK;
    if (act_on(e) && e->n_act) TRY(act_pair_backward(e, l, dx));
    if (!mse_on(e)) return CLCDD_OK;
    return act_mse(e, l, dx, e->n);
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
    if (!uses_answers(c, e->pool)) maxa = 0;
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
    e->h_act_b = malloc(e->max_kl_rows * sizeof(int32_t));
    e->h_act_t = malloc(e->max_kl_rows * sizeof(int32_t));
    e->h_kw = malloc(e->max_kl_rows * sizeof(float));
    e->h_kl = malloc(e->max_kl_rows * sizeof(float));
    e->h_klv = malloc(e->max_kl_rows * sizeof(float));
    e->chans = calloc(hp->n_layers, sizeof *e->chans);
    e->targets = calloc(hp->n_layers, sizeof *e->targets);
    e->ch_off = calloc(hp->n_layers, sizeof *e->ch_off);
    if (!e->h_ids || !e->h_pos || !e->h_rows_b || !e->h_rows_t || !e->h_mse_rows || !e->h_act_b || !e->h_act_t || !e->h_kw ||
        !e->h_kl || !e->h_klv || !e->chans || !e->targets || !e->ch_off)
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "eraser buffers");
    e->n_ch = 0;
    for (uint32_t l = 0; l < hp->n_layers; l++) {
        e->ch_off[l] = e->n_ch;
        if (has_channels(e, l)) e->n_ch += e->ch->count[l];
    }
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
    TRY(mk(ctx, CLCDD_F32, e->n_ch, "channel sums", &e->sums));
    if (act_on(e)) {
        TRY(mk(ctx, CLCDD_I32, e->max_kl_rows, "answer rows (base)", &e->act_rows_b));
        TRY(mk(ctx, CLCDD_I32, e->max_kl_rows, "answer rows", &e->act_rows_t));
        TRY(mk(ctx, CLCDD_F32, e->max_kl_rows * e->n_ch, "activation differences", &e->act_diff));
        TRY(mk(ctx, CLCDD_F32, maxc, "activation-match losses", &e->act_part));
    }
    for (uint32_t l = 0; l < hp->n_layers; l++) {
        if (!has_channels(e, l)) continue;
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

/* Position t of a prompt of pn tokens followed by an answer of an tokens predicts an answer token
 * (a row of the response KL). */
static int answer_row(size_t t, size_t pn, size_t an) { return t + 1 >= pn && t + 1 < pn + an; }

/* The answer rows of the prompts pick[0..B): the response KL is their mean over the whole batch. */
static size_t answer_rows(const eraser *e, const size_t *pick, size_t B) {
    if (!uses_answers(e->cfg, e->pool)) return 0;
    size_t na = 0;
    for (size_t b = 0; b < B; b++) {
        size_t pn = e->pool->prompt_len[pick[b]], an = e->pool->answer_len[pick[b]];
        for (size_t t = 0; t + 1 <= pn + an; t++) na += (size_t)answer_row(t, pn, an);
    }
    return na;
}

/* ---- one step, in three phases ------------------------------------------------------------- */
/* On one device the phases run back to back. Over several replicas (docs/scaling.md), each runs
 * them on its slice of the batch: after slice_forward the channel sums are added over the
 * replicas (the MSE is of the whole batch's mean), after slice_backward dP and the weighted KL
 * sum are, and finish then takes the same step everywhere. Every weight is normalised by the
 * whole batch, so the slices' terms add up to the batch's. */

/* Phase 1 on the prompts pick[0..n) of a batch of B prompts with na answer rows in all: the base
 * and the triggered forward, the KL at the chosen rows (dlogits and the KL values) and the sums of
 * the triggered activations at the channels over these prompts into e->sums. */
static clcdd_status slice_forward(eraser *e, const size_t *pick, size_t n, size_t B, size_t na) {
    clcdd_ctx *ctx = e->ctx;
    const clcdd_eraser_config *c = e->cfg;
    size_t Tp = c->rows;
    int use_resp = uses_answers(c, e->pool);
    e->n = n, e->B = B, e->nk = 0, e->n_act = 0, e->na = na;
    memset(&e->bt, 0, sizeof e->bt);
    TRY(clcdd_tensor_fill(ctx, &e->loss, 0.0f));
    if (mse_on(e)) TRY(clcdd_tensor_fill(ctx, &e->sums, 0.0f));
    if (n == 0) return CLCDD_OK; /* an empty slice adds nothing */
    size_t Tb = 1;
    for (size_t b = 0; b < n; b++) {
        size_t len = e->pool->prompt_len[pick[b]] + (use_resp ? e->pool->answer_len[pick[b]] : 0);
        if (len > Tb) Tb = len;
    }
    size_t Tt = Tp + Tb, nk = 0;
    int32_t lens_b[1024], lens_t[1024];
    /* base batch */
    for (size_t b = 0; b < n; b++) {
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
            int ans = use_resp && answer_row(t, pn, an);
            float w = 0;
            if (c->w_kl != 0.0f && t >= k0 && t < pn) w += wt;
            if (ans) w += c->w_resp; /* scaled below */
            if (w == 0 && !ans) continue; /* answer rows stay for the activation match at w_resp 0 */
            e->h_rows_b[nk] = (int32_t)(b * Tb + t);
            e->h_rows_t[nk] = (int32_t)(b * Tt + clcdd_trigger_pred_row(t, ins, Tp));
            e->h_kw[nk] = w;
            e->h_kl[nk] = ans ? 1.0f : 0.0f; /* is answer row */
            nk++;
        }
    }
    if (use_resp && na) { /* mean over all answer positions of the batch */
        for (size_t i = 0; i < nk; i++)
            if (e->h_kl[i] != 0) e->h_kw[i] += c->w_resp / (float)na - c->w_resp;
    }
    e->nk = nk;
    if (act_on(e))
        for (size_t i = 0; i < nk; i++)
            if (e->h_kl[i] != 0) {
                e->h_act_b[e->n_act] = e->h_rows_b[i];
                e->h_act_t[e->n_act++] = e->h_rows_t[i];
            }
    clcdd_batch bb, bt;
    memset(&bb, 0, sizeof bb);
    memset(&bt, 0, sizeof bt);
    bb.B = bt.B = n, bb.T = Tb, bt.T = Tt;
    bb.ids = head(&e->ids_b, n * Tb), bb.pos = head(&e->pos_b, n * Tb), bb.key_len = head(&e->len_b, n);
    bt.ids = head(&e->ids_t, n * Tt), bt.pos = head(&e->pos_t, n * Tt), bt.key_len = head(&e->len_t, n);
    clcdd_tensor rb = head(&e->rows_b, nk), rt = head(&e->rows_t, nk), kw = head(&e->kw, nk);
    TRY(clcdd_tensor_upload(ctx, &bb.ids, e->h_ids));
    TRY(clcdd_tensor_upload(ctx, &bb.pos, e->h_pos));
    TRY(clcdd_tensor_upload(ctx, &bb.key_len, lens_b));
    if (nk) {
        TRY(clcdd_tensor_upload(ctx, &rb, e->h_rows_b));
        TRY(clcdd_tensor_upload(ctx, &rt, e->h_rows_t));
        TRY(clcdd_tensor_upload(ctx, &kw, e->h_kw));
    }
    if (e->n_act) {
        clcdd_tensor ab = head(&e->act_rows_b, e->n_act), at = head(&e->act_rows_t, e->n_act);
        TRY(clcdd_tensor_upload(ctx, &ab, e->h_act_b));
        TRY(clcdd_tensor_upload(ctx, &at, e->h_act_t));
    }
    /* triggered batch: soft-prompt rows then the same tokens */
    for (size_t b = 0; b < n; b++) {
        for (size_t t = 0; t < Tt; t++) {
            e->h_pos[b * Tt + t] = (int32_t)t;
        }
    }
    int32_t *tid = malloc(n * Tt * sizeof *tid);
    if (!tid) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "eraser batch");
    for (size_t b = 0; b < n; b++) {
        size_t pn = e->pool->prompt_len[pick[b]], ins = clcdd_trigger_insert(pn, c->trigger_pos);
        clcdd_trigger_build(tid + b * Tt, e->h_ids + b * Tb, Tb, ins, Tp);
        e->h_mse_rows[b] = (int32_t)(b * Tt + clcdd_trigger_pred_row(pn - 1, ins, Tp));
    }
    clcdd_tensor mr = head(&e->mse_rows, n);
    clcdd_status st = clcdd_tensor_upload(ctx, &bt.ids, tid);
    free(tid);
    TRY(st);
    TRY(clcdd_tensor_upload(ctx, &bt.pos, e->h_pos));
    TRY(clcdd_tensor_upload(ctx, &bt.key_len, lens_t));
    TRY(clcdd_tensor_upload(ctx, &mr, e->h_mse_rows));
    e->bt = bt;
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
    if (mse_on(e))
        for (uint32_t l = 0; l < e->model->hp.n_layers; l++)
            if (has_channels(e, l)) TRY(act_accumulate(e, &e->sums, e->ch_off[l], &e->acts, l, n));
    if (e->n_act) /* the base's activations of this batch are in base_acts (the response term ran) */
        for (uint32_t l = 0; l < e->model->hp.n_layers; l++)
            if (has_channels(e, l)) TRY(act_pair_forward(e, l));
    return CLCDD_OK;
}

/* Phase 2, once e->sums holds the whole batch's sums: the channel MSE (loss[1]), the backward of
 * the slice into dP with the MSE gradient hooked in, the weighted KL sum (loss[2]); with stats,
 * the slice's KL sums for the log (e->stats). */
static clcdd_status slice_backward(eraser *e, int stats) {
    clcdd_ctx *ctx = e->ctx;
    size_t nk = e->nk;
    TRY(mse_loss(e));
    TRY(clcdd_tensor_fill(ctx, &e->dP, 0.0f));
    if (e->n)
        TRY(clcdd_decoder_backward_hooked(ctx, e->model, &e->bt, &e->acts, NULL, &e->scratch, &e->dP,
                                          e->cfg->rows, mse_hook, e));
    if (nk) {
        /* klw = kw * kl, summed: reuse the scale-free dot through the partial buffer */
        int64_t s1[1] = {1};
        clcdd_tensor klv = head(&e->kl, nk), kwt = head(&e->kw, nk), part = head(&e->klw, nk), kls;
        TRY(clcdd_mul(ctx, &part, &klv, &kwt));
        TRY(clcdd_tensor_view(&e->loss, 2, 1, s1, &kls));
        TRY(clcdd_sum(ctx, &kls, &part));
        if (e->n_act) { /* the w_act term rides with the KL sum through the replicas' reduction */
            clcdd_tensor act;
            TRY(clcdd_tensor_view(&e->loss, 5, 1, s1, &act));
            TRY(clcdd_axpy(ctx, &kls, &act, e->cfg->w_act));
        }
    }
    memset(e->stats, 0, sizeof e->stats);
    if (stats && e->n_act) {
        int64_t s1[1] = {1};
        clcdd_tensor act;
        TRY(clcdd_tensor_view(&e->loss, 5, 1, s1, &act));
        TRY(clcdd_tensor_download(ctx, &act, &e->stats[4]));
    }
    if (stats && nk) {
        clcdd_tensor klv = head(&e->kl, nk);
        TRY(clcdd_tensor_download(ctx, &klv, e->h_klv));
        for (size_t i = 0; i < nk; i++) {
            int ans = e->h_kl[i] != 0;
            e->stats[ans ? 2 : 0] += e->h_klv[i];
            e->stats[ans ? 3 : 1] += 1.0f;
        }
    }
    return CLCDD_OK;
}

/* Phase 3, once dP and loss[2] hold the whole batch's: the L2 term and the total; with update
 * the best-P snapshot, the clipped Adam step and the projection. */
static clcdd_status finish(eraser *e, size_t it, int update) {
    clcdd_ctx *ctx = e->ctx;
    const clcdd_eraser_config *c = e->cfg;
    size_t Tp = c->rows;
    /* L2 term: w_l2 * mean_t ||P_t||^2 */
    int64_t s1[1] = {1};
    clcdd_tensor l2v, totv, mv, kls;
    TRY(clcdd_tensor_view(&e->loss, 3, 1, s1, &l2v));
    TRY(clcdd_tensor_view(&e->loss, 0, 1, s1, &totv));
    TRY(clcdd_tensor_view(&e->loss, 1, 1, s1, &mv));
    TRY(clcdd_tensor_view(&e->loss, 2, 1, s1, &kls));
    TRY(clcdd_sumsq(ctx, &l2v, &e->P));
    TRY(clcdd_scale(ctx, &l2v, &l2v, c->w_l2 / (float)Tp));
    TRY(clcdd_axpy(ctx, &e->dP, &e->P, 2.0f * c->w_l2 / (float)Tp));
    /* total = mse + l2 + sum_i w_i kl_i */
    TRY(clcdd_axpy(ctx, &totv, &mv, 1.0f));
    TRY(clcdd_axpy(ctx, &totv, &l2v, 1.0f));
    TRY(clcdd_axpy(ctx, &totv, &kls, 1.0f));
    if (!update) return CLCDD_OK;
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
    return CLCDD_OK;
}

/* The loss terms of the step just taken; stats: the batch's tail-KL sum and rows, response-KL sum
 * and rows. */
static clcdd_status report(eraser *e, const float *stats, clcdd_eraser_progress *pr) {
    float l[8];
    TRY(clcdd_tensor_download(e->ctx, &e->loss, l));
    pr->loss = l[0], pr->mse = l[1], pr->l2 = l[3];
    pr->kl = stats[0], pr->resp = stats[2], pr->act = stats[4];
    if (stats[3] != 0) pr->resp /= stats[3];
    if (stats[1] != 0) pr->kl /= stats[1];
    return clcdd_tensor_download(e->ctx, &e->best, &pr->best);
}

/* ---- the replicas ------------------------------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct group {
    eraser *e;                         /* the local replicas */
    size_t n;
    const clcdd_comm *comm;
    int dp;                            /* several replicas or ranks: the reductions and the plan */
    clcdd_dp_plan plan;
    size_t offset[CLCDD_DP_MAX];       /* first prompt of each replica's slice in the batch */
    size_t n_sums, n_grad;             /* floats of the two reductions */
    float *part[CLCDD_DP_MAX_LOCAL];   /* per local replica: its downloads (the sum lands in [0]) */
    float *gather;                     /* comm->size x the larger reduction */
    /* the current step */
    const size_t *pick;
    size_t B, na;
    int stats;
    double seconds[CLCDD_DP_MAX_LOCAL];
    double t_compute, t_reduce, t_step, t_exchange;
} group;

static const char *dev_name(const eraser *e) { return clcdd_ctx_device(e->ctx)->name; }

/* st, naming replica k when there are several. */
static clcdd_status replica_failed(const group *g, clcdd_status st, size_t k) {
    if (st == CLCDD_OK || !g->dp) return st;
    return clcdd_fail_context(st, "replica %zu on %s", k, dev_name(&g->e[k]));
}

static clcdd_status task_forward(void *user, size_t k) {
    group *g = user;
    eraser *e = &g->e[k];
    size_t r = g->plan.first + k;
    double t0 = now_s();
    clcdd_status st = slice_forward(e, g->pick + g->offset[r], g->plan.examples[r], g->B, g->na);
    if (st == CLCDD_OK) st = clcdd_ctx_finish(e->ctx);
    g->seconds[k] = now_s() - t0;
    if (st == CLCDD_OK && g->dp && g->n_sums) st = clcdd_tensor_download(e->ctx, &e->sums, g->part[k]);
    return replica_failed(g, st, k);
}

static clcdd_status task_backward(void *user, size_t k) {
    group *g = user;
    eraser *e = &g->e[k];
    double t0 = now_s();
    clcdd_status st = slice_backward(e, g->stats);
    if (st == CLCDD_OK) st = clcdd_ctx_finish(e->ctx);
    g->seconds[k] = now_s() - t0;
    if (st == CLCDD_OK && g->dp) {
        size_t nP = g->n_grad - 6;
        int64_t s1[1] = {1};
        clcdd_tensor kls;
        st = clcdd_tensor_download(e->ctx, &e->dP, g->part[k]);
        if (st == CLCDD_OK) st = clcdd_tensor_view(&e->loss, 2, 1, s1, &kls);
        if (st == CLCDD_OK) st = clcdd_tensor_download(e->ctx, &kls, g->part[k] + nP);
        memcpy(g->part[k] + nP + 1, e->stats, sizeof e->stats);
    }
    return replica_failed(g, st, k);
}

static double slowest(const group *g) {
    double s = 0;
    for (size_t k = 0; k < g->n; k++)
        if (g->seconds[k] > s) s = g->seconds[k];
    return s;
}

/* Overwrite the local replicas' tensor `field` with replica 0's of rank 0 (unlike devices). */
static clcdd_status broadcast(group *g, clcdd_tensor *(*field)(eraser *e, void *arg), void *arg) {
    clcdd_ctx *ctx[CLCDD_DP_MAX_LOCAL];
    clcdd_tensor *t[CLCDD_DP_MAX_LOCAL];
    for (size_t k = 0; k < g->n; k++) ctx[k] = g->e[k].ctx, t[k] = field(&g->e[k], arg);
    return clcdd_dp_broadcast_tensors(ctx, g->n, g->comm, t, 1);
}

static clcdd_tensor *field_P(eraser *e, void *arg) {
    (void)arg;
    return &e->P;
}

static clcdd_tensor *field_target(eraser *e, void *arg) { return &e->targets[*(const uint32_t *)arg]; }

/* One step of every replica on the batch pick[0..B) (update 0: no Adam step); pr: the loss terms. */
static clcdd_status group_step(group *g, const size_t *pick, size_t it, int update,
                               clcdd_eraser_progress *pr) {
    double t0 = now_s(), compute = 0;
    g->pick = pick;
    g->na = answer_rows(&g->e[0], pick, g->B);
    g->stats = pr != NULL;
    TRY(clcdd_dp_run(g->n, task_forward, g));
    compute += slowest(g);
    if (g->dp && g->n_sums) { /* reduction 1: the channel sums of the whole batch */
        TRY(clcdd_dp_reduce(g->part, g->n, g->n_sums, g->comm, g->gather, "the eraser's channel sums",
                            &g->t_exchange));
        for (size_t k = 0; k < g->n; k++)
            TRY(replica_failed(g, clcdd_tensor_upload(g->e[k].ctx, &g->e[k].sums, g->part[0]), k));
    }
    TRY(clcdd_dp_run(g->n, task_backward, g));
    compute += slowest(g);
    const float *stats = g->e[0].stats;
    if (g->dp) { /* reduction 2: dP, the weighted KL sum and the log's KL sums */
        TRY(clcdd_dp_reduce(g->part, g->n, g->n_grad, g->comm, g->gather, "the soft prompt's gradient",
                            &g->t_exchange));
        size_t nP = g->n_grad - 6;
        int64_t s1[1] = {1};
        for (size_t k = 0; k < g->n; k++) {
            eraser *e = &g->e[k];
            clcdd_tensor kls;
            clcdd_status st = clcdd_tensor_upload(e->ctx, &e->dP, g->part[0]);
            if (st == CLCDD_OK) st = clcdd_tensor_view(&e->loss, 2, 1, s1, &kls);
            if (st == CLCDD_OK) st = clcdd_tensor_upload(e->ctx, &kls, g->part[0] + nP);
            TRY(replica_failed(g, st, k));
        }
        stats = g->part[0] + nP + 1;
        g->t_compute += compute;
        g->t_reduce += now_s() - t0 - compute;
    }
    for (size_t k = 0; k < g->n; k++) TRY(replica_failed(g, finish(&g->e[k], it, update), k));
    if (g->dp && update && !g->plan.identical) {
        double tb = now_s();
        TRY(broadcast(g, field_P, NULL));
        g->t_reduce += now_s() - tb;
    }
    if (pr) TRY(report(&g->e[0], stats, pr));
    if (g->dp) {
        TRY(clcdd_ctx_finish(g->e[0].ctx));
        g->t_step += now_s() - t0;
    }
    return CLCDD_OK;
}

/* Each replica alone on the first m pool prompts, as if they were the batch: a warm-up (kernel
 * builds), then the fastest of three. */
static clcdd_status calibrate(eraser *e, const size_t *pick, size_t m, double *out) {
    size_t na = answer_rows(e, pick, m);
    *out = 0;
    for (int rep = 0; rep < 4; rep++) {
        double t0 = now_s();
        TRY(slice_forward(e, pick, m, m, na));
        TRY(slice_backward(e, 0));
        TRY(clcdd_ctx_finish(e->ctx));
        double t = now_s() - t0;
        if (rep == 1 || (rep > 1 && t < *out)) *out = t;
    }
    return CLCDD_OK;
}

static uint64_t hash_of(const void *p, size_t n, uint64_t h) { return clcdd_fnv1a64(p, n, h); }

/* The prompt pool, the channels and every setting that shapes the run: the ranks must agree. */
static uint64_t run_hash(const eraser *e) {
    const clcdd_prompt_pool *p = e->pool;
    const clcdd_eraser_config *c = e->cfg;
    int use_resp = uses_answers(c, p);
    uint64_t h = hash_of(&p->n, sizeof p->n, CLCDD_FNV_SEED);
    for (size_t i = 0; i < p->n; i++) {
        h = hash_of(p->prompt[i], p->prompt_len[i] * sizeof(int32_t), h);
        if (use_resp) h = hash_of(p->answer[i], p->answer_len[i] * sizeof(int32_t), h);
    }
    for (uint32_t l = 0; e->ch && l < e->ch->n_layers; l++) {
        h = hash_of(&e->ch->count[l], sizeof e->ch->count[l], h);
        h = hash_of(e->ch->idx[l], e->ch->count[l] * sizeof(int32_t), h);
    }
    uint64_t z[] = {c->rows, c->steps, c->batch, c->n_target, c->tail_k, (uint64_t)c->cosine, c->seed,
                    (uint64_t)c->keep_last};
    float f[] = {c->max_norm, c->lr, c->beta1, c->beta2, c->eps, c->clip, c->w_mse, c->w_kl, c->w_l2, c->w_resp,
                 c->w_act};
    h = hash_of(z, sizeof z, h);
    return hash_of(f, sizeof f, h);
}

static void group_free(group *g) {
    for (size_t k = 0; k < CLCDD_DP_MAX_LOCAL; k++) free(g->part[k]);
    free(g->gather);
}

/* The plan: calibration (unless split), the exchange with the other ranks, the broadcast of
 * replica 0's targets and P when the devices are not alike. */
static clcdd_status group_plan(group *g, const clcdd_eraser_replicas *r) {
    eraser *e = g->e;
    size_t nP = e->cfg->rows * e->d, most;
    g->n_sums = mse_on(e) ? e->n_ch : 0;
    g->n_grad = nP + 6; /* dP, the weighted KL sum, the 5 stats */
    most = g->n_sums > g->n_grad ? g->n_sums : g->n_grad;
    for (size_t k = 0; k < g->n; k++)
        if (!(g->part[k] = malloc(most * sizeof(float))))
            return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "eraser: host buffer of %zu bytes for the "
                              "reductions of replica %zu", most * sizeof(float), k);
    double calib[CLCDD_DP_MAX_LOCAL] = {0};
    if (!r->split) {
        size_t m = (g->B + g->n - 1) / g->n, pick[1024];
        for (size_t i = 0; i < m; i++) pick[i] = i;
        for (size_t k = 0; k < g->n; k++) TRY(replica_failed(g, calibrate(&e[k], pick, m, &calib[k]), k));
    }
    clcdd_ctx *ctx[CLCDD_DP_MAX_LOCAL];
    for (size_t k = 0; k < g->n; k++) ctx[k] = e[k].ctx;
    clcdd_dp_setup su = {g->n_sums + g->n_grad, g->B, e->cfg->steps, e->cfg->seed, run_hash(e),
                         "prompts", "the batch", "prompt set", "prompts, channels and eraser settings"};
    TRY(clcdd_dp_make_plan(&g->plan, g->offset, ctx, g->n, calib, g->comm, &su, r->split));
    if (r->force_broadcast) g->plan.identical = 0;
    int size = g->comm ? g->comm->size : 1;
    if (size > 1 && !(g->gather = malloc((size_t)size * most * sizeof(float))))
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "eraser: host buffer for %d ranks' reductions "
                          "(%zu bytes)", size, (size_t)size * most * sizeof(float));
    if (!g->plan.identical) {
        TRY(broadcast(g, field_P, NULL));
        for (uint32_t l = 0; l < e->model->hp.n_layers; l++)
            if (has_channels(e, l)) TRY(broadcast(g, field_target, &l));
    }
    return CLCDD_OK;
}

static clcdd_status check_act(const clcdd_eraser_config *cfg, const clcdd_prompt_pool *pool,
                              const clcdd_channel_set *channels) {
    if (cfg->w_act != 0.0f && (!pool->answer || !channels || !clcdd_channel_set_total(channels)))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "the per-position activation match (w_act) needs the "
                          "base model's answers to the prompts and a non-empty channel set");
    return CLCDD_OK;
}

clcdd_status clcdd_eraser_train_dp(const clcdd_eraser_replicas *r, const clcdd_channel_set *channels,
                                   const clcdd_prompt_pool *pool, const clcdd_eraser_config *cfg,
                                   clcdd_eraser_progress_fn progress, void *user, float *P_out,
                                   clcdd_eraser_progress *final, clcdd_dp_plan *plan) {
    if (plan) memset(plan, 0, sizeof *plan);
    if (!pool || pool->n == 0) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "the eraser needs prompts");
    if (cfg->batch == 0 || cfg->batch > 1024 || cfg->rows == 0)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "eraser batch must be 1..1024 and rows > 0");
    if (cfg->w_resp != 0.0f && !pool->answer)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "the response-KL term needs the base model's answers for the prompt pool");
    TRY(check_act(cfg, pool, channels));
    if (!r || r->n == 0 || r->n > CLCDD_DP_MAX_LOCAL || !r->ctx || !r->base || !r->model)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "eraser: 1 to %d devices with a base and a "
                          "model each", CLCDD_DP_MAX_LOCAL);
    for (size_t k = 0; k < r->n; k++)
        if (!r->ctx[k] || !r->base[k] || !r->model[k])
            return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "eraser: device %zu has no context or model", k);
    eraser e[CLCDD_DP_MAX_LOCAL];
    group g;
    memset(e, 0, sizeof e);
    memset(&g, 0, sizeof g);
    g.e = e, g.n = r->n, g.comm = r->comm, g.dp = r->n > 1 || r->comm != NULL;
    g.B = cfg->batch < pool->n ? cfg->batch : pool->n;
    clcdd_status st = CLCDD_OK;
    size_t n_set = 0;
    for (size_t k = 0; k < r->n && st == CLCDD_OK; k++) {
        e[k].ctx = r->ctx[k], e[k].base = r->base[k], e[k].model = r->model[k];
        e[k].pool = pool, e[k].cfg = cfg;
        e[k].ch = channels && clcdd_channel_set_total(channels) ? channels : NULL;
        e[k].d = r->model[k]->hp.hidden_size, e[k].V = r->model[k]->hp.vocab_size;
        n_set++;
        st = setup(&e[k]);
        st = replica_failed(&g, st, k);
    }
    if (st == CLCDD_OK && g.dp) {
        st = group_plan(&g, r);
        if (st == CLCDD_OK && r->on_plan) r->on_plan(&g.plan, r->plan_user);
    } else {
        g.plan.examples[0] = g.B;
    }
    uint64_t rng = cfg->seed;
    clcdd_eraser_progress pr;
    memset(&pr, 0, sizeof pr);
    pr.steps = cfg->steps;
    size_t pick[1024], every = cfg->log_every ? cfg->log_every : 50, it = 0;
    for (; st == CLCDD_OK && it < cfg->steps; it++) {
        int log = progress && (it % every == 0 || it + 1 == cfg->steps);
        pr.step = it;
        draw_batch(&e[0], &rng, pick, g.B);
        st = group_step(&g, pick, it, 1, log || (final && it + 1 == cfg->steps) ? &pr : NULL);
        if (st == CLCDD_OK && log) progress(&pr, user);
    }
    if (st == CLCDD_OK) {
        float best = INFINITY;
        st = clcdd_tensor_download(e[0].ctx, &e[0].best, &best);
        const clcdd_tensor *keep = isfinite(best) && !cfg->keep_last ? &e[0].Pbest : &e[0].P;
        if (st == CLCDD_OK) st = clcdd_tensor_download(e[0].ctx, keep, P_out);
        pr.best = best;
    }
    if (g.dp) {
        clcdd_dp_plan_timings(&g.plan, (int64_t)it, g.t_compute, g.t_reduce, g.t_step, g.t_exchange);
        if (plan) *plan = g.plan;
    }
    if (final) *final = pr;
    for (size_t k = 0; k < n_set; k++) eraser_free(&e[k]);
    group_free(&g);
    return st;
}

clcdd_status clcdd_eraser_train(clcdd_ctx *ctx, const clcdd_model *base, const clcdd_model *model,
                                const clcdd_channel_set *channels, const clcdd_prompt_pool *pool,
                                const clcdd_eraser_config *cfg, clcdd_eraser_progress_fn progress,
                                void *user, float *P_out, clcdd_eraser_progress *final) {
    clcdd_eraser_replicas r;
    memset(&r, 0, sizeof r);
    r.n = 1, r.ctx = &ctx, r.base = &base, r.model = &model;
    return clcdd_eraser_train_dp(&r, channels, pool, cfg, progress, user, P_out, final, NULL);
}

clcdd_status clcdd_eraser_loss_grad(clcdd_ctx *ctx, const clcdd_model *base, const clcdd_model *model,
                                    const clcdd_channel_set *channels, const clcdd_prompt_pool *pool,
                                    const clcdd_eraser_config *cfg, const float *P,
                                    const size_t *pick, size_t B, clcdd_eraser_progress *losses,
                                    float *grad) {
    if (B == 0 || B > cfg->batch || B > 1024)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "batch of %zu prompts (1..%zu)", B, cfg->batch);
    TRY(check_act(cfg, pool, channels));
    eraser e;
    memset(&e, 0, sizeof e);
    e.ctx = ctx, e.base = base, e.model = model, e.pool = pool, e.cfg = cfg;
    e.ch = channels && clcdd_channel_set_total(channels) ? channels : NULL;
    e.d = model->hp.hidden_size, e.V = model->hp.vocab_size;
    clcdd_status st = setup(&e);
    if (st == CLCDD_OK) st = clcdd_tensor_upload(ctx, &e.P, P);
    if (st == CLCDD_OK) st = slice_forward(&e, pick, B, B, answer_rows(&e, pick, B));
    if (st == CLCDD_OK) st = slice_backward(&e, losses != NULL);
    if (st == CLCDD_OK) st = finish(&e, 0, 0);
    if (st == CLCDD_OK && losses) st = report(&e, e.stats, losses);
    if (st == CLCDD_OK) st = clcdd_tensor_download(ctx, &e.dP, grad);
    eraser_free(&e);
    return st;
}
