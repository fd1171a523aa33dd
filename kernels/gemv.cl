/* Matrix-vector products for decoding: C (m x n) = alpha * A (m x k) * B^T + beta * C with B
 * (n x k) row-major — the shape of x W^T for a few rows x. One work-item per output column j
 * walks row j of B contiguously (no packing, which for one row would cost more than the product)
 * and keeps the m <= 4 rows of A in flight. Sums run in a fixed order. */
__kernel void gemv_nt(const uint m, const uint n, const uint k, const float alpha,
                      __global const float *A, const ulong a_off, const ulong lda,
                      __global const float *B, const ulong b_off, const ulong ldb,
                      const float beta, __global float *C, const ulong c_off, const ulong ldc) {
    const size_t j = get_global_id(0);
    if (j >= n) return;
    __global const float *w = B + b_off + j * ldb;
    for (uint i = 0; i < m; i++) {
        __global const float *x = A + a_off + i * lda;
        float4 acc0 = (float4)(0.0f), acc1 = (float4)(0.0f);
        uint p = 0;
        for (; p + 8 <= k; p += 8) {
            acc0 = fma(vload4(0, x + p), vload4(0, w + p), acc0);
            acc1 = fma(vload4(0, x + p + 4), vload4(0, w + p + 4), acc1);
        }
        float4 s4 = acc0 + acc1;
        float acc = (s4.x + s4.y) + (s4.z + s4.w);
        for (; p < k; p++) acc = fma(x[p], w[p], acc);
        __global float *c = C + c_off + i * ldc + j;
        *c = beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;
    }
}
