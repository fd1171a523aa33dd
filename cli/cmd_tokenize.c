/* clcdd tokenize MODEL TEXT: print token ids and pieces (or decode an id list).
 * MODEL is a directory containing tokenizer.json or a tokenizer.json file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clcdd/tokenizer.h"

int clcdd_cmd_tokenize(int argc, char **argv);

static void usage(FILE *f) {
    fprintf(f,
            "usage: clcdd tokenize [--json] [--no-special] [--no-bos] MODEL TEXT\n"
            "       clcdd tokenize --decode [--json] MODEL ID,ID,...\n"
            "MODEL: a directory with tokenizer.json, or a tokenizer.json file.\n"
            "  --json        print one JSON object instead of text\n"
            "  --no-special  treat special-token text (e.g. <|im_end|>) as plain text\n"
            "  --no-bos      do not add BOS/EOS from the post-processor\n"
            "  --decode      TEXT is a comma-separated id list; print the decoded text\n");
}

static void put_json_string(const char *s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static int decode_list(clcdd_tokenizer *tok, const char *list, int json) {
    size_t cap = 16, n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    const char *p = list;
    while (ids && *p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 0x7FFFFFFF || (*end && *end != ',')) {
            fprintf(stderr, "clcdd tokenize: bad id list near \"%s\"\n", p);
            free(ids);
            return 2;
        }
        if (n == cap) {
            int32_t *q = realloc(ids, (cap *= 2) * sizeof *ids);
            if (!q) break;
            ids = q;
        }
        ids[n++] = (int32_t)v;
        p = *end ? end + 1 : end;
    }
    char *text = NULL;
    size_t len = 0;
    clcdd_status st = clcdd_tokenizer_decode(tok, ids, n, 0, &text, &len);
    free(ids);
    if (st != CLCDD_OK) {
        fprintf(stderr, "clcdd tokenize: %s\n", clcdd_last_error());
        return 1;
    }
    if (json) {
        printf("{\"text\":");
        put_json_string(text, len);
        printf("}\n");
    } else {
        fwrite(text, 1, len, stdout);
        putchar('\n');
    }
    clcdd_tokenizer_free_text(text);
    return 0;
}

int clcdd_cmd_tokenize(int argc, char **argv) {
    int json = 0, decode = 0;
    unsigned flags = CLCDD_ENCODE_DEFAULT;
    const char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { usage(stdout); return 0; }
        else if (strcmp(a, "--json") == 0) json = 1;
        else if (strcmp(a, "--decode") == 0) decode = 1;
        else if (strcmp(a, "--no-special") == 0) flags &= ~(unsigned)CLCDD_ENCODE_PARSE_SPECIAL;
        else if (strcmp(a, "--no-bos") == 0) flags &= ~(unsigned)CLCDD_ENCODE_ADD_SPECIAL;
        else if (strcmp(a, "--") == 0) { for (i++; i < argc && npos < 2; i++) pos[npos++] = argv[i]; break; }
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "clcdd tokenize: unknown option %s\n", a); usage(stderr); return 2; }
        else if (npos < 2) pos[npos++] = a;
        else { usage(stderr); return 2; }
    }
    if (npos != 2) { usage(stderr); return 2; }
    clcdd_tokenizer *tok = NULL;
    if (clcdd_tokenizer_load(pos[0], &tok) != CLCDD_OK) {
        fprintf(stderr, "clcdd tokenize: %s\n", clcdd_last_error());
        return 1;
    }
    int rc = 0;
    if (decode) {
        rc = decode_list(tok, pos[1], json);
    } else {
        clcdd_tokens t = {0};
        if (clcdd_tokenizer_encode(tok, pos[1], strlen(pos[1]), flags, &t) != CLCDD_OK) {
            fprintf(stderr, "clcdd tokenize: %s\n", clcdd_last_error());
            rc = 1;
        } else if (json) {
            printf("{\"ids\":[");
            for (size_t i = 0; i < t.n; i++) printf("%s%d", i ? "," : "", (int)t.ids[i]);
            printf("],\"pieces\":[");
            for (size_t i = 0; i < t.n; i++) {
                size_t l = 0;
                const char *s = clcdd_tokenizer_token(tok, t.ids[i], &l);
                if (i) putchar(',');
                put_json_string(s ? s : "", s ? l : 0);
            }
            printf("]}\n");
        } else {
            for (size_t i = 0; i < t.n; i++) {
                size_t l = 0;
                const char *s = clcdd_tokenizer_token(tok, t.ids[i], &l);
                printf("%d\t", (int)t.ids[i]);
                put_json_string(s ? s : "", s ? l : 0);
                putchar('\n');
            }
        }
        clcdd_tokens_free(&t);
    }
    clcdd_tokenizer_destroy(tok);
    return rc;
}
