/* LCDD against the PyTorch re-implementation of ALGORITHMS.md §3 (tests/fixtures/
 * make_lcdd_fixture.py): 8 steps on a tiny LLaMA, comparing each step's task loss and lambda,
 * the mask logits, the active-channel count, and every trainable weight; once with the
 * cross-entropy task loss and once with the KL-to-SFT task loss (the reference computes the KL in
 * float64 from the frozen SFT model's logits; the same tolerances hold).
 * Tolerances: loss and lambda 1e-4 relative; theta and weights 1e-4 relative + 1e-5 absolute
 * (float32 through forward, backward and Adam in a different summation order; Adam's
 * m / sqrt(v) amplifies tiny gradient differences where v is small, so exact equality is not
 * expected). Masks must match exactly: a flip would make the runs diverge. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "algo/lcdd.h"
#include "fixture_model.h"
#include "harness/harness.h"
#include "nn/checkpoint.h"

#define FX CLCDD_TEST_DATA "/fixtures/lcdd"

static void run_parity(const char *ref_path, int kl_loss) {
    clcdd_ctx *ctx = th_ctx();
    clcdd_hparams hp;
    memset(&hp, 0, sizeof hp);
    strcpy(hp.family, "llama");
    hp.vocab_size = 40, hp.hidden_size = 16, hp.intermediate_size = 24, hp.n_layers = 2;
    hp.n_heads = 4, hp.n_kv_heads = 2, hp.head_dim = 4, hp.rms_eps = 1e-5f, hp.rope_theta = 10000.0f;
    hp.bos_id = hp.pad_id = -1;
    clcdd_model base, sft;
    fx_load_model(ctx, FX "/base", &hp, &base);
    fx_load_model(ctx, FX "/sft", &hp, &sft);
    clcdd_safetensors *ref;
    TH_OK(clcdd_safetensors_open(ref_path, &ref));
    size_t n_ids, n_theta, n_steps;
    float *ids = fx_tensor_f32(ref, "ids", &n_ids), *lens = fx_tensor_f32(ref, "lens", NULL);
    float *lmask = fx_tensor_f32(ref, "loss_mask", NULL), *theta0 = fx_tensor_f32(ref, "theta0", &n_theta);
    float *loss = fx_tensor_f32(ref, "loss", &n_steps), *lambda = fx_tensor_f32(ref, "lambda", NULL);
    float *theta = fx_tensor_f32(ref, "theta", NULL), *active = fx_tensor_f32(ref, "active", NULL);
    size_t n_seq = 8, T = n_ids / n_seq;
    clcdd_dataset d;
    clcdd_dataset_init(&d);
    for (size_t b = 0; b < n_seq; b++) {
        int32_t tok[16];
        uint8_t lm[16];
        for (size_t t = 0; t < (size_t)lens[b]; t++) {
            tok[t] = (int32_t)ids[b * T + t];
            lm[t] = lmask[b * T + t] != 0;
        }
        TH_OK(clcdd_dataset_add(&d, tok, lm, (size_t)lens[b]));
    }
    clcdd_lcdd_config c;
    clcdd_lcdd_config_default(&c, (int64_t)n_steps);
    c.train.micro_batch = 4;
    c.train.accum = 2; /* each step covers all 8 sequences: the order cannot matter */
    c.train.schedule = CLCDD_SCHED_CONSTANT;
    c.train.warmup = 0;
    c.train.optim.lr = 1e-2f;
    c.T_w = 2;
    c.lambda_init = 0.5f;
    c.kl_loss = kl_loss;
    clcdd_lcdd l;
    TH_OK(clcdd_lcdd_create(ctx, &base, &sft, &c, T, &l));
    cr_assert(l.n_mask == n_theta, "mask size %zu vs fixture %zu", l.n_mask, n_theta);
    TH_OK(clcdd_tensor_upload(ctx, &l.theta, theta0));
    float *got_theta = malloc(n_theta * 4);
    for (size_t s = 0; s < n_steps; s++) {
        clcdd_lcdd_state st;
        TH_OK(clcdd_lcdd_step(&l, &d, &st));
        cr_expect(fabsf(st.last_loss - loss[s]) <= 1e-4f * fabsf(loss[s]), "step %zu loss %.7f vs %.7f",
                  s, st.last_loss, loss[s]);
        cr_expect(fabsf(st.lambda - lambda[s]) <= 1e-4f * fabsf(lambda[s]), "step %zu lambda %.7f vs %.7f",
                  s, st.lambda, lambda[s]);
        cr_expect(st.active == (size_t)active[s], "step %zu active %zu vs %zu", s, st.active, (size_t)active[s]);
        TH_OK(clcdd_tensor_download(ctx, &l.theta, got_theta));
        cr_expect(th_check_close("theta", got_theta, theta + s * n_theta, n_theta, 1e-4, 1e-5),
                  "step %zu theta", s);
        for (int r = 0; r < CLCDD_ROLE_COUNT; r++) {
            uint32_t layers = clcdd_role_is_per_layer((clcdd_tensor_role)r) ? hp.n_layers : 1;
            for (uint32_t li = 0; li < layers; li++) {
                char name[128], key[160];
                if (!clcdd_grads_has(&l.grads_w, (clcdd_tensor_role)r, li)) continue;
                if (!clcdd_hf_tensor_name(&hp, (clcdd_tensor_role)r, li, name, sizeof name)) continue;
                snprintf(key, sizeof key, "w.%s", name);
                size_t n = 0;
                float *want = fx_tensor_f32(ref, key, &n);
                clcdd_tensor wt;
                TH_OK(clcdd_model_tensor(&l.w, (clcdd_tensor_role)r, li, &wt));
                size_t per = (size_t)clcdd_tensor_numel(&wt);
                float *got = th_download(&wt);
                cr_expect(th_check_close(name, got, want + s * per, per, 1e-4, 1e-5), "step %zu %s", s, name);
                free(got);
                free(want);
            }
        }
    }
    free(got_theta);
    clcdd_lcdd_destroy(&l);
    clcdd_dataset_free(&d);
    free(ids), free(lens), free(lmask), free(theta0), free(loss), free(lambda), free(theta), free(active);
    clcdd_safetensors_close(ref);
    clcdd_model_destroy(&base);
    clcdd_model_destroy(&sft);
}

Test(lcdd, parity_with_pytorch) { run_parity(FX "/lcdd_ref.safetensors", 0); }

Test(lcdd, parity_with_pytorch_kl_loss) { run_parity(FX "/lcdd_ref_kl.safetensors", 1); }
