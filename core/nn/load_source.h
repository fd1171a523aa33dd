/* The tensors of a checkpoint file, whatever its format: HF safetensors (single or sharded) or
 * GGUF. Shapes are reported in HF (row-major, slowest axis first) order: a GGUF tensor's ggml dims
 * are reversed. Data comes out as f32 (safetensors dtypes converted, GGUF types dequantised). */
#ifndef CLCDD_NN_LOAD_SOURCE_H
#define CLCDD_NN_LOAD_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd/gguf.h"
#include "clcdd/plugin.h"
#include "clcdd/safetensors.h"

typedef struct clcdd_load_source {
    clcdd_source_format format;
    clcdd_safetensors *st; /* HF */
    clcdd_gguf *gguf;      /* GGUF */
    char path[1024];
} clcdd_load_source;

typedef struct clcdd_src_tensor {
    int ndim;
    int64_t shape[4];   /* HF order */
    uint64_t n;         /* elements */
    const char *dtype;  /* "BF16", "Q4_1", ... */
    clcdd_st_tensor st; /* which one is set depends on the format */
    clcdd_gguf_tensor gg;
} clcdd_src_tensor;

/* 1 when `path` is a GGUF file (by its magic). */
int clcdd_is_gguf_file(const char *path);

/* HF: `path` is the model directory (or its config.json); GGUF: the .gguf file. */
clcdd_status clcdd_load_source_open(clcdd_load_source *s, const char *path);
void clcdd_load_source_close(clcdd_load_source *s);

/* CLCDD_ERR_NOT_FOUND (no message recorded) when absent. */
clcdd_status clcdd_load_source_find(const clcdd_load_source *s, const char *name,
                                    clcdd_src_tensor *out);
/* Convert to f32 into dst (capacity floats >= t->n). */
clcdd_status clcdd_load_source_read(const clcdd_load_source *s, const clcdd_src_tensor *t,
                                    const char *name, float *dst, size_t capacity);

#endif
