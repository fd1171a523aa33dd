/* Head split/merge fused with rotary position embedding.
 * Token-major layout: (B, T, H, hd) = the output of a projection, rows = B*T, cols = H*hd.
 * Head-major layout:  (B, H, T, hd) = what the attention GEMMs take.
 * mode 0: no rotation (values, attention output); 1: half split (HF "rotate_half", GGUF NEOX);
 * 2: interleaved pairs (2j, 2j+1) (Meta original, GGUF llama).
 * angle = pos[b*T + t] * inv_freq[j], j < hd/2. inv_freq (hd/2) already includes RoPE scaling.
 * split_heads_rope: token-major -> head-major, rotating by +angle (forward of q, k, v). The
 * destination has T_out >= T rows per head and row t lands at t_off + t (a KV cache holding
 * T_out positions, new tokens appended at t_off); T_out = T, t_off = 0 otherwise.
 * merge_heads_rope: head-major -> token-major, rotating by sign*angle (sign -1: the backward of
 * split; mode 0: the forward of the attention output merge). One work-item per (pair j, head,
 * row).
 * cs: the model's table of (cos, sin) of angle for positions p < cs_len (rope_table below), so the
 * trigonometry is done once per model instead of once per layer and step (accurate sin/cos are
 * slow on some CPU runtimes); a position outside the table is computed in place, the same way. */

__kernel void rope_table(__global float *cs, __global const float *inv_freq, const uint nh,
                         const uint len) {
    const uint j = get_global_id(0), p = get_global_id(1);
    if (j >= nh || p >= len) return;
    float s, c = 0.0f;
    s = sincos((float)p * inv_freq[j], &c);
    cs[2 * ((size_t)p * nh + j)] = c;
    cs[2 * ((size_t)p * nh + j) + 1] = s;
}

inline void angle_cs(int p, uint j, uint nh, __global const float *inv_freq,
                     __global const float *cs, uint cs_len, float *c, float *s) {
    if ((uint)p < cs_len) {
        *c = cs[2 * ((size_t)p * nh + j)];
        *s = cs[2 * ((size_t)p * nh + j) + 1];
    } else {
        float cc = 0.0f;
        *s = sincos((float)p * inv_freq[j], &cc);
        *c = cc;
    }
}

inline void rot(float a, float b, float c, float s, float *oa, float *ob) {
    *oa = a * c - b * s;
    *ob = b * c + a * s;
}

inline void pair_index(int mode, uint j, uint hd, uint *i0, uint *i1) {
    if (mode == 2) {
        *i0 = 2 * j;
        *i1 = 2 * j + 1;
    } else {
        *i0 = j;
        *i1 = j + hd / 2;
    }
}

__kernel void split_heads_rope(__global float *out, const ulong out_off,
                               __global const float *in, const ulong in_off,
                               __global const int *pos, __global const float *inv_freq,
                               __global const float *cs, const uint cs_len,
                               const uint T, const uint H, const uint hd, const int mode,
                               const uint T_out, const uint t_off) {
    const uint j = get_global_id(0), h = get_global_id(1), row = get_global_id(2);
    if (j >= hd / 2 || h >= H) return;
    const uint b = row / T, t = row % T;
    uint i0, i1;
    pair_index(mode, j, hd, &i0, &i1);
    __global const float *src = in + in_off + ((size_t)row * H + h) * hd;
    __global float *dst = out + out_off + (((size_t)b * H + h) * T_out + t_off + t) * hd;
    float a = src[i0], bb = src[i1];
    if (mode != 0) {
        float s = 0.0f, c = 0.0f;
        angle_cs(pos[row], j, hd / 2, inv_freq, cs, cs_len, &c, &s);
        rot(a, bb, c, s, &a, &bb);
    }
    dst[i0] = a;
    dst[i1] = bb;
}

__kernel void merge_heads_rope(__global float *out, const ulong out_off,
                               __global const float *in, const ulong in_off,
                               __global const int *pos, __global const float *inv_freq,
                               __global const float *cs, const uint cs_len,
                               const uint T, const uint H, const uint hd, const int mode,
                               const float sign) {
    const uint j = get_global_id(0), h = get_global_id(1), row = get_global_id(2);
    if (j >= hd / 2 || h >= H) return;
    const uint b = row / T, t = row % T;
    uint i0, i1;
    pair_index(mode, j, hd, &i0, &i1);
    __global const float *src = in + in_off + (((size_t)b * H + h) * T + t) * hd;
    __global float *dst = out + out_off + ((size_t)row * H + h) * hd;
    float a = src[i0], bb = src[i1];
    if (mode != 0) {
        float s = 0.0f, c = 0.0f;
        angle_cs(pos[row], j, hd / 2, inv_freq, cs, cs_len, &c, &s);
        rot(a, bb, c, sign * s, &a, &bb);
    }
    dst[i0] = a;
    dst[i1] = bb;
}
