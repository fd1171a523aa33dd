/* Supervised training of a decoder on token sequences (SFT, pre-training of the demo world).
 * ALGORITHMS.md §2: cross-entropy on the marked tokens, micro-batches with gradient accumulation,
 * the window's loss = sum of token losses / loss tokens in the whole window, AdamW with global
 * norm clipping, warm-up then linear (or cosine) decay. Everything stays on the device; the host
 * uploads each micro-batch's token ids and reads the loss only when asked. */
#ifndef CLCDD_ALGO_TRAIN_H
#define CLCDD_ALGO_TRAIN_H

#include "nn/optim.h"

typedef struct clcdd_example {
    int32_t *ids;     /* len tokens */
    uint8_t *loss;    /* loss[t] = 1: token t is predicted from ids[0..t-1] and counted */
    size_t len;
} clcdd_example;

typedef struct clcdd_dataset {
    clcdd_example *items;
    size_t n, cap;
    size_t max_len;
} clcdd_dataset;

void clcdd_dataset_init(clcdd_dataset *d);
/* Copies ids and loss (loss may be NULL: every token after the first counts). */
clcdd_status clcdd_dataset_add(clcdd_dataset *d, const int32_t *ids, const uint8_t *loss, size_t len);
void clcdd_dataset_free(clcdd_dataset *d);

typedef enum clcdd_schedule { CLCDD_SCHED_LINEAR = 0, CLCDD_SCHED_COSINE = 1, CLCDD_SCHED_CONSTANT = 2 } clcdd_schedule;

typedef struct clcdd_train_config {
    size_t micro_batch;      /* sequences per micro-batch */
    size_t accum;            /* micro-batches per optimizer step */
    int64_t steps;           /* optimizer steps */
    int64_t warmup;          /* warm-up steps */
    clcdd_schedule schedule;
    clcdd_optim_config optim;
    uint64_t seed;           /* data order */
    int trainable[CLCDD_ROLE_COUNT];
    int no_optimizer;        /* 1: gradients only (a caller such as LCDD steps the weights itself) */
} clcdd_train_config;

/* ALGORITHMS.md §2 defaults: micro-batch 8, accumulation 4, AdamW lr 2e-5, 10% warm-up, linear
 * decay, clip 1.0, seed 42, embeddings and lm_head frozen. */
void clcdd_train_config_default(clcdd_train_config *c, int64_t steps);

typedef struct clcdd_trainer {
    clcdd_ctx *ctx;
    clcdd_model *model;
    clcdd_train_config cfg;
    size_t max_T;
    clcdd_acts acts;
    clcdd_bwd_scratch scratch;
    clcdd_grads grads;
    clcdd_optim optim;
    clcdd_tensor ids, pos, lens, targets, loss_rows, loss_sum, window_loss;
    clcdd_tensor csr_ids, csr_starts, csr_rows; /* embedding-gradient grouping (if trainable) */
    int32_t *h_ids, *h_pos, *h_tg, *h_csr;
    size_t *order;           /* data permutation of the current epoch */
    size_t cursor;           /* next position in order */
    uint64_t epoch;
    int64_t step;            /* optimizer steps done */
    const clcdd_model *teacher; /* optional: the loss is KL(teacher || model) (borrowed) */
    clcdd_acts teacher_acts;    /* the teacher's forward of the current micro-batch */
} clcdd_trainer;

clcdd_status clcdd_trainer_create(clcdd_ctx *ctx, clcdd_model *m, const clcdd_train_config *cfg,
                                  size_t max_len, clcdd_trainer *out);
void clcdd_trainer_destroy(clcdd_trainer *t);

/* Replace the cross-entropy by KL(teacher || model) on the same loss tokens:
 * sum_v p_teacher(v) (log p_teacher(v) - log p_model(v)), normalised like the cross-entropy (sum
 * over the window's loss tokens / their count). The teacher (same vocabulary, borrowed, must
 * outlive the trainer) runs a forward on each micro-batch before the model does; its logits are
 * not cached across steps (a cache of every loss token's V logits would not fit for real
 * vocabularies). */
clcdd_status clcdd_trainer_set_teacher(clcdd_trainer *t, const clcdd_model *teacher);

/* One optimizer step over cfg.accum micro-batches drawn in the seeded order. When loss is not
 * NULL, waits for the step and returns the window's mean token loss. */
clcdd_status clcdd_trainer_step(clcdd_trainer *t, const clcdd_dataset *d, float *loss);

/* The gradient half of a step: zero the gradients, run cfg.accum micro-batches (forward, loss,
 * backward), leave the gradients in t->grads and the window's mean loss in t->window_loss. */
clcdd_status clcdd_trainer_accumulate(clcdd_trainer *t, const clcdd_dataset *d);

/* The two halves of clcdd_trainer_accumulate, for data-parallel training (algo/dp.h), where every
 * replica draws the same window and computes the gradient of its slice of it:
 * pick_window draws the window's cfg.micro_batch * cfg.accum examples in the seeded order into
 * pick and counts their loss tokens (the window's normalisation); accumulate_picks zeroes the
 * gradients and the window loss and runs n examples of pick (micro-batches of cfg.micro_batch,
 * the last one possibly shorter; n may be 0) with every token loss multiplied by scale. */
clcdd_status clcdd_trainer_pick_window(clcdd_trainer *t, const clcdd_dataset *d, size_t *pick,
                                       size_t *window_tokens);
clcdd_status clcdd_trainer_accumulate_picks(clcdd_trainer *t, const clcdd_dataset *d,
                                            const size_t *pick, size_t n, float scale);

/* Learning rate of step s (0-based) under the config's schedule. */
float clcdd_train_lr(const clcdd_train_config *c, int64_t s);

#endif
