/* Settings every LLaMA-shaped checkpoint states the same way (FORMATS.md §2.1, §3.2). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "plugin_common.h"

int clcdd_pc_err(char *err, size_t cap, const char *fmt, ...) {
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return 1;
}

void clcdd_pc_copy(char *dst, size_t cap, const char *src) {
    if (!cap) return;
    snprintf(dst, cap, "%s", src ? src : "");
}

int clcdd_pc_contains_ci(const char *hay, const char *needle) {
    if (!hay || !needle) return 0;
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n) return 1;
    }
    return 0;
}

static int in_list(const char *s, const char *const *list) {
    for (; s && list && *list; list++)
        if (!strcmp(s, *list)) return 1;
    return 0;
}

int clcdd_pc_probe(const clcdd_config_view *cfg, const char *const *hf_classes,
                   const char *const *model_types, const char *const *gguf_archs) {
    const char *s;
    if (cfg->format == CLCDD_SOURCE_GGUF)
        return cfg->get_string(cfg->self, "general.architecture", &s) && in_list(s, gguf_archs)
                   ? 10 : 0;
    if (cfg->get_string(cfg->self, "architectures.0", &s)) return in_list(s, hf_classes) ? 10 : 0;
    if (cfg->get_string(cfg->self, "model_type", &s) && in_list(s, model_types)) return 5;
    return 0;
}

/* ---- small typed readers with messages naming the key ---- */

static int need_u32(const clcdd_config_view *cfg, const char *key, uint32_t *out, char *err,
                    size_t cap) {
    int64_t v;
    if (!cfg->get_int(cfg->self, key, &v))
        return clcdd_pc_err(err, cap, "missing or non-integer '%s'", key);
    if (v <= 0 || v > (int64_t)UINT32_MAX)
        return clcdd_pc_err(err, cap, "'%s' = %lld is out of range", key, (long long)v);
    *out = (uint32_t)v;
    return 0;
}

/* Optional positive u32: absent leaves *out; present and bad is an error. */
static int opt_u32(const clcdd_config_view *cfg, const char *key, uint32_t *out, char *err,
                   size_t cap) {
    int64_t v;
    if (!cfg->get_int(cfg->self, key, &v)) return 0;
    if (v < 0 || v > (int64_t)UINT32_MAX)
        return clcdd_pc_err(err, cap, "'%s' = %lld is out of range", key, (long long)v);
    *out = (uint32_t)v;
    return 0;
}

static int32_t opt_id(const clcdd_config_view *cfg, const char *key, int32_t fallback) {
    int64_t v;
    if (cfg->get_int(cfg->self, key, &v) && v >= 0 && v <= INT32_MAX) return (int32_t)v;
    return fallback;
}

static void add_eos(clcdd_hparams *hp, int64_t id) {
    if (id < 0 || id > INT32_MAX) return;
    for (uint32_t i = 0; i < hp->n_eos; i++)
        if (hp->eos_ids[i] == id) return;
    if (hp->n_eos < CLCDD_MAX_EOS) hp->eos_ids[hp->n_eos++] = (int32_t)id;
}

static void add_eos_key(const clcdd_config_view *cfg, clcdd_hparams *hp, const char *key) {
    int64_t ids[CLCDD_MAX_EOS];
    size_t n = 0;
    if (!cfg->get_int_array(cfg->self, key, ids, CLCDD_MAX_EOS, &n)) return;
    for (size_t i = 0; i < n && i < CLCDD_MAX_EOS; i++) add_eos(hp, ids[i]);
}

/* rope_scaling (or transformers v5 rope_parameters) at `obj` ("rope_scaling"). */
static int read_rope_scaling(const clcdd_config_view *cfg, const char *obj, clcdd_hparams *hp,
                             char *err, size_t cap) {
    char key[96];
    const char *type = NULL;
    snprintf(key, sizeof key, "%s.rope_type", obj);
    if (!cfg->get_string(cfg->self, key, &type)) {
        snprintf(key, sizeof key, "%s.type", obj);
        if (!cfg->get_string(cfg->self, key, &type)) return 0; /* no scaling */
    }
    double x;
    snprintf(key, sizeof key, "%s.factor", obj);
    int has_factor = cfg->get_float(cfg->self, key, &x);
    hp->rope_factor = has_factor ? (float)x : 1.0f;
    if (!strcmp(type, "default")) return 0;
    if (!strcmp(type, "linear")) {
        hp->rope_scaling = CLCDD_ROPE_SCALING_LINEAR;
    } else if (!strcmp(type, "llama3")) {
        hp->rope_scaling = CLCDD_ROPE_SCALING_LLAMA3;
        snprintf(key, sizeof key, "%s.low_freq_factor", obj);
        hp->rope_low_freq_factor = cfg->get_float(cfg->self, key, &x) ? (float)x : 1.0f;
        snprintf(key, sizeof key, "%s.high_freq_factor", obj);
        hp->rope_high_freq_factor = cfg->get_float(cfg->self, key, &x) ? (float)x : 4.0f;
        snprintf(key, sizeof key, "%s.original_max_position_embeddings", obj);
        if (need_u32(cfg, key, &hp->rope_original_max_pos, err, cap)) return 1;
        if (!(hp->rope_high_freq_factor > hp->rope_low_freq_factor))
            return clcdd_pc_err(err, cap, "%s: high_freq_factor must exceed low_freq_factor", obj);
    } else if (!strcmp(type, "dynamic")) {
        hp->rope_scaling = CLCDD_ROPE_SCALING_DYNAMIC;
    } else if (!strcmp(type, "yarn")) {
        hp->rope_scaling = CLCDD_ROPE_SCALING_YARN;
        snprintf(key, sizeof key, "%s.original_max_position_embeddings", obj);
        if (opt_u32(cfg, key, &hp->rope_original_max_pos, err, cap)) return 1;
    } else {
        return clcdd_pc_err(err, cap, "%s: unsupported RoPE scaling type '%s' (clcdd knows "
                            "default, linear, llama3, dynamic, yarn)", obj, type);
    }
    if (!has_factor || !(hp->rope_factor > 0))
        return clcdd_pc_err(err, cap, "%s: '%s' scaling needs a positive 'factor'", obj, type);
    return 0;
}

static int read_hf(const clcdd_config_view *cfg, clcdd_hparams *hp, char *err, size_t cap) {
    const char *s;
    if (cfg->get_string(cfg->self, "architectures.0", &s) ||
        cfg->get_string(cfg->self, "model_type", &s))
        clcdd_pc_copy(hp->architecture, sizeof hp->architecture, s);
    if (need_u32(cfg, "vocab_size", &hp->vocab_size, err, cap) ||
        need_u32(cfg, "hidden_size", &hp->hidden_size, err, cap) ||
        need_u32(cfg, "intermediate_size", &hp->intermediate_size, err, cap) ||
        need_u32(cfg, "num_hidden_layers", &hp->n_layers, err, cap) ||
        need_u32(cfg, "num_attention_heads", &hp->n_heads, err, cap))
        return 1;
    hp->n_kv_heads = hp->n_heads; /* absent or null => H */
    if (opt_u32(cfg, "num_key_value_heads", &hp->n_kv_heads, err, cap)) return 1;
    if (opt_u32(cfg, "head_dim", &hp->head_dim, err, cap)) return 1;
    if (!hp->head_dim) {
        if (hp->hidden_size % hp->n_heads)
            return clcdd_pc_err(err, cap, "hidden_size %u is not a multiple of num_attention_heads "
                                "%u and head_dim is not given", hp->hidden_size, hp->n_heads);
        hp->head_dim = hp->hidden_size / hp->n_heads;
    }
    double x;
    hp->rms_eps = cfg->get_float(cfg->self, "rms_norm_eps", &x) ? (float)x : 1e-6f;
    if (cfg->get_float(cfg->self, "rope_theta", &x) ||
        cfg->get_float(cfg->self, "rope_parameters.rope_theta", &x))
        hp->rope_theta = (float)x;
    else
        hp->rope_theta = 10000.0f;
    if (read_rope_scaling(cfg, "rope_scaling", hp, err, cap)) return 1;
    if (hp->rope_scaling == CLCDD_ROPE_SCALING_NONE &&
        read_rope_scaling(cfg, "rope_parameters", hp, err, cap))
        return 1;
    if (opt_u32(cfg, "max_position_embeddings", &hp->max_position_embeddings, err, cap)) return 1;
    int b = 0;
    hp->tie_word_embeddings = cfg->get_bool(cfg->self, "tie_word_embeddings", &b) ? b : 0;

    hp->bos_id = opt_id(cfg, "bos_token_id", opt_id(cfg, "generation.bos_token_id", -1));
    hp->pad_id = opt_id(cfg, "pad_token_id", opt_id(cfg, "generation.pad_token_id", -1));
    add_eos_key(cfg, hp, "eos_token_id");
    add_eos_key(cfg, hp, "generation.eos_token_id");
    hp->add_bos = cfg->get_bool(cfg->self, "tokenizer_config.add_bos_token", &b) ? b : -1;
    const char *tmpl = NULL;
    cfg->get_string(cfg->self, "chat_template", &tmpl);
    clcdd_pc_detect_chat(tmpl, hp);
    return 0;
}

static int read_gguf(const clcdd_config_view *cfg, clcdd_hparams *hp, char *err, size_t cap) {
    const char *a;
    if (!cfg->get_string(cfg->self, "general.architecture", &a))
        return clcdd_pc_err(err, cap, "missing string 'general.architecture'");
    clcdd_pc_copy(hp->architecture, sizeof hp->architecture, a);
    char k[128];
#define KEY(suffix) (snprintf(k, sizeof k, "%s." suffix, a), k)
    if (need_u32(cfg, KEY("embedding_length"), &hp->hidden_size, err, cap) ||
        need_u32(cfg, KEY("feed_forward_length"), &hp->intermediate_size, err, cap) ||
        need_u32(cfg, KEY("block_count"), &hp->n_layers, err, cap) ||
        need_u32(cfg, KEY("attention.head_count"), &hp->n_heads, err, cap))
        return 1;
    hp->n_kv_heads = hp->n_heads;
    if (opt_u32(cfg, KEY("attention.head_count_kv"), &hp->n_kv_heads, err, cap) ||
        opt_u32(cfg, KEY("attention.key_length"), &hp->head_dim, err, cap) ||
        opt_u32(cfg, KEY("context_length"), &hp->max_position_embeddings, err, cap) ||
        opt_u32(cfg, KEY("vocab_size"), &hp->vocab_size, err, cap))
        return 1;
    if (!hp->vocab_size) {
        size_t n = 0;
        if (!cfg->get_int_array(cfg->self, "tokenizer.ggml.tokens", NULL, 0, &n) || !n ||
            n > UINT32_MAX)
            return clcdd_pc_err(err, cap, "neither '%s' nor 'tokenizer.ggml.tokens' gives the "
                                "vocabulary size", KEY("vocab_size"));
        hp->vocab_size = (uint32_t)n;
    }
    if (!hp->head_dim) {
        if (hp->hidden_size % hp->n_heads)
            return clcdd_pc_err(err, cap, "%u is not a multiple of %u heads and '%s' is absent",
                                hp->hidden_size, hp->n_heads, KEY("attention.key_length"));
        hp->head_dim = hp->hidden_size / hp->n_heads;
    }
    double x;
    hp->rms_eps = cfg->get_float(cfg->self, KEY("attention.layer_norm_rms_epsilon"), &x)
                      ? (float)x : 1e-5f;
    hp->rope_theta = cfg->get_float(cfg->self, KEY("rope.freq_base"), &x) ? (float)x : 10000.0f;
    const char *type;
    if (cfg->get_string(cfg->self, KEY("rope.scaling.type"), &type) && strcmp(type, "none")) {
        hp->rope_factor = cfg->get_float(cfg->self, KEY("rope.scaling.factor"), &x) ? (float)x : 1;
        if (opt_u32(cfg, KEY("rope.scaling.original_context_length"), &hp->rope_original_max_pos,
                    err, cap))
            return 1;
        if (!strcmp(type, "linear"))
            hp->rope_scaling = CLCDD_ROPE_SCALING_LINEAR;
        else if (!strcmp(type, "yarn"))
            hp->rope_scaling = CLCDD_ROPE_SCALING_YARN;
        else
            return clcdd_pc_err(err, cap, "'%s' = '%s' is not supported", k, type);
    } else {
        hp->rope_factor = 1.0f;
    }
    if (opt_u32(cfg, KEY("attention.sliding_window"), &hp->sliding_window, err, cap)) return 1;
#undef KEY
    /* In GGUF, a missing output.weight means tied; the tensor mapping marks it optional. */
    hp->tie_word_embeddings = 0;
    hp->bos_id = opt_id(cfg, "tokenizer.ggml.bos_token_id", -1);
    hp->pad_id = opt_id(cfg, "tokenizer.ggml.padding_token_id", -1);
    add_eos_key(cfg, hp, "tokenizer.ggml.eos_token_id");
    add_eos_key(cfg, hp, "tokenizer.ggml.eot_token_id");
    add_eos_key(cfg, hp, "tokenizer.ggml.eom_token_id");
    int b;
    hp->add_bos = cfg->get_bool(cfg->self, "tokenizer.ggml.add_bos_token", &b) ? b : -1;
    const char *tmpl = NULL;
    cfg->get_string(cfg->self, "tokenizer.chat_template", &tmpl);
    clcdd_pc_detect_chat(tmpl, hp);
    return 0;
}

int clcdd_pc_read_common(const clcdd_config_view *cfg, const char *family, clcdd_hparams *hp,
                         char *err, size_t cap) {
    memset(hp, 0, sizeof *hp);
    clcdd_pc_copy(hp->family, sizeof hp->family, family);
    hp->bos_id = hp->pad_id = -1;
    int r = cfg->format == CLCDD_SOURCE_GGUF ? read_gguf(cfg, hp, err, cap)
                                             : read_hf(cfg, hp, err, cap);
    if (r) return r;
    if (!hp->n_kv_heads || hp->n_heads % hp->n_kv_heads)
        return clcdd_pc_err(err, cap, "%u attention heads are not a multiple of %u key/value heads",
                            hp->n_heads, hp->n_kv_heads);
    return 0;
}

/* Default system messages the ChatML templates insert; longest first (Qwen2's is a suffix of
 * Qwen2.5's). */
static const char *const chatml_defaults[] = {
    "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face",
    "You are a helpful assistant.",
    NULL};

void clcdd_pc_detect_chat(const char *t, clcdd_hparams *hp) {
    hp->chat_format = CLCDD_CHAT_NONE;
    hp->default_system[0] = 0;
    if (!t || !*t) return;
    if (strstr(t, "<|im_start|>")) {
        if (strstr(t, "<think>") || strstr(t, "enable_thinking")) {
            hp->chat_format = CLCDD_CHAT_QWEN3;
            return; /* Qwen3 inserts no system message */
        }
        hp->chat_format = CLCDD_CHAT_CHATML;
        for (const char *const *d = chatml_defaults; *d; d++)
            if (strstr(t, *d)) {
                clcdd_pc_copy(hp->default_system, sizeof hp->default_system, *d);
                break;
            }
    } else if (strstr(t, "<|start_header_id|>")) {
        hp->chat_format = CLCDD_CHAT_LLAMA3;
        /* Llama 3.1+: the system block is always there and starts with this preamble, which is
         * exactly the system text when the conversation has none. */
        if (strstr(t, "Cutting Knowledge Date"))
            clcdd_pc_copy(hp->default_system, sizeof hp->default_system,
                          "Cutting Knowledge Date: December 2023\nToday Date: " CLCDD_PC_LLAMA3_DATE
                          "\n\n");
    } else if (strstr(t, "<<SYS>>")) {
        hp->chat_format = CLCDD_CHAT_LLAMA2;
    } else if (strstr(t, "[INST]")) {
        hp->chat_format = CLCDD_CHAT_MISTRAL;
    } else if (strstr(t, "<|user|>")) {
        hp->chat_format = CLCDD_CHAT_ZEPHYR;
    }
}
