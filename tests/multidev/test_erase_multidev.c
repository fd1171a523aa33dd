/* The SFT-Eraser over two devices (clcdd_eraser_train_dp) against one device with the same batch,
 * on the tiny LLaMA of the LCDD fixture: erase in the SFT model against the base, a pool of the
 * fixture's 8 sequences (prompt: the tokens before the first loss token; answer: the rest), 3 + 2
 * random channels in the two layers, batch 6, 10 steps, every loss term on (channel MSE, tail KL,
 * response KL, the per-position activation match, L2) so each normalisation by the whole batch is
 * exercised.
 *
 * What must hold:
 * - two devices equal one device within the tolerances below: the final (best) P, and every
 *   step's total loss, MSE, tail KL, response KL, L2 and best loss;
 * - a two-device run is bit-identical run to run for the same split;
 * - the path of unlike devices (replica 0's P sent to the other after each step) gives the same
 *   bits as the path without, which shows that the replicas held identical P at every step;
 * - a split that does not cover the batch is refused with a message.
 * Tolerance: the slices' sums (channel sums, dP, the weighted KL sum) are added on the host
 * instead of inside one kernel, so the reduced values differ from one device's by float32
 * rounding, about 1e-7 relative per addition. Adam (lr 0.05 here, to move P in 10 steps) carries
 * that into P, and the next steps' losses see the changed P: the channel MSE most, being the
 * square of a small difference of means. Measured on two PoCL CPU devices: P <= 4.0e-7 absolute
 * (its entries are at most 1: the rows are projected into the unit ball), loss terms <= 7.9e-6
 * relative to max(0.1, |x|) (the MSE; the others <= 1.4e-6); at step 1 (the same P everywhere)
 * the terms agree within one float32 ulp, and the split 6+0 (one replica takes the whole batch)
 * is bit-identical to one device. We allow 1e-5 absolute on P and 1e-4 relative on the loss
 * terms, 25x and 12x the largest measured difference. A broken reduction is far outside: the slice-local mean in the
 * MSE (no sum over the replicas) moves P by 0.35-0.43 and the MSE by a factor of 10; the response
 * KL normalised by the slice's own answer rows moves P by 0.16-0.18 and the loss terms by 6-170%;
 * normalising every weight by the slice instead of the batch moves P by 0.3. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "algo/eraser.h"
#include "algo/fixture_model.h"
#include "harness/harness.h"

#define FX CLCDD_TEST_DATA "/fixtures/lcdd"
#define STEPS 10
#define ROWS 3
#define DIM 16
#define TOL_P 1e-5
#define TOL_REL 1e-4

/* Two PoCL CPU devices; must happen before the first OpenCL call of the process. */
__attribute__((constructor)) static void two_devices(void) { setenv("POCL_DEVICES", "pthread pthread", 0); }

static void tiny_hp(clcdd_hparams *hp) {
    memset(hp, 0, sizeof *hp);
    strcpy(hp->family, "llama");
    hp->vocab_size = 40, hp->hidden_size = DIM, hp->intermediate_size = 24, hp->n_layers = 2;
    hp->n_heads = 4, hp->n_kv_heads = 2, hp->head_dim = 4, hp->rms_eps = 1e-5f, hp->rope_theta = 10000.0f;
    hp->bos_id = hp->pad_id = -1;
}

typedef struct fixture {
    clcdd_prompt_pool pool;
    int32_t *prompt[8], *answer[8];
    size_t prompt_len[8], answer_len[8];
    clcdd_channel_set ch;
} fixture;

static void fixture_load(fixture *f) {
    memset(f, 0, sizeof *f);
    clcdd_safetensors *ref;
    TH_OK(clcdd_safetensors_open(FX "/lcdd_ref.safetensors", &ref));
    size_t n_ids;
    float *ids = fx_tensor_f32(ref, "ids", &n_ids), *lens = fx_tensor_f32(ref, "lens", NULL);
    float *lmask = fx_tensor_f32(ref, "loss_mask", NULL);
    size_t n_seq = 8, T = n_ids / n_seq;
    for (size_t b = 0; b < n_seq; b++) {
        size_t len = (size_t)lens[b], p = 1;
        while (p < len && lmask[b * T + p] == 0) p++;
        cr_assert(p < len, "sequence %zu has no loss tokens", b);
        f->prompt[b] = malloc(p * sizeof(int32_t));
        f->answer[b] = malloc((len - p) * sizeof(int32_t));
        for (size_t t = 0; t < len; t++) {
            int32_t v = (int32_t)ids[b * T + t];
            if (t < p) f->prompt[b][t] = v;
            else f->answer[b][t - p] = v;
        }
        f->prompt_len[b] = p, f->answer_len[b] = len - p;
    }
    free(ids), free(lens), free(lmask);
    clcdd_safetensors_close(ref);
    f->pool.n = n_seq;
    f->pool.prompt = f->prompt, f->pool.prompt_len = f->prompt_len;
    f->pool.answer = f->answer, f->pool.answer_len = f->answer_len;
    uint32_t count[2] = {3, 2};
    clcdd_channel_set like = {2, count, NULL};
    TH_OK(clcdd_channel_set_random(&like, DIM, 7, &f->ch));
}

static void fixture_free(fixture *f) {
    for (int i = 0; i < 8; i++) free(f->prompt[i]), free(f->answer[i]);
    clcdd_channel_set_free(&f->ch);
}

static void config(clcdd_eraser_config *c) {
    clcdd_eraser_config_paper(c);
    c->rows = ROWS, c->batch = 6, c->n_target = 8, c->tail_k = 3, c->steps = STEPS, c->lr = 0.05f;
    c->w_mse = 1.0f, c->w_kl = 0.7f, c->w_l2 = 0.1f, c->w_resp = 0.5f, c->w_act = 0.3f, c->cosine = 1;
    c->log_every = 1;
}

typedef struct run_out {
    float loss[STEPS], mse[STEPS], kl[STEPS], resp[STEPS], act[STEPS], l2[STEPS], best[STEPS];
    float P[ROWS * DIM];
    clcdd_dp_plan plan;
} run_out;

static void record(const clcdd_eraser_progress *p, void *user) {
    run_out *o = user;
    cr_assert(p->step < STEPS);
    o->loss[p->step] = p->loss, o->mse[p->step] = p->mse, o->kl[p->step] = p->kl;
    o->resp[p->step] = p->resp, o->l2[p->step] = p->l2, o->best[p->step] = p->best;
    o->act[p->step] = p->act;
}

/* The eraser on n devices (n = 1: one device, no reduction) with the given split (NULL:
 * calibrated); broadcast = 1 takes the path of unlike devices. */
static void run(clcdd_ctx **cx, size_t n, const size_t *split, int broadcast, run_out *out) {
    memset(out, 0, sizeof *out);
    clcdd_hparams hp;
    tiny_hp(&hp);
    fixture f;
    fixture_load(&f);
    clcdd_eraser_config c;
    config(&c);
    clcdd_model base[2], sft[2];
    const clcdd_model *bp[2], *mp[2];
    for (size_t k = 0; k < n; k++) {
        fx_load_model(cx[k], FX "/base", &hp, &base[k]);
        fx_load_model(cx[k], FX "/sft", &hp, &sft[k]);
        bp[k] = &base[k], mp[k] = &sft[k];
    }
    clcdd_eraser_replicas r;
    memset(&r, 0, sizeof r);
    r.n = n, r.ctx = cx, r.base = bp, r.model = mp, r.split = split, r.force_broadcast = broadcast;
    clcdd_eraser_progress fin;
    TH_OK(clcdd_eraser_train_dp(&r, &f.ch, &f.pool, &c, record, out, out->P, &fin, &out->plan));
    for (size_t k = 0; k < n; k++) {
        clcdd_model_destroy(&base[k]);
        clcdd_model_destroy(&sft[k]);
    }
    fixture_free(&f);
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

/* Largest |a - b| / max(floor, |b|); NaN fails. */
static double diff(const float *a, const float *b, size_t n, double floor) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] != a[i] || b[i] != b[i]) return 1e30;
        double e = fabs((double)a[i] - (double)b[i]) / fmax(floor, fabs((double)b[i]));
        if (e > worst) worst = e;
    }
    return worst;
}

static void expect_close(const run_out *two, const run_out *one, const char *what) {
    double dp = diff(two->P, one->P, ROWS * DIM, 1.0);
    struct {
        const char *name;
        const float *a, *b;
    } terms[] = {{"loss", two->loss, one->loss}, {"mse", two->mse, one->mse}, {"tail kl", two->kl, one->kl},
                 {"response kl", two->resp, one->resp}, {"activation match", two->act, one->act},
                 {"l2", two->l2, one->l2}, {"best", two->best, one->best}};
    cr_expect(dp <= TOL_P, "%s: P differs from one device's by %.3g (max abs, tolerance %g)", what, dp, TOL_P);
    double worst = 0;
    for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++) {
        double d = diff(terms[i].a, terms[i].b, STEPS, 0.1);
        cr_expect(d <= TOL_REL, "%s: %s differs from one device's by %.3g (relative, tolerance %g)", what,
                  terms[i].name, d, TOL_REL);
        if (d > worst) worst = d;
        cr_log_info("%s: %s: max rel diff %.3g, step 1: %.9g vs %.9g", what, terms[i].name, d, terms[i].a[0],
                    terms[i].b[0]);
    }
    cr_log_info("%s: P max abs diff %.3g, loss terms max rel diff %.3g", what, dp, worst);
}

static void expect_bit_identical(const run_out *a, const run_out *b, const char *what) {
    cr_expect(memcmp(a->P, b->P, sizeof a->P) == 0, "%s: P differs", what);
    cr_expect(memcmp(a->loss, b->loss, sizeof a->loss) == 0 && memcmp(a->mse, b->mse, sizeof a->mse) == 0 &&
                  memcmp(a->resp, b->resp, sizeof a->resp) == 0 && memcmp(a->kl, b->kl, sizeof a->kl) == 0 &&
                  memcmp(a->act, b->act, sizeof a->act) == 0,
              "%s: the loss terms differ", what);
}

Test(erase_multidev, two_devices_match_one) {
    clcdd_ctx *cx[2] = {th_ctx(), second_ctx()};
    run_out *one = calloc(7, sizeof *one), *two = one + 1, *again = one + 2, *uneven = one + 3,
            *empty = one + 4, *bc = one + 5, *cal = one + 6;
    run(cx, 1, NULL, 0, one);
    cr_assert(one->loss[STEPS - 1] < one->loss[0] && one->mse[0] > 0 && one->kl[0] > 0 &&
                  one->resp[0] > 0 && one->l2[0] > 0,
              "the reference run should learn with every term on: loss %g -> %g, mse %g, kl %g, resp %g",
              one->loss[0], one->loss[STEPS - 1], one->mse[0], one->kl[0], one->resp[0]);
    cr_assert(one->plan.replicas == 0, "one device makes no plan");
    const size_t even[2] = {3, 3}, skew[2] = {1, 5}, none[2] = {6, 0};
    run(cx, 2, even, 0, two);
    run(cx, 2, even, 0, again);
    run(cx, 2, skew, 0, uneven);
    run(cx, 2, none, 0, empty);
    run(cx, 2, skew, 1, bc);
    run(cx, 2, NULL, 0, cal);
    expect_close(two, one, "split 3+3");
    expect_close(uneven, one, "split 1+5");
    expect_close(empty, one, "split 6+0");
    expect_close(bc, one, "split 1+5, broadcast");
    expect_close(cal, one, "calibrated split");
    expect_bit_identical(two, again, "split 3+3 run to run");
    expect_bit_identical(bc, uneven, "split 1+5 with and without the broadcast of P");
    cr_expect(two->plan.replicas == 2 && two->plan.window == 6 && two->plan.examples[0] == 3 &&
                  two->plan.identical && two->plan.steps == STEPS && two->plan.reduce_bytes ==
                  4 * (5 + ROWS * DIM + 6), /* channel sums; dP, the weighted KL sum, 5 log sums */
              "plan: %zu replicas, window %zu, %zu + %zu prompts, %llu bytes", two->plan.replicas,
              two->plan.window, two->plan.examples[0], two->plan.examples[1],
              (unsigned long long)two->plan.reduce_bytes);
    cr_expect(cal->plan.replicas == 2 && cal->plan.examples[0] + cal->plan.examples[1] == 6 &&
                  cal->plan.calib_s[0] > 0 && cal->plan.calib_s[1] > 0,
              "calibrated plan: %zu + %zu prompts, %g / %g s", cal->plan.examples[0],
              cal->plan.examples[1], cal->plan.calib_s[0], cal->plan.calib_s[1]);
    free(one);
    clcdd_ctx_destroy(cx[1]);
}

Test(erase_multidev, split_must_cover_the_batch) {
    clcdd_ctx *cx[2] = {th_ctx(), second_ctx()};
    clcdd_hparams hp;
    tiny_hp(&hp);
    fixture f;
    fixture_load(&f);
    clcdd_eraser_config c;
    config(&c);
    clcdd_model base[2], sft[2];
    const clcdd_model *bp[2] = {&base[0], &base[1]}, *mp[2] = {&sft[0], &sft[1]};
    for (size_t k = 0; k < 2; k++) {
        fx_load_model(cx[k], FX "/base", &hp, &base[k]);
        fx_load_model(cx[k], FX "/sft", &hp, &sft[k]);
    }
    const size_t bad[2] = {2, 3};
    clcdd_eraser_replicas r;
    memset(&r, 0, sizeof r);
    r.n = 2, r.ctx = cx, r.base = bp, r.model = mp, r.split = bad;
    float P[ROWS * DIM];
    clcdd_status st = clcdd_eraser_train_dp(&r, &f.ch, &f.pool, &c, NULL, NULL, P, NULL, NULL);
    cr_expect(st == CLCDD_ERR_INVALID_ARGUMENT && strstr(clcdd_last_error(), "summing to 6") &&
                  strstr(clcdd_last_error(), "prompts"),
              "status %d: %s", (int)st, clcdd_last_error());
    for (size_t k = 0; k < 2; k++) {
        clcdd_model_destroy(&base[k]);
        clcdd_model_destroy(&sft[k]);
    }
    fixture_free(&f);
    clcdd_ctx_destroy(cx[1]);
}
