/* A model on the device: hyperparameters plus every weight as a view into one parameter arena
 * (in HF layout: Linear weights (out, in), rotary rows in half-split order). */
#ifndef CLCDD_NN_MODEL_H
#define CLCDD_NN_MODEL_H

#include "clcdd/model.h"
#include "clcdd/runtime.h"
#include "nn/ops.h"
#include "runtime/arena.h"

#define CLCDD_NO_SLOT ((size_t)-1)

typedef struct clcdd_model {
    clcdd_hparams hp;
    clcdd_arena params;
    size_t *slots;        /* (L + 1) * CLCDD_ROLE_COUNT: row 0 global roles, row 1+l layer l */
    clcdd_tensor inv_freq; /* (hd / 2) RoPE inverse frequencies incl. scaling (owned) */
    clcdd_rope_cs rope_cs; /* cos/sin of the first positions (clcdd_rope_cs_fill after inv_freq changes) */
    struct clcdd_packed_weight *packed; /* NULL, or (L + 1) * CLCDD_ROLE_COUNT: clcdd_model_pack */
} clcdd_model;

/* Validate hp (dimensions, divisibility, supported RoPE scaling) and plan + allocate the
 * parameter arena (zeroed). Roles absent from this family (no biases, no q/k norm, tied
 * lm_head) get no slot. */
clcdd_status clcdd_model_create(clcdd_ctx *ctx, const clcdd_hparams *hp, clcdd_model *out);
void clcdd_model_destroy(clcdd_model *m);

/* Expected shape of (role) for these hparams; returns the number of dims (0: role absent). */
int clcdd_model_role_shape(const clcdd_hparams *hp, clcdd_tensor_role role, int64_t shape[2]);

/* View of (role, layer); CLCDD_ERR_NOT_FOUND when the model has no such tensor. The tied
 * lm_head resolves to the embedding. */
clcdd_status clcdd_model_tensor(const clcdd_model *m, clcdd_tensor_role role, uint32_t layer,
                                clcdd_tensor *out);
int clcdd_model_has(const clcdd_model *m, clcdd_tensor_role role, uint32_t layer);

/* Frozen weights: keep the linear weights (q k v o gate up down, and the lm_head) also in the own
 * GEMM kernel's panel layout, packed once, so products with them skip the per-call packing: the
 * forward x W^T, and with `backward` also dX = dY W. Only while the weights do not change: a
 * caller that trains the model after this must call clcdd_model_unpack first. Where another
 * backend serves these products (CLBlast on a GPU) no copy is made. Costs the weights' size once
 * more (twice with backward). clcdd_model_destroy unpacks. */
clcdd_status clcdd_model_pack(clcdd_ctx *ctx, clcdd_model *m, int backward);
void clcdd_model_unpack(clcdd_model *m);
/* clcdd_model_pack as a speed-up only: on failure (e.g. no device memory for the copies) logs a
 * warning naming `what` and leaves the model unpacked. */
void clcdd_model_pack_or_warn(clcdd_ctx *ctx, clcdd_model *m, int backward, const char *what);
/* The packed copy of (role, layer), or NULL (none, or the model is not packed). */
const struct clcdd_packed_weight *clcdd_model_packed(const clcdd_model *m, clcdd_tensor_role role,
                                                     uint32_t layer);

/* Random init (seeded): linear weights ~ N(0, std^2), norms = 1, biases = 0. */
clcdd_status clcdd_model_init_random(clcdd_ctx *ctx, clcdd_model *m, uint64_t seed, float std);

/* RoPE inverse frequencies for hp (host side; hd/2 floats), incl. linear and llama3 scaling. */
clcdd_status clcdd_rope_inv_freq(const clcdd_hparams *hp, float *out);

const char *clcdd_role_name(clcdd_tensor_role role);

#endif
