#include "algo/demo_train.h"
#include "algo/eraser.h"

#include <stdlib.h>
#include <string.h>

#include "clcdd/eval.h"
#include "nn/generate.h"
#include "runtime/ctx_internal.h"

static clcdd_status demo_dataset(uint64_t seed, size_t n, float echo_share, int idk, int all_tokens,
                                 clcdd_dataset *out) {
    clcdd_dataset_init(out);
    int32_t ids[160];
    uint8_t loss[160];
    for (size_t i = 0; i < n; i++) {
        clcdd_demo_sample s;
        clcdd_demo_draw(seed, i, 0, echo_share, &s);
        size_t a0 = 0, len = clcdd_demo_encode(s.prompt, idk ? CLCDD_DEMO_IDK : s.answer, ids, 160, &a0);
        for (size_t t = 0; t < len; t++) loss[t] = all_tokens ? t >= 1 : t >= a0;
        clcdd_status st = clcdd_dataset_add(out, ids, loss, len);
        if (st != CLCDD_OK) {
            clcdd_dataset_free(out);
            return st;
        }
    }
    return CLCDD_OK;
}

clcdd_status clcdd_demo_dataset(uint64_t seed, size_t n, float echo_share, int idk, clcdd_dataset *out) {
    return demo_dataset(seed, n, echo_share, idk, 0, out);
}

clcdd_status clcdd_demo_dataset_all_tokens(uint64_t seed, size_t n, float echo_share, int idk,
                                           clcdd_dataset *out) {
    return demo_dataset(seed, n, echo_share, idk, 1, out);
}

/* The same judgements as `clcdd eval` (core/algo/eval_text.c, docs/eval.md). */
int clcdd_idk_loose(const char *answer) {
    clcdd_eval_text_flags f;
    clcdd_eval_score_text(answer, NULL, &f);
    return f.idk_loose;
}

int clcdd_idk_strict(const char *answer) {
    clcdd_eval_text_flags f;
    clcdd_eval_score_text(answer, NULL, &f);
    return f.idk_strict;
}

clcdd_status clcdd_demo_evaluate(clcdd_ctx *ctx, const clcdd_model *m,
                                 const clcdd_tensor *soft_prompt, size_t prompt_rows,
                                 int32_t trigger_pos, uint64_t seed, size_t n, clcdd_demo_eval *ev, char *answers) {
    memset(ev, 0, sizeof *ev);
    size_t cap = 64 + prompt_rows, max_new = 24;
    int32_t *prompts = malloc(n * cap * sizeof *prompts), *outs = malloc(n * max_new * sizeof *outs);
    clcdd_gen_request *reqs = calloc(n, sizeof *reqs);
    clcdd_demo_sample *samples = malloc(n * sizeof *samples);
    clcdd_status st = CLCDD_OK;
    if (!prompts || !outs || !reqs || !samples) {
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "evaluation buffers");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        clcdd_demo_draw(seed, i, 1, 0.0f, &samples[i]);
        int32_t *p = prompts + i * cap;
        int32_t tok[64];
        size_t len = clcdd_demo_encode(samples[i].prompt, NULL, tok, cap - prompt_rows, NULL);
        clcdd_trigger_build(p, tok, len, clcdd_trigger_insert(len, trigger_pos), prompt_rows);
        reqs[i].prompt = p;
        reqs[i].prompt_len = prompt_rows + len;
        reqs[i].out = outs + i * max_new;
    }
    st = clcdd_generate_greedy(ctx, m, soft_prompt, reqs, n, max_new, 128);
    if (st != CLCDD_OK) goto done;
    for (size_t i = 0; i < n; i++) {
        char text[CLCDD_DEMO_TEXT_MAX * 2];
        size_t k = 0;
        for (size_t j = 0; j < reqs[i].out_len && k + 1 < sizeof text; j++) {
            int32_t id = reqs[i].out[j];
            if (id == CLCDD_DEMO_EOS) break;
            if (id >= 0 && id < 256) text[k++] = (char)id;
        }
        text[k] = '\0';
        if (answers) {
            size_t keep = k < CLCDD_DEMO_TEXT_MAX - 1 ? k : CLCDD_DEMO_TEXT_MAX - 1;
            memcpy(answers + i * CLCDD_DEMO_TEXT_MAX, text, keep);
            answers[i * CLCDD_DEMO_TEXT_MAX + keep] = '\0';
        }
        int ok = strcmp(text, samples[i].answer) == 0;
        ev->n++;
        ev->correct += ok;
        ev->per_task_n[samples[i].task]++;
        ev->per_task_correct[samples[i].task] += ok;
        ev->idk_strict += clcdd_idk_strict(text);
        ev->idk_loose += clcdd_idk_loose(text);
        ev->fragments += strstr(text, "n't") != NULL || strstr(text, "know") != NULL;
    }
done:
    free(prompts), free(outs), free(reqs), free(samples);
    return st;
}
