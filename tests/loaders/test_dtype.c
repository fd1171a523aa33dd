/* Scalar conversions: f16/bf16 <-> f32 against exact reference values, exhaustively for f16. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "clcdd/dtype.h"

static uint32_t bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

Test(dtype, f16_special_values) {
    cr_assert_eq(bits(clcdd_f16_to_f32(0x0000)), 0x00000000u);
    cr_assert_eq(bits(clcdd_f16_to_f32(0x8000)), 0x80000000u);
    cr_assert_eq(clcdd_f16_to_f32(0x3c00), 1.0f);
    cr_assert_eq(clcdd_f16_to_f32(0xc000), -2.0f);
    cr_assert_eq(clcdd_f16_to_f32(0x7bff), 65504.0f);
    cr_assert_eq(clcdd_f16_to_f32(0x0001), ldexpf(1.0f, -24)); /* smallest subnormal */
    cr_assert_eq(clcdd_f16_to_f32(0x03ff), ldexpf(1023.0f, -24)); /* largest subnormal */
    cr_assert_eq(clcdd_f16_to_f32(0x0400), ldexpf(1.0f, -14));
    cr_assert(isinf(clcdd_f16_to_f32(0x7c00)) && clcdd_f16_to_f32(0x7c00) > 0);
    cr_assert(isinf(clcdd_f16_to_f32(0xfc00)) && clcdd_f16_to_f32(0xfc00) < 0);
    cr_assert(isnan(clcdd_f16_to_f32(0x7e00)));
    cr_assert(isnan(clcdd_f16_to_f32(0x7c01)));
}

/* Every f16 value: f16 -> f32 is exact, so value(h) computed in double must match, and
 * f32 -> f16 must return the same bits (NaN: stays NaN). */
Test(dtype, f16_exhaustive_round_trip) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = clcdd_f16_to_f32((uint16_t)h);
        uint32_t e = (h >> 10) & 31, m = h & 1023;
        double sign = (h & 0x8000) ? -1.0 : 1.0;
        if (e == 31) {
            cr_assert(m ? isnan(f) : isinf(f), "h=%04x", h);
            if (m) cr_assert(isnan(clcdd_f16_to_f32(clcdd_f32_to_f16(f))));
            else cr_assert_eq(clcdd_f32_to_f16(f), h);
            continue;
        }
        double ref = e == 0 ? sign * ldexp((double)m, -24) : sign * ldexp(1.0 + m / 1024.0, (int)e - 15);
        cr_assert_eq((double)f, ref, "h=%04x", h);
        cr_assert_eq(clcdd_f32_to_f16(f), h, "round trip h=%04x", h);
    }
}

Test(dtype, f32_to_f16_rounding) {
    /* ties to even between 1 and 1+2^-10 */
    cr_assert_eq(clcdd_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3c00);
    cr_assert_eq(clcdd_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)), 0x3c02);
    cr_assert_eq(clcdd_f32_to_f16(1.0f + ldexpf(1.0f, -11) + ldexpf(1.0f, -20)), 0x3c01);
    cr_assert_eq(clcdd_f32_to_f16(65504.0f), 0x7bff);
    cr_assert_eq(clcdd_f32_to_f16(65519.0f), 0x7bff);
    cr_assert_eq(clcdd_f32_to_f16(65520.0f), 0x7c00);
    cr_assert_eq(clcdd_f32_to_f16(1e10f), 0x7c00);
    cr_assert_eq(clcdd_f32_to_f16(-1e10f), 0xfc00);
    cr_assert_eq(clcdd_f32_to_f16(ldexpf(1.0f, -25)), 0x0000);           /* tie -> even (0) */
    cr_assert_eq(clcdd_f32_to_f16(ldexpf(1.5f, -25)), 0x0001);
    cr_assert_eq(clcdd_f32_to_f16(ldexpf(3.0f, -25)), 0x0002);           /* 1.5 ulp tie -> 2 */
    cr_assert_eq(clcdd_f32_to_f16(ldexpf(1.0f, -30)), 0x0000);
    cr_assert_eq(clcdd_f32_to_f16(-ldexpf(1.0f, -30)), 0x8000);
    cr_assert_eq(clcdd_f32_to_f16(ldexpf(1023.5f, -24)), 0x0400);        /* rounds up to normal */
}

Test(dtype, bf16) {
    cr_assert_eq(clcdd_bf16_to_f32(0x3f80), 1.0f);
    cr_assert_eq(bits(clcdd_bf16_to_f32(0x1234)), 0x12340000u);
    cr_assert_eq(clcdd_f32_to_bf16(1.0f), 0x3f80);
    cr_assert_eq(clcdd_f32_to_bf16(from_bits(0x3f808000u)), 0x3f80); /* tie, even stays */
    cr_assert_eq(clcdd_f32_to_bf16(from_bits(0x3f818000u)), 0x3f82); /* tie, odd rounds up */
    cr_assert_eq(clcdd_f32_to_bf16(from_bits(0x3f808001u)), 0x3f81);
    cr_assert_eq(clcdd_f32_to_bf16(from_bits(0x7f7fffffu)), 0x7f80); /* max float -> inf */
    cr_assert_eq(clcdd_f32_to_bf16(from_bits(0x7f800001u)), 0x7fc0); /* signalling NaN quietened */
    cr_assert_eq(clcdd_f32_to_bf16(from_bits(0xffc00000u)), 0xffc0);
    for (uint32_t b = 0; b < 65536; b++) {
        float f = clcdd_bf16_to_f32((uint16_t)b);
        if (isnan(f)) continue;
        cr_assert_eq(clcdd_f32_to_bf16(f), b, "bf16 round trip %04x", b);
    }
}

Test(dtype, names_and_arrays) {
    cr_assert_eq(clcdd_file_dtype_from_name("BF16"), CLCDD_DTYPE_BF16);
    cr_assert_eq(clcdd_file_dtype_from_name("bf16"), CLCDD_DTYPE_INVALID);
    cr_assert_eq(clcdd_file_dtype_bits(CLCDD_DTYPE_F4), 4);
    cr_assert_str_eq(clcdd_file_dtype_name(CLCDD_DTYPE_F8_E4M3), "F8_E4M3");
    int32_t ints[3] = {-5, 0, 7};
    float out[3];
    cr_assert_eq(clcdd_file_dtype_to_f32(CLCDD_DTYPE_I32, ints, 3, out), CLCDD_OK);
    cr_assert(out[0] == -5.0f && out[1] == 0.0f && out[2] == 7.0f);
    unsigned char f8[2] = {0, 1};
    cr_assert_eq(clcdd_file_dtype_to_f32(CLCDD_DTYPE_F8_E4M3, f8, 2, out), CLCDD_ERR_UNSUPPORTED);
    float in[2] = {1.5f, -2.25f};
    unsigned char h[5];
    clcdd_f32_to_f16_array(in, 2, h + 1); /* unaligned destination */
    cr_assert_eq(clcdd_file_dtype_to_f32(CLCDD_DTYPE_F16, h + 1, 2, out), CLCDD_OK);
    cr_assert(out[0] == 1.5f && out[1] == -2.25f);
}
