/* Element-wise kernels against plain-C references at every harness size. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness/harness.h"
#include "nn/basic.h"

TestSuite(ops, .fini = th_release);

/* Element-wise float ops are exact single operations: the device must match the host exactly,
 * except axpy, which the kernel computes with fma (one rounding); the host reference uses fmaf. */
Test(ops, add) {
    for (size_t s = 0; s < th_n_sizes; s++) {
        size_t n = th_sizes[s];
        float *a = malloc(n * 4), *b = malloc(n * 4), *want = malloc(n * 4);
        th_rand(a, n, 1 + s, -4, 4);
        th_rand(b, n, 100 + s, -4, 4);
        for (size_t i = 0; i < n; i++) want[i] = a[i] + b[i];
        clcdd_tensor ta = th_upload(a, n), tb = th_upload(b, n), ty = th_upload(a, n);
        TH_OK(clcdd_add(th_ctx(), &ty, &ta, &tb));
        float *got = th_download(&ty);
        cr_expect(th_check_close("add", got, want, n, 0, 0), "add differs at n=%zu", n);
        clcdd_tensor_destroy(&ta);
        clcdd_tensor_destroy(&tb);
        clcdd_tensor_destroy(&ty);
        free(a), free(b), free(want), free(got);
    }
}

Test(ops, scale_and_axpy) {
    for (size_t s = 0; s < th_n_sizes; s++) {
        size_t n = th_sizes[s];
        float *x = malloc(n * 4), *y = malloc(n * 4), *w1 = malloc(n * 4), *w2 = malloc(n * 4);
        th_rand(x, n, 7 + s, -3, 3);
        th_rand(y, n, 70 + s, -3, 3);
        for (size_t i = 0; i < n; i++) {
            w1[i] = -0.37f * x[i];
            w2[i] = fmaf(2.5f, x[i], y[i]);
        }
        clcdd_tensor tx = th_upload(x, n), ty = th_upload(y, n), ts = th_upload(y, n);
        TH_OK(clcdd_scale(th_ctx(), &ts, &tx, -0.37f));
        TH_OK(clcdd_axpy(th_ctx(), &ty, &tx, 2.5f));
        float *g1 = th_download(&ts), *g2 = th_download(&ty);
        cr_expect(th_check_close("scale", g1, w1, n, 0, 0), "scale differs at n=%zu", n);
        cr_expect(th_check_close("axpy", g2, w2, n, 0, 0), "axpy differs at n=%zu", n);
        clcdd_tensor_destroy(&tx);
        clcdd_tensor_destroy(&ty);
        clcdd_tensor_destroy(&ts);
        free(x), free(y), free(w1), free(w2), free(g1), free(g2);
    }
}

Test(ops, fill_and_views) {
    size_t n = 1000;
    float *x = malloc(n * 4), *want = malloc(n * 4);
    th_rand(x, n, 3, -1, 1);
    memcpy(want, x, n * 4);
    for (size_t i = 17; i < 17 + 301; i++) want[i] = 2.75f;
    clcdd_tensor t = th_upload(x, n), v;
    int64_t shape[2] = {7, 43};
    TH_OK(clcdd_tensor_view(&t, 17, 2, shape, &v));
    TH_OK(clcdd_tensor_fill(th_ctx(), &v, 2.75f));
    float *got = th_download(&t);
    cr_expect(th_check_close("fill through a view", got, want, n, 0, 0));
    /* A view past the end is refused with a message. */
    int64_t big[1] = {990};
    cr_expect(clcdd_tensor_view(&t, 17, 1, big, &v) == CLCDD_ERR_INVALID_ARGUMENT);
    cr_expect(strstr(clcdd_last_error(), "exceeds") != NULL);
    clcdd_tensor_destroy(&t);
    free(x), free(want), free(got);
}

/* Independent host decoder of IEEE binary16, written from the format definition. */
static float half_to_float_ref(uint16_t h) {
    int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v;
    if (e == 0)
        v = ldexp((double)m, -24);
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexp(1.0 + m / 1024.0, e - 15);
    return (float)(sign ? -v : v);
}

Test(ops, cast_f16_bf16_to_f32) {
    /* Every one of the 65536 bit patterns, so subnormals, infinities and NaNs are all covered. */
    size_t n = 65536;
    uint16_t *bits = malloc(n * 2);
    float *want16 = malloc(n * 4), *wantbf = malloc(n * 4);
    for (size_t i = 0; i < n; i++) {
        bits[i] = (uint16_t)i;
        want16[i] = half_to_float_ref((uint16_t)i);
        uint32_t u = (uint32_t)i << 16;
        memcpy(&wantbf[i], &u, 4);
    }
    clcdd_ctx *ctx = th_ctx();
    int64_t shape[1] = {(int64_t)n};
    clcdd_tensor h, b, y;
    TH_OK(clcdd_tensor_create(ctx, CLCDD_F16, 1, shape, "f16", &h));
    TH_OK(clcdd_tensor_create(ctx, CLCDD_BF16, 1, shape, "bf16", &b));
    TH_OK(clcdd_tensor_create(ctx, CLCDD_F32, 1, shape, "f32", &y));
    TH_OK(clcdd_tensor_upload(ctx, &h, bits));
    TH_OK(clcdd_tensor_upload(ctx, &b, bits));
    for (int pass = 0; pass < 2; pass++) {
        TH_OK(clcdd_tensor_copy(ctx, &y, pass ? &b : &h));
        float *got = th_download(&y);
        const float *want = pass ? wantbf : want16;
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            int same = (isnan(got[i]) && isnan(want[i])) || memcmp(&got[i], &want[i], 4) == 0;
            if (!same && bad++ == 0)
                cr_log_error("%s: bits 0x%04zx -> %g, expected %g", pass ? "bf16" : "f16", i,
                             got[i], want[i]);
        }
        cr_expect(bad == 0, "%zu of %zu %s conversions differ", bad, n, pass ? "bf16" : "f16");
        free(got);
    }
    clcdd_tensor_destroy(&h);
    clcdd_tensor_destroy(&b);
    clcdd_tensor_destroy(&y);
    free(bits), free(want16), free(wantbf);
}
