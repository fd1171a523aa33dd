/* Exporting what a carrier archive holds for other tools: the LCDD model as a Hugging Face
 * checkpoint and every eraser prompt as (1) a plain safetensors tensor and (2) a PEFT
 * prompt-tuning adapter (docs/cli.md, `clcdd export`).
 *
 * Placement: clcdd prepends an eraser prompt's rows before the embedded chat-formatted prompt,
 * before BOS and the template's tokens, with positions continuing after the rows (ALGORITHMS.md
 * §4). PEFT's prompt tuning (PeftModelForCausalLM) concatenates its virtual tokens in front of
 * the embedded input_ids the same way, so a user who feeds PEFT the same token ids (the rendered
 * chat template, with BOS if the template or tokenizer adds one) gets the configuration clcdd
 * trained and evaluates. */
#ifndef CLCDD_EXPORT_H
#define CLCDD_EXPORT_H
#include <stddef.h>
#include <stdint.h>
#include "clcdd/carrier.h"
#include "clcdd/plugins.h"
#include "clcdd/runtime.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef struct clcdd_export_options {
    const char *erase;        /* NULL: every eraser prompt of the archive; else only this one */
    int no_model;             /* 1: write only the prompts (no HF checkpoint, no base needed) */
    const char *base_model;   /* base_model_name_or_path of the adapters; NULL: the absolute
                                 path of out_dir (where the LCDD checkpoint is written) */
} clcdd_export_options;
CLCDD_API void clcdd_export_options_default(clcdd_export_options *o);

typedef struct clcdd_export_result {
    int model_written;        /* the LCDD checkpoint (config.json, model.safetensors) */
    uint32_t prompts;         /* eraser prompts written */
} clcdd_export_result;

/* File-system-safe form of a prompt name (bytes outside [A-Za-z0-9._-] become '_', a leading
 * '.' too); out holds at least 64 bytes. */
CLCDD_API void clcdd_export_safe_name(const char *name, char out[64]);

/* Write prompt `index` of c into out_dir: eraser-NAME.safetensors (tensor "prompt" [T, d] F32,
 * metadata name / placement / settings / metrics / fingerprints) and the PEFT adapter directory
 * peft-NAME/ (adapter_config.json, adapter_model.safetensors with "prompt_embeddings" [T, d]).
 * Every file is written to a temporary name and renamed. */
CLCDD_API clcdd_status clcdd_eraser_export(const clcdd_carrier *c, uint32_t index,
                                           const char *out_dir, const char *base_model);

/* The carrier at carrier_path applied to `base` and saved as an HF checkpoint in out_dir (unless
 * o->no_model; ctx and reg may then be NULL), plus the eraser prompts as above. A name given in
 * o->erase that the archive does not hold is an error listing the names it does hold. */
CLCDD_API clcdd_status clcdd_export_run(clcdd_ctx *ctx, const clcdd_plugin_registry *reg,
                                        const char *base, const char *carrier_path,
                                        const char *out_dir, const clcdd_export_options *o,
                                        clcdd_export_result *result);

#ifdef __cplusplus
}
#endif
#endif
