/* Training from files for applications and the CLI: SFT of a checkpoint on a JSONL chat dataset
 * (ALGORITHMS.md §2), LCDD of a (base, SFT) pair into a carrier archive (§3), and applying a
 * carrier to its base as an HF checkpoint. Datasets: docs/cli.md "Datasets". */
#ifndef CLCDD_TRAIN_H
#define CLCDD_TRAIN_H
#include <stddef.h>
#include <stdint.h>
#include "clcdd/plugins.h"
#include "clcdd/runtime.h"
#ifdef __cplusplus
extern "C" {
#endif

/* What the data file gave (after tokenizing with the model's tokenizer). */
typedef struct clcdd_data_summary {
    size_t lines, examples, truncated, dropped, tokens, loss_tokens, longest;
} clcdd_data_summary;

/* Reported every log_every optimizer steps and at the last step. The lcdd_* fields are set by
 * clcdd_lcdd_run only. */
typedef struct clcdd_train_progress {
    int64_t step, steps;      /* step: 1-based optimizer step just done */
    float loss;               /* the window's mean token loss (LCDD: the task loss) */
    float lr;                 /* weight learning rate of that step */
    double tokens_per_s;      /* training tokens per second since the previous report */
    double elapsed_s;
    float ema, budget, lambda;/* LCDD dual state (budget 0 before the warm-up ends) */
    int budget_set;
    uint64_t active, total;   /* LCDD active mask channels */
} clcdd_train_progress;
typedef void (*clcdd_train_progress_fn)(const clcdd_train_progress *p, void *user);

/* ---- several devices, several processes (docs/scaling.md) ---------------------------------- */

#define CLCDD_DP_MAX 64       /* replicas of one run, over all processes */
#define CLCDD_DP_MAX_LOCAL 16 /* replicas of one process */

/* How the processes (ranks) of one run talk, e.g. MPI; the library links no MPI itself. Every
 * rank calls allgather collectively with the same `bytes`: recv (size * bytes) receives rank r's
 * send buffer at offset r * bytes on every rank. On failure it returns a non-OK status and writes
 * a message (what failed and what to do) into err (err_cap bytes). */
typedef struct clcdd_comm {
    int rank, size;
    void *user;
    clcdd_status (*allgather)(void *user, const void *send, void *recv, size_t bytes, char *err,
                              size_t err_cap);
} clcdd_comm;

/* The data-parallel plan of a run over several devices and/or ranks: which replica takes how
 * many examples of each step's window (micro_batch x accum), from the calibration times. */
typedef struct clcdd_dp_plan {
    size_t replicas;                  /* over all ranks */
    int rank, ranks;
    size_t first;                     /* the global index of this rank's first replica */
    size_t window;                    /* examples per optimizer step (micro_batch * accum) */
    char device[CLCDD_DP_MAX][96];    /* "rank R: device name" */
    double calib_s[CLCDD_DP_MAX];     /* one forward+backward micro-batch (0: split given) */
    size_t examples[CLCDD_DP_MAX];    /* examples of each window */
    int identical;                    /* all devices alike: every replica steps its own copy;
                                         else replica 0's weights are broadcast after each step */
    uint64_t reduce_bytes;            /* bytes each replica hands to the host per step */
    /* set at the end of the run */
    int64_t steps;                    /* optimizer steps this run made */
    double compute_s, reduce_s, step_s; /* per step: slices (slowest replica), reduction
                                           (download, sum, exchange, upload), whole step */
    double exchange_s;                /* per step, part of reduce_s: inside comm->allgather, which
                                         includes waiting for the slowest rank's slice */
} clcdd_dp_plan;
typedef void (*clcdd_dp_plan_fn)(const clcdd_dp_plan *plan, void *user);

/* Data-parallel fields shared by clcdd_sft_options and clcdd_lcdd_options. With n_devices >= 2
 * or a comm, each device holds a replica (model, trainer), each step's window is split over the
 * replicas, the gradients and the loss are summed on the host in a fixed order (replicas of a
 * rank in order, then ranks in order) and every replica takes the same optimizer step. The
 * result equals a one-device run with the same micro_batch x accum up to float summation order,
 * and is bit-identical run to run for the same split. */
typedef struct clcdd_dp_options {
    clcdd_ctx *const *devices;        /* this process's devices (ctx must be devices[0]) */
    size_t n_devices;                 /* 0 or 1: ctx alone */
    const size_t *split;              /* examples per window of every replica over all ranks
                                         (sum: micro_batch * accum); NULL: calibrate */
    const clcdd_comm *comm;           /* NULL: this process only */
    clcdd_dp_plan_fn on_plan;         /* called once with the plan before the first step */
} clcdd_dp_options;

typedef struct clcdd_sft_options {
    int64_t steps;            /* optimizer steps (100) */
    float lr;                 /* AdamW (2e-5) with 10% warm-up and linear decay */
    size_t micro_batch, accum;/* (8, 4) */
    size_t max_len;           /* longer examples are truncated (512) */
    uint64_t seed;            /* data order (42) */
    int all_tokens;           /* loss on the prompt too */
    int64_t log_every;        /* progress every N steps (10) */
    /* Crash safety (docs/cli.md "Saving and resuming a run"): every save_every optimizer steps
     * (0: never) the whole training state is written atomically to state_path; resume_path (NULL:
     * a fresh start) continues from such a state, bit-identically on the same device. */
    int64_t save_every;
    const char *state_path;
    const char *resume_path;
    clcdd_dp_options dp;      /* several devices / ranks (zero: one device) */
} clcdd_sft_options;
CLCDD_API void clcdd_sft_options_default(clcdd_sft_options *o);

typedef struct clcdd_sft_result {
    clcdd_data_summary data;
    float final_loss;
    double seconds;
    int tokenizer_files_copied;   /* tokenizer.json etc. copied next to the saved model */
    int base_is_gguf;             /* 1: the saved model has no tokenizer files */
    int64_t resumed_step;         /* the step a resumed run continued from (0: a fresh start) */
    clcdd_dp_plan plan;           /* several devices / ranks: the plan and its timings */
} clcdd_sft_result;

/* Load `base` (HF dir or GGUF), tokenize `data` with its tokenizer and chat template, train, and
 * save an HF checkpoint (F32) to out_dir with the base's tokenizer files when it has them. */
CLCDD_API clcdd_status clcdd_sft_run(clcdd_ctx *ctx, const clcdd_plugin_registry *reg,
                                     const char *base, const char *data, const char *out_dir,
                                     const clcdd_sft_options *o, clcdd_train_progress_fn progress,
                                     void *user, clcdd_sft_result *result);

typedef struct clcdd_lcdd_options {
    int64_t steps;            /* (300) */
    float rho;                /* budget slack (0.30) */
    int64_t warmup_steps;     /* T_w: penalty ramp; the loss baseline is taken here (300) */
    float lr;                 /* AdamW lr of the weights (2e-5) */
    float theta_lr;           /* SGD lr of the mask logits (0.1) */
    float lambda_init;        /* (0.01) */
    size_t micro_batch, accum, max_len;
    uint64_t seed;
    int all_tokens;
    int64_t log_every;
    int kl_loss;              /* task loss = KL(SFT || masked model) on the loss tokens instead of
                               * the cross-entropy; the SFT model stays on the device as teacher */
    int early_stop;           /* stop early (ALGORITHMS.md §3; the rule: docs/lcdd.md) */
    int64_t save_every;       /* as in clcdd_sft_options */
    const char *state_path;
    const char *resume_path;
    clcdd_dp_options dp;      /* as in clcdd_sft_options */
} clcdd_lcdd_options;
CLCDD_API void clcdd_lcdd_options_default(clcdd_lcdd_options *o);

typedef struct clcdd_lcdd_result {
    clcdd_data_summary data;
    uint64_t active, total;   /* mask channels */
    double sparsity;          /* 1 - active / total */
    float final_loss, ema, budget, lambda;
    uint64_t archive_bytes;   /* size of the written archive */
    uint64_t full_f32_bytes;  /* size of the model's parameters as F32 */
    double seconds;
    int64_t steps_done;       /* optimizer steps run (fewer than steps after an early stop) */
    int early_stopped;        /* 0, or 1: active count stalled under budget, 2: loss over limit */
    int64_t resumed_step;     /* as in clcdd_sft_result */
    clcdd_dp_plan plan;
} clcdd_lcdd_result;

/* LCDD of (base, sft) on `data`; writes the carrier archive to out_path (atomically). */
CLCDD_API clcdd_status clcdd_lcdd_run(clcdd_ctx *ctx, const clcdd_plugin_registry *reg,
                                      const char *base, const char *sft, const char *data,
                                      const char *out_path, const clcdd_lcdd_options *o,
                                      clcdd_train_progress_fn progress, void *user,
                                      clcdd_lcdd_result *result);

/* Apply the carrier archive at carrier_path to `base` and save the LCDD model as an HF checkpoint
 * in out_dir (with the base's tokenizer files when it has them). */
CLCDD_API clcdd_status clcdd_carrier_export_hf(clcdd_ctx *ctx, const clcdd_plugin_registry *reg,
                                               const char *base, const char *carrier_path,
                                               const char *out_dir);

#ifdef __cplusplus
}
#endif
#endif
