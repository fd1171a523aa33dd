/* clcdd inspect: human-readable or JSON listing of a checkpoint's tensors and metadata. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd/gguf.h"
#include "clcdd/hf_config.h"
#include "clcdd/safetensors.h"
#include "cmd_inspect.h"

#define ARRAY_PREVIEW 5     /* array items shown */
#define TEXT_STRING_MAX 80  /* longest string value printed in text mode */

static void usage(FILE *f) {
    fprintf(f,
            "usage: clcdd inspect [--json] PATH\n"
            "  PATH: a .safetensors file, a model.safetensors.index.json, a directory holding\n"
            "        either, a .gguf file, or a config.json\n"
            "  --json  machine-readable output on stdout\n");
}

/* Print bytes as a JSON string (escaped) or, in text mode, quoted with control bytes escaped
 * and truncated to `max` bytes (0 = no limit). */
static void put_str(FILE *o, const char *s, uint64_t len, int json, uint64_t max) {
    uint64_t n = (!json && max && len > max) ? max : len;
    fputc('"', o);
    for (uint64_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(o, "\\%c", c);
        else if (c == '\n') fputs("\\n", o);
        else if (c == '\t') fputs("\\t", o);
        else if (c == '\r') fputs("\\r", o);
        else if (c < 0x20 || c == 0x7f) fprintf(o, "\\u%04x", c);
        else fputc(c, o);
    }
    fputc('"', o);
    if (n < len) fprintf(o, "...(%" PRIu64 " bytes)", len);
}

static void put_cstr(FILE *o, const char *s, int json) { put_str(o, s, strlen(s), json, 0); }

static int fail(const char *path) {
    fprintf(stderr, "clcdd inspect: %s\n", clcdd_last_error()[0] ? clcdd_last_error() : path);
    return 1;
}

/* ---- safetensors ---- */

static int inspect_safetensors(const char *path, int json) {
    clcdd_safetensors *st = NULL;
    if (clcdd_safetensors_open(path, &st) != CLCDD_OK) return fail(path);
    FILE *o = stdout;
    size_t n = clcdd_safetensors_count(st), nm = clcdd_safetensors_metadata_count(st);
    uint64_t total = 0;
    if (json) {
        fputs("{\"format\":\"safetensors\",\"path\":", o);
        put_cstr(o, path, 1);
        fputs(",\"metadata\":{", o);
        for (size_t i = 0; i < nm; i++) {
            if (i) fputc(',', o);
            put_cstr(o, clcdd_safetensors_metadata_key(st, i), 1);
            fputc(':', o);
            put_cstr(o, clcdd_safetensors_metadata_value(st, i), 1);
        }
        fputs("},\"tensors\":[", o);
    } else {
        fprintf(o, "format: safetensors\npath: %s\nmetadata: %zu\n", path, nm);
        for (size_t i = 0; i < nm; i++) {
            fprintf(o, "  %s = ", clcdd_safetensors_metadata_key(st, i));
            const char *v = clcdd_safetensors_metadata_value(st, i);
            put_str(o, v, strlen(v), 0, TEXT_STRING_MAX);
            fputc('\n', o);
        }
        fprintf(o, "tensors: %zu\n", n);
    }
    for (size_t i = 0; i < n; i++) {
        clcdd_st_tensor v;
        clcdd_safetensors_get(st, i, &v);
        total += v.n_bytes;
        if (json) {
            if (i) fputc(',', o);
            fputs("{\"name\":", o);
            put_cstr(o, v.name, 1);
            fprintf(o, ",\"dtype\":\"%s\",\"shape\":[", clcdd_file_dtype_name(v.dtype));
            for (size_t d = 0; d < v.n_dims; d++) fprintf(o, "%s%" PRIu64, d ? "," : "", v.shape[d]);
            fprintf(o, "],\"bytes\":%" PRIu64 ",\"file\":", v.n_bytes);
            put_cstr(o, v.file, 1);
            fputc('}', o);
        } else {
            fprintf(o, "  %-48s %-6s [", v.name, clcdd_file_dtype_name(v.dtype));
            for (size_t d = 0; d < v.n_dims; d++) fprintf(o, "%s%" PRIu64, d ? ", " : "", v.shape[d]);
            fprintf(o, "] %" PRIu64 " bytes\n", v.n_bytes);
        }
    }
    if (json) fprintf(o, "],\"total_bytes\":%" PRIu64 "}\n", total);
    else fprintf(o, "total: %" PRIu64 " bytes\n", total);
    clcdd_safetensors_close(st);
    return 0;
}

/* ---- GGUF ---- */

static void put_gguf_scalar(FILE *o, const clcdd_gguf *g, size_t i, int json) {
    clcdd_gguf_value_type t = clcdd_gguf_kv_type(g, i);
    const char *key = clcdd_gguf_kv_key(g, i);
    if (t == CLCDD_GGUF_STRING) {
        clcdd_gguf_str s;
        clcdd_gguf_kv_string(g, i, &s);
        put_str(o, s.data, s.len, json, TEXT_STRING_MAX);
    } else if (t == CLCDD_GGUF_BOOL) {
        int b = 0;
        clcdd_gguf_get_bool(g, key, &b);
        fputs(b ? "true" : "false", o);
    } else if (t == CLCDD_GGUF_F32 || t == CLCDD_GGUF_F64) {
        double d = 0;
        clcdd_gguf_kv_f64(g, i, &d);
        fprintf(o, "%.9g", d);
    } else {
        int64_t v;
        uint64_t u;
        if (clcdd_gguf_kv_i64(g, i, &v) == CLCDD_OK) fprintf(o, "%" PRId64, v);
        else if (clcdd_gguf_kv_u64(g, i, &u) == CLCDD_OK) fprintf(o, "%" PRIu64, u);
    }
}

static void put_gguf_array(FILE *o, const clcdd_gguf *g, size_t i, int json) {
    clcdd_gguf_array a;
    clcdd_gguf_kv_array(g, i, &a);
    if (json)
        fprintf(o, "{\"type\":\"array\",\"elem_type\":\"%s\",\"count\":%" PRIu64 ",\"head\":[",
                clcdd_gguf_value_type_name(a.elem_type), a.count);
    else
        fprintf(o, "array of %s, %" PRIu64 ": [", clcdd_gguf_value_type_name(a.elem_type), a.count);
    for (uint64_t k = 0; k < a.count && k < ARRAY_PREVIEW; k++) {
        if (k) fputs(json ? "," : ", ", o);
        clcdd_gguf_str s;
        double d;
        int64_t v;
        uint64_t u;
        if (clcdd_gguf_array_string(g, &a, k, &s) == CLCDD_OK) put_str(o, s.data, s.len, json, 40);
        else if (a.elem_type == CLCDD_GGUF_BOOL && clcdd_gguf_array_i64(g, &a, k, &v) == CLCDD_OK)
            fputs(v ? "true" : "false", o);
        else if ((a.elem_type == CLCDD_GGUF_F32 || a.elem_type == CLCDD_GGUF_F64) &&
                 clcdd_gguf_array_f64(g, &a, k, &d) == CLCDD_OK)
            fprintf(o, "%.9g", d);
        else if (clcdd_gguf_array_i64(g, &a, k, &v) == CLCDD_OK) fprintf(o, "%" PRId64, v);
        else if (clcdd_gguf_array_u64(g, &a, k, &u) == CLCDD_OK) fprintf(o, "%" PRIu64, u);
    }
    if (json) fputs("]}", o);
    else fputs(a.count > ARRAY_PREVIEW ? ", ...]" : "]", o);
}

static int inspect_gguf(const char *path, int json) {
    clcdd_gguf *g = NULL;
    if (clcdd_gguf_open(path, &g) != CLCDD_OK) return fail(path);
    FILE *o = stdout;
    size_t nk = clcdd_gguf_kv_count(g), nt = clcdd_gguf_tensor_count(g);
    uint64_t total = 0;
    if (json) {
        fputs("{\"format\":\"gguf\",\"path\":", o);
        put_cstr(o, path, 1);
        fprintf(o, ",\"version\":%u,\"alignment\":%u,\"metadata\":{", clcdd_gguf_version(g),
                clcdd_gguf_alignment(g));
    } else {
        fprintf(o, "format: GGUF v%u (alignment %u)\npath: %s\nmetadata: %zu\n",
                clcdd_gguf_version(g), clcdd_gguf_alignment(g), path, nk);
    }
    for (size_t i = 0; i < nk; i++) {
        clcdd_gguf_value_type t = clcdd_gguf_kv_type(g, i);
        if (json) {
            if (i) fputc(',', o);
            put_cstr(o, clcdd_gguf_kv_key(g, i), 1);
            fputc(':', o);
            if (t == CLCDD_GGUF_ARRAY) {
                put_gguf_array(o, g, i, 1);
            } else {
                fprintf(o, "{\"type\":\"%s\",\"value\":", clcdd_gguf_value_type_name(t));
                put_gguf_scalar(o, g, i, 1);
                fputc('}', o);
            }
        } else {
            fprintf(o, "  %s (%s) = ", clcdd_gguf_kv_key(g, i), clcdd_gguf_value_type_name(t));
            if (t == CLCDD_GGUF_ARRAY) put_gguf_array(o, g, i, 0);
            else put_gguf_scalar(o, g, i, 0);
            fputc('\n', o);
        }
    }
    if (json) fputs("},\"tensors\":[", o);
    else fprintf(o, "tensors: %zu (dims in ggml order: dims[0] is contiguous)\n", nt);
    for (size_t i = 0; i < nt; i++) {
        clcdd_gguf_tensor t;
        clcdd_gguf_get_tensor(g, i, &t);
        total += t.n_bytes;
        if (json) {
            if (i) fputc(',', o);
            fputs("{\"name\":", o);
            put_cstr(o, t.name, 1);
            fprintf(o, ",\"type\":\"%s\",\"dims\":[", clcdd_ggml_type_name(t.type));
            for (uint32_t d = 0; d < t.n_dims; d++) fprintf(o, "%s%" PRIu64, d ? "," : "", t.dims[d]);
            fprintf(o, "],\"bytes\":%" PRIu64 ",\"offset\":%" PRIu64 "}", t.n_bytes, t.offset);
        } else {
            fprintf(o, "  %-40s %-5s [", t.name, clcdd_ggml_type_name(t.type));
            for (uint32_t d = 0; d < t.n_dims; d++) fprintf(o, "%s%" PRIu64, d ? ", " : "", t.dims[d]);
            fprintf(o, "] %" PRIu64 " bytes\n", t.n_bytes);
        }
    }
    if (json) fprintf(o, "],\"total_bytes\":%" PRIu64 "}\n", total);
    else fprintf(o, "total: %" PRIu64 " bytes\n", total);
    clcdd_gguf_close(g);
    return 0;
}

/* ---- config.json ---- */

static int inspect_config(const char *path, int json) {
    clcdd_hf_config c;
    if (clcdd_hf_config_load(path, &c) != CLCDD_OK) return fail(path);
    FILE *o = stdout;
    if (json) {
        char *all = NULL;
        if (clcdd_hf_config_get_json(&c, "", &all) != CLCDD_OK) {
            clcdd_hf_config_free(&c);
            return fail(path);
        }
        fprintf(o, "{\"format\":\"config\",\"architecture\":\"%s\",\"resolved\":{\"vocab_size\":%" PRId64
                   ",\"hidden_size\":%" PRId64 ",\"intermediate_size\":%" PRId64
                   ",\"num_hidden_layers\":%" PRId64 ",\"num_attention_heads\":%" PRId64
                   ",\"num_key_value_heads\":%" PRId64 ",\"head_dim\":%" PRId64
                   ",\"rms_norm_eps\":%.9g,\"rope_theta\":%.9g,\"rope_type\":\"%s\",\"rope_factor\":%.9g"
                   ",\"tie_word_embeddings\":%s,\"qkv_bias\":%s,\"qk_norm\":%s,\"sliding_window\":%" PRId64
                   "},\"config\":%s}\n",
                c.architecture, c.vocab_size, c.hidden_size, c.intermediate_size,
                c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, c.head_dim,
                c.rms_norm_eps, c.rope_theta, clcdd_rope_type_name(c.rope_scaling.type),
                c.rope_scaling.factor, c.tie_word_embeddings ? "true" : "false",
                c.qkv_bias ? "true" : "false", c.qk_norm ? "true" : "false", c.sliding_window, all);
        free(all);
    } else {
        fprintf(o,
                "format: config.json\narchitecture: %s (%s)\nV=%" PRId64 " d=%" PRId64 " f=%" PRId64
                " L=%" PRId64 " H=%" PRId64 " Hkv=%" PRId64 " D=%" PRId64 "\n"
                "rms_norm_eps=%g rope_theta=%g rope=%s factor=%g\n"
                "tied=%d qkv_bias=%d o_bias=%d mlp_bias=%d qk_norm=%d sliding_window=%" PRId64 "\n",
                c.architecture, c.model_type, c.vocab_size, c.hidden_size, c.intermediate_size,
                c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, c.head_dim,
                c.rms_norm_eps, c.rope_theta, clcdd_rope_type_name(c.rope_scaling.type),
                c.rope_scaling.factor, c.tie_word_embeddings, c.qkv_bias, c.o_bias, c.mlp_bias,
                c.qk_norm, c.sliding_window);
    }
    clcdd_hf_config_free(&c);
    return 0;
}

static int is_gguf(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char m[4] = {0};
    size_t n = fread(m, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(m, "GGUF", 4) == 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int clcdd_cmd_inspect(int argc, char **argv) {
    int json = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "clcdd inspect: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (path) {
            fprintf(stderr, "clcdd inspect: only one PATH is accepted\n");
            usage(stderr);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    clcdd_clear_error();
    if (is_gguf(path)) return inspect_gguf(path, json);
    if (ends_with(path, ".json") && !ends_with(path, ".index.json")) return inspect_config(path, json);
    return inspect_safetensors(path, json);
}
