/* LCDD (ALGORITHMS.md §3): masked weight deltas W_eff = W0 + (r c^T) * (W - W0) with binary masks
 * m = 1[theta > 0], straight-through gradients, the theta step with the dual penalty, and the
 * dual-variable update, all on the device.
 *
 * Column masks may be "expanded": o_proj's columns (H*hd) take the attn_v mask (H_kv*hd) of their
 * kv head: column j -> ((j / hd) / G) * hd + j % hd. expand_hd = 0 means no expansion.
 * A NULL-like mask is passed as has_r / has_c = 0 (treated as all ones). */

inline uint col_mask_index(uint j, uint expand_hd, uint G) {
    return expand_hd ? ((j / expand_hd) / G) * expand_hd + j % expand_hd : j;
}

__kernel void lcdd_hard_mask(__global float *m, __global const float *theta, const ulong n) {
    size_t i = get_global_id(0);
    if (i < n) m[i] = theta[i] > 0.0f ? 1.0f : 0.0f;
}

/* weff (rows, cols) = w0 + r_i c_j (w - w0). */
__kernel void lcdd_masked_weight(__global float *weff, const ulong e_off, __global const float *w0,
                                 const ulong w0_off, __global const float *w, const ulong w_off,
                                 __global const float *m, const ulong r_off, const int has_r,
                                 const ulong c_off, const int has_c, const uint expand_hd,
                                 const uint G, const uint rows, const uint cols) {
    size_t idx = get_global_id(0);
    if (idx >= (size_t)rows * cols) return;
    uint i = idx / cols, j = idx % cols;
    float r = has_r ? m[r_off + i] : 1.0f;
    float c = has_c ? m[c_off + col_mask_index(j, expand_hd, G)] : 1.0f;
    float a = w0[w0_off + idx];
    weff[e_off + idx] = a + r * c * (w[w_off + idx] - a);
}

/* Given G = dL/dW_eff: dW = r_i c_j G_ij (written), and dm[r_off + i] += sum_j G_ij D_ij c_j.
 * One work-item per row, columns in order. */
__kernel void lcdd_grad_rows(__global float *dw, const ulong dw_off, __global const float *g,
                             const ulong g_off, __global const float *w0, const ulong w0_off,
                             __global const float *w, const ulong w_off,
                             __global const float *m, __global float *dm, const ulong r_off,
                             const int has_r, const ulong c_off, const int has_c,
                             const uint expand_hd, const uint G, const uint rows,
                             const uint cols) {
    size_t i = get_global_id(0);
    if (i >= rows) return;
    float r = has_r ? m[r_off + i] : 1.0f;
    float acc = 0.0f;
    for (uint j = 0; j < cols; j++) {
        size_t idx = (size_t)i * cols + j;
        float c = has_c ? m[c_off + col_mask_index(j, expand_hd, G)] : 1.0f;
        float gij = g[g_off + idx];
        dw[dw_off + idx] = r * c * gij;
        acc += gij * (w[w_off + idx] - w0[w0_off + idx]) * c;
    }
    if (has_r) dm[r_off + i] += acc;
}

/* dm[c_off + k] += sum over the columns j mapped to mask index k (G of them when expanded, in
 * head order) and all rows i (in order) of G_ij D_ij r_i. One work-item per mask index k. */
__kernel void lcdd_grad_cols(__global const float *g, const ulong g_off,
                             __global const float *w0, const ulong w0_off,
                             __global const float *w, const ulong w_off,
                             __global const float *m, __global float *dm, const ulong r_off,
                             const int has_r, const ulong c_off, const uint expand_hd,
                             const uint G, const uint rows, const uint cols, const uint n_mask) {
    size_t k = get_global_id(0);
    if (k >= n_mask) return;
    uint reps = expand_hd ? G : 1;
    float acc = 0.0f;
    for (uint rep = 0; rep < reps; rep++) {
        uint j = expand_hd ? ((k / expand_hd) * G + rep) * expand_hd + k % expand_hd : (uint)k;
        for (uint i = 0; i < rows; i++) {
            size_t idx = (size_t)i * cols + j;
            float r = has_r ? m[r_off + i] : 1.0f;
            acc += g[g_off + idx] * (w[w_off + idx] - w0[w0_off + idx]) * r;
        }
    }
    dm[c_off + k] += acc;
}

/* Dual state layout (floats): 0 lambda, 1 ema, 2 ema count, 3 baseline, 4 budget, 5 last loss,
 * 6 last v, 7 active (set on log steps by the host), 8 flags (bit 0: baseline set). */
#define DS_LAMBDA 0
#define DS_EMA 1
#define DS_COUNT 2
#define DS_BASE 3
#define DS_EPS 4
#define DS_LOSS 5
#define DS_V 6
#define DS_FLAGS 8

/* theta -= lr * (dm + lambda * w_t) * sigmoid'(theta): the straight-through gradient of the task
 * loss plus the penalty lambda * w(t) * sum sigmoid(theta). */
__kernel void lcdd_theta_step(__global float *theta, __global const float *dm, const ulong n,
                              const float lr, __global const float *dual, const float ramp) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    float t = theta[i];
    float s = 1.0f / (1.0f + exp(-t));
    float ds = s * (1.0f - s);
    theta[i] = t - lr * (dm[i] * ds + dual[DS_LAMBDA] * ramp * ds);
}

/* After optimizer step `step` (0-based) with task loss *loss: EMA with bias correction, baseline
 * and budget at the first step >= T_w, then the clipped multiplicative update of lambda. One
 * work-item. */
__kernel void lcdd_dual_update(__global float *dual, __global const float *loss, const int step,
                               const int T_w, const float beta, const float rho,
                               const float lambda_init, const float lambda_min,
                               const float lambda_max, const float eta_grow,
                               const float eta_shrink, const float v_clip) {
    if (get_global_id(0) != 0) return;
    float l = loss[0];
    float k = dual[DS_COUNT] + 1.0f;
    float e = beta * dual[DS_EMA] + (1.0f - beta) * l;
    dual[DS_EMA] = e;
    dual[DS_COUNT] = k;
    dual[DS_LOSS] = l;
    float ehat = e / (1.0f - pow(beta, k));
    if (step < T_w) {
        dual[DS_LAMBDA] = lambda_init;
        return;
    }
    if (!((int)dual[DS_FLAGS] & 1)) {
        dual[DS_BASE] = ehat;
        dual[DS_EPS] = ehat * (1.0f + rho);
        dual[DS_FLAGS] = 1.0f;
        return;
    }
    float eps = dual[DS_EPS];
    float v = clamp((ehat - eps) / eps, -v_clip, v_clip);
    float eta = v < 0.0f ? eta_grow : eta_shrink;
    dual[DS_V] = v;
    dual[DS_LAMBDA] = clamp(dual[DS_LAMBDA] * exp(-eta * v), lambda_min, lambda_max);
}
