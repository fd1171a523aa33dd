/* `clcdd debug backward` against PyTorch: the command runs on the tiny llama_gqa (untied head)
 * and qwen2_tied (tied head, q/k/v biases) fixtures with the 64-token tokenizer over
 * tests/fixtures/debug_backward/train.jsonl; its output must hold the token ids, lengths and loss
 * mask of the committed expectation exactly (made by tests/fixtures/make_debug_backward_fixtures.sh
 * with transformers from the same ids), the loss to 1e-5 relative and every gradient (the
 * embedding table's through the gather included, which the inputs_embeds fixtures of tests/models
 * cannot give) and the input-embedding gradient to 1e-5 + 1e-3 |want|, the tolerance of
 * tests/models/test_models.c: float32 on both sides with different summation orders; each
 * gradient sums products of forward values over every row, so a wrong sign or a missing term is
 * off by > 10% while the measured worst difference is about 1e-6 on entries up to 0.9. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clcdd_internal.h"
#include "models/model_test_util.h"

#define GRAD_RTOL 1e-3
#define GRAD_ATOL 1e-5

static void copy_file(const char *src, const char *dst) {
    char *data;
    size_t n;
    TH_OK(clcdd_read_file(src, &data, &n));
    FILE *f = fopen(dst, "wb");
    cr_assert(f, "cannot create %s", dst);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
    free(data);
}

/* Model dir = the fixture's config and weights + the tiny tokenizer; returns the output path. */
static void run_command(const char *model, char *dir, size_t cap, char *out, size_t out_cap) {
    snprintf(dir, cap, "/tmp/clcdd_dbgbwd_XXXXXX");
    cr_assert(mkdtemp(dir));
    char src[1024], dst[1200];
    const char *files[] = {"config.json", "model.safetensors"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(src, sizeof src, "%s/fixtures/models/%s/%s", CLCDD_TEST_DATA, model, files[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
        copy_file(src, dst);
    }
    snprintf(src, sizeof src, "%s/fixtures/tokenizer/tiny64.tokenizer.json", CLCDD_TEST_DATA);
    snprintf(dst, sizeof dst, "%s/tokenizer.json", dir);
    copy_file(src, dst);
    snprintf(out, out_cap, "%s/grads.safetensors", dir);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' debug backward '%s' --data '%s/fixtures/debug_backward/train.jsonl'"
             " --out '%s' --micro-batch 2", CLCDD_CLI, dir, CLCDD_TEST_DATA, out);
    int rc = system(cmd);
    cr_assert(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "`%s` failed (%d)", cmd, rc);
}

static void cleanup(const char *dir) {
    const char *files[] = {"config.json", "model.safetensors", "tokenizer.json", "grads.safetensors"};
    char p[1200];
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static void check_model(const char *model) {
    char dir[64], out[128], expp[1024];
    run_command(model, dir, sizeof dir, out, sizeof out);
    snprintf(expp, sizeof expp, "%s/fixtures/debug_backward/%s.expect.safetensors", CLCDD_TEST_DATA,
             model);
    clcdd_safetensors *got, *want;
    TH_OK(clcdd_safetensors_open(out, &got));
    TH_OK(clcdd_safetensors_open(expp, &want));

    /* the same tokens, lengths and loss positions: the expectation was computed from them */
    const char *exact[] = {"ids", "lens", "loss_mask"};
    for (size_t i = 0; i < 3; i++) {
        clcdd_st_tensor a, b;
        TH_OK(clcdd_safetensors_find(got, exact[i], &a));
        TH_OK(clcdd_safetensors_find(want, exact[i], &b));
        cr_assert(a.dtype == CLCDD_DTYPE_I32 && a.n_bytes == b.n_bytes &&
                      !memcmp(a.data, b.data, a.n_bytes),
                  "%s: %s differs from the expectation's (the tokenizer or the chat rendering "
                  "changed: regenerate with tests/fixtures/make_debug_backward_fixtures.sh)",
                  model, exact[i]);
    }
    clcdd_st_tensor lt;
    TH_OK(clcdd_safetensors_find(got, "loss", &lt));
    cr_expect_eq(lt.n_dims, 0, "loss is a scalar");
    float *gl = mt_ref(got, "loss", NULL), *wl = mt_ref(want, "loss", NULL);
    fprintf(stderr, "%s: loss %.7f, PyTorch %.7f\n", model, gl[0], wl[0]);
    cr_expect(fabs(gl[0] - wl[0]) <= 1e-5 * fabs(wl[0]), "%s: loss %.7f, PyTorch %.7f", model,
              gl[0], wl[0]);
    free(gl), free(wl);

    clcdd_st_tensor ids, lens;
    TH_OK(clcdd_safetensors_find(got, "ids", &ids));
    TH_OK(clcdd_safetensors_find(got, "lens", &lens));
    size_t n = (size_t)ids.shape[0], T = (size_t)ids.shape[1];
    unsigned char *valid = calloc(n * T, 1);
    cr_assert(valid);
    const int32_t *ln = lens.data;
    for (size_t r = 0; r < n * T; r++) valid[r] = (int32_t)(r % T) < ln[r / T];

    size_t n_grads = 0, n_got = 0;
    int ok = 1, have_embed = 0;
    double md = 0;
    for (size_t i = 0; i < clcdd_safetensors_count(want); i++) {
        clcdd_st_tensor w;
        TH_OK(clcdd_safetensors_get(want, i, &w));
        if (strncmp(w.name, "grad.", 5)) continue;
        clcdd_st_tensor g;
        cr_assert_eq(clcdd_safetensors_find(got, w.name, &g), CLCDD_OK, "%s: %s missing", model,
                     w.name);
        cr_assert_eq(g.n_elements, w.n_elements, "%s: %s size", model, w.name);
        size_t cnt;
        float *a = mt_ref(got, w.name, &cnt), *b = mt_ref(want, w.name, NULL);
        if (!strcmp(w.name, "grad.inputs_embeds"))
            ok &= mt_close(w.name, a, b, n * T, cnt / (n * T), valid, GRAD_RTOL, GRAD_ATOL, &md);
        else
            ok &= mt_close(w.name, a, b, 1, cnt, NULL, GRAD_RTOL, GRAD_ATOL, &md);
        have_embed |= !strcmp(w.name, "grad.model.embed_tokens.weight");
        free(a), free(b);
        n_grads++;
    }
    for (size_t i = 0; i < clcdd_safetensors_count(got); i++) {
        clcdd_st_tensor g;
        TH_OK(clcdd_safetensors_get(got, i, &g));
        n_got += !strncmp(g.name, "grad.", 5);
    }
    fprintf(stderr, "%s: %zu gradients, max |diff| %.3g\n", model, n_grads, md);
    cr_expect(ok, "%s: gradients differ from PyTorch", model);
    cr_expect(have_embed, "%s: no embedding-table gradient compared", model);
    cr_expect_eq(n_got, n_grads, "%s: %zu gradients written, PyTorch has %zu", model, n_got, n_grads);
    cr_expect(n_grads >= 2u * 9u + 2u, "%s: only %zu gradients", model, n_grads);
    free(valid);
    clcdd_safetensors_close(got);
    clcdd_safetensors_close(want);
    cleanup(dir);
}

Test(debug_backward, llama_gqa) { check_model("llama_gqa"); }
Test(debug_backward, qwen2_tied) { check_model("qwen2_tied"); }
