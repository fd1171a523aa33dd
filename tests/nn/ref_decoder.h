/* Plain-C reference decoder (double accumulation), written from FORMATS.md §2.3 independently of
 * the device code. Weights are host arrays indexed like clcdd_model slots. */
#ifndef CLCDD_REF_DECODER_H
#define CLCDD_REF_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd/model.h"

typedef struct ref_model {
    clcdd_hparams hp;
    float *w[CLCDD_ROLE_COUNT][64]; /* [role][layer]; globals at layer 0; NULL = absent */
    float *inv_freq;
} ref_model;

/* hidden: (L + 1) x (B*T*d) residual streams (may be NULL); logits (B*T*V).
 * ids >= 0 tokens, ids = -1-k soft prompt rows of `prompt` (T_p x d). Right padding by lens. */
void ref_forward(const ref_model *m, size_t B, size_t T, const int32_t *ids, const int32_t *lens,
                 const float *prompt, float *hidden, float *logits);

#endif
