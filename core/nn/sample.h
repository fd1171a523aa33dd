/* Next-token choice from one row of logits: repetition penalty, temperature, top-k, top-p and
 * seeded sampling, with Hugging Face's semantics. */
#ifndef CLCDD_NN_SAMPLE_H
#define CLCDD_NN_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd/llm.h"

typedef struct clcdd_sample_cand {
    float p;
    int32_t id;
} clcdd_sample_cand;

/* row (V logits) is modified in place; seq (len ids) are the ids so far (for the penalty);
 * rng is the caller's sampling state; buf has room for V candidates. Temperature 0 = argmax
 * (lowest id on ties). */
int32_t clcdd_sample_token(float *row, size_t V, const int32_t *seq, size_t len,
                           const clcdd_sampling *s, uint64_t *rng, clcdd_sample_cand *buf);

#endif
