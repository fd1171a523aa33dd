/* Carrier archive reader: decompresses the zstd stream incrementally and pulls msgpack values
 * from it one at a time, reading every binary chunk straight into its destination array.
 *
 * Why not msgpack-c's unpacker: it materialises whole objects and allocates n * 24 bytes for an
 * array header before any element arrives (5 bytes of input can ask for ~100 GB), so it cannot
 * bound allocations on hostile input. This reader knows the record layout (docs/archive.md),
 * checks every count against the limits implied by the header before it allocates, and grows
 * array buffers only as their chunks actually arrive. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "carrier_internal.h"
#include "loaders_internal.h"

typedef enum { MP_NIL, MP_BOOL, MP_UINT, MP_NINT, MP_FLOAT, MP_STR, MP_BIN, MP_ARRAY, MP_MAP, MP_EXT } mp_kind;
static const char *const kind_names[] = {"nil", "boolean", "integer", "negative integer", "float",
                                         "string", "binary", "array", "map", "extension"};
typedef struct mp_tok {
    mp_kind k;
    uint64_t v; /* value (uint, bool) or length / count */
} mp_tok;

typedef struct rd {
    const char *name;
    ZSTD_DCtx *dctx;
    ZSTD_inBuffer in;
    unsigned char *buf;
    size_t cap, pos, len;
    int frame_done;
    int zstd_failed; /* the current error came from zstd itself */
    uint32_t minor;
    uint64_t record;
    char ctx[384];
    clcdd_carrier *c;
    unsigned char *seen; /* (layer, role) already stored, n_layers * CLCDD_ROLE_COUNT */
} rd;

#define TRY(x)                                                                                     \
    do {                                                                                           \
        clcdd_status _s = (x);                                                                     \
        if (_s != CLCDD_OK) return _s;                                                             \
    } while (0)

static clcdd_status fmt_fail(rd *r, const char *field, const char *fmt, ...) CLCDD_PRINTF(3, 4);
static clcdd_status fmt_fail(rd *r, const char *field, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return carrier_fail(CLCDD_ERR_FORMAT, r->ctx, field, "%s", msg);
}

static clcdd_status oom(rd *r, size_t bytes) {
    return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", r->ctx, bytes);
}

static clcdd_status zstd_error(rd *r, size_t ret) {
    r->zstd_failed = 1;
    if (ZSTD_getErrorCode(ret) == ZSTD_error_checksum_wrong)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: zstd checksum mismatch: the file is corrupt (bytes "
                          "changed on disk or in transfer); write the archive again", r->name);
    return clcdd_fail(CLCDD_ERR_FORMAT, "%s: corrupt zstd data: %s (the archive is damaged: write "
                      "it again)", r->name, ZSTD_getErrorName(ret));
}

/* Decompress the next piece into buf. At the end of the frame r->len stays 0. */
static clcdd_status refill(rd *r) {
    r->pos = r->len = 0;
    while (r->len == 0 && !r->frame_done) {
        ZSTD_outBuffer out = {r->buf, r->cap, 0};
        size_t in_before = r->in.pos;
        size_t ret = ZSTD_decompressStream(r->dctx, &out, &r->in);
        if (ZSTD_isError(ret)) return zstd_error(r, ret);
        r->len = out.pos;
        if (ret == 0) {
            r->frame_done = 1;
            if (r->in.pos < r->in.size) {
                r->zstd_failed = 1;
                return clcdd_fail(CLCDD_ERR_FORMAT, "%s: %zu trailing bytes after the zstd frame (an "
                                  "archive is exactly one frame): the file is damaged; write it again",
                                  r->name, r->in.size - r->in.pos);
            }
        } else if (out.pos == 0 && (r->in.pos == r->in.size || r->in.pos == in_before)) {
            r->zstd_failed = 1;
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s: the zstd stream ends in the middle of a frame "
                              "(file truncated after %zu bytes): write the archive again", r->name,
                              r->in.size);
        }
    }
    return CLCDD_OK;
}

/* Copy n bytes to dst (NULL: skip them). */
static clcdd_status rd_bytes(rd *r, void *dst, size_t n, const char *field) {
    unsigned char *d = dst;
    while (n > 0) {
        if (r->pos == r->len) {
            TRY(refill(r));
            if (r->len == 0) return fmt_fail(r, field, "the archive ends here (truncated)");
        }
        size_t k = r->len - r->pos < n ? r->len - r->pos : n;
        if (d) {
            memcpy(d, r->buf + r->pos, k);
            d += k;
        }
        r->pos += k;
        n -= k;
    }
    return CLCDD_OK;
}

static clcdd_status rd_be(rd *r, unsigned nbytes, uint64_t *v, const char *field) {
    unsigned char b[8];
    TRY(rd_bytes(r, b, nbytes, field));
    *v = 0;
    for (unsigned i = 0; i < nbytes; i++) *v = (*v << 8) | b[i];
    return CLCDD_OK;
}

static clcdd_status rd_tok(rd *r, const char *field, mp_tok *t) {
    unsigned char b;
    uint64_t v = 0;
    TRY(rd_bytes(r, &b, 1, field));
    if (b <= 0x7f) { t->k = MP_UINT; t->v = b; return CLCDD_OK; }
    if (b >= 0xe0) { t->k = MP_NINT; t->v = 0; return CLCDD_OK; }
    if (b <= 0x8f) { t->k = MP_MAP; t->v = b & 0x0f; return CLCDD_OK; }
    if (b <= 0x9f) { t->k = MP_ARRAY; t->v = b & 0x0f; return CLCDD_OK; }
    if (b <= 0xbf) { t->k = MP_STR; t->v = b & 0x1f; return CLCDD_OK; }
    switch (b) {
    case 0xc0: t->k = MP_NIL; t->v = 0; return CLCDD_OK;
    case 0xc2: case 0xc3: t->k = MP_BOOL; t->v = b & 1; return CLCDD_OK;
    case 0xc4: case 0xc5: case 0xc6:
        TRY(rd_be(r, 1u << (b - 0xc4), &v, field)); t->k = MP_BIN; t->v = v; return CLCDD_OK;
    case 0xc7: case 0xc8: case 0xc9:
        TRY(rd_be(r, 1u << (b - 0xc7), &v, field));
        TRY(rd_bytes(r, NULL, 1, field)); /* ext type */
        t->k = MP_EXT; t->v = v; return CLCDD_OK;
    case 0xca: case 0xcb:
        TRY(rd_bytes(r, NULL, b == 0xca ? 4 : 8, field)); t->k = MP_FLOAT; t->v = 0; return CLCDD_OK;
    case 0xcc: case 0xcd: case 0xce: case 0xcf:
        TRY(rd_be(r, 1u << (b - 0xcc), &v, field)); t->k = MP_UINT; t->v = v; return CLCDD_OK;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        unsigned n = 1u << (b - 0xd0);
        TRY(rd_be(r, n, &v, field));
        int neg = (v >> (8 * n - 1)) & 1;
        t->k = neg ? MP_NINT : MP_UINT; t->v = neg ? 0 : v; return CLCDD_OK;
    }
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        TRY(rd_bytes(r, NULL, 1, field)); t->k = MP_EXT; t->v = 1u << (b - 0xd4); return CLCDD_OK;
    case 0xd9: case 0xda: case 0xdb:
        TRY(rd_be(r, 1u << (b - 0xd9), &v, field)); t->k = MP_STR; t->v = v; return CLCDD_OK;
    case 0xdc: case 0xdd:
        TRY(rd_be(r, b == 0xdc ? 2 : 4, &v, field)); t->k = MP_ARRAY; t->v = v; return CLCDD_OK;
    case 0xde: case 0xdf:
        TRY(rd_be(r, b == 0xde ? 2 : 4, &v, field)); t->k = MP_MAP; t->v = v; return CLCDD_OK;
    default: return fmt_fail(r, field, "byte 0x%02x is not valid msgpack", b);
    }
}

static clcdd_status expect_kind(rd *r, const char *field, const mp_tok *t, mp_kind k) {
    if (t->k != k)
        return fmt_fail(r, field, "expected %s %s, found %s", k == MP_ARRAY ? "an" : "a",
                        kind_names[k], kind_names[t->k]);
    return CLCDD_OK;
}

/* Skip a value whose token was already read (used for keys added by a newer minor version). */
static clcdd_status skip_value(rd *r, const mp_tok *t, int depth) {
    if (depth > 8) return fmt_fail(r, "?", "values nested deeper than 8 levels");
    if (t->k == MP_STR || t->k == MP_BIN || t->k == MP_EXT) return rd_bytes(r, NULL, (size_t)t->v, "?");
    if (t->k == MP_ARRAY || t->k == MP_MAP) {
        uint64_t n = t->k == MP_MAP ? 2 * t->v : t->v;
        for (uint64_t i = 0; i < n; i++) {
            mp_tok e;
            TRY(rd_tok(r, "?", &e));
            TRY(skip_value(r, &e, depth + 1));
        }
    }
    return CLCDD_OK;
}

static clcdd_status get_uint(rd *r, const char *field, uint64_t max, uint64_t *out) {
    mp_tok t;
    TRY(rd_tok(r, field, &t));
    TRY(expect_kind(r, field, &t, MP_UINT));
    if (t.v > max)
        return fmt_fail(r, field, "%llu is out of range (at most %llu)", (unsigned long long)t.v,
                        (unsigned long long)max);
    *out = t.v;
    return CLCDD_OK;
}

static clcdd_status get_u32(rd *r, const char *field, uint32_t max, uint32_t *out) {
    uint64_t v = 0;
    TRY(get_uint(r, field, max, &v));
    *out = (uint32_t)v;
    return CLCDD_OK;
}

/* A string (or nil when nil_ok: *out = NULL), checked, NUL-terminated, malloc'd. */
static clcdd_status get_str(rd *r, const char *field, size_t max_len, int nil_ok, char **out,
                            size_t *len_out) {
    mp_tok t;
    *out = NULL;
    TRY(rd_tok(r, field, &t));
    if (nil_ok && t.k == MP_NIL) return CLCDD_OK;
    TRY(expect_kind(r, field, &t, MP_STR));
    if (t.v > max_len)
        return fmt_fail(r, field, "string of %llu bytes exceeds the limit of %zu bytes",
                        (unsigned long long)t.v, max_len);
    char *s = malloc((size_t)t.v + 1);
    if (!s) return oom(r, (size_t)t.v + 1);
    clcdd_status st = rd_bytes(r, s, (size_t)t.v, field);
    if (st == CLCDD_OK)
        st = carrier_check_string(s, (size_t)t.v, max_len, CLCDD_ERR_FORMAT, r->ctx, field);
    if (st != CLCDD_OK) {
        free(s);
        return st;
    }
    s[t.v] = '\0';
    *out = s;
    if (len_out) *len_out = (size_t)t.v;
    return CLCDD_OK;
}

/* A string into a fixed char array (at most cap - 1 bytes). */
static clcdd_status get_fixed_str(rd *r, const char *field, char *dst, size_t cap) {
    char *s;
    size_t n;
    TRY(get_str(r, field, cap - 1, 0, &s, &n));
    memcpy(dst, s, n + 1);
    free(s);
    return CLCDD_OK;
}

static clcdd_status expect_key(rd *r, const char *key) {
    mp_tok t;
    char buf[32];
    size_t n = strlen(key);
    TRY(rd_tok(r, key, &t));
    if (t.k == MP_STR && t.v == n) {
        TRY(rd_bytes(r, buf, n, key));
        if (memcmp(buf, key, n) == 0) return CLCDD_OK;
    }
    return fmt_fail(r, key, "key '%s' expected here (keys appear in the order docs/archive.md "
                    "gives)", key);
}

/* Keys in the map beyond the known ones: allowed only when the file's minor version is newer. */
static clcdd_status check_key_count(rd *r, uint64_t n_keys, uint64_t known) {
    if (n_keys < known)
        return fmt_fail(r, "t", "the record has %llu keys; this record type needs %llu",
                        (unsigned long long)n_keys, (unsigned long long)known);
    if (n_keys > known && r->minor <= CARRIER_MINOR)
        return fmt_fail(r, "t", "%llu unknown keys after the %llu known ones (format minor version "
                        "%u has none)", (unsigned long long)(n_keys - known),
                        (unsigned long long)known, r->minor);
    return CLCDD_OK;
}

static clcdd_status skip_extra_keys(rd *r, uint64_t n_keys, uint64_t known) {
    for (uint64_t i = known; i < n_keys; i++) {
        mp_tok k, v;
        TRY(rd_tok(r, "?", &k));
        TRY(expect_kind(r, "?", &k, MP_STR));
        if (k.v > 256) return fmt_fail(r, "?", "key of %llu bytes", (unsigned long long)k.v);
        TRY(rd_bytes(r, NULL, (size_t)k.v, "?"));
        TRY(rd_tok(r, "?", &v));
        TRY(skip_value(r, &v, 0));
    }
    return CLCDD_OK;
}

/* An array of bin chunks holding n_elems little-endian elements of elem bytes; the array token t
 * was already read. *out is malloc'd (NULL when n_elems == 0) and grows as chunks arrive. */
static clcdd_status get_chunks_tok(rd *r, const char *field, const mp_tok *t, size_t elem,
                                   uint64_t n_elems, void **out) {
    *out = NULL;
    TRY(expect_kind(r, field, t, MP_ARRAY));
    uint64_t total;
    if (!clcdd_mul_u64(n_elems, elem, &total) || total > SIZE_MAX / 2)
        return fmt_fail(r, field, "%llu elements is too many", (unsigned long long)n_elems);
    if (total == 0 && t->v != 0)
        return fmt_fail(r, field, "%llu chunks for an empty array", (unsigned long long)t->v);
    unsigned char *buf = NULL;
    size_t got = 0, cap = 0;
    clcdd_status st = CLCDD_OK;
    for (uint64_t i = 0; i < t->v && st == CLCDD_OK; i++) {
        mp_tok b;
        if ((st = rd_tok(r, field, &b)) || (st = expect_kind(r, field, &b, MP_BIN))) break;
        if (b.v == 0 || b.v > CARRIER_CHUNK_BYTES || b.v % elem != 0) {
            st = fmt_fail(r, field, "chunk %llu has %llu bytes (must be 1..%u and a multiple of %zu)",
                          (unsigned long long)i, (unsigned long long)b.v, CARRIER_CHUNK_BYTES, elem);
            break;
        }
        if (got + b.v > total) {
            st = fmt_fail(r, field, "chunks hold more than the %llu elements the record declares",
                          (unsigned long long)n_elems);
            break;
        }
        if (got + b.v > cap) {
            size_t ncap = cap * 2 > got + b.v ? cap * 2 : got + (size_t)b.v;
            if (ncap > total) ncap = (size_t)total;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                st = oom(r, ncap);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        st = rd_bytes(r, buf + got, (size_t)b.v, field);
        got += (size_t)b.v;
    }
    if (st == CLCDD_OK && got != total)
        st = fmt_fail(r, field, "chunks hold %zu of the %llu elements the record declares",
                      got / elem, (unsigned long long)n_elems);
    if (st != CLCDD_OK) {
        free(buf);
        return st;
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (size_t i = 0; i < got; i += elem)
        for (size_t a = 0, z = elem - 1; a < z; a++, z--) {
            unsigned char x = buf[i + a];
            buf[i + a] = buf[i + z];
            buf[i + z] = x;
        }
#endif
    *out = buf;
    return CLCDD_OK;
}

static clcdd_status get_chunks(rd *r, const char *field, size_t elem, uint64_t n_elems, void **out) {
    mp_tok t;
    *out = NULL;
    TRY(rd_tok(r, field, &t));
    return get_chunks_tok(r, field, &t, elem, n_elems, out);
}

/* ---- records ---- */

static clcdd_status read_header(rd *r) {
    clcdd_carrier *c = r->c;
    mp_tok t;
    snprintf(r->ctx, sizeof r->ctx, "%s: header", r->name);
    TRY(rd_tok(r, "magic", &t));
    if (t.k != MP_MAP)
        return fmt_fail(r, "magic", "the first record is not a map: not a clcdd carrier archive");
    uint64_t n_keys = t.v;
    char *magic;
    TRY(expect_key(r, "magic"));
    TRY(get_str(r, "magic", 64, 0, &magic, NULL));
    int ok = strcmp(magic, CARRIER_MAGIC) == 0;
    free(magic);
    if (!ok) return fmt_fail(r, "magic", "not \"" CARRIER_MAGIC "\": not a clcdd carrier archive");
    uint64_t v = 0;
    TRY(expect_key(r, "version"));
    TRY(get_uint(r, "version", UINT32_MAX, &v));
    if (v > CLCDD_CARRIER_VERSION)
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: field 'version': format version %llu was written "
                          "by a newer clcdd (this build reads version %d): upgrade clcdd",
                          r->name, (unsigned long long)v, CLCDD_CARRIER_VERSION);
    if (v == 0) return fmt_fail(r, "version", "0 is not a valid format version");
    c->version = (uint32_t)v;
    TRY(expect_key(r, "minor"));
    TRY(get_u32(r, "minor", UINT32_MAX, &r->minor));
    TRY(check_key_count(r, n_keys, 14));
    TRY(expect_key(r, "family"));
    TRY(get_fixed_str(r, "family", c->family, sizeof c->family));
    TRY(expect_key(r, "architecture"));
    TRY(get_fixed_str(r, "architecture", c->architecture, sizeof c->architecture));
    static const char *const dims[] = {"vocab_size", "hidden_size", "intermediate_size", "n_layers",
                                       "n_heads", "n_kv_heads", "head_dim"};
    uint32_t *dst[] = {&c->vocab_size, &c->hidden_size, &c->intermediate_size, &c->n_layers,
                       &c->n_heads, &c->n_kv_heads, &c->head_dim};
    for (int i = 0; i < 7; i++) {
        TRY(expect_key(r, dims[i]));
        TRY(get_u32(r, dims[i], UINT32_MAX, dst[i]));
    }
    TRY(expect_key(r, "base_fingerprint"));
    TRY(get_fixed_str(r, "base_fingerprint", c->base_fingerprint, sizeof c->base_fingerprint));
    TRY(expect_key(r, "sft_fingerprint"));
    TRY(get_fixed_str(r, "sft_fingerprint", c->sft_fingerprint, sizeof c->sft_fingerprint));
    TRY(carrier_check_dims(c, CLCDD_ERR_FORMAT, r->ctx, &c->n_mask));
    TRY(skip_extra_keys(r, n_keys, 14));
    r->seen = calloc((size_t)c->n_layers * CLCDD_ROLE_COUNT, 1);
    if (!r->seen) return oom(r, (size_t)c->n_layers * CLCDD_ROLE_COUNT);
    return CLCDD_OK;
}

static clcdd_status read_masks(rd *r, uint64_t n_keys) {
    clcdd_carrier *c = r->c;
    uint64_t n;
    TRY(check_key_count(r, n_keys, 4));
    TRY(expect_key(r, "n"));
    TRY(get_uint(r, "n", UINT64_MAX, &n));
    if (n != c->n_mask)
        return fmt_fail(r, "n", "%llu mask channels but the header's dimensions imply %llu",
                        (unsigned long long)n, (unsigned long long)c->n_mask);
    void *p;
    TRY(expect_key(r, "theta"));
    TRY(get_chunks(r, "theta", 4, n, &p));
    c->theta = p;
    /* theta proved n * 4 bytes were present, so n bytes for the mask are bounded by the data */
    TRY(expect_key(r, "mask"));
    unsigned char *bits;
    TRY(get_chunks(r, "mask", 1, (n + 7) / 8, &p));
    bits = p;
    if (n % 8 && (bits[n / 8] >> (n % 8)) != 0) {
        free(bits);
        return fmt_fail(r, "mask", "padding bits after the last channel are not zero");
    }
    c->mask = malloc(n ? (size_t)n : 1);
    if (!c->mask) {
        free(bits);
        return oom(r, (size_t)n);
    }
    for (uint64_t i = 0; i < n; i++) c->mask[i] = (bits[i / 8] >> (i % 8)) & 1;
    free(bits);
    return skip_extra_keys(r, n_keys, 4);
}

static clcdd_status layer_role(rd *r, const char *kind, uint32_t *layer, uint32_t *role) {
    TRY(expect_key(r, "layer"));
    TRY(get_u32(r, "layer", UINT32_MAX, layer));
    TRY(expect_key(r, "role"));
    TRY(get_u32(r, "role", UINT32_MAX, role));
    snprintf(r->ctx, sizeof r->ctx, "%s: record %llu (%s layer %u role %s)", r->name,
             (unsigned long long)r->record, kind, *layer, carrier_role_name(*role));
    if (*layer >= r->c->n_layers)
        return fmt_fail(r, "layer", "%u is out of range (n_layers %u)", *layer, r->c->n_layers);
    unsigned char *s = &r->seen[(size_t)*layer * CLCDD_ROLE_COUNT + (*role < CLCDD_ROLE_COUNT ? *role : 0)];
    if (*role < CLCDD_ROLE_COUNT && *s)
        return fmt_fail(r, "role", "a second %s record for layer %u role %s (duplicate)", kind,
                        *layer, carrier_role_name(*role));
    if (*role < CLCDD_ROLE_COUNT) *s = 1;
    return CLCDD_OK;
}

static void *grow(void *p, uint32_t n, size_t elem) {
    if (n & (n - 1)) return p; /* not a power of two: room left */
    return realloc(p, (n ? 2 * (size_t)n : 4) * elem);
}

static clcdd_status read_matrix(rd *r, uint64_t n_keys) {
    clcdd_carrier *c = r->c;
    TRY(check_key_count(r, n_keys, 9));
    void *g = grow(c->matrices, c->n_matrices, sizeof *c->matrices);
    if (!g) return oom(r, 2 * (size_t)c->n_matrices * sizeof *c->matrices);
    c->matrices = g;
    clcdd_carrier_matrix *m = &c->matrices[c->n_matrices++];
    memset(m, 0, sizeof *m);
    TRY(layer_role(r, "matrix", &m->layer, &m->role));
    uint32_t R, C;
    if (!carrier_matrix_shape(c, m->role, &R, &C))
        return fmt_fail(r, "role", "%u is not a masked projection (q k v o gate up down)", m->role);
    TRY(expect_key(r, "n_rows"));
    TRY(get_u32(r, "n_rows", R, &m->n_rows));
    TRY(expect_key(r, "n_cols"));
    TRY(get_u32(r, "n_cols", C, &m->n_cols));
    void *p;
    TRY(expect_key(r, "rows"));
    TRY(get_chunks(r, "rows", 4, m->n_rows, &p));
    m->rows = p;
    TRY(carrier_check_indices(m->rows, m->n_rows, R, CLCDD_ERR_FORMAT, r->ctx, "rows"));
    TRY(expect_key(r, "cols"));
    TRY(get_chunks(r, "cols", 4, m->n_cols, &p));
    m->cols = p;
    TRY(carrier_check_indices(m->cols, m->n_cols, C, CLCDD_ERR_FORMAT, r->ctx, "cols"));
    TRY(expect_key(r, "delta"));
    TRY(get_chunks(r, "delta", 4, (uint64_t)m->n_rows * m->n_cols, &p));
    m->delta = p;
    TRY(expect_key(r, "bias"));
    mp_tok t;
    TRY(rd_tok(r, "bias", &t));
    if (t.k != MP_NIL) {
        TRY(get_chunks_tok(r, "bias", &t, 4, m->n_rows, &p));
        m->bias_delta = p;
        if (!m->bias_delta) { /* a bias over zero rows: keep "has a bias" visible */
            m->bias_delta = malloc(sizeof(float));
            if (!m->bias_delta) return oom(r, sizeof(float));
        }
    }
    return skip_extra_keys(r, n_keys, 9);
}

static clcdd_status read_norm(rd *r, uint64_t n_keys) {
    clcdd_carrier *c = r->c;
    TRY(check_key_count(r, n_keys, 5));
    void *g = grow(c->norms, c->n_norms, sizeof *c->norms);
    if (!g) return oom(r, 2 * (size_t)c->n_norms * sizeof *c->norms);
    c->norms = g;
    clcdd_carrier_norm *nm = &c->norms[c->n_norms++];
    memset(nm, 0, sizeof *nm);
    TRY(layer_role(r, "norm", &nm->layer, &nm->role));
    uint32_t len;
    if (!carrier_norm_len(c, nm->role, &len))
        return fmt_fail(r, "role", "%u is not a norm (attn_norm ffn_norm final_norm q_norm k_norm)",
                        nm->role);
    if (nm->role == CLCDD_ROLE_FINAL_NORM && nm->layer != 0)
        return fmt_fail(r, "layer", "%u for final_norm (a global role: must be 0)", nm->layer);
    TRY(expect_key(r, "n"));
    TRY(get_u32(r, "n", UINT32_MAX, &nm->n));
    if (nm->n != len)
        return fmt_fail(r, "n", "%u weights but role %s has %u", nm->n, carrier_role_name(nm->role), len);
    void *p;
    TRY(expect_key(r, "w"));
    TRY(get_chunks(r, "w", 4, nm->n, &p));
    nm->w = p;
    return skip_extra_keys(r, n_keys, 5);
}

static clcdd_status read_train(rd *r, uint64_t n_keys) {
    TRY(check_key_count(r, n_keys, 2));
    TRY(expect_key(r, "json"));
    TRY(get_str(r, "json", CARRIER_MAX_JSON, 0, &r->c->train_json, NULL));
    return skip_extra_keys(r, n_keys, 2);
}

static clcdd_status read_prompt(rd *r, uint64_t n_keys) {
    clcdd_carrier *c = r->c;
    TRY(check_key_count(r, n_keys, 7));
    if (c->n_prompts >= CARRIER_MAX_PROMPTS)
        return fmt_fail(r, "t", "more than %u prompt records", CARRIER_MAX_PROMPTS);
    void *g = grow(c->prompts, c->n_prompts, sizeof *c->prompts);
    if (!g) return oom(r, 2 * (size_t)c->n_prompts * sizeof *c->prompts);
    c->prompts = g;
    clcdd_carrier_prompt *p = &c->prompts[c->n_prompts++];
    memset(p, 0, sizeof *p);
    TRY(expect_key(r, "name"));
    TRY(get_fixed_str(r, "name", p->name, sizeof p->name));
    snprintf(r->ctx, sizeof r->ctx, "%s: record %llu (prompt '%s')", r->name,
             (unsigned long long)r->record, p->name);
    if (!p->name[0]) return fmt_fail(r, "name", "empty prompt name");
    for (uint32_t i = 0; i + 1 < c->n_prompts; i++)
        if (strcmp(c->prompts[i].name, p->name) == 0)
            return fmt_fail(r, "name", "a second prompt called '%s' (duplicate)", p->name);
    TRY(expect_key(r, "rows"));
    TRY(get_u32(r, "rows", CARRIER_MAX_PROMPT_ROWS, &p->rows));
    if (p->rows == 0) return fmt_fail(r, "rows", "a prompt needs at least one row");
    TRY(expect_key(r, "dim"));
    TRY(get_u32(r, "dim", UINT32_MAX, &p->dim));
    if (p->dim != c->hidden_size)
        return fmt_fail(r, "dim", "%u but the model's hidden_size is %u", p->dim, c->hidden_size);
    void *d;
    TRY(expect_key(r, "data"));
    TRY(get_chunks(r, "data", 4, (uint64_t)p->rows * p->dim, &d));
    p->data = d;
    TRY(expect_key(r, "settings"));
    TRY(get_str(r, "settings", CARRIER_MAX_JSON, 1, &p->settings_json, NULL));
    TRY(expect_key(r, "metrics"));
    TRY(get_str(r, "metrics", CARRIER_MAX_JSON, 1, &p->metrics_json, NULL));
    return skip_extra_keys(r, n_keys, 7);
}

static clcdd_status read_end(rd *r, uint64_t n_keys) {
    clcdd_carrier *c = r->c;
    TRY(check_key_count(r, n_keys, 6));
    static const char *const keys[] = {"records", "n_matrices", "n_norms", "n_prompts", "has_train"};
    uint64_t want[] = {r->record, c->n_matrices, c->n_norms, c->n_prompts, c->train_json ? 1 : 0};
    for (int i = 0; i < 5; i++) {
        uint64_t v;
        TRY(expect_key(r, keys[i]));
        TRY(get_uint(r, keys[i], UINT64_MAX, &v));
        if (v != want[i])
            return fmt_fail(r, keys[i], "the end record says %llu but the archive holds %llu "
                            "(records are missing or extra)", (unsigned long long)v,
                            (unsigned long long)want[i]);
    }
    return skip_extra_keys(r, n_keys, 6);
}

static clcdd_status read_all(rd *r) {
    static const char *const types[] = {"header", "masks", "matrix", "norm", "train", "prompt", "end"};
    TRY(read_header(r));
    int last = CREC_HEADER;
    for (r->record = 1;; r->record++) {
        snprintf(r->ctx, sizeof r->ctx, "%s: record %llu", r->name, (unsigned long long)r->record);
        if (r->pos == r->len) TRY(refill(r));
        if (r->len == 0)
            return fmt_fail(r, "t", "the archive ends before its end record (truncated after %llu "
                            "records)", (unsigned long long)r->record);
        mp_tok t;
        TRY(rd_tok(r, "t", &t));
        TRY(expect_kind(r, "t", &t, MP_MAP));
        if (t.v == 0) return fmt_fail(r, "t", "empty record map");
        TRY(expect_key(r, "t"));
        char *type;
        TRY(get_str(r, "t", 16, 0, &type, NULL));
        int kind = -1;
        for (int i = CREC_MASKS; i <= CREC_END; i++)
            if (strcmp(type, types[i]) == 0) kind = i;
        snprintf(r->ctx, sizeof r->ctx, "%s: record %llu (%s)", r->name,
                 (unsigned long long)r->record, type);
        if (kind < 0) {
            clcdd_status st = fmt_fail(r, "t", "unknown record type '%s'", type);
            free(type);
            return st;
        }
        free(type);
        if (kind < last || (kind == last && (kind == CREC_MASKS || kind == CREC_TRAIN)))
            return fmt_fail(r, "t", "%s record after a %s record (order: masks, matrix, norm, "
                            "train, prompt, end; masks and train at most once)", types[kind],
                            types[last]);
        if (last == CREC_HEADER && kind != CREC_MASKS)
            return fmt_fail(r, "t", "the masks record must follow the header");
        last = kind;
        switch (kind) {
        case CREC_MASKS: TRY(read_masks(r, t.v)); break;
        case CREC_MATRIX: TRY(read_matrix(r, t.v)); break;
        case CREC_NORM: TRY(read_norm(r, t.v)); break;
        case CREC_TRAIN: TRY(read_train(r, t.v)); break;
        case CREC_PROMPT: TRY(read_prompt(r, t.v)); break;
        default:
            TRY(read_end(r, t.v));
            /* nothing may follow, and the frame (with its checksum) must be complete */
            if (r->pos == r->len) TRY(refill(r));
            if (r->len > 0)
                return fmt_fail(r, "t", "data after the end record (trailing garbage)");
            return CLCDD_OK;
        }
    }
}

clcdd_status clcdd_carrier_read_memory(const void *data, size_t size, const char *name,
                                       clcdd_carrier **out) {
    if (!out) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_carrier_read: out is NULL");
    *out = NULL;
    if (!name) name = "<memory>";
    if (!data && size) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: data is NULL", name);
    const unsigned char *b = data;
    static const unsigned char zmagic[4] = {0x28, 0xb5, 0x2f, 0xfd};
    if (size < 4 || memcmp(b, zmagic, 4) != 0)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: not a zstd stream (%s): not a clcdd carrier archive",
                          name, size < 4 ? "shorter than the zstd magic" : "bad zstd magic");
    if (size < 6)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: truncated inside the zstd frame header (%zu bytes)",
                          name, size);
    if (!(b[4] & 0x04))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: the zstd frame has no content checksum (clcdd "
                          "archives always carry one): the file was not written by clcdd", name);
    rd r = {.name = name};
    r.c = calloc(1, sizeof *r.c);
    r.dctx = ZSTD_createDCtx();
    r.cap = ZSTD_DStreamOutSize();
    r.buf = malloc(r.cap);
    clcdd_status st;
    if (!r.c || !r.dctx || !r.buf) {
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: cannot allocate the zstd decompressor", name);
    } else {
        ZSTD_DCtx_setParameter(r.dctx, ZSTD_d_windowLogMax, 27);
        r.in = (ZSTD_inBuffer){data, size, 0};
        st = read_all(&r);
        /* A content error may stem from corruption the frame checksum would reveal at the end:
         * decompress the rest and prefer zstd's verdict. */
        if (st == CLCDD_ERR_FORMAT && !r.zstd_failed) {
            while (!r.frame_done && r.in.pos < r.in.size) {
                ZSTD_outBuffer o = {r.buf, r.cap, 0};
                size_t ret = ZSTD_decompressStream(r.dctx, &o, &r.in);
                if (ZSTD_isError(ret)) {
                    st = zstd_error(&r, ret);
                    break;
                }
                if (ret == 0) r.frame_done = 1;
            }
        }
    }
    ZSTD_freeDCtx(r.dctx);
    free(r.buf);
    free(r.seen);
    if (st != CLCDD_OK) {
        clcdd_carrier_free(r.c);
        return st;
    }
    *out = r.c;
    return CLCDD_OK;
}

clcdd_status clcdd_carrier_read(const char *path, clcdd_carrier **out) {
    if (!out || !path)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_carrier_read: path and out must not be NULL");
    *out = NULL;
    clcdd_mapped_file f;
    clcdd_status st = clcdd_map_file(path, &f);
    if (st != CLCDD_OK) return st;
    st = clcdd_carrier_read_memory(f.data, (size_t)f.size, path, out);
    clcdd_unmap_file(&f);
    return st;
}
