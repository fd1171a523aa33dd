/* safetensors writer: streams header and tensor data to a temporary file, then renames it. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clcdd/safetensors.h"
#include "loaders_internal.h"
#include "safetensors_internal.h"

int clcdd_st_dtype_rank(clcdd_file_dtype dtype) {
    static const clcdd_file_dtype order[] = {
        CLCDD_DTYPE_BOOL,        CLCDD_DTYPE_F4,          CLCDD_DTYPE_F6_E2M3,
        CLCDD_DTYPE_F6_E3M2,     CLCDD_DTYPE_U8,          CLCDD_DTYPE_I8,
        CLCDD_DTYPE_F8_E5M2,     CLCDD_DTYPE_F8_E4M3,     CLCDD_DTYPE_F8_E8M0,
        CLCDD_DTYPE_F8_E4M3FNUZ, CLCDD_DTYPE_F8_E5M2FNUZ, CLCDD_DTYPE_I16,
        CLCDD_DTYPE_U16,         CLCDD_DTYPE_F16,         CLCDD_DTYPE_BF16,
        CLCDD_DTYPE_I32,         CLCDD_DTYPE_U32,         CLCDD_DTYPE_F32,
        CLCDD_DTYPE_C64,         CLCDD_DTYPE_F64,         CLCDD_DTYPE_I64,
        CLCDD_DTYPE_U64,
    };
    for (int i = 0; i < (int)(sizeof order / sizeof order[0]); i++)
        if (order[i] == dtype) return i;
    return -1;
}

typedef struct w_item {
    const clcdd_st_write_tensor *t;
    uint64_t n_bytes;
} w_item;

static int cmp_item(const void *a, const void *b) {
    const w_item *x = a, *y = b;
    int rx = clcdd_st_dtype_rank(x->t->dtype), ry = clcdd_st_dtype_rank(y->t->dtype);
    if (rx != ry) return rx > ry ? -1 : 1; /* larger alignment first */
    return strcmp(x->t->name, y->t->name);
}

static clcdd_status write_all(int fd, const void *data, uint64_t len, const char *path) {
    const unsigned char *p = data;
    while (len > 0) {
        size_t chunk = len > (1u << 30) ? (1u << 30) : (size_t)len;
        ssize_t w = write(fd, p, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            return clcdd_fail(CLCDD_ERR_IO, "%s: write failed: %s (nothing replaced)", path,
                              strerror(errno));
        }
        p += w;
        len -= (uint64_t)w;
    }
    return CLCDD_OK;
}

/* Validate the inputs, sort them and build the header JSON (without padding). */
static clcdd_status build_header(const char *path, w_item *items, size_t n,
                                 const char *const *metadata, size_t n_meta, char **out) {
    *out = NULL;
    clcdd_status s = CLCDD_OK;
    for (size_t i = 0; i < n; i++) {
        const clcdd_st_write_tensor *t = items[i].t;
        if (!t->name || !*t->name || strcmp(t->name, "__metadata__") == 0)
            return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: tensor %zu has an invalid name",
                              path, i);
        if (!clcdd_utf8_valid((const unsigned char *)t->name, strlen(t->name)))
            return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: tensor %zu: name is not UTF-8",
                              path, i);
        unsigned bits = clcdd_file_dtype_bits(t->dtype);
        if (bits == 0)
            return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: tensor '%s': invalid dtype", path,
                              t->name);
        uint64_t prod = 1;
        for (size_t d = 0; d < t->n_dims; d++)
            if (!t->shape || !clcdd_mul_u64(prod, t->shape[d], &prod) || t->shape[d] > INT64_MAX)
                return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: tensor '%s': bad shape", path,
                                  t->name);
        uint64_t tb;
        if (!clcdd_mul_u64(prod, bits, &tb) || tb % 8 != 0)
            return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                              "%s: tensor '%s': size overflows or is not whole bytes", path,
                              t->name);
        items[i].n_bytes = tb / 8;
        if (items[i].n_bytes && !t->data)
            return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: tensor '%s': data is NULL", path,
                              t->name);
    }
    qsort(items, n, sizeof *items, cmp_item);
    for (size_t i = 1; i < n; i++)
        if (strcmp(items[i - 1].t->name, items[i].t->name) == 0 &&
            items[i - 1].t->dtype == items[i].t->dtype)
            return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: tensor name '%s' given twice", path,
                              items[i].t->name);

    json_t *root = json_object();
    if (!root) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    if (n_meta > 0) {
        json_t *meta = json_object();
        if (!meta || json_object_set_new(root, "__metadata__", meta) != 0) goto oom;
        for (size_t i = 0; i < n_meta; i++) {
            const char *k = metadata[2 * i], *v = metadata[2 * i + 1];
            if (!k || !v) {
                s = clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: metadata pair %zu has NULL", path,
                               i);
                goto fail;
            }
            json_t *jv = json_string(v);
            if (!jv || json_object_set_new(meta, k, jv) != 0) {
                s = clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: metadata \"%s\" is not UTF-8",
                               path, k);
                goto fail;
            }
        }
    }
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const clcdd_st_write_tensor *t = items[i].t;
        if (json_object_get(root, t->name)) {
            s = clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: tensor name '%s' given twice", path,
                           t->name);
            goto fail;
        }
        json_t *e = json_object(), *shape = json_array(), *offs = json_array();
        if (!e || !shape || !offs) {
            json_decref(e);
            json_decref(shape);
            json_decref(offs);
            goto oom;
        }
        for (size_t d = 0; d < t->n_dims; d++)
            json_array_append_new(shape, json_integer((json_int_t)t->shape[d]));
        json_array_append_new(offs, json_integer((json_int_t)off));
        json_array_append_new(offs, json_integer((json_int_t)(off + items[i].n_bytes)));
        json_object_set_new(e, "dtype", json_string(clcdd_file_dtype_name(t->dtype)));
        json_object_set_new(e, "shape", shape);
        json_object_set_new(e, "data_offsets", offs);
        if (json_object_set_new(root, t->name, e) != 0) goto oom;
        off += items[i].n_bytes;
    }
    *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!*out) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    return CLCDD_OK;
oom:
    s = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
fail:
    json_decref(root);
    return s;
}

clcdd_status clcdd_safetensors_write(const char *path, const clcdd_st_write_tensor *tensors,
                                     size_t n_tensors, const char *const *metadata,
                                     size_t n_metadata) {
    if (!path || (n_tensors && !tensors) || (n_metadata && !metadata))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "safetensors_write: NULL argument");
    w_item *items = calloc(n_tensors ? n_tensors : 1, sizeof *items);
    if (!items) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    for (size_t i = 0; i < n_tensors; i++) items[i].t = &tensors[i];
    char *header = NULL;
    clcdd_status s = build_header(path, items, n_tensors, metadata, n_metadata, &header);
    if (s != CLCDD_OK) {
        free(items);
        return s;
    }
    size_t hlen = strlen(header);
    size_t padded = (hlen + 7) / 8 * 8;
    char *tmp = malloc(strlen(path) + 32);
    int fd = -1;
    if (!tmp) {
        s = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        goto done;
    }
    snprintf(tmp, strlen(path) + 32, "%s.tmp.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        s = clcdd_fail(CLCDD_ERR_IO, "%s: cannot create temporary file %s: %s", path, tmp,
                       strerror(errno));
        goto done;
    }
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++) lenbuf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    static const char spaces[8] = "        ";
    s = write_all(fd, lenbuf, 8, path);
    if (s == CLCDD_OK) s = write_all(fd, header, hlen, path);
    if (s == CLCDD_OK) s = write_all(fd, spaces, padded - hlen, path);
    for (size_t i = 0; s == CLCDD_OK && i < n_tensors; i++)
        s = write_all(fd, items[i].t->data, items[i].n_bytes, path);
    if (s == CLCDD_OK && fsync(fd) != 0)
        s = clcdd_fail(CLCDD_ERR_IO, "%s: cannot flush: %s (nothing replaced)", path,
                       strerror(errno));
    if (close(fd) != 0 && s == CLCDD_OK)
        s = clcdd_fail(CLCDD_ERR_IO, "%s: cannot close: %s (nothing replaced)", path,
                       strerror(errno));
    fd = -1;
    if (s == CLCDD_OK && rename(tmp, path) != 0)
        s = clcdd_fail(CLCDD_ERR_IO, "%s: cannot rename into place: %s", path, strerror(errno));
    if (s != CLCDD_OK) unlink(tmp);
done:
    if (fd >= 0) close(fd);
    free(tmp);
    free(header);
    free(items);
    return s;
}
