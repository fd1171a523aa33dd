/* Chat template renderers: each reproduces, byte for byte, what transformers'
 * apply_chat_template(tokenize=False) makes of the model's own Jinja template (FORMATS.md §4.5;
 * tests/fixtures/make_chat_fixtures.py holds the templates and the parity test compares).
 * Special tokens such as <s> are emitted as text, as the templates do; the tokenizer then must not
 * add a second BOS. Jinja's strip()/trim are Python's str.strip(): Unicode whitespace, done here
 * on UTF-8 for the code points Python treats as whitespace. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_common.h"

typedef struct out_buf {
    char *out;
    size_t cap;
    size_t len; /* full length, even past cap */
} out_buf;

typedef struct span {
    const char *p;
    size_t n;
} span;

static void put_n(out_buf *b, const char *s, size_t n) {
    if (b->out && b->len + 1 < b->cap) {
        size_t room = b->cap - 1 - b->len;
        memcpy(b->out + b->len, s, n < room ? n : room);
    }
    b->len += n;
}
static void put(out_buf *b, const char *s) { put_n(b, s, strlen(s)); }
static void put_span(out_buf *b, span s) { put_n(b, s.p, s.n); }

static span sp(const char *s) { return (span){s, strlen(s)}; }

/* Bytes of the whitespace code point (Python str.isspace) starting at p, or 0. */
static size_t ws_at(const unsigned char *p, size_t n) {
    if (n >= 1 && ((*p >= 0x09 && *p <= 0x0d) || (*p >= 0x1c && *p <= 0x20))) return 1;
    if (n >= 2 && p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0)) return 2;
    if (n >= 3 && p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80) return 3;             /* U+1680 */
    if (n >= 3 && p[0] == 0xe2 && p[1] == 0x80 &&
        (p[2] <= 0x8a || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf) && p[2] >= 0x80)
        return 3;                                                                     /* U+2000.. */
    if (n >= 3 && p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f) return 3;             /* U+205F */
    if (n >= 3 && p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80) return 3;             /* U+3000 */
    return 0;
}

/* Python str.strip() */
static span strip(span s) {
    const unsigned char *p = (const unsigned char *)s.p;
    size_t a = 0, b = s.n, w;
    while (a < b && (w = ws_at(p + a, b - a))) a += w;
    for (int again = 1; again && b > a;) {
        again = 0;
        for (size_t k = 1; k <= 3 && k <= b - a; k++)
            if (ws_at(p + b - k, k) == k) {
                b -= k;
                again = 1;
                break;
            }
    }
    return (span){s.p + a, b - a};
}

static span lstrip_nl(span s) {
    while (s.n && *s.p == '\n') s.p++, s.n--;
    return s;
}
static span rstrip_nl(span s) {
    while (s.n && s.p[s.n - 1] == '\n') s.n--;
    return s;
}

/* Offset of the first / last occurrence of needle in s, or -1. */
static long find_first(span s, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= s.n; i++)
        if (!memcmp(s.p + i, needle, m)) return (long)i;
    return -1;
}
static long find_last(span s, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = s.n >= m ? s.n - m + 1 : 0; i-- > 0;)
        if (!memcmp(s.p + i, needle, m)) return (long)i;
    return -1;
}

static int is_role(const clcdd_chat_message *m, const char *r) { return !strcmp(m->role, r); }

/* ---- ChatML (SmolLM2, Qwen2, Qwen2.5): optional default system message ---- */
static long chatml(const clcdd_hparams *hp, const clcdd_chat_message *m, size_t n, int gen,
                   out_buf *b) {
    if (!is_role(&m[0], "system") && hp->default_system[0]) {
        put(b, "<|im_start|>system\n");
        put(b, hp->default_system);
        put(b, "<|im_end|>\n");
    }
    for (size_t i = 0; i < n; i++) {
        put(b, "<|im_start|>");
        put(b, m[i].role);
        put(b, "\n");
        put(b, m[i].content);
        put(b, "<|im_end|>\n");
    }
    if (gen) put(b, "<|im_start|>assistant\n");
    return 0;
}

/* ---- Qwen3: ChatML, <think> blocks kept only after the last real user query; thinking off ---- */
static int is_tool_response(const char *c) {
    size_t n = strlen(c);
    const char *a = "<tool_response>", *z = "</tool_response>";
    return n >= strlen(a) && n >= strlen(z) && !strncmp(c, a, strlen(a)) &&
           !strcmp(c + n - strlen(z), z);
}

static long qwen3(const clcdd_chat_message *m, size_t n, int gen, out_buf *b) {
    if (is_role(&m[0], "system")) {
        put(b, "<|im_start|>system\n");
        put(b, m[0].content);
        put(b, "<|im_end|>\n");
    }
    size_t last_query = n - 1;
    for (size_t k = n; k-- > 0;)
        if (is_role(&m[k], "user") && !is_tool_response(m[k].content)) {
            last_query = k;
            break;
        }
    for (size_t i = 0; i < n; i++) {
        span content = sp(m[i].content);
        if (is_role(&m[i], "user") || (is_role(&m[i], "system") && i > 0)) {
            put(b, "<|im_start|>");
            put(b, m[i].role);
            put(b, "\n");
            put_span(b, content);
            put(b, "<|im_end|>\n");
        } else if (is_role(&m[i], "assistant")) {
            span reasoning = {"", 0};
            long close = find_first(content, "</think>");
            if (close >= 0) {
                span before = rstrip_nl((span){content.p, (size_t)close});
                long open = find_last(before, "<think>");
                if (open >= 0)
                    before = (span){before.p + open + 7, before.n - (size_t)open - 7};
                reasoning = lstrip_nl(before);
                long last = find_last(content, "</think>");
                content = lstrip_nl((span){content.p + last + 8, content.n - (size_t)last - 8});
            }
            put(b, "<|im_start|>assistant\n");
            if (i > last_query && (i == n - 1 || reasoning.n)) {
                put(b, "<think>\n");
                put_span(b, rstrip_nl(lstrip_nl(reasoning)));
                put(b, "\n</think>\n\n");
                put_span(b, lstrip_nl(content));
            } else {
                put_span(b, content);
            }
            put(b, "<|im_end|>\n");
        }
    }
    if (gen) put(b, "<|im_start|>assistant\n<think>\n\n</think>\n\n");
    return 0;
}

/* ---- Llama 3: header blocks, trimmed content; 3.1+ always has a system block (preamble in
 * default_system, see clcdd_pc_detect_chat) ---- */
static void llama3_block(out_buf *b, const char *role, span text) {
    put(b, "<|start_header_id|>");
    put(b, role);
    put(b, "<|end_header_id|>\n\n");
    put_span(b, text);
    put(b, "<|eot_id|>");
}

static long llama3(const clcdd_hparams *hp, const clcdd_chat_message *m, size_t n, int gen,
                   out_buf *b) {
    put(b, "<|begin_of_text|>");
    size_t first = 0;
    if (hp->default_system[0]) {
        put(b, "<|start_header_id|>system<|end_header_id|>\n\n");
        put(b, hp->default_system);
        if (is_role(&m[0], "system")) {
            put_span(b, strip(sp(m[0].content)));
            first = 1;
        }
        put(b, "<|eot_id|>");
    }
    for (size_t i = first; i < n; i++) llama3_block(b, m[i].role, strip(sp(m[i].content)));
    if (gen) put(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    return 0;
}

/* ---- Llama 2 chat: [INST] with <<SYS>> folded into the first user turn; ignores gen ---- */
static long llama2(const clcdd_chat_message *m, size_t n, out_buf *b) {
    const char *sys = NULL;
    size_t first = 0;
    if (is_role(&m[0], "system")) {
        sys = m[0].content;
        first = 1;
    }
    for (size_t i = first; i < n; i++) {
        size_t j = i - first;
        if (is_role(&m[i], "user") != (j % 2 == 0)) return CLCDD_CHAT_ERR_ROLES;
    }
    for (size_t i = first; i < n; i++) {
        char *joined = NULL;
        span content = sp(m[i].content);
        if (i == first && sys) {
            size_t len = strlen(sys) + content.n + 32;
            if (!(joined = malloc(len))) return CLCDD_CHAT_ERR_INVALID;
            strcpy(joined, "<<SYS>>\n");
            strcat(joined, sys);
            strcat(joined, "\n<</SYS>>\n\n");
            strcat(joined, m[i].content);
            content = sp(joined);
        }
        if (is_role(&m[i], "user")) {
            put(b, "<s>[INST] ");
            put_span(b, strip(content));
            put(b, " [/INST]");
        } else if (is_role(&m[i], "assistant")) {
            put(b, " ");
            put_span(b, strip(content));
            put(b, " </s>");
        }
        free(joined);
    }
    return 0;
}

/* ---- Mistral v0.1/v0.2 Instruct: strictly alternating user/assistant, no system; ignores gen ---- */
static long mistral(const clcdd_chat_message *m, size_t n, out_buf *b) {
    for (size_t i = 0; i < n; i++)
        if (is_role(&m[i], "user") != (i % 2 == 0) ||
            !(is_role(&m[i], "user") || is_role(&m[i], "assistant")))
            return CLCDD_CHAT_ERR_ROLES;
    put(b, "<s>");
    for (size_t i = 0; i < n; i++) {
        if (is_role(&m[i], "user")) {
            put(b, "[INST] ");
            put(b, m[i].content);
            put(b, " [/INST]");
        } else {
            put(b, m[i].content);
            put(b, "</s>");
        }
    }
    return 0;
}

/* ---- Zephyr (TinyLlama chat) ---- */
static long zephyr(const clcdd_chat_message *m, size_t n, int gen, out_buf *b) {
    for (size_t i = 0; i < n; i++) {
        put(b, "<|");
        put(b, m[i].role);
        put(b, "|>\n");
        put(b, m[i].content);
        put(b, "</s>\n");
    }
    if (gen) put(b, "<|assistant|>\n");
    return 0;
}

long clcdd_pc_render_chat(const clcdd_hparams *hp, const clcdd_chat_message *m, size_t n,
                          int gen, char *out, size_t cap) {
    if (!hp || !m || n == 0 || (cap && !out)) return CLCDD_CHAT_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if (!m[i].role || !m[i].content ||
            !(is_role(&m[i], "system") || is_role(&m[i], "user") || is_role(&m[i], "assistant")))
            return CLCDD_CHAT_ERR_INVALID;
    out_buf b = {out, cap, 0};
    long r;
    switch (hp->chat_format) {
    case CLCDD_CHAT_CHATML: r = chatml(hp, m, n, gen, &b); break;
    case CLCDD_CHAT_QWEN3: r = qwen3(m, n, gen, &b); break;
    case CLCDD_CHAT_LLAMA3: r = llama3(hp, m, n, gen, &b); break;
    case CLCDD_CHAT_LLAMA2: r = llama2(m, n, &b); break;
    case CLCDD_CHAT_MISTRAL: r = mistral(m, n, &b); break;
    case CLCDD_CHAT_ZEPHYR: r = zephyr(m, n, gen, &b); break;
    default: return CLCDD_CHAT_ERR_NO_TEMPLATE;
    }
    if (r < 0) return r;
    if (cap) out[b.len < cap ? b.len : cap - 1] = 0;
    if (b.len > (size_t)LONG_MAX) return CLCDD_CHAT_ERR_INVALID;
    return (long)b.len;
}
