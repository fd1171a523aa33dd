/* Model description shared by the core and the model-family plugins: hyperparameters and the
 * roles of the shared layer interface. Plain C types only (no OpenCL), so plugin authors need
 * nothing but this header and clcdd/plugin.h.
 *
 * Dimension legend: d hidden size, f MLP width, L layers, H query heads, H_kv key/value heads,
 * hd head dim, d_q = H*hd, d_kv = H_kv*hd, V vocabulary rows. */
#ifndef CLCDD_MODEL_H
#define CLCDD_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum clcdd_rope_scaling {
    CLCDD_ROPE_SCALING_NONE = 0,
    CLCDD_ROPE_SCALING_LINEAR = 1,
    CLCDD_ROPE_SCALING_LLAMA3 = 2,
    CLCDD_ROPE_SCALING_DYNAMIC = 3, /* parsed; not applied (rejected at load) */
    CLCDD_ROPE_SCALING_YARN = 4     /* parsed; not applied (rejected at load) */
} clcdd_rope_scaling;

/* Which rotary convention the weights as stored use. clcdd computes in the HF (half split)
 * convention; a plugin whose checkpoint stores interleaved q/k rows asks for the un-permutation
 * transform in its tensor mapping. */
typedef enum clcdd_chat_format {
    CLCDD_CHAT_NONE = 0,     /* no template: prompt used as is */
    CLCDD_CHAT_CHATML = 1,   /* <|im_start|>role\n...<|im_end|>\n (Qwen2/2.5, SmolLM2) */
    CLCDD_CHAT_QWEN3 = 2,    /* ChatML with <think> handling */
    CLCDD_CHAT_LLAMA3 = 3,   /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
    CLCDD_CHAT_LLAMA2 = 4,   /* [INST] <<SYS>> ... */
    CLCDD_CHAT_MISTRAL = 5,  /* [INST] ... [/INST] without system role */
    CLCDD_CHAT_ZEPHYR = 6,   /* <|user|>\n...</s>\n (TinyLlama chat) */
    CLCDD_CHAT_DEMO = 7      /* clcdd's demo world: <bos><user>PROMPT<assistant> */
} clcdd_chat_format;

#define CLCDD_MAX_EOS 8

typedef struct clcdd_hparams {
    char family[32];          /* plugin family: "llama", "mistral", "qwen" */
    char architecture[64];    /* "LlamaForCausalLM", "qwen3", ... as the checkpoint says */
    uint32_t vocab_size;      /* V */
    uint32_t hidden_size;     /* d */
    uint32_t intermediate_size; /* f */
    uint32_t n_layers;        /* L */
    uint32_t n_heads;         /* H */
    uint32_t n_kv_heads;      /* H_kv (H % H_kv == 0) */
    uint32_t head_dim;        /* hd (may differ from d / H, e.g. Qwen3) */
    float rms_eps;
    float rope_theta;
    clcdd_rope_scaling rope_scaling;
    float rope_factor;
    float rope_low_freq_factor, rope_high_freq_factor; /* llama3 */
    uint32_t rope_original_max_pos;                    /* llama3 */
    uint32_t max_position_embeddings;
    int tie_word_embeddings;  /* lm_head = embedding */
    int qkv_bias;             /* q, k, v projections have biases */
    int o_bias;               /* o projection has a bias */
    int mlp_bias;             /* gate, up, down have biases */
    int qk_norm;              /* per-head RMSNorm of q and k before RoPE (Qwen3) */
    uint32_t sliding_window;  /* 0: none */
    uint32_t sliding_window_from_layer; /* layers with index >= this use the window */
    int32_t bos_id;           /* -1: none */
    int32_t pad_id;           /* -1: none */
    int32_t eos_ids[CLCDD_MAX_EOS];
    uint32_t n_eos;
    int add_bos;              /* the tokenizer adds BOS when encoding a prompt */
    clcdd_chat_format chat_format;
    char default_system[256]; /* system message the template inserts when none is given */
} clcdd_hparams;

/* The roles of the shared layer interface. Per-layer roles take a layer index; global roles
 * ignore it. */
typedef enum clcdd_tensor_role {
    CLCDD_ROLE_EMBED = 0,      /* (V, d) */
    CLCDD_ROLE_FINAL_NORM,     /* (d) */
    CLCDD_ROLE_LM_HEAD,        /* (V, d); absent when tied */
    CLCDD_ROLE_ATTN_NORM,      /* (d) */
    CLCDD_ROLE_Q,              /* (d_q, d) */
    CLCDD_ROLE_K,              /* (d_kv, d) */
    CLCDD_ROLE_V,              /* (d_kv, d) */
    CLCDD_ROLE_O,              /* (d, d_q) */
    CLCDD_ROLE_Q_BIAS,         /* (d_q) */
    CLCDD_ROLE_K_BIAS,         /* (d_kv) */
    CLCDD_ROLE_V_BIAS,         /* (d_kv) */
    CLCDD_ROLE_O_BIAS,         /* (d) */
    CLCDD_ROLE_Q_NORM,         /* (hd) */
    CLCDD_ROLE_K_NORM,         /* (hd) */
    CLCDD_ROLE_FFN_NORM,       /* (d) */
    CLCDD_ROLE_GATE,           /* (f, d) */
    CLCDD_ROLE_UP,             /* (f, d) */
    CLCDD_ROLE_DOWN,           /* (d, f) */
    CLCDD_ROLE_GATE_BIAS,      /* (f) */
    CLCDD_ROLE_UP_BIAS,        /* (f) */
    CLCDD_ROLE_DOWN_BIAS,      /* (d) */
    CLCDD_ROLE_COUNT
} clcdd_tensor_role;

/* 1 for roles that exist once per layer. */
static inline int clcdd_role_is_per_layer(clcdd_tensor_role r) {
    return r >= CLCDD_ROLE_ATTN_NORM && r < CLCDD_ROLE_COUNT;
}

#ifdef __cplusplus
}
#endif
#endif
