/* Encode throughput of clcdd tokenizers on the fixture corpus (single thread).
 *   bench_tokenizer [TOKENIZER_JSON] [CORPUS_BIN] [SECONDS]
 * Prints "clcdd encode: X MB/s". bench/tokenizer/peer_hf.py runs this and HF tokenizers side by
 * side and prints the ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clcdd/tokenizer.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    const char *tj = argc > 1 ? argv[1] : CLCDD_TEST_DATA "/fixtures/tokenizer/smollm2.tokenizer.json";
    const char *cp = argc > 2 ? argv[2] : CLCDD_TEST_DATA "/fixtures/tokenizer/corpus.bin";
    double secs = argc > 3 ? atof(argv[3]) : 3.0;
    FILE *f = fopen(cp, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", cp); return 1; }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc((size_t)sz);
    if (!data || fread(data, 1, (size_t)sz, f) != (size_t)sz || sz < 16 || memcmp(data, "CLTKCORP", 8) != 0) {
        fprintf(stderr, "%s: not a corpus.bin\n", cp);
        return 1;
    }
    fclose(f);
    uint32_t n;
    memcpy(&n, data + 12, 4);
    const char **s = malloc(n * sizeof *s);
    size_t *l = malloc(n * sizeof *l), total = 0, off = 16;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len;
        memcpy(&len, data + off, 4);
        s[i] = (const char *)data + off + 4;
        l[i] = len;
        off += 4 + len;
        total += len;
    }
    clcdd_tokenizer *tok = NULL;
    if (clcdd_tokenizer_load(tj, &tok) != CLCDD_OK) { fprintf(stderr, "%s\n", clcdd_last_error()); return 1; }
    clcdd_tokens t = {0};
    size_t ntok = 0;
    for (uint32_t i = 0; i < n; i++) { /* warm-up */
        t.n = 0;
        clcdd_tokenizer_encode(tok, s[i], l[i], CLCDD_ENCODE_DEFAULT, &t);
        ntok += t.n;
    }
    double best = 0;
    double end = now() + secs;
    int reps = 0;
    while (now() < end || reps < 3) {
        double t0 = now();
        for (uint32_t i = 0; i < n; i++) {
            t.n = 0;
            clcdd_tokenizer_encode(tok, s[i], l[i], CLCDD_ENCODE_DEFAULT, &t);
        }
        double mbs = (double)total / 1e6 / (now() - t0);
        if (mbs > best) best = mbs;
        reps++;
    }
    printf("corpus: %u strings, %.2f MB, %zu tokens\n", n, (double)total / 1e6, ntok);
    printf("clcdd encode: %.2f MB/s (best of %d passes)\n", best, reps);
    clcdd_tokens_free(&t);
    clcdd_tokenizer_destroy(tok);
    free(s);
    free(l);
    free(data);
    return 0;
}
