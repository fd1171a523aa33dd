/* Optimizer steps against a plain-C transcription of torch.optim.AdamW / Adam / SGD(momentum) and
 * clip_grad_norm_, over three steps with fresh random gradients each step. Tolerance 2e-6
 * relative + 1e-7 absolute (the same float operations in a slightly different order). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness/harness.h"
#include "nn/optim.h"

static void ref_step(clcdd_optim_config c, int64_t t, float lr, float *p, const float *g, float *m,
                     float *v, size_t n, double clip) {
    for (size_t i = 0; i < n; i++) {
        float gi = (float)(g[i] * clip), w = p[i];
        if (c.kind == CLCDD_OPT_SGD) {
            gi += c.weight_decay * w;
            if (c.momentum != 0) {
                gi = t == 1 ? gi : c.momentum * m[i] + gi;
                m[i] = gi;
            }
            p[i] = w - lr * gi;
            continue;
        }
        if (c.kind == CLCDD_OPT_ADAM)
            gi += c.weight_decay * w;
        else
            w *= 1 - lr * c.weight_decay;
        m[i] = c.beta1 * m[i] + (1 - c.beta1) * gi;
        v[i] = c.beta2 * v[i] + (1 - c.beta2) * gi * gi;
        double bc1 = 1 - pow(c.beta1, (double)t), bc2 = 1 - pow(c.beta2, (double)t);
        p[i] = (float)(w - (lr / bc1) * (m[i] / (sqrt(v[i]) / sqrt(bc2) + c.eps)));
    }
}

static void run(clcdd_optim_config cfg) {
    clcdd_ctx *ctx = th_ctx();
    clcdd_hparams hp;
    memset(&hp, 0, sizeof hp);
    hp.vocab_size = 11, hp.hidden_size = 8, hp.intermediate_size = 12, hp.n_layers = 2;
    hp.n_heads = 2, hp.n_kv_heads = 1, hp.head_dim = 4, hp.rms_eps = 1e-5f, hp.rope_theta = 1e4f;
    clcdd_model m;
    TH_OK(clcdd_model_create(ctx, &hp, &m));
    TH_OK(clcdd_model_init_random(ctx, &m, 1, 0.5f));
    int tr[CLCDD_ROLE_COUNT];
    clcdd_trainable_default(tr);
    clcdd_grads G;
    TH_OK(clcdd_grads_create(ctx, &m, tr, &G));
    clcdd_optim o;
    TH_OK(clcdd_optim_create(ctx, &G, &cfg, &o));
    size_t ns = G.arena.n_slots;
    float **p = calloc(ns, sizeof *p), **mm = calloc(ns, sizeof *mm), **vv = calloc(ns, sizeof *vv);
    size_t *n = calloc(ns, sizeof *n), *pslot = calloc(ns, sizeof *pslot);
    size_t rows = (hp.n_layers + 1) * CLCDD_ROLE_COUNT;
    for (size_t i = 0; i < rows; i++)
        if (G.slots[i] != CLCDD_NO_SLOT) pslot[G.slots[i]] = m.slots[i];
    for (size_t s = 0; s < ns; s++) {
        clcdd_tensor pt = clcdd_arena_view(&m.params, pslot[s]);
        p[s] = th_download(&pt);
        n[s] = (size_t)clcdd_tensor_numel(&pt);
        mm[s] = calloc(n[s], 4);
        vv[s] = calloc(n[s], 4);
    }
    for (int64_t t = 1; t <= 3; t++) {
        float lr = cfg.lr * (float)t;
        double sq = 0;
        float **g = calloc(ns, sizeof *g);
        for (size_t s = 0; s < ns; s++) {
            g[s] = malloc(n[s] * 4);
            th_rand(g[s], n[s], 1000 * t + s, -0.3f, 0.3f);
            clcdd_tensor gt = clcdd_arena_view(&G.arena, s);
            TH_OK(clcdd_tensor_upload(ctx, &gt, g[s]));
            for (size_t i = 0; i < n[s]; i++) sq += (double)g[s][i] * g[s][i];
        }
        double clip = cfg.max_grad_norm > 0 ? fmin(1.0, cfg.max_grad_norm / (sqrt(sq) + 1e-6)) : 1.0;
        TH_OK(clcdd_optim_step(ctx, &o, &m, &G, lr));
        for (size_t s = 0; s < ns; s++) {
            ref_step(cfg, t, lr, p[s], g[s], mm[s], vv[s], n[s], clip);
            clcdd_tensor pt = clcdd_arena_view(&m.params, pslot[s]);
            float *got = th_download(&pt);
            cr_expect(th_check_close(m.params.slots[pslot[s]].name, got, p[s], n[s], 2e-6, 1e-7),
                      "kind %d step %lld", cfg.kind, (long long)t);
            free(got);
            free(g[s]);
        }
        free(g);
    }
    for (size_t s = 0; s < ns; s++) free(p[s]), free(mm[s]), free(vv[s]);
    free(p), free(mm), free(vv), free(n), free(pslot);
    clcdd_optim_destroy(&o);
    clcdd_grads_destroy(&G);
    clcdd_model_destroy(&m);
}

Test(optim, adamw_clipped) {
    clcdd_optim_config c = clcdd_optim_default();
    c.lr = 1e-2f;
    c.weight_decay = 0.1f;
    c.max_grad_norm = 0.5f; /* the random gradients' norm is ~ 3: clipping is active */
    run(c);
}

Test(optim, adamw_unclipped) {
    clcdd_optim_config c = clcdd_optim_default();
    c.lr = 3e-3f;
    c.max_grad_norm = 0;
    run(c);
}

Test(optim, adam_l2) {
    clcdd_optim_config c = clcdd_optim_default();
    c.kind = CLCDD_OPT_ADAM;
    c.lr = 1e-3f;
    c.weight_decay = 0.01f;
    run(c);
}

Test(optim, sgd_momentum) {
    clcdd_optim_config c = clcdd_optim_default();
    c.kind = CLCDD_OPT_SGD;
    c.lr = 0.1f;
    c.momentum = 0.9f;
    c.max_grad_norm = 0;
    run(c);
}

Test(optim, lr_schedule) {
    /* transformers' linear schedule: 10 steps, 2 warm-up. */
    cr_expect(clcdd_lr_linear(1.0f, 0, 2, 10) == 0.0f);
    cr_expect(clcdd_lr_linear(1.0f, 1, 2, 10) == 0.5f);
    cr_expect(clcdd_lr_linear(1.0f, 2, 2, 10) == 1.0f);
    cr_expect(fabsf(clcdd_lr_linear(1.0f, 6, 2, 10) - 0.5f) < 1e-7f);
    cr_expect(clcdd_lr_linear(1.0f, 10, 2, 10) == 0.0f);
}
