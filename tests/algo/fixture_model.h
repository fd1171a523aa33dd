/* Test helper: load an HF fixture checkpoint (F32 safetensors, HF names) into a clcdd_model whose
 * hparams the test states, and read fixture tensors. */
#ifndef CLCDD_TEST_FIXTURE_MODEL_H
#define CLCDD_TEST_FIXTURE_MODEL_H

#include "clcdd/safetensors.h"
#include "nn/model.h"

void fx_load_model(clcdd_ctx *ctx, const char *dir, const clcdd_hparams *hp, clcdd_model *out);
/* Copy a fixture tensor converted to f32 into a malloc'd array; *n receives the element count. */
float *fx_tensor_f32(const clcdd_safetensors *st, const char *name, size_t *n);

#endif
