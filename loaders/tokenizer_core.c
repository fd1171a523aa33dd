/* Tokenizer construction shared by the tokenizer.json and GGUF-array loaders: added tokens,
 * indexes, and teardown; plus the small accessors of the public API. */
#include <stdlib.h>
#include <string.h>
#include "clcdd_internal.h"
#include "tokenizer_internal.h"

clcdd_status tk_add_added(clcdd_tokenizer *tok, int32_t id, const char *content, size_t len, int special,
                          int lstrip, int rstrip, int normalized, int single_word, const char *name) {
    if (id < 0 || (size_t)id >= tok->vocab.n)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: added token id %d out of range", name, (int)id);
    if (len == 0) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: added token %d has empty content", name, (int)id);
    tk_added *v = realloc(tok->added, (tok->n_added + 1) * sizeof *v);
    if (!v) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    tok->added = v;
    tk_added *a = &v[tok->n_added];
    memset(a, 0, sizeof *a);
    a->content = malloc(len + 1);
    if (!a->content) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    memcpy(a->content, content, len);
    a->content[len] = 0;
    a->len = len;
    a->id = id;
    a->special = special;
    a->lstrip = lstrip;
    a->rstrip = rstrip;
    a->normalized = normalized;
    a->single_word = single_word;
    tok->n_added++;
    /* the added content is what this id decodes to, replacing any model string */
    if (tok->vocab.str[id] &&
        (tok->vocab.len[id] != len || memcmp(tok->vocab.str[id], content, len) != 0)) {
        free(tok->vocab.str[id]);
        tok->vocab.str[id] = NULL;
        if (tok->in_model) tok->in_model[id] = 0;
    }
    if (!tok->vocab.str[id] && tk_vocab_set(&tok->vocab, id, content, len) != 1)
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    return CLCDD_OK;
}

clcdd_status tk_finalize(clcdd_tokenizer *tok, const char *name) {
    size_t n = tok->vocab.n;
    tok->is_special = calloc(n ? n : 1, 1);
    tok->is_added = calloc(n ? n : 1, 1);
    if (!tok->is_special || !tok->is_added || !tk_vocab_build_index(&tok->vocab))
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    for (int b = 0; b < 256; b++) {
        char s[8];
        static const char hex[] = "0123456789ABCDEF";
        s[0] = '<'; s[1] = '0'; s[2] = 'x'; s[3] = hex[b >> 4]; s[4] = hex[b & 15]; s[5] = '>';
        int32_t id = tk_vocab_find(&tok->vocab, s, 6);
        tok->byte_ids[b] = id >= 0 && tok->in_model[id] ? id : -1;
    }
    for (size_t k = 0; k < tok->n_added; k++) {
        tk_added *a = &tok->added[k];
        tok->is_added[a->id] = 1;
        if (a->special) tok->is_special[a->id] = 1;
        int ok;
        if (a->normalized && tok->n_norms) {
            tk_buf nb = {0};
            clcdd_status st = tk_normalize(tok, a->content, a->len, &nb);
            if (st != CLCDD_OK) return st;
            ok = tk_trie_insert(&tok->trie_norm, nb.p ? nb.p : "", nb.n, (int32_t)k);
            tk_buf_free(&nb);
        } else if (a->normalized) {
            ok = tk_trie_insert(&tok->trie_norm, a->content, a->len, (int32_t)k);
        } else {
            ok = tk_trie_insert(&tok->trie_raw, a->content, a->len, (int32_t)k);
        }
        if (!ok) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    }
    for (size_t k = 0; k < tok->n_pres; k++) {
        if (tok->pres[k].kind == TK_PRE_BYTELEVEL && tok->pres[k].use_regex && !tok->gpt2_pre.re) {
            static const char gpt2[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
            tok->gpt2_pre.kind = TK_PRE_SPLIT;
            tok->gpt2_pre.behavior = TK_SPLIT_ISOLATED;
            clcdd_status st = tk_regex_compile(gpt2, strlen(gpt2), name, &tok->gpt2_pre.re);
            if (st != CLCDD_OK) return st;
        }
    }
    (void)name;
    return CLCDD_OK;
}

void tk_free_contents(clcdd_tokenizer *tok) {
    tk_vocab_free(&tok->vocab);
    tk_merges_free(&tok->merges);
    free(tok->scores);
    free(tok->cont_prefix);
    free(tok->eow_suffix);
    for (size_t k = 0; k < tok->n_norms; k++) {
        free(tok->norms[k].a);
        free(tok->norms[k].b);
    }
    free(tok->norms);
    for (size_t k = 0; k < tok->n_pres; k++) {
        if (tok->pres[k].re) pcre2_code_free(tok->pres[k].re);
        free(tok->pres[k].literal);
    }
    free(tok->pres);
    if (tok->gpt2_pre.re) pcre2_code_free(tok->gpt2_pre.re);
    for (size_t k = 0; k < tok->n_decs; k++) {
        free(tok->decs[k].a);
        free(tok->decs[k].b);
    }
    free(tok->decs);
    for (size_t k = 0; k < tok->n_added; k++) free(tok->added[k].content);
    free(tok->added);
    tk_trie_free(&tok->trie_raw);
    tk_trie_free(&tok->trie_norm);
    free(tok->is_special);
    free(tok->is_added);
    free(tok->in_model);
    free(tok->prefix_ids);
    free(tok->suffix_ids);
    memset(tok, 0, sizeof *tok);
}

void clcdd_tokenizer_destroy(clcdd_tokenizer *tok) {
    if (!tok) return;
    tk_free_contents(tok);
    free(tok);
}

size_t clcdd_tokenizer_vocab_size(const clcdd_tokenizer *tok) { return tok ? tok->vocab.n : 0; }

const char *clcdd_tokenizer_token(const clcdd_tokenizer *tok, int32_t id, size_t *len) {
    if (!tok || id < 0 || (size_t)id >= tok->vocab.n || !tok->vocab.str[id]) return NULL;
    if (len) *len = tok->vocab.len[id];
    return tok->vocab.str[id];
}

int32_t clcdd_tokenizer_token_id(const clcdd_tokenizer *tok, const char *s, size_t len) {
    return tok && s ? tk_vocab_find(&tok->vocab, s, len) : -1;
}

int clcdd_tokenizer_is_special(const clcdd_tokenizer *tok, int32_t id) {
    return tok && id >= 0 && (size_t)id < tok->vocab.n && tok->is_special[id];
}

int32_t clcdd_tokenizer_bos_id(const clcdd_tokenizer *tok) { return tok ? tok->bos_id : -1; }
int32_t clcdd_tokenizer_eos_id(const clcdd_tokenizer *tok) { return tok ? tok->eos_id : -1; }
