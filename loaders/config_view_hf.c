/* The config view over a Hugging Face model directory.
 *
 * config.json is required; generation_config.json, tokenizer_config.json and chat_template.jinja
 * are read when present. Keys (see clcdd_config_view in clcdd/plugin.h):
 *   "a.b.c"                   config.json, descending into objects; numbers index arrays
 *   "generation.<key>"        generation_config.json
 *   "tokenizer_config.<key>"  tokenizer_config.json
 *   "chat_template"           chat_template.jinja, else tokenizer_config.json's chat_template
 *                             (a string, or the entry named "default" of a list of templates)
 * JSON null is "absent". Strings returned stay valid while the view lives. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clcdd_internal.h"
#include "config_view_internal.h"
#include "loaders_internal.h"

typedef struct hf_view {
    cv_base base;
    json_t *config, *generation, *tokenizer;
    char *jinja; /* chat_template.jinja contents, or NULL */
} hf_view;

/* Value at a dotted path below `node`. The whole remaining path is tried as a key first, so a key
 * that itself contains dots is found too; then the path is split at each dot, left to right. */
static json_t *lookup(json_t *node, const char *path) {
    if (!node || !path) return NULL;
    if (json_is_object(node)) {
        json_t *v = json_object_get(node, path);
        if (v) return v;
    }
    for (const char *dot = strchr(path, '.'); dot; dot = strchr(dot + 1, '.')) {
        size_t n = (size_t)(dot - path);
        char head[256];
        if (n == 0 || n >= sizeof head) continue;
        memcpy(head, path, n);
        head[n] = 0;
        json_t *sub = NULL;
        if (json_is_object(node)) {
            sub = json_object_get(node, head);
        } else if (json_is_array(node)) {
            char *end;
            errno = 0;
            unsigned long idx = strtoul(head, &end, 10);
            if (!*end && !errno && head[0] >= '0' && head[0] <= '9') sub = json_array_get(node, idx);
        }
        if (sub) {
            json_t *r = lookup(sub, dot + 1);
            if (r) return r;
        }
    }
    if (json_is_array(node)) {
        char *end;
        unsigned long idx = strtoul(path, &end, 10);
        if (!*end && path[0] >= '0' && path[0] <= '9') return json_array_get(node, idx);
    }
    return NULL;
}

static json_t *find(hf_view *h, const char *key) {
    if (!key) return NULL;
    json_t *v;
    if (!strncmp(key, "generation.", 11))
        v = lookup(h->generation, key + 11);
    else if (!strncmp(key, "tokenizer_config.", 17))
        v = lookup(h->tokenizer, key + 17);
    else
        v = lookup(h->config, key);
    return json_is_null(v) ? NULL : v;
}

static int get_int(void *self, const char *key, int64_t *out) {
    json_t *v = find(self, key);
    if (!json_is_integer(v)) return 0;
    if (out) *out = (int64_t)json_integer_value(v);
    return 1;
}

static int get_float(void *self, const char *key, double *out) {
    json_t *v = find(self, key);
    if (!json_is_number(v)) return 0;
    if (out) *out = json_number_value(v);
    return 1;
}

static int get_bool(void *self, const char *key, int *out) {
    json_t *v = find(self, key);
    if (!json_is_boolean(v)) return 0;
    if (out) *out = json_is_true(v);
    return 1;
}

static const char *chat_template(hf_view *h) {
    if (h->jinja) return h->jinja;
    json_t *t = json_object_get(h->tokenizer, "chat_template");
    if (json_is_string(t)) return json_string_value(t);
    if (json_is_array(t)) { /* [{"name": "default", "template": "..."}, {"name": "tool_use", ...}] */
        size_t i;
        json_t *e;
        json_array_foreach(t, i, e) {
            if (json_is_string(json_object_get(e, "name")) &&
                !strcmp(json_string_value(json_object_get(e, "name")), "default") &&
                json_is_string(json_object_get(e, "template")))
                return json_string_value(json_object_get(e, "template"));
        }
    }
    return NULL;
}

static int get_string(void *self, const char *key, const char **out) {
    hf_view *h = self;
    if (key && !strcmp(key, "chat_template")) {
        const char *s = chat_template(h);
        if (!s) return 0;
        if (out) *out = s;
        return 1;
    }
    json_t *v = find(h, key);
    if (!json_is_string(v)) return 0;
    if (out) *out = json_string_value(v);
    return 1;
}

static int get_int_array(void *self, const char *key, int64_t *out, size_t cap, size_t *count) {
    json_t *v = find(self, key);
    if (json_is_integer(v)) {
        if (cap >= 1 && out) out[0] = (int64_t)json_integer_value(v);
        if (count) *count = 1;
        return 1;
    }
    if (!json_is_array(v)) return 0;
    size_t n = json_array_size(v);
    if (cap > 0) { /* with cap 0 any array reports its length */
        for (size_t i = 0; i < n; i++)
            if (!json_is_integer(json_array_get(v, i))) return 0;
        for (size_t i = 0; i < n && i < cap && out; i++)
            out[i] = (int64_t)json_integer_value(json_array_get(v, i));
    }
    if (count) *count = n;
    return 1;
}

static void hf_destroy(cv_base *b) {
    hf_view *h = (hf_view *)b;
    json_decref(h->config);
    json_decref(h->generation);
    json_decref(h->tokenizer);
    free(h->jinja);
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* Parse a JSON object file; `required` 0 means a missing file leaves *out NULL. */
static clcdd_status load_json(const char *path, int required, json_t **out) {
    *out = NULL;
    if (!required && !exists(path)) return CLCDD_OK;
    json_error_t err;
    json_t *j = clcdd_json_load_file_lenient(path, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        if (!exists(path))
            return clcdd_fail(CLCDD_ERR_IO, "%s: cannot open (a Hugging Face model directory needs a "
                              "config.json)", path);
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s:%d:%d: invalid JSON: %s", path, err.line,
                          err.column, err.text);
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: the top level must be a JSON object", path);
    }
    *out = j;
    return CLCDD_OK;
}

clcdd_status clcdd_config_view_open_hf(const char *path, clcdd_config_view **out) {
    if (!path || !out) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "config view: NULL argument");
    *out = NULL;
    size_t plen = strlen(path);
    char *dir = malloc(plen + 2);
    char *file = malloc(plen + 64);
    hf_view *h = calloc(1, sizeof *h);
    clcdd_status st = CLCDD_OK;
    if (!dir || !file || !h) {
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "config view: out of memory");
        goto fail;
    }
    memcpy(dir, path, plen + 1);
    if (!is_dir(path)) { /* a config.json path: the directory is its parent */
        char *slash = strrchr(dir, '/');
        if (slash)
            slash[slash == dir ? 1 : 0] = 0;
        else
            strcpy(dir, ".");
    }
    h->base.pub.self = h;
    h->base.pub.format = CLCDD_SOURCE_HF;
    h->base.pub.get_int = get_int;
    h->base.pub.get_float = get_float;
    h->base.pub.get_bool = get_bool;
    h->base.pub.get_string = get_string;
    h->base.pub.get_int_array = get_int_array;
    h->base.destroy = hf_destroy;
    h->base.name = dir;
    dir = NULL;

    if (is_dir(path))
        snprintf(file, plen + 64, "%s/config.json", path);
    else
        snprintf(file, plen + 64, "%s", path);
    if ((st = load_json(file, 1, &h->config)) != CLCDD_OK) goto fail;
    snprintf(file, plen + 64, "%s/generation_config.json", h->base.name);
    if ((st = load_json(file, 0, &h->generation)) != CLCDD_OK) goto fail;
    snprintf(file, plen + 64, "%s/tokenizer_config.json", h->base.name);
    if ((st = load_json(file, 0, &h->tokenizer)) != CLCDD_OK) goto fail;
    snprintf(file, plen + 64, "%s/chat_template.jinja", h->base.name);
    if (exists(file)) {
        size_t len;
        if ((st = clcdd_read_file(file, &h->jinja, &len)) != CLCDD_OK) goto fail;
        if (memchr(h->jinja, 0, len)) {
            st = clcdd_fail(CLCDD_ERR_FORMAT, "%s: contains a NUL byte", file);
            goto fail;
        }
    }
    free(file);
    *out = &h->base.pub;
    return CLCDD_OK;
fail:
    free(dir);
    free(file);
    if (h) {
        if (h->base.destroy) h->base.destroy(&h->base);
        free(h->base.name);
        free(h);
    }
    return st;
}
