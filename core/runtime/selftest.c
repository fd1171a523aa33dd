/* `clcdd doctor`'s quick checks: each basic kernel against a host computation on a few sizes,
 * and the GEMM backends against the reference kernel. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clcdd/selftest.h"
#include "ctx_internal.h"
#include "nn/basic.h"
#include "runtime/gemm_internal.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fill(float *x, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
        x[i] = (float)((double)(seed >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
}

static double rel(double got, double want) { return fabs(got - want) / (1.0 + fabs(want)); }

/* One element-wise or reduction check at size n. Returns the max relative error, or a negative
 * value with st set on failure to run. */
static clcdd_status elementwise_check(clcdd_ctx *ctx, const char *op, size_t n, double *err) {
    float *h = malloc(4 * (n + 1) * sizeof(float));
    if (!h) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "self-test buffers");
    float *a = h, *b = h + n, *y = h + 2 * n, *want = h + 3 * n;
    fill(a, n, 11 + n);
    fill(b, n, 29 + n);
    clcdd_tensor ta = {0}, tb = {0}, ty = {0};
    int64_t shape[1] = {(int64_t)n}, one[1] = {1};
    clcdd_status st;
    if ((st = clcdd_tensor_create(ctx, CLCDD_F32, 1, shape, "self-test a", &ta)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, shape, "self-test b", &tb)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, strcmp(op, "sum") && strcmp(op, "sumsq") ? shape : one,
                                  "self-test y", &ty)) ||
        (st = clcdd_tensor_upload(ctx, &ta, a)) || (st = clcdd_tensor_upload(ctx, &tb, b)))
        goto done;
    size_t nout = n;
    if (!strcmp(op, "add")) {
        st = clcdd_add(ctx, &ty, &ta, &tb);
        for (size_t i = 0; i < n; i++) want[i] = a[i] + b[i];
    } else if (!strcmp(op, "scale")) {
        st = clcdd_scale(ctx, &ty, &ta, -1.5f);
        for (size_t i = 0; i < n; i++) want[i] = -1.5f * a[i];
    } else if (!strcmp(op, "axpy")) {
        if ((st = clcdd_tensor_upload(ctx, &ty, b))) goto done;
        st = clcdd_axpy(ctx, &ty, &ta, 0.5f);
        for (size_t i = 0; i < n; i++) want[i] = b[i] + 0.5f * a[i];
    } else {
        int sq = !strcmp(op, "sumsq");
        st = sq ? clcdd_sumsq(ctx, &ty, &ta) : clcdd_sum(ctx, &ty, &ta);
        double s = 0;
        for (size_t i = 0; i < n; i++) s += sq ? (double)a[i] * a[i] : a[i];
        want[0] = (float)s;
        nout = 1;
    }
    if (st || (st = clcdd_tensor_download(ctx, &ty, y))) goto done;
    *err = 0;
    for (size_t i = 0; i < nout; i++) {
        double e = rel(y[i], want[i]);
        if (!(e <= *err)) *err = e;
    }
done:
    clcdd_tensor_destroy(&ta);
    clcdd_tensor_destroy(&tb);
    clcdd_tensor_destroy(&ty);
    free(h);
    return st;
}

clcdd_status clcdd_self_test(clcdd_ctx *ctx, int with_clblast, clcdd_check_fn fn, void *user,
                             int *n_failed) {
    *n_failed = 0;
    static const char *ops[] = {"add", "scale", "axpy", "sum", "sumsq"};
    static const size_t sizes[] = {1, 63, 1000, 100003};
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        clcdd_check_result r = {.name = ops[o], .passed = 1, .tolerance = 1e-5};
        double t0 = now();
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            double e = 0;
            clcdd_status st = elementwise_check(ctx, ops[o], sizes[s], &e);
            if (st != CLCDD_OK) {
                r.passed = 0;
                snprintf(r.detail, sizeof r.detail, "%s", clcdd_last_error());
                break;
            }
            if (!(e <= r.max_error)) r.max_error = e;
        }
        if (r.passed && !(r.max_error <= r.tolerance)) {
            r.passed = 0;
            snprintf(r.detail, sizeof r.detail, "differs from the host reference");
        }
        r.seconds = now() - t0;
        if (!r.passed) (*n_failed)++;
        if (fn) fn(&r, user);
    }
    static const struct { const char *name; clcdd_gemm_backend b; } gemms[] = {
        {"gemm:clblast", CLCDD_GEMM_CLBLAST}, {"gemm:own", CLCDD_GEMM_OWN}};
    for (size_t i = 0; i < 2; i++) {
        clcdd_check_result r = {.name = gemms[i].name, .passed = 1, .tolerance = 1e-4};
        if (gemms[i].b == CLCDD_GEMM_CLBLAST && !with_clblast && ctx->dev.is_cpu) {
            r.skipped = 1;
            snprintf(r.detail, sizeof r.detail,
                     "not used on CPU devices (own kernels are); --with-clblast checks it");
            if (fn) fn(&r, user);
            continue;
        }
        double t0 = now();
        double e = 0;
        clcdd_status st = clcdd_gemm_check_backend(ctx, gemms[i].b, &e);
        r.seconds = now() - t0;
        r.max_error = e;
        if (st != CLCDD_OK) {
            r.passed = 0;
            snprintf(r.detail, sizeof r.detail, "%s", clcdd_last_error());
            clcdd_clear_error();
        } else if (!(e <= r.tolerance)) {
            r.passed = 0;
            snprintf(r.detail, sizeof r.detail, "disagrees with the reference kernel");
        }
        /* A failing CLBlast is not fatal: the dispatcher falls back to the own kernels. */
        if (!r.passed && gemms[i].b != CLCDD_GEMM_CLBLAST) (*n_failed)++;
        if (fn) fn(&r, user);
    }
    return CLCDD_OK;
}
