/* safetensors checkpoints: reading (single file or sharded, memory-mapped) and writing.
 *
 * Reading validates everything FORMATS.md §1.2 lists before exposing a single tensor: header
 * length limits, UTF-8 JSON object with no duplicate keys, known dtypes, string-only metadata,
 * non-negative integer shapes/offsets, offsets contiguous from 0 with no gap or overlap, byte sizes
 * equal to prod(shape) * dtype size (overflow-checked) and a data buffer that ends exactly at the
 * end of the file. Tensor data stays in the read-only mapping; a view's `data` may be unaligned
 * for its dtype, so copy it (memcpy / clcdd_tensor_to_f32) rather than casting it.
 *
 * Tensor names ending in "rotary_emb.inv_freq" (buffers saved by old exports) are skipped. */
#ifndef CLCDD_SAFETENSORS_H
#define CLCDD_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd/dtype.h"
#include "clcdd/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest header the reader accepts (the reference implementation's MAX_HEADER_SIZE). */
#define CLCDD_SAFETENSORS_MAX_HEADER 100000000ULL

/* One tensor of an open checkpoint. Pointers stay valid until the checkpoint is closed. */
typedef struct clcdd_st_tensor {
    const char *name;
    clcdd_file_dtype dtype;
    size_t n_dims;           /* 0 for a scalar */
    const uint64_t *shape;   /* (n_dims) row-major: shape[0] is the slowest axis */
    uint64_t n_elements;     /* prod(shape); 1 for a scalar, 0 for an empty tensor */
    uint64_t n_bytes;
    const void *data;        /* read-only, possibly unaligned; NULL when n_bytes == 0 */
    const char *file;        /* the file holding the data (the shard for sharded checkpoints) */
} clcdd_st_tensor;

typedef struct clcdd_safetensors clcdd_safetensors;

/* Open a checkpoint. `path` may be a .safetensors file, a model.safetensors.index.json (every
 * distinct shard in its weight_map is opened once and validated), or a directory holding either
 * (the index is preferred). Close with clcdd_safetensors_close. */
CLCDD_API clcdd_status clcdd_safetensors_open(const char *path, clcdd_safetensors **out);

/* Validate and open a safetensors image already in memory (it is not copied and must outlive the
 * handle). `name` is used in messages. */
CLCDD_API clcdd_status clcdd_safetensors_open_memory(const void *data, size_t size,
                                                     const char *name, clcdd_safetensors **out);

CLCDD_API void clcdd_safetensors_close(clcdd_safetensors *st);

/* Tensors in a fixed order: shard by shard (shards sorted by file name), by data offset. */
CLCDD_API size_t clcdd_safetensors_count(const clcdd_safetensors *st);
CLCDD_API clcdd_status clcdd_safetensors_get(const clcdd_safetensors *st, size_t index,
                                             clcdd_st_tensor *out);
/* Look a tensor up by name; CLCDD_ERR_NOT_FOUND (with a message) if absent. */
CLCDD_API clcdd_status clcdd_safetensors_find(const clcdd_safetensors *st, const char *name,
                                              clcdd_st_tensor *out);

/* The __metadata__ string pairs (of the first shard for sharded checkpoints). */
CLCDD_API size_t clcdd_safetensors_metadata_count(const clcdd_safetensors *st);
CLCDD_API const char *clcdd_safetensors_metadata_key(const clcdd_safetensors *st, size_t index);
CLCDD_API const char *clcdd_safetensors_metadata_value(const clcdd_safetensors *st, size_t index);
/* Value for `key`, or NULL. */
CLCDD_API const char *clcdd_safetensors_metadata_get(const clcdd_safetensors *st, const char *key);

/* Convert a tensor to f32 into dst, which holds `capacity` floats (must be >= n_elements). */
CLCDD_API clcdd_status clcdd_tensor_to_f32(const clcdd_st_tensor *t, float *dst, size_t capacity);

/* ---- Writing -------------------------------------------------------------------------------- */

typedef struct clcdd_st_write_tensor {
    const char *name;
    clcdd_file_dtype dtype;
    size_t n_dims;
    const uint64_t *shape; /* (n_dims) */
    const void *data;      /* prod(shape) * dtype size bytes, little-endian */
} clcdd_st_write_tensor;

/* Write a safetensors file the way the official writer does: __metadata__ first (if any), tensors
 * ordered by dtype (larger alignment first) then name, header padded with spaces to a multiple of 8.
 * `metadata` is NULL or 2*n_metadata strings: key0, value0, key1, value1, ...
 * The file is streamed to a temporary file in the same directory, fsync'ed and renamed over
 * `path`, so a failure never leaves a partial file behind. */
CLCDD_API clcdd_status clcdd_safetensors_write(const char *path, const clcdd_st_write_tensor *tensors,
                                               size_t n_tensors, const char *const *metadata,
                                               size_t n_metadata);

#ifdef __cplusplus
}
#endif
#endif
