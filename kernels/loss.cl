/* Token cross-entropy over logits (rows, V). target[row] < 0: row ignored (loss 0, gradient 0).
 * loss[row] = logsumexp(logits_row) - logits_row[target].
 * ce_fwd_bwd also overwrites the logits with their gradient (softmax - onehot) * grad_scale, so
 * the (rows, V) buffer is not needed twice. One work-group per row, fixed-order reductions. */

#define TREE(op)                                                                              \
    scratch[l] = acc;                                                                          \
    barrier(CLK_LOCAL_MEM_FENCE);                                                              \
    for (size_t s = wg / 2; s > 0; s /= 2) {                                                   \
        if (l < s) scratch[l] = op(scratch[l], scratch[l + s]);                                \
        barrier(CLK_LOCAL_MEM_FENCE);                                                          \
    }
#define ADD(a, b) ((a) + (b))

__kernel void ce_fwd_bwd(__global float *logits, const ulong l_off, __global float *loss, const ulong loss_off,
                         __global const int *target, const uint V, const float grad_scale,
                         const int write_grad, __local float *scratch) {
    const size_t r = get_group_id(0), l = get_local_id(0), wg = get_local_size(0);
    __global float *x = logits + l_off + r * V;
    const int tgt = target[r];
    float acc = -INFINITY;
    for (uint v = l; v < V; v += wg) acc = fmax(acc, x[v]);
    TREE(fmax)
    const float m = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    acc = 0.0f;
    for (uint v = l; v < V; v += wg) acc += exp(x[v] - m);
    TREE(ADD)
    const float sum = scratch[0];
    const float lse = m + log(sum);
    if (l == 0) loss[loss_off + r] = (tgt >= 0 && (uint)tgt < V) ? lse - x[tgt] : 0.0f;
    barrier(CLK_GLOBAL_MEM_FENCE);
    if (!write_grad) return;
    const float inv = 1.0f / sum;
    for (uint v = l; v < V; v += wg) {
        float g = (tgt >= 0 && (uint)tgt < V) ? exp(x[v] - m) * inv - (v == (uint)tgt ? 1.0f : 0.0f) : 0.0f;
        x[v] = g * grad_scale;
    }
}

/* KL(teacher || model) over logits (rows, V): p = softmax(teacher row), q = softmax(logits row).
 * target[row] < 0: row ignored (loss 0, gradient 0); otherwise loss[row] = sum_v p (log p - log q)
 * and, with write_grad, the logits are overwritten with their gradient (q - p) * grad_scale. The
 * teacher's row is read in place (teacher offset t_off). One work-group per row, fixed-order
 * reductions, as ce_fwd_bwd. */
__kernel void kl_fwd_bwd(__global float *logits, const ulong l_off, __global const float *teacher,
                         const ulong t_off, __global float *loss, const ulong loss_off,
                         __global const int *target, const uint V, const float grad_scale,
                         const int write_grad, __local float *scratch) {
    const size_t r = get_group_id(0), l = get_local_id(0), wg = get_local_size(0);
    __global float *x = logits + l_off + r * V;
    __global const float *t = teacher + t_off + r * V;
    const int on = target[r] >= 0;
    float acc = -INFINITY;
    for (uint v = l; v < V; v += wg) acc = fmax(acc, x[v]);
    TREE(fmax)
    const float mx = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    acc = -INFINITY;
    for (uint v = l; v < V; v += wg) acc = fmax(acc, t[v]);
    TREE(fmax)
    const float mt = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    acc = 0.0f;
    for (uint v = l; v < V; v += wg) acc += exp(x[v] - mx);
    TREE(ADD)
    const float lse_x = mx + log(scratch[0]);
    barrier(CLK_LOCAL_MEM_FENCE);
    acc = 0.0f;
    for (uint v = l; v < V; v += wg) acc += exp(t[v] - mt);
    TREE(ADD)
    const float lse_t = mt + log(scratch[0]);
    barrier(CLK_LOCAL_MEM_FENCE);
    acc = 0.0f;
    for (uint v = l; v < V; v += wg) {
        float lp = t[v] - lse_t;
        acc += exp(lp) * (lp - (x[v] - lse_x));
    }
    TREE(ADD)
    if (l == 0) loss[loss_off + r] = on ? scratch[0] : 0.0f;
    barrier(CLK_GLOBAL_MEM_FENCE);
    if (!write_grad) return;
    for (uint v = l; v < V; v += wg)
        x[v] = on ? (exp(x[v] - lse_x) - exp(t[v] - lse_t)) * grad_scale : 0.0f;
}

/* out[b] = argmax over V of logits row rows[b] (ties: lowest id, as torch.argmax). One work-group
 * per b. */
__kernel void argmax_rows(__global int *out, __global const float *logits, const ulong l_off,
                          __global const int *rows, const uint V, __local float *sval,
                          __local int *sidx) {
    const size_t b = get_group_id(0), l = get_local_id(0), wg = get_local_size(0);
    __global const float *x = logits + l_off + (size_t)rows[b] * V;
    float best = -INFINITY;
    int bi = 0x7fffffff;
    for (uint v = l; v < V; v += wg)
        if (x[v] > best || (x[v] == best && (int)v < bi)) {
            best = x[v];
            bi = (int)v;
        }
    sval[l] = best;
    sidx[l] = bi;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = wg / 2; s > 0; s /= 2) {
        if (l < s && (sval[l + s] > sval[l] || (sval[l + s] == sval[l] && sidx[l + s] < sidx[l]))) {
            sval[l] = sval[l + s];
            sidx[l] = sidx[l + s];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) out[b] = sidx[0];
}
