#include "ref_decoder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void rmsnorm(float *y, const float *x, const float *w, size_t d, float eps) {
    double s = 0;
    for (size_t j = 0; j < d; j++) s += (double)x[j] * x[j];
    double r = 1.0 / sqrt(s / d + eps);
    for (size_t j = 0; j < d; j++) y[j] = (float)(w[j] * (x[j] * r));
}

/* y (out) = W (out x in) x + b */
static void matvec(float *y, const float *W, const float *x, const float *b, size_t out, size_t in) {
    for (size_t i = 0; i < out; i++) {
        double s = b ? b[i] : 0;
        for (size_t j = 0; j < in; j++) s += (double)W[i * in + j] * x[j];
        y[i] = (float)s;
    }
}

static void rope(float *v, size_t hd, int pos, const float *inv_freq) {
    for (size_t j = 0; j < hd / 2; j++) {
        float ang = (float)pos * inv_freq[j];
        double c = cos(ang), s = sin(ang), a = v[j], b = v[j + hd / 2];
        v[j] = (float)(a * c - b * s);
        v[j + hd / 2] = (float)(b * c + a * s);
    }
}

void ref_forward(const ref_model *m, size_t B, size_t T, const int32_t *ids, const int32_t *lens,
                 const float *prompt, float *hidden, float *logits) {
    const clcdd_hparams *hp = &m->hp;
    size_t d = hp->hidden_size, f = hp->intermediate_size, H = hp->n_heads, Hkv = hp->n_kv_heads;
    size_t hd = hp->head_dim, dq = H * hd, dkv = Hkv * hd, V = hp->vocab_size, N = B * T;
    size_t G = H / Hkv;
    float *x = malloc(N * d * 4), *a = malloc(d * 4), *q = malloc(N * dq * 4);
    float *k = malloc(N * dkv * 4), *v = malloc(N * dkv * 4), *o = malloc(dq * 4);
    float *tmp = malloc((f > d ? f : d) * 4 * 2), *g = malloc(f * 4), *u = malloc(f * 4);
    double *sc = malloc(T * sizeof(double));
    for (size_t r = 0; r < N; r++) {
        const float *src = ids[r] >= 0 ? m->w[CLCDD_ROLE_EMBED][0] + (size_t)ids[r] * d
                                       : prompt + (size_t)(-ids[r] - 1) * d;
        memcpy(x + r * d, src, d * 4);
    }
    if (hidden) memcpy(hidden, x, N * d * 4);
    for (uint32_t l = 0; l < hp->n_layers; l++) {
        for (size_t r = 0; r < N; r++) {
            int pos = (int)(r % T);
            rmsnorm(a, x + r * d, m->w[CLCDD_ROLE_ATTN_NORM][l], d, hp->rms_eps);
            matvec(q + r * dq, m->w[CLCDD_ROLE_Q][l], a, m->w[CLCDD_ROLE_Q_BIAS][l], dq, d);
            matvec(k + r * dkv, m->w[CLCDD_ROLE_K][l], a, m->w[CLCDD_ROLE_K_BIAS][l], dkv, d);
            matvec(v + r * dkv, m->w[CLCDD_ROLE_V][l], a, m->w[CLCDD_ROLE_V_BIAS][l], dkv, d);
            for (size_t h = 0; h < H; h++) {
                if (hp->qk_norm) {
                    memcpy(tmp, q + r * dq + h * hd, hd * 4);
                    rmsnorm(q + r * dq + h * hd, tmp, m->w[CLCDD_ROLE_Q_NORM][l], hd, hp->rms_eps);
                }
                rope(q + r * dq + h * hd, hd, pos, m->inv_freq);
            }
            for (size_t h = 0; h < Hkv; h++) {
                if (hp->qk_norm) {
                    memcpy(tmp, k + r * dkv + h * hd, hd * 4);
                    rmsnorm(k + r * dkv + h * hd, tmp, m->w[CLCDD_ROLE_K_NORM][l], hd, hp->rms_eps);
                }
                rope(k + r * dkv + h * hd, hd, pos, m->inv_freq);
            }
        }
        size_t window = (hp->sliding_window && l >= hp->sliding_window_from_layer) ? hp->sliding_window : 0;
        for (size_t b = 0; b < B; b++)
            for (size_t t = 0; t < T; t++) {
                size_t r = b * T + t;
                for (size_t h = 0; h < H; h++) {
                    size_t kvh = h / G;
                    double mx = -INFINITY, sum = 0;
                    for (size_t s = 0; s < T; s++) {
                        int ok = s <= t && s < (size_t)lens[b] && (!window || s + window > t);
                        double dot = 0;
                        for (size_t j = 0; j < hd; j++)
                            dot += (double)q[r * dq + h * hd + j] * k[(b * T + s) * dkv + kvh * hd + j];
                        sc[s] = ok ? dot / sqrt((double)hd) : -INFINITY;
                        if (sc[s] > mx) mx = sc[s];
                    }
                    for (size_t s = 0; s < T; s++) {
                        sc[s] = sc[s] == -INFINITY ? 0 : exp(sc[s] - mx);
                        sum += sc[s];
                    }
                    for (size_t j = 0; j < hd; j++) {
                        double acc = 0;
                        for (size_t s = 0; s < T; s++) acc += sc[s] / sum * v[(b * T + s) * dkv + kvh * hd + j];
                        o[h * hd + j] = (float)acc;
                    }
                }
                matvec(tmp, m->w[CLCDD_ROLE_O][l], o, m->w[CLCDD_ROLE_O_BIAS][l], d, dq);
                for (size_t j = 0; j < d; j++) tmp[d + j] = x[r * d + j] + tmp[j];
                memcpy(o, tmp + d, d * 4); /* x_mid for this row, kept in o temporarily */
                /* MLP */
                rmsnorm(a, o, m->w[CLCDD_ROLE_FFN_NORM][l], d, hp->rms_eps);
                matvec(g, m->w[CLCDD_ROLE_GATE][l], a, m->w[CLCDD_ROLE_GATE_BIAS][l], f, d);
                matvec(u, m->w[CLCDD_ROLE_UP][l], a, m->w[CLCDD_ROLE_UP_BIAS][l], f, d);
                for (size_t j = 0; j < f; j++) g[j] = (float)(g[j] / (1 + exp(-(double)g[j])) * u[j]);
                matvec(tmp, m->w[CLCDD_ROLE_DOWN][l], g, m->w[CLCDD_ROLE_DOWN_BIAS][l], d, f);
                /* write the new residual into a staging area: rows of later t still need x */
                for (size_t j = 0; j < d; j++) tmp[d + j] = o[j] + tmp[j];
                /* x rows are only read for the same row r (residual) after K/V were computed, so
                 * overwriting row r now is safe. */
                memcpy(x + r * d, tmp + d, d * 4);
            }
        if (hidden) memcpy(hidden + (size_t)(l + 1) * N * d, x, N * d * 4);
    }
    for (size_t r = 0; r < N; r++) {
        rmsnorm(a, x + r * d, m->w[CLCDD_ROLE_FINAL_NORM][0], d, hp->rms_eps);
        const float *head = hp->tie_word_embeddings ? m->w[CLCDD_ROLE_EMBED][0] : m->w[CLCDD_ROLE_LM_HEAD][0];
        matvec(logits + r * V, head, a, NULL, V, d);
    }
    free(x), free(a), free(q), free(k), free(v), free(o), free(tmp), free(g), free(u), free(sc);
}
