/* Malformed safetensors files: each must be refused with the right status and a message naming
 * the problem, never a crash or an out-of-bounds read (this suite also runs under ASan+UBSan).
 * Set CLCDD_DUMP_BAD_DIR to also write every case to disk (seeds for tests/fuzz). */
#include <criterion/criterion.h>

#include "clcdd/safetensors.h"
#include "loader_test_util.h"

typedef struct bad_case {
    const char *id;
    const char *header;     /* JSON text; NULL means use raw below */
    uint64_t header_len;    /* 0: strlen(header); else the value written in the length field */
    size_t data_bytes;      /* bytes of data after the header */
    clcdd_status expect;
    const char *needle;     /* substring the message must contain */
} bad_case;

#define T(dt, shape, b, e) "{\"t\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[" b "," e "]}}"

static const bad_case cases[] = {
    {"leading_space", " {}", 0, 0, CLCDD_ERR_FORMAT, "start with '{'"},
    {"array_header", "[1,2]", 0, 0, CLCDD_ERR_FORMAT, "start with '{'"},
    {"syntax", "{\"t\":", 0, 0, CLCDD_ERR_FORMAT, "JSON invalid"},
    {"trailing_nul_pad", "{}\0\0\0\0\0\0", 8, 0, CLCDD_ERR_FORMAT, "JSON invalid"},
    {"bad_utf8", "{\"\xff\xfe\":1}", 0, 0, CLCDD_ERR_FORMAT, "UTF-8"},
    {"overlong_utf8", "{\"\xc0\xaf\":1}", 0, 0, CLCDD_ERR_FORMAT, "UTF-8"},
    {"duplicate_key", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                      "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 0, 1,
     CLCDD_ERR_FORMAT, "duplicate"},
    {"nul_in_key", "{\"a\\u0000b\":{}}", 0, 0, CLCDD_ERR_FORMAT, "JSON invalid"},
    {"unknown_dtype", T("F128", "[1]", "0", "16"), 0, 16, CLCDD_ERR_FORMAT, "unknown dtype"},
    {"lowercase_dtype", T("f32", "[1]", "0", "4"), 0, 4, CLCDD_ERR_FORMAT, "unknown dtype"},
    {"dtype_not_string", "{\"t\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,1]}}", 0, 1,
     CLCDD_ERR_FORMAT, "dtype"},
    {"missing_shape", "{\"t\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 0, 1, CLCDD_ERR_FORMAT, "shape"},
    {"entry_not_object", "{\"t\":[1,2]}", 0, 0, CLCDD_ERR_FORMAT, "not an object"},
    {"meta_not_object", "{\"__metadata__\":[\"a\"]}", 0, 0, CLCDD_ERR_FORMAT, "__metadata__"},
    {"meta_int_value", "{\"__metadata__\":{\"a\":1}}", 0, 0, CLCDD_ERR_FORMAT, "__metadata__"},
    {"meta_nested", "{\"__metadata__\":{\"a\":{\"b\":\"c\"}}}", 0, 0, CLCDD_ERR_FORMAT, "__metadata__"},
    {"negative_shape", T("U8", "[-1]", "0", "0"), 0, 0, CLCDD_ERR_FORMAT, "shape[0]"},
    {"float_shape", T("U8", "[2.0]", "0", "2"), 0, 2, CLCDD_ERR_FORMAT, "shape[0]"},
    {"huge_int_shape", T("U8", "[18446744073709551615]", "0", "1"), 0, 1, CLCDD_ERR_FORMAT, "JSON invalid"},
    {"negative_offset", T("U8", "[1]", "-1", "0"), 0, 1, CLCDD_ERR_FORMAT, "data_offsets"},
    {"float_offset", T("U8", "[1]", "0", "1.0"), 0, 1, CLCDD_ERR_FORMAT, "data_offsets"},
    {"three_offsets", "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 0, 1,
     CLCDD_ERR_FORMAT, "data_offsets"},
    {"end_before_begin", T("U8", "[0]", "2", "1"), 0, 2, CLCDD_ERR_FORMAT, "before begin"},
    {"size_mismatch", T("F32", "[3]", "0", "8"), 0, 8, CLCDD_ERR_FORMAT, "need 12"},
    {"shape_overflow", T("U8", "[4294967296,4294967296,2]", "0", "0"), 0, 0, CLCDD_ERR_FORMAT, "overflow"},
    {"bytes_overflow", T("F64", "[4611686018427387904]", "0", "0"), 0, 0, CLCDD_ERR_FORMAT, "overflow"},
    {"zero_dim_with_overflow", T("U8", "[4294967296,4294967296,0]", "0", "1"), 0, 1, CLCDD_ERR_FORMAT,
     "need 0"},
    {"f4_half_byte", T("F4", "[3]", "0", "2"), 0, 2, CLCDD_ERR_FORMAT, "whole bytes"},
    {"gap_at_start", T("U8", "[1]", "4", "5"), 0, 5, CLCDD_ERR_FORMAT, "gap"},
    {"gap_between", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                    "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]}}", 0, 3,
     CLCDD_ERR_FORMAT, "gap"},
    {"overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 0, 12,
     CLCDD_ERR_FORMAT, "overlaps"},
    {"alias", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4,
     CLCDD_ERR_FORMAT, "overlaps"},
    {"trailing_bytes", T("U8", "[1]", "0", "1"), 0, 2, CLCDD_ERR_FORMAT, "trailing bytes"},
    {"truncated_data", T("U8", "[4]", "0", "4"), 0, 3, CLCDD_ERR_FORMAT, "truncated"},
    {"huge_claimed_size", T("U8", "[1000000000000]", "0", "1000000000000"), 0, 8, CLCDD_ERR_FORMAT,
     "truncated"},
    {"header_len_past_eof", "{}", 4096, 0, CLCDD_ERR_FORMAT, "exceeds the file size"},
    {"header_len_too_large", "{}", 100000001ULL, 0, CLCDD_ERR_FORMAT, "header too large"},
    {"header_len_max", "{}", UINT64_MAX, 0, CLCDD_ERR_FORMAT, "header too large"},
};

/* Build: u64 length field, header bytes, data_bytes of 0xAB. */
static unsigned char *build(const bad_case *c, size_t *size) {
    size_t hl = c->header_len && c->header_len < 64 ? (size_t)c->header_len : strlen(c->header);
    uint64_t field = c->header_len ? c->header_len : hl;
    *size = 8 + hl + c->data_bytes;
    unsigned char *b = malloc(*size + 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(field >> (8 * i));
    memcpy(b + 8, c->header, hl);
    memset(b + 8 + hl, 0xab, c->data_bytes);
    return b;
}

Test(safetensors_bad, corpus) {
    const char *dump = getenv("CLCDD_DUMP_BAD_DIR");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case *c = &cases[i];
        size_t size;
        unsigned char *b = build(c, &size);
        clcdd_clear_error();
        clcdd_safetensors *st = NULL;
        clcdd_status s = clcdd_safetensors_open_memory(b, size, c->id, &st);
        cr_expect_eq(s, c->expect, "%s: got %d (%s)", c->id, s, clcdd_last_error());
        cr_expect_null(st, "%s", c->id);
        cr_expect(strstr(clcdd_last_error(), c->needle) != NULL, "%s: message '%s' lacks '%s'",
                  c->id, clcdd_last_error(), c->needle);
        cr_expect(strstr(clcdd_last_error(), c->id) != NULL, "%s: message names no file", c->id);
        if (dump) {
            char p[1024];
            snprintf(p, sizeof p, "%s/%s.safetensors", dump, c->id);
            test_write(p, b, size);
        }
        free(b);
    }
}

/* The same cases through the file path (mmap), to cover the on-disk reader. */
Test(safetensors_bad, corpus_on_disk) {
    const char *dir = test_tmpdir();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t size;
        unsigned char *b = build(&cases[i], &size);
        char p[1024];
        snprintf(p, sizeof p, "%s/%s.safetensors", dir, cases[i].id);
        cr_assert(test_write(p, b, size));
        clcdd_safetensors *st = NULL;
        cr_expect_eq(clcdd_safetensors_open(p, &st), cases[i].expect, "%s", cases[i].id);
        unlink(p);
        free(b);
    }
    rmdir(dir);
}

Test(safetensors_bad, tiny_and_missing_files) {
    clcdd_safetensors *st = NULL;
    const unsigned char seven[7] = {0};
    for (size_t n = 0; n < 8; n++) {
        cr_expect_eq(clcdd_safetensors_open_memory(n ? seven : NULL, n, "tiny", &st), CLCDD_ERR_FORMAT);
        cr_expect(strstr(clcdd_last_error(), "too small"), "%s", clcdd_last_error());
    }
    cr_expect_eq(clcdd_safetensors_open("/nonexistent/x.safetensors", &st), CLCDD_ERR_IO);
    cr_expect(strstr(clcdd_last_error(), "/nonexistent/x.safetensors"));
    const char *dir = test_tmpdir();
    char p[700];
    snprintf(p, sizeof p, "%s/empty.safetensors", dir);
    cr_assert(test_write(p, "", 0));
    cr_expect_eq(clcdd_safetensors_open(p, &st), CLCDD_ERR_FORMAT);
    unlink(p);
    cr_expect_eq(clcdd_safetensors_open(dir, &st), CLCDD_ERR_NOT_FOUND);
    rmdir(dir);
}

/* A valid file truncated at every length (every section boundary and everything between) fails
 * cleanly; so does one byte appended. */
Test(safetensors_bad, truncated_everywhere) {
    const char *dir = test_tmpdir();
    char p[700];
    snprintf(p, sizeof p, "%s/ok.safetensors", dir);
    float a[5] = {1, 2, 3, 4, 5};
    uint16_t h[3] = {1, 2, 3};
    uint64_t sa[1] = {5}, sh[1] = {3};
    clcdd_st_write_tensor t[] = {{"a", CLCDD_DTYPE_F32, 1, sa, a}, {"h", CLCDD_DTYPE_F16, 1, sh, h}};
    const char *meta[] = {"k", "v"};
    cr_assert_eq(clcdd_safetensors_write(p, t, 2, meta, 1), CLCDD_OK);
    char *data;
    size_t n;
    FILE *f = fopen(p, "rb");
    fseek(f, 0, SEEK_END);
    n = (size_t)ftell(f);
    rewind(f);
    data = malloc(n + 1);
    cr_assert_eq(fread(data, 1, n, f), n);
    fclose(f);
    clcdd_safetensors *st = NULL;
    cr_assert_eq(clcdd_safetensors_open_memory(data, n, "ok", &st), CLCDD_OK);
    clcdd_safetensors_close(st);
    for (size_t len = 0; len < n; len++) {
        /* copy so ASan catches any read past the truncated end */
        unsigned char *cut = malloc(len ? len : 1);
        memcpy(cut, data, len);
        st = NULL;
        cr_expect_eq(clcdd_safetensors_open_memory(cut, len, "cut", &st), CLCDD_ERR_FORMAT,
                     "truncated to %zu of %zu bytes", len, n);
        cr_expect_null(st);
        free(cut);
    }
    data[n] = 0;
    cr_expect_eq(clcdd_safetensors_open_memory(data, n + 1, "plus1", &st), CLCDD_ERR_FORMAT);
    free(data);
    unlink(p);
    rmdir(dir);
}
