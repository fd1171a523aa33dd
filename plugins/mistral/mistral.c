/* The mistral family: MistralForCausalLM (Mistral 7B v0.1/v0.2 and Instruct).
 *
 * No biases anywhere; sliding_window (v0.1: 4096, v0.2+: null) applies to every layer. Mistral
 * GGUFs are written with general.architecture "llama" and are left to the llama plugin (same
 * tensors, same math) unless the metadata says Mistral: architecture "mistral", or "llama" with a
 * general.name / general.basename naming Mistral. The tokenizer adds BOS. Chat: the v0.1/v0.2
 * Instruct template ([INST] ... [/INST], user/assistant strictly alternating, no system role). */
#include <string.h>

#include "mistral.h"
#include "plugin_common.h"

static const char *const architectures[] = {"MistralForCausalLM", "mistral", NULL};
static const char *const hf_classes[] = {"MistralForCausalLM", NULL};
static const char *const model_types[] = {"mistral", NULL};
static const char *const gguf_archs[] = {"mistral", NULL};

static int probe(const clcdd_config_view *cfg) {
    int s = clcdd_pc_probe(cfg, hf_classes, model_types, gguf_archs);
    const char *a, *name;
    if (!s && cfg->format == CLCDD_SOURCE_GGUF &&
        cfg->get_string(cfg->self, "general.architecture", &a) && !strcmp(a, "llama") &&
        ((cfg->get_string(cfg->self, "general.name", &name) && clcdd_pc_contains_ci(name, "mistral")) ||
         (cfg->get_string(cfg->self, "general.basename", &name) &&
          clcdd_pc_contains_ci(name, "mistral"))))
        s = 11; /* above llama's 10: the metadata says Mistral */
    return s;
}

static int read_hparams(const clcdd_config_view *cfg, clcdd_hparams *hp, char *err, size_t cap) {
    if (clcdd_pc_read_common(cfg, "mistral", hp, err, cap)) return 1;
    if (cfg->format == CLCDD_SOURCE_HF) {
        int64_t w;
        if (cfg->get_int(cfg->self, "sliding_window", &w)) {
            if (w < 0 || w > (int64_t)UINT32_MAX)
                return clcdd_pc_err(err, cap, "'sliding_window' = %lld is out of range",
                                    (long long)w);
            hp->sliding_window = (uint32_t)w;
        }
    }
    hp->sliding_window_from_layer = 0;
    if (hp->add_bos < 0) hp->add_bos = 1;
    return 0;
}

static const clcdd_plugin descriptor = {
    .abi_major = CLCDD_PLUGIN_ABI_MAJOR,
    .abi_minor = CLCDD_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(clcdd_plugin),
    .name = "mistral",
    .version = "1.0.0",
    .architectures = architectures,
    .probe = probe,
    .read_hparams = read_hparams,
    .map_tensor = clcdd_pc_map_tensor, /* the shared layout of plugins/common */
    .chat_template = clcdd_pc_render_chat,
};

const clcdd_plugin *clcdd_plugin_mistral_descriptor(void) { return &descriptor; }
