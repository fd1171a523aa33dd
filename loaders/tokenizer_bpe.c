/* The BPE merge loop on one pre-token, as HF tokenizers' Word::merge_all: a heap of candidate
 * merges ordered by (priority, position); stale entries are skipped when popped. Priority is the
 * merge rank (tokenizer.json, GGUF gpt2) or minus the merged token's score (GGUF llama). */
#include <stdlib.h>
#include <string.h>
#include "clcdd_internal.h"
#include "tokenizer_internal.h"

struct tk_sym {
    int32_t id;
    int32_t prev, next;
    uint32_t start, len; /* byte span in the word (TK_MODE_SCORES looks up the concatenation) */
    int merged_away;
};

struct tk_heap_item {
    float pri;
    uint32_t rank;
    uint32_t pos;
    int32_t new_id;
};

static int item_less(const struct tk_heap_item *a, const struct tk_heap_item *b) {
    if (a->pri != b->pri) return a->pri < b->pri;
    if (a->rank != b->rank) return a->rank < b->rank;
    return a->pos < b->pos;
}

static void heap_push(struct tk_heap_item *h, size_t *n, struct tk_heap_item x) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!item_less(&x, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static struct tk_heap_item heap_pop(struct tk_heap_item *h, size_t *n) {
    struct tk_heap_item top = h[0], x = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct tk_heap_item *best = &x;
        if (l < *n && item_less(&h[l], best)) { m = l; best = &h[l]; }
        if (r < *n && item_less(&h[r], best)) { m = r; }
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    if (*n) h[i] = x;
    return top;
}

int tk_tokens_push(clcdd_tokens *t, int32_t id) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        int32_t *v = realloc(t->ids, cap * sizeof *v);
        if (!v) return 0;
        t->ids = v;
        t->cap = cap;
    }
    t->ids[t->n++] = id;
    return 1;
}

static int32_t model_find(const clcdd_tokenizer *tok, const char *s, size_t n) {
    int32_t id = tk_vocab_find(&tok->vocab, s, n);
    return id >= 0 && tok->in_model[id] ? id : -1;
}

/* Can symbols a and b (adjacent) merge? Sets priority and merged id. */
static int pair_merge(const clcdd_tokenizer *tok, const char *w, const struct tk_sym *a, const struct tk_sym *b,
                      struct tk_heap_item *it) {
    if (tok->mode == TK_MODE_RANKS) {
        uint32_t rank;
        int32_t merged;
        if (!tk_merges_find(&tok->merges, a->id, b->id, &rank, &merged)) return 0;
        it->pri = 0;
        it->rank = rank;
        it->new_id = merged;
        return 1;
    }
    if (a->len == 0 || b->len == 0) return 0;   /* byte-fallback symbols never merge */
    int32_t id = model_find(tok, w + a->start, (size_t)a->len + b->len);
    if (id < 0) return 0;
    it->pri = -tok->scores[id];
    it->rank = 0; /* ties: leftmost pair, as SentencePiece and llama.cpp */
    it->new_id = id;
    return 1;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return 0;
    *p = q;
    *cap = c;
    return 1;
}

clcdd_status tk_bpe_word(const clcdd_tokenizer *tok, tk_ctx *c, const char *w, size_t n, clcdd_tokens *out) {
    if (n == 0) return CLCDD_OK;
    if (tok->ignore_merges) {
        int32_t id = model_find(tok, w, n);
        if (id >= 0) return tk_tokens_push(out, id) ? CLCDD_OK : clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    }
    /* worst case: every byte becomes a byte-fallback symbol */
    if (!grow((void **)&c->syms, &c->cap_syms, n + 1, sizeof *c->syms) ||
        !grow((void **)&c->heap, &c->cap_heap, 3 * n + 3, sizeof *c->heap))
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    struct tk_sym *sy = c->syms;
    size_t ns = 0;
    int32_t unk_pending = -1; /* index of the last symbol if it is a (fusable) unk */
    tk_buf *wb = &c->word;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = tk_utf8_next(w + i, n - i, &cp);
        if (!l) l = 1;
        int32_t id;
        if (tok->cont_prefix_len || tok->eow_suffix_len) {
            wb->n = 0;
            if ((i > 0 && !tk_buf_put(wb, tok->cont_prefix, tok->cont_prefix_len)) || !tk_buf_put(wb, w + i, l) ||
                (i + l == n && !tk_buf_put(wb, tok->eow_suffix, tok->eow_suffix_len)))
                return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
            id = model_find(tok, wb->p, wb->n);
        } else {
            id = model_find(tok, w + i, l);
        }
        if (id >= 0) {
            sy[ns++] = (struct tk_sym){id, 0, 0, (uint32_t)i, (uint32_t)l, 0};
            unk_pending = -1;
            i += l;
            continue;
        }
        if (tok->byte_fallback) {
            int all = 1;
            for (size_t k = 0; k < l; k++) all &= tok->byte_ids[(unsigned char)w[i + k]] >= 0;
            if (all) {
                for (size_t k = 0; k < l; k++)
                    sy[ns++] = (struct tk_sym){tok->byte_ids[(unsigned char)w[i + k]], 0, 0, (uint32_t)(i + k), 0, 0};
                unk_pending = -1;
                i += l;
                continue;
            }
        }
        if (tok->unk_id >= 0) {
            if (unk_pending >= 0 && tok->fuse_unk) {
                sy[unk_pending].len += (uint32_t)l;
            } else {
                sy[ns] = (struct tk_sym){tok->unk_id, 0, 0, (uint32_t)i, 0, 0};
                unk_pending = (int32_t)ns++;
            }
        }
        i += l;
    }
    for (size_t k = 0; k < ns; k++) {
        sy[k].prev = (int32_t)k - 1;
        sy[k].next = k + 1 < ns ? (int32_t)k + 1 : -1;
        if (sy[k].id == tok->unk_id && tok->mode == TK_MODE_SCORES) sy[k].len = 0;
    }
    size_t nh = 0;
    struct tk_heap_item *h = c->heap;
    for (size_t k = 0; k + 1 < ns; k++) {
        struct tk_heap_item it;
        if (pair_merge(tok, w, &sy[k], &sy[k + 1], &it)) {
            it.pos = (uint32_t)k;
            heap_push(h, &nh, it);
        }
    }
    while (nh) {
        struct tk_heap_item top = heap_pop(h, &nh);
        struct tk_sym *a = &sy[top.pos];
        if (a->merged_away || a->next < 0) continue;
        struct tk_sym *b = &sy[a->next];
        struct tk_heap_item chk;
        if (!pair_merge(tok, w, a, b, &chk) || chk.new_id != top.new_id) continue; /* stale */
        a->id = top.new_id;
        a->len += b->len;
        b->merged_away = 1;
        a->next = b->next;
        if (b->next >= 0) sy[b->next].prev = (int32_t)top.pos;
        if (a->prev >= 0 && pair_merge(tok, w, &sy[a->prev], a, &chk)) {
            chk.pos = (uint32_t)a->prev;
            heap_push(h, &nh, chk);
        }
        if (a->next >= 0 && pair_merge(tok, w, a, &sy[a->next], &chk)) {
            chk.pos = top.pos;
            heap_push(h, &nh, chk);
        }
    }
    for (int32_t k = ns ? 0 : -1; k >= 0; k = sy[k].next)
        if (!tk_tokens_push(out, sy[k].id)) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    return CLCDD_OK;
}

void tk_ctx_free(tk_ctx *c) {
    tk_buf_free(&c->norm);
    tk_buf_free(&c->pa);
    tk_buf_free(&c->pb);
    tk_buf_free(&c->word);
    free(c->la.v);
    free(c->lb.v);
    if (c->md) pcre2_match_data_free(c->md);
    free(c->syms);
    free(c->heap);
    memset(c, 0, sizeof *c);
}
