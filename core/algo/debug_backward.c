/* include/clcdd/debug.h: one forward + backward over a JSONL dataset, every gradient to a file.
 * Dimension legend: n examples, T longest example, B examples per pass, d hidden, V vocabulary.
 * The data is tokenized the way clcdd_sft_run does it (same JSONL loader, chat rendering, EOS and
 * vocabulary check); the window is every example, in file order, in passes of B examples whose
 * gradients accumulate, each token loss scaled by 1 / (loss tokens of the whole window). */
#include "clcdd/debug.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo/train_run.h"
#include "clcdd/safetensors.h"
#include "clcdd_internal.h"
#include "dataset_jsonl.h"
#include "nn/backward.h"
#include "nn/basic.h"
#include "nn/checkpoint.h"
#include "nn/load.h"
#include "nn/ops.h"
#include "runtime/cl_check.h"

void clcdd_debug_backward_options_default(clcdd_debug_backward_options *o) {
    memset(o, 0, sizeof *o);
    o->max_len = 512;
    o->micro_batch = 8;
}

/* Tokenize `data` exactly as clcdd_sft_run does. */
static clcdd_status tokenize(const clcdd_model *m, const clcdd_load_info *info, const char *path,
                             const char *data, const clcdd_debug_backward_options *o,
                             clcdd_dataset *d, clcdd_data_summary *sum) {
    TRY(clcdd_run_load_data(m, info, path, data, o->max_len, o->all_tokens, d, sum));
    if (d->n == 0)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: no example left to compute a loss on", data);
    return CLCDD_OK;
}

static clcdd_tensor head(const clcdd_tensor *base, size_t n) {
    clcdd_tensor v = *base;
    v.shape[0] = (int64_t)n;
    v.owns = 0;
    return v;
}

/* Everything the passes need, sized for B examples of T tokens. */
typedef struct pass_state {
    clcdd_acts acts;
    clcdd_bwd_scratch scratch;
    clcdd_tensor targets, loss_rows;
    int32_t *h_ids, *h_lens, *h_tg;
    float *h_loss, *h_dx;
} pass_state;

static void pass_state_free(pass_state *p) {
    clcdd_acts_destroy(&p->acts);
    clcdd_bwd_scratch_destroy(&p->scratch);
    clcdd_tensor_destroy(&p->targets);
    clcdd_tensor_destroy(&p->loss_rows);
    free(p->h_ids), free(p->h_lens), free(p->h_tg), free(p->h_loss), free(p->h_dx);
    memset(p, 0, sizeof *p);
}

static clcdd_status pass_state_create(clcdd_ctx *ctx, const clcdd_hparams *hp, size_t B, size_t T,
                                      pass_state *p) {
    memset(p, 0, sizeof *p);
    size_t N = B * T;
    int64_t nn[1] = {(int64_t)N};
    p->h_ids = malloc(N * sizeof *p->h_ids);
    p->h_lens = malloc(B * sizeof *p->h_lens);
    p->h_tg = malloc(N * sizeof *p->h_tg);
    p->h_loss = malloc(N * sizeof *p->h_loss);
    p->h_dx = malloc(N * hp->hidden_size * sizeof *p->h_dx);
    clcdd_status st = CLCDD_OK;
    if (!p->h_ids || !p->h_lens || !p->h_tg || !p->h_loss || !p->h_dx)
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "debug backward: host buffers for %zu x %zu tokens", B, T);
    if (st == CLCDD_OK) st = clcdd_acts_create(ctx, hp, B, T, 1, &p->acts);
    if (st == CLCDD_OK) st = clcdd_bwd_scratch_create(ctx, hp, B, T, &p->scratch);
    if (st == CLCDD_OK) st = clcdd_tensor_create(ctx, CLCDD_I32, 1, nn, "targets", &p->targets);
    if (st == CLCDD_OK) st = clcdd_tensor_create(ctx, CLCDD_F32, 1, nn, "token losses", &p->loss_rows);
    if (st != CLCDD_OK) pass_state_free(p);
    return st;
}

/* One pass over examples [first, first + nb): forward, loss scaled by `scale`, backward into g.
 * Adds the pass's loss (unscaled token losses) to *loss_sum and copies d loss / d embeddings into
 * dx_out (n, T_out, d). */
static clcdd_status run_pass(clcdd_ctx *ctx, const clcdd_model *m, const clcdd_dataset *d,
                             size_t first, size_t nb, float scale, pass_state *p, clcdd_grads *g,
                             double *loss_sum, float *dx_out, size_t T_out) {
    const clcdd_hparams *hp = &m->hp;
    size_t T = 2, dd = hp->hidden_size;
    for (size_t b = 0; b < nb; b++)
        if (d->items[first + b].len > T) T = d->items[first + b].len;
    size_t N = nb * T;
    for (size_t b = 0; b < nb; b++) {
        const clcdd_example *e = &d->items[first + b];
        p->h_lens[b] = (int32_t)e->len;
        for (size_t s = 0; s < T; s++) {
            size_t r = b * T + s;
            p->h_ids[r] = s < e->len ? e->ids[s] : 0;
            p->h_tg[r] = (s + 1 < e->len && e->loss[s + 1]) ? e->ids[s + 1] : -1;
        }
    }
    clcdd_batch bt;
    clcdd_status st = clcdd_batch_create(ctx, nb, T, p->h_ids, p->h_lens, 0, &bt);
    if (st != CLCDD_OK) return st;
    clcdd_tensor tg = head(&p->targets, N), lr = head(&p->loss_rows, N);
    clcdd_tensor logits = clcdd_act(&p->acts, p->acts.logits);
    clcdd_tensor dx = clcdd_arena_view(&p->scratch.arena, p->scratch.dx);
    if ((st = clcdd_batch_add_csr(ctx, &bt, p->h_ids)) || (st = clcdd_tensor_upload(ctx, &tg, p->h_tg)) ||
        (st = clcdd_decoder_forward(ctx, m, &bt, NULL, &p->acts)) ||
        (st = clcdd_cross_entropy(ctx, &logits, &lr, &tg, N, hp->vocab_size, scale, 1)) ||
        (st = clcdd_tensor_download(ctx, &lr, p->h_loss)) ||
        (st = clcdd_decoder_backward(ctx, m, &bt, &p->acts, g, &p->scratch, NULL, 0)))
        goto done;
    clcdd_tensor dxv = head(&dx, N * dd);
    dxv.ndim = 1;
    if ((st = clcdd_tensor_download(ctx, &dxv, p->h_dx))) goto done;
    for (size_t r = 0; r < N; r++)
        if (p->h_tg[r] >= 0) *loss_sum += p->h_loss[r];
    for (size_t b = 0; b < nb; b++)
        for (size_t s = 0; s < T; s++) {
            float *dst = dx_out + ((first + b) * T_out + s) * dd;
            if (s < (size_t)p->h_lens[b]) memcpy(dst, p->h_dx + (b * T + s) * dd, dd * sizeof *dst);
            else memset(dst, 0, dd * sizeof *dst); /* padding: no gradient can reach it */
        }
done:
    clcdd_batch_destroy(&bt);
    return st;
}

/* The output tensors: loss, ids, lens, loss_mask, grad.inputs_embeds, then every parameter. */
typedef struct out_file {
    clcdd_st_write_tensor *w;
    uint64_t (*shapes)[3];
    char (*names)[160];
    void **data;             /* owned buffers (NULL when borrowed) */
    size_t n, cap;
} out_file;

static void out_free(out_file *f) {
    for (size_t i = 0; i < f->n; i++) free(f->data[i]);
    free(f->w), free(f->shapes), free(f->names), free(f->data);
    memset(f, 0, sizeof *f);
}

/* Append a tensor that takes ownership of `data` (freed by out_free). f->cap covers every
 * tensor a model can have (checked by the callers). */
static void out_add(out_file *f, const char *name, clcdd_file_dtype dt, size_t nd,
                    const uint64_t *shape, void *data) {
    size_t i = f->n++;
    snprintf(f->names[i], sizeof f->names[i], "%s", name);
    for (size_t k = 0; k < nd; k++) f->shapes[i][k] = shape[k];
    f->data[i] = data;
    f->w[i] = (clcdd_st_write_tensor){f->names[i], dt, nd, f->shapes[i], data};
}

static clcdd_status add_grads(clcdd_ctx *ctx, const clcdd_model *m, const clcdd_grads *g,
                              out_file *f, clcdd_debug_backward_result *res) {
    const clcdd_hparams *hp = &m->hp;
    double sq = 0;
    for (int r = 0; r < CLCDD_ROLE_COUNT; r++) {
        uint32_t layers = clcdd_role_is_per_layer((clcdd_tensor_role)r) ? hp->n_layers : 1;
        for (uint32_t l = 0; l < layers; l++) {
            char hf[128], key[160];
            if (!clcdd_grads_has(g, (clcdd_tensor_role)r, l)) continue;
            if (f->n == f->cap)
                return clcdd_fail(CLCDD_ERR_INTERNAL, "debug backward: more tensors than planned");
            if (!clcdd_hf_tensor_name(hp, (clcdd_tensor_role)r, l, hf, sizeof hf))
                return clcdd_fail(CLCDD_ERR_INTERNAL, "debug backward: role %d has a gradient but no "
                                  "HF tensor name", r);
            snprintf(key, sizeof key, "grad.%s", hf);
            clcdd_tensor t = clcdd_grads_tensor(g, (clcdd_tensor_role)r, l);
            size_t n = (size_t)clcdd_tensor_numel(&t);
            float *h = malloc(n * sizeof *h);
            if (!h) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "debug backward: %s", key);
            clcdd_status st = clcdd_tensor_download(ctx, &t, h);
            if (st != CLCDD_OK) {
                free(h);
                return st;
            }
            for (size_t i = 0; i < n; i++) sq += (double)h[i] * h[i];
            uint64_t shape[2] = {0, 0};
            for (int k = 0; k < t.ndim && k < 2; k++) shape[k] = (uint64_t)t.shape[k];
            out_add(f, key, CLCDD_DTYPE_F32, (size_t)(t.ndim < 2 ? t.ndim : 2), shape, h);
            res->n_param_grads++;
        }
    }
    res->grad_norm = sqrt(sq);
    return CLCDD_OK;
}

static clcdd_status compute_and_write(clcdd_ctx *ctx, const clcdd_model *m, const clcdd_dataset *d,
                                      const char *model_path, const char *data,
                                      const char *out_path, const clcdd_debug_backward_options *o,
                                      clcdd_debug_backward_result *res) {
    const clcdd_hparams *hp = &m->hp;
    size_t n = d->n, T = res->data.longest, dd = hp->hidden_size;
    size_t B = o->micro_batch && o->micro_batch < n ? o->micro_batch : n;
    size_t loss_tokens = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t t = 1; t < d->items[i].len; t++) loss_tokens += d->items[i].loss[t];
    if (loss_tokens == 0) return clcdd_fail(CLCDD_ERR_FORMAT, "%s: no loss token in the data", data);
    int trainable[CLCDD_ROLE_COUNT];
    for (int r = 0; r < CLCDD_ROLE_COUNT; r++) trainable[r] = 1;
    out_file f;
    memset(&f, 0, sizeof f);
    f.cap = 5 + (size_t)(hp->n_layers + 1) * CLCDD_ROLE_COUNT;
    f.w = calloc(f.cap, sizeof *f.w);
    f.shapes = calloc(f.cap, sizeof *f.shapes);
    f.names = calloc(f.cap, sizeof *f.names);
    f.data = calloc(f.cap, sizeof *f.data);
    clcdd_grads g;
    pass_state p;
    memset(&g, 0, sizeof g);
    memset(&p, 0, sizeof p);
    float *dx = calloc(n * T * dd, sizeof *dx);
    int32_t *ids = calloc(n * T, sizeof *ids), *mask = calloc(n * T, sizeof *mask);
    int32_t *lens = calloc(n, sizeof *lens);
    float *loss = calloc(1, sizeof *loss);
    clcdd_status st = CLCDD_OK;
    if (!f.w || !f.shapes || !f.names || !f.data || !dx || !ids || !mask || !lens || !loss) {
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "debug backward: %zu examples of %zu tokens", n, T);
        goto done;
    }
    if ((st = clcdd_grads_create(ctx, m, trainable, &g)) || (st = pass_state_create(ctx, hp, B, T, &p)))
        goto done;
    double loss_sum = 0;
    float scale = 1.0f / (float)loss_tokens;
    for (size_t first = 0; first < n && st == CLCDD_OK; first += B)
        st = run_pass(ctx, m, d, first, n - first < B ? n - first : B, scale, &p, &g, &loss_sum, dx, T);
    if (st != CLCDD_OK) goto done;
    res->loss = loss_sum / (double)loss_tokens;
    loss[0] = (float)res->loss;
    for (size_t i = 0; i < n; i++) {
        const clcdd_example *e = &d->items[i];
        lens[i] = (int32_t)e->len;
        for (size_t t = 0; t < e->len; t++) {
            ids[i * T + t] = e->ids[t];
            mask[i * T + t] = t > 0 && e->loss[t];
        }
    }
    uint64_t s_nt[2] = {n, T}, s_n[1] = {n}, s_ntd[3] = {n, T, dd};
    out_add(&f, "loss", CLCDD_DTYPE_F32, 0, NULL, loss);
    out_add(&f, "ids", CLCDD_DTYPE_I32, 2, s_nt, ids);
    out_add(&f, "lens", CLCDD_DTYPE_I32, 1, s_n, lens);
    out_add(&f, "loss_mask", CLCDD_DTYPE_I32, 2, s_nt, mask);
    out_add(&f, "grad.inputs_embeds", CLCDD_DTYPE_F32, 3, s_ntd, dx);
    dx = NULL, ids = mask = lens = NULL, loss = NULL; /* owned by f from here */
    if ((st = add_grads(ctx, m, &g, &f, res))) goto done;
    char ntok[32], nloss[32];
    snprintf(ntok, sizeof ntok, "%zu", res->data.tokens);
    snprintf(nloss, sizeof nloss, "%zu", loss_tokens);
    const char *meta[] = {"generator", "clcdd debug backward", "model", model_path, "data", data,
                          "all_tokens", o->all_tokens ? "1" : "0", "tokens", ntok,
                          "loss_tokens", nloss};
    st = clcdd_safetensors_write(out_path, f.w, f.n, meta, sizeof meta / sizeof meta[0] / 2);
done:
    free(dx), free(ids), free(mask), free(lens), free(loss);
    out_free(&f);
    pass_state_free(&p);
    clcdd_grads_destroy(&g);
    return st;
}

clcdd_status clcdd_debug_backward_run(clcdd_ctx *ctx, const clcdd_plugin_registry *reg,
                                      const char *model, const char *data, const char *out_path,
                                      const clcdd_debug_backward_options *o,
                                      clcdd_debug_backward_result *res) {
    clcdd_debug_backward_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    if (!ctx || !reg || !model || !data || !out_path || !o)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_debug_backward_run: NULL argument");
    clcdd_model m;
    clcdd_load_info info;
    memset(&info, 0, sizeof info);
    clcdd_status st = clcdd_model_load(ctx, model, reg, &m, &info);
    if (st != CLCDD_OK) return clcdd_fail_context(st, "loading the model %s", model);
    clcdd_dataset d;
    clcdd_dataset_init(&d);
    st = tokenize(&m, &info, model, data, o, &d, &res->data);
    if (st == CLCDD_OK) st = compute_and_write(ctx, &m, &d, model, data, out_path, o, res);
    clcdd_dataset_free(&d);
    clcdd_load_info_free(&info);
    clcdd_model_destroy(&m);
    return st;
}
