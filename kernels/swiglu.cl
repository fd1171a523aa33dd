/* SwiGLU: h = silu(g) * u, silu(z) = z * sigmoid(z). g, u, h: (rows, f), element-wise. */
__kernel void swiglu_fwd(__global float *h, const ulong h_off, __global const float *g,
                         const ulong g_off, __global const float *u, const ulong u_off,
                         const ulong n) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    float z = g[g_off + i];
    h[h_off + i] = z / (1.0f + exp(-z)) * u[u_off + i];
}

/* dg = dh * u * s * (1 + z (1 - s)), du = dh * z * s, s = sigmoid(z). */
__kernel void swiglu_bwd(__global float *dg, const ulong dg_off, __global float *du,
                         const ulong du_off, __global const float *dh, const ulong dh_off,
                         __global const float *g, const ulong g_off, __global const float *u,
                         const ulong u_off, const ulong n) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    float z = g[g_off + i], s = 1.0f / (1.0f + exp(-z)), d = dh[dh_off + i];
    dg[dg_off + i] = d * u[u_off + i] * s * (1.0f + z * (1.0f - s));
    du[du_off + i] = d * z * s;
}
