/* clcdd_model_load: checkpoint -> plugin -> hparams -> model on the device (see load.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clcdd/config_view.h"
#include "clcdd_internal.h"
#include "nn/load.h"
#include "nn/load_source.h"

#define TRY(x)                                                                                   \
    do {                                                                                         \
        clcdd_status st_ = (x);                                                                  \
        if (st_ != CLCDD_OK) return st_;                                                         \
    } while (0)

clcdd_status clcdd_unpermute_rotary(float *w, size_t rows, size_t cols, uint32_t heads) {
    if (!heads || rows % heads || (rows / heads) % 2)
        return clcdd_fail(CLCDD_ERR_FORMAT, "rotary un-permutation: %zu rows do not split into %u "
                          "heads of an even size", rows, heads);
    size_t D = rows / heads, hd2 = D / 2;
    float *tmp = malloc(D * cols * sizeof *tmp);
    if (!tmp) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "rotary un-permutation");
    for (size_t h = 0; h < heads; h++) {
        float *head = w + h * D * cols;
        for (size_t half = 0; half < 2; half++)
            for (size_t j = 0; j < hd2; j++)
                memcpy(tmp + (half * hd2 + j) * cols, head + (2 * j + half) * cols,
                       cols * sizeof *tmp);
        memcpy(head, tmp, D * cols * sizeof *tmp);
    }
    free(tmp);
    return CLCDD_OK;
}

static void shape_str(char *out, size_t cap, int nd, const int64_t *s) {
    size_t o = (size_t)snprintf(out, cap, "[");
    for (int i = 0; i < nd && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%lld", i ? ", " : "", (long long)s[i]);
    if (o < cap) snprintf(out + o, cap - o, "]");
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Map (role, layer) through the plugin; 1 when the role does not exist for this model. */
static clcdd_status map(const clcdd_plugin *p, const clcdd_hparams *hp, clcdd_source_format f,
                        clcdd_tensor_role role, uint32_t layer, clcdd_tensor_mapping *mp,
                        int *absent) {
    int r = p->map_tensor ? p->map_tensor(hp, f, role, layer, mp) : -1;
    if (r < 0)
        return clcdd_fail(CLCDD_ERR_PLUGIN, "plugin '%s' cannot name tensor '%s' of layer %u",
                          p->name, clcdd_role_name(role), layer);
    *absent = r == 1;
    return CLCDD_OK;
}

/* One tensor: find, check shape, convert, transform, upload. */
static clcdd_status load_one(clcdd_ctx *ctx, const clcdd_load_source *src, clcdd_model *m,
                             clcdd_tensor_role role, uint32_t layer,
                             const clcdd_tensor_mapping *mp, clcdd_load_info *info) {
    clcdd_src_tensor t;
    clcdd_status st = clcdd_load_source_find(src, mp->name, &t);
    if (st == CLCDD_ERR_NOT_FOUND)
        return clcdd_fail(CLCDD_ERR_NOT_FOUND, "%s: tensor '%s' (%s%s) is missing", src->path,
                          mp->name, clcdd_role_name(role),
                          clcdd_role_is_per_layer(role) ? " of a layer" : "");
    TRY(st);
    int64_t want[2];
    int nd = clcdd_model_role_shape(&m->hp, role, want);
    int ok = nd == t.ndim;
    for (int i = 0; ok && i < nd; i++) ok = want[i] == t.shape[i];
    if (!ok) {
        char a[64], b[64];
        shape_str(a, sizeof a, nd, want);
        shape_str(b, sizeof b, t.ndim, t.shape);
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s from the "
                          "model's settings", src->path, mp->name, b, a);
    }
    float *host = malloc((t.n ? t.n : 1) * sizeof *host);
    if (!host) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "loading '%s'", mp->name);
    st = clcdd_load_source_read(src, &t, mp->name, host, (size_t)t.n);
    if (st == CLCDD_OK && mp->transform == CLCDD_TRANSFORM_UNPERMUTE_ROTARY) {
        st = clcdd_unpermute_rotary(host, (size_t)t.shape[0], nd == 2 ? (size_t)t.shape[1] : 1,
                                    mp->transform_heads);
        if (st != CLCDD_OK) clcdd_fail_context(st, "%s: tensor '%s'", src->path, mp->name);
    } else if (st == CLCDD_OK && mp->transform != CLCDD_TRANSFORM_NONE) {
        st = clcdd_fail(CLCDD_ERR_UNSUPPORTED, "plugin asks for unknown transform %d on '%s'",
                        (int)mp->transform, mp->name);
    }
    clcdd_tensor view;
    if (st == CLCDD_OK) st = clcdd_model_tensor(m, role, layer, &view);
    if (st == CLCDD_OK) st = clcdd_tensor_upload(ctx, &view, host);
    free(host);
    if (st == CLCDD_OK && info) {
        info->n_params += t.n;
        info->n_tensors++;
        if (role == CLCDD_ROLE_Q && !info->weight_dtype[0])
            snprintf(info->weight_dtype, sizeof info->weight_dtype, "%s", t.dtype);
    }
    return st;
}

/* GGUF llama3 scaling: inv_freq_j = base_j / rope_freqs[j]. */
static clcdd_status apply_rope_freqs(clcdd_ctx *ctx, const clcdd_load_source *src,
                                     clcdd_model *m, clcdd_load_info *info) {
    clcdd_src_tensor t;
    clcdd_status st = clcdd_load_source_find(src, "rope_freqs.weight", &t);
    if (st == CLCDD_ERR_NOT_FOUND) return CLCDD_OK;
    TRY(st);
    size_t n = m->hp.head_dim / 2;
    if (t.n != n)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: rope_freqs.weight has %llu values, expected %zu "
                          "(head_dim / 2)", src->path, (unsigned long long)t.n, n);
    if (m->hp.rope_scaling != CLCDD_ROPE_SCALING_NONE)
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: rope_freqs.weight together with RoPE "
                          "scaling settings", src->path);
    float *f = malloc(2 * n * sizeof *f);
    if (!f) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "rope_freqs");
    float *base = f + n;
    st = clcdd_load_source_read(src, &t, "rope_freqs.weight", f, n);
    if (st == CLCDD_OK) st = clcdd_rope_inv_freq(&m->hp, base);
    for (size_t j = 0; st == CLCDD_OK && j < n; j++) {
        if (!(f[j] > 0) || !isfinite(f[j]))
            st = clcdd_fail(CLCDD_ERR_FORMAT, "%s: rope_freqs.weight[%zu] = %g", src->path, j,
                            (double)f[j]);
        else
            base[j] /= f[j];
    }
    if (st == CLCDD_OK) st = clcdd_tensor_upload(ctx, &m->inv_freq, base);
    if (st == CLCDD_OK) st = clcdd_rope_cs_fill(ctx, &m->rope_cs, &m->inv_freq);
    free(f);
    if (st == CLCDD_OK && info) info->rope_freqs = 1;
    return st;
}

static clcdd_status load_tokenizer(const clcdd_load_source *src, clcdd_load_info *info) {
    if (src->format == CLCDD_SOURCE_GGUF) {
        clcdd_gguf_str s;
        if (clcdd_gguf_get_string(src->gguf, "tokenizer.ggml.model", &s) != CLCDD_OK) {
            clcdd_clear_error();
            snprintf(info->tokenizer_note, sizeof info->tokenizer_note,
                     "none (no tokenizer.ggml.model in the GGUF)");
            return CLCDD_OK;
        }
        snprintf(info->tokenizer_note, sizeof info->tokenizer_note, "GGUF tokenizer.ggml.*");
        return clcdd_tokenizer_from_gguf(src->gguf, src->path, &info->tokenizer);
    }
    char p[1100];
    snprintf(p, sizeof p, "%s/tokenizer.json", src->path);
    struct stat sb;
    if (stat(p, &sb) != 0) {
        /* a checkpoint saved from a GGUF base carries the GGUF's tokenizer as tokenizer.gguf */
        snprintf(p, sizeof p, "%s/tokenizer.gguf", src->path);
        if (stat(p, &sb) != 0) {
            snprintf(info->tokenizer_note, sizeof info->tokenizer_note,
                     "none (no tokenizer.json or tokenizer.gguf)");
            return CLCDD_OK;
        }
        clcdd_gguf *g = NULL;
        TRY(clcdd_gguf_open(p, &g));
        snprintf(info->tokenizer_note, sizeof info->tokenizer_note, "tokenizer.gguf");
        clcdd_status st = clcdd_tokenizer_from_gguf(g, p, &info->tokenizer);
        clcdd_gguf_close(g);
        return st;
    }
    snprintf(info->tokenizer_note, sizeof info->tokenizer_note, "tokenizer.json");
    return clcdd_tokenizer_load(p, &info->tokenizer);
}

static clcdd_status open_view(const char *path, clcdd_config_view **v) {
    if (clcdd_is_gguf_file(path)) return clcdd_config_view_open_gguf(path, v);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return clcdd_fail(CLCDD_ERR_IO, "%s: no such file or directory", path);
    if (!is_dir(path)) {
        size_t n = strlen(path);
        if (n < 11 || strcmp(path + n - 11, "config.json"))
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s is neither a GGUF file nor a Hugging Face "
                              "model directory (config.json + model.safetensors)", path);
    }
    return clcdd_config_view_open_hf(path, v);
}

static clcdd_status load_all(clcdd_ctx *ctx, const char *path, const clcdd_plugin_registry *reg,
                             clcdd_model *model, clcdd_load_info *info, clcdd_load_source *src) {
    clcdd_config_view *view = NULL;
    TRY(open_view(path, &view));
    const clcdd_plugin *p = NULL;
    clcdd_hparams hp;
    clcdd_status st = clcdd_plugin_registry_read_hparams(reg, view, path, &p, &hp);
    clcdd_config_view_close(view);
    TRY(st);
    TRY(clcdd_load_source_open(src, path));
    if (info) {
        info->plugin = p;
        info->format = src->format;
    }
    /* GGUF: no output.weight means the head is tied to the embedding. */
    clcdd_tensor_mapping mp;
    int absent = 0;
    TRY(map(p, &hp, src->format, CLCDD_ROLE_LM_HEAD, 0, &mp, &absent));
    if (!absent && mp.optional && !hp.tie_word_embeddings) {
        clcdd_src_tensor t;
        st = clcdd_load_source_find(src, mp.name, &t);
        if (st == CLCDD_ERR_NOT_FOUND) hp.tie_word_embeddings = 1;
        else TRY(st);
    }
    TRY(clcdd_model_create(ctx, &hp, model));
    for (int r = 0; r < CLCDD_ROLE_COUNT; r++) {
        clcdd_tensor_role role = (clcdd_tensor_role)r;
        uint32_t layers = clcdd_role_is_per_layer(role) ? hp.n_layers : 1;
        for (uint32_t l = 0; l < layers; l++) {
            TRY(map(p, &hp, src->format, role, l, &mp, &absent));
            int has = clcdd_model_has(model, role, l) &&
                      !(role == CLCDD_ROLE_LM_HEAD && hp.tie_word_embeddings);
            if (absent || !has) {
                if (has)
                    return clcdd_fail(CLCDD_ERR_PLUGIN, "plugin '%s' has no tensor for '%s' "
                                      "(layer %u) that the model needs", p->name,
                                      clcdd_role_name(role), l);
                continue;
            }
            TRY(load_one(ctx, src, model, role, l, &mp, info));
        }
    }
    if (src->format == CLCDD_SOURCE_GGUF) TRY(apply_rope_freqs(ctx, src, model, info));
    if (info) TRY(load_tokenizer(src, info));
    return CLCDD_OK;
}

clcdd_status clcdd_model_load(clcdd_ctx *ctx, const char *path, const clcdd_plugin_registry *reg,
                              clcdd_model *model, clcdd_load_info *info) {
    if (!ctx || !path || !reg || !model)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_model_load: NULL argument");
    memset(model, 0, sizeof *model);
    if (info) memset(info, 0, sizeof *info);
    clcdd_load_source src;
    memset(&src, 0, sizeof src);
    clcdd_status st = load_all(ctx, path, reg, model, info, &src);
    clcdd_load_source_close(&src);
    if (st != CLCDD_OK) {
        clcdd_model_destroy(model);
        clcdd_load_info_free(info);
        return clcdd_fail_context(st, "loading model %s", path);
    }
    return CLCDD_OK;
}

void clcdd_load_info_free(clcdd_load_info *info) {
    if (!info) return;
    clcdd_tokenizer_destroy(info->tokenizer);
    memset(info, 0, sizeof *info);
}
