/* Parity with PyTorch on the tiny checkpoints of tests/fixtures/make_model_fixtures.py, loaded
 * through the plugin registry from the HF directory and from the GGUF copy.
 *
 * Forward: every hidden state (embeddings and each layer's output), the final norm and the logits
 * on the valid (non-padding) rows: |diff| <= 1e-5 + 1e-4 |want|. Both sides are float32 with
 * different summation orders (GEMM tiling, softmax and RMSNorm reductions); through two layers of
 * unit-scale activations the rounding differences stay around 1e-6 absolute, so 1e-4 relative
 * leaves room without hiding a wrong term (a missing bias or RoPE band moves values by > 1e-2).
 * Backward: the loss (mean cross-entropy over response rows) to 1e-5 relative, every trainable
 * parameter gradient and the input-embedding gradient to 1e-5 + 1e-3 |want|: each gradient is a
 * sum over all rows of products of forward values, so the forward's rounding is accumulated once
 * more; a wrong sign or a missing term is off by > 10%.
 * Plus: loading errors name the tensor (missing, wrong shape) and a truncated file fails. */
#include <sys/stat.h>
#include <unistd.h>

#include "clcdd_internal.h"
#include "model_test_util.h"
#include "nn/backward.h"
#include "nn/checkpoint.h"
#include "nn/load.h"
#include "nn/ops.h"

#define FWD_RTOL 1e-4
#define FWD_ATOL 1e-5
#define GRAD_RTOL 1e-3
#define GRAD_ATOL 1e-5

typedef struct ref_batch {
    size_t B, T;
    int32_t ids[64], lens[8], targets[64];
    unsigned char valid[64];
    size_t n_loss;
} ref_batch;

static void fixture_path(char *out, size_t cap, const char *name, const char *file) {
    snprintf(out, cap, "%s/fixtures/models/%s%s%s", CLCDD_TEST_DATA, name, file ? "/" : "",
             file ? file : "");
}

static void read_batch(const clcdd_safetensors *ref, ref_batch *b) {
    memset(b, 0, sizeof *b);
    clcdd_st_tensor t;
    TH_OK(clcdd_safetensors_find(ref, "ids", &t));
    cr_assert(t.n_dims == 2 && t.dtype == CLCDD_DTYPE_I32 && t.n_elements <= 64);
    b->B = (size_t)t.shape[0];
    b->T = (size_t)t.shape[1];
    memcpy(b->ids, t.data, t.n_bytes);
    TH_OK(clcdd_safetensors_find(ref, "lens", &t));
    memcpy(b->lens, t.data, t.n_bytes);
    TH_OK(clcdd_safetensors_find(ref, "targets", &t));
    memcpy(b->targets, t.data, t.n_bytes);
    for (size_t r = 0; r < b->B * b->T; r++) {
        b->valid[r] = (int32_t)(r % b->T) < b->lens[r / b->T];
        if (b->targets[r] < 0) b->targets[r] = -1;
        else b->n_loss++;
    }
}

static int check_act(clcdd_acts *A, size_t slot, const clcdd_safetensors *ref, const char *name,
                     const ref_batch *b, size_t cols, double *md) {
    clcdd_tensor t = clcdd_act(A, slot);
    float *got = th_download(&t);
    float *want = mt_ref(ref, name, NULL);
    int ok = mt_close(name, got, want, b->B * b->T, cols, b->valid, FWD_RTOL, FWD_ATOL, md);
    free(got);
    free(want);
    return ok;
}

static void run_fixture(const char *name, int gguf) {
    clcdd_ctx *ctx = th_ctx();
    clcdd_plugin_registry *reg = mt_registry();
    char path[1024], refp[1024];
    fixture_path(path, sizeof path, name, gguf ? "model.gguf" : NULL);
    fixture_path(refp, sizeof refp, name, "reference.safetensors");
    clcdd_model m;
    clcdd_load_info info;
    TH_OK(clcdd_model_load(ctx, path, reg, &m, &info));
    clcdd_safetensors *ref = NULL;
    TH_OK(clcdd_safetensors_open(refp, &ref));
    ref_batch b;
    read_batch(ref, &b);
    const clcdd_hparams *hp = &m.hp;
    size_t N = b.B * b.T, d = hp->hidden_size, V = hp->vocab_size;

    clcdd_batch bt;
    TH_OK(clcdd_batch_create(ctx, b.B, b.T, b.ids, b.lens, 0, &bt));
    clcdd_acts A;
    TH_OK(clcdd_acts_create(ctx, hp, b.B, b.T, 1, &A));
    TH_OK(clcdd_decoder_forward(ctx, &m, &bt, NULL, &A));
    double md_fwd = 0;
    int ok = 1;
    char key[160];
    for (uint32_t l = 0; l <= hp->n_layers; l++) {
        snprintf(key, sizeof key, "hidden.%u", l);
        ok &= check_act(&A, A.x[l], ref, key, &b, d, &md_fwd);
    }
    ok &= check_act(&A, A.xf, ref, "final_norm", &b, d, &md_fwd);
    ok &= check_act(&A, A.logits, ref, "logits", &b, V, &md_fwd);
    fprintf(stderr, "%s (%s, plugin %s): forward max |diff| %.3g\n", name, gguf ? "GGUF" : "HF",
            info.plugin->name, md_fwd);
    cr_expect(ok, "%s (%s): forward differs from PyTorch", name, gguf ? "GGUF" : "HF");

    if (!gguf) { /* the backward does not depend on the file format */
        clcdd_tensor tg, loss;
        int64_t sN[1] = {(int64_t)N};
        TH_OK(clcdd_tensor_create(ctx, CLCDD_I32, 1, sN, "targets", &tg));
        TH_OK(clcdd_tensor_upload(ctx, &tg, b.targets));
        TH_OK(clcdd_tensor_create(ctx, CLCDD_F32, 1, sN, "loss", &loss));
        clcdd_tensor lg = clcdd_act(&A, A.logits);
        TH_OK(clcdd_cross_entropy(ctx, &lg, &loss, &tg, N, V, 1.0f / (float)b.n_loss, 1));
        float *l = th_download(&loss);
        double sum = 0;
        for (size_t i = 0; i < N; i++) sum += l[i];
        free(l);
        float *want_loss = mt_ref(ref, "loss", NULL);
        double got_loss = sum / (double)b.n_loss;
        fprintf(stderr, "%s: loss %.7f, PyTorch %.7f\n", name, got_loss, want_loss[0]);
        cr_expect(fabs(got_loss - want_loss[0]) <= 1e-5 * fabs(want_loss[0]), "%s: loss", name);
        free(want_loss);

        int trainable[CLCDD_ROLE_COUNT];
        for (int r = 0; r < CLCDD_ROLE_COUNT; r++) trainable[r] = 1;
        /* The fixtures feed inputs_embeds, so PyTorch gives the table no gradient through the
         * gather (the embedding gradient is checked against finite differences in tests/nn and
         * against PyTorch, through the gather and the tied head, in tests/parity). */
        trainable[CLCDD_ROLE_EMBED] = 0;
        if (hp->tie_word_embeddings) trainable[CLCDD_ROLE_LM_HEAD] = 0;
        clcdd_grads g;
        TH_OK(clcdd_grads_create(ctx, &m, trainable, &g));
        clcdd_bwd_scratch s;
        TH_OK(clcdd_bwd_scratch_create(ctx, hp, b.B, b.T, &s));
        TH_OK(clcdd_decoder_backward(ctx, &m, &bt, &A, &g, &s, NULL, 0));
        double md_grad = 0;
        size_t n_checked = 0;
        for (int r = 0; r < CLCDD_ROLE_COUNT; r++) {
            uint32_t layers = clcdd_role_is_per_layer((clcdd_tensor_role)r) ? hp->n_layers : 1;
            for (uint32_t ly = 0; ly < layers; ly++) {
                if (!clcdd_grads_has(&g, (clcdd_tensor_role)r, ly)) continue;
                char hf[128];
                cr_assert(clcdd_hf_tensor_name(hp, (clcdd_tensor_role)r, ly, hf, sizeof hf));
                snprintf(key, sizeof key, "grad.%s", hf);
                clcdd_tensor gt = clcdd_grads_tensor(&g, (clcdd_tensor_role)r, ly);
                float *got = th_download(&gt);
                size_t n;
                float *want = mt_ref(ref, key, &n);
                cr_assert_eq((int64_t)n, clcdd_tensor_numel(&gt), "%s: size", key);
                ok &= mt_close(key, got, want, 1, n, NULL, GRAD_RTOL, GRAD_ATOL, &md_grad);
                n_checked++;
                free(got);
                free(want);
            }
        }
        clcdd_tensor dx = clcdd_arena_view(&s.arena, s.dx);
        float *got = th_download(&dx);
        float *want = mt_ref(ref, "grad.inputs_embeds", NULL);
        ok &= mt_close("grad.inputs_embeds", got, want, N, d, b.valid, GRAD_RTOL, GRAD_ATOL,
                       &md_grad);
        free(got);
        free(want);
        fprintf(stderr, "%s: %zu parameter gradients + input embeddings, max |diff| %.3g\n", name,
                n_checked, md_grad);
        cr_expect(ok, "%s: gradients differ from PyTorch", name);
        cr_expect(n_checked >= 2u * 9u, "%s: only %zu gradients checked", name, n_checked);
        clcdd_bwd_scratch_destroy(&s);
        clcdd_grads_destroy(&g);
        clcdd_tensor_destroy(&tg);
        clcdd_tensor_destroy(&loss);
    }
    clcdd_acts_destroy(&A);
    clcdd_batch_destroy(&bt);
    clcdd_safetensors_close(ref);
    clcdd_load_info_free(&info);
    clcdd_model_destroy(&m);
    clcdd_plugin_registry_destroy(reg);
}

Test(models, llama_gqa) { run_fixture("llama_gqa", 0); }
Test(models, llama3_tied) { run_fixture("llama3_tied", 0); }
Test(models, mistral_swa) { run_fixture("mistral_swa", 0); }
Test(models, qwen2_tied) { run_fixture("qwen2_tied", 0); }
Test(models, qwen3_qknorm) { run_fixture("qwen3_qknorm", 0); }
Test(models_gguf, llama_gqa) { run_fixture("llama_gqa", 1); }
Test(models_gguf, llama3_tied) { run_fixture("llama3_tied", 1); }
Test(models_gguf, mistral_swa) { run_fixture("mistral_swa", 1); }
Test(models_gguf, qwen2_tied) { run_fixture("qwen2_tied", 1); }
Test(models_gguf, qwen3_qknorm) { run_fixture("qwen3_qknorm", 1); }

/* The same hparams and tensors from both formats; the family and tie as expected. */
Test(models, info_and_hparams) {
    clcdd_ctx *ctx = th_ctx();
    clcdd_plugin_registry *reg = mt_registry();
    static const struct { const char *name, *family; int tied; } cases[] = {
        {"llama_gqa", "llama", 0}, {"llama3_tied", "llama", 1}, {"mistral_swa", "mistral", 0},
        {"qwen2_tied", "qwen", 1}, {"qwen3_qknorm", "qwen", 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char hf[1024], gg[1024];
        fixture_path(hf, sizeof hf, cases[i].name, NULL);
        fixture_path(gg, sizeof gg, cases[i].name, "model.gguf");
        clcdd_model a, b;
        clcdd_load_info ia, ib;
        TH_OK(clcdd_model_load(ctx, hf, reg, &a, &ia));
        TH_OK(clcdd_model_load(ctx, gg, reg, &b, &ib));
        cr_expect_str_eq(ia.plugin->name, cases[i].family, "%s", cases[i].name);
        cr_expect_eq(a.hp.tie_word_embeddings, cases[i].tied, "%s tied (HF)", cases[i].name);
        cr_expect_eq(b.hp.tie_word_embeddings, cases[i].tied, "%s tied (GGUF)", cases[i].name);
        cr_expect_eq(ia.n_params, ib.n_params, "%s: parameter count", cases[i].name);
        cr_expect_eq(ia.format, CLCDD_SOURCE_HF);
        cr_expect_eq(ib.format, CLCDD_SOURCE_GGUF);
        cr_expect_null(ia.tokenizer, "the fixtures have no tokenizer");
        clcdd_load_info_free(&ia);
        clcdd_load_info_free(&ib);
        clcdd_model_destroy(&a);
        clcdd_model_destroy(&b);
    }
    clcdd_plugin_registry_destroy(reg);
}

/* ---- errors ---- */

static void tmpdir(char *out, size_t cap) {
    snprintf(out, cap, "/tmp/clcdd_models_XXXXXX");
    cr_assert(mkdtemp(out));
}

static void write_text(const char *path, const char *s, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(s, 1, n, f), n);
    fclose(f);
}

/* Copy llama_gqa's config.json (with `from` replaced by `to`) into dir. */
static void copy_config(const char *dir, const char *from, const char *to) {
    char src[1024], dst[1100];
    fixture_path(src, sizeof src, "llama_gqa", "config.json");
    char *text;
    size_t n;
    TH_OK(clcdd_read_file(src, &text, &n));
    char out[8192];
    char *at = from ? strstr(text, from) : NULL;
    if (at) {
        size_t pre = (size_t)(at - text);
        n = (size_t)snprintf(out, sizeof out, "%.*s%s%s", (int)pre, text, to, at + strlen(from));
    } else {
        n = (size_t)snprintf(out, sizeof out, "%s", text);
    }
    free(text);
    snprintf(dst, sizeof dst, "%s/config.json", dir);
    write_text(dst, out, n);
}

/* llama_gqa's weights without `skip` into dir/model.safetensors. */
static void copy_weights(const char *dir, const char *skip) {
    char src[1024], dst[1100];
    fixture_path(src, sizeof src, "llama_gqa", "model.safetensors");
    clcdd_safetensors *st;
    TH_OK(clcdd_safetensors_open(src, &st));
    size_t n = clcdd_safetensors_count(st), k = 0;
    clcdd_st_write_tensor *w = calloc(n, sizeof *w);
    for (size_t i = 0; i < n; i++) {
        clcdd_st_tensor t;
        TH_OK(clcdd_safetensors_get(st, i, &t));
        if (skip && !strcmp(t.name, skip)) continue;
        w[k++] = (clcdd_st_write_tensor){t.name, t.dtype, t.n_dims, t.shape, t.data};
    }
    snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
    TH_OK(clcdd_safetensors_write(dst, w, k, NULL, 0));
    free(w);
    clcdd_safetensors_close(st);
}

static clcdd_status try_load(const char *dir) {
    clcdd_model m;
    clcdd_load_info info;
    clcdd_plugin_registry *reg = mt_registry();
    clcdd_status st = clcdd_model_load(th_ctx(), dir, reg, &m, &info);
    if (st == CLCDD_OK) {
        clcdd_load_info_free(&info);
        clcdd_model_destroy(&m);
    }
    clcdd_plugin_registry_destroy(reg);
    return st;
}

Test(models_errors, missing_tensor_is_named) {
    char dir[64];
    tmpdir(dir, sizeof dir);
    copy_config(dir, NULL, NULL);
    copy_weights(dir, "model.layers.1.mlp.up_proj.weight");
    cr_assert_eq(try_load(dir), CLCDD_ERR_NOT_FOUND);
    cr_expect(strstr(clcdd_last_error(), "model.layers.1.mlp.up_proj.weight"), "%s",
              clcdd_last_error());
}

Test(models_errors, shape_mismatch_names_both_shapes) {
    char dir[64];
    tmpdir(dir, sizeof dir);
    copy_config(dir, "\"intermediate_size\": 48", "\"intermediate_size\": 40");
    copy_weights(dir, NULL);
    cr_assert_eq(try_load(dir), CLCDD_ERR_FORMAT);
    const char *e = clcdd_last_error();
    cr_expect(strstr(e, "mlp.gate_proj.weight") && strstr(e, "[48, 32]") && strstr(e, "[40, 32]"),
              "%s", e);
}

Test(models_errors, truncated_checkpoint) {
    char dir[64], src[1024], dst[1100];
    tmpdir(dir, sizeof dir);
    copy_config(dir, NULL, NULL);
    fixture_path(src, sizeof src, "llama_gqa", "model.safetensors");
    char *data;
    size_t n;
    TH_OK(clcdd_read_file(src, &data, &n));
    snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
    write_text(dst, data, n - 1000);
    free(data);
    cr_assert_eq(try_load(dir), CLCDD_ERR_FORMAT);
    cr_expect(strstr(clcdd_last_error(), "model.safetensors"), "%s", clcdd_last_error());
}

Test(models_errors, not_a_model) {
    cr_assert_neq(try_load("/nonexistent/model"), CLCDD_OK);
    cr_expect(strstr(clcdd_last_error(), "/nonexistent/model"), "%s", clcdd_last_error());
}

/* The interleaved -> half-split row mapping of FORMATS.md §2.4 on a 2-head example. */
Test(models, unpermute_rotary_rows) {
    float w[8] = {0, 1, 2, 3, 10, 11, 12, 13}; /* stored rows 2j + half per head (D = 4) */
    TH_OK(clcdd_unpermute_rotary(w, 8, 1, 2));
    const float want[8] = {0, 2, 1, 3, 10, 12, 11, 13};
    for (int i = 0; i < 8; i++) cr_expect_eq(w[i], want[i], "row %d", i);
    cr_expect_neq(clcdd_unpermute_rotary(w, 6, 1, 4), CLCDD_OK);
}
