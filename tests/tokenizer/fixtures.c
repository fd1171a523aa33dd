#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fixtures.h"

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)sz + 1);
    if (p && fread(p, 1, (size_t)sz, f) != (size_t)sz) { free(p); p = NULL; }
    fclose(f);
    if (p) { p[sz] = 0; *n = (size_t)sz; }
    return p;
}

typedef struct rd { const unsigned char *p, *end; int bad; } rd;

static uint64_t rd_varint(rd *r) {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) { r->bad = 1; return 0; }
        unsigned b = *r->p++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) return v;
    }
    r->bad = 1;
    return 0;
}

static uint32_t rd_u32(rd *r) {
    if (r->end - r->p < 4) { r->bad = 1; return 0; }
    uint32_t v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
    r->p += 4;
    return v;
}

static int32_t *rd_ids(rd *r, size_t n) {
    int32_t *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n && v; i++) v[i] = (int32_t)rd_varint(r);
    return v;
}

static tk_fx_str rd_bytes(rd *r, size_t n) {
    tk_fx_str s = {(const char *)r->p, n};
    if ((size_t)(r->end - r->p) < n) { r->bad = 1; s.n = 0; return s; }
    r->p += n;
    return s;
}

const char *tk_fx_load(const char *dir, const char *name, tk_fx *fx) {
    static char msg[1100];
    char path[1024];
    size_t len;
    memset(fx, 0, sizeof *fx);
    snprintf(path, sizeof path, "%s/corpus.bin", dir);
    if (!(fx->corpus_data = slurp(path, &len))) { snprintf(msg, sizeof msg, "cannot read %s", path); return msg; }
    rd r = {(unsigned char *)fx->corpus_data, (unsigned char *)fx->corpus_data + len, 0};
    if (len < 16 || memcmp(r.p, "CLTKCORP", 8) != 0) return "corpus.bin: bad magic (regenerate with make_tokenizer_fixtures.py)";
    r.p += 8;
    if (rd_u32(&r) != 1) return "corpus.bin: unknown version (regenerate with make_tokenizer_fixtures.py)";
    fx->n = rd_u32(&r);
    fx->strs = calloc(fx->n, sizeof *fx->strs);
    for (size_t i = 0; i < fx->n; i++) fx->strs[i] = rd_bytes(&r, rd_u32(&r));
    if (r.bad) return "corpus.bin: truncated";
    snprintf(path, sizeof path, "%s/%s.expect.bin", dir, name);
    if (!(fx->expect_data = slurp(path, &len))) { snprintf(msg, sizeof msg, "cannot read %s", path); return msg; }
    r = (rd){(unsigned char *)fx->expect_data, (unsigned char *)fx->expect_data + len, 0};
    if (len < 16 || memcmp(r.p, "CLTKEXPT", 8) != 0) return "expect.bin: bad magic (regenerate with make_tokenizer_fixtures.py)";
    r.p += 8;
    if (rd_u32(&r) != 1) return "expect.bin: unknown version (regenerate)";
    if (rd_u32(&r) != fx->n) return "expect.bin: count differs from corpus.bin (regenerate both)";
    fx->exp = calloc(fx->n, sizeof *fx->exp);
    for (size_t i = 0; i < fx->n && !r.bad; i++) {
        tk_fx_expect *e = &fx->exp[i];
        e->n_ids = rd_varint(&r);
        e->ids = rd_ids(&r, e->n_ids);
        uint64_t m = rd_varint(&r);
        if (m) { e->has_nospecial = 1; e->n_nospecial = m - 1; e->ids_nospecial = rd_ids(&r, m - 1); }
        uint64_t k = rd_varint(&r);
        if (k == 0) { e->decoded_is_input = 1; e->decoded = fx->strs[i]; }
        else e->decoded = rd_bytes(&r, k - 1);
        k = rd_varint(&r);
        if (k) { e->has_decoded_special = 1; e->decoded_special = rd_bytes(&r, k - 1); }
    }
    if (r.bad) return "expect.bin: truncated";
    return NULL;
}

void tk_fx_free(tk_fx *fx) {
    if (fx->exp)
        for (size_t i = 0; i < fx->n; i++) { free(fx->exp[i].ids); free(fx->exp[i].ids_nospecial); }
    free(fx->exp);
    free(fx->strs);
    free(fx->corpus_data);
    free(fx->expect_data);
    memset(fx, 0, sizeof *fx);
}
