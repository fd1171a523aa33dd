/* Malformed GGUF files: each is refused with the right status and a message naming the problem,
 * with no crash, no out-of-bounds read and no huge allocation (runs under ASan+UBSan too).
 * Set CLCDD_DUMP_BAD_DIR to also write every case to disk (seeds for tests/fuzz). */
#include <criterion/criterion.h>

#include "clcdd/gguf.h"
#include "gguf_builder.h"
#include "loader_test_util.h"

/* A valid file with one key of every value type and three tensors. */
static void build_valid(gbuf *b) {
    gb_header(b, 3, 3, 8);
    gb_str(b, "general.architecture");
    gb_u32(b, CLCDD_GGUF_STRING);
    gb_str(b, "llama");
    gb_str(b, "k.u8");
    gb_u32(b, CLCDD_GGUF_U8);
    gb_u8(b, 7);
    gb_str(b, "k.bool");
    gb_u32(b, CLCDD_GGUF_BOOL);
    gb_u8(b, 1);
    gb_str(b, "k.f64");
    gb_u32(b, CLCDD_GGUF_F64);
    gb_u64(b, 0x3ff0000000000000ULL);
    gb_str(b, "k.i64");
    gb_u32(b, CLCDD_GGUF_I64);
    gb_u64(b, (uint64_t)-5);
    gb_str(b, "k.arr_u16");
    gb_u32(b, CLCDD_GGUF_ARRAY);
    gb_u32(b, CLCDD_GGUF_U16);
    gb_u64(b, 3);
    gb_u32(b, 0x00020001);
    gb_u8(b, 3);
    gb_u8(b, 0);
    gb_str(b, "k.arr_str");
    gb_u32(b, CLCDD_GGUF_ARRAY);
    gb_u32(b, CLCDD_GGUF_STRING);
    gb_u64(b, 2);
    gb_str(b, "x");
    gb_str(b, "yz");
    gb_str(b, "general.alignment");
    gb_u32(b, CLCDD_GGUF_U32);
    gb_u32(b, 32);
    uint64_t d1[2] = {32, 2}, d2[1] = {5}, d3[1] = {64};
    gb_tensor(b, "a.q8", 2, d1, CLCDD_GGML_Q8_0, 0);   /* 68 bytes, padded to 96 */
    gb_tensor(b, "b.f32", 1, d2, CLCDD_GGML_F32, 96);  /* 20 bytes, padded to 128 */
    gb_tensor(b, "c.f16", 1, d3, CLCDD_GGML_F16, 128); /* 128 bytes */
    gb_pad(b, 32);
    for (int i = 0; i < 256; i++) gb_u8(b, (uint8_t)(i == 1 ? 0x3c : 0)); /* Q8 d = 1.0 */
}

typedef struct bad_case {
    const char *id;
    clcdd_status expect;
    const char *needle;
} bad_case;

static const bad_case cases[] = {
    {"bad_magic", CLCDD_ERR_FORMAT, "magic"},
    {"version1", CLCDD_ERR_UNSUPPORTED, "version 1"},
    {"version_big_endian", CLCDD_ERR_UNSUPPORTED, "big-endian"},
    {"version_unknown", CLCDD_ERR_UNSUPPORTED, "version"},
    {"absurd_tensor_count", CLCDD_ERR_FORMAT, "can hold"},
    {"absurd_kv_count", CLCDD_ERR_FORMAT, "can hold"},
    {"max_counts", CLCDD_ERR_FORMAT, "can hold"},
    {"absurd_key_length", CLCDD_ERR_FORMAT, "beyond the end"},
    {"absurd_string_value_length", CLCDD_ERR_FORMAT, "beyond the end"},
    {"absurd_array_count", CLCDD_ERR_FORMAT, "past the end"},
    {"array_count_overflow", CLCDD_ERR_FORMAT, "past the end"},
    {"absurd_string_array_count", CLCDD_ERR_FORMAT, "strings"},
    {"string_array_elem_too_long", CLCDD_ERR_FORMAT, "beyond the end"},
    {"nested_array", CLCDD_ERR_FORMAT, "nested"},
    {"unknown_value_type", CLCDD_ERR_FORMAT, "unknown value type"},
    {"unknown_array_type", CLCDD_ERR_FORMAT, "unknown array element type"},
    {"bool_not_01", CLCDD_ERR_FORMAT, "bool"},
    {"bool_array_not_01", CLCDD_ERR_FORMAT, "bool"},
    {"duplicate_key", CLCDD_ERR_FORMAT, "duplicate metadata key"},
    {"duplicate_tensor", CLCDD_ERR_FORMAT, "duplicate tensor name"},
    {"key_with_nul", CLCDD_ERR_FORMAT, "NUL"},
    {"tensor_name_too_long", CLCDD_ERR_FORMAT, "longer than"},
    {"too_many_dims", CLCDD_ERR_FORMAT, "dimensions"},
    {"negative_dim", CLCDD_ERR_FORMAT, "negative"},
    {"elements_overflow", CLCDD_ERR_FORMAT, "overflows int64"},
    {"bytes_overflow", CLCDD_ERR_FORMAT, "overflows 64 bits"},
    {"unknown_ggml_type", CLCDD_ERR_FORMAT, "unknown ggml type"},
    {"removed_ggml_type", CLCDD_ERR_FORMAT, "unknown ggml type"},
    {"row_not_multiple_of_block", CLCDD_ERR_FORMAT, "block size"},
    {"alignment_not_pow2", CLCDD_ERR_FORMAT, "power of two"},
    {"alignment_zero", CLCDD_ERR_FORMAT, "power of two"},
    {"alignment_wrong_type", CLCDD_ERR_FORMAT, "must be a u32"},
    {"offset_unaligned", CLCDD_ERR_FORMAT, "multiple of the alignment"},
    {"offset_gap", CLCDD_ERR_FORMAT, "expected"},
    {"offset_overlap", CLCDD_ERR_FORMAT, "expected"},
    {"data_past_eof", CLCDD_ERR_FORMAT, "past the end"},
    {"huge_claimed_size", CLCDD_ERR_FORMAT, "past the end"},
    {"data_section_missing", CLCDD_ERR_FORMAT, "truncated"},
};

static void kv_hdr(gbuf *b, uint64_t n_t, uint64_t n_kv) { gb_header(b, 3, n_t, n_kv); }

static void build_bad(const char *id, gbuf *b) {
    uint64_t d1[1] = {32};
#define IS(x) (strcmp(id, x) == 0)
    if (IS("bad_magic")) {
        build_valid(b);
        b->p[0] = 'L';
    } else if (IS("version1") || IS("version_big_endian") || IS("version_unknown")) {
        build_valid(b);
        uint32_t v = IS("version1") ? 1 : IS("version_big_endian") ? 0x03000000u : 4;
        for (int i = 0; i < 4; i++) b->p[4 + i] = (unsigned char)(v >> (8 * i));
    } else if (IS("absurd_tensor_count")) {
        kv_hdr(b, 1ULL << 60, 0);
    } else if (IS("absurd_kv_count")) {
        kv_hdr(b, 0, 1ULL << 40);
        gb_str(b, "a");
    } else if (IS("max_counts")) {
        kv_hdr(b, UINT64_MAX, UINT64_MAX);
    } else if (IS("absurd_key_length")) {
        kv_hdr(b, 0, 1);
        gb_u64(b, 1ULL << 62);
        gb_bytes(b, "abcdefgh", 8);
    } else if (IS("absurd_string_value_length")) {
        kv_hdr(b, 0, 1);
        gb_str(b, "s");
        gb_u32(b, CLCDD_GGUF_STRING);
        gb_u64(b, UINT64_MAX);
    } else if (IS("absurd_array_count") || IS("array_count_overflow")) {
        kv_hdr(b, 0, 1);
        gb_str(b, "arr");
        gb_u32(b, CLCDD_GGUF_ARRAY);
        gb_u32(b, CLCDD_GGUF_U32);
        gb_u64(b, IS("absurd_array_count") ? 1000000 : (1ULL << 62) + 1);
        gb_u32(b, 1);
    } else if (IS("absurd_string_array_count")) {
        kv_hdr(b, 0, 1);
        gb_str(b, "arr");
        gb_u32(b, CLCDD_GGUF_ARRAY);
        gb_u32(b, CLCDD_GGUF_STRING);
        gb_u64(b, 1ULL << 59);
        gb_str(b, "x");
    } else if (IS("string_array_elem_too_long")) {
        kv_hdr(b, 0, 1);
        gb_str(b, "arr");
        gb_u32(b, CLCDD_GGUF_ARRAY);
        gb_u32(b, CLCDD_GGUF_STRING);
        gb_u64(b, 2);
        gb_str(b, "x");
        gb_u64(b, 1000);
        gb_bytes(b, "short", 5);
    } else if (IS("nested_array") || IS("unknown_array_type")) {
        kv_hdr(b, 0, 1);
        gb_str(b, "arr");
        gb_u32(b, CLCDD_GGUF_ARRAY);
        gb_u32(b, IS("nested_array") ? CLCDD_GGUF_ARRAY : 13);
        gb_u64(b, 1);
        gb_u32(b, CLCDD_GGUF_U8);
        gb_u64(b, 1);
        gb_u8(b, 0);
    } else if (IS("unknown_value_type")) {
        kv_hdr(b, 0, 1);
        gb_str(b, "v");
        gb_u32(b, 13);
        gb_u64(b, 0);
    } else if (IS("bool_not_01")) {
        kv_hdr(b, 0, 1);
        gb_str(b, "b");
        gb_u32(b, CLCDD_GGUF_BOOL);
        gb_u8(b, 2);
    } else if (IS("bool_array_not_01")) {
        kv_hdr(b, 0, 1);
        gb_str(b, "b");
        gb_u32(b, CLCDD_GGUF_ARRAY);
        gb_u32(b, CLCDD_GGUF_BOOL);
        gb_u64(b, 3);
        gb_u8(b, 0);
        gb_u8(b, 1);
        gb_u8(b, 255);
    } else if (IS("duplicate_key")) {
        kv_hdr(b, 0, 2);
        for (int i = 0; i < 2; i++) {
            gb_str(b, "same.key");
            gb_u32(b, CLCDD_GGUF_U8);
            gb_u8(b, 1);
        }
    } else if (IS("duplicate_tensor")) {
        kv_hdr(b, 2, 0);
        gb_tensor(b, "w", 1, d1, CLCDD_GGML_F32, 0);
        gb_tensor(b, "w", 1, d1, CLCDD_GGML_F32, 128);
        gb_pad(b, 32);
        for (int i = 0; i < 256; i++) gb_u8(b, 0);
    } else if (IS("key_with_nul")) {
        kv_hdr(b, 0, 1);
        gb_u64(b, 3);
        gb_bytes(b, "a\0b", 3);
        gb_u32(b, CLCDD_GGUF_U8);
        gb_u8(b, 0);
    } else if (IS("tensor_name_too_long")) {
        kv_hdr(b, 1, 0);
        gb_tensor(b, "0123456789012345678901234567890123456789012345678901234567890123456789", 1,
                  d1, CLCDD_GGML_F32, 0);
        gb_pad(b, 32);
        for (int i = 0; i < 128; i++) gb_u8(b, 0);
    } else if (IS("too_many_dims")) {
        kv_hdr(b, 1, 0);
        uint64_t d[5] = {1, 1, 1, 1, 1};
        gb_tensor(b, "w", 5, d, CLCDD_GGML_F32, 0);
    } else if (IS("negative_dim")) {
        kv_hdr(b, 1, 0);
        uint64_t d[2] = {4, (uint64_t)-1};
        gb_tensor(b, "w", 2, d, CLCDD_GGML_F32, 0);
    } else if (IS("elements_overflow")) {
        kv_hdr(b, 1, 0);
        uint64_t d[3] = {1ULL << 32, 1ULL << 32, 4};
        gb_tensor(b, "w", 3, d, CLCDD_GGML_F32, 0);
    } else if (IS("bytes_overflow")) {
        kv_hdr(b, 1, 0);
        uint64_t d[1] = {1ULL << 62};
        gb_tensor(b, "w", 1, d, CLCDD_GGML_F64, 0);
    } else if (IS("unknown_ggml_type") || IS("removed_ggml_type")) {
        kv_hdr(b, 1, 0);
        gb_tensor(b, "w", 1, d1, IS("unknown_ggml_type") ? 99 : 4, 0);
    } else if (IS("row_not_multiple_of_block")) {
        kv_hdr(b, 1, 0);
        uint64_t d[1] = {33};
        gb_tensor(b, "w", 1, d, CLCDD_GGML_Q8_0, 0);
    } else if (IS("alignment_not_pow2") || IS("alignment_zero") || IS("alignment_wrong_type")) {
        kv_hdr(b, 0, 1);
        gb_str(b, "general.alignment");
        if (IS("alignment_wrong_type")) {
            gb_u32(b, CLCDD_GGUF_U64);
            gb_u64(b, 32);
        } else {
            gb_u32(b, CLCDD_GGUF_U32);
            gb_u32(b, IS("alignment_zero") ? 0 : 48);
        }
    } else if (IS("offset_unaligned") || IS("offset_gap") || IS("offset_overlap")) {
        kv_hdr(b, 2, 0);
        gb_tensor(b, "a", 1, d1, CLCDD_GGML_F32, 0);
        gb_tensor(b, "b", 1, d1, CLCDD_GGML_F32,
                  IS("offset_unaligned") ? 130 : IS("offset_gap") ? 160 : 64);
        gb_pad(b, 32);
        for (int i = 0; i < 512; i++) gb_u8(b, 0);
    } else if (IS("data_past_eof")) {
        kv_hdr(b, 1, 0);
        gb_tensor(b, "a", 1, d1, CLCDD_GGML_F32, 0);
        gb_pad(b, 32);
        for (int i = 0; i < 127; i++) gb_u8(b, 0);
    } else if (IS("huge_claimed_size")) {
        kv_hdr(b, 1, 0);
        uint64_t d[2] = {1ULL << 20, 1ULL << 20};
        gb_tensor(b, "a", 2, d, CLCDD_GGML_F32, 0);
        gb_pad(b, 32);
        for (int i = 0; i < 64; i++) gb_u8(b, 0);
    } else if (IS("data_section_missing")) {
        kv_hdr(b, 1, 0);
        gb_tensor(b, "ab", 1, d1, CLCDD_GGML_F32, 0); /* header ends mid-alignment, no data */
    }
#undef IS
}

Test(gguf_bad, valid_base_opens) {
    gbuf b = {0};
    build_valid(&b);
    clcdd_gguf *g = NULL;
    cr_assert_eq(clcdd_gguf_open_memory(b.p, b.n, "valid", &g), CLCDD_OK, "%s", clcdd_last_error());
    clcdd_gguf_tensor t;
    cr_assert_eq(clcdd_gguf_find_tensor(g, "a.q8", &t), CLCDD_OK);
    float y[64];
    cr_assert_eq(clcdd_gguf_tensor_to_f32(&t, y, 64), CLCDD_OK);
    clcdd_gguf_array a;
    cr_assert_eq(clcdd_gguf_get_array(g, "k.arr_u16", &a), CLCDD_OK);
    uint64_t v;
    cr_assert_eq(clcdd_gguf_array_u64(g, &a, 1, &v), CLCDD_OK);
    cr_assert_eq(v, 2u);
    clcdd_gguf_close(g);
    free(b.p);
}

Test(gguf_bad, corpus) {
    const char *dump = getenv("CLCDD_DUMP_BAD_DIR");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gbuf b = {0};
        build_bad(cases[i].id, &b);
        cr_assert_gt(b.n, 0u, "%s: builder produced nothing", cases[i].id);
        clcdd_clear_error();
        clcdd_gguf *g = NULL;
        clcdd_status s = clcdd_gguf_open_memory(b.p, b.n, cases[i].id, &g);
        cr_expect_eq(s, cases[i].expect, "%s: got %d (%s)", cases[i].id, s, clcdd_last_error());
        cr_expect_null(g, "%s", cases[i].id);
        cr_expect(strstr(clcdd_last_error(), cases[i].needle) != NULL,
                  "%s: message '%s' lacks '%s'", cases[i].id, clcdd_last_error(), cases[i].needle);
        cr_expect(strstr(clcdd_last_error(), cases[i].id) != NULL, "%s: message names no file",
                  cases[i].id);
        if (dump) {
            char p[1024];
            snprintf(p, sizeof p, "%s/%s.gguf", dump, cases[i].id);
            test_write(p, b.p, b.n);
        }
        if (g) clcdd_gguf_close(g);
        free(b.p);
    }
}

/* The valid file truncated at every length (so at every section boundary) fails cleanly. */
Test(gguf_bad, truncated_everywhere) {
    gbuf b = {0};
    build_valid(&b);
    for (size_t len = 0; len < b.n; len++) {
        unsigned char *cut = malloc(len ? len : 1);
        memcpy(cut, b.p, len);
        clcdd_gguf *g = NULL;
        clcdd_status s = clcdd_gguf_open_memory(len ? cut : NULL, len, "cut", &g);
        cr_expect_eq(s, CLCDD_ERR_FORMAT, "truncated to %zu of %zu: %d %s", len, b.n, s,
                     clcdd_last_error());
        cr_expect_null(g);
        free(cut);
    }
    free(b.p);
}

/* Flip every byte of the header region to a few values: never a crash (status may be anything). */
Test(gguf_bad, byte_flips_never_crash) {
    gbuf b = {0};
    build_valid(&b);
    const unsigned char vals[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
    size_t header_end = b.n - 256;
    for (size_t pos = 0; pos < header_end; pos++) {
        for (size_t v = 0; v < sizeof vals; v++) {
            unsigned char *m = malloc(b.n);
            memcpy(m, b.p, b.n);
            m[pos] = vals[v];
            clcdd_gguf *g = NULL;
            if (clcdd_gguf_open_memory(m, b.n, "flip", &g) == CLCDD_OK) {
                for (size_t t = 0; t < clcdd_gguf_tensor_count(g); t++) {
                    clcdd_gguf_tensor ti;
                    clcdd_gguf_get_tensor(g, t, &ti);
                    if (ti.n_elements <= 4096 && clcdd_ggml_can_dequantize(ti.type)) {
                        float *y = malloc((size_t)ti.n_elements * sizeof *y + 4);
                        clcdd_gguf_tensor_to_f32(&ti, y, (size_t)ti.n_elements);
                        free(y);
                    }
                }
                clcdd_gguf_close(g);
            }
            free(m);
        }
    }
    free(b.p);
}

Test(gguf_bad, missing_file) {
    clcdd_gguf *g = NULL;
    cr_expect_eq(clcdd_gguf_open("/nonexistent/model.gguf", &g), CLCDD_ERR_IO);
    cr_expect(strstr(clcdd_last_error(), "/nonexistent/model.gguf"));
}
