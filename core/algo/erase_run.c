/* include/clcdd/erase.h: the SFT-Eraser from files. Loads the base, builds the model to erase in
 * (base + carrier, or an SFT checkpoint) on every device of the run, turns the JSONL prompts into
 * a prompt pool (generation prompts rendered with the chat template; for the resp preset with the
 * base model's greedy answers, generated on the first device), derives the channel set from the
 * carrier's masks, runs clcdd_eraser_train_dp and stores P in the archive (rank 0). */
#include "clcdd/erase.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "algo/carrier.h"
#include "algo/eraser.h"
#include "algo/train_run.h"
#include "clcdd_internal.h"
#include "dataset_jsonl.h"
#include "nn/generate.h"
#include "nn/load.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void clcdd_erase_options_default(clcdd_erase_options *o) {
    memset(o, 0, sizeof *o);
    o->name = "default";
    o->preset = CLCDD_ERASE_PAPER;
    o->seed = 42;
    o->answer_max = 32;
}

static void pool_free(clcdd_prompt_pool *p) {
    for (size_t i = 0; i < p->n; i++) {
        if (p->prompt) free(p->prompt[i]);
        if (p->answer) free(p->answer[i]);
    }
    free(p->prompt), free(p->answer), free(p->prompt_len), free(p->answer_len);
    memset(p, 0, sizeof *p);
}

/* The generation prompt of each example: its tokens before the first loss token. */
static clcdd_status make_pool(const clcdd_model *m, const clcdd_load_info *info, const char *base,
                              const char *data, clcdd_prompt_pool *p) {
    memset(p, 0, sizeof *p);
    if (!info->tokenizer)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s has no tokenizer (%s): put a tokenizer.json in the "
                          "model directory to tokenize %s", base, info->tokenizer_note, data);
    clcdd_run_render_ctx rc = {info->plugin, &m->hp};
    clcdd_jsonl_config cfg = {info->tokenizer, clcdd_run_render, &rc, -1, 0, 0};
    if (m->hp.n_eos) cfg.eos_id = m->hp.eos_ids[0];
    clcdd_dataset d;
    clcdd_dataset_init(&d);
    clcdd_status st = clcdd_dataset_load_jsonl(data, &cfg, &d, NULL);
    if (st != CLCDD_OK) {
        clcdd_dataset_free(&d);
        return st;
    }
    if (d.n == 0) {
        clcdd_dataset_free(&d);
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: no prompts", data);
    }
    p->prompt = calloc(d.n, sizeof *p->prompt);
    p->prompt_len = calloc(d.n, sizeof *p->prompt_len);
    if (!p->prompt || !p->prompt_len) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "prompt pool");
    for (size_t i = 0; st == CLCDD_OK && i < d.n; i++) {
        const clcdd_example *e = &d.items[i];
        size_t len = 0;
        while (len < e->len && !e->loss[len]) len++;
        if (len == 0) len = 1;
        for (size_t t = 0; t < len; t++)
            if (e->ids[t] < 0 || (uint32_t)e->ids[t] >= m->hp.vocab_size)
                st = clcdd_fail(CLCDD_ERR_FORMAT, "%s: example %zu has token id %d outside the "
                                "model's vocabulary (%u)", data, i + 1, (int)e->ids[t], m->hp.vocab_size);
        if (st != CLCDD_OK) break;
        p->prompt[i] = malloc(len * sizeof(int32_t));
        if (!p->prompt[i]) {
            st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "prompt pool");
            break;
        }
        memcpy(p->prompt[i], e->ids, len * sizeof(int32_t));
        p->prompt_len[i] = len;
        p->n = i + 1;
    }
    clcdd_dataset_free(&d);
    if (st != CLCDD_OK) pool_free(p);
    return st;
}

typedef struct prog {
    clcdd_erase_progress_fn fn;
    void *user;
    double t0;
} prog;

/* The base model's greedy answers (with EOS when it stopped) for the response term, generated in
 * chunks of whole batches so that progress can be reported (step 0) between them. */
static clcdd_status add_answers(clcdd_ctx *ctx, const clcdd_model *base, size_t max_new,
                                clcdd_prompt_pool *p, const prog *g) {
    size_t n = p->n;
    p->answer = calloc(n, sizeof *p->answer);
    p->answer_len = calloc(n, sizeof *p->answer_len);
    clcdd_gen_request *req = calloc(n, sizeof *req);
    int32_t *outs = malloc(n * max_new * sizeof *outs);
    clcdd_status st = CLCDD_OK;
    if (!p->answer || !p->answer_len || !req || !outs) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "answers");
    for (size_t i = 0; st == CLCDD_OK && i < n; i++) {
        req[i].prompt = p->prompt[i];
        req[i].prompt_len = p->prompt_len[i];
        req[i].out = outs + i * max_new;
    }
    enum { BATCH = 16, CHUNK = 4 * BATCH };
    for (size_t i = 0; st == CLCDD_OK && i < n; i += CHUNK) {
        if (g->fn) {
            clcdd_erase_progress e;
            memset(&e, 0, sizeof e);
            e.elapsed_s = now_s() - g->t0, e.answers_done = i, e.answers_total = n;
            g->fn(&e, g->user);
        }
        st = clcdd_generate_greedy(ctx, base, NULL, req + i, n - i < CHUNK ? n - i : CHUNK, max_new, BATCH);
    }
    for (size_t i = 0; st == CLCDD_OK && i < n; i++) {
        size_t a = req[i].out_len;
        int32_t eos = base->hp.n_eos ? base->hp.eos_ids[0] : 0;
        p->answer[i] = malloc((a ? a : 1) * sizeof(int32_t));
        if (!p->answer[i]) {
            st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "answers");
            break;
        }
        if (a) memcpy(p->answer[i], req[i].out, a * sizeof(int32_t));
        else p->answer[i][0] = eos, a = 1;
        p->answer_len[i] = a;
    }
    free(req), free(outs);
    return st;
}

/* Write channels of the carrier: j < d with ffn_write or attn_write active, per layer. */
static clcdd_status carrier_channels(const clcdd_carrier *c, const clcdd_hparams *hp,
                                     clcdd_channel_set *out) {
    memset(out, 0, sizeof *out);
    size_t S = clcdd_mask_layer_size(hp), d = hp->hidden_size;
    if (c->n_mask != S * hp->n_layers)
        return clcdd_fail(CLCDD_ERR_FORMAT, "the carrier has %llu mask entries, the model needs %zu",
                          (unsigned long long)c->n_mask, S * hp->n_layers);
    out->n_layers = hp->n_layers;
    out->count = calloc(hp->n_layers, sizeof *out->count);
    out->idx = calloc(hp->n_layers, sizeof *out->idx);
    if (!out->count || !out->idx) {
        clcdd_channel_set_free(out);
        return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "channel set");
    }
    for (uint32_t l = 0; l < hp->n_layers; l++) {
        const uint8_t *fw = c->mask + l * S + clcdd_mask_group_offset(hp, CLCDD_MASK_FFN_WRITE);
        const uint8_t *aw = c->mask + l * S + clcdd_mask_group_offset(hp, CLCDD_MASK_ATTN_WRITE);
        out->idx[l] = malloc(d * sizeof(int32_t));
        if (!out->idx[l]) {
            clcdd_channel_set_free(out);
            return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "channel set");
        }
        for (size_t j = 0; j < d; j++)
            if (fw[j] || aw[j]) out->idx[l][out->count[l]++] = (int32_t)j;
    }
    return CLCDD_OK;
}

static void on_progress(const clcdd_eraser_progress *p, void *user) {
    prog *g = user;
    if (!g->fn) return;
    clcdd_erase_progress e = {(int64_t)p->step + 1, (int64_t)p->steps, p->loss, p->mse, p->kl,
                              p->resp, p->l2, p->best, now_s() - g->t0, 0, 0, p->act};
    g->fn(&e, g->user);
}

static const char *ch_name(clcdd_erase_channels c) {
    return c == CLCDD_ERASE_CH_RANDOM ? "random"
           : c == CLCDD_ERASE_CH_NONE ? "none"
           : c == CLCDD_ERASE_CH_OTHER ? "other"
                                      : "carrier";
}

clcdd_status clcdd_erase_run(clcdd_ctx *ctx, const clcdd_plugin_registry *reg, const char *base,
                             const char *carrier_path, const char *data,
                             const clcdd_erase_options *o, clcdd_erase_progress_fn progress,
                             void *user, clcdd_erase_result *res) {
    clcdd_erase_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    if (!ctx || !reg || !base || !carrier_path || !data || !o || !o->name || !o->name[0] ||
        strlen(o->name) >= sizeof ((clcdd_carrier_prompt *)0)->name || o->steps < 0 || o->rows < 0 ||
        o->batch < 0 || o->answer_max == 0 || (o->channels == CLCDD_ERASE_CH_OTHER) != !!o->channels_from ||
        (unsigned)o->channels > CLCDD_ERASE_CH_OTHER)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_erase_run: missing argument, bad name "
                          "(1..63 bytes), negative steps/rows/batch, or channels_from without "
                          "CLCDD_ERASE_CH_OTHER (or the reverse)");
    clcdd_ctx *cx[CLCDD_DP_MAX_LOCAL];
    size_t nr = 1;
    clcdd_status st = clcdd_run_dp_contexts(ctx, &o->dp, "clcdd_erase_run", cx, &nr);
    if (st) return st;
    int par = clcdd_run_dp_on(&o->dp), writer = clcdd_run_dp_writer(&o->dp);
    double t0 = now_s();
    clcdd_carrier *car = NULL, *other = NULL;
    /* one replica per device: the base and the model to erase in (b, m or sft) */
    clcdd_model b[CLCDD_DP_MAX_LOCAL], m[CLCDD_DP_MAX_LOCAL], sft[CLCDD_DP_MAX_LOCAL];
    const clcdd_model *bases[CLCDD_DP_MAX_LOCAL], *targets[CLCDD_DP_MAX_LOCAL];
    clcdd_load_info bi, si;
    size_t have_b = 0, have_m = 0, have_sft = 0;
    clcdd_prompt_pool pool;
    clcdd_channel_set chs, rnd;
    memset(&pool, 0, sizeof pool);
    memset(&chs, 0, sizeof chs);
    memset(&rnd, 0, sizeof rnd);
    memset(&bi, 0, sizeof bi);
    memset(&si, 0, sizeof si);
    float *P = NULL;
    char *sj = NULL, *mj = NULL;
    if ((st = clcdd_carrier_read(carrier_path, &car))) return st;
    if (o->channels_from) {
        if ((st = clcdd_carrier_read(o->channels_from, &other))) {
            clcdd_carrier_free(car);
            return clcdd_fail_context(st, "reading the carrier whose channels the eraser uses");
        }
        if (strcmp(other->base_fingerprint, car->base_fingerprint) != 0) {
            st = clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                            "%s was trained on another base model than %s (base fingerprints %.12s and "
                            "%.12s): its channels do not index this model's residual stream; use a carrier "
                            "of the same base", o->channels_from, carrier_path, other->base_fingerprint,
                            car->base_fingerprint);
            clcdd_carrier_free(other);
            clcdd_carrier_free(car);
            return st;
        }
    }
    for (size_t k = 0; k < nr; k++) {
        /* the tokenizer comes with replica 0's base */
        if ((st = clcdd_model_load(cx[k], base, reg, &b[k], k ? NULL : &bi))) {
            if (nr > 1) st = clcdd_fail_context(st, "on %s", clcdd_ctx_device(cx[k])->name);
            st = clcdd_fail_context(st, "loading the base model %s", base);
            goto done;
        }
        have_b++;
        bases[k] = &b[k];
        if (o->sft) {
            if ((st = clcdd_model_load(cx[k], o->sft, reg, &sft[k], k ? NULL : &si))) {
                if (nr > 1) st = clcdd_fail_context(st, "on %s", clcdd_ctx_device(cx[k])->name);
                st = clcdd_fail_context(st, "loading the SFT model %s", o->sft);
                goto done;
            }
            have_sft++;
            if (sft[k].hp.hidden_size != b[k].hp.hidden_size || sft[k].hp.vocab_size != b[k].hp.vocab_size ||
                sft[k].hp.n_layers != b[k].hp.n_layers) {
                st = clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s and %s have different dimensions", o->sft, base);
                goto done;
            }
            targets[k] = &sft[k];
        } else {
            if ((st = clcdd_model_create(cx[k], &b[k].hp, &m[k]))) goto done;
            have_m++;
            if ((st = clcdd_carrier_apply(cx[k], &b[k], car, &m[k]))) {
                st = clcdd_fail_context(st, "applying %s to %s", carrier_path, base);
                goto done;
            }
            targets[k] = &m[k];
        }
        /* Frozen for the whole run: the base answers the pool's prompts and gives the targets,
         * the target model is run forward and back to the soft prompt every step. */
        clcdd_model_pack_or_warn(cx[k], &b[k], 0, base);
        clcdd_model_pack_or_warn(cx[k], o->sft ? &sft[k] : &m[k], 1,
                                 o->sft ? o->sft : "the LCDD model");
    }
    if ((st = make_pool(&b[0], &bi, base, data, &pool))) goto done;
    res->prompts = pool.n;

    clcdd_eraser_config cfg;
    if (o->preset == CLCDD_ERASE_RESP) {
        clcdd_eraser_config_resp(&cfg);
        cfg.w_mse = 1.0f; /* response KL + activation matching (DEMO-WORLD.md's best with channels) */
    } else {
        clcdd_eraser_config_paper(&cfg);
    }
    if (o->steps) cfg.steps = (size_t)o->steps;
    if (o->rows) cfg.rows = (size_t)o->rows;
    if (o->lr > 0) cfg.lr = o->lr;
    if (o->batch) cfg.batch = (size_t)o->batch;
    cfg.seed = o->seed;
    cfg.w_act = o->w_act;
    if (cfg.rows > 4096 || cfg.batch > 1024) {
        st = clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "rows must be 1..4096 and batch 1..1024");
        goto done;
    }
    prog g = {progress, user, t0};
    if ((cfg.w_resp != 0.0f || cfg.w_act != 0.0f) && (st = add_answers(ctx, &b[0], o->answer_max, &pool, &g)))
        goto done;

    const clcdd_channel_set *use = NULL;
    if (o->channels != CLCDD_ERASE_CH_NONE) {
        if ((st = carrier_channels(other ? other : car, &b[0].hp, &chs))) {
            if (other) st = clcdd_fail_context(st, "the channels of %s", o->channels_from);
            goto done;
        }
        use = &chs;
        if (o->channels == CLCDD_ERASE_CH_RANDOM) {
            if ((st = clcdd_channel_set_random(&chs, b[0].hp.hidden_size, o->seed + 77, &rnd))) goto done;
            use = &rnd;
        }
    } else {
        cfg.w_mse = 0.0f;
    }
    res->channels = use ? clcdd_channel_set_total(use) : 0;
    if (!res->channels) cfg.w_mse = 0.0f;

    size_t d = b[0].hp.hidden_size;
    P = malloc(cfg.rows * d * sizeof *P);
    if (!P) {
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "soft prompt");
        goto done;
    }
    clcdd_eraser_progress fin;
    memset(&fin, 0, sizeof fin);
    clcdd_eraser_replicas rep;
    memset(&rep, 0, sizeof rep);
    rep.n = nr, rep.ctx = cx, rep.base = bases, rep.model = targets;
    rep.comm = o->dp.comm, rep.split = o->dp.split;
    rep.on_plan = o->dp.on_plan, rep.plan_user = user;
    st = clcdd_eraser_train_dp(&rep, use, &pool, &cfg, on_progress, &g, P, &fin, par ? &res->plan : NULL);
    if (st) goto done;
    res->rows = (uint32_t)cfg.rows, res->dim = (uint32_t)d;
    res->loss = fin.loss, res->mse = fin.mse, res->kl = fin.kl, res->resp = fin.resp;
    res->l2 = fin.l2, res->best = fin.best;

    json_t *js = json_pack("{s:s, s:s, s:s, s:I, s:I, s:f, s:I, s:I, s:f, s:{s:f, s:f, s:f, s:f, s:f},"
                           " s:b, s:s, s:I, s:I, s:s, s:s}",
                           "preset", o->preset == CLCDD_ERASE_RESP ? "resp" : "paper",
                           "model", o->sft ? "sft" : "lcdd", "channels", ch_name(o->channels),
                           "steps", (json_int_t)cfg.steps, "rows", (json_int_t)cfg.rows,
                           "lr", (double)cfg.lr, "batch", (json_int_t)cfg.batch,
                           "seed", (json_int_t)cfg.seed, "max_norm", (double)cfg.max_norm,
                           "weights", "mse", (double)cfg.w_mse, "kl", (double)cfg.w_kl,
                           "l2", (double)cfg.w_l2, "resp", (double)cfg.w_resp, "act", (double)cfg.w_act,
                           "cosine", cfg.cosine, "data", data, "prompts", (json_int_t)pool.n,
                           "n_channels", (json_int_t)res->channels, "sft", o->sft ? o->sft : "",
                           "channels_from", o->channels_from ? o->channels_from : "");
    json_t *jm = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "loss", (double)fin.loss,
                           "mse", (double)fin.mse, "kl", (double)fin.kl, "resp", (double)fin.resp,
                           "l2", (double)fin.l2, "best", (double)fin.best);
    sj = js ? json_dumps(js, JSON_COMPACT) : NULL;
    mj = jm ? json_dumps(jm, JSON_COMPACT) : NULL;
    json_decref(js);
    json_decref(jm);
    if (!sj || !mj) {
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "eraser settings JSON");
        goto done;
    }
    if ((st = clcdd_carrier_set_prompt(car, o->name, res->rows, res->dim, P, sj, mj))) goto done;
    if (writer) st = clcdd_carrier_write(carrier_path, car); /* rank 0 writes */
done:
    res->seconds = now_s() - t0;
    free(sj), free(mj), free(P);
    clcdd_channel_set_free(&chs);
    clcdd_channel_set_free(&rnd);
    pool_free(&pool);
    for (size_t k = 0; k < have_m; k++) clcdd_model_destroy(&m[k]);
    for (size_t k = 0; k < have_sft; k++) clcdd_model_destroy(&sft[k]);
    clcdd_load_info_free(&si);
    for (size_t k = 0; k < have_b; k++) clcdd_model_destroy(&b[k]);
    clcdd_load_info_free(&bi);
    clcdd_carrier_free(other);
    clcdd_carrier_free(car);
    return st;
}
