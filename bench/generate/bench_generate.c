/* Batched greedy generation (the eraser's base answers, the demo's evaluation) with the KV cache
 * against the uncached path that recomputes every prefix, on random weights of two shapes: the
 * demo world's model (400 prompts of 12-27 tokens, 24 new tokens, batch 128) and a SmolLM2-135M
 * shape with a 4,096-token vocabulary (32 prompts of 20-50 tokens, 16 new tokens, batch 16).
 * No request stops early (no EOS id), so both paths do all max_new steps. Interleaved rounds
 * (uncached, cached, uncached, ...); the median seconds of each and their ratio.
 *   bench_generate [--device D] [--rounds N] [--shape demo|smol|both] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctx_internal.h"
#include "nn/generate.h"
#include "nn/model.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define CK(x)                                                                                  \
    do {                                                                                       \
        clcdd_status s_ = (x);                                                                 \
        if (s_ != CLCDD_OK) {                                                                  \
            fprintf(stderr, "bench_generate: %s: %s\n", #x, clcdd_last_error());              \
            return 1;                                                                          \
        }                                                                                      \
    } while (0)

static int run(clcdd_ctx *ctx, const char *name, clcdd_hparams hp, size_t n, size_t pmin,
               size_t pmax, size_t max_new, size_t batch, int rounds) {
    clcdd_model m;
    CK(clcdd_model_create(ctx, &hp, &m));
    CK(clcdd_model_init_random(ctx, &m, 1, 0.05f));
    int32_t *prompts = malloc(n * pmax * sizeof *prompts), *outs = malloc(n * max_new * sizeof *outs);
    clcdd_gen_request *req = calloc(n, sizeof *req);
    double *t[2] = {malloc(rounds * sizeof(double)), malloc(rounds * sizeof(double))};
    if (!prompts || !outs || !req || !t[0] || !t[1]) return 1;
    uint64_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        req[i].prompt_len = pmin + (size_t)(s >> 33) % (pmax - pmin + 1);
        for (size_t k = 0; k < req[i].prompt_len; k++) prompts[i * pmax + k] = (int32_t)((i * 31 + k * 7) % hp.vocab_size);
        req[i].prompt = prompts + i * pmax;
        req[i].out = outs + i * max_new;
    }
    for (int r = 0; r < rounds; r++)
        for (int c = 0; c < 2; c++) {
            double t0 = now_s();
            if (c == 0) CK(clcdd_generate_greedy_uncached(ctx, &m, NULL, req, n, max_new, batch));
            else CK(clcdd_generate_greedy(ctx, &m, NULL, req, n, max_new, batch));
            t[c][r] = now_s() - t0;
        }
    qsort(t[0], rounds, sizeof(double), cmp);
    qsort(t[1], rounds, sizeof(double), cmp);
    double a = t[0][rounds / 2], b = t[1][rounds / 2];
    printf("| %s | %zu x %zu-%zu tokens, %zu new, batch %zu | %.2f | %.2f | %.1fx |\n", name, n, pmin, pmax,
           max_new, batch, a, b, a / b);
    free(prompts), free(outs), free(req), free(t[0]), free(t[1]);
    clcdd_model_destroy(&m);
    return 0;
}

int main(int argc, char **argv) {
    const char *device = NULL, *shape = "both";
    int rounds = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--shape") && i + 1 < argc) shape = argv[++i];
        else {
            fprintf(stderr, "usage: bench_generate [--device D] [--rounds N] [--shape demo|smol|both]\n");
            return 2;
        }
    }
    if (rounds < 1) rounds = 1;
    setvbuf(stdout, NULL, _IOLBF, 0); /* each row as soon as it is measured */
    clcdd_ctx_options co = {0};
    co.device = device;
    clcdd_ctx *ctx;
    CK(clcdd_ctx_create(&co, &ctx));
    printf("| model | requests | uncached s | cached s | speed-up |\n|---|---|---|---|---|\n");
    clcdd_hparams hp;
    memset(&hp, 0, sizeof hp);
    strcpy(hp.family, "llama");
    hp.rms_eps = 1e-5f, hp.rope_theta = 10000.0f, hp.bos_id = hp.pad_id = -1;
    if (strcmp(shape, "smol")) {
        clcdd_hparams d = hp;
        d.vocab_size = 264, d.hidden_size = 128, d.intermediate_size = 344, d.n_layers = 4;
        d.n_heads = 4, d.n_kv_heads = 2, d.head_dim = 32;
        if (run(ctx, "demo world (0.79 M)", d, 400, 12, 27, 24, 128, rounds)) return 1;
    }
    if (strcmp(shape, "demo")) {
        clcdd_hparams q = hp;
        q.vocab_size = 4096, q.hidden_size = 576, q.intermediate_size = 1536, q.n_layers = 30;
        q.n_heads = 9, q.n_kv_heads = 3, q.head_dim = 64;
        if (run(ctx, "SmolLM2-135M shape, V 4096", q, 32, 20, 50, 16, 16, rounds)) return 1;
    }
    clcdd_ctx_destroy(ctx);
    return 0;
}
