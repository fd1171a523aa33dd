/* Evaluation from files (ALGORITHMS.md §5; definitions and word lists: docs/eval.md): greedy
 * answers to a JSONL prompt set scored for the fixed response ("I don't know"), refusals, archaic
 * style, fragments of the fixed response and task accuracy against reference answers;
 * perplexity on held-out text; multiple-choice accuracy by choice log-likelihood; each for the
 * model as loaded (or base + carrier = the LCDD model) and, with an eraser prompt, with the prompt
 * prepended; and the teacher-forced KL benchmark when an SFT model is given. */
#ifndef CLCDD_EVAL_H
#define CLCDD_EVAL_H
#include <stddef.h>
#include <stdint.h>
#include "clcdd/plugins.h"
#include "clcdd/runtime.h"
#ifdef __cplusplus
extern "C" {
#endif

/* Per-answer judgements (each 0 or 1). correct is -1 without a reference. */
typedef struct clcdd_eval_text_flags {
    int idk_strict, idk_loose, refusal, archaic, fragment, correct;
} clcdd_eval_text_flags;

/* Score one answer (UTF-8); reference may be NULL. */
CLCDD_API void clcdd_eval_score_text(const char *answer, const char *reference,
                                     clcdd_eval_text_flags *out);

typedef struct clcdd_eval_options {
    const char *carrier;      /* NULL: MODEL as it is; else MODEL is this archive's base */
    const char *erase;        /* eraser prompt name: adds the "erased" column (needs carrier) */
    const char *data;         /* JSONL prompts (with optional reference answers); may be NULL */
    const char *mc;           /* JSONL {question, choices, answer}; may be NULL */
    const char *text;         /* held-out text: .jsonl {"text"} or plain lines; may be NULL */
    const char *sft;          /* the SFT model: KL benchmark (needs carrier and erase) */
    size_t max_new;           /* new tokens per answer (64) */
    size_t kl_max_new;        /* SFT reference length for the KL benchmark (128) */
    size_t max_len;           /* tokens per held-out text, longer ones are cut (512) */
    size_t limit;             /* 0: every line; else the first N of each file */
    int target_sft;           /* 1: evaluate the SFT model (sft) instead of base + carrier, the
                               * archive only supplying the eraser prompt: the standard-SFT
                               * ablation ("SFT + eraser"); needs carrier and sft */
} clcdd_eval_options;
CLCDD_API void clcdd_eval_options_default(clcdd_eval_options *o);

/* One column of the table. Shares are in [0, 1]; a metric without its input is -1. */
typedef struct clcdd_eval_metrics {
    size_t prompts;                   /* answers generated */
    double idk_strict, idk_loose, refusal, archaic, fragments;
    double mean_new_tokens;
    size_t references;                /* prompts with a reference answer */
    double task_acc;
    size_t ppl_texts, ppl_tokens;     /* predicted tokens */
    double nll, perplexity;           /* mean negative log-likelihood per token, exp(nll) */
    size_t mc_items;
    double mc_acc, mc_acc_norm;       /* argmax of the summed / per-token mean log-likelihood */
} clcdd_eval_metrics;

typedef struct clcdd_eval_kl {
    int computed;
    size_t prompts;
    double sft_lcdd, sft_lcdd_p, base_lcdd_p, delta;  /* ALGORITHMS.md §5 */
} clcdd_eval_kl;

typedef struct clcdd_eval_result {
    int erased;                       /* 1: the erased column is filled */
    clcdd_eval_metrics plain, with_prompt;
    clcdd_eval_kl kl;
    size_t n_answers;
    char **answers_plain;             /* (n_answers) decoded answers, special tokens skipped */
    char **answers_erased;            /* (n_answers) or NULL */
    char **prompts;                   /* (n_answers) the prompts' last user message */
    double seconds;
} clcdd_eval_result;
CLCDD_API void clcdd_eval_result_free(clcdd_eval_result *r);

/* stage: "answers", "answers (erased)", "perplexity", "multiple choice", "KL benchmark". */
typedef void (*clcdd_eval_progress_fn)(const char *stage, size_t done, size_t total, void *user);

/* Load MODEL (HF directory or GGUF) through the registry and evaluate as described above.
 * Every file error names the file and line. */
CLCDD_API clcdd_status clcdd_eval_run(clcdd_ctx *ctx, const clcdd_plugin_registry *reg,
                                      const char *model, const clcdd_eval_options *o,
                                      clcdd_eval_progress_fn progress, void *user,
                                      clcdd_eval_result *result);

#ifdef __cplusplus
}
#endif
#endif
