#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <criterion/criterion.h>

static clcdd_ctx *ctx_;

clcdd_ctx *th_ctx(void) {
    if (!ctx_) {
        clcdd_status st = clcdd_ctx_create(NULL, &ctx_);
        cr_assert(st == CLCDD_OK, "no OpenCL device for the tests: %s: %s", clcdd_status_string(st),
                  clcdd_last_error());
    }
    return ctx_;
}

void th_release(void) {
    clcdd_ctx_destroy(ctx_);
    ctx_ = NULL;
}

void th_rand(float *x, size_t n, uint64_t seed, float lo, float hi) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x[i] = lo + (hi - lo) * (float)((double)(s >> 11) / 9007199254740992.0);
    }
}

const size_t th_sizes[] = {1, 2, 3, 7, 63, 64, 65, 255, 257, 1000, 4099, 65537, 1000003};
const size_t th_n_sizes = sizeof th_sizes / sizeof th_sizes[0];

clcdd_tensor th_upload(const float *host, size_t n) {
    clcdd_tensor t;
    int64_t shape[1] = {(int64_t)n};
    TH_OK(clcdd_tensor_create(th_ctx(), CLCDD_F32, 1, shape, "test tensor", &t));
    TH_OK(clcdd_tensor_upload(th_ctx(), &t, host));
    return t;
}

float *th_download(const clcdd_tensor *t) {
    size_t n = (size_t)clcdd_tensor_numel(t);
    float *h = malloc((n ? n : 1) * sizeof(float));
    cr_assert(h != NULL);
    TH_OK(clcdd_tensor_download(th_ctx(), t, h));
    return h;
}

int th_check_close(const char *what, const float *got, const float *want, size_t n, double rtol,
                   double atol) {
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i]) && isfinite(want[i])) {
            fprintf(stderr, "%s: element %zu is %g, expected %.9g\n", what, i, got[i], want[i]);
            return 0;
        }
    }
    size_t worst = 0;
    double worst_excess = -1, max_diff = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double allowed = atol + rtol * fabs((double)want[i]);
        if (d > max_diff) max_diff = d;
        if (d - allowed > worst_excess) {
            worst_excess = d - allowed;
            worst = i;
        }
    }
    if (worst_excess > 0) {
        fprintf(stderr, "%s: element %zu is %.9g, expected %.9g (|diff| %.3g > atol %.1g + rtol %.1g "
                        "* |want|); largest |diff| %.3g over %zu elements\n",
                what, worst, got[worst], want[worst], fabs((double)got[worst] - want[worst]), atol,
                rtol, max_diff, n);
        return 0;
    }
    return 1;
}

int th_gradcheck(const char *what, th_loss_fn loss, void *user, float *x, size_t n,
                 const float *grad, double h, size_t samples, double tol) {
    size_t step = samples >= n ? 1 : n / samples;
    double max_fd = 0, worst = 0;
    size_t worst_i = 0;
    double *fd = calloc(n, sizeof *fd);
    cr_assert(fd != NULL);
    for (size_t i = 0; i < n; i += step) {
        float keep = x[i];
        double lp = 0, lm = 0;
        x[i] = (float)(keep + h);
        double hp = (double)x[i] - keep; /* the step actually representable in float */
        cr_assert(loss(x, n, &lp, user) == 0, "%s: loss failed", what);
        x[i] = (float)(keep - h);
        double hm = keep - (double)x[i];
        cr_assert(loss(x, n, &lm, user) == 0, "%s: loss failed", what);
        x[i] = keep;
        fd[i] = (lp - lm) / (hp + hm);
        if (fabs(fd[i]) > max_fd) max_fd = fabs(fd[i]);
    }
    double scale = max_fd > 1 ? max_fd : 1;
    for (size_t i = 0; i < n; i += step) {
        double e = fabs(fd[i] - (double)grad[i]) / scale;
        if (e > worst) {
            worst = e;
            worst_i = i;
        }
    }
    int ok = worst <= tol;
    if (!ok)
        fprintf(stderr, "%s: gradient of coordinate %zu is %.7g, finite difference %.7g (relative "
                        "error %.3g > %.1g)\n",
                what, worst_i, grad[worst_i], fd[worst_i], worst, tol);
    free(fd);
    return ok;
}
