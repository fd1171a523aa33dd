/* Decoding: the decoder chain of tokenizer.json (ByteLevel, Replace, ByteFallback, Fuse, Strip,
 * Metaspace) over token strings, then lossy UTF-8 as the reference's from_utf8_lossy. */
#include <stdlib.h>
#include <string.h>
#include "clcdd_internal.h"
#include "tokenizer_internal.h"

typedef struct strs {
    tk_buf *v;
    size_t n, cap;
} strs;

static tk_buf *strs_add(strs *s) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        tk_buf *v = realloc(s->v, cap * sizeof *v);
        if (!v) return NULL;
        s->v = v;
        s->cap = cap;
    }
    tk_buf *b = &s->v[s->n++];
    memset(b, 0, sizeof *b);
    return b;
}

static void strs_free(strs *s) {
    for (size_t i = 0; i < s->n; i++) tk_buf_free(&s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* "<0xXX>" -> byte, else -1 */
int tk_parse_byte_token(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* ByteLevel: map each token's chars back to bytes (a token with a char outside the alphabet
 * keeps its raw bytes); all tokens become one. */
static int dec_bytelevel(strs *in, strs *out, int stream) {
    tk_buf *o = strs_add(out);
    if (!o || !tk_buf_reserve(o, 1)) return 0;
    for (size_t k = 0; k < in->n; k++) {
        const char *s = in->v[k].p;
        size_t n = in->v[k].n, i = 0, start = o->n;
        int ok = 1;
        while (i < n) {
            uint32_t cp;
            size_t l = tk_utf8_next(s + i, n - i, &cp);
            int b = l ? tk_cp_to_byte(cp) : -1;
            if (b < 0) { ok = 0; break; }
            char c = (char)b;
            if (!tk_buf_put(o, &c, 1)) return 0;
            i += l;
        }
        if (!ok) {
            o->n = start;
            if (!tk_buf_put(o, s, n)) return 0;
        }
    }
    if (stream) return 1; /* the stream decoder handles incomplete and invalid sequences */
    tk_buf fixed = {0};
    if (!tk_utf8_lossy(&fixed, o->p, o->n)) return 0;
    tk_buf_free(o);
    *o = fixed;
    return 1;
}

static int dec_bytefallback(strs *in, strs *out, int stream) {
    tk_buf bytes = {0};
    int ok = 1;
    for (size_t k = 0; k <= in->n && ok; k++) {
        int b = k < in->n ? tk_parse_byte_token(in->v[k].p, in->v[k].n) : -1;
        if (b >= 0 && stream) {
            char c = (char)b;
            tk_buf *o = strs_add(out);
            ok = o && tk_buf_put(o, &c, 1);
            continue;
        }
        if (b >= 0) {
            char c = (char)b;
            ok = tk_buf_put(&bytes, &c, 1);
            continue;
        }
        if (bytes.n) {
            tk_buf chk = {0};
            ok = tk_utf8_lossy(&chk, bytes.p, bytes.n);
            int valid = ok && chk.n == bytes.n && memcmp(chk.p, bytes.p, bytes.n) == 0;
            tk_buf_free(&chk);
            if (valid) {
                tk_buf *o = strs_add(out);
                ok = o && tk_buf_put(o, bytes.p, bytes.n);
            } else {
                for (size_t j = 0; j < bytes.n && ok; j++) {
                    tk_buf *o = strs_add(out);
                    ok = o && tk_buf_put(o, "\xEF\xBF\xBD", 3);
                }
            }
            bytes.n = 0;
        }
        if (k < in->n && ok) {
            tk_buf *o = strs_add(out);
            ok = o && tk_buf_put(o, in->v[k].p ? in->v[k].p : "", in->v[k].n);
        }
    }
    tk_buf_free(&bytes);
    return ok;
}

static int replace_into(tk_buf *o, const char *s, size_t n, const char *pat, size_t pn, const char *rep, size_t rn) {
    size_t i = 0, last = 0;
    if (!tk_buf_reserve(o, n + 1)) return 0;
    while (pn && i + pn <= n) {
        if (memcmp(s + i, pat, pn) == 0) {
            if (!tk_buf_put(o, s + last, i - last) || !tk_buf_put(o, rep, rn)) return 0;
            i += pn;
            last = i;
        } else {
            i++;
        }
    }
    return tk_buf_put(o, s + last, n - last);
}

/* mode: 0 whole sequence; 1 first token of a stream; 2 later token of a stream */
static int dec_step(const tk_dec *d, strs *in, strs *out, int mode) {
    switch (d->kind) {
    case TK_DEC_BYTELEVEL:
        return dec_bytelevel(in, out, mode != 0);
    case TK_DEC_BYTEFALLBACK:
        return dec_bytefallback(in, out, mode != 0);
    case TK_DEC_FUSE: {
        tk_buf *o = strs_add(out);
        if (!o || !tk_buf_reserve(o, 1)) return 0;
        for (size_t k = 0; k < in->n; k++)
            if (!tk_buf_put(o, in->v[k].p, in->v[k].n)) return 0;
        return 1;
    }
    case TK_DEC_REPLACE:
        for (size_t k = 0; k < in->n; k++) {
            tk_buf *o = strs_add(out);
            if (!o || !replace_into(o, in->v[k].p, in->v[k].n, d->a, d->a_len, d->b, d->b_len)) return 0;
        }
        return 1;
    case TK_DEC_STRIP:
        if (mode == 2) goto copy;
        for (size_t k = 0; k < in->n; k++) {
            const char *s = in->v[k].p;
            size_t n = in->v[k].n, a = 0, b = n;
            for (int j = 0; j < d->start && a + d->a_len <= b && memcmp(s + a, d->a, d->a_len) == 0; j++) a += d->a_len;
            for (int j = 0; j < d->stop && b >= a + d->a_len && memcmp(s + b - d->a_len, d->a, d->a_len) == 0; j++)
                b -= d->a_len;
            tk_buf *o = strs_add(out);
            if (!o || !tk_buf_put(o, s + a, b - a)) return 0;
        }
        return 1;
    case TK_DEC_METASPACE:
        for (size_t k = 0; k < in->n; k++) {
            tk_buf *o = strs_add(out);
            if (!o || !replace_into(o, in->v[k].p, in->v[k].n, d->a, d->a_len, " ", 1)) return 0;
            if (k == 0 && mode != 2 && d->prepend != TK_PREPEND_NEVER && o->n && o->p[0] == ' ') {
                memmove(o->p, o->p + 1, o->n);
                o->n--;
            }
        }
        return 1;
    }
    return 0;
copy:
    for (size_t k = 0; k < in->n; k++) {
        tk_buf *o = strs_add(out);
        if (!o || !tk_buf_put(o, in->v[k].p ? in->v[k].p : "", in->v[k].n)) return 0;
    }
    return 1;
}

/* Run the decoder chain on one token as part of a stream; append its raw bytes to out. */
int tk_decode_token_bytes(const clcdd_tokenizer *tok, int32_t id, int first, tk_buf *out) {
    strs a = {0}, b = {0};
    int ok = 1;
    tk_buf *o = strs_add(&a);
    if (!o || !tk_buf_put(o, tok->vocab.str[id], tok->vocab.len[id])) ok = 0;
    for (size_t k = 0; ok && tok->has_decoder && k < tok->n_decs; k++) {
        ok = dec_step(&tok->decs[k], &a, &b, first ? 1 : 2);
        strs t = a; a = b; b = t;
        strs_free(&b);
    }
    for (size_t k = 0; ok && k < a.n; k++) ok = tk_buf_put(out, a.v[k].p ? a.v[k].p : "", a.v[k].n);
    strs_free(&a);
    strs_free(&b);
    return ok;
}

clcdd_status clcdd_tokenizer_decode(const clcdd_tokenizer *tok, const int32_t *ids, size_t n, unsigned flags,
                                    char **text, size_t *len) {
    if (!tok || !text || (!ids && n)) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "tokenizer_decode: NULL argument");
    strs a = {0}, b = {0};
    tk_buf res = {0};
    clcdd_status st = CLCDD_OK;
    for (size_t k = 0; k < n; k++) {
        int32_t id = ids[k];
        if (id < 0 || (size_t)id >= tok->vocab.n || !tok->vocab.str[id]) {
            st = clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "tokenizer_decode: id %d at position %zu is not in the vocabulary (size %zu)",
                            (int)id, k, tok->vocab.n);
            goto done;
        }
        if ((flags & CLCDD_DECODE_SKIP_SPECIAL) && tok->is_special[id]) continue;
        tk_buf *o = strs_add(&a);
        if (!o || !tk_buf_put(o, tok->vocab.str[id], tok->vocab.len[id])) goto oom;
    }
    if (tok->has_decoder) {
        for (size_t k = 0; k < tok->n_decs; k++) {
            if (!dec_step(&tok->decs[k], &a, &b, 0)) goto oom;
            strs t = a; a = b; b = t;
            strs_free(&b);
        }
        for (size_t k = 0; k < a.n; k++)
            if (!tk_buf_put(&res, a.v[k].p, a.v[k].n)) goto oom;
    } else {
        for (size_t k = 0; k < a.n; k++)
            if ((k && !tk_buf_put(&res, " ", 1)) || !tk_buf_put(&res, a.v[k].p, a.v[k].n)) goto oom;
    }
    {
        tk_buf fixed = {0};
        if (!tk_utf8_lossy(&fixed, res.p ? res.p : "", res.n)) goto oom;
        *text = fixed.p;
        if (len) *len = fixed.n;
    }
    goto done;
oom:
    st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
done:
    strs_free(&a);
    strs_free(&b);
    tk_buf_free(&res);
    return st;
}

void clcdd_tokenizer_free_text(char *text) { free(text); }
