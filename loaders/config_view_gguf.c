/* A config view of a GGUF file's metadata: a table view (format CLCDD_SOURCE_GGUF) filled with
 * every key. Scalars keep their kind (integers, floats, bools, strings); integer arrays are copied
 * (tokenizer.ggml.token_type, eos id lists); arrays of other element types (tokens, merges, scores)
 * are recorded by length only, which is all the plugins ask of them. */
#include <stdlib.h>
#include <string.h>

#include "clcdd/config_view.h"
#include "clcdd/gguf.h"
#include "clcdd_internal.h"
#include "config_view_internal.h"

static int is_int_type(clcdd_gguf_value_type t) {
    switch (t) {
    case CLCDD_GGUF_U8: case CLCDD_GGUF_I8: case CLCDD_GGUF_U16: case CLCDD_GGUF_I16:
    case CLCDD_GGUF_U32: case CLCDD_GGUF_I32: case CLCDD_GGUF_U64: case CLCDD_GGUF_I64:
        return 1;
    default: return 0;
    }
}

static clcdd_status copy_array(const clcdd_gguf *g, size_t i, const char *key,
                               clcdd_config_view *v) {
    clcdd_gguf_array a;
    clcdd_status st = clcdd_gguf_kv_array(g, i, &a);
    if (st != CLCDD_OK) return st;
    if (!is_int_type(a.elem_type) || a.count == 0)
        return clcdd_config_view_set_array_length(v, key, (size_t)a.count);
    int64_t *x = malloc((size_t)a.count * sizeof *x);
    if (!x) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "GGUF view: out of memory for '%s'", key);
    for (uint64_t k = 0; k < a.count && st == CLCDD_OK; k++) {
        st = clcdd_gguf_array_i64(g, &a, k, &x[k]);
        if (st != CLCDD_OK) {
            /* a u64 too large for i64 (not a meaningful setting): keep the length only */
            free(x);
            return clcdd_config_view_set_array_length(v, key, (size_t)a.count);
        }
    }
    st = clcdd_config_view_set_int_array(v, key, x, (size_t)a.count);
    free(x);
    return st;
}

clcdd_status clcdd_config_view_from_gguf(const clcdd_gguf *g, const char *name,
                                         clcdd_config_view **out) {
    if (!g || !out) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "GGUF view: NULL argument");
    *out = NULL;
    clcdd_config_view *v = NULL;
    clcdd_status st = clcdd_config_view_create_table(CLCDD_SOURCE_GGUF, &v);
    if (st != CLCDD_OK) return st;
    size_t n = clcdd_gguf_kv_count(g);
    for (size_t i = 0; i < n && st == CLCDD_OK; i++) {
        const char *key = clcdd_gguf_kv_key(g, i);
        clcdd_gguf_value_type t = clcdd_gguf_kv_type(g, i);
        if (is_int_type(t)) {
            int64_t x;
            uint64_t u;
            if (clcdd_gguf_kv_i64(g, i, &x) == CLCDD_OK)
                st = clcdd_config_view_set_int(v, key, x);
            else if (clcdd_gguf_kv_u64(g, i, &u) == CLCDD_OK) /* > INT64_MAX: as a float */
                st = clcdd_config_view_set_float(v, key, (double)u);
        } else if (t == CLCDD_GGUF_F32 || t == CLCDD_GGUF_F64) {
            double x;
            st = clcdd_gguf_kv_f64(g, i, &x);
            if (st == CLCDD_OK) st = clcdd_config_view_set_float(v, key, x);
        } else if (t == CLCDD_GGUF_BOOL) {
            int64_t x = 0;
            st = clcdd_gguf_kv_i64(g, i, &x);
            if (st != CLCDD_OK) { /* bools may not convert through the integer getter */
                int b = 0;
                st = clcdd_gguf_get_bool(g, key, &b);
                x = b;
            }
            if (st == CLCDD_OK) st = clcdd_config_view_set_bool(v, key, x != 0);
        } else if (t == CLCDD_GGUF_STRING) {
            clcdd_gguf_str s;
            st = clcdd_gguf_kv_string(g, i, &s);
            if (st == CLCDD_OK) st = clcdd_config_view_set_string(v, key, s.data, (size_t)s.len);
        } else if (t == CLCDD_GGUF_ARRAY) {
            st = copy_array(g, i, key, v);
        }
    }
    if (st == CLCDD_OK && name) {
        cv_base *b = (cv_base *)v;
        char *copy = strdup(name);
        if (copy) {
            free(b->name);
            b->name = copy;
        }
    }
    if (st != CLCDD_OK) {
        clcdd_config_view_close(v);
        return clcdd_fail_context(st, "reading the metadata of %s", name ? name : "GGUF");
    }
    *out = v;
    return CLCDD_OK;
}

clcdd_status clcdd_config_view_open_gguf(const char *path, clcdd_config_view **out) {
    if (!path || !out) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "GGUF view: NULL argument");
    clcdd_gguf *g = NULL;
    clcdd_status st = clcdd_gguf_open(path, &g);
    if (st != CLCDD_OK) return st;
    st = clcdd_config_view_from_gguf(g, path, out);
    clcdd_gguf_close(g);
    return st;
}
