/* LCDD: Loss-Constrained Dual Descent (ALGORITHMS.md §3).
 *
 * Three copies of the model live on the device: the base W0 (frozen), the trainable W (starts as
 * the SFT model) and W_eff = W0 + (r c^T) * (W - W0), the model the forward and backward run on.
 * Per layer 8 mask groups, flat theta layout layer by layer in this order:
 *   ffn_read (d) | ffn_hidden (f) | ffn_write (d) | attn_read (d) | attn_q (d_q) | attn_k (d_kv)
 *   | attn_v (d_kv) | attn_write (d)
 * Masks are 1[theta > 0]. Norm weights of W are trained freely and used directly; embeddings and
 * lm_head are frozen. Everything per step stays on the device, including the dual update; the
 * host reads state only on logging steps. */
#ifndef CLCDD_ALGO_LCDD_H
#define CLCDD_ALGO_LCDD_H

#include "algo/train.h"

enum {
    CLCDD_MASK_FFN_READ = 0,
    CLCDD_MASK_FFN_HIDDEN,
    CLCDD_MASK_FFN_WRITE,
    CLCDD_MASK_ATTN_READ,
    CLCDD_MASK_ATTN_Q,
    CLCDD_MASK_ATTN_K,
    CLCDD_MASK_ATTN_V,
    CLCDD_MASK_ATTN_WRITE,
    CLCDD_MASK_GROUPS
};

const char *clcdd_mask_group_name(int group);

/* The seven masked projections: weight role, bias role, row-mask group, column-mask group, and
 * whether the columns take the kv-head expansion of attn_v (o_proj). */
typedef struct clcdd_masked_proj {
    clcdd_tensor_role role, bias;
    int row, col, expand;
} clcdd_masked_proj;
extern const clcdd_masked_proj clcdd_masked_projs[7];
/* Length of a group, its offset inside a layer's block, and the block size. */
size_t clcdd_mask_group_len(const clcdd_hparams *hp, int group);
size_t clcdd_mask_group_offset(const clcdd_hparams *hp, int group);
size_t clcdd_mask_layer_size(const clcdd_hparams *hp);

typedef struct clcdd_lcdd_config {
    clcdd_train_config train;   /* micro-batch, accumulation, steps, AdamW for the weights */
    float rho;                  /* budget slack: eps = baseline * (1 + rho) (0.30) */
    int64_t T_w;                /* penalty warm-up steps (300) */
    float lambda_init, lambda_min, lambda_max; /* 0.01, 1e-6, 10 */
    float eta_grow, eta_shrink; /* 0.1, 0.1 */
    float v_clip;               /* 0.5 */
    float ema_beta;             /* 0.95 */
    float theta_lr;             /* 0.1, plain SGD */
    float theta_mean, theta_std;/* init N(1.5, 0.5^2) */
    uint64_t seed;              /* theta init */
    int kl_loss;                /* task loss = KL(SFT || masked model) on the loss tokens */
    /* Optional early stop (ALGORITHMS.md §3, docs/lcdd.md): windows of es_window steps from the
     * step that sets the baseline on; stop when es_patience windows running have a stalled
     * active count (relative change < es_rel_change, once pruning has begun, EMA under budget)
     * or a task-loss median above baseline * es_loss_factor. */
    int early_stop;
    int64_t es_window;          /* 20 */
    int es_patience;            /* 3 */
    float es_rel_change;        /* 0.01 */
    float es_loss_factor;       /* 1.35; <= 0: no loss criterion (stall only) */
} clcdd_lcdd_config;

/* ALGORITHMS.md §3 defaults (the paper-scale recipe). */
void clcdd_lcdd_config_default(clcdd_lcdd_config *c, int64_t steps);

enum { CLCDD_LCDD_STOP_NONE = 0, CLCDD_LCDD_STOP_STALL = 1, CLCDD_LCDD_STOP_LOSS = 2 };

typedef struct clcdd_lcdd_state {
    float lambda, ema_hat, baseline, budget, last_loss, last_v;
    int baseline_set;
    size_t active, total;       /* active mask channels */
    /* Early-stop progress (host side; part of what a resume must restore). */
    size_t es_start_active;     /* active channels at the start of the current window */
    int es_stall_runs;          /* consecutive stalled windows */
    int es_loss_runs;           /* consecutive windows with the loss median over the limit */
    int es_armed;               /* pruning has begun: stall windows count from now on */
    int stop;                   /* CLCDD_LCDD_STOP_*: the early stop fired, and why */
    int64_t stop_step;          /* optimizer steps done when it fired */
    float es_last_median;       /* task-loss median of the last finished window */
} clcdd_lcdd_state;

/* One finished early-stop window: the active count at its end, its task-loss median, the EMA and
 * budget after its last step and the baseline. Updates the counters in es (and es->stop). Pure:
 * no device access. */
void clcdd_lcdd_es_window(const clcdd_lcdd_config *c, clcdd_lcdd_state *es, size_t active,
                          float median, float ema, float budget, float baseline);

typedef struct clcdd_lcdd {
    clcdd_ctx *ctx;
    clcdd_lcdd_config cfg;
    clcdd_model *w0;            /* base (borrowed) */
    clcdd_model w;              /* trainable weights (initialised from the SFT model) */
    clcdd_model weff;           /* effective model */
    clcdd_tensor theta, mask, dmask, dual; /* (n_mask) x 3, dual state (16) */
    size_t n_mask;
    clcdd_grads grads_w;        /* gradients of W (projections, biases, norms) */
    clcdd_optim optim;          /* AdamW over W */
    clcdd_trainer inner;        /* forward/backward machinery over W_eff (its optimizer unused) */
    int64_t step;
    const clcdd_model *sft;     /* the frozen SFT model (borrowed; the KL teacher with kl_loss) */
    clcdd_tensor es_losses;     /* early stop: the current window's task losses (es_window) */
    clcdd_lcdd_state es;        /* early-stop counters (only the es_* / stop fields are used) */
} clcdd_lcdd;

/* base and sft must have identical hparams. W is copied from sft, W_eff's frozen parts from base.
 * max_len: longest training sequence. With cfg->kl_loss, sft is the KL teacher and must outlive
 * the LCDD object (base always must). */
clcdd_status clcdd_lcdd_create(clcdd_ctx *ctx, clcdd_model *base, const clcdd_model *sft,
                               const clcdd_lcdd_config *cfg, size_t max_len, clcdd_lcdd *out);
void clcdd_lcdd_destroy(clcdd_lcdd *l);

/* One optimizer step. state (optional) is read back from the device when given. With
 * cfg.early_stop, l->es.stop becomes non-zero when the caller should stop (the step itself is
 * complete). */
clcdd_status clcdd_lcdd_step(clcdd_lcdd *l, const clcdd_dataset *d, clcdd_lcdd_state *state);

/* The part of a step after the gradient of W_eff (l->inner.grads) and the window's task loss
 * (l->inner.window_loss) are in place: straight-through mask gradients, the theta step, AdamW on
 * W and the dual update. clcdd_lcdd_step = clcdd_lcdd_build_effective, then
 * clcdd_trainer_accumulate on l->inner, then this; data-parallel training (algo/dp.h) reduces
 * the inner gradients and loss over the replicas in between. */
clcdd_status clcdd_lcdd_step_finish(clcdd_lcdd *l, clcdd_lcdd_state *state);

/* Recompute W_eff from the current masks and weights (the LCDD model). */
clcdd_status clcdd_lcdd_build_effective(clcdd_lcdd *l);

/* Read the dual state and count active channels (host sync). */
clcdd_status clcdd_lcdd_read_state(clcdd_lcdd *l, clcdd_lcdd_state *out);

#endif
