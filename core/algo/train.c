#include "algo/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/basic.h"
#include "nn/ops.h"
#include "runtime/ctx_internal.h"

void clcdd_dataset_init(clcdd_dataset *d) { memset(d, 0, sizeof *d); }

clcdd_status clcdd_dataset_add(clcdd_dataset *d, const int32_t *ids, const uint8_t *loss, size_t len) {
    if (len < 2) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "an example needs at least 2 tokens");
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        clcdd_example *g = realloc(d->items, cap * sizeof *g);
        if (!g) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "dataset");
        d->items = g;
        d->cap = cap;
    }
    clcdd_example *e = &d->items[d->n];
    e->ids = malloc(len * sizeof *e->ids);
    e->loss = malloc(len);
    if (!e->ids || !e->loss) {
        free(e->ids);
        free(e->loss);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "dataset");
    }
    memcpy(e->ids, ids, len * sizeof *ids);
    for (size_t i = 0; i < len; i++) e->loss[i] = loss ? loss[i] : (i > 0);
    e->loss[0] = 0;
    e->len = len;
    if (len > d->max_len) d->max_len = len;
    d->n++;
    return CLCDD_OK;
}

void clcdd_dataset_free(clcdd_dataset *d) {
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].ids);
        free(d->items[i].loss);
    }
    free(d->items);
    memset(d, 0, sizeof *d);
}

void clcdd_train_config_default(clcdd_train_config *c, int64_t steps) {
    memset(c, 0, sizeof *c);
    c->micro_batch = 8;
    c->accum = 4;
    c->steps = steps;
    c->warmup = steps / 10;
    c->schedule = CLCDD_SCHED_LINEAR;
    c->optim = clcdd_optim_default();
    c->seed = 42;
    clcdd_trainable_default(c->trainable);
}

float clcdd_train_lr(const clcdd_train_config *c, int64_t s) {
    float peak = c->optim.lr;
    switch (c->schedule) {
    case CLCDD_SCHED_CONSTANT: return c->warmup > 0 && s < c->warmup ? peak * (float)(s + 1) / (float)c->warmup : peak;
    case CLCDD_SCHED_COSINE: {
        if (c->warmup > 0 && s < c->warmup) return peak * (float)s / (float)c->warmup;
        double p = c->steps > c->warmup ? (double)(s - c->warmup) / (double)(c->steps - c->warmup) : 1.0;
        return (float)(peak * 0.5 * (1.0 + cos(3.14159265358979323846 * p)));
    }
    case CLCDD_SCHED_LINEAR:
    default: return clcdd_lr_linear(peak, s, c->warmup, c->steps);
    }
}

static clcdd_status make_i32(clcdd_ctx *ctx, size_t n, const char *what, clcdd_tensor *t) {
    int64_t s[1] = {(int64_t)n};
    return clcdd_tensor_create(ctx, CLCDD_I32, 1, s, what, t);
}

clcdd_status clcdd_trainer_create(clcdd_ctx *ctx, clcdd_model *m, const clcdd_train_config *cfg,
                                  size_t max_len, clcdd_trainer *t) {
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
    t->model = m;
    t->cfg = *cfg;
    t->max_T = max_len;
    size_t B = cfg->micro_batch, N = B * max_len;
    if (B == 0 || cfg->accum == 0 || max_len < 2)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "training needs micro-batch, accumulation and length > 0");
    clcdd_status st;
    int64_t one[1] = {1}, nn[1] = {(int64_t)N};
    t->h_ids = malloc(N * sizeof *t->h_ids);
    t->h_pos = malloc(N * sizeof *t->h_pos);
    t->h_tg = malloc(N * sizeof *t->h_tg);
    t->h_csr = malloc((3 * N + 1) * sizeof *t->h_csr);
    if (!t->h_ids || !t->h_pos || !t->h_tg || !t->h_csr) {
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "trainer buffers");
        goto fail;
    }
    if ((st = clcdd_acts_create(ctx, &m->hp, B, max_len, 1, &t->acts)) ||
        (st = clcdd_bwd_scratch_create(ctx, &m->hp, B, max_len, &t->scratch)) ||
        (st = clcdd_grads_create(ctx, m, cfg->trainable, &t->grads)) ||
        (!cfg->no_optimizer && (st = clcdd_optim_create(ctx, &t->grads, &cfg->optim, &t->optim))) ||
        (st = make_i32(ctx, N, "token ids", &t->ids)) || (st = make_i32(ctx, N, "positions", &t->pos)) ||
        (st = make_i32(ctx, B, "lengths", &t->lens)) || (st = make_i32(ctx, N, "targets", &t->targets)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, nn, "token losses", &t->loss_rows)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, one, "loss sum", &t->loss_sum)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, one, "window loss", &t->window_loss)))
        goto fail;
    if (clcdd_grads_has(&t->grads, CLCDD_ROLE_EMBED, 0)) {
        int64_t n1[1] = {(int64_t)N + 1};
        if ((st = make_i32(ctx, N, "token groups", &t->csr_ids)) ||
            (st = clcdd_tensor_create(ctx, CLCDD_I32, 1, n1, "token group starts", &t->csr_starts)) ||
            (st = make_i32(ctx, N, "token group rows", &t->csr_rows)))
            goto fail;
    }
    return CLCDD_OK;
fail:
    clcdd_trainer_destroy(t);
    return st;
}

clcdd_status clcdd_trainer_set_teacher(clcdd_trainer *t, const clcdd_model *teacher) {
    if (!teacher || teacher->hp.vocab_size != t->model->hp.vocab_size)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "the KL teacher must be a model with the same "
                          "vocabulary as the trained one");
    if (!t->teacher_acts.arena.n_chunks)
        TRY(clcdd_acts_create(t->ctx, &teacher->hp, t->cfg.micro_batch, t->max_T, 0, &t->teacher_acts));
    t->teacher = teacher;
    return CLCDD_OK;
}

void clcdd_trainer_destroy(clcdd_trainer *t) {
    clcdd_acts_destroy(&t->teacher_acts);
    clcdd_acts_destroy(&t->acts);
    clcdd_bwd_scratch_destroy(&t->scratch);
    clcdd_grads_destroy(&t->grads);
    clcdd_optim_destroy(&t->optim);
    clcdd_tensor_destroy(&t->ids);
    clcdd_tensor_destroy(&t->pos);
    clcdd_tensor_destroy(&t->lens);
    clcdd_tensor_destroy(&t->targets);
    clcdd_tensor_destroy(&t->loss_rows);
    clcdd_tensor_destroy(&t->loss_sum);
    clcdd_tensor_destroy(&t->window_loss);
    clcdd_tensor_destroy(&t->csr_ids);
    clcdd_tensor_destroy(&t->csr_starts);
    clcdd_tensor_destroy(&t->csr_rows);
    free(t->h_csr);
    free(t->h_ids);
    free(t->h_pos);
    free(t->h_tg);
    free(t->order);
    memset(t, 0, sizeof *t);
}

static uint64_t mix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Next example index in the seeded, per-epoch shuffled order. */
static clcdd_status next_index(clcdd_trainer *t, const clcdd_dataset *d, size_t *out) {
    if (!t->order || t->cursor >= d->n) {
        size_t *o = realloc(t->order, d->n * sizeof *o);
        if (!o) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "data order");
        t->order = o;
        if (t->cursor >= d->n) t->epoch++;
        uint64_t s = t->cfg.seed ^ (t->epoch * 0xD1B54A32D192ED03ULL);
        for (size_t i = 0; i < d->n; i++) o[i] = i;
        for (size_t i = d->n; i > 1; i--) {
            size_t j = (size_t)(mix(&s) % i), x = o[i - 1];
            o[i - 1] = o[j];
            o[j] = x;
        }
        t->cursor = 0;
    }
    *out = t->order[t->cursor++];
    return CLCDD_OK;
}

static clcdd_tensor head(const clcdd_tensor *base, size_t n) {
    clcdd_tensor v = *base;
    v.shape[0] = (int64_t)n;
    v.owns = 0;
    return v;
}

clcdd_status clcdd_trainer_step(clcdd_trainer *t, const clcdd_dataset *d, float *loss) {
    if (t->cfg.no_optimizer)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "this trainer has no optimizer (gradients only)");
    TRY(clcdd_trainer_accumulate(t, d));
    TRY(clcdd_optim_step(t->ctx, &t->optim, t->model, &t->grads, clcdd_train_lr(&t->cfg, t->step)));
    t->step++;
    if (loss) TRY(clcdd_tensor_download(t->ctx, &t->window_loss, loss));
    return CLCDD_OK;
}

clcdd_status clcdd_trainer_pick_window(clcdd_trainer *t, const clcdd_dataset *d, size_t *pick,
                                       size_t *window_tokens) {
    if (d->n == 0) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "the training set is empty");
    size_t n_ex = t->cfg.micro_batch * t->cfg.accum;
    *window_tokens = 0;
    for (size_t i = 0; i < n_ex; i++) {
        TRY(next_index(t, d, &pick[i]));
        const clcdd_example *e = &d->items[pick[i]];
        size_t len = e->len < t->max_T ? e->len : t->max_T;
        for (size_t k = 1; k < len; k++) *window_tokens += e->loss[k];
    }
    return CLCDD_OK;
}

clcdd_status clcdd_trainer_accumulate(clcdd_trainer *t, const clcdd_dataset *d) {
    if (d->n == 0) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "the training set is empty");
    /* Pick the window's examples first: the loss normalisation needs its token count. */
    size_t n_ex = t->cfg.micro_batch * t->cfg.accum;
    size_t *pick = malloc(n_ex * sizeof *pick);
    if (!pick) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "batch");
    size_t window_tokens = 0;
    clcdd_status st = clcdd_trainer_pick_window(t, d, pick, &window_tokens);
    if (st == CLCDD_OK) {
        float scale = window_tokens ? 1.0f / (float)window_tokens : 0.0f;
        st = clcdd_trainer_accumulate_picks(t, d, pick, n_ex, scale);
    }
    free(pick);
    return st;
}

clcdd_status clcdd_trainer_accumulate_picks(clcdd_trainer *t, const clcdd_dataset *d,
                                            const size_t *pick, size_t n_ex, float scale) {
    clcdd_ctx *ctx = t->ctx;
    const clcdd_hparams *hp = &t->model->hp;
    size_t V = hp->vocab_size;
    clcdd_status st = CLCDD_OK;
    if ((st = clcdd_arena_zero(ctx, &t->grads.arena)) || (st = clcdd_tensor_fill(ctx, &t->window_loss, 0.0f)))
        goto done;
    /* micro-batches of cfg.micro_batch examples; the last one may be shorter */
    for (size_t first = 0; first < n_ex; first += t->cfg.micro_batch) {
        size_t B = n_ex - first < t->cfg.micro_batch ? n_ex - first : t->cfg.micro_batch;
        const size_t *mbp = pick + first;
        size_t T = 2;
        for (size_t b = 0; b < B; b++) {
            size_t len = d->items[mbp[b]].len;
            if (len > T) T = len;
        }
        if (T > t->max_T) T = t->max_T;
        int32_t lens[1024];
        if (B > 1024) {
            st = clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "micro-batch above 1024");
            goto done;
        }
        for (size_t b = 0; b < B; b++) {
            const clcdd_example *e = &d->items[mbp[b]];
            size_t len = e->len < T ? e->len : T;
            lens[b] = (int32_t)len;
            for (size_t s = 0; s < T; s++) {
                size_t r = b * T + s;
                t->h_ids[r] = s < len ? e->ids[s] : 0;
                t->h_pos[r] = (int32_t)s;
                t->h_tg[r] = (s + 1 < len && e->loss[s + 1]) ? e->ids[s + 1] : -1;
            }
        }
        clcdd_batch bt;
        memset(&bt, 0, sizeof bt);
        bt.B = B;
        bt.T = T;
        bt.ids = head(&t->ids, B * T);
        bt.pos = head(&t->pos, B * T);
        bt.key_len = head(&t->lens, B);
        if (t->csr_ids.buf) {
            /* Padding rows carry id 0 but never reach the loss: their gradient is zero. */
            int32_t *u = t->h_csr, *s0 = u + B * T, *r = s0 + B * T + 1;
            bt.n_unique = clcdd_embed_csr(t->h_ids, B * T, u, s0, r);
            bt.csr_ids = head(&t->csr_ids, bt.n_unique ? bt.n_unique : 1);
            bt.csr_starts = head(&t->csr_starts, bt.n_unique + 1);
            bt.csr_rows = head(&t->csr_rows, B * T);
            if ((st = clcdd_tensor_upload(ctx, &bt.csr_ids, u)) ||
                (st = clcdd_tensor_upload(ctx, &bt.csr_starts, s0)) ||
                (st = clcdd_tensor_upload(ctx, &bt.csr_rows, r)))
                goto done;
        }
        clcdd_tensor tg = head(&t->targets, B * T), lr = head(&t->loss_rows, B * T);
        clcdd_tensor logits = clcdd_act(&t->acts, t->acts.logits);
        if ((st = clcdd_tensor_upload(ctx, &bt.ids, t->h_ids)) ||
            (st = clcdd_tensor_upload(ctx, &bt.pos, t->h_pos)) ||
            (st = clcdd_tensor_upload(ctx, &bt.key_len, lens)) ||
            (st = clcdd_tensor_upload(ctx, &tg, t->h_tg)) ||
            (t->teacher && (st = clcdd_decoder_forward(ctx, t->teacher, &bt, NULL, &t->teacher_acts))) ||
            (st = clcdd_decoder_forward(ctx, t->model, &bt, NULL, &t->acts)))
            goto done;
        if (t->teacher) {
            clcdd_tensor tl = clcdd_act(&t->teacher_acts, t->teacher_acts.logits);
            st = clcdd_kl_teacher(ctx, &logits, &tl, &lr, &tg, B * T, V, scale, 1);
        } else {
            st = clcdd_cross_entropy(ctx, &logits, &lr, &tg, B * T, V, scale, 1);
        }
        if (st != CLCDD_OK ||
            (st = clcdd_sum(ctx, &t->loss_sum, &lr)) ||
            (st = clcdd_axpy(ctx, &t->window_loss, &t->loss_sum, scale)) ||
            (st = clcdd_decoder_backward(ctx, t->model, &bt, &t->acts, &t->grads, &t->scratch, NULL, 0)))
            goto done;
    }
done:
    return st;
}
