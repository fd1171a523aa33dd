/* Checkpoint tensors by name from safetensors or GGUF (see load_source.h). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "clcdd_internal.h"
#include "nn/load_source.h"

int clcdd_is_gguf_file(const char *path) {
    struct stat sb;
    if (!path || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[4] = {0};
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && !memcmp(magic, "GGUF", 4);
}

clcdd_status clcdd_load_source_open(clcdd_load_source *s, const char *path) {
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    if (clcdd_is_gguf_file(path)) {
        s->format = CLCDD_SOURCE_GGUF;
        return clcdd_gguf_open(path, &s->gguf);
    }
    s->format = CLCDD_SOURCE_HF;
    /* config.json given: the weights are next to it */
    size_t n = strlen(s->path);
    if (n >= 11 && !strcmp(s->path + n - 11, "config.json")) {
        char *slash = strrchr(s->path, '/');
        if (slash) *slash = 0;
        else snprintf(s->path, sizeof s->path, ".");
    }
    clcdd_status st = clcdd_safetensors_open(s->path, &s->st);
    if (st != CLCDD_OK)
        return clcdd_fail_context(st, "opening the weights of %s (model.safetensors or "
                                  "model.safetensors.index.json)", s->path);
    return CLCDD_OK;
}

void clcdd_load_source_close(clcdd_load_source *s) {
    if (!s) return;
    clcdd_safetensors_close(s->st);
    clcdd_gguf_close(s->gguf);
    memset(s, 0, sizeof *s);
}

clcdd_status clcdd_load_source_find(const clcdd_load_source *s, const char *name,
                                    clcdd_src_tensor *out) {
    memset(out, 0, sizeof *out);
    clcdd_status st;
    if (s->format == CLCDD_SOURCE_GGUF) {
        st = clcdd_gguf_find_tensor(s->gguf, name, &out->gg);
        if (st == CLCDD_OK) {
            out->ndim = out->gg.n_dims ? (int)out->gg.n_dims : 1;
            for (int i = 0; i < out->ndim; i++)
                out->shape[i] = (int64_t)out->gg.dims[out->ndim - 1 - i];
            out->n = out->gg.n_elements;
            out->dtype = clcdd_ggml_type_name(out->gg.type);
        }
    } else {
        st = clcdd_safetensors_find(s->st, name, &out->st);
        if (st == CLCDD_OK) {
            out->ndim = (int)out->st.n_dims;
            if (out->ndim > 4) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: tensor '%s' has %d dims",
                                                 s->path, name, out->ndim);
            for (int i = 0; i < out->ndim; i++) out->shape[i] = (int64_t)out->st.shape[i];
            out->n = out->st.n_elements;
            out->dtype = clcdd_file_dtype_name(out->st.dtype);
        }
    }
    if (st == CLCDD_ERR_NOT_FOUND) clcdd_clear_error(); /* absence is for the caller to judge */
    return st;
}

clcdd_status clcdd_load_source_read(const clcdd_load_source *s, const clcdd_src_tensor *t,
                                    const char *name, float *dst, size_t capacity) {
    clcdd_status st;
    if (s->format == CLCDD_SOURCE_GGUF) {
        if (!clcdd_ggml_can_dequantize(t->gg.type))
            return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, which clcdd "
                              "cannot dequantise (supported: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 "
                              "Q4_K Q6_K)", s->path, name, t->dtype);
        st = clcdd_gguf_tensor_to_f32(&t->gg, dst, capacity);
    } else {
        st = clcdd_tensor_to_f32(&t->st, dst, capacity);
    }
    if (st != CLCDD_OK) return clcdd_fail_context(st, "%s: reading tensor '%s'", s->path, name);
    return CLCDD_OK;
}
