/* Philox4x32-10 random fills against a host implementation of the same generator, plus the
 * known-answer vectors of the Random123 distribution and distribution statistics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness/harness.h"
#include "nn/basic.h"

static void philox(uint32_t ctr[4], uint32_t key[2]) {
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * ctr[0], p1 = (uint64_t)0xCD9E8D57u * ctr[2];
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ ctr[1] ^ k0, n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ ctr[3] ^ k1, n3 = (uint32_t)p0;
        ctr[0] = n0, ctr[1] = n1, ctr[2] = n2, ctr[3] = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
}

Test(ops, philox_known_answer) {
    /* Random123 kat_vectors: philox4x32 10 rounds, counter = key = 0. */
    uint32_t c[4] = {0, 0, 0, 0}, k[2] = {0, 0};
    philox(c, k);
    cr_expect(c[0] == 0x6627e8d5u && c[1] == 0xe169c58du && c[2] == 0xbc57ac4cu &&
              c[3] == 0x9b00dbd8u, "host Philox disagrees with the published vector");
}

Test(ops, rng_uniform_matches_host) {
    clcdd_ctx *ctx = th_ctx();
    size_t n = 4099;
    uint64_t seed = 0x123456789abcdefULL, counter = 7;
    float *want = malloc(n * 4), *zero = calloc(n, 4);
    for (size_t i = 0; i < n; i++) {
        uint64_t e = counter + i, b = e / 4;
        uint32_t c[4] = {(uint32_t)b, (uint32_t)(b >> 32), 0, 0};
        uint32_t k[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
        philox(c, k);
        want[i] = -2.0f + 4.0f * ((float)(c[e % 4] >> 8) * (1.0f / 16777216.0f));
    }
    clcdd_tensor t = th_upload(zero, n);
    TH_OK(clcdd_rng_uniform(ctx, &t, seed, counter, -2.0f, 2.0f));
    float *got = th_download(&t);
    cr_expect(th_check_close("rng_uniform", got, want, n, 1e-7, 1e-7));
    clcdd_tensor_destroy(&t);
    free(want), free(zero), free(got);
}

Test(ops, rng_normal_matches_host_and_statistics) {
    clcdd_ctx *ctx = th_ctx();
    size_t n = 200003;
    uint64_t seed = 42;
    float *want = malloc(n * 4), *zero = calloc(n, 4);
    for (size_t i = 0; i < n; i++) {
        uint64_t b = i / 2;
        uint32_t c[4] = {(uint32_t)b, (uint32_t)(b >> 32), 0, 0};
        uint32_t k[2] = {(uint32_t)seed, 0};
        philox(c, k);
        uint32_t ua = i % 2 ? c[2] : c[0], ub = i % 2 ? c[3] : c[1];
        double a = ((ua >> 8) + 1) / 16777216.0, bb = (ub >> 8) / 16777216.0;
        want[i] = (float)(1.5 + 0.5 * sqrt(-2 * log(a)) * cos(6.283185307179586 * bb));
    }
    clcdd_tensor t = th_upload(zero, n);
    TH_OK(clcdd_rng_normal(ctx, &t, seed, 0, 1.5f, 0.5f));
    float *got = th_download(&t);
    /* Device log/cos are accurate to a few ulp (OpenCL 1.2: 3-4 ulp); values reach |z| ~ 5. */
    cr_expect(th_check_close("rng_normal", got, want, n, 1e-5, 1e-5));
    double mean = 0, var = 0;
    for (size_t i = 0; i < n; i++) mean += got[i];
    mean /= n;
    for (size_t i = 0; i < n; i++) var += (got[i] - mean) * (got[i] - mean);
    var /= n;
    /* Standard errors: mean 0.5/sqrt(n) = 0.0011, variance ~ 0.25*sqrt(2/n) = 0.0008. */
    cr_expect(fabs(mean - 1.5) < 0.006, "mean %.5f", mean);
    cr_expect(fabs(var - 0.25) < 0.005, "variance %.5f", var);
    clcdd_tensor_destroy(&t);
    free(want), free(zero), free(got);
}
