/* Data-parallel training over two devices (algo/dp.h) against one device with the same global
 * batch, on the tiny LLaMA of the LCDD fixture: window = micro-batch 2 x accumulation 2 = 4 of the
 * 8 sequences, 10 steps (5 epochs).
 *
 * What must hold:
 * - every replica holds the same bits after every step (weights; for LCDD also theta and the dual
 *   state);
 * - a two-device run is bit-identical run to run for the same split (losses and weights);
 * - the two-device run equals the one-device run within TOL_* below: per-step losses, the final
 *   weights, and for LCDD lambda, theta and the active-channel count.
 * Tolerance: the runs add the same per-token gradient terms in another order whenever the split
 * changes the micro-batches (split 1+3: micro-batches of 1 | 2+1 examples instead of 2+2; the two
 * devices' slices are added on the host instead of by the GEMM's accumulation into C), so the
 * reduced gradients differ by float32 rounding, about 1e-7 relative per addition. AdamW divides
 * by sqrt(v), which keeps relative differences of that size; the theta SGD (lr 2) amplifies them
 * a little; 10 steps compound them. Measured (relative to max(0.1, |x|)): losses <= 1.2e-7,
 * weights <= 6.2e-7, theta <= 2.5e-6, lambda and the active count equal; split 2+2 is even
 * bit-identical to one device here (each device's slice is one of the one-device micro-batches,
 * and the host adds them as the device would). We allow 1e-5 relative to max(0.1, |x|): four
 * times the largest measured difference, and below what a real error gives (a 1e-4 error in one
 * replica's loss scale shows as 5e-5 in the losses), let alone a dropped slice or a wrong
 * normalisation (> 1e-2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "algo/dp.h"
#include "algo/fixture_model.h"
#include "harness/harness.h"

#define FX CLCDD_TEST_DATA "/fixtures/lcdd"
#define STEPS 10
#define TOL_REL 1e-5
#define TOL_ABS 1e-6

/* Two PoCL CPU devices; must happen before the first OpenCL call of the process. */
__attribute__((constructor)) static void two_devices(void) { setenv("POCL_DEVICES", "pthread pthread", 0); }

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

/* The second device's context (the first is th_ctx()); skips when there is no second device. */
static clcdd_ctx *second_ctx(void) {
    clcdd_device_info *list = NULL;
    size_t n = 0;
    TH_OK(clcdd_list_devices(&list, &n));
    clcdd_free_devices(list);
    if (n < 2) cr_skip_test("needs two OpenCL devices (PoCL: POCL_DEVICES=\"pthread pthread\"); found %zu", n);
    clcdd_ctx_options o;
    memset(&o, 0, sizeof o);
    o.device = "1";
    clcdd_ctx *c = NULL;
    TH_OK(clcdd_ctx_create(&o, &c));
    return c;
}

/* Every float of an arena (padding included, which stays zero). */
static float *arena_floats(clcdd_ctx *ctx, const clcdd_arena *a, size_t *n) {
    *n = 0;
    for (size_t c = 0; c < a->n_chunks; c++) *n += a->chunk_bytes[c] / 4;
    float *h = malloc((*n ? *n : 1) * sizeof *h), *p = h;
    for (size_t c = 0; c < a->n_chunks; c++) {
        clcdd_tensor t;
        memset(&t, 0, sizeof t);
        t.buf = a->chunks[c];
        t.dtype = CLCDD_F32;
        t.ndim = 1;
        t.shape[0] = (int64_t)(a->chunk_bytes[c] / 4);
        TH_OK(clcdd_tensor_download(ctx, &t, p));
        p += a->chunk_bytes[c] / 4;
    }
    return h;
}

static float *tensor_floats(clcdd_ctx *ctx, const clcdd_tensor *t) {
    float *h = malloc((size_t)clcdd_tensor_numel(t) * sizeof *h);
    TH_OK(clcdd_tensor_download(ctx, t, h));
    return h;
}

static void expect_same_bits(const float *a, const float *b, size_t n, const char *what, int step) {
    cr_expect(memcmp(a, b, n * sizeof *a) == 0, "%s differ between the replicas after step %d", what, step);
}

/* Largest |a - b| / (TOL_ABS / TOL_REL + |b|); <= TOL_REL passes. NaN fails. */
static double rel_diff(const float *a, const float *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] != a[i] || b[i] != b[i]) return 1e30;
        double e = (a[i] > b[i] ? a[i] - b[i] : b[i] - a[i]) / (TOL_ABS / TOL_REL + (b[i] < 0 ? -b[i] : b[i]));
        if (e > worst) worst = e;
    }
    return worst;
}

typedef struct run_out {
    float loss[STEPS], lambda[STEPS];
    size_t active[STEPS];
    float *w, *theta;   /* replica 0's final weights (and theta for LCDD) */
    size_t n_w, n_theta;
    clcdd_dp_plan plan;
} run_out;

static void run_out_free(run_out *r) {
    free(r->w), free(r->theta);
    memset(r, 0, sizeof *r);
}

static void sft_config(clcdd_train_config *c) {
    clcdd_train_config_default(c, STEPS);
    c->micro_batch = 2;
    c->accum = 2;
    c->optim.lr = 1e-2f;
    c->warmup = 2;
}

/* SFT on n devices (n = 1: the plain trainer) with the given split (NULL: calibrated);
 * broadcast = 1 forces the path of unlike devices (replica 0's weights sent to the others). */
static void run_sft(clcdd_ctx **cx, size_t n, const size_t *split, int broadcast, run_out *out) {
    memset(out, 0, sizeof *out);
    clcdd_hparams hp;
    tiny_hp(&hp);
    clcdd_dataset d;
    size_t T;
    load_data(&d, &T);
    clcdd_train_config c;
    sft_config(&c);
    clcdd_model m[2];
    clcdd_trainer tr[2], *trp[2];
    for (size_t k = 0; k < n; k++) {
        fx_load_model(cx[k], FX "/sft", &hp, &m[k]);
        TH_OK(clcdd_trainer_create(cx[k], &m[k], &c, T, &tr[k]));
        trp[k] = &tr[k];
    }
    clcdd_dp dp;
    memset(&dp, 0, sizeof dp);
    if (n > 1) {
        TH_OK(clcdd_dp_init(&dp, trp, n, NULL, &d, split));
        if (broadcast) dp.plan.identical = 0;
        out->plan = dp.plan;
    }
    for (int s = 0; s < STEPS; s++) {
        if (n == 1) TH_OK(clcdd_trainer_step(&tr[0], &d, &out->loss[s]));
        else TH_OK(clcdd_dp_sft_step(&dp, &d, &out->loss[s]));
        if (n > 1) {
            size_t n0, n1;
            float *a = arena_floats(cx[0], &m[0].params, &n0), *b = arena_floats(cx[1], &m[1].params, &n1);
            cr_assert(n0 == n1);
            expect_same_bits(a, b, n0, "the weights", s + 1);
            free(a), free(b);
            cr_expect(tr[0].cursor == tr[1].cursor && tr[0].epoch == tr[1].epoch && tr[0].step == tr[1].step,
                      "the replicas' data positions differ after step %d", s + 1);
        }
    }
    out->w = arena_floats(cx[0], &m[0].params, &out->n_w);
    clcdd_dp_free(&dp);
    for (size_t k = 0; k < n; k++) {
        clcdd_trainer_destroy(&tr[k]);
        clcdd_model_destroy(&m[k]);
    }
    clcdd_dataset_free(&d);
}

static void lcdd_config(clcdd_lcdd_config *c) {
    clcdd_lcdd_config_default(c, STEPS);
    c->train.micro_batch = 2;
    c->train.accum = 2;
    c->train.optim.lr = 1e-2f;
    c->train.warmup = 2;
    c->T_w = 3;
    c->lambda_init = 0.5f;
    c->theta_lr = 2.0f;
}

static void run_lcdd(clcdd_ctx **cx, size_t n, const size_t *split, int broadcast, run_out *out) {
    memset(out, 0, sizeof *out);
    clcdd_hparams hp;
    tiny_hp(&hp);
    clcdd_dataset d;
    size_t T;
    load_data(&d, &T);
    clcdd_lcdd_config c;
    lcdd_config(&c);
    clcdd_model base[2], sft[2];
    clcdd_lcdd l[2], *lp[2];
    clcdd_trainer *inner[2];
    for (size_t k = 0; k < n; k++) {
        fx_load_model(cx[k], FX "/base", &hp, &base[k]);
        fx_load_model(cx[k], FX "/sft", &hp, &sft[k]);
        TH_OK(clcdd_lcdd_create(cx[k], &base[k], &sft[k], &c, T, &l[k]));
        lp[k] = &l[k];
        inner[k] = &l[k].inner;
    }
    clcdd_dp dp;
    memset(&dp, 0, sizeof dp);
    if (n > 1) {
        TH_OK(clcdd_dp_init(&dp, inner, n, NULL, &d, split));
        if (broadcast) dp.plan.identical = 0;
        out->plan = dp.plan;
    }
    for (int s = 0; s < STEPS; s++) {
        clcdd_lcdd_state st;
        if (n == 1) TH_OK(clcdd_lcdd_step(&l[0], &d, &st));
        else TH_OK(clcdd_dp_lcdd_step(&dp, lp, &d, &st));
        out->loss[s] = st.last_loss, out->lambda[s] = st.lambda, out->active[s] = st.active;
        if (n > 1) {
            size_t n0, n1;
            float *a = arena_floats(cx[0], &l[0].w.params, &n0), *b = arena_floats(cx[1], &l[1].w.params, &n1);
            expect_same_bits(a, b, n0, "the weights W", s + 1);
            free(a), free(b);
            a = tensor_floats(cx[0], &l[0].theta), b = tensor_floats(cx[1], &l[1].theta);
            expect_same_bits(a, b, l[0].n_mask, "theta", s + 1);
            free(a), free(b);
            a = tensor_floats(cx[0], &l[0].dual), b = tensor_floats(cx[1], &l[1].dual);
            expect_same_bits(a, b, 16, "the dual states", s + 1);
            free(a), free(b);
        }
    }
    out->w = arena_floats(cx[0], &l[0].w.params, &out->n_w);
    out->theta = tensor_floats(cx[0], &l[0].theta);
    out->n_theta = l[0].n_mask;
    clcdd_dp_free(&dp);
    for (size_t k = 0; k < n; k++) {
        clcdd_lcdd_destroy(&l[k]);
        clcdd_model_destroy(&base[k]);
        clcdd_model_destroy(&sft[k]);
    }
    clcdd_dataset_free(&d);
}

static void expect_close(const run_out *two, const run_out *one, const char *what, int lcdd) {
    double dl = rel_diff(two->loss, one->loss, STEPS), dw = rel_diff(two->w, one->w, one->n_w);
    cr_expect(two->n_w == one->n_w);
    cr_expect(dl <= TOL_REL, "%s: losses differ from one device by %.3g (relative, tolerance %g)", what, dl, TOL_REL);
    cr_expect(dw <= TOL_REL, "%s: final weights differ from one device by %.3g (tolerance %g)", what, dw, TOL_REL);
    if (!lcdd) return;
    double dlam = rel_diff(two->lambda, one->lambda, STEPS), dth = rel_diff(two->theta, one->theta, one->n_theta);
    cr_expect(dlam <= TOL_REL && dth <= TOL_REL, "%s: lambda (%.3g) or theta (%.3g) differ", what, dlam, dth);
    for (int s = 0; s < STEPS; s++)
        cr_expect(two->active[s] == one->active[s], "%s: step %d: %zu active channels, one device %zu",
                  what, s + 1, two->active[s], one->active[s]);
}

static void expect_bit_identical(const run_out *a, const run_out *b, const char *what) {
    cr_expect(memcmp(a->loss, b->loss, sizeof a->loss) == 0, "%s: losses differ run to run", what);
    cr_expect(a->n_w == b->n_w && memcmp(a->w, b->w, a->n_w * 4) == 0, "%s: weights differ run to run", what);
    if (a->theta) cr_expect(memcmp(a->theta, b->theta, a->n_theta * 4) == 0, "%s: theta differs run to run", what);
}

Test(multidev, sft_two_devices_match_one) {
    clcdd_ctx *cx[2] = {th_ctx(), second_ctx()};
    run_out one, two, again, uneven, empty, bc, cal;
    run_sft(cx, 1, NULL, 0, &one);
    cr_assert(one.loss[0] > 0.5f && one.loss[STEPS - 1] < one.loss[0], "the reference run should learn");
    const size_t even[2] = {2, 2}, skew[2] = {1, 3}, none[2] = {4, 0};
    run_sft(cx, 2, even, 0, &two);
    run_sft(cx, 2, even, 0, &again);
    run_sft(cx, 2, skew, 0, &uneven);
    run_sft(cx, 2, none, 0, &empty);
    run_sft(cx, 2, skew, 1, &bc);
    run_sft(cx, 2, NULL, 0, &cal);
    expect_close(&two, &one, "split 2+2", 0);
    expect_close(&uneven, &one, "split 1+3", 0);
    expect_close(&empty, &one, "split 4+0", 0);
    expect_close(&bc, &one, "split 1+3, broadcast", 0);
    expect_close(&cal, &one, "calibrated split", 0);
    expect_bit_identical(&two, &again, "split 2+2");
    cr_expect(cal.plan.replicas == 2 && cal.plan.examples[0] + cal.plan.examples[1] == 4 &&
                  cal.plan.calib_s[0] > 0 && cal.plan.calib_s[1] > 0 && cal.plan.identical,
              "plan: %zu replicas, %zu + %zu examples, %g / %g s", cal.plan.replicas,
              cal.plan.examples[0], cal.plan.examples[1], cal.plan.calib_s[0], cal.plan.calib_s[1]);
    run_out *all[] = {&one, &two, &again, &uneven, &empty, &bc, &cal};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) run_out_free(all[i]);
    clcdd_ctx_destroy(cx[1]);
}

Test(multidev, lcdd_two_devices_match_one) {
    clcdd_ctx *cx[2] = {th_ctx(), second_ctx()};
    run_out one, two, again, uneven, bc;
    run_lcdd(cx, 1, NULL, 0, &one);
    cr_assert(one.active[STEPS - 1] < one.active[0] && one.lambda[STEPS - 1] != one.lambda[0],
              "the reference run should switch masks off and move lambda");
    const size_t even[2] = {2, 2}, skew[2] = {3, 1};
    run_lcdd(cx, 2, even, 0, &two);
    run_lcdd(cx, 2, even, 0, &again);
    run_lcdd(cx, 2, skew, 0, &uneven);
    run_lcdd(cx, 2, skew, 1, &bc);
    expect_close(&two, &one, "split 2+2", 1);
    expect_close(&uneven, &one, "split 3+1", 1);
    expect_close(&bc, &one, "split 3+1, broadcast", 1);
    expect_bit_identical(&two, &again, "split 2+2");
    run_out *all[] = {&one, &two, &again, &uneven, &bc};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) run_out_free(all[i]);
    clcdd_ctx_destroy(cx[1]);
}

Test(multidev, split_must_cover_the_window) {
    clcdd_ctx *cx[2] = {th_ctx(), second_ctx()};
    clcdd_hparams hp;
    tiny_hp(&hp);
    clcdd_dataset d;
    size_t T;
    load_data(&d, &T);
    clcdd_train_config c;
    sft_config(&c);
    clcdd_model m[2];
    clcdd_trainer tr[2], *trp[2] = {&tr[0], &tr[1]};
    for (size_t k = 0; k < 2; k++) {
        fx_load_model(cx[k], FX "/sft", &hp, &m[k]);
        TH_OK(clcdd_trainer_create(cx[k], &m[k], &c, T, &tr[k]));
    }
    const size_t bad[2] = {2, 3};
    clcdd_dp dp;
    clcdd_status st = clcdd_dp_init(&dp, trp, 2, NULL, &d, bad);
    cr_expect(st == CLCDD_ERR_INVALID_ARGUMENT && strstr(clcdd_last_error(), "summing to 4"),
              "status %d: %s", (int)st, clcdd_last_error());
    for (size_t k = 0; k < 2; k++) {
        clcdd_trainer_destroy(&tr[k]);
        clcdd_model_destroy(&m[k]);
    }
    clcdd_dataset_free(&d);
    clcdd_ctx_destroy(cx[1]);
}

/* The host sum gives the same bits on any number of threads (each element is added in the same
 * order), and the same bits as a plain loop. */
Test(multidev, host_sum_threads_bit_identical) {
    size_t n = (size_t)3 << 19; /* above the threading threshold, not a multiple of the threads */
    n += 7;
    float *src[4], *first = malloc(n * sizeof(float)), *want = malloc(n * sizeof(float));
    for (int k = 0; k < 4; k++) {
        src[k] = malloc(n * sizeof(float));
        th_rand(src[k], n, 100 + (uint64_t)k, -1.0f, 1.0f);
    }
    th_rand(first, n, 99, -1e3f, 1e3f);
    for (size_t i = 0; i < n; i++) want[i] = (((first[i] + src[0][i]) + src[1][i]) + src[2][i]) + src[3][i];
    const size_t threads[] = {1, 2, 3, 16, 0};
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        float *dst = malloc(n * sizeof(float));
        clcdd_dp_sum_in_order(dst, first, (const float *const *)src, 4, n, threads[t]);
        cr_expect(memcmp(dst, want, n * sizeof(float)) == 0, "%zu threads: the sum differs", threads[t]);
        memcpy(dst, first, n * sizeof(float));
        clcdd_dp_sum_in_order(dst, NULL, (const float *const *)src, 4, n, threads[t]);
        cr_expect(memcmp(dst, want, n * sizeof(float)) == 0, "%zu threads, in place: the sum differs", threads[t]);
        free(dst);
    }
    for (int k = 0; k < 4; k++) free(src[k]);
    free(first), free(want);
}
