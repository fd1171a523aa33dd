/* Data-parallel training over several devices of one process and several processes (ranks):
 * the one place where gradients are reduced (DESIGN.md "Scale").
 *
 * Every replica holds the same model and trainer state. Each optimizer step, every replica draws
 * the same window of micro_batch x accum examples in the seeded order, so the data order, epoch
 * and cursor stay identical everywhere (a state saved from replica 0 resumes every replica). The
 * window is split into contiguous slices, one per replica (plan.examples); each replica runs its
 * slice with token losses scaled by 1 / (loss tokens of the whole window), so the slices' sums add
 * up to the window's gradient and loss (ALGORITHMS.md §2). The reduction downloads every local
 * replica's gradient arena and window loss, sums them on the host in replica order, exchanges the
 * rank sums with comm->allgather and sums those in rank order, and uploads the total to every
 * replica: all replicas then hold the same bits and take the same optimizer step. When the
 * devices are not all alike (another name, driver or platform version), the same step could round
 * differently, so replica 0's trained tensors are broadcast after each step instead.
 *
 * The pieces below clcdd_dp (threads per replica, the plan, the fixed-order reduction, the
 * broadcast) are shared with the eraser's data parallelism (algo/eraser.h). */
#ifndef CLCDD_ALGO_DP_H
#define CLCDD_ALGO_DP_H

#include "algo/lcdd.h"
#include "algo/train.h"
#include "clcdd/train.h"

/* ---- shared pieces ---------------------------------------------------------------------- */

/* task(user, k) for every k < n at once: k = 0 on this thread, the others on threads of their own
 * (in turn on this thread when one cannot start). The first failure in replica order is re-raised
 * on this thread with its message (tasks name their replica in it). */
typedef clcdd_status (*clcdd_dp_task)(void *user, size_t k);
clcdd_status clcdd_dp_run(size_t n, clcdd_dp_task task, void *user);

/* What the ranks of a run must agree on; the plan refuses a run whose ranks differ. */
typedef struct clcdd_dp_setup {
    uint64_t n_floats;        /* floats every replica hands to the reduction per step */
    uint64_t window;          /* items per step, split over the replicas */
    uint64_t steps, seed;
    uint64_t data_hash;       /* the data and whatever else shapes the run */
    const char *items;        /* messages: "examples", "prompts" */
    const char *window_name;  /* messages: "micro-batch x accum", "the batch" */
    const char *data_name;    /* messages: "training set", "prompt set" */
    const char *hash_name;    /* messages: what data_hash covers ("data") */
} clcdd_dp_setup;

/* The plan over this process's n devices (ctx) and the ranks: every rank's device names and kinds,
 * calibration times (calib[k]: local replica k, seconds; NULL: not measured) and setup are
 * exchanged (comm NULL: this process only) and checked; the window goes to the replicas as split
 * says (one count per replica over all ranks, summing to the window), else evenly when the
 * devices are alike or within 25% of each other in speed, else in proportion to speed.
 * offset[g] (CLCDD_DP_MAX entries): the first item of replica g's slice. Collective. */
clcdd_status clcdd_dp_make_plan(clcdd_dp_plan *plan, size_t *offset, clcdd_ctx *const *ctx, size_t n,
                                const double *calib, const clcdd_comm *comm, const clcdd_dp_setup *s,
                                const size_t *split);

/* parts[0] = parts[0] + parts[1] + ... + parts[n-1] (this rank's replicas in order, n_floats
 * each); with several ranks the sums are then exchanged through gather (comm->size x n_floats
 * floats) and parts[0] becomes rank 0's + rank 1's + ... in rank order. The same bits on every
 * rank. *exchange_s (optional) grows by the time spent in comm->allgather; what names the data
 * in messages. Collective. */
clcdd_status clcdd_dp_reduce(float *const *parts, size_t n, size_t n_floats, const clcdd_comm *comm,
                             float *gather, const char *what, double *exchange_s);

/* Overwrite every local replica's tensors (tensors[k][0..n_t), on ctx[k]) with replica 0's of
 * rank 0. Collective. */
clcdd_status clcdd_dp_broadcast_tensors(clcdd_ctx *const *ctx, size_t n, const clcdd_comm *comm,
                                        clcdd_tensor *const *tensors, size_t n_t);

/* The plan's per-step timings from totals over `steps` steps. */
void clcdd_dp_plan_timings(clcdd_dp_plan *plan, int64_t steps, double compute_s, double reduce_s,
                           double step_s, double exchange_s);

/* ---- data-parallel training ------------------------------------------------------------- */

typedef struct clcdd_dp {
    size_t n;                          /* local replicas */
    clcdd_trainer *tr[CLCDD_DP_MAX_LOCAL]; /* their trainers (borrowed) */
    const clcdd_comm *comm;            /* NULL: this process only */
    clcdd_dp_plan plan;
    size_t offset[CLCDD_DP_MAX];       /* first example of each replica's slice in the window */
    size_t n_floats;                   /* gradient arena floats + 1 (the window loss) */
    float *part[CLCDD_DP_MAX_LOCAL];   /* per local replica: its download */
    float *gather;                     /* comm->size * n_floats */
    size_t *pick, *pick2;              /* the window */
    double t_compute, t_reduce, t_step, t_exchange;
} clcdd_dp;

/* Set up over n local trainers (created alike, none stepped yet) and calibrate: time one
 * forward+backward micro-batch of the first examples of d on every replica (the fastest of three
 * after a warm-up that builds the kernels), exchange the times over the ranks, and split the
 * window in proportion to speed (evenly when the devices are alike or the slowest is within 25%
 * of the fastest; a given split wins). Collective over the ranks. */
clcdd_status clcdd_dp_init(clcdd_dp *dp, clcdd_trainer **tr, size_t n, const clcdd_comm *comm,
                           const clcdd_dataset *d, const size_t *split);
void clcdd_dp_free(clcdd_dp *dp);

/* The gradient half of a step on every replica: the same window, each replica's slice (in
 * parallel, one thread per replica), then the fixed-order reduction of the gradients and the
 * window loss into every replica. Collective. */
clcdd_status clcdd_dp_accumulate(clcdd_dp *dp, const clcdd_dataset *d);

/* When the devices are not alike: overwrite every replica's `tensors` (n_t device tensors per
 * replica, views into its buffers, the same list on every replica) with replica 0's of rank 0.
 * Nothing happens when plan.identical. Collective. */
clcdd_status clcdd_dp_broadcast(clcdd_dp *dp, clcdd_tensor *const *tensors, size_t n_t);

/* One SFT optimizer step on every replica (trainers with an optimizer): clcdd_dp_accumulate, the
 * same AdamW step with the schedule's rate on every replica (then clcdd_dp_broadcast of the
 * parameters), and the window's mean loss into *loss when loss is not NULL. */
clcdd_status clcdd_dp_sft_step(clcdd_dp *dp, const clcdd_dataset *d, float *loss);

/* One LCDD step on every replica: l[k] is the LCDD state whose inner trainer is dp->tr[k]. W_eff
 * is rebuilt everywhere, the gradient of W_eff and the task loss are reduced (the mask gradients
 * follow from them on every replica), then clcdd_lcdd_step_finish runs everywhere (the broadcast
 * covers W, theta and the dual state). state (optional) is read from replica 0. */
clcdd_status clcdd_dp_lcdd_step(clcdd_dp *dp, clcdd_lcdd *const *l, const clcdd_dataset *d,
                                clcdd_lcdd_state *state);

/* dst[i] = first[i] + srcs[0][i] + srcs[1][i] + ... (first NULL: dst itself), added left to right
 * for every i. Arrays of 512 Ki floats or more are cut into ranges summed by up to 16 threads
 * (threads = 0: the online CPUs; else exactly that many, for tests); each element still gets the
 * same additions in the same order, so the bits do not depend on the thread count. */
void clcdd_dp_sum_in_order(float *dst, const float *first, const float *const *srcs, size_t n_src,
                           size_t n, size_t threads);

/* Fill the per-step timings of dp->plan after `steps` steps (t_step: the caller adds each whole
 * step's wall time). */
void clcdd_dp_finish_plan(clcdd_dp *dp, int64_t steps);

#endif
