/* Tensor names of the shared layer interface in HF safetensors and GGUF (FORMATS.md §2.2, §3.3). */
#include <stdio.h>
#include <string.h>

#include "plugin_common.h"

typedef struct names {
    const char *hf;   /* per-layer: after "model.layers.N."; global: full name */
    const char *gguf; /* per-layer: after "blk.N."; global: full name */
} names;

static const names table[CLCDD_ROLE_COUNT] = {
    [CLCDD_ROLE_EMBED] = {"model.embed_tokens.weight", "token_embd.weight"},
    [CLCDD_ROLE_FINAL_NORM] = {"model.norm.weight", "output_norm.weight"},
    [CLCDD_ROLE_LM_HEAD] = {"lm_head.weight", "output.weight"},
    [CLCDD_ROLE_ATTN_NORM] = {"input_layernorm.weight", "attn_norm.weight"},
    [CLCDD_ROLE_Q] = {"self_attn.q_proj.weight", "attn_q.weight"},
    [CLCDD_ROLE_K] = {"self_attn.k_proj.weight", "attn_k.weight"},
    [CLCDD_ROLE_V] = {"self_attn.v_proj.weight", "attn_v.weight"},
    [CLCDD_ROLE_O] = {"self_attn.o_proj.weight", "attn_output.weight"},
    [CLCDD_ROLE_Q_BIAS] = {"self_attn.q_proj.bias", "attn_q.bias"},
    [CLCDD_ROLE_K_BIAS] = {"self_attn.k_proj.bias", "attn_k.bias"},
    [CLCDD_ROLE_V_BIAS] = {"self_attn.v_proj.bias", "attn_v.bias"},
    [CLCDD_ROLE_O_BIAS] = {"self_attn.o_proj.bias", "attn_output.bias"},
    [CLCDD_ROLE_Q_NORM] = {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    [CLCDD_ROLE_K_NORM] = {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    [CLCDD_ROLE_FFN_NORM] = {"post_attention_layernorm.weight", "ffn_norm.weight"},
    [CLCDD_ROLE_GATE] = {"mlp.gate_proj.weight", "ffn_gate.weight"},
    [CLCDD_ROLE_UP] = {"mlp.up_proj.weight", "ffn_up.weight"},
    [CLCDD_ROLE_DOWN] = {"mlp.down_proj.weight", "ffn_down.weight"},
    [CLCDD_ROLE_GATE_BIAS] = {"mlp.gate_proj.bias", "ffn_gate.bias"},
    [CLCDD_ROLE_UP_BIAS] = {"mlp.up_proj.bias", "ffn_up.bias"},
    [CLCDD_ROLE_DOWN_BIAS] = {"mlp.down_proj.bias", "ffn_down.bias"},
};

/* 1 when hp's switches say the role exists. */
static int present(const clcdd_hparams *hp, clcdd_source_format format, clcdd_tensor_role role) {
    switch (role) {
    case CLCDD_ROLE_LM_HEAD: return format == CLCDD_SOURCE_GGUF || !hp->tie_word_embeddings;
    case CLCDD_ROLE_Q_BIAS:
    case CLCDD_ROLE_K_BIAS:
    case CLCDD_ROLE_V_BIAS: return hp->qkv_bias;
    case CLCDD_ROLE_O_BIAS: return hp->o_bias;
    case CLCDD_ROLE_Q_NORM:
    case CLCDD_ROLE_K_NORM: return hp->qk_norm;
    case CLCDD_ROLE_GATE_BIAS:
    case CLCDD_ROLE_UP_BIAS:
    case CLCDD_ROLE_DOWN_BIAS: return hp->mlp_bias;
    default: return 1;
    }
}

int clcdd_pc_map_tensor(const clcdd_hparams *hp, clcdd_source_format format,
                        clcdd_tensor_role role, uint32_t layer, clcdd_tensor_mapping *out) {
    if (!hp || !out || (int)role < 0 || role >= CLCDD_ROLE_COUNT ||
        (format != CLCDD_SOURCE_HF && format != CLCDD_SOURCE_GGUF))
        return -1;
    int per_layer = clcdd_role_is_per_layer(role);
    if (per_layer && layer >= hp->n_layers) return -1;
    memset(out, 0, sizeof *out);
    if (!present(hp, format, role)) return 1;
    const char *n = format == CLCDD_SOURCE_GGUF ? table[role].gguf : table[role].hf;
    if (!per_layer)
        snprintf(out->name, sizeof out->name, "%s", n);
    else if (format == CLCDD_SOURCE_GGUF)
        snprintf(out->name, sizeof out->name, "blk.%u.%s", layer, n);
    else
        snprintf(out->name, sizeof out->name, "model.layers.%u.%s", layer, n);
    out->transform = CLCDD_TRANSFORM_NONE;
    /* GGUF "llama": the converter permuted q/k rows into the interleaved rotary order. */
    if (format == CLCDD_SOURCE_GGUF && !strcmp(hp->architecture, "llama")) {
        if (role == CLCDD_ROLE_Q || role == CLCDD_ROLE_Q_BIAS) {
            out->transform = CLCDD_TRANSFORM_UNPERMUTE_ROTARY;
            out->transform_heads = hp->n_heads;
        } else if (role == CLCDD_ROLE_K || role == CLCDD_ROLE_K_BIAS) {
            out->transform = CLCDD_TRANSFORM_UNPERMUTE_ROTARY;
            out->transform_heads = hp->n_kv_heads;
        }
    }
    /* GGUF: no output.weight means the embedding is tied. */
    if (format == CLCDD_SOURCE_GGUF && role == CLCDD_ROLE_LM_HEAD) out->optional = 1;
    return 0;
}
