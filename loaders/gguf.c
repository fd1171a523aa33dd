/* GGUF v2/v3 reader (FORMATS.md §3.1): validates the whole file at open, then serves metadata and
 * tensors from the read-only mapping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd/dtype.h"
#include "clcdd/gguf.h"
#include "loaders_internal.h"

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4
#define GGUF_MAX_NAME 64 /* ggml's GGML_MAX_NAME, including the terminator */

typedef struct name_idx {
    const char *name;
    size_t idx;
} name_idx;

typedef struct gguf_kv {
    char *key;
    uint32_t type;
    uint64_t off;        /* file offset of the value (scalars, strings: the length field) */
    uint32_t elem_type;  /* arrays */
    uint64_t count;      /* arrays */
    uint64_t data_off;   /* arrays: offset of the first element */
    uint64_t *str_offs;  /* string arrays: offset of each element's length field */
    uint64_t end;        /* file offset just past the value */
} gguf_kv;

typedef struct gguf_ti {
    char *name;
    uint32_t type, n_dims;
    uint64_t dims[GGUF_MAX_DIMS];
    uint64_t n_elements, n_bytes, offset;
} gguf_ti;

struct clcdd_gguf {
    char *path;
    clcdd_mapped_file map;
    uint32_t version, alignment;
    uint64_t data_start;
    gguf_kv *kv;
    size_t n_kv;
    gguf_ti *ti;
    size_t n_ti;
    name_idx *kv_sorted; /* sorted by key */
    name_idx *ti_sorted; /* sorted by name */
};

typedef struct cursor {
    const unsigned char *d;
    uint64_t size, pos;
    const char *path;
} cursor;

static const uint32_t value_sizes[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *clcdd_gguf_value_type_name(uint32_t t) {
    static const char *names[13] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                    "bool", "string", "array", "u64", "i64", "f64"};
    return t < 13 ? names[t] : "?";
}

static clcdd_status need(cursor *c, uint64_t n, const char *what) {
    if (n > c->size - c->pos)
        return clcdd_fail(CLCDD_ERR_FORMAT,
                          "%s: truncated: %s needs %llu bytes at offset %llu but the file has %llu",
                          c->path, what, (unsigned long long)n, (unsigned long long)c->pos,
                          (unsigned long long)c->size);
    return CLCDD_OK;
}

static clcdd_status rd_u32(cursor *c, uint32_t *v, const char *what) {
    clcdd_status s = need(c, 4, what);
    if (s) return s;
    *v = clcdd_rd_u32(c->d + c->pos);
    c->pos += 4;
    return CLCDD_OK;
}

static clcdd_status rd_u64(cursor *c, uint64_t *v, const char *what) {
    clcdd_status s = need(c, 8, what);
    if (s) return s;
    *v = clcdd_rd_u64(c->d + c->pos);
    c->pos += 8;
    return CLCDD_OK;
}

/* Skip a gguf_string, checking its length against the remaining bytes before anything else. */
static clcdd_status skip_str(cursor *c, uint64_t *len, const char *what) {
    clcdd_status s = rd_u64(c, len, what);
    if (s) return s;
    if (*len > c->size - c->pos)
        return clcdd_fail(CLCDD_ERR_FORMAT,
                          "%s: %s claims a string of %llu bytes at offset %llu, beyond the end of "
                          "the file",
                          c->path, what, (unsigned long long)*len, (unsigned long long)(c->pos - 8));
    c->pos += *len;
    return CLCDD_OK;
}

/* Read a gguf_string into a fresh NUL-terminated copy; refuses embedded NUL bytes. */
static clcdd_status read_name(cursor *c, char **out, const char *what) {
    uint64_t len;
    clcdd_status s = skip_str(c, &len, what);
    if (s) return s;
    const unsigned char *p = c->d + c->pos - len;
    if (memchr(p, 0, (size_t)len))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: %s at offset %llu contains a NUL byte", c->path,
                          what, (unsigned long long)(c->pos - len - 8));
    *out = malloc((size_t)len + 1);
    if (!*out) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", c->path);
    memcpy(*out, p, (size_t)len);
    (*out)[len] = '\0';
    return CLCDD_OK;
}

static clcdd_status check_bool(cursor *c, uint64_t off, const char *key) {
    if (c->d[off] > 1)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: key %s: bool value %u is not 0 or 1", c->path, key,
                          c->d[off]);
    return CLCDD_OK;
}

static clcdd_status parse_value(cursor *c, gguf_kv *kv) {
    clcdd_status s;
    kv->off = c->pos;
    if (kv->type == CLCDD_GGUF_STRING) {
        uint64_t len;
        return skip_str(c, &len, kv->key);
    }
    if (kv->type == CLCDD_GGUF_ARRAY) {
        if ((s = rd_u32(c, &kv->elem_type, kv->key)) || (s = rd_u64(c, &kv->count, kv->key)))
            return s;
        kv->data_off = c->pos;
        if (kv->elem_type == CLCDD_GGUF_ARRAY)
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s: key %s: nested arrays are not supported",
                              c->path, kv->key);
        if (kv->elem_type > CLCDD_GGUF_F64)
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s: key %s: unknown array element type %u",
                              c->path, kv->key, kv->elem_type);
        if (kv->elem_type == CLCDD_GGUF_STRING) {
            /* every element needs at least its 8-byte length: bound count before allocating */
            if (kv->count > (c->size - c->pos) / 8)
                return clcdd_fail(CLCDD_ERR_FORMAT,
                                  "%s: key %s: array claims %llu strings, more than the file can "
                                  "hold",
                                  c->path, kv->key, (unsigned long long)kv->count);
            kv->str_offs = malloc((size_t)(kv->count ? kv->count : 1) * sizeof *kv->str_offs);
            if (!kv->str_offs)
                return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", c->path);
            for (uint64_t i = 0; i < kv->count; i++) {
                uint64_t len;
                kv->str_offs[i] = c->pos;
                if ((s = skip_str(c, &len, kv->key))) return s;
            }
            return CLCDD_OK;
        }
        uint64_t es = value_sizes[kv->elem_type], bytes;
        if (!clcdd_mul_u64(es, kv->count, &bytes) || bytes > c->size - c->pos)
            return clcdd_fail(CLCDD_ERR_FORMAT,
                              "%s: key %s: array of %llu %s elements runs past the end of the file",
                              c->path, kv->key, (unsigned long long)kv->count,
                              clcdd_gguf_value_type_name(kv->elem_type));
        if (kv->elem_type == CLCDD_GGUF_BOOL)
            for (uint64_t i = 0; i < kv->count; i++)
                if ((s = check_bool(c, c->pos + i, kv->key))) return s;
        c->pos += bytes;
        return CLCDD_OK;
    }
    if (kv->type > CLCDD_GGUF_F64)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: key %s: unknown value type %u", c->path, kv->key,
                          kv->type);
    if ((s = need(c, value_sizes[kv->type], kv->key))) return s;
    if (kv->type == CLCDD_GGUF_BOOL && (s = check_bool(c, c->pos, kv->key))) return s;
    c->pos += value_sizes[kv->type];
    return CLCDD_OK;
}

static clcdd_status parse_tensor_info(cursor *c, gguf_ti *t, size_t index) {
    clcdd_status s;
    char what[48];
    snprintf(what, sizeof what, "tensor info %zu", index);
    if ((s = read_name(c, &t->name, what))) return s;
    if (strlen(t->name) >= GGUF_MAX_NAME)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: tensor name '%.64s...' is longer than %d bytes",
                          c->path, t->name, GGUF_MAX_NAME - 1);
    if ((s = rd_u32(c, &t->n_dims, t->name))) return s;
    if (t->n_dims > GGUF_MAX_DIMS)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: tensor '%s' has %u dimensions (at most %d)",
                          c->path, t->name, t->n_dims, GGUF_MAX_DIMS);
    uint64_t ne = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t->dims[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if ((s = rd_u64(c, &t->dims[d], t->name))) return s;
        if (t->dims[d] > (uint64_t)INT64_MAX)
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s: tensor '%s': dimension %u is negative",
                              c->path, t->name, d);
    }
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++)
        if (!clcdd_mul_u64(ne, t->dims[d], &ne) || ne > (uint64_t)INT64_MAX)
            return clcdd_fail(CLCDD_ERR_FORMAT,
                              "%s: tensor '%s': element count overflows int64", c->path, t->name);
    t->n_elements = ne;
    if ((s = rd_u32(c, &t->type, t->name))) return s;
    uint32_t bs = clcdd_ggml_block_size(t->type), ts = clcdd_ggml_type_size(t->type);
    if (bs == 0)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: tensor '%s': unknown ggml type %u", c->path,
                          t->name, t->type);
    if (t->dims[0] % bs != 0)
        return clcdd_fail(CLCDD_ERR_FORMAT,
                          "%s: tensor '%s': row length %llu is not a multiple of the %s block "
                          "size %u",
                          c->path, t->name, (unsigned long long)t->dims[0],
                          clcdd_ggml_type_name(t->type), bs);
    uint64_t nb = t->dims[0] / bs;
    if (!clcdd_mul_u64(nb, ts, &nb) || !clcdd_mul_u64(nb, t->dims[1], &nb) ||
        !clcdd_mul_u64(nb, t->dims[2], &nb) || !clcdd_mul_u64(nb, t->dims[3], &nb))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: tensor '%s': byte size overflows 64 bits",
                          c->path, t->name);
    t->n_bytes = nb;
    return rd_u64(c, &t->offset, t->name);
}


static int cmp_name_idx(const void *a, const void *b) {
    return strcmp(((const name_idx *)a)->name, ((const name_idx *)b)->name);
}

/* Sort (name, index) pairs; refuse duplicates. */
static clcdd_status sorted_index(const char *path, const char *what, size_t n,
                                 const char *(*get)(const clcdd_gguf *, size_t),
                                 const clcdd_gguf *g, name_idx **out) {
    *out = malloc((n ? n : 1) * sizeof **out);
    if (!*out) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) (*out)[i] = (name_idx){get(g, i), i};
    qsort(*out, n, sizeof **out, cmp_name_idx);
    for (size_t i = 1; i < n; i++)
        if (strcmp((*out)[i - 1].name, (*out)[i].name) == 0)
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s: duplicate %s '%s'", path, what,
                              (*out)[i].name);
    return CLCDD_OK;
}

static const char *kv_name(const clcdd_gguf *g, size_t i) { return g->kv[i].key; }
static const char *ti_name(const clcdd_gguf *g, size_t i) { return g->ti[i].name; }

void clcdd_gguf_close(clcdd_gguf *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n_kv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].str_offs);
    }
    for (size_t i = 0; i < g->n_ti; i++) free(g->ti[i].name);
    free(g->kv);
    free(g->ti);
    free(g->kv_sorted);
    free(g->ti_sorted);
    clcdd_unmap_file(&g->map);
    free(g->path);
    free(g);
}

static clcdd_status parse(clcdd_gguf *g) {
    cursor c = {g->map.data, g->map.size, 0, g->path};
    clcdd_status s;
    const char *p = g->path;
    if (c.size < 4 || memcmp(c.d, "GGUF", 4) != 0)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: not a GGUF file (magic is not 'GGUF')", p);
    c.pos = 4;
    uint64_t n_ti, n_kv;
    if ((s = rd_u32(&c, &g->version, "version"))) return s;
    if (g->version == 1)
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED,
                          "%s: GGUF version 1 is not supported; re-convert the model with a "
                          "current llama.cpp (versions 2 and 3 are read)",
                          p);
    uint32_t swapped = __builtin_bswap32(g->version);
    if ((g->version & 0xffffu) == 0 && swapped >= 1 && swapped <= 3)
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED,
                          "%s: this is a big-endian GGUF (version reads as 0x%08x); clcdd reads "
                          "little-endian GGUF only, convert it with gguf-py's byte-swap tool",
                          p, g->version);
    if (g->version != 2 && g->version != 3)
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED,
                          "%s: unknown GGUF version %u (versions 2 and 3 are supported)", p,
                          g->version);
    if ((s = rd_u64(&c, &n_ti, "tensor count")) || (s = rd_u64(&c, &n_kv, "metadata count")))
        return s;
    /* A key/value pair takes at least 13 bytes, a tensor info at least 24: bound the counts by
     * the file size before allocating anything. */
    uint64_t rest = c.size - c.pos;
    if (n_kv > rest / 13 || n_ti > rest / 24 || n_kv * 13 + n_ti * 24 > rest)
        return clcdd_fail(CLCDD_ERR_FORMAT,
                          "%s: header claims %llu tensors and %llu metadata pairs, more than a "
                          "%llu-byte file can hold",
                          p, (unsigned long long)n_ti, (unsigned long long)n_kv,
                          (unsigned long long)c.size);
    g->kv = calloc((size_t)(n_kv ? n_kv : 1), sizeof *g->kv);
    g->ti = calloc((size_t)(n_ti ? n_ti : 1), sizeof *g->ti);
    if (!g->kv || !g->ti) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", p);
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < n_kv; i++) {
        gguf_kv *kv = &g->kv[g->n_kv];
        char what[48];
        snprintf(what, sizeof what, "metadata key %llu", (unsigned long long)i);
        if ((s = read_name(&c, &kv->key, what))) return s;
        g->n_kv++;
        if ((s = rd_u32(&c, &kv->type, kv->key))) return s;
        if ((s = parse_value(&c, kv))) return s;
        kv->end = c.pos;
        if (strcmp(kv->key, "general.alignment") == 0) {
            if (kv->type != CLCDD_GGUF_U32)
                return clcdd_fail(CLCDD_ERR_FORMAT, "%s: general.alignment must be a u32, is %s",
                                  p, clcdd_gguf_value_type_name(kv->type));
            uint32_t a = clcdd_rd_u32(c.d + kv->off);
            if (a == 0 || (a & (a - 1)) != 0)
                return clcdd_fail(CLCDD_ERR_FORMAT,
                                  "%s: general.alignment %u is not a power of two", p, a);
            g->alignment = a;
        }
    }
    if ((s = sorted_index(p, "metadata key", g->n_kv, kv_name, g, &g->kv_sorted))) return s;
    for (uint64_t i = 0; i < n_ti; i++) {
        s = parse_tensor_info(&c, &g->ti[g->n_ti], (size_t)i);
        if (g->ti[g->n_ti].name) g->n_ti++;
        if (s) return s;
    }
    if ((s = sorted_index(p, "tensor name", g->n_ti, ti_name, g, &g->ti_sorted))) return s;
    uint64_t a = g->alignment;
    g->data_start = c.pos + (a - c.pos % a) % a;
    if (g->n_ti == 0) return CLCDD_OK;
    if (g->data_start > c.size)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: truncated: file ends before the tensor data", p);
    uint64_t data_size = c.size - g->data_start, expect = 0;
    for (size_t i = 0; i < g->n_ti; i++) {
        const gguf_ti *t = &g->ti[i];
        if (t->offset % a != 0)
            return clcdd_fail(CLCDD_ERR_FORMAT,
                              "%s: tensor '%s': offset %llu is not a multiple of the alignment %u",
                              p, t->name, (unsigned long long)t->offset, g->alignment);
        if (t->offset != expect)
            return clcdd_fail(CLCDD_ERR_FORMAT,
                              "%s: tensor '%s': offset %llu, expected %llu (tensor data must be "
                              "laid out back to back in header order)",
                              p, t->name, (unsigned long long)t->offset,
                              (unsigned long long)expect);
        if (t->n_bytes > data_size || t->offset > data_size - t->n_bytes)
            return clcdd_fail(CLCDD_ERR_FORMAT,
                              "%s: tensor '%s': data [%llu, +%llu) runs past the end of the file "
                              "(truncated?)",
                              p, t->name, (unsigned long long)t->offset,
                              (unsigned long long)t->n_bytes);
        uint64_t padded = t->n_bytes + (a - t->n_bytes % a) % a;
        expect = t->offset + padded; /* offset + n_bytes <= data_size, so no overflow */
    }
    return CLCDD_OK;
}

static clcdd_status open_common(clcdd_gguf *g, clcdd_gguf **out) {
    clcdd_status s = parse(g);
    if (s != CLCDD_OK) {
        clcdd_gguf_close(g);
        return s;
    }
    *out = g;
    return CLCDD_OK;
}

clcdd_status clcdd_gguf_open(const char *path, clcdd_gguf **out) {
    if (!out || !path) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "gguf_open: NULL argument");
    *out = NULL;
    clcdd_gguf *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(path))) {
        free(g);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    clcdd_status s = clcdd_map_file(path, &g->map);
    if (s != CLCDD_OK) {
        clcdd_gguf_close(g);
        return s;
    }
    return open_common(g, out);
}

clcdd_status clcdd_gguf_open_memory(const void *data, size_t size, const char *name,
                                    clcdd_gguf **out) {
    if (!out) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "gguf_open_memory: NULL argument");
    *out = NULL;
    if (!name) name = "<memory>";
    clcdd_gguf *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(name))) {
        free(g);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
    }
    g->map.data = size ? data : NULL;
    g->map.size = data ? size : 0;
    g->map.owned = 0;
    return open_common(g, out);
}

uint32_t clcdd_gguf_version(const clcdd_gguf *g) { return g ? g->version : 0; }
uint32_t clcdd_gguf_alignment(const clcdd_gguf *g) { return g ? g->alignment : 0; }
uint64_t clcdd_gguf_data_offset(const clcdd_gguf *g) { return g ? g->data_start : 0; }
size_t clcdd_gguf_kv_count(const clcdd_gguf *g) { return g ? g->n_kv : 0; }
const char *clcdd_gguf_kv_key(const clcdd_gguf *g, size_t i) {
    return g && i < g->n_kv ? g->kv[i].key : NULL;
}
clcdd_gguf_value_type clcdd_gguf_kv_type(const clcdd_gguf *g, size_t i) {
    return g && i < g->n_kv ? (clcdd_gguf_value_type)g->kv[i].type : CLCDD_GGUF_U8;
}

clcdd_status clcdd_gguf_find_key(const clcdd_gguf *g, const char *key, size_t *index) {
    if (!g || !key || !index)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "gguf_find_key: NULL argument");
    name_idx k = {key, 0};
    const name_idx *hit = bsearch(&k, g->kv_sorted, g->n_kv, sizeof k, cmp_name_idx);
    if (!hit) return clcdd_fail(CLCDD_ERR_NOT_FOUND, "%s: no metadata key '%s'", g->path, key);
    *index = hit->idx;
    return CLCDD_OK;
}

/* ---- Scalar decoding ---- */

typedef struct num {
    int is_float, is_signed;
    int64_t i;
    uint64_t u;
    double f;
} num;

/* Decode a numeric or bool element of type t at file offset off. */
static int decode_num(const clcdd_gguf *g, uint32_t t, uint64_t off, num *n) {
    const unsigned char *p = g->map.data + off;
    memset(n, 0, sizeof *n);
    switch (t) {
    case CLCDD_GGUF_U8: case CLCDD_GGUF_BOOL: n->u = p[0]; break;
    case CLCDD_GGUF_U16: n->u = clcdd_rd_u16(p); break;
    case CLCDD_GGUF_U32: n->u = clcdd_rd_u32(p); break;
    case CLCDD_GGUF_U64: n->u = clcdd_rd_u64(p); break;
    case CLCDD_GGUF_I8: n->is_signed = 1, n->i = (int8_t)p[0]; break;
    case CLCDD_GGUF_I16: n->is_signed = 1, n->i = (int16_t)clcdd_rd_u16(p); break;
    case CLCDD_GGUF_I32: n->is_signed = 1, n->i = (int32_t)clcdd_rd_u32(p); break;
    case CLCDD_GGUF_I64: n->is_signed = 1, n->i = (int64_t)clcdd_rd_u64(p); break;
    case CLCDD_GGUF_F32: {
        uint32_t b = clcdd_rd_u32(p);
        float f;
        memcpy(&f, &b, 4);
        n->is_float = 1, n->f = f;
        break;
    }
    case CLCDD_GGUF_F64: {
        uint64_t b = clcdd_rd_u64(p);
        memcpy(&n->f, &b, 8);
        n->is_float = 1;
        break;
    }
    default: return 0;
    }
    if (!n->is_float) {
        if (n->is_signed) n->f = (double)n->i;
        else n->f = (double)n->u;
    }
    return 1;
}

static clcdd_status num_to_i64(const clcdd_gguf *g, const char *what, const num *n, int64_t lo,
                               int64_t hi, int64_t *out) {
    if (n->is_float)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: %s is a float, expected an integer", g->path,
                          what);
    if (n->is_signed ? (n->i < lo || n->i > hi) : (n->u > (uint64_t)hi))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: %s value is out of range for the requested type",
                          g->path, what);
    *out = n->is_signed ? n->i : (int64_t)n->u;
    return CLCDD_OK;
}

static clcdd_status num_to_u64(const clcdd_gguf *g, const char *what, const num *n, uint64_t hi,
                               uint64_t *out) {
    if (n->is_float)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: %s is a float, expected an integer", g->path,
                          what);
    if (n->is_signed ? (n->i < 0 || (uint64_t)n->i > hi) : n->u > hi)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: %s value is out of range for the requested type",
                          g->path, what);
    *out = n->is_signed ? (uint64_t)n->i : n->u;
    return CLCDD_OK;
}

static clcdd_status kv_num(const clcdd_gguf *g, size_t i, num *n) {
    if (!g || i >= g->n_kv) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "gguf: bad kv index");
    if (!decode_num(g, g->kv[i].type, g->kv[i].off, n))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: key %s is a %s, expected a number", g->path,
                          g->kv[i].key, clcdd_gguf_value_type_name(g->kv[i].type));
    return CLCDD_OK;
}

clcdd_status clcdd_gguf_kv_i64(const clcdd_gguf *g, size_t i, int64_t *out) {
    num n;
    clcdd_status s = kv_num(g, i, &n);
    return s ? s : num_to_i64(g, g->kv[i].key, &n, INT64_MIN, INT64_MAX, out);
}
clcdd_status clcdd_gguf_kv_u64(const clcdd_gguf *g, size_t i, uint64_t *out) {
    num n;
    clcdd_status s = kv_num(g, i, &n);
    return s ? s : num_to_u64(g, g->kv[i].key, &n, UINT64_MAX, out);
}
clcdd_status clcdd_gguf_kv_f64(const clcdd_gguf *g, size_t i, double *out) {
    num n;
    clcdd_status s = kv_num(g, i, &n);
    if (s) return s;
    if (!n.is_float)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: key %s is a %s, expected f32 or f64", g->path,
                          g->kv[i].key, clcdd_gguf_value_type_name(g->kv[i].type));
    *out = n.f;
    return CLCDD_OK;
}
clcdd_status clcdd_gguf_kv_string(const clcdd_gguf *g, size_t i, clcdd_gguf_str *out) {
    if (!g || i >= g->n_kv || !out)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "gguf: bad kv index");
    if (g->kv[i].type != CLCDD_GGUF_STRING)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: key %s is a %s, expected a string", g->path,
                          g->kv[i].key, clcdd_gguf_value_type_name(g->kv[i].type));
    out->len = clcdd_rd_u64(g->map.data + g->kv[i].off);
    out->data = (const char *)g->map.data + g->kv[i].off + 8;
    return CLCDD_OK;
}
clcdd_status clcdd_gguf_kv_array(const clcdd_gguf *g, size_t i, clcdd_gguf_array *out) {
    if (!g || i >= g->n_kv || !out)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "gguf: bad kv index");
    if (g->kv[i].type != CLCDD_GGUF_ARRAY)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: key %s is a %s, expected an array", g->path,
                          g->kv[i].key, clcdd_gguf_value_type_name(g->kv[i].type));
    out->elem_type = (clcdd_gguf_value_type)g->kv[i].elem_type;
    out->count = g->kv[i].count;
    out->kv_index = i;
    return CLCDD_OK;
}

#define GETTER_BY_KEY(fn, T, body)                                                                \
    clcdd_status fn(const clcdd_gguf *g, const char *key, T *out) {                               \
        size_t i;                                                                                 \
        clcdd_status s = clcdd_gguf_find_key(g, key, &i);                                         \
        if (s) return s;                                                                          \
        body                                                                                      \
    }

GETTER_BY_KEY(clcdd_gguf_get_u32, uint32_t, {
    num n;
    uint64_t v = 0;
    if ((s = kv_num(g, i, &n)) || (s = num_to_u64(g, key, &n, UINT32_MAX, &v))) return s;
    *out = (uint32_t)v;
    return CLCDD_OK;
})
GETTER_BY_KEY(clcdd_gguf_get_i32, int32_t, {
    num n;
    int64_t v = 0;
    if ((s = kv_num(g, i, &n)) || (s = num_to_i64(g, key, &n, INT32_MIN, INT32_MAX, &v))) return s;
    *out = (int32_t)v;
    return CLCDD_OK;
})
GETTER_BY_KEY(clcdd_gguf_get_u64, uint64_t, { return clcdd_gguf_kv_u64(g, i, out); })
GETTER_BY_KEY(clcdd_gguf_get_i64, int64_t, { return clcdd_gguf_kv_i64(g, i, out); })
GETTER_BY_KEY(clcdd_gguf_get_f64, double, { return clcdd_gguf_kv_f64(g, i, out); })
GETTER_BY_KEY(clcdd_gguf_get_f32, float, {
    double v;
    if ((s = clcdd_gguf_kv_f64(g, i, &v))) return s;
    *out = (float)v;
    return CLCDD_OK;
})
GETTER_BY_KEY(clcdd_gguf_get_bool, int, {
    if (g->kv[i].type != CLCDD_GGUF_BOOL)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: key %s is a %s, expected a bool", g->path, key,
                          clcdd_gguf_value_type_name(g->kv[i].type));
    *out = g->map.data[g->kv[i].off] != 0;
    return CLCDD_OK;
})
GETTER_BY_KEY(clcdd_gguf_get_string, clcdd_gguf_str, { return clcdd_gguf_kv_string(g, i, out); })
GETTER_BY_KEY(clcdd_gguf_get_array, clcdd_gguf_array, { return clcdd_gguf_kv_array(g, i, out); })

/* ---- Array elements ---- */

static clcdd_status array_check(const clcdd_gguf *g, const clcdd_gguf_array *a, uint64_t i) {
    if (!g || !a || a->kv_index >= g->n_kv || g->kv[a->kv_index].type != CLCDD_GGUF_ARRAY)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "gguf: invalid array handle");
    if (i >= g->kv[a->kv_index].count)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: key %s: index %llu out of range (%llu)",
                          g->path, g->kv[a->kv_index].key, (unsigned long long)i,
                          (unsigned long long)g->kv[a->kv_index].count);
    return CLCDD_OK;
}

static clcdd_status array_num(const clcdd_gguf *g, const clcdd_gguf_array *a, uint64_t i, num *n) {
    clcdd_status s = array_check(g, a, i);
    if (s) return s;
    const gguf_kv *kv = &g->kv[a->kv_index];
    if (kv->elem_type == CLCDD_GGUF_STRING ||
        !decode_num(g, kv->elem_type, kv->data_off + i * value_sizes[kv->elem_type], n))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: key %s is an array of %s, expected numbers",
                          g->path, kv->key, clcdd_gguf_value_type_name(kv->elem_type));
    return CLCDD_OK;
}

clcdd_status clcdd_gguf_array_i64(const clcdd_gguf *g, const clcdd_gguf_array *a, uint64_t i,
                                  int64_t *out) {
    num n;
    clcdd_status s = array_num(g, a, i, &n);
    return s ? s : num_to_i64(g, g->kv[a->kv_index].key, &n, INT64_MIN, INT64_MAX, out);
}
clcdd_status clcdd_gguf_array_u64(const clcdd_gguf *g, const clcdd_gguf_array *a, uint64_t i,
                                  uint64_t *out) {
    num n;
    clcdd_status s = array_num(g, a, i, &n);
    return s ? s : num_to_u64(g, g->kv[a->kv_index].key, &n, UINT64_MAX, out);
}
clcdd_status clcdd_gguf_array_f64(const clcdd_gguf *g, const clcdd_gguf_array *a, uint64_t i,
                                  double *out) {
    num n;
    clcdd_status s = array_num(g, a, i, &n);
    if (s) return s;
    *out = n.f;
    return CLCDD_OK;
}
clcdd_status clcdd_gguf_array_f32(const clcdd_gguf *g, const clcdd_gguf_array *a, uint64_t i,
                                  float *out) {
    double d;
    clcdd_status s = clcdd_gguf_array_f64(g, a, i, &d);
    if (s) return s;
    *out = (float)d;
    return CLCDD_OK;
}
clcdd_status clcdd_gguf_array_string(const clcdd_gguf *g, const clcdd_gguf_array *a, uint64_t i,
                                     clcdd_gguf_str *out) {
    clcdd_status s = array_check(g, a, i);
    if (s) return s;
    const gguf_kv *kv = &g->kv[a->kv_index];
    if (kv->elem_type != CLCDD_GGUF_STRING)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: key %s is an array of %s, expected strings",
                          g->path, kv->key, clcdd_gguf_value_type_name(kv->elem_type));
    out->len = clcdd_rd_u64(g->map.data + kv->str_offs[i]);
    out->data = (const char *)g->map.data + kv->str_offs[i] + 8;
    return CLCDD_OK;
}
const void *clcdd_gguf_array_data(const clcdd_gguf *g, const clcdd_gguf_array *a) {
    if (!g || !a || a->kv_index >= g->n_kv) return NULL;
    const gguf_kv *kv = &g->kv[a->kv_index];
    if (kv->type != CLCDD_GGUF_ARRAY || kv->elem_type == CLCDD_GGUF_STRING || kv->count == 0)
        return NULL;
    return g->map.data + kv->data_off;
}

/* ---- Tensors ---- */

size_t clcdd_gguf_tensor_count(const clcdd_gguf *g) { return g ? g->n_ti : 0; }

static void fill_tensor(const clcdd_gguf *g, size_t i, clcdd_gguf_tensor *out) {
    const gguf_ti *t = &g->ti[i];
    out->name = t->name;
    out->type = t->type;
    out->n_dims = t->n_dims;
    memcpy(out->dims, t->dims, sizeof out->dims);
    out->n_elements = t->n_elements;
    out->offset = t->offset;
    out->n_bytes = t->n_bytes;
    out->data = t->n_bytes ? g->map.data + g->data_start + t->offset : NULL;
}

clcdd_status clcdd_gguf_get_tensor(const clcdd_gguf *g, size_t index, clcdd_gguf_tensor *out) {
    if (!g || !out || index >= g->n_ti)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "gguf_get_tensor: index %zu out of range",
                          index);
    fill_tensor(g, index, out);
    return CLCDD_OK;
}

clcdd_status clcdd_gguf_find_tensor(const clcdd_gguf *g, const char *name, clcdd_gguf_tensor *out) {
    if (!g || !name || !out)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "gguf_find_tensor: NULL argument");
    name_idx k = {name, 0};
    const name_idx *hit = bsearch(&k, g->ti_sorted, g->n_ti, sizeof k, cmp_name_idx);
    if (!hit) return clcdd_fail(CLCDD_ERR_NOT_FOUND, "%s: no tensor named '%s'", g->path, name);
    fill_tensor(g, hit->idx, out);
    return CLCDD_OK;
}

clcdd_status clcdd_gguf_tensor_to_f32(const clcdd_gguf_tensor *t, float *dst, size_t capacity) {
    if (!t) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "gguf_tensor_to_f32: NULL tensor");
    if (t->n_elements > capacity)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "tensor '%s': %llu elements do not fit the %zu-float buffer", t->name,
                          (unsigned long long)t->n_elements, capacity);
    clcdd_status s =
        clcdd_ggml_dequantize(t->type, t->data, (size_t)t->n_bytes, dst, (size_t)t->n_elements);
    if (s) return clcdd_fail_context(s, "tensor '%s'", t->name);
    return CLCDD_OK;
}

/* ---- a metadata-only copy ------------------------------------------------------------------- */

static int keep_key(const char *key, const char *const *prefixes, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strncmp(key, prefixes[i], strlen(prefixes[i]))) return 1;
    return 0;
}

static unsigned char *put_le(unsigned char *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

clcdd_status clcdd_gguf_write_metadata(const clcdd_gguf *g, const char *const *prefixes, size_t n_prefixes,
                                       const char *path, size_t *n_written) {
    if (n_written) *n_written = 0;
    if (!g || !path || (n_prefixes && !prefixes))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_gguf_write_metadata: NULL argument");
    /* header 24 bytes; per pair: key length 8 + key + type 4 + the value's bytes as stored */
    uint64_t size = 24, n = 0;
    for (size_t i = 0; i < g->n_kv; i++) {
        const gguf_kv *kv = &g->kv[i];
        if (!keep_key(kv->key, prefixes, n_prefixes)) continue;
        size += 8 + strlen(kv->key) + 4 + (kv->end - kv->off);
        n++;
    }
    uint64_t padded = size + (GGUF_DEFAULT_ALIGNMENT - size % GGUF_DEFAULT_ALIGNMENT) % GGUF_DEFAULT_ALIGNMENT;
    if (padded > SIZE_MAX)
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: %llu bytes of metadata", path, (unsigned long long)padded);
    unsigned char *buf = calloc(1, (size_t)padded), *p = buf;
    if (!buf) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: %llu bytes of metadata", path, (unsigned long long)padded);
    memcpy(p, "GGUF", 4);
    p = put_le(p + 4, 3, 4);  /* version 3 */
    p = put_le(p, 0, 8);      /* no tensors */
    p = put_le(p, n, 8);
    for (size_t i = 0; i < g->n_kv; i++) {
        const gguf_kv *kv = &g->kv[i];
        if (!keep_key(kv->key, prefixes, n_prefixes)) continue;
        size_t kl = strlen(kv->key);
        p = put_le(p, kl, 8);
        memcpy(p, kv->key, kl);
        p = put_le(p + kl, kv->type, 4);
        memcpy(p, g->map.data + kv->off, (size_t)(kv->end - kv->off)); /* little-endian as read */
        p += kv->end - kv->off;
    }
    /* no general.alignment is copied unless asked for: the default alignment pads the end */
    clcdd_status st = clcdd_write_file_atomic(path, buf, (size_t)padded);
    free(buf);
    if (st == CLCDD_OK && n_written) *n_written = (size_t)n;
    return st;
}
