/* The optional LCDD early stop (ALGORITHMS.md §3, docs/lcdd.md): the window rule on scripted
 * windows, and on the device that the step loop records every task loss of a window and stops
 * on the step the rule says. Expected values are worked out by hand from the rule. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "algo/lcdd.h"
#include "fixture_model.h"
#include "harness/harness.h"

#define FX CLCDD_TEST_DATA "/fixtures/lcdd"

static clcdd_lcdd_config es_config(void) {
    clcdd_lcdd_config c;
    clcdd_lcdd_config_default(&c, 100);
    c.early_stop = 1;
    return c;
}

Test(lcdd_early_stop, stall_needs_pruning_to_have_begun) {
    clcdd_lcdd_config c = es_config();
    clcdd_lcdd_state es;
    memset(&es, 0, sizeof es);
    es.es_start_active = 1000;
    /* Warm-up-like plateau: nothing moves, the rule must not fire however long it lasts. */
    for (int i = 0; i < 10; i++) clcdd_lcdd_es_window(&c, &es, 1000, 0.1f, 0.1f, 0.2f, 0.15f);
    cr_expect_eq(es.stop, CLCDD_LCDD_STOP_NONE);
    cr_expect_eq(es.es_armed, 0);
    cr_expect_eq(es.es_stall_runs, 0);
    /* A 10% drop arms the stall check; the window with the drop is not stalled. */
    clcdd_lcdd_es_window(&c, &es, 900, 0.1f, 0.1f, 0.2f, 0.15f);
    cr_expect_eq(es.es_armed, 1);
    cr_expect_eq(es.es_stall_runs, 0);
    cr_expect_eq(es.es_start_active, 900);
    /* 900 -> 895 is 0.56% < 1%: stalled, under budget. */
    clcdd_lcdd_es_window(&c, &es, 895, 0.1f, 0.1f, 0.2f, 0.15f);
    cr_expect_eq(es.es_stall_runs, 1);
    clcdd_lcdd_es_window(&c, &es, 895, 0.1f, 0.1f, 0.2f, 0.15f);
    cr_expect_eq(es.es_stall_runs, 2);
    /* Over budget (EMA 0.3 > 0.2): the count stands still because the loss is recovering, not
     * because the dual ascent has run out: the run of stalled windows restarts. */
    clcdd_lcdd_es_window(&c, &es, 895, 0.1f, 0.3f, 0.2f, 0.15f);
    cr_expect_eq(es.es_stall_runs, 0);
    clcdd_lcdd_es_window(&c, &es, 895, 0.1f, 0.1f, 0.2f, 0.15f);
    clcdd_lcdd_es_window(&c, &es, 894, 0.1f, 0.1f, 0.2f, 0.15f);
    cr_expect_eq(es.stop, CLCDD_LCDD_STOP_NONE);
    clcdd_lcdd_es_window(&c, &es, 894, 0.1f, 0.1f, 0.2f, 0.15f);
    cr_expect_eq(es.es_stall_runs, 3);
    cr_expect_eq(es.stop, CLCDD_LCDD_STOP_STALL);
}

Test(lcdd_early_stop, relative_change_threshold) {
    clcdd_lcdd_config c = es_config();
    clcdd_lcdd_state es;
    memset(&es, 0, sizeof es);
    es.es_start_active = 1000;
    es.es_armed = 1;
    clcdd_lcdd_es_window(&c, &es, 990, 0.1f, 0.1f, 0.2f, 0.15f); /* exactly 1%: moved */
    cr_expect_eq(es.es_stall_runs, 0);
    clcdd_lcdd_es_window(&c, &es, 981, 0.1f, 0.1f, 0.2f, 0.15f); /* 9/990 = 0.91%: stalled */
    cr_expect_eq(es.es_stall_runs, 1);
    clcdd_lcdd_es_window(&c, &es, 991, 0.1f, 0.1f, 0.2f, 0.15f); /* channels coming back, 1.02% */
    cr_expect_eq(es.es_stall_runs, 0);
}

Test(lcdd_early_stop, loss_median_over_limit) {
    clcdd_lcdd_config c = es_config();
    clcdd_lcdd_state es;
    memset(&es, 0, sizeof es);
    es.es_start_active = 1000;
    float b = 0.1f; /* limit 0.135 */
    int64_t active = 1000;
    clcdd_lcdd_es_window(&c, &es, (size_t)(active -= 50), 0.2f, 0.3f, 0.13f, b);
    clcdd_lcdd_es_window(&c, &es, (size_t)(active -= 50), 0.2f, 0.3f, 0.13f, b);
    cr_expect_eq(es.es_loss_runs, 2);
    clcdd_lcdd_es_window(&c, &es, (size_t)(active -= 50), 0.13f, 0.3f, 0.13f, b); /* under: reset */
    cr_expect_eq(es.es_loss_runs, 0);
    clcdd_lcdd_es_window(&c, &es, (size_t)(active -= 50), 0.14f, 0.3f, 0.13f, b);
    clcdd_lcdd_es_window(&c, &es, (size_t)(active -= 50), 0.14f, 0.3f, 0.13f, b);
    cr_expect_eq(es.stop, CLCDD_LCDD_STOP_NONE);
    clcdd_lcdd_es_window(&c, &es, (size_t)(active -= 50), 0.14f, 0.3f, 0.13f, b);
    cr_expect_eq(es.stop, CLCDD_LCDD_STOP_LOSS);
    cr_expect(fabsf(es.es_last_median - 0.14f) < 1e-7f);
}

Test(lcdd_early_stop, loss_criterion_off) {
    clcdd_lcdd_config c = es_config();
    c.es_loss_factor = 0.0f; /* stall criterion only */
    clcdd_lcdd_state es;
    memset(&es, 0, sizeof es);
    es.es_start_active = 1000;
    int64_t active = 1000;
    for (int i = 0; i < 6; i++) clcdd_lcdd_es_window(&c, &es, (size_t)(active -= 50), 9.0f, 9.0f, 0.13f, 0.1f);
    cr_expect_eq(es.es_loss_runs, 0);
    cr_expect_eq(es.stop, CLCDD_LCDD_STOP_NONE);
}

/* On the device: T_w 2, windows of 4 steps, patience 2 and a loss factor of 1e-6 (every window's
 * median, a cross-entropy of about 4, is over the limit), so the stop must fire after step index T_w + 2*4 = 10, i.e. with
 * 11 steps done, and the recorded median must be the median of the last window's task losses. */
Test(lcdd_early_stop, device_loop_stops_on_schedule) {
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
    clcdd_dataset d;
    clcdd_dataset_init(&d);
    for (int b = 0; b < 8; b++) {
        int32_t tok[9];
        uint8_t lm[9];
        for (int t = 0; t < 9; t++) tok[t] = (b * 7 + t * 3) % 40, lm[t] = t >= 6;
        TH_OK(clcdd_dataset_add(&d, tok, lm, 9));
    }
    clcdd_lcdd_config c;
    clcdd_lcdd_config_default(&c, 40);
    c.train.micro_batch = 4;
    c.train.accum = 2;
    c.train.schedule = CLCDD_SCHED_CONSTANT;
    c.train.warmup = 0;
    c.train.optim.lr = 1e-2f;
    c.T_w = 2;
    c.early_stop = 1;
    c.es_window = 4;
    c.es_patience = 2;
    c.es_loss_factor = 1e-6f;
    clcdd_lcdd l;
    TH_OK(clcdd_lcdd_create(ctx, &base, &sft, &c, 9, &l));
    float losses[40];
    int64_t done = 0;
    while (done < 40 && !l.es.stop) {
        clcdd_lcdd_state st;
        TH_OK(clcdd_lcdd_step(&l, &d, &st));
        losses[done++] = st.last_loss;
        cr_expect_eq(st.stop, l.es.stop);
    }
    cr_expect_eq(done, 11, "stopped after %lld steps", (long long)done);
    cr_expect_eq(l.es.stop, CLCDD_LCDD_STOP_LOSS);
    cr_expect_eq(l.es.stop_step, 11);
    float w[4] = {losses[7], losses[8], losses[9], losses[10]};
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            if (w[j] < w[i]) { float x = w[i]; w[i] = w[j]; w[j] = x; }
    float want = 0.5f * (w[1] + w[2]);
    cr_expect(fabsf(l.es.es_last_median - want) <= 1e-6f * fabsf(want), "median %.7g vs %.7g",
              l.es.es_last_median, want);
    clcdd_lcdd_destroy(&l);
    /* Without the flag the same run goes on. */
    c.early_stop = 0;
    TH_OK(clcdd_lcdd_create(ctx, &base, &sft, &c, 9, &l));
    for (int i = 0; i < 12; i++) TH_OK(clcdd_lcdd_step(&l, &d, NULL));
    cr_expect_eq(l.es.stop, CLCDD_LCDD_STOP_NONE);
    clcdd_lcdd_destroy(&l);
    clcdd_dataset_free(&d);
    clcdd_model_destroy(&base);
    clcdd_model_destroy(&sft);
}
