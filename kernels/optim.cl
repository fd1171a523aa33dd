/* Optimizer steps, one fused pass over a parameter tensor. The clipping factor is computed on the
 * device from the global squared gradient norm (gsq[0]), so a training step needs no host read:
 * clip = max_norm > 0 ? min(1, max_norm / (sqrt(gsq) + 1e-6)) : 1 (torch clip_grad_norm_).
 * AdamW follows torch.optim.AdamW: p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), with bc = 1 - beta^t.
 * adam_l2 = 1 gives torch.optim.Adam's coupled L2 decay (g += wd p) instead of decoupled. */

inline float clip_factor(__global const float *gsq, float max_norm) {
    if (!(max_norm > 0.0f)) return 1.0f;
    float norm = sqrt(gsq[0]);
    return min(1.0f, max_norm / (norm + 1e-6f));
}

__kernel void adamw_step(__global float *p, const ulong p_off, __global const float *grad,
                         const ulong g_off, __global float *m, const ulong m_off,
                         __global float *v, const ulong v_off, const ulong n, const float lr,
                         const float beta1, const float beta2, const float eps, const float wd,
                         const float bc1, const float sqrt_bc2, __global const float *gsq,
                         const float max_norm, const int adam_l2) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    float c = clip_factor(gsq, max_norm);
    float w = p[p_off + i];
    float g = grad[g_off + i] * c;
    if (adam_l2)
        g += wd * w;
    else
        w *= 1.0f - lr * wd;
    float mi = beta1 * m[m_off + i] + (1.0f - beta1) * g;
    float vi = beta2 * v[v_off + i] + (1.0f - beta2) * g * g;
    m[m_off + i] = mi;
    v[v_off + i] = vi;
    p[p_off + i] = w - (lr / bc1) * (mi / (sqrt(vi) / sqrt_bc2 + eps));
}

/* SGD with momentum (torch.optim.SGD, dampening 0, no nesterov): buf = mu buf + g (first step:
 * buf = g); p -= lr * buf. first = 1 on the first step. */
__kernel void sgd_step(__global float *p, const ulong p_off, __global const float *grad,
                       const ulong g_off, __global float *buf, const ulong b_off, const ulong n,
                       const float lr, const float momentum, const float wd, const int first,
                       __global const float *gsq, const float max_norm) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    float g = grad[g_off + i] * clip_factor(gsq, max_norm) + wd * p[p_off + i];
    if (momentum != 0.0f) {
        g = first ? g : momentum * buf[b_off + i] + g;
        buf[b_off + i] = g;
    }
    p[p_off + i] -= lr * g;
}
