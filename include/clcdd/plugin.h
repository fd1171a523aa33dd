/* The model-family plugin ABI.
 *
 * A plugin is a shared object exporting exactly one symbol, CLCDD_PLUGIN_ENTRY_SYMBOL
 * ("clcdd_plugin_entry_v1"): a function returning a pointer to a static clcdd_plugin descriptor.
 * The descriptor starts with abi_major, abi_minor and struct_size. The host accepts a plugin
 * whose abi_major equals its own and whose struct_size covers at least the fields of ABI 1.0; it
 * reads a later field only when struct_size covers it, and treats a NULL function as "not
 * supported". Fields are only ever appended (minor version bump); a change that breaks
 * compatibility bumps the major version and the entry symbol's name.
 *
 * Only C types cross the boundary. Strings a plugin returns point to storage it owns and that
 * stays valid while the plugin is loaded; output buffers are provided and freed by the host.
 * Plugins include only clcdd/ headers; see docs/plugins.md. */
#ifndef CLCDD_PLUGIN_H
#define CLCDD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLCDD_PLUGIN_ABI_MAJOR 1
#define CLCDD_PLUGIN_ABI_MINOR 0
#define CLCDD_PLUGIN_ENTRY clcdd_plugin_entry_v1
#define CLCDD_PLUGIN_ENTRY_SYMBOL "clcdd_plugin_entry_v1"

#if defined(__GNUC__)
#define CLCDD_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define CLCDD_PLUGIN_EXPORT
#endif

/* Where a checkpoint's settings come from. */
typedef enum clcdd_source_format {
    CLCDD_SOURCE_HF = 1,   /* a Hugging Face directory: config.json (+ tokenizer_config.json) */
    CLCDD_SOURCE_GGUF = 2  /* a GGUF file: its metadata */
} clcdd_source_format;

/* Read-only access to a checkpoint's settings, provided by the host.
 * HF: keys are config.json keys; a dot descends into objects ("rope_scaling.factor").
 *     The key "chat_template" returns the tokenizer's chat template source when there is one.
 *     Also: "chat_template.jinja" wins over tokenizer_config.json's "chat_template";
 *     "generation.<key>" reads generation_config.json ("generation.eos_token_id");
 *     "tokenizer_config.<key>" reads tokenizer_config.json ("tokenizer_config.add_bos_token");
 *     a numeric path element indexes an array ("architectures.0"). JSON null counts as absent.
 * GGUF: keys are the metadata keys as written ("llama.embedding_length",
 *     "tokenizer.chat_template"). Every getter returns 1 when the key exists with a compatible
 *     type (integers also satisfy get_float), 0 otherwise. For any array value (also arrays of
 *     strings such as "tokenizer.ggml.tokens"), get_int_array with cap 0 reports its length. */
typedef struct clcdd_config_view {
    void *self;
    clcdd_source_format format;
    int (*get_int)(void *self, const char *key, int64_t *out);
    int (*get_float)(void *self, const char *key, double *out);
    int (*get_bool)(void *self, const char *key, int *out);
    /* Returned string is owned by the view and valid while it lives. */
    int (*get_string)(void *self, const char *key, const char **out);
    /* Integer array (or a single integer, as a 1-element array): copies up to cap values and sets
     * *count to the full length. */
    int (*get_int_array)(void *self, const char *key, int64_t *out, size_t cap, size_t *count);
} clcdd_config_view;

/* Load-time transforms a plugin can ask for. */
typedef enum clcdd_transform {
    CLCDD_TRANSFORM_NONE = 0,
    /* Rows stored in the interleaved rotary order (GGUF llama, Meta originals): undo the
     * permutation so rows are in HF half-split order. n_heads says how many heads the rows span. */
    CLCDD_TRANSFORM_UNPERMUTE_ROTARY = 1
} clcdd_transform;

typedef struct clcdd_tensor_mapping {
    char name[128];            /* tensor name in the checkpoint */
    int optional;              /* 1: missing is fine (the role is then absent) */
    clcdd_transform transform;
    uint32_t transform_heads;  /* heads for UNPERMUTE_ROTARY */
} clcdd_tensor_mapping;

typedef struct clcdd_chat_message {
    const char *role;     /* "system", "user", "assistant" */
    const char *content;
} clcdd_chat_message;

typedef struct clcdd_plugin {
    uint32_t abi_major;    /* CLCDD_PLUGIN_ABI_MAJOR */
    uint32_t abi_minor;    /* CLCDD_PLUGIN_ABI_MINOR */
    uint32_t struct_size;  /* sizeof(clcdd_plugin) as the plugin was compiled */
    uint32_t reserved;

    const char *name;              /* family name, e.g. "llama" */
    const char *version;           /* the plugin's own version string */
    const char *const *architectures; /* NULL-terminated: "LlamaForCausalLM", "llama", ... */

    /* How well this plugin handles the checkpoint: 0 = not at all, higher = better. */
    int (*probe)(const clcdd_config_view *cfg);

    /* Fill hparams. Returns 0, or non-zero with a message in err (naming the field). */
    int (*read_hparams)(const clcdd_config_view *cfg, clcdd_hparams *out, char *err,
                        size_t err_cap);

    /* Name and transform of (role, layer) in a checkpoint of this format. Returns 0 when the role
     * exists for this model, 1 when it does not (e.g. biases of a bias-free family), negative for
     * a role or layer out of range. */
    int (*map_tensor)(const clcdd_hparams *hp, clcdd_source_format format, clcdd_tensor_role role,
                      uint32_t layer, clcdd_tensor_mapping *out);

    /* Render messages into the prompt string. Writes at most cap bytes including the NUL into
     * out and returns the full length needed (excluding the NUL), or a negative value on error
     * (e.g. roles that do not alternate where the template requires it): one of the
     * CLCDD_CHAT_ERR_* values below. */
    long (*chat_template)(const clcdd_hparams *hp, const clcdd_chat_message *messages,
                          size_t n_messages, int add_generation_prompt, char *out, size_t cap);
} clcdd_plugin;

typedef const clcdd_plugin *(*clcdd_plugin_entry_fn)(void);

/* Negative results of chat_template. */
#define CLCDD_CHAT_ERR_INVALID (-1L)     /* bad arguments, or an unknown role */
#define CLCDD_CHAT_ERR_ROLES (-2L)       /* the template refuses this sequence of roles */
#define CLCDD_CHAT_ERR_NO_TEMPLATE (-3L) /* the model has no chat format */

#ifdef __cplusplus
}
#endif
#endif
