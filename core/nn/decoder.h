/* The generic decoder: one forward for every family (switches come from clcdd_hparams).
 * Dimension legend: B sequences, T positions (right-padded), N = B*T rows, d hidden, H heads,
 * H_kv kv heads, G = H/H_kv, hd head dim, f MLP width, V vocabulary, L layers. */
#ifndef CLCDD_NN_DECODER_H
#define CLCDD_NN_DECODER_H

#include "nn/model.h"
#include "runtime/arena.h"

/* A batch on the device. ids[r] >= 0 is a token; ids[r] = -1 - k takes row k of the soft prompt.
 * pos: the rotary position of each row. key_len[b]: valid rows of sequence b (the rest is
 * padding and never attended to). */
typedef struct clcdd_batch {
    size_t B, T;
    clcdd_tensor ids;     /* I32 (N) */
    clcdd_tensor pos;     /* I32 (N) */
    clcdd_tensor key_len; /* I32 (B) */
    /* Optional (buf NULL when absent): rows grouped by token id for the embedding gradient,
     * built on the host with clcdd_embed_csr (see ops.h). */
    clcdd_tensor csr_ids, csr_starts, csr_rows;
    size_t n_unique;
} clcdd_batch;

/* Upload a right-padded batch: ids_host (B*T), lens (B); positions are pos0 + t. */
clcdd_status clcdd_batch_create(clcdd_ctx *ctx, size_t B, size_t T, const int32_t *ids_host,
                                const int32_t *lens, int32_t pos0, clcdd_batch *out);
void clcdd_batch_destroy(clcdd_batch *b);
/* A batch of T new positions per sequence after `past` cached ones (positions past + t, every key
 * up to past + T valid), for clcdd_decoder_forward_cached. */
clcdd_status clcdd_batch_create_cached(clcdd_ctx *ctx, size_t B, size_t T, const int32_t *ids_host,
                                       size_t past, clcdd_batch *out);
/* Build and upload the row grouping the embedding gradient needs (ids_host: the batch's ids). */
clcdd_status clcdd_batch_add_csr(clcdd_ctx *ctx, clcdd_batch *b, const int32_t *ids_host);

/* Per-layer activation slots (indices into the activation arena). */
typedef struct clcdd_layer_acts {
    size_t a, rstd1;          /* attn norm out (N, d), (N) */
    size_t q, k, v;           /* projections, token-major (N, d_q), (N, d_kv) x 2 */
    size_t qn, kn, rstdq, rstdk; /* q/k norm outputs and rstd (N*H), (N*H_kv) (qk_norm only) */
    size_t qh, kh, vh;        /* head-major (B, H, T, hd), (B, H_kv, T, hd) x 2 */
    size_t P;                 /* attention probabilities (B, H, T, T) */
    size_t oh, o;             /* attention output head-major (B,H,T,hd), merged (N, d_q) */
    size_t xmid;              /* residual after attention (N, d) */
    size_t m, rstd2;          /* ffn norm out (N, d), (N) */
    size_t g, u, h;           /* gate, up, swiglu (N, f) */
} clcdd_layer_acts;

typedef struct clcdd_acts {
    size_t B, T;
    int training;             /* 1: every layer keeps its own activations for the backward */
    clcdd_arena arena;
    size_t *x;                /* L + 1 residual streams (N, d): x[0] embeddings, x[L] output */
    clcdd_layer_acts *layer;  /* L entries (all equal when !training) */
    size_t xf, rstdf;         /* final norm out (N, d), (N) */
    size_t logits;            /* (N, V) */
} clcdd_acts;

clcdd_status clcdd_acts_create(clcdd_ctx *ctx, const clcdd_hparams *hp, size_t B, size_t T,
                               int training, clcdd_acts *out);
void clcdd_acts_destroy(clcdd_acts *a);
static inline clcdd_tensor clcdd_act(const clcdd_acts *a, size_t slot) {
    return clcdd_arena_view(&a->arena, slot);
}

/* Forward: embeddings (with the optional soft prompt `prompt` (T_p, d)), every layer, final norm,
 * logits into acts->logits. */
clcdd_status clcdd_decoder_forward(clcdd_ctx *ctx, const clcdd_model *m, const clcdd_batch *batch,
                                   const clcdd_tensor *prompt, clcdd_acts *acts);

/* Keys and values of past positions, per layer (B, H_kv, Tmax, hd), for incremental decoding.
 * len: positions filled (the same for every sequence: cached decoding needs equal lengths). */
typedef struct clcdd_kv_cache {
    size_t B, Tmax, len;
    clcdd_arena arena;
    size_t *k, *v;
} clcdd_kv_cache;

clcdd_status clcdd_kv_cache_create(clcdd_ctx *ctx, const clcdd_hparams *hp, size_t B, size_t Tmax,
                                   clcdd_kv_cache *out);
void clcdd_kv_cache_destroy(clcdd_kv_cache *c);

/* Forward of bt->T new positions per sequence (positions cache->len ..; bt->pos and bt->key_len =
 * len + T set by the caller) attending to everything cached; appends their keys and values and
 * advances cache->len. acts must be inference activations for at least cache->Tmax positions.
 * The logits of the new rows end up in acts->logits as usual. */
clcdd_status clcdd_decoder_forward_cached(clcdd_ctx *ctx, const clcdd_model *m,
                                          const clcdd_batch *bt, const clcdd_tensor *prompt,
                                          clcdd_kv_cache *cache, clcdd_acts *acts);

#endif
