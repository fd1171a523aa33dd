/* safetensors reader: single files and sharded checkpoints (FORMATS.md §1). */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clcdd/safetensors.h"
#include "loaders_internal.h"

typedef struct st_entry {
    char *name;
    clcdd_file_dtype dtype;
    size_t n_dims;
    uint64_t *shape;
    uint64_t n_elements;
    uint64_t begin, end;
    int skipped; /* rotary_emb.inv_freq: validated but not exposed */
} st_entry;

typedef struct st_file {
    char *path;
    clcdd_mapped_file map;
    uint64_t data_start; /* 8 + N */
    st_entry *entries;   /* sorted by (begin, end) */
    size_t n_entries;
    char **meta; /* 2 * n_meta strings */
    size_t n_meta;
} st_file;

typedef struct st_ref {
    size_t file;
    size_t entry;
    const char *name; /* files[file].entries[entry].name */
} st_ref;

struct clcdd_safetensors {
    st_file *files;
    size_t n_files;
    st_ref *order;    /* listing order */
    st_ref *by_name;  /* sorted by name for lookup */
    size_t n_tensors;
};

static int is_skipped_name(const char *name) {
    static const char suffix[] = "rotary_emb.inv_freq";
    size_t n = strlen(name), k = sizeof suffix - 1;
    return n >= k && strcmp(name + n - k, suffix) == 0;
}

static void file_free(st_file *f) {
    for (size_t i = 0; i < f->n_entries; i++) {
        free(f->entries[i].name);
        free(f->entries[i].shape);
    }
    free(f->entries);
    for (size_t i = 0; i < 2 * f->n_meta; i++) free(f->meta[i]);
    free(f->meta);
    clcdd_unmap_file(&f->map);
    free(f->path);
    memset(f, 0, sizeof *f);
}

void clcdd_safetensors_close(clcdd_safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->n_files; i++) file_free(&st->files[i]);
    free(st->files);
    free(st->order);
    free(st->by_name);
    free(st);
}

/* A JSON integer >= 0 (jansson stores integers as 64-bit json_int_t; reals are refused). */
static int json_u64(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v)) return 0;
    json_int_t i = json_integer_value(v);
    if (i < 0) return 0;
    *out = (uint64_t)i;
    return 1;
}

static int cmp_entry_offsets(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static clcdd_status parse_metadata(st_file *f, const json_t *meta) {
    const char *p = f->path;
    if (!json_is_object(meta))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: __metadata__ must be an object of strings", p);
    size_t n = json_object_size(meta);
    f->meta = calloc(2 * n + 1, sizeof *f->meta);
    if (!f->meta) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", p);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)meta, key, val) {
        if (!json_is_string(val))
            return clcdd_fail(CLCDD_ERR_FORMAT,
                              "%s: __metadata__ value of \"%s\" is not a string (only "
                              "string->string metadata is allowed)",
                              p, key);
        f->meta[2 * f->n_meta] = strdup(key);
        f->meta[2 * f->n_meta + 1] = strdup(json_string_value(val));
        f->n_meta++;
        if (!f->meta[2 * f->n_meta - 2] || !f->meta[2 * f->n_meta - 1])
            return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", p);
    }
    return CLCDD_OK;
}

static clcdd_status parse_entry(st_file *f, const char *name, const json_t *v, st_entry *e) {
    const char *p = f->path;
    if (!json_is_object(v))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: tensor '%s': entry is not an object", p, name);
    const json_t *jd = json_object_get(v, "dtype");
    const json_t *js = json_object_get(v, "shape");
    const json_t *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: tensor '%s': missing or non-string \"dtype\"", p,
                          name);
    e->dtype = clcdd_file_dtype_from_name(json_string_value(jd));
    if (e->dtype == CLCDD_DTYPE_INVALID)
        return clcdd_fail(CLCDD_ERR_FORMAT,
                          "%s: tensor '%s': unknown dtype \"%s\" (known: BOOL U8 I8 I16 U16 F16 "
                          "BF16 I32 U32 F32 I64 U64 F64 C64 F8_* F6_* F4)",
                          p, name, json_string_value(jd));
    if (!json_is_array(js))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: tensor '%s': missing or non-array \"shape\"", p,
                          name);
    e->n_dims = json_array_size(js);
    e->shape = malloc((e->n_dims ? e->n_dims : 1) * sizeof *e->shape);
    if (!e->shape) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", p);
    uint64_t prod = 1;
    int overflow = 0;
    for (size_t i = 0; i < e->n_dims; i++) {
        if (!json_u64(json_array_get(js, i), &e->shape[i]))
            return clcdd_fail(CLCDD_ERR_FORMAT,
                              "%s: tensor '%s': shape[%zu] is not a non-negative integer", p, name,
                              i);
        if (!clcdd_mul_u64(prod, e->shape[i], &prod)) overflow = 1;
    }
    /* A zero anywhere makes the product 0 even if a partial product overflowed. */
    for (size_t i = 0; i < e->n_dims; i++)
        if (e->shape[i] == 0) overflow = 0, prod = 0;
    if (overflow)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: tensor '%s': product of shape overflows 64 bits",
                          p, name);
    e->n_elements = prod;
    if (!json_is_array(jo) || json_array_size(jo) != 2 ||
        !json_u64(json_array_get(jo, 0), &e->begin) || !json_u64(json_array_get(jo, 1), &e->end))
        return clcdd_fail(CLCDD_ERR_FORMAT,
                          "%s: tensor '%s': \"data_offsets\" must be [begin, end] with "
                          "non-negative integers",
                          p, name);
    if (e->end < e->begin)
        return clcdd_fail(CLCDD_ERR_FORMAT,
                          "%s: tensor '%s': data_offsets end %llu is before begin %llu", p, name,
                          (unsigned long long)e->end, (unsigned long long)e->begin);
    uint64_t bits;
    if (!clcdd_mul_u64(prod, clcdd_file_dtype_bits(e->dtype), &bits))
        return clcdd_fail(CLCDD_ERR_FORMAT,
                          "%s: tensor '%s': byte size of shape x dtype overflows 64 bits", p, name);
    if (bits % 8 != 0)
        return clcdd_fail(CLCDD_ERR_FORMAT,
                          "%s: tensor '%s': %llu elements of %s do not fill whole bytes", p, name,
                          (unsigned long long)prod, clcdd_file_dtype_name(e->dtype));
    if (e->end - e->begin != bits / 8)
        return clcdd_fail(CLCDD_ERR_FORMAT,
                          "%s: tensor '%s': data_offsets span %llu bytes but shape and dtype %s "
                          "need %llu",
                          p, name, (unsigned long long)(e->end - e->begin),
                          clcdd_file_dtype_name(e->dtype), (unsigned long long)(bits / 8));
    e->name = strdup(name);
    if (!e->name) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", p);
    e->skipped = is_skipped_name(name);
    return CLCDD_OK;
}

/* Validate the mapped image of one file and fill f->entries (FORMATS.md §1.2, every check). */
static clcdd_status parse_file(st_file *f) {
    const char *p = f->path;
    const unsigned char *d = f->map.data;
    uint64_t size = f->map.size;
    if (size < 8)
        return clcdd_fail(CLCDD_ERR_FORMAT,
                          "%s: file is %llu bytes, too small for a safetensors header (need >= 8)",
                          p, (unsigned long long)size);
    uint64_t n = clcdd_rd_u64(d);
    if (n > CLCDD_SAFETENSORS_MAX_HEADER)
        return clcdd_fail(CLCDD_ERR_FORMAT,
                          "%s: header too large: length field says %llu bytes (limit %llu); the "
                          "file is corrupt or not safetensors",
                          p, (unsigned long long)n, CLCDD_SAFETENSORS_MAX_HEADER);
    if (n > size - 8)
        return clcdd_fail(CLCDD_ERR_FORMAT,
                          "%s: header length %llu exceeds the file size %llu (truncated file?)", p,
                          (unsigned long long)n, (unsigned long long)size);
    if (n < 2 || d[8] != '{')
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: header does not start with '{'", p);
    const unsigned char *h = d + 8;
    if (!clcdd_utf8_valid(h, (size_t)n))
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: header is not valid UTF-8", p);
    f->data_start = 8 + n;

    json_error_t jerr;
    json_t *root = json_loadb((const char *)h, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: header JSON invalid at byte %d: %s", p,
                          jerr.position, jerr.text);
    clcdd_status s = CLCDD_OK;
    if (!json_is_object(root)) {
        s = clcdd_fail(CLCDD_ERR_FORMAT, "%s: header is not a JSON object", p);
        goto done;
    }
    size_t total = json_object_size(root);
    f->entries = calloc(total ? total : 1, sizeof *f->entries);
    if (!f->entries) {
        s = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", p);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            s = parse_metadata(f, val);
        } else {
            s = parse_entry(f, key, val, &f->entries[f->n_entries]);
            f->n_entries++; /* count even on failure so file_free releases partial entries */
        }
        if (s != CLCDD_OK) goto done;
    }
    qsort(f->entries, f->n_entries, sizeof *f->entries, cmp_entry_offsets);
    uint64_t expect = 0;
    for (size_t i = 0; i < f->n_entries; i++) {
        const st_entry *e = &f->entries[i];
        if (e->begin != expect) {
            if (e->begin > expect)
                s = clcdd_fail(CLCDD_ERR_FORMAT,
                               "%s: tensor '%s': data starts at offset %llu but the previous "
                               "tensor ends at %llu (gap in the data buffer)",
                               p, e->name, (unsigned long long)e->begin,
                               (unsigned long long)expect);
            else
                s = clcdd_fail(CLCDD_ERR_FORMAT,
                               "%s: tensor '%s': data at offset %llu overlaps the previous "
                               "tensor ending at %llu",
                               p, e->name, (unsigned long long)e->begin,
                               (unsigned long long)expect);
            goto done;
        }
        expect = e->end;
    }
    /* 8 + N <= size was checked, so size - data_start cannot underflow. */
    if (expect != size - f->data_start) {
        s = clcdd_fail(CLCDD_ERR_FORMAT,
                       "%s: tensors cover %llu data bytes but the file has %llu after the header "
                       "(%s)",
                       p, (unsigned long long)expect, (unsigned long long)(size - f->data_start),
                       expect > size - f->data_start ? "truncated file" : "trailing bytes");
        goto done;
    }
done:
    json_decref(root);
    return s;
}

static int cmp_ref_by_name(const void *a, const void *b) {
    return strcmp(((const st_ref *)a)->name, ((const st_ref *)b)->name);
}

/* Build the by-name index from st->order and refuse duplicate names across shards. */
static clcdd_status build_index(clcdd_safetensors *st, const char *what) {
    st->by_name = malloc((st->n_tensors ? st->n_tensors : 1) * sizeof *st->by_name);
    if (!st->by_name) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
    if (st->n_tensors) memcpy(st->by_name, st->order, st->n_tensors * sizeof *st->order);
    qsort(st->by_name, st->n_tensors, sizeof *st->by_name, cmp_ref_by_name);
    for (size_t i = 1; i < st->n_tensors; i++)
        if (strcmp(st->by_name[i - 1].name, st->by_name[i].name) == 0)
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s: tensor '%s' appears twice (%s, %s)", what,
                              st->by_name[i].name, st->files[st->by_name[i - 1].file].path,
                              st->files[st->by_name[i].file].path);
    return CLCDD_OK;
}

static clcdd_status add_file(clcdd_safetensors *st, const char *path, const void *mem,
                             size_t mem_size) {
    st_file *nf = realloc(st->files, (st->n_files + 1) * sizeof *nf);
    if (!nf) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    st->files = nf;
    st_file *f = &st->files[st->n_files++];
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    if (!f->path) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    if (mem) {
        f->map.data = mem;
        f->map.size = mem_size;
        f->map.owned = 0;
    } else if (mem_size == 0) {
        clcdd_status s = clcdd_map_file(path, &f->map);
        if (s != CLCDD_OK) return s;
    }
    return parse_file(f);
}

/* Expose every non-skipped entry of every file, in file then offset order. */
static clcdd_status list_all(clcdd_safetensors *st, const char *what) {
    size_t total = 0;
    for (size_t i = 0; i < st->n_files; i++) total += st->files[i].n_entries;
    st->order = malloc((total ? total : 1) * sizeof *st->order);
    if (!st->order) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
    for (size_t i = 0; i < st->n_files; i++)
        for (size_t j = 0; j < st->files[i].n_entries; j++)
            if (!st->files[i].entries[j].skipped)
                st->order[st->n_tensors++] = (st_ref){i, j, st->files[i].entries[j].name};
    return build_index(st, what);
}

clcdd_status clcdd_safetensors_open_memory(const void *data, size_t size, const char *name,
                                           clcdd_safetensors **out) {
    *out = NULL;
    if (!name) name = "<memory>";
    static const unsigned char empty[1];
    clcdd_safetensors *st = calloc(1, sizeof *st);
    if (!st) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
    clcdd_status s = add_file(st, name, data ? data : (const void *)empty, data ? size : 0);
    if (s == CLCDD_OK) s = list_all(st, name);
    if (s != CLCDD_OK) {
        clcdd_safetensors_close(st);
        return s;
    }
    *out = st;
    return CLCDD_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sharded checkpoint: open each distinct shard of weight_map once, resolve names through it. */
static clcdd_status open_index(clcdd_safetensors *st, const char *index_path) {
    char *text = NULL;
    size_t len = 0;
    clcdd_status s = clcdd_read_file(index_path, &text, &len);
    if (s != CLCDD_OK) return s;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: invalid JSON at line %d: %s", index_path,
                          jerr.line, jerr.text);
    char *dir = clcdd_path_dirname(index_path);
    const char **shards = NULL;
    size_t n_shards = 0;
    json_t *map = json_is_object(root) ? json_object_get(root, "weight_map") : NULL;
    if (!dir) {
        s = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", index_path);
        goto done;
    }
    if (!json_is_object(map)) {
        s = clcdd_fail(CLCDD_ERR_FORMAT, "%s: missing \"weight_map\" object", index_path);
        goto done;
    }
    size_t n_names = json_object_size(map);
    shards = malloc((n_names ? n_names : 1) * sizeof *shards);
    if (!shards) {
        s = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", index_path);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(map, key, val) {
        const char *file = json_string_value(val);
        if (!file || !*file || strchr(file, '/') || strcmp(file, "..") == 0) {
            s = clcdd_fail(CLCDD_ERR_FORMAT,
                           "%s: weight_map[\"%s\"] must be a shard file name in the same "
                           "directory",
                           index_path, key);
            goto done;
        }
        shards[n_shards++] = file;
    }
    qsort(shards, n_shards, sizeof *shards, cmp_str);
    size_t w = 0;
    for (size_t i = 0; i < n_shards; i++)
        if (w == 0 || strcmp(shards[w - 1], shards[i]) != 0) shards[w++] = shards[i];
    n_shards = w;
    for (size_t i = 0; i < n_shards; i++) {
        char *sp = clcdd_path_join(dir, shards[i]);
        if (!sp) {
            s = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", index_path);
            goto done;
        }
        s = add_file(st, sp, NULL, 0);
        free(sp);
        if (s != CLCDD_OK) {
            s = clcdd_fail_context(s, "%s: shard %s", index_path, shards[i]);
            goto done;
        }
    }
    st->order = malloc((n_names ? n_names : 1) * sizeof *st->order);
    if (!st->order) {
        s = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", index_path);
        goto done;
    }
    json_object_foreach(map, key, val) {
        if (is_skipped_name(key)) continue;
        const char *file = json_string_value(val);
        const char **hit = bsearch(&file, shards, n_shards, sizeof *shards, cmp_str);
        size_t fi = (size_t)(hit - shards); /* always found: shards came from this map */
        const st_file *f = &st->files[fi];
        size_t ei = 0;
        while (ei < f->n_entries && strcmp(f->entries[ei].name, key) != 0) ei++;
        if (ei == f->n_entries) {
            s = clcdd_fail(CLCDD_ERR_NOT_FOUND,
                           "%s: weight_map says tensor '%s' is in %s, but that shard has no such "
                           "tensor; the checkpoint is incomplete or the index is stale",
                           index_path, key, file);
            goto done;
        }
        st->order[st->n_tensors++] = (st_ref){fi, ei, f->entries[ei].name};
    }
    s = build_index(st, index_path);
    if (s == CLCDD_OK) {
        /* listing order: shard, then data offset (entries are offset-sorted) */
        memcpy(st->order, st->by_name, st->n_tensors * sizeof *st->order);
        for (size_t i = 1; i < st->n_tensors; i++) {
            st_ref r = st->order[i];
            size_t j = i;
            while (j > 0 && (st->order[j - 1].file > r.file ||
                             (st->order[j - 1].file == r.file && st->order[j - 1].entry > r.entry))) {
                st->order[j] = st->order[j - 1];
                j--;
            }
            st->order[j] = r;
        }
    }
done:
    free(shards);
    free(dir);
    json_decref(root);
    return s;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

clcdd_status clcdd_safetensors_open(const char *path, clcdd_safetensors **out) {
    if (!out) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "safetensors_open: out is NULL");
    *out = NULL;
    if (!path) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "safetensors_open: path is NULL");
    clcdd_safetensors *st = calloc(1, sizeof *st);
    if (!st) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    clcdd_status s;
    struct stat sb;
    char *chosen = NULL;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        chosen = clcdd_path_join(path, "model.safetensors.index.json");
        if (chosen && !is_file(chosen)) {
            free(chosen);
            chosen = clcdd_path_join(path, "model.safetensors");
            if (chosen && !is_file(chosen)) {
                free(chosen);
                clcdd_safetensors_close(st);
                return clcdd_fail(CLCDD_ERR_NOT_FOUND,
                                  "%s: directory has neither model.safetensors.index.json nor "
                                  "model.safetensors",
                                  path);
            }
        }
        if (!chosen) {
            clcdd_safetensors_close(st);
            return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        }
        path = chosen;
    }
    if (ends_with(path, ".json")) {
        s = open_index(st, path);
    } else {
        s = add_file(st, path, NULL, 0);
        if (s == CLCDD_OK) s = list_all(st, path);
    }
    free(chosen);
    if (s != CLCDD_OK) {
        clcdd_safetensors_close(st);
        return s;
    }
    *out = st;
    return CLCDD_OK;
}

size_t clcdd_safetensors_count(const clcdd_safetensors *st) { return st ? st->n_tensors : 0; }

static void fill_view(const clcdd_safetensors *st, const st_ref *r, clcdd_st_tensor *v) {
    const st_file *f = &st->files[r->file];
    const st_entry *e = &f->entries[r->entry];
    v->name = e->name;
    v->dtype = e->dtype;
    v->n_dims = e->n_dims;
    v->shape = e->shape;
    v->n_elements = e->n_elements;
    v->n_bytes = e->end - e->begin;
    v->data = v->n_bytes ? f->map.data + f->data_start + e->begin : NULL;
    v->file = f->path;
}

clcdd_status clcdd_safetensors_get(const clcdd_safetensors *st, size_t index,
                                   clcdd_st_tensor *out) {
    if (!st || !out || index >= st->n_tensors)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "safetensors_get: index %zu out of range",
                          index);
    fill_view(st, &st->order[index], out);
    return CLCDD_OK;
}

clcdd_status clcdd_safetensors_find(const clcdd_safetensors *st, const char *name,
                                    clcdd_st_tensor *out) {
    if (!st || !name || !out)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "safetensors_find: NULL argument");
    st_ref key = {0, 0, name};
    const st_ref *r = bsearch(&key, st->by_name, st->n_tensors, sizeof key, cmp_ref_by_name);
    if (!r)
        return clcdd_fail(CLCDD_ERR_NOT_FOUND, "%s: no tensor named '%s'",
                          st->n_files ? st->files[0].path : "checkpoint", name);
    fill_view(st, r, out);
    return CLCDD_OK;
}

size_t clcdd_safetensors_metadata_count(const clcdd_safetensors *st) {
    return st && st->n_files ? st->files[0].n_meta : 0;
}
const char *clcdd_safetensors_metadata_key(const clcdd_safetensors *st, size_t i) {
    return i < clcdd_safetensors_metadata_count(st) ? st->files[0].meta[2 * i] : NULL;
}
const char *clcdd_safetensors_metadata_value(const clcdd_safetensors *st, size_t i) {
    return i < clcdd_safetensors_metadata_count(st) ? st->files[0].meta[2 * i + 1] : NULL;
}
const char *clcdd_safetensors_metadata_get(const clcdd_safetensors *st, const char *key) {
    size_t n = clcdd_safetensors_metadata_count(st);
    for (size_t i = 0; key && i < n; i++)
        if (strcmp(st->files[0].meta[2 * i], key) == 0) return st->files[0].meta[2 * i + 1];
    return NULL;
}

clcdd_status clcdd_tensor_to_f32(const clcdd_st_tensor *t, float *dst, size_t capacity) {
    if (!t) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "tensor_to_f32: NULL tensor");
    if (t->n_elements > capacity)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "tensor '%s': %llu elements do not fit the %zu-float buffer", t->name,
                          (unsigned long long)t->n_elements, capacity);
    clcdd_status s = clcdd_file_dtype_to_f32(t->dtype, t->data, (size_t)t->n_elements, dst);
    if (s != CLCDD_OK) return clcdd_fail_context(s, "%s: tensor '%s'", t->file, t->name);
    return CLCDD_OK;
}
