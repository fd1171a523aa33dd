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

Test(eraser, loss_and_gradient_match_pytorch) {
    clcdd_ctx *ctx = th_ctx();
    clcdd_hparams hp;
    memset(&hp, 0, sizeof hp);
    strcpy(hp.family, "llama");
    hp.vocab_size = 40, hp.hidden_size = 16, hp.intermediate_size = 24, hp.n_layers = 2;
    hp.n_heads = 4, hp.n_kv_heads = 2, hp.head_dim = 4, hp.rms_eps = 1e-5f, hp.rope_theta = 10000.0f;
    hp.bos_id = hp.pad_id = -1;
    clcdd_model base, model;
    fx_load_model(ctx, FX "/lcdd/base", &hp, &base);
    fx_load_model(ctx, FX "/lcdd/sft", &hp, &model);
    clcdd_safetensors *ref;
    TH_OK(clcdd_safetensors_open(FX "/eraser/eraser_ref.safetensors", &ref));
    clcdd_prompt_pool pool;
    memset(&pool, 0, sizeof pool);
    pool.n = 4;
    int32_t *pr[4], *an[4];
    size_t pl[4], al[4];
    for (int i = 0; i < 4; i++) {
        char name[32];
        size_t n;
        snprintf(name, sizeof name, "prompt%d", i);
        float *f = fx_tensor_f32(ref, name, &n);
        pr[i] = malloc(n * 4);
        for (size_t k = 0; k < n; k++) pr[i][k] = (int32_t)f[k];
        pl[i] = n;
        free(f);
        snprintf(name, sizeof name, "answer%d", i);
        f = fx_tensor_f32(ref, name, &n);
        an[i] = malloc(n * 4);
        for (size_t k = 0; k < n; k++) an[i][k] = (int32_t)f[k];
        al[i] = n;
        free(f);
    }
    pool.prompt = pr, pool.prompt_len = pl, pool.answer = an, pool.answer_len = al;
    clcdd_channel_set ch;
    memset(&ch, 0, sizeof ch);
    ch.n_layers = 2;
    uint32_t cnt[2];
    int32_t *idx[2];
    for (int l = 0; l < 2; l++) {
        char name[32];
        size_t n;
        snprintf(name, sizeof name, "channels%d", l);
        float *f = fx_tensor_f32(ref, name, &n);
        idx[l] = malloc(n * 4);
        for (size_t k = 0; k < n; k++) idx[l][k] = (int32_t)f[k];
        cnt[l] = (uint32_t)n;
        free(f);
    }
    ch.count = cnt, ch.idx = idx;
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
    TH_OK(clcdd_eraser_loss_grad(ctx, &base, &model, &ch, &pool, &c, P, pick, 3, &got, grad));
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
        TH_OK(clcdd_eraser_loss_grad(ctx, &base, &model, &ch, &pool, &c, P, pick, 3, &got, grad));
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
        TH_OK(clcdd_eraser_loss_grad(ctx, &base, &model, &ch, &pool, &c, P, pick, 3, &got, grad));
        cr_expect(fabsf(got.loss - lw[0]) <= 1e-4f * lw[0], "w_act: total %.6f vs %.6f", got.loss, lw[0]);
        cr_expect(fabsf(got.act - lw[5]) <= 1e-4f * lw[5], "w_act: act %.6f vs %.6f", got.act, lw[5]);
        cr_expect(fabsf(got.resp - lw[3]) <= 1e-4f * lw[3], "w_act: response KL %.6f vs %.6f", got.resp, lw[3]);
        cr_expect(th_check_close("grad_act", grad, gw, nP, 1e-3, 1e-5));
        /* without the response term there are no teacher-forced answers to match at: refused */
        c.w_resp = 0.0f;
        cr_expect(clcdd_eraser_loss_grad(ctx, &base, &model, &ch, &pool, &c, P, pick, 3, &got, grad) != CLCDD_OK);
        c.w_resp = 0.5f, c.w_act = 0.0f;
        free(lw), free(gw);
    }
    for (int i = 0; i < 4; i++) free(pr[i]), free(an[i]);
    for (int l = 0; l < 2; l++) free(idx[l]);
    free(P), free(want), free(loss), free(pickf), free(grad);
    clcdd_safetensors_close(ref);
    clcdd_model_destroy(&base);
    clcdd_model_destroy(&model);
}
