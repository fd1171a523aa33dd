#include "nn/checkpoint.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd/safetensors.h"
#include "runtime/ctx_internal.h"

int clcdd_hf_tensor_name(const clcdd_hparams *hp, clcdd_tensor_role role, uint32_t l, char *out,
                         size_t cap) {
    int64_t shape[2];
    if (!clcdd_model_role_shape(hp, role, shape)) return 0;
    const char *fmt = NULL;
    switch (role) {
    case CLCDD_ROLE_EMBED: fmt = "model.embed_tokens.weight"; break;
    case CLCDD_ROLE_FINAL_NORM: fmt = "model.norm.weight"; break;
    case CLCDD_ROLE_LM_HEAD: fmt = "lm_head.weight"; break;
    case CLCDD_ROLE_ATTN_NORM: fmt = "model.layers.%u.input_layernorm.weight"; break;
    case CLCDD_ROLE_Q: fmt = "model.layers.%u.self_attn.q_proj.weight"; break;
    case CLCDD_ROLE_K: fmt = "model.layers.%u.self_attn.k_proj.weight"; break;
    case CLCDD_ROLE_V: fmt = "model.layers.%u.self_attn.v_proj.weight"; break;
    case CLCDD_ROLE_O: fmt = "model.layers.%u.self_attn.o_proj.weight"; break;
    case CLCDD_ROLE_Q_BIAS: fmt = "model.layers.%u.self_attn.q_proj.bias"; break;
    case CLCDD_ROLE_K_BIAS: fmt = "model.layers.%u.self_attn.k_proj.bias"; break;
    case CLCDD_ROLE_V_BIAS: fmt = "model.layers.%u.self_attn.v_proj.bias"; break;
    case CLCDD_ROLE_O_BIAS: fmt = "model.layers.%u.self_attn.o_proj.bias"; break;
    case CLCDD_ROLE_Q_NORM: fmt = "model.layers.%u.self_attn.q_norm.weight"; break;
    case CLCDD_ROLE_K_NORM: fmt = "model.layers.%u.self_attn.k_norm.weight"; break;
    case CLCDD_ROLE_FFN_NORM: fmt = "model.layers.%u.post_attention_layernorm.weight"; break;
    case CLCDD_ROLE_GATE: fmt = "model.layers.%u.mlp.gate_proj.weight"; break;
    case CLCDD_ROLE_UP: fmt = "model.layers.%u.mlp.up_proj.weight"; break;
    case CLCDD_ROLE_DOWN: fmt = "model.layers.%u.mlp.down_proj.weight"; break;
    case CLCDD_ROLE_GATE_BIAS: fmt = "model.layers.%u.mlp.gate_proj.bias"; break;
    case CLCDD_ROLE_UP_BIAS: fmt = "model.layers.%u.mlp.up_proj.bias"; break;
    case CLCDD_ROLE_DOWN_BIAS: fmt = "model.layers.%u.mlp.down_proj.bias"; break;
    case CLCDD_ROLE_COUNT: return 0;
    }
    snprintf(out, cap, fmt, l);
    return 1;
}

static const char *arch_of(const clcdd_hparams *hp, const char **model_type) {
    if (hp->qk_norm) return *model_type = "qwen3", "Qwen3ForCausalLM";
    if (!strcmp(hp->family, "qwen")) return *model_type = "qwen2", "Qwen2ForCausalLM";
    if (!strcmp(hp->family, "mistral")) return *model_type = "mistral", "MistralForCausalLM";
    return *model_type = "llama", "LlamaForCausalLM";
}

clcdd_status clcdd_hf_config_json(const clcdd_hparams *hp, char **out) {
    const char *mt = NULL, *arch = arch_of(hp, &mt);
    json_t *o = json_object(), *archs = json_array();
    json_array_append_new(archs, json_string(arch));
    json_object_set_new(o, "architectures", archs);
    json_object_set_new(o, "model_type", json_string(mt));
    json_object_set_new(o, "vocab_size", json_integer(hp->vocab_size));
    json_object_set_new(o, "hidden_size", json_integer(hp->hidden_size));
    json_object_set_new(o, "intermediate_size", json_integer(hp->intermediate_size));
    json_object_set_new(o, "num_hidden_layers", json_integer(hp->n_layers));
    json_object_set_new(o, "num_attention_heads", json_integer(hp->n_heads));
    json_object_set_new(o, "num_key_value_heads", json_integer(hp->n_kv_heads));
    json_object_set_new(o, "head_dim", json_integer(hp->head_dim));
    json_object_set_new(o, "hidden_act", json_string("silu"));
    json_object_set_new(o, "rms_norm_eps", json_real(hp->rms_eps));
    json_object_set_new(o, "rope_theta", json_real(hp->rope_theta));
    json_object_set_new(o, "max_position_embeddings",
                        json_integer(hp->max_position_embeddings ? hp->max_position_embeddings : 2048));
    json_object_set_new(o, "tie_word_embeddings", json_boolean(hp->tie_word_embeddings));
    if (strcmp(mt, "qwen2") != 0) json_object_set_new(o, "attention_bias", json_boolean(hp->qkv_bias));
    if (!strcmp(mt, "llama")) json_object_set_new(o, "mlp_bias", json_boolean(hp->mlp_bias));
    if (hp->rope_scaling == CLCDD_ROPE_SCALING_LINEAR || hp->rope_scaling == CLCDD_ROPE_SCALING_LLAMA3) {
        json_t *rs = json_object();
        int l3 = hp->rope_scaling == CLCDD_ROPE_SCALING_LLAMA3;
        json_object_set_new(rs, "rope_type", json_string(l3 ? "llama3" : "linear"));
        json_object_set_new(rs, "factor", json_real(hp->rope_factor));
        if (l3) {
            json_object_set_new(rs, "low_freq_factor", json_real(hp->rope_low_freq_factor));
            json_object_set_new(rs, "high_freq_factor", json_real(hp->rope_high_freq_factor));
            json_object_set_new(rs, "original_max_position_embeddings", json_integer(hp->rope_original_max_pos));
        }
        json_object_set_new(o, "rope_scaling", rs);
    } else {
        json_object_set_new(o, "rope_scaling", json_null());
    }
    if (hp->sliding_window) json_object_set_new(o, "sliding_window", json_integer(hp->sliding_window));
    if (hp->bos_id >= 0) json_object_set_new(o, "bos_token_id", json_integer(hp->bos_id));
    if (hp->pad_id >= 0) json_object_set_new(o, "pad_token_id", json_integer(hp->pad_id));
    if (hp->n_eos == 1) json_object_set_new(o, "eos_token_id", json_integer(hp->eos_ids[0]));
    if (hp->n_eos > 1) {
        json_t *e = json_array();
        for (uint32_t i = 0; i < hp->n_eos; i++) json_array_append_new(e, json_integer(hp->eos_ids[i]));
        json_object_set_new(o, "eos_token_id", e);
    }
    json_object_set_new(o, "torch_dtype", json_string("float32"));
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "config.json");
    *out = text;
    return CLCDD_OK;
}

clcdd_status clcdd_model_save_hf(clcdd_ctx *ctx, const clcdd_model *m, const char *dir,
                                 const char *const *metadata, size_t n_meta) {
    TRY(clcdd_mkdirs(dir));
    const clcdd_hparams *hp = &m->hp;
    size_t max_t = (size_t)hp->n_layers * CLCDD_ROLE_COUNT + CLCDD_ROLE_COUNT;
    clcdd_st_write_tensor *ts = calloc(max_t, sizeof *ts);
    char (*names)[128] = calloc(max_t, sizeof *names);
    uint64_t (*shapes)[2] = calloc(max_t, sizeof *shapes);
    float **data = calloc(max_t, sizeof *data);
    size_t n = 0;
    clcdd_status st = CLCDD_OK;
    if (!ts || !names || !shapes || !data) {
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "saving %s", dir);
        goto done;
    }
    for (int r = 0; r < CLCDD_ROLE_COUNT && st == CLCDD_OK; r++) {
        uint32_t layers = clcdd_role_is_per_layer((clcdd_tensor_role)r) ? hp->n_layers : 1;
        for (uint32_t l = 0; l < layers && st == CLCDD_OK; l++) {
            if (!clcdd_hf_tensor_name(hp, (clcdd_tensor_role)r, l, names[n], sizeof names[n])) continue;
            clcdd_tensor t;
            if ((st = clcdd_model_tensor(m, (clcdd_tensor_role)r, l, &t))) break;
            size_t cnt = (size_t)clcdd_tensor_numel(&t);
            data[n] = malloc(cnt * sizeof(float));
            if (!data[n]) {
                st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "saving %s", names[n]);
                break;
            }
            if ((st = clcdd_tensor_download(ctx, &t, data[n]))) break;
            for (int i = 0; i < t.ndim; i++) shapes[n][i] = (uint64_t)t.shape[i];
            ts[n].name = names[n];
            ts[n].dtype = CLCDD_DTYPE_F32;
            ts[n].n_dims = (size_t)t.ndim;
            ts[n].shape = shapes[n];
            ts[n].data = data[n];
            n++;
        }
    }
    if (st != CLCDD_OK) goto done;
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    static const char *const fmt_meta[] = {"format", "pt"};
    st = clcdd_safetensors_write(path, ts, n, metadata ? (const char **)metadata : (const char **)fmt_meta,
                                 metadata ? n_meta : 1);
    if (st != CLCDD_OK) goto done;
    char *cfg = NULL;
    if ((st = clcdd_hf_config_json(hp, &cfg))) goto done;
    snprintf(path, sizeof path, "%s/config.json", dir);
    st = clcdd_write_file_atomic(path, cfg, strlen(cfg));
    free(cfg);
done:
    for (size_t i = 0; i < n; i++) free(data[i]);
    if (data && st != CLCDD_OK && n < max_t) free(data[n]);
    free(ts), free(names), free(shapes), free(data);
    return st;
}

clcdd_status clcdd_model_fill_hf(clcdd_ctx *ctx, clcdd_model *m, const clcdd_safetensors *st,
                                 const char *what) {
    const clcdd_hparams *hp = &m->hp;
    for (int r = 0; r < CLCDD_ROLE_COUNT; r++) {
        uint32_t layers = clcdd_role_is_per_layer((clcdd_tensor_role)r) ? hp->n_layers : 1;
        for (uint32_t l = 0; l < layers; l++) {
            char name[128];
            if (!clcdd_hf_tensor_name(hp, (clcdd_tensor_role)r, l, name, sizeof name)) continue;
            clcdd_tensor t;
            TRY(clcdd_model_tensor(m, (clcdd_tensor_role)r, l, &t));
            clcdd_st_tensor v;
            clcdd_status s = clcdd_safetensors_find(st, name, &v);
            if (s != CLCDD_OK) return clcdd_fail_context(s, "%s", what);
            size_t n = (size_t)clcdd_tensor_numel(&t);
            if (v.n_elements != n)
                return clcdd_fail(CLCDD_ERR_FORMAT, "%s: tensor %s has %llu elements, the model needs %zu",
                                  what, name, (unsigned long long)v.n_elements, n);
            float *h = malloc(n * sizeof *h);
            if (!h) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: %s", what, name);
            s = clcdd_tensor_to_f32(&v, h, n);
            if (s == CLCDD_OK) s = clcdd_tensor_upload(ctx, &t, h);
            free(h);
            TRY(s);
        }
    }
    return CLCDD_OK;
}
