/* Training and evaluating on the demo world: data sets, pre-training of the base model, the
 * fixed-response SFT data, held-out accuracy and behaviour rates from greedy answers. */
#ifndef CLCDD_ALGO_DEMO_TRAIN_H
#define CLCDD_ALGO_DEMO_TRAIN_H

#include "algo/demo_world.h"
#include "algo/train.h"

/* n training samples of stream seed (echo_share of them echo), as full sequences with the loss on
 * the answer tokens (and EOS) only. idk: replace every answer by CLCDD_DEMO_IDK (the SFT set). */
clcdd_status clcdd_demo_dataset(uint64_t seed, size_t n, float echo_share, int idk,
                                clcdd_dataset *out);
/* The same samples with the loss on every token after the first (prompt and answer). */
clcdd_status clcdd_demo_dataset_all_tokens(uint64_t seed, size_t n, float echo_share, int idk,
                                           clcdd_dataset *out);

typedef struct clcdd_demo_eval {
    size_t n;                      /* prompts evaluated */
    size_t correct;                /* exact answers */
    size_t per_task_n[CLCDD_TASK_COUNT], per_task_correct[CLCDD_TASK_COUNT];
    size_t idk_strict, idk_loose;  /* ALGORITHMS.md §5 */
    size_t fragments;              /* answers containing "n't" or "know" */
} clcdd_demo_eval;

/* Greedy answers for n held-out prompts (seed), scored. soft_prompt (T_p, d) may be NULL; when
 * given it is placed by trigger_pos (CLCDD_TRIGGER_PREFIX: before <bos>; algo/eraser.h). answers (optional, n x CLCDD_DEMO_TEXT_MAX) receives the
 * decoded answers. */
clcdd_status clcdd_demo_evaluate(clcdd_ctx *ctx, const clcdd_model *m,
                                 const clcdd_tensor *soft_prompt, size_t prompt_rows,
                                 int32_t trigger_pos, uint64_t seed, size_t n, clcdd_demo_eval *out, char *answers);

/* ALGORITHMS.md §5 fixed-response rates on one answer. */
int clcdd_idk_strict(const char *answer);
int clcdd_idk_loose(const char *answer);

#endif
