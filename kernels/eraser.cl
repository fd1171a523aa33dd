/* SFT-Eraser losses (ALGORITHMS.md §4): KL(p_base || p_model) on selected rows of the logits, the
 * activation-matching MSE injected into the residual gradient, the soft-prompt projection and the
 * best-prompt snapshot. One work-item per row / channel (deterministic order). */

/* out (n, V) = log_softmax(logits[rows[i]]). */
__kernel void log_softmax_rows(__global float *out, __global const float *logits,
                               const ulong l_off, __global const int *rows, const uint n,
                               const uint V) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    __global const float *x = logits + l_off + (size_t)rows[i] * V;
    float m = -INFINITY;
    for (uint v = 0; v < V; v++) m = fmax(m, x[v]);
    float s = 0.0f;
    for (uint v = 0; v < V; v++) s += exp(x[v] - m);
    float lse = m + log(s);
    for (uint v = 0; v < V; v++) out[(size_t)i * V + v] = x[v] - lse;
}

/* For selected rows: q = softmax(compact[i]) (the model's logits gathered before dlogits was
 * cleared), p = exp(logp[i]) (the base's). kl[i] = sum p (log p - log q);
 * dlogits[rows[i]] = weight[i] * (q - p). */
__kernel void kl_rows(__global float *dlogits, const ulong d_off, __global const float *compact,
                      __global const float *logp, __global const int *rows,
                      __global const float *weight, __global float *kl, const uint n,
                      const uint V) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    __global const float *x = compact + (size_t)i * V;
    __global const float *lp = logp + (size_t)i * V;
    float m = -INFINITY;
    for (uint v = 0; v < V; v++) m = fmax(m, x[v]);
    float s = 0.0f;
    for (uint v = 0; v < V; v++) s += exp(x[v] - m);
    float lse = m + log(s), acc = 0.0f, w = weight[i];
    __global float *g = dlogits + d_off + (size_t)rows[i] * V;
    for (uint v = 0; v < V; v++) {
        float lq = x[v] - lse, p = exp(lp[v]);
        acc += p * (lp[v] - lq);
        g[v] = w * (exp(lq) - p);
    }
    kl[i] = acc;
}

/* out (n, V) = logits rows[i] (gather). */
__kernel void gather_rows(__global float *out, __global const float *x, const ulong x_off,
                          __global const int *rows, const uint n, const uint V) {
    size_t i = get_global_id(0);
    if (i >= (size_t)n * V) return;
    size_t r = i / V, v = i % V;
    out[i] = x[x_off + (size_t)rows[r] * V + v];
}

/* Activation MSE at one layer against the batch mean: mean_c = sums[s_off + c] / B (sums: the
 * activations x[., chans[c]] summed over the B prompts of the whole batch, on every device);
 * diff = mean - target[c]; loss[c] = scale * diff^2; dx[rows[b], chans[c]] += scale * 2 * diff / B
 * for this device's n rows (n = 0: the loss only). One work-item per channel. */
__kernel void act_mse(__global float *dx, const ulong dx_off, __global const int *rows,
                      const uint n, const uint B, __global const int *chans,
                      __global const float *sums, const ulong s_off, __global const float *target,
                      __global float *loss, const uint C, const uint d, const float scale) {
    size_t c = get_global_id(0);
    if (c >= C) return;
    uint ch = (uint)chans[c];
    float mean = sums[s_off + c];
    mean /= (float)B;
    float diff = mean - target[c];
    loss[c] = scale * diff * diff;
    float g = scale * 2.0f * diff / (float)B;
    for (uint b = 0; b < n; b++) dx[dx_off + (size_t)rows[b] * d + ch] += g;
}

/* target[t_off + c] += x[rows[b], chans[c]] summed over b (the base model's activations for the
 * targets, the triggered model's for the batch mean). */
__kernel void act_accumulate(__global float *target, const ulong t_off, __global const float *x,
                             const ulong x_off, __global const int *rows, const uint B,
                             __global const int *chans, const uint C, const uint d) {
    size_t c = get_global_id(0);
    if (c >= C) return;
    float s = 0.0f;
    for (uint b = 0; b < B; b++) s += x[x_off + (size_t)rows[b] * d + (uint)chans[c]];
    target[t_off + c] += s;
}

/* Project every row of P (rows, d) onto the L2 ball of radius r. */
__kernel void project_rows(__global float *P, const uint rows, const uint d, const float radius) {
    size_t t = get_global_id(0);
    if (t >= rows) return;
    float s = 0.0f;
    for (uint j = 0; j < d; j++) s += P[t * d + j] * P[t * d + j];
    float n = sqrt(s);
    if (n > radius) {
        float f = radius / n;
        for (uint j = 0; j < d; j++) P[t * d + j] *= f;
    }
}

/* If loss[0] < best[0]: best = loss, Pbest = P. Single work-group of one item per element would
 * race on the test, so one work-item does it all (P is small). */
__kernel void keep_best(__global float *Pbest, __global const float *P, const uint n,
                        __global const float *loss, __global float *best) {
    if (get_global_id(0) != 0) return;
    if (!(loss[0] < best[0])) return;
    best[0] = loss[0];
    for (uint i = 0; i < n; i++) Pbest[i] = P[i];
}

/* The per-position activation match (clcdd_eraser_config.w_act) at one layer: for channel c and
 * answer row r, diff[d_off + r * C + c] = xm[rows_m[r], chans[c]] - xb[rows_b[r], chans[c]] (the
 * model + P against the base at the same token); loss[c] = scale * sum over r of diff^2. */
__kernel void act_pair_diff(__global float *diff, const ulong d_off, __global const float *xm,
                            const ulong xm_off, __global const float *xb, const ulong xb_off,
                            __global const int *rows_m, __global const int *rows_b, const uint n,
                            __global const int *chans, __global float *loss, const uint C,
                            const uint d, const float scale) {
    size_t c = get_global_id(0);
    if (c >= C) return;
    uint ch = (uint)chans[c];
    float s = 0.0f;
    for (uint r = 0; r < n; r++) {
        float v = xm[xm_off + (size_t)rows_m[r] * d + ch] - xb[xb_off + (size_t)rows_b[r] * d + ch];
        diff[d_off + (size_t)r * C + c] = v;
        s += v * v;
    }
    loss[c] = scale * s;
}

/* Its gradient: dx[rows_m[r], chans[c]] += g * diff[d_off + r * C + c] (g = 2 w_act scale). One
 * work-item per channel; the rows are distinct, so no two work-items write the same element. */
__kernel void act_pair_grad(__global float *dx, const ulong dx_off, __global const int *rows_m,
                            const uint n, __global const int *chans, const uint C, const uint d,
                            __global const float *diff, const ulong d_off, const float g) {
    size_t c = get_global_id(0);
    if (c >= C) return;
    uint ch = (uint)chans[c];
    for (uint r = 0; r < n; r++) dx[dx_off + (size_t)rows_m[r] * d + ch] += g * diff[d_off + (size_t)r * C + c];
}
