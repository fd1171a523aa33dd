/* Exactness against Hugging Face tokenizers: every corpus string of
 * tests/fixtures/tokenizer/corpus.bin is encoded (with and without special-token parsing),
 * decoded, and stream-decoded, and compared with the reference output in <name>.expect.bin.
 * The first mismatch is reported with the string and both id sequences. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clcdd/tokenizer.h"
#include "fixtures.h"

#define FXDIR CLCDD_TEST_DATA "/fixtures/tokenizer"

static void show_ids(char *buf, size_t cap, const int32_t *ids, size_t n, size_t around) {
    size_t lo = around > 8 ? around - 8 : 0, hi = around + 8 < n ? around + 8 : n, o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "%s", lo ? "... " : "");
    for (size_t i = lo; i < hi && o < cap; i++) o += (size_t)snprintf(buf + o, cap - o, "%d ", (int)ids[i]);
    if (hi < n && o < cap) snprintf(buf + o, cap - o, "...");
}

static void show_text(char *buf, size_t cap, const char *s, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < n && i < 120 && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '\\') buf[o++] = (char)c;
        else o += (size_t)snprintf(buf + o, cap - o, "\\x%02X", c);
    }
    buf[o] = 0;
}

static int same_ids(const int32_t *a, size_t na, const int32_t *b, size_t nb, const char *what, size_t idx,
                    const tk_fx_str *s) {
    if (na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0)) return 1;
    size_t d = 0;
    while (d < na && d < nb && a[d] == b[d]) d++;
    char t[800], x[300], y[300];
    show_text(t, sizeof t, s->p, s->n);
    show_ids(x, sizeof x, a, na, d);
    show_ids(y, sizeof y, b, nb, d);
    cr_log_error("%s: string %zu \"%s\": first difference at id %zu\n  got:  %s (n=%zu)\n  want: %s (n=%zu)", what, idx,
                 t, d, x, na, y, nb);
    return 0;
}

static int same_text(const char *a, size_t na, const char *b, size_t nb, const char *what, size_t idx,
                     const tk_fx_str *s) {
    if (na == nb && memcmp(a, b, na) == 0) return 1;
    char t[800], x[800], y[800];
    show_text(t, sizeof t, s->p, s->n);
    show_text(x, sizeof x, a, na);
    show_text(y, sizeof y, b, nb);
    cr_log_error("%s: string %zu \"%s\"\n  got:  \"%s\"\n  want: \"%s\"", what, idx, t, x, y);
    return 0;
}

/* Compare everything for one tokenizer; returns the number of strings checked. */
static size_t check_all(clcdd_tokenizer *tok, const char *name, int check_stream) {
    tk_fx fx;
    const char *err = tk_fx_load(FXDIR, name, &fx);
    cr_assert(err == NULL, "%s: %s", name, err ? err : "");
    clcdd_tokens t = {0};
    size_t fails = 0, nospecial = 0;
    for (size_t i = 0; i < fx.n && fails < 3; i++) {
        const tk_fx_str *s = &fx.strs[i];
        const tk_fx_expect *e = &fx.exp[i];
        t.n = 0;
        cr_assert_eq(clcdd_tokenizer_encode(tok, s->p, s->n, CLCDD_ENCODE_DEFAULT, &t), CLCDD_OK, "%s: encode %zu: %s", name, i,
                     clcdd_last_error());
        if (!same_ids(t.ids, t.n, e->ids, e->n_ids, name, i, s)) { fails++; continue; }
        if (e->has_nospecial) {
            nospecial++;
            clcdd_tokens u = {0};
            cr_assert_eq(clcdd_tokenizer_encode(tok, s->p, s->n, 0, &u), CLCDD_OK);
            if (!same_ids(u.ids, u.n, e->ids_nospecial, e->n_nospecial, "no-special", i, s)) fails++;
            clcdd_tokens_free(&u);
        }
        char *d = NULL;
        size_t dl = 0;
        cr_assert_eq(clcdd_tokenizer_decode(tok, t.ids, t.n, CLCDD_DECODE_SKIP_SPECIAL, &d, &dl), CLCDD_OK);
        if (!same_text(d, dl, e->decoded.p, e->decoded.n, "decode(skip special)", i, s)) fails++;
        if (check_stream) {
            /* streaming: concatenating pushes + flush equals the one-shot decode */
            clcdd_decode_stream *st = NULL;
            cr_assert_eq(clcdd_decode_stream_create(tok, CLCDD_DECODE_SKIP_SPECIAL, &st), CLCDD_OK);
            char *acc = malloc(dl * 4 + 64);
            size_t an = 0;
            for (size_t k = 0; k <= t.n; k++) {
                const char *piece;
                size_t pl;
                if (k < t.n) cr_assert_eq(clcdd_decode_stream_push(st, t.ids[k], &piece, &pl), CLCDD_OK);
                else cr_assert_eq(clcdd_decode_stream_flush(st, &piece, &pl), CLCDD_OK);
                cr_assert(an + pl <= dl * 4 + 64);
                memcpy(acc + an, piece, pl);
                an += pl;
            }
            if (!same_text(acc, an, d, dl, "stream decode", i, s)) fails++;
            free(acc);
            clcdd_decode_stream_destroy(st);
        }
        clcdd_tokenizer_free_text(d);
        if (e->has_decoded_special) {
            cr_assert_eq(clcdd_tokenizer_decode(tok, t.ids, t.n, 0, &d, &dl), CLCDD_OK);
            if (!same_text(d, dl, e->decoded_special.p, e->decoded_special.n, "decode(keep special)", i, s)) fails++;
            clcdd_tokenizer_free_text(d);
        }
    }
    clcdd_tokens_free(&t);
    size_t n = fx.n;
    tk_fx_free(&fx);
    cr_assert_eq(fails, 0, "%s: %zu mismatches (first ones logged above)", name, fails);
    cr_log_info("%s: %zu strings (%zu also without special parsing) equal to HF tokenizers", name, n, nospecial);
    return n;
}

static void run_json(const char *name, int check_stream) {
    char path[1024];
    snprintf(path, sizeof path, FXDIR "/%s.tokenizer.json", name);
    clcdd_tokenizer *tok = NULL;
    cr_assert_eq(clcdd_tokenizer_load(path, &tok), CLCDD_OK, "%s", clcdd_last_error());
    check_all(tok, name, check_stream);
    clcdd_tokenizer_destroy(tok);
}

Test(tokenizer_exact, qwen2) { run_json("qwen2", 1); }
Test(tokenizer_exact, llama3) { run_json("llama3", 1); }
Test(tokenizer_exact, gpt2_prefix) { run_json("gpt2_prefix", 1); }
Test(tokenizer_exact, digits_bytelevel) { run_json("digits_bytelevel", 1); }
Test(tokenizer_exact, sp_legacy) { run_json("sp_legacy", 0); }
Test(tokenizer_exact, sp_metaspace_first) { run_json("sp_metaspace_first", 0); }
Test(tokenizer_exact, sp_metaspace_always_split) { run_json("sp_metaspace_always_split", 0); }
Test(tokenizer_exact, sp_metaspace_never) { run_json("sp_metaspace_never", 0); }
Test(tokenizer_exact, smollm2_json) { run_json("smollm2", 1); }

Test(tokenizer_exact, smollm2_gguf) {
    const char *path = getenv("CLCDD_SMOLLM2_GGUF");
    if (!path || !*path) {
        cr_skip_test("CLCDD_SMOLLM2_GGUF is not set (path to SmolLM2-135M-Instruct GGUF); GGUF path not compared");
    }
    clcdd_vocab_desc d;
    tk_gguf_vocab *owner = NULL;
    const char *err = tk_gguf_vocab_read(path, &d, &owner);
    cr_assert(err == NULL, "%s: %s", path, err ? err : "");
    clcdd_tokenizer *tok = NULL;
    cr_assert_eq(clcdd_tokenizer_from_vocab(&d, &tok), CLCDD_OK, "%s", clcdd_last_error());
    check_all(tok, "smollm2", 1);
    clcdd_tokenizer_destroy(tok);
    tk_gguf_vocab_free(owner);
}
