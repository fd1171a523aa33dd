/* GGUF (v2 and v3) reader: metadata, tensor infos, memory-mapped data, dequantisation to f32.
 *
 * Everything in FORMATS.md §3.1 is validated at open time (magic, version, endianness, sane
 * counts, string lengths bounded by the file before anything is allocated, duplicate keys and
 * tensor names, general.alignment a power of two, n_dims <= 4, known tensor types, overflow-checked
 * sizes, offsets aligned and laid out back to back as ggml requires, data inside the file).
 *
 * Strings inside the file are not NUL-terminated: string values are returned as (pointer, length)
 * pointing into the read-only mapping. Keys and tensor names are copied and NUL-terminated. */
#ifndef CLCDD_GGUF_H
#define CLCDD_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum clcdd_gguf_value_type {
    CLCDD_GGUF_U8 = 0,
    CLCDD_GGUF_I8 = 1,
    CLCDD_GGUF_U16 = 2,
    CLCDD_GGUF_I16 = 3,
    CLCDD_GGUF_U32 = 4,
    CLCDD_GGUF_I32 = 5,
    CLCDD_GGUF_F32 = 6,
    CLCDD_GGUF_BOOL = 7,
    CLCDD_GGUF_STRING = 8,
    CLCDD_GGUF_ARRAY = 9,
    CLCDD_GGUF_U64 = 10,
    CLCDD_GGUF_I64 = 11,
    CLCDD_GGUF_F64 = 12
} clcdd_gguf_value_type;

/* ggml tensor types (ids as stored in the file). */
typedef enum clcdd_ggml_type {
    CLCDD_GGML_F32 = 0,
    CLCDD_GGML_F16 = 1,
    CLCDD_GGML_Q4_0 = 2,
    CLCDD_GGML_Q4_1 = 3,
    CLCDD_GGML_Q5_0 = 6,
    CLCDD_GGML_Q5_1 = 7,
    CLCDD_GGML_Q8_0 = 8,
    CLCDD_GGML_Q8_1 = 9,
    CLCDD_GGML_Q2_K = 10,
    CLCDD_GGML_Q3_K = 11,
    CLCDD_GGML_Q4_K = 12,
    CLCDD_GGML_Q5_K = 13,
    CLCDD_GGML_Q6_K = 14,
    CLCDD_GGML_Q8_K = 15,
    CLCDD_GGML_IQ2_XXS = 16,
    CLCDD_GGML_IQ2_XS = 17,
    CLCDD_GGML_IQ3_XXS = 18,
    CLCDD_GGML_IQ1_S = 19,
    CLCDD_GGML_IQ4_NL = 20,
    CLCDD_GGML_IQ3_S = 21,
    CLCDD_GGML_IQ2_S = 22,
    CLCDD_GGML_IQ4_XS = 23,
    CLCDD_GGML_I8 = 24,
    CLCDD_GGML_I16 = 25,
    CLCDD_GGML_I32 = 26,
    CLCDD_GGML_I64 = 27,
    CLCDD_GGML_F64 = 28,
    CLCDD_GGML_IQ1_M = 29,
    CLCDD_GGML_BF16 = 30,
    CLCDD_GGML_TQ1_0 = 34,
    CLCDD_GGML_TQ2_0 = 35,
    CLCDD_GGML_MXFP4 = 39,
    CLCDD_GGML_TYPE_COUNT_ = 40
} clcdd_ggml_type;

/* "Q4_K"; "?" for an unknown id. */
CLCDD_API const char *clcdd_ggml_type_name(uint32_t type);
/* Elements per block and bytes per block; both 0 for an unknown id. */
CLCDD_API uint32_t clcdd_ggml_block_size(uint32_t type);
CLCDD_API uint32_t clcdd_ggml_type_size(uint32_t type);
/* 1 if clcdd_ggml_dequantize supports the type (F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K Q6_K). */
CLCDD_API int clcdd_ggml_can_dequantize(uint32_t type);
/* Dequantise n elements (a multiple of the block size) from src (src_bytes long, any alignment)
 * into dst, bit for bit like ggml's dequantize_row_* reference code. */
CLCDD_API clcdd_status clcdd_ggml_dequantize(uint32_t type, const void *src, size_t src_bytes,
                                             float *dst, size_t n);

typedef struct clcdd_gguf clcdd_gguf;

/* A string inside the file: `len` bytes at `data`, NOT NUL-terminated. */
typedef struct clcdd_gguf_str {
    const char *data;
    uint64_t len;
} clcdd_gguf_str;

/* An array value. Read elements with the clcdd_gguf_array_* functions. */
typedef struct clcdd_gguf_array {
    clcdd_gguf_value_type elem_type;
    uint64_t count;
    size_t kv_index; /* which key/value pair it belongs to */
} clcdd_gguf_array;

typedef struct clcdd_gguf_tensor {
    const char *name;
    uint32_t type;        /* clcdd_ggml_type */
    uint32_t n_dims;      /* 1..4 (0 is read as a scalar-like 1-dim tensor by ggml; kept as 0) */
    uint64_t dims[4];     /* ggml order: dims[0] is contiguous; unused dims are 1 */
    uint64_t n_elements;
    uint64_t offset;      /* relative to the data section */
    uint64_t n_bytes;
    const void *data;     /* into the read-only mapping; NULL when n_bytes == 0 */
} clcdd_gguf_tensor;

CLCDD_API clcdd_status clcdd_gguf_open(const char *path, clcdd_gguf **out);
/* Parse a GGUF image in memory (not copied; must outlive the handle). `name` is used in messages. */
CLCDD_API clcdd_status clcdd_gguf_open_memory(const void *data, size_t size, const char *name,
                                              clcdd_gguf **out);
CLCDD_API void clcdd_gguf_close(clcdd_gguf *g);

/* Write a GGUF (version 3) holding only the metadata pairs of g whose key starts with one of the
 * prefixes, copied as stored, and no tensors, to path (a temporary file renamed into place).
 * *n_written (optional) receives the number of pairs. Used to carry a GGUF's tokenizer
 * ("tokenizer.") next to a checkpoint saved in another format. */
CLCDD_API clcdd_status clcdd_gguf_write_metadata(const clcdd_gguf *g, const char *const *prefixes,
                                                 size_t n_prefixes, const char *path, size_t *n_written);

CLCDD_API uint32_t clcdd_gguf_version(const clcdd_gguf *g);
CLCDD_API uint32_t clcdd_gguf_alignment(const clcdd_gguf *g);
CLCDD_API uint64_t clcdd_gguf_data_offset(const clcdd_gguf *g); /* file offset of tensor data */

/* ---- Metadata ---- */
CLCDD_API size_t clcdd_gguf_kv_count(const clcdd_gguf *g);
CLCDD_API const char *clcdd_gguf_kv_key(const clcdd_gguf *g, size_t index);
CLCDD_API clcdd_gguf_value_type clcdd_gguf_kv_type(const clcdd_gguf *g, size_t index);
/* Index of `key`, or CLCDD_ERR_NOT_FOUND (with a message). */
CLCDD_API clcdd_status clcdd_gguf_find_key(const clcdd_gguf *g, const char *key, size_t *index);

/* Typed getters by key. Integer getters accept any integer value type whose value fits the
 * requested type (writers store hyperparameters as u32 or u64); get_f32 accepts f32 or f64;
 * get_f64 accepts f32 or f64. A missing key is CLCDD_ERR_NOT_FOUND; a wrong type or an
 * out-of-range value is CLCDD_ERR_FORMAT. */
CLCDD_API clcdd_status clcdd_gguf_get_u32(const clcdd_gguf *g, const char *key, uint32_t *out);
CLCDD_API clcdd_status clcdd_gguf_get_i32(const clcdd_gguf *g, const char *key, int32_t *out);
CLCDD_API clcdd_status clcdd_gguf_get_u64(const clcdd_gguf *g, const char *key, uint64_t *out);
CLCDD_API clcdd_status clcdd_gguf_get_i64(const clcdd_gguf *g, const char *key, int64_t *out);
CLCDD_API clcdd_status clcdd_gguf_get_f32(const clcdd_gguf *g, const char *key, float *out);
CLCDD_API clcdd_status clcdd_gguf_get_f64(const clcdd_gguf *g, const char *key, double *out);
CLCDD_API clcdd_status clcdd_gguf_get_bool(const clcdd_gguf *g, const char *key, int *out);
CLCDD_API clcdd_status clcdd_gguf_get_string(const clcdd_gguf *g, const char *key,
                                             clcdd_gguf_str *out);
CLCDD_API clcdd_status clcdd_gguf_get_array(const clcdd_gguf *g, const char *key,
                                            clcdd_gguf_array *out);
/* Same, by kv index (for listing). */
CLCDD_API clcdd_status clcdd_gguf_kv_i64(const clcdd_gguf *g, size_t index, int64_t *out);
CLCDD_API clcdd_status clcdd_gguf_kv_u64(const clcdd_gguf *g, size_t index, uint64_t *out);
CLCDD_API clcdd_status clcdd_gguf_kv_f64(const clcdd_gguf *g, size_t index, double *out);
CLCDD_API clcdd_status clcdd_gguf_kv_string(const clcdd_gguf *g, size_t index, clcdd_gguf_str *out);
CLCDD_API clcdd_status clcdd_gguf_kv_array(const clcdd_gguf *g, size_t index, clcdd_gguf_array *out);

/* Element i of an array. Numeric getters convert from any numeric/bool element type (i64/u64
 * refuse values that do not fit); get_string needs a string array. */
CLCDD_API clcdd_status clcdd_gguf_array_i64(const clcdd_gguf *g, const clcdd_gguf_array *a,
                                            uint64_t i, int64_t *out);
CLCDD_API clcdd_status clcdd_gguf_array_u64(const clcdd_gguf *g, const clcdd_gguf_array *a,
                                            uint64_t i, uint64_t *out);
CLCDD_API clcdd_status clcdd_gguf_array_f64(const clcdd_gguf *g, const clcdd_gguf_array *a,
                                            uint64_t i, double *out);
CLCDD_API clcdd_status clcdd_gguf_array_f32(const clcdd_gguf *g, const clcdd_gguf_array *a,
                                            uint64_t i, float *out);
CLCDD_API clcdd_status clcdd_gguf_array_string(const clcdd_gguf *g, const clcdd_gguf_array *a,
                                               uint64_t i, clcdd_gguf_str *out);
/* Raw packed elements of a numeric array (count * element size bytes, any alignment). */
CLCDD_API const void *clcdd_gguf_array_data(const clcdd_gguf *g, const clcdd_gguf_array *a);

/* Name of a value type ("u32", "string", "array", ...). */
CLCDD_API const char *clcdd_gguf_value_type_name(uint32_t type);

/* ---- Tensors ---- */
CLCDD_API size_t clcdd_gguf_tensor_count(const clcdd_gguf *g);
CLCDD_API clcdd_status clcdd_gguf_get_tensor(const clcdd_gguf *g, size_t index,
                                             clcdd_gguf_tensor *out);
CLCDD_API clcdd_status clcdd_gguf_find_tensor(const clcdd_gguf *g, const char *name,
                                              clcdd_gguf_tensor *out);
/* Dequantise a whole tensor into dst (capacity floats, >= n_elements). */
CLCDD_API clcdd_status clcdd_gguf_tensor_to_f32(const clcdd_gguf_tensor *t, float *dst,
                                                size_t capacity);

#ifdef __cplusplus
}
#endif
#endif
