/* Saving and resuming the training state (algo/train_state.h) at the library level, on the tiny
 * LLaMA of the LCDD fixture: a run stopped after k steps, saved, and continued in a fresh trainer
 * from the state must end bit-identical to an uninterrupted run (every parameter byte, and for
 * LCDD also theta, the hard masks, W_eff and the whole dual state including lambda). The data
 * order matters here: one micro-batch of 2 of the 8 sequences per step, over several epochs.
 * Also: a refused state changes nothing. tests/cli/cli_resume.sh does the same through the CLI
 * with real SIGKILLs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "algo/carrier.h"
#include "algo/train_state.h"
#include "fixture_model.h"
#include "harness/harness.h"

#define FX CLCDD_TEST_DATA "/fixtures/lcdd"
#define STEPS 14
#define STOP 5

static void tiny_hp(clcdd_hparams *hp) {
    memset(hp, 0, sizeof *hp);
    strcpy(hp->family, "llama");
    hp->vocab_size = 40, hp->hidden_size = 16, hp->intermediate_size = 24, hp->n_layers = 2;
    hp->n_heads = 4, hp->n_kv_heads = 2, hp->head_dim = 4, hp->rms_eps = 1e-5f, hp->rope_theta = 10000.0f;
    hp->bos_id = hp->pad_id = -1;
}

static void load_data(clcdd_dataset *d, size_t *T) {
    clcdd_safetensors *ref;
    TH_OK(clcdd_safetensors_open(FX "/lcdd_ref.safetensors", &ref));
    size_t n_ids;
    float *ids = fx_tensor_f32(ref, "ids", &n_ids), *lens = fx_tensor_f32(ref, "lens", NULL);
    float *lmask = fx_tensor_f32(ref, "loss_mask", NULL);
    size_t n_seq = 8;
    *T = n_ids / n_seq;
    clcdd_dataset_init(d);
    for (size_t b = 0; b < n_seq; b++) {
        int32_t tok[16];
        uint8_t lm[16];
        for (size_t t = 0; t < (size_t)lens[b]; t++) {
            tok[t] = (int32_t)ids[b * *T + t];
            lm[t] = lmask[b * *T + t] != 0;
        }
        TH_OK(clcdd_dataset_add(d, tok, lm, (size_t)lens[b]));
    }
    free(ids), free(lens), free(lmask);
    clcdd_safetensors_close(ref);
}

/* Every byte of an arena (padding included, which stays zero). */
static unsigned char *arena_bytes(const clcdd_arena *a, size_t *n) {
    *n = 0;
    for (size_t c = 0; c < a->n_chunks; c++) *n += a->chunk_bytes[c];
    unsigned char *h = malloc(*n ? *n : 1), *p = h;
    for (size_t c = 0; c < a->n_chunks; c++) {
        clcdd_tensor t;
        memset(&t, 0, sizeof t);
        t.buf = a->chunks[c];
        t.dtype = CLCDD_F32;
        t.ndim = 1;
        t.shape[0] = (int64_t)(a->chunk_bytes[c] / 4);
        TH_OK(clcdd_tensor_download(th_ctx(), &t, p));
        p += a->chunk_bytes[c];
    }
    return h;
}

static void expect_same_arena(const clcdd_arena *a, const clcdd_arena *b, const char *what) {
    size_t na, nb;
    unsigned char *x = arena_bytes(a, &na), *y = arena_bytes(b, &nb);
    cr_expect(na == nb && memcmp(x, y, na) == 0, "%s: the resumed run differs", what);
    free(x), free(y);
}

static void expect_same_tensor(const clcdd_tensor *a, const clcdd_tensor *b, const char *what) {
    float *x = th_download(a), *y = th_download(b);
    size_t n = (size_t)clcdd_tensor_numel(a);
    cr_expect(n == (size_t)clcdd_tensor_numel(b) && memcmp(x, y, n * 4) == 0,
              "%s: the resumed run differs", what);
    free(x), free(y);
}

static void state_path(char *out, size_t cap, const char *tag) {
    snprintf(out, cap, "/tmp/clcdd-resume-%s-%ld.safetensors", tag, (long)getpid());
}

static void lcdd_config(clcdd_lcdd_config *c) {
    clcdd_lcdd_config_default(c, STEPS);
    c->train.micro_batch = 2;
    c->train.accum = 1;
    c->train.optim.lr = 1e-2f;
    c->train.warmup = 2;
    c->T_w = 3;
    c->lambda_init = 0.5f;
    c->theta_lr = 2.0f;
}

Test(resume, lcdd_bit_identical) {
    clcdd_ctx *ctx = th_ctx();
    clcdd_hparams hp;
    tiny_hp(&hp);
    clcdd_model base, sft;
    fx_load_model(ctx, FX "/base", &hp, &base);
    fx_load_model(ctx, FX "/sft", &hp, &sft);
    clcdd_dataset d;
    size_t T;
    load_data(&d, &T);
    clcdd_lcdd_config c;
    lcdd_config(&c);
    clcdd_lcdd_options o;
    clcdd_lcdd_options_default(&o);
    o.steps = STEPS;
    char fp[40];
    TH_OK(clcdd_model_fingerprint(ctx, &sft, fp));
    clcdd_state_ident id;
    TH_OK(clcdd_state_ident_lcdd(ctx, &base, fp, &d, &o, &id));

    clcdd_lcdd ref, a, b;
    clcdd_lcdd_state s_ref, s_b;
    TH_OK(clcdd_lcdd_create(ctx, &base, &sft, &c, T, &ref));
    for (int i = 0; i < STEPS; i++) TH_OK(clcdd_lcdd_step(&ref, &d, NULL));
    TH_OK(clcdd_lcdd_read_state(&ref, &s_ref));
    cr_assert(s_ref.active > 0 && s_ref.active < s_ref.total && s_ref.baseline_set,
              "the reference run should have switched masks off and set the budget (active %zu)",
              s_ref.active);

    char path[128];
    state_path(path, sizeof path, "lcdd");
    TH_OK(clcdd_lcdd_create(ctx, &base, &sft, &c, T, &a));
    for (int i = 0; i < STOP; i++) TH_OK(clcdd_lcdd_step(&a, &d, NULL));
    TH_OK(clcdd_state_save_lcdd(path, &id, &a));
    clcdd_lcdd_destroy(&a);

    /* another seed: theta starts elsewhere, so only the state can make the runs agree */
    c.seed = 7;
    TH_OK(clcdd_lcdd_create(ctx, &base, &sft, &c, T, &b));
    TH_OK(clcdd_state_load_lcdd(path, &id, &b, &d));
    cr_expect(b.step == STOP && b.inner.step == STOP && b.optim.step == STOP, "counters %lld %lld %lld",
              (long long)b.step, (long long)b.inner.step, (long long)b.optim.step);
    for (int i = STOP; i < STEPS; i++) TH_OK(clcdd_lcdd_step(&b, &d, NULL));
    TH_OK(clcdd_lcdd_read_state(&b, &s_b));
    cr_expect(s_b.active == s_ref.active && s_b.lambda == s_ref.lambda && s_b.ema_hat == s_ref.ema_hat &&
                  s_b.budget == s_ref.budget, "dual state: active %zu/%zu lambda %g/%g",
              s_b.active, s_ref.active, (double)s_b.lambda, (double)s_ref.lambda);
    expect_same_arena(&ref.w.params, &b.w.params, "weights W");
    expect_same_arena(&ref.optim.m, &b.optim.m, "AdamW first moments");
    expect_same_arena(&ref.optim.v, &b.optim.v, "AdamW second moments");
    expect_same_tensor(&ref.theta, &b.theta, "theta");
    expect_same_tensor(&ref.dual, &b.dual, "dual state");
    TH_OK(clcdd_lcdd_build_effective(&ref));
    TH_OK(clcdd_lcdd_build_effective(&b));
    expect_same_tensor(&ref.mask, &b.mask, "hard masks");
    expect_same_arena(&ref.weff.params, &b.weff.params, "W_eff");
    clcdd_lcdd_destroy(&b);
    clcdd_lcdd_destroy(&ref);

    /* A state of other options is refused and leaves the run as it was. */
    o.rho = 0.5f;
    clcdd_state_ident other;
    TH_OK(clcdd_state_ident_lcdd(ctx, &base, fp, &d, &o, &other));
    TH_OK(clcdd_lcdd_create(ctx, &base, &sft, &c, T, &b));
    float *theta0 = th_download(&b.theta);
    clcdd_status st = clcdd_state_load_lcdd(path, &other, &b, &d);
    cr_expect(st == CLCDD_ERR_INVALID_ARGUMENT, "status %d", (int)st);
    cr_expect(strstr(clcdd_last_error(), path) && strstr(clcdd_last_error(), "--rho"), "message: %s",
              clcdd_last_error());
    float *theta1 = th_download(&b.theta);
    cr_expect(memcmp(theta0, theta1, b.n_mask * 4) == 0 && b.step == 0 && b.inner.order == NULL,
              "a refused state changed the run");
    free(theta0), free(theta1);
    clcdd_lcdd_destroy(&b);
    unlink(path);
    clcdd_dataset_free(&d);
    clcdd_model_destroy(&base);
    clcdd_model_destroy(&sft);
}

/* The KL task loss and the early stop resume too: the early-stop counters travel in the state and
 * the resumed run stops on the same step, for the same reason, with the same last window median
 * (the window that straddles the save point is the only one that differs), as one run does. */
Test(resume, lcdd_kl_loss_and_early_stop) {
    clcdd_ctx *ctx = th_ctx();
    clcdd_hparams hp;
    tiny_hp(&hp);
    clcdd_model base, sft;
    fx_load_model(ctx, FX "/base", &hp, &base);
    fx_load_model(ctx, FX "/sft", &hp, &sft);
    clcdd_dataset d;
    size_t T;
    load_data(&d, &T);
    clcdd_lcdd_config c;
    lcdd_config(&c);
    c.kl_loss = 1;
    c.early_stop = 1;
    c.es_window = 2;
    c.es_patience = 4;
    c.es_loss_factor = 1e-6f; /* every window's median is over: windows end after steps 5, 7, 9, 11 */
    clcdd_lcdd_options o;
    clcdd_lcdd_options_default(&o);
    o.steps = STEPS;
    o.kl_loss = 1;
    o.early_stop = 1;
    char fp[40];
    TH_OK(clcdd_model_fingerprint(ctx, &sft, fp));
    clcdd_state_ident id;
    TH_OK(clcdd_state_ident_lcdd(ctx, &base, fp, &d, &o, &id));
    clcdd_lcdd ref, a, b;
    TH_OK(clcdd_lcdd_create(ctx, &base, &sft, &c, T, &ref));
    while (ref.step < STEPS && !ref.es.stop) TH_OK(clcdd_lcdd_step(&ref, &d, NULL));
    cr_assert(ref.es.stop == CLCDD_LCDD_STOP_LOSS && ref.es.stop_step == 12, "reference stop %d at %lld",
              ref.es.stop, (long long)ref.es.stop_step);
    char path[128];
    state_path(path, sizeof path, "lcdd-es");
    TH_OK(clcdd_lcdd_create(ctx, &base, &sft, &c, T, &a));
    for (int i = 0; i < 8; i++) TH_OK(clcdd_lcdd_step(&a, &d, NULL)); /* two windows judged */
    cr_expect_eq(a.es.es_loss_runs, 2);
    TH_OK(clcdd_state_save_lcdd(path, &id, &a));
    clcdd_lcdd_destroy(&a);
    TH_OK(clcdd_lcdd_create(ctx, &base, &sft, &c, T, &b));
    TH_OK(clcdd_state_load_lcdd(path, &id, &b, &d));
    cr_expect(b.step == 8 && b.es.es_loss_runs == 2, "resumed at %lld with %d loss windows",
              (long long)b.step, b.es.es_loss_runs);
    while (b.step < STEPS && !b.es.stop) TH_OK(clcdd_lcdd_step(&b, &d, NULL));
    cr_expect(b.es.stop == ref.es.stop && b.es.stop_step == ref.es.stop_step &&
                  b.es.es_loss_runs == ref.es.es_loss_runs && b.es.es_start_active == ref.es.es_start_active &&
                  b.es.es_last_median == ref.es.es_last_median,
              "resumed stop %d at %lld (median %g) vs %d at %lld (median %g)", b.es.stop,
              (long long)b.es.stop_step, (double)b.es.es_last_median, ref.es.stop,
              (long long)ref.es.stop_step, (double)ref.es.es_last_median);
    expect_same_tensor(&ref.theta, &b.theta, "theta");
    expect_same_arena(&ref.w.params, &b.w.params, "weights W");
    clcdd_lcdd_destroy(&b);
    clcdd_lcdd_destroy(&ref);
    /* a state of a KL run does not resume a cross-entropy run */
    o.kl_loss = 0;
    clcdd_state_ident other;
    TH_OK(clcdd_state_ident_lcdd(ctx, &base, fp, &d, &o, &other));
    c.kl_loss = 0;
    TH_OK(clcdd_lcdd_create(ctx, &base, &sft, &c, T, &b));
    clcdd_status st = clcdd_state_load_lcdd(path, &other, &b, &d);
    cr_expect(st == CLCDD_ERR_INVALID_ARGUMENT && strstr(clcdd_last_error(), "kl-loss"), "status %d: %s",
              (int)st, clcdd_last_error());
    clcdd_lcdd_destroy(&b);
    unlink(path);
    clcdd_dataset_free(&d);
    clcdd_model_destroy(&base);
    clcdd_model_destroy(&sft);
}

Test(resume, sft_bit_identical) {
    clcdd_ctx *ctx = th_ctx();
    clcdd_hparams hp;
    tiny_hp(&hp);
    clcdd_model ref_m, m;
    fx_load_model(ctx, FX "/sft", &hp, &ref_m);
    fx_load_model(ctx, FX "/sft", &hp, &m);
    clcdd_dataset d;
    size_t T;
    load_data(&d, &T);
    clcdd_train_config c;
    clcdd_train_config_default(&c, STEPS);
    c.micro_batch = 2;
    c.accum = 1;
    c.optim.lr = 1e-2f;
    clcdd_sft_options o;
    clcdd_sft_options_default(&o);
    o.steps = STEPS;
    clcdd_state_ident id;
    TH_OK(clcdd_state_ident_sft(ctx, &m, &d, &o, &id));

    clcdd_trainer ref, a, b;
    float l_ref = 0, l = 0, last = 0;
    TH_OK(clcdd_trainer_create(ctx, &ref_m, &c, T, &ref));
    for (int i = 0; i < STEPS; i++) TH_OK(clcdd_trainer_step(&ref, &d, &l_ref));

    char path[128];
    state_path(path, sizeof path, "sft");
    TH_OK(clcdd_trainer_create(ctx, &m, &c, T, &a));
    for (int i = 0; i < STOP; i++) TH_OK(clcdd_trainer_step(&a, &d, &l));
    TH_OK(clcdd_state_save_sft(path, &id, &a, l));
    clcdd_trainer_destroy(&a);
    /* a fresh copy of the starting model, as a resumed process loads it */
    clcdd_model_destroy(&m);
    fx_load_model(ctx, FX "/sft", &hp, &m);
    TH_OK(clcdd_trainer_create(ctx, &m, &c, T, &b));
    TH_OK(clcdd_state_load_sft(path, &id, &b, &d, &last));
    cr_expect(last == l && b.step == STOP && b.optim.step == STOP, "last loss %g vs %g, step %lld",
              (double)last, (double)l, (long long)b.step);
    for (int i = STOP; i < STEPS; i++) TH_OK(clcdd_trainer_step(&b, &d, &l));
    cr_expect(l == l_ref, "final loss %.9g vs %.9g", (double)l, (double)l_ref);
    cr_expect(b.epoch == ref.epoch && b.cursor == ref.cursor, "data position");
    expect_same_arena(&ref_m.params, &m.params, "parameters");
    expect_same_arena(&ref.optim.m, &b.optim.m, "AdamW first moments");
    expect_same_arena(&ref.optim.v, &b.optim.v, "AdamW second moments");
    clcdd_trainer_destroy(&b);
    clcdd_trainer_destroy(&ref);
    unlink(path);
    clcdd_dataset_free(&d);
    clcdd_model_destroy(&ref_m);
    clcdd_model_destroy(&m);
}
