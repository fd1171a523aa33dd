/* An in-memory key/value config view. GGUF metadata is presented through one of these (the GGUF
 * reader copies the scalar values, strings and integer arrays it needs, and the lengths of the
 * other arrays), and tests build views of imaginary checkpoints with it. */
#include <stdlib.h>
#include <string.h>

#include "clcdd_internal.h"
#include "config_view_internal.h"

typedef enum { T_INT, T_FLOAT, T_BOOL, T_STRING, T_INT_ARRAY, T_LENGTH } entry_type;

typedef struct entry {
    char *key;
    entry_type type;
    int64_t i;      /* T_INT, T_BOOL; T_LENGTH: the length */
    double f;       /* T_FLOAT */
    char *s;        /* T_STRING (NUL-terminated copy) */
    int64_t *arr;   /* T_INT_ARRAY */
    size_t n;       /* T_INT_ARRAY length */
} entry;

typedef struct table_view {
    cv_base base;
    entry *e;
    size_t n, cap;
} table_view;

static const entry *find(const table_view *t, const char *key) {
    if (!key) return NULL;
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->e[i].key, key)) return &t->e[i];
    return NULL;
}

static int get_int(void *self, const char *key, int64_t *out) {
    const entry *e = find(self, key);
    if (!e || e->type != T_INT) return 0;
    if (out) *out = e->i;
    return 1;
}

static int get_float(void *self, const char *key, double *out) {
    const entry *e = find(self, key);
    if (!e || (e->type != T_INT && e->type != T_FLOAT)) return 0;
    if (out) *out = e->type == T_INT ? (double)e->i : e->f;
    return 1;
}

static int get_bool(void *self, const char *key, int *out) {
    const entry *e = find(self, key);
    if (!e || e->type != T_BOOL) return 0;
    if (out) *out = e->i != 0;
    return 1;
}

static int get_string(void *self, const char *key, const char **out) {
    const entry *e = find(self, key);
    if (!e || e->type != T_STRING) return 0;
    if (out) *out = e->s;
    return 1;
}

static int get_int_array(void *self, const char *key, int64_t *out, size_t cap, size_t *count) {
    const entry *e = find(self, key);
    if (!e) return 0;
    if (e->type == T_INT) {
        if (cap >= 1 && out) out[0] = e->i;
        if (count) *count = 1;
        return 1;
    }
    if (e->type == T_LENGTH && cap == 0) {
        if (count) *count = (size_t)e->i;
        return 1;
    }
    if (e->type != T_INT_ARRAY) return 0;
    for (size_t i = 0; i < e->n && i < cap && out; i++) out[i] = e->arr[i];
    if (count) *count = e->n;
    return 1;
}

static void entry_clear(entry *e) {
    free(e->s);
    free(e->arr);
    e->s = NULL;
    e->arr = NULL;
}

static void table_destroy(cv_base *b) {
    table_view *t = (table_view *)b;
    for (size_t i = 0; i < t->n; i++) {
        entry_clear(&t->e[i]);
        free(t->e[i].key);
    }
    free(t->e);
}

clcdd_status clcdd_config_view_create_table(clcdd_source_format format, clcdd_config_view **out) {
    if (!out || (format != CLCDD_SOURCE_HF && format != CLCDD_SOURCE_GGUF))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "config view: bad format or NULL output");
    table_view *t = calloc(1, sizeof *t);
    char *name = strdup("(table)");
    if (!t || !name) {
        free(t);
        free(name);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "config view: out of memory");
    }
    t->base.pub.self = t;
    t->base.pub.format = format;
    t->base.pub.get_int = get_int;
    t->base.pub.get_float = get_float;
    t->base.pub.get_bool = get_bool;
    t->base.pub.get_string = get_string;
    t->base.pub.get_int_array = get_int_array;
    t->base.destroy = table_destroy;
    t->base.is_table = 1;
    t->base.name = name;
    *out = &t->base.pub;
    return CLCDD_OK;
}

/* The entry for `key`, created empty when new, or NULL (message set). */
static entry *slot(clcdd_config_view *v, const char *key) {
    if (!v || !key || !((cv_base *)v)->is_table) {
        clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "config view: setters need a table view and a key");
        return NULL;
    }
    table_view *t = (table_view *)v;
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->e[i].key, key)) {
            entry_clear(&t->e[i]);
            return &t->e[i];
        }
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        entry *e = realloc(t->e, cap * sizeof *e);
        if (!e) goto oom;
        t->e = e;
        t->cap = cap;
    }
    entry *e = &t->e[t->n];
    memset(e, 0, sizeof *e);
    if (!(e->key = strdup(key))) goto oom;
    t->n++;
    return e;
oom:
    clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "config view: out of memory adding '%s'", key);
    return NULL;
}

clcdd_status clcdd_config_view_set_int(clcdd_config_view *v, const char *key, int64_t x) {
    entry *e = slot(v, key);
    if (!e) return CLCDD_ERR_INVALID_ARGUMENT;
    e->type = T_INT;
    e->i = x;
    return CLCDD_OK;
}

clcdd_status clcdd_config_view_set_float(clcdd_config_view *v, const char *key, double x) {
    entry *e = slot(v, key);
    if (!e) return CLCDD_ERR_INVALID_ARGUMENT;
    e->type = T_FLOAT;
    e->f = x;
    return CLCDD_OK;
}

clcdd_status clcdd_config_view_set_bool(clcdd_config_view *v, const char *key, int x) {
    entry *e = slot(v, key);
    if (!e) return CLCDD_ERR_INVALID_ARGUMENT;
    e->type = T_BOOL;
    e->i = x != 0;
    return CLCDD_OK;
}

clcdd_status clcdd_config_view_set_string(clcdd_config_view *v, const char *key, const char *s,
                                          size_t len) {
    if (!s) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "config view: NULL string for '%s'",
                              key ? key : "?");
    entry *e = slot(v, key);
    if (!e) return CLCDD_ERR_INVALID_ARGUMENT;
    e->type = T_LENGTH; /* harmless placeholder until the copy succeeds */
    e->i = 0;
    char *c = malloc(len + 1);
    if (!c) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "config view: out of memory for '%s'", key);
    memcpy(c, s, len);
    c[len] = 0;
    e->type = T_STRING;
    e->s = c;
    return CLCDD_OK;
}

clcdd_status clcdd_config_view_set_int_array(clcdd_config_view *v, const char *key,
                                             const int64_t *x, size_t n) {
    if (n && !x) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "config view: NULL array for '%s'",
                                   key ? key : "?");
    entry *e = slot(v, key);
    if (!e) return CLCDD_ERR_INVALID_ARGUMENT;
    e->type = T_LENGTH;
    e->i = 0;
    int64_t *c = malloc((n ? n : 1) * sizeof *c);
    if (!c) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "config view: out of memory for '%s'", key);
    if (n) memcpy(c, x, n * sizeof *c);
    e->type = T_INT_ARRAY;
    e->arr = c;
    e->n = n;
    return CLCDD_OK;
}

clcdd_status clcdd_config_view_set_array_length(clcdd_config_view *v, const char *key, size_t n) {
    entry *e = slot(v, key);
    if (!e) return CLCDD_ERR_INVALID_ARGUMENT;
    e->type = T_LENGTH;
    e->i = (int64_t)n;
    return CLCDD_OK;
}

const char *clcdd_config_view_name(const clcdd_config_view *v) {
    return v ? ((const cv_base *)v)->name : "(none)";
}

void clcdd_config_view_close(clcdd_config_view *v) {
    if (!v) return;
    cv_base *b = (cv_base *)v;
    if (b->destroy) b->destroy(b);
    free(b->name);
    free(b);
}
