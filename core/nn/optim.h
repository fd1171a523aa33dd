/* Optimizers on the device (kernels/optim.cl): AdamW, Adam (coupled L2), SGD with momentum, with
 * global gradient-norm clipping computed on the device, and the learning-rate schedule of
 * ALGORITHMS.md §2 (linear warm-up, then linear decay). State lives in arenas shaped like the
 * gradients. */
#ifndef CLCDD_NN_OPTIM_H
#define CLCDD_NN_OPTIM_H

#include "nn/backward.h"

typedef enum clcdd_optim_kind { CLCDD_OPT_ADAMW = 0, CLCDD_OPT_ADAM = 1, CLCDD_OPT_SGD = 2 } clcdd_optim_kind;

typedef struct clcdd_optim_config {
    clcdd_optim_kind kind;
    float lr;            /* peak learning rate */
    float beta1, beta2, eps;
    float weight_decay;
    float momentum;      /* SGD */
    float max_grad_norm; /* <= 0: no clipping */
} clcdd_optim_config;

/* AdamW defaults of ALGORITHMS.md §2: lr 2e-5, betas 0.9/0.999, eps 1e-8, wd 0, clip 1.0. */
clcdd_optim_config clcdd_optim_default(void);

typedef struct clcdd_optim {
    clcdd_optim_config cfg;
    int64_t step;        /* steps taken */
    clcdd_arena m, v;    /* Adam moments, or SGD momentum buffer in m */
    clcdd_tensor gsq;    /* (1) global squared gradient norm of the last step */
} clcdd_optim;

clcdd_status clcdd_optim_create(clcdd_ctx *ctx, const clcdd_grads *grads,
                                const clcdd_optim_config *cfg, clcdd_optim *out);
void clcdd_optim_destroy(clcdd_optim *o);

/* gsq = sum of squares of every gradient tensor (fixed order). */
clcdd_status clcdd_grads_sumsq(clcdd_ctx *ctx, const clcdd_grads *g, clcdd_tensor *gsq);

/* One step on every parameter that has a gradient, at learning rate lr (the caller's schedule).
 * Computes the global norm first when clipping is on. */
clcdd_status clcdd_optim_step(clcdd_ctx *ctx, clcdd_optim *o, clcdd_model *m,
                              const clcdd_grads *g, float lr);

/* Linear warm-up over warmup steps to peak, then linear decay to 0 at total steps. */
float clcdd_lr_linear(float peak, int64_t step, int64_t warmup, int64_t total);

#endif
