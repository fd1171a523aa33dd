/* Carrier archive writer: validates the in-memory carrier, then packs msgpack records straight
 * into a zstd stream written to "<path>.tmp.<pid>"; fsync + rename on success, unlink on failure
 * (an existing archive at path is never touched unless the new one is complete).
 * Format: docs/archive.md. */
#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "carrier_internal.h"

/* ---- validation (same rules as the reader, INVALID_ARGUMENT) ---- */

static clcdd_status check_cstr(const char *s, size_t cap, const char *ctx, const char *field) {
    const char *end = memchr(s, '\0', cap);
    if (!end) return carrier_fail(CLCDD_ERR_INVALID_ARGUMENT, ctx, field, "not NUL-terminated");
    return carrier_check_string(s, (size_t)(end - s), cap - 1, CLCDD_ERR_INVALID_ARGUMENT, ctx, field);
}

static clcdd_status validate(const clcdd_carrier *c, const char *path) {
    const clcdd_status E = CLCDD_ERR_INVALID_ARGUMENT;
    char ctx[600];
    snprintf(ctx, sizeof ctx, "%s: writing carrier", path);
    clcdd_status st;
    uint64_t n_mask;
    if ((st = check_cstr(c->family, sizeof c->family, ctx, "family")) ||
        (st = check_cstr(c->architecture, sizeof c->architecture, ctx, "architecture")) ||
        (st = check_cstr(c->base_fingerprint, sizeof c->base_fingerprint, ctx, "base_fingerprint")) ||
        (st = check_cstr(c->sft_fingerprint, sizeof c->sft_fingerprint, ctx, "sft_fingerprint")) ||
        (st = carrier_check_dims(c, E, ctx, &n_mask)))
        return st;
    if (c->n_mask != n_mask)
        return carrier_fail(E, ctx, "n_mask", "%llu but the dimensions imply %llu",
                            (unsigned long long)c->n_mask, (unsigned long long)n_mask);
    if (!c->theta || !c->mask) return carrier_fail(E, ctx, "theta", "theta and mask must be set");
    for (uint64_t i = 0; i < n_mask; i++)
        if (c->mask[i] > 1)
            return carrier_fail(E, ctx, "mask", "mask[%llu] = %u is not 0 or 1",
                                (unsigned long long)i, c->mask[i]);
    if (c->n_matrices && !c->matrices) return carrier_fail(E, ctx, "matrices", "NULL");
    for (uint32_t i = 0; i < c->n_matrices; i++) {
        const clcdd_carrier_matrix *m = &c->matrices[i];
        char mctx[700];
        snprintf(mctx, sizeof mctx, "%s: matrices[%u] (layer %u, role %s)", ctx, i, m->layer,
                 carrier_role_name(m->role));
        uint32_t R, C;
        if (m->layer >= c->n_layers)
            return carrier_fail(E, mctx, "layer", "%u >= n_layers %u", m->layer, c->n_layers);
        if (!carrier_matrix_shape(c, m->role, &R, &C))
            return carrier_fail(E, mctx, "role", "%u is not a masked projection", m->role);
        if ((m->n_rows && !m->rows) || (m->n_cols && !m->cols) ||
            (m->n_rows && m->n_cols && !m->delta))
            return carrier_fail(E, mctx, "delta", "NULL array with a non-zero count");
        if ((st = carrier_check_indices(m->rows, m->n_rows, R, E, mctx, "rows")) ||
            (st = carrier_check_indices(m->cols, m->n_cols, C, E, mctx, "cols")))
            return st;
        for (uint32_t j = 0; j < i; j++)
            if (c->matrices[j].layer == m->layer && c->matrices[j].role == m->role)
                return carrier_fail(E, mctx, "role", "duplicate of matrices[%u]", j);
    }
    if (c->n_norms && !c->norms) return carrier_fail(E, ctx, "norms", "NULL");
    for (uint32_t i = 0; i < c->n_norms; i++) {
        const clcdd_carrier_norm *nm = &c->norms[i];
        char nctx[700];
        snprintf(nctx, sizeof nctx, "%s: norms[%u] (layer %u, role %s)", ctx, i, nm->layer,
                 carrier_role_name(nm->role));
        uint32_t n;
        if (!carrier_norm_len(c, nm->role, &n))
            return carrier_fail(E, nctx, "role", "%u is not a norm", nm->role);
        uint32_t lim = nm->role == CLCDD_ROLE_FINAL_NORM ? 1 : c->n_layers;
        if (nm->layer >= lim)
            return carrier_fail(E, nctx, "layer", "%u out of range (must be < %u)", nm->layer, lim);
        if (nm->n != n) return carrier_fail(E, nctx, "n", "%u but the role has %u weights", nm->n, n);
        if (!nm->w) return carrier_fail(E, nctx, "w", "NULL");
        for (uint32_t j = 0; j < i; j++)
            if (c->norms[j].layer == nm->layer && c->norms[j].role == nm->role)
                return carrier_fail(E, nctx, "role", "duplicate of norms[%u]", j);
    }
    if (c->train_json &&
        (st = carrier_check_string(c->train_json, strlen(c->train_json), CARRIER_MAX_JSON, E, ctx,
                                   "train_json")))
        return st;
    if (c->n_prompts > CARRIER_MAX_PROMPTS)
        return carrier_fail(E, ctx, "n_prompts", "%u exceeds the limit %u", c->n_prompts,
                            CARRIER_MAX_PROMPTS);
    if (c->n_prompts && !c->prompts) return carrier_fail(E, ctx, "prompts", "NULL");
    for (uint32_t i = 0; i < c->n_prompts; i++) {
        const clcdd_carrier_prompt *p = &c->prompts[i];
        char pctx[700];
        snprintf(pctx, sizeof pctx, "%s: prompts[%u]", ctx, i);
        if ((st = check_cstr(p->name, sizeof p->name, pctx, "name"))) return st;
        if (!p->name[0]) return carrier_fail(E, pctx, "name", "empty");
        if (p->rows == 0 || p->rows > CARRIER_MAX_PROMPT_ROWS)
            return carrier_fail(E, pctx, "rows", "%u is not in [1, %u]", p->rows, CARRIER_MAX_PROMPT_ROWS);
        if (p->dim != c->hidden_size)
            return carrier_fail(E, pctx, "dim", "%u must equal hidden_size %u", p->dim, c->hidden_size);
        if (!p->data) return carrier_fail(E, pctx, "data", "NULL");
        if ((p->settings_json &&
             (st = carrier_check_string(p->settings_json, strlen(p->settings_json), CARRIER_MAX_JSON,
                                        E, pctx, "settings_json"))) ||
            (p->metrics_json &&
             (st = carrier_check_string(p->metrics_json, strlen(p->metrics_json), CARRIER_MAX_JSON, E,
                                        pctx, "metrics_json"))))
            return st;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(c->prompts[j].name, p->name) == 0)
                return carrier_fail(E, pctx, "name", "'%s' duplicates prompts[%u]", p->name, j);
    }
    return CLCDD_OK;
}

/* ---- streaming writer ---- */

typedef struct wr {
    const char *path, *tmp;
    int fd;
    ZSTD_CCtx *cctx;
    unsigned char *obuf;
    size_t ocap;
    clcdd_status err;
} wr;

static int write_all(wr *w, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            w->err = clcdd_fail(CLCDD_ERR_IO, "%s: write to %s failed: %s (nothing replaced)", w->path,
                                w->tmp, strerror(errno));
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int compress(wr *w, const void *buf, size_t len, ZSTD_EndDirective mode) {
    if (w->err) return -1;
    ZSTD_inBuffer in = {buf, len, 0};
    for (;;) {
        ZSTD_outBuffer out = {w->obuf, w->ocap, 0};
        size_t r = ZSTD_compressStream2(w->cctx, &out, &in, mode);
        if (ZSTD_isError(r)) {
            w->err = clcdd_fail(CLCDD_ERR_INTERNAL, "%s: zstd compression failed: %s", w->path,
                                ZSTD_getErrorName(r));
            return -1;
        }
        if (out.pos && write_all(w, w->obuf, out.pos)) return -1;
        if (mode == ZSTD_e_continue ? in.pos == in.size : r == 0) return 0;
    }
}

static int pack_cb(void *data, const char *buf, size_t len) {
    return compress(data, buf, len, ZSTD_e_continue);
}

static void pk_str(msgpack_packer *pk, const char *s) {
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}
static void pk_kv_u(msgpack_packer *pk, const char *k, uint64_t v) {
    pk_str(pk, k);
    msgpack_pack_uint64(pk, v);
}
static void pk_kv_s(msgpack_packer *pk, const char *k, const char *v) {
    pk_str(pk, k);
    if (v) pk_str(pk, v);
    else msgpack_pack_nil(pk);
}

/* Bytes as little-endian elements of elem bytes, in bins of at most CARRIER_CHUNK_BYTES. */
static void pk_chunks(msgpack_packer *pk, const void *data, size_t bytes, size_t elem) {
    size_t n = (bytes + CARRIER_CHUNK_BYTES - 1) / CARRIER_CHUNK_BYTES;
    msgpack_pack_array(pk, n);
    const unsigned char *p = data;
    for (size_t off = 0; off < bytes; off += CARRIER_CHUNK_BYTES) {
        size_t len = bytes - off < CARRIER_CHUNK_BYTES ? bytes - off : CARRIER_CHUNK_BYTES;
        msgpack_pack_bin(pk, len);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        unsigned char tmp[4096];
        for (size_t o = 0; o < len; o += sizeof tmp) {
            size_t k = len - o < sizeof tmp ? len - o : sizeof tmp;
            for (size_t i = 0; i < k; i += elem)
                for (size_t b = 0; b < elem; b++) tmp[i + b] = p[off + o + i + elem - 1 - b];
            msgpack_pack_bin_body(pk, tmp, k);
        }
#else
        (void)elem;
        msgpack_pack_bin_body(pk, p + off, len);
#endif
    }
}

static void pack_all(msgpack_packer *pk, const clcdd_carrier *c) {
    uint64_t records = 0;
    /* header */
    msgpack_pack_map(pk, 14);
    pk_kv_s(pk, "magic", CARRIER_MAGIC);
    pk_kv_u(pk, "version", CLCDD_CARRIER_VERSION);
    pk_kv_u(pk, "minor", CARRIER_MINOR);
    pk_kv_s(pk, "family", c->family);
    pk_kv_s(pk, "architecture", c->architecture);
    pk_kv_u(pk, "vocab_size", c->vocab_size);
    pk_kv_u(pk, "hidden_size", c->hidden_size);
    pk_kv_u(pk, "intermediate_size", c->intermediate_size);
    pk_kv_u(pk, "n_layers", c->n_layers);
    pk_kv_u(pk, "n_heads", c->n_heads);
    pk_kv_u(pk, "n_kv_heads", c->n_kv_heads);
    pk_kv_u(pk, "head_dim", c->head_dim);
    pk_kv_s(pk, "base_fingerprint", c->base_fingerprint);
    pk_kv_s(pk, "sft_fingerprint", c->sft_fingerprint);
    records++;
    /* masks: theta f32, mask as an LSB-first bitset */
    msgpack_pack_map(pk, 4);
    pk_kv_s(pk, "t", "masks");
    pk_kv_u(pk, "n", c->n_mask);
    pk_str(pk, "theta");
    pk_chunks(pk, c->theta, (size_t)c->n_mask * 4, 4);
    pk_str(pk, "mask");
    size_t nbytes = (size_t)((c->n_mask + 7) / 8);
    size_t nchunks = (nbytes + CARRIER_CHUNK_BYTES - 1) / CARRIER_CHUNK_BYTES;
    msgpack_pack_array(pk, nchunks);
    unsigned char *bits = malloc(CARRIER_CHUNK_BYTES);
    for (size_t off = 0; off < nbytes && bits; off += CARRIER_CHUNK_BYTES) {
        size_t len = nbytes - off < CARRIER_CHUNK_BYTES ? nbytes - off : CARRIER_CHUNK_BYTES;
        memset(bits, 0, len);
        for (size_t i = 0; i < len * 8; i++) {
            uint64_t k = (uint64_t)off * 8 + i;
            if (k < c->n_mask && c->mask[k]) bits[i / 8] |= (unsigned char)(1u << (i % 8));
        }
        msgpack_pack_bin(pk, len);
        msgpack_pack_bin_body(pk, bits, len);
    }
    if (!bits && nbytes) {
        wr *w = pk->data;
        if (!w->err) w->err = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", w->path);
    }
    free(bits);
    records++;
    for (uint32_t i = 0; i < c->n_matrices; i++) {
        const clcdd_carrier_matrix *m = &c->matrices[i];
        msgpack_pack_map(pk, 9);
        pk_kv_s(pk, "t", "matrix");
        pk_kv_u(pk, "layer", m->layer);
        pk_kv_u(pk, "role", m->role);
        pk_kv_u(pk, "n_rows", m->n_rows);
        pk_kv_u(pk, "n_cols", m->n_cols);
        pk_str(pk, "rows");
        pk_chunks(pk, m->rows, (size_t)m->n_rows * 4, 4);
        pk_str(pk, "cols");
        pk_chunks(pk, m->cols, (size_t)m->n_cols * 4, 4);
        pk_str(pk, "delta");
        pk_chunks(pk, m->delta, (size_t)m->n_rows * m->n_cols * 4, 4);
        pk_str(pk, "bias");
        if (m->bias_delta) pk_chunks(pk, m->bias_delta, (size_t)m->n_rows * 4, 4);
        else msgpack_pack_nil(pk);
        records++;
    }
    for (uint32_t i = 0; i < c->n_norms; i++) {
        const clcdd_carrier_norm *nm = &c->norms[i];
        msgpack_pack_map(pk, 5);
        pk_kv_s(pk, "t", "norm");
        pk_kv_u(pk, "layer", nm->layer);
        pk_kv_u(pk, "role", nm->role);
        pk_kv_u(pk, "n", nm->n);
        pk_str(pk, "w");
        pk_chunks(pk, nm->w, (size_t)nm->n * 4, 4);
        records++;
    }
    if (c->train_json) {
        msgpack_pack_map(pk, 2);
        pk_kv_s(pk, "t", "train");
        pk_kv_s(pk, "json", c->train_json);
        records++;
    }
    for (uint32_t i = 0; i < c->n_prompts; i++) {
        const clcdd_carrier_prompt *p = &c->prompts[i];
        msgpack_pack_map(pk, 7);
        pk_kv_s(pk, "t", "prompt");
        pk_kv_s(pk, "name", p->name);
        pk_kv_u(pk, "rows", p->rows);
        pk_kv_u(pk, "dim", p->dim);
        pk_str(pk, "data");
        pk_chunks(pk, p->data, (size_t)p->rows * p->dim * 4, 4);
        pk_kv_s(pk, "settings", p->settings_json);
        pk_kv_s(pk, "metrics", p->metrics_json);
        records++;
    }
    msgpack_pack_map(pk, 6);
    pk_kv_s(pk, "t", "end");
    pk_kv_u(pk, "records", records);
    pk_kv_u(pk, "n_matrices", c->n_matrices);
    pk_kv_u(pk, "n_norms", c->n_norms);
    pk_kv_u(pk, "n_prompts", c->n_prompts);
    pk_kv_u(pk, "has_train", c->train_json ? 1 : 0);
}

clcdd_status clcdd_carrier_write(const char *path, const clcdd_carrier *c) {
    if (!path || !c)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_carrier_write: path and carrier must not be NULL");
    clcdd_status st = validate(c, path);
    if (st != CLCDD_OK) return st;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    wr w = {.path = path, .tmp = tmp, .fd = -1};
    w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w.fd < 0) {
        st = clcdd_fail(CLCDD_ERR_IO, "%s: cannot create temporary file %s: %s (check that the "
                        "directory exists and is writable)", path, tmp, strerror(errno));
        free(tmp);
        return st;
    }
    w.cctx = ZSTD_createCCtx();
    w.ocap = ZSTD_CStreamOutSize();
    w.obuf = malloc(w.ocap);
    if (!w.cctx || !w.obuf) {
        w.err = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: cannot allocate the zstd compressor", path);
    } else if (ZSTD_isError(ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_compressionLevel, 3)) ||
               ZSTD_isError(ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_checksumFlag, 1))) {
        w.err = clcdd_fail(CLCDD_ERR_INTERNAL, "%s: cannot configure the zstd compressor", path);
    }
    if (!w.err) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &w, pack_cb);
        pack_all(&pk, c);
        compress(&w, NULL, 0, ZSTD_e_end);
    }
    ZSTD_freeCCtx(w.cctx);
    free(w.obuf);
    if (!w.err && fsync(w.fd) != 0)
        w.err = clcdd_fail(CLCDD_ERR_IO, "%s: cannot flush %s: %s (nothing replaced)", path, tmp,
                           strerror(errno));
    if (close(w.fd) != 0 && !w.err)
        w.err = clcdd_fail(CLCDD_ERR_IO, "%s: cannot close %s: %s (nothing replaced)", path, tmp,
                           strerror(errno));
    if (!w.err && rename(tmp, path) != 0)
        w.err = clcdd_fail(CLCDD_ERR_IO, "%s: cannot rename %s into place: %s", path, tmp,
                           strerror(errno));
    if (w.err) unlink(tmp);
    free(tmp);
    return w.err;
}
