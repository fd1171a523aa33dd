/* Carrier archive: shapes, shared checks, and the in-memory helpers (free, set/find prompt). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "carrier_internal.h"
#include "loaders_internal.h"

const char *carrier_role_name(uint32_t role) {
    static const char *const names[CLCDD_ROLE_COUNT] = {
        "embed", "final_norm", "lm_head", "attn_norm", "q", "k", "v", "o", "q_bias", "k_bias",
        "v_bias", "o_bias", "q_norm", "k_norm", "ffn_norm", "gate", "up", "down", "gate_bias",
        "up_bias", "down_bias"};
    return role < CLCDD_ROLE_COUNT ? names[role] : "?";
}

int carrier_matrix_shape(const clcdd_carrier *c, uint32_t role, uint32_t *rows, uint32_t *cols) {
    uint32_t d = c->hidden_size, f = c->intermediate_size;
    uint32_t dq = c->n_heads * c->head_dim, dkv = c->n_kv_heads * c->head_dim;
    switch (role) {
    case CLCDD_ROLE_Q: *rows = dq, *cols = d; return 1;
    case CLCDD_ROLE_K:
    case CLCDD_ROLE_V: *rows = dkv, *cols = d; return 1;
    case CLCDD_ROLE_O: *rows = d, *cols = dq; return 1;
    case CLCDD_ROLE_GATE:
    case CLCDD_ROLE_UP: *rows = f, *cols = d; return 1;
    case CLCDD_ROLE_DOWN: *rows = d, *cols = f; return 1;
    default: return 0;
    }
}

int carrier_norm_len(const clcdd_carrier *c, uint32_t role, uint32_t *n) {
    switch (role) {
    case CLCDD_ROLE_ATTN_NORM:
    case CLCDD_ROLE_FFN_NORM:
    case CLCDD_ROLE_FINAL_NORM: *n = c->hidden_size; return 1;
    case CLCDD_ROLE_Q_NORM:
    case CLCDD_ROLE_K_NORM: *n = c->head_dim; return 1;
    default: return 0;
    }
}

clcdd_status carrier_fail(clcdd_status st, const char *ctx, const char *field, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *hint = "";
    if (st == CLCDD_ERR_FORMAT)
        hint = " (the archive is damaged, truncated or not a clcdd carrier archive: write it again)";
    else if (st == CLCDD_ERR_INVALID_ARGUMENT)
        hint = " (fix the carrier before writing it)";
    return clcdd_fail(st, "%s: field '%s': %s%s", ctx, field, msg, hint);
}

clcdd_status carrier_check_dims(const clcdd_carrier *c, clcdd_status st, const char *ctx,
                                uint64_t *n_mask) {
    static const struct { const char *name; size_t off; uint32_t max; } dims[] = {
        {"vocab_size", offsetof(clcdd_carrier, vocab_size), CARRIER_MAX_VOCAB},
        {"hidden_size", offsetof(clcdd_carrier, hidden_size), CARRIER_MAX_HIDDEN},
        {"intermediate_size", offsetof(clcdd_carrier, intermediate_size), CARRIER_MAX_FF},
        {"n_layers", offsetof(clcdd_carrier, n_layers), CARRIER_MAX_LAYERS},
        {"n_heads", offsetof(clcdd_carrier, n_heads), CARRIER_MAX_HEADS},
        {"n_kv_heads", offsetof(clcdd_carrier, n_kv_heads), CARRIER_MAX_HEADS},
        {"head_dim", offsetof(clcdd_carrier, head_dim), CARRIER_MAX_HEAD_DIM},
    };
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        uint32_t v;
        memcpy(&v, (const char *)c + dims[i].off, sizeof v);
        if (v == 0 || v > dims[i].max)
            return carrier_fail(st, ctx, dims[i].name, "%u is not in [1, %u]", v, dims[i].max);
    }
    if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0)
        return carrier_fail(st, ctx, "n_kv_heads", "%u does not divide n_heads %u", c->n_kv_heads,
                            c->n_heads);
    uint64_t d = c->hidden_size, hd = c->head_dim;
    uint64_t per = 4 * d + c->intermediate_size + (uint64_t)c->n_heads * hd +
                   2 * (uint64_t)c->n_kv_heads * hd; /* all factors are capped: no overflow */
    *n_mask = per * c->n_layers;
    return CLCDD_OK;
}

clcdd_status carrier_check_indices(const uint32_t *idx, uint32_t n, uint32_t limit,
                                   clcdd_status st, const char *ctx, const char *field) {
    if (n > limit)
        return carrier_fail(st, ctx, field, "%u indices but the dimension is only %u", n, limit);
    for (uint32_t i = 0; i < n; i++) {
        if (idx[i] >= limit)
            return carrier_fail(st, ctx, field, "index [%u] = %u is out of range (dimension %u)", i,
                                idx[i], limit);
        if (i > 0 && idx[i] <= idx[i - 1])
            return carrier_fail(st, ctx, field, "index [%u] = %u %s previous %u (must be sorted, unique)",
                                i, idx[i], idx[i] == idx[i - 1] ? "duplicates" : "is below",
                                idx[i - 1]);
    }
    return CLCDD_OK;
}

clcdd_status carrier_check_string(const char *s, size_t len, size_t max_len, clcdd_status st,
                                  const char *ctx, const char *field) {
    if (len > max_len)
        return carrier_fail(st, ctx, field, "string of %zu bytes exceeds the limit of %zu", len,
                            max_len);
    if (memchr(s, '\0', len)) return carrier_fail(st, ctx, field, "string contains a NUL byte");
    if (!clcdd_utf8_valid((const unsigned char *)s, len))
        return carrier_fail(st, ctx, field, "string is not valid UTF-8");
    return CLCDD_OK;
}

void clcdd_carrier_free(clcdd_carrier *c) {
    if (!c) return;
    free(c->theta);
    free(c->mask);
    for (uint32_t i = 0; i < c->n_matrices && c->matrices; i++) {
        clcdd_carrier_matrix *m = &c->matrices[i];
        free(m->rows);
        free(m->cols);
        free(m->delta);
        free(m->bias_delta);
    }
    free(c->matrices);
    for (uint32_t i = 0; i < c->n_norms && c->norms; i++) free(c->norms[i].w);
    free(c->norms);
    free(c->train_json);
    for (uint32_t i = 0; i < c->n_prompts && c->prompts; i++) {
        free(c->prompts[i].data);
        free(c->prompts[i].settings_json);
        free(c->prompts[i].metrics_json);
    }
    free(c->prompts);
    free(c);
}

long clcdd_carrier_find_prompt(const clcdd_carrier *c, const char *name) {
    if (!c || !name) return -1;
    for (uint32_t i = 0; i < c->n_prompts; i++)
        if (strcmp(c->prompts[i].name, name) == 0) return (long)i;
    return -1;
}

static char *dup_json(const char *s, const char *ctx, const char *field, clcdd_status *st) {
    *st = CLCDD_OK;
    if (!s) return NULL;
    size_t n = strlen(s);
    *st = carrier_check_string(s, n, CARRIER_MAX_JSON, CLCDD_ERR_INVALID_ARGUMENT, ctx, field);
    if (*st != CLCDD_OK) return NULL;
    char *d = malloc(n + 1);
    if (!d) {
        *st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", ctx, n + 1);
        return NULL;
    }
    memcpy(d, s, n + 1);
    return d;
}

clcdd_status clcdd_carrier_set_prompt(clcdd_carrier *c, const char *name, uint32_t rows,
                                      uint32_t dim, const float *data, const char *settings_json,
                                      const char *metrics_json) {
    const char *ctx = "carrier set_prompt";
    if (!c || !name || !data)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: carrier, name and data must not be NULL", ctx);
    size_t nl = strlen(name);
    clcdd_status st;
    if (nl == 0)
        return carrier_fail(CLCDD_ERR_INVALID_ARGUMENT, ctx, "name", "a prompt name must not be empty");
    if ((st = carrier_check_string(name, nl, sizeof c->prompts[0].name - 1, CLCDD_ERR_INVALID_ARGUMENT,
                                   ctx, "name")) != CLCDD_OK)
        return st;
    if (rows == 0 || rows > CARRIER_MAX_PROMPT_ROWS)
        return carrier_fail(CLCDD_ERR_INVALID_ARGUMENT, ctx, "rows", "%u is not in [1, %u]", rows,
                            CARRIER_MAX_PROMPT_ROWS);
    if (dim == 0 || (c->hidden_size && dim != c->hidden_size))
        return carrier_fail(CLCDD_ERR_INVALID_ARGUMENT, ctx, "dim",
                            "%u must equal the model's hidden_size %u", dim, c->hidden_size);
    long at = clcdd_carrier_find_prompt(c, name);
    if (at < 0 && c->n_prompts >= CARRIER_MAX_PROMPTS)
        return carrier_fail(CLCDD_ERR_INVALID_ARGUMENT, ctx, "name", "already %u prompts (the limit)",
                            c->n_prompts);
    size_t bytes = (size_t)rows * dim * sizeof(float);
    float *copy = malloc(bytes);
    if (!copy) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", ctx, bytes);
    memcpy(copy, data, bytes);
    char *set = dup_json(settings_json, ctx, "settings_json", &st);
    if (st != CLCDD_OK) {
        free(copy);
        return st;
    }
    char *met = dup_json(metrics_json, ctx, "metrics_json", &st);
    if (st != CLCDD_OK) {
        free(copy);
        free(set);
        return st;
    }
    clcdd_carrier_prompt *p;
    if (at >= 0) {
        p = &c->prompts[at];
        free(p->data);
        free(p->settings_json);
        free(p->metrics_json);
    } else {
        clcdd_carrier_prompt *np = realloc(c->prompts, (c->n_prompts + 1) * sizeof *np);
        if (!np) {
            free(copy);
            free(set);
            free(met);
            return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: cannot grow the prompt list", ctx);
        }
        c->prompts = np;
        p = &np[c->n_prompts++];
        memset(p, 0, sizeof *p);
        memcpy(p->name, name, nl + 1);
    }
    p->rows = rows;
    p->dim = dim;
    p->data = copy;
    p->settings_json = set;
    p->metrics_json = met;
    return CLCDD_OK;
}
