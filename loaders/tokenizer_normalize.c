/* Normalizers (NFC/NFD/NFKC/NFKD via utf8proc, Prepend, Replace) and regex compilation. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "clcdd_internal.h"
#include "tokenizer_internal.h"

static clcdd_status unicode_form(tk_norm_kind kind, const char *s, size_t n, tk_buf *out) {
    int ascii = 1;
    for (size_t i = 0; i < n && ascii; i++) ascii = (unsigned char)s[i] < 0x80;
    if (ascii) return tk_buf_put(out, s, n) ? CLCDD_OK : clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    utf8proc_option_t opt = UTF8PROC_STABLE;
    switch (kind) {
    case TK_NORM_NFC: opt |= UTF8PROC_COMPOSE; break;
    case TK_NORM_NFD: opt |= UTF8PROC_DECOMPOSE; break;
    case TK_NORM_NFKC: opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    default: opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst, opt);
    if (r < 0) return clcdd_fail(CLCDD_ERR_INTERNAL, "tokenizer: unicode normalization failed: %s",
                                 utf8proc_errmsg(r));
    int ok = tk_buf_put(out, dst, (size_t)r);
    free(dst);
    return ok ? CLCDD_OK : clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
}

static int replace_all(const char *s, size_t n, const char *pat, size_t pn, const char *rep, size_t rn,
                       tk_buf *out) {
    size_t i = 0, last = 0;
    if (pn == 0) return tk_buf_put(out, s, n);
    while (i + pn <= n) {
        if (memcmp(s + i, pat, pn) == 0) {
            if (!tk_buf_put(out, s + last, i - last) || !tk_buf_put(out, rep, rn)) return 0;
            i += pn;
            last = i;
        } else {
            i++;
        }
    }
    return tk_buf_put(out, s + last, n - last);
}

clcdd_status tk_normalize(const clcdd_tokenizer *tok, const char *s, size_t n, tk_buf *out) {
    if (tok->n_norms == 0) return tk_buf_put(out, s, n) ? CLCDD_OK : clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    tk_buf a = {0}, b = {0};
    clcdd_status st = CLCDD_OK;
    if (!tk_buf_put(&a, s, n)) { st = CLCDD_ERR_OUT_OF_MEMORY; goto done; }
    for (size_t k = 0; k < tok->n_norms; k++) {
        const tk_norm *nm = &tok->norms[k];
        b.n = 0;
        switch (nm->kind) {
        case TK_NORM_PREPEND:
            if (a.n && (!tk_buf_put(&b, nm->a, nm->a_len) || !tk_buf_put(&b, a.p, a.n))) st = CLCDD_ERR_OUT_OF_MEMORY;
            break;
        case TK_NORM_REPLACE:
            if (!replace_all(a.p, a.n, nm->a, nm->a_len, nm->b, nm->b_len, &b)) st = CLCDD_ERR_OUT_OF_MEMORY;
            break;
        default:
            st = unicode_form(nm->kind, a.p, a.n, &b);
            break;
        }
        if (st != CLCDD_OK) goto done;
        tk_buf t = a; a = b; b = t;
    }
    if (!tk_buf_put(out, a.p ? a.p : "", a.n)) st = CLCDD_ERR_OUT_OF_MEMORY;
done:
    tk_buf_free(&a);
    tk_buf_free(&b);
    if (st == CLCDD_ERR_OUT_OF_MEMORY) return clcdd_fail(st, "tokenizer: out of memory");
    return st;
}

/* Oniguruma (used by the reference) defines \s as the Unicode White_Space property; PCRE2's \s
 * with UCP also matches U+180E. Spell the class out so both agree. */
#define WS_CLASS "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

clcdd_status tk_regex_compile(const char *pattern, size_t len, const char *where, pcre2_code **out) {
    tk_buf p = {0};
    int in_class = 0, ok = 1;
    for (size_t i = 0; i < len && ok; i++) {
        char c = pattern[i];
        if (c == '\\' && i + 1 < len) {
            char d = pattern[i + 1];
            if (d == 's') ok = in_class ? tk_buf_put(&p, WS_CLASS, strlen(WS_CLASS))
                                        : tk_buf_put(&p, "[" WS_CLASS "]", strlen(WS_CLASS) + 2);
            else if (d == 'S' && !in_class) ok = tk_buf_put(&p, "[^" WS_CLASS "]", strlen(WS_CLASS) + 3);
            else ok = tk_buf_put(&p, pattern + i, 2);
            i++;
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = 1;
            ok = tk_buf_put(&p, &c, 1);
            /* a ']' right after '[' or '[^' is literal */
            if (ok && i + 1 < len && pattern[i + 1] == '^') { ok = tk_buf_put(&p, "^", 1); i++; }
            if (ok && i + 1 < len && pattern[i + 1] == ']') { ok = tk_buf_put(&p, "]", 1); i++; }
            continue;
        }
        if (c == ']' && in_class) in_class = 0;
        ok = tk_buf_put(&p, &c, 1);
    }
    if (!ok) {
        tk_buf_free(&p);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    }
    int err = 0;
    PCRE2_SIZE erroff = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)(p.p ? p.p : ""), p.n, PCRE2_UTF | PCRE2_UCP, &err, &erroff, NULL);
    tk_buf_free(&p);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: regex %.*s does not compile: %s", where,
                          (int)(len > 200 ? 200 : len), pattern, (const char *)msg);
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional: falls back to the interpreter */
    *out = re;
    return CLCDD_OK;
}
