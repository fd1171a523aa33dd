/* The optimizer's pass over a SmolLM2-135M-shaped parameter set: the global gradient norm
 * (clcdd_grads_sumsq) and the AdamW step (clcdd_optim_step, norm included), as effective GB/s
 * against the bytes each must move, for several 1-D work-group sizes in turn (interleaved rounds,
 * median). AdamW moves 7 floats per parameter (reads p, g, m, v; writes p, m, v), the norm 1.
 *   bench_optim [--device D] [--rounds N] [--wg 64,256,1024]
 * The machine's copy bandwidth is the ceiling (about 42 GB/s on the 2-core reference machine). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctx_internal.h"
#include "nn/backward.h"
#include "nn/model.h"
#include "nn/optim.h"

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
            fprintf(stderr, "bench_optim: %s: %s\n", #x, clcdd_last_error());                 \
            return 1;                                                                          \
        }                                                                                      \
    } while (0)

int main(int argc, char **argv) {
    const char *device = NULL, *wgs = "64,256,1024";
    int rounds = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--wg") && i + 1 < argc) wgs = argv[++i];
        else {
            fprintf(stderr, "usage: bench_optim [--device D] [--rounds N] [--wg 64,256,...]\n");
            return 2;
        }
    }
    size_t wg[8], nw = 0;
    for (const char *p = wgs; *p && nw < 8;) {
        char *e;
        wg[nw++] = strtoul(p, &e, 10);
        p = *e == ',' ? e + 1 : e;
    }
    clcdd_ctx_options co = {0};
    co.device = device;
    clcdd_ctx *ctx;
    CK(clcdd_ctx_create(&co, &ctx));
    clcdd_hparams hp;
    memset(&hp, 0, sizeof hp);
    snprintf(hp.family, sizeof hp.family, "llama");
    hp.vocab_size = 49152, hp.hidden_size = 576, hp.intermediate_size = 1536, hp.n_layers = 30;
    hp.n_heads = 9, hp.n_kv_heads = 3, hp.head_dim = 64, hp.rms_eps = 1e-5f;
    hp.rope_theta = 1e5f, hp.max_position_embeddings = 8192, hp.tie_word_embeddings = 1;
    hp.bos_id = 1, hp.pad_id = -1, hp.n_eos = 1, hp.eos_ids[0] = 2;
    clcdd_model m;
    CK(clcdd_model_create(ctx, &hp, &m));
    CK(clcdd_model_init_random(ctx, &m, 1, 0.02f));
    int trainable[CLCDD_ROLE_COUNT];
    clcdd_trainable_default(trainable);
    clcdd_grads g;
    CK(clcdd_grads_create(ctx, &m, trainable, &g));
    CK(clcdd_arena_zero(ctx, &g.arena));
    clcdd_optim_config oc = clcdd_optim_default();
    clcdd_optim o;
    CK(clcdd_optim_create(ctx, &g, &oc, &o));
    double nparam = (double)g.arena.total_bytes / 4.0;
    double *t_norm = calloc((size_t)rounds * nw, sizeof *t_norm);
    double *t_adam = calloc((size_t)rounds * nw, sizeof *t_adam);
    if (!t_norm || !t_adam) return 1;
    for (size_t w = 0; w < nw; w++) { /* warm-up: kernel builds */
        ctx->wg_1d = wg[w];
        CK(clcdd_optim_step(ctx, &o, &m, &g, 1e-4f));
        CK(clcdd_grads_sumsq(ctx, &g, &o.gsq));
        CK(clcdd_ctx_finish(ctx));
    }
    for (int r = 0; r < rounds; r++)
        for (size_t w = 0; w < nw; w++) {
            ctx->wg_1d = wg[w];
            double t0 = now_s();
            CK(clcdd_grads_sumsq(ctx, &g, &o.gsq));
            CK(clcdd_ctx_finish(ctx));
            double t1 = now_s();
            CK(clcdd_optim_step(ctx, &o, &m, &g, 1e-4f));
            CK(clcdd_ctx_finish(ctx));
            double t2 = now_s();
            t_norm[w * rounds + r] = t1 - t0;
            t_adam[w * rounds + r] = t2 - t1;
        }
    printf("optimizer pass over %.1fM trainable parameters, median of %d rounds\n", nparam / 1e6, rounds);
    printf("| 1-D work-group | grad norm ms | norm GB/s | AdamW step ms | AdamW GB/s |\n|---|---|---|---|---|\n");
    for (size_t w = 0; w < nw; w++) {
        qsort(t_norm + w * rounds, rounds, sizeof(double), cmp);
        qsort(t_adam + w * rounds, rounds, sizeof(double), cmp);
        double tn = t_norm[w * rounds + rounds / 2], ta = t_adam[w * rounds + rounds / 2];
        /* the AdamW step includes its own norm pass: subtract it for the update's bandwidth */
        double tu = ta - tn > 0 ? ta - tn : ta;
        printf("| %zu | %.1f | %.1f | %.1f | %.1f |\n", wg[w], 1e3 * tn, 4 * nparam / tn / 1e9,
               1e3 * ta, 28 * nparam / tu / 1e9);
    }
    clcdd_optim_destroy(&o);
    clcdd_grads_destroy(&g);
    clcdd_model_destroy(&m);
    clcdd_ctx_destroy(ctx);
    return 0;
}
