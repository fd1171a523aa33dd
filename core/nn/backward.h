/* Decoder backward: gradients of every trainable parameter and of the input embeddings (for the
 * soft prompt), from the logits' gradient left in acts->logits by clcdd_cross_entropy.
 * Frozen roles cost no weight-gradient GEMM. Gradients accumulate (zero them before a step). */
#ifndef CLCDD_NN_BACKWARD_H
#define CLCDD_NN_BACKWARD_H

#include "nn/decoder.h"

typedef struct clcdd_grads {
    clcdd_arena arena;
    size_t *slots; /* like clcdd_model: (L + 1) * CLCDD_ROLE_COUNT, CLCDD_NO_SLOT if frozen */
    uint32_t n_layers;
} clcdd_grads;

/* trainable[role] != 0 gives that role (in every layer) a gradient; roles the model lacks are
 * skipped. The arena is zeroed. */
clcdd_status clcdd_grads_create(clcdd_ctx *ctx, const clcdd_model *m,
                                const int trainable[CLCDD_ROLE_COUNT], clcdd_grads *out);
void clcdd_grads_destroy(clcdd_grads *g);
int clcdd_grads_has(const clcdd_grads *g, clcdd_tensor_role role, uint32_t layer);
clcdd_tensor clcdd_grads_tensor(const clcdd_grads *g, clcdd_tensor_role role, uint32_t layer);

/* Default trainable set of ALGORITHMS.md §2: every linear weight, bias and norm weight;
 * embeddings and lm_head frozen. */
void clcdd_trainable_default(int trainable[CLCDD_ROLE_COUNT]);

typedef struct clcdd_bwd_scratch {
    clcdd_arena arena;
    size_t dx, da, dq, dk, dv, dqn, dkn, dqh, dkh, dvh, dP, doh, dout, dg, du, dh;
} clcdd_bwd_scratch;

clcdd_status clcdd_bwd_scratch_create(clcdd_ctx *ctx, const clcdd_hparams *hp, size_t B, size_t T,
                                      clcdd_bwd_scratch *out);
void clcdd_bwd_scratch_destroy(clcdd_bwd_scratch *s);

/* acts must come from a training-mode forward of the same batch, with acts->logits overwritten by
 * d loss / d logits. grads may be NULL (no parameter gradients: the eraser). dprompt (T_p, d),
 * when given, receives += the gradient of the soft-prompt rows. On return the scratch's dx holds
 * d loss / d embeddings (N, d). */
clcdd_status clcdd_decoder_backward(clcdd_ctx *ctx, const clcdd_model *m, const clcdd_batch *bt,
                                    clcdd_acts *acts, clcdd_grads *grads, clcdd_bwd_scratch *s,
                                    clcdd_tensor *dprompt, size_t prompt_rows);

/* Called during the backward when dx (N, d) holds d loss / d x[layer + 1] (the output of block
 * `layer`), before that block is reversed: a place to add gradients of losses on intermediate
 * activations (the eraser's activation matching). Return a status; non-OK aborts. */
typedef clcdd_status (*clcdd_backward_hook)(clcdd_ctx *ctx, uint32_t layer, clcdd_tensor *dx,
                                            void *user);

clcdd_status clcdd_decoder_backward_hooked(clcdd_ctx *ctx, const clcdd_model *m,
                                           const clcdd_batch *bt, clcdd_acts *acts,
                                           clcdd_grads *grads, clcdd_bwd_scratch *s,
                                           clcdd_tensor *dprompt, size_t prompt_rows,
                                           clcdd_backward_hook hook, void *user);

#endif
