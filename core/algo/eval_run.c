/* include/clcdd/eval.h: evaluation from files. Loads MODEL (and applies the carrier), reads the
 * prompt, multiple-choice and text files (loaders/eval_data.c), generates greedy
 * answers with and without the eraser prompt (the same settings for both), scores them
 * (eval_text.c), computes perplexity and choice log-likelihoods by teacher forcing one sequence at
 * a time, and runs the KL benchmark (eval.c) when an SFT model is given.
 * Dimension legend: T_p soft-prompt rows, n sequence length, V vocabulary. */
#include "clcdd/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "algo/carrier.h"
#include "algo/eval.h"
#include "algo/train_run.h"
#include "clcdd_internal.h"
#include "eval_data.h"
#include "nn/decoder.h"
#include "nn/load.h"
#include "nn/sample.h"
#include "runtime/cl_check.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void clcdd_eval_options_default(clcdd_eval_options *o) {
    memset(o, 0, sizeof *o);
    o->max_new = 64;
    o->kl_max_new = 128;
    o->max_len = 512;
}

void clcdd_eval_result_free(clcdd_eval_result *r) {
    if (!r) return;
    clcdd_eval_strs_free(r->answers_plain, r->n_answers);
    clcdd_eval_strs_free(r->answers_erased, r->n_answers);
    clcdd_eval_strs_free(r->prompts, r->n_answers);
    r->answers_plain = r->answers_erased = r->prompts = NULL;
    r->n_answers = 0;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ---- teacher-forced log-likelihoods -------------------------------------------------------- */

typedef struct scorer {
    clcdd_ctx *ctx;
    const clcdd_model *m;
    const clcdd_tensor *soft;  /* (T_p, d) or NULL */
    size_t rows;               /* T_p */
    clcdd_acts A;
    size_t Tcap;
    int32_t *full;
    float *lg;
    size_t lg_cap;             /* floats */
} scorer;

static void scorer_free(scorer *s) {
    if (s->Tcap) clcdd_acts_destroy(&s->A);
    free(s->full), free(s->lg);
    s->Tcap = 0, s->full = NULL, s->lg = NULL, s->lg_cap = 0;
}

/* Sum and count of log p(ids[t] | soft rows, ids[<t]) for t = first .. n-1 (first >= 1). */
static clcdd_status seq_logprob(scorer *s, const int32_t *ids, size_t n, size_t first, double *sum) {
    *sum = 0;
    if (first < 1 || first >= n) return CLCDD_OK;
    size_t T = s->rows + n, V = s->m->hp.vocab_size, need = (n - first) * V;
    if (T > s->Tcap) {
        if (s->Tcap) clcdd_acts_destroy(&s->A);
        s->Tcap = 0;
        free(s->full);
        s->full = malloc(T * sizeof *s->full);
        if (!s->full) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "scoring buffers");
        TRY(clcdd_acts_create(s->ctx, &s->m->hp, 1, T, 0, &s->A));
        s->Tcap = T;
    }
    if (need > s->lg_cap) {
        free(s->lg);
        s->lg = malloc(need * sizeof *s->lg);
        s->lg_cap = s->lg ? need : 0;
        if (!s->lg) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "scoring buffers (%zu logits)", need);
    }
    for (size_t k = 0; k < s->rows; k++) s->full[k] = -1 - (int32_t)k;
    memcpy(s->full + s->rows, ids, n * sizeof *ids);
    int32_t len = (int32_t)T;
    clcdd_batch bt;
    TRY(clcdd_batch_create(s->ctx, 1, T, s->full, &len, 0, &bt));
    clcdd_status st = clcdd_decoder_forward(s->ctx, s->m, &bt, s->soft, &s->A);
    clcdd_batch_destroy(&bt);
    if (st != CLCDD_OK) return st;
    /* logits row r predicts token r + 1: rows T_p + first - 1 .. T_p + n - 2 */
    clcdd_tensor lg = clcdd_act(&s->A, s->A.logits), v;
    int64_t shape[1] = {(int64_t)need};
    TRY(clcdd_tensor_view(&lg, (int64_t)((s->rows + first - 1) * V), 1, shape, &v));
    TRY(clcdd_tensor_download(s->ctx, &v, s->lg));
    double total = 0;
    for (size_t t = first; t < n; t++) {
        const float *row = s->lg + (t - first) * V;
        double mx = row[0];
        for (size_t j = 1; j < V; j++) mx = row[j] > mx ? row[j] : mx;
        double z = 0;
        for (size_t j = 0; j < V; j++) z += exp((double)row[j] - mx);
        total += (double)row[ids[t]] - mx - log(z);
    }
    if (!isfinite(total)) return clcdd_fail(CLCDD_ERR_CHECK_FAILED, "a log-likelihood is not finite (NaN/Inf logits)");
    *sum = total;
    return CLCDD_OK;
}

/* ---- the run ------------------------------------------------------------------------------- */

typedef struct run_ctx {
    clcdd_ctx *ctx;
    const clcdd_eval_options *o;
    clcdd_eval_progress_fn progress;
    void *user;
    const clcdd_tokenizer *tok;
} run_ctx;

static int is_eos(const clcdd_hparams *hp, int32_t id) {
    for (uint32_t i = 0; i < hp->n_eos; i++)
        if (hp->eos_ids[i] == id) return 1;
    return 0;
}

/* Greedy answer of one prompt (ids incl. EOS when it stopped) with a KV cache, as `clcdd generate`
 * decodes: the soft rows and the prompt are prefilled in one forward, then one cached forward per
 * new token; argmax on the host (lowest id on ties). kv and A hold at least T_p + n + max_new
 * positions; clcdd_eval_seq has room for as many ids, row and cand for V entries. */
static clcdd_status greedy_one(clcdd_ctx *ctx, const clcdd_model *m, const clcdd_tensor *soft,
                               size_t rows, const clcdd_eval_seq *prompt, size_t max_new, clcdd_kv_cache *kv,
                               clcdd_acts *A, int32_t *seqbuf, float *row, clcdd_sample_cand *cand,
                               int32_t *out, size_t *out_len) {
    size_t V = m->hp.vocab_size, len = rows + prompt->n, start = 0;
    clcdd_sampling g = clcdd_sampling_greedy();
    uint64_t rng = g.seed;
    *out_len = 0;
    kv->len = 0;
    for (size_t k = 0; k < rows; k++) seqbuf[k] = -1 - (int32_t)k;
    memcpy(seqbuf + rows, prompt->ids, prompt->n * sizeof *seqbuf);
    while (*out_len < max_new) {
        size_t step = len - start;
        clcdd_batch bt;
        TRY(clcdd_batch_create_cached(ctx, 1, step, seqbuf + start, start, &bt));
        clcdd_status st = clcdd_decoder_forward_cached(ctx, m, &bt, soft, kv, A);
        clcdd_batch_destroy(&bt);
        if (st != CLCDD_OK) return st;
        clcdd_tensor lg = clcdd_act(A, A->logits), last;
        int64_t shape[1] = {(int64_t)V};
        TRY(clcdd_tensor_view(&lg, (int64_t)((step - 1) * V), 1, shape, &last));
        TRY(clcdd_tensor_download(ctx, &last, row));
        start = len;
        int32_t best = clcdd_sample_token(row, V, seqbuf + rows, len - rows, &g, &rng, cand);
        seqbuf[len++] = best;
        out[(*out_len)++] = best;
        if (is_eos(&m->hp, best)) break;
    }
    return CLCDD_OK;
}

/* Greedy answers for every prompt, soft rows (T_p) prepended. */
static clcdd_status generate_all(run_ctx *r, const clcdd_model *m, const clcdd_tensor *soft,
                                 size_t rows, const clcdd_eval_seqs *prompts, size_t max_new,
                                 const char *stage, clcdd_eval_seqs *out) {
    size_t n = prompts->n, maxp = 0, V = m->hp.vocab_size;
    for (size_t i = 0; i < n; i++) maxp = prompts->s[i].n > maxp ? prompts->s[i].n : maxp;
    size_t Tmax = rows + maxp + max_new;
    int32_t *seqbuf = malloc((Tmax + 1) * sizeof *seqbuf), *gen = malloc(max_new * sizeof *gen);
    float *row = malloc(V * sizeof *row);
    clcdd_sample_cand *cand = malloc(V * sizeof *cand);
    clcdd_kv_cache kv;
    clcdd_acts A;
    int have_kv = 0, have_a = 0;
    clcdd_status st = CLCDD_OK;
    if (!seqbuf || !gen || !row || !cand) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "generation buffers");
    if (st == CLCDD_OK && (st = clcdd_kv_cache_create(r->ctx, &m->hp, 1, Tmax, &kv)) == CLCDD_OK) have_kv = 1;
    if (st == CLCDD_OK && (st = clcdd_acts_create(r->ctx, &m->hp, 1, Tmax, 0, &A)) == CLCDD_OK) have_a = 1;
    for (size_t i = 0; st == CLCDD_OK && i < n; i++) {
        if (r->progress && (i % 4 == 0)) r->progress(stage, i, n, r->user);
        size_t got = 0;
        st = greedy_one(r->ctx, m, soft, rows, &prompts->s[i], max_new, &kv, &A, seqbuf, row, cand, gen, &got);
        if (st == CLCDD_OK) st = clcdd_eval_seqs_push(out, gen, got);
    }
    if (st == CLCDD_OK && r->progress) r->progress(stage, n, n, r->user);
    if (have_a) clcdd_acts_destroy(&A);
    if (have_kv) clcdd_kv_cache_destroy(&kv);
    free(seqbuf), free(gen), free(row), free(cand);
    return st;
}

static clcdd_status score_answers(run_ctx *r, const clcdd_hparams *hp, const clcdd_eval_prompts *pin,
                                  clcdd_eval_seqs *ans, char **texts, clcdd_eval_metrics *mt) {
    size_t n = ans->n, refs = 0, correct = 0, tokens = 0;
    size_t strict = 0, loose = 0, refusal = 0, archaic = 0, frag = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = ans->s[i].n;
        tokens += len;
        while (len && is_eos(hp, ans->s[i].ids[len - 1])) len--;
        /* ids the tokenizer does not have (rows a model pads its vocabulary with) decode to
         * nothing; filter them in place (the ids are not used again) */
        size_t kept = 0, tv = clcdd_tokenizer_vocab_size(r->tok);
        for (size_t j = 0; j < len; j++)
            if (ans->s[i].ids[j] >= 0 && (size_t)ans->s[i].ids[j] < tv) ans->s[i].ids[kept++] = ans->s[i].ids[j];
        char *text = NULL;
        size_t tl = 0;
        clcdd_status st = kept ? clcdd_tokenizer_decode(r->tok, ans->s[i].ids, kept, CLCDD_DECODE_SKIP_SPECIAL, &text, &tl)
                               : CLCDD_OK;
        if (st != CLCDD_OK) return clcdd_fail_context(st, "decoding answer %zu", i + 1);
        texts[i] = dup_str(text ? text : "");
        if (text) clcdd_tokenizer_free_text(text);
        if (!texts[i]) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "answers");
        clcdd_eval_text_flags f;
        clcdd_eval_score_text(texts[i], pin->reference[i], &f);
        strict += (size_t)f.idk_strict, loose += (size_t)f.idk_loose, refusal += (size_t)f.refusal;
        archaic += (size_t)f.archaic, frag += (size_t)f.fragment;
        if (f.correct >= 0) refs++, correct += (size_t)f.correct;
    }
    double dn = n ? (double)n : 1;
    mt->prompts = n;
    mt->idk_strict = (double)strict / dn, mt->idk_loose = (double)loose / dn;
    mt->refusal = (double)refusal / dn, mt->archaic = (double)archaic / dn;
    mt->fragments = (double)frag / dn, mt->mean_new_tokens = (double)tokens / dn;
    mt->references = refs;
    mt->task_acc = refs ? (double)correct / (double)refs : -1;
    return CLCDD_OK;
}

static clcdd_status perplexity(run_ctx *r, scorer *s, const clcdd_eval_seqs *texts, const char *stage,
                               clcdd_eval_metrics *mt) {
    double nll = 0;
    size_t tokens = 0;
    for (size_t i = 0; i < texts->n; i++) {
        if (r->progress && i % 8 == 0) r->progress(stage, i, texts->n, r->user);
        double sum = 0;
        TRY(seq_logprob(s, texts->s[i].ids, texts->s[i].n, 1, &sum));
        nll -= sum;
        tokens += texts->s[i].n - 1;
    }
    mt->ppl_texts = texts->n, mt->ppl_tokens = tokens;
    mt->nll = tokens ? nll / (double)tokens : -1;
    mt->perplexity = tokens ? exp(mt->nll) : -1;
    return CLCDD_OK;
}

static clcdd_status multiple_choice(run_ctx *r, scorer *s, const clcdd_eval_mc *mc, const char *stage,
                                    clcdd_eval_metrics *mt) {
    size_t right = 0, right_norm = 0;
    int32_t *buf = NULL;
    size_t cap = 0;
    clcdd_status st = CLCDD_OK;
    for (size_t i = 0; st == CLCDD_OK && i < mc->n; i++) {
        if (r->progress && i % 8 == 0) r->progress(stage, i, mc->n, r->user);
        const clcdd_eval_mc_item *it = &mc->items[i];
        double best = -INFINITY, best_norm = -INFINITY;
        size_t arg = 0, arg_norm = 0;
        for (size_t c = 0; st == CLCDD_OK && c < it->choices.n; c++) {
            size_t n = it->prompt.n + it->choices.s[c].n;
            if (n > cap) {
                free(buf);
                buf = malloc(n * sizeof *buf);
                cap = buf ? n : 0;
                if (!buf) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "multiple choice");
            }
            if (st != CLCDD_OK) break;
            memcpy(buf, it->prompt.ids, it->prompt.n * sizeof *buf);
            memcpy(buf + it->prompt.n, it->choices.s[c].ids, it->choices.s[c].n * sizeof *buf);
            double sum = 0;
            st = seq_logprob(s, buf, n, it->prompt.n, &sum);
            double norm = sum / (double)it->choices.s[c].n;
            /* ties go to the first choice */
            if (sum > best) best = sum, arg = c;
            if (norm > best_norm) best_norm = norm, arg_norm = c;
        }
        right += arg == it->answer;
        right_norm += arg_norm == it->answer;
    }
    free(buf);
    mt->mc_items = mc->n;
    mt->mc_acc = mc->n ? (double)right / (double)mc->n : -1;
    mt->mc_acc_norm = mc->n ? (double)right_norm / (double)mc->n : -1;
    return st;
}

static void metrics_unset(clcdd_eval_metrics *m) {
    memset(m, 0, sizeof *m);
    m->idk_strict = m->idk_loose = m->refusal = m->archaic = m->fragments = -1;
    m->mean_new_tokens = m->task_acc = m->nll = m->perplexity = m->mc_acc = m->mc_acc_norm = -1;
}


/* The KL benchmark of ALGORITHMS.md §5 on the data prompts: the SFT model's greedy references. */
static clcdd_status kl_bench(run_ctx *r, clcdd_model *base, const clcdd_model *lcdd,
                             const clcdd_tensor *P, size_t rows, const char *sft_path,
                             const clcdd_model *sft_loaded, const clcdd_plugin_registry *reg,
                             const clcdd_eval_seqs *prompts, clcdd_eval_kl *kl) {
    clcdd_model own;
    const clcdd_model *sftm = sft_loaded;
    clcdd_status st = CLCDD_OK;
    if (!sftm) {
        if ((st = clcdd_model_load(r->ctx, sft_path, reg, &own, NULL)))
            return clcdd_fail_context(st, "loading the SFT model %s", sft_path);
        sftm = &own;
    }
    clcdd_eval_seqs refs = {0};
    clcdd_prompt_pool pool;
    memset(&pool, 0, sizeof pool);
    if (sftm->hp.hidden_size != base->hp.hidden_size || sftm->hp.vocab_size != base->hp.vocab_size ||
        sftm->hp.n_layers != base->hp.n_layers)
        st = clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s has other dimensions than the base model", sft_path);
    if (st == CLCDD_OK) st = generate_all(r, sftm, NULL, 0, prompts, r->o->kl_max_new, "KL benchmark: SFT references", &refs);
    size_t n = prompts->n;
    pool.n = n;
    pool.prompt = calloc(n, sizeof *pool.prompt);
    pool.prompt_len = calloc(n, sizeof *pool.prompt_len);
    pool.answer = calloc(n, sizeof *pool.answer);
    pool.answer_len = calloc(n, sizeof *pool.answer_len);
    int32_t eos = sftm->hp.n_eos ? sftm->hp.eos_ids[0] : 0;
    if (st == CLCDD_OK && (!pool.prompt || !pool.prompt_len || !pool.answer || !pool.answer_len))
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "KL benchmark");
    for (size_t i = 0; st == CLCDD_OK && i < n; i++) {
        pool.prompt[i] = prompts->s[i].ids;
        pool.prompt_len[i] = prompts->s[i].n;
        pool.answer[i] = refs.s[i].n ? refs.s[i].ids : &eos;
        pool.answer_len[i] = refs.s[i].n ? refs.s[i].n : 1;
    }
    if (st == CLCDD_OK && r->progress) r->progress("KL benchmark: teacher forcing", 0, 3, r->user);
    if (st == CLCDD_OK) st = clcdd_kl_benchmark(r->ctx, sftm, lcdd, NULL, 0, CLCDD_TRIGGER_PREFIX, &pool, &kl->sft_lcdd);
    if (st == CLCDD_OK && r->progress) r->progress("KL benchmark: teacher forcing", 1, 3, r->user);
    if (st == CLCDD_OK) st = clcdd_kl_benchmark(r->ctx, sftm, lcdd, P, rows, CLCDD_TRIGGER_PREFIX, &pool, &kl->sft_lcdd_p);
    if (st == CLCDD_OK && r->progress) r->progress("KL benchmark: teacher forcing", 2, 3, r->user);
    if (st == CLCDD_OK) st = clcdd_kl_benchmark(r->ctx, base, lcdd, P, rows, CLCDD_TRIGGER_PREFIX, &pool, &kl->base_lcdd_p);
    if (st == CLCDD_OK) {
        if (r->progress) r->progress("KL benchmark: teacher forcing", 3, 3, r->user);
        kl->delta = kl->sft_lcdd_p - kl->sft_lcdd;
        kl->prompts = n;
        kl->computed = 1;
    }
    free(pool.prompt), free(pool.prompt_len), free(pool.answer), free(pool.answer_len);
    clcdd_eval_seqs_free(&refs);
    if (!sft_loaded) clcdd_model_destroy(&own);
    return st;
}

clcdd_status clcdd_eval_run(clcdd_ctx *ctx, const clcdd_plugin_registry *reg, const char *model,
                            const clcdd_eval_options *o, clcdd_eval_progress_fn progress, void *user,
                            clcdd_eval_result *res) {
    if (!res) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_eval_run: NULL result");
    memset(res, 0, sizeof *res);
    metrics_unset(&res->plain);
    metrics_unset(&res->with_prompt);
    if (!ctx || !reg || !model || !o)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "clcdd_eval_run: NULL argument");
    if (o->erase && !o->carrier)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "an eraser prompt needs the carrier archive that holds it");
    if (o->target_sft && (!o->sft || !o->carrier))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "evaluating the SFT model with an eraser prompt needs "
                          "the SFT model and the carrier archive that holds the prompt (--sft, --carrier)");
    if (o->sft && !o->target_sft && (!o->erase || !o->data))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "the KL benchmark needs the carrier, an eraser prompt "
                          "and the prompt data (--carrier, --erase, --data)");
    if (!o->data && !o->mc && !o->text)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "nothing to evaluate: give prompt data, multiple "
                          "choice items or held-out text");
    if (o->max_new == 0 || o->max_new > 100000 || o->max_len < 2 || (o->sft && o->kl_max_new == 0))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "max_new must be 1..100000 and max_len >= 2");
    double t0 = now_s();
    clcdd_carrier *car = NULL;
    clcdd_model b, m;
    clcdd_load_info bi;
    memset(&bi, 0, sizeof bi);
    int have_b = 0, have_m = 0;
    clcdd_tensor P;
    memset(&P, 0, sizeof P);
    size_t rows = 0;
    clcdd_eval_prompts pin;
    memset(&pin, 0, sizeof pin);
    clcdd_eval_mc mc;
    memset(&mc, 0, sizeof mc);
    clcdd_eval_seqs txt;
    memset(&txt, 0, sizeof txt);
    clcdd_eval_seqs ans_plain = {0}, ans_erased = {0};
    scorer sc;
    memset(&sc, 0, sizeof sc);
    clcdd_status st = CLCDD_OK;
    if (o->carrier && (st = clcdd_carrier_read(o->carrier, &car))) goto done;
    long pi = -1;
    if (o->erase && (pi = clcdd_carrier_find_prompt(car, o->erase)) < 0) {
        char names[512] = "";
        size_t k = 0;
        for (uint32_t i = 0; i < car->n_prompts && k + 70 < sizeof names; i++)
            k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", i ? ", " : "", car->prompts[i].name);
        st = clcdd_fail(CLCDD_ERR_NOT_FOUND, "%s has no eraser prompt '%s'; available: %s", o->carrier, o->erase,
                        car->n_prompts ? names : "none (train one with `clcdd erase`)");
        goto done;
    }
    if ((st = clcdd_model_load(ctx, model, reg, &b, &bi))) {
        st = clcdd_fail_context(st, "loading %s", model);
        goto done;
    }
    have_b = 1;
    if (!bi.tokenizer) {
        st = clcdd_fail(CLCDD_ERR_FORMAT, "%s has no tokenizer (%s): put a tokenizer.json in the model "
                        "directory", model, bi.tokenizer_note);
        goto done;
    }
    const clcdd_model *target = &b;
    const char *target_name = car ? "the LCDD model" : model;
    if (o->target_sft) {
        if ((st = clcdd_model_load(ctx, o->sft, reg, &m, NULL))) {
            st = clcdd_fail_context(st, "loading the SFT model %s", o->sft);
            goto done;
        }
        have_m = 1;
        if (m.hp.hidden_size != b.hp.hidden_size || m.hp.vocab_size != b.hp.vocab_size ||
            m.hp.n_layers != b.hp.n_layers) {
            st = clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s has other dimensions than the base model %s",
                            o->sft, model);
            goto done;
        }
        target = &m;
        target_name = o->sft;
    } else if (car) {
        if ((st = clcdd_model_create(ctx, &b.hp, &m))) goto done;
        have_m = 1;
        if ((st = clcdd_carrier_apply(ctx, &b, car, &m))) {
            st = clcdd_fail_context(st, "applying %s to %s", o->carrier, model);
            goto done;
        }
        target = &m;
    }
    clcdd_model_pack_or_warn(ctx, have_m ? &m : &b, 0, target_name);
    if (pi >= 0) {
        const clcdd_carrier_prompt *p = &car->prompts[pi];
        if (p->dim != b.hp.hidden_size) {
            st = clcdd_fail(CLCDD_ERR_FORMAT, "eraser prompt '%s' has %u columns, the model's hidden size "
                            "is %u", p->name, p->dim, b.hp.hidden_size);
            goto done;
        }
        int64_t shape[1] = {(int64_t)p->rows * p->dim};
        if ((st = clcdd_tensor_create(ctx, CLCDD_F32, 1, shape, "eraser prompt", &P)) ||
            (st = clcdd_tensor_upload(ctx, &P, p->data)))
            goto done;
        rows = p->rows;
        res->erased = 1;
        /* a prompt trained on the other model is a legitimate ablation, but say so */
        const char *ms = p->settings_json ? strstr(p->settings_json, "\"model\":\"") : NULL;
        if (ms) {
            int for_sft = !strncmp(ms + 9, "sft\"", 4);
            if (for_sft != !!o->target_sft)
                clcdd_log(CLCDD_LOG_WARN, "eraser prompt '%s' was trained on the %s model and is evaluated on "
                          "the %s model", p->name, for_sft ? "SFT" : "LCDD", o->target_sft ? "SFT" : "LCDD");
        }
    }
    clcdd_run_render_ctx rctx = {bi.plugin, &b.hp};
    clcdd_eval_tok tc = {bi.tokenizer, clcdd_run_render, &rctx, b.hp.vocab_size};
    if (o->data && (st = clcdd_eval_load_prompts(o->data, o->limit, &tc, &pin))) goto done;
    if (o->mc && (st = clcdd_eval_load_mc(o->mc, o->limit, &tc, &mc))) goto done;
    if (o->text && (st = clcdd_eval_load_text(o->text, o->limit, o->max_len, &tc, &txt))) goto done;
    run_ctx rc = {ctx, o, progress, user, bi.tokenizer};
    if (o->data) {
        res->n_answers = pin.n;
        res->answers_plain = calloc(pin.n, sizeof *res->answers_plain);
        res->prompts = calloc(pin.n, sizeof *res->prompts);
        if (rows) res->answers_erased = calloc(pin.n, sizeof *res->answers_erased);
        if (!res->answers_plain || !res->prompts || (rows && !res->answers_erased)) {
            st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "answers");
            goto done;
        }
        for (size_t i = 0; i < pin.n; i++)
            if (!(res->prompts[i] = dup_str(pin.user[i]))) {
                st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "answers");
                goto done;
            }
        if ((st = generate_all(&rc, target, NULL, 0, &pin.ids, o->max_new, "answers", &ans_plain)) ||
            (st = score_answers(&rc, &b.hp, &pin, &ans_plain, res->answers_plain, &res->plain)))
            goto done;
        if (rows && ((st = generate_all(&rc, target, &P, rows, &pin.ids, o->max_new, "answers (erased)", &ans_erased)) ||
                     (st = score_answers(&rc, &b.hp, &pin, &ans_erased, res->answers_erased, &res->with_prompt))))
            goto done;
    }
    for (int pass = 0; pass < (rows ? 2 : 1); pass++) {
        clcdd_eval_metrics *mt = pass ? &res->with_prompt : &res->plain;
        scorer_free(&sc);
        sc.ctx = ctx, sc.m = target, sc.soft = pass ? &P : NULL, sc.rows = pass ? rows : 0;
        if (o->text && (st = perplexity(&rc, &sc, &txt, pass ? "perplexity (erased)" : "perplexity", mt))) goto done;
        if (o->mc && (st = multiple_choice(&rc, &sc, &mc, pass ? "multiple choice (erased)" : "multiple choice", mt)))
            goto done;
    }
    scorer_free(&sc);
    if (o->sft && rows && o->data && (st = kl_bench(&rc, &b, target, &P, rows, o->sft, o->target_sft ? target : NULL, reg, &pin.ids, &res->kl))) goto done;
done:
    res->seconds = now_s() - t0;
    if (st != CLCDD_OK) clcdd_eval_result_free(res);
    scorer_free(&sc);
    clcdd_eval_seqs_free(&ans_plain);
    clcdd_eval_seqs_free(&ans_erased);
    clcdd_eval_prompts_free(&pin);
    clcdd_eval_mc_free(&mc);
    clcdd_eval_seqs_free(&txt);
    clcdd_tensor_destroy(&P);
    if (have_m) clcdd_model_destroy(&m);
    if (have_b) clcdd_model_destroy(&b);
    clcdd_load_info_free(&bi);
    clcdd_carrier_free(car);
    return st;
}
