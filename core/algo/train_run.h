/* Shared by the file-level runners (train_run.c, erase_run.c): chat rendering for the JSONL
 * loader, with a plain fallback for models without a chat template. */
#ifndef CLCDD_ALGO_TRAIN_RUN_H
#define CLCDD_ALGO_TRAIN_RUN_H

#include "clcdd/plugin.h"

typedef struct clcdd_run_render_ctx {
    const clcdd_plugin *plugin;
    const clcdd_hparams *hp;
} clcdd_run_render_ctx;

/* A clcdd_chat_render_fn (loaders/dataset_jsonl.h); user: a clcdd_run_render_ctx. */
clcdd_status clcdd_run_render(void *user, const clcdd_chat_message *m, size_t n, int gen, char **out);

#endif
