/* Encoding: added-token splitting (leftmost-longest, lstrip/rstrip/single_word), then
 * normalize -> pre-tokenize -> BPE for the text between added tokens, then BOS/EOS. */
#include <stdlib.h>
#include <string.h>
#include "clcdd_internal.h"
#include "tokenizer_internal.h"

void clcdd_tokens_free(clcdd_tokens *t) {
    if (!t) return;
    free(t->ids);
    memset(t, 0, sizeof *t);
}

static int is_word_char(uint32_t cp) { return tk_is_alnum(cp) || cp == '_'; }

/* Last code point before s[pos] (pos > 0). */
static uint32_t cp_before(const char *s, size_t pos) {
    size_t i = pos - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    uint32_t cp = 0xFFFD;
    tk_utf8_next(s + i, pos - i, &cp);
    return cp;
}

/* One split of a segment: [a, b) is text (id < 0) or an added token. */
typedef struct seg {
    size_t a, b;
    int32_t id;
} seg;

typedef struct segs {
    seg *v;
    size_t n, cap;
} segs;

static int segs_push(segs *s, size_t a, size_t b, int32_t id) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        seg *v = realloc(s->v, cap * sizeof *v);
        if (!v) return 0;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (seg){a, b, id};
    return 1;
}

/* AddedVocabulary::find_matches */
static int find_added(const clcdd_tokenizer *tok, const tk_trie *trie, const char *s, size_t n, int parse_special,
                      segs *out) {
    size_t start_offset = 0, i = 0;
    out->n = 0;
    if (trie->n_nodes) {
        while (i < n) {
            int32_t ai = -1;
            size_t ml = tk_trie_longest(trie, s + i, n - i, &ai);
            if (!ml) { i++; continue; }
            const tk_added *ad = &tok->added[ai];
            size_t start = i, stop = i + ml;
            i = stop;
            if (ad->special && !parse_special) continue;
            if (ad->single_word) {
                uint32_t cp;
                int start_space = start == 0 || !is_word_char(cp_before(s, start));
                int stop_space = stop == n || !(tk_utf8_next(s + stop, n - stop, &cp) && is_word_char(cp));
                if (!start_space || !stop_space) continue;
            }
            if (ad->lstrip) {
                size_t ns = start;
                while (ns > start_offset) {
                    uint32_t cp = cp_before(s, ns);
                    if (!tk_is_white_space(cp)) break;
                    ns -= tk_utf8_encode(cp, (char[4]){0});
                }
                start = ns;
            }
            if (ad->rstrip) {
                uint32_t cp;
                size_t l;
                while (stop < n && (l = tk_utf8_next(s + stop, n - stop, &cp)) && tk_is_white_space(cp)) stop += l;
                i = stop > i ? stop : i;
            }
            if (start_offset < start && !segs_push(out, start_offset, start, -1)) return 0;
            if (!segs_push(out, start, stop, ad->id)) return 0;
            start_offset = stop;
        }
    }
    if (start_offset < n && !segs_push(out, start_offset, n, -1)) return 0;
    return 1;
}

static clcdd_status encode_text(const clcdd_tokenizer *tok, tk_ctx *c, const char *s, size_t n, int at_start,
                                int parse_special, clcdd_tokens *out) {
    clcdd_status st;
    c->norm.n = 0;
    if ((st = tk_normalize(tok, s, n, &c->norm)) != CLCDD_OK) return st;
    const char *t = c->norm.p ? c->norm.p : "";
    size_t tn = c->norm.n;
    segs sg = {0};
    tk_buf keep = {0};
    /* the normalized text must survive pre-tokenization, which reuses the scratch buffers */
    if (!tk_buf_put(&keep, t, tn) || !find_added(tok, &tok->trie_norm, keep.p, tn, parse_special, &sg)) {
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
        goto done;
    }
    for (size_t k = 0; k < sg.n; k++) {
        if (sg.v[k].id >= 0) {
            if (!tk_tokens_push(out, sg.v[k].id)) { st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory"); goto done; }
            continue;
        }
        tk_buf *pb;
        tk_pieces *pp;
        st = tk_pretokenize(tok, c, keep.p + sg.v[k].a, sg.v[k].b - sg.v[k].a, at_start && sg.v[k].a == 0, &pb, &pp);
        if (st != CLCDD_OK) goto done;
        for (size_t j = 0; j < pp->n; j++)
            if ((st = tk_bpe_word(tok, c, pb->p + pp->v[j].off, pp->v[j].len, out)) != CLCDD_OK) goto done;
    }
    st = CLCDD_OK;
done:
    free(sg.v);
    tk_buf_free(&keep);
    return st;
}

static int valid_utf8(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        if ((unsigned char)s[i] < 0x80) { i++; continue; }
        uint32_t cp;
        size_t l = tk_utf8_next(s + i, n - i, &cp);
        if (!l) return 0;
        i += l;
    }
    return 1;
}

clcdd_status clcdd_tokenizer_encode(const clcdd_tokenizer *tok, const char *text, size_t len, unsigned flags,
                                    clcdd_tokens *out) {
    if (!tok || !out || (!text && len)) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "tokenizer_encode: NULL argument");
    tk_buf fixed = {0};
    if (len && !valid_utf8(text, len)) {
        if (!tk_utf8_lossy(&fixed, text, len)) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
        text = fixed.p;
        len = fixed.n;
    }
    if (!text) text = "";
    tk_ctx c = {0};
    segs sg = {0};
    clcdd_status st = CLCDD_OK;
    size_t n0 = out->n;
    int parse_special = (flags & CLCDD_ENCODE_PARSE_SPECIAL) != 0;
    if (flags & CLCDD_ENCODE_ADD_SPECIAL)
        for (size_t k = 0; k < tok->n_prefix; k++)
            if (!tk_tokens_push(out, tok->prefix_ids[k])) goto oom;
    if (!find_added(tok, &tok->trie_raw, text, len, parse_special, &sg)) goto oom;
    for (size_t k = 0; k < sg.n; k++) {
        if (sg.v[k].id >= 0) {
            if (!tk_tokens_push(out, sg.v[k].id)) goto oom;
            continue;
        }
        st = encode_text(tok, &c, text + sg.v[k].a, sg.v[k].b - sg.v[k].a, sg.v[k].a == 0, parse_special, out);
        if (st != CLCDD_OK) goto fail;
    }
    if (flags & CLCDD_ENCODE_ADD_SPECIAL)
        for (size_t k = 0; k < tok->n_suffix; k++)
            if (!tk_tokens_push(out, tok->suffix_ids[k])) goto oom;
    goto done;
oom:
    st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
fail:
    out->n = n0;
done:
    free(sg.v);
    tk_ctx_free(&c);
    tk_buf_free(&fixed);
    return st;
}
