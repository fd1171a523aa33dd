/* safetensors: C writer -> C reader round trips, official-writer layout, fixtures written by the
 * Python safetensors package (compared exactly: every conversion to f32 here is exact). */
#include <criterion/criterion.h>
#include <sys/stat.h>

#include "clcdd/safetensors.h"
#include "loader_test_util.h"

static clcdd_safetensors *open_ok(const char *path) {
    clcdd_safetensors *st = NULL;
    clcdd_status s = clcdd_safetensors_open(path, &st);
    cr_assert_eq(s, CLCDD_OK, "open %s: %s", path, clcdd_last_error());
    return st;
}

#define PREFIX "{\"__metadata__\":{\"format\":\"pt\",\"origin\":\"clcdd\"},\"scalar\":"
Test(safetensors, write_then_read) {
    const char *dir = test_tmpdir();
    cr_assert_not_null(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    float a[6] = {1, -2, 3.5f, 0, 1e-8f, -1e30f};
    uint16_t h[3] = {0x3c00, 0x0001, 0x7c00};
    uint16_t b[2];
    float bin[2] = {1.00390625f, -3.0f};
    clcdd_f32_to_bf16_array(bin, 2, b);
    int64_t i64 = -42;
    uint64_t sa[2] = {2, 3}, sh[1] = {3}, sb[1] = {2};
    clcdd_st_write_tensor t[] = {
        {"zeta.f16", CLCDD_DTYPE_F16, 1, sh, h},
        {"alpha", CLCDD_DTYPE_F32, 2, sa, a},
        {"bf", CLCDD_DTYPE_BF16, 1, sb, b},
        {"scalar", CLCDD_DTYPE_I64, 0, NULL, &i64},
        {"empty", CLCDD_DTYPE_F32, 1, (uint64_t[]){0}, NULL},
    };
    const char *meta[] = {"format", "pt", "origin", "clcdd"};
    cr_assert_eq(clcdd_safetensors_write(path, t, 5, meta, 2), CLCDD_OK, "%s", clcdd_last_error());

    /* Header: padded with spaces to a multiple of 8; order I64, F32 (by name), BF16, F16. */
    FILE *f = fopen(path, "rb");
    unsigned char hdr8[8];
    cr_assert_eq(fread(hdr8, 1, 8, f), 8u);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)hdr8[i] << (8 * i);
    cr_assert_eq(n % 8, 0u);
    char *hdr = calloc(n + 1, 1);
    cr_assert_eq(fread(hdr, 1, n, f), n);
    fclose(f);
    cr_assert(strncmp(hdr, PREFIX, strlen(PREFIX)) == 0,
              "header: %s", hdr);
    cr_assert(strstr(hdr, "\"alpha\"") < strstr(hdr, "\"empty\""));
    cr_assert(strstr(hdr, "\"empty\"") < strstr(hdr, "\"bf\""));
    cr_assert(strstr(hdr, "\"bf\"") < strstr(hdr, "\"zeta.f16\""));
    free(hdr);

    clcdd_safetensors *st = open_ok(path);
    cr_assert_eq(clcdd_safetensors_count(st), 5u);
    cr_assert_str_eq(clcdd_safetensors_metadata_get(st, "origin"), "clcdd");
    clcdd_st_tensor v;
    cr_assert_eq(clcdd_safetensors_find(st, "alpha", &v), CLCDD_OK);
    cr_assert_eq(v.n_dims, 2u);
    cr_assert(v.shape[0] == 2 && v.shape[1] == 3 && v.n_bytes == 24);
    float out[6];
    cr_assert_eq(clcdd_tensor_to_f32(&v, out, 6), CLCDD_OK);
    for (int i = 0; i < 6; i++) cr_assert(same_float(out[i], a[i]));
    cr_assert_eq(clcdd_tensor_to_f32(&v, out, 5), CLCDD_ERR_INVALID_ARGUMENT);
    cr_assert_eq(clcdd_safetensors_find(st, "bf", &v), CLCDD_OK);
    cr_assert_eq(clcdd_tensor_to_f32(&v, out, 6), CLCDD_OK);
    cr_assert(out[0] == 1.0f && out[1] == -3.0f); /* 1.00390625 is a tie: rounds to even (1.0) */
    cr_assert_eq(clcdd_safetensors_find(st, "zeta.f16", &v), CLCDD_OK);
    cr_assert_eq(clcdd_tensor_to_f32(&v, out, 6), CLCDD_OK);
    cr_assert(out[0] == 1.0f && out[1] == ldexpf(1, -24) && isinf(out[2]));
    cr_assert_eq(clcdd_safetensors_find(st, "scalar", &v), CLCDD_OK);
    cr_assert(v.n_dims == 0 && v.n_elements == 1);
    cr_assert_eq(clcdd_tensor_to_f32(&v, out, 1), CLCDD_OK);
    cr_assert_eq(out[0], -42.0f);
    cr_assert_eq(clcdd_safetensors_find(st, "empty", &v), CLCDD_OK);
    cr_assert(v.n_elements == 0 && v.n_bytes == 0 && v.data == NULL);
    cr_assert_eq(clcdd_safetensors_find(st, "nope", &v), CLCDD_ERR_NOT_FOUND);
    cr_assert(strstr(clcdd_last_error(), "nope"));
    clcdd_safetensors_close(st);

    /* Writing again replaces atomically and leaves no temporary behind. */
    cr_assert_eq(clcdd_safetensors_write(path, t, 1, NULL, 0), CLCDD_OK);
    st = open_ok(path);
    cr_assert_eq(clcdd_safetensors_count(st), 1u);
    cr_assert_eq(clcdd_safetensors_metadata_count(st), 0u);
    clcdd_safetensors_close(st);
    /* duplicate names are refused and leave the file untouched */
    clcdd_st_write_tensor dup[] = {t[1], t[1]};
    cr_assert_eq(clcdd_safetensors_write(path, dup, 2, NULL, 0), CLCDD_ERR_INVALID_ARGUMENT);
    st = open_ok(path);
    clcdd_safetensors_close(st);
    unlink(path);
    rmdir(dir);
}

/* The deterministic file the hand-run Python check (tests/fixtures/check_c_written.py) loads:
 * written when CLCDD_WRITE_CHECK_PATH is set. Values: f32[i] = (i - 7) * 0.375,
 * bf16 = bf16(f32 * 1.1), f16 = f16(f32 / 3). */
Test(safetensors, write_for_python_check) {
    const char *path = getenv("CLCDD_WRITE_CHECK_PATH");
    if (!path) cr_skip_test("set CLCDD_WRITE_CHECK_PATH to write the file for check_c_written.py");
    float v[4 * 5];
    for (int i = 0; i < 20; i++) v[i] = (float)(i - 7) * 0.375f;
    float vb[20], vh[20];
    for (int i = 0; i < 20; i++) vb[i] = v[i] * 1.1f, vh[i] = v[i] / 3.0f;
    uint16_t b[20], h[20];
    clcdd_f32_to_bf16_array(vb, 20, b);
    clcdd_f32_to_f16_array(vh, 20, h);
    uint64_t shape[2] = {4, 5};
    clcdd_st_write_tensor t[] = {
        {"model.weight_f32", CLCDD_DTYPE_F32, 2, shape, v},
        {"model.weight_bf16", CLCDD_DTYPE_BF16, 2, shape, b},
        {"model.weight_f16", CLCDD_DTYPE_F16, 2, shape, h},
    };
    const char *meta[] = {"format", "pt"};
    cr_assert_eq(clcdd_safetensors_write(path, t, 3, meta, 1), CLCDD_OK, "%s", clcdd_last_error());
}

/* Fixture written by the Python safetensors package (tests/fixtures/make_format_fixtures.py):
 * every dtype, compared with f32 values Python computed itself, tolerance 0. */
Test(safetensors, python_dtypes_fixture) {
    clcdd_safetensors *st = open_ok(FIXTURES "/st_dtypes.safetensors");
    clcdd_safetensors *ex = open_ok(FIXTURES "/st_dtypes_expected_f32.safetensors");
    cr_assert_str_eq(clcdd_safetensors_metadata_get(st, "format"), "np");
    cr_assert_eq(clcdd_safetensors_count(st), clcdd_safetensors_count(ex));
    cr_assert_geq(clcdd_safetensors_count(st), 10u);
    for (size_t i = 0; i < clcdd_safetensors_count(st); i++) {
        clcdd_st_tensor v, e;
        cr_assert_eq(clcdd_safetensors_get(st, i, &v), CLCDD_OK);
        cr_assert_eq(clcdd_safetensors_find(ex, v.name, &e), CLCDD_OK, "%s", v.name);
        cr_assert_eq(v.n_elements, e.n_elements, "%s", v.name);
        cr_assert_eq(v.n_dims, e.n_dims, "%s", v.name);
        for (size_t d = 0; d < v.n_dims; d++) cr_assert_eq(v.shape[d], e.shape[d]);
        size_t n = (size_t)v.n_elements;
        float *a = calloc(n + 1, sizeof *a), *b = calloc(n + 1, sizeof *b);
        cr_assert_eq(clcdd_tensor_to_f32(&v, a, n), CLCDD_OK, "%s: %s", v.name, clcdd_last_error());
        cr_assert_eq(clcdd_tensor_to_f32(&e, b, n), CLCDD_OK);
        for (size_t k = 0; k < n; k++)
            cr_assert(same_float(a[k], b[k]), "%s[%zu]: %.9g vs python %.9g", v.name, k, a[k], b[k]);
        free(a);
        free(b);
    }
    clcdd_safetensors_close(st);
    clcdd_safetensors_close(ex);
}

/* Python also wrote bf16/f16 from the same f32 values with torch-compatible rounding
 * (numpy/ml_dtypes round to nearest even): our f32->bf16/f16 must give the same bits. */
Test(safetensors, python_rounding_matches) {
    clcdd_safetensors *st = open_ok(FIXTURES "/st_rounding.safetensors");
    clcdd_st_tensor src, bf, hf;
    cr_assert_eq(clcdd_safetensors_find(st, "src_f32", &src), CLCDD_OK);
    cr_assert_eq(clcdd_safetensors_find(st, "as_bf16", &bf), CLCDD_OK);
    cr_assert_eq(clcdd_safetensors_find(st, "as_f16", &hf), CLCDD_OK);
    size_t n = (size_t)src.n_elements;
    for (size_t i = 0; i < n; i++) {
        float f;
        uint16_t b, h;
        memcpy(&f, (const char *)src.data + 4 * i, 4);
        memcpy(&b, (const char *)bf.data + 2 * i, 2);
        memcpy(&h, (const char *)hf.data + 2 * i, 2);
        if (!isnan(f)) {
            cr_assert_eq(clcdd_f32_to_bf16(f), b, "bf16 of %.9g: ours %04x python %04x", f,
                         clcdd_f32_to_bf16(f), b);
            cr_assert_eq(clcdd_f32_to_f16(f), h, "f16 of %.9g: ours %04x python %04x", f,
                         clcdd_f32_to_f16(f), h);
        }
    }
    clcdd_safetensors_close(st);
}

Test(safetensors, python_sharded_fixture) {
    /* directory, index path: both resolve through weight_map */
    const char *paths[] = {FIXTURES "/st_sharded", FIXTURES "/st_sharded/model.safetensors.index.json"};
    for (int p = 0; p < 2; p++) {
        clcdd_safetensors *st = open_ok(paths[p]);
        cr_assert_eq(clcdd_safetensors_count(st), 4u);
        clcdd_st_tensor v;
        cr_assert_eq(clcdd_safetensors_find(st, "model.rotary_emb.inv_freq", &v), CLCDD_ERR_NOT_FOUND);
        cr_assert_eq(clcdd_safetensors_find(st, "model.embed_tokens.weight", &v), CLCDD_OK);
        cr_assert(strstr(v.file, "model-00001-of-00002.safetensors"));
        cr_assert_eq(clcdd_safetensors_find(st, "lm_head.weight", &v), CLCDD_OK);
        cr_assert(strstr(v.file, "model-00002-of-00002.safetensors"));
        float out[64];
        cr_assert_eq(clcdd_tensor_to_f32(&v, out, 64), CLCDD_OK);
        for (size_t i = 0; i < v.n_elements; i++) cr_assert_eq(out[i], (float)i * 0.5f);
        clcdd_safetensors_close(st);
    }
}

/* Index pointing at a tensor its shard does not have: loud NOT_FOUND naming both. */
Test(safetensors, sharded_missing_name) {
    const char *dir = test_tmpdir();
    char p[700], idx[700];
    snprintf(p, sizeof p, "%s/a.safetensors", dir);
    float x = 1;
    uint64_t s1[1] = {1};
    clcdd_st_write_tensor t = {"x", CLCDD_DTYPE_F32, 1, s1, &x};
    cr_assert_eq(clcdd_safetensors_write(p, &t, 1, NULL, 0), CLCDD_OK);
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
    const char *j = "{\"metadata\":{},\"weight_map\":{\"x\":\"a.safetensors\",\"y\":\"a.safetensors\"}}";
    cr_assert(test_write(idx, j, strlen(j)));
    clcdd_safetensors *st = NULL;
    cr_assert_eq(clcdd_safetensors_open(dir, &st), CLCDD_ERR_NOT_FOUND);
    cr_assert(strstr(clcdd_last_error(), "'y'") && strstr(clcdd_last_error(), "a.safetensors"),
              "%s", clcdd_last_error());
    const char *j2 = "{\"weight_map\":{\"x\":\"../a.safetensors\"}}";
    cr_assert(test_write(idx, j2, strlen(j2)));
    cr_assert_eq(clcdd_safetensors_open(idx, &st), CLCDD_ERR_FORMAT);
    const char *j3 = "{\"weight_map\":{\"x\":\"missing.safetensors\"}}";
    cr_assert(test_write(idx, j3, strlen(j3)));
    cr_assert_eq(clcdd_safetensors_open(idx, &st), CLCDD_ERR_IO);
    cr_assert(strstr(clcdd_last_error(), "missing.safetensors"), "%s", clcdd_last_error());
    unlink(idx);
    unlink(p);
    rmdir(dir);
}

/* Data offsets not aligned for the dtype (a writer that does not pad): still read via memcpy. */
Test(safetensors, unaligned_data) {
    const char *h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}}";
    size_t n = strlen(h);
    unsigned char buf[256];
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, h, n);
    float vals[2] = {1.25f, -7.5f};
    buf[8 + n] = 9;
    memcpy(buf + 8 + n + 1, vals, 8);
    clcdd_safetensors *st = NULL;
    cr_assert_eq(clcdd_safetensors_open_memory(buf, 8 + n + 9, "unaligned", &st), CLCDD_OK, "%s",
                 clcdd_last_error());
    clcdd_st_tensor v;
    cr_assert_eq(clcdd_safetensors_find(st, "b", &v), CLCDD_OK);
    float out[2];
    cr_assert_eq(clcdd_tensor_to_f32(&v, out, 2), CLCDD_OK);
    cr_assert(out[0] == 1.25f && out[1] == -7.5f);
    clcdd_safetensors_close(st);
}
