/* clcdd tokenizers: BPE as in Hugging Face `tokenizers`, built from a tokenizer.json or from the
 * vocabulary arrays of a GGUF file, token-for-token equal to the reference.
 *
 * Supported: byte-level BPE (Qwen2/3, Llama-3, SmolLM2, GPT-2 style) and SentencePiece-style BPE
 * (Llama-2, Mistral, TinyLlama) with byte fallback. Anything else (WordPiece, Unigram, unknown
 * normalizers or pre-tokenizers) is refused with CLCDD_ERR_UNSUPPORTED and a message naming it.
 *
 * Text in and out is UTF-8. Input bytes that are not valid UTF-8 are replaced by U+FFFD (maximal
 * subpart rule, as Python's bytes.decode(errors="replace") and Rust's from_utf8_lossy) before
 * tokenizing, since the reference only accepts valid strings.
 *
 * A tokenizer is immutable after creation; encode/decode may be called from several threads. */
#ifndef CLCDD_TOKENIZER_H
#define CLCDD_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>
#include "clcdd/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clcdd_tokenizer clcdd_tokenizer;

/* A growable id array the caller owns; encode appends to it. Zero-initialise, reuse across calls
 * (set n = 0), release with clcdd_tokens_free. */
typedef struct clcdd_tokens {
    int32_t *ids;
    size_t n;
    size_t cap;
} clcdd_tokens;

CLCDD_API void clcdd_tokens_free(clcdd_tokens *t);

/* Load from a tokenizer.json file, or from a directory containing one. */
CLCDD_API clcdd_status clcdd_tokenizer_load(const char *path, clcdd_tokenizer **out);

/* Load from tokenizer.json bytes in memory; `name` is used in error messages. */
CLCDD_API clcdd_status clcdd_tokenizer_load_json(const char *json, size_t len, const char *name,
                                                 clcdd_tokenizer **out);

/* Vocabulary as stored in GGUF metadata (tokenizer.ggml.*), as plain arrays so that any GGUF
 * reader can fill it. Strings are not necessarily NUL-terminated: lengths are given. */
typedef enum clcdd_vocab_kind {
    CLCDD_VOCAB_GPT2 = 1,  /* tokenizer.ggml.model "gpt2": byte-level BPE with merges */
    CLCDD_VOCAB_LLAMA = 2  /* tokenizer.ggml.model "llama": SentencePiece BPE with scores */
} clcdd_vocab_kind;

/* tokenizer.ggml.token_type values */
enum {
    CLCDD_TOKEN_TYPE_NORMAL = 1,
    CLCDD_TOKEN_TYPE_UNKNOWN = 2,
    CLCDD_TOKEN_TYPE_CONTROL = 3,
    CLCDD_TOKEN_TYPE_USER_DEFINED = 4,
    CLCDD_TOKEN_TYPE_UNUSED = 5,
    CLCDD_TOKEN_TYPE_BYTE = 6
};

typedef struct clcdd_vocab_desc {
    clcdd_vocab_kind kind;
    const char *pre;              /* tokenizer.ggml.pre, NUL-terminated, or NULL for "default" */
    size_t n_tokens;
    const char *const *tokens;    /* [n_tokens] */
    const size_t *token_lens;     /* [n_tokens] */
    const float *scores;          /* [n_tokens] or NULL (required for LLAMA) */
    const int32_t *types;         /* [n_tokens] or NULL (all normal) */
    size_t n_merges;              /* GPT2: "a b" strings, rank = index */
    const char *const *merges;
    const size_t *merge_lens;
    int32_t bos_id, eos_id, unk_id, pad_id; /* -1 = absent */
    int add_bos;                  /* -1 = absent (defaults: LLAMA 1, GPT2 0) */
    int add_eos;                  /* -1 = absent (0) */
    int add_space_prefix;         /* -1 = absent (LLAMA 1) */
    const char *name;             /* for messages, e.g. the GGUF path; may be NULL */
} clcdd_vocab_desc;

/* Initialise every field of *d to "absent" (ids -1, flags -1, pointers NULL). */
CLCDD_API void clcdd_vocab_desc_init(clcdd_vocab_desc *d);

CLCDD_API clcdd_status clcdd_tokenizer_from_vocab(const clcdd_vocab_desc *d, clcdd_tokenizer **out);

/* From a GGUF file's tokenizer.ggml.* metadata (model, pre, tokens, scores, token_type, merges,
 * special ids and add_* flags). CLCDD_ERR_NOT_FOUND when the file has no tokenizer. The open-GGUF
 * variant does not keep the file; `name` is used in messages. */
struct clcdd_gguf;
CLCDD_API clcdd_status clcdd_tokenizer_load_gguf(const char *path, clcdd_tokenizer **out);
CLCDD_API clcdd_status clcdd_tokenizer_from_gguf(const struct clcdd_gguf *g, const char *name,
                                                 clcdd_tokenizer **out);
CLCDD_API void clcdd_tokenizer_destroy(clcdd_tokenizer *tok);

/* Encode flags. */
enum {
    CLCDD_ENCODE_ADD_SPECIAL = 1u << 0,   /* apply the post-processor (BOS/EOS) */
    CLCDD_ENCODE_PARSE_SPECIAL = 1u << 1, /* special-token strings in the text become their ids;
                                             without it they are tokenized as plain text (use for
                                             untrusted user text). Non-special added tokens are
                                             always matched, as in the reference. */
    CLCDD_ENCODE_DEFAULT = CLCDD_ENCODE_ADD_SPECIAL | CLCDD_ENCODE_PARSE_SPECIAL
};

/* Append the ids of `text` (len bytes) to *out. */
CLCDD_API clcdd_status clcdd_tokenizer_encode(const clcdd_tokenizer *tok, const char *text, size_t len,
                                              unsigned flags, clcdd_tokens *out);

/* Decode flags. */
enum { CLCDD_DECODE_SKIP_SPECIAL = 1u << 0 };

/* Decode ids to a malloc'd NUL-terminated UTF-8 string (*len excludes the NUL); release it with
 * clcdd_tokenizer_free_text. Unknown ids are an error. */
CLCDD_API clcdd_status clcdd_tokenizer_decode(const clcdd_tokenizer *tok, const int32_t *ids, size_t n,
                                              unsigned flags, char **text, size_t *len);
CLCDD_API void clcdd_tokenizer_free_text(char *text);

CLCDD_API size_t clcdd_tokenizer_vocab_size(const clcdd_tokenizer *tok);
/* Token string as stored in the vocabulary (byte-level alphabet, ▁ etc.), or NULL. */
CLCDD_API const char *clcdd_tokenizer_token(const clcdd_tokenizer *tok, int32_t id, size_t *len);
/* Id of an exact token string (vocab or added token), or -1. */
CLCDD_API int32_t clcdd_tokenizer_token_id(const clcdd_tokenizer *tok, const char *s, size_t len);
CLCDD_API int clcdd_tokenizer_is_special(const clcdd_tokenizer *tok, int32_t id);
CLCDD_API int32_t clcdd_tokenizer_bos_id(const clcdd_tokenizer *tok); /* -1 if none */
CLCDD_API int32_t clcdd_tokenizer_eos_id(const clcdd_tokenizer *tok); /* -1 if none */

/* Streaming decoder: feed ids one at a time, get the text that is complete so far. Bytes of an
 * unfinished UTF-8 sequence are held back until the next token completes them; invalid
 * sequences come out as U+FFFD. */
typedef struct clcdd_decode_stream clcdd_decode_stream;

CLCDD_API clcdd_status clcdd_decode_stream_create(const clcdd_tokenizer *tok, unsigned flags,
                                                  clcdd_decode_stream **out);
/* Push one id; *text points to the newly completed text (*len bytes, may be 0), valid until the
 * next call on this stream. */
CLCDD_API clcdd_status clcdd_decode_stream_push(clcdd_decode_stream *s, int32_t id, const char **text,
                                                size_t *len);
/* Emit what is held back (an incomplete sequence becomes U+FFFD) and reset to the start state. */
CLCDD_API clcdd_status clcdd_decode_stream_flush(clcdd_decode_stream *s, const char **text, size_t *len);
CLCDD_API void clcdd_decode_stream_destroy(clcdd_decode_stream *s);

#ifdef __cplusplus
}
#endif
#endif
