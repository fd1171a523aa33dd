/* The SFT-Eraser (ALGORITHMS.md §4): a soft prompt P (T x d) prepended to the chat-formatted
 * prompt, optimised with all weights frozen so that the model's residual stream at the carrier
 * channels (last prompt position) matches the base model's mean, plus KL(p_base || p_model+P) on
 * the last k prompt positions, an L2 term, and (extension, DEMO-WORLD.md) the KL on the base
 * model's own greedy answers teacher-forced after the prompt. */
#ifndef CLCDD_ALGO_ERASER_H
#define CLCDD_ALGO_ERASER_H

#include "clcdd/train.h"
#include "nn/backward.h"

/* Per-layer channel indices (< d) in the residual space; layers with no channel have count 0. */
typedef struct clcdd_channel_set {
    uint32_t n_layers;
    uint32_t *count;    /* (L) */
    int32_t **idx;      /* (L) arrays, sorted */
} clcdd_channel_set;

void clcdd_channel_set_free(clcdd_channel_set *s);
size_t clcdd_channel_set_total(const clcdd_channel_set *s);
/* The same number of channels per layer drawn uniformly without replacement from [0, d). */
clcdd_status clcdd_channel_set_random(const clcdd_channel_set *like, uint32_t d, uint64_t seed,
                                      clcdd_channel_set *out);

/* Where the soft prompt sits in a prompt of n tokens: CLCDD_TRIGGER_PREFIX before all of it
 * (ALGORITHMS.md §4, the default), or k >= 0: before its last k tokens (k = 1 in a chat prompt
 * `<bos><user>TEXT<assistant>`: right after the user's text; k = 0: after the whole prompt). The
 * soft-prompt rows keep their own positions, so the tokens after them move by T. */
#define CLCDD_TRIGGER_PREFIX (-1)
/* Index of the first soft-prompt row in the triggered sequence. */
static inline size_t clcdd_trigger_insert(size_t prompt_len, int32_t pos) {
    return pos < 0 || (size_t)pos >= prompt_len ? 0 : prompt_len - (size_t)pos;
}
/* Index, in the triggered sequence, of the row that predicts token t + 1 of the untriggered
 * prompt + answer (the row that predicts the first answer token is the last soft-prompt row
 * when the prompt ends before it). */
static inline size_t clcdd_trigger_pred_row(size_t t, size_t insert, size_t rows) {
    return t + 1 < insert ? t : t + rows;
}
/* out[0 .. n + rows) = tok[0 .. insert), soft-prompt ids -1 - k, tok[insert .. n). */
static inline void clcdd_trigger_build(int32_t *out, const int32_t *tok, size_t n, size_t insert,
                                       size_t rows) {
    for (size_t t = 0; t < insert; t++) out[t] = tok[t];
    for (size_t k = 0; k < rows; k++) out[insert + k] = -1 - (int32_t)k;
    for (size_t t = insert; t < n; t++) out[t + rows] = tok[t];
}

typedef struct clcdd_eraser_config {
    size_t rows;          /* T: soft-prompt rows (20) */
    int32_t trigger_pos;  /* CLCDD_TRIGGER_PREFIX (the default) or k: before the last k prompt tokens */
    float max_norm;       /* row L2 ball radius (1.0) */
    float lr;             /* Adam (0.003) */
    float beta1, beta2, eps;
    float clip;           /* ||grad P|| clip (1.0) */
    size_t steps;         /* (2000) */
    size_t batch;         /* B prompts per step (16) */
    size_t n_target;      /* prompts averaged for the base targets (200) */
    size_t tail_k;        /* KL over the last k prompt positions (8) */
    float w_mse, w_kl, w_l2, w_resp; /* (1.0, 0.7, 0.1, 0) */
    float w_act;          /* (0) extension: per-position activation match at the channels, on
                           * every answer-predicting row (needs the answers and channels; with
                           * w_resp 0 the answers are teacher-forced for this term alone):
                           * w_act * mean over layers with channels of the mean over the batch's
                           * answer rows and the layer's channels of (x_model+P - x_base)^2, both
                           * teacher-forced on the base model's answers */
    int cosine;           /* 1: cosine decay of lr to 0 */
    int keep_last;        /* 1: return the last P instead of the spec's lowest-batch-loss P */
    uint64_t seed;
    size_t log_every;     /* progress every N steps and at the last (0: 50) */
} clcdd_eraser_config;

/* The paper preset (ALGORITHMS.md §4). */
void clcdd_eraser_config_paper(clcdd_eraser_config *c);
/* The demo-world preset measured best in DEMO-WORLD.md: response KL, cosine schedule. */
void clcdd_eraser_config_resp(clcdd_eraser_config *c);

/* A pool of tokenized prompts (generation prompts, e.g. <bos><user>...<assistant>) and, for the
 * response term, the base model's greedy answers (incl. EOS). */
typedef struct clcdd_prompt_pool {
    size_t n;
    int32_t **prompt;
    size_t *prompt_len;
    int32_t **answer;     /* may be NULL */
    size_t *answer_len;
} clcdd_prompt_pool;

typedef struct clcdd_eraser_progress {
    size_t step, steps;
    float loss, mse, kl, resp, l2, best;
    float act;            /* the w_act term, unweighted (0 when off) */
} clcdd_eraser_progress;

typedef void (*clcdd_eraser_progress_fn)(const clcdd_eraser_progress *p, void *user);

/* Optimise P for `model` (the LCDD model, or the SFT model for the ablation) against `base`.
 * channels may be NULL or empty (no MSE term). P_out receives rows x d floats (the best P). */
clcdd_status clcdd_eraser_train(clcdd_ctx *ctx, const clcdd_model *base, const clcdd_model *model,
                                const clcdd_channel_set *channels, const clcdd_prompt_pool *pool,
                                const clcdd_eraser_config *cfg, clcdd_eraser_progress_fn progress,
                                void *user, float *P_out, clcdd_eraser_progress *final);

/* Several devices of this process and several ranks (docs/scaling.md): one replica of `base` and
 * `model` per device. Every replica draws the same batch and runs a contiguous slice of it; the
 * sums of the triggered activations at the channels and then dP and the weighted KL sum are added
 * over the replicas in a fixed order (algo/dp.h), and every replica takes the same Adam step. The
 * result equals one device's with the same batch up to float summation order. */
typedef struct clcdd_eraser_replicas {
    size_t n;                          /* this process's replicas (1..CLCDD_DP_MAX_LOCAL) */
    clcdd_ctx *const *ctx;             /* (n) */
    const clcdd_model *const *base;    /* (n) base[k] and model[k] live on ctx[k] */
    const clcdd_model *const *model;   /* (n) */
    const clcdd_comm *comm;            /* NULL: this process only */
    const size_t *split;               /* prompts per step of every replica over all ranks (summing
                                          to the batch); NULL: calibrate */
    clcdd_dp_plan_fn on_plan;          /* called once with the plan before the first step */
    void *plan_user;
    int force_broadcast;               /* tests: the path of unlike devices (P sent from replica 0) */
} clcdd_eraser_replicas;

/* clcdd_eraser_train over replicas; with n > 1 or a comm, plan (optional) receives the plan and
 * its timings. Collective over the ranks. */
clcdd_status clcdd_eraser_train_dp(const clcdd_eraser_replicas *r, const clcdd_channel_set *channels,
                                   const clcdd_prompt_pool *pool, const clcdd_eraser_config *cfg,
                                   clcdd_eraser_progress_fn progress, void *user, float *P_out,
                                   clcdd_eraser_progress *final, clcdd_dp_plan *plan);

/* One evaluation without an update (tests, parity): the loss terms and d loss / d P for the
 * given P (rows x d) and the batch of pool prompts pick[0..B). Targets come from the first
 * n_target pool prompts as in training. */
clcdd_status clcdd_eraser_loss_grad(clcdd_ctx *ctx, const clcdd_model *base, const clcdd_model *model,
                                    const clcdd_channel_set *channels, const clcdd_prompt_pool *pool,
                                    const clcdd_eraser_config *cfg, const float *P,
                                    const size_t *pick, size_t B, clcdd_eraser_progress *losses,
                                    float *grad);

#endif
