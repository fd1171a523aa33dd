/* clcdd_tokenizer from GGUF-style vocabulary arrays (tokenizer.ggml.*), configured to behave as
 * the Hugging Face tokenizer.json of the same model:
 *   gpt2 + pre "qwen2"            -> NFC, Split(R, Isolated), ByteLevel(no regex)
 *   gpt2 + pre "llama-bpe"/"llama3" -> Split(R3, Isolated), ByteLevel(no regex), ignore_merges
 *   gpt2 + pre "smollm"           -> Digits(individual), ByteLevel(regex)
 *   gpt2 + pre "default"/"gpt2"   -> ByteLevel(regex)
 *   llama                         -> Prepend("▁") + Replace(" ", "▁") normalizer, scores,
 *                                    byte fallback, ▁ decoding (the legacy Llama-2 conversion)
 * Token types 3 (control) become special added tokens, 4 (user-defined) non-special ones. */
#include <stdlib.h>
#include <string.h>
#include "clcdd_internal.h"
#include "tokenizer_internal.h"

#define OOM() clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory")

static const char RE_QWEN2[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char RE_LLAMA3[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

void clcdd_vocab_desc_init(clcdd_vocab_desc *d) {
    if (!d) return;
    memset(d, 0, sizeof *d);
    d->bos_id = d->eos_id = d->unk_id = d->pad_id = -1;
    d->add_bos = d->add_eos = d->add_space_prefix = -1;
}

static clcdd_status push_pre(clcdd_tokenizer *tok, tk_pre pr) {
    tk_pre *v = realloc(tok->pres, (tok->n_pres + 1) * sizeof *v);
    if (!v) {
        if (pr.re) pcre2_code_free(pr.re);
        return OOM();
    }
    tok->pres = v;
    v[tok->n_pres++] = pr;
    return CLCDD_OK;
}

static clcdd_status push_regex_split(clcdd_tokenizer *tok, const char *re, const char *name) {
    tk_pre pr;
    memset(&pr, 0, sizeof pr);
    pr.kind = TK_PRE_SPLIT;
    pr.behavior = TK_SPLIT_ISOLATED;
    clcdd_status st = tk_regex_compile(re, strlen(re), name, &pr.re);
    return st != CLCDD_OK ? st : push_pre(tok, pr);
}

static clcdd_status push_simple(clcdd_tokenizer *tok, tk_pre_kind kind, int a, int b) {
    tk_pre pr;
    memset(&pr, 0, sizeof pr);
    pr.kind = kind;
    if (kind == TK_PRE_BYTELEVEL) { pr.add_prefix_space = a; pr.use_regex = b; }
    if (kind == TK_PRE_DIGITS) pr.individual_digits = a;
    return push_pre(tok, pr);
}

static clcdd_status push_norm(clcdd_tokenizer *tok, tk_norm_kind kind, const char *a, const char *b) {
    tk_norm *v = realloc(tok->norms, (tok->n_norms + 1) * sizeof *v);
    if (!v) return OOM();
    tok->norms = v;
    tk_norm *n = &v[tok->n_norms++];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    if (a && !(n->a = strdup(a))) return OOM();
    if (b && !(n->b = strdup(b))) return OOM();
    n->a_len = a ? strlen(a) : 0;
    n->b_len = b ? strlen(b) : 0;
    return CLCDD_OK;
}

static clcdd_status push_dec(clcdd_tokenizer *tok, tk_dec_kind kind, const char *a, const char *b, int start) {
    tk_dec *v = realloc(tok->decs, (tok->n_decs + 1) * sizeof *v);
    if (!v) return OOM();
    tok->decs = v;
    tk_dec *d = &v[tok->n_decs++];
    memset(d, 0, sizeof *d);
    d->kind = kind;
    if (a && !(d->a = strdup(a))) return OOM();
    if (b && !(d->b = strdup(b))) return OOM();
    d->a_len = a ? strlen(a) : 0;
    d->b_len = b ? strlen(b) : 0;
    d->start = start;
    tok->has_decoder = 1;
    return CLCDD_OK;
}

static clcdd_status configure_gpt2(clcdd_tokenizer *tok, const char *pre, const char *name) {
    clcdd_status st;
    if (!pre || strcmp(pre, "default") == 0 || strcmp(pre, "gpt2") == 0 || strcmp(pre, "gpt-2") == 0) {
        st = push_simple(tok, TK_PRE_BYTELEVEL, 0, 1);
    } else if (strcmp(pre, "smollm") == 0) {
        st = push_simple(tok, TK_PRE_DIGITS, 1, 0);
        if (st == CLCDD_OK) st = push_simple(tok, TK_PRE_BYTELEVEL, 0, 1);
    } else if (strcmp(pre, "qwen2") == 0) {
        st = push_norm(tok, TK_NORM_NFC, NULL, NULL);
        if (st == CLCDD_OK) st = push_regex_split(tok, RE_QWEN2, name);
        if (st == CLCDD_OK) st = push_simple(tok, TK_PRE_BYTELEVEL, 0, 0);
    } else if (strcmp(pre, "llama-bpe") == 0 || strcmp(pre, "llama3") == 0 || strcmp(pre, "llama-v3") == 0) {
        tok->ignore_merges = 1;
        st = push_regex_split(tok, RE_LLAMA3, name);
        if (st == CLCDD_OK) st = push_simple(tok, TK_PRE_BYTELEVEL, 0, 0);
    } else {
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED,
                          "%s: tokenizer.ggml.pre \"%s\" is not supported (supported: default, gpt2, smollm, qwen2, llama-bpe)",
                          name, pre);
    }
    if (st == CLCDD_OK) st = push_dec(tok, TK_DEC_BYTELEVEL, NULL, NULL, 0);
    return st;
}

static clcdd_status load_merges(clcdd_tokenizer *tok, const clcdd_vocab_desc *d, const char *name) {
    if (!tk_merges_init(&tok->merges, d->n_merges)) return OOM();
    for (size_t i = 0; i < d->n_merges; i++) {
        const char *m = d->merges[i];
        size_t ml = d->merge_lens ? d->merge_lens[i] : (m ? strlen(m) : 0);
        const char *sp = m ? memchr(m, ' ', ml) : NULL;
        if (!sp || memchr(sp + 1, ' ', ml - (size_t)(sp + 1 - m)))
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s: tokenizer.ggml.merges[%zu] is not two tokens separated by one space", name, i);
        size_t al = (size_t)(sp - m), bl = ml - al - 1;
        int32_t ia = tk_vocab_find(&tok->vocab, m, al), ib = tk_vocab_find(&tok->vocab, sp + 1, bl);
        char *cat = malloc(ml);
        if (!cat) return OOM();
        memcpy(cat, m, al);
        memcpy(cat + al, sp + 1, bl);
        int32_t im = tk_vocab_find(&tok->vocab, cat, al + bl);
        free(cat);
        if (ia < 0 || ib < 0 || im < 0)
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s: tokenizer.ggml.merges[%zu] \"%.*s\" uses a token missing from the vocab",
                              name, i, (int)ml, m);
        if (!tk_merges_add(&tok->merges, ia, ib, (uint32_t)i, im)) return OOM();
    }
    return CLCDD_OK;
}

static clcdd_status build(clcdd_tokenizer *tok, const clcdd_vocab_desc *d, const char *name) {
    size_t n = d->n_tokens;
    if (n == 0 || n > (1u << 30) || !d->tokens)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: tokenizer.ggml.tokens is missing or empty", name);
    if (d->kind != CLCDD_VOCAB_GPT2 && d->kind != CLCDD_VOCAB_LLAMA)
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model kind %d is not supported (gpt2, llama)", name, (int)d->kind);
    if (d->kind == CLCDD_VOCAB_LLAMA && !d->scores)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: tokenizer.ggml.model \"llama\" needs tokenizer.ggml.scores", name);
    if (!tk_vocab_init(&tok->vocab, n) || !(tok->in_model = calloc(n, 1))) return OOM();
    for (size_t i = 0; i < n; i++) {
        size_t l = d->token_lens ? d->token_lens[i] : (d->tokens[i] ? strlen(d->tokens[i]) : 0);
        if (!d->tokens[i]) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: token %zu is NULL", name, i);
        if (tk_vocab_set(&tok->vocab, (int32_t)i, d->tokens[i], l) != 1) return OOM();
        tok->in_model[i] = 1;
    }
    if (!tk_vocab_build_index(&tok->vocab)) return OOM();
    const int32_t ids[4] = {d->bos_id, d->eos_id, d->unk_id, d->pad_id};
    for (int k = 0; k < 4; k++)
        if (ids[k] >= (int64_t)n)
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s: special token id %d is out of range (%zu tokens)", name, (int)ids[k], n);
    tok->bos_id = d->bos_id;
    tok->eos_id = d->eos_id;
    tok->unk_id = d->unk_id;
    clcdd_status st;
    int add_bos;
    if (d->kind == CLCDD_VOCAB_GPT2) {
        tok->mode = TK_MODE_RANKS;
        if ((st = load_merges(tok, d, name)) != CLCDD_OK) return st;
        if ((st = configure_gpt2(tok, d->pre, name)) != CLCDD_OK) return st;
        add_bos = d->add_bos == 1;
        tok->unk_id = -1; /* byte-level BPE never needs it */
    } else {
        tok->mode = TK_MODE_SCORES;
        if (!(tok->scores = malloc(n * sizeof *tok->scores))) return OOM();
        memcpy(tok->scores, d->scores, n * sizeof *tok->scores);
        tok->byte_fallback = 1;
        tok->fuse_unk = 1;
        if (d->add_space_prefix != 0 && (st = push_norm(tok, TK_NORM_PREPEND, "\xE2\x96\x81", NULL)) != CLCDD_OK) return st;
        if ((st = push_norm(tok, TK_NORM_REPLACE, " ", "\xE2\x96\x81")) != CLCDD_OK) return st;
        if ((st = push_dec(tok, TK_DEC_REPLACE, "\xE2\x96\x81", " ", 0)) != CLCDD_OK ||
            (st = push_dec(tok, TK_DEC_BYTEFALLBACK, NULL, NULL, 0)) != CLCDD_OK ||
            (st = push_dec(tok, TK_DEC_FUSE, NULL, NULL, 0)) != CLCDD_OK)
            return st;
        if (d->add_space_prefix != 0 && (st = push_dec(tok, TK_DEC_STRIP, " ", NULL, 1)) != CLCDD_OK) return st;
        add_bos = d->add_bos != 0;
    }
    if (add_bos && tok->bos_id >= 0) {
        if (!(tok->prefix_ids = malloc(sizeof *tok->prefix_ids))) return OOM();
        tok->prefix_ids[tok->n_prefix++] = tok->bos_id;
    }
    if (d->add_eos == 1 && tok->eos_id >= 0) {
        if (!(tok->suffix_ids = malloc(sizeof *tok->suffix_ids))) return OOM();
        tok->suffix_ids[tok->n_suffix++] = tok->eos_id;
    }
    if (d->types) {
        for (size_t i = 0; i < n; i++) {
            int t = d->types[i];
            if (t != CLCDD_TOKEN_TYPE_CONTROL && t != CLCDD_TOKEN_TYPE_USER_DEFINED) continue;
            if (tok->vocab.len[i] == 0) continue;
            st = tk_add_added(tok, (int32_t)i, tok->vocab.str[i], tok->vocab.len[i], t == CLCDD_TOKEN_TYPE_CONTROL,
                              0, 0, 0, 0, name);
            if (st != CLCDD_OK) return st;
            if (d->kind == CLCDD_VOCAB_LLAMA) tok->in_model[i] = 1; /* still a piece of the SentencePiece model */
        }
    }
    return tk_finalize(tok, name);
}

clcdd_status clcdd_tokenizer_from_vocab(const clcdd_vocab_desc *d, clcdd_tokenizer **out) {
    if (!d || !out) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "tokenizer_from_vocab: NULL argument");
    *out = NULL;
    clcdd_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return OOM();
    tok->bos_id = tok->eos_id = tok->unk_id = -1;
    clcdd_status st = build(tok, d, d->name ? d->name : "GGUF vocabulary");
    if (st != CLCDD_OK) {
        clcdd_tokenizer_destroy(tok);
        return st;
    }
    *out = tok;
    return CLCDD_OK;
}
