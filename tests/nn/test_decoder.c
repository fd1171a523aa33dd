/* The device decoder forward against the plain-C reference on tiny random models covering the
 * families' switches: GQA ratios 1, 2 and 4, tied and untied heads, q/k/v biases (Qwen2), q/k
 * norm with head_dim != d/H (Qwen3), sliding window (Mistral), llama3 RoPE scaling, right padding
 * and a soft prompt. Tolerance: 2e-4 relative + 2e-5 absolute on every residual stream and on the
 * logits (float32 through L layers with d <= 48; the reference accumulates in double). Padded rows
 * are compared too: they only attend to valid keys, so they are well defined. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness/harness.h"
#include "nn/decoder.h"
#include "ref_decoder.h"

static clcdd_hparams base_hp(void) {
    clcdd_hparams hp;
    memset(&hp, 0, sizeof hp);
    strcpy(hp.family, "llama");
    hp.vocab_size = 37;
    hp.hidden_size = 32;
    hp.intermediate_size = 48;
    hp.n_layers = 2;
    hp.n_heads = 4;
    hp.n_kv_heads = 2;
    hp.head_dim = 8;
    hp.rms_eps = 1e-5f;
    hp.rope_theta = 10000.0f;
    hp.bos_id = -1;
    hp.pad_id = -1;
    return hp;
}

/* Fill every parameter with host random values (norm weights around 1) and build the reference. */
static void randomize(clcdd_model *m, ref_model *r, uint64_t seed) {
    memset(r, 0, sizeof *r);
    r->hp = m->hp;
    for (int role = 0; role < CLCDD_ROLE_COUNT; role++) {
        uint32_t layers = clcdd_role_is_per_layer((clcdd_tensor_role)role) ? m->hp.n_layers : 1;
        for (uint32_t l = 0; l < layers; l++) {
            if (role == CLCDD_ROLE_LM_HEAD && m->hp.tie_word_embeddings) continue;
            if (!clcdd_model_has(m, (clcdd_tensor_role)role, l)) continue;
            clcdd_tensor t;
            TH_OK(clcdd_model_tensor(m, (clcdd_tensor_role)role, l, &t));
            size_t n = (size_t)clcdd_tensor_numel(&t);
            float *h = malloc(n * 4);
            int is_norm = role == CLCDD_ROLE_ATTN_NORM || role == CLCDD_ROLE_FFN_NORM ||
                          role == CLCDD_ROLE_FINAL_NORM || role == CLCDD_ROLE_Q_NORM ||
                          role == CLCDD_ROLE_K_NORM;
            th_rand(h, n, seed++ * 1000 + role * 64 + l, is_norm ? 0.6f : -0.35f, is_norm ? 1.4f : 0.35f);
            if (role == CLCDD_ROLE_EMBED)
                for (size_t i = 0; i < n; i++) h[i] *= 3;
            TH_OK(clcdd_tensor_upload(th_ctx(), &t, h));
            r->w[role][l] = h;
        }
    }
    r->inv_freq = malloc(m->hp.head_dim / 2 * 4);
    TH_OK(clcdd_rope_inv_freq(&m->hp, r->inv_freq));
}

static void free_ref(ref_model *r) {
    for (int role = 0; role < CLCDD_ROLE_COUNT; role++)
        for (int l = 0; l < 64; l++) free(r->w[role][l]);
    free(r->inv_freq);
}

static void run(const char *name, clcdd_hparams hp, size_t B, size_t T, const int32_t *lens,
                size_t prompt_rows) {
    clcdd_ctx *ctx = th_ctx();
    clcdd_model m;
    TH_OK(clcdd_model_create(ctx, &hp, &m));
    ref_model r;
    randomize(&m, &r, 7);
    size_t N = B * T, d = hp.hidden_size, V = hp.vocab_size;
    int32_t *ids = malloc(N * 4);
    for (size_t i = 0; i < N; i++) ids[i] = (int32_t)((i * 13 + 5) % V);
    float *prompt = NULL;
    clcdd_tensor tprompt;
    memset(&tprompt, 0, sizeof tprompt);
    if (prompt_rows) {
        prompt = malloc(prompt_rows * d * 4);
        th_rand(prompt, prompt_rows * d, 99, -1, 1);
        tprompt = th_upload(prompt, prompt_rows * d);
        for (size_t b = 0; b < B; b++)
            for (size_t k = 0; k < prompt_rows; k++) ids[b * T + k] = -1 - (int32_t)k;
    }
    clcdd_batch bt;
    TH_OK(clcdd_batch_create(ctx, B, T, ids, lens, 0, &bt));
    clcdd_acts A;
    TH_OK(clcdd_acts_create(ctx, &hp, B, T, 1, &A));
    TH_OK(clcdd_decoder_forward(ctx, &m, &bt, prompt_rows ? &tprompt : NULL, &A));
    float *hidden = malloc((hp.n_layers + 1) * N * d * 4), *logits = malloc(N * V * 4);
    ref_forward(&r, B, T, ids, lens, prompt, hidden, logits);
    for (uint32_t l = 0; l <= hp.n_layers; l++) {
        clcdd_tensor x = clcdd_act(&A, A.x[l]);
        float *got = th_download(&x);
        cr_expect(th_check_close(name, got, hidden + (size_t)l * N * d, N * d, 2e-4, 2e-5),
                  "%s: residual stream %u differs", name, l);
        free(got);
    }
    clcdd_tensor lg = clcdd_act(&A, A.logits);
    float *got = th_download(&lg);
    cr_expect(th_check_close(name, got, logits, N * V, 2e-4, 2e-5), "%s: logits differ", name);
    /* Inference activations (shared per layer) give the same logits. */
    clcdd_acts I;
    TH_OK(clcdd_acts_create(ctx, &hp, B, T, 0, &I));
    TH_OK(clcdd_decoder_forward(ctx, &m, &bt, prompt_rows ? &tprompt : NULL, &I));
    clcdd_tensor lg2 = clcdd_act(&I, I.logits);
    float *got2 = th_download(&lg2);
    cr_expect(memcmp(got, got2, N * V * 4) == 0, "%s: inference and training forward differ", name);
    free(got), free(got2), free(hidden), free(logits), free(ids), free(prompt);
    clcdd_acts_destroy(&A);
    clcdd_acts_destroy(&I);
    clcdd_batch_destroy(&bt);
    if (prompt_rows) clcdd_tensor_destroy(&tprompt);
    clcdd_model_destroy(&m);
    free_ref(&r);
}

Test(decoder, llama_gqa2_untied) {
    int32_t lens[2] = {7, 5};
    run("llama", base_hp(), 2, 7, lens, 0);
}

Test(decoder, llama_mha_tied_llama3_rope) {
    clcdd_hparams hp = base_hp();
    hp.n_kv_heads = 4;
    hp.tie_word_embeddings = 1;
    hp.rope_scaling = CLCDD_ROPE_SCALING_LLAMA3;
    hp.rope_factor = 8;
    hp.rope_low_freq_factor = 1;
    hp.rope_high_freq_factor = 4;
    hp.rope_original_max_pos = 16;
    hp.rope_theta = 500000.0f;
    int32_t lens[1] = {9};
    run("llama3 rope", hp, 1, 9, lens, 0);
}

Test(decoder, qwen2_bias_gqa4_tied) {
    clcdd_hparams hp = base_hp();
    hp.n_kv_heads = 1;
    hp.qkv_bias = 1;
    hp.tie_word_embeddings = 1;
    hp.rms_eps = 1e-6f;
    hp.rope_theta = 1e6f;
    int32_t lens[3] = {6, 6, 2};
    run("qwen2", hp, 3, 6, lens, 0);
}

Test(decoder, qwen3_qknorm_headdim) {
    clcdd_hparams hp = base_hp();
    hp.hidden_size = 24;
    hp.n_heads = 2;
    hp.n_kv_heads = 2;
    hp.head_dim = 16; /* H * hd = 32 != d = 24 */
    hp.qk_norm = 1;
    hp.n_layers = 3;
    int32_t lens[2] = {5, 4};
    run("qwen3", hp, 2, 5, lens, 0);
}

Test(decoder, mistral_sliding_window_and_mlp_bias) {
    clcdd_hparams hp = base_hp();
    hp.sliding_window = 3;
    hp.mlp_bias = 1;
    hp.o_bias = 1;
    int32_t lens[1] = {8};
    run("mistral window", hp, 1, 8, lens, 0);
}

Test(decoder, soft_prompt_rows) {
    int32_t lens[2] = {9, 7};
    run("soft prompt", base_hp(), 2, 9, lens, 3);
}
