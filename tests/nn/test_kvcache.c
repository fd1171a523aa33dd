/* Incremental decoding with the KV cache gives the logits of the full forward: a prefix is
 * prefilled, then one position at a time is appended; every row's logits are compared with the
 * same row of one full forward over the whole sequence (tolerance 1e-4 relative + 1e-5 absolute:
 * the attention sums run over the same keys in the same order, but through different GEMM
 * shapes). Covers GQA, q/k norm, a sliding window shorter than the sequence, and soft-prompt rows. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness/harness.h"
#include "nn/decoder.h"
#include "nn/generate.h"

static void check(clcdd_hparams hp, size_t T, size_t prefill, size_t prompt_rows) {
    clcdd_ctx *ctx = th_ctx();
    clcdd_model m;
    TH_OK(clcdd_model_create(ctx, &hp, &m));
    TH_OK(clcdd_model_init_random(ctx, &m, 3, 0.3f));
    int32_t ids[32], len = (int32_t)T;
    for (size_t t = 0; t < T; t++) ids[t] = t < prompt_rows ? -1 - (int32_t)t : (int32_t)((t * 7 + 2) % hp.vocab_size);
    clcdd_tensor P;
    memset(&P, 0, sizeof P);
    if (prompt_rows) {
        float p[4 * 64];
        th_rand(p, prompt_rows * hp.hidden_size, 5, -1, 1);
        P = th_upload(p, prompt_rows * hp.hidden_size);
    }
    clcdd_batch full;
    TH_OK(clcdd_batch_create(ctx, 1, T, ids, &len, 0, &full));
    clcdd_acts A;
    TH_OK(clcdd_acts_create(ctx, &hp, 1, T, 0, &A));
    TH_OK(clcdd_decoder_forward(ctx, &m, &full, prompt_rows ? &P : NULL, &A));
    clcdd_tensor lg = clcdd_act(&A, A.logits);
    float *want = th_download(&lg);
    clcdd_kv_cache kv;
    TH_OK(clcdd_kv_cache_create(ctx, &hp, 1, T, &kv));
    clcdd_acts C;
    TH_OK(clcdd_acts_create(ctx, &hp, 1, T, 0, &C));
    size_t V = hp.vocab_size;
    for (size_t start = 0; start < T;) {
        size_t n = start == 0 ? prefill : 1;
        clcdd_batch bt;
        TH_OK(clcdd_batch_create_cached(ctx, 1, n, ids + start, start, &bt));
        TH_OK(clcdd_decoder_forward_cached(ctx, &m, &bt, prompt_rows ? &P : NULL, &kv, &C));
        clcdd_tensor cl = clcdd_act(&C, C.logits);
        float *got = th_download(&cl);
        cr_expect(th_check_close("cached logits", got, want + start * V, n * V, 1e-4, 1e-5),
                  "rows %zu..%zu", start, start + n - 1);
        free(got);
        clcdd_batch_destroy(&bt);
        start += n;
    }
    cr_expect(kv.len == T);
    free(want);
    clcdd_kv_cache_destroy(&kv);
    clcdd_acts_destroy(&A);
    clcdd_acts_destroy(&C);
    clcdd_batch_destroy(&full);
    if (prompt_rows) clcdd_tensor_destroy(&P);
    clcdd_model_destroy(&m);
}

static clcdd_hparams hp_base(void) {
    clcdd_hparams hp;
    memset(&hp, 0, sizeof hp);
    hp.vocab_size = 31, hp.hidden_size = 32, hp.intermediate_size = 40, hp.n_layers = 2;
    hp.n_heads = 4, hp.n_kv_heads = 2, hp.head_dim = 8, hp.rms_eps = 1e-5f, hp.rope_theta = 10000.0f;
    return hp;
}

Test(kvcache, gqa_matches_full_forward) { check(hp_base(), 11, 4, 0); }

Test(kvcache, qknorm_window_prompt_rows) {
    clcdd_hparams hp = hp_base();
    hp.qk_norm = 1;
    hp.sliding_window = 3;
    check(hp, 12, 5, 3);
}

/* Batched greedy generation with the cache (requests grouped by prompt length, groups larger than
 * the batch split) gives the same tokens as the uncached reference that recomputes every prefix:
 * 11 requests of 4 prompt lengths, batch 3, soft-prompt rows before and inside some prompts, a
 * short max_new that cuts some answers. The logits agree to 1e-4 (tests above), so the greedy
 * tokens must be identical unless two logits tie that closely, which this fixture does not. */
Test(kvcache, batched_greedy_matches_uncached) {
    clcdd_ctx *ctx = th_ctx();
    clcdd_hparams hp = hp_base();
    hp.n_eos = 1, hp.eos_ids[0] = 5;
    clcdd_model m;
    TH_OK(clcdd_model_create(ctx, &hp, &m));
    TH_OK(clcdd_model_init_random(ctx, &m, 7, 0.5f));
    float p[3 * 32];
    th_rand(p, 3 * hp.hidden_size, 9, -1, 1);
    clcdd_tensor P = th_upload(p, 3 * hp.hidden_size);
    enum { N = 11, MAXP = 16, NEW = 7 };
    static const size_t lens[N] = {5, 9, 5, 12, 5, 9, 5, 5, 12, 7, 9};
    int32_t prompts[N][MAXP], out_a[N][NEW], out_b[N][NEW];
    clcdd_gen_request a[N], b[N];
    for (size_t i = 0; i < N; i++) {
        for (size_t t = 0; t < lens[i]; t++) prompts[i][t] = (int32_t)((i * 13 + t * 7 + 1) % hp.vocab_size);
        if (i % 3 == 1) /* three soft-prompt rows at the start or in the middle */
            for (size_t k = 0; k < 3; k++) prompts[i][(i % 2 ? 0 : 2) + k] = -1 - (int32_t)k;
        a[i] = (clcdd_gen_request){prompts[i], lens[i], out_a[i], 0};
        b[i] = (clcdd_gen_request){prompts[i], lens[i], out_b[i], 0};
    }
    TH_OK(clcdd_generate_greedy(ctx, &m, &P, a, N, NEW, 3));
    TH_OK(clcdd_generate_greedy_uncached(ctx, &m, &P, b, N, NEW, 3));
    size_t total = 0;
    for (size_t i = 0; i < N; i++) {
        cr_expect(a[i].out_len == b[i].out_len, "request %zu: %zu tokens cached, %zu uncached", i,
                  a[i].out_len, b[i].out_len);
        for (size_t t = 0; t < a[i].out_len && t < b[i].out_len; t++)
            cr_expect(out_a[i][t] == out_b[i][t], "request %zu token %zu: %d vs %d", i, t,
                      out_a[i][t], out_b[i][t]);
        total += a[i].out_len;
    }
    cr_expect(total > N, "the fixture generates more than one token per request (%zu)", total);
    clcdd_tensor_destroy(&P);
    clcdd_model_destroy(&m);
}
