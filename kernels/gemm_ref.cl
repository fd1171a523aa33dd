/* Reference GEMM: one work-item per output element, k loop in order. Slow but obviously right;
 * it is what the self-check compares other backends with, and the fallback of last resort.
 * Row-major. C[b](m x n) = alpha * op(A[b]) * op(B[b]) + beta * C[b].
 * op(A)[i][p] = ta ? A[p*lda + i] : A[i*lda + p]; op(B)[p][j] = tb ? B[j*ldb + p] : B[p*ldb + j].
 * Global size: (n, m, batch), dimension 0 fastest. beta == 0 never reads C (NaN-safe). */
__kernel void gemm_ref(const int ta, const int tb, const ulong m, const ulong n, const ulong k,
                       const float alpha, __global const float *A, const ulong a_off,
                       const ulong lda, const ulong stride_a, __global const float *B,
                       const ulong b_off, const ulong ldb, const ulong stride_b, const float beta,
                       __global float *C, const ulong c_off, const ulong ldc,
                       const ulong stride_c) {
    const ulong j = get_global_id(0), i = get_global_id(1), b = get_global_id(2);
    if (i >= m || j >= n) return;
    __global const float *a = A + a_off + b * stride_a;
    __global const float *bb = B + b_off + b * stride_b;
    float acc = 0.0f;
    for (ulong p = 0; p < k; p++) {
        float x = ta ? a[p * lda + i] : a[i * lda + p];
        float y = tb ? bb[j * ldb + p] : bb[p * ldb + j];
        acc = fma(x, y, acc);
    }
    __global float *c = C + c_off + b * stride_c + i * ldc + j;
    *c = beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;
}
