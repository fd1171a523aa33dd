/* GGUF: a file written by gguf-py with every supported tensor type and every metadata value type
 * (tests/fixtures/make_format_fixtures.py), compared with gguf-py's own dequantisation.
 * Tolerance: 0 (bit-identical) for every type. Our dequantisers perform ggml's float operations
 * in the same order as gguf-py's numpy code for these types, so exact equality is expected; a
 * mismatch is reported with the largest difference. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "clcdd/gguf.h"
#include "clcdd/safetensors.h"
#include "gguf_builder.h"
#include "loader_test_util.h"

static clcdd_gguf *open_types(void) {
    clcdd_gguf *g = NULL;
    clcdd_status s = clcdd_gguf_open(FIXTURES "/gguf_types.gguf", &g);
    cr_assert_eq(s, CLCDD_OK, "%s", clcdd_last_error());
    return g;
}

/* Every metadata value of gguf_types.gguf (tensors aside). */
static void check_metadata(clcdd_gguf *g) {
    cr_assert_eq(clcdd_gguf_version(g), 3u);
    cr_assert_eq(clcdd_gguf_alignment(g), 32u);
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    int64_t i64;
    float f32;
    double f64;
    int b;
    clcdd_gguf_str s;
    cr_assert_eq(clcdd_gguf_get_u32(g, "test.u8", &u32), CLCDD_OK);
    cr_assert_eq(u32, 200u);
    cr_assert_eq(clcdd_gguf_get_i32(g, "test.i8", &i32), CLCDD_OK);
    cr_assert_eq(i32, -100);
    cr_assert_eq(clcdd_gguf_get_u32(g, "test.u16", &u32), CLCDD_OK);
    cr_assert_eq(u32, 60000u);
    cr_assert_eq(clcdd_gguf_get_i32(g, "test.i16", &i32), CLCDD_OK);
    cr_assert_eq(i32, -30000);
    cr_assert_eq(clcdd_gguf_get_u32(g, "test.u32", &u32), CLCDD_OK);
    cr_assert_eq(u32, 4000000000u);
    cr_assert_eq(clcdd_gguf_get_i32(g, "test.u32", &i32), CLCDD_ERR_FORMAT); /* out of range */
    cr_assert(strstr(clcdd_last_error(), "test.u32"));
    cr_assert_eq(clcdd_gguf_get_i32(g, "test.i32", &i32), CLCDD_OK);
    cr_assert_eq(i32, -2000000000);
    cr_assert_eq(clcdd_gguf_get_u32(g, "test.i32", &u32), CLCDD_ERR_FORMAT);
    cr_assert_eq(clcdd_gguf_get_f32(g, "test.f32", &f32), CLCDD_OK);
    cr_assert_eq(f32, 1.5e-5f);
    cr_assert_eq(clcdd_gguf_get_u32(g, "test.f32", &u32), CLCDD_ERR_FORMAT);
    cr_assert_eq(clcdd_gguf_get_bool(g, "test.bool", &b), CLCDD_OK);
    cr_assert_eq(b, 1);
    cr_assert_eq(clcdd_gguf_get_string(g, "test.string", &s), CLCDD_OK);
    cr_assert(s.len == strlen("héllo ✓") && memcmp(s.data, "héllo ✓", s.len) == 0);
    cr_assert_eq(clcdd_gguf_get_u64(g, "test.u64", &u64), CLCDD_OK);
    cr_assert_eq(u64, (1ULL << 63) + 5);
    cr_assert_eq(clcdd_gguf_get_i64(g, "test.u64", &i64), CLCDD_ERR_FORMAT);
    cr_assert_eq(clcdd_gguf_get_i64(g, "test.i64", &i64), CLCDD_OK);
    cr_assert_eq(i64, -(1LL << 62));
    cr_assert_eq(clcdd_gguf_get_f64(g, "test.f64", &f64), CLCDD_OK);
    cr_assert_eq(f64, 1.0 / 3.0);
    cr_assert_eq(clcdd_gguf_get_u32(g, "llama.context_length", &u32), CLCDD_OK);
    cr_assert_eq(u32, 2048u);
    cr_assert_eq(clcdd_gguf_get_string(g, "general.architecture", &s), CLCDD_OK);
    cr_assert(s.len == 5 && memcmp(s.data, "llama", 5) == 0);
    cr_assert_eq(clcdd_gguf_get_u32(g, "no.such.key", &u32), CLCDD_ERR_NOT_FOUND);
    cr_assert(strstr(clcdd_last_error(), "no.such.key"));
    cr_assert_eq(clcdd_gguf_get_string(g, "test.u8", &s), CLCDD_ERR_FORMAT);

    clcdd_gguf_array a;
    cr_assert_eq(clcdd_gguf_get_array(g, "test.arr_str", &a), CLCDD_OK);
    cr_assert(a.elem_type == CLCDD_GGUF_STRING && a.count == 4);
    const char *want[] = {"a", "", "ĠtheĊ", "<|im_end|>"};
    for (uint64_t i = 0; i < 4; i++) {
        cr_assert_eq(clcdd_gguf_array_string(g, &a, i, &s), CLCDD_OK);
        cr_assert(s.len == strlen(want[i]) && memcmp(s.data, want[i], s.len) == 0);
    }
    cr_assert_eq(clcdd_gguf_array_string(g, &a, 4, &s), CLCDD_ERR_INVALID_ARGUMENT);
    cr_assert_eq(clcdd_gguf_array_i64(g, &a, 0, &i64), CLCDD_ERR_FORMAT);
    cr_assert_eq(clcdd_gguf_get_array(g, "test.arr_i32", &a), CLCDD_OK);
    cr_assert(a.elem_type == CLCDD_GGUF_I32 && a.count == 3);
    cr_assert_eq(clcdd_gguf_array_i64(g, &a, 1, &i64), CLCDD_OK);
    cr_assert_eq(i64, -2);
    cr_assert_eq(clcdd_gguf_array_u64(g, &a, 1, &u64), CLCDD_ERR_FORMAT);
    cr_assert_not_null(clcdd_gguf_array_data(g, &a));
    cr_assert_eq(clcdd_gguf_get_array(g, "test.arr_f32", &a), CLCDD_OK);
    cr_assert_eq(clcdd_gguf_array_f32(g, &a, 1, &f32), CLCDD_OK);
    cr_assert_eq(f32, -1.25f);
    cr_assert_eq(clcdd_gguf_get_array(g, "test.arr_bool", &a), CLCDD_OK);
    cr_assert_eq(clcdd_gguf_array_i64(g, &a, 0, &i64), CLCDD_OK);
    cr_assert_eq(i64, 1);
    /* listing by index */
    size_t idx;
    cr_assert_eq(clcdd_gguf_find_key(g, "test.string", &idx), CLCDD_OK);
    cr_assert_str_eq(clcdd_gguf_kv_key(g, idx), "test.string");
    cr_assert_eq(clcdd_gguf_kv_type(g, idx), CLCDD_GGUF_STRING);
}

Test(gguf, metadata_every_type) {
    clcdd_gguf *g = open_types();
    check_metadata(g);
    clcdd_gguf_close(g);
}

/* clcdd_gguf_write_metadata: every pair copied (all prefixes) reads back with the same values and
 * types and no tensors; a prefix subset holds exactly the matching pairs. */
Test(gguf, metadata_copy_reads_back) {
    clcdd_gguf *g = open_types(), *c = NULL;
    char dir[] = "/tmp/clcdd_gguf_meta_XXXXXX", path[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/all.gguf", dir);
    static const char *const all[] = {"test.", "general.", "llama."}, *const arr[] = {"test.arr_"};
    size_t n = 0;
    cr_assert_eq(clcdd_gguf_write_metadata(g, all, 3, path, &n), CLCDD_OK, "%s", clcdd_last_error());
    cr_assert_eq(n, clcdd_gguf_kv_count(g));
    cr_assert_eq(clcdd_gguf_open(path, &c), CLCDD_OK, "%s", clcdd_last_error());
    cr_assert_eq(clcdd_gguf_kv_count(c), clcdd_gguf_kv_count(g));
    cr_assert_eq(clcdd_gguf_tensor_count(c), 0u);
    check_metadata(c);
    clcdd_gguf_close(c);
    remove(path);
    snprintf(path, sizeof path, "%s/arr.gguf", dir);
    cr_assert_eq(clcdd_gguf_write_metadata(g, arr, 1, path, &n), CLCDD_OK, "%s", clcdd_last_error());
    cr_assert_eq(n, 4u);
    cr_assert_eq(clcdd_gguf_open(path, &c), CLCDD_OK, "%s", clcdd_last_error());
    cr_assert_eq(clcdd_gguf_kv_count(c), 4u);
    size_t idx;
    cr_assert_eq(clcdd_gguf_find_key(c, "general.architecture", &idx), CLCDD_ERR_NOT_FOUND);
    clcdd_gguf_array a;
    clcdd_gguf_str s;
    cr_assert_eq(clcdd_gguf_get_array(c, "test.arr_str", &a), CLCDD_OK);
    cr_assert_eq(clcdd_gguf_array_string(c, &a, 3, &s), CLCDD_OK);
    cr_assert(s.len == strlen("<|im_end|>") && memcmp(s.data, "<|im_end|>", s.len) == 0);
    clcdd_gguf_close(c);
    remove(path);
    rmdir(dir);
    clcdd_gguf_close(g);
}

Test(gguf, dequantise_matches_gguf_py) {
    clcdd_gguf *g = open_types();
    clcdd_safetensors *ex = NULL;
    cr_assert_eq(clcdd_safetensors_open(FIXTURES "/gguf_types_expected_f32.safetensors", &ex), CLCDD_OK);
    cr_assert_eq(clcdd_gguf_tensor_count(g), clcdd_safetensors_count(ex));
    cr_assert_eq(clcdd_gguf_tensor_count(g), 12u);
    for (size_t i = 0; i < clcdd_gguf_tensor_count(g); i++) {
        clcdd_gguf_tensor t;
        clcdd_st_tensor e;
        cr_assert_eq(clcdd_gguf_get_tensor(g, i, &t), CLCDD_OK);
        cr_assert_eq(clcdd_safetensors_find(ex, t.name, &e), CLCDD_OK, "%s", t.name);
        cr_assert_eq(t.n_elements, e.n_elements, "%s", t.name);
        /* ggml dims are the reverse of numpy's shape */
        cr_assert_eq(t.n_dims, e.n_dims, "%s", t.name);
        for (uint32_t d = 0; d < t.n_dims; d++)
            cr_assert_eq(t.dims[d], e.shape[e.n_dims - 1 - d], "%s dim %u", t.name, d);
        cr_assert_eq((clcdd_gguf_data_offset(g) + t.offset) % 32, 0u);
        size_t n = (size_t)t.n_elements;
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        cr_assert_eq(clcdd_gguf_tensor_to_f32(&t, a, n), CLCDD_OK, "%s: %s", t.name, clcdd_last_error());
        cr_assert_eq(clcdd_tensor_to_f32(&e, b, n), CLCDD_OK);
        double maxdiff = 0;
        size_t bad = 0;
        for (size_t k = 0; k < n; k++) {
            if (!same_float(a[k], b[k])) bad++;
            double dd = fabs((double)a[k] - (double)b[k]);
            if (dd > maxdiff) maxdiff = dd;
        }
        cr_expect_eq(bad, 0u, "%s (%s): %zu of %zu values differ, max |diff| %.3g", t.name,
                     clcdd_ggml_type_name(t.type), bad, n, maxdiff);
        free(a);
        free(b);
    }
    clcdd_gguf_tensor t;
    cr_assert_eq(clcdd_gguf_find_tensor(g, "t.q4_k", &t), CLCDD_OK);
    cr_assert_eq(t.type, CLCDD_GGML_Q4_K);
    cr_assert(t.dims[0] == 256 && t.dims[1] == 3 && t.n_bytes == 3 * 144);
    cr_assert_eq(clcdd_gguf_find_tensor(g, "t.nope", &t), CLCDD_ERR_NOT_FOUND);
    clcdd_safetensors_close(ex);
    clcdd_gguf_close(g);
}

Test(gguf, big_endian_is_detected) {
    clcdd_gguf *g = NULL;
    cr_assert_eq(clcdd_gguf_open(FIXTURES "/gguf_bigendian.gguf", &g), CLCDD_ERR_UNSUPPORTED);
    cr_assert(strstr(clcdd_last_error(), "big-endian"), "%s", clcdd_last_error());
    cr_assert_null(g);
}

/* Version 2 has the same layout: patch the fixture's version field. */
Test(gguf, version2_accepted_version1_refused) {
    char *data;
    size_t n;
    FILE *f = fopen(FIXTURES "/gguf_types.gguf", "rb");
    fseek(f, 0, SEEK_END);
    n = (size_t)ftell(f);
    rewind(f);
    data = malloc(n);
    cr_assert_eq(fread(data, 1, n, f), n);
    fclose(f);
    data[4] = 2;
    clcdd_gguf *g = NULL;
    cr_assert_eq(clcdd_gguf_open_memory(data, n, "v2", &g), CLCDD_OK, "%s", clcdd_last_error());
    cr_assert_eq(clcdd_gguf_version(g), 2u);
    clcdd_gguf_close(g);
    data[4] = 1;
    cr_assert_eq(clcdd_gguf_open_memory(data, n, "v1", &g), CLCDD_ERR_UNSUPPORTED);
    cr_assert(strstr(clcdd_last_error(), "version 1"));
    data[4] = 9;
    cr_assert_eq(clcdd_gguf_open_memory(data, n, "v9", &g), CLCDD_ERR_UNSUPPORTED);
    free(data);
}

/* general.alignment other than 32, and a file with no tensors. */
Test(gguf, custom_alignment_and_empty) {
    gbuf b = {0};
    gb_header(&b, 3, 1, 1);
    gb_str(&b, "general.alignment");
    gb_u32(&b, CLCDD_GGUF_U32);
    gb_u32(&b, 64);
    uint64_t dims[2] = {2, 3};
    gb_tensor(&b, "w", 2, dims, CLCDD_GGML_F32, 0);
    gb_pad(&b, 64);
    size_t start = b.n;
    for (int i = 0; i < 6; i++) {
        float v = (float)i - 2.5f;
        gb_bytes(&b, &v, 4);
    }
    clcdd_gguf *g = NULL;
    cr_assert_eq(clcdd_gguf_open_memory(b.p, b.n, "align64", &g), CLCDD_OK, "%s", clcdd_last_error());
    cr_assert_eq(clcdd_gguf_alignment(g), 64u);
    cr_assert_eq(clcdd_gguf_data_offset(g), start);
    clcdd_gguf_tensor t;
    cr_assert_eq(clcdd_gguf_find_tensor(g, "w", &t), CLCDD_OK);
    float out[6];
    cr_assert_eq(clcdd_gguf_tensor_to_f32(&t, out, 6), CLCDD_OK);
    cr_assert(out[0] == -2.5f && out[5] == 2.5f);
    clcdd_gguf_close(g);
    free(b.p);

    gbuf e = {0};
    gb_header(&e, 3, 0, 0);
    cr_assert_eq(clcdd_gguf_open_memory(e.p, e.n, "empty", &g), CLCDD_OK);
    cr_assert_eq(clcdd_gguf_tensor_count(g), 0u);
    clcdd_gguf_close(g);
    free(e.p);
}

/* Hand-made Q8_0 / Q4_0 / Q5_0 blocks with known values (independent of gguf-py). */
Test(gguf, dequant_known_blocks) {
    unsigned char q8[34] = {0x00, 0x3c}; /* d = 1.0 */
    for (int j = 0; j < 32; j++) q8[2 + j] = (unsigned char)(int8_t)(j - 16);
    float y[32];
    cr_assert_eq(clcdd_ggml_dequantize(CLCDD_GGML_Q8_0, q8, 34, y, 32), CLCDD_OK);
    for (int j = 0; j < 32; j++) cr_assert_eq(y[j], (float)(j - 16));
    unsigned char q4[18] = {0x00, 0x40}; /* d = 2.0 */
    for (int j = 0; j < 16; j++) q4[2 + j] = (unsigned char)(j | ((15 - j) << 4));
    cr_assert_eq(clcdd_ggml_dequantize(CLCDD_GGML_Q4_0, q4, 18, y, 32), CLCDD_OK);
    for (int j = 0; j < 16; j++) {
        cr_assert_eq(y[j], 2.0f * (j - 8));
        cr_assert_eq(y[j + 16], 2.0f * (15 - j - 8));
    }
    unsigned char q5[22] = {0x00, 0x3c, 0xff, 0xff, 0x00, 0x00}; /* high bit set for j < 16 */
    for (int j = 0; j < 16; j++) q5[6 + j] = (unsigned char)(j | (j << 4));
    cr_assert_eq(clcdd_ggml_dequantize(CLCDD_GGML_Q5_0, q5, 22, y, 32), CLCDD_OK);
    for (int j = 0; j < 16; j++) {
        cr_assert_eq(y[j], (float)((j | 16) - 16));
        cr_assert_eq(y[j + 16], (float)(j - 16));
    }
    cr_assert_eq(clcdd_ggml_dequantize(CLCDD_GGML_Q8_0, q8, 33, y, 32), CLCDD_ERR_INVALID_ARGUMENT);
    cr_assert_eq(clcdd_ggml_dequantize(CLCDD_GGML_Q8_0, q8, 34, y, 31), CLCDD_ERR_INVALID_ARGUMENT);
    cr_assert_eq(clcdd_ggml_dequantize(CLCDD_GGML_Q2_K, q8, 34, y, 256), CLCDD_ERR_UNSUPPORTED);
    cr_assert(strstr(clcdd_last_error(), "Q2_K"));
}
