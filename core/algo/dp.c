/* Data-parallel reduction over devices and ranks (dp.h). */
#include "algo/dp.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clcdd_internal.h"
#include "nn/optim.h"
#include "runtime/ctx_internal.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *dev_name(const clcdd_trainer *t) { return clcdd_ctx_device(t->ctx)->name; }

static clcdd_status comm_allgather(const clcdd_comm *c, const void *send, void *recv, size_t bytes,
                                   const char *what) {
    char err[256] = "";
    clcdd_status st = c->allgather(c->user, send, recv, bytes, err, sizeof err);
    if (st != CLCDD_OK)
        return clcdd_fail(st, "rank %d: exchanging %s with the other ranks (%zu bytes): %s", c->rank,
                          what, bytes, err[0] ? err : "the communication layer failed");
    return CLCDD_OK;
}

/* ---- threads: one per local replica ------------------------------------------------------ */

typedef struct task_run {
    clcdd_dp_task task;
    void *user;
    size_t k;
    clcdd_status st;
    char err[2048];
} task_run;

static void *run_task(void *arg) {
    task_run *r = arg;
    r->st = r->task(r->user, r->k);
    /* the message lives in this thread's error buffer: keep a copy for the caller's thread */
    if (r->st != CLCDD_OK) snprintf(r->err, sizeof r->err, "%s", clcdd_last_error());
    return NULL;
}

clcdd_status clcdd_dp_run(size_t n, clcdd_dp_task task, void *user) {
    if (n > CLCDD_DP_MAX_LOCAL)
        return clcdd_fail(CLCDD_ERR_INTERNAL, "data parallel: %zu tasks (at most %d)", n, CLCDD_DP_MAX_LOCAL);
    task_run runs[CLCDD_DP_MAX_LOCAL];
    pthread_t th[CLCDD_DP_MAX_LOCAL];
    int started[CLCDD_DP_MAX_LOCAL] = {0};
    memset(th, 0, sizeof th);
    memset(runs, 0, sizeof runs);
    for (size_t k = 0; k < n; k++) runs[k].task = task, runs[k].user = user, runs[k].k = k;
    for (size_t k = 1; k < n; k++) {
        int e = pthread_create(&th[k], NULL, run_task, &runs[k]);
        started[k] = e == 0;
        if (e) run_task(&runs[k]); /* no thread: run it here, in order */
    }
    if (n) run_task(&runs[0]);
    for (size_t k = 1; k < n; k++)
        if (started[k]) pthread_join(th[k], NULL);
    for (size_t k = 0; k < n; k++)
        if (runs[k].st != CLCDD_OK) return clcdd_fail(runs[k].st, "%s", runs[k].err);
    return CLCDD_OK;
}

typedef struct job {
    clcdd_dp *dp;
    size_t k;
    const clcdd_dataset *d;
    const size_t *pick;
    size_t n;
    float scale;
    int download;          /* 1: also copy the gradients and loss into dp->part[k] */
    double seconds;
} job;

static clcdd_status download_part(clcdd_dp *dp, size_t k) {
    clcdd_trainer *t = dp->tr[k];
    const clcdd_arena *a = &t->grads.arena;
    float *p = dp->part[k];
    for (size_t c = 0; c < a->n_chunks; c++) {
        CL_TRY(clEnqueueReadBuffer(t->ctx->queue, a->chunks[c], CL_FALSE, 0, a->chunk_bytes[c], p, 0,
                                   NULL, NULL),
               "reading the gradients of replica %zu (%s) for the reduction", k, dev_name(t));
        p += a->chunk_bytes[c] / 4;
    }
    CL_TRY(clEnqueueReadBuffer(t->ctx->queue, t->window_loss.buf, CL_TRUE, t->window_loss.offset,
                               sizeof(float), p, 0, NULL, NULL),
           "reading the loss of replica %zu (%s)", k, dev_name(t));
    return CLCDD_OK;
}

/* A clcdd_dp_task over an array of jobs. */
static clcdd_status job_task(void *user, size_t i) {
    job *j = (job *)user + i;
    double t0 = now_s();
    clcdd_trainer *t = j->dp->tr[j->k];
    clcdd_status st = clcdd_trainer_accumulate_picks(t, j->d, j->pick, j->n, j->scale);
    if (st == CLCDD_OK) st = clcdd_ctx_finish(t->ctx);
    j->seconds = now_s() - t0;
    if (st == CLCDD_OK && j->download) st = download_part(j->dp, j->k);
    if (st != CLCDD_OK) return clcdd_fail_context(st, "replica %zu on %s", j->k, dev_name(t));
    return CLCDD_OK;
}

/* ---- plan ------------------------------------------------------------------------------- */

/* Examples of each replica: even when the devices are alike (the same device, driver and platform
 * run at the same speed; measured differences between them are noise) or their times are within
 * 25%, else in proportion to speed (largest remainders, ties to the lower index). */
static void split_window(clcdd_dp_plan *p) {
    size_t R = p->replicas, W = p->window;
    double lo = p->calib_s[0], hi = p->calib_s[0];
    for (size_t g = 1; g < R; g++) {
        if (p->calib_s[g] < lo) lo = p->calib_s[g];
        if (p->calib_s[g] > hi) hi = p->calib_s[g];
    }
    if (p->identical || lo <= 0 || hi <= 1.25 * lo) {
        for (size_t g = 0; g < R; g++) p->examples[g] = W / R + (g < W % R);
        return;
    }
    double sum = 0, frac[CLCDD_DP_MAX];
    for (size_t g = 0; g < R; g++) sum += 1.0 / p->calib_s[g];
    size_t given = 0;
    for (size_t g = 0; g < R; g++) {
        double q = (double)W * (1.0 / p->calib_s[g]) / sum;
        p->examples[g] = (size_t)q;
        frac[g] = q - (double)p->examples[g];
        given += p->examples[g];
    }
    while (given < W) {
        size_t best = 0;
        for (size_t g = 1; g < R; g++)
            if (frac[g] > frac[best]) best = g;
        p->examples[best]++;
        frac[best] = -1;
        given++;
    }
}

/* What every rank tells the others at the start. */
typedef struct rank_record {
    uint64_t n;
    double calib[CLCDD_DP_MAX_LOCAL];
    uint64_t hash[CLCDD_DP_MAX_LOCAL];
    char name[CLCDD_DP_MAX_LOCAL][80];
    uint64_t n_floats, window, steps, seed, data_hash;
} rank_record;

/* The tokenized training set (ids and loss marks), to check every rank trains on the same. */
static uint64_t data_hash(const clcdd_dataset *d) {
    uint64_t h = clcdd_fnv1a64(&d->n, sizeof d->n, CLCDD_FNV_SEED);
    for (size_t i = 0; i < d->n; i++) {
        h = clcdd_fnv1a64(d->items[i].ids, d->items[i].len * sizeof *d->items[i].ids, h);
        h = clcdd_fnv1a64(d->items[i].loss, d->items[i].len, h);
    }
    return h;
}

static uint64_t device_hash(const clcdd_device_info *i) {
    uint64_t h = clcdd_fnv1a64(i->name, strlen(i->name), CLCDD_FNV_SEED);
    h = clcdd_fnv1a64(i->driver_version, strlen(i->driver_version), h);
    h = clcdd_fnv1a64(i->platform_name, strlen(i->platform_name), h);
    return clcdd_fnv1a64(i->platform_version, strlen(i->platform_version), h);
}

clcdd_status clcdd_dp_make_plan(clcdd_dp_plan *p, size_t *offset, clcdd_ctx *const *ctx, size_t n,
                                const double *calib, const clcdd_comm *comm, const clcdd_dp_setup *s,
                                const size_t *split) {
    memset(p, 0, sizeof *p);
    if (n == 0 || n > CLCDD_DP_MAX_LOCAL)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "data parallel: %zu devices in one process "
                          "(1 to %d)", n, CLCDD_DP_MAX_LOCAL);
    if (comm && (comm->size < 1 || comm->rank < 0 || comm->rank >= comm->size || !comm->allgather))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "data parallel: invalid communicator (rank %d "
                          "of %d)", comm->rank, comm->size);
    rank_record me;
    memset(&me, 0, sizeof me);
    me.n = n;
    me.n_floats = s->n_floats;
    me.window = s->window;
    me.steps = s->steps;
    me.seed = s->seed;
    me.data_hash = s->data_hash;
    for (size_t k = 0; k < n; k++) {
        const clcdd_device_info *di = clcdd_ctx_device(ctx[k]);
        me.hash[k] = device_hash(di);
        me.calib[k] = calib ? calib[k] : 0;
        snprintf(me.name[k], sizeof me.name[k], "%s", di->name);
    }
    int size = comm ? comm->size : 1, rank = comm ? comm->rank : 0;
    clcdd_status st = CLCDD_OK;
    rank_record *all = calloc((size_t)size, sizeof *all);
    if (!all) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "data parallel: rank records");
    if (comm) st = comm_allgather(comm, &me, all, sizeof me, "the device list and calibration");
    else all[0] = me;
    size_t W = (size_t)s->window;
    p->rank = rank, p->ranks = size, p->window = W, p->identical = 1;
    for (int r = 0; r < size && st == CLCDD_OK; r++) {
        if (all[r].n_floats != me.n_floats)
            st = clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "rank %d trains another model layout than "
                            "rank %d (%llu vs %llu floats reduced per step): start every rank with "
                            "the same command", r, rank, (unsigned long long)all[r].n_floats,
                            (unsigned long long)me.n_floats);
        if (st == CLCDD_OK && (all[r].window != W || all[r].steps != me.steps || all[r].seed != me.seed ||
                               all[r].data_hash != me.data_hash))
            st = clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "rank %d runs with another %s or options than "
                            "rank %d (%s %llu vs %llu, steps %llu vs %llu, seed %llu vs %llu, %s: %s): "
                            "start every rank with the same command and files", r, s->data_name,
                            rank, s->window_name, (unsigned long long)all[r].window,
                            (unsigned long long)W, (unsigned long long)all[r].steps,
                            (unsigned long long)me.steps, (unsigned long long)all[r].seed,
                            (unsigned long long)me.seed, s->hash_name,
                            all[r].data_hash == me.data_hash ? "the same" : "different");
        if (r == rank) p->first = p->replicas;
        for (size_t k = 0; k < all[r].n && st == CLCDD_OK; k++) {
            if (p->replicas >= CLCDD_DP_MAX) {
                st = clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "data parallel: more than %d replicas "
                                "over all ranks", CLCDD_DP_MAX);
                break;
            }
            size_t g = p->replicas++;
            p->calib_s[g] = all[r].calib[k];
            snprintf(p->device[g], sizeof p->device[g], "rank %d: %.72s", r, all[r].name[k]);
            if (all[r].hash[k] != all[0].hash[0]) p->identical = 0;
        }
    }
    free(all);
    if (st != CLCDD_OK) return st;
    if (split) {
        size_t sum = 0;
        for (size_t g = 0; g < p->replicas; g++) sum += split[g];
        if (sum != W)
            return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "the split gives %zu %s per step to the %zu "
                              "replicas; %s is %zu: give one count per device, summing to %zu", sum,
                              s->items, p->replicas, s->window_name, W, W);
        for (size_t g = 0; g < p->replicas; g++) p->examples[g] = split[g];
    } else {
        split_window(p);
    }
    for (size_t g = 0, o = 0; g < p->replicas; g++) {
        offset[g] = o;
        o += p->examples[g];
    }
    p->reduce_bytes = s->n_floats * sizeof(float);
    return CLCDD_OK;
}

void clcdd_dp_free(clcdd_dp *dp) {
    for (size_t k = 0; k < CLCDD_DP_MAX_LOCAL; k++) free(dp->part[k]);
    free(dp->gather);
    free(dp->pick);
    free(dp->pick2);
    memset(dp, 0, sizeof *dp);
}

clcdd_status clcdd_dp_init(clcdd_dp *dp, clcdd_trainer **tr, size_t n, const clcdd_comm *comm,
                           const clcdd_dataset *d, const size_t *split) {
    memset(dp, 0, sizeof *dp);
    if (n == 0 || n > CLCDD_DP_MAX_LOCAL)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "data parallel: %zu devices in one process "
                          "(1 to %d)", n, CLCDD_DP_MAX_LOCAL);
    if (d->n == 0) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "the training set is empty");
    dp->n = n;
    dp->comm = comm;
    clcdd_ctx *ctx[CLCDD_DP_MAX_LOCAL];
    for (size_t k = 0; k < n; k++) dp->tr[k] = tr[k], ctx[k] = tr[k]->ctx;
    const clcdd_train_config *cfg = &tr[0]->cfg;
    size_t W = cfg->micro_batch * cfg->accum;
    dp->n_floats = 1;
    for (size_t c = 0; c < tr[0]->grads.arena.n_chunks; c++) dp->n_floats += tr[0]->grads.arena.chunk_bytes[c] / 4;
    clcdd_status st = CLCDD_OK;
    dp->pick = malloc(W * sizeof *dp->pick);
    dp->pick2 = malloc(W * sizeof *dp->pick2);
    if (!dp->pick || !dp->pick2) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "data parallel: window");
    for (size_t k = 0; k < n && st == CLCDD_OK; k++) {
        if (tr[k]->grads.arena.n_chunks != tr[0]->grads.arena.n_chunks ||
            tr[k]->cfg.micro_batch != cfg->micro_batch || tr[k]->cfg.accum != cfg->accum)
            st = clcdd_fail(CLCDD_ERR_INTERNAL, "data parallel: the replicas differ in layout");
        if (st == CLCDD_OK && !(dp->part[k] = malloc(dp->n_floats * sizeof(float))))
            st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "data parallel: host buffer of %zu bytes for "
                            "the gradients of replica %zu", dp->n_floats * sizeof(float), k);
    }
    /* calibration: the first micro-batch of the data set, a warm-up (kernel builds, first
     * allocations) then the fastest of three, one replica after another so each has the machine
     * to itself */
    double calib[CLCDD_DP_MAX_LOCAL] = {0};
    size_t mb = cfg->micro_batch < d->n ? cfg->micro_batch : d->n;
    for (size_t i = 0; i < mb && st == CLCDD_OK; i++) dp->pick[i] = i;
    for (size_t k = 0; k < n && st == CLCDD_OK && !split; k++) {
        for (int rep = 0; rep < 4 && st == CLCDD_OK; rep++) {
            job j;
            memset(&j, 0, sizeof j);
            j.dp = dp, j.k = k, j.d = d, j.pick = dp->pick, j.n = mb, j.scale = 1.0f;
            st = clcdd_dp_run(1, job_task, &j);
            if (rep == 1 || (rep > 1 && j.seconds < calib[k])) calib[k] = j.seconds;
        }
    }
    clcdd_dp_setup su = {dp->n_floats, W, (uint64_t)cfg->steps, cfg->seed, data_hash(d),
                         "examples", "micro-batch x accum", "training set", "data"};
    if (st == CLCDD_OK) st = clcdd_dp_make_plan(&dp->plan, dp->offset, ctx, n, calib, comm, &su, split);
    int size = comm ? comm->size : 1;
    if (st == CLCDD_OK && comm && size > 1 &&
        !(dp->gather = malloc((size_t)size * dp->n_floats * sizeof(float))))
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "data parallel: host buffer for %d ranks' "
                        "gradients (%zu bytes)", size, (size_t)size * dp->n_floats * sizeof(float));
    if (st != CLCDD_OK) clcdd_dp_free(dp);
    return st;
}

/* ---- the step ---------------------------------------------------------------------------- */

static clcdd_status upload_sum(clcdd_dp *dp, const float *sum) {
    for (size_t k = 0; k < dp->n; k++) {
        clcdd_trainer *t = dp->tr[k];
        const clcdd_arena *a = &t->grads.arena;
        const float *p = sum;
        for (size_t c = 0; c < a->n_chunks; c++) {
            CL_TRY(clEnqueueWriteBuffer(t->ctx->queue, a->chunks[c], CL_FALSE, 0, a->chunk_bytes[c], p,
                                        0, NULL, NULL),
                   "writing the reduced gradients to replica %zu (%s)", k, dev_name(t));
            p += a->chunk_bytes[c] / 4;
        }
        CL_TRY(clEnqueueWriteBuffer(t->ctx->queue, t->window_loss.buf, CL_FALSE, t->window_loss.offset,
                                    sizeof(float), p, 0, NULL, NULL),
               "writing the reduced loss to replica %zu (%s)", k, dev_name(t));
    }
    /* the host buffer is reused by the next step: wait for every write */
    for (size_t k = 0; k < dp->n; k++) TRY(clcdd_ctx_finish(dp->tr[k]->ctx));
    return CLCDD_OK;
}

/* dp.h. A thread that cannot start leaves its range to this thread. */
typedef struct sum_job {
    float *dst;
    const float *first;
    const float *const *srcs;
    size_t n_src, lo, hi;
} sum_job;

static void *sum_range(void *arg) {
    sum_job *j = arg;
    if (j->first) memcpy(j->dst + j->lo, j->first + j->lo, (j->hi - j->lo) * sizeof(float));
    for (size_t k = 0; k < j->n_src; k++) {
        const float *p = j->srcs[k];
        for (size_t i = j->lo; i < j->hi; i++) j->dst[i] += p[i];
    }
    return NULL;
}

void clcdd_dp_sum_in_order(float *dst, const float *first, const float *const *srcs, size_t n_src,
                           size_t n, size_t threads) {
    enum { MAX_THREADS = 16, MIN_PER_THREAD = 1 << 18 };
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nt = threads ? threads : cpus > 0 ? (size_t)cpus : 1;
    if (nt > MAX_THREADS) nt = MAX_THREADS;
    if (!threads && nt > n / MIN_PER_THREAD) nt = n / MIN_PER_THREAD;
    if (nt > n) nt = n;
    if (nt < 1) nt = 1;
    sum_job jobs[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    memset(th, 0, sizeof th);
    memset(jobs, 0, sizeof jobs);
    for (size_t t = 0; t < nt; t++) {
        sum_job j = {dst, first, srcs, n_src, n * t / nt, n * (t + 1) / nt};
        jobs[t] = j;
    }
    for (size_t t = 1; t < nt; t++) started[t] = pthread_create(&th[t], NULL, sum_range, &jobs[t]) == 0;
    sum_range(&jobs[0]);
    for (size_t t = 1; t < nt; t++) {
        if (started[t]) pthread_join(th[t], NULL);
        else sum_range(&jobs[t]);
    }
}

clcdd_status clcdd_dp_reduce(float *const *parts, size_t n, size_t n_floats, const clcdd_comm *comm,
                             float *gather, const char *what, double *exchange_s) {
    /* fixed order: replicas of this rank in order ... */
    float *sum = parts[0];
    const float *srcs[CLCDD_DP_MAX];
    if (n > CLCDD_DP_MAX_LOCAL) return clcdd_fail(CLCDD_ERR_INTERNAL, "data parallel: %zu replicas", n);
    for (size_t k = 1; k < n; k++) srcs[k - 1] = parts[k];
    clcdd_dp_sum_in_order(sum, NULL, srcs, n - 1, n_floats, 0);
    /* ... then the ranks in order */
    if (comm && comm->size > 1) {
        if (!gather) return clcdd_fail(CLCDD_ERR_INTERNAL, "data parallel: no exchange buffer");
        double tx = now_s();
        TRY(comm_allgather(comm, sum, gather, n_floats * sizeof(float), what));
        if (exchange_s) *exchange_s += now_s() - tx;
        for (int r = 1; r < comm->size; r++) srcs[r - 1] = gather + (size_t)r * n_floats;
        clcdd_dp_sum_in_order(sum, gather, srcs, (size_t)comm->size - 1, n_floats, 0);
    }
    return CLCDD_OK;
}

clcdd_status clcdd_dp_accumulate(clcdd_dp *dp, const clcdd_dataset *d) {
    double t0 = now_s();
    size_t W = dp->plan.window, tokens = 0, tokens2 = 0;
    /* every replica draws the window, so all keep the same order, epoch and cursor */
    TRY(clcdd_trainer_pick_window(dp->tr[0], d, dp->pick, &tokens));
    for (size_t k = 1; k < dp->n; k++) {
        TRY(clcdd_trainer_pick_window(dp->tr[k], d, dp->pick2, &tokens2));
        if (tokens2 != tokens || memcmp(dp->pick, dp->pick2, W * sizeof *dp->pick) != 0)
            return clcdd_fail(CLCDD_ERR_INTERNAL, "data parallel: replica %zu drew another window", k);
    }
    float scale = tokens ? 1.0f / (float)tokens : 0.0f;
    job jobs[CLCDD_DP_MAX_LOCAL];
    memset(jobs, 0, sizeof jobs);
    for (size_t k = 0; k < dp->n; k++) {
        size_t g = dp->plan.first + k;
        jobs[k].dp = dp, jobs[k].k = k, jobs[k].d = d, jobs[k].pick = dp->pick + dp->offset[g];
        jobs[k].n = dp->plan.examples[g], jobs[k].scale = scale, jobs[k].download = 1;
    }
    TRY(clcdd_dp_run(dp->n, job_task, jobs));
    double slowest = 0;
    for (size_t k = 0; k < dp->n; k++)
        if (jobs[k].seconds > slowest) slowest = jobs[k].seconds;
    dp->t_compute += slowest;
    float *sum = dp->part[0];
    TRY(clcdd_dp_reduce(dp->part, dp->n, dp->n_floats, dp->comm, dp->gather, "the gradients",
                        &dp->t_exchange));
    TRY(upload_sum(dp, sum));
    double t2 = now_s();
    /* reduction: the downloads (after the slowest slice) and everything after them */
    dp->t_reduce += (t2 - t0) - slowest;
    return CLCDD_OK;
}

clcdd_status clcdd_dp_broadcast_tensors(clcdd_ctx *const *ctx, size_t n, const clcdd_comm *comm,
                                        clcdd_tensor *const *tensors, size_t n_t) {
    int rank = comm ? comm->rank : 0, size = comm ? comm->size : 1;
    clcdd_status st = CLCDD_OK;
    for (size_t i = 0; i < n_t && st == CLCDD_OK; i++) {
        size_t bytes = clcdd_tensor_bytes(&tensors[0][i]);
        unsigned char *h = malloc(bytes ? bytes : 1), *all = NULL;
        if (!h) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "data parallel: broadcast of %zu bytes", bytes);
        st = clcdd_tensor_download(ctx[0], &tensors[0][i], h);
        if (st == CLCDD_OK && size > 1) {
            /* every rank sends; all keep rank 0's copy */
            all = malloc((size_t)size * (bytes ? bytes : 1));
            if (!all) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "data parallel: broadcast buffer");
            if (st == CLCDD_OK) st = comm_allgather(comm, h, all, bytes, "replica 0's tensors");
            if (st == CLCDD_OK) memcpy(h, all, bytes);
        }
        for (size_t k = rank == 0 ? 1 : 0; k < n && st == CLCDD_OK; k++) {
            clcdd_tensor t = tensors[k][i];
            st = clcdd_tensor_upload(ctx[k], &t, h);
        }
        free(all);
        free(h);
    }
    return st;
}

clcdd_status clcdd_dp_broadcast(clcdd_dp *dp, clcdd_tensor *const *tensors, size_t n_t) {
    if (dp->plan.identical) return CLCDD_OK;
    double t0 = now_s();
    clcdd_ctx *ctx[CLCDD_DP_MAX_LOCAL];
    for (size_t k = 0; k < dp->n; k++) ctx[k] = dp->tr[k]->ctx;
    clcdd_status st = clcdd_dp_broadcast_tensors(ctx, dp->n, dp->comm, tensors, n_t);
    dp->t_reduce += now_s() - t0;
    return st;
}

/* The chunks of an arena as F32 tensors (for broadcasts); returns the count. */
static size_t arena_views(const clcdd_arena *a, clcdd_tensor *out, size_t cap) {
    size_t n = 0;
    for (size_t c = 0; c < a->n_chunks && n < cap; c++, n++) {
        memset(&out[n], 0, sizeof out[n]);
        out[n].buf = a->chunks[c];
        out[n].dtype = CLCDD_F32;
        out[n].ndim = 1;
        out[n].shape[0] = (int64_t)(a->chunk_bytes[c] / 4);
    }
    return n;
}

#define MAX_VIEWS 64

clcdd_status clcdd_dp_sft_step(clcdd_dp *dp, const clcdd_dataset *d, float *loss) {
    double t0 = now_s();
    TRY(clcdd_dp_accumulate(dp, d));
    clcdd_trainer *t0r = dp->tr[0];
    float lr = clcdd_train_lr(&t0r->cfg, t0r->step);
    for (size_t k = 0; k < dp->n; k++) {
        clcdd_trainer *t = dp->tr[k];
        if (t->cfg.no_optimizer) return clcdd_fail(CLCDD_ERR_INTERNAL, "data parallel: no optimizer");
        TRY(clcdd_optim_step(t->ctx, &t->optim, t->model, &t->grads, lr));
        t->step++;
    }
    if (!dp->plan.identical) {
        clcdd_tensor views[CLCDD_DP_MAX_LOCAL][MAX_VIEWS], *vp[CLCDD_DP_MAX_LOCAL];
        size_t nv = 0;
        for (size_t k = 0; k < dp->n; k++) nv = arena_views(&dp->tr[k]->model->params, views[k], MAX_VIEWS), vp[k] = views[k];
        TRY(clcdd_dp_broadcast(dp, vp, nv));
    }
    if (loss) TRY(clcdd_tensor_download(t0r->ctx, &t0r->window_loss, loss));
    TRY(clcdd_ctx_finish(t0r->ctx));
    dp->t_step += now_s() - t0;
    return CLCDD_OK;
}

clcdd_status clcdd_dp_lcdd_step(clcdd_dp *dp, clcdd_lcdd *const *l, const clcdd_dataset *d,
                                clcdd_lcdd_state *state) {
    double t0 = now_s();
    for (size_t k = 0; k < dp->n; k++) {
        if (&l[k]->inner != dp->tr[k]) return clcdd_fail(CLCDD_ERR_INTERNAL, "data parallel: replica order");
        TRY(clcdd_lcdd_build_effective(l[k]));
    }
    TRY(clcdd_dp_accumulate(dp, d));
    for (size_t k = 0; k < dp->n; k++) TRY(clcdd_lcdd_step_finish(l[k], NULL));
    if (!dp->plan.identical) {
        clcdd_tensor views[CLCDD_DP_MAX_LOCAL][MAX_VIEWS + 2], *vp[CLCDD_DP_MAX_LOCAL];
        size_t nv = 0;
        for (size_t k = 0; k < dp->n; k++) {
            nv = arena_views(&l[k]->w.params, views[k], MAX_VIEWS);
            views[k][nv++] = l[k]->theta;
            views[k][nv++] = l[k]->dual;
            vp[k] = views[k];
        }
        TRY(clcdd_dp_broadcast(dp, vp, nv));
    }
    if (state) TRY(clcdd_lcdd_read_state(l[0], state));
    TRY(clcdd_ctx_finish(l[0]->ctx));
    dp->t_step += now_s() - t0;
    return CLCDD_OK;
}

void clcdd_dp_plan_timings(clcdd_dp_plan *p, int64_t steps, double compute_s, double reduce_s,
                           double step_s, double exchange_s) {
    p->steps = steps;
    double s = steps > 0 ? (double)steps : 1;
    p->compute_s = compute_s / s;
    p->reduce_s = reduce_s / s;
    p->step_s = step_s / s;
    p->exchange_s = exchange_s / s;
}

void clcdd_dp_finish_plan(clcdd_dp *dp, int64_t steps) {
    clcdd_dp_plan_timings(&dp->plan, steps, dp->t_compute, dp->t_reduce, dp->t_step, dp->t_exchange);
}
