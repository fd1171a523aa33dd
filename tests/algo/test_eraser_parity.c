/* The eraser's loss terms and d loss / d P against an independent PyTorch implementation
 * (tests/fixtures/make_eraser_fixture.py): MSE on carrier channels of two layers, tail KL over the
 * last 3 prompt positions, response KL on teacher-forced answers and L2, for a batch of 3 prompts
 * of different lengths (right-padded) on the LCDD fixture's tiny LLaMA.
 * The same with the soft prompt placed before the last 1 and the last 0 prompt tokens
 * (clcdd_eraser_config.trigger_pos), whose reference locates every row independently; and with the
 * per-position activation match at the channels (w_act) added.
 * Tolerance: loss terms 1e-4 relative; gradient 1e-3 relative + 1e-5 absolute (float32 through
 * two forward passes and a backward in a different summation order). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "algo/eraser.h"
#include "fixture_model.h"
#include "harness/harness.h"

#define FX CLCDD_TEST_DATA "/fixtures"

typedef struct fx {
    clcdd_ctx *ctx;
    clcdd_model base, model;
    clcdd_safetensors *ref;
    clcdd_prompt_pool pool;
    int32_t *pr[4], *an[4];
    size_t pl[4], al[4];
    clcdd_channel_set ch;
    uint32_t cnt[2];
    int32_t *idx[2];
} fx;

/* The LCDD fixture's base and SFT models, the reference's 4 prompts with answers and channels. */
static void fx_load(fx *f) {
    memset(f, 0, sizeof *f);
    f->ctx = th_ctx();
    clcdd_hparams hp;
    memset(&hp, 0, sizeof hp);
    strcpy(hp.family, "llama");
    hp.vocab_size = 40, hp.hidden_size = 16, hp.intermediate_size = 24, hp.n_layers = 2;
    hp.n_heads = 4, hp.n_kv_heads = 2, hp.head_dim = 4, hp.rms_eps = 1e-5f, hp.rope_theta = 10000.0f;
    hp.bos_id = hp.pad_id = -1;
    fx_load_model(f->ctx, FX "/lcdd/base", &hp, &f->base);
    fx_load_model(f->ctx, FX "/lcdd/sft", &hp, &f->model);
    TH_OK(clcdd_safetensors_open(FX "/eraser/eraser_ref.safetensors", &f->ref));
    f->pool.n = 4;
    for (int i = 0; i < 4; i++) {
        char name[32];
        size_t n;
        snprintf(name, sizeof name, "prompt%d", i);
        float *v = fx_tensor_f32(f->ref, name, &n);
        f->pr[i] = malloc(n * 4);
        for (size_t k = 0; k < n; k++) f->pr[i][k] = (int32_t)v[k];
        f->pl[i] = n;
        free(v);
        snprintf(name, sizeof name, "answer%d", i);
        v = fx_tensor_f32(f->ref, name, &n);
        f->an[i] = malloc(n * 4);
        for (size_t k = 0; k < n; k++) f->an[i][k] = (int32_t)v[k];
        f->al[i] = n;
        free(v);
    }
    f->pool.prompt = f->pr, f->pool.prompt_len = f->pl, f->pool.answer = f->an, f->pool.answer_len = f->al;
    f->ch.n_layers = 2;
    for (int l = 0; l < 2; l++) {
        char name[32];
        size_t n;
        snprintf(name, sizeof name, "channels%d", l);
        float *v = fx_tensor_f32(f->ref, name, &n);
        f->idx[l] = malloc(n * 4);
        for (size_t k = 0; k < n; k++) f->idx[l][k] = (int32_t)v[k];
        f->cnt[l] = (uint32_t)n;
        free(v);
    }
    f->ch.count = f->cnt, f->ch.idx = f->idx;
}

static void fx_free(fx *f) {
    for (int i = 0; i < 4; i++) free(f->pr[i]), free(f->an[i]);
    for (int l = 0; l < 2; l++) free(f->idx[l]);
    clcdd_safetensors_close(f->ref);
    clcdd_model_destroy(&f->base);
    clcdd_model_destroy(&f->model);
}

Test(eraser, loss_and_gradient_match_pytorch) {
    fx f;
    fx_load(&f);
    clcdd_ctx *ctx = f.ctx;
    clcdd_safetensors *ref = f.ref;
    clcdd_eraser_config c;
    clcdd_eraser_config_paper(&c);
    c.rows = 3, c.batch = 4, c.n_target = 4, c.tail_k = 3;
    c.w_mse = 1.0f, c.w_kl = 0.7f, c.w_l2 = 0.1f, c.w_resp = 0.5f;
    size_t nP;
    float *P = fx_tensor_f32(ref, "P", &nP), *want = fx_tensor_f32(ref, "grad", NULL);
    float *loss = fx_tensor_f32(ref, "loss", NULL), *pickf = fx_tensor_f32(ref, "pick", NULL);
    size_t pick[3] = {(size_t)pickf[0], (size_t)pickf[1], (size_t)pickf[2]};
    float *grad = malloc(nP * 4);
    clcdd_eraser_progress got;
    TH_OK(clcdd_eraser_loss_grad(ctx, &f.base, &f.model, &f.ch, &f.pool, &c, P, pick, 3, &got, grad));
    /* loss = [total, mse, tail, resp, l2] in the fixture (mse/l2 unweighted there; weights 1/0.1) */
    cr_expect(fabsf(got.loss - loss[0]) <= 1e-4f * loss[0], "total %.6f vs %.6f", got.loss, loss[0]);
    cr_expect(fabsf(got.mse - loss[1]) <= 1e-4f * loss[1] + 1e-7f, "mse %.6f vs %.6f", got.mse, loss[1]);
    cr_expect(fabsf(got.l2 - 0.1f * loss[4]) <= 1e-4f * loss[4], "l2 %.6f vs %.6f", got.l2, 0.1f * loss[4]);
    cr_expect(fabsf(got.resp - loss[3]) <= 1e-4f * loss[3], "response KL %.6f vs %.6f", got.resp, loss[3]);
    cr_expect(th_check_close("eraser gradient", grad, want, nP, 1e-3, 1e-5));
    /* the same with the soft prompt placed before the last 1 and the last 0 prompt tokens */
    for (int at = 1; at >= 0; at--) {
        char ln[16], gn[16];
        snprintf(ln, sizeof ln, "loss_at%d", at);
        snprintf(gn, sizeof gn, "grad_at%d", at);
        float *lw = fx_tensor_f32(ref, ln, NULL), *gw = fx_tensor_f32(ref, gn, NULL);
        c.trigger_pos = at;
        TH_OK(clcdd_eraser_loss_grad(ctx, &f.base, &f.model, &f.ch, &f.pool, &c, P, pick, 3, &got, grad));
        cr_expect(fabsf(got.loss - lw[0]) <= 1e-4f * lw[0], "at %d: total %.6f vs %.6f", at, got.loss, lw[0]);
        cr_expect(fabsf(got.mse - lw[1]) <= 1e-4f * lw[1] + 1e-7f, "at %d: mse %.6f vs %.6f", at, got.mse, lw[1]);
        cr_expect(fabsf(got.resp - lw[3]) <= 1e-4f * lw[3], "at %d: response KL %.6f vs %.6f", at, got.resp, lw[3]);
        cr_expect(th_check_close(gn, grad, gw, nP, 1e-3, 1e-5));
        free(lw), free(gw);
    }
    /* the per-position activation match (w_act 0.8) on top, the soft prompt before the prompt */
    {
        float *lw = fx_tensor_f32(ref, "loss_act", NULL), *gw = fx_tensor_f32(ref, "grad_act", NULL);
        c.trigger_pos = CLCDD_TRIGGER_PREFIX;
        c.w_act = 0.8f;
        TH_OK(clcdd_eraser_loss_grad(ctx, &f.base, &f.model, &f.ch, &f.pool, &c, P, pick, 3, &got, grad));
        cr_expect(fabsf(got.loss - lw[0]) <= 1e-4f * lw[0], "w_act: total %.6f vs %.6f", got.loss, lw[0]);
        cr_expect(fabsf(got.act - lw[5]) <= 1e-4f * lw[5], "w_act: act %.6f vs %.6f", got.act, lw[5]);
        cr_expect(fabsf(got.resp - lw[3]) <= 1e-4f * lw[3], "w_act: response KL %.6f vs %.6f", got.resp, lw[3]);
        cr_expect(th_check_close("grad_act", grad, gw, nP, 1e-3, 1e-5));
        free(lw), free(gw);
        /* the response KL's weight 0: the answers are still teacher-forced for the match alone */
        lw = fx_tensor_f32(ref, "loss_actonly", NULL), gw = fx_tensor_f32(ref, "grad_actonly", NULL);
        c.w_resp = 0.0f;
        TH_OK(clcdd_eraser_loss_grad(ctx, &f.base, &f.model, &f.ch, &f.pool, &c, P, pick, 3, &got, grad));
        cr_expect(fabsf(got.loss - lw[0]) <= 1e-4f * lw[0], "w_resp 0: total %.6f vs %.6f", got.loss, lw[0]);
        cr_expect(fabsf(got.act - lw[5]) <= 1e-4f * lw[5], "w_resp 0: act %.6f vs %.6f", got.act, lw[5]);
        cr_expect(th_check_close("grad_actonly", grad, gw, nP, 1e-3, 1e-5));
        /* without the base's answers there is nothing to match at: refused */
        int32_t **answers = f.pool.answer;
        f.pool.answer = NULL;
        cr_expect(clcdd_eraser_loss_grad(ctx, &f.base, &f.model, &f.ch, &f.pool, &c, P, pick, 3, &got, grad) != CLCDD_OK);
        f.pool.answer = answers;
        c.w_resp = 0.5f, c.w_act = 0.0f;
        free(lw), free(gw);
    }
    free(P), free(want), free(loss), free(pickf), free(grad);
    fx_free(&f);
}

/* keep_last returns the soft prompt after the last update instead of the spec's lowest-batch-loss
 * one. One step on the whole 4-prompt pool (batch 4, so the step's batch is known), constant lr:
 * the spec's choice is the initial P0 (the only P evaluated), and keep_last must return the first
 * Adam step from it, computed here from clcdd_eraser_loss_grad at P0: with bias correction the
 * first step is lr * g / (|g| + eps) for the clipped g (the clip's scale cancels), then every row
 * is projected onto the ball of radius max_norm. Tolerance 1e-5 absolute (|P| <= 1), skipping
 * entries with |g| < 1e-4 where the batch's summation order could flip the step's sign. */
Test(eraser, keep_last_returns_the_final_prompt) {
    fx f;
    fx_load(&f);
    clcdd_eraser_config c;
    clcdd_eraser_config_paper(&c);
    c.rows = 3, c.batch = 4, c.n_target = 4, c.tail_k = 3, c.steps = 1, c.cosine = 0, c.lr = 0.05f;
    c.w_resp = 0.5f;
    size_t n = 3 * 16, pick[4] = {0, 1, 2, 3};
    float *p0 = malloc(n * 4), *p1 = malloc(n * 4), *g = malloc(n * 4), *want = malloc(n * 4);
    TH_OK(clcdd_eraser_train(f.ctx, &f.base, &f.model, &f.ch, &f.pool, &c, NULL, NULL, p0, NULL));
    c.keep_last = 1;
    TH_OK(clcdd_eraser_train(f.ctx, &f.base, &f.model, &f.ch, &f.pool, &c, NULL, NULL, p1, NULL));
    TH_OK(clcdd_eraser_loss_grad(f.ctx, &f.base, &f.model, &f.ch, &f.pool, &c, p0, pick, 4, NULL, g));
    for (size_t r = 0; r < 3; r++) {
        double sq = 0;
        for (size_t j = 0; j < 16; j++) {
            size_t i = r * 16 + j;
            want[i] = p0[i] - c.lr * g[i] / (fabsf(g[i]) + c.eps);
            sq += (double)want[i] * want[i];
        }
        double nr = sqrt(sq);
        if (nr > c.max_norm)
            for (size_t j = 0; j < 16; j++) want[r * 16 + j] *= (float)(c.max_norm / nr);
    }
    size_t checked = 0, moved = 0;
    for (size_t i = 0; i < n; i++) {
        moved += p1[i] != p0[i];
        if (fabsf(g[i]) < 1e-4f) continue;
        checked++;
        cr_expect(fabsf(p1[i] - want[i]) <= 1e-5f, "P[%zu]: %.7f, want %.7f (P0 %.7f, g %.3g)", i, p1[i], want[i],
                  p0[i], g[i]);
    }
    cr_expect(checked > n / 2 && moved > n / 2, "%zu of %zu entries checked, %zu moved", checked, n, moved);
    free(p0), free(p1), free(g), free(want);
    fx_free(&f);
}
