/* Loading a model from a checkpoint: a Hugging Face directory (config.json + model.safetensors or
 * a sharded index) or a GGUF file.
 *
 * Steps: config view (HF or GGUF metadata) -> plugin selection -> read_hparams -> model
 * creation -> for every role and layer: the plugin's tensor name -> the tensor in the file -> f32
 * (dtype conversion or GGUF dequantisation; GGUF dims reversed to HF order) -> the plugin's
 * transform (un-permuting interleaved rotary rows) -> shape check -> upload. A GGUF without
 * output.weight is tied; a GGUF rope_freqs.weight (llama3 scaling) divides the RoPE frequencies.
 * The tokenizer comes from tokenizer.json (HF) or the tokenizer.ggml.* metadata (GGUF). */
#ifndef CLCDD_NN_LOAD_H
#define CLCDD_NN_LOAD_H

#include "clcdd/plugins.h"
#include "clcdd/tokenizer.h"
#include "nn/model.h"

typedef struct clcdd_load_info {
    const clcdd_plugin *plugin;   /* owned by the registry */
    clcdd_source_format format;
    clcdd_tokenizer *tokenizer;   /* NULL when the checkpoint has none; freed by load_info_free */
    char tokenizer_note[256];     /* why there is none, or where it came from */
    uint64_t n_params;            /* elements loaded (a tied head counted once) */
    size_t n_tensors;             /* tensors read from the file */
    char weight_dtype[16];        /* dtype of the first projection weight ("BF16", "Q4_1") */
    int rope_freqs;               /* 1: GGUF rope_freqs.weight applied */
} clcdd_load_info;

/* Load `path` with the plugins of `reg`. On success *model is ready and *info filled (free it
 * with clcdd_load_info_free). `info` may be NULL (no tokenizer is then loaded). */
clcdd_status clcdd_model_load(clcdd_ctx *ctx, const char *path, const clcdd_plugin_registry *reg,
                              clcdd_model *model, clcdd_load_info *info);
void clcdd_load_info_free(clcdd_load_info *info);

/* Undo the interleaved rotary order of a q/k weight (rows, cols) or bias (cols = 1) in place:
 * within each of `heads` heads of D = rows / heads rows, HF row half*D/2 + j = stored row
 * 2j + half (FORMATS.md §2.4). */
clcdd_status clcdd_unpermute_rotary(float *w, size_t rows, size_t cols, uint32_t heads);

#endif
