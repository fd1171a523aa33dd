/* `clcdd tune`: measure GEMM candidates per shape and keep the winners as the device's record.
 *
 * Candidates: CLBlast (if it passed the self-check) with the parameter sets of
 * clcdd_gemm_tune_with_clblast (measured first, as a whole, since CLBlast's parameters are per
 * device), then the own
 * kernel with default parameters, then the rest of a register-tile grid (tiles that fit the
 * device's vector registers on CPUs) until the time budget is spent. Before a candidate may win
 * it must agree with the reference kernel on two odd-sized problems of the same transpose pair
 * (one with n a multiple of the tile width, one ragged, so both the direct and the packed path of
 * the kernel are covered). Timing: one warm-up, then the median of three runs, each to clFinish. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctx_internal.h"
#include "clcdd_internal.h"
#include "runtime/gemm_internal.h"

#define TUNE_TOL 1e-4 /* the self-check's tolerance */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void say(clcdd_gemm_tune_progress_fn fn, void *user, const char *fmt, ...)
    CLCDD_PRINTF(3, 4);
static void say(clcdd_gemm_tune_progress_fn fn, void *user, const char *fmt, ...) {
    if (!fn) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fn(buf, user);
}

void clcdd_gemm_tune_record_path(const clcdd_ctx *ctx, char *out, size_t cap) {
    if (!ctx->cache_dir[0]) {
        if (cap) out[0] = 0;
        return;
    }
    clcdd_gemm_record_path(ctx, out, cap);
}

/* The grid: (rm, nv) tiles for the device's vector width, and half that width with twice nv.
 * On CPUs a tile needs rm * nv accumulators + nv loaded vectors + 1 broadcast in registers
 * (32 with AVX-512; the grid stays within 28). Defaults first. */
static size_t grid(const clcdd_device_info *dev, clcdd_gemm_params *out, size_t cap) {
    clcdd_gemm_params d = clcdd_gemm_default_params(dev);
    static const int tiles[][2] = {{8, 2}, {6, 2}, {4, 2}, {12, 2}, {8, 1}, {16, 1}, {4, 3},
                                   {6, 3}, {4, 4}, {5, 4}, {2, 4}, {10, 2}};
    size_t n = 0;
    out[n++] = d;
    if (n < cap) out[n] = d, out[n++].rows_first = !d.rows_first;
    for (int half = 0; half < 2; half++) {
        int vw = half ? d.vw / 2 : d.vw;
        if (vw < 1 || (half && d.vw < 8)) continue;
        for (size_t i = 0; i < sizeof tiles / sizeof tiles[0]; i++)
            for (int rf = 1; rf >= 0 && n < cap; rf--) {
                clcdd_gemm_params p = {.vw = vw, .rm = tiles[i][0],
                                       .nv = tiles[i][1] * (half ? 2 : 1), .rows_first = rf};
                if (p.rm * p.nv + p.nv + 1 > 28 && dev->is_cpu) continue;
                if (p.vw == d.vw && p.rm == d.rm && p.nv == d.nv) continue;
                out[n++] = p;
            }
    }
    return n;
}

typedef struct operands {
    clcdd_tensor a, b, c;
} operands;

static void free_operands(operands *o) {
    clcdd_tensor_destroy(&o->a);
    clcdd_tensor_destroy(&o->b);
    clcdd_tensor_destroy(&o->c);
}

static clcdd_status make_operands(clcdd_ctx *ctx, const clcdd_gemm_shape *s, operands *o) {
    memset(o, 0, sizeof *o);
    int64_t na[1] = {(int64_t)(s->m * s->k)}, nb[1] = {(int64_t)(s->k * s->n)},
            nc[1] = {(int64_t)(s->m * s->n)};
    size_t most = s->m * s->k;
    if (s->k * s->n > most) most = s->k * s->n;
    if (s->m * s->n > most) most = s->m * s->n;
    float *h = malloc(most * sizeof(float));
    if (!h) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tuning operands");
    uint64_t r = 0x853c49e6748fea9bULL;
    for (size_t i = 0; i < most; i++) {
        r ^= r << 13; r ^= r >> 7; r ^= r << 17;
        h[i] = (float)((double)(r >> 11) / 9007199254740992.0 - 0.5);
    }
    clcdd_status st;
    if ((st = clcdd_tensor_create(ctx, CLCDD_F32, 1, na, "tuning A", &o->a)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, nb, "tuning B", &o->b)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, nc, "tuning C", &o->c)) ||
        (st = clcdd_tensor_upload(ctx, &o->a, h)) || (st = clcdd_tensor_upload(ctx, &o->b, h)))
        free_operands(o);
    free(h);
    return st;
}

static clcdd_status run_once(clcdd_ctx *ctx, const clcdd_gemm_shape *s, const operands *o) {
    clcdd_matrix a = {o->a.buf, 0, s->ta ? s->m : s->k}, b = {o->b.buf, 0, s->tb ? s->k : s->n},
                 c = {o->c.buf, 0, s->n};
    return clcdd_gemm(ctx, s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, b, 0.0f, c);
}

/* GFLOP/s of the forced backend (and override parameters) on this shape; -1 when it fails. */
static double measure(clcdd_ctx *ctx, const clcdd_gemm_shape *s, const operands *o) {
    double t[3];
    if (run_once(ctx, s, o) || clcdd_ctx_finish(ctx)) {
        clcdd_clear_error();
        return -1;
    }
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        if (run_once(ctx, s, o) || clcdd_ctx_finish(ctx)) {
            clcdd_clear_error();
            return -1;
        }
        t[r] = now() - t0;
    }
    double med = t[0] > t[1] ? (t[1] > t[2] ? t[1] : (t[0] > t[2] ? t[2] : t[0]))
                             : (t[0] > t[2] ? t[0] : (t[1] > t[2] ? t[2] : t[1]));
    return 2.0 * (double)s->m * (double)s->n * (double)s->k / med * 1e-9;
}

/* Does the forced backend agree with the reference on this transpose pair? */
static int passes(clcdd_ctx *ctx, clcdd_gemm_backend be, const clcdd_gemm_shape *s, size_t rn) {
    double e1 = 1, e2 = 1;
    if (clcdd_gemm_compare_one(ctx, be, s->ta, s->tb, 37, 2 * rn, 41, 3, 0.5f, &e1) ||
        clcdd_gemm_compare_one(ctx, be, s->ta, s->tb, 19, 2 * rn + 5, 23, 1, 0.0f, &e2)) {
        clcdd_clear_error();
        return 0;
    }
    return e1 <= TUNE_TOL && e2 <= TUNE_TOL;
}

static void upsert(clcdd_gemm_tune_record *rec, const clcdd_gemm_tune_entry *e) {
    for (size_t i = 0; i < rec->count; i++)
        if (rec->e[i].ta == e->ta && rec->e[i].tb == e->tb && rec->e[i].m == e->m &&
            rec->e[i].n == e->n && rec->e[i].k == e->k) {
            rec->e[i] = *e;
            return;
        }
    if (rec->count < CLCDD_GEMM_TUNE_MAX) rec->e[rec->count++] = *e;
}

/* Describes a set for the results ("built-in", "tuned: Xgemm, GemmRoutine"). */
static void describe_set(const clcdd_clblast_set *set, char *out, size_t cap) {
    if (!set->count) {
        snprintf(out, cap, "built-in");
        return;
    }
    size_t len = (size_t)snprintf(out, cap, "tuned:");
    for (size_t i = 0; i < set->count && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s %s", i ? "," : "", set->k[i].kernel);
}

#define MAX_SETS 4

/* The CLBlast phase: measures every candidate parameter set on every shape (the set in force
 * first, since CLBlast cannot go back to it), rejects sets that disagree with the reference, and
 * returns the best set's per-shape GFLOP/s in gf (-1 when none ran). */
static clcdd_status tune_clblast(clcdd_ctx *ctx, const clcdd_gemm_shape *shapes, size_t count,
                                 const char *const *json, size_t n_json,
                                 clcdd_gemm_tune_progress_fn progress, void *user,
                                 clcdd_gemm_tune_record *rec, double *gf, char *label,
                                 size_t label_cap) {
    clcdd_gemm_state *g = NULL;
    TRY(clcdd_gemm_state_get(ctx, &g));
    clcdd_clblast_set *sets = calloc(MAX_SETS, sizeof *sets);
    double *meas = malloc(MAX_SETS * count * sizeof *meas);
    if (!sets || !meas) {
        free(sets);
        free(meas);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "gemm tune: CLBlast candidates");
    }
    clcdd_status st = CLCDD_OK;
    size_t ns = 0;
    sets[ns++] = rec->clblast; /* what is installed now */
    clcdd_clblast_set tuned = rec->clblast;
    for (size_t i = 0; i < n_json && !st; i++) {
        clcdd_clblast_params p;
        if (!(st = clcdd_gemm_clblast_read_tuner_json(json[i], &p)))
            st = clcdd_clblast_set_put(&tuned, &p);
    }
    if (!st && n_json) sets[ns++] = tuned;
    if (!st && !ctx->dev.is_cpu) {
        /* CLBlast takes the direct kernel when m n k < XGEMM_MIN_INDIRECT_SIZE^3. */
        const size_t thresholds[2] = {0, 8192};
        for (int t = 0; t < 2; t++) {
            clcdd_clblast_params r = {.kernel = "GemmRoutine", .count = 1,
                                      .names = {"XGEMM_MIN_INDIRECT_SIZE"},
                                      .values = {thresholds[t]}};
            sets[ns] = tuned;
            if (!(st = clcdd_clblast_set_put(&sets[ns], &r))) ns++;
        }
    }
    g->forced = CLCDD_GEMM_CLBLAST;
    size_t best = 0;
    double best_t = -1;
    for (size_t si = 0; si < ns && !st; si++) {
        char name[64];
        describe_set(&sets[si], name, sizeof name);
        if (si > 0 && (st = clcdd_gemm_clblast_apply(ctx, &sets[si]))) break;
        int ok = 1;
        for (size_t i = 0; i < count && ok; i++) {
            int seen = 0;
            for (size_t j = 0; j < i; j++)
                seen |= shapes[j].ta == shapes[i].ta && shapes[j].tb == shapes[i].tb;
            if (!seen && !passes(ctx, CLCDD_GEMM_CLBLAST, &shapes[i], 16)) ok = 0;
        }
        if (!ok) {
            say(progress, user, "clblast %s%s: disagrees with the reference, rejected", name,
                si == 0 ? " (in force)" : "");
            for (size_t i = 0; i < count; i++) meas[si * count + i] = -1;
            continue;
        }
        double total = 0;
        for (size_t i = 0; i < count; i++) {
            operands o;
            if ((st = make_operands(ctx, &shapes[i], &o))) break;
            double x = measure(ctx, &shapes[i], &o);
            free_operands(&o);
            meas[si * count + i] = x;
            say(progress, user, "%s%s %zux%zux%zu clblast %s: %.1f GFLOP/s",
                shapes[i].ta ? "T" : "N", shapes[i].tb ? "T" : "N", shapes[i].m, shapes[i].n,
                shapes[i].k, name, x);
            if (x <= 0) {
                total = -1;
                break;
            }
            total += 2.0 * (double)shapes[i].m * (double)shapes[i].n * (double)shapes[i].k / x;
        }
        if (!st && total > 0 && (best_t < 0 || total < best_t)) best = si, best_t = total;
    }
    g->forced = CLCDD_GEMM_AUTO;
    if (!st) {
        for (size_t i = 0; i < count; i++) gf[i] = best_t > 0 ? meas[best * count + i] : -1;
        if (best_t > 0) rec->clblast = sets[best];
        describe_set(&rec->clblast, label, label_cap);
    }
    free(sets);
    free(meas);
    return st;
}

clcdd_status clcdd_gemm_tune(clcdd_ctx *ctx, const clcdd_gemm_shape *shapes, size_t count,
                             double budget_seconds, clcdd_gemm_tune_progress_fn progress,
                             void *user, clcdd_gemm_tune_result *results) {
    return clcdd_gemm_tune_with_clblast(ctx, shapes, count, budget_seconds, NULL, 0, progress,
                                        user, results);
}

clcdd_status clcdd_gemm_tune_with_clblast(clcdd_ctx *ctx, const clcdd_gemm_shape *shapes,
                                          size_t count, double budget_seconds,
                                          const char *const *clblast_json, size_t n_clblast_json,
                                          clcdd_gemm_tune_progress_fn progress, void *user,
                                          clcdd_gemm_tune_result *results) {
    if (!ctx->cache_dir[0])
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "gemm tune: the kernel cache is off, so the record could not be kept");
    for (size_t i = 0; i < count; i++)
        if (!shapes[i].m || !shapes[i].n || !shapes[i].k)
            return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "gemm tune: shape %zu has a zero size",
                              i);
    clcdd_gemm_state *g = NULL;
    clcdd_gemm_own_state *own = NULL;
    TRY(clcdd_gemm_state_get(ctx, &g));
    TRY(clcdd_gemm_own_state_get(ctx, &own));
    clcdd_gemm_backend forced = g->forced;
    g->forced = CLCDD_GEMM_AUTO;
    if (!g->checked) TRY(clcdd_gemm_self_check(ctx, NULL));
    /* Start from the existing record so shapes tuned earlier keep their entries. */
    clcdd_gemm_args probe = {.ta = 0, .tb = 0, .m = 1, .n = 1, .k = 1, .batch = 1};
    (void)clcdd_gemm_own_params(ctx, &probe); /* loads the record if there is one */
    clcdd_gemm_tune_record *rec = malloc(sizeof *rec);
    if (!rec) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tuning record");
    *rec = own->rec;
    double *clblast_gf = malloc((count ? count : 1) * sizeof *clblast_gf);
    char clblast_label[64] = "";
    if (!clblast_gf) {
        free(rec);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tuning record");
    }
    for (size_t i = 0; i < count; i++) clblast_gf[i] = -1;
    if (g->clblast_ok) {
        clcdd_status cs = tune_clblast(ctx, shapes, count, clblast_json, n_clblast_json, progress,
                                       user, rec, clblast_gf, clblast_label,
                                       sizeof clblast_label);
        if (cs) {
            g->forced = forced;
            free(clblast_gf);
            free(rec);
            return cs;
        }
    } else if (n_clblast_json) {
        free(clblast_gf);
        free(rec);
        g->forced = forced;
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED,
                          "gemm tune: CLBlast failed its self-check on %s, so its tuned "
                          "parameters cannot be used there",
                          ctx->dev.name);
    }
    clcdd_gemm_params cand[64];
    size_t nc = grid(&ctx->dev, cand, 64);
    double t_start = now();
    clcdd_status st = CLCDD_OK;
    for (size_t si = 0; si < count && !st; si++) {
        const clcdd_gemm_shape *s = &shapes[si];
        clcdd_gemm_tune_result *r = &results[si];
        memset(r, 0, sizeof *r);
        r->shape = *s;
        r->clblast_gflops = r->default_gflops = -1;
        operands o;
        if ((st = make_operands(ctx, s, &o))) break;
        /* Each shape gets an equal share of what is left of the budget. */
        double deadline = now() + (budget_seconds - (now() - t_start)) / (double)(count - si);
        clcdd_gemm_tune_entry best = {.ta = s->ta, .tb = s->tb, .m = s->m, .n = s->n, .k = s->k,
                                      .gflops = -1};
        snprintf(r->clblast_set, sizeof r->clblast_set, "%s", clblast_label);
        if (g->clblast_ok) {
            r->clblast_gflops = clblast_gf[si]; /* measured above, with the set kept */
            r->tried++;
            if (r->clblast_gflops > best.gflops) {
                best.backend = CLCDD_GEMM_CLBLAST;
                best.gflops = r->clblast_gflops;
            }
        }
        g->forced = CLCDD_GEMM_OWN;
        for (size_t ci = 0; ci < nc; ci++) {
            if (ci > 0 && now() > deadline) break;
            own->override = &cand[ci];
            size_t rn = (size_t)cand[ci].vw * cand[ci].nv;
            r->tried++;
            if (!passes(ctx, CLCDD_GEMM_OWN, s, rn)) {
                r->rejected++;
                say(progress, user, "%s%s %zux%zux%zu own vw=%d rm=%d nv=%d: disagrees with the "
                    "reference, rejected", s->ta ? "T" : "N", s->tb ? "T" : "N", s->m, s->n, s->k,
                    cand[ci].vw, cand[ci].rm, cand[ci].nv);
                continue;
            }
            double gf = measure(ctx, s, &o);
            if (ci == 0) r->default_gflops = gf;
            say(progress, user, "%s%s %zux%zux%zu own vw=%d rm=%d nv=%d rows_first=%d: %.1f GFLOP/s",
                s->ta ? "T" : "N", s->tb ? "T" : "N", s->m, s->n, s->k, cand[ci].vw, cand[ci].rm,
                cand[ci].nv, cand[ci].rows_first, gf);
            if (gf > best.gflops) {
                best.backend = CLCDD_GEMM_OWN;
                best.params = cand[ci];
                best.gflops = gf;
            }
        }
        own->override = NULL;
        g->forced = CLCDD_GEMM_AUTO;
        free_operands(&o);
        if (best.gflops <= 0) {
            st = clcdd_fail(CLCDD_ERR_OPENCL, "gemm tune: no candidate ran %zux%zux%zu on %s",
                            s->m, s->n, s->k, ctx->dev.name);
            break;
        }
        r->backend = best.backend;
        r->gflops = best.gflops;
        if (best.backend == CLCDD_GEMM_OWN)
            snprintf(r->params, sizeof r->params, "vw=%d rm=%d nv=%d rows_first=%d", best.params.vw,
                     best.params.rm, best.params.nv, best.params.rows_first);
        upsert(rec, &best);
    }
    own->override = NULL;
    g->forced = forced;
    if (!st) st = clcdd_gemm_record_save(ctx, rec);
    free(clblast_gf);
    free(rec);
    return st;
}
