/* Masked softmax of attention scores and its backward.
 * S: (B, H, Tq, Tk) rows of length Tk; row r = (b*H + h)*Tq + t.
 * Query t sits at key index t + q_off (q_off = Tk - Tq with a KV cache or a prepended prompt).
 * Key u is allowed iff u <= t + q_off (causal), u > t + q_off - window (window > 0 only) and
 * u < key_len[b] (right padding). P = softmax(scale * S) over allowed keys, 0 elsewhere.
 * One work-group per row, reductions in a fixed tree order. */

inline int allowed(uint u, uint t, uint q_off, uint window, uint len) {
    uint q = t + q_off;
    return u <= q && u < len && (window == 0 || u + window > q);
}

#define TREE(op)                                                                              \
    scratch[l] = acc;                                                                          \
    barrier(CLK_LOCAL_MEM_FENCE);                                                              \
    for (size_t s = wg / 2; s > 0; s /= 2) {                                                   \
        if (l < s) scratch[l] = op(scratch[l], scratch[l + s]);                                \
        barrier(CLK_LOCAL_MEM_FENCE);                                                          \
    }

#define ADD(a, b) ((a) + (b))

__kernel void softmax_fwd(__global float *S, const ulong s_off, const uint H, const uint Tq,
                          const uint Tk, const uint q_off, const uint window,
                          __global const int *key_len, const float scale,
                          __local float *scratch) {
    const size_t r = get_group_id(0), l = get_local_id(0), wg = get_local_size(0);
    const uint t = r % Tq, b = r / ((size_t)H * Tq);
    const uint len = (uint)key_len[b];
    __global float *row = S + s_off + r * Tk;
    float acc = -INFINITY;
    for (uint u = l; u < Tk; u += wg)
        if (allowed(u, t, q_off, window, len)) acc = fmax(acc, scale * row[u]);
    TREE(fmax)
    const float m = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    acc = 0.0f;
    for (uint u = l; u < Tk; u += wg) {
        float e = allowed(u, t, q_off, window, len) ? exp(scale * row[u] - m) : 0.0f;
        row[u] = e;
        acc += e;
    }
    TREE(ADD)
    const float inv = scratch[0] > 0.0f ? 1.0f / scratch[0] : 0.0f;
    for (uint u = l; u < Tk; u += wg) row[u] *= inv;
}

/* In place on dP: dS = scale * P * (dP - sum_u dP_u P_u). */
__kernel void softmax_bwd(__global float *dP, const ulong dp_off, __global const float *P,
                          const ulong p_off, const uint Tk, const float scale,
                          __local float *scratch) {
    const size_t r = get_group_id(0), l = get_local_id(0), wg = get_local_size(0);
    __global float *d = dP + dp_off + r * Tk;
    __global const float *p = P + p_off + r * Tk;
    float acc = 0.0f;
    for (uint u = l; u < Tk; u += wg) acc += d[u] * p[u];
    TREE(ADD)
    const float dot = scratch[0];
    for (uint u = l; u < Tk; u += wg) d[u] = scale * p[u] * (d[u] - dot);
}
