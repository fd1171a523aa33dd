/* Chat datasets in JSON Lines: one example per line, either
 *   {"prompt": "...", "response": "..."}
 * or
 *   {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}
 * where the last message must be the assistant's (the response) and the ones before it are the
 * prompt. Each example becomes token ids: the prompt rendered with the family's chat template
 * (add_generation_prompt = 1, special-token text parsed), then the response text (special-token
 * text NOT parsed: it is data) and the EOS id. Loss on the response tokens and EOS (ALGORITHMS.md
 * §2), or on every token after the first with all_tokens. Blank lines are skipped. Every error
 * names the file and line and says what to do. */
#ifndef CLCDD_LOADERS_DATASET_JSONL_H
#define CLCDD_LOADERS_DATASET_JSONL_H

#include "algo/train.h"
#include "clcdd/plugin.h"
#include "clcdd/tokenizer.h"

/* Render messages with a chat template into a malloc'd string. */
typedef clcdd_status (*clcdd_chat_render_fn)(void *user, const clcdd_chat_message *messages,
                                             size_t n, int add_generation_prompt, char **out);

typedef struct clcdd_jsonl_config {
    const clcdd_tokenizer *tok;
    clcdd_chat_render_fn render;
    void *render_user;
    int32_t eos_id;          /* appended after each response; -1: the tokenizer's EOS */
    size_t max_len;          /* longer examples are cut to max_len tokens (0: no limit) */
    int all_tokens;          /* loss on every token after the first, not only the response */
} clcdd_jsonl_config;

typedef struct clcdd_jsonl_stats {
    size_t lines;            /* non-blank lines */
    size_t examples;         /* added to the dataset */
    size_t truncated;        /* cut to max_len */
    size_t dropped;          /* cut so far that no loss token was left (not added) */
    size_t tokens, loss_tokens;
} clcdd_jsonl_stats;

/* Append the examples of `path` to *out (initialised by the caller). stats may be NULL. */
clcdd_status clcdd_dataset_load_jsonl(const char *path, const clcdd_jsonl_config *cfg,
                                      clcdd_dataset *out, clcdd_jsonl_stats *stats);
/* The same from memory; `name` stands for the file in messages. */
clcdd_status clcdd_dataset_parse_jsonl(const char *text, size_t len, const char *name,
                                       const clcdd_jsonl_config *cfg, clcdd_dataset *out,
                                       clcdd_jsonl_stats *stats);

#endif
