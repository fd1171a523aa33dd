/* Internal representation of a clcdd_tokenizer, shared by loaders/tokenizer_*.c.
 *
 * Pipeline (as HF tokenizers): split raw text on added tokens -> normalize each remaining
 * segment -> pre-tokenize into pieces -> BPE each piece -> post-processor prefix/suffix ids. */
#ifndef CLCDD_TOKENIZER_INTERNAL_H
#define CLCDD_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "clcdd/tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* ---- small growable byte buffer ---- */
typedef struct tk_buf {
    char *p;
    size_t n, cap;
} tk_buf;
int tk_buf_reserve(tk_buf *b, size_t extra); /* 0 on OOM */
int tk_buf_put(tk_buf *b, const void *s, size_t n);
int tk_buf_put_cp(tk_buf *b, uint32_t cp);
void tk_buf_free(tk_buf *b);

/* ---- UTF-8 ---- */
/* Decode one code point at s[0..n); returns its length (1..4) or 0 if s does not start with a
 * valid sequence. */
size_t tk_utf8_next(const char *s, size_t n, uint32_t *cp);
size_t tk_utf8_encode(uint32_t cp, char out[4]);
/* Append s with invalid sequences replaced by U+FFFD (maximal subpart rule). Returns 0 on OOM. */
int tk_utf8_lossy(tk_buf *out, const char *s, size_t n);
/* Length of a trailing incomplete-but-valid-so-far sequence in s[0..n) (0..3). */
size_t tk_utf8_incomplete_tail(const char *s, size_t n);
int tk_is_white_space(uint32_t cp); /* Unicode White_Space (Rust char::is_whitespace) */
int tk_is_numeric(uint32_t cp);     /* general category N* (Rust char::is_numeric) */
int tk_is_alnum(uint32_t cp);       /* L* or N* (Rust char::is_alphanumeric) */

/* ---- vocabulary: id -> string, string -> id ---- */
typedef struct tk_vocab {
    size_t n;          /* number of ids (max id + 1) */
    char **str;        /* [n] token bytes (NUL-terminated) or NULL for an unused id */
    uint32_t *len;     /* [n] */
    uint32_t *slot;    /* open-addressing table of id + 1 */
    size_t mask;
} tk_vocab;

int tk_vocab_init(tk_vocab *v, size_t n);            /* 0 on OOM */
/* 1 ok, 0 OOM, -1 id already set / out of range */
int tk_vocab_set(tk_vocab *v, int32_t id, const char *s, size_t len);
int tk_vocab_build_index(tk_vocab *v);               /* 0 on OOM; call once after all sets */
int32_t tk_vocab_find(const tk_vocab *v, const char *s, size_t len); /* -1 if absent */
void tk_vocab_free(tk_vocab *v);
uint32_t tk_hash(const char *s, size_t len);

/* ---- merges: (left id, right id) -> (rank, merged id) ---- */
typedef struct tk_merges {
    uint64_t *key; /* (left << 32 | right) + 1, 0 = empty */
    uint32_t *rank;
    int32_t *merged;
    size_t mask, count;
} tk_merges;

int tk_merges_init(tk_merges *m, size_t n); /* 0 on OOM */
int tk_merges_add(tk_merges *m, int32_t a, int32_t b, uint32_t rank, int32_t merged); /* 0 on OOM; keeps first */
int tk_merges_find(const tk_merges *m, int32_t a, int32_t b, uint32_t *rank, int32_t *merged);
void tk_merges_free(tk_merges *m);

/* ---- normalizers ---- */
typedef enum tk_norm_kind { TK_NORM_NFC, TK_NORM_NFD, TK_NORM_NFKC, TK_NORM_NFKD, TK_NORM_PREPEND,
                            TK_NORM_REPLACE } tk_norm_kind;
typedef struct tk_norm {
    tk_norm_kind kind;
    char *a; size_t a_len; /* PREPEND: text; REPLACE: pattern */
    char *b; size_t b_len; /* REPLACE: content */
} tk_norm;

/* ---- pre-tokenizers ---- */
typedef enum tk_pre_kind { TK_PRE_SPLIT, TK_PRE_BYTELEVEL, TK_PRE_DIGITS, TK_PRE_METASPACE } tk_pre_kind;
typedef enum tk_split_behavior { TK_SPLIT_REMOVED, TK_SPLIT_ISOLATED, TK_SPLIT_MERGED_PREV,
                                 TK_SPLIT_MERGED_NEXT, TK_SPLIT_CONTIGUOUS } tk_split_behavior;
typedef enum tk_prepend { TK_PREPEND_ALWAYS, TK_PREPEND_FIRST, TK_PREPEND_NEVER } tk_prepend;
typedef struct tk_pre {
    tk_pre_kind kind;
    pcre2_code *re;        /* SPLIT with a regex, BYTELEVEL with use_regex */
    char *literal; size_t literal_len; /* SPLIT with a String pattern */
    tk_split_behavior behavior;
    int invert;
    int add_prefix_space, use_regex; /* BYTELEVEL */
    int individual_digits;           /* DIGITS */
    char repl[4]; size_t repl_len;   /* METASPACE replacement char */
    tk_prepend prepend;
    int split;
} tk_pre;

/* ---- decoders ---- */
typedef enum tk_dec_kind { TK_DEC_BYTELEVEL, TK_DEC_REPLACE, TK_DEC_BYTEFALLBACK, TK_DEC_FUSE,
                           TK_DEC_STRIP, TK_DEC_METASPACE } tk_dec_kind;
typedef struct tk_dec {
    tk_dec_kind kind;
    char *a; size_t a_len;   /* REPLACE pattern, STRIP content char, METASPACE replacement */
    char *b; size_t b_len;   /* REPLACE content */
    int start, stop;         /* STRIP */
    tk_prepend prepend;      /* METASPACE */
} tk_dec;

/* ---- added tokens ---- */
typedef struct tk_added {
    int32_t id;
    char *content; size_t len;  /* matched text (normalized form when `normalized`) */
    int special, lstrip, rstrip, normalized, single_word;
} tk_added;

/* Trie over added-token contents for leftmost-longest matching. */
typedef struct tk_trie_node {
    int32_t child_base; /* index into edges */
    uint16_t n_children;
    int32_t added;      /* index into tok->added, -1 if no token ends here */
} tk_trie_node;

typedef struct tk_trie {
    tk_trie_node *nodes; size_t n_nodes, cap_nodes;
    /* children stored as (byte, node) pairs in a per-node sorted array */
    uint8_t *edge_byte; int32_t *edge_node; size_t n_edges, cap_edges;
    uint8_t first_byte[256]; /* nonzero if some token starts with this byte */
} tk_trie;

typedef enum tk_model_mode { TK_MODE_RANKS, TK_MODE_SCORES } tk_model_mode;

struct clcdd_tokenizer {
    tk_vocab vocab;        /* model vocabulary plus added tokens */
    tk_model_mode mode;
    tk_merges merges;      /* TK_MODE_RANKS */
    float *scores;         /* TK_MODE_SCORES, [vocab.n] */
    int byte_fallback, fuse_unk, ignore_merges;
    int32_t unk_id;        /* -1 none */
    char *cont_prefix; size_t cont_prefix_len;  /* continuing_subword_prefix */
    char *eow_suffix; size_t eow_suffix_len;    /* end_of_word_suffix */
    int32_t byte_ids[256]; /* <0xXX> ids for byte fallback, -1 if absent */

    tk_norm *norms; size_t n_norms;
    tk_pre *pres; size_t n_pres;
    tk_pre gpt2_pre;       /* GPT-2 regex for ByteLevel(use_regex = true); re NULL until needed */
    tk_dec *decs; size_t n_decs;
    int has_decoder;

    tk_added *added; size_t n_added;
    tk_trie trie_raw;      /* added tokens with normalized = false */
    tk_trie trie_norm;     /* added tokens with normalized = true (normalized content) */
    uint8_t *is_special;   /* [vocab.n] */
    uint8_t *is_added;     /* [vocab.n] */
    uint8_t *in_model;     /* [vocab.n] id belongs to the model vocabulary (not only added) */

    int32_t *prefix_ids; size_t n_prefix; /* post-processor */
    int32_t *suffix_ids; size_t n_suffix;
    int32_t bos_id, eos_id;
};

/* byte-level alphabet */
extern const uint16_t tk_byte_to_cp[256];
int tk_cp_to_byte(uint32_t cp); /* -1 if cp is not in the alphabet */

/* pattern translation + compile (handles \s per Unicode White_Space as Oniguruma does) */
clcdd_status tk_regex_compile(const char *pattern, size_t len, const char *where, pcre2_code **out);

/* trie */
int tk_trie_insert(tk_trie *t, const char *s, size_t len, int32_t added_index); /* 0 OOM */
void tk_trie_free(tk_trie *t);
/* Longest token starting at s[0..n); returns length, *added_index set; 0 if none. */
size_t tk_trie_longest(const tk_trie *t, const char *s, size_t n, int32_t *added_index);

/* normalizer: appends normalized text of s to out. */
clcdd_status tk_normalize(const clcdd_tokenizer *tok, const char *s, size_t n, tk_buf *out);

/* One pre-token piece: a slice of a buffer plus whether it starts at original offset 0. */
typedef struct tk_piece {
    size_t off, len;
    int at_start;
} tk_piece;
typedef struct tk_pieces {
    tk_piece *v; size_t n, cap;
} tk_pieces;

/* Per-call scratch reused across pieces. */
typedef struct tk_ctx {
    tk_buf norm, pa, pb, word;
    tk_pieces la, lb;
    pcre2_match_data *md;
    /* BPE symbols */
    struct tk_sym *syms; size_t cap_syms;
    struct tk_heap_item *heap; size_t cap_heap;
} tk_ctx;
void tk_ctx_free(tk_ctx *c);

/* Pre-tokenize `text` (a normalized segment): result pieces refer to *outbuf. */
clcdd_status tk_pretokenize(const clcdd_tokenizer *tok, tk_ctx *c, const char *text, size_t n, int at_start,
                            tk_buf **outbuf, tk_pieces **outpieces);

/* BPE one pre-token (already in the model alphabet) and append ids. */
clcdd_status tk_bpe_word(const clcdd_tokenizer *tok, tk_ctx *c, const char *w, size_t n, clcdd_tokens *out);

int tk_tokens_push(clcdd_tokens *t, int32_t id); /* 0 on OOM */

/* "<0xXX>" -> byte value, else -1 */
int tk_parse_byte_token(const char *s, size_t n);
/* Decoder chain on one token of a stream (no UTF-8 repair); appends raw bytes. 0 on OOM. */
int tk_decode_token_bytes(const clcdd_tokenizer *tok, int32_t id, int first, tk_buf *out);

/* Finish construction: index vocab, tries, flags. Shared by the json and vocab loaders. */
clcdd_status tk_finalize(clcdd_tokenizer *tok, const char *name);
clcdd_status tk_add_added(clcdd_tokenizer *tok, int32_t id, const char *content, size_t len, int special,
                          int lstrip, int rstrip, int normalized, int single_word, const char *name);
void tk_free_contents(clcdd_tokenizer *tok);

#endif
