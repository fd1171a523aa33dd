/* RMSNorm (HF LlamaRMSNorm): y = w * x * r, r = 1 / sqrt(mean(x^2) + eps), per row of length d.
 * x, y: (rows, d). w: (d). rstd: (rows), saved by the forward for the backward.
 * One work-group per row; WG is a power of two; reductions in a fixed tree order. */

__kernel void rmsnorm_fwd(__global float *y, const ulong y_off, __global float *rstd,
                          const ulong r_off, __global const float *x, const ulong x_off, __global const float *w,
                          const ulong w_off, const uint d, const float eps,
                          __local float *scratch) {
    const size_t row = get_group_id(0), l = get_local_id(0), wg = get_local_size(0);
    __global const float *xr = x + x_off + row * d;
    float acc = 0.0f;
    for (uint j = l; j < d; j += wg) acc += xr[j] * xr[j];
    scratch[l] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = wg / 2; s > 0; s /= 2) {
        if (l < s) scratch[l] += scratch[l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = rsqrt(scratch[0] / (float)d + eps);
    __global float *yr = y + y_off + row * d;
    for (uint j = l; j < d; j += wg) yr[j] = w[w_off + j] * (xr[j] * r);
    if (l == 0) rstd[r_off + row] = r;
}

/* dx (+)= r * w * dy - x * r^3 / d * sum_k(w_k dy_k x_k). accumulate: 1 adds into dx. */
__kernel void rmsnorm_bwd_x(__global float *dx, const ulong dx_off, const int accumulate,
                            __global const float *dy, const ulong dy_off,
                            __global const float *x, const ulong x_off,
                            __global const float *w, const ulong w_off,
                            __global const float *rstd, const ulong r_off, const uint d,
                            __local float *scratch) {
    const size_t row = get_group_id(0), l = get_local_id(0), wg = get_local_size(0);
    __global const float *xr = x + x_off + row * d;
    __global const float *dyr = dy + dy_off + row * d;
    float acc = 0.0f;
    for (uint j = l; j < d; j += wg) acc += w[w_off + j] * dyr[j] * xr[j];
    scratch[l] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = wg / 2; s > 0; s /= 2) {
        if (l < s) scratch[l] += scratch[l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = rstd[r_off + row];
    const float c = scratch[0] * r * r * r / (float)d;
    __global float *dxr = dx + dx_off + row * d;
    for (uint j = l; j < d; j += wg) {
        float v = r * w[w_off + j] * dyr[j] - xr[j] * c;
        dxr[j] = accumulate ? dxr[j] + v : v;
    }
}

/* dw_j += sum over rows (in order) of dy_rj * x_rj * r_r. One work-item per column. */
__kernel void rmsnorm_bwd_w(__global float *dw, const ulong dw_off, __global const float *dy,
                            const ulong dy_off, __global const float *x, const ulong x_off,
                            __global const float *rstd, const ulong r_off, const uint rows,
                            const uint d) {
    const size_t j = get_global_id(0);
    if (j >= d) return;
    float acc = 0.0f;
    for (uint r = 0; r < rows; r++)
        acc += dy[dy_off + (size_t)r * d + j] * x[x_off + (size_t)r * d + j] * rstd[r_off + r];
    dw[dw_off + j] += acc;
}
