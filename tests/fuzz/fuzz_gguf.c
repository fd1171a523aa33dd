/* libFuzzer target: the GGUF reader on arbitrary bytes; on success every key is read through
 * every getter, every array element visited (bounded), every small tensor dequantised. */
#include <stdint.h>
#include <stdlib.h>

#include "clcdd/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    clcdd_gguf *g = NULL;
    if (clcdd_gguf_open_memory(data, size, "fuzz", &g) != CLCDD_OK) return 0;
    for (size_t i = 0; i < clcdd_gguf_kv_count(g); i++) {
        const char *key = clcdd_gguf_kv_key(g, i);
        size_t j;
        if (clcdd_gguf_find_key(g, key, &j) != CLCDD_OK || j != i) abort();
        uint32_t u32;
        int32_t i32;
        uint64_t u64;
        int64_t i64;
        float f;
        double d;
        int b;
        clcdd_gguf_str s;
        clcdd_gguf_array a;
        clcdd_gguf_get_u32(g, key, &u32);
        clcdd_gguf_get_i32(g, key, &i32);
        clcdd_gguf_get_u64(g, key, &u64);
        clcdd_gguf_get_i64(g, key, &i64);
        clcdd_gguf_get_f32(g, key, &f);
        clcdd_gguf_get_f64(g, key, &d);
        clcdd_gguf_get_bool(g, key, &b);
        if (clcdd_gguf_get_string(g, key, &s) == CLCDD_OK && s.len) {
            volatile char c = s.data[s.len - 1];
            (void)c;
        }
        if (clcdd_gguf_get_array(g, key, &a) == CLCDD_OK) {
            for (uint64_t k = 0; k < a.count && k < 4096; k++) {
                clcdd_gguf_array_i64(g, &a, k, &i64);
                clcdd_gguf_array_f64(g, &a, k, &d);
                if (clcdd_gguf_array_string(g, &a, k, &s) == CLCDD_OK && s.len) {
                    volatile char c = s.data[s.len - 1];
                    (void)c;
                }
            }
        }
    }
    for (size_t i = 0; i < clcdd_gguf_tensor_count(g); i++) {
        clcdd_gguf_tensor t, u;
        if (clcdd_gguf_get_tensor(g, i, &t) != CLCDD_OK) abort();
        if (clcdd_gguf_find_tensor(g, t.name, &u) != CLCDD_OK || u.offset != t.offset) abort();
        if (t.n_elements <= (1u << 16)) {
            float *out = malloc((size_t)t.n_elements * sizeof *out + sizeof *out);
            clcdd_gguf_tensor_to_f32(&t, out, (size_t)t.n_elements);
            free(out);
        }
    }
    clcdd_gguf_close(g);
    return 0;
}
