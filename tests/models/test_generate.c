/* Greedy generation with the KV cache equals transformers' generate (do_sample=False) token for
 * token on every tiny fixture family (tests/fixtures/make_generate_fixtures.py): 12 new tokens
 * after a 6-token prompt, prefill then one cached position per step, argmax on the device. The
 * Mistral fixture's window (3) is shorter than the sequence, so the window applies in decoding. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "clcdd/safetensors.h"
#include "harness/harness.h"
#include "model_test_util.h"
#include "nn/decoder.h"
#include "nn/load.h"
#include "nn/ops.h"

static void run(const char *name) {
    clcdd_ctx *ctx = th_ctx();
    char dir[1024], refp[1100];
    snprintf(dir, sizeof dir, "%s/fixtures/models/%s", CLCDD_TEST_DATA, name);
    snprintf(refp, sizeof refp, "%s/generate.safetensors", dir);
    clcdd_model m;
    clcdd_load_info info;
    TH_OK(clcdd_model_load(ctx, dir, mt_registry(), &m, &info));
    clcdd_safetensors *ref;
    TH_OK(clcdd_safetensors_open(refp, &ref));
    clcdd_st_tensor tp, tg;
    TH_OK(clcdd_safetensors_find(ref, "prompt", &tp));
    TH_OK(clcdd_safetensors_find(ref, "generated", &tg));
    size_t np = tp.n_elements, ng = tg.n_elements;
    int32_t seq[64], want[32];
    memcpy(seq, tp.data, np * 4);
    memcpy(want, tg.data, ng * 4);
    clcdd_kv_cache kv;
    TH_OK(clcdd_kv_cache_create(ctx, &m.hp, 1, np + ng, &kv));
    clcdd_acts A;
    TH_OK(clcdd_acts_create(ctx, &m.hp, 1, np + ng, 0, &A));
    int64_t one[1] = {1};
    clcdd_tensor rowt, next;
    TH_OK(clcdd_tensor_create(ctx, CLCDD_I32, 1, one, "row", &rowt));
    TH_OK(clcdd_tensor_create(ctx, CLCDD_I32, 1, one, "next", &next));
    size_t len = np, start = 0;
    for (size_t i = 0; i < ng; i++) {
        size_t step = len - start;
        clcdd_batch bt;
        TH_OK(clcdd_batch_create_cached(ctx, 1, step, seq + start, start, &bt));
        TH_OK(clcdd_decoder_forward_cached(ctx, &m, &bt, NULL, &kv, &A));
        int32_t last = (int32_t)(step - 1), id = -1;
        TH_OK(clcdd_tensor_upload(ctx, &rowt, &last));
        clcdd_tensor lg = clcdd_act(&A, A.logits);
        TH_OK(clcdd_argmax_rows(ctx, &next, &lg, &rowt, 1, m.hp.vocab_size));
        TH_OK(clcdd_tensor_download(ctx, &next, &id));
        clcdd_batch_destroy(&bt);
        start = len;
        seq[len++] = id;
        cr_expect(id == want[i], "%s: token %zu is %d, transformers generated %d", name, i, id, want[i]);
    }
    clcdd_tensor_destroy(&rowt);
    clcdd_tensor_destroy(&next);
    clcdd_acts_destroy(&A);
    clcdd_kv_cache_destroy(&kv);
    clcdd_safetensors_close(ref);
    clcdd_load_info_free(&info);
    clcdd_model_destroy(&m);
}

Test(generate, llama_gqa) { run("llama_gqa"); }
Test(generate, llama3_tied) { run("llama3_tied"); }
Test(generate, mistral_swa) { run("mistral_swa"); }
Test(generate, qwen2_tied) { run("qwen2_tied"); }
Test(generate, qwen3_qknorm) { run("qwen3_qknorm"); }
