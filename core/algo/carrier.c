#include "algo/carrier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ctx_internal.h"

clcdd_status clcdd_model_fingerprint(clcdd_ctx *ctx, const clcdd_model *m, char out[40]) {
    uint64_t h[2] = {CLCDD_FNV_SEED, CLCDD_FNV_SEED ^ 0x9e3779b97f4a7c15ULL};
    const clcdd_hparams *hp = &m->hp;
    uint32_t dims[8] = {hp->vocab_size, hp->hidden_size, hp->intermediate_size, hp->n_layers,
                        hp->n_heads, hp->n_kv_heads, hp->head_dim, (uint32_t)hp->tie_word_embeddings};
    for (int k = 0; k < 2; k++) h[k] = clcdd_fnv1a64(dims, sizeof dims, h[k]);
    for (size_t i = 0; i < m->params.n_slots; i++) {
        clcdd_tensor t = clcdd_arena_view(&m->params, i);
        size_t bytes = clcdd_tensor_bytes(&t);
        void *buf = malloc(bytes ? bytes : 1);
        if (!buf) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "fingerprint");
        clcdd_status st = clcdd_tensor_download(ctx, &t, buf);
        if (st == CLCDD_OK)
            for (int k = 0; k < 2; k++) h[k] = clcdd_fnv1a64(buf, bytes, h[k]);
        free(buf);
        TRY(st);
    }
    snprintf(out, 40, "%016llx%016llx", (unsigned long long)h[0], (unsigned long long)h[1]);
    return CLCDD_OK;
}


const char *clcdd_carrier_group_name(int g) { return clcdd_mask_group_name(g); }

clcdd_status clcdd_carrier_density(const clcdd_carrier *c, double *density) {
    clcdd_hparams hp;
    memset(&hp, 0, sizeof hp);
    hp.hidden_size = c->hidden_size, hp.intermediate_size = c->intermediate_size;
    hp.n_heads = c->n_heads, hp.n_kv_heads = c->n_kv_heads, hp.head_dim = c->head_dim;
    uint64_t S = clcdd_mask_layer_size(&hp);
    if (!c->mask || S == 0 || c->n_mask != S * c->n_layers)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "carrier density: %llu masks do not fit %u layers of %llu channels; the "
                          "archive does not match its own dimensions (write it again with clcdd train)",
                          (unsigned long long)c->n_mask, c->n_layers, (unsigned long long)S);
    for (uint32_t l = 0; l < c->n_layers; l++)
        for (int g = 0; g < CLCDD_MASK_GROUPS; g++) {
            size_t off = l * S + clcdd_mask_group_offset(&hp, g), len = clcdd_mask_group_len(&hp, g);
            size_t on = 0;
            for (size_t j = 0; j < len; j++) on += c->mask[off + j] != 0;
            density[l * CLCDD_MASK_GROUPS + g] = len ? (double)on / (double)len : 0;
        }
    return CLCDD_OK;
}

static const clcdd_tensor_role norm_roles[5] = {CLCDD_ROLE_ATTN_NORM, CLCDD_ROLE_FFN_NORM,
                                               CLCDD_ROLE_Q_NORM, CLCDD_ROLE_K_NORM,
                                               CLCDD_ROLE_FINAL_NORM};

static float *download(clcdd_ctx *ctx, const clcdd_model *m, clcdd_tensor_role r, uint32_t l,
                       size_t *n, clcdd_status *st) {
    clcdd_tensor t;
    *st = clcdd_model_tensor(m, r, l, &t);
    if (*st) return NULL;
    *n = (size_t)clcdd_tensor_numel(&t);
    float *h = malloc(*n * sizeof *h);
    if (!h) {
        *st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "carrier export");
        return NULL;
    }
    *st = clcdd_tensor_download(ctx, &t, h);
    if (*st) {
        free(h);
        return NULL;
    }
    return h;
}

clcdd_status clcdd_lcdd_export(clcdd_lcdd *l, const char *sft_fp, const char *train_json,
                               clcdd_carrier **out) {
    clcdd_ctx *ctx = l->ctx;
    const clcdd_hparams *hp = &l->w.hp;
    size_t S = clcdd_mask_layer_size(hp);
    clcdd_carrier *c = calloc(1, sizeof *c);
    float *th = malloc(l->n_mask * sizeof *th);
    clcdd_status st = CLCDD_OK;
    if (!c || !th) {
        free(c), free(th);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "carrier export");
    }
    c->version = CLCDD_CARRIER_VERSION;
    snprintf(c->family, sizeof c->family, "%s", hp->family);
    snprintf(c->architecture, sizeof c->architecture, "%s", hp->architecture);
    c->vocab_size = hp->vocab_size, c->hidden_size = hp->hidden_size;
    c->intermediate_size = hp->intermediate_size, c->n_layers = hp->n_layers;
    c->n_heads = hp->n_heads, c->n_kv_heads = hp->n_kv_heads, c->head_dim = hp->head_dim;
    if ((st = clcdd_model_fingerprint(ctx, l->w0, c->base_fingerprint))) goto fail;
    snprintf(c->sft_fingerprint, sizeof c->sft_fingerprint, "%s", sft_fp ? sft_fp : "");
    if ((st = clcdd_tensor_download(ctx, &l->theta, th))) goto fail;
    c->n_mask = l->n_mask;
    c->theta = th;
    th = NULL;
    c->mask = malloc(l->n_mask);
    c->matrices = calloc((size_t)hp->n_layers * 7, sizeof *c->matrices);
    c->norms = calloc((size_t)hp->n_layers * 4 + 1, sizeof *c->norms);
    if (!c->mask || !c->matrices || !c->norms) {
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "carrier export");
        goto fail;
    }
    for (size_t i = 0; i < l->n_mask; i++) c->mask[i] = c->theta[i] > 0;
    uint32_t G = hp->n_heads / hp->n_kv_heads, hd = hp->head_dim;
    for (uint32_t layer = 0; layer < hp->n_layers; layer++) {
        const uint8_t *mk = c->mask + (size_t)layer * S;
        for (int p = 0; p < 7; p++) {
            size_t nw, na;
            float *w = download(ctx, &l->w, clcdd_masked_projs[p].role, layer, &nw, &st);
            if (st) goto fail;
            float *a = download(ctx, l->w0, clcdd_masked_projs[p].role, layer, &na, &st);
            if (st) { free(w); goto fail; }
            clcdd_tensor t;
            clcdd_model_tensor(&l->w, clcdd_masked_projs[p].role, layer, &t);
            uint32_t rows = (uint32_t)t.shape[0], cols = (uint32_t)t.shape[1];
            const uint8_t *rm = mk + clcdd_mask_group_offset(hp, clcdd_masked_projs[p].row);
            const uint8_t *cm = mk + clcdd_mask_group_offset(hp, clcdd_masked_projs[p].col);
            clcdd_carrier_matrix *mx = &c->matrices[c->n_matrices++];
            mx->layer = layer;
            mx->role = clcdd_masked_projs[p].role;
            mx->rows = malloc((rows ? rows : 1) * sizeof(uint32_t));
            mx->cols = malloc((cols ? cols : 1) * sizeof(uint32_t));
            if (!mx->rows || !mx->cols) { free(w), free(a); st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "carrier"); goto fail; }
            for (uint32_t i = 0; i < rows; i++) if (rm[i]) mx->rows[mx->n_rows++] = i;
            for (uint32_t j = 0; j < cols; j++) {
                uint32_t k = clcdd_masked_projs[p].expand ? ((j / hd) / G) * hd + j % hd : j;
                if (cm[k]) mx->cols[mx->n_cols++] = j;
            }
            mx->delta = malloc(((size_t)mx->n_rows * mx->n_cols + 1) * sizeof(float));
            if (!mx->delta) { free(w), free(a); st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "carrier"); goto fail; }
            for (uint32_t i = 0; i < mx->n_rows; i++)
                for (uint32_t j = 0; j < mx->n_cols; j++) {
                    size_t x = (size_t)mx->rows[i] * cols + mx->cols[j];
                    mx->delta[(size_t)i * mx->n_cols + j] = w[x] - a[x];
                }
            free(w), free(a);
            if (clcdd_model_has(&l->w, clcdd_masked_projs[p].bias, layer)) {
                float *bw = download(ctx, &l->w, clcdd_masked_projs[p].bias, layer, &nw, &st);
                if (st) goto fail;
                float *ba = download(ctx, l->w0, clcdd_masked_projs[p].bias, layer, &na, &st);
                if (st) { free(bw); goto fail; }
                mx->bias_delta = malloc((mx->n_rows + 1) * sizeof(float));
                if (!mx->bias_delta) { free(bw), free(ba); st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "carrier"); goto fail; }
                for (uint32_t i = 0; i < mx->n_rows; i++) mx->bias_delta[i] = bw[mx->rows[i]] - ba[mx->rows[i]];
                free(bw), free(ba);
            }
        }
    }
    for (int r = 0; r < 5; r++) {
        uint32_t layers = clcdd_role_is_per_layer(norm_roles[r]) ? hp->n_layers : 1;
        for (uint32_t layer = 0; layer < layers; layer++) {
            if (!clcdd_model_has(&l->w, norm_roles[r], layer)) continue;
            size_t n;
            float *w = download(ctx, &l->w, norm_roles[r], layer, &n, &st);
            if (st) goto fail;
            clcdd_carrier_norm *nm = &c->norms[c->n_norms++];
            nm->layer = layer;
            nm->role = norm_roles[r];
            nm->n = (uint32_t)n;
            nm->w = w;
        }
    }
    if (train_json && !(c->train_json = strdup(train_json))) {
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "carrier export");
        goto fail;
    }
    *out = c;
    return CLCDD_OK;
fail:
    free(th);
    clcdd_carrier_free(c);
    return st;
}

clcdd_status clcdd_carrier_apply(clcdd_ctx *ctx, const clcdd_model *base, const clcdd_carrier *c,
                                 clcdd_model *out) {
    const clcdd_hparams *hp = &base->hp;
    if (c->vocab_size != hp->vocab_size || c->hidden_size != hp->hidden_size ||
        c->intermediate_size != hp->intermediate_size || c->n_layers != hp->n_layers ||
        c->n_heads != hp->n_heads || c->n_kv_heads != hp->n_kv_heads || c->head_dim != hp->head_dim)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "the carrier archive was made for a model of other dimensions (d %u, %u "
                          "layers) than this base (d %u, %u layers); use the base model it was "
                          "trained from", c->hidden_size, c->n_layers, hp->hidden_size, hp->n_layers);
    char fp[40];
    TRY(clcdd_model_fingerprint(ctx, base, fp));
    if (strcmp(fp, c->base_fingerprint) != 0)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "the carrier archive belongs to another base model (fingerprint %s, this "
                          "base is %s); apply it to the base checkpoint LCDD was trained from",
                          c->base_fingerprint, fp);
    for (size_t ch = 0; ch < base->params.n_chunks; ch++)
        CL_TRY(clEnqueueCopyBuffer(ctx->queue, base->params.chunks[ch], out->params.chunks[ch], 0, 0,
                                   base->params.chunk_bytes[ch], 0, NULL, NULL),
               "copying the base model");
    for (uint32_t i = 0; i < c->n_matrices; i++) {
        const clcdd_carrier_matrix *mx = &c->matrices[i];
        clcdd_status st;
        size_t n;
        float *w = download(ctx, out, (clcdd_tensor_role)mx->role, mx->layer, &n, &st);
        TRY(st);
        clcdd_tensor t;
        clcdd_model_tensor(out, (clcdd_tensor_role)mx->role, mx->layer, &t);
        size_t cols = (size_t)t.shape[1];
        for (uint32_t r = 0; r < mx->n_rows; r++)
            for (uint32_t j = 0; j < mx->n_cols; j++) {
                size_t x = (size_t)mx->rows[r] * cols + mx->cols[j];
                w[x] = w[x] + mx->delta[(size_t)r * mx->n_cols + j];
            }
        st = clcdd_tensor_upload(ctx, &t, w);
        free(w);
        TRY(st);
        if (mx->bias_delta) {
            int b = -1;
            for (int p = 0; p < 7; p++) if ((uint32_t)clcdd_masked_projs[p].role == mx->role) b = p;
            if (b < 0 || !clcdd_model_has(out, clcdd_masked_projs[b].bias, mx->layer))
                return clcdd_fail(CLCDD_ERR_FORMAT, "carrier archive: a bias delta for a projection without a bias");
            float *bw = download(ctx, out, clcdd_masked_projs[b].bias, mx->layer, &n, &st);
            TRY(st);
            for (uint32_t r = 0; r < mx->n_rows; r++) bw[mx->rows[r]] = bw[mx->rows[r]] + mx->bias_delta[r];
            clcdd_model_tensor(out, clcdd_masked_projs[b].bias, mx->layer, &t);
            st = clcdd_tensor_upload(ctx, &t, bw);
            free(bw);
            TRY(st);
        }
    }
    for (uint32_t i = 0; i < c->n_norms; i++) {
        clcdd_tensor t;
        TRY(clcdd_model_tensor(out, (clcdd_tensor_role)c->norms[i].role, c->norms[i].layer, &t));
        if ((size_t)clcdd_tensor_numel(&t) != c->norms[i].n)
            return clcdd_fail(CLCDD_ERR_FORMAT, "carrier archive: norm of length %u for a tensor of %lld",
                              c->norms[i].n, (long long)clcdd_tensor_numel(&t));
        TRY(clcdd_tensor_upload(ctx, &t, c->norms[i].w));
    }
    return CLCDD_OK;
}
