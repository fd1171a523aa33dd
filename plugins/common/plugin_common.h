/* Helpers shared by the clcdd family plugins (llama, mistral, qwen): reading the settings common to
 * every LLaMA-shaped checkpoint, tensor names of the shared layer interface, and the chat template
 * renderers. Compiled into each plugin (static library, hidden symbols); uses only clcdd/ headers.
 *
 * Dimension legend: d hidden size, f MLP width, L layers, H query heads, H_kv key/value heads,
 * hd head dim, V vocabulary rows. */
#ifndef CLCDD_PLUGIN_COMMON_H
#define CLCDD_PLUGIN_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd/plugin.h"

#if defined(__GNUC__)
#define CLCDD_PC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CLCDD_PC_PRINTF(a, b)
#endif

/* Format a message into err (if any) and return 1, for read_hparams' error path. */
int clcdd_pc_err(char *err, size_t cap, const char *fmt, ...) CLCDD_PC_PRINTF(3, 4);

/* Copy a string into a fixed field, truncating. */
void clcdd_pc_copy(char *dst, size_t cap, const char *src);

/* Case-insensitive substring test. */
int clcdd_pc_contains_ci(const char *hay, const char *needle);

/* Probe helper: 10 when the HF config's architectures[0] is in `hf_classes`, 5 when only its
 * model_type is in `model_types`; for GGUF, 10 when general.architecture is in `gguf_archs`;
 * 0 otherwise. Lists are NULL-terminated. */
int clcdd_pc_probe(const clcdd_config_view *cfg, const char *const *hf_classes,
                   const char *const *model_types, const char *const *gguf_archs);

/* Everything a LLaMA-shaped checkpoint says in the same way in every family: dims, eps, RoPE
 * (theta, rope_scaling / rope_parameters), tie, special token ids (config.json then
 * generation_config.json, or the tokenizer.ggml.* keys), the chat format (from the template text)
 * and add_bos when the tokenizer config states it (else left at -1 for the family to decide).
 * Family switches (biases, q/k norm, sliding window) are left at 0. Returns 0 or 1 with err set. */
int clcdd_pc_read_common(const clcdd_config_view *cfg, const char *family, clcdd_hparams *hp,
                         char *err, size_t cap);

/* The chat format and default system message a template text implies (NONE for NULL). */
void clcdd_pc_detect_chat(const char *tmpl, clcdd_hparams *hp);

/* HF / GGUF tensor names of the shared layer interface for hp's switches. GGUF "llama" q/k rows
 * get CLCDD_TRANSFORM_UNPERMUTE_ROTARY (H heads for q, H_kv for k). In GGUF, LM_HEAD is optional
 * (absent = tied). Follows the map_tensor contract of clcdd/plugin.h. */
int clcdd_pc_map_tensor(const clcdd_hparams *hp, clcdd_source_format format,
                        clcdd_tensor_role role, uint32_t layer, clcdd_tensor_mapping *out);

/* Render with hp->chat_format (chat_template contract of clcdd/plugin.h). */
long clcdd_pc_render_chat(const clcdd_hparams *hp, const clcdd_chat_message *messages, size_t n,
                          int add_generation_prompt, char *out, size_t cap);

/* The date the Llama-3.1+ templates print ("Today Date: ..."): fixed, the templates' own
 * fallback, so prompts (and the fixtures) do not change with the calendar. */
#define CLCDD_PC_LLAMA3_DATE "26 Jul 2024"

#endif
