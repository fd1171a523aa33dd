/* Small behaviour tests: errors name what is wrong, streaming holds back partial UTF-8. */
#include <criterion/criterion.h>
#include <string.h>
#include "clcdd/tokenizer.h"

static const char *MINI_BL =
    "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\"\xc3\xa2\":3,\"\xc4\xa0\":4},"
    "\"merges\":[\"a b\"]},\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true},"
    "\"decoder\":{\"type\":\"ByteLevel\"},\"added_tokens\":[]}";

Test(tokenizer_unit, refuses_unknown_types) {
    const char *j = "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}";
    clcdd_tokenizer *t = NULL;
    cr_assert_eq(clcdd_tokenizer_load_json(j, strlen(j), "x.json", &t), CLCDD_ERR_UNSUPPORTED);
    cr_assert(strstr(clcdd_last_error(), "WordPiece") && strstr(clcdd_last_error(), "x.json"), "%s", clcdd_last_error());
    const char *k = "{\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]},\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"}}";
    cr_assert_eq(clcdd_tokenizer_load_json(k, strlen(k), "y.json", &t), CLCDD_ERR_UNSUPPORTED);
    cr_assert(strstr(clcdd_last_error(), "BertPreTokenizer"), "%s", clcdd_last_error());
    const char *m = "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a c\"]}}";
    cr_assert_eq(clcdd_tokenizer_load_json(m, strlen(m), "z.json", &t), CLCDD_ERR_FORMAT);
    cr_assert(strstr(clcdd_last_error(), "merge 0"), "%s", clcdd_last_error());
    cr_assert_eq(clcdd_tokenizer_load_json("{", 1, "w.json", &t), CLCDD_ERR_FORMAT);
    clcdd_vocab_desc d;
    clcdd_vocab_desc_init(&d);
    const char *toks[] = {"a"};
    d.kind = CLCDD_VOCAB_GPT2;
    d.tokens = toks;
    d.n_tokens = 1;
    d.pre = "mystery";
    cr_assert_eq(clcdd_tokenizer_from_vocab(&d, &t), CLCDD_ERR_UNSUPPORTED);
    cr_assert(strstr(clcdd_last_error(), "mystery"), "%s", clcdd_last_error());
}

Test(tokenizer_unit, stream_holds_partial_utf8) {
    clcdd_tokenizer *t = NULL;
    cr_assert_eq(clcdd_tokenizer_load_json(MINI_BL, strlen(MINI_BL), "mini", &t), CLCDD_OK, "%s", clcdd_last_error());
    /* "â" (U+00E2) is byte 0xE2 in the byte-level alphabet: a lone lead byte of a 3-byte sequence */
    clcdd_decode_stream *s = NULL;
    cr_assert_eq(clcdd_decode_stream_create(t, 0, &s), CLCDD_OK);
    const char *p;
    size_t n;
    cr_assert_eq(clcdd_decode_stream_push(s, 2, &p, &n), CLCDD_OK);
    cr_assert(n == 2 && memcmp(p, "ab", 2) == 0);
    cr_assert_eq(clcdd_decode_stream_push(s, 3, &p, &n), CLCDD_OK);
    cr_assert_eq(n, 0, "partial sequence must be held back");
    cr_assert_eq(clcdd_decode_stream_push(s, 4, &p, &n), CLCDD_OK); /* 0x20 breaks it: U+FFFD then space */
    cr_assert(n == 4 && memcmp(p, "\xEF\xBF\xBD ", 4) == 0);
    cr_assert_eq(clcdd_decode_stream_push(s, 3, &p, &n), CLCDD_OK);
    cr_assert_eq(clcdd_decode_stream_flush(s, &p, &n), CLCDD_OK);
    cr_assert(n == 3 && memcmp(p, "\xEF\xBF\xBD", 3) == 0);
    clcdd_decode_stream_destroy(s);
    int32_t bad = 99;
    char *txt;
    cr_assert_eq(clcdd_tokenizer_decode(t, &bad, 1, 0, &txt, &n), CLCDD_ERR_INVALID_ARGUMENT);
    clcdd_tokenizer_destroy(t);
}
