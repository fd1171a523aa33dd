/* JSON loading that tolerates integers wider than 64 bits. Hugging Face tokenizer configs
 * routinely carry "model_max_length": 1000000000000000019884624838656 (Python's int(1e30));
 * jansson rejects such a literal ("too big integer"). When, and only when, that is the error,
 * the text is parsed again with every such literal (outside strings) read as a real number.
 * Nothing clcdd reads is that large, so the values that matter are untouched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loaders_internal.h"

static int too_big(const json_error_t *e) { return strstr(e->text, "too big integer") != NULL; }

/* Copy with ".0" appended to integer literals of 19 or more digits outside strings. */
static char *widen(const char *s, size_t n, size_t *out_len) {
    char *o = malloc(n + n / 19 * 2 + 3);
    if (!o) return NULL;
    size_t j = 0;
    int in_str = 0;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        if (in_str) {
            o[j++] = c;
            if (c == '\\' && i + 1 < n) o[j++] = s[++i];
            else if (c == '"') in_str = 0;
            i++;
            continue;
        }
        if (c == '"') {
            in_str = 1;
            o[j++] = s[i++];
            continue;
        }
        if (c >= '0' && c <= '9') {
            size_t b = i;
            while (i < n && s[i] >= '0' && s[i] <= '9') i++;
            memcpy(o + j, s + b, i - b);
            j += i - b;
            int frac = i < n && (s[i] == '.' || s[i] == 'e' || s[i] == 'E');
            if (i - b >= 19 && !frac) {
                o[j++] = '.';
                o[j++] = '0';
            }
            continue;
        }
        o[j++] = s[i++];
    }
    o[j] = '\0';
    *out_len = j;
    return o;
}

json_t *clcdd_json_loadb_lenient(const char *buf, size_t len, size_t flags, json_error_t *err) {
    json_t *j = json_loadb(buf, len, flags, err);
    if (j || !too_big(err)) return j;
    json_error_t first = *err;
    size_t n2 = 0;
    char *w = widen(buf, len, &n2);
    if (!w) return NULL;
    j = json_loadb(w, n2, flags, err);
    free(w);
    if (!j) *err = first; /* report the original position */
    return j;
}

json_t *clcdd_json_load_file_lenient(const char *path, size_t flags, json_error_t *err) {
    json_t *j = json_load_file(path, flags, err);
    if (j || !too_big(err)) return j;
    json_error_t first = *err;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, nc);
            if (!nb) break;
            buf = nb;
            cap = nc;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0) break;
    }
    int bad = ferror(f) || !buf;
    fclose(f);
    j = bad ? NULL : clcdd_json_loadb_lenient(buf, len, flags, err);
    free(buf);
    if (!j) *err = first;
    return j;
}
