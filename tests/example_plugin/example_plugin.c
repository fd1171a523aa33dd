/* A minimal clcdd model-family plugin: "ExampleForCausalLM", a LLaMA-shaped model with HF tensor
 * names and a one-line chat format. See docs/plugins.md. */
#include <stdio.h>
#include <string.h>

#include <clcdd/plugin.h>

static const char *const architectures[] = {"ExampleForCausalLM", NULL};

static int probe(const clcdd_config_view *cfg) {
    const char *a;
    if (cfg->format == CLCDD_SOURCE_HF && cfg->get_string(cfg->self, "architectures.0", &a) &&
        !strcmp(a, "ExampleForCausalLM"))
        return 10;
    return 0;
}

static int need(const clcdd_config_view *cfg, const char *key, uint32_t *out, char *err,
                size_t cap) {
    int64_t v;
    if (!cfg->get_int(cfg->self, key, &v) || v <= 0 || v > (int64_t)UINT32_MAX) {
        snprintf(err, cap, "missing or invalid '%s'", key);
        return 1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int read_hparams(const clcdd_config_view *cfg, clcdd_hparams *hp, char *err, size_t cap) {
    memset(hp, 0, sizeof *hp);
    snprintf(hp->family, sizeof hp->family, "example");
    snprintf(hp->architecture, sizeof hp->architecture, "ExampleForCausalLM");
    if (need(cfg, "vocab_size", &hp->vocab_size, err, cap) ||
        need(cfg, "hidden_size", &hp->hidden_size, err, cap) ||
        need(cfg, "intermediate_size", &hp->intermediate_size, err, cap) ||
        need(cfg, "num_hidden_layers", &hp->n_layers, err, cap) ||
        need(cfg, "num_attention_heads", &hp->n_heads, err, cap))
        return 1;
    hp->n_kv_heads = hp->n_heads;
    hp->head_dim = hp->hidden_size / hp->n_heads;
    hp->rms_eps = 1e-5f;
    hp->rope_theta = 10000.0f;
    hp->rope_factor = 1.0f;
    hp->bos_id = hp->pad_id = -1;
    hp->chat_format = CLCDD_CHAT_NONE;
    return 0;
}

static int map_tensor(const clcdd_hparams *hp, clcdd_source_format format, clcdd_tensor_role role,
                      uint32_t layer, clcdd_tensor_mapping *out) {
    static const char *const hf[CLCDD_ROLE_COUNT] = {
        [CLCDD_ROLE_EMBED] = "model.embed_tokens.weight", [CLCDD_ROLE_FINAL_NORM] = "model.norm.weight",
        [CLCDD_ROLE_LM_HEAD] = "lm_head.weight", [CLCDD_ROLE_ATTN_NORM] = "input_layernorm.weight",
        [CLCDD_ROLE_Q] = "self_attn.q_proj.weight", [CLCDD_ROLE_K] = "self_attn.k_proj.weight",
        [CLCDD_ROLE_V] = "self_attn.v_proj.weight", [CLCDD_ROLE_O] = "self_attn.o_proj.weight",
        [CLCDD_ROLE_FFN_NORM] = "post_attention_layernorm.weight",
        [CLCDD_ROLE_GATE] = "mlp.gate_proj.weight", [CLCDD_ROLE_UP] = "mlp.up_proj.weight",
        [CLCDD_ROLE_DOWN] = "mlp.down_proj.weight"};
    if (format != CLCDD_SOURCE_HF || (int)role < 0 || role >= CLCDD_ROLE_COUNT) return -1;
    if (clcdd_role_is_per_layer(role) && layer >= hp->n_layers) return -1;
    if (!hf[role]) return 1; /* no biases, no q/k norm */
    memset(out, 0, sizeof *out);
    if (clcdd_role_is_per_layer(role))
        snprintf(out->name, sizeof out->name, "model.layers.%u.%s", layer, hf[role]);
    else
        snprintf(out->name, sizeof out->name, "%s", hf[role]);
    return 0;
}

/* "<role>: content\n" per message, then "assistant: " when asked. */
static long chat_template(const clcdd_hparams *hp, const clcdd_chat_message *m, size_t n, int gen,
                          char *out, size_t cap) {
    (void)hp;
    size_t len = 0;
    for (size_t i = 0; i <= n; i++) {
        char piece[1024];
        int w;
        if (i < n)
            w = snprintf(piece, sizeof piece, "%s: %s\n", m[i].role, m[i].content);
        else
            w = gen ? snprintf(piece, sizeof piece, "assistant: ") : 0;
        if (w < 0 || (size_t)w >= sizeof piece) return CLCDD_CHAT_ERR_INVALID;
        if (cap && len < cap - 1) {
            size_t room = cap - 1 - len;
            memcpy(out + len, piece, (size_t)w < room ? (size_t)w : room);
        }
        len += (size_t)w;
    }
    if (cap) out[len < cap ? len : cap - 1] = 0;
    return (long)len;
}

static const clcdd_plugin descriptor = {
    .abi_major = CLCDD_PLUGIN_ABI_MAJOR,
    .abi_minor = CLCDD_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(clcdd_plugin),
    .name = "example",
    .version = "0.1.0",
    .architectures = architectures,
    .probe = probe,
    .read_hparams = read_hparams,
    .map_tensor = map_tensor,
    .chat_template = chat_template,
};

CLCDD_PLUGIN_EXPORT const clcdd_plugin *CLCDD_PLUGIN_ENTRY(void);
CLCDD_PLUGIN_EXPORT const clcdd_plugin *CLCDD_PLUGIN_ENTRY(void) { return &descriptor; }
