/* 10 AdamW steps of the trainer (algo/train.h) against torch.optim.AdamW on the tiny fixture
 * models of the four families (tests/fixtures/make_train_parity_fixtures.py states the setup).
 * Every step covers the whole 4-sequence batch (micro-batch 2 x accumulation 2, so padding and
 * accumulation are both on the path); clip 1.0, betas 0.9/0.999, eps 1e-8, linear warm-up and
 * decay. Runs: "all" (every parameter trainable, embeddings and lm_head too; lr 1e-2, decoupled
 * weight decay 0.1, 3 warm-up steps) on all five fixtures, and "default" (clcdd sft's frozen
 * embeddings and lm_head, weight decay 0, 1 warm-up step = 10%) on llama_gqa. The hyperparameters
 * are read from the fixture's metadata, where the script that made it wrote them.
 *
 * Compared: the learning rate of each step (1e-6 relative), the window loss before each step
 * (LOSS_RTOL) and the global gradient norm before clipping (NORM_RTOL), the step-0 gradient of
 * the embedding table (gather + tied head, 1e-5 + 1e-3 |want| as in tests/models), and a few
 * tensors after the 10 steps (FINAL_ATOL + FINAL_RTOL |want|).
 * Tolerances: the same PyTorch runs in float32 and float64 differ by up to 4e-6 relative in the
 * loss, 7e-5 in the gradient norm (late steps, norms ~0.7) and 1.2e-5 absolute in the final
 * weights (--fp64-check), so rounding alone moves the curve that much; the bounds leave room for
 * clcdd's different summation orders, which Adam's m / sqrt(v) amplifies where v is small
 * (measured on PoCL: loss <= 1.3e-5, norm <= 1.6e-4, final weights <= 1.7e-5). A learning rate
 * off by 1% moves the losses by > 1e-2 relative and the weights by > 1e-3; dropping the weight
 * decay or the clipping moves them by more. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/train.h"
#include "clcdd_internal.h"
#include "models/model_test_util.h"
#include "nn/checkpoint.h"
#include "nn/load.h"

#define LOSS_RTOL 1e-4
#define NORM_RTOL 1e-3
#define GRAD_RTOL 1e-3
#define GRAD_ATOL 1e-5
#define FINAL_RTOL 1e-3
#define FINAL_ATOL 1e-4

static double meta_f(const clcdd_safetensors *st, const char *key) {
    const char *v = clcdd_safetensors_metadata_get(st, key);
    cr_assert(v, "fixture metadata has no %s", key);
    return strtod(v, NULL);
}

static void run(const char *model, const char *run_name) {
    clcdd_ctx *ctx = th_ctx();
    clcdd_plugin_registry *reg = mt_registry();
    char path[1024], fx[1024];
    snprintf(path, sizeof path, "%s/fixtures/models/%s", CLCDD_TEST_DATA, model);
    snprintf(fx, sizeof fx, "%s/fixtures/train_parity/%s.%s.safetensors", CLCDD_TEST_DATA, model,
             run_name);
    clcdd_model m;
    TH_OK(clcdd_model_load(ctx, path, reg, &m, NULL));
    clcdd_safetensors *ref;
    TH_OK(clcdd_safetensors_open(fx, &ref));
    const clcdd_hparams *hp = &m.hp;

    /* the batch */
    clcdd_st_tensor ti, tl, tm;
    TH_OK(clcdd_safetensors_find(ref, "ids", &ti));
    TH_OK(clcdd_safetensors_find(ref, "lens", &tl));
    TH_OK(clcdd_safetensors_find(ref, "loss_mask", &tm));
    cr_assert(ti.dtype == CLCDD_DTYPE_I32 && tl.dtype == CLCDD_DTYPE_I32 && tm.dtype == CLCDD_DTYPE_I32);
    size_t n = (size_t)ti.shape[0], T = (size_t)ti.shape[1];
    const int32_t *ids = ti.data, *lens = tl.data, *mask = tm.data;
    clcdd_dataset d;
    clcdd_dataset_init(&d);
    for (size_t b = 0; b < n; b++) {
        uint8_t lm[64];
        cr_assert((size_t)lens[b] <= sizeof lm);
        for (size_t t = 0; t < (size_t)lens[b]; t++) lm[t] = mask[b * T + t] != 0;
        TH_OK(clcdd_dataset_add(&d, ids + b * T, lm, (size_t)lens[b]));
    }

    /* the configuration of the PyTorch run */
    size_t n_steps;
    float *want_loss = mt_ref(ref, "loss", &n_steps), *want_norm = mt_ref(ref, "grad_norm", NULL);
    float *want_lr = mt_ref(ref, "lr", NULL);
    clcdd_train_config c;
    clcdd_train_config_default(&c, (int64_t)n_steps);
    c.micro_batch = (size_t)meta_f(ref, "micro_batch");
    c.accum = (size_t)meta_f(ref, "accum");
    cr_assert_eq(c.micro_batch * c.accum, n, "each step must cover the whole batch");
    c.warmup = (int64_t)meta_f(ref, "warmup");
    c.optim.lr = (float)meta_f(ref, "lr");
    c.optim.weight_decay = (float)meta_f(ref, "weight_decay");
    c.optim.max_grad_norm = (float)meta_f(ref, "max_grad_norm");
    cr_assert(c.optim.kind == CLCDD_OPT_ADAMW && c.optim.beta1 == 0.9f && c.optim.beta2 == 0.999f &&
              c.optim.eps == 1e-8f && c.schedule == CLCDD_SCHED_LINEAR,
              "the trainer's defaults changed: update make_train_parity_fixtures.py to match");
    const char *which = clcdd_safetensors_metadata_get(ref, "trainable");
    cr_assert(which);
    if (!strcmp(which, "all"))
        for (int r = 0; r < CLCDD_ROLE_COUNT; r++) c.trainable[r] = 1;
    else
        cr_assert_str_eq(which, "default");

    clcdd_trainer tr;
    TH_OK(clcdd_trainer_create(ctx, &m, &c, T, &tr));
    int ok = 1;
    double worst_loss = 0, worst_norm = 0, md_grad = 0, md_final = 0;
    for (size_t s = 0; s < n_steps; s++) {
        float lr = clcdd_train_lr(&c, (int64_t)s);
        cr_expect(fabsf(lr - want_lr[s]) <= 1e-6f * want_lr[s] + 1e-12f,
                  "%s step %zu: lr %g, PyTorch's scheduler %g", model, s, lr, want_lr[s]);
        float loss = 0, gsq = 0;
        TH_OK(clcdd_trainer_step(&tr, &d, &loss));
        TH_OK(clcdd_tensor_download(ctx, &tr.optim.gsq, &gsq));
        double norm = sqrt((double)gsq);
        double el = fabs(loss - want_loss[s]) / fabs(want_loss[s]);
        double en = fabs(norm - want_norm[s]) / fabs(want_norm[s]);
        if (el > worst_loss) worst_loss = el;
        if (en > worst_norm) worst_norm = en;
        if (el > LOSS_RTOL || en > NORM_RTOL) {
            fprintf(stderr, "%s.%s step %zu: loss %.7f (PyTorch %.7f), grad norm %.6f (PyTorch %.6f)\n",
                    model, run_name, s, loss, want_loss[s], norm, want_norm[s]);
            ok = 0;
        }
        if (s == 0 && clcdd_grads_has(&tr.grads, CLCDD_ROLE_EMBED, 0)) {
            clcdd_tensor g = clcdd_grads_tensor(&tr.grads, CLCDD_ROLE_EMBED, 0);
            float *got = th_download(&g);
            size_t cnt;
            float *want = mt_ref(ref, "grad0.model.embed_tokens.weight", &cnt);
            cr_assert_eq((int64_t)cnt, clcdd_tensor_numel(&g));
            ok &= mt_close("step-0 embedding gradient", got, want, 1, cnt, NULL, GRAD_RTOL,
                           GRAD_ATOL, &md_grad);
            free(got), free(want);
        }
    }
    size_t n_final = 0;
    for (int r = 0; r < CLCDD_ROLE_COUNT; r++) {
        uint32_t layers = clcdd_role_is_per_layer((clcdd_tensor_role)r) ? hp->n_layers : 1;
        for (uint32_t l = 0; l < layers; l++) {
            char hf[128], key[160];
            clcdd_st_tensor w;
            if (!clcdd_hf_tensor_name(hp, (clcdd_tensor_role)r, l, hf, sizeof hf)) continue;
            snprintf(key, sizeof key, "final.%s", hf);
            if (clcdd_safetensors_find(ref, key, &w) != CLCDD_OK) continue;
            clcdd_tensor t;
            TH_OK(clcdd_model_tensor(&m, (clcdd_tensor_role)r, l, &t));
            float *got = th_download(&t);
            size_t cnt;
            float *want = mt_ref(ref, key, &cnt);
            cr_assert_eq((int64_t)cnt, clcdd_tensor_numel(&t), "%s: size", key);
            ok &= mt_close(key, got, want, 1, cnt, NULL, FINAL_RTOL, FINAL_ATOL, &md_final);
            free(got), free(want);
            n_final++;
        }
    }
    fprintf(stderr, "%s.%s: %zu steps, loss %.4f -> %.4f; max rel diff loss %.2e, grad norm %.2e;"
            " step-0 embedding gradient max |diff| %.2e; %zu final tensors max |diff| %.2e\n",
            model, run_name, n_steps, want_loss[0], want_loss[n_steps - 1], worst_loss, worst_norm,
            md_grad, n_final, md_final);
    cr_expect(ok, "%s.%s: the training run differs from PyTorch's", model, run_name);
    cr_expect(n_final >= 4, "%s.%s: only %zu final tensors compared", model, run_name, n_final);
    cr_expect(want_loss[n_steps - 1] < 0.7f * want_loss[0], "the fixture's curve should fall");
    clcdd_trainer_destroy(&tr);
    clcdd_dataset_free(&d);
    free(want_loss), free(want_norm), free(want_lr);
    clcdd_safetensors_close(ref);
    clcdd_model_destroy(&m);
    clcdd_plugin_registry_destroy(reg);
}

Test(train_parity, llama_gqa) { run("llama_gqa", "all"); }
Test(train_parity, llama3_tied) { run("llama3_tied", "all"); }
Test(train_parity, mistral_swa) { run("mistral_swa", "all"); }
Test(train_parity, qwen2_tied) { run("qwen2_tied", "all"); }
Test(train_parity, qwen3_qknorm) { run("qwen3_qknorm", "all"); }
Test(train_parity, llama_gqa_default_frozen) { run("llama_gqa", "default"); }
