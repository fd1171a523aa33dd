/* Decoder backward against central finite differences of the device forward's loss, along a
 * random direction per parameter tensor (the directional derivative <grad, D> sums many
 * coordinates, so it stands well above float32 forward noise). Loss: mean token cross-entropy of
 * every valid row. h = 1e-3 along D ~ U(-1,1)^n: the float32 loss (~3.3) carries ~2e-7 of rounding
 * noise, i.e. ~1e-4 in the difference quotient (larger h lets the curvature through: at 1e-2 the
 * first layers' v, k and gate directions were off by up to 7%). Tolerance: |fd - <g, D>| <=
 * 1e-2 * |fd| + 3e-4: a wrong sign, a missing term or a wrong scale still fails it by far. The
 * tight check is the parity with PyTorch autograd on the fixtures. Also: frozen roles get no gradient tensor, and the soft-prompt gradient. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "clcdd/gemm.h"
#include "harness/harness.h"
#include "nn/backward.h"
#include "nn/ops.h"

static clcdd_hparams small_hp(void) {
    clcdd_hparams hp;
    memset(&hp, 0, sizeof hp);
    hp.vocab_size = 29;
    hp.hidden_size = 16;
    hp.intermediate_size = 24;
    hp.n_layers = 2;
    hp.n_heads = 4;
    hp.n_kv_heads = 2;
    hp.head_dim = 4;
    hp.rms_eps = 1e-5f;
    hp.rope_theta = 10000.0f;
    return hp;
}

typedef struct {
    clcdd_ctx *ctx;
    clcdd_model m;
    clcdd_batch bt;
    clcdd_acts A;
    clcdd_tensor targets, loss, prompt;
    size_t N, n_valid, prompt_rows;
} fixture;

static double device_loss(fixture *f, int write_grad) {
    TH_OK(clcdd_decoder_forward(f->ctx, &f->m, &f->bt, f->prompt_rows ? &f->prompt : NULL, &f->A));
    clcdd_tensor lg = clcdd_act(&f->A, f->A.logits);
    TH_OK(clcdd_cross_entropy(f->ctx, &lg, &f->loss, &f->targets, f->N, f->m.hp.vocab_size,
                              1.0f / (float)f->n_valid, write_grad));
    float *l = th_download(&f->loss);
    double s = 0;
    for (size_t i = 0; i < f->N; i++) s += l[i];
    free(l);
    return s / (double)f->n_valid;
}

static void setup(fixture *f, clcdd_hparams hp, size_t prompt_rows) {
    memset(f, 0, sizeof *f);
    f->ctx = th_ctx();
    TH_OK(clcdd_model_create(f->ctx, &hp, &f->m));
    TH_OK(clcdd_model_init_random(f->ctx, &f->m, 5, 0.3f));
    /* non-trivial norms and biases */
    for (size_t i = 0; i < f->m.params.n_slots; i++) {
        clcdd_tensor t = clcdd_arena_view(&f->m.params, i);
        size_t n = (size_t)clcdd_tensor_numel(&t);
        if (t.ndim == 1) {
            float *h = malloc(n * 4);
            th_rand(h, n, 300 + i, strstr(f->m.params.slots[i].name, "bias") ? -0.2f : 0.7f,
                    strstr(f->m.params.slots[i].name, "bias") ? 0.2f : 1.3f);
            TH_OK(clcdd_tensor_upload(f->ctx, &t, h));
            free(h);
        }
    }
    size_t B = 2, T = 6;
    f->N = B * T;
    f->prompt_rows = prompt_rows;
    int32_t ids[12], lens[2] = {6, 4}, tg[12];
    for (size_t i = 0; i < 12; i++) ids[i] = (int32_t)((i * 7 + 3) % hp.vocab_size);
    for (size_t k = 0; k < prompt_rows; k++) ids[k] = ids[6 + k] = -1 - (int32_t)k;
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++) {
            int valid = (int)t < lens[b] - 1 && (int)t >= (int)prompt_rows;
            tg[b * T + t] = valid ? (int32_t)((b * 5 + t * 11 + 1) % hp.vocab_size) : -1;
            f->n_valid += valid;
        }
    TH_OK(clcdd_batch_create(f->ctx, B, T, ids, lens, 0, &f->bt));
    TH_OK(clcdd_batch_add_csr(f->ctx, &f->bt, ids));
    TH_OK(clcdd_acts_create(f->ctx, &hp, B, T, 1, &f->A));
    int64_t s[1] = {(int64_t)f->N};
    TH_OK(clcdd_tensor_create(f->ctx, CLCDD_I32, 1, s, "targets", &f->targets));
    TH_OK(clcdd_tensor_upload(f->ctx, &f->targets, tg));
    TH_OK(clcdd_tensor_create(f->ctx, CLCDD_F32, 1, s, "loss", &f->loss));
    if (prompt_rows) {
        float p[3 * 64];
        th_rand(p, prompt_rows * hp.hidden_size, 17, -1, 1);
        f->prompt = th_upload(p, prompt_rows * hp.hidden_size);
    }
}

static void teardown(fixture *f) {
    clcdd_acts_destroy(&f->A);
    clcdd_batch_destroy(&f->bt);
    clcdd_tensor_destroy(&f->targets);
    clcdd_tensor_destroy(&f->loss);
    if (f->prompt_rows) clcdd_tensor_destroy(&f->prompt);
    clcdd_model_destroy(&f->m);
}

/* Directional check of `g` (host, n) for the device tensor t. */
static int directional(fixture *f, const char *name, clcdd_tensor *t, const float *g, size_t n) {
    float *w = th_download(t), *D = malloc(n * 4), *wp = malloc(n * 4);
    th_rand(D, n, n * 7 + 1, -1, 1);
    double h = 1e-3, dir = 0;
    for (size_t i = 0; i < n; i++) dir += (double)g[i] * D[i];
    for (size_t i = 0; i < n; i++) wp[i] = w[i] + (float)h * D[i];
    TH_OK(clcdd_tensor_upload(f->ctx, t, wp));
    double lp = device_loss(f, 0);
    for (size_t i = 0; i < n; i++) wp[i] = w[i] - (float)h * D[i];
    TH_OK(clcdd_tensor_upload(f->ctx, t, wp));
    double lm = device_loss(f, 0);
    TH_OK(clcdd_tensor_upload(f->ctx, t, w));
    double fd = (lp - lm) / (2 * h);
    double err = fabs(fd - dir), tol = 1e-2 * fabs(fd) + 3e-4;
    int ok = err <= tol;
    if (!ok) cr_log_error("%s: <grad, D> = %.7g, finite difference %.7g (|diff| %.3g > %.3g)", name, dir, fd, err, tol);
    free(w), free(D), free(wp);
    return ok;
}

static void check_all(clcdd_hparams hp) {
    fixture f;
    setup(&f, hp, 0);
    int trainable[CLCDD_ROLE_COUNT];
    for (int r = 0; r < CLCDD_ROLE_COUNT; r++) trainable[r] = 1;
    clcdd_grads G;
    TH_OK(clcdd_grads_create(f.ctx, &f.m, trainable, &G));
    clcdd_bwd_scratch S;
    TH_OK(clcdd_bwd_scratch_create(f.ctx, &hp, f.bt.B, f.bt.T, &S));
    device_loss(&f, 1);
    TH_OK(clcdd_decoder_backward(f.ctx, &f.m, &f.bt, &f.A, &G, &S, NULL, 0));
    int checked = 0, failed = 0;
    for (int role = 0; role < CLCDD_ROLE_COUNT; role++) {
        uint32_t layers = clcdd_role_is_per_layer((clcdd_tensor_role)role) ? hp.n_layers : 1;
        for (uint32_t l = 0; l < layers; l++) {
            if (!clcdd_grads_has(&G, (clcdd_tensor_role)role, l)) continue;
            clcdd_tensor gt = clcdd_grads_tensor(&G, (clcdd_tensor_role)role, l), w;
            TH_OK(clcdd_model_tensor(&f.m, (clcdd_tensor_role)role, l, &w));
            float *g = th_download(&gt);
            char name[64];
            snprintf(name, sizeof name, "%s layer %u", clcdd_role_name((clcdd_tensor_role)role), l);
            failed += !directional(&f, name, &w, g, (size_t)clcdd_tensor_numel(&gt));
            checked++;
            free(g);
        }
    }
    cr_expect(failed == 0, "%d of %d parameter gradients disagree with finite differences", failed, checked);
    cr_expect(checked >= 10, "only %d tensors checked", checked);
    clcdd_bwd_scratch_destroy(&S);
    clcdd_grads_destroy(&G);
    teardown(&f);
}

Test(backward, llama_gqa) { check_all(small_hp()); }

Test(backward, qwen2_bias_tied) {
    clcdd_hparams hp = small_hp();
    hp.qkv_bias = 1;
    hp.tie_word_embeddings = 1;
    hp.n_kv_heads = 1;
    check_all(hp);
}

Test(backward, qwen3_qknorm_window_mlpbias) {
    clcdd_hparams hp = small_hp();
    hp.qk_norm = 1;
    hp.head_dim = 6;
    hp.sliding_window = 3;
    hp.mlp_bias = 1;
    hp.o_bias = 1;
    check_all(hp);
}

Test(backward, frozen_default_and_prompt_gradient) {
    clcdd_hparams hp = small_hp();
    fixture f;
    setup(&f, hp, 2);
    int trainable[CLCDD_ROLE_COUNT];
    clcdd_trainable_default(trainable);
    clcdd_grads G;
    TH_OK(clcdd_grads_create(f.ctx, &f.m, trainable, &G));
    cr_expect(!clcdd_grads_has(&G, CLCDD_ROLE_EMBED, 0) && !clcdd_grads_has(&G, CLCDD_ROLE_LM_HEAD, 0));
    cr_expect(clcdd_grads_has(&G, CLCDD_ROLE_Q, 1) && clcdd_grads_has(&G, CLCDD_ROLE_FINAL_NORM, 0));
    clcdd_grads_destroy(&G);
    /* Eraser-style: no parameter gradients at all, only the prompt's. */
    clcdd_bwd_scratch S;
    TH_OK(clcdd_bwd_scratch_create(f.ctx, &hp, f.bt.B, f.bt.T, &S));
    float zero[2 * 16] = {0};
    clcdd_tensor dP = th_upload(zero, 2 * hp.hidden_size);
    device_loss(&f, 1);
    TH_OK(clcdd_decoder_backward(f.ctx, &f.m, &f.bt, &f.A, NULL, &S, &dP, 2));
    float *g = th_download(&dP);
    cr_expect(directional(&f, "soft prompt", &f.prompt, g, 2 * hp.hidden_size));
    free(g);
    clcdd_tensor_destroy(&dP);
    clcdd_bwd_scratch_destroy(&S);
    teardown(&f);
}

/* A frozen model's packed weights (clcdd_model_pack: forward and dX panels) give the same loss
 * and soft-prompt gradient as the unpacked model: the same kernel runs on the same panels, only
 * packed once instead of per product (|diff| <= 1e-6 relative; bit-identical without a tuning
 * record). */
Test(backward, packed_frozen_weights_match) {
    clcdd_hparams hp = small_hp();
    fixture f;
    setup(&f, hp, 2);
    clcdd_bwd_scratch S;
    TH_OK(clcdd_bwd_scratch_create(f.ctx, &hp, f.bt.B, f.bt.T, &S));
    float zero[2 * 16] = {0};
    float *g[2];
    double loss[2];
    for (int packed = 0; packed < 2; packed++) {
        if (packed) TH_OK(clcdd_model_pack(f.ctx, &f.m, 1));
        clcdd_tensor dP = th_upload(zero, 2 * hp.hidden_size);
        loss[packed] = device_loss(&f, 1);
        TH_OK(clcdd_decoder_backward(f.ctx, &f.m, &f.bt, &f.A, NULL, &S, &dP, 2));
        g[packed] = th_download(&dP);
        clcdd_tensor_destroy(&dP);
    }
    if (clcdd_gemm_default_backend(f.ctx) == CLCDD_GEMM_OWN) {
        cr_assert(clcdd_model_packed(&f.m, CLCDD_ROLE_Q, 1) && clcdd_model_packed(&f.m, CLCDD_ROLE_LM_HEAD, 0),
                  "the own GEMM serves this device, so the weights must have packed copies");
    } else {
        cr_log_warn("this device's GEMM is not the own kernel: no packed copies, the unpacked path ran twice");
    }
    cr_assert(fabs(loss[0] - loss[1]) <= 1e-6 * fabs(loss[0]), "loss %.9g unpacked, %.9g packed", loss[0], loss[1]);
    for (size_t i = 0; i < 2 * hp.hidden_size; i++)
        cr_assert(fabsf(g[0][i] - g[1][i]) <= 1e-6f * (fabsf(g[0][i]) + 1e-3f),
                  "dP[%zu] %.9g unpacked, %.9g packed", i, g[0][i], g[1][i]);
    clcdd_model_unpack(&f.m);
    cr_assert(!clcdd_model_packed(&f.m, CLCDD_ROLE_Q, 1));
    free(g[0]);
    free(g[1]);
    clcdd_bwd_scratch_destroy(&S);
    teardown(&f);
}
