/* The input files of `clcdd eval` (docs/eval.md) as token sequences. */
#ifndef CLCDD_LOADERS_EVAL_DATA_H
#define CLCDD_LOADERS_EVAL_DATA_H

#include "dataset_jsonl.h"

typedef struct clcdd_eval_seq {
    int32_t *ids;
    size_t n;
} clcdd_eval_seq;

typedef struct clcdd_eval_seqs {
    clcdd_eval_seq *s;
    size_t n, cap;
} clcdd_eval_seqs;

/* What the files are tokenized with. */
typedef struct clcdd_eval_tok {
    const clcdd_tokenizer *tok;
    clcdd_chat_render_fn render;   /* generation prompt of messages (dataset_jsonl.h) */
    void *render_user;
    uint32_t vocab;                /* the model's: ids at or above it are refused */
} clcdd_eval_tok;

typedef struct clcdd_eval_prompts {
    const clcdd_eval_tok *t;
    clcdd_eval_seqs ids;
    char **reference;      /* NULL entries: no reference */
    char **user;           /* the last user message */
    size_t n, cap;
} clcdd_eval_prompts;

/* Multiple choice: the question's prompt, each choice's tokens, the right index. */
typedef struct clcdd_eval_mc_item {
    clcdd_eval_seq prompt;
    clcdd_eval_seqs choices;
    size_t answer;
} clcdd_eval_mc_item;

typedef struct clcdd_eval_mc {
    const clcdd_eval_tok *t;
    clcdd_eval_mc_item *items;
    size_t n, cap;
} clcdd_eval_mc;

void clcdd_eval_seqs_free(clcdd_eval_seqs *l);
clcdd_status clcdd_eval_seqs_push(clcdd_eval_seqs *l, const int32_t *ids, size_t n);
void clcdd_eval_strs_free(char **s, size_t n);
void clcdd_eval_prompts_free(clcdd_eval_prompts *p);
void clcdd_eval_mc_free(clcdd_eval_mc *m);

/* JSONL {"prompt", "response"?} or {"messages"} (a last assistant message is the reference):
 * the generation prompt's ids, the reference (or NULL) and the last user message. */
clcdd_status clcdd_eval_load_prompts(const char *path, size_t limit, const clcdd_eval_tok *t,
                                     clcdd_eval_prompts *out);
/* JSONL {"question", "choices", "answer": index | letter | choice text}: the chat-formatted
 * question and each choice tokenized as plain text. */
clcdd_status clcdd_eval_load_mc(const char *path, size_t limit, const clcdd_eval_tok *t,
                                clcdd_eval_mc *out);
/* path ending in .jsonl: {"text"} per line; else one text per non-blank line. Tokenized with the
 * tokenizer's defaults (BOS as it adds it), cut to max_len; texts under 2 tokens are skipped. */
clcdd_status clcdd_eval_load_text(const char *path, size_t limit, size_t max_len,
                                  const clcdd_eval_tok *t, clcdd_eval_seqs *out);

#endif
