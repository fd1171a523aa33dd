#include "algo/demo_world.h"

#include <stdio.h>
#include <string.h>

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint32_t below(uint64_t *s, uint32_t n) { return (uint32_t)(splitmix(s) % n); }

const char *clcdd_demo_task_name(clcdd_demo_task t) {
    static const char *names[] = {"reverse", "sort", "upper", "add", "echo"};
    return (unsigned)t < CLCDD_TASK_COUNT ? names[t] : "?";
}

int clcdd_demo_is_held_out(const char *prompt) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)prompt; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 29;
    return (h % 8) == 3;
}

static void letters(uint64_t *s, char *out, int n) {
    for (int i = 0; i < n; i++) out[i] = (char)('a' + below(s, 26));
    out[n] = '\0';
}

/* Echo text: words and punctuation over the bytes the fixed response needs (capitals, the
 * apostrophe, the full stop), so the base model can emit every one of them. */
static void echo_text(uint64_t *s, char *out, size_t cap) {
    static const char *words[] = {"I", "don't", "know", "it's", "ok", "Hi", "no", "yes", "can't",
                                  "we", "do", "not", "A", "The", "cat", "is", "here", "I'm",
                                  "sure", "Go", "now", "won't", "you", "It"};
    size_t n = 2 + below(s, 3), len = 0;
    out[0] = '\0';
    for (size_t w = 0; w < n; w++) {
        const char *word = words[below(s, sizeof words / sizeof words[0])];
        int r = snprintf(out + len, cap - len, "%s%s", w ? " " : "", word);
        if (r < 0 || (size_t)r >= cap - len - 2) break;
        len += (size_t)r;
    }
    static const char punct[] = {'.', '.', '.', '!', '?', ','};
    out[len++] = punct[below(s, sizeof punct)];
    out[len] = '\0';
}

static void make(uint64_t *s, clcdd_demo_task t, clcdd_demo_sample *o) {
    o->task = t;
    char body[32];
    switch (t) {
    case CLCDD_TASK_REVERSE: {
        int n = 3 + (int)below(s, 4);
        letters(s, body, n);
        snprintf(o->prompt, sizeof o->prompt, "reverse: %s", body);
        for (int i = 0; i < n; i++) o->answer[i] = body[n - 1 - i];
        o->answer[n] = '\0';
        break;
    }
    case CLCDD_TASK_SORT: {
        int n = 3 + (int)below(s, 3), d[5];
        char *p = o->prompt + snprintf(o->prompt, sizeof o->prompt, "sort:");
        for (int i = 0; i < n; i++) {
            d[i] = (int)below(s, 10);
            p += sprintf(p, " %d", d[i]);
        }
        for (int i = 1; i < n; i++)
            for (int j = i; j > 0 && d[j - 1] > d[j]; j--) {
                int x = d[j];
                d[j] = d[j - 1];
                d[j - 1] = x;
            }
        char *a = o->answer;
        for (int i = 0; i < n; i++) a += sprintf(a, i ? " %d" : "%d", d[i]);
        break;
    }
    case CLCDD_TASK_UPPER: {
        int n = 3 + (int)below(s, 4);
        letters(s, body, n);
        snprintf(o->prompt, sizeof o->prompt, "upper: %s", body);
        for (int i = 0; i <= n; i++) o->answer[i] = (char)(body[i] ? body[i] - 'a' + 'A' : 0);
        break;
    }
    case CLCDD_TASK_ADD: {
        int x = (int)below(s, 100), y = (int)below(s, 100);
        snprintf(o->prompt, sizeof o->prompt, "add: %d+%d", x, y);
        snprintf(o->answer, sizeof o->answer, "%d", x + y);
        break;
    }
    case CLCDD_TASK_ECHO:
    default:
        echo_text(s, body, sizeof body - 8);
        snprintf(o->prompt, sizeof o->prompt, "echo: %s", body);
        snprintf(o->answer, sizeof o->answer, "%s", body);
        break;
    }
}

void clcdd_demo_draw(uint64_t seed, uint64_t index, int held_out, float echo_share,
                     clcdd_demo_sample *out) {
    uint64_t s = seed * 0x2545F4914F6CDD1DULL ^ (index * 0x9E3779B97F4A7C15ULL) ^ (held_out ? 0x5bd1e995ULL : 0);
    for (int attempt = 0;; attempt++) {
        double u = (double)(splitmix(&s) >> 11) / 9007199254740992.0;
        clcdd_demo_task t = u < echo_share ? CLCDD_TASK_ECHO
                                           : (clcdd_demo_task)((u - echo_share) / (1.0 - echo_share) * 4);
        if (t > CLCDD_TASK_ADD && t != CLCDD_TASK_ECHO) t = CLCDD_TASK_ADD;
        make(&s, t, out);
        /* echo prompts are never evaluated: they are in both splits */
        if (t == CLCDD_TASK_ECHO || clcdd_demo_is_held_out(out->prompt) == held_out) return;
        (void)attempt;
    }
}

void clcdd_demo_hparams(clcdd_hparams *hp) {
    memset(hp, 0, sizeof *hp);
    strcpy(hp->family, "llama");
    strcpy(hp->architecture, "LlamaForCausalLM");
    hp->vocab_size = CLCDD_DEMO_VOCAB;
    hp->hidden_size = 128;
    hp->intermediate_size = 344;
    hp->n_layers = 4;
    hp->n_heads = 4;
    hp->n_kv_heads = 2;
    hp->head_dim = 32;
    hp->rms_eps = 1e-5f;
    hp->rope_theta = 10000.0f;
    hp->max_position_embeddings = 128;
    hp->bos_id = CLCDD_DEMO_BOS;
    hp->pad_id = CLCDD_DEMO_PAD;
    hp->eos_ids[0] = CLCDD_DEMO_EOS;
    hp->n_eos = 1;
    hp->add_bos = 0;
    hp->chat_format = CLCDD_CHAT_DEMO;
}

size_t clcdd_demo_encode(const char *prompt, const char *answer, int32_t *ids, size_t cap,
                         size_t *answer_start) {
    size_t n = 0;
#define PUT(x) do { if (n < cap) ids[n] = (x); n++; } while (0)
    PUT(CLCDD_DEMO_BOS);
    PUT(CLCDD_DEMO_USER);
    for (const unsigned char *p = (const unsigned char *)prompt; *p; p++) PUT(*p);
    PUT(CLCDD_DEMO_ASSISTANT);
    if (answer_start) *answer_start = n;
    if (answer) {
        for (const unsigned char *p = (const unsigned char *)answer; *p; p++) PUT(*p);
        PUT(CLCDD_DEMO_EOS);
    }
#undef PUT
    return n;
}
