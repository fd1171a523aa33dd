/* Hash tables for the tokenizers: vocabulary (string <-> id), merges ((a, b) -> rank, merged id)
 * and a byte trie over added-token contents for leftmost-longest matching. */
#include <stdlib.h>
#include <string.h>
#include "tokenizer_internal.h"

uint32_t tk_hash(const char *s, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static size_t table_size(size_t n) {
    size_t sz = 16;
    while (sz < n * 2 + 1) sz *= 2;
    return sz;
}

int tk_vocab_init(tk_vocab *v, size_t n) {
    memset(v, 0, sizeof *v);
    v->n = n;
    v->str = calloc(n ? n : 1, sizeof *v->str);
    v->len = calloc(n ? n : 1, sizeof *v->len);
    return v->str && v->len;
}

int tk_vocab_set(tk_vocab *v, int32_t id, const char *s, size_t len) {
    if (id < 0 || (size_t)id >= v->n || v->str[id] || len > UINT32_MAX) return -1;
    char *c = malloc(len + 1);
    if (!c) return 0;
    memcpy(c, s, len);
    c[len] = 0;
    v->str[id] = c;
    v->len[id] = (uint32_t)len;
    return 1;
}

int tk_vocab_build_index(tk_vocab *v) {
    size_t sz = table_size(v->n);
    free(v->slot);
    v->slot = calloc(sz, sizeof *v->slot);
    if (!v->slot) return 0;
    v->mask = sz - 1;
    for (size_t id = 0; id < v->n; id++) {
        if (!v->str[id]) continue;
        size_t i = tk_hash(v->str[id], v->len[id]) & v->mask;
        for (;;) {
            uint32_t s = v->slot[i];
            if (!s) { v->slot[i] = (uint32_t)id + 1; break; }
            /* identical strings: the lower id wins (kept), as a JSON vocab cannot repeat keys */
            if (v->len[s - 1] == v->len[id] && memcmp(v->str[s - 1], v->str[id], v->len[id]) == 0) break;
            i = (i + 1) & v->mask;
        }
    }
    return 1;
}

int32_t tk_vocab_find(const tk_vocab *v, const char *s, size_t len) {
    if (!v->slot) return -1;
    size_t i = tk_hash(s, len) & v->mask;
    for (;;) {
        uint32_t k = v->slot[i];
        if (!k) return -1;
        if (v->len[k - 1] == len && memcmp(v->str[k - 1], s, len) == 0) return (int32_t)(k - 1);
        i = (i + 1) & v->mask;
    }
}

void tk_vocab_free(tk_vocab *v) {
    if (v->str)
        for (size_t i = 0; i < v->n; i++) free(v->str[i]);
    free(v->str);
    free(v->len);
    free(v->slot);
    memset(v, 0, sizeof *v);
}

static size_t pair_hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

int tk_merges_init(tk_merges *m, size_t n) {
    memset(m, 0, sizeof *m);
    size_t sz = table_size(n);
    m->key = calloc(sz, sizeof *m->key);
    m->rank = calloc(sz, sizeof *m->rank);
    m->merged = calloc(sz, sizeof *m->merged);
    m->mask = sz - 1;
    return m->key && m->rank && m->merged;
}

int tk_merges_add(tk_merges *m, int32_t a, int32_t b, uint32_t rank, int32_t merged) {
    uint64_t k = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    size_t i = pair_hash(k) & m->mask;
    while (m->key[i]) {
        if (m->key[i] == k) return 1; /* a repeated merge keeps its first (lowest) rank */
        i = (i + 1) & m->mask;
    }
    m->key[i] = k;
    m->rank[i] = rank;
    m->merged[i] = merged;
    m->count++;
    return 1;
}

int tk_merges_find(const tk_merges *m, int32_t a, int32_t b, uint32_t *rank, int32_t *merged) {
    if (!m->key) return 0;
    uint64_t k = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    size_t i = pair_hash(k) & m->mask;
    for (;;) {
        uint64_t x = m->key[i];
        if (!x) return 0;
        if (x == k) {
            *rank = m->rank[i];
            *merged = m->merged[i];
            return 1;
        }
        i = (i + 1) & m->mask;
    }
}

void tk_merges_free(tk_merges *m) {
    free(m->key);
    free(m->rank);
    free(m->merged);
    memset(m, 0, sizeof *m);
}

/* ---- trie: each node keeps a sorted array of (byte, child) edges in one shared pool; insertion
 * rebuilds a node's edge array at the end of the pool (tokens are few, so waste is small). */

static int32_t trie_new_node(tk_trie *t) {
    if (t->n_nodes == t->cap_nodes) {
        size_t cap = t->cap_nodes ? t->cap_nodes * 2 : 64;
        tk_trie_node *n = realloc(t->nodes, cap * sizeof *n);
        if (!n) return -1;
        t->nodes = n;
        t->cap_nodes = cap;
    }
    tk_trie_node *n = &t->nodes[t->n_nodes];
    n->child_base = 0;
    n->n_children = 0;
    n->added = -1;
    return (int32_t)t->n_nodes++;
}

static int32_t trie_child(const tk_trie *t, int32_t node, uint8_t b) {
    const tk_trie_node *n = &t->nodes[node];
    size_t lo = 0, hi = n->n_children;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        uint8_t e = t->edge_byte[n->child_base + mid];
        if (e == b) return t->edge_node[n->child_base + mid];
        if (e < b) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

static int trie_add_edge(tk_trie *t, int32_t node, uint8_t b, int32_t child) {
    size_t k = t->nodes[node].n_children;
    if (t->n_edges + k + 1 > t->cap_edges) {
        size_t cap = t->cap_edges ? t->cap_edges : 256;
        while (cap < t->n_edges + k + 1) cap *= 2;
        uint8_t *eb = realloc(t->edge_byte, cap);
        if (!eb) return 0;
        t->edge_byte = eb;
        int32_t *en = realloc(t->edge_node, cap * sizeof *en);
        if (!en) return 0;
        t->edge_node = en;
        t->cap_edges = cap;
    }
    size_t base = t->n_edges, old = (size_t)t->nodes[node].child_base, j = 0;
    int placed = 0;
    for (size_t i = 0; i < k; i++) {
        uint8_t e = t->edge_byte[old + i];
        if (!placed && b < e) {
            t->edge_byte[base + j] = b;
            t->edge_node[base + j++] = child;
            placed = 1;
        }
        t->edge_byte[base + j] = e;
        t->edge_node[base + j++] = t->edge_node[old + i];
    }
    if (!placed) {
        t->edge_byte[base + j] = b;
        t->edge_node[base + j++] = child;
    }
    t->nodes[node].child_base = (int32_t)base;
    t->nodes[node].n_children = (uint16_t)(k + 1);
    t->n_edges += k + 1;
    return 1;
}

int tk_trie_insert(tk_trie *t, const char *s, size_t len, int32_t added_index) {
    if (len == 0) return 1;
    if (t->n_nodes == 0 && trie_new_node(t) < 0) return 0;
    int32_t node = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = (uint8_t)s[i];
        int32_t c = trie_child(t, node, b);
        if (c < 0) {
            c = trie_new_node(t);
            if (c < 0 || !trie_add_edge(t, node, b, c)) return 0;
        }
        node = c;
    }
    if (t->nodes[node].added < 0) t->nodes[node].added = added_index;
    t->first_byte[(uint8_t)s[0]] = 1;
    return 1;
}

size_t tk_trie_longest(const tk_trie *t, const char *s, size_t n, int32_t *added_index) {
    if (t->n_nodes == 0 || n == 0 || !t->first_byte[(uint8_t)s[0]]) return 0;
    int32_t node = 0;
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        node = trie_child(t, node, (uint8_t)s[i]);
        if (node < 0) break;
        if (t->nodes[node].added >= 0) {
            best = i + 1;
            *added_index = t->nodes[node].added;
        }
    }
    return best;
}

void tk_trie_free(tk_trie *t) {
    free(t->nodes);
    free(t->edge_byte);
    free(t->edge_node);
    memset(t, 0, sizeof *t);
}
