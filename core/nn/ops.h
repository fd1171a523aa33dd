/* Host wrappers of the decoder's forward/backward kernel pairs (kernels/rmsnorm.cl, rope.cl,
 * attention.cl, swiglu.cl, loss.cl). Argument order: outputs, inputs, weights, dimensions.
 * Dimension legend: B batch, T sequence, N = B*T rows, d hidden, H heads, hd head dim, f MLP
 * width, V vocabulary. All tensors F32 except positions, key lengths and targets (I32).
 * Functions enqueue and return; backward functions that say "accumulate" add into gradients
 * (callers zero them before a step). */
#ifndef CLCDD_NN_OPS_H
#define CLCDD_NN_OPS_H

#include "clcdd/runtime.h"

/* y (rows, d) = rmsnorm(x) * w; rstd (rows) saved for the backward. */
clcdd_status clcdd_rmsnorm_forward(clcdd_ctx *ctx, clcdd_tensor *y, clcdd_tensor *rstd,
                                   const clcdd_tensor *x, const clcdd_tensor *w, size_t rows,
                                   size_t d, float eps);
/* dx = (or += when accumulate) d/dx; dw += d/dw unless dw is NULL (frozen weight). */
clcdd_status clcdd_rmsnorm_backward(clcdd_ctx *ctx, clcdd_tensor *dx, int accumulate,
                                    clcdd_tensor *dw, const clcdd_tensor *dy,
                                    const clcdd_tensor *x, const clcdd_tensor *w,
                                    const clcdd_tensor *rstd, size_t rows, size_t d);

typedef enum clcdd_rope_mode {
    CLCDD_ROPE_NONE = 0,        /* permute only */
    CLCDD_ROPE_HALF = 1,        /* HF rotate_half (NEOX) */
    CLCDD_ROPE_INTERLEAVED = 2  /* Meta original / GGUF llama */
} clcdd_rope_mode;

/* A model's table of (cos, sin) of pos * inv_freq[j] for positions 0 .. len-1 (kernels/rope.cl),
 * computed on the device once; positions past it are computed in the kernels. Passing NULL
 * instead of a table computes every angle in place (the same values). */
typedef struct clcdd_rope_cs {
    clcdd_tensor table; /* (len, half, 2) */
    uint32_t half, len;
} clcdd_rope_cs;
clcdd_status clcdd_rope_cs_create(clcdd_ctx *ctx, const clcdd_tensor *inv_freq, size_t half,
                                  size_t len, clcdd_rope_cs *out);
/* Recompute the table after inv_freq changed. */
clcdd_status clcdd_rope_cs_fill(clcdd_ctx *ctx, clcdd_rope_cs *cs, const clcdd_tensor *inv_freq);
void clcdd_rope_cs_destroy(clcdd_rope_cs *cs);

/* out (B, H, T, hd) = rotate(in (B, T, H, hd)) at pos (B*T) with inv_freq (hd/2); cs: the
 * model's table or NULL. */
clcdd_status clcdd_split_heads_rope(clcdd_ctx *ctx, clcdd_tensor *out, const clcdd_tensor *in,
                                    const clcdd_tensor *pos, const clcdd_tensor *inv_freq,
                                    const clcdd_rope_cs *cs, size_t B, size_t T, size_t H, size_t hd,
                                    clcdd_rope_mode mode);
/* The same into a cache laid out (B, H, T_out, hd), rows written at t_off .. t_off + T - 1. */
clcdd_status clcdd_split_heads_rope_into(clcdd_ctx *ctx, clcdd_tensor *out, const clcdd_tensor *in,
                                         const clcdd_tensor *pos, const clcdd_tensor *inv_freq,
                                         const clcdd_rope_cs *cs, size_t B, size_t T, size_t H,
                                         size_t hd, clcdd_rope_mode mode, size_t T_out,
                                         size_t t_off);
/* out (B, T, H, hd) = rotate_by(sign * angle, in (B, H, T, hd)); sign -1 is split's backward. */
clcdd_status clcdd_merge_heads_rope(clcdd_ctx *ctx, clcdd_tensor *out, const clcdd_tensor *in,
                                    const clcdd_tensor *pos, const clcdd_tensor *inv_freq,
                                    const clcdd_rope_cs *cs, size_t B, size_t T, size_t H, size_t hd,
                                    clcdd_rope_mode mode, float sign);

/* In place on S (B, H, Tq, Tk): masked, scaled softmax (see kernels/attention.cl). */
clcdd_status clcdd_softmax_forward(clcdd_ctx *ctx, clcdd_tensor *S, size_t B, size_t H,
                                   size_t Tq, size_t Tk, size_t q_off, size_t window,
                                   const clcdd_tensor *key_len, float scale);
/* In place on dP (rows, Tk): dS = scale * P * (dP - rowsum(dP * P)). */
clcdd_status clcdd_softmax_backward(clcdd_ctx *ctx, clcdd_tensor *dP, const clcdd_tensor *P,
                                    size_t rows, size_t Tk, float scale);

/* h = silu(g) * u over n elements. */
clcdd_status clcdd_swiglu_forward(clcdd_ctx *ctx, clcdd_tensor *h, const clcdd_tensor *g,
                                  const clcdd_tensor *u, size_t n);
clcdd_status clcdd_swiglu_backward(clcdd_ctx *ctx, clcdd_tensor *dg, clcdd_tensor *du,
                                   const clcdd_tensor *dh, const clcdd_tensor *g,
                                   const clcdd_tensor *u, size_t n);

/* loss (rows) = per-row cross-entropy of logits (rows, V) against target (rows; < 0 ignored).
 * With write_grad the logits are overwritten by their gradient times grad_scale. */
clcdd_status clcdd_cross_entropy(clcdd_ctx *ctx, clcdd_tensor *logits, clcdd_tensor *loss,
                                 const clcdd_tensor *target, size_t rows, size_t V,
                                 float grad_scale, int write_grad);
/* KL(teacher || model) per row over logits (rows, V) with the teacher's logits of the same shape:
 * loss[row] = sum_v p (log p - log q), p = softmax(teacher row), q = softmax(logits row), for rows
 * whose target is >= 0 (others: loss 0, gradient 0). With write_grad the logits are overwritten
 * with their gradient (q - p) * grad_scale, as clcdd_cross_entropy does. */
clcdd_status clcdd_kl_teacher(clcdd_ctx *ctx, clcdd_tensor *logits, const clcdd_tensor *teacher,
                              clcdd_tensor *loss, const clcdd_tensor *target, size_t rows,
                              size_t V, float grad_scale, int write_grad);

#endif

/* y (rows, cols) += b broadcast over rows. */
clcdd_status clcdd_add_bias_rows(clcdd_ctx *ctx, clcdd_tensor *y, const clcdd_tensor *b,
                                 size_t rows, size_t cols);
/* db += column sums of dy (rows, cols). */
clcdd_status clcdd_bias_grad_rows(clcdd_ctx *ctx, clcdd_tensor *db, const clcdd_tensor *dy,
                                  size_t rows, size_t cols);
/* out (rows, d) = E[ids] (ids >= 0) or soft-prompt rows P[-id - 1] (ids < 0; P may be NULL when
 * no id is negative). ids are validated by the caller against V and the prompt length. */
clcdd_status clcdd_embed_gather(clcdd_ctx *ctx, clcdd_tensor *out, const clcdd_tensor *E,
                                const clcdd_tensor *P, const clcdd_tensor *ids, size_t rows,
                                size_t d);
/* dP (prompt_rows, d) += gradient of the soft-prompt rows, gathered from dx (rows, d). */
clcdd_status clcdd_prompt_grad(clcdd_ctx *ctx, clcdd_tensor *dP, const clcdd_tensor *dx,
                               const clcdd_tensor *ids, size_t rows, size_t d, size_t prompt_rows);
/* out[b] (I32) = argmax of logits row rows[b] (I32), b < n. */
clcdd_status clcdd_argmax_rows(clcdd_ctx *ctx, clcdd_tensor *out, const clcdd_tensor *logits,
                               const clcdd_tensor *rows, size_t n, size_t V);
/* dE (V, d) += per-token sums of dx (rows, d) grouped by the CSR (ids_u, starts, rows) that
 * clcdd_embed_csr builds on the host from the batch's ids. */
clcdd_status clcdd_embed_backward(clcdd_ctx *ctx, clcdd_tensor *dE, const clcdd_tensor *dx,
                                  const clcdd_tensor *ids_u, const clcdd_tensor *starts,
                                  const clcdd_tensor *rows, size_t n_unique, size_t d);
/* Host: group rows (ids >= 0 only) by id. ids_u, starts (n_unique + 1) and rows need n entries
 * (n + 1 for starts). Returns n_unique. Stable: rows of an id stay in increasing order. */
size_t clcdd_embed_csr(const int32_t *ids, size_t n, int32_t *ids_u, int32_t *starts, int32_t *rows);
