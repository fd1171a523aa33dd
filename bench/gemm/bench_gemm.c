/* GEMM benchmark: every path side by side on the selected device, with OpenBLAS on the host as
 * the yardstick, GFLOP/s = 2 m n k / median time (after a warm-up; clFinish around each run).
 * own, own-pk and openblas run interleaved, round by round; the ratio columns are medians of the
 * per-round ratios, with their quartiles for the packed path.
 *
 * Transformer shapes are given as M x K x N: activations (M tokens x K) times W^T with W (N x K),
 * and measured in the three forms of one linear layer:
 *   fwd  NT  y  = x W^T     m = M, n = N, k = K
 *   bwdX NN  dX = dY W      m = M, n = K, k = N
 *   bwdW TN  dW = dY^T x    m = N, n = K, k = M
 * Paths: own (dispatch-free own kernel, packing op(B) per call where needed), own-pk (op(B)
 * packed beforehand: packed weights; cost of packing reported separately), clblast, ref (small
 * sizes only), openblas (cblas_sgemm). Usage: bench_gemm [device] [--quick]
 * [--own-only] [--only LABEL-SUBSTRING] [--params VW,RM,NV,ROWS_FIRST] [--reps N (<= 64)] [--best (fastest run instead of
 * the median: for experiments on a busy machine)]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "clcdd/gemm.h"
#include "ctx_internal.h"
#include "runtime/gemm_internal.h"
#include "runtime/gemm_packed.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct problem {
    const char *label;
    int ta, tb;
    size_t m, n, k;
} problem;

typedef struct bufs {
    clcdd_matrix a, b, c;
    float *ha, *hb, *hc;
    clcdd_packed_weight pw;
    cl_mem packed;
    clcdd_gemm_params params;
} bufs;

static int reps_for(const problem *p) {
    double f = 2.0 * (double)p->m * (double)p->n * (double)p->k;
    return f > 2e10 ? 5 : f > 2e9 ? 9 : 15;
}

enum path { P_OWN, P_OWN_PK, P_CLBLAST, P_REF, P_OPENBLAS, P_COUNT };
static const char *path_names[P_COUNT] = {"own", "own-pk", "clblast", "ref", "openblas"};

static clcdd_status run_path(clcdd_ctx *ctx, const problem *p, bufs *b, int path) {
    clcdd_gemm_args g = {.ta = p->ta, .tb = p->tb, .m = p->m, .n = p->n, .k = p->k,
                         .alpha = 1.0f, .a = b->a, .b = b->b, .beta = 0.0f, .c = b->c,
                         .batch = 1};
    switch (path) {
    case P_OWN: clcdd_gemm_force_backend(ctx, CLCDD_GEMM_OWN); break;
    case P_CLBLAST: clcdd_gemm_force_backend(ctx, CLCDD_GEMM_CLBLAST); break;
    case P_REF: clcdd_gemm_force_backend(ctx, CLCDD_GEMM_REFERENCE); break;
    case P_OWN_PK: {
        if (p->ta == 0 && p->tb == 1 && b->pw.packed)
            return clcdd_gemm_packed(ctx, p->m, 1.0f, b->a, &b->pw, 0.0f, b->c);
        size_t rn = (size_t)b->params.vw * b->params.nv;
        clcdd_matrix pb = {b->packed, 0, rn};
        return clcdd_gemm_own_tiles(ctx, &g, &b->params, 1, pb, 0);
    }
    case P_OPENBLAS:
        cblas_sgemm(CblasRowMajor, p->ta ? CblasTrans : CblasNoTrans,
                    p->tb ? CblasTrans : CblasNoTrans, (int)p->m, (int)p->n, (int)p->k, 1.0f,
                    b->ha, (int)b->a.ld, b->hb, (int)b->b.ld, 0.0f, b->hc, (int)b->c.ld);
        return CLCDD_OK;
    }
    return clcdd_gemm(ctx, p->ta, p->tb, p->m, p->n, p->k, 1.0f, b->a, b->b, 0.0f, b->c);
}

static int use_best = 0, reps_override = 0;

static double flops(const problem *p) { return 2.0 * (double)p->m * (double)p->n * (double)p->k; }

/* One timed run of a path (clFinish around it); < 0 on failure. */
static double time_once(clcdd_ctx *ctx, const problem *p, bufs *b, int path) {
    double t0 = now();
    if (run_path(ctx, p, b, path) || clcdd_ctx_finish(ctx)) return -1;
    return now() - t0;
}

/* Slow paths (CLBlast on CPU devices, the reference kernel): a warm-up and a few runs. */
static double time_path(clcdd_ctx *ctx, const problem *p, bufs *b, int path, int reps) {
    double t[64];
    if (time_once(ctx, p, b, path) < 0) return -1;
    for (int r = 0; r < reps; r++)
        if ((t[r] = time_once(ctx, p, b, path)) < 0) return -1;
    qsort(t, (size_t)reps, sizeof t[0], cmp_d);
    return flops(p) / t[use_best ? 0 : reps / 2] * 1e-9;
}

/* The fast paths (own, own-pk, openblas) interleaved: each round runs every path once, in an
 * order that rotates from round to round, so that a change of the machine's speed hits all of
 * them alike. Per path the median (or fastest) time; per round the ratios own/openblas and
 * own-pk/openblas, of which the median and quartiles are reported: the ratio of one round's
 * neighbouring runs survives drift that the ratio of two medians does not. */
typedef struct ratio_stats {
    double med, q1, q3;
} ratio_stats;

static double quantile(double *v, int n, double q) {
    qsort(v, (size_t)n, sizeof v[0], cmp_d);
    double pos = q * (n - 1);
    int i = (int)pos;
    return i + 1 < n ? v[i] + (pos - i) * (v[i + 1] - v[i]) : v[i];
}

static int time_interleaved(clcdd_ctx *ctx, const problem *p, bufs *b, const int *paths, int np,
                            int reps, double *gf, ratio_stats *ratios) {
    double t[3][64], r[2][64];
    for (int j = 0; j < np; j++)
        if (time_once(ctx, p, b, paths[j]) < 0) return -1; /* warm-up */
    for (int round = 0; round < reps; round++)
        for (int j = 0; j < np; j++) {
            int q = (j + round) % np;
            if ((t[q][round] = time_once(ctx, p, b, paths[q])) < 0) return -1;
        }
    /* paths[np - 1] is the yardstick */
    for (int j = 0; j + 1 < np; j++) {
        for (int round = 0; round < reps; round++) r[j][round] = t[np - 1][round] / t[j][round];
        ratios[j].q1 = quantile(r[j], reps, 0.25);
        ratios[j].med = quantile(r[j], reps, 0.5);
        ratios[j].q3 = quantile(r[j], reps, 0.75);
    }
    for (int j = 0; j < np; j++) {
        qsort(t[j], (size_t)reps, sizeof t[j][0], cmp_d);
        gf[j] = flops(p) / t[j][use_best ? 0 : reps / 2] * 1e-9;
    }
    return 0;
}

static cl_mem make_buf(clcdd_ctx *ctx, float *host, size_t count) {
    cl_int err;
    return clCreateBuffer(ctx->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                          count * sizeof(float), host, &err);
}

static float *random_host(size_t count, uint64_t seed) {
    float *h = malloc(count * sizeof(float));
    for (size_t i = 0; i < count && h; i++) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
        h[i] = (float)((double)(seed >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
    return h;
}

int main(int argc, char **argv) {
    const char *device = NULL;
    int quick = 0, own_only = 0;
    const char *only = NULL;
    static clcdd_gemm_params forced_params;
    int have_params = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--own-only") == 0) own_only = 1;
        else if (strcmp(argv[i], "--best") == 0) use_best = 1;
        else if (strcmp(argv[i], "--params") == 0 && i + 1 < argc) {
            clcdd_gemm_params *q = &forced_params;
            have_params = sscanf(argv[++i], "%d,%d,%d,%d", &q->vw, &q->rm, &q->nv,
                                 &q->rows_first) == 4;
            if (!have_params) {
                fprintf(stderr, "bench_gemm: --params VW,RM,NV,ROWS_FIRST\n");
                return 2;
            }
        }
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps_override = atoi(argv[++i]);
            if (reps_override < 1 || reps_override > 64) reps_override = 9;
        }
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
        else device = argv[i];
    }
    clcdd_ctx_options o = {.device = device};
    clcdd_ctx *ctx = NULL;
    if (clcdd_ctx_create(&o, &ctx)) {
        fprintf(stderr, "bench_gemm: %s\n", clcdd_last_error());
        return 1;
    }
    int clblast_ok = 0;
    clcdd_gemm_self_check(ctx, &clblast_ok);
    if (have_params) {
        clcdd_gemm_own_state *os = NULL;
        if (clcdd_gemm_own_state_get(ctx, &os) == CLCDD_OK) os->override = &forced_params;
    }
    const clcdd_device_info *dev = clcdd_ctx_device(ctx);
    clcdd_gemm_params dp = have_params ? forced_params : clcdd_gemm_default_params(dev);
    printf("device: %s (driver %s), own kernel vw=%d rm=%d nv=%d rows_first=%d, CLBlast "
           "self-check %s\n", dev->name, dev->driver_version, dp.vw, dp.rm, dp.nv, dp.rows_first,
           clblast_ok ? "passed" : "failed");
    const size_t tshape[3][3] = {{512, 576, 1536}, {512, 1536, 576}, {512, 576, 49152}};
    problem probs[32];
    char labels[32][48];
    size_t np = 0;
    const size_t sq[3] = {512, 1024, 2048};
    for (int i = 0; i < 3; i++) {
        snprintf(labels[np], sizeof labels[np], "%zu^3 NN", sq[i]);
        probs[np] = (problem){labels[np], 0, 0, sq[i], sq[i], sq[i]};
        np++;
    }
    for (int i = 0; i < 3; i++) {
        size_t M = tshape[i][0], K = tshape[i][1], N = tshape[i][2];
        snprintf(labels[np], sizeof labels[np], "%zux%zux%zu fwd NT", M, K, N);
        probs[np] = (problem){labels[np], 0, 1, M, N, K};
        np++;
        snprintf(labels[np], sizeof labels[np], "%zux%zux%zu bwdX NN", M, K, N);
        probs[np] = (problem){labels[np], 0, 0, M, K, N};
        np++;
        snprintf(labels[np], sizeof labels[np], "%zux%zux%zu bwdW TN", M, K, N);
        probs[np] = (problem){labels[np], 1, 0, N, K, M};
        np++;
    }
    printf("%-26s %9s %9s %9s %9s %9s %9s %8s %8s  %s\n", "problem (m n k)", "own", "own-pk",
           "pack-ms", "clblast", "ref", "openblas", "own/obl", "pk/obl", "pk/obl q1-q3");
    for (size_t i = 0; i < np; i++) {
        problem *p = &probs[i];
        if (quick && p->m * p->n * p->k > (size_t)1 << 30) continue;
        if (only && !strstr(p->label, only)) continue;
        size_t ra = p->ta ? p->k : p->m, ca = p->ta ? p->m : p->k;
        size_t rb = p->tb ? p->n : p->k, cb = p->tb ? p->k : p->n;
        bufs b = {0};
        b.ha = random_host(ra * ca, 1 + i);
        b.hb = random_host(rb * cb, 100 + i);
        b.hc = random_host(p->m * p->n, 200 + i);
        b.a = (clcdd_matrix){make_buf(ctx, b.ha, ra * ca), 0, ca};
        b.b = (clcdd_matrix){make_buf(ctx, b.hb, rb * cb), 0, cb};
        b.c = (clcdd_matrix){make_buf(ctx, b.hc, p->m * p->n), 0, p->n};
        clcdd_gemm_args g = {.ta = p->ta, .tb = p->tb, .m = p->m, .n = p->n, .k = p->k, .batch = 1};
        b.params = clcdd_gemm_own_params(ctx, &g);
        size_t rn = (size_t)b.params.vw * b.params.nv;
        double pack_ms = -1;
        if (p->ta == 0 && p->tb == 1) {
            clcdd_gemm_force_backend(ctx, CLCDD_GEMM_OWN);
            double t0 = now();
            if (clcdd_packed_weight_create(ctx, b.b, p->n, p->k, CLCDD_PACK_FORWARD, &b.pw) || clcdd_ctx_finish(ctx))
                fprintf(stderr, "packing: %s\n", clcdd_last_error());
            pack_ms = (now() - t0) * 1e3; /* includes the first build of the pack kernel */
            t0 = now();
            clcdd_packed_weight_update(ctx, &b.pw);
            clcdd_ctx_finish(ctx);
            pack_ms = (now() - t0) * 1e3;
        } else {
            cl_int err;
            size_t per = (p->n + rn - 1) / rn * rn * p->k;
            b.packed = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, per * 4, NULL, &err);
            clcdd_gemm_own_pack(ctx, &b.params, p->tb, p->n, p->k, b.b, 0, 1, b.packed, 0);
            clcdd_ctx_finish(ctx);
            double t0 = now();
            clcdd_gemm_own_pack(ctx, &b.params, p->tb, p->n, p->k, b.b, 0, 1, b.packed, 0);
            clcdd_ctx_finish(ctx);
            pack_ms = (now() - t0) * 1e3;
        }
        double gf[P_COUNT];
        for (int path = 0; path < P_COUNT; path++) gf[path] = -1;
        int reps = reps_override ? reps_override : reps_for(p);
        const int fast[3] = {P_OWN, P_OWN_PK, P_OPENBLAS};
        double fgf[3];
        ratio_stats rs[2] = {{-1, -1, -1}, {-1, -1, -1}};
        if (time_interleaved(ctx, p, &b, fast, 3, reps, fgf, rs) == 0)
            for (int j = 0; j < 3; j++) gf[fast[j]] = fgf[j];
        else
            fprintf(stderr, "%s: %s\n", p->label, clcdd_last_error());
        for (int path = P_CLBLAST; path <= P_REF; path++) {
            if (path == P_REF && p->m * p->n * p->k > (size_t)1 << 27) continue;
            if (path == P_CLBLAST && !clblast_ok) continue;
            if (own_only) continue;
            gf[path] = time_path(ctx, p, &b, path, 3);
            if (gf[path] < 0) fprintf(stderr, "%s %s: %s\n", p->label, path_names[path],
                                      clcdd_last_error());
        }
        char cell[P_COUNT][16];
        for (int path = 0; path < P_COUNT; path++)
            if (gf[path] < 0) snprintf(cell[path], 16, "-");
            else snprintf(cell[path], 16, "%.1f", gf[path]);
        printf("%-26s %9s %9s %9.2f %9s %9s %9s %7.0f%% %7.0f%%  %3.0f-%3.0f%%\n", p->label,
               cell[P_OWN], cell[P_OWN_PK], pack_ms, cell[P_CLBLAST], cell[P_REF],
               cell[P_OPENBLAS], 100.0 * rs[0].med, 100.0 * rs[1].med, 100.0 * rs[1].q1,
               100.0 * rs[1].q3);
        fflush(stdout);
        clcdd_packed_weight_destroy(&b.pw);
        if (b.packed) clReleaseMemObject(b.packed);
        clReleaseMemObject(b.a.buf);
        clReleaseMemObject(b.b.buf);
        clReleaseMemObject(b.c.buf);
        free(b.ha);
        free(b.hb);
        free(b.hc);
    }
    clcdd_ctx_destroy(ctx);
    return 0;
}
