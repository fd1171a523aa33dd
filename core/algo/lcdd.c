#include "algo/lcdd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/basic.h"
#include "runtime/ctx_internal.h"

static const char *group_names[CLCDD_MASK_GROUPS] = {"ffn_read", "ffn_hidden", "ffn_write",
                                                     "attn_read", "attn_q", "attn_k", "attn_v",
                                                     "attn_write"};

const char *clcdd_mask_group_name(int g) {
    return g >= 0 && g < CLCDD_MASK_GROUPS ? group_names[g] : "?";
}

size_t clcdd_mask_group_len(const clcdd_hparams *hp, int g) {
    size_t d = hp->hidden_size, f = hp->intermediate_size;
    size_t dq = (size_t)hp->n_heads * hp->head_dim, dkv = (size_t)hp->n_kv_heads * hp->head_dim;
    switch (g) {
    case CLCDD_MASK_FFN_READ: return d;
    case CLCDD_MASK_FFN_HIDDEN: return f;
    case CLCDD_MASK_FFN_WRITE: return d;
    case CLCDD_MASK_ATTN_READ: return d;
    case CLCDD_MASK_ATTN_Q: return dq;
    case CLCDD_MASK_ATTN_K: return dkv;
    case CLCDD_MASK_ATTN_V: return dkv;
    case CLCDD_MASK_ATTN_WRITE: return d;
    }
    return 0;
}

size_t clcdd_mask_group_offset(const clcdd_hparams *hp, int g) {
    size_t o = 0;
    for (int i = 0; i < g; i++) o += clcdd_mask_group_len(hp, i);
    return o;
}

size_t clcdd_mask_layer_size(const clcdd_hparams *hp) {
    return clcdd_mask_group_offset(hp, CLCDD_MASK_GROUPS);
}

void clcdd_lcdd_config_default(clcdd_lcdd_config *c, int64_t steps) {
    memset(c, 0, sizeof *c);
    clcdd_train_config_default(&c->train, steps);
    c->train.no_optimizer = 1; /* the inner trainer only computes gradients */
    c->rho = 0.30f;
    c->T_w = 300;
    c->lambda_init = 0.01f;
    c->lambda_min = 1e-6f;
    c->lambda_max = 10.0f;
    c->eta_grow = 0.1f;
    c->eta_shrink = 0.1f;
    c->v_clip = 0.5f;
    c->ema_beta = 0.95f;
    c->theta_lr = 0.1f;
    c->theta_mean = 1.5f;
    c->theta_std = 0.5f;
    c->seed = 42;
    c->es_window = 20;
    c->es_patience = 3;
    c->es_rel_change = 0.01f;
    c->es_loss_factor = 1.35f;
}

const clcdd_masked_proj clcdd_masked_projs[7] = {
    {CLCDD_ROLE_Q, CLCDD_ROLE_Q_BIAS, CLCDD_MASK_ATTN_Q, CLCDD_MASK_ATTN_READ, 0},
    {CLCDD_ROLE_K, CLCDD_ROLE_K_BIAS, CLCDD_MASK_ATTN_K, CLCDD_MASK_ATTN_READ, 0},
    {CLCDD_ROLE_V, CLCDD_ROLE_V_BIAS, CLCDD_MASK_ATTN_V, CLCDD_MASK_ATTN_READ, 0},
    {CLCDD_ROLE_O, CLCDD_ROLE_O_BIAS, CLCDD_MASK_ATTN_WRITE, CLCDD_MASK_ATTN_V, 1},
    {CLCDD_ROLE_GATE, CLCDD_ROLE_GATE_BIAS, CLCDD_MASK_FFN_HIDDEN, CLCDD_MASK_FFN_READ, 0},
    {CLCDD_ROLE_UP, CLCDD_ROLE_UP_BIAS, CLCDD_MASK_FFN_HIDDEN, CLCDD_MASK_FFN_READ, 0},
    {CLCDD_ROLE_DOWN, CLCDD_ROLE_DOWN_BIAS, CLCDD_MASK_FFN_WRITE, CLCDD_MASK_FFN_HIDDEN, 0},
};

static int is_norm(clcdd_tensor_role r) {
    return r == CLCDD_ROLE_ATTN_NORM || r == CLCDD_ROLE_FFN_NORM || r == CLCDD_ROLE_FINAL_NORM ||
           r == CLCDD_ROLE_Q_NORM || r == CLCDD_ROLE_K_NORM;
}

static clcdd_status copy_params(clcdd_ctx *ctx, clcdd_model *dst, const clcdd_model *src) {
    if (dst->params.n_chunks != src->params.n_chunks)
        return clcdd_fail(CLCDD_ERR_INTERNAL, "parameter layouts differ");
    for (size_t c = 0; c < src->params.n_chunks; c++)
        CL_TRY(clEnqueueCopyBuffer(ctx->queue, src->params.chunks[c], dst->params.chunks[c], 0, 0,
                                   src->params.chunk_bytes[c], 0, NULL, NULL),
               "copying model parameters");
    return CLCDD_OK;
}

static int same_hparams(const clcdd_hparams *a, const clcdd_hparams *b) {
    return a->vocab_size == b->vocab_size && a->hidden_size == b->hidden_size &&
           a->intermediate_size == b->intermediate_size && a->n_layers == b->n_layers &&
           a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads &&
           a->head_dim == b->head_dim && a->qkv_bias == b->qkv_bias && a->o_bias == b->o_bias &&
           a->mlp_bias == b->mlp_bias && a->qk_norm == b->qk_norm &&
           a->tie_word_embeddings == b->tie_word_embeddings;
}

clcdd_status clcdd_lcdd_create(clcdd_ctx *ctx, clcdd_model *base, const clcdd_model *sft,
                               const clcdd_lcdd_config *cfg, size_t max_len, clcdd_lcdd *l) {
    memset(l, 0, sizeof *l);
    if (!same_hparams(&base->hp, &sft->hp))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "the base and SFT models differ in shape: LCDD needs the SFT model to be a "
                          "fine-tune of the base");
    l->ctx = ctx;
    l->cfg = *cfg;
    l->cfg.train.no_optimizer = 1;
    l->w0 = base;
    l->sft = sft;
    if (cfg->early_stop && (cfg->es_window < 1 || cfg->es_patience < 1))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "LCDD early stop needs a window of at least 1 "
                          "step and a patience of at least 1 window");
    const clcdd_hparams *hp = &sft->hp;
    l->n_mask = clcdd_mask_layer_size(hp) * hp->n_layers;
    int64_t nm[1] = {(int64_t)l->n_mask}, nd[1] = {16};
    int tr[CLCDD_ROLE_COUNT];
    clcdd_trainable_default(tr);
    clcdd_status st;
    if ((st = clcdd_model_create(ctx, hp, &l->w)) || (st = clcdd_model_create(ctx, hp, &l->weff)) ||
        (st = copy_params(ctx, &l->w, sft)) || (st = copy_params(ctx, &l->weff, base)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, nm, "mask logits", &l->theta)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, nm, "masks", &l->mask)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, nm, "mask gradients", &l->dmask)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, nd, "dual state", &l->dual)) ||
        (st = clcdd_rng_normal(ctx, &l->theta, cfg->seed, 0, cfg->theta_mean, cfg->theta_std)) ||
        (st = clcdd_tensor_fill(ctx, &l->dual, 0.0f)) ||
        (st = clcdd_grads_create(ctx, &l->w, tr, &l->grads_w)) ||
        (st = clcdd_optim_create(ctx, &l->grads_w, &cfg->train.optim, &l->optim)) ||
        (st = clcdd_trainer_create(ctx, &l->weff, &l->cfg.train, max_len, &l->inner)) ||
        (cfg->kl_loss && (st = clcdd_trainer_set_teacher(&l->inner, sft))) ||
        (cfg->early_stop &&
         ((st = clcdd_tensor_create(ctx, CLCDD_F32, 1, (int64_t[1]){cfg->es_window},
                                    "early-stop window losses", &l->es_losses)) ||
          (st = clcdd_tensor_fill(ctx, &l->es_losses, 0.0f))))) {
        clcdd_lcdd_destroy(l);
        return st;
    }
    /* lambda starts at lambda_init */
    clcdd_tensor lam = l->dual;
    lam.shape[0] = 1;
    st = clcdd_tensor_fill(ctx, &lam, cfg->lambda_init);
    if (st != CLCDD_OK) clcdd_lcdd_destroy(l);
    return st;
}

void clcdd_lcdd_destroy(clcdd_lcdd *l) {
    clcdd_trainer_destroy(&l->inner);
    clcdd_optim_destroy(&l->optim);
    clcdd_grads_destroy(&l->grads_w);
    clcdd_tensor_destroy(&l->theta);
    clcdd_tensor_destroy(&l->mask);
    clcdd_tensor_destroy(&l->dmask);
    clcdd_tensor_destroy(&l->dual);
    clcdd_tensor_destroy(&l->es_losses);
    clcdd_model_destroy(&l->w);
    clcdd_model_destroy(&l->weff);
    memset(l, 0, sizeof *l);
}

static clcdd_status launch(clcdd_lcdd *l, const char *name, cl_kernel *k) {
    return clcdd_ctx_kernel(l->ctx, "lcdd", "", name, k);
}

/* Build W_eff for one (matrix or bias) given its row/column mask offsets. */
static clcdd_status masked_weight(clcdd_lcdd *l, clcdd_tensor_role role, uint32_t layer,
                                  size_t r_off, int has_r, size_t c_off, int has_c, int expand) {
    clcdd_tensor e, a, w;
    TRY(clcdd_model_tensor(&l->weff, role, layer, &e));
    TRY(clcdd_model_tensor(l->w0, role, layer, &a));
    TRY(clcdd_model_tensor(&l->w, role, layer, &w));
    cl_uint rows = (cl_uint)e.shape[0], cols = e.ndim > 1 ? (cl_uint)e.shape[1] : 1;
    cl_uint hd = expand ? l->w.hp.head_dim : 0, G = l->w.hp.n_heads / l->w.hp.n_kv_heads;
    cl_ulong eo = e.offset / 4, ao = a.offset / 4, wo = w.offset / 4, ro = r_off, co = c_off;
    cl_int hr = has_r, hc = has_c;
    cl_kernel k;
    TRY(launch(l, "lcdd_masked_weight", &k));
    int i = 0;
    KARG(k, i++, e.buf); KARG(k, i++, eo); KARG(k, i++, a.buf); KARG(k, i++, ao);
    KARG(k, i++, w.buf); KARG(k, i++, wo); KARG(k, i++, l->mask.buf); KARG(k, i++, ro);
    KARG(k, i++, hr); KARG(k, i++, co); KARG(k, i++, hc); KARG(k, i++, hd); KARG(k, i++, G);
    KARG(k, i++, rows); KARG(k, i++, cols);
    return clcdd_launch_1d(l->ctx, k, (size_t)rows * cols, "lcdd_masked_weight");
}

/* Straight-through gradients of one (matrix or bias). */
static clcdd_status masked_grad(clcdd_lcdd *l, clcdd_tensor_role role, uint32_t layer,
                                size_t r_off, size_t c_off, int has_c, int expand) {
    clcdd_tensor g = clcdd_grads_tensor(&l->inner.grads, role, layer);
    clcdd_tensor dw = clcdd_grads_tensor(&l->grads_w, role, layer), a, w;
    TRY(clcdd_model_tensor(l->w0, role, layer, &a));
    TRY(clcdd_model_tensor(&l->w, role, layer, &w));
    cl_uint rows = (cl_uint)w.shape[0], cols = w.ndim > 1 ? (cl_uint)w.shape[1] : 1;
    cl_uint hd = expand ? l->w.hp.head_dim : 0, G = l->w.hp.n_heads / l->w.hp.n_kv_heads;
    cl_ulong go = g.offset / 4, dwo = dw.offset / 4, ao = a.offset / 4, wo = w.offset / 4;
    cl_ulong ro = r_off, co = c_off;
    cl_int hr = 1, hc = has_c;
    cl_kernel k;
    TRY(launch(l, "lcdd_grad_rows", &k));
    int i = 0;
    KARG(k, i++, dw.buf); KARG(k, i++, dwo); KARG(k, i++, g.buf); KARG(k, i++, go);
    KARG(k, i++, a.buf); KARG(k, i++, ao); KARG(k, i++, w.buf); KARG(k, i++, wo);
    KARG(k, i++, l->mask.buf); KARG(k, i++, l->dmask.buf); KARG(k, i++, ro); KARG(k, i++, hr);
    KARG(k, i++, co); KARG(k, i++, hc); KARG(k, i++, hd); KARG(k, i++, G);
    KARG(k, i++, rows); KARG(k, i++, cols);
    TRY(clcdd_launch_1d(l->ctx, k, rows, "lcdd_grad_rows"));
    if (!has_c) return CLCDD_OK;
    cl_uint n_mask = expand ? l->w.hp.n_kv_heads * l->w.hp.head_dim : cols;
    TRY(launch(l, "lcdd_grad_cols", &k));
    i = 0;
    KARG(k, i++, g.buf); KARG(k, i++, go); KARG(k, i++, a.buf); KARG(k, i++, ao);
    KARG(k, i++, w.buf); KARG(k, i++, wo); KARG(k, i++, l->mask.buf); KARG(k, i++, l->dmask.buf);
    KARG(k, i++, ro); KARG(k, i++, hr); KARG(k, i++, co); KARG(k, i++, hd); KARG(k, i++, G);
    KARG(k, i++, rows); KARG(k, i++, cols); KARG(k, i++, n_mask);
    return clcdd_launch_1d(l->ctx, k, n_mask, "lcdd_grad_cols");
}

static clcdd_status copy_tensor(clcdd_ctx *ctx, const clcdd_tensor *dst, const clcdd_tensor *src) {
    clcdd_tensor d = *dst;
    return clcdd_tensor_copy(ctx, &d, src);
}

clcdd_status clcdd_lcdd_build_effective(clcdd_lcdd *l) {
    const clcdd_hparams *hp = &l->w.hp;
    size_t S = clcdd_mask_layer_size(hp);
    cl_kernel k;
    TRY(launch(l, "lcdd_hard_mask", &k));
    cl_ulong n = l->n_mask;
    KARG(k, 0, l->mask.buf);
    KARG(k, 1, l->theta.buf);
    KARG(k, 2, n);
    TRY(clcdd_launch_1d(l->ctx, k, l->n_mask, "lcdd_hard_mask"));
    for (uint32_t layer = 0; layer < hp->n_layers; layer++) {
        size_t base = layer * S;
        for (int p = 0; p < 7; p++) {
            size_t r = base + clcdd_mask_group_offset(hp, clcdd_masked_projs[p].row);
            size_t c = base + clcdd_mask_group_offset(hp, clcdd_masked_projs[p].col);
            TRY(masked_weight(l, clcdd_masked_projs[p].role, layer, r, 1, c, 1, clcdd_masked_projs[p].expand));
            if (clcdd_model_has(&l->w, clcdd_masked_projs[p].bias, layer))
                TRY(masked_weight(l, clcdd_masked_projs[p].bias, layer, r, 1, 0, 0, 0));
        }
    }
    /* Norm weights are trained freely: W_eff uses W's. */
    for (int role = 0; role < CLCDD_ROLE_COUNT; role++) {
        if (!is_norm((clcdd_tensor_role)role)) continue;
        uint32_t layers = clcdd_role_is_per_layer((clcdd_tensor_role)role) ? hp->n_layers : 1;
        for (uint32_t layer = 0; layer < layers; layer++) {
            if (!clcdd_model_has(&l->w, (clcdd_tensor_role)role, layer)) continue;
            clcdd_tensor dst, src;
            TRY(clcdd_model_tensor(&l->weff, (clcdd_tensor_role)role, layer, &dst));
            TRY(clcdd_model_tensor(&l->w, (clcdd_tensor_role)role, layer, &src));
            TRY(copy_tensor(l->ctx, &dst, &src));
        }
    }
    return CLCDD_OK;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void clcdd_lcdd_es_window(const clcdd_lcdd_config *c, clcdd_lcdd_state *es, size_t active,
                          float median, float ema, float budget, float baseline) {
    double start = (double)es->es_start_active;
    double rel = start > 0 ? fabs((double)active - start) / start : (active ? 1.0 : 0.0);
    int moved = rel >= (double)c->es_rel_change;
    if (moved) es->es_armed = 1;
    int stalled = es->es_armed && !moved && ema <= budget;
    es->es_stall_runs = stalled ? es->es_stall_runs + 1 : 0;
    int over = c->es_loss_factor > 0 && median > baseline * c->es_loss_factor;
    es->es_loss_runs = over ? es->es_loss_runs + 1 : 0;
    es->es_start_active = active;
    es->es_last_median = median;
    if (es->stop) return;
    if (es->es_stall_runs >= c->es_patience) es->stop = CLCDD_LCDD_STOP_STALL;
    else if (es->es_loss_runs >= c->es_patience) es->stop = CLCDD_LCDD_STOP_LOSS;
}

/* After optimizer step s (0-based; l->step is s + 1): the step that sets the baseline (s = T_w)
 * records the active count; every later step's task loss goes into the window; every es_window
 * steps the window is judged on the host. */
static clcdd_status early_stop_step(clcdd_lcdd *l, int64_t s) {
    const clcdd_lcdd_config *c = &l->cfg;
    if (s < c->T_w || l->es.stop) return CLCDD_OK;
    clcdd_lcdd_state cur;
    memset(&cur, 0, sizeof cur);
    if (s == c->T_w) {
        TRY(clcdd_lcdd_read_state(l, &cur));
        l->es.es_start_active = cur.active;
        return CLCDD_OK;
    }
    int64_t k = (s - c->T_w - 1) % c->es_window;
    CL_TRY(clEnqueueCopyBuffer(l->ctx->queue, l->inner.window_loss.buf, l->es_losses.buf,
                               l->inner.window_loss.offset, l->es_losses.offset + (size_t)k * 4, 4,
                               0, NULL, NULL),
           "recording the task loss for the LCDD early stop");
    if (k != c->es_window - 1) return CLCDD_OK;
    size_t W = (size_t)c->es_window;
    float *w = malloc(W * sizeof *w);
    if (!w) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "early-stop window");
    clcdd_status st = clcdd_tensor_download(l->ctx, &l->es_losses, w);
    if (st == CLCDD_OK) st = clcdd_lcdd_read_state(l, &cur);
    if (st == CLCDD_OK) {
        qsort(w, W, sizeof *w, cmp_float);
        float median = W % 2 ? w[W / 2] : 0.5f * (w[W / 2 - 1] + w[W / 2]);
        clcdd_lcdd_es_window(c, &l->es, cur.active, median, cur.ema_hat, cur.budget, cur.baseline);
        if (l->es.stop) l->es.stop_step = l->step;
    }
    free(w);
    return st;
}

clcdd_status clcdd_lcdd_step(clcdd_lcdd *l, const clcdd_dataset *d, clcdd_lcdd_state *state) {
    TRY(clcdd_lcdd_build_effective(l));
    TRY(clcdd_trainer_accumulate(&l->inner, d));
    return clcdd_lcdd_step_finish(l, state);
}

clcdd_status clcdd_lcdd_step_finish(clcdd_lcdd *l, clcdd_lcdd_state *state) {
    clcdd_ctx *ctx = l->ctx;
    const clcdd_hparams *hp = &l->w.hp;
    const clcdd_lcdd_config *c = &l->cfg;
    size_t S = clcdd_mask_layer_size(hp);
    TRY(clcdd_tensor_fill(ctx, &l->dmask, 0.0f));
    for (uint32_t layer = 0; layer < hp->n_layers; layer++) {
        size_t base = layer * S;
        for (int p = 0; p < 7; p++) {
            size_t r = base + clcdd_mask_group_offset(hp, clcdd_masked_projs[p].row);
            size_t cc = base + clcdd_mask_group_offset(hp, clcdd_masked_projs[p].col);
            TRY(masked_grad(l, clcdd_masked_projs[p].role, layer, r, cc, 1, clcdd_masked_projs[p].expand));
            if (clcdd_model_has(&l->w, clcdd_masked_projs[p].bias, layer))
                TRY(masked_grad(l, clcdd_masked_projs[p].bias, layer, r, 0, 0, 0));
        }
    }
    for (int role = 0; role < CLCDD_ROLE_COUNT; role++) {
        if (!is_norm((clcdd_tensor_role)role)) continue;
        uint32_t layers = clcdd_role_is_per_layer((clcdd_tensor_role)role) ? hp->n_layers : 1;
        for (uint32_t layer = 0; layer < layers; layer++) {
            if (!clcdd_grads_has(&l->grads_w, (clcdd_tensor_role)role, layer)) continue;
            clcdd_tensor dst = clcdd_grads_tensor(&l->grads_w, (clcdd_tensor_role)role, layer);
            clcdd_tensor src = clcdd_grads_tensor(&l->inner.grads, (clcdd_tensor_role)role, layer);
            TRY(copy_tensor(ctx, &dst, &src));
        }
    }
    /* theta: SGD on the straight-through gradient plus the ramped penalty. */
    float ramp = c->T_w > 0 ? (float)l->step / (float)c->T_w : 1.0f;
    if (ramp > 1.0f) ramp = 1.0f;
    cl_kernel k;
    TRY(launch(l, "lcdd_theta_step", &k));
    cl_ulong n = l->n_mask;
    float lr_t = c->theta_lr;
    int i = 0;
    KARG(k, i++, l->theta.buf); KARG(k, i++, l->dmask.buf); KARG(k, i++, n); KARG(k, i++, lr_t);
    KARG(k, i++, l->dual.buf); KARG(k, i++, ramp);
    TRY(clcdd_launch_1d(ctx, k, l->n_mask, "lcdd_theta_step"));
    /* weights: AdamW with clipping over the weight gradients only */
    TRY(clcdd_optim_step(ctx, &l->optim, &l->w, &l->grads_w, clcdd_train_lr(&c->train, l->step)));
    /* dual variable */
    TRY(launch(l, "lcdd_dual_update", &k));
    cl_int step = (cl_int)l->step, Tw = (cl_int)c->T_w;
    i = 0;
    KARG(k, i++, l->dual.buf); KARG(k, i++, l->inner.window_loss.buf); KARG(k, i++, step);
    KARG(k, i++, Tw); KARG(k, i++, c->ema_beta); KARG(k, i++, c->rho); KARG(k, i++, c->lambda_init);
    KARG(k, i++, c->lambda_min); KARG(k, i++, c->lambda_max); KARG(k, i++, c->eta_grow);
    KARG(k, i++, c->eta_shrink); KARG(k, i++, c->v_clip);
    TRY(clcdd_launch_1d(ctx, k, 1, "lcdd_dual_update"));
    l->step++;
    l->inner.step = l->step;
    if (c->early_stop) TRY(early_stop_step(l, step));
    if (state) TRY(clcdd_lcdd_read_state(l, state));
    return CLCDD_OK;
}

clcdd_status clcdd_lcdd_read_state(clcdd_lcdd *l, clcdd_lcdd_state *out) {
    float ds[16];
    TRY(clcdd_tensor_download(l->ctx, &l->dual, ds));
    float *th = malloc(l->n_mask * sizeof *th);
    if (!th) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "mask state");
    clcdd_status st = clcdd_tensor_download(l->ctx, &l->theta, th);
    size_t active = 0;
    for (size_t i = 0; st == CLCDD_OK && i < l->n_mask; i++) active += th[i] > 0;
    free(th);
    TRY(st);
    memset(out, 0, sizeof *out);
    out->lambda = ds[0];
    out->ema_hat = ds[2] > 0 ? ds[1] / (1.0f - powf(l->cfg.ema_beta, ds[2])) : 0;
    out->baseline = ds[3];
    out->budget = ds[4];
    out->last_loss = ds[5];
    out->last_v = ds[6];
    out->baseline_set = ((int)ds[8] & 1) != 0;
    out->active = active;
    out->total = l->n_mask;
    out->es_start_active = l->es.es_start_active;
    out->es_stall_runs = l->es.es_stall_runs;
    out->es_loss_runs = l->es.es_loss_runs;
    out->es_armed = l->es.es_armed;
    out->stop = l->es.stop;
    out->stop_step = l->es.stop_step;
    out->es_last_median = l->es.es_last_median;
    return CLCDD_OK;
}
