/* clcdd's own register-tiled GEMM. Row-major, C = alpha * op(A) * op(B) + beta * C.
 *
 * Each work-item computes an RM x RN tile of C (RN = VW * NV) in RM * NV vector accumulators of
 * width VW; no local memory and no barriers, so the same kernel runs well on CPU devices (where a
 * work-item is a loop iteration and the accumulators live in vector registers) and is correct on
 * any OpenCL 1.2 device. Per k step it broadcasts RM scalars of op(A) and loads NV vectors of one
 * row of op(B), then does RM * NV vector FMAs.
 *
 * Build-time parameters (-D): VW in {1,2,4,8,16}, RM >= 1, NV >= 1, TA in {0,1} (op(A) = A or
 * A^T), APACK in {0,1} (op(A) packed in RM-row panels, see gemm_pack_a), ROWS_FIRST in {0,1}
 * (work-item numbering, see the host), BPACK in {0,1}: 0 = op(B) is a row-major k x n matrix (ldb) whose width n is a multiple
 * of RN; 1 = B is packed in panels (see gemm_pack_n/_t): panel q holds columns [q*RN, q*RN+RN) as k
 * rows of RN contiguous floats, zero-padded past n, panels pstride floats apart (the host runs
 * long k in chunks: then k is the chunk's length and B points into the panels at its first row).
 * The last row tile is shifted to end at row m (rows past m are never touched); beta == 0 never
 * reads C.
 * Global size: (ceil(n / RN), ceil(m / RM), batch), dimension 0 fastest. */

/* Defaults so the file also builds without options (clcdd doctor builds every kernel file once);
 * the host always passes the parameters it chose. */
#ifndef VW
#define VW 8
#endif
#ifndef RM
#define RM 4
#endif
#ifndef NV
#define NV 2
#endif
#ifndef TA
#define TA 0
#endif
#ifndef APACK
#define APACK 0
#endif
#ifndef BPACK
#define BPACK 1
#endif
#ifndef ROWS_FIRST
#define ROWS_FIRST 0
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#if VW == 1
#define VEC float
#define VLOAD(i, p) ((p)[i])
#define VSTORE(x, i, p) ((p)[i] = (x))
#else
#define VEC CAT(float, VW)
#define VLOAD(i, p) CAT(vload, VW)(i, p)
#define VSTORE(x, i, p) CAT(vstore, VW)(x, i, p)
#endif
#define RN (VW * NV)

static inline void store_row(__global float *c, const VEC *acc, ulong cols, float alpha,
                             float beta) {
    for (int v = 0; v < NV; v++) {
        const ulong j = (ulong)v * VW;
        if (j >= cols) break;
        const VEC r = alpha * acc[v];
        if (j + VW <= cols) {
            if (beta == 0.0f) VSTORE(r, 0, c + j);
            else VSTORE(r + beta * VLOAD(0, c + j), 0, c + j);
        } else {
            float t[VW];
            VSTORE(r, 0, t);
            for (ulong q = 0; q < cols - j; q++)
                c[j + q] = beta == 0.0f ? t[q] : t[q] + beta * c[j + q];
        }
    }
}

__kernel void gemm_tile(const ulong m, const ulong n, const ulong k, const float alpha,
                        __global const float *A, const ulong a_off, const ulong lda,
                        const ulong stride_a, __global const float *B, const ulong b_off,
                        const ulong ldb, const ulong stride_b, const ulong pstride,
                        const float beta, __global float *C, const ulong c_off, const ulong ldc,
                        const ulong stride_c) {
#if ROWS_FIRST
    const ulong ti = get_global_id(0), tj = get_global_id(1), bz = get_global_id(2);
#else
    const ulong tj = get_global_id(0), ti = get_global_id(1), bz = get_global_id(2);
#endif
    const ulong i0 = ti * RM, j0 = tj * RN;
    if (i0 >= m || j0 >= n) return;
    A += a_off + bz * stride_a;
    B += b_off + bz * stride_b;
    C += c_off + bz * stride_c;
#if BPACK
    __global const float *bp = B + tj * pstride;
#define BSTEP RN
#else
    __global const float *bp = B + j0;
    const ulong BSTEP = ldb;
#endif
#if APACK
    /* op(A) packed in RM-row panels (gemm_pack_a): panel ti holds k rows of RM floats, panels lda
     * floats apart; rows past m are zero and never stored. */
    const ulong is = i0;
    __global const float *a0 = A + ti * lda;
#else
    /* Rows past m: the last tile is shifted up to end at row m (when m >= RM), computing rows the
     * previous tile already stored and storing only its own; with m < RM rows are clamped. */
    const ulong is = m >= RM ? min(i0, m - RM) : 0;
#if TA
    __global const float *a0 = A + is;
#else
    __global const float *a0 = A + is * lda;
#endif
    ulong aoff[RM];
#pragma unroll
    for (int r = 0; r < RM; r++) {
        const ulong i = min((ulong)r, m - 1 - is);
#if TA
        aoff[r] = i;
#else
        aoff[r] = i * lda;
#endif
    }
#endif
    VEC acc[RM][NV];
#pragma unroll
    for (int r = 0; r < RM; r++)
#pragma unroll
        for (int v = 0; v < NV; v++) acc[r][v] = (VEC)(0.0f);
    for (ulong p = 0; p < k; p++) {
        VEC b[NV];
#pragma unroll
        for (int v = 0; v < NV; v++) b[v] = VLOAD(v, bp);
        bp += BSTEP;
#pragma unroll
        for (int r = 0; r < RM; r++) {
#if APACK
            const float a = a0[r];
#elif TA
            const float a = a0[aoff[r]];
#else
            const float a = a0[aoff[r] + p];
#endif
#pragma unroll
            for (int v = 0; v < NV; v++) acc[r][v] = fma((VEC)(a), b[v], acc[r][v]);
        }
#if APACK
        a0 += RM;
#elif TA
        a0 += lda;
#endif
    }
    const ulong cols = min((ulong)RN, n - j0);
#pragma unroll
    for (int r = 0; r < RM; r++)
        if (is + r >= i0 && is + r < m) store_row(C + (is + r) * ldc + j0, acc[r], cols, alpha, beta);
}

/* Packing op(B) (k x n) of each batch entry into RN-wide panels for gemm_tile with BPACK=1:
 * P[bz * stride_p + q * k * RN + p * RN + jj] = op(B)[p][q * RN + jj], zero past n. */

/* op(B) = B (stored k x n): one work-item copies one panel row. Global: (k, ceil(n/RN), batch). */
__kernel void gemm_pack_n(const ulong n, const ulong k, __global const float *B, const ulong b_off,
                          const ulong ldb, const ulong stride_b, __global float *P,
                          const ulong stride_p) {
    const ulong p = get_global_id(0), q = get_global_id(1), bz = get_global_id(2);
    if (p >= k) return;
    __global const float *src = B + b_off + bz * stride_b + p * ldb + q * RN;
    __global float *out = P + bz * stride_p + (q * k + p) * RN;
    if (q * RN + RN <= n) {
#pragma unroll
        for (int v = 0; v < NV; v++) VSTORE(VLOAD(v, src), v, out);
    } else {
        for (int jj = 0; jj < RN; jj++) out[jj] = q * RN + jj < n ? src[jj] : 0.0f;
    }
}

/* op(B) = B^T (B stored n x k, e.g. a weight (out, in)): one work-item transposes a block of
 * PB = 16 panel rows, reading 16 contiguous floats from each of the RN rows of B.
 * Global: (ceil(k / 16), ceil(n / RN), batch). */
__kernel void gemm_pack_t(const ulong n, const ulong k, __global const float *B, const ulong b_off,
                          const ulong ldb, const ulong stride_b, __global float *P,
                          const ulong stride_p) {
    const ulong p0 = get_global_id(0) * 16, q = get_global_id(1), bz = get_global_id(2);
    if (p0 >= k) return;
    B += b_off + bz * stride_b;
    __global float *out = P + bz * stride_p + (q * k + p0) * RN;
    const ulong rows = min((ulong)16, k - p0);
    for (int jj = 0; jj < RN; jj++) {
        const ulong j = q * RN + jj;
        if (j < n && rows == 16) {
            const float16 x = vload16(0, B + j * ldb + p0);
            float t[16];
            vstore16(x, 0, t);
#pragma unroll
            for (int r = 0; r < 16; r++) out[r * RN + jj] = t[r];
        } else {
            for (ulong r = 0; r < rows; r++) out[r * RN + jj] = j < n ? B[j * ldb + p0 + r] : 0.0f;
        }
    }
}

/* op(A) into RM-row panels for APACK=1: P[ti * stride_p + p * RM + r] = op(A)[ti * RM + r][p],
 * zero past m. With TA (A stored k x m, e.g. dY in dW = dY^T X) a direct read crosses a page per
 * k step when m is large; without it (A stored m x k) the tile kernel would keep RM row pointers
 * live through its inner loop. The panels are contiguous: one pointer, RM broadcasts per k step.
 * One work-item fills 16 panel rows (p0 .. p0 + 15) of one panel: without TA it reads 16
 * contiguous floats from each of the RM rows (as gemm_pack_t does for B), with TA RM contiguous
 * floats from each of 16 rows. Global: (ceil(k / 16), ceil(m / RM), 1); stride_p = k * RM. */
__kernel void gemm_pack_a(const ulong m, const ulong k, __global const float *A, const ulong a_off,
                          const ulong lda, __global float *P, const ulong stride_p) {
    const ulong p0 = get_global_id(0) * 16, ti = get_global_id(1);
    if (p0 >= k) return;
    const ulong rows = min((ulong)16, k - p0);
    __global float *out = P + ti * stride_p + p0 * RM;
#if TA
    for (ulong j = 0; j < rows; j++) {
        __global const float *src = A + a_off + (p0 + j) * lda + ti * RM;
        for (int r = 0; r < RM; r++) out[j * RM + r] = ti * RM + r < m ? src[r] : 0.0f;
    }
#else
    for (int r = 0; r < RM; r++) {
        const ulong i = ti * RM + r;
        __global const float *src = A + a_off + i * lda + p0;
        if (i < m && rows == 16) {
            const float16 x = vload16(0, src);
            float t[16];
            vstore16(x, 0, t);
#pragma unroll
            for (int j = 0; j < 16; j++) out[j * RM + r] = t[j];
        } else {
            for (ulong j = 0; j < rows; j++) out[j * RM + r] = i < m ? src[j] : 0.0f;
        }
    }
#endif
}
