/* libFuzzer: input = tokenizer.json bytes, a NUL byte, then text to encode. The loader must
 * accept or reject without crashing; an accepted tokenizer must encode and decode the text.
 * Seed corpus: tests/fixtures/tokenizer/ *.tokenizer.json (small ones). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "clcdd/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *sep = memchr(data, 0, size);
    size_t jl = sep ? (size_t)(sep - data) : size;
    const char *text = sep ? (const char *)sep + 1 : "Hello world 123 <s> \xe4\xb8\xad\xff";
    size_t tl = sep ? size - jl - 1 : strlen(text);
    clcdd_tokenizer *tok = NULL;
    if (clcdd_tokenizer_load_json((const char *)data, jl, "fuzz", &tok) != CLCDD_OK) return 0;
    clcdd_tokens t = {0};
    if (clcdd_tokenizer_encode(tok, text, tl, CLCDD_ENCODE_DEFAULT, &t) == CLCDD_OK) {
        char *out = NULL;
        size_t ol;
        if (clcdd_tokenizer_decode(tok, t.ids, t.n, 0, &out, &ol) == CLCDD_OK) clcdd_tokenizer_free_text(out);
        clcdd_decode_stream *s = NULL;
        if (clcdd_decode_stream_create(tok, 0, &s) == CLCDD_OK) {
            const char *p;
            size_t pl;
            for (size_t i = 0; i < t.n; i++) clcdd_decode_stream_push(s, t.ids[i], &p, &pl);
            clcdd_decode_stream_flush(s, &p, &pl);
            clcdd_decode_stream_destroy(s);
        }
    }
    clcdd_tokens_free(&t);
    clcdd_tokenizer_destroy(tok);
    return 0;
}
