/* A deliberately small GGUF metadata reader for the tokenizer test: it reads only the
 * tokenizer.ggml.* keys into a clcdd_vocab_desc (the library's GGUF reader is separate). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clcdd/tokenizer.h"
#include "fixtures.h"

struct tk_gguf_vocab {
    char *data; size_t len;
    const char **tokens; size_t *token_lens;
    const char **merges; size_t *merge_lens;
    float *scores; int32_t *types;
    char pre[64];
};

typedef struct cur { const unsigned char *p, *end; int bad; } cur;

static uint64_t get(cur *c, int n) {
    if (c->end - c->p < n) { c->bad = 1; c->p = c->end; return 0; }
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)c->p[i] << (8 * i);
    c->p += n;
    return v;
}

static const char *get_str(cur *c, size_t *len) {
    *len = 0;
    uint64_t n = get(c, 8);
    if ((uint64_t)(c->end - c->p) < n) { c->bad = 1; return NULL; }
    const char *s = (const char *)c->p;
    c->p += n;
    *len = (size_t)n;
    return s;
}

static const int type_size[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

static int64_t get_int(cur *c, uint32_t t) {
    switch (t) {
    case 0: case 7: return (int64_t)get(c, 1);
    case 1: return (int8_t)get(c, 1);
    case 2: return (int64_t)get(c, 2);
    case 3: return (int16_t)get(c, 2);
    case 4: return (int64_t)get(c, 4);
    case 5: return (int32_t)get(c, 4);
    case 10: case 11: return (int64_t)get(c, 8);
    default: c->bad = 1; return 0;
    }
}

static void skip_value(cur *c, uint32_t t) {
    size_t l;
    if (t == 8) { get_str(c, &l); return; }
    if (t == 9) {
        uint32_t et = (uint32_t)get(c, 4);
        uint64_t n = get(c, 8);
        for (uint64_t i = 0; i < n && !c->bad; i++) skip_value(c, et);
        return;
    }
    if (t > 12) { c->bad = 1; return; }
    get(c, type_size[t]);
}

const char *tk_gguf_vocab_read(const char *path, clcdd_vocab_desc *d, tk_gguf_vocab **owner) {
    tk_gguf_vocab *v = calloc(1, sizeof *v);
    *owner = v;
    clcdd_vocab_desc_init(d);
    d->name = path;
    FILE *f = fopen(path, "rb");
    if (!f) return "cannot open GGUF";
    /* metadata is at the front; 64 MB is plenty for a 50k-200k vocab */
    v->data = malloc(64u << 20);
    v->len = fread(v->data, 1, 64u << 20, f);
    fclose(f);
    cur c = {(unsigned char *)v->data, (unsigned char *)v->data + v->len, 0};
    if (get(&c, 4) != 0x46554747u) return "not a GGUF file";
    if (get(&c, 4) != 3) return "GGUF version is not 3";
    get(&c, 8);
    uint64_t nkv = get(&c, 8);
    for (uint64_t k = 0; k < nkv && !c.bad; k++) {
        size_t kl = 0;
        const char *key = get_str(&c, &kl);
        uint32_t t = (uint32_t)get(&c, 4);
        if (c.bad) break;
#define IS(s) (kl == strlen(s) && memcmp(key, s, kl) == 0)
        if (IS("tokenizer.ggml.model") && t == 8) {
            size_t l;
            const char *s = get_str(&c, &l);
            d->kind = l == 4 && memcmp(s, "gpt2", 4) == 0 ? CLCDD_VOCAB_GPT2 : l == 5 && memcmp(s, "llama", 5) == 0 ? CLCDD_VOCAB_LLAMA : 0;
        } else if (IS("tokenizer.ggml.pre") && t == 8) {
            size_t l;
            const char *s = get_str(&c, &l);
            if (l >= sizeof v->pre) l = sizeof v->pre - 1;
            memcpy(v->pre, s, l);
            d->pre = v->pre;
        } else if ((IS("tokenizer.ggml.tokens") || IS("tokenizer.ggml.merges")) && t == 9) {
            int is_tok = IS("tokenizer.ggml.tokens");
            if (get(&c, 4) != 8) return "string array expected";
            uint64_t n = get(&c, 8);
            if (n > (1u << 24)) return "array too long";
            const char **s = calloc(n ? n : 1, sizeof *s);
            size_t *l = calloc(n ? n : 1, sizeof *l);
            for (uint64_t i = 0; i < n && !c.bad; i++) s[i] = get_str(&c, &l[i]);
            if (is_tok) { v->tokens = s; v->token_lens = l; d->tokens = s; d->token_lens = l; d->n_tokens = n; }
            else { v->merges = s; v->merge_lens = l; d->merges = s; d->merge_lens = l; d->n_merges = n; }
        } else if ((IS("tokenizer.ggml.scores") || IS("tokenizer.ggml.token_type")) && t == 9) {
            uint32_t et = (uint32_t)get(&c, 4);
            uint64_t n = get(&c, 8);
            if (n > (1u << 24) || (et != 6 && et != 5)) return "bad scores/token_type array";
            if (et == 6) {
                v->scores = malloc((n ? n : 1) * sizeof *v->scores);
                for (uint64_t i = 0; i < n; i++) { uint32_t b = (uint32_t)get(&c, 4); memcpy(&v->scores[i], &b, 4); }
                d->scores = v->scores;
            } else {
                v->types = malloc((n ? n : 1) * sizeof *v->types);
                for (uint64_t i = 0; i < n; i++) v->types[i] = (int32_t)get(&c, 4);
                d->types = v->types;
            }
        } else if (IS("tokenizer.ggml.bos_token_id")) d->bos_id = (int32_t)get_int(&c, t);
        else if (IS("tokenizer.ggml.eos_token_id")) d->eos_id = (int32_t)get_int(&c, t);
        else if (IS("tokenizer.ggml.unknown_token_id")) d->unk_id = (int32_t)get_int(&c, t);
        else if (IS("tokenizer.ggml.padding_token_id")) d->pad_id = (int32_t)get_int(&c, t);
        else if (IS("tokenizer.ggml.add_bos_token")) d->add_bos = (int)get_int(&c, t);
        else if (IS("tokenizer.ggml.add_eos_token")) d->add_eos = (int)get_int(&c, t);
        else if (IS("tokenizer.ggml.add_space_prefix")) d->add_space_prefix = (int)get_int(&c, t);
        else skip_value(&c, t);
#undef IS
    }
    return c.bad ? "GGUF metadata truncated" : NULL;
}

void tk_gguf_vocab_free(tk_gguf_vocab *v) {
    if (!v) return;
    free(v->data);
    free(v->tokens); free(v->token_lens);
    free(v->merges); free(v->merge_lens);
    free(v->scores); free(v->types);
    free(v);
}
