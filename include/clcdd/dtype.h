/* Element types of checkpoint files and exact scalar conversions.
 *
 * clcdd_file_dtype covers every safetensors dtype (FORMATS.md §1.1). Only some convert to f32 on the
 * host (clcdd_file_dtype_to_f32): floats F32/F16/BF16/F64, integers and BOOL. The float8/6/4 types are
 * listed so files using them open and can be inspected; converting them is CLCDD_ERR_UNSUPPORTED.
 * All multi-byte data is little-endian; clcdd supports little-endian hosts only. */
#ifndef CLCDD_DTYPE_H
#define CLCDD_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum clcdd_file_dtype {
    CLCDD_DTYPE_INVALID = 0,
    CLCDD_DTYPE_BOOL,
    CLCDD_DTYPE_U8,
    CLCDD_DTYPE_I8,
    CLCDD_DTYPE_I16,
    CLCDD_DTYPE_U16,
    CLCDD_DTYPE_F16,
    CLCDD_DTYPE_BF16,
    CLCDD_DTYPE_I32,
    CLCDD_DTYPE_U32,
    CLCDD_DTYPE_F32,
    CLCDD_DTYPE_I64,
    CLCDD_DTYPE_U64,
    CLCDD_DTYPE_F64,
    CLCDD_DTYPE_C64,
    CLCDD_DTYPE_F8_E5M2,
    CLCDD_DTYPE_F8_E4M3,
    CLCDD_DTYPE_F8_E8M0,
    CLCDD_DTYPE_F8_E4M3FNUZ,
    CLCDD_DTYPE_F8_E5M2FNUZ,
    CLCDD_DTYPE_F6_E2M3,
    CLCDD_DTYPE_F6_E3M2,
    CLCDD_DTYPE_F4,
    CLCDD_DTYPE_COUNT_
} clcdd_file_dtype;

/* safetensors spelling ("BF16"); "?" for an invalid value. */
CLCDD_API const char *clcdd_file_dtype_name(clcdd_file_dtype dtype);
/* Inverse of clcdd_file_dtype_name (exact, case-sensitive); CLCDD_DTYPE_INVALID if unknown. */
CLCDD_API clcdd_file_dtype clcdd_file_dtype_from_name(const char *name);
/* Bits per element (4, 6, 8, 16, 32, 64); 0 for an invalid value. */
CLCDD_API unsigned clcdd_file_dtype_bits(clcdd_file_dtype dtype);

/* Exact scalar conversions. f16/bf16 -> f32 are exact (subnormals, inf and NaN kept).
 * f32 -> bf16 and f32 -> f16 round to nearest, ties to even; NaN stays a quiet NaN with its sign;
 * values too large for f16 become inf. */
CLCDD_API float clcdd_f16_to_f32(uint16_t h);
CLCDD_API float clcdd_bf16_to_f32(uint16_t b);
CLCDD_API uint16_t clcdd_f32_to_bf16(float f);
CLCDD_API uint16_t clcdd_f32_to_f16(float f);

/* Convert n elements of `dtype` at `src` (any alignment) to f32. Integers convert by value
 * (64-bit ones may round). Returns CLCDD_ERR_UNSUPPORTED for float8/6/4 and C64. */
CLCDD_API clcdd_status clcdd_file_dtype_to_f32(clcdd_file_dtype dtype, const void *src, size_t n, float *dst);

/* Convert n floats to f16 / bf16 (round to nearest even) into dst (any alignment). */
CLCDD_API void clcdd_f32_to_f16_array(const float *src, size_t n, void *dst);
CLCDD_API void clcdd_f32_to_bf16_array(const float *src, size_t n, void *dst);

#ifdef __cplusplus
}
#endif
#endif
