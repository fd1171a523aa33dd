/* config.json reader for the four supported decoder families (FORMATS.md §2.1). Defaults are
 * those of the transformers configuration classes when a key is absent. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clcdd/hf_config.h"
#include "loaders_internal.h"

static const struct {
    const char *class_name, *model_type;
    clcdd_hf_arch arch;
    int64_t default_max_pos;
} arch_table[] = {
    {"LlamaForCausalLM", "llama", CLCDD_HF_ARCH_LLAMA, 2048},
    {"MistralForCausalLM", "mistral", CLCDD_HF_ARCH_MISTRAL, 4096 * 32},
    {"Qwen2ForCausalLM", "qwen2", CLCDD_HF_ARCH_QWEN2, 32768},
    {"Qwen3ForCausalLM", "qwen3", CLCDD_HF_ARCH_QWEN3, 32768},
};
#define N_ARCH (sizeof arch_table / sizeof arch_table[0])

const char *clcdd_hf_arch_name(clcdd_hf_arch arch) {
    for (size_t i = 0; i < N_ARCH; i++)
        if (arch_table[i].arch == arch) return arch_table[i].model_type;
    return "?";
}

const char *clcdd_rope_type_name(clcdd_rope_type t) {
    switch (t) {
    case CLCDD_ROPE_NONE: return "default";
    case CLCDD_ROPE_LINEAR: return "linear";
    case CLCDD_ROPE_LLAMA3: return "llama3";
    case CLCDD_ROPE_DYNAMIC: return "dynamic";
    case CLCDD_ROPE_YARN: return "yarn";
    }
    return "?";
}

/* ---- small typed readers: absent/null => default, wrong type => format error ---- */

static clcdd_status get_int(const json_t *obj, const char *key, const char *name, int required,
                            int64_t def, int64_t min, int64_t *out) {
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s: required field \"%s\" is missing", name, key);
        *out = def;
        return CLCDD_OK;
    }
    if (!json_is_integer(v))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: field \"%s\" must be an integer", name, key);
    json_int_t i = json_integer_value(v);
    if (i < min)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: field \"%s\" is %lld, must be >= %lld", name, key,
                          (long long)i, (long long)min);
    *out = (int64_t)i;
    return CLCDD_OK;
}

static clcdd_status get_num(const json_t *obj, const char *key, const char *name, double def,
                            double *out) {
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return CLCDD_OK;
    }
    if (!json_is_number(v))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: field \"%s\" must be a number", name, key);
    *out = json_number_value(v);
    return CLCDD_OK;
}

static clcdd_status get_flag(const json_t *obj, const char *key, const char *name, int def,
                             int *out) {
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return CLCDD_OK;
    }
    if (!json_is_boolean(v))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: field \"%s\" must be true or false", name, key);
    *out = json_is_true(v);
    return CLCDD_OK;
}

static clcdd_status find_arch(const json_t *root, const char *name, clcdd_hf_config *c) {
    const json_t *archs = json_object_get(root, "architectures");
    const char *cls = NULL, *mt = json_string_value(json_object_get(root, "model_type"));
    if (json_is_array(archs) && json_array_size(archs) > 0)
        cls = json_string_value(json_array_get(archs, 0));
    for (size_t i = 0; i < N_ARCH; i++) {
        int hit = cls ? strcmp(cls, arch_table[i].class_name) == 0
                      : (mt && strcmp(mt, arch_table[i].model_type) == 0);
        if (hit) {
            c->arch = arch_table[i].arch;
            snprintf(c->architecture, sizeof c->architecture, "%s", arch_table[i].class_name);
            snprintf(c->model_type, sizeof c->model_type, "%s", arch_table[i].model_type);
            return CLCDD_OK;
        }
    }
    return clcdd_fail(CLCDD_ERR_UNSUPPORTED,
                      "%s: unsupported architecture \"%s\" (model_type \"%s\"); supported: "
                      "LlamaForCausalLM (llama), MistralForCausalLM (mistral), Qwen2ForCausalLM "
                      "(qwen2), Qwen3ForCausalLM (qwen3)",
                      name, cls ? cls : "(none)", mt ? mt : "(none)");
}

static clcdd_status parse_rope(const json_t *root, const char *name, clcdd_hf_config *c) {
    clcdd_status s;
    const json_t *rp = json_object_get(root, "rope_scaling");
    const char *which = "rope_scaling";
    if (!rp || json_is_null(rp)) {
        rp = json_object_get(root, "rope_parameters");
        which = "rope_parameters";
    }
    if ((s = get_num(root, "rope_theta", name, 10000.0, &c->rope_theta))) return s;
    clcdd_hf_rope_scaling *r = &c->rope_scaling;
    r->type = CLCDD_ROPE_NONE;
    r->factor = 1.0;
    r->low_freq_factor = 1.0;
    r->high_freq_factor = 4.0;
    r->beta_fast = 32.0;
    r->beta_slow = 1.0;
    if (!rp || json_is_null(rp)) return CLCDD_OK;
    if (!json_is_object(rp))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: \"%s\" must be an object or null", name, which);
    if (json_object_get(rp, "rope_theta") &&
        (s = get_num(rp, "rope_theta", name, c->rope_theta, &c->rope_theta)))
        return s;
    const json_t *jt = json_object_get(rp, "rope_type");
    if (!jt) jt = json_object_get(rp, "type");
    const char *t = jt ? json_string_value(jt) : "default";
    if (!t) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: %s.rope_type must be a string", name, which);
    if (strcmp(t, "default") == 0) r->type = CLCDD_ROPE_NONE;
    else if (strcmp(t, "linear") == 0) r->type = CLCDD_ROPE_LINEAR;
    else if (strcmp(t, "llama3") == 0) r->type = CLCDD_ROPE_LLAMA3;
    else if (strcmp(t, "dynamic") == 0) r->type = CLCDD_ROPE_DYNAMIC;
    else if (strcmp(t, "yarn") == 0) r->type = CLCDD_ROPE_YARN;
    else
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED,
                          "%s: %s type \"%s\" is not supported (default, linear, llama3, dynamic, "
                          "yarn)",
                          name, which, t);
    if ((s = get_num(rp, "factor", name, 1.0, &r->factor)) ||
        (s = get_num(rp, "low_freq_factor", name, 1.0, &r->low_freq_factor)) ||
        (s = get_num(rp, "high_freq_factor", name, 4.0, &r->high_freq_factor)) ||
        (s = get_num(rp, "attention_factor", name, 0.0, &r->attention_factor)) ||
        (s = get_num(rp, "beta_fast", name, 32.0, &r->beta_fast)) ||
        (s = get_num(rp, "beta_slow", name, 1.0, &r->beta_slow)) ||
        (s = get_int(rp, "original_max_position_embeddings", name, 0, 0, 1,
                     &r->original_max_position_embeddings)))
        return clcdd_fail_context(s, "%s", which);
    if (r->type != CLCDD_ROPE_NONE && !(r->factor > 0))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: %s.factor must be > 0", name, which);
    if (r->type == CLCDD_ROPE_LLAMA3) {
        if (r->original_max_position_embeddings <= 0)
            return clcdd_fail(CLCDD_ERR_FORMAT,
                              "%s: llama3 %s needs original_max_position_embeddings", name, which);
        if (!(r->high_freq_factor > r->low_freq_factor) || !(r->low_freq_factor > 0))
            return clcdd_fail(CLCDD_ERR_FORMAT,
                              "%s: llama3 %s needs 0 < low_freq_factor < high_freq_factor", name,
                              which);
    }
    return CLCDD_OK;
}

static clcdd_status parse_token_ids(const json_t *root, const char *name, clcdd_hf_config *c) {
    clcdd_status s;
    if ((s = get_int(root, "bos_token_id", name, 0, -1, 0, &c->bos_token_id)) ||
        (s = get_int(root, "pad_token_id", name, 0, -1, 0, &c->pad_token_id)))
        return s;
    const json_t *e = json_object_get(root, "eos_token_id");
    c->n_eos = 0;
    if (!e || json_is_null(e)) return CLCDD_OK;
    if (json_is_integer(e)) {
        if (json_integer_value(e) < 0)
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s: eos_token_id must be >= 0", name);
        c->eos_token_ids[c->n_eos++] = json_integer_value(e);
        return CLCDD_OK;
    }
    if (!json_is_array(e))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: eos_token_id must be an integer or a list", name);
    if (json_array_size(e) > CLCDD_HF_MAX_EOS)
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: eos_token_id lists %zu ids (at most %d)",
                          name, json_array_size(e), CLCDD_HF_MAX_EOS);
    for (size_t i = 0; i < json_array_size(e); i++) {
        const json_t *v = json_array_get(e, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s: eos_token_id[%zu] must be an integer >= 0",
                              name, i);
        c->eos_token_ids[c->n_eos++] = json_integer_value(v);
    }
    return CLCDD_OK;
}

static clcdd_status fill(const json_t *root, const char *name, clcdd_hf_config *c) {
    clcdd_status s;
    if (!json_is_object(root))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: config is not a JSON object", name);
    if ((s = find_arch(root, name, c))) return s;
    int64_t def_pos = 2048;
    for (size_t i = 0; i < N_ARCH; i++)
        if (arch_table[i].arch == c->arch) def_pos = arch_table[i].default_max_pos;
    if ((s = get_int(root, "vocab_size", name, 1, 0, 1, &c->vocab_size)) ||
        (s = get_int(root, "hidden_size", name, 1, 0, 1, &c->hidden_size)) ||
        (s = get_int(root, "intermediate_size", name, 1, 0, 1, &c->intermediate_size)) ||
        (s = get_int(root, "num_hidden_layers", name, 1, 0, 1, &c->num_hidden_layers)) ||
        (s = get_int(root, "num_attention_heads", name, 1, 0, 1, &c->num_attention_heads)) ||
        (s = get_int(root, "num_key_value_heads", name, 0, c->num_attention_heads, 1,
                     &c->num_key_value_heads)) ||
        (s = get_int(root, "head_dim", name, 0, 0, 1, &c->head_dim)) ||
        (s = get_int(root, "max_position_embeddings", name, 0, def_pos, 1,
                     &c->max_position_embeddings)) ||
        (s = get_num(root, "rms_norm_eps", name, 1e-6, &c->rms_norm_eps)) ||
        (s = get_flag(root, "tie_word_embeddings", name, 0, &c->tie_word_embeddings)))
        return s;
    if (c->num_attention_heads % c->num_key_value_heads != 0)
        return clcdd_fail(CLCDD_ERR_FORMAT,
                          "%s: num_attention_heads %lld is not a multiple of num_key_value_heads "
                          "%lld",
                          name, (long long)c->num_attention_heads,
                          (long long)c->num_key_value_heads);
    if (c->head_dim == 0) {
        if (c->hidden_size % c->num_attention_heads != 0)
            return clcdd_fail(CLCDD_ERR_FORMAT,
                              "%s: hidden_size %lld is not divisible by num_attention_heads %lld "
                              "and head_dim is not given",
                              name, (long long)c->hidden_size, (long long)c->num_attention_heads);
        c->head_dim = c->hidden_size / c->num_attention_heads;
    }
    if (c->head_dim % 2 != 0)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: head_dim %lld must be even for RoPE", name,
                          (long long)c->head_dim);
    if (!(c->rms_norm_eps > 0))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: rms_norm_eps must be > 0", name);
    if ((s = parse_rope(root, name, c))) return s;
    if (!(c->rope_theta > 0))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: rope_theta must be > 0", name);

    c->attention_bias = c->mlp_bias = c->qkv_bias = c->o_bias = c->qk_norm = 0;
    c->use_sliding_window = 0;
    c->sliding_window = 0;
    c->max_window_layers = 0;
    int64_t window = 0;
    switch (c->arch) {
    case CLCDD_HF_ARCH_LLAMA:
        if ((s = get_flag(root, "attention_bias", name, 0, &c->attention_bias)) ||
            (s = get_flag(root, "mlp_bias", name, 0, &c->mlp_bias)))
            return s;
        c->qkv_bias = c->o_bias = c->attention_bias;
        break;
    case CLCDD_HF_ARCH_MISTRAL:
        /* MistralConfig defaults sliding_window to 4096; null disables it (v0.2+). */
        if (json_object_get(root, "sliding_window") &&
            json_is_null(json_object_get(root, "sliding_window"))) {
            window = 0;
        } else if ((s = get_int(root, "sliding_window", name, 0, 4096, 1, &window))) {
            return s;
        }
        c->use_sliding_window = window > 0;
        break;
    case CLCDD_HF_ARCH_QWEN2:
    case CLCDD_HF_ARCH_QWEN3:
        if (c->arch == CLCDD_HF_ARCH_QWEN2) {
            c->qkv_bias = 1; /* Qwen2 has no flag: q/k/v always biased, o never */
        } else {
            if ((s = get_flag(root, "attention_bias", name, 0, &c->attention_bias))) return s;
            c->qkv_bias = c->o_bias = c->attention_bias;
            c->qk_norm = 1;
        }
        if ((s = get_flag(root, "use_sliding_window", name, 0, &c->use_sliding_window)) ||
            (s = get_int(root, "sliding_window", name, 0, 4096, 0, &window)) ||
            (s = get_int(root, "max_window_layers", name, 0, 28, 0, &c->max_window_layers)))
            return s;
        if (c->use_sliding_window && window <= 0)
            return clcdd_fail(CLCDD_ERR_FORMAT,
                              "%s: use_sliding_window is true but sliding_window is not > 0", name);
        if (!c->use_sliding_window) window = 0;
        break;
    }
    c->sliding_window = c->use_sliding_window ? window : 0;
    return parse_token_ids(root, name, c);
}

clcdd_status clcdd_hf_config_parse(const char *text, size_t len, const char *name,
                                   clcdd_hf_config *out) {
    if (!out) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "hf_config_parse: out is NULL");
    memset(out, 0, sizeof *out);
    if (!name) name = "config.json";
    if (!text && len) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: NULL text", name);
    json_error_t err;
    json_t *root = clcdd_json_loadb_lenient(text ? text : "", len, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: invalid JSON at line %d column %d: %s", name,
                          err.line, err.column, err.text);
    clcdd_status s = fill(root, name, out);
    if (s != CLCDD_OK) {
        json_decref(root);
        memset(out, 0, sizeof *out);
        return s;
    }
    out->json_ = root;
    return CLCDD_OK;
}

clcdd_status clcdd_hf_config_load(const char *path, clcdd_hf_config *out) {
    if (!path || !out) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "hf_config_load: NULL argument");
    memset(out, 0, sizeof *out);
    struct stat sb;
    char *file = NULL;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        file = clcdd_path_join(path, "config.json");
        if (!file) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        path = file;
    }
    char *text = NULL;
    size_t len = 0;
    clcdd_status s = clcdd_read_file(path, &text, &len);
    if (s == CLCDD_OK) s = clcdd_hf_config_parse(text, len, path, out);
    free(text);
    free(file);
    return s;
}

void clcdd_hf_config_free(clcdd_hf_config *cfg) {
    if (!cfg) return;
    json_decref((json_t *)cfg->json_);
    cfg->json_ = NULL;
}

/* Walk a dotted path; NULL if any component is missing or not an object. */
static const json_t *lookup(const clcdd_hf_config *cfg, const char *path) {
    const json_t *cur = cfg ? cfg->json_ : NULL;
    if (!cur || !path) return NULL;
    if (!*path) return cur;
    char buf[256];
    size_t n = strlen(path);
    if (n >= sizeof buf) return NULL;
    memcpy(buf, path, n + 1);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        if (!json_is_object(cur)) return NULL;
        cur = json_object_get(cur, tok);
        if (!cur) return NULL;
    }
    return cur;
}

static clcdd_status lookup_checked(const clcdd_hf_config *cfg, const char *path, const json_t **v) {
    *v = lookup(cfg, path);
    if (!*v || json_is_null(*v))
        return clcdd_fail(CLCDD_ERR_NOT_FOUND, "config: no value at \"%s\"", path ? path : "");
    return CLCDD_OK;
}

clcdd_status clcdd_hf_config_get_int(const clcdd_hf_config *cfg, const char *path, int64_t *out) {
    const json_t *v;
    clcdd_status s = lookup_checked(cfg, path, &v);
    if (s) return s;
    if (!json_is_integer(v))
        return clcdd_fail(CLCDD_ERR_FORMAT, "config: \"%s\" is not an integer", path);
    *out = json_integer_value(v);
    return CLCDD_OK;
}
clcdd_status clcdd_hf_config_get_number(const clcdd_hf_config *cfg, const char *path, double *out) {
    const json_t *v;
    clcdd_status s = lookup_checked(cfg, path, &v);
    if (s) return s;
    if (!json_is_number(v))
        return clcdd_fail(CLCDD_ERR_FORMAT, "config: \"%s\" is not a number", path);
    *out = json_number_value(v);
    return CLCDD_OK;
}
clcdd_status clcdd_hf_config_get_bool(const clcdd_hf_config *cfg, const char *path, int *out) {
    const json_t *v;
    clcdd_status s = lookup_checked(cfg, path, &v);
    if (s) return s;
    if (!json_is_boolean(v))
        return clcdd_fail(CLCDD_ERR_FORMAT, "config: \"%s\" is not true/false", path);
    *out = json_is_true(v);
    return CLCDD_OK;
}
clcdd_status clcdd_hf_config_get_string(const clcdd_hf_config *cfg, const char *path,
                                        const char **out) {
    const json_t *v;
    clcdd_status s = lookup_checked(cfg, path, &v);
    if (s) return s;
    if (!json_is_string(v))
        return clcdd_fail(CLCDD_ERR_FORMAT, "config: \"%s\" is not a string", path);
    *out = json_string_value(v);
    return CLCDD_OK;
}
clcdd_status clcdd_hf_config_get_json(const clcdd_hf_config *cfg, const char *path, char **out) {
    const json_t *v = lookup(cfg, path);
    if (!v) return clcdd_fail(CLCDD_ERR_NOT_FOUND, "config: no value at \"%s\"", path ? path : "");
    *out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!*out) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "config: out of memory");
    return CLCDD_OK;
}
