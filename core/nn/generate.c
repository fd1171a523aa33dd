#include "nn/generate.h"

#include <stdlib.h>
#include <string.h>

#include "nn/ops.h"
#include "runtime/ctx_internal.h"

static int is_eos(const clcdd_hparams *hp, int32_t id) {
    for (uint32_t i = 0; i < hp->n_eos; i++)
        if (hp->eos_ids[i] == id) return 1;
    return 0;
}

/* Clears every request's output and checks its prompt; *maxp = the longest prompt. */
static clcdd_status check_requests(clcdd_gen_request *reqs, size_t n, size_t *maxp) {
    *maxp = 0;
    for (size_t i = 0; i < n; i++) {
        reqs[i].out_len = 0;
        if (reqs[i].prompt_len == 0)
            return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "generation request %zu has an empty prompt", i);
        if (reqs[i].prompt_len > *maxp) *maxp = reqs[i].prompt_len;
    }
    return CLCDD_OK;
}

clcdd_status clcdd_generate_greedy_uncached(clcdd_ctx *ctx, const clcdd_model *m,
                                            const clcdd_tensor *soft_prompt, clcdd_gen_request *reqs,
                                            size_t n, size_t max_new, size_t batch) {
    const clcdd_hparams *hp = &m->hp;
    size_t maxp = 0;
    TRY(check_requests(reqs, n, &maxp));
    if (n == 0) return CLCDD_OK;
    if (batch == 0 || batch > n) batch = n;
    size_t Tmax = maxp + max_new;
    clcdd_acts A;
    TRY(clcdd_acts_create(ctx, hp, batch, Tmax, 0, &A));
    int32_t *ids = malloc(batch * Tmax * sizeof *ids), *lens = malloc(batch * sizeof *lens);
    int32_t *pos = malloc(batch * Tmax * sizeof *pos), *rows = malloc(batch * sizeof *rows);
    int32_t *next = malloc(batch * sizeof *next);
    int *done = malloc(batch * sizeof *done);
    clcdd_tensor t_ids = {0}, t_pos = {0}, t_len = {0}, t_rows = {0}, t_next = {0};
    int64_t sN[1] = {(int64_t)(batch * Tmax)}, sB[1] = {(int64_t)batch};
    clcdd_status st = CLCDD_OK;
    if (!ids || !lens || !pos || !rows || !next || !done) {
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "generation buffers");
        goto out;
    }
    if ((st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sN, "ids", &t_ids)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sN, "positions", &t_pos)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sB, "lengths", &t_len)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sB, "rows", &t_rows)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sB, "next", &t_next)))
        goto out;
    for (size_t first = 0; first < n; first += batch) {
        size_t B = n - first < batch ? n - first : batch, active = B, T = 0;
        for (size_t b = 0; b < B; b++) {
            done[b] = 0;
            lens[b] = (int32_t)reqs[first + b].prompt_len;
        }
        for (size_t step = 0; step < max_new && active > 0; step++) {
            T = 0;
            for (size_t b = 0; b < B; b++)
                if ((size_t)lens[b] > T) T = (size_t)lens[b];
            for (size_t b = 0; b < B; b++) {
                const clcdd_gen_request *r = &reqs[first + b];
                for (size_t t = 0; t < T; t++) {
                    size_t L = (size_t)lens[b];
                    int32_t v = 0;
                    if (t < r->prompt_len)
                        v = r->prompt[t];
                    else if (t < L)
                        v = r->out[t - r->prompt_len];
                    ids[b * T + t] = v;
                    pos[b * T + t] = (int32_t)t;
                }
                rows[b] = (int32_t)(b * T + (size_t)lens[b] - 1);
            }
            clcdd_tensor vi = t_ids, vp = t_pos, vl = t_len;
            vi.shape[0] = vp.shape[0] = (int64_t)(B * T);
            vl.shape[0] = (int64_t)B;
            clcdd_batch bt;
            memset(&bt, 0, sizeof bt);
            bt.B = B;
            bt.T = T;
            bt.ids = vi;
            bt.pos = vp;
            bt.key_len = vl;
            clcdd_tensor vr = t_rows, vn = t_next, logits = clcdd_act(&A, A.logits);
            vr.shape[0] = vn.shape[0] = (int64_t)B;
            if ((st = clcdd_tensor_upload(ctx, &vi, ids)) || (st = clcdd_tensor_upload(ctx, &vp, pos)) ||
                (st = clcdd_tensor_upload(ctx, &vl, lens)) || (st = clcdd_tensor_upload(ctx, &vr, rows)) ||
                (st = clcdd_decoder_forward(ctx, m, &bt, soft_prompt, &A)) ||
                (st = clcdd_argmax_rows(ctx, &vn, &logits, &vr, B, hp->vocab_size)) ||
                (st = clcdd_tensor_download(ctx, &vn, next)))
                goto out;
            for (size_t b = 0; b < B; b++) {
                if (done[b]) continue;
                clcdd_gen_request *r = &reqs[first + b];
                r->out[r->out_len++] = next[b];
                lens[b]++;
                if (is_eos(hp, next[b]) || r->out_len >= max_new) {
                    done[b] = 1;
                    active--;
                }
            }
        }
    }
out:
    clcdd_tensor_destroy(&t_ids);
    clcdd_tensor_destroy(&t_pos);
    clcdd_tensor_destroy(&t_len);
    clcdd_tensor_destroy(&t_rows);
    clcdd_tensor_destroy(&t_next);
    free(ids), free(lens), free(pos), free(rows), free(next), free(done);
    clcdd_acts_destroy(&A);
    return st;
}

/* (prompt length, request index) pairs, ordered by length then index: a deterministic grouping. */
typedef struct { size_t len, i; } len_idx;
static int by_len(const void *a, const void *b) {
    const len_idx *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* One group of B requests with the same prompt length pn. */
static clcdd_status greedy_group(clcdd_ctx *ctx, const clcdd_model *m, const clcdd_tensor *soft,
                                 clcdd_gen_request *reqs, const size_t *idx, size_t B, size_t pn,
                                 size_t max_new, int32_t *ids, int32_t *rows, int32_t *next,
                                 int *done) {
    const clcdd_hparams *hp = &m->hp;
    clcdd_kv_cache kv;
    clcdd_acts A;
    memset(&kv, 0, sizeof kv);
    memset(&A, 0, sizeof A);
    clcdd_tensor t_rows = {0}, t_next = {0};
    int64_t sB[1] = {(int64_t)B};
    clcdd_status st = clcdd_kv_cache_create(ctx, hp, B, pn + max_new, &kv);
    if (st == CLCDD_OK) st = clcdd_acts_create(ctx, hp, B, pn + max_new, 0, &A);
    if (st == CLCDD_OK) st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sB, "rows", &t_rows);
    if (st == CLCDD_OK) st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sB, "next", &t_next);
    for (size_t b = 0; b < B; b++) {
        memcpy(ids + b * pn, reqs[idx[b]].prompt, pn * sizeof *ids);
        done[b] = 0;
    }
    size_t active = B, T = pn;
    for (size_t step = 0; st == CLCDD_OK && step < max_new && active > 0; step++) {
        clcdd_batch bt;
        if ((st = clcdd_batch_create_cached(ctx, B, T, ids, kv.len, &bt))) break;
        st = clcdd_decoder_forward_cached(ctx, m, &bt, soft, &kv, &A);
        clcdd_batch_destroy(&bt);
        for (size_t b = 0; b < B; b++) rows[b] = (int32_t)(b * T + T - 1);
        clcdd_tensor logits = clcdd_act(&A, A.logits);
        if (st == CLCDD_OK) st = clcdd_tensor_upload(ctx, &t_rows, rows);
        if (st == CLCDD_OK) st = clcdd_argmax_rows(ctx, &t_next, &logits, &t_rows, B, hp->vocab_size);
        if (st == CLCDD_OK) st = clcdd_tensor_download(ctx, &t_next, next);
        if (st != CLCDD_OK) break;
        for (size_t b = 0; b < B; b++) {
            ids[b] = next[b]; /* the next forward's one new position per sequence */
            if (done[b]) continue;
            clcdd_gen_request *r = &reqs[idx[b]];
            r->out[r->out_len++] = next[b];
            if (is_eos(hp, next[b]) || r->out_len >= max_new) {
                done[b] = 1;
                active--;
            }
        }
        T = 1;
    }
    clcdd_tensor_destroy(&t_rows);
    clcdd_tensor_destroy(&t_next);
    clcdd_acts_destroy(&A);
    clcdd_kv_cache_destroy(&kv);
    return st;
}

clcdd_status clcdd_generate_greedy(clcdd_ctx *ctx, const clcdd_model *m,
                                   const clcdd_tensor *soft_prompt, clcdd_gen_request *reqs,
                                   size_t n, size_t max_new, size_t batch) {
    size_t maxp = 0;
    TRY(check_requests(reqs, n, &maxp));
    if (n == 0 || max_new == 0) return CLCDD_OK;
    if (batch == 0 || batch > n) batch = n;
    size_t *idx = malloc(n * sizeof *idx);
    len_idx *order = malloc(n * sizeof *order);
    int32_t *ids = malloc(batch * maxp * sizeof *ids), *rows = malloc(batch * sizeof *rows);
    int32_t *next = malloc(batch * sizeof *next);
    int *done = malloc(batch * sizeof *done);
    clcdd_status st = CLCDD_OK;
    if (!idx || !order || !ids || !rows || !next || !done) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "generation buffers");
    if (st == CLCDD_OK) {
        for (size_t i = 0; i < n; i++) order[i] = (len_idx){reqs[i].prompt_len, i};
        qsort(order, n, sizeof *order, by_len);
        for (size_t i = 0; i < n; i++) idx[i] = order[i].i;
    }
    for (size_t i = 0; st == CLCDD_OK && i < n;) {
        size_t pn = reqs[idx[i]].prompt_len, j = i;
        while (j < n && j - i < batch && reqs[idx[j]].prompt_len == pn) j++;
        st = greedy_group(ctx, m, soft_prompt, reqs, idx + i, j - i, pn, max_new, ids, rows, next, done);
        i = j;
    }
    free(idx), free(order), free(ids), free(rows), free(next), free(done);
    return st;
}
