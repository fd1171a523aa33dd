/* The SFT-Eraser from files (ALGORITHMS.md §4), for applications and the CLI: optimise a soft
 * prompt against the LCDD model (base + carrier archive) or, for the ablation, the SFT model, on
 * the prompts of a JSONL chat dataset, and store it in the carrier archive under a name. */
#ifndef CLCDD_ERASE_H
#define CLCDD_ERASE_H
#include <stddef.h>
#include <stdint.h>
#include "clcdd/plugins.h"
#include "clcdd/runtime.h"
#include "clcdd/train.h"
#ifdef __cplusplus
extern "C" {
#endif

typedef enum clcdd_erase_preset {
    CLCDD_ERASE_PAPER = 0,    /* MSE at the carrier channels + tail KL + L2 (ALGORITHMS.md §4) */
    CLCDD_ERASE_RESP = 1      /* + KL on the base model's greedy answers, cosine lr (DEMO-WORLD.md) */
} clcdd_erase_preset;

typedef enum clcdd_erase_channels {
    CLCDD_ERASE_CH_CARRIER = 0,   /* the carrier's write channels */
    CLCDD_ERASE_CH_RANDOM = 1,    /* as many random channels per layer (ablation) */
    CLCDD_ERASE_CH_NONE = 2,      /* no MSE term */
    CLCDD_ERASE_CH_OTHER = 3      /* the write channels of another carrier of the same base
                                   * (channels_from; ablation) */
} clcdd_erase_channels;

typedef struct clcdd_erase_options {
    const char *name;         /* prompt name in the archive ("default") */
    clcdd_erase_preset preset;
    int64_t steps;            /* 0: the preset's */
    int64_t rows;             /* soft-prompt rows T; 0: the preset's (20) */
    float lr;                 /* 0: the preset's */
    int64_t batch;            /* prompts per step; 0: the preset's */
    uint64_t seed;            /* (42) */
    const char *sft;          /* non-NULL: erase in this SFT model instead of the LCDD model */
    clcdd_erase_channels channels;
    size_t answer_max;        /* resp preset: longest base answer generated (32) */
    clcdd_dp_options dp;      /* several devices / ranks (zero: one device), as for training: each
                               * device holds the base and the model, every step's batch is split
                               * over them (split: prompts per device) and the channel sums, the
                               * gradient of P and the loss terms are summed in a fixed order
                               * (docs/scaling.md); rank 0 writes the archive */
    float w_act;              /* weight of the per-position activation match at the channels on
                               * the base's answers (0: off; docs/cli.md) */
    const char *channels_from; /* CLCDD_ERASE_CH_OTHER: the archive whose write channels the
                                * channel terms use (same base model as the carrier) */
} clcdd_erase_options;
CLCDD_API void clcdd_erase_options_default(clcdd_erase_options *o);

typedef struct clcdd_erase_progress {
    int64_t step, steps;      /* step 0: before step 1, the base model's greedy answers (the
                               * response term's targets) are being generated: answers_done of
                               * answers_total; the loss fields are then 0 */
    float loss, mse, kl, resp, l2, best;
    double elapsed_s;
    size_t answers_done, answers_total;
    float act;                /* the activation-match term (w_act), unweighted; 0 when off */
} clcdd_erase_progress;
typedef void (*clcdd_erase_progress_fn)(const clcdd_erase_progress *p, void *user);

typedef struct clcdd_erase_result {
    size_t prompts;           /* pool size */
    size_t channels;          /* channels in the MSE term (all layers) */
    uint32_t rows, dim;
    float loss, mse, kl, resp, l2, best;  /* the last step's terms; best: lowest loss (stored P) */
    double seconds;
    clcdd_dp_plan plan;       /* several devices / ranks: the plan and its timings */
} clcdd_erase_result;

/* Load `base`, build the model to erase in (base + the archive at carrier_path, or o->sft),
 * tokenize the prompts of `data` (responses ignored), train P and store it in the archive under
 * o->name with its settings and metrics (rewriting the archive atomically). */
CLCDD_API clcdd_status clcdd_erase_run(clcdd_ctx *ctx, const clcdd_plugin_registry *reg,
                                       const char *base, const char *carrier_path, const char *data,
                                       const clcdd_erase_options *o, clcdd_erase_progress_fn progress,
                                       void *user, clcdd_erase_result *result);

#ifdef __cplusplus
}
#endif
#endif
