/* Debugging helpers for comparing clcdd with another implementation (PyTorch): one forward and
 * backward over a JSONL dataset with every gradient written to a safetensors file. */
#ifndef CLCDD_DEBUG_H
#define CLCDD_DEBUG_H
#include <stddef.h>
#include <stdint.h>
#include "clcdd/plugins.h"
#include "clcdd/runtime.h"
#include "clcdd/train.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct clcdd_debug_backward_options {
    size_t max_len;           /* longer examples are truncated, as in clcdd sft (512) */
    int all_tokens;           /* loss on the prompt tokens too */
    size_t micro_batch;       /* examples per forward/backward pass; 0: all at once (8) */
} clcdd_debug_backward_options;
CLCDD_API void clcdd_debug_backward_options_default(clcdd_debug_backward_options *o);

typedef struct clcdd_debug_backward_result {
    clcdd_data_summary data;
    double loss;              /* sum of token losses / loss tokens of the whole window */
    double grad_norm;         /* global L2 norm of the parameter gradients (before any clipping) */
    size_t n_param_grads;     /* grad.<name> tensors written */
} clcdd_debug_backward_result;

/* Load `model` (HF dir or GGUF), tokenize `data` with its tokenizer and chat template exactly as
 * clcdd_sft_run does, run one forward + backward over all examples as one accumulation window
 * (ALGORITHMS.md §2: loss = sum of token losses / loss tokens of the window) with every parameter
 * trainable (embeddings and lm_head included), and write out_path (safetensors, atomically):
 *   loss                   F32 []         the window's loss
 *   ids                    I32 [n, T]     token ids, right-padded with 0 to the longest example
 *   lens                   I32 [n]        valid tokens of each example
 *   loss_mask              I32 [n, T]     1: token t is a target (predicted from 0..t-1), so
 *                                         HF labels = where(loss_mask, ids, -100)
 *   grad.<HF tensor name>  F32            every parameter (a tied head's gradient is in the
 *                                         embedding's, as in PyTorch)
 *   grad.inputs_embeds     F32 [n, T, d]  d loss / d input embeddings (0 on padding rows)
 * The metadata names the model and the data file. */
CLCDD_API clcdd_status clcdd_debug_backward_run(clcdd_ctx *ctx, const clcdd_plugin_registry *reg,
                                                const char *model, const char *data,
                                                const char *out_path,
                                                const clcdd_debug_backward_options *o,
                                                clcdd_debug_backward_result *result);

#ifdef __cplusplus
}
#endif
#endif
