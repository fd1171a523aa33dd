/* Greedy generation, batched. Each step recomputes the forward over the whole prefix (no KV cache
 * yet: fine for the demo world's short sequences) and takes the argmax at each sequence's last
 * position on the device; only the chosen ids come back to the host. */
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

#endif
