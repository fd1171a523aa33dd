/* Fixed-order reductions (sum, sum of squares) in two passes.
 *
 * Pass 1: work-group g (of G groups, WG = get_local_size(0), a power of two) reduces the chunk
 * [g*chunk, min((g+1)*chunk, n)): work-item l accumulates elements l, l+WG, ... of the chunk in
 * order, then a fixed binary tree in local memory combines the WG partial sums. Pass 2: one group
 * reduces the G partials the same way. G, WG and chunk depend only on n and the device's work-group
 * limit, so the same input on the same device always gives bit-identical results.
 * MODE 0 = sum, 1 = sum of squares. */

/* CONTIG (set for CPU devices, where a work-group's items run one after another on one core):
 * work-item l takes the l-th contiguous slice of the chunk instead of every WG-th element, so each
 * core streams through memory once instead of revisiting every cache line WG times. The order is
 * still a fixed function of n and the device, so results stay bit-identical run to run. */
#if CONTIG
#define REDUCE_LOOP                                                                           \
    const ulong per_ = (end - begin + wg - 1) / wg;                                            \
    const ulong lo_ = min(begin + l * per_, end), hi_ = min(lo_ + per_, end);                  \
    for (ulong i = lo_; i < hi_; i++)
#else
#define REDUCE_LOOP for (ulong i = begin + l; i < end; i += wg)
#endif

#define REDUCE_BODY(load)                                                                     \
    const size_t l = get_local_id(0), wg = get_local_size(0);                                  \
    float acc = 0.0f;                                                                          \
    REDUCE_LOOP {                                                                              \
        float v = load;                                                                        \
        acc += mode ? v * v : v;                                                               \
    }                                                                                          \
    scratch[l] = acc;                                                                          \
    barrier(CLK_LOCAL_MEM_FENCE);                                                              \
    for (size_t s = wg / 2; s > 0; s /= 2) {                                                   \
        if (l < s) scratch[l] += scratch[l + s];                                               \
        barrier(CLK_LOCAL_MEM_FENCE);                                                          \
    }

__kernel void reduce_partial_f32(__global float *partial, __global const float *x,
                                 const ulong x_off, const ulong n, const ulong chunk,
                                 const int mode, __local float *scratch) {
    const size_t g = get_group_id(0);
    const ulong begin = (ulong)g * chunk;
    const ulong end = min(begin + chunk, n);
    REDUCE_BODY(x[x_off + i])
    if (l == 0) partial[g] = scratch[0];
}

/* Sums the G partials (already squared if MODE was 1, so this pass always sums). */
__kernel void reduce_final_f32(__global float *out, const ulong out_off,
                               __global const float *partial, const ulong count,
                               __local float *scratch) {
    const ulong begin = 0, end = count;
    const int mode = 0;
    REDUCE_BODY(partial[i])
    if (l == 0) out[out_off] = scratch[0];
}
