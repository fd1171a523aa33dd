/* Dequantisation of ggml blocks to f32, following ggml-quants.c dequantize_row_* (reference C
 * path) operation for operation so results are bit-identical: block layouts in FORMATS.md §3.4. */
#include <string.h>

#include "clcdd/dtype.h"
#include "clcdd/gguf.h"
#include "loaders_internal.h"

#define QK 32
#define QK_K 256

static float h2f(const unsigned char *p) { return clcdd_f16_to_f32(clcdd_rd_u16(p)); }

static void deq_q4_0(const unsigned char *b, float *y) { /* f16 d; u8 qs[16] */
    const float d = h2f(b);
    const unsigned char *qs = b + 2;
    for (int j = 0; j < QK / 2; j++) {
        const int x0 = (qs[j] & 0x0F) - 8;
        const int x1 = (qs[j] >> 4) - 8;
        y[j] = x0 * d;
        y[j + QK / 2] = x1 * d;
    }
}

static void deq_q4_1(const unsigned char *b, float *y) { /* f16 d, m; u8 qs[16] */
    const float d = h2f(b), m = h2f(b + 2);
    const unsigned char *qs = b + 4;
    for (int j = 0; j < QK / 2; j++) {
        const int x0 = qs[j] & 0x0F;
        const int x1 = qs[j] >> 4;
        y[j] = x0 * d + m;
        y[j + QK / 2] = x1 * d + m;
    }
}

static void deq_q5_0(const unsigned char *b, float *y) { /* f16 d; u8 qh[4]; u8 qs[16] */
    const float d = h2f(b);
    const uint32_t qh = clcdd_rd_u32(b + 2);
    const unsigned char *qs = b + 6;
    for (int j = 0; j < QK / 2; j++) {
        const uint8_t xh_0 = ((qh >> (j + 0)) << 4) & 0x10;
        const uint8_t xh_1 = ((qh >> (j + 12))) & 0x10;
        const int32_t x0 = ((qs[j] & 0x0F) | xh_0) - 16;
        const int32_t x1 = ((qs[j] >> 4) | xh_1) - 16;
        y[j] = x0 * d;
        y[j + QK / 2] = x1 * d;
    }
}

static void deq_q5_1(const unsigned char *b, float *y) { /* f16 d, m; u8 qh[4]; u8 qs[16] */
    const float d = h2f(b), m = h2f(b + 2);
    const uint32_t qh = clcdd_rd_u32(b + 4);
    const unsigned char *qs = b + 8;
    for (int j = 0; j < QK / 2; j++) {
        const uint8_t xh_0 = ((qh >> (j + 0)) << 4) & 0x10;
        const uint8_t xh_1 = ((qh >> (j + 12))) & 0x10;
        const int x0 = (qs[j] & 0x0F) | xh_0;
        const int x1 = (qs[j] >> 4) | xh_1;
        y[j] = x0 * d + m;
        y[j + QK / 2] = x1 * d + m;
    }
}

static void deq_q8_0(const unsigned char *b, float *y) { /* f16 d; i8 qs[32] */
    const float d = h2f(b);
    for (int j = 0; j < QK; j++) y[j] = (float)(int8_t)b[2 + j] * d;
}

static void get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
    }
}

static void deq_q4_k(const unsigned char *b, float *y) { /* f16 d, dmin; u8 scales[12]; u8 qs[128] */
    const float d = h2f(b), min = h2f(b + 2);
    const uint8_t *scales = b + 4;
    const uint8_t *q = b + 16;
    int is = 0;
    uint8_t sc, m;
    for (int j = 0; j < QK_K; j += 64) {
        get_scale_min_k4(is + 0, scales, &sc, &m);
        const float d1 = d * sc;
        const float m1 = min * m;
        get_scale_min_k4(is + 1, scales, &sc, &m);
        const float d2 = d * sc;
        const float m2 = min * m;
        for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
        for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
        q += 32;
        is += 2;
    }
}

static void deq_q6_k(const unsigned char *b, float *y) { /* ql[128] qh[64] i8 scales[16] f16 d */
    const float d = h2f(b + 208);
    const uint8_t *ql = b;
    const uint8_t *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    for (int n = 0; n < QK_K; n += 128) {
        for (int l = 0; l < 32; ++l) {
            int is = l / 16;
            const int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l + 0] = d * sc[is + 0] * q1;
            y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3;
            y[l + 96] = d * sc[is + 6] * q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

clcdd_status clcdd_ggml_dequantize(uint32_t type, const void *src, size_t src_bytes, float *dst,
                                   size_t n) {
    uint32_t bs = clcdd_ggml_block_size(type), ts = clcdd_ggml_type_size(type);
    if (!clcdd_ggml_can_dequantize(type))
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED,
                          "dequantisation of ggml type %s (%u) is not supported (supported: F32 "
                          "F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K Q6_K); re-quantise the model",
                          clcdd_ggml_type_name(type), type);
    if (n % bs != 0)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "dequantise %s: %zu elements is not a multiple of the block size %u",
                          clcdd_ggml_type_name(type), n, bs);
    size_t blocks = n / bs, need;
    if (!clcdd_mul_size(blocks, ts, &need) || need > src_bytes || (n && (!src || !dst)))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "dequantise %s: %zu elements need more than the %zu source bytes",
                          clcdd_ggml_type_name(type), n, src_bytes);
    const unsigned char *s = src;
    switch (type) {
    case CLCDD_GGML_F32: return clcdd_file_dtype_to_f32(CLCDD_DTYPE_F32, src, n, dst);
    case CLCDD_GGML_F16: return clcdd_file_dtype_to_f32(CLCDD_DTYPE_F16, src, n, dst);
    case CLCDD_GGML_BF16: return clcdd_file_dtype_to_f32(CLCDD_DTYPE_BF16, src, n, dst);
    default: break;
    }
    void (*fn)(const unsigned char *, float *) = NULL;
    switch (type) {
    case CLCDD_GGML_Q4_0: fn = deq_q4_0; break;
    case CLCDD_GGML_Q4_1: fn = deq_q4_1; break;
    case CLCDD_GGML_Q5_0: fn = deq_q5_0; break;
    case CLCDD_GGML_Q5_1: fn = deq_q5_1; break;
    case CLCDD_GGML_Q8_0: fn = deq_q8_0; break;
    case CLCDD_GGML_Q4_K: fn = deq_q4_k; break;
    case CLCDD_GGML_Q6_K: fn = deq_q6_k; break;
    default: return clcdd_fail(CLCDD_ERR_INTERNAL, "dequantise: unhandled type %u", type);
    }
    for (size_t i = 0; i < blocks; i++) fn(s + i * ts, dst + i * bs);
    return CLCDD_OK;
}
