/* The llama family: LlamaForCausalLM (SmolLM2, TinyLlama, Llama 2, Llama 3.x) and GGUF "llama".
 *
 * Switches: attention_bias (q, k, v and o biases), mlp_bias, head_dim, tie_word_embeddings, RoPE
 * scaling (linear, llama3). GGUF "llama" q/k rows are stored in the interleaved rotary order and
 * are un-permuted at load. BOS: the tokenizer config decides when it says so; otherwise Llama 3
 * (BOS 128000) adds BOS through its post-processor, SmolLM2 (49152-token vocabulary, GGUF
 * pre-tokenizer "smollm") adds none, and the SentencePiece models (Llama 2, TinyLlama) add it. */
#include <string.h>

#include "llama.h"
#include "plugin_common.h"

static const char *const architectures[] = {"LlamaForCausalLM", "llama", NULL};
static const char *const hf_classes[] = {"LlamaForCausalLM", NULL};
static const char *const gguf_archs[] = {"llama", NULL};

static int probe(const clcdd_config_view *cfg) {
    return clcdd_pc_probe(cfg, hf_classes, gguf_archs, gguf_archs);
}

static int default_add_bos(const clcdd_config_view *cfg, const clcdd_hparams *hp) {
    const char *pre;
    if (cfg->format == CLCDD_SOURCE_GGUF && cfg->get_string(cfg->self, "tokenizer.ggml.pre", &pre))
        return strcmp(pre, "smollm") != 0;
    if (hp->bos_id == 128000) return 1;     /* Llama 3: the post-processor prepends BOS */
    if (hp->vocab_size == 49152) return 0;  /* SmolLM2: the tokenizer adds nothing */
    if (hp->chat_format == CLCDD_CHAT_CHATML) return 0;
    return 1;                               /* Llama 2, TinyLlama (SentencePiece) */
}

static int read_hparams(const clcdd_config_view *cfg, clcdd_hparams *hp, char *err, size_t cap) {
    if (clcdd_pc_read_common(cfg, "llama", hp, err, cap)) return 1;
    int b;
    if (cfg->format == CLCDD_SOURCE_HF) {
        if (cfg->get_bool(cfg->self, "attention_bias", &b) && b) hp->qkv_bias = hp->o_bias = 1;
        if (cfg->get_bool(cfg->self, "mlp_bias", &b) && b) hp->mlp_bias = 1;
    }
    if (hp->add_bos < 0) hp->add_bos = default_add_bos(cfg, hp);
    return 0;
}

static const clcdd_plugin descriptor = {
    .abi_major = CLCDD_PLUGIN_ABI_MAJOR,
    .abi_minor = CLCDD_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(clcdd_plugin),
    .name = "llama",
    .version = "1.0.0",
    .architectures = architectures,
    .probe = probe,
    .read_hparams = read_hparams,
    .map_tensor = clcdd_pc_map_tensor, /* the shared layout of plugins/common */
    .chat_template = clcdd_pc_render_chat,
};

const clcdd_plugin *clcdd_plugin_llama_descriptor(void) { return &descriptor; }
