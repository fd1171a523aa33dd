/* libFuzzer target: the carrier archive reader on arbitrary bytes. On success every array the
 * reader returned is walked end to end (so ASan sees any short allocation) and the prompt lookup
 * must find every prompt. */
#include <stdint.h>
#include <stdlib.h>

#include "clcdd/carrier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile float sink;

static void touch(const float *p, uint64_t n) {
    float s = 0;
    for (uint64_t i = 0; i < n; i++) s += p[i];
    sink = s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    clcdd_carrier *c = NULL;
    if (clcdd_carrier_read_memory(data, size, "fuzz", &c) != CLCDD_OK) {
        if (c) abort();
        return 0;
    }
    touch(c->theta, c->n_mask);
    for (uint64_t i = 0; i < c->n_mask; i++)
        if (c->mask[i] > 1) abort();
    for (uint32_t i = 0; i < c->n_matrices; i++) {
        const clcdd_carrier_matrix *m = &c->matrices[i];
        for (uint32_t j = 1; j < m->n_rows; j++)
            if (m->rows[j] <= m->rows[j - 1]) abort();
        for (uint32_t j = 1; j < m->n_cols; j++)
            if (m->cols[j] <= m->cols[j - 1]) abort();
        touch(m->delta, (uint64_t)m->n_rows * m->n_cols);
        if (m->bias_delta) touch(m->bias_delta, m->n_rows);
    }
    for (uint32_t i = 0; i < c->n_norms; i++) touch(c->norms[i].w, c->norms[i].n);
    for (uint32_t i = 0; i < c->n_prompts; i++) {
        if (c->prompts[i].dim != c->hidden_size) abort();
        touch(c->prompts[i].data, (uint64_t)c->prompts[i].rows * c->prompts[i].dim);
        if (clcdd_carrier_find_prompt(c, c->prompts[i].name) != (long)i) abort();
    }
    clcdd_carrier_free(c);
    return 0;
}
