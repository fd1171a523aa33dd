/* Saving and loading the training state of SFT and LCDD runs (train_state.h). */
#include "algo/train_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "algo/carrier.h"
#include "clcdd/safetensors.h"
#include "clcdd_internal.h"
#include "runtime/ctx_internal.h"

#define STATE_FORMAT "clcdd-train-state"
#define STATE_VERSION "1"
#define START_OVER "start over without --resume"

/* ---- identity ---------------------------------------------------------------------------- */

static void data_fingerprint(const clcdd_dataset *d, char out[40]) {
    uint64_t h[2] = {CLCDD_FNV_SEED, CLCDD_FNV_SEED ^ 0x9e3779b97f4a7c15ULL};
    uint64_t n = d->n;
    for (int k = 0; k < 2; k++) h[k] = clcdd_fnv1a64(&n, sizeof n, h[k]);
    for (size_t i = 0; i < d->n; i++) {
        const clcdd_example *e = &d->items[i];
        uint64_t len = e->len;
        for (int k = 0; k < 2; k++) {
            h[k] = clcdd_fnv1a64(&len, sizeof len, h[k]);
            h[k] = clcdd_fnv1a64(e->ids, e->len * sizeof *e->ids, h[k]);
            h[k] = clcdd_fnv1a64(e->loss, e->len, h[k]);
        }
    }
    snprintf(out, 40, "%016llx%016llx", (unsigned long long)h[0], (unsigned long long)h[1]);
}

static void opt_add(clcdd_state_ident *id, const char *key, const char *fmt, ...) CLCDD_PRINTF(3, 4);
static void opt_add(clcdd_state_ident *id, const char *key, const char *fmt, ...) {
    if (id->n_opts >= CLCDD_STATE_MAX_OPTS) return; /* the option lists below are shorter */
    snprintf(id->opt_key[id->n_opts], sizeof id->opt_key[0], "%s", key);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(id->opt_val[id->n_opts], sizeof id->opt_val[0], fmt, ap);
    va_end(ap);
    id->n_opts++;
}

/* Options shared by both runs, by their CLI names. Floats with 9 digits: exact for a float. */
static void opts_common(clcdd_state_ident *id, int64_t steps, float lr, size_t micro_batch,
                        size_t accum, size_t max_len, uint64_t seed, int all_tokens) {
    opt_add(id, "steps", "%lld", (long long)steps);
    opt_add(id, "lr", "%.9g", (double)lr);
    opt_add(id, "micro-batch", "%zu", micro_batch);
    opt_add(id, "accum", "%zu", accum);
    opt_add(id, "max-len", "%zu", max_len);
    opt_add(id, "seed", "%llu", (unsigned long long)seed);
    opt_add(id, "all-tokens", "%d", all_tokens ? 1 : 0);
}

clcdd_status clcdd_state_ident_sft(clcdd_ctx *ctx, const clcdd_model *start, const clcdd_dataset *d,
                                   const clcdd_sft_options *o, clcdd_state_ident *id) {
    memset(id, 0, sizeof *id);
    id->kind = "sft";
    id->n_examples = d->n;
    data_fingerprint(d, id->data_fp);
    opts_common(id, o->steps, o->lr, o->micro_batch, o->accum, o->max_len, o->seed, o->all_tokens);
    return clcdd_model_fingerprint(ctx, start, id->base_fp);
}

clcdd_status clcdd_state_ident_lcdd(clcdd_ctx *ctx, const clcdd_model *base, const char *sft_fp,
                                    const clcdd_dataset *d, const clcdd_lcdd_options *o,
                                    clcdd_state_ident *id) {
    memset(id, 0, sizeof *id);
    id->kind = "lcdd";
    id->n_examples = d->n;
    snprintf(id->sft_fp, sizeof id->sft_fp, "%s", sft_fp);
    data_fingerprint(d, id->data_fp);
    opts_common(id, o->steps, o->lr, o->micro_batch, o->accum, o->max_len, o->seed, o->all_tokens);
    opt_add(id, "rho", "%.9g", (double)o->rho);
    opt_add(id, "warmup-steps", "%lld", (long long)o->warmup_steps);
    opt_add(id, "theta-lr", "%.9g", (double)o->theta_lr);
    opt_add(id, "lambda-init", "%.9g", (double)o->lambda_init);
    opt_add(id, "kl-loss", "%d", o->kl_loss ? 1 : 0);
    opt_add(id, "early-stop", "%d", o->early_stop ? 1 : 0);
    return clcdd_model_fingerprint(ctx, base, id->base_fp);
}

/* ---- writing ----------------------------------------------------------------------------- */

typedef struct sitem {
    char *name;
    clcdd_file_dtype dtype;
    size_t ndim;
    uint64_t shape[CLCDD_MAX_DIMS];
    void *data;
} sitem;

typedef struct swriter {
    clcdd_ctx *ctx;
    const char *path;
    sitem *items;
    size_t n, cap;
    char **meta; /* key, value, key, value, ... */
    size_t n_meta, cap_meta;
} swriter;

static void sw_free(swriter *w) {
    for (size_t i = 0; i < w->n; i++) free(w->items[i].name), free(w->items[i].data);
    for (size_t i = 0; i < 2 * w->n_meta; i++) free(w->meta[i]);
    free(w->items);
    free(w->meta);
    memset(w, 0, sizeof *w);
}

static clcdd_status sw_meta(swriter *w, const char *key, const char *fmt, ...) CLCDD_PRINTF(3, 4);
static clcdd_status sw_meta(swriter *w, const char *key, const char *fmt, ...) {
    if (w->n_meta == w->cap_meta) {
        size_t cap = w->cap_meta ? 2 * w->cap_meta : 32;
        char **m = realloc(w->meta, 2 * cap * sizeof *m);
        if (!m) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: training state metadata", w->path);
        w->meta = m;
        w->cap_meta = cap;
    }
    char val[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    char *k = strdup(key), *v = strdup(val);
    if (!k || !v) {
        free(k), free(v);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: training state metadata", w->path);
    }
    w->meta[2 * w->n_meta] = k;
    w->meta[2 * w->n_meta + 1] = v;
    w->n_meta++;
    return CLCDD_OK;
}

/* Takes ownership of data (freed on failure too). */
static clcdd_status sw_add(swriter *w, const char *name, clcdd_file_dtype dtype, size_t ndim,
                           const uint64_t *shape, void *data) {
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        sitem *g = realloc(w->items, cap * sizeof *g);
        if (!g) {
            free(data);
            return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: training state", w->path);
        }
        w->items = g;
        w->cap = cap;
    }
    sitem *it = &w->items[w->n];
    memset(it, 0, sizeof *it);
    it->name = strdup(name);
    if (!it->name) {
        free(data);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: training state", w->path);
    }
    it->dtype = dtype;
    it->ndim = ndim;
    for (size_t d = 0; d < ndim; d++) it->shape[d] = shape[d];
    it->data = data;
    w->n++;
    return CLCDD_OK;
}

/* Copy a device tensor (F32) into the state. */
static clcdd_status sw_device(swriter *w, const char *name, const clcdd_tensor *t) {
    if (t->dtype != CLCDD_F32)
        return clcdd_fail(CLCDD_ERR_INTERNAL, "training state: tensor %s is not F32", name);
    size_t bytes = clcdd_tensor_bytes(t);
    void *h = malloc(bytes ? bytes : 1);
    if (!h) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: %s (%zu bytes)", w->path, name, bytes);
    clcdd_status st = clcdd_tensor_download(w->ctx, t, h);
    if (st != CLCDD_OK) {
        free(h);
        return clcdd_fail_context(st, "saving %s to the training state", name);
    }
    uint64_t shape[CLCDD_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) shape[d] = (uint64_t)t->shape[d];
    return sw_add(w, name, CLCDD_DTYPE_F32, (size_t)t->ndim, shape, h);
}

/* The rename is durable only once the directory entry is on disk. */
static clcdd_status sync_dir(const char *path) {
    char *dir = strdup(path);
    if (!dir) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) slash[1] = 0;
    else *slash = 0;
    clcdd_status st = CLCDD_OK;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        st = clcdd_fail(CLCDD_ERR_IO, "%s: cannot open its directory %s to flush it: %s", path, dir,
                        strerror(errno));
    } else {
        /* some file systems cannot fsync a directory (EINVAL); the rename is then as durable as
         * they make it */
        if (fsync(fd) != 0 && errno != EINVAL)
            st = clcdd_fail(CLCDD_ERR_IO, "%s: cannot flush directory %s: %s", path, dir,
                            strerror(errno));
        close(fd);
    }
    free(dir);
    return st;
}

static clcdd_status sw_write(swriter *w) {
    clcdd_st_write_tensor *t = calloc(w->n ? w->n : 1, sizeof *t);
    if (!t) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: training state", w->path);
    for (size_t i = 0; i < w->n; i++) {
        t[i].name = w->items[i].name;
        t[i].dtype = w->items[i].dtype;
        t[i].n_dims = w->items[i].ndim;
        t[i].shape = w->items[i].shape;
        t[i].data = w->items[i].data;
    }
    clcdd_status st = clcdd_safetensors_write(w->path, t, w->n, (const char *const *)w->meta, w->n_meta);
    free(t);
    if (st == CLCDD_OK) st = sync_dir(w->path);
    return st;
}

static clcdd_status sw_ident(swriter *w, const clcdd_state_ident *id) {
    TRY(sw_meta(w, "format", "%s", STATE_FORMAT));
    TRY(sw_meta(w, "version", "%s", STATE_VERSION));
    TRY(sw_meta(w, "kind", "%s", id->kind));
    TRY(sw_meta(w, "base_fingerprint", "%s", id->base_fp));
    if (id->sft_fp[0]) TRY(sw_meta(w, "sft_fingerprint", "%s", id->sft_fp));
    TRY(sw_meta(w, "data_fingerprint", "%s", id->data_fp));
    TRY(sw_meta(w, "data_examples", "%zu", id->n_examples));
    for (size_t i = 0; i < id->n_opts; i++) {
        char key[48];
        snprintf(key, sizeof key, "opt.%s", id->opt_key[i]);
        TRY(sw_meta(w, key, "%s", id->opt_val[i]));
    }
    return CLCDD_OK;
}

/* The data order, cursor and epoch of a trainer after `step` optimizer steps. */
static clcdd_status sw_data(swriter *w, const clcdd_state_ident *id, const clcdd_trainer *t,
                            int64_t step) {
    TRY(sw_meta(w, "step", "%lld", (long long)step));
    TRY(sw_meta(w, "data.epoch", "%llu", (unsigned long long)t->epoch));
    TRY(sw_meta(w, "data.cursor", "%zu", t->cursor));
    if (!t->order) return CLCDD_OK;
    uint64_t *o = malloc((id->n_examples ? id->n_examples : 1) * sizeof *o);
    if (!o) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: data order", w->path);
    for (size_t i = 0; i < id->n_examples; i++) o[i] = t->order[i];
    uint64_t shape[1] = {id->n_examples};
    return sw_add(w, "data.order", CLCDD_DTYPE_U64, 1, shape, o);
}

static void slot_name(char *out, size_t cap, const char *prefix, size_t i) {
    int role = (int)(i % CLCDD_ROLE_COUNT);
    size_t row = i / CLCDD_ROLE_COUNT;
    if (row == 0) snprintf(out, cap, "%s/%s", prefix, clcdd_role_name((clcdd_tensor_role)role));
    else snprintf(out, cap, "%s/layers.%zu.%s", prefix, row - 1, clcdd_role_name((clcdd_tensor_role)role));
}

/* Every trained tensor of m and its optimizer state. */
static clcdd_status sw_optim(swriter *w, const clcdd_model *m, const clcdd_grads *g,
                             const clcdd_optim *o) {
    size_t rows = (size_t)m->hp.n_layers + 1;
    char name[128];
    for (size_t i = 0; i < rows * CLCDD_ROLE_COUNT; i++) {
        if (g->slots[i] == CLCDD_NO_SLOT) continue;
        clcdd_tensor p = clcdd_arena_view(&m->params, m->slots[i]);
        clcdd_tensor mm = clcdd_arena_view(&o->m, g->slots[i]);
        slot_name(name, sizeof name, "param", i);
        TRY(sw_device(w, name, &p));
        slot_name(name, sizeof name, "optim.m", i);
        TRY(sw_device(w, name, &mm));
        if (o->cfg.kind != CLCDD_OPT_SGD) {
            clcdd_tensor vv = clcdd_arena_view(&o->v, g->slots[i]);
            slot_name(name, sizeof name, "optim.v", i);
            TRY(sw_device(w, name, &vv));
        }
    }
    TRY(sw_device(w, "optim.gsq", &o->gsq));
    return sw_meta(w, "optim.step", "%lld", (long long)o->step);
}

static clcdd_status save_done(swriter *w, clcdd_status st) {
    if (st == CLCDD_OK) st = sw_write(w);
    if (st != CLCDD_OK)
        st = clcdd_fail_context(st, "saving the training state %s (the state saved before, if any, "
                                "is left as it was; free disk space or choose a writable --state)",
                                w->path);
    sw_free(w);
    return st;
}

clcdd_status clcdd_state_save_sft(const char *path, const clcdd_state_ident *id,
                                  const clcdd_trainer *t, float last_loss) {
    swriter w;
    memset(&w, 0, sizeof w);
    w.ctx = t->ctx;
    w.path = path;
    clcdd_status st = sw_ident(&w, id);
    if (st == CLCDD_OK) st = sw_data(&w, id, t, t->step);
    if (st == CLCDD_OK) st = sw_meta(&w, "last_loss", "%.9g", (double)last_loss);
    if (st == CLCDD_OK) st = sw_optim(&w, t->model, &t->grads, &t->optim);
    return save_done(&w, st);
}

clcdd_status clcdd_state_save_lcdd(const char *path, const clcdd_state_ident *id, clcdd_lcdd *l) {
    swriter w;
    memset(&w, 0, sizeof w);
    w.ctx = l->ctx;
    w.path = path;
    clcdd_status st = sw_ident(&w, id);
    if (st == CLCDD_OK) st = sw_data(&w, id, &l->inner, l->step);
    if (st == CLCDD_OK) st = sw_optim(&w, &l->w, &l->grads_w, &l->optim);
    if (st == CLCDD_OK) st = sw_device(&w, "lcdd.theta", &l->theta);
    if (st == CLCDD_OK) st = sw_device(&w, "lcdd.dual", &l->dual);
    /* early-stop progress; the current window's recorded losses are not kept, so after a resume
     * in mid-window that window's median counts the steps before the resume as loss 0 */
    if (st == CLCDD_OK)
        st = sw_meta(&w, "lcdd.early_stop", "%zu %d %d %d %d %lld %.9g", l->es.es_start_active,
                     l->es.es_stall_runs, l->es.es_loss_runs, l->es.es_armed, l->es.stop,
                     (long long)l->es.stop_step, (double)l->es.es_last_median);
    return save_done(&w, st);
}

/* ---- reading ----------------------------------------------------------------------------- */

/* Every check runs with apply = 0 first; only a state that passes them all is loaded (apply = 1),
 * so a refused state leaves the run untouched. */
typedef struct sreader {
    clcdd_ctx *ctx;
    const char *path;
    clcdd_safetensors *st;
    int apply;
} sreader;

static clcdd_status damaged(const sreader *r, const char *what) {
    return clcdd_fail(CLCDD_ERR_FORMAT, "%s: the training state is damaged or incomplete (%s); "
                      START_OVER, r->path, what);
}

static clcdd_status meta_get(const sreader *r, const char *key, const char **out) {
    *out = clcdd_safetensors_metadata_get(r->st, key);
    if (!*out) {
        char what[96];
        snprintf(what, sizeof what, "no '%s' entry", key);
        return damaged(r, what);
    }
    return CLCDD_OK;
}

static clcdd_status meta_u64(const sreader *r, const char *key, uint64_t max, uint64_t *out) {
    const char *v;
    TRY(meta_get(r, key, &v));
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *v == '-' || *end || errno || x > max) {
        char what[128];
        snprintf(what, sizeof what, "'%s' is '%.40s', not a number in 0..%llu", key, v,
                 (unsigned long long)max);
        return damaged(r, what);
    }
    *out = x;
    return CLCDD_OK;
}

static clcdd_status check_equal(const sreader *r, const char *key, const char *want,
                                const char *what) {
    const char *v;
    TRY(meta_get(r, key, &v));
    if (strcmp(v, want) != 0)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s was saved from another %s (%s there, %s "
                          "in this run): resume with the same models, data and options, or "
                          START_OVER, r->path, what, v, want);
    return CLCDD_OK;
}

static clcdd_status check_ident(const sreader *r, const clcdd_state_ident *id) {
    const char *fmt = clcdd_safetensors_metadata_get(r->st, "format");
    if (!fmt || strcmp(fmt, STATE_FORMAT) != 0)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s is not a clcdd training state (written by "
                          "--save-every); pass that file to --resume, or " START_OVER, r->path);
    const char *ver;
    TRY(meta_get(r, "version", &ver));
    if (strcmp(ver, STATE_VERSION) != 0)
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: training state version %s; this clcdd reads "
                          "version " STATE_VERSION ": resume with the clcdd that wrote it, or "
                          START_OVER, r->path, ver);
    const char *kind;
    TRY(meta_get(r, "kind", &kind));
    if (strcmp(kind, id->kind) != 0)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s is the state of a `clcdd %s` run, not of "
                          "`clcdd %s`: pass the state this command wrote, or " START_OVER, r->path,
                          !strcmp(kind, "lcdd") ? "train" : kind,
                          !strcmp(id->kind, "lcdd") ? "train" : id->kind);
    TRY(check_equal(r, "base_fingerprint", id->base_fp, "BASE model (fingerprint)"));
    if (id->sft_fp[0]) TRY(check_equal(r, "sft_fingerprint", id->sft_fp, "SFT model (fingerprint)"));
    TRY(check_equal(r, "data_fingerprint", id->data_fp,
                    "training set (fingerprint of the tokenized --data; the file, the tokenizer, "
                    "--max-len or --all-tokens differ)"));
    for (size_t i = 0; i < id->n_opts; i++) {
        char key[48], what[64];
        snprintf(key, sizeof key, "opt.%s", id->opt_key[i]);
        snprintf(what, sizeof what, "option value: --%s", id->opt_key[i]);
        TRY(check_equal(r, key, id->opt_val[i], what));
    }
    uint64_t n = 0;
    TRY(meta_u64(r, "data_examples", SIZE_MAX, &n));
    if (n != id->n_examples) return damaged(r, "example count differs from its data fingerprint");
    return CLCDD_OK;
}

/* Check name against the device tensor t (F32, same shape) and load it when applying. */
static clcdd_status rd_device(const sreader *r, const char *name, const clcdd_tensor *t) {
    clcdd_st_tensor s;
    memset(&s, 0, sizeof s);
    if (clcdd_safetensors_find(r->st, name, &s) != CLCDD_OK) {
        char what[160];
        snprintf(what, sizeof what, "tensor %s is missing", name);
        return damaged(r, what);
    }
    int same = s.dtype == CLCDD_DTYPE_F32 && s.n_dims == (size_t)t->ndim &&
               s.n_bytes == clcdd_tensor_bytes(t);
    for (int d = 0; same && d < t->ndim; d++) same = s.shape[d] == (uint64_t)t->shape[d];
    if (!same) {
        char what[160];
        snprintf(what, sizeof what, "tensor %s has another dtype or shape than this model's", name);
        return damaged(r, what);
    }
    if (!r->apply) return CLCDD_OK;
    clcdd_tensor dst = *t;
    clcdd_status st = clcdd_tensor_upload(r->ctx, &dst, s.data);
    if (st != CLCDD_OK) return clcdd_fail_context(st, "%s: loading %s", r->path, name);
    return CLCDD_OK;
}

static clcdd_status rd_optim(const sreader *r, const clcdd_model *m, const clcdd_grads *g,
                             clcdd_optim *o, int64_t step) {
    size_t rows = (size_t)m->hp.n_layers + 1;
    char name[128];
    for (size_t i = 0; i < rows * CLCDD_ROLE_COUNT; i++) {
        if (g->slots[i] == CLCDD_NO_SLOT) continue;
        clcdd_tensor p = clcdd_arena_view(&m->params, m->slots[i]);
        clcdd_tensor mm = clcdd_arena_view(&o->m, g->slots[i]);
        slot_name(name, sizeof name, "param", i);
        TRY(rd_device(r, name, &p));
        slot_name(name, sizeof name, "optim.m", i);
        TRY(rd_device(r, name, &mm));
        if (o->cfg.kind != CLCDD_OPT_SGD) {
            clcdd_tensor vv = clcdd_arena_view(&o->v, g->slots[i]);
            slot_name(name, sizeof name, "optim.v", i);
            TRY(rd_device(r, name, &vv));
        }
    }
    TRY(rd_device(r, "optim.gsq", &o->gsq));
    uint64_t ostep = 0;
    TRY(meta_u64(r, "optim.step", (uint64_t)step, &ostep));
    if (r->apply) o->step = (int64_t)ostep;
    return CLCDD_OK;
}

/* Step counter, data epoch, cursor and order; *step receives the step. */
static clcdd_status rd_data(const sreader *r, const clcdd_state_ident *id, clcdd_trainer *t,
                            int64_t *step) {
    uint64_t s = 0, epoch = 0, cursor = 0;
    size_t n = id->n_examples;
    TRY(meta_u64(r, "step", (uint64_t)t->cfg.steps, &s));
    TRY(meta_u64(r, "data.epoch", UINT64_MAX, &epoch));
    TRY(meta_u64(r, "data.cursor", n, &cursor));
    clcdd_st_tensor o;
    memset(&o, 0, sizeof o);
    int have = clcdd_safetensors_find(r->st, "data.order", &o) == CLCDD_OK;
    if (!have && (s > 0 || cursor > 0)) return damaged(r, "tensor data.order is missing");
    size_t *order = NULL;
    if (have) {
        if (o.dtype != CLCDD_DTYPE_U64 || o.n_dims != 1 || o.shape[0] != n)
            return damaged(r, "data.order is not a U64 vector over the examples");
        order = malloc((n ? n : 1) * sizeof *order);
        unsigned char *seen = calloc(n ? n : 1, 1);
        if (!order || !seen) {
            free(order), free(seen);
            return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "%s: data order", r->path);
        }
        int ok = 1;
        for (size_t i = 0; i < n && ok; i++) {
            uint64_t v;
            memcpy(&v, (const unsigned char *)o.data + 8 * i, 8);
            ok = v < n && !seen[v];
            if (ok) seen[v] = 1, order[i] = (size_t)v;
        }
        free(seen);
        if (!ok) {
            free(order);
            return damaged(r, "data.order is not a permutation of the examples");
        }
    }
    if (!r->apply) {
        free(order);
    } else {
        free(t->order);
        t->order = order;
        t->epoch = epoch;
        t->cursor = (size_t)cursor;
        t->step = (int64_t)s;
    }
    *step = (int64_t)s;
    return CLCDD_OK;
}

typedef clcdd_status (*pass_fn)(const sreader *r, void *user);

static clcdd_status load_passes(clcdd_ctx *ctx, const char *path, pass_fn fn, void *user) {
    sreader r = {ctx, path, NULL, 0};
    clcdd_status st = clcdd_safetensors_open(path, &r.st);
    if (st != CLCDD_OK)
        return clcdd_fail_context(st, "reading the training state given to --resume");
    st = fn(&r, user);
    if (st == CLCDD_OK) {
        r.apply = 1;
        st = fn(&r, user);
    }
    clcdd_safetensors_close(r.st);
    return st;
}

typedef struct sft_load {
    const clcdd_state_ident *id;
    clcdd_trainer *t;
    float *last_loss;
} sft_load;

static clcdd_status sft_pass(const sreader *r, void *user) {
    sft_load *a = user;
    TRY(check_ident(r, a->id));
    int64_t step = 0;
    TRY(rd_data(r, a->id, a->t, &step));
    TRY(rd_optim(r, a->t->model, &a->t->grads, &a->t->optim, step));
    const char *v;
    TRY(meta_get(r, "last_loss", &v));
    char *end = NULL;
    float x = strtof(v, &end);
    if (end == v || *end) return damaged(r, "last_loss is not a number");
    if (r->apply && a->last_loss) *a->last_loss = x;
    return CLCDD_OK;
}

clcdd_status clcdd_state_load_sft(const char *path, const clcdd_state_ident *id, clcdd_trainer *t,
                                  const clcdd_dataset *d, float *last_loss) {
    if (d->n != id->n_examples)
        return clcdd_fail(CLCDD_ERR_INTERNAL, "training state: the identity is of another data set");
    sft_load a = {id, t, last_loss};
    return load_passes(t->ctx, path, sft_pass, &a);
}

typedef struct lcdd_load {
    const clcdd_state_ident *id;
    clcdd_lcdd *l;
} lcdd_load;

static clcdd_status lcdd_pass(const sreader *r, void *user) {
    lcdd_load *a = user;
    clcdd_lcdd *l = a->l;
    TRY(check_ident(r, a->id));
    int64_t step = 0;
    TRY(rd_data(r, a->id, &l->inner, &step));
    TRY(rd_optim(r, &l->w, &l->grads_w, &l->optim, step));
    TRY(rd_device(r, "lcdd.theta", &l->theta));
    TRY(rd_device(r, "lcdd.dual", &l->dual));
    clcdd_lcdd_state es;
    memset(&es, 0, sizeof es);
    const char *v = clcdd_safetensors_metadata_get(r->st, "lcdd.early_stop");
    if (v) {
        long long stop_step = 0;
        double med = 0;
        if (sscanf(v, "%zu %d %d %d %d %lld %lf", &es.es_start_active, &es.es_stall_runs,
                   &es.es_loss_runs, &es.es_armed, &es.stop, &stop_step, &med) != 7)
            return damaged(r, "lcdd.early_stop is not 7 numbers");
        es.stop_step = stop_step;
        es.es_last_median = (float)med;
    }
    if (r->apply) l->step = step, l->es = es;
    return CLCDD_OK;
}

clcdd_status clcdd_state_load_lcdd(const char *path, const clcdd_state_ident *id, clcdd_lcdd *l,
                                   const clcdd_dataset *d) {
    if (d->n != id->n_examples)
        return clcdd_fail(CLCDD_ERR_INTERNAL, "training state: the identity is of another data set");
    lcdd_load a = {id, l};
    return load_passes(l->ctx, path, lcdd_pass, &a);
}
