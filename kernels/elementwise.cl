/* Element-wise kernels, float32. n = number of elements; *_off = element offsets into buffers.
 * One work-item per element; the host rounds the global size up, so every kernel checks i < n. */

__kernel void fill_f32(__global float *y, const ulong y_off, const float v, const ulong n) {
    size_t i = get_global_id(0);
    if (i < n) y[y_off + i] = v;
}

/* IEEE binary16 -> float32 through vload_half (core OpenCL 1.2, no cl_khr_fp16 needed). */
__kernel void cast_f16_f32(__global float *y, const ulong y_off, __global const half *x,
                           const ulong x_off, const ulong n) {
    size_t i = get_global_id(0);
    if (i < n) y[y_off + i] = vload_half(x_off + i, x);
}

/* bfloat16 -> float32 is exact: the 16 bits are the high half of the float. */
__kernel void cast_bf16_f32(__global float *y, const ulong y_off, __global const ushort *x,
                            const ulong x_off, const ulong n) {
    size_t i = get_global_id(0);
    if (i < n) y[y_off + i] = as_float(((uint)x[x_off + i]) << 16);
}

/* y = a + b */
__kernel void add_f32(__global float *y, const ulong y_off, __global const float *a,
                      const ulong a_off, __global const float *b, const ulong b_off,
                      const ulong n) {
    size_t i = get_global_id(0);
    if (i < n) y[y_off + i] = a[a_off + i] + b[b_off + i];
}

/* y = alpha * x */
__kernel void scale_f32(__global float *y, const ulong y_off, __global const float *x,
                        const ulong x_off, const float alpha, const ulong n) {
    size_t i = get_global_id(0);
    if (i < n) y[y_off + i] = alpha * x[x_off + i];
}

/* y += alpha * x */
__kernel void axpy_f32(__global float *y, const ulong y_off, __global const float *x,
                       const ulong x_off, const float alpha, const ulong n) {
    size_t i = get_global_id(0);
    if (i < n) y[y_off + i] = fma(alpha, x[x_off + i], y[y_off + i]);
}
