/* The finite-difference gradient helper, exercised on a loss whose gradient the device computes
 * with the basic kernels: L(x) = 0.5 * sum(x^2) + 3 * sum(x), dL/dx = x + 3. A deliberately wrong
 * gradient must be caught, so the helper can fail. */
#include <stdlib.h>

#include <criterion/criterion.h>

#include "harness/harness.h"
#include "nn/basic.h"

static int loss_fn(const float *x, size_t n, double *loss, void *user) {
    (void)user;
    clcdd_ctx *ctx = th_ctx();
    clcdd_tensor t = th_upload(x, n), out;
    int64_t one[1] = {1};
    if (clcdd_tensor_create(ctx, CLCDD_F32, 1, one, "loss", &out) != CLCDD_OK) return 1;
    float sq = 0, s = 0;
    if (clcdd_sumsq(ctx, &out, &t) || clcdd_tensor_download(ctx, &out, &sq) ||
        clcdd_sum(ctx, &out, &t) || clcdd_tensor_download(ctx, &out, &s))
        return 1;
    *loss = 0.5 * sq + 3.0 * s;
    clcdd_tensor_destroy(&t);
    clcdd_tensor_destroy(&out);
    return 0;
}

Test(ops, gradcheck_helper) {
    size_t n = 37;
    float *x = malloc(n * 4), *ones = malloc(n * 4);
    th_rand(x, n, 9, -1, 1);
    for (size_t i = 0; i < n; i++) ones[i] = 1;
    clcdd_tensor tx = th_upload(x, n), tg = th_upload(ones, n);
    /* grad = x + 3 computed on the device: g = 3 * ones; g += 1 * x */
    TH_OK(clcdd_scale(th_ctx(), &tg, &tg, 3.0f));
    TH_OK(clcdd_axpy(th_ctx(), &tg, &tx, 1.0f));
    float *g = th_download(&tg);
    /* float32 loss of ~40 with h = 1e-2: truncation error 0 (quadratic), rounding ~ 4e-6/2h. */
    cr_expect(th_gradcheck("0.5|x|^2 + 3 sum x", loss_fn, NULL, x, n, g, 1e-2, n, 2e-3));
    g[5] += 0.05f;
    cr_expect(!th_gradcheck("deliberately wrong gradient", loss_fn, NULL, x, n, g, 1e-2, n, 2e-3),
              "the helper must reject a wrong gradient");
    clcdd_tensor_destroy(&tx);
    clcdd_tensor_destroy(&tg);
    free(x), free(ones), free(g);
}
