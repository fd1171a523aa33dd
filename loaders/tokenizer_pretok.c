/* Pre-tokenizers: Split (regex or literal, five behaviours), ByteLevel, Digits, Metaspace.
 * Each step turns a list of pieces into a new list, copying text into a fresh buffer. */
#include <stdlib.h>
#include <string.h>
#include "clcdd_internal.h"
#include "tokenizer_internal.h"

typedef struct span {
    size_t a, b;
    int match;
} span;

typedef struct spans {
    span *v;
    size_t n, cap;
} spans;

static int spans_push(spans *s, size_t a, size_t b, int match) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        span *v = realloc(s->v, cap * sizeof *v);
        if (!v) return 0;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (span){a, b, match};
    return 1;
}

static int pieces_push(tk_pieces *p, size_t off, size_t len, int at_start) {
    if (len == 0) return 1; /* the reference drops empty splits */
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 32;
        tk_piece *v = realloc(p->v, cap * sizeof *v);
        if (!v) return 0;
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = (tk_piece){off, len, at_start};
    return 1;
}

/* Find the pattern's matches in s as a cover of (gap, match) spans. */
static clcdd_status find_matches(const tk_pre *pre, tk_ctx *c, const char *s, size_t n, spans *out) {
    size_t prev = 0;
    out->n = 0;
    if (pre->kind == TK_PRE_DIGITS) {
        size_t i = 0;
        while (i < n) {
            uint32_t cp = 0;
            size_t l = tk_utf8_next(s + i, n - i, &cp);
            if (!l) l = 1;
            if (tk_is_numeric(cp)) {
                if (prev < i && !spans_push(out, prev, i, 0)) goto oom;
                if (!spans_push(out, i, i + l, 1)) goto oom;
                prev = i + l;
            }
            i += l;
        }
    } else if (pre->kind == TK_PRE_METASPACE || pre->literal) {
        const char *pat = pre->kind == TK_PRE_METASPACE ? pre->repl : pre->literal;
        size_t pn = pre->kind == TK_PRE_METASPACE ? pre->repl_len : pre->literal_len;
        size_t i = 0;
        while (pn && i + pn <= n) {
            if (memcmp(s + i, pat, pn) == 0) {
                if (prev < i && !spans_push(out, prev, i, 0)) goto oom;
                if (!spans_push(out, i, i + pn, 1)) goto oom;
                i += pn;
                prev = i;
            } else {
                i++;
            }
        }
    } else {
        if (!c->md) {
            c->md = pcre2_match_data_create(4, NULL);
            if (!c->md) goto oom;
        }
        size_t at = 0;
        while (at < n) {
            int rc = pcre2_match(pre->re, (PCRE2_SPTR)s, n, at, PCRE2_NO_UTF_CHECK, c->md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) return clcdd_fail(CLCDD_ERR_INTERNAL, "tokenizer: regex match failed (%d)", rc);
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
            size_t a = ov[0], b = ov[1];
            if (b == a) { /* empty match: step one character */
                uint32_t cp;
                size_t l = tk_utf8_next(s + at, n - at, &cp);
                at += l ? l : 1;
                continue;
            }
            if (prev < a && !spans_push(out, prev, a, 0)) goto oom;
            if (!spans_push(out, a, b, 1)) goto oom;
            prev = at = b;
        }
    }
    if (prev < n && !spans_push(out, prev, n, 0)) goto oom;
    if (pre->invert)
        for (size_t i = 0; i < out->n; i++) out->v[i].match = !out->v[i].match;
    return CLCDD_OK;
oom:
    return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
}

/* Apply a split behaviour to the cover, in place; result spans are the pieces. */
static void apply_behavior(tk_split_behavior b, spans *s) {
    size_t m = 0;
    int prev_match = 0;
    switch (b) {
    case TK_SPLIT_ISOLATED:
        return;
    case TK_SPLIT_REMOVED:
        for (size_t i = 0; i < s->n; i++)
            if (!s->v[i].match) s->v[m++] = s->v[i];
        break;
    case TK_SPLIT_MERGED_PREV:
        for (size_t i = 0; i < s->n; i++) {
            span x = s->v[i];
            if (x.match && !prev_match && m > 0) s->v[m - 1].b = x.b;
            else s->v[m++] = x;
            prev_match = x.match;
        }
        break;
    case TK_SPLIT_MERGED_NEXT: {
        /* walk backwards, then reverse */
        size_t n = s->n;
        span *tmp = s->v;
        size_t w = n; /* write from the end */
        for (size_t k = n; k-- > 0;) {
            span x = tmp[k];
            if (x.match && !prev_match && w < n) tmp[w].a = x.a;
            else tmp[--w] = x;
            prev_match = x.match;
        }
        memmove(tmp, tmp + w, (n - w) * sizeof *tmp);
        m = n - w;
        break;
    }
    case TK_SPLIT_CONTIGUOUS:
        for (size_t i = 0; i < s->n; i++) {
            span x = s->v[i];
            if (x.match == prev_match && m > 0) s->v[m - 1].b = x.b;
            else s->v[m++] = x;
            prev_match = x.match;
        }
        break;
    }
    s->n = m;
}

static int put_bytelevel(tk_buf *out, const char *s, size_t n) {
    if (!tk_buf_reserve(out, n * 2 + 1)) return 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = tk_byte_to_cp[(unsigned char)s[i]];
        if (cp < 0x80) out->p[out->n++] = (char)cp;
        else {
            out->p[out->n++] = (char)(0xC0 | (cp >> 6));
            out->p[out->n++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    out->p[out->n] = 0;
    return 1;
}

static clcdd_status run_step(const clcdd_tokenizer *tok, const tk_pre *pre, const tk_pre *gpt2, tk_ctx *c,
                             const tk_buf *in, const tk_pieces *pin, tk_buf *out, tk_pieces *pout, spans *sp) {
    out->n = 0;
    pout->n = 0;
    tk_buf tmp = {0};
    clcdd_status st = CLCDD_OK;
    for (size_t k = 0; k < pin->n; k++) {
        const char *s = in->p + pin->v[k].off;
        size_t n = pin->v[k].len;
        int at_start = pin->v[k].at_start;
        if (pre->kind == TK_PRE_BYTELEVEL) {
            tmp.n = 0;
            if (pre->add_prefix_space && s[0] != ' ' && !tk_buf_put(&tmp, " ", 1)) goto oom;
            if (!tk_buf_put(&tmp, s, n)) goto oom;
            if (pre->use_regex) {
                if ((st = find_matches(gpt2, c, tmp.p, tmp.n, sp)) != CLCDD_OK) goto done;
            } else {
                sp->n = 0;
                if (!spans_push(sp, 0, tmp.n, 1)) goto oom;
            }
            for (size_t i = 0; i < sp->n; i++) {
                size_t off = out->n;
                if (!put_bytelevel(out, tmp.p + sp->v[i].a, sp->v[i].b - sp->v[i].a)) goto oom;
                if (!pieces_push(pout, off, out->n - off, at_start && sp->v[i].a == 0)) goto oom;
            }
            continue;
        }
        if (pre->kind == TK_PRE_METASPACE) {
            tmp.n = 0;
            int has_prefix = n >= pre->repl_len && memcmp(s, pre->repl, pre->repl_len) == 0;
            if (!has_prefix && s[0] == ' ') has_prefix = 1; /* ' ' becomes the replacement below */
            if (!has_prefix && (pre->prepend == TK_PREPEND_ALWAYS || (pre->prepend == TK_PREPEND_FIRST && at_start)))
                if (!tk_buf_put(&tmp, pre->repl, pre->repl_len)) goto oom;
            for (size_t i = 0; i < n; i++) {
                if (s[i] == ' ') {
                    if (!tk_buf_put(&tmp, pre->repl, pre->repl_len)) goto oom;
                } else if (!tk_buf_put(&tmp, s + i, 1)) {
                    goto oom;
                }
            }
            if (pre->split) {
                if ((st = find_matches(pre, c, tmp.p, tmp.n, sp)) != CLCDD_OK) goto done;
                apply_behavior(TK_SPLIT_MERGED_NEXT, sp);
            } else {
                sp->n = 0;
                if (!spans_push(sp, 0, tmp.n, 1)) goto oom;
            }
            for (size_t i = 0; i < sp->n; i++) {
                size_t off = out->n;
                if (!tk_buf_put(out, tmp.p + sp->v[i].a, sp->v[i].b - sp->v[i].a)) goto oom;
                if (!pieces_push(pout, off, out->n - off, at_start && sp->v[i].a == 0)) goto oom;
            }
            continue;
        }
        /* SPLIT and DIGITS */
        if ((st = find_matches(pre, c, s, n, sp)) != CLCDD_OK) goto done;
        apply_behavior(pre->kind == TK_PRE_DIGITS
                           ? (pre->individual_digits ? TK_SPLIT_ISOLATED : TK_SPLIT_CONTIGUOUS)
                           : pre->behavior,
                       sp);
        for (size_t i = 0; i < sp->n; i++) {
            size_t off = out->n;
            if (!tk_buf_put(out, s + sp->v[i].a, sp->v[i].b - sp->v[i].a)) goto oom;
            if (!pieces_push(pout, off, out->n - off, at_start && sp->v[i].a == 0)) goto oom;
        }
    }
    goto done;
oom:
    st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
done:
    tk_buf_free(&tmp);
    return st;
}

clcdd_status tk_pretokenize(const clcdd_tokenizer *tok, tk_ctx *c, const char *text, size_t n, int at_start,
                            tk_buf **outbuf, tk_pieces **outpieces) {
    tk_buf *in = &c->pa, *out = &c->pb;
    tk_pieces *pin = &c->la, *pout = &c->lb;
    in->n = 0;
    pin->n = 0;
    if (!tk_buf_put(in, text, n) || !pieces_push(pin, 0, n, at_start))
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    spans sp = {0};
    clcdd_status st = CLCDD_OK;
    for (size_t k = 0; k < tok->n_pres; k++) {
        st = run_step(tok, &tok->pres[k], &tok->gpt2_pre, c, in, pin, out, pout, &sp);
        if (st != CLCDD_OK) break;
        tk_buf *tb = in; in = out; out = tb;
        tk_pieces *tp = pin; pin = pout; pout = tp;
    }
    free(sp.v);
    *outbuf = in;
    *outpieces = pin;
    return st;
}
