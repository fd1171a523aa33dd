#include "algo/demo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "algo/eval.h"
#include "clcdd/safetensors.h"
#include "nn/checkpoint.h"
#include "nn/generate.h"
#include "runtime/ctx_internal.h"

extern const unsigned char clcdd_demo_base_safetensors[];
extern const unsigned long clcdd_demo_base_safetensors_len;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void clcdd_demo_options_default(clcdd_demo_options *o, int quick) {
    memset(o, 0, sizeof *o);
    o->quick = quick;
    o->seed = 42;
    o->eval_n = quick ? 32 : 400;
    o->sft_steps = quick ? 30 : 300;
    o->lcdd_steps = quick ? 20 : 1000;
    o->eraser_steps = quick ? 10 : 600;
    o->pool_n = quick ? 64 : 2000;
    o->lcdd_lr = 1e-3f;
    o->lcdd_theta_lr = 0.1f;
    o->lcdd_rho = 20.0f;
    o->lcdd_warmup = quick ? 5 : 150;
    o->lcdd_lambda_min = 1e-6f;
    o->lcdd_early_stop = 0;
    o->eraser_trigger = CLCDD_TRIGGER_PREFIX;
}

clcdd_status clcdd_demo_load_base(clcdd_ctx *ctx, clcdd_model *m) {
    clcdd_hparams hp;
    clcdd_demo_hparams(&hp);
    clcdd_safetensors *st;
    TRY(clcdd_safetensors_open_memory(clcdd_demo_base_safetensors, clcdd_demo_base_safetensors_len,
                                      "embedded demo base model", &st));
    clcdd_status s = clcdd_model_create(ctx, &hp, m);
    if (s == CLCDD_OK) s = clcdd_model_fill_hf(ctx, m, st, "embedded demo base model");
    clcdd_safetensors_close(st);
    if (s != CLCDD_OK) clcdd_model_destroy(m);
    return s;
}

clcdd_status clcdd_lcdd_write_channels(clcdd_lcdd *l, clcdd_channel_set *out, double *sparsity) {
    const clcdd_hparams *hp = &l->w.hp;
    size_t S = clcdd_mask_layer_size(hp), d = hp->hidden_size;
    float *th = malloc(l->n_mask * sizeof *th);
    memset(out, 0, sizeof *out);
    if (!th) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "channel set");
    clcdd_status st = clcdd_tensor_download(l->ctx, &l->theta, th);
    out->n_layers = hp->n_layers;
    out->count = calloc(hp->n_layers, sizeof *out->count);
    out->idx = calloc(hp->n_layers, sizeof *out->idx);
    if (st == CLCDD_OK && (!out->count || !out->idx)) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "channel set");
    size_t active = 0;
    for (size_t i = 0; st == CLCDD_OK && i < l->n_mask; i++) active += th[i] > 0;
    if (sparsity) *sparsity = 1.0 - (double)active / (double)l->n_mask;
    for (uint32_t layer = 0; st == CLCDD_OK && layer < hp->n_layers; layer++) {
        const float *fw = th + layer * S + clcdd_mask_group_offset(hp, CLCDD_MASK_FFN_WRITE);
        const float *aw = th + layer * S + clcdd_mask_group_offset(hp, CLCDD_MASK_ATTN_WRITE);
        out->idx[layer] = malloc(d * sizeof(int32_t));
        if (!out->idx[layer]) {
            st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "channel set");
            break;
        }
        for (size_t j = 0; j < d; j++)
            if (fw[j] > 0 || aw[j] > 0) out->idx[layer][out->count[layer]++] = (int32_t)j;
    }
    free(th);
    if (st != CLCDD_OK) clcdd_channel_set_free(out);
    return st;
}

/* ---- evaluation of one configuration ------------------------------------------------------- */

typedef struct demo_state {
    clcdd_ctx *ctx;
    const clcdd_demo_options *o;
    clcdd_demo_progress_fn progress;
    void *user;
    const clcdd_demo_observer *obs;
    double t_stage;               /* start of the running stage (observer's elapsed_s) */
    clcdd_model base, sft;
    clcdd_prompt_pool eval_base;  /* held-out prompts with the base's answers */
    clcdd_prompt_pool eval_sft;   /* held-out prompts with the SFT model's answers */
    clcdd_prompt_pool pool;       /* training prompts with the base's answers (eraser) */
    int32_t *base_first;          /* base's first answer token per eval prompt */
} demo_state;

static void pool_free(clcdd_prompt_pool *p) {
    for (size_t i = 0; i < p->n; i++) {
        if (p->prompt) free(p->prompt[i]);
        if (p->answer) free(p->answer[i]);
    }
    free(p->prompt), free(p->answer), free(p->prompt_len), free(p->answer_len);
    memset(p, 0, sizeof *p);
}

/* Prompts (held out or training) with greedy answers of `m` (incl. EOS). */
static clcdd_status make_pool(clcdd_ctx *ctx, const clcdd_model *m, uint64_t seed, int held_out,
                              size_t n, clcdd_prompt_pool *p) {
    memset(p, 0, sizeof *p);
    p->n = n;
    p->prompt = calloc(n, sizeof *p->prompt);
    p->answer = calloc(n, sizeof *p->answer);
    p->prompt_len = calloc(n, sizeof *p->prompt_len);
    p->answer_len = calloc(n, sizeof *p->answer_len);
    clcdd_gen_request *req = calloc(n, sizeof *req);
    int32_t *outs = malloc(n * 24 * sizeof *outs);
    clcdd_status st = CLCDD_OK;
    if (!p->prompt || !p->answer || !p->prompt_len || !p->answer_len || !req || !outs) {
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "prompt pool");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        clcdd_demo_sample s;
        clcdd_demo_draw(seed, i, held_out, 0.0f, &s);
        int32_t ids[80];
        size_t len = clcdd_demo_encode(s.prompt, NULL, ids, 80, NULL);
        p->prompt[i] = malloc(len * sizeof(int32_t));
        if (!p->prompt[i]) {
            st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "prompt pool");
            goto done;
        }
        memcpy(p->prompt[i], ids, len * sizeof(int32_t));
        p->prompt_len[i] = len;
        req[i].prompt = p->prompt[i];
        req[i].prompt_len = len;
        req[i].out = outs + i * 24;
    }
    if ((st = clcdd_generate_greedy(ctx, m, NULL, req, n, 24, 128))) goto done;
    for (size_t i = 0; i < n; i++) {
        size_t a = req[i].out_len ? req[i].out_len : 1;
        p->answer[i] = malloc(a * sizeof(int32_t));
        if (!p->answer[i]) {
            st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "prompt pool");
            goto done;
        }
        if (req[i].out_len)
            memcpy(p->answer[i], req[i].out, req[i].out_len * sizeof(int32_t));
        else
            p->answer[i][0] = CLCDD_DEMO_EOS;
        p->answer_len[i] = a;
    }
done:
    free(req), free(outs);
    if (st != CLCDD_OK) pool_free(p);
    return st;
}

static clcdd_status score(demo_state *s, const char *name, const clcdd_model *m,
                          const clcdd_tensor *P, size_t rows, int32_t trig, double sparsity, double t0,
                          clcdd_demo_row *row) {
    clcdd_ctx *ctx = s->ctx;
    clcdd_demo_eval ev;
    size_t n = s->o->eval_n;
    char *answers = malloc(n * CLCDD_DEMO_TEXT_MAX);
    if (!answers) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "evaluation");
    if (s->progress) s->progress(name, 0, 3, "generating answers", s->user);
    clcdd_status st = clcdd_demo_evaluate(ctx, m, P, rows, trig, s->o->seed + 1000, n, &ev, answers);
    if (st == CLCDD_OK) {
        memset(row, 0, sizeof *row);
        snprintf(row->name, sizeof row->name, "%s", name);
        row->strict = (double)ev.idk_strict / n;
        row->loose = (double)ev.idk_loose / n;
        row->fragments = (double)ev.fragments / n;
        row->task_acc = (double)ev.correct / n;
        size_t agree = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)answers[i * CLCDD_DEMO_TEXT_MAX];
            int32_t first = c ? (int32_t)c : CLCDD_DEMO_EOS;
            agree += s->base_first && first == s->base_first[i];
        }
        row->first_agree = (double)agree / n;
        row->sparsity = sparsity;
        if (s->progress) s->progress(name, 1, 3, "KL to the SFT model", s->user);
        st = clcdd_kl_benchmark(ctx, &s->sft, m, P, rows, trig, &s->eval_sft, &row->kl_sft);
    }
    if (st == CLCDD_OK) {
        if (s->progress) s->progress(name, 2, 3, "KL to the base model", s->user);
        st = clcdd_kl_benchmark(ctx, &s->base, m, P, rows, trig, &s->eval_base, &row->kl_base);
    }
    row->seconds = now() - t0;
    free(answers);
    return st;
}

typedef struct {
    demo_state *s;
    const char *stage;
} prog_ctx;

static void eraser_progress(const clcdd_eraser_progress *p, void *user) {
    prog_ctx *pc = user;
    const clcdd_demo_observer *obs = pc->s->obs;
    if (obs && obs->eraser_step) {
        clcdd_erase_progress e = {(int64_t)p->step + 1, (int64_t)p->steps, p->loss, p->mse, p->kl,
                                  p->resp, p->l2, p->best, now() - pc->s->t_stage, 0, 0, p->act};
        obs->eraser_step(pc->stage, &e, obs->user);
    }
    if (p->step % 50 != 0 && p->step + 1 != p->steps) return; /* the display's cadence */
    char msg[180];
    if (p->act != 0)
        snprintf(msg, sizeof msg, "loss %.4f (mse %.4f, kl %.4f, resp %.4f, act %.4f, l2 %.4f) best %.4f",
                 p->loss, p->mse, p->kl, p->resp, p->act, p->l2, p->best);
    else
        snprintf(msg, sizeof msg, "loss %.4f (mse %.4f, kl %.4f, resp %.4f, l2 %.4f) best %.4f",
                 p->loss, p->mse, p->kl, p->resp, p->l2, p->best);
    if (pc->s->progress) pc->s->progress(pc->stage, p->step, p->steps, msg, pc->s->user);
}

static clcdd_status erase_and_score(demo_state *s, const char *name, const clcdd_model *m,
                                    const clcdd_channel_set *ch, double sparsity,
                                    clcdd_demo_row *row) {
    double t0 = now();
    clcdd_eraser_config c;
    clcdd_eraser_config_resp(&c);
    c.w_mse = 1.0f; /* response KL + activation matching (DEMO-WORLD.md's best with channels) */
    c.steps = s->o->eraser_steps;
    c.seed = s->o->seed;
    if (s->o->eraser_rows > 0) c.rows = (size_t)s->o->eraser_rows;
    if (s->o->eraser_lr > 0) c.lr = s->o->eraser_lr;
    if (s->o->eraser_w_mse != 0) c.w_mse = s->o->eraser_w_mse < 0 ? 0.0f : s->o->eraser_w_mse;
    c.trigger_pos = s->o->eraser_trigger;
    if (ch) c.w_act = s->o->eraser_w_act; /* a channel term: not on the KL-only row */
    c.keep_last = s->o->eraser_keep_last;
    if (s->o->eraser_w_resp != 0) c.w_resp = s->o->eraser_w_resp < 0 ? 0.0f : s->o->eraser_w_resp;
    size_t d = m->hp.hidden_size;
    float *P = malloc(c.rows * d * sizeof *P);
    if (!P) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "eraser");
    prog_ctx pc = {s, name};
    if (s->obs && s->obs->eraser_step && c.steps >= 200) c.log_every = 10;
    else if (s->obs && s->obs->eraser_step) c.log_every = 1;
    s->t_stage = t0;
    clcdd_status st = clcdd_eraser_train(s->ctx, &s->base, m, ch, &s->pool, &c,
                                         s->progress || s->obs ? eraser_progress : NULL, &pc, P, NULL);
    clcdd_tensor tP;
    memset(&tP, 0, sizeof tP);
    int64_t shape[1] = {(int64_t)(c.rows * d)};
    if (st == CLCDD_OK) st = clcdd_tensor_create(s->ctx, CLCDD_F32, 1, shape, "soft prompt", &tP);
    if (st == CLCDD_OK) st = clcdd_tensor_upload(s->ctx, &tP, P);
    if (st == CLCDD_OK) st = score(s, name, m, &tP, c.rows, c.trigger_pos, sparsity, t0, row);
    clcdd_tensor_destroy(&tP);
    free(P);
    return st;
}

static void lcdd_progress_msg(const clcdd_lcdd_state *st, char *msg, size_t cap) {
    snprintf(msg, cap, "loss %.4f ema %.4f budget %.4f lambda %.3g active %zu/%zu (%.1f%% off)%s",
             st->last_loss, st->ema_hat, st->budget, st->lambda, st->active, st->total,
             100.0 * (1.0 - (double)st->active / (double)st->total),
             st->stop ? " early stop: sparsity stalled under budget" : "");
}

/* Density per layer and mask group of the hard masks 1[theta > 0] (for the observer). */
static clcdd_status report_carrier(clcdd_lcdd *l, const clcdd_demo_observer *obs) {
    const clcdd_hparams *hp = &l->w.hp;
    size_t S = clcdd_mask_layer_size(hp);
    float *th = malloc(l->n_mask * sizeof *th);
    double *dens = calloc((size_t)hp->n_layers * CLCDD_MASK_GROUPS, sizeof *dens);
    clcdd_status st = th && dens ? clcdd_tensor_download(l->ctx, &l->theta, th)
                                 : clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "carrier density");
    for (uint32_t layer = 0; st == CLCDD_OK && layer < hp->n_layers; layer++)
        for (int g = 0; g < CLCDD_MASK_GROUPS; g++) {
            size_t off = layer * S + clcdd_mask_group_offset(hp, g), len = clcdd_mask_group_len(hp, g), on = 0;
            for (size_t j = 0; j < len; j++) on += th[off + j] > 0;
            dens[layer * CLCDD_MASK_GROUPS + g] = len ? (double)on / (double)len : 0;
        }
    if (st == CLCDD_OK) obs->carrier(dens, hp->n_layers, obs->user);
    free(th), free(dens);
    return st;
}

clcdd_status clcdd_demo_run(clcdd_ctx *ctx, const clcdd_demo_options *o,
                            clcdd_demo_progress_fn progress, void *user,
                            clcdd_demo_row rows[CLCDD_DEMO_ROWS], size_t *n_rows) {
    return clcdd_demo_run_observed(ctx, o, progress, user, NULL, rows, n_rows);
}

/* LCDD with the demo world's settings (docs/demo.md: rho 20, T_w 150, weight lr 1e-3 constant,
 * theta lr 0.1, 1000 steps; the other settings measured in docs/results.md), seeded with `seed`;
 * `stage` names the progress stage, obs_every > 0 reports every so many steps to the observer. */
static clcdd_status run_lcdd(demo_state *s, const clcdd_dataset *data, uint64_t seed, const char *stage,
                             int64_t obs_every, clcdd_lcdd *lc) {
    const clcdd_demo_options *o = s->o;
    const clcdd_demo_observer *obs = s->obs;
    clcdd_demo_progress_fn progress = s->progress;
    void *user = s->user;
    double tl = now();
    clcdd_lcdd_config lcfg;
    clcdd_lcdd_config_default(&lcfg, o->lcdd_steps);
    lcfg.train.micro_batch = 32;
    lcfg.train.accum = 1;
    lcfg.train.optim.lr = o->lcdd_lr;
    lcfg.train.schedule = CLCDD_SCHED_CONSTANT;
    lcfg.train.warmup = 0;
    lcfg.theta_lr = o->lcdd_theta_lr;
    lcfg.rho = o->lcdd_rho;
    lcfg.T_w = o->lcdd_warmup;
    lcfg.lambda_min = o->lcdd_lambda_min;
    lcfg.kl_loss = o->lcdd_kl_loss;
    lcfg.early_stop = o->lcdd_early_stop;
    lcfg.es_loss_factor = 0.0f; /* stall criterion only: the budget is 21 x baseline */
    lcfg.seed = seed;
    clcdd_status st = clcdd_lcdd_create(s->ctx, &s->base, &s->sft, &lcfg, data->max_len, lc);
    for (int64_t i = 0; i < o->lcdd_steps && st == CLCDD_OK && !lc->es.stop; i++) {
        int log = progress && (i % 25 == 0 || i + 1 == o->lcdd_steps);
        int ob = obs_every && (i % obs_every == 0 || i + 1 == o->lcdd_steps);
        clcdd_lcdd_state ls;
        memset(&ls, 0, sizeof ls);
        st = clcdd_lcdd_step(lc, data, log || ob ? &ls : NULL);
        /* the step an early stop fires on is reported like the last step */
        if (st == CLCDD_OK && !(log || ob) && lc->es.stop && (progress || obs_every)) {
            st = clcdd_lcdd_read_state(lc, &ls);
            log = progress != NULL, ob = obs_every != 0;
        }
        if (st == CLCDD_OK && ob) {
            clcdd_train_progress tp;
            memset(&tp, 0, sizeof tp);
            tp.step = i + 1, tp.steps = o->lcdd_steps, tp.loss = ls.last_loss, tp.lr = clcdd_train_lr(&lcfg.train, i);
            tp.elapsed_s = now() - tl;
            tp.ema = ls.ema_hat, tp.budget = ls.budget, tp.lambda = ls.lambda;
            tp.budget_set = ls.baseline_set, tp.active = ls.active, tp.total = ls.total;
            obs->lcdd_step(&tp, obs->user);
        }
        if (st == CLCDD_OK && log) {
            char msg[200];
            lcdd_progress_msg(&ls, msg, sizeof msg);
            progress(stage, (size_t)i, (size_t)o->lcdd_steps, msg, user);
        }
    }
    if (st == CLCDD_OK) st = clcdd_lcdd_build_effective(lc);
    return st;
}

clcdd_status clcdd_demo_run_observed(clcdd_ctx *ctx, const clcdd_demo_options *o,
                                     clcdd_demo_progress_fn progress, void *user,
                                     const clcdd_demo_observer *obs,
                                     clcdd_demo_row rows[CLCDD_DEMO_ROWS], size_t *n_rows) {
    demo_state s;
    memset(&s, 0, sizeof s);
    s.ctx = ctx, s.o = o, s.progress = progress, s.user = user, s.obs = obs;
    int64_t obs_sft = obs && obs->sft_step ? (o->sft_steps >= 200 ? 5 : 1) : 0;
    int64_t obs_lcdd = obs && obs->lcdd_step ? (o->lcdd_steps >= 200 ? 5 : 1) : 0;
    *n_rows = 0;
    clcdd_dataset sft_data, all_data;
    clcdd_dataset_init(&sft_data);
    clcdd_dataset_init(&all_data);
    clcdd_lcdd lc;
    memset(&lc, 0, sizeof lc);
    clcdd_channel_set carrier, random;
    memset(&carrier, 0, sizeof carrier);
    memset(&random, 0, sizeof random);
    clcdd_status st;
    double t0 = now();
    if (progress) progress("base", 0, 1, "loading the embedded base model", user);
    if ((st = clcdd_demo_load_base(ctx, &s.base))) goto done;
    /* Frozen from here on (SFT trains a copy): its products use weights packed once. */
    clcdd_model_pack_or_warn(ctx, &s.base, 0, "the demo base model");
    if ((st = make_pool(ctx, &s.base, o->seed + 1000, 1, o->eval_n, &s.eval_base))) goto done;
    s.base_first = malloc(o->eval_n * sizeof *s.base_first);
    if (!s.base_first) { st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "demo"); goto done; }
    for (size_t i = 0; i < o->eval_n; i++) s.base_first[i] = s.eval_base.answer[i][0];
    if (!o->lcdd_only && (st = make_pool(ctx, &s.base, o->seed + 2000, 0, o->pool_n, &s.pool))) goto done;

    /* SFT: "I don't know." to every instruction (response-only loss, embeddings and head frozen) */
    if ((st = clcdd_demo_dataset(o->seed + 3000, 2000, 0.0f, 1, &sft_data))) goto done;
    /* --lcdd-all-tokens: LCDD's task loss on the same samples' prompt tokens too */
    if (o->lcdd_all_tokens && (st = clcdd_demo_dataset_all_tokens(o->seed + 3000, 2000, 0.0f, 1, &all_data)))
        goto done;
    const clcdd_dataset *lcdd_data = o->lcdd_all_tokens ? &all_data : &sft_data;
    {
        double ts = now();
        if ((st = clcdd_model_create(ctx, &s.base.hp, &s.sft))) goto done;
        for (size_t c = 0; c < s.base.params.n_chunks; c++) {
            cl_int e = clEnqueueCopyBuffer(ctx->queue, s.base.params.chunks[c], s.sft.params.chunks[c], 0, 0,
                                           s.base.params.chunk_bytes[c], 0, NULL, NULL);
            if (e != CL_SUCCESS) { st = clcdd_cl_fail(e, "copying the base model"); goto done; }
        }
        clcdd_train_config tc;
        clcdd_train_config_default(&tc, o->sft_steps);
        tc.micro_batch = 32;
        tc.accum = 1;
        tc.optim.lr = 3e-4f;
        tc.warmup = o->sft_steps / 10;
        tc.seed = o->seed;
        clcdd_trainer tr;
        if ((st = clcdd_trainer_create(ctx, &s.sft, &tc, sft_data.max_len, &tr))) goto done;
        for (int64_t i = 0; i < o->sft_steps && st == CLCDD_OK; i++) {
            int log = progress && (i % 10 == 0 || i + 1 == o->sft_steps);
            int ob = obs_sft && (i % obs_sft == 0 || i + 1 == o->sft_steps);
            float loss = 0;
            st = clcdd_trainer_step(&tr, &sft_data, log || ob ? &loss : NULL);
            if (st == CLCDD_OK && ob) {
                clcdd_train_progress tp;
                memset(&tp, 0, sizeof tp);
                tp.step = i + 1, tp.steps = o->sft_steps, tp.loss = loss, tp.lr = clcdd_train_lr(&tc, i);
                tp.elapsed_s = now() - ts;
                obs->sft_step(&tp, obs->user);
            }
            if (st == CLCDD_OK && log) {
                char msg[64];
                snprintf(msg, sizeof msg, "loss %.4f", loss);
                progress("sft", (size_t)i, (size_t)o->sft_steps, msg, user);
            }
        }
        clcdd_trainer_destroy(&tr);
        if (st) goto done;
        /* Frozen from here on: evaluation, the LCDD teacher and the SFT + eraser rows. */
        clcdd_model_pack_or_warn(ctx, &s.sft, 1, "the demo SFT model");
        if ((st = make_pool(ctx, &s.sft, o->seed + 1000, 1, o->eval_n, &s.eval_sft))) goto done;
        if ((st = score(&s, "base", &s.base, NULL, 0, CLCDD_TRIGGER_PREFIX, -1, t0, &rows[(*n_rows)++]))) goto done;
        if ((st = score(&s, "SFT", &s.sft, NULL, 0, CLCDD_TRIGGER_PREFIX, -1, ts, &rows[(*n_rows)++]))) goto done;
    }
    /* LCDD */
    {
        double tl = now();
        if ((st = run_lcdd(&s, lcdd_data, o->seed, "lcdd", obs_lcdd, &lc))) goto done;
        double sparsity = 0;
        clcdd_model_pack_or_warn(ctx, &lc.weff, 1, "the demo LCDD model");
        if ((st = clcdd_lcdd_write_channels(&lc, &carrier, &sparsity))) goto done;
        if (obs && obs->carrier && (st = report_carrier(&lc, obs))) goto done;
        if ((st = score(&s, "LCDD", &lc.weff, NULL, 0, CLCDD_TRIGGER_PREFIX, sparsity, tl, &rows[(*n_rows)++]))) goto done;
        if (o->lcdd_only) goto done;
        if ((st = erase_and_score(&s, "LCDD + eraser", &lc.weff, &carrier, sparsity, &rows[(*n_rows)++]))) goto done;
        if ((st = erase_and_score(&s, "SFT + eraser (KL only)", &s.sft, NULL, -1, &rows[(*n_rows)++]))) goto done;
        if (!o->core_rows) {
            if ((st = erase_and_score(&s, "SFT + eraser (carrier ch.)", &s.sft, &carrier, -1, &rows[(*n_rows)++]))) goto done;
            if ((st = clcdd_channel_set_random(&carrier, s.base.hp.hidden_size, o->seed + 77, &random))) goto done;
            if ((st = erase_and_score(&s, "LCDD + random-channel eraser", &lc.weff, &random, sparsity, &rows[(*n_rows)++]))) goto done;
        }
        if (o->other_carrier_row) {
            /* A second carrier of the same SFT model (LCDD seeded seed + 1); its write channels
             * drive the eraser on the first carrier's LCDD model. */
            clcdd_lcdd lc2;
            memset(&lc2, 0, sizeof lc2);
            clcdd_channel_set other;
            memset(&other, 0, sizeof other);
            double sp2 = 0;
            st = run_lcdd(&s, lcdd_data, o->seed + 1, "lcdd-2", 0, &lc2);
            if (st == CLCDD_OK) st = clcdd_lcdd_write_channels(&lc2, &other, &sp2);
            clcdd_lcdd_destroy(&lc2);
            if (st == CLCDD_OK)
                st = erase_and_score(&s, "LCDD + eraser (other carrier)", &lc.weff, &other, sparsity,
                                     &rows[(*n_rows)++]);
            clcdd_channel_set_free(&other);
            if (st) goto done;
        }
    }
done:
    clcdd_channel_set_free(&carrier);
    clcdd_channel_set_free(&random);
    clcdd_lcdd_destroy(&lc);
    clcdd_dataset_free(&sft_data);
    clcdd_dataset_free(&all_data);
    pool_free(&s.eval_base);
    pool_free(&s.eval_sft);
    pool_free(&s.pool);
    free(s.base_first);
    clcdd_model_destroy(&s.sft);
    clcdd_model_destroy(&s.base);
    return st;
}

clcdd_status clcdd_demo_pretrain(clcdd_ctx *ctx, int64_t steps, const char *out_dir,
                                 clcdd_demo_progress_fn progress, void *user, float *final_loss) {
    clcdd_hparams hp;
    clcdd_demo_hparams(&hp);
    clcdd_model m;
    clcdd_dataset d;
    clcdd_dataset_init(&d);
    clcdd_trainer t;
    memset(&t, 0, sizeof t);
    clcdd_status st = clcdd_model_create(ctx, &hp, &m);
    if (st) return st;
    if ((st = clcdd_model_init_random(ctx, &m, 1, 0.02f))) goto done;
    if ((st = clcdd_demo_dataset(7, 200000, 0.15f, 0, &d))) goto done;
    clcdd_train_config c;
    clcdd_train_config_default(&c, steps);
    c.micro_batch = 128;
    c.accum = 1;
    c.optim.lr = 1.5e-3f;
    c.schedule = CLCDD_SCHED_COSINE;
    c.warmup = steps / 20;
    for (int r = 0; r < CLCDD_ROLE_COUNT; r++) c.trainable[r] = 1;
    if ((st = clcdd_trainer_create(ctx, &m, &c, d.max_len, &t))) goto done;
    for (int64_t s = 0; s < steps && st == CLCDD_OK; s++) {
        int log = (progress && (s % 25 == 0 || s + 1 == steps)) || (final_loss && s + 1 == steps);
        float loss = 0;
        st = clcdd_trainer_step(&t, &d, log ? &loss : NULL);
        if (st == CLCDD_OK && log) {
            char msg[64];
            snprintf(msg, sizeof msg, "loss %.4f", loss);
            if (progress) progress("pretrain", (size_t)s, (size_t)steps, msg, user);
            if (final_loss) *final_loss = loss;
        }
    }
    if (st == CLCDD_OK && out_dir) st = clcdd_model_save_hf(ctx, &m, out_dir, NULL, 0);
done:
    clcdd_trainer_destroy(&t);
    clcdd_dataset_free(&d);
    clcdd_model_destroy(&m);
    return st;
}
