/* Hugging Face config.json for LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM and
 * Qwen3ForCausalLM (FORMATS.md §2.1), read into a plain struct with every default resolved.
 *
 * Other keys (for plugins) are read with the generic getters below, which take a dotted path
 * into nested objects: "rope_scaling.factor", "quantization_config.bits". */
#ifndef CLCDD_HF_CONFIG_H
#define CLCDD_HF_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum clcdd_hf_arch {
    CLCDD_HF_ARCH_LLAMA = 1,
    CLCDD_HF_ARCH_MISTRAL = 2,
    CLCDD_HF_ARCH_QWEN2 = 3,
    CLCDD_HF_ARCH_QWEN3 = 4
} clcdd_hf_arch;

typedef enum clcdd_rope_type {
    CLCDD_ROPE_NONE = 0, /* "default" or no scaling */
    CLCDD_ROPE_LINEAR = 1,
    CLCDD_ROPE_LLAMA3 = 2,
    CLCDD_ROPE_DYNAMIC = 3,
    CLCDD_ROPE_YARN = 4
} clcdd_rope_type;

#define CLCDD_HF_MAX_EOS 16

typedef struct clcdd_hf_rope_scaling {
    clcdd_rope_type type;
    double factor;                             /* 1 when absent */
    double low_freq_factor, high_freq_factor;  /* llama3 (defaults 1 and 4) */
    int64_t original_max_position_embeddings;  /* llama3/yarn/dynamic; 0 when absent */
    double attention_factor;                   /* yarn; 0 when absent */
    double beta_fast, beta_slow;               /* yarn (defaults 32 and 1) */
} clcdd_hf_rope_scaling;

typedef struct clcdd_hf_config {
    clcdd_hf_arch arch;
    char architecture[64]; /* "LlamaForCausalLM" */
    char model_type[32];   /* "llama" */
    int64_t vocab_size;            /* V */
    int64_t hidden_size;           /* d */
    int64_t intermediate_size;     /* f */
    int64_t num_hidden_layers;     /* L */
    int64_t num_attention_heads;   /* H */
    int64_t num_key_value_heads;   /* Hkv (absent/null => H); H % Hkv == 0 */
    int64_t head_dim;              /* D (absent/null => d / H) */
    double rms_norm_eps;
    double rope_theta;             /* top level or inside rope_parameters; default 10000 */
    clcdd_hf_rope_scaling rope_scaling;
    int64_t max_position_embeddings;
    int tie_word_embeddings;
    int attention_bias;            /* the config flag (Llama, Qwen3); 0 for Mistral/Qwen2 */
    int mlp_bias;                  /* Llama only */
    int qkv_bias;                  /* effective: q/k/v have biases (Qwen2 always) */
    int o_bias;                    /* effective: o_proj has a bias */
    int qk_norm;                   /* Qwen3: per-head RMSNorm of q and k */
    int use_sliding_window;        /* effective: a sliding window applies to some layers */
    int64_t sliding_window;        /* window W when use_sliding_window, else 0 */
    int64_t max_window_layers;     /* Qwen2/3: layers >= this use the window; 0 for Mistral */
    int64_t bos_token_id;          /* -1 when absent/null */
    int64_t pad_token_id;          /* -1 when absent/null */
    int64_t eos_token_ids[CLCDD_HF_MAX_EOS];
    size_t n_eos;
    void *json_; /* private: the parsed document behind the generic getters */
} clcdd_hf_config;

/* Read `path` (a config.json, or a directory holding one). Free with clcdd_hf_config_free. An
 * unknown architecture is CLCDD_ERR_UNSUPPORTED with a message listing the supported ones. */
CLCDD_API clcdd_status clcdd_hf_config_load(const char *path, clcdd_hf_config *out);
/* Same from text in memory; `name` is used in messages. */
CLCDD_API clcdd_status clcdd_hf_config_parse(const char *text, size_t len, const char *name,
                                             clcdd_hf_config *out);
CLCDD_API void clcdd_hf_config_free(clcdd_hf_config *cfg);

/* "llama", "mistral", "qwen2", "qwen3". */
CLCDD_API const char *clcdd_hf_arch_name(clcdd_hf_arch arch);
CLCDD_API const char *clcdd_rope_type_name(clcdd_rope_type type);

/* Generic access by dotted path. Missing key or JSON null: CLCDD_ERR_NOT_FOUND; wrong JSON type:
 * CLCDD_ERR_FORMAT. get_number accepts integers and reals. The string stays valid until
 * clcdd_hf_config_free. */
CLCDD_API clcdd_status clcdd_hf_config_get_int(const clcdd_hf_config *cfg, const char *path,
                                               int64_t *out);
CLCDD_API clcdd_status clcdd_hf_config_get_number(const clcdd_hf_config *cfg, const char *path,
                                                  double *out);
CLCDD_API clcdd_status clcdd_hf_config_get_bool(const clcdd_hf_config *cfg, const char *path,
                                                int *out);
CLCDD_API clcdd_status clcdd_hf_config_get_string(const clcdd_hf_config *cfg, const char *path,
                                                  const char **out);
/* Compact JSON of the value at `path` ("" = whole document), malloc'd; free() it. */
CLCDD_API clcdd_status clcdd_hf_config_get_json(const clcdd_hf_config *cfg, const char *path,
                                                char **out);

#ifdef __cplusplus
}
#endif
#endif
