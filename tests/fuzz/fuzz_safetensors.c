/* libFuzzer target: the safetensors reader on arbitrary bytes; on success every tensor is
 * looked up and converted (when its dtype converts) so the views are exercised too. */
#include <stdint.h>
#include <stdlib.h>

#include "clcdd/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    clcdd_safetensors *st = NULL;
    if (clcdd_safetensors_open_memory(data, size, "fuzz", &st) != CLCDD_OK) return 0;
    for (size_t i = 0; i < clcdd_safetensors_count(st); i++) {
        clcdd_st_tensor v, w;
        if (clcdd_safetensors_get(st, i, &v) != CLCDD_OK) abort();
        if (clcdd_safetensors_find(st, v.name, &w) != CLCDD_OK || w.data != v.data) abort();
        if (v.n_elements <= (1u << 16)) {
            float *out = malloc((size_t)v.n_elements * sizeof *out + sizeof *out);
            clcdd_tensor_to_f32(&v, out, (size_t)v.n_elements);
            free(out);
        }
    }
    for (size_t i = 0; i < clcdd_safetensors_metadata_count(st); i++)
        if (!clcdd_safetensors_metadata_get(st, clcdd_safetensors_metadata_key(st, i))) abort();
    clcdd_safetensors_close(st);
    return 0;
}
