#include "nn/optim.h"

#include <math.h>
#include <string.h>

#include "nn/basic.h"
#include "runtime/ctx_internal.h"

clcdd_optim_config clcdd_optim_default(void) {
    clcdd_optim_config c = {CLCDD_OPT_ADAMW, 2e-5f, 0.9f, 0.999f, 1e-8f, 0.0f, 0.0f, 1.0f};
    return c;
}

static clcdd_status plan_like(clcdd_ctx *ctx, const clcdd_grads *g, clcdd_arena *a, const char *what) {
    clcdd_arena_init(a, what);
    for (size_t i = 0; i < g->arena.n_slots; i++) {
        size_t slot;
        const clcdd_arena_slot *s = &g->arena.slots[i];
        TRY(clcdd_arena_add(a, s->name, s->dtype, s->ndim, s->shape, &slot));
    }
    return clcdd_arena_alloc(ctx, a, 1);
}

clcdd_status clcdd_optim_create(clcdd_ctx *ctx, const clcdd_grads *grads,
                                const clcdd_optim_config *cfg, clcdd_optim *o) {
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    clcdd_status st = plan_like(ctx, grads, &o->m, "optimizer first moments");
    if (st == CLCDD_OK && cfg->kind != CLCDD_OPT_SGD)
        st = plan_like(ctx, grads, &o->v, "optimizer second moments");
    int64_t one[1] = {1};
    if (st == CLCDD_OK) st = clcdd_tensor_create(ctx, CLCDD_F32, 1, one, "gradient norm", &o->gsq);
    if (st == CLCDD_OK) st = clcdd_tensor_fill(ctx, &o->gsq, 0.0f);
    if (st != CLCDD_OK) clcdd_optim_destroy(o);
    return st;
}

void clcdd_optim_destroy(clcdd_optim *o) {
    clcdd_arena_free(&o->m);
    clcdd_arena_free(&o->v);
    clcdd_tensor_destroy(&o->gsq);
    memset(o, 0, sizeof *o);
}

clcdd_status clcdd_grads_sumsq(clcdd_ctx *ctx, const clcdd_grads *g, clcdd_tensor *gsq) {
    /* Each chunk is one contiguous buffer whose padding stays zero, so the sum over whole chunks
     * is the sum over the gradients. Partial sums of chunks are added in order. */
    TRY(clcdd_tensor_fill(ctx, gsq, 0.0f));
    int64_t one[1] = {1};
    clcdd_tensor part;
    TRY(clcdd_tensor_create(ctx, CLCDD_F32, 1, one, "norm partial", &part));
    clcdd_status st = CLCDD_OK;
    for (size_t c = 0; c < g->arena.n_chunks && st == CLCDD_OK; c++) {
        clcdd_tensor t;
        memset(&t, 0, sizeof t);
        t.buf = g->arena.chunks[c];
        t.dtype = CLCDD_F32;
        t.ndim = 1;
        t.shape[0] = (int64_t)(g->arena.chunk_bytes[c] / 4);
        st = clcdd_sumsq(ctx, &part, &t);
        if (st == CLCDD_OK) st = clcdd_axpy(ctx, gsq, &part, 1.0f);
    }
    clcdd_tensor_destroy(&part);
    return st;
}

clcdd_status clcdd_optim_step(clcdd_ctx *ctx, clcdd_optim *o, clcdd_model *m,
                              const clcdd_grads *g, float lr) {
    const clcdd_optim_config *c = &o->cfg;
    if (c->max_grad_norm > 0) TRY(clcdd_grads_sumsq(ctx, g, &o->gsq));
    o->step++;
    float bc1 = 1.0f - powf(c->beta1, (float)o->step);
    float sqrt_bc2 = sqrtf(1.0f - powf(c->beta2, (float)o->step));
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "optim", "", c->kind == CLCDD_OPT_SGD ? "sgd_step" : "adamw_step", &k));
    size_t rows = (size_t)m->hp.n_layers + 1;
    for (size_t i = 0; i < rows * CLCDD_ROLE_COUNT; i++) {
        if (g->slots[i] == CLCDD_NO_SLOT) continue;
        clcdd_tensor p = clcdd_arena_view(&m->params, m->slots[i]);
        clcdd_tensor gr = clcdd_arena_view(&g->arena, g->slots[i]);
        clcdd_tensor mm = clcdd_arena_view(&o->m, g->slots[i]);
        cl_ulong po = p.offset / 4, go = gr.offset / 4, mo = mm.offset / 4;
        cl_ulong n = (cl_ulong)clcdd_tensor_numel(&p);
        float maxn = c->max_grad_norm;
        int a = 0;
        KARG(k, a++, p.buf); KARG(k, a++, po); KARG(k, a++, gr.buf); KARG(k, a++, go);
        KARG(k, a++, mm.buf); KARG(k, a++, mo);
        if (c->kind == CLCDD_OPT_SGD) {
            cl_int first = o->step == 1;
            KARG(k, a++, n); KARG(k, a++, lr); KARG(k, a++, c->momentum);
            KARG(k, a++, c->weight_decay); KARG(k, a++, first);
        } else {
            clcdd_tensor vv = clcdd_arena_view(&o->v, g->slots[i]);
            cl_ulong vo = vv.offset / 4;
            cl_int l2 = c->kind == CLCDD_OPT_ADAM;
            KARG(k, a++, vv.buf); KARG(k, a++, vo); KARG(k, a++, n); KARG(k, a++, lr);
            KARG(k, a++, c->beta1); KARG(k, a++, c->beta2); KARG(k, a++, c->eps);
            KARG(k, a++, c->weight_decay); KARG(k, a++, bc1); KARG(k, a++, sqrt_bc2);
            KARG(k, a++, o->gsq.buf); KARG(k, a++, maxn); KARG(k, a++, l2);
            TRY(clcdd_launch_1d(ctx, k, (size_t)n, "adamw_step"));
            continue;
        }
        KARG(k, a++, o->gsq.buf); KARG(k, a++, maxn);
        TRY(clcdd_launch_1d(ctx, k, (size_t)n, "sgd_step"));
    }
    return CLCDD_OK;
}

float clcdd_lr_linear(float peak, int64_t step, int64_t warmup, int64_t total) {
    /* transformers get_linear_schedule_with_warmup, evaluated at the step about to be taken. */
    if (warmup > 0 && step < warmup) return peak * (float)step / (float)warmup;
    if (total <= warmup) return peak;
    float f = (float)(total - step) / (float)(total - warmup);
    return peak * (f > 0 ? f : 0);
}
