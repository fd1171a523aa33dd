/* A loaded language model behind an opaque handle, for applications and the CLI: load an HF
 * directory or a GGUF file through the plugin registry, run a forward, generate greedily.
 * (The decoder internals live in core/nn/ and are not installed.) */
#ifndef CLCDD_LLM_H
#define CLCDD_LLM_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd/carrier.h"
#include "clcdd/model.h"
#include "clcdd/plugins.h"
#include "clcdd/runtime.h"
#include "clcdd/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clcdd_llm clcdd_llm;

typedef struct clcdd_llm_summary {
    const clcdd_plugin *plugin;   /* valid while the registry lives */
    clcdd_source_format format;
    uint64_t n_params;            /* parameters loaded (a tied head counted once) */
    const char *weight_dtype;     /* storage dtype of the projections ("F32", "BF16", "Q4_1") */
    const char *tokenizer_source; /* "tokenizer.json", "GGUF tokenizer.ggml.*", or why none */
    int rope_freqs;               /* 1: GGUF rope_freqs.weight scaled the RoPE frequencies */
} clcdd_llm_summary;

/* `path`: an HF model directory (or its config.json) or a .gguf file. The registry must outlive
 * the model (it owns the plugin). */
CLCDD_API clcdd_status clcdd_llm_load(clcdd_ctx *ctx, const char *path,
                                      const clcdd_plugin_registry *reg, clcdd_llm **out);
CLCDD_API void clcdd_llm_free(clcdd_llm *m);
CLCDD_API const clcdd_hparams *clcdd_llm_hparams(const clcdd_llm *m);
CLCDD_API const clcdd_plugin *clcdd_llm_plugin(const clcdd_llm *m);
/* NULL when the checkpoint has no tokenizer. */
CLCDD_API const clcdd_tokenizer *clcdd_llm_tokenizer(const clcdd_llm *m);
CLCDD_API void clcdd_llm_get_summary(const clcdd_llm *m, clcdd_llm_summary *out);

/* One sequence of n ids: logits (n, V) and, when hidden is not NULL, the residual stream after
 * each stage (L + 1, n, d): [0] embeddings, [l] output of layer l - 1. */
CLCDD_API clcdd_status clcdd_llm_forward(clcdd_llm *m, const int32_t *ids, size_t n,
                                         float *logits, float *hidden);

/* Called with each generated id; return non-zero to stop. */
typedef int (*clcdd_llm_token_fn)(int32_t id, void *user);
/* Greedy: up to max_new ids after the prompt, stopping after an EOS id of the model (which is
 * passed to fn too). *n_out (may be NULL) receives the number generated. */
CLCDD_API clcdd_status clcdd_llm_generate(clcdd_llm *m, const int32_t *prompt, size_t n,
                                          size_t max_new, clcdd_llm_token_fn fn, void *user,
                                          size_t *n_out);

/* Decoding settings (HF semantics). Defaults from clcdd_sampling_greedy: greedy, no penalty. */
typedef struct clcdd_sampling {
    float temperature;          /* 0: greedy (argmax); else logits / temperature */
    uint32_t top_k;             /* 0: off; else keep the k most likely tokens */
    float top_p;                /* 1: off; else the smallest set with cumulative probability >= p */
    float repetition_penalty;   /* 1: off; seen tokens: logit / p if > 0 else logit * p */
    uint64_t seed;              /* sampling RNG seed: the same seed gives the same text */
} clcdd_sampling;

CLCDD_API clcdd_sampling clcdd_sampling_greedy(void);

/* clcdd_llm_generate with sampling settings. */
CLCDD_API clcdd_status clcdd_llm_generate_sampled(clcdd_llm *m, const int32_t *prompt, size_t n,
                                                  size_t max_new, const clcdd_sampling *s,
                                                  clcdd_llm_token_fn fn, void *user,
                                                  size_t *n_out);

/* Turn the loaded model (the base of the archive) into the LCDD model: base + the carrier's
 * deltas and norms. Refuses an archive made for another model. */
CLCDD_API clcdd_status clcdd_llm_apply_carrier(clcdd_llm *m, const clcdd_carrier *c);

/* Soft-prompt rows (n_rows x hidden_size floats, e.g. an eraser prompt of a carrier archive)
 * that clcdd_llm_generate prepends before the prompt's tokens; NULL or 0 rows removes them.
 * clcdd_llm_forward does not use them. */
CLCDD_API clcdd_status clcdd_llm_set_soft_prompt(clcdd_llm *m, const float *rows, size_t n_rows);

#ifdef __cplusplus
}
#endif
#endif
