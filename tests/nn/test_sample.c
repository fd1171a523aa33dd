/* Next-token choice: temperature 0 is the argmax; top-k 1 is the argmax at any temperature; the
 * repetition penalty changes the choice the way HF's does; the same seed repeats; and sampled
 * frequencies follow softmax(logits / T) restricted by top-k / top-p (20000 draws, each frequency
 * within 0.015 of its probability: > 4 standard deviations for these probabilities). */
#include <math.h>
#include <string.h>

#include <criterion/criterion.h>

#include "nn/sample.h"

static int32_t pick(const float *logits, size_t V, const int32_t *seq, size_t len,
                    clcdd_sampling s, uint64_t *rng) {
    float row[16];
    clcdd_sample_cand buf[16];
    memcpy(row, logits, V * sizeof *row);
    return clcdd_sample_token(row, V, seq, len, &s, rng, buf);
}

Test(sample, greedy_topk_penalty_seed) {
    const float lg[5] = {1.0f, 3.0f, 2.5f, -1.0f, 0.0f};
    uint64_t rng = 1;
    clcdd_sampling g = clcdd_sampling_greedy();
    cr_expect(pick(lg, 5, NULL, 0, g, &rng) == 1);
    clcdd_sampling k1 = g;
    k1.temperature = 5.0f, k1.top_k = 1;
    for (int i = 0; i < 50; i++) cr_expect(pick(lg, 5, NULL, 0, k1, &rng) == 1);
    /* penalty 1.5 on token 1: 3.0 / 1.5 = 2.0 < 2.5, so token 2 wins */
    clcdd_sampling pen = g;
    pen.repetition_penalty = 1.5f;
    int32_t seen[2] = {1, 1};
    cr_expect(pick(lg, 5, seen, 2, pen, &rng) == 2);
    /* negative logits are multiplied: token 3 (-1) becomes -1.5, still not chosen */
    clcdd_sampling t = g;
    t.temperature = 1.0f;
    uint64_t a = 77, b = 77;
    for (int i = 0; i < 100; i++) cr_expect(pick(lg, 5, NULL, 0, t, &a) == pick(lg, 5, NULL, 0, t, &b));
}

static void frequencies(clcdd_sampling s, const double *want) {
    const float lg[5] = {1.0f, 3.0f, 2.5f, -1.0f, 0.0f};
    uint64_t rng = 12345;
    int count[5] = {0};
    const int n = 20000;
    for (int i = 0; i < n; i++) count[pick(lg, 5, NULL, 0, s, &rng)]++;
    for (int v = 0; v < 5; v++)
        cr_expect(fabs((double)count[v] / n - want[v]) < 0.015, "token %d: %.4f vs %.4f", v,
                  (double)count[v] / n, want[v]);
}

Test(sample, sampled_frequencies_follow_the_distribution) {
    const double lg[5] = {1.0, 3.0, 2.5, -1.0, 0.0};
    double p[5], z = 0;
    clcdd_sampling s = clcdd_sampling_greedy();
    s.temperature = 0.7f;
    for (int v = 0; v < 5; v++) z += p[v] = exp(lg[v] / 0.7);
    for (int v = 0; v < 5; v++) p[v] /= z;
    frequencies(s, p);
    /* top-k 2: only tokens 1 and 2, renormalised */
    s.top_k = 2;
    double q[5] = {0, p[1] / (p[1] + p[2]), p[2] / (p[1] + p[2]), 0, 0};
    frequencies(s, q);
    /* top-p 0.5 with T 0.7: token 1 alone has p[1] = 0.62 >= 0.5 */
    s.top_k = 0;
    s.top_p = 0.5f;
    double r[5] = {0, 1, 0, 0, 0};
    frequencies(s, r);
}
