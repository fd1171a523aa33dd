/* clcdd_vocab_desc from a GGUF file's tokenizer.ggml.* metadata: the thin adapter between the
 * GGUF reader and clcdd_tokenizer_from_vocab (which holds the tokenizer logic). */
#include <stdlib.h>
#include <string.h>

#include "clcdd/gguf.h"
#include "clcdd/tokenizer.h"
#include "clcdd_internal.h"

typedef struct vocab_arrays {
    const char **tokens;
    size_t *token_lens;
    float *scores;
    int32_t *types;
    const char **merges;
    size_t *merge_lens;
    char *pre;
} vocab_arrays;

static void arrays_free(vocab_arrays *a) {
    free(a->tokens);
    free(a->token_lens);
    free(a->scores);
    free(a->types);
    free(a->merges);
    free(a->merge_lens);
    free(a->pre);
}

/* A string array into (pointers, lengths) pointing into the mapping. */
static clcdd_status strings(const clcdd_gguf *g, const char *key, const char ***s, size_t **lens,
                            size_t *n) {
    clcdd_gguf_array a;
    clcdd_status st = clcdd_gguf_get_array(g, key, &a);
    if (st != CLCDD_OK) return st;
    if (a.elem_type != CLCDD_GGUF_STRING)
        return clcdd_fail(CLCDD_ERR_FORMAT, "GGUF '%s' is an array of %s, not of strings", key,
                          clcdd_gguf_value_type_name(a.elem_type));
    *s = calloc(a.count ? a.count : 1, sizeof **s);
    *lens = calloc(a.count ? a.count : 1, sizeof **lens);
    if (!*s || !*lens) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    for (uint64_t i = 0; i < a.count; i++) {
        clcdd_gguf_str x;
        st = clcdd_gguf_array_string(g, &a, i, &x);
        if (st != CLCDD_OK) return st;
        (*s)[i] = x.data;
        (*lens)[i] = (size_t)x.len;
    }
    *n = (size_t)a.count;
    return CLCDD_OK;
}

/* An optional numeric array of exactly n elements (absent: NULL). */
static clcdd_status numbers(const clcdd_gguf *g, const char *key, size_t n, float **f,
                            int32_t **i32) {
    clcdd_gguf_array a;
    if (clcdd_gguf_get_array(g, key, &a) != CLCDD_OK) {
        clcdd_clear_error();
        return CLCDD_OK;
    }
    if (a.count != n)
        return clcdd_fail(CLCDD_ERR_FORMAT, "GGUF '%s' has %llu entries but there are %zu tokens",
                          key, (unsigned long long)a.count, n);
    void *buf = malloc((n ? n : 1) * 4);
    if (!buf) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    for (size_t k = 0; k < n; k++) {
        clcdd_status st;
        if (f) {
            st = clcdd_gguf_array_f32(g, &a, k, &((float *)buf)[k]);
        } else {
            int64_t x = 0;
            st = clcdd_gguf_array_i64(g, &a, k, &x);
            ((int32_t *)buf)[k] = (int32_t)x;
        }
        if (st != CLCDD_OK) {
            free(buf);
            return st;
        }
    }
    if (f) *f = buf;
    else *i32 = buf;
    return CLCDD_OK;
}

static int32_t opt_id(const clcdd_gguf *g, const char *key) {
    int32_t x;
    if (clcdd_gguf_get_i32(g, key, &x) == CLCDD_OK) return x;
    clcdd_clear_error();
    return -1;
}

static int opt_flag(const clcdd_gguf *g, const char *key) {
    int b;
    if (clcdd_gguf_get_bool(g, key, &b) == CLCDD_OK) return b;
    clcdd_clear_error();
    return -1;
}

clcdd_status clcdd_tokenizer_from_gguf(const clcdd_gguf *g, const char *name,
                                       clcdd_tokenizer **out) {
    if (!g || !out) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "tokenizer: NULL argument");
    *out = NULL;
    const char *nm = name ? name : "GGUF";
    clcdd_gguf_str model;
    if (clcdd_gguf_get_string(g, "tokenizer.ggml.model", &model) != CLCDD_OK)
        return clcdd_fail(CLCDD_ERR_NOT_FOUND, "%s has no tokenizer (no 'tokenizer.ggml.model')",
                          nm);
    clcdd_vocab_desc d;
    clcdd_vocab_desc_init(&d);
    d.name = nm;
    if (model.len == 4 && !memcmp(model.data, "gpt2", 4))
        d.kind = CLCDD_VOCAB_GPT2;
    else if (model.len == 5 && !memcmp(model.data, "llama", 5))
        d.kind = CLCDD_VOCAB_LLAMA;
    else
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model '%.*s' is not supported "
                          "(supported: gpt2, llama)", nm, (int)(model.len > 64 ? 64 : model.len),
                          model.data);
    vocab_arrays a;
    memset(&a, 0, sizeof a);
    clcdd_gguf_str pre;
    if (clcdd_gguf_get_string(g, "tokenizer.ggml.pre", &pre) == CLCDD_OK) {
        a.pre = strndup(pre.data, (size_t)pre.len);
        if (!a.pre) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    } else {
        clcdd_clear_error();
    }
    d.pre = a.pre;
    clcdd_status st = strings(g, "tokenizer.ggml.tokens", &a.tokens, &a.token_lens, &d.n_tokens);
    if (st == CLCDD_OK) st = numbers(g, "tokenizer.ggml.scores", d.n_tokens, &a.scores, NULL);
    if (st == CLCDD_OK) st = numbers(g, "tokenizer.ggml.token_type", d.n_tokens, NULL, &a.types);
    if (st == CLCDD_OK && d.kind == CLCDD_VOCAB_GPT2)
        st = strings(g, "tokenizer.ggml.merges", &a.merges, &a.merge_lens, &d.n_merges);
    if (st == CLCDD_OK) {
        d.tokens = a.tokens;
        d.token_lens = a.token_lens;
        d.scores = a.scores;
        d.types = a.types;
        d.merges = a.merges;
        d.merge_lens = a.merge_lens;
        d.bos_id = opt_id(g, "tokenizer.ggml.bos_token_id");
        d.eos_id = opt_id(g, "tokenizer.ggml.eos_token_id");
        d.unk_id = opt_id(g, "tokenizer.ggml.unknown_token_id");
        d.pad_id = opt_id(g, "tokenizer.ggml.padding_token_id");
        d.add_bos = opt_flag(g, "tokenizer.ggml.add_bos_token");
        d.add_eos = opt_flag(g, "tokenizer.ggml.add_eos_token");
        d.add_space_prefix = opt_flag(g, "tokenizer.ggml.add_space_prefix");
        st = clcdd_tokenizer_from_vocab(&d, out);
    }
    arrays_free(&a);
    if (st != CLCDD_OK) return clcdd_fail_context(st, "tokenizer of %s", nm);
    return CLCDD_OK;
}

clcdd_status clcdd_tokenizer_load_gguf(const char *path, clcdd_tokenizer **out) {
    if (!path || !out) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "tokenizer: NULL argument");
    clcdd_gguf *g = NULL;
    clcdd_status st = clcdd_gguf_open(path, &g);
    if (st != CLCDD_OK) return st;
    st = clcdd_tokenizer_from_gguf(g, path, out);
    clcdd_gguf_close(g);
    return st;
}
