/* Greedy generation, batched, with a KV cache: requests are grouped by prompt length (the cache
 * needs equal lengths within a batch), each group's prompts are prefilled in one forward, then
 * every new token is one cached forward of a single position per sequence. The argmax is taken on
 * the device; only the chosen ids come back to the host. */
#ifndef CLCDD_NN_GENERATE_H
#define CLCDD_NN_GENERATE_H

#include "nn/decoder.h"

typedef struct clcdd_gen_request {
    const int32_t *prompt;  /* token ids (may include soft-prompt rows as negative ids) */
    size_t prompt_len;
    int32_t *out;           /* receives up to max_new generated ids */
    size_t out_len;         /* set: number generated (stops after an EOS, which is included) */
} clcdd_gen_request;

/* Generates for n requests, at most batch sequences at a time. soft_prompt may be NULL. */
clcdd_status clcdd_generate_greedy(clcdd_ctx *ctx, const clcdd_model *m,
                                   const clcdd_tensor *soft_prompt, clcdd_gen_request *reqs,
                                   size_t n, size_t max_new, size_t batch);

/* The same without a cache: every step recomputes the forward over the whole right-padded prefix
 * (the reference the cached path is tested against; O(max_new) times the work). */
clcdd_status clcdd_generate_greedy_uncached(clcdd_ctx *ctx, const clcdd_model *m,
                                            const clcdd_tensor *soft_prompt, clcdd_gen_request *reqs,
                                            size_t n, size_t max_new, size_t batch);

#endif
