/* The demo world pipeline behind `clcdd demo`: the embedded base model, fixed-response SFT,
 * LCDD, the SFT-Eraser and its ablations, and the result table (docs/demo.md). */
#ifndef CLCDD_DEMO_H
#define CLCDD_DEMO_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd/erase.h"
#include "clcdd/runtime.h"
#include "clcdd/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clcdd_demo_options {
    int quick;              /* a ~1-minute smoke run (CI) */
    uint64_t seed;
    size_t eval_n;          /* held-out prompts evaluated (400) */
    int64_t sft_steps;      /* (300) */
    int64_t lcdd_steps;     /* (1000) */
    size_t eraser_steps;    /* (600) */
    size_t pool_n;          /* eraser prompt pool (2000) */
    /* LCDD settings of the demo world (docs/demo.md) */
    float lcdd_lr;          /* AdamW lr of the weights, constant */
    float lcdd_theta_lr;    /* SGD lr of the mask logits */
    float lcdd_rho;         /* budget slack */
    int64_t lcdd_warmup;    /* T_w */
    float lcdd_lambda_min;  /* floor of the dual variable */
    int lcdd_kl_loss;       /* KL-to-SFT task loss instead of the cross-entropy */
    int lcdd_early_stop;    /* the early stop's stall criterion (off; docs/demo.md) */
    int lcdd_only;          /* 1: stop after the LCDD row (no eraser stages, no eraser pool) */
    /* eraser settings, the same for every eraser row (docs/demo.md; 0: the preset's) */
    int64_t eraser_rows;    /* soft-prompt rows T (20) */
    float eraser_lr;        /* Adam lr, cosine-decayed (3e-3) */
    float eraser_w_mse;     /* weight of the activation MSE at the channel set (1.0; < 0: 0) */
    int32_t eraser_trigger; /* -1: soft prompt before <bos> (the spec); k >= 0: before the
                             * prompt's last k tokens (1: between the user's text and <assistant>) */
    int core_rows;          /* 1: only the LCDD + eraser and SFT + eraser (KL only) eraser rows */
    float eraser_w_act;     /* weight of the per-position activation match at the channel set on
                             * the answer rows (0: off; rows without channels never use it) */
    int eraser_keep_last;   /* 1: keep the last P, not the lowest-batch-loss P of the spec */
    float eraser_w_resp;    /* weight of the response KL (1.0; < 0: 0, which leaves the channel
                             * terms alone on the rows with channels) */
    int other_carrier_row;  /* 1: also train a second carrier (LCDD seeded seed + 1) and add the row
                             * "LCDD + eraser (other carrier)": the eraser on the first LCDD
                             * model with the second carrier's write channels */
    int lcdd_all_tokens;    /* 1: LCDD's task loss on the prompt tokens too (SFT's stays on the
                             * answers); pair with lcdd_kl_loss (docs/demo.md) */
} clcdd_demo_options;

CLCDD_API void clcdd_demo_options_default(clcdd_demo_options *o, int quick);

typedef struct clcdd_demo_row {
    char name[48];
    double strict, loose, fragments, first_agree, task_acc;
    double kl_sft, kl_base;   /* KL(SFT || row), KL(Base || row) on the base's own answers */
    double sparsity;          /* carrier sparsity (LCDD rows), else -1 */
    double seconds;           /* wall time of the stage that made the row */
} clcdd_demo_row;

#define CLCDD_DEMO_ROWS 8

typedef void (*clcdd_demo_progress_fn)(const char *stage, size_t step, size_t steps,
                                       const char *detail, void *user);

CLCDD_API clcdd_status clcdd_demo_run(clcdd_ctx *ctx, const clcdd_demo_options *o,
                                      clcdd_demo_progress_fn progress, void *user,
                                      clcdd_demo_row rows[CLCDD_DEMO_ROWS], size_t *n_rows);

/* Structured records of a demo run, for reports and plots (every callback may be NULL). Steps
 * are 1-based; sft_step and lcdd_step come every step of a short stage and every 5th of a long
 * one (and at the last); eraser_step every 10th of a long run. lcdd_step fills the dual state
 * and the active-channel counts; row names the result row the eraser run makes. carrier gives
 * the LCDD carrier's density per layer and mask group (density[l * 8 + g], include/clcdd/carrier.h). */
typedef struct clcdd_demo_observer {
    void *user;
    void (*sft_step)(const clcdd_train_progress *p, void *user);
    void (*lcdd_step)(const clcdd_train_progress *p, void *user);
    void (*eraser_step)(const char *row, const clcdd_erase_progress *p, void *user);
    void (*carrier)(const double *density, uint32_t n_layers, void *user);
} clcdd_demo_observer;

/* clcdd_demo_run with an observer (NULL: none). */
CLCDD_API clcdd_status clcdd_demo_run_observed(clcdd_ctx *ctx, const clcdd_demo_options *o,
                                               clcdd_demo_progress_fn progress, void *user,
                                               const clcdd_demo_observer *observer,
                                               clcdd_demo_row rows[CLCDD_DEMO_ROWS], size_t *n_rows);

/* Pre-train a demo-world base model from scratch (the recipe that made the embedded one):
 * 200,000 training samples (15% echo), AdamW 1.5e-3, batch 128, cosine schedule with 5% warm-up,
 * every parameter trainable, init N(0, 0.02^2) with seed 1. Writes an HF checkpoint to out_dir.
 * Deterministic: the same build on the same device gives a bit-identical model. */
CLCDD_API clcdd_status clcdd_demo_pretrain(clcdd_ctx *ctx, int64_t steps, const char *out_dir,
                                 clcdd_demo_progress_fn progress, void *user, float *final_loss);

#ifdef __cplusplus
}
#endif
#endif
