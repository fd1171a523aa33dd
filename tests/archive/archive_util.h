/* Helpers for the carrier archive tests: a deterministic RNG, random carriers, exact comparison,
 * and a raw record builder (msgpack-c packer + zstd) for crafting malformed archives. */
#ifndef CLCDD_ARCHIVE_UTIL_H
#define CLCDD_ARCHIVE_UTIL_H

#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "clcdd/carrier.h"

static inline uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static inline float rng_float(uint64_t *s) {
    return (float)((double)(rng_next(s) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}
static inline uint32_t rng_below(uint64_t *s, uint32_t n) { return (uint32_t)(rng_next(s) % n); }

static inline float *rand_floats(uint64_t *s, size_t n) {
    float *p = malloc(n ? n * sizeof *p : 1);
    for (size_t i = 0; i < n; i++) p[i] = rng_float(s);
    return p;
}

/* Sorted subset of [0, n), each index kept with probability pct/100. */
static inline uint32_t *rand_subset(uint64_t *s, uint32_t n, unsigned pct, uint32_t *count) {
    uint32_t *p = malloc(n ? n * sizeof *p : 1);
    *count = 0;
    for (uint32_t i = 0; i < n; i++)
        if (rng_below(s, 100) < pct) p[(*count)++] = i;
    return p;
}

static inline void role_shape(const clcdd_carrier *c, uint32_t role, uint32_t *R, uint32_t *C) {
    uint32_t d = c->hidden_size, f = c->intermediate_size, dq = c->n_heads * c->head_dim,
             dkv = c->n_kv_heads * c->head_dim;
    switch (role) {
    case CLCDD_ROLE_Q: *R = dq, *C = d; break;
    case CLCDD_ROLE_K: case CLCDD_ROLE_V: *R = dkv, *C = d; break;
    case CLCDD_ROLE_O: *R = d, *C = dq; break;
    case CLCDD_ROLE_GATE: case CLCDD_ROLE_UP: *R = f, *C = d; break;
    default: *R = d, *C = f; break;
    }
}

static const uint32_t MATRIX_ROLES[7] = {CLCDD_ROLE_Q, CLCDD_ROLE_K, CLCDD_ROLE_V, CLCDD_ROLE_O,
                                         CLCDD_ROLE_GATE, CLCDD_ROLE_UP, CLCDD_ROLE_DOWN};

/* A random carrier with the given dims; every allocation is clcdd_carrier_free-able. */
static inline clcdd_carrier *make_carrier(uint64_t seed, uint32_t d, uint32_t f, uint32_t L,
                                          uint32_t H, uint32_t Hkv, uint32_t hd) {
    uint64_t s = seed;
    clcdd_carrier *c = calloc(1, sizeof *c);
    c->version = CLCDD_CARRIER_VERSION;
    strcpy(c->family, "llama");
    strcpy(c->architecture, "LlamaForCausalLM");
    c->vocab_size = 97, c->hidden_size = d, c->intermediate_size = f, c->n_layers = L;
    c->n_heads = H, c->n_kv_heads = Hkv, c->head_dim = hd;
    snprintf(c->base_fingerprint, sizeof c->base_fingerprint, "%016llx",
             (unsigned long long)rng_next(&s));
    snprintf(c->sft_fingerprint, sizeof c->sft_fingerprint, "%016llx",
             (unsigned long long)rng_next(&s));
    c->n_mask = (uint64_t)L * (4 * d + f + H * hd + 2 * Hkv * hd);
    c->theta = rand_floats(&s, c->n_mask);
    c->mask = malloc(c->n_mask);
    for (uint64_t i = 0; i < c->n_mask; i++) c->mask[i] = c->theta[i] > 0;
    c->matrices = calloc(7 * L, sizeof *c->matrices);
    static const unsigned pcts[] = {0, 30, 70, 100};
    for (uint32_t l = 0; l < L; l++)
        for (int k = 0; k < 7; k++) {
            if (l > 0 && rng_below(&s, 4) == 0) continue;
            clcdd_carrier_matrix *m = &c->matrices[c->n_matrices++];
            m->layer = l;
            m->role = MATRIX_ROLES[k];
            uint32_t R, C;
            role_shape(c, m->role, &R, &C);
            unsigned pr = pcts[rng_below(&s, 4)], pc = pcts[rng_below(&s, 4)];
            if (l == 0 && k == 0) pr = 0;          /* empty rows */
            if (l == 0 && k == 1) pc = 0, pr = 100; /* empty cols */
            if (l == 0 && k == 2) pr = pc = 100;    /* the whole matrix */
            m->rows = rand_subset(&s, R, pr, &m->n_rows);
            m->cols = rand_subset(&s, C, pc, &m->n_cols);
            m->delta = rand_floats(&s, (size_t)m->n_rows * m->n_cols);
            if (rng_below(&s, 2)) m->bias_delta = rand_floats(&s, m->n_rows);
        }
    c->norms = calloc(3 * L + 1, sizeof *c->norms);
    for (uint32_t l = 0; l < L; l++) {
        uint32_t roles[3] = {CLCDD_ROLE_ATTN_NORM, CLCDD_ROLE_FFN_NORM, CLCDD_ROLE_Q_NORM};
        for (int k = 0; k < 3; k++) {
            clcdd_carrier_norm *n = &c->norms[c->n_norms++];
            n->layer = l, n->role = roles[k];
            n->n = roles[k] == CLCDD_ROLE_Q_NORM ? hd : d;
            n->w = rand_floats(&s, n->n);
        }
    }
    clcdd_carrier_norm *fn = &c->norms[c->n_norms++];
    fn->layer = 0, fn->role = CLCDD_ROLE_FINAL_NORM, fn->n = d, fn->w = rand_floats(&s, d);
    c->train_json = strdup("{\"lambda\":0.0123,\"steps\":400,\"note\":\"caf\xc3\xa9\"}");
    return c;
}

static inline int same_bytes(const void *a, const void *b, size_t n) {
    return n == 0 || (a && b && memcmp(a, b, n) == 0);
}
static inline int same_str(const char *a, const char *b) {
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Every field equal, floats bit for bit. Returns NULL or the name of the first difference. */
static inline const char *carrier_diff(const clcdd_carrier *a, const clcdd_carrier *b) {
    if (strcmp(a->family, b->family) || strcmp(a->architecture, b->architecture)) return "names";
    if (a->vocab_size != b->vocab_size || a->hidden_size != b->hidden_size ||
        a->intermediate_size != b->intermediate_size || a->n_layers != b->n_layers ||
        a->n_heads != b->n_heads || a->n_kv_heads != b->n_kv_heads || a->head_dim != b->head_dim)
        return "dims";
    if (strcmp(a->base_fingerprint, b->base_fingerprint) ||
        strcmp(a->sft_fingerprint, b->sft_fingerprint))
        return "fingerprints";
    if (a->n_mask != b->n_mask || !same_bytes(a->theta, b->theta, a->n_mask * 4) ||
        !same_bytes(a->mask, b->mask, a->n_mask))
        return "masks";
    if (a->n_matrices != b->n_matrices) return "n_matrices";
    for (uint32_t i = 0; i < a->n_matrices; i++) {
        const clcdd_carrier_matrix *x = &a->matrices[i], *y = &b->matrices[i];
        if (x->layer != y->layer || x->role != y->role || x->n_rows != y->n_rows ||
            x->n_cols != y->n_cols || !same_bytes(x->rows, y->rows, x->n_rows * 4) ||
            !same_bytes(x->cols, y->cols, x->n_cols * 4) ||
            !same_bytes(x->delta, y->delta, (size_t)x->n_rows * x->n_cols * 4) ||
            !x->bias_delta != !y->bias_delta ||
            (x->bias_delta && !same_bytes(x->bias_delta, y->bias_delta, x->n_rows * 4)))
            return "matrix";
    }
    if (a->n_norms != b->n_norms) return "n_norms";
    for (uint32_t i = 0; i < a->n_norms; i++) {
        const clcdd_carrier_norm *x = &a->norms[i], *y = &b->norms[i];
        if (x->layer != y->layer || x->role != y->role || x->n != y->n ||
            !same_bytes(x->w, y->w, x->n * 4))
            return "norm";
    }
    if (!same_str(a->train_json, b->train_json)) return "train_json";
    if (a->n_prompts != b->n_prompts) return "n_prompts";
    for (uint32_t i = 0; i < a->n_prompts; i++) {
        const clcdd_carrier_prompt *x = &a->prompts[i], *y = &b->prompts[i];
        if (strcmp(x->name, y->name) || x->rows != y->rows || x->dim != y->dim ||
            !same_bytes(x->data, y->data, (size_t)x->rows * x->dim * 4) ||
            !same_str(x->settings_json, y->settings_json) ||
            !same_str(x->metrics_json, y->metrics_json))
            return "prompt";
    }
    return NULL;
}

static inline const char *tmpdir_new(void) {
    static char buf[512];
    const char *base = getenv("TMPDIR");
    snprintf(buf, sizeof buf, "%s/clcdd-archive-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(buf);
}

static inline unsigned char *slurp(const char *path, size_t *n) {
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
    *n = fread(b, 1, (size_t)sz, f);
    fclose(f);
    return b;
}

/* ---- raw record builder ---- */
static inline void mp_s(msgpack_packer *pk, const char *s) {
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}
static inline void mp_ku(msgpack_packer *pk, const char *k, uint64_t v) { mp_s(pk, k), msgpack_pack_uint64(pk, v); }
static inline void mp_ks(msgpack_packer *pk, const char *k, const char *v) { mp_s(pk, k), mp_s(pk, v); }
/* n elements of elem bytes (zeros unless data) as chunks of at most chunk bytes. */
static inline void mp_chunks(msgpack_packer *pk, const void *data, size_t n, size_t elem, size_t chunk) {
    size_t bytes = n * elem, k = (bytes + chunk - 1) / chunk;
    msgpack_pack_array(pk, k);
    unsigned char *z = calloc(1, bytes ? bytes : 1);
    const unsigned char *p = data ? data : z;
    for (size_t off = 0; off < bytes; off += chunk) {
        size_t len = bytes - off < chunk ? bytes - off : chunk;
        msgpack_pack_bin(pk, len);
        msgpack_pack_bin_body(pk, p + off, len);
    }
    free(z);
}

/* zstd-compress (level 3, checksum unless no_checksum). */
static inline unsigned char *zpack(const void *src, size_t n, int no_checksum, size_t *out_n) {
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, !no_checksum);
    size_t cap = ZSTD_compressBound(n);
    unsigned char *dst = malloc(cap);
    *out_n = ZSTD_compress2(cc, dst, cap, src, n);
    ZSTD_freeCCtx(cc);
    return dst;
}

#endif
