/* Shared between safetensors.c (reader) and safetensors_write.c. Not installed. */
#ifndef CLCDD_SAFETENSORS_INTERNAL_H
#define CLCDD_SAFETENSORS_INTERNAL_H

#include "clcdd/dtype.h"

/* Position of a dtype in the reference implementation's Dtype enum
 * (BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ,
 *  I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64); its writer orders tensors by this rank,
 * descending, then by name. */
int clcdd_st_dtype_rank(clcdd_file_dtype dtype);

#endif
