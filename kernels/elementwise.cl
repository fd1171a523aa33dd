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

/* y (rows, cols) += b (cols) broadcast over rows. */
__kernel void add_bias_rows(__global float *y, const ulong y_off, __global const float *b,
                            const ulong b_off, const uint cols, const ulong n) {
    size_t i = get_global_id(0);
    if (i < n) y[y_off + i] += b[b_off + i % cols];
}

/* db (cols) += column sums of dy (rows, cols), rows summed in order (deterministic). */
__kernel void bias_grad_rows(__global float *db, const ulong db_off, __global const float *dy,
                             const ulong dy_off, const uint rows, const uint cols) {
    size_t j = get_global_id(0);
    if (j >= cols) return;
    float acc = 0.0f;
    for (uint r = 0; r < rows; r++) acc += dy[dy_off + (size_t)r * cols + j];
    db[db_off + j] += acc;
}

/* out (rows, d): row r = E[ids[r]] when ids[r] >= 0, else soft-prompt row P[-ids[r] - 1]. */
__kernel void embed_gather(__global float *out, const ulong out_off, __global const float *E,
                           const ulong e_off, __global const float *P, const ulong p_off,
                           __global const int *ids, const uint d, const ulong n) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    size_t r = i / d, j = i % d;
    int id = ids[r];
    out[out_off + i] = id >= 0 ? E[e_off + (size_t)id * d + j] : P[p_off + (size_t)(-id - 1) * d + j];
}

/* dP (T_p, d) += sum over rows r with ids[r] == -1 - k of dx[r] (rows in order: deterministic).
 * One work-item per (k, j). */
__kernel void prompt_grad(__global float *dP, const ulong dp_off, __global const float *dx,
                          const ulong dx_off, __global const int *ids, const uint rows,
                          const uint d, const uint prompt_rows) {
    size_t i = get_global_id(0);
    if (i >= (size_t)prompt_rows * d) return;
    int k = (int)(i / d);
    size_t j = i % d;
    float acc = 0.0f;
    for (uint r = 0; r < rows; r++)
        if (ids[r] == -1 - k) acc += dx[dx_off + (size_t)r * d + j];
    dP[dp_off + i] += acc;
}

/* Embedding backward without atomics: the host groups the batch's rows by token id (CSR:
 * ids_u[u] is the u-th distinct id, rows[starts[u] .. starts[u+1]) its rows, in order).
 * dE[ids_u[u]] += sum of dx over those rows. One work-item per (u, j); deterministic. */
__kernel void embed_backward(__global float *dE, const ulong de_off, __global const float *dx,
                             const ulong dx_off, __global const int *ids_u,
                             __global const int *starts, __global const int *rows,
                             const uint n_unique, const uint d) {
    size_t i = get_global_id(0);
    if (i >= (size_t)n_unique * d) return;
    size_t u = i / d, j = i % d;
    float acc = 0.0f;
    for (int k = starts[u]; k < starts[u + 1]; k++) acc += dx[dx_off + (size_t)rows[k] * d + j];
    dE[de_off + (size_t)ids_u[u] * d + j] += acc;
}

/* y = a * b element-wise */
__kernel void mul_f32(__global float *y, const ulong y_off, __global const float *a,
                      const ulong a_off, __global const float *b, const ulong b_off,
                      const ulong n) {
    size_t i = get_global_id(0);
    if (i < n) y[y_off + i] = a[a_off + i] * b[b_off + i];
}
