/* The training state of `clcdd sft` and `clcdd train` (LCDD), saved every N steps and read back
 * to resume a run bit-identically (docs/cli.md "Saving and resuming a run").
 *
 * One safetensors file, written to a temporary file in the same directory, fsync'ed, renamed over
 * the previous state and followed by an fsync of the directory: a crash or a failed write leaves
 * the previous state whole. Its __metadata__ holds the format and version, the run kind, the
 * identity of the run (model fingerprints, tokenized-data fingerprint, every option that shapes
 * the trajectory) and the counters (step, data epoch and cursor, optimizer step). Tensors (F32
 * unless said):
 *   param/NAME, optim.m/NAME, optim.v/NAME every trained tensor and its optimizer moments
 *                                          (NAME: the parameter's arena name; no optim.v for SGD)
 *   optim.gsq (1)                          the optimizer's last squared gradient norm
 *   data.order (n, U64)                    the current epoch's example order (absent before the
 *                                          first step)
 *   lcdd.theta (n_mask), lcdd.dual (16)    LCDD only: the mask logits and the dual state (lambda,
 *                                          loss EMA and its count, baseline, budget, last loss and
 *                                          v, flags; kernels/lcdd.cl)
 * The weights that are not trained (embeddings, lm_head, LCDD's base W0 and the frozen parts of
 * W_eff) come from the model files, which the fingerprints pin; the masks, W_eff and the
 * learning-rate schedule follow from the saved tensors and the step. */
#ifndef CLCDD_ALGO_TRAIN_STATE_H
#define CLCDD_ALGO_TRAIN_STATE_H

#include "algo/lcdd.h"
#include "clcdd/train.h"

#define CLCDD_STATE_MAX_OPTS 24

/* What a state must agree with to be resumed. */
typedef struct clcdd_state_ident {
    const char *kind;                 /* "sft" or "lcdd" */
    char base_fp[40];                 /* fingerprint of the starting (SFT) or base (LCDD) model */
    char sft_fp[40];                  /* LCDD: fingerprint of the SFT model; "" for SFT */
    char data_fp[40];                 /* the tokenized training set (ids and loss marks) */
    size_t n_examples;
    size_t n_opts;
    char opt_key[CLCDD_STATE_MAX_OPTS][24];  /* CLI flag names without "--" */
    char opt_val[CLCDD_STATE_MAX_OPTS][40];
} clcdd_state_ident;

/* Fill the identity of an SFT run of `start` (the freshly loaded base) on d. */
clcdd_status clcdd_state_ident_sft(clcdd_ctx *ctx, const clcdd_model *start, const clcdd_dataset *d,
                                   const clcdd_sft_options *o, clcdd_state_ident *id);
/* The identity of an LCDD run of (base, sft) on d; sft_fp as clcdd_model_fingerprint gives it. */
clcdd_status clcdd_state_ident_lcdd(clcdd_ctx *ctx, const clcdd_model *base, const char *sft_fp,
                                    const clcdd_dataset *d, const clcdd_lcdd_options *o,
                                    clcdd_state_ident *id);

/* Save the state after t->step optimizer steps; last_loss: the loss last reported. */
clcdd_status clcdd_state_save_sft(const char *path, const clcdd_state_ident *id,
                                  const clcdd_trainer *t, float last_loss);
/* Check the state at path against id and d (every tensor, shape and counter), then load it into
 * t (created for this run, not yet stepped). Nothing is changed when a check fails. */
clcdd_status clcdd_state_load_sft(const char *path, const clcdd_state_ident *id, clcdd_trainer *t,
                                  const clcdd_dataset *d, float *last_loss);

clcdd_status clcdd_state_save_lcdd(const char *path, const clcdd_state_ident *id, clcdd_lcdd *l);
clcdd_status clcdd_state_load_lcdd(const char *path, const clcdd_state_ident *id, clcdd_lcdd *l,
                                   const clcdd_dataset *d);

#endif
