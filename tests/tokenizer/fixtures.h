/* Readers for the tokenizer fixtures written by tests/fixtures/make_tokenizer_fixtures.py. */
#ifndef TK_TEST_FIXTURES_H
#define TK_TEST_FIXTURES_H
#include <stddef.h>
#include <stdint.h>

typedef struct tk_fx_str {
    const char *p;
    size_t n;
} tk_fx_str;

typedef struct tk_fx_expect {
    int32_t *ids; size_t n_ids;
    int has_nospecial; int32_t *ids_nospecial; size_t n_nospecial;
    int decoded_is_input; tk_fx_str decoded;          /* decode(skip_special) */
    int has_decoded_special; tk_fx_str decoded_special; /* decode(keep special) */
} tk_fx_expect;

typedef struct tk_fx {
    char *corpus_data; size_t n; tk_fx_str *strs;
    char *expect_data; tk_fx_expect *exp;
} tk_fx;

/* Returns NULL-terminated error text on failure, NULL on success. */
const char *tk_fx_load(const char *dir, const char *name, tk_fx *fx);
void tk_fx_free(tk_fx *fx);

/* Minimal GGUF metadata reader for the test (tokenizer keys only); fills a clcdd_vocab_desc. */
struct clcdd_vocab_desc;
typedef struct tk_gguf_vocab tk_gguf_vocab;
const char *tk_gguf_vocab_read(const char *path, struct clcdd_vocab_desc *d, tk_gguf_vocab **owner);
void tk_gguf_vocab_free(tk_gguf_vocab *v);
#endif
