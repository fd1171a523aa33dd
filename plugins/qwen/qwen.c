/* The qwen family: Qwen2ForCausalLM (Qwen2, Qwen2.5) and Qwen3ForCausalLM; GGUF "qwen2", "qwen3".
 *
 * Qwen2: q, k, v always have biases, o never (the config has no flag). Qwen3: per-head RMSNorm of
 * q and k (q_norm, k_norm), head_dim explicit, biases only with attention_bias. Sliding window
 * only when use_sliding_window is true, for layers >= max_window_layers. GGUF q/k rows are in HF
 * order (no permutation). The tokenizer adds no BOS.
 * Chat: ChatML with the default system message the template names (Qwen2.5: "You are Qwen,
 * created by Alibaba Cloud. ...", Qwen2: "You are a helpful assistant."); Qwen3: ChatML without a
 * default system message, rendered with thinking OFF (the generation prompt ends with an empty
 * <think></think> block, as enable_thinking=False does in transformers). */
#include <string.h>

#include "plugin_common.h"
#include "qwen.h"

static const char *const architectures[] = {"Qwen2ForCausalLM", "Qwen3ForCausalLM", "qwen2",
                                            "qwen3", NULL};
static const char *const hf_classes[] = {"Qwen2ForCausalLM", "Qwen3ForCausalLM", NULL};
static const char *const names[] = {"qwen2", "qwen3", NULL};

static int probe(const clcdd_config_view *cfg) {
    return clcdd_pc_probe(cfg, hf_classes, names, names);
}

static int read_hparams(const clcdd_config_view *cfg, clcdd_hparams *hp, char *err, size_t cap) {
    if (clcdd_pc_read_common(cfg, "qwen", hp, err, cap)) return 1;
    int is3 = !strcmp(hp->architecture, "Qwen3ForCausalLM") || !strcmp(hp->architecture, "qwen3");
    int b;
    if (is3) {
        hp->qk_norm = 1;
        if (cfg->format == CLCDD_SOURCE_HF && cfg->get_bool(cfg->self, "attention_bias", &b) && b)
            hp->qkv_bias = hp->o_bias = 1;
    } else {
        hp->qkv_bias = 1;
        hp->o_bias = 0;
    }
    if (cfg->format == CLCDD_SOURCE_HF) {
        hp->sliding_window = 0;
        if (cfg->get_bool(cfg->self, "use_sliding_window", &b) && b) {
            int64_t w, from = 0;
            if (!cfg->get_int(cfg->self, "sliding_window", &w) || w <= 0 || w > (int64_t)UINT32_MAX)
                return clcdd_pc_err(err, cap, "use_sliding_window is true but 'sliding_window' is "
                                    "missing or out of range");
            cfg->get_int(cfg->self, "max_window_layers", &from);
            if (from < 0 || from > (int64_t)UINT32_MAX)
                return clcdd_pc_err(err, cap, "'max_window_layers' = %lld is out of range",
                                    (long long)from);
            hp->sliding_window = (uint32_t)w;
            hp->sliding_window_from_layer = (uint32_t)from;
        }
    }
    if (hp->add_bos < 0) hp->add_bos = 0;
    return 0;
}

static const clcdd_plugin descriptor = {
    .abi_major = CLCDD_PLUGIN_ABI_MAJOR,
    .abi_minor = CLCDD_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(clcdd_plugin),
    .name = "qwen",
    .version = "1.0.0",
    .architectures = architectures,
    .probe = probe,
    .read_hparams = read_hparams,
    .map_tensor = clcdd_pc_map_tensor, /* the shared layout of plugins/common */
    .chat_template = clcdd_pc_render_chat,
};

const clcdd_plugin *clcdd_plugin_qwen_descriptor(void) { return &descriptor; }
