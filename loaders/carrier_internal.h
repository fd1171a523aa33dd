/* Shared between the carrier archive writer and reader (loaders/carrier_*.c): limits, the shapes
 * implied by the model dimensions, and the checks both sides apply. Not installed. */
#ifndef CLCDD_CARRIER_INTERNAL_H
#define CLCDD_CARRIER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd/carrier.h"
#include "clcdd_internal.h"

#define CARRIER_MAGIC "clcdd-carrier"
#define CARRIER_MINOR 0                      /* minor version this build writes and reads */
#define CARRIER_CHUNK_BYTES (1u << 20)       /* max bytes of one bin chunk of a large array */
#define CARRIER_MAX_PROMPTS 4096u
#define CARRIER_MAX_PROMPT_ROWS 4096u
#define CARRIER_MAX_JSON (16u << 20)          /* bytes of a JSON text (train, settings, metrics) */
/* Sanity caps on the model dimensions (far above any real model; they only keep arithmetic and
 * allocations bounded when a header is garbage). */
#define CARRIER_MAX_VOCAB (1u << 24)
#define CARRIER_MAX_HIDDEN (1u << 17)
#define CARRIER_MAX_FF (1u << 20)
#define CARRIER_MAX_LAYERS 4096u
#define CARRIER_MAX_HEADS 4096u
#define CARRIER_MAX_HEAD_DIM 4096u

/* Record kinds, in the order they must appear in a file. */
enum { CREC_HEADER = 0, CREC_MASKS, CREC_MATRIX, CREC_NORM, CREC_TRAIN, CREC_PROMPT, CREC_END };

/* Short name of a role as used in messages ("q", "attn_norm"); "?" when out of range. */
const char *carrier_role_name(uint32_t role);
/* 1 and the (rows, cols) of the weight when role is a masked projection (q k v o gate up down). */
int carrier_matrix_shape(const clcdd_carrier *c, uint32_t role, uint32_t *rows, uint32_t *cols);
/* 1 and the length when role is a norm (attn_norm ffn_norm final_norm q_norm k_norm). */
int carrier_norm_len(const clcdd_carrier *c, uint32_t role, uint32_t *n);

/* Record a failure "<ctx>: field '<field>': <message>" plus what to do (by status). */
clcdd_status carrier_fail(clcdd_status st, const char *ctx, const char *field, const char *fmt, ...)
    CLCDD_PRINTF(4, 5);

/* Dimension caps and divisibility; *n_mask = L * (4d + f + H*hd + 2*H_kv*hd). */
clcdd_status carrier_check_dims(const clcdd_carrier *c, clcdd_status st, const char *ctx,
                                uint64_t *n_mask);
/* A sorted, unique index list below limit. */
clcdd_status carrier_check_indices(const uint32_t *idx, uint32_t n, uint32_t limit,
                                   clcdd_status st, const char *ctx, const char *field);
/* A string field: valid UTF-8, no NUL, at most max_len bytes. */
clcdd_status carrier_check_string(const char *s, size_t len, size_t max_len, clcdd_status st,
                                  const char *ctx, const char *field);

#endif
