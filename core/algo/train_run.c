/* include/clcdd/train.h: SFT, LCDD and carrier export from files, for the CLI and applications.
 * Loads the checkpoints, tokenizes the JSONL data with the model's tokenizer and chat template
 * (loaders/dataset_jsonl.h), runs the trainers of algo/train.h and algo/lcdd.h and writes the
 * results (HF checkpoint, carrier archive). */
#include "clcdd/train.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "algo/carrier.h"
#include "algo/dp.h"
#include "algo/lcdd.h"
#include "algo/train_run.h"
#include "algo/train_state.h"
#include "nn/optim.h"
#include "clcdd_internal.h"
#include "dataset_jsonl.h"
#include "nn/checkpoint.h"
#include "nn/load.h"
#include "nn/load_source.h"
#include "clcdd/gguf.h"
#include "runtime/cl_check.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void clcdd_sft_options_default(clcdd_sft_options *o) {
    memset(o, 0, sizeof *o);
    o->steps = 100;
    o->lr = 2e-5f;
    o->micro_batch = 8;
    o->accum = 4;
    o->max_len = 512;
    o->seed = 42;
    o->log_every = 10;
}

void clcdd_lcdd_options_default(clcdd_lcdd_options *o) {
    memset(o, 0, sizeof *o);
    o->steps = 300;
    o->rho = 0.30f;
    o->warmup_steps = 300;
    o->lr = 2e-5f;
    o->theta_lr = 0.1f;
    o->lambda_init = 0.01f;
    o->micro_batch = 8;
    o->accum = 4;
    o->max_len = 512;
    o->seed = 42;
    o->log_every = 10;
}

/* ---- loading ----------------------------------------------------------------------------- */

typedef struct loaded {
    clcdd_model model;
    clcdd_load_info info;
    int have_model;
} loaded;

static void loaded_free(loaded *l) {
    if (l->have_model) clcdd_model_destroy(&l->model);
    clcdd_load_info_free(&l->info);
    memset(l, 0, sizeof *l);
}

static clcdd_status load(clcdd_ctx *ctx, const clcdd_plugin_registry *reg, const char *path,
                         const char *what, loaded *out) {
    memset(out, 0, sizeof *out);
    clcdd_status st = clcdd_model_load(ctx, path, reg, &out->model, &out->info);
    if (st != CLCDD_OK) return clcdd_fail_context(st, "loading the %s model %s", what, path);
    out->have_model = 1;
    return CLCDD_OK;
}

/* A model without a chat template (CLCDD_CHAT_NONE, e.g. a base checkpoint) gets the message
 * contents joined by blank lines, followed by a newline as the "generation prompt": the prompt is
 * then used as is, the way `clcdd generate` without --chat feeds it. */
static clcdd_status render_plain(const clcdd_chat_message *m, size_t n, int gen, char **out) {
    size_t len = 2;
    for (size_t i = 0; i < n; i++) len += strlen(m[i].content) + 2;
    char *s = malloc(len);
    if (!s) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "rendering a prompt");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) s[k++] = '\n', s[k++] = '\n';
        size_t l = strlen(m[i].content);
        memcpy(s + k, m[i].content, l);
        k += l;
    }
    if (gen) s[k++] = '\n';
    s[k] = 0;
    *out = s;
    return CLCDD_OK;
}

clcdd_status clcdd_run_render(void *user, const clcdd_chat_message *m, size_t n, int gen, char **out) {
    const clcdd_run_render_ctx *r = user;
    if (r->hp->chat_format == CLCDD_CHAT_NONE) return render_plain(m, n, gen, out);
    return clcdd_plugin_render_chat(r->plugin, r->hp, m, n, gen, out);
}

clcdd_status clcdd_run_load_data(const clcdd_model *m, const clcdd_load_info *info,
                                 const char *src_path, const char *data, size_t max_len,
                                 int all_tokens, clcdd_dataset *d, clcdd_data_summary *sum) {
    if (!info->tokenizer)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s has no tokenizer (%s): put a tokenizer.json in the "
                          "model directory to tokenize %s", src_path, info->tokenizer_note, data);
    clcdd_run_render_ctx rc = {info->plugin, &m->hp};
    clcdd_jsonl_config cfg = {info->tokenizer, clcdd_run_render, &rc, -1, max_len, all_tokens};
    if (m->hp.n_eos) cfg.eos_id = m->hp.eos_ids[0];
    clcdd_jsonl_stats js;
    clcdd_dataset_init(d);
    clcdd_status st = clcdd_dataset_load_jsonl(data, &cfg, d, &js);
    if (st != CLCDD_OK) {
        clcdd_dataset_free(d);
        return st;
    }
    memset(sum, 0, sizeof *sum);
    sum->lines = js.lines, sum->examples = js.examples, sum->truncated = js.truncated;
    sum->dropped = js.dropped, sum->tokens = js.tokens, sum->loss_tokens = js.loss_tokens;
    for (size_t i = 0; i < d->n; i++) {
        if (d->items[i].len > sum->longest) sum->longest = d->items[i].len;
        for (size_t t = 0; t < d->items[i].len; t++)
            if (d->items[i].ids[t] < 0 || (uint32_t)d->items[i].ids[t] >= m->hp.vocab_size) {
                st = clcdd_fail(CLCDD_ERR_FORMAT, "%s: example %zu has token id %d outside the "
                                "model's vocabulary (%u): the tokenizer does not match the model",
                                data, i + 1, (int)d->items[i].ids[t], m->hp.vocab_size);
                clcdd_dataset_free(d);
                return st;
            }
    }
    return CLCDD_OK;
}

static clcdd_status load_data(const loaded *src, const char *src_path, const char *data,
                              size_t max_len, int all_tokens, clcdd_dataset *d,
                              clcdd_data_summary *sum) {
    return clcdd_run_load_data(&src->model, &src->info, src_path, data, max_len, all_tokens, d, sum);
}

/* ---- files ------------------------------------------------------------------------------- */

/* The directory of an HF checkpoint path (a directory or its config.json); NULL for GGUF. */
static char *model_dir(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) return NULL;
    if (S_ISDIR(sb.st_mode)) return strdup(path);
    size_t n = strlen(path);
    if (n >= 11 && !strcmp(path + n - 11, "config.json")) {
        char *d = strdup(path);
        if (!d) return NULL;
        char *slash = strrchr(d, '/');
        if (slash) *slash = 0;
        else strcpy(d, ".");
        return d;
    }
    return NULL;
}

/* A GGUF base: its tokenizer.* metadata as out_dir/tokenizer.gguf (read back by the loader when
 * there is no tokenizer.json) and its chat template as out_dir/chat_template.jinja. */
static clcdd_status write_gguf_tokenizer(const char *base, const char *out_dir, int *copied) {
    clcdd_gguf *g = NULL;
    TRY(clcdd_gguf_open(base, &g));
    size_t n = strlen(out_dir) + 32, pairs = 0;
    char *dst = malloc(n);
    clcdd_status st = dst ? CLCDD_OK : clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tokenizer file name");
    static const char *const prefixes[] = {"tokenizer.ggml.", "tokenizer.chat_template"};
    size_t has_tok = 0;
    if (clcdd_gguf_find_key(g, "tokenizer.ggml.model", &has_tok) != CLCDD_OK) { /* nothing to carry */
        clcdd_clear_error();
        free(dst);
        clcdd_gguf_close(g);
        return st;
    }
    if (st == CLCDD_OK) {
        snprintf(dst, n, "%s/tokenizer.gguf", out_dir);
        st = clcdd_gguf_write_metadata(g, prefixes, 2, dst, &pairs);
        if (st == CLCDD_OK && pairs) (*copied)++;
    }
    clcdd_gguf_str tmpl;
    if (st == CLCDD_OK && clcdd_gguf_get_string(g, "tokenizer.chat_template", &tmpl) == CLCDD_OK) {
        snprintf(dst, n, "%s/chat_template.jinja", out_dir);
        st = clcdd_write_file_atomic(dst, tmpl.data, tmpl.len);
        if (st == CLCDD_OK) (*copied)++;
    } else {
        clcdd_clear_error();
    }
    if (st != CLCDD_OK) st = clcdd_fail_context(st, "carrying the tokenizer of %s", base);
    free(dst);
    clcdd_gguf_close(g);
    return st;
}

/* Copy tokenizer.json, tokenizer_config.json, generation_config.json and special_tokens_map.json
 * from the base's directory when present; from a GGUF base write tokenizer.gguf and
 * chat_template.jinja instead. *copied = number of files written. */
static clcdd_status copy_tokenizer_files(const char *base, const char *out_dir, int *copied) {
    static const char *files[] = {"tokenizer.json", "tokenizer_config.json",
                                  "generation_config.json", "special_tokens_map.json"};
    *copied = 0;
    if (clcdd_is_gguf_file(base)) return write_gguf_tokenizer(base, out_dir, copied);
    char *dir = model_dir(base);
    if (!dir) return CLCDD_OK;
    clcdd_status st = CLCDD_OK;
    for (size_t i = 0; i < sizeof files / sizeof files[0] && st == CLCDD_OK; i++) {
        size_t n = strlen(dir) + strlen(out_dir) + strlen(files[i]) + 2;
        char *src = malloc(n), *dst = malloc(n);
        if (!src || !dst) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "copying %s", files[i]);
        if (st == CLCDD_OK) {
            snprintf(src, n, "%s/%s", dir, files[i]);
            snprintf(dst, n, "%s/%s", out_dir, files[i]);
            struct stat sb;
            if (stat(src, &sb) == 0) {
                char *data = NULL;
                size_t len = 0;
                st = clcdd_read_file(src, &data, &len);
                if (st == CLCDD_OK) st = clcdd_write_file_atomic(dst, data, len);
                free(data);
                if (st == CLCDD_OK) (*copied)++;
            }
        }
        free(src), free(dst);
    }
    free(dir);
    return st;
}

/* ---- SFT --------------------------------------------------------------------------------- */

typedef struct reporter {
    clcdd_train_progress_fn fn;
    void *user;
    double t0, t_last;
    int64_t step_last;
    double tokens_per_step;
} reporter;

static void report(reporter *r, clcdd_train_progress *p) {
    double t = now_s();
    double dt = t - r->t_last;
    p->tokens_per_s = dt > 0 ? r->tokens_per_step * (double)(p->step - r->step_last) / dt : 0;
    p->elapsed_s = t - r->t0;
    r->t_last = t, r->step_last = p->step;
    if (r->fn) r->fn(p, r->user);
}

static int log_now(int64_t i, int64_t steps, int64_t every) {
    return (every > 0 && (i + 1) % every == 0) || i + 1 == steps || i == 0;
}

/* ---- several devices ---------------------------------------------------------------------- */

int clcdd_run_dp_on(const clcdd_dp_options *o) { return o->n_devices > 1 || o->comm != NULL; }

clcdd_status clcdd_run_dp_contexts(clcdd_ctx *ctx, const clcdd_dp_options *o, const char *fn,
                                   clcdd_ctx **out, size_t *n) {
    if (o->n_devices > CLCDD_DP_MAX_LOCAL)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: %zu devices; one process drives at most "
                          "%d (run more processes under MPI)", fn, o->n_devices, CLCDD_DP_MAX_LOCAL);
    if (o->n_devices > 1 && (!o->devices || o->devices[0] != ctx))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: ctx must be dp.devices[0]", fn);
    *n = o->n_devices > 1 ? o->n_devices : 1;
    for (size_t k = 0; k < *n; k++) {
        out[k] = o->n_devices > 1 ? o->devices[k] : ctx;
        if (!out[k]) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: device %zu is NULL", fn, k);
    }
    return CLCDD_OK;
}

int clcdd_run_dp_writer(const clcdd_dp_options *o) { return !o->comm || o->comm->rank == 0; }

/* ---- SFT --------------------------------------------------------------------------------- */

clcdd_status clcdd_sft_run(clcdd_ctx *ctx, const clcdd_plugin_registry *reg, const char *base,
                           const char *data, const char *out_dir, const clcdd_sft_options *o,
                           clcdd_train_progress_fn progress, void *user, clcdd_sft_result *res) {
    clcdd_sft_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    if (!ctx || !reg || !base || !data || !out_dir || !o || o->steps <= 0 || !o->micro_batch || !o->accum)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_sft_run: missing argument or zero steps/batch");
    if (o->save_every < 0 || (o->save_every > 0 && !o->state_path))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_sft_run: save_every needs a state_path");
    clcdd_ctx *cx[CLCDD_DP_MAX_LOCAL];
    size_t nr = 1;
    TRY(clcdd_run_dp_contexts(ctx, &o->dp, "clcdd_sft_run", cx, &nr));
    int par = clcdd_run_dp_on(&o->dp), writer = clcdd_run_dp_writer(&o->dp);
    double t0 = now_s();
    loaded m[CLCDD_DP_MAX_LOCAL];
    clcdd_trainer tr[CLCDD_DP_MAX_LOCAL];
    clcdd_trainer *trp[CLCDD_DP_MAX_LOCAL];
    size_t n_loaded = 0, n_tr = 0;
    clcdd_dataset d;
    clcdd_dataset_init(&d);
    clcdd_dp dp;
    memset(&dp, 0, sizeof dp);
    clcdd_status st = CLCDD_OK;
    for (size_t k = 0; k < nr && st == CLCDD_OK; k++) {
        st = load(cx[k], reg, base, "base", &m[k]);
        if (st == CLCDD_OK) n_loaded++;
    }
    if (st != CLCDD_OK) goto done;
    res->base_is_gguf = m[0].info.format == CLCDD_SOURCE_GGUF;
    if ((st = load_data(&m[0], base, data, o->max_len, o->all_tokens, &d, &res->data))) goto done;
    clcdd_train_config tc;
    clcdd_train_config_default(&tc, o->steps);
    tc.micro_batch = o->micro_batch;
    tc.accum = o->accum;
    tc.optim.lr = o->lr;
    tc.seed = o->seed;
    for (size_t k = 0; k < nr && st == CLCDD_OK; k++) {
        st = clcdd_trainer_create(cx[k], &m[k].model, &tc, res->data.longest, &tr[k]);
        if (st == CLCDD_OK) trp[k] = &tr[k], n_tr++;
        else st = clcdd_fail_context(st, "device %s", clcdd_ctx_device(cx[k])->name);
    }
    if (st != CLCDD_OK) goto done;
    /* the identity is taken from the freshly loaded base, before a state replaces weights */
    clcdd_state_ident sid;
    memset(&sid, 0, sizeof sid);
    if (o->save_every > 0 || o->resume_path) st = clcdd_state_ident_sft(ctx, &m[0].model, &d, o, &sid);
    for (size_t k = 0; k < nr && st == CLCDD_OK && o->resume_path; k++) {
        st = clcdd_state_load_sft(o->resume_path, &sid, &tr[k], &d, &res->final_loss);
        res->resumed_step = tr[0].step;
    }
    if (st == CLCDD_OK && par) {
        st = clcdd_dp_init(&dp, trp, nr, o->dp.comm, &d, o->dp.split);
        if (st == CLCDD_OK) {
            res->plan = dp.plan;
            if (o->dp.on_plan) o->dp.on_plan(&dp.plan, user);
        }
    }
    reporter r = {progress, user, t0, now_s(), tr[0].step,
                  (double)res->data.tokens / (double)res->data.examples * (double)(o->micro_batch * o->accum)};
    int64_t first = tr[0].step;
    for (int64_t i = tr[0].step; i < o->steps && st == CLCDD_OK; i++) {
        int lg = log_now(i, o->steps, o->log_every);
        float loss = 0;
        if (!par) {
            st = clcdd_trainer_step(&tr[0], &d, lg ? &loss : NULL);
        } else {
            st = clcdd_dp_sft_step(&dp, &d, lg ? &loss : NULL);
        }
        if (st == CLCDD_OK && lg) {
            clcdd_train_progress p = {0};
            p.step = i + 1, p.steps = o->steps, p.loss = loss, p.lr = clcdd_train_lr(&tc, i);
            res->final_loss = loss;
            report(&r, &p);
        }
        if (st == CLCDD_OK && writer && o->save_every > 0 && (i + 1) % o->save_every == 0)
            st = clcdd_state_save_sft(o->state_path, &sid, &tr[0], res->final_loss);
    }
    if (par) {
        clcdd_dp_finish_plan(&dp, tr[0].step - first);
        res->plan = dp.plan;
    }
    if (st == CLCDD_OK && writer) st = clcdd_model_save_hf(ctx, &m[0].model, out_dir, NULL, 0);
    if (st == CLCDD_OK && writer) st = copy_tokenizer_files(base, out_dir, &res->tokenizer_files_copied);
done:
    res->seconds = now_s() - t0;
    clcdd_dp_free(&dp);
    for (size_t k = 0; k < n_tr; k++) clcdd_trainer_destroy(&tr[k]);
    clcdd_dataset_free(&d);
    for (size_t k = 0; k < n_loaded; k++) loaded_free(&m[k]);
    return st;
}

/* ---- LCDD -------------------------------------------------------------------------------- */

static char *train_json(const clcdd_lcdd_options *o, const clcdd_lcdd_state *s, const char *data,
                        int64_t steps_done) {
    json_t *j = json_pack("{s:s, s:I, s:f, s:I, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:b, s:s,"
                          " s:b, s:b, s:{s:f, s:f, s:f, s:f, s:b, s:I, s:I, s:I, s:i}}",
                          "method", "lcdd", "steps", (json_int_t)o->steps, "rho", (double)o->rho,
                          "warmup_steps", (json_int_t)o->warmup_steps, "lr", (double)o->lr,
                          "theta_lr", (double)o->theta_lr, "lambda_init", (double)o->lambda_init,
                          "micro_batch", (json_int_t)o->micro_batch, "accum", (json_int_t)o->accum,
                          "max_len", (json_int_t)o->max_len, "seed", (json_int_t)o->seed,
                          "all_tokens", o->all_tokens, "data", data, "kl_loss", o->kl_loss,
                          "early_stop", o->early_stop, "final", "lambda",
                          (double)s->lambda, "ema", (double)s->ema_hat, "baseline",
                          (double)s->baseline, "budget", (double)s->budget, "budget_set",
                          s->baseline_set, "active", (json_int_t)s->active, "total",
                          (json_int_t)s->total, "steps_done", (json_int_t)steps_done,
                          "early_stopped", s->stop);
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return txt;
}

clcdd_status clcdd_lcdd_run(clcdd_ctx *ctx, const clcdd_plugin_registry *reg, const char *base,
                            const char *sft, const char *data, const char *out_path,
                            const clcdd_lcdd_options *o, clcdd_train_progress_fn progress,
                            void *user, clcdd_lcdd_result *res) {
    clcdd_lcdd_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    if (!ctx || !reg || !base || !sft || !data || !out_path || !o || o->steps <= 0 ||
        !o->micro_batch || !o->accum)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_lcdd_run: missing argument or zero steps/batch");
    if (o->save_every < 0 || (o->save_every > 0 && !o->state_path))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_lcdd_run: save_every needs a state_path");
    clcdd_ctx *cx[CLCDD_DP_MAX_LOCAL];
    size_t nr = 1;
    TRY(clcdd_run_dp_contexts(ctx, &o->dp, "clcdd_lcdd_run", cx, &nr));
    int par = clcdd_run_dp_on(&o->dp), writer = clcdd_run_dp_writer(&o->dp);
    double t0 = now_s();
    loaded b[CLCDD_DP_MAX_LOCAL], s[CLCDD_DP_MAX_LOCAL];
    size_t n_b = 0, n_s = 0, n_l = 0;
    clcdd_dataset d;
    clcdd_lcdd l[CLCDD_DP_MAX_LOCAL];
    clcdd_trainer *inner[CLCDD_DP_MAX_LOCAL];
    clcdd_lcdd *lp[CLCDD_DP_MAX_LOCAL];
    clcdd_dp dp;
    memset(&dp, 0, sizeof dp);
    clcdd_dataset_init(&d);
    clcdd_carrier *car = NULL;
    char *tj = NULL;
    char fp[40] = "";
    int64_t first = 0;
    clcdd_status st = CLCDD_OK;
    for (size_t k = 0; k < nr && st == CLCDD_OK; k++) {
        if ((st = load(cx[k], reg, base, "base", &b[k]))) break;
        n_b++;
        if ((st = load(cx[k], reg, sft, "SFT", &s[k]))) break;
        n_s++;
    }
    if (st) goto done;
    /* tokenize with the SFT model's tokenizer (the one the behaviour was trained with) */
    if ((st = load_data(s[0].info.tokenizer ? &s[0] : &b[0], s[0].info.tokenizer ? sft : base, data,
                        o->max_len, o->all_tokens, &d, &res->data)))
        goto done;
    if ((st = clcdd_model_fingerprint(ctx, &s[0].model, fp))) goto done;
    clcdd_lcdd_config cfg;
    clcdd_lcdd_config_default(&cfg, o->steps);
    cfg.train.micro_batch = o->micro_batch;
    cfg.train.accum = o->accum;
    cfg.train.optim.lr = o->lr;
    cfg.train.seed = o->seed;
    cfg.rho = o->rho;
    cfg.T_w = o->warmup_steps;
    cfg.theta_lr = o->theta_lr;
    cfg.lambda_init = o->lambda_init;
    cfg.seed = o->seed;
    cfg.kl_loss = o->kl_loss;
    cfg.early_stop = o->early_stop;
    for (size_t k = 0; k < nr && st == CLCDD_OK; k++) {
        st = clcdd_lcdd_create(cx[k], &b[k].model, &s[k].model, &cfg, res->data.longest, &l[k]);
        if (st == CLCDD_OK) inner[k] = &l[k].inner, lp[k] = &l[k], n_l++;
        else st = clcdd_fail_context(st, "device %s", clcdd_ctx_device(cx[k])->name);
    }
    if (st) goto done;
    clcdd_state_ident sid;
    memset(&sid, 0, sizeof sid);
    if ((o->save_every > 0 || o->resume_path) &&
        (st = clcdd_state_ident_lcdd(ctx, &b[0].model, fp, &d, o, &sid)))
        goto done;
    for (size_t k = 0; k < nr && o->resume_path; k++) {
        if ((st = clcdd_state_load_lcdd(o->resume_path, &sid, &l[k], &d))) goto done;
        res->resumed_step = l[0].step;
    }
    if (par) {
        if ((st = clcdd_dp_init(&dp, inner, nr, o->dp.comm, &d, o->dp.split))) goto done;
        res->plan = dp.plan;
        if (o->dp.on_plan) o->dp.on_plan(&dp.plan, user);
    }
    reporter r = {progress, user, t0, now_s(), l[0].step,
                  (double)res->data.tokens / (double)res->data.examples * (double)(o->micro_batch * o->accum)};
    clcdd_lcdd_state ls = {0};
    first = l[0].step;
    int64_t done_steps = l[0].step;
    for (int64_t i = l[0].step; i < o->steps && st == CLCDD_OK && !l[0].es.stop; i++) {
        int lg = log_now(i, o->steps, o->log_every);
        if (!par) {
            st = clcdd_lcdd_step(&l[0], &d, lg ? &ls : NULL);
        } else {
            st = clcdd_dp_lcdd_step(&dp, lp, &d, lg ? &ls : NULL);
        }
        if (st == CLCDD_OK) done_steps = i + 1;
        /* the step an early stop fires on is reported like the last step */
        if (st == CLCDD_OK && !lg && l[0].es.stop) st = clcdd_lcdd_read_state(&l[0], &ls), lg = 1;
        if (st == CLCDD_OK && lg) {
            clcdd_train_progress p = {0};
            p.step = i + 1, p.steps = o->steps, p.loss = ls.last_loss;
            p.lr = clcdd_train_lr(&cfg.train, i);
            p.ema = ls.ema_hat, p.budget = ls.budget, p.lambda = ls.lambda;
            p.budget_set = ls.baseline_set, p.active = ls.active, p.total = ls.total;
            report(&r, &p);
        }
        if (st == CLCDD_OK && writer && o->save_every > 0 && (i + 1) % o->save_every == 0)
            st = clcdd_state_save_lcdd(o->state_path, &sid, &l[0]);
    }
    if (par) {
        clcdd_dp_finish_plan(&dp, l[0].step - first);
        res->plan = dp.plan;
    }
    if (st) goto done;
    if ((st = clcdd_lcdd_read_state(&l[0], &ls))) goto done;
    res->active = ls.active, res->total = ls.total;
    res->sparsity = ls.total ? 1.0 - (double)ls.active / (double)ls.total : 0;
    res->final_loss = ls.last_loss, res->ema = ls.ema_hat, res->budget = ls.budget;
    res->lambda = ls.lambda;
    res->steps_done = done_steps;
    res->early_stopped = ls.stop;
    res->full_f32_bytes = b[0].info.n_params * 4;
    if (!writer) goto done;
    if (!(tj = train_json(o, &ls, data, done_steps))) {
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "train JSON");
        goto done;
    }
    if ((st = clcdd_lcdd_export(&l[0], fp, tj, &car))) goto done;
    if ((st = clcdd_carrier_write(out_path, car))) goto done;
    struct stat sb;
    if (stat(out_path, &sb) == 0) res->archive_bytes = (uint64_t)sb.st_size;
done:
    res->seconds = now_s() - t0;
    clcdd_carrier_free(car);
    free(tj);
    clcdd_dp_free(&dp);
    for (size_t k = 0; k < n_l; k++) clcdd_lcdd_destroy(&l[k]);
    clcdd_dataset_free(&d);
    for (size_t k = 0; k < n_s; k++) loaded_free(&s[k]);
    for (size_t k = 0; k < n_b; k++) loaded_free(&b[k]);
    return st;
}

/* ---- carrier export ---------------------------------------------------------------------- */

clcdd_status clcdd_carrier_export_hf(clcdd_ctx *ctx, const clcdd_plugin_registry *reg,
                                     const char *base, const char *carrier_path, const char *out_dir) {
    if (!ctx || !reg || !base || !carrier_path || !out_dir)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_carrier_export_hf: NULL argument");
    clcdd_carrier *c = NULL;
    TRY(clcdd_carrier_read(carrier_path, &c));
    loaded b;
    clcdd_status st = load(ctx, reg, base, "base", &b);
    if (st != CLCDD_OK) {
        clcdd_carrier_free(c);
        return st;
    }
    clcdd_model out;
    int copied = 0;
    st = clcdd_model_create(ctx, &b.model.hp, &out);
    if (st == CLCDD_OK) {
        st = clcdd_carrier_apply(ctx, &b.model, c, &out);
        if (st != CLCDD_OK) st = clcdd_fail_context(st, "applying %s to %s", carrier_path, base);
        if (st == CLCDD_OK) st = clcdd_model_save_hf(ctx, &out, out_dir, NULL, 0);
        if (st == CLCDD_OK) st = copy_tokenizer_files(base, out_dir, &copied);
        clcdd_model_destroy(&out);
    }
    loaded_free(&b);
    clcdd_carrier_free(c);
    return st;
}
