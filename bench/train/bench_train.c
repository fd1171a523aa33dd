/* Training step of a SmolLM2-135M-shaped model: peak device memory and tokens/s.
 *
 *   bench_train [--device D] [--steps N] [--sizes BxT,BxT,...] [--lr X] [--json]
 *
 * The model has SmolLM2-135M-Instruct's shapes (LLaMA: 30 layers, d 576, 9 heads / 3 KV heads,
 * FFN 1536, vocabulary 49152, tied embeddings) with random weights: speed and memory depend on the
 * shapes, not the values, so no checkpoint is needed. One step = forward, backward, AdamW with
 * ALGORITHMS.md §2's defaults (embeddings / lm_head frozen, clipping 1.0), one micro-batch of B
 * sequences of T random tokens, loss on every token after the first. bench/train/peer_torch.py
 * runs the same step in PyTorch; bench/train/compare.sh runs both in turn and prints the ratios.
 *
 * For each size: the device memory the library holds (clcdd_ctx_memory) after loading the model,
 * after creating the trainer (gradients, moments, activations), and at the peak of the timed steps;
 * then a least-squares line peak = fixed + per_token * B*T over the sizes, with each size's
 * deviation from it, which shows whether activation memory grows linearly with batch x sequence.
 * With CLCDD_PROFILE=1 it also prints (stderr) the device time per kernel function per step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "algo/train.h"
#include "nn/model.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void smollm2_135m(clcdd_hparams *hp) {
    memset(hp, 0, sizeof *hp);
    snprintf(hp->family, sizeof hp->family, "llama");
    snprintf(hp->architecture, sizeof hp->architecture, "LlamaForCausalLM");
    hp->vocab_size = 49152;
    hp->hidden_size = 576;
    hp->intermediate_size = 1536;
    hp->n_layers = 30;
    hp->n_heads = 9;
    hp->n_kv_heads = 3;
    hp->head_dim = 64;
    hp->rms_eps = 1e-5f;
    hp->rope_theta = 100000.0f;
    hp->max_position_embeddings = 8192;
    hp->tie_word_embeddings = 1;
    hp->bos_id = 1;
    hp->pad_id = -1;
    hp->eos_ids[0] = 2;
    hp->n_eos = 1;
}

typedef struct row {
    size_t B, T;
    double model_mib, trainer_mib, peak_mib, tok_s, step_s;
    float loss;
} row;

static int fail(clcdd_status st, const char *what) {
    fprintf(stderr, "bench_train: %s: %s (%s)\n", what, clcdd_last_error(), clcdd_status_string(st));
    return 1;
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

static int run_size(const char *device, size_t B, size_t T, int steps, float lr, row *r) {
    clcdd_ctx_options co = {0};
    co.device = device;
    clcdd_ctx *ctx = NULL;
    clcdd_status st = clcdd_ctx_create(&co, &ctx);
    if (st != CLCDD_OK) return fail(st, "creating the context");
    clcdd_hparams hp;
    smollm2_135m(&hp);
    clcdd_model m;
    clcdd_memory_stats ms;
    int rc = 1;
    st = clcdd_model_create(ctx, &hp, &m);
    if (st != CLCDD_OK) {
        clcdd_ctx_destroy(ctx);
        return fail(st, "creating the model");
    }
    clcdd_dataset d;
    clcdd_dataset_init(&d);
    clcdd_trainer tr;
    int have_tr = 0;
    st = clcdd_model_init_random(ctx, &m, 1, 0.02f);
    if (st != CLCDD_OK) { fail(st, "initialising the model"); goto out; }
    clcdd_ctx_memory(ctx, &ms);
    r->model_mib = mib(ms.live_bytes);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    int32_t *ids = malloc(T * sizeof *ids);
    if (!ids) goto out;
    for (size_t s = 0; s < B; s++) {
        for (size_t t = 0; t < T; t++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            ids[t] = (int32_t)((x >> 33) % hp.vocab_size);
        }
        st = clcdd_dataset_add(&d, ids, NULL, T);
        if (st != CLCDD_OK) { free(ids); fail(st, "dataset"); goto out; }
    }
    free(ids);
    clcdd_train_config tc;
    clcdd_train_config_default(&tc, steps + 1);
    tc.micro_batch = B;
    tc.accum = 1;
    tc.warmup = 0;
    tc.schedule = CLCDD_SCHED_CONSTANT;
    tc.optim.lr = lr;
    st = clcdd_trainer_create(ctx, &m, &tc, T, &tr);
    if (st != CLCDD_OK) { fail(st, "creating the trainer"); goto out; }
    have_tr = 1;
    clcdd_ctx_memory(ctx, &ms);
    r->trainer_mib = mib(ms.live_bytes);
    float loss = 0;
    st = clcdd_trainer_step(&tr, &d, &loss); /* warm-up: kernel builds, packing buffers */
    if (st != CLCDD_OK) { fail(st, "warm-up step"); goto out; }
    clcdd_ctx_profile_reset(ctx);
    double t0 = now_s();
    for (int s = 0; s < steps && st == CLCDD_OK; s++)
        st = clcdd_trainer_step(&tr, &d, s + 1 == steps ? &loss : NULL);
    if (st == CLCDD_OK) st = clcdd_ctx_finish(ctx);
    if (st != CLCDD_OK) { fail(st, "training step"); goto out; }
    double dt = now_s() - t0;
    clcdd_kernel_time kt[24];
    size_t nk = 0;
    if (getenv("CLCDD_PROFILE") && clcdd_ctx_profile(ctx, kt, 24, &nk) == CLCDD_OK) {
        double tot = 0;
        for (size_t i = 0; i < nk && i < 24; i++) tot += kt[i].seconds;
        fprintf(stderr, "%zux%zu: device time per step by kernel (%zu kernels)\n", B, T, nk);
        for (size_t i = 0; i < nk && i < 24; i++)
            fprintf(stderr, "  %-32s %8.3f s/step %5.1f%%  %6.0f launches/step\n", kt[i].name,
                    kt[i].seconds / steps, 100 * kt[i].seconds / tot,
                    (double)kt[i].launches / steps);
    }
    clcdd_ctx_memory(ctx, &ms);
    r->peak_mib = mib(ms.peak_bytes);
    r->B = B, r->T = T;
    r->step_s = dt / steps;
    r->tok_s = (double)(B * T) * steps / dt;
    r->loss = loss;
    rc = 0;
out:
    if (have_tr) clcdd_trainer_destroy(&tr);
    clcdd_dataset_free(&d);
    clcdd_model_destroy(&m);
    clcdd_ctx_destroy(ctx);
    return rc;
}

int main(int argc, char **argv) {
    const char *device = NULL, *sizes = "1x256,2x256,4x256";
    int steps = 3, json = 0;
    float lr = 1e-4f;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) device = argv[++i];
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sizes") && i + 1 < argc) sizes = argv[++i];
        else if (!strcmp(argv[i], "--lr") && i + 1 < argc) lr = (float)atof(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else {
            fprintf(stderr, "usage: bench_train [--device D] [--steps N] [--sizes BxT,...] [--lr X] [--json]\n");
            return 2;
        }
    }
    if (steps < 1) steps = 1;
    row rows[16];
    size_t n = 0;
    for (const char *p = sizes; *p && n < 16;) {
        char *e;
        unsigned long B = strtoul(p, &e, 10);
        if (*e != 'x') { fprintf(stderr, "bench_train: bad size list '%s' (want BxT,...)\n", sizes); return 2; }
        unsigned long T = strtoul(e + 1, &e, 10);
        if (!B || !T) { fprintf(stderr, "bench_train: bad size in '%s'\n", sizes); return 2; }
        memset(&rows[n], 0, sizeof rows[n]);
        if (run_size(device, B, T, steps, lr, &rows[n])) return 1;
        if (!json)
            fprintf(stderr, "  %lux%lu done: %.1f tokens/s\n", B, T, rows[n].tok_s);
        n++;
        p = *e == ',' ? e + 1 : e;
    }
    /* peak = a + b * tokens, least squares */
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        double tx = (double)(rows[i].B * rows[i].T), ty = rows[i].peak_mib;
        sx += tx, sy += ty, sxx += tx * tx, sxy += tx * ty;
    }
    double den = (double)n * sxx - sx * sx;
    double b = n > 1 && den != 0 ? ((double)n * sxy - sx * sy) / den : 0;
    double a = n ? (sy - b * sx) / (double)n : 0;
    if (json) {
        printf("{\"model\":\"SmolLM2-135M shapes\",\"steps\":%d,\"fixed_mib\":%.3f,\"kib_per_token\":%.3f,\"rows\":[", steps, a, b * 1024.0);
        for (size_t i = 0; i < n; i++) {
            double fit = a + b * (double)(rows[i].B * rows[i].T);
            printf("%s{\"batch\":%zu,\"seq\":%zu,\"model_mib\":%.2f,\"trainer_mib\":%.2f,\"peak_mib\":%.2f,"
                   "\"fit_dev_pct\":%.3f,\"tokens_per_s\":%.2f,\"step_s\":%.3f,\"loss\":%.4f}",
                   i ? "," : "", rows[i].B, rows[i].T, rows[i].model_mib, rows[i].trainer_mib,
                   rows[i].peak_mib, 100.0 * (rows[i].peak_mib - fit) / fit, rows[i].tok_s,
                   rows[i].step_s, rows[i].loss);
        }
        printf("]}\n");
        return 0;
    }
    printf("SmolLM2-135M-shaped training step (%d timed steps after one warm-up)\n", steps);
    printf("| B x T | model MiB | + trainer MiB | peak MiB | peak - line fit | tokens/s | s/step |\n");
    printf("|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        double fit = a + b * (double)(rows[i].B * rows[i].T);
        printf("| %zux%zu | %.1f | %.1f | %.1f | %+.2f%% | %.1f | %.2f |\n", rows[i].B, rows[i].T,
               rows[i].model_mib, rows[i].trainer_mib, rows[i].peak_mib,
               100.0 * (rows[i].peak_mib - fit) / fit, rows[i].tok_s, rows[i].step_s);
    }
    printf("line fit: peak = %.1f MiB + %.1f KiB x (B x T)\n", a, b * 1024.0);
    return 0;
}
