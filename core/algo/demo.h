/* `clcdd demo`: the whole pipeline on the embedded demo world — base model, fixed-response SFT,
 * LCDD, the SFT-Eraser and its ablations — ending in the result table of ALGORITHMS.md §6. */
#ifndef CLCDD_ALGO_DEMO_H
#define CLCDD_ALGO_DEMO_H

#include "algo/demo_train.h"
#include "algo/eraser.h"
#include "algo/lcdd.h"
#include "clcdd/demo.h"

/* Loads the embedded base model into m (demo hparams). */
clcdd_status clcdd_demo_load_base(clcdd_ctx *ctx, clcdd_model *m);


/* The write channel set (ffn_write U attn_write) of an LCDD state's masks. */
clcdd_status clcdd_lcdd_write_channels(clcdd_lcdd *l, clcdd_channel_set *out, double *sparsity);

#endif

