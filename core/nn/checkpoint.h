/* Saving a model as a Hugging Face checkpoint directory (config.json + model.safetensors, F32,
 * HF tensor names) that transformers and clcdd load back. */
#ifndef CLCDD_NN_CHECKPOINT_H
#define CLCDD_NN_CHECKPOINT_H

#include "nn/model.h"

/* HF tensor name of (role, layer) for the LLaMA/Mistral/Qwen layout; 0 when the role has no HF
 * tensor in this model (absent bias, tied head). */
int clcdd_hf_tensor_name(const clcdd_hparams *hp, clcdd_tensor_role role, uint32_t layer,
                         char *out, size_t cap);

/* config.json text for hp (malloc'd). */
clcdd_status clcdd_hf_config_json(const clcdd_hparams *hp, char **out);

/* Write dir/config.json and dir/model.safetensors (creating dir). Each file is written to a
 * temporary name and renamed, so an interrupted save leaves the previous files intact.
 * metadata: NULL or n_meta key/value pairs for the safetensors header. */
clcdd_status clcdd_model_save_hf(clcdd_ctx *ctx, const clcdd_model *m, const char *dir,
                                 const char *const *metadata, size_t n_meta);

/* Fill a created model from an open safetensors file holding HF-named F32/F16/BF16 tensors (the
 * layout clcdd_model_save_hf writes). Every tensor the model has must be present with its shape. */
struct clcdd_safetensors;
clcdd_status clcdd_model_fill_hf(clcdd_ctx *ctx, clcdd_model *m, const struct clcdd_safetensors *st,
                                 const char *what);

#endif
