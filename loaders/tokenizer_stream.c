/* Streaming decoder: bytes of each token are appended to a pending buffer; everything up to an
 * unfinished UTF-8 sequence at the end is emitted (invalid sequences as U+FFFD). */
#include <stdlib.h>
#include <string.h>
#include "clcdd_internal.h"
#include "tokenizer_internal.h"

struct clcdd_decode_stream {
    const clcdd_tokenizer *tok;
    unsigned flags;
    int started;       /* a token has been decoded since creation / flush */
    tk_buf pending;    /* raw bytes not yet emitted */
    tk_buf out;        /* last emitted text */
};

clcdd_status clcdd_decode_stream_create(const clcdd_tokenizer *tok, unsigned flags, clcdd_decode_stream **out) {
    if (!tok || !out) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "decode_stream_create: NULL argument");
    clcdd_decode_stream *s = calloc(1, sizeof *s);
    if (!s) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    s->tok = tok;
    s->flags = flags;
    *out = s;
    return CLCDD_OK;
}

static clcdd_status emit(clcdd_decode_stream *s, size_t keep, const char **text, size_t *len) {
    s->out.n = 0;
    size_t n = s->pending.n - keep;
    if (!tk_buf_reserve(&s->out, 1) || !tk_utf8_lossy(&s->out, s->pending.p ? s->pending.p : "", n))
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    if (keep) memmove(s->pending.p, s->pending.p + n, keep);
    s->pending.n = keep;
    *text = s->out.p;
    if (len) *len = s->out.n;
    return CLCDD_OK;
}

clcdd_status clcdd_decode_stream_push(clcdd_decode_stream *s, int32_t id, const char **text, size_t *len) {
    if (!s || !text) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "decode_stream_push: NULL argument");
    const clcdd_tokenizer *tok = s->tok;
    if (id < 0 || (size_t)id >= tok->vocab.n || !tok->vocab.str[id])
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "decode_stream_push: id %d is not in the vocabulary", (int)id);
    if (!((s->flags & CLCDD_DECODE_SKIP_SPECIAL) && tok->is_special[id])) {
        if (!tk_buf_reserve(&s->pending, 8)) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
        if (!tok->has_decoder && s->started && !tk_buf_put(&s->pending, " ", 1))
            return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
        if (!tk_decode_token_bytes(tok, id, !s->started, &s->pending))
            return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
        s->started = 1;
    }
    return emit(s, tk_utf8_incomplete_tail(s->pending.p, s->pending.n), text, len);
}

clcdd_status clcdd_decode_stream_flush(clcdd_decode_stream *s, const char **text, size_t *len) {
    if (!s || !text) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "decode_stream_flush: NULL argument");
    clcdd_status st = emit(s, 0, text, len);
    s->started = 0;
    return st;
}

void clcdd_decode_stream_destroy(clcdd_decode_stream *s) {
    if (!s) return;
    tk_buf_free(&s->pending);
    tk_buf_free(&s->out);
    free(s);
}
