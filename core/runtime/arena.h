/* Size-table allocation (STYLE habit 3): a category of tensors (parameters, gradients, optimizer
 * state, activations) is planned as a list of named shapes, then allocated as few device buffers
 * as the device's max allocation allows, each tensor a view aligned to the base-address
 * alignment. Plan with clcdd_arena_add (returns a slot), allocate once, then fetch views. */
#ifndef CLCDD_ARENA_H
#define CLCDD_ARENA_H

#include "clcdd/runtime.h"

typedef struct clcdd_arena_slot {
    char name[96];
    clcdd_dtype dtype;
    int ndim;
    int64_t shape[CLCDD_MAX_DIMS];
    size_t bytes;
    size_t chunk;   /* which buffer */
    size_t offset;  /* bytes into it */
} clcdd_arena_slot;

typedef struct clcdd_arena {
    char what[64];                 /* "parameters", "activations", ... for messages */
    clcdd_arena_slot *slots;
    size_t n_slots, cap_slots;
    cl_mem *chunks;
    size_t *chunk_bytes;
    size_t n_chunks;
    size_t total_bytes;
} clcdd_arena;

void clcdd_arena_init(clcdd_arena *a, const char *what);
/* Plan a tensor; *slot receives its index. Shapes are validated. */
clcdd_status clcdd_arena_add(clcdd_arena *a, const char *name, clcdd_dtype dtype, int ndim,
                             const int64_t *shape, size_t *slot);
/* Allocate the planned buffers (once). A tensor larger than the device's max allocation is an
 * error naming it. Contents are uninitialised unless zero is set. */
clcdd_status clcdd_arena_alloc(clcdd_ctx *ctx, clcdd_arena *a, int zero);
/* The view of a slot (after alloc). */
clcdd_tensor clcdd_arena_view(const clcdd_arena *a, size_t slot);
/* Zero every buffer. */
clcdd_status clcdd_arena_zero(clcdd_ctx *ctx, clcdd_arena *a);
void clcdd_arena_free(clcdd_arena *a);

#endif
