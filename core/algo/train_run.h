/* Shared by the file-level runners (train_run.c, erase_run.c): chat rendering for the JSONL
 * loader, with a plain fallback for models without a chat template, and the devices of a
 * data-parallel run. */
#ifndef CLCDD_ALGO_TRAIN_RUN_H
#define CLCDD_ALGO_TRAIN_RUN_H

#include "algo/train.h"
#include "clcdd/plugin.h"
#include "clcdd/train.h"
#include "nn/load.h"

typedef struct clcdd_run_render_ctx {
    const clcdd_plugin *plugin;
    const clcdd_hparams *hp;
} clcdd_run_render_ctx;

/* A clcdd_chat_render_fn (loaders/dataset_jsonl.h); user: a clcdd_run_render_ctx. */
clcdd_status clcdd_run_render(void *user, const clcdd_chat_message *m, size_t n, int gen, char **out);

/* Tokenize the JSONL file `data` with the tokenizer and chat template of model m (loaded from
 * src_path with `info`), as `clcdd sft` trains on it; every id must fit m's vocabulary. d is
 * initialised here and freed on failure. */
clcdd_status clcdd_run_load_data(const clcdd_model *m, const clcdd_load_info *info,
                                 const char *src_path, const char *data, size_t max_len,
                                 int all_tokens, clcdd_dataset *d, clcdd_data_summary *sum);

/* Data parallel (several devices or a comm) rather than ctx alone. */
int clcdd_run_dp_on(const clcdd_dp_options *o);
/* The contexts of the run's local replicas into out (CLCDD_DP_MAX_LOCAL entries; ctx alone
 * without data parallelism); fn names the caller in messages. */
clcdd_status clcdd_run_dp_contexts(clcdd_ctx *ctx, const clcdd_dp_options *o, const char *fn,
                                   clcdd_ctx **out, size_t *n);
/* Outputs and states are written by rank 0 only. */
int clcdd_run_dp_writer(const clcdd_dp_options *o);

#endif
