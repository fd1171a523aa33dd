/* Decoder op pairs: each forward against a plain-C reference, each backward against central
 * finite differences of L = sum(forward(x) * R) for a fixed random R (th_gradcheck).
 * Forward tolerance: 1e-5 relative + 1e-6 absolute (float32, short reductions); gradient checks
 * 1e-2 relative to max(1, max|fd|) at h = 1e-2 (float32 loss differences over ~100 terms). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "harness/harness.h"
#include "nn/ops.h"

static clcdd_tensor upload_i32(const int *v, size_t n) {
    clcdd_tensor t;
    int64_t s[1] = {(int64_t)n};
    TH_OK(clcdd_tensor_create(th_ctx(), CLCDD_I32, 1, s, "i32", &t));
    TH_OK(clcdd_tensor_upload(th_ctx(), &t, v));
    return t;
}

static clcdd_tensor zeros(size_t n) {
    float *z = calloc(n ? n : 1, 4);
    clcdd_tensor t = th_upload(z, n ? n : 1);
    free(z);
    return t;
}

static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* ---- RMSNorm ---------------------------------------------------------------------------- */

typedef struct { size_t rows, d; float *x, *w, *R; int wrt_w; } rms_case;

static void rms_ref(float *y, float *r, const float *x, const float *w, size_t rows, size_t d,
                    float eps) {
    for (size_t i = 0; i < rows; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) s += (double)x[i * d + j] * x[i * d + j];
        double rs = 1.0 / sqrt(s / d + eps);
        if (r) r[i] = (float)rs;
        for (size_t j = 0; j < d; j++) y[i * d + j] = (float)(w[j] * (x[i * d + j] * rs));
    }
}

static int rms_loss(const float *v, size_t n, double *loss, void *user) {
    rms_case *c = user;
    const float *x = c->wrt_w ? c->x : v, *w = c->wrt_w ? v : c->w;
    clcdd_tensor tx = th_upload(x, c->rows * c->d), tw = th_upload(w, c->d);
    clcdd_tensor ty = zeros(c->rows * c->d), tr = zeros(c->rows);
    if (clcdd_rmsnorm_forward(th_ctx(), &ty, &tr, &tx, &tw, c->rows, c->d, 1e-5f)) return 1;
    float *y = th_download(&ty);
    *loss = dot(y, c->R, c->rows * c->d);
    free(y);
    clcdd_tensor_destroy(&tx), clcdd_tensor_destroy(&tw), clcdd_tensor_destroy(&ty),
        clcdd_tensor_destroy(&tr);
    (void)n;
    return 0;
}

Test(nn, rmsnorm) {
    static const size_t shapes[][2] = {{1, 1}, {3, 7}, {5, 64}, {2, 300}, {4, 576}};
    for (size_t s = 0; s < 5; s++) {
        size_t rows = shapes[s][0], d = shapes[s][1], n = rows * d;
        float *x = malloc(n * 4), *w = malloc(d * 4), *R = malloc(n * 4), *want = malloc(n * 4);
        th_rand(x, n, s + 1, -2, 2);
        th_rand(w, d, s + 2, 0.5f, 1.5f);
        th_rand(R, n, s + 3, -1, 1);
        rms_ref(want, NULL, x, w, rows, d, 1e-5f);
        clcdd_tensor tx = th_upload(x, n), tw = th_upload(w, d), ty = zeros(n), tr = zeros(rows);
        TH_OK(clcdd_rmsnorm_forward(th_ctx(), &ty, &tr, &tx, &tw, rows, d, 1e-5f));
        float *y = th_download(&ty);
        cr_expect(th_check_close("rmsnorm forward", y, want, n, 1e-5, 1e-6), "d=%zu", d);
        /* Backward with dy = R: dx (written, then accumulated once more = 2x), dw (accumulated). */
        clcdd_tensor tR = th_upload(R, n), tdx = zeros(n), tdw = zeros(d);
        TH_OK(clcdd_rmsnorm_backward(th_ctx(), &tdx, 0, &tdw, &tR, &tx, &tw, &tr, rows, d));
        float *dx = th_download(&tdx), *dw = th_download(&tdw);
        if (d <= 64) {
            rms_case c = {rows, d, x, w, R, 0};
            cr_expect(th_gradcheck("rmsnorm dx", rms_loss, &c, x, n, dx, 1e-2, 64, 1e-2));
            c.wrt_w = 1;
            cr_expect(th_gradcheck("rmsnorm dw", rms_loss, &c, w, d, dw, 1e-2, 64, 1e-2));
        }
        TH_OK(clcdd_rmsnorm_backward(th_ctx(), &tdx, 1, NULL, &tR, &tx, &tw, &tr, rows, d));
        float *dx2 = th_download(&tdx);
        for (size_t i = 0; i < n; i++) dx[i] *= 2;
        cr_expect(th_check_close("rmsnorm dx accumulate", dx2, dx, n, 1e-6, 1e-7));
        clcdd_tensor_destroy(&tx), clcdd_tensor_destroy(&tw), clcdd_tensor_destroy(&ty);
        clcdd_tensor_destroy(&tr), clcdd_tensor_destroy(&tR), clcdd_tensor_destroy(&tdx);
        clcdd_tensor_destroy(&tdw);
        free(x), free(w), free(R), free(want), free(y), free(dx), free(dw), free(dx2);
    }
}

/* ---- RoPE + head split/merge --------------------------------------------------------------- */

static void rope_ref(float *out, const float *in, const int *pos, const float *inv_freq,
                     size_t B, size_t T, size_t H, size_t hd, int mode) {
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++)
            for (size_t h = 0; h < H; h++) {
                const float *src = in + ((b * T + t) * H + h) * hd;
                float *dst = out + ((b * H + h) * T + t) * hd;
                for (size_t j = 0; j < hd / 2; j++) {
                    size_t i0 = mode == 2 ? 2 * j : j, i1 = mode == 2 ? 2 * j + 1 : j + hd / 2;
                    float ang = (float)pos[b * T + t] * inv_freq[j];
                    double c = mode ? cos(ang) : 1, s = mode ? sin(ang) : 0;
                    dst[i0] = (float)(src[i0] * c - src[i1] * s);
                    dst[i1] = (float)(src[i1] * c + src[i0] * s);
                }
            }
}

typedef struct { size_t B, T, H, hd; int mode; clcdd_tensor *pos, *freq; float *R; } rope_case;

static int rope_loss(const float *x, size_t n, double *loss, void *user) {
    rope_case *c = user;
    clcdd_tensor tx = th_upload(x, n), ty = zeros(n);
    if (clcdd_split_heads_rope(th_ctx(), &ty, &tx, c->pos, c->freq, NULL, c->B, c->T, c->H, c->hd,
                               (clcdd_rope_mode)c->mode))
        return 1;
    float *y = th_download(&ty);
    *loss = dot(y, c->R, n);
    free(y);
    clcdd_tensor_destroy(&tx), clcdd_tensor_destroy(&ty);
    return 0;
}

Test(nn, rope_split_merge) {
    size_t B = 2, T = 5, H = 3, hd = 8, n = B * T * H * hd;
    int pos[10] = {0, 1, 2, 3, 4, 20, 21, 22, 1000, 4095};
    float freq[4];
    for (size_t j = 0; j < hd / 2; j++) freq[j] = powf(10000.0f, -2.0f * j / hd);
    clcdd_tensor tpos = upload_i32(pos, B * T), tfreq = th_upload(freq, hd / 2);
    float *x = malloc(n * 4), *want = malloc(n * 4), *R = malloc(n * 4);
    th_rand(x, n, 77, -1, 1);
    th_rand(R, n, 78, -1, 1);
    clcdd_rope_cs table;
    TH_OK(clcdd_rope_cs_create(th_ctx(), &tfreq, hd / 2, 1001, &table));
    for (int mode = 0; mode < 3; mode++) {
      for (int use = 0; use < 2; use++) {
        /* use 1: the model's cos/sin table for positions < 1001 (4095 is computed in place) */
        const clcdd_rope_cs *cs = use ? &table : NULL;
        rope_ref(want, x, pos, freq, B, T, H, hd, mode);
        clcdd_tensor tx = th_upload(x, n), ty = zeros(n), tz = zeros(n);
        TH_OK(clcdd_split_heads_rope(th_ctx(), &ty, &tx, &tpos, &tfreq, cs, B, T, H, hd,
                                     (clcdd_rope_mode)mode));
        float *y = th_download(&ty);
        /* Angles up to 4095 rad: device sincos vs double cos of the same float angle, 4 ulp. */
        cr_expect(th_check_close("rope forward", y, want, n, 1e-5, 2e-6), "mode %d table %d", mode, use);
        /* merge with sign -1 undoes split: the backward of a rotation is its inverse. */
        TH_OK(clcdd_merge_heads_rope(th_ctx(), &tz, &ty, &tpos, &tfreq, cs, B, T, H, hd,
                                     (clcdd_rope_mode)mode, -1.0f));
        float *z = th_download(&tz);
        cr_expect(th_check_close("rope merge(split(x)) = x", z, x, n, 1e-5, 2e-6), "mode %d table %d", mode, use);
        /* Gradient: dL/dx = merge(R, sign -1). */
        clcdd_tensor tR = th_upload(R, n);
        TH_OK(clcdd_merge_heads_rope(th_ctx(), &tz, &tR, &tpos, &tfreq, cs, B, T, H, hd,
                                     (clcdd_rope_mode)mode, -1.0f));
        float *g = th_download(&tz);
        rope_case c = {B, T, H, hd, mode, &tpos, &tfreq, R};
        cr_expect(th_gradcheck("rope backward", rope_loss, &c, x, n, g, 1e-2, 60, 1e-2),
                  "mode %d table %d", mode, use);
        clcdd_tensor_destroy(&tx), clcdd_tensor_destroy(&ty), clcdd_tensor_destroy(&tz),
            clcdd_tensor_destroy(&tR);
        free(y), free(z), free(g);
      }
    }
    clcdd_rope_cs_destroy(&table);
    clcdd_tensor_destroy(&tpos), clcdd_tensor_destroy(&tfreq);
    free(x), free(want), free(R);
}

/* ---- masked softmax ------------------------------------------------------------------------ */

static void softmax_ref(float *P, const float *S, size_t B, size_t H, size_t Tq, size_t Tk,
                        size_t q_off, size_t window, const int *len, float scale) {
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < H; h++)
            for (size_t t = 0; t < Tq; t++) {
                size_t r = (b * H + h) * Tq + t, q = t + q_off;
                double m = -INFINITY, sum = 0;
                for (size_t u = 0; u < Tk; u++) {
                    int ok = u <= q && u < (size_t)len[b] && (window == 0 || u + window > q);
                    if (ok && scale * S[r * Tk + u] > m) m = scale * S[r * Tk + u];
                }
                for (size_t u = 0; u < Tk; u++) {
                    int ok = u <= q && u < (size_t)len[b] && (window == 0 || u + window > q);
                    double e = ok ? exp(scale * S[r * Tk + u] - m) : 0;
                    P[r * Tk + u] = (float)e;
                    sum += e;
                }
                for (size_t u = 0; u < Tk; u++) P[r * Tk + u] = (float)(P[r * Tk + u] / sum);
            }
}

typedef struct { size_t B, H, Tq, Tk, q_off, window; clcdd_tensor *len; float scale; float *R; } sm_case;

static int sm_loss(const float *x, size_t n, double *loss, void *user) {
    sm_case *c = user;
    clcdd_tensor t = th_upload(x, n);
    if (clcdd_softmax_forward(th_ctx(), &t, c->B, c->H, c->Tq, c->Tk, c->q_off, c->window, c->len,
                              c->scale))
        return 1;
    float *p = th_download(&t);
    *loss = dot(p, c->R, n);
    free(p);
    clcdd_tensor_destroy(&t);
    return 0;
}

Test(nn, attention_softmax) {
    static const struct { size_t B, H, Tq, Tk, q_off, window; int len[2]; } cases[] = {
        {1, 1, 1, 1, 0, 0, {1, 1}},     {2, 3, 6, 6, 0, 0, {6, 4}},
        {2, 2, 5, 9, 4, 0, {9, 7}},     {1, 2, 7, 7, 0, 3, {7, 7}},
        {2, 1, 3, 300, 297, 0, {300, 250}},
    };
    for (size_t ci = 0; ci < 5; ci++) {
        size_t B = cases[ci].B, H = cases[ci].H, Tq = cases[ci].Tq, Tk = cases[ci].Tk;
        size_t n = B * H * Tq * Tk;
        float scale = 0.35f;
        float *S = malloc(n * 4), *want = malloc(n * 4), *R = malloc(n * 4);
        th_rand(S, n, 90 + ci, -3, 3);
        th_rand(R, n, 190 + ci, -1, 1);
        softmax_ref(want, S, B, H, Tq, Tk, cases[ci].q_off, cases[ci].window, cases[ci].len, scale);
        clcdd_tensor tlen = upload_i32(cases[ci].len, B), tS = th_upload(S, n);
        TH_OK(clcdd_softmax_forward(th_ctx(), &tS, B, H, Tq, Tk, cases[ci].q_off, cases[ci].window,
                                    &tlen, scale));
        float *P = th_download(&tS);
        cr_expect(th_check_close("softmax forward", P, want, n, 1e-5, 1e-7), "case %zu", ci);
        clcdd_tensor tR = th_upload(R, n);
        TH_OK(clcdd_softmax_backward(th_ctx(), &tR, &tS, B * H * Tq, Tk, scale));
        float *g = th_download(&tR);
        if (n <= 400) {
            sm_case c = {B, H, Tq, Tk, cases[ci].q_off, cases[ci].window, &tlen, scale, R};
            cr_expect(th_gradcheck("softmax backward", sm_loss, &c, S, n, g, 1e-2, 80, 1e-2),
                      "case %zu", ci);
        }
        clcdd_tensor_destroy(&tlen), clcdd_tensor_destroy(&tS), clcdd_tensor_destroy(&tR);
        free(S), free(want), free(R), free(P), free(g);
    }
}

/* ---- SwiGLU -------------------------------------------------------------------------------- */

typedef struct { size_t n; float *g, *u, *R; int wrt_u; } sw_case;

static int sw_loss(const float *v, size_t n, double *loss, void *user) {
    sw_case *c = user;
    clcdd_tensor tg = th_upload(c->wrt_u ? c->g : v, n), tu = th_upload(c->wrt_u ? v : c->u, n);
    clcdd_tensor th = zeros(n);
    if (clcdd_swiglu_forward(th_ctx(), &th, &tg, &tu, n)) return 1;
    float *h = th_download(&th);
    *loss = dot(h, c->R, n);
    free(h);
    clcdd_tensor_destroy(&tg), clcdd_tensor_destroy(&tu), clcdd_tensor_destroy(&th);
    return 0;
}

Test(nn, swiglu) {
    for (size_t s = 0; s < th_n_sizes && th_sizes[s] <= 65537; s++) {
        size_t n = th_sizes[s];
        float *g = malloc(n * 4), *u = malloc(n * 4), *R = malloc(n * 4), *want = malloc(n * 4);
        th_rand(g, n, s + 11, -6, 6);
        th_rand(u, n, s + 12, -2, 2);
        th_rand(R, n, s + 13, -1, 1);
        for (size_t i = 0; i < n; i++) want[i] = (float)(g[i] / (1 + exp(-(double)g[i])) * u[i]);
        clcdd_tensor tg = th_upload(g, n), tu = th_upload(u, n), th = zeros(n);
        TH_OK(clcdd_swiglu_forward(th_ctx(), &th, &tg, &tu, n));
        float *h = th_download(&th);
        cr_expect(th_check_close("swiglu forward", h, want, n, 1e-5, 1e-6), "n=%zu", n);
        clcdd_tensor tR = th_upload(R, n), tdg = zeros(n), tdu = zeros(n);
        TH_OK(clcdd_swiglu_backward(th_ctx(), &tdg, &tdu, &tR, &tg, &tu, n));
        float *dg = th_download(&tdg), *du = th_download(&tdu);
        if (n <= 257) {
            sw_case c = {n, g, u, R, 0};
            cr_expect(th_gradcheck("swiglu dgate", sw_loss, &c, g, n, dg, 1e-2, 64, 1e-2));
            c.wrt_u = 1;
            cr_expect(th_gradcheck("swiglu dup", sw_loss, &c, u, n, du, 1e-2, 64, 1e-2));
        }
        clcdd_tensor_destroy(&tg), clcdd_tensor_destroy(&tu), clcdd_tensor_destroy(&th);
        clcdd_tensor_destroy(&tR), clcdd_tensor_destroy(&tdg), clcdd_tensor_destroy(&tdu);
        free(g), free(u), free(R), free(want), free(h), free(dg), free(du);
    }
}

/* ---- cross-entropy ------------------------------------------------------------------------- */

Test(nn, cross_entropy) {
    static const size_t shapes[][2] = {{1, 1}, {4, 7}, {3, 264}, {5, 49152}};
    for (size_t s = 0; s < 4; s++) {
        size_t rows = shapes[s][0], V = shapes[s][1], n = rows * V;
        float *x = malloc(n * 4), *wantg = malloc(n * 4), *wantl = malloc(rows * 4);
        int *tgt = malloc(rows * sizeof(int));
        th_rand(x, n, s + 5, -8, 8);
        for (size_t r = 0; r < rows; r++) tgt[r] = (r == 1) ? -1 : (int)((r * 7919) % V);
        float scale = 1.0f / 3;
        for (size_t r = 0; r < rows; r++) {
            double m = -INFINITY, sum = 0;
            for (size_t v = 0; v < V; v++) m = fmax(m, x[r * V + v]);
            for (size_t v = 0; v < V; v++) sum += exp(x[r * V + v] - m);
            double lse = m + log(sum);
            wantl[r] = tgt[r] < 0 ? 0 : (float)(lse - x[r * V + tgt[r]]);
            for (size_t v = 0; v < V; v++)
                wantg[r * V + v] = tgt[r] < 0 ? 0
                    : (float)((exp(x[r * V + v] - lse) - (v == (size_t)tgt[r])) * scale);
        }
        clcdd_tensor tx = th_upload(x, n), tl = zeros(rows), tt = upload_i32(tgt, rows);
        TH_OK(clcdd_cross_entropy(th_ctx(), &tx, &tl, &tt, rows, V, scale, 0));
        float *l = th_download(&tl), *same = th_download(&tx);
        cr_expect(th_check_close("cross-entropy loss", l, wantl, rows, 1e-5, 1e-5), "V=%zu", V);
        cr_expect(memcmp(same, x, n * 4) == 0, "write_grad 0 leaves the logits alone");
        TH_OK(clcdd_cross_entropy(th_ctx(), &tx, &tl, &tt, rows, V, scale, 1));
        float *g = th_download(&tx);
        cr_expect(th_check_close("cross-entropy gradient", g, wantg, n, 1e-4, 1e-7), "V=%zu", V);
        clcdd_tensor_destroy(&tx), clcdd_tensor_destroy(&tl), clcdd_tensor_destroy(&tt);
        free(x), free(wantg), free(wantl), free(tgt), free(l), free(same), free(g);
    }
}
