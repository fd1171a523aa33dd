/* dtype names, sizes and exact scalar conversions (FORMATS.md §1.5). */
#include <math.h>
#include <string.h>

#include "clcdd/dtype.h"
#include "clcdd_internal.h"

static const struct {
    const char *name;
    unsigned bits;
} dtype_table[CLCDD_DTYPE_COUNT_] = {
    [CLCDD_DTYPE_INVALID] = {"?", 0},
    [CLCDD_DTYPE_BOOL] = {"BOOL", 8},
    [CLCDD_DTYPE_U8] = {"U8", 8},
    [CLCDD_DTYPE_I8] = {"I8", 8},
    [CLCDD_DTYPE_I16] = {"I16", 16},
    [CLCDD_DTYPE_U16] = {"U16", 16},
    [CLCDD_DTYPE_F16] = {"F16", 16},
    [CLCDD_DTYPE_BF16] = {"BF16", 16},
    [CLCDD_DTYPE_I32] = {"I32", 32},
    [CLCDD_DTYPE_U32] = {"U32", 32},
    [CLCDD_DTYPE_F32] = {"F32", 32},
    [CLCDD_DTYPE_I64] = {"I64", 64},
    [CLCDD_DTYPE_U64] = {"U64", 64},
    [CLCDD_DTYPE_F64] = {"F64", 64},
    [CLCDD_DTYPE_C64] = {"C64", 64},
    [CLCDD_DTYPE_F8_E5M2] = {"F8_E5M2", 8},
    [CLCDD_DTYPE_F8_E4M3] = {"F8_E4M3", 8},
    [CLCDD_DTYPE_F8_E8M0] = {"F8_E8M0", 8},
    [CLCDD_DTYPE_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8},
    [CLCDD_DTYPE_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8},
    [CLCDD_DTYPE_F6_E2M3] = {"F6_E2M3", 6},
    [CLCDD_DTYPE_F6_E3M2] = {"F6_E3M2", 6},
    [CLCDD_DTYPE_F4] = {"F4", 4},
};

const char *clcdd_file_dtype_name(clcdd_file_dtype dtype) {
    if ((unsigned)dtype >= CLCDD_DTYPE_COUNT_) return "?";
    return dtype_table[dtype].name;
}

clcdd_file_dtype clcdd_file_dtype_from_name(const char *name) {
    if (!name) return CLCDD_DTYPE_INVALID;
    for (int i = 1; i < CLCDD_DTYPE_COUNT_; i++)
        if (strcmp(dtype_table[i].name, name) == 0) return (clcdd_file_dtype)i;
    return CLCDD_DTYPE_INVALID;
}

unsigned clcdd_file_dtype_bits(clcdd_file_dtype dtype) {
    if ((unsigned)dtype >= CLCDD_DTYPE_COUNT_) return 0;
    return dtype_table[dtype].bits;
}

static float bits_to_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint32_t f32_to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

float clcdd_bf16_to_f32(uint16_t b) { return bits_to_f32((uint32_t)b << 16); }

float clcdd_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1f;
    uint32_t m = h & 0x3ffu;
    uint32_t out;
    if (e == 0) {
        if (m == 0) {
            out = sign;
        } else { /* subnormal: m * 2^-24, renormalise */
            int shift = 0;
            while (!(m & 0x400u)) {
                m <<= 1;
                shift++;
            }
            m &= 0x3ffu;
            out = sign | ((uint32_t)(127 - 15 + 1 - shift) << 23) | (m << 13);
        }
    } else if (e == 31) {
        out = sign | 0x7f800000u | (m << 13); /* inf or NaN (payload kept) */
    } else {
        out = sign | ((e - 15 + 127) << 23) | (m << 13);
    }
    return bits_to_f32(out);
}

uint16_t clcdd_f32_to_bf16(float f) {
    uint32_t u = f32_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

uint16_t clcdd_f32_to_f16(float f) {
    uint32_t u = f32_to_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) { /* inf or NaN */
        if (a == 0x7f800000u) return sign | 0x7c00u;
        return sign | 0x7e00u | (uint16_t)((a >> 13) & 0x3ffu);
    }
    if (a >= 0x477ff000u) return sign | 0x7c00u; /* rounds to >= 65520: overflow to inf */
    uint32_t e = a >> 23;
    if (e < 113) { /* result is subnormal or zero in f16 (f32 exponent < -14) */
        if (e < 102) return sign; /* below half the smallest subnormal: rounds to 0 */
        uint32_t m = (a & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* value = m * 2^(e-150); want units of 2^-24 */
        uint32_t q = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1u))) q++;
        return sign | (uint16_t)q;
    }
    /* normal: rebias exponent, round mantissa from 23 to 10 bits (carry may bump exponent) */
    uint32_t r = a - (112u << 23);
    uint32_t q = r >> 13;
    uint32_t rem = r & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u))) q++;
    return sign | (uint16_t)q;
}

void clcdd_f32_to_f16_array(const float *src, size_t n, void *dst) {
    unsigned char *d = dst;
    for (size_t i = 0; i < n; i++) {
        uint16_t h = clcdd_f32_to_f16(src[i]);
        memcpy(d + 2 * i, &h, 2);
    }
}

void clcdd_f32_to_bf16_array(const float *src, size_t n, void *dst) {
    unsigned char *d = dst;
    for (size_t i = 0; i < n; i++) {
        uint16_t h = clcdd_f32_to_bf16(src[i]);
        memcpy(d + 2 * i, &h, 2);
    }
}

#define CONVERT_LOOP(T)                                                                           \
    do {                                                                                          \
        for (size_t i = 0; i < n; i++) {                                                          \
            T v;                                                                                  \
            memcpy(&v, s + i * sizeof(T), sizeof(T));                                             \
            dst[i] = (float)v;                                                                    \
        }                                                                                         \
    } while (0)

clcdd_status clcdd_file_dtype_to_f32(clcdd_file_dtype dtype, const void *src, size_t n, float *dst) {
    const unsigned char *s = src;
    if (n > 0 && (!src || !dst))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "dtype conversion: NULL buffer");
    switch (dtype) {
    case CLCDD_DTYPE_F32:
        if (n) memcpy(dst, s, n * 4);
        return CLCDD_OK;
    case CLCDD_DTYPE_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = clcdd_f16_to_f32(h);
        }
        return CLCDD_OK;
    case CLCDD_DTYPE_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = clcdd_bf16_to_f32(h);
        }
        return CLCDD_OK;
    case CLCDD_DTYPE_F64: CONVERT_LOOP(double); return CLCDD_OK;
    case CLCDD_DTYPE_BOOL:
        for (size_t i = 0; i < n; i++) dst[i] = s[i] ? 1.0f : 0.0f;
        return CLCDD_OK;
    case CLCDD_DTYPE_U8: CONVERT_LOOP(uint8_t); return CLCDD_OK;
    case CLCDD_DTYPE_I8: CONVERT_LOOP(int8_t); return CLCDD_OK;
    case CLCDD_DTYPE_U16: CONVERT_LOOP(uint16_t); return CLCDD_OK;
    case CLCDD_DTYPE_I16: CONVERT_LOOP(int16_t); return CLCDD_OK;
    case CLCDD_DTYPE_U32: CONVERT_LOOP(uint32_t); return CLCDD_OK;
    case CLCDD_DTYPE_I32: CONVERT_LOOP(int32_t); return CLCDD_OK;
    case CLCDD_DTYPE_U64: CONVERT_LOOP(uint64_t); return CLCDD_OK;
    case CLCDD_DTYPE_I64: CONVERT_LOOP(int64_t); return CLCDD_OK;
    default:
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED,
                          "conversion of dtype %s to f32 is not supported; convert the checkpoint "
                          "to F32, F16 or BF16",
                          clcdd_file_dtype_name(dtype));
    }
}
