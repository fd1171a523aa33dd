/* Element-wise kernels. n = number of elements. All float32 unless the name says otherwise. */
__kernel void fill_f32(__global float *y, const ulong y_off, const float v, const ulong n) {
    size_t i = get_global_id(0);
    if (i < n) y[y_off + i] = v;
}
