/* Fixed-order reductions: against a double-precision host sum (tolerance from the float error
 * bound), exactly against a host float emulation of the documented order, and bit-identical
 * across repeated runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness/harness.h"
#include "nn/basic.h"

/* Work-item l's share of [begin, end): every wg-th element, or (contig, CPU devices) the l-th
 * contiguous slice. */
static float lane(const float *x, size_t begin, size_t end, size_t l, size_t wg, int sq, int contig) {
    float a = 0;
    if (contig) {
        size_t per = (end - begin + wg - 1) / wg;
        size_t lo = begin + l * per < end ? begin + l * per : end;
        size_t hi = lo + per < end ? lo + per : end;
        for (size_t i = lo; i < hi; i++) a += sq ? x[i] * x[i] : x[i];
    } else {
        for (size_t i = begin + l; i < end; i += wg) a += sq ? x[i] * x[i] : x[i];
    }
    return a;
}

/* The documented order of kernels/reduce.cl, computed on the host in float. */
static float emulate(const float *x, size_t n, int sq, size_t groups, size_t wg, size_t chunk,
                     int contig) {
    float *partial = calloc(groups, sizeof(float)), *acc = calloc(wg, sizeof(float));
    for (size_t g = 0; g < groups; g++) {
        size_t begin = g * chunk, end = begin + chunk < n ? begin + chunk : n;
        for (size_t l = 0; l < wg; l++) acc[l] = lane(x, begin, end, l, wg, sq, contig);
        for (size_t s = wg / 2; s > 0; s /= 2)
            for (size_t l = 0; l < s; l++) acc[l] += acc[l + s];
        partial[g] = acc[0];
    }
    for (size_t l = 0; l < wg; l++) acc[l] = lane(partial, 0, groups, l, wg, 0, contig);
    for (size_t s = wg / 2; s > 0; s /= 2)
        for (size_t l = 0; l < s; l++) acc[l] += acc[l + s];
    float r = acc[0];
    free(partial);
    free(acc);
    return r;
}

Test(ops, sum_and_sumsq) {
    clcdd_ctx *ctx = th_ctx();
    for (size_t s = 0; s < th_n_sizes; s++) {
        size_t n = th_sizes[s];
        float *x = malloc(n * 4);
        th_rand(x, n, 40 + s, -1, 1);
        clcdd_tensor tx = th_upload(x, n), out;
        int64_t one[1] = {1};
        TH_OK(clcdd_tensor_create(ctx, CLCDD_F32, 1, one, "sum", &out));
        size_t groups, wg, chunk;
        clcdd_reduce_geometry(ctx, n, &groups, &wg, &chunk);
        for (int sq = 0; sq < 2; sq++) {
            double ref = 0, absum = 0;
            for (size_t i = 0; i < n; i++) {
                double v = sq ? (double)x[i] * x[i] : x[i];
                ref += v;
                absum += fabs(v);
            }
            float got = 0, again = 0;
            TH_OK(sq ? clcdd_sumsq(ctx, &out, &tx) : clcdd_sum(ctx, &out, &tx));
            TH_OK(clcdd_tensor_download(ctx, &out, &got));
            TH_OK(sq ? clcdd_sumsq(ctx, &out, &tx) : clcdd_sum(ctx, &out, &tx));
            TH_OK(clcdd_tensor_download(ctx, &out, &again));
            /* Float summation error bound: depth of the tree/loop * eps * sum|x|; the depth here
             * is at most chunk/wg + log2(wg) + groups/wg + log2(wg) < 2^12 for these sizes. */
            double bound = 4096 * 0x1p-24 * absum + 1e-30;
            cr_expect(fabs(got - ref) <= bound, "%s n=%zu: %.9g vs %.9g (bound %.3g)",
                      sq ? "sumsq" : "sum", n, got, ref, bound);
            cr_expect(memcmp(&got, &again, 4) == 0, "%s n=%zu is not bit-identical across runs",
                      sq ? "sumsq" : "sum", n);
            /* The host emulation uses separate multiply and add; the device may contract
             * x*x + acc into an fma for sumsq, so only sum is held to bit equality. */
            float emu = emulate(x, n, sq, groups, wg, chunk, clcdd_ctx_device(ctx)->is_cpu);
            if (!sq)
                cr_expect(memcmp(&got, &emu, 4) == 0, "sum n=%zu: %.9g, documented order gives %.9g",
                          n, got, emu);
            else
                cr_expect(fabs(got - emu) <= 1e-5 * fabs(emu) + 1e-30);
        }
        clcdd_tensor_destroy(&tx);
        clcdd_tensor_destroy(&out);
        free(x);
    }
}
