/* The carrier archive: everything LCDD and the eraser produce for one (base, SFT) pair, in one
 * zstd-compressed msgpack file (format spec: docs/archive.md).
 *
 * In memory the archive is this plain struct; clcdd_carrier_write streams it out (never the whole
 * file in memory twice) and clcdd_carrier_read validates every size, index and version while it
 * streams it in. Whoever creates frees: clcdd_carrier_free releases everything the reader
 * allocated (and anything built with the add functions). */
#ifndef CLCDD_CARRIER_H
#define CLCDD_CARRIER_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd/model.h"
#include "clcdd/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLCDD_CARRIER_VERSION 1

/* The delta of one masked projection restricted to the carrier: rows with r = 1 and columns with
 * c = 1 of (W - W0), row-major n_rows x n_cols; bias_delta (n_rows) when the projection has a
 * bias. rows/cols are sorted, unique, in range of the projection's shape. */
typedef struct clcdd_carrier_matrix {
    uint32_t layer;
    uint32_t role;          /* clcdd_tensor_role of the weight (q, k, v, o, gate, up, down) */
    uint32_t n_rows, n_cols;
    uint32_t *rows, *cols;
    float *delta;
    float *bias_delta;      /* NULL when there is no bias */
} clcdd_carrier_matrix;

/* A norm weight of the LCDD model (trained freely, stored whole). */
typedef struct clcdd_carrier_norm {
    uint32_t layer;
    uint32_t role;          /* attn_norm, ffn_norm, final_norm, q_norm, k_norm */
    uint32_t n;
    float *w;
} clcdd_carrier_norm;

/* An eraser prompt: T x d soft-prompt rows, with its settings and metrics as JSON text. */
typedef struct clcdd_carrier_prompt {
    char name[64];
    uint32_t rows, dim;
    float *data;
    char *settings_json;    /* may be NULL */
    char *metrics_json;     /* may be NULL */
} clcdd_carrier_prompt;

typedef struct clcdd_carrier {
    uint32_t version;
    /* model identity */
    char family[32];
    char architecture[64];
    uint32_t vocab_size, hidden_size, intermediate_size, n_layers, n_heads, n_kv_heads, head_dim;
    char base_fingerprint[40];  /* hex, from clcdd_model_fingerprint */
    char sft_fingerprint[40];
    /* masks: flat in the layout of ALGORITHMS.md §3.1 (layer by layer, 8 groups each) */
    uint64_t n_mask;
    float *theta;               /* mask logits */
    uint8_t *mask;              /* hard masks 1[theta > 0] */
    /* carrier deltas and norms */
    uint32_t n_matrices;
    clcdd_carrier_matrix *matrices;
    uint32_t n_norms;
    clcdd_carrier_norm *norms;
    /* training hyperparameters, dual state and summary (JSON text; may be NULL) */
    char *train_json;
    uint32_t n_prompts;
    clcdd_carrier_prompt *prompts;
} clcdd_carrier;

/* Write atomically (temporary file + rename). zstd level 3 with frame checksums. */
CLCDD_API clcdd_status clcdd_carrier_write(const char *path, const clcdd_carrier *c);
/* Read and validate; *out is allocated (free with clcdd_carrier_free). Every malformed input
 * (truncation, bad checksum, wrong magic or version, sizes that do not agree with the model
 * dimensions, out-of-range or unsorted indices, absurd counts) is an error naming the field. */
CLCDD_API clcdd_status clcdd_carrier_read(const char *path, clcdd_carrier **out);
/* The same from memory (fuzzing, tests); name is used in messages. */
CLCDD_API clcdd_status clcdd_carrier_read_memory(const void *data, size_t size, const char *name,
                                                 clcdd_carrier **out);
CLCDD_API void clcdd_carrier_free(clcdd_carrier *c);

/* The 8 mask groups of a layer in the archive's layout (ALGORITHMS.md §3.1): ffn_read,
 * ffn_hidden, ffn_write, attn_read, attn_q, attn_k, attn_v, attn_write. */
#define CLCDD_CARRIER_GROUPS 8
/* The name of group g, or "?" outside 0..7. */
CLCDD_API const char *clcdd_carrier_group_name(int g);
/* Share of active channels per layer and mask group: density[l * 8 + g] for the n_layers
 * layers (n_layers x 8 values). Fails when the mask count does not fit the model dimensions. */
CLCDD_API clcdd_status clcdd_carrier_density(const clcdd_carrier *c, double *density);

/* Add (copying) or replace by name an eraser prompt. */
CLCDD_API clcdd_status clcdd_carrier_set_prompt(clcdd_carrier *c, const char *name, uint32_t rows,
                                                uint32_t dim, const float *data,
                                                const char *settings_json, const char *metrics_json);
/* Index of the prompt called name, or -1. */
CLCDD_API long clcdd_carrier_find_prompt(const clcdd_carrier *c, const char *name);

#ifdef __cplusplus
}
#endif
#endif
