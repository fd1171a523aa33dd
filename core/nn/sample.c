/* Choosing the next token from one row of logits (HF semantics). */
#include "nn/sample.h"

#include <math.h>
#include <stdlib.h>

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}



static int by_prob_desc(const void *a, const void *b) {
    const clcdd_sample_cand *x = a, *y = b;
    if (x->p != y->p) return x->p > y->p ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

int32_t clcdd_sample_token(float *row, size_t V, const int32_t *seq, size_t len,
                          const clcdd_sampling *s, uint64_t *rng, clcdd_sample_cand *buf) {
    if (s->repetition_penalty != 1.0f)
        for (size_t i = 0; i < len; i++) {
            int32_t id = seq[i];
            if (id < 0 || (size_t)id >= V) continue;
            float *x = &row[id];
            /* each id once: mark by checking earlier occurrences */
            int seen = 0;
            for (size_t j = 0; j < i && !seen; j++) seen = seq[j] == id;
            if (!seen) *x = *x > 0 ? *x / s->repetition_penalty : *x * s->repetition_penalty;
        }
    size_t best = 0;
    for (size_t v = 1; v < V; v++)
        if (row[v] > row[best]) best = v;
    if (!(s->temperature > 0)) return (int32_t)best;
    double mx = row[best], sum = 0;
    for (size_t v = 0; v < V; v++) {
        buf[v].p = (float)exp(((double)row[v] - mx) / s->temperature);
        buf[v].id = (int32_t)v;
        sum += buf[v].p;
    }
    size_t keep = V;
    if (s->top_k > 0 || s->top_p < 1.0f) {
        qsort(buf, V, sizeof *buf, by_prob_desc);
        if (s->top_k > 0 && s->top_k < keep) keep = s->top_k;
        if (s->top_p < 1.0f) {
            double c = 0, tot = 0;
            for (size_t i = 0; i < keep; i++) tot += buf[i].p;
            for (size_t i = 0; i < keep; i++) {
                c += buf[i].p / tot;
                if (c >= s->top_p) {
                    keep = i + 1;
                    break;
                }
            }
        }
        sum = 0;
        for (size_t i = 0; i < keep; i++) sum += buf[i].p;
    }
    double u = (double)(splitmix(rng) >> 11) / 9007199254740992.0 * sum, c = 0;
    for (size_t i = 0; i < keep; i++) {
        c += buf[i].p;
        if (u < c) return buf[i].id;
    }
    return buf[keep - 1].id;
}

