/* Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11), key = 64-bit seed.
 * The value of stream element e = counter + i depends only on (seed, e), never on the launch
 * geometry. uniform: Philox block e/4, word e%4, as (u >> 8) * 2^-24 in [0, 1).
 * normal: Philox block e/2; even e uses words (x, y), odd e uses (z, w), through Box-Muller
 * z = sqrt(-2 ln a) cos(2 pi b) with a in (0, 1]. */

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

uint4 philox4x32_10(uint4 ctr, uint2 key) {
    for (int r = 0; r < 10; r++) {
        uint hi0 = mul_hi(PHILOX_M0, ctr.x), lo0 = PHILOX_M0 * ctr.x;
        uint hi1 = mul_hi(PHILOX_M1, ctr.z), lo1 = PHILOX_M1 * ctr.z;
        ctr = (uint4)(hi1 ^ ctr.y ^ key.x, lo1, hi0 ^ ctr.w ^ key.y, lo0);
        key.x += PHILOX_W0;
        key.y += PHILOX_W1;
    }
    return ctr;
}

inline float u01(uint u) { return (float)(u >> 8) * (1.0f / 16777216.0f); }

inline uint4 block_at(ulong block, ulong seed) {
    return philox4x32_10((uint4)((uint)block, (uint)(block >> 32), 0u, 0u),
                         (uint2)((uint)seed, (uint)(seed >> 32)));
}

__kernel void rng_uniform_f32(__global float *y, const ulong y_off, const ulong n,
                              const ulong seed, const ulong counter, const float lo,
                              const float hi) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    ulong e = counter + i;
    uint4 r = block_at(e / 4, seed);
    uint w = (e % 4 == 0) ? r.x : (e % 4 == 1) ? r.y : (e % 4 == 2) ? r.z : r.w;
    y[y_off + i] = lo + (hi - lo) * u01(w);
}

__kernel void rng_normal_f32(__global float *y, const ulong y_off, const ulong n,
                             const ulong seed, const ulong counter, const float mean,
                             const float stddev) {
    size_t i = get_global_id(0);
    if (i >= n) return;
    ulong e = counter + i;
    uint4 r = block_at(e / 2, seed);
    /* (0, 1] for the log argument so log never sees 0. */
    float a = ((e % 2) == 0) ? (float)((r.x >> 8) + 1) * (1.0f / 16777216.0f)
                             : (float)((r.z >> 8) + 1) * (1.0f / 16777216.0f);
    float b = ((e % 2) == 0) ? u01(r.y) : u01(r.w);
    float z = sqrt(-2.0f * log(a)) * cos(6.283185307179586f * b);
    y[y_off + i] = mean + stddev * z;
}
