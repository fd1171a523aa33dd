#include "nn/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/basic.h"
#include "runtime/ctx_internal.h"
#include "runtime/gemm_packed.h"

static const char *role_names[CLCDD_ROLE_COUNT] = {
    "embed", "final_norm", "lm_head", "attn_norm", "q", "k", "v", "o", "q_bias", "k_bias",
    "v_bias", "o_bias", "q_norm", "k_norm", "ffn_norm", "gate", "up", "down", "gate_bias",
    "up_bias", "down_bias"};

const char *clcdd_role_name(clcdd_tensor_role role) {
    return (unsigned)role < CLCDD_ROLE_COUNT ? role_names[role] : "?";
}

int clcdd_model_role_shape(const clcdd_hparams *hp, clcdd_tensor_role role, int64_t s[2]) {
    int64_t d = hp->hidden_size, f = hp->intermediate_size, V = hp->vocab_size;
    int64_t dq = (int64_t)hp->n_heads * hp->head_dim, dkv = (int64_t)hp->n_kv_heads * hp->head_dim;
    switch (role) {
    case CLCDD_ROLE_EMBED: s[0] = V, s[1] = d; return 2;
    case CLCDD_ROLE_FINAL_NORM: s[0] = d; return 1;
    case CLCDD_ROLE_LM_HEAD: if (hp->tie_word_embeddings) return 0; s[0] = V, s[1] = d; return 2;
    case CLCDD_ROLE_ATTN_NORM: s[0] = d; return 1;
    case CLCDD_ROLE_Q: s[0] = dq, s[1] = d; return 2;
    case CLCDD_ROLE_K: s[0] = dkv, s[1] = d; return 2;
    case CLCDD_ROLE_V: s[0] = dkv, s[1] = d; return 2;
    case CLCDD_ROLE_O: s[0] = d, s[1] = dq; return 2;
    case CLCDD_ROLE_Q_BIAS: if (!hp->qkv_bias) return 0; s[0] = dq; return 1;
    case CLCDD_ROLE_K_BIAS: if (!hp->qkv_bias) return 0; s[0] = dkv; return 1;
    case CLCDD_ROLE_V_BIAS: if (!hp->qkv_bias) return 0; s[0] = dkv; return 1;
    case CLCDD_ROLE_O_BIAS: if (!hp->o_bias) return 0; s[0] = d; return 1;
    case CLCDD_ROLE_Q_NORM: if (!hp->qk_norm) return 0; s[0] = hp->head_dim; return 1;
    case CLCDD_ROLE_K_NORM: if (!hp->qk_norm) return 0; s[0] = hp->head_dim; return 1;
    case CLCDD_ROLE_FFN_NORM: s[0] = d; return 1;
    case CLCDD_ROLE_GATE: s[0] = f, s[1] = d; return 2;
    case CLCDD_ROLE_UP: s[0] = f, s[1] = d; return 2;
    case CLCDD_ROLE_DOWN: s[0] = d, s[1] = f; return 2;
    case CLCDD_ROLE_GATE_BIAS: if (!hp->mlp_bias) return 0; s[0] = f; return 1;
    case CLCDD_ROLE_UP_BIAS: if (!hp->mlp_bias) return 0; s[0] = f; return 1;
    case CLCDD_ROLE_DOWN_BIAS: if (!hp->mlp_bias) return 0; s[0] = d; return 1;
    case CLCDD_ROLE_COUNT: break;
    }
    return 0;
}

clcdd_status clcdd_rope_inv_freq(const clcdd_hparams *hp, float *out) {
    uint32_t hd = hp->head_dim;
    for (uint32_t j = 0; j < hd / 2; j++) {
        /* HF: 1 / theta ** (arange(0, hd, 2, dtype=int64).float() / hd), in float32. */
        float expo = (float)(2 * j) / (float)hd;
        float inv = 1.0f / powf(hp->rope_theta, expo);
        switch (hp->rope_scaling) {
        case CLCDD_ROPE_SCALING_NONE: break;
        case CLCDD_ROPE_SCALING_LINEAR: inv /= hp->rope_factor; break;
        case CLCDD_ROPE_SCALING_LLAMA3: {
            float F = hp->rope_factor, lf = hp->rope_low_freq_factor, hf = hp->rope_high_freq_factor;
            float L0 = (float)hp->rope_original_max_pos;
            float low_wl = L0 / lf, high_wl = L0 / hf, wl = 2.0f * 3.14159265358979323846f / inv;
            if (wl < high_wl) {
                /* keep */
            } else if (wl > low_wl) {
                inv = inv / F;
            } else {
                float s = (L0 / wl - lf) / (hf - lf);
                inv = (1.0f - s) * inv / F + s * inv;
            }
            break;
        }
        default:
            return clcdd_fail(CLCDD_ERR_UNSUPPORTED,
                              "RoPE scaling type %d (dynamic/yarn) is not supported; use a "
                              "checkpoint without rope_scaling or with linear/llama3 scaling",
                              (int)hp->rope_scaling);
        }
        out[j] = inv;
    }
    return CLCDD_OK;
}

static clcdd_status validate(const clcdd_hparams *hp) {
    if (!hp->hidden_size || !hp->intermediate_size || !hp->n_layers || !hp->n_heads ||
        !hp->n_kv_heads || !hp->head_dim || !hp->vocab_size)
        return clcdd_fail(CLCDD_ERR_FORMAT, "model hyperparameters: a dimension is zero "
                          "(d %u, f %u, L %u, H %u, H_kv %u, hd %u, V %u)", hp->hidden_size,
                          hp->intermediate_size, hp->n_layers, hp->n_heads, hp->n_kv_heads,
                          hp->head_dim, hp->vocab_size);
    if (hp->n_heads % hp->n_kv_heads)
        return clcdd_fail(CLCDD_ERR_FORMAT, "model hyperparameters: %u heads are not a multiple of "
                          "%u key/value heads", hp->n_heads, hp->n_kv_heads);
    if (hp->head_dim % 2)
        return clcdd_fail(CLCDD_ERR_FORMAT, "model hyperparameters: head_dim %u is odd", hp->head_dim);
    if (!(hp->rope_theta > 0) || !(hp->rms_eps >= 0))
        return clcdd_fail(CLCDD_ERR_FORMAT, "model hyperparameters: rope_theta %g / eps %g invalid",
                          hp->rope_theta, hp->rms_eps);
    return CLCDD_OK;
}

clcdd_status clcdd_model_create(clcdd_ctx *ctx, const clcdd_hparams *hp, clcdd_model *m) {
    memset(m, 0, sizeof *m);
    TRY(validate(hp));
    m->hp = *hp;
    size_t rows = (size_t)hp->n_layers + 1;
    m->slots = malloc(rows * CLCDD_ROLE_COUNT * sizeof *m->slots);
    if (!m->slots) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "model slots");
    for (size_t i = 0; i < rows * CLCDD_ROLE_COUNT; i++) m->slots[i] = CLCDD_NO_SLOT;
    clcdd_arena_init(&m->params, "model parameters");
    clcdd_status st = CLCDD_OK;
    for (int r = 0; r < CLCDD_ROLE_COUNT && st == CLCDD_OK; r++) {
        int64_t shape[2];
        int nd = clcdd_model_role_shape(hp, (clcdd_tensor_role)r, shape);
        if (!nd) continue;
        uint32_t layers = clcdd_role_is_per_layer((clcdd_tensor_role)r) ? hp->n_layers : 1;
        for (uint32_t l = 0; l < layers && st == CLCDD_OK; l++) {
            char name[96];
            if (layers > 1 || clcdd_role_is_per_layer((clcdd_tensor_role)r))
                snprintf(name, sizeof name, "layer %u %s", l, role_names[r]);
            else
                snprintf(name, sizeof name, "%s", role_names[r]);
            size_t idx = clcdd_role_is_per_layer((clcdd_tensor_role)r) ? (1 + l) * CLCDD_ROLE_COUNT + r : (size_t)r;
            st = clcdd_arena_add(&m->params, name, CLCDD_F32, nd, shape, &m->slots[idx]);
        }
    }
    if (st == CLCDD_OK) st = clcdd_arena_alloc(ctx, &m->params, 1);
    float *inv = NULL;
    if (st == CLCDD_OK) {
        int64_t s[1] = {hp->head_dim / 2};
        inv = malloc(s[0] * sizeof(float));
        if (!inv) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "rope table");
        if (st == CLCDD_OK) st = clcdd_rope_inv_freq(hp, inv);
        if (st == CLCDD_OK) st = clcdd_tensor_create(ctx, CLCDD_F32, 1, s, "RoPE frequencies", &m->inv_freq);
        if (st == CLCDD_OK) st = clcdd_tensor_upload(ctx, &m->inv_freq, inv);
        /* Positions below min(max_position_embeddings, 4096): at most 4096 * hd * 4 bytes. */
        size_t len = hp->max_position_embeddings ? hp->max_position_embeddings : 4096;
        if (len > 4096) len = 4096;
        if (st == CLCDD_OK) st = clcdd_rope_cs_create(ctx, &m->inv_freq, (size_t)s[0], len, &m->rope_cs);
    }
    free(inv);
    if (st != CLCDD_OK) clcdd_model_destroy(m);
    return st;
}

void clcdd_model_destroy(clcdd_model *m) {
    if (!m) return;
    clcdd_model_unpack(m);
    clcdd_arena_free(&m->params);
    clcdd_tensor_destroy(&m->inv_freq);
    clcdd_rope_cs_destroy(&m->rope_cs);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static size_t slot_of(const clcdd_model *m, clcdd_tensor_role role, uint32_t layer) {
    if ((unsigned)role >= CLCDD_ROLE_COUNT || !m->slots) return CLCDD_NO_SLOT;
    if (clcdd_role_is_per_layer(role)) {
        if (layer >= m->hp.n_layers) return CLCDD_NO_SLOT;
        return m->slots[(1 + (size_t)layer) * CLCDD_ROLE_COUNT + role];
    }
    if (role == CLCDD_ROLE_LM_HEAD && m->hp.tie_word_embeddings) return m->slots[CLCDD_ROLE_EMBED];
    return m->slots[role];
}

int clcdd_model_has(const clcdd_model *m, clcdd_tensor_role role, uint32_t layer) {
    return slot_of(m, role, layer) != CLCDD_NO_SLOT;
}

clcdd_status clcdd_model_tensor(const clcdd_model *m, clcdd_tensor_role role, uint32_t layer,
                                clcdd_tensor *out) {
    size_t s = slot_of(m, role, layer);
    if (s == CLCDD_NO_SLOT)
        return clcdd_fail(CLCDD_ERR_NOT_FOUND, "the model has no %s tensor for layer %u",
                          clcdd_role_name(role), layer);
    *out = clcdd_arena_view(&m->params, s);
    return CLCDD_OK;
}

clcdd_status clcdd_model_init_random(clcdd_ctx *ctx, clcdd_model *m, uint64_t seed, float std) {
    uint64_t counter = 0;
    for (size_t i = 0; i < m->params.n_slots; i++) {
        clcdd_tensor t = clcdd_arena_view(&m->params, i);
        const char *name = m->params.slots[i].name;
        size_t len = strlen(name);
        int is_norm = len >= 4 && strcmp(name + len - 4, "norm") == 0;
        int is_bias = len >= 4 && strcmp(name + len - 4, "bias") == 0;
        if (is_norm)
            TRY(clcdd_tensor_fill(ctx, &t, 1.0f));
        else if (is_bias)
            TRY(clcdd_tensor_fill(ctx, &t, 0.0f));
        else
            TRY(clcdd_rng_normal(ctx, &t, seed, counter, 0.0f, std));
        counter += (uint64_t)clcdd_tensor_numel(&t);
    }
    return CLCDD_OK;
}

/* ---- packed copies of frozen linear weights -------------------------------------------------- */

static const clcdd_tensor_role packed_roles[] = {CLCDD_ROLE_Q,    CLCDD_ROLE_K,  CLCDD_ROLE_V,
                                                 CLCDD_ROLE_O,    CLCDD_ROLE_GATE, CLCDD_ROLE_UP,
                                                 CLCDD_ROLE_DOWN, CLCDD_ROLE_LM_HEAD};

static size_t packed_index(const clcdd_model *m, clcdd_tensor_role role, uint32_t layer) {
    if ((unsigned)role >= CLCDD_ROLE_COUNT) return (size_t)-1;
    if (!clcdd_role_is_per_layer(role)) return (size_t)role;
    if (layer >= m->hp.n_layers) return (size_t)-1;
    return ((size_t)layer + 1) * CLCDD_ROLE_COUNT + (size_t)role;
}

void clcdd_model_unpack(clcdd_model *m) {
    if (!m->packed) return;
    size_t n = ((size_t)m->hp.n_layers + 1) * CLCDD_ROLE_COUNT;
    for (size_t i = 0; i < n; i++) clcdd_packed_weight_destroy(&m->packed[i]);
    free(m->packed);
    m->packed = NULL;
}

clcdd_status clcdd_model_pack(clcdd_ctx *ctx, clcdd_model *m, int backward) {
    clcdd_model_unpack(m);
    size_t n = ((size_t)m->hp.n_layers + 1) * CLCDD_ROLE_COUNT;
    m->packed = calloc(n, sizeof *m->packed);
    if (!m->packed) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "packed weights");
    int flags = CLCDD_PACK_FORWARD | (backward ? CLCDD_PACK_BACKWARD : 0);
    for (uint32_t l = 0; l < m->hp.n_layers + 1; l++)
        for (size_t r = 0; r < sizeof packed_roles / sizeof packed_roles[0]; r++) {
            clcdd_tensor_role role = packed_roles[r];
            int per_layer = clcdd_role_is_per_layer(role);
            if ((per_layer && l == m->hp.n_layers) || (!per_layer && l > 0)) continue;
            if (!clcdd_model_has(m, role, l)) continue;
            clcdd_tensor w;
            clcdd_status st = clcdd_model_tensor(m, role, l, &w);
            if (st == CLCDD_OK && w.ndim != 2)
                st = clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "packing: weight is not a matrix");
            if (st == CLCDD_OK) {
                clcdd_matrix wm = {w.buf, w.offset / sizeof(float), (size_t)w.shape[1]};
                st = clcdd_packed_weight_create(ctx, wm, (size_t)w.shape[0], (size_t)w.shape[1],
                                                flags, &m->packed[packed_index(m, role, l)]);
            }
            if (st != CLCDD_OK) {
                clcdd_model_unpack(m);
                return clcdd_fail_context(st, "packing the frozen weights of layer %u", l);
            }
        }
    return CLCDD_OK;
}

void clcdd_model_pack_or_warn(clcdd_ctx *ctx, clcdd_model *m, int backward, const char *what) {
    if (clcdd_model_pack(ctx, m, backward) != CLCDD_OK) {
        clcdd_log(CLCDD_LOG_WARN, "packing the weights of %s failed (%s); continuing without the "
                  "packed copies (slower GEMMs, same results)", what, clcdd_last_error());
        clcdd_clear_error();
    }
}

const clcdd_packed_weight *clcdd_model_packed(const clcdd_model *m, clcdd_tensor_role role,
                                              uint32_t layer) {
    if (!m->packed) return NULL;
    size_t i = packed_index(m, role, layer);
    if (i == (size_t)-1 || !m->packed[i].packed) return NULL;
    return &m->packed[i];
}
