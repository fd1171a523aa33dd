#include "fixture_model.h"

#include <stdio.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "harness/harness.h"
#include "nn/checkpoint.h"

float *fx_tensor_f32(const clcdd_safetensors *st, const char *name, size_t *n) {
    clcdd_st_tensor t;
    clcdd_status s = clcdd_safetensors_find(st, name, &t);
    cr_assert(s == CLCDD_OK, "fixture tensor %s: %s", name, clcdd_last_error());
    float *h = malloc((t.n_elements ? t.n_elements : 1) * sizeof(float));
    cr_assert(clcdd_tensor_to_f32(&t, h, t.n_elements) == CLCDD_OK, "%s", clcdd_last_error());
    if (n) *n = t.n_elements;
    return h;
}

void fx_load_model(clcdd_ctx *ctx, const char *dir, const clcdd_hparams *hp, clcdd_model *m) {
    TH_OK(clcdd_model_create(ctx, hp, m));
    clcdd_safetensors *st;
    TH_OK(clcdd_safetensors_open(dir, &st));
    for (int r = 0; r < CLCDD_ROLE_COUNT; r++) {
        uint32_t layers = clcdd_role_is_per_layer((clcdd_tensor_role)r) ? hp->n_layers : 1;
        for (uint32_t l = 0; l < layers; l++) {
            char name[128];
            if (!clcdd_hf_tensor_name(hp, (clcdd_tensor_role)r, l, name, sizeof name)) continue;
            clcdd_tensor t;
            TH_OK(clcdd_model_tensor(m, (clcdd_tensor_role)r, l, &t));
            size_t n = 0;
            float *h = fx_tensor_f32(st, name, &n);
            cr_assert(n == (size_t)clcdd_tensor_numel(&t), "%s: %zu elements, model wants %lld", name,
                      n, (long long)clcdd_tensor_numel(&t));
            TH_OK(clcdd_tensor_upload(ctx, &t, h));
            free(h);
        }
    }
    clcdd_safetensors_close(st);
}
