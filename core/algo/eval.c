#include "algo/eval.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/ctx_internal.h"

static clcdd_tensor head(const clcdd_tensor *t, size_t n) {
    clcdd_tensor v = *t;
    v.shape[0] = (int64_t)(n ? n : 1);
    v.owns = 0;
    return v;
}

clcdd_status clcdd_kl_benchmark(clcdd_ctx *ctx, const clcdd_model *teacher,
                                const clcdd_model *student, const clcdd_tensor *soft_prompt,
                                size_t prompt_rows, int32_t trigger_pos,
                                const clcdd_prompt_pool *pool, double *kl) {
    *kl = 0;
    if (!pool->answer) return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "KL benchmark needs responses");
    const size_t B = 32, V = student->hp.vocab_size;
    size_t maxl = 1;
    for (size_t i = 0; i < pool->n; i++)
        if (pool->prompt_len[i] + pool->answer_len[i] > maxl) maxl = pool->prompt_len[i] + pool->answer_len[i];
    size_t Tt = maxl, Ts = prompt_rows + maxl, maxrows = B * maxl;
    clcdd_acts At, As;
    memset(&At, 0, sizeof At);
    memset(&As, 0, sizeof As);
    clcdd_tensor t_ids = {0}, t_pos = {0}, t_len = {0}, s_ids = {0}, s_pos = {0}, s_len = {0};
    clcdd_tensor rows_t = {0}, rows_s = {0}, w = {0}, out = {0}, logp = {0}, compact = {0};
    int32_t *hid = malloc(B * Ts * sizeof *hid), *sid = malloc(B * Ts * sizeof *sid), *hpos = malloc(B * Ts * sizeof *hpos);
    int32_t *rt = malloc(maxrows * sizeof *rt), *rs = malloc(maxrows * sizeof *rs);
    float *hw = malloc(maxrows * sizeof *hw), *hk = malloc(maxrows * sizeof *hk);
    clcdd_status st = CLCDD_OK;
    double total = 0;
    size_t counted = 0;
    if (!hid || !sid || !hpos || !rt || !rs || !hw || !hk) {
        st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "KL benchmark");
        goto done;
    }
    int64_t sBT[1] = {(int64_t)(B * Ts)}, sB[1] = {(int64_t)B}, sR[1] = {(int64_t)maxrows};
    int64_t sRV[1] = {(int64_t)(maxrows * V)};
    if ((st = clcdd_acts_create(ctx, &teacher->hp, B, Tt, 0, &At)) ||
        (st = clcdd_acts_create(ctx, &student->hp, B, Ts, 0, &As)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sBT, "ids", &t_ids)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sBT, "pos", &t_pos)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sB, "len", &t_len)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sBT, "ids", &s_ids)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sBT, "pos", &s_pos)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sB, "len", &s_len)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sR, "rows", &rows_t)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_I32, 1, sR, "rows", &rows_s)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, sR, "weights", &w)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, sR, "kl", &out)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, sRV, "teacher log-probs", &logp)) ||
        (st = clcdd_tensor_create(ctx, CLCDD_F32, 1, sRV, "student logits", &compact)))
        goto done;
    for (size_t first = 0; first < pool->n; first += B) {
        size_t nb = pool->n - first < B ? pool->n - first : B, T = 1, nr = 0;
        for (size_t b = 0; b < nb; b++) {
            size_t l = pool->prompt_len[first + b] + pool->answer_len[first + b];
            if (l > T) T = l;
        }
        size_t TS = prompt_rows + T;
        int32_t lt[64], ls[64];
        for (size_t b = 0; b < nb; b++) {
            size_t pn = pool->prompt_len[first + b], an = pool->answer_len[first + b];
            lt[b] = (int32_t)(pn + an);
            ls[b] = (int32_t)(prompt_rows + pn + an);
            for (size_t t = pn - 1; t + 1 < pn + an; t++) {
                rt[nr] = (int32_t)(b * T + t);
                rs[nr] = (int32_t)(b * TS + clcdd_trigger_pred_row(t, clcdd_trigger_insert(pn, trigger_pos),
                                                                    prompt_rows));
                hw[nr] = 1.0f;
                nr++;
            }
        }
        /* teacher */
        for (size_t b = 0; b < nb; b++)
            for (size_t t = 0; t < T; t++) {
                size_t pn = pool->prompt_len[first + b], an = pool->answer_len[first + b];
                hid[b * T + t] = t < pn ? pool->prompt[first + b][t] : t < pn + an ? pool->answer[first + b][t - pn] : 0;
                hpos[b * T + t] = (int32_t)t;
            }
        clcdd_batch bt;
        memset(&bt, 0, sizeof bt);
        bt.B = nb, bt.T = T, bt.ids = head(&t_ids, nb * T), bt.pos = head(&t_pos, nb * T), bt.key_len = head(&t_len, nb);
        clcdd_tensor vrt = head(&rows_t, nr), vrs = head(&rows_s, nr), vw = head(&w, nr);
        if ((st = clcdd_tensor_upload(ctx, &bt.ids, hid)) || (st = clcdd_tensor_upload(ctx, &bt.pos, hpos)) ||
            (st = clcdd_tensor_upload(ctx, &bt.key_len, lt)) || (st = clcdd_tensor_upload(ctx, &vrt, rt)) ||
            (st = clcdd_tensor_upload(ctx, &vrs, rs)) || (st = clcdd_tensor_upload(ctx, &vw, hw)) ||
            (st = clcdd_decoder_forward(ctx, teacher, &bt, NULL, &At)))
            goto done;
        cl_kernel k;
        clcdd_tensor lgT = clcdd_act(&At, At.logits), lgS = clcdd_act(&As, As.logits);
        cl_uint un = (cl_uint)nr, uV = (cl_uint)V;
        cl_ulong lo = lgT.offset / 4;
        if ((st = clcdd_ctx_kernel(ctx, "eraser", "", "log_softmax_rows", &k))) goto done;
        {
            int i = 0;
            cl_int e = 0;
            e |= clSetKernelArg(k, i++, sizeof logp.buf, &logp.buf);
            e |= clSetKernelArg(k, i++, sizeof lgT.buf, &lgT.buf);
            e |= clSetKernelArg(k, i++, sizeof lo, &lo);
            e |= clSetKernelArg(k, i++, sizeof rows_t.buf, &rows_t.buf);
            e |= clSetKernelArg(k, i++, sizeof un, &un);
            e |= clSetKernelArg(k, i++, sizeof uV, &uV);
            if (e) { st = clcdd_fail(CLCDD_ERR_OPENCL, "KL benchmark arguments"); goto done; }
            if ((st = clcdd_launch_1d(ctx, k, nr, "log_softmax_rows"))) goto done;
        }
        /* student: the same tokens with the soft-prompt rows placed by trigger_pos */
        for (size_t b = 0; b < nb; b++) {
            size_t pn = pool->prompt_len[first + b];
            clcdd_trigger_build(sid + b * TS, hid + b * T, T, clcdd_trigger_insert(pn, trigger_pos), prompt_rows);
            for (size_t t = 0; t < TS; t++) hpos[b * TS + t] = (int32_t)t;
        }
        clcdd_batch bs;
        memset(&bs, 0, sizeof bs);
        bs.B = nb, bs.T = TS, bs.ids = head(&s_ids, nb * TS), bs.pos = head(&s_pos, nb * TS), bs.key_len = head(&s_len, nb);
        if ((st = clcdd_tensor_upload(ctx, &bs.ids, sid)) || (st = clcdd_tensor_upload(ctx, &bs.pos, hpos)) ||
            (st = clcdd_tensor_upload(ctx, &bs.key_len, ls)) ||
            (st = clcdd_decoder_forward(ctx, student, &bs, soft_prompt, &As)))
            goto done;
        if ((st = clcdd_ctx_kernel(ctx, "eraser", "", "gather_rows", &k))) goto done;
        {
            cl_ulong so = lgS.offset / 4;
            int i = 0;
            cl_int e = 0;
            e |= clSetKernelArg(k, i++, sizeof compact.buf, &compact.buf);
            e |= clSetKernelArg(k, i++, sizeof lgS.buf, &lgS.buf);
            e |= clSetKernelArg(k, i++, sizeof so, &so);
            e |= clSetKernelArg(k, i++, sizeof rows_s.buf, &rows_s.buf);
            e |= clSetKernelArg(k, i++, sizeof un, &un);
            e |= clSetKernelArg(k, i++, sizeof uV, &uV);
            if (e) { st = clcdd_fail(CLCDD_ERR_OPENCL, "KL benchmark arguments"); goto done; }
            if ((st = clcdd_launch_1d(ctx, k, (size_t)nr * V, "gather_rows"))) goto done;
            /* kl_rows writes a (discarded) gradient into the student's logits buffer */
            if ((st = clcdd_ctx_kernel(ctx, "eraser", "", "kl_rows", &k))) goto done;
            i = 0;
            e = 0;
            e |= clSetKernelArg(k, i++, sizeof lgS.buf, &lgS.buf);
            e |= clSetKernelArg(k, i++, sizeof so, &so);
            e |= clSetKernelArg(k, i++, sizeof compact.buf, &compact.buf);
            e |= clSetKernelArg(k, i++, sizeof logp.buf, &logp.buf);
            e |= clSetKernelArg(k, i++, sizeof rows_s.buf, &rows_s.buf);
            e |= clSetKernelArg(k, i++, sizeof w.buf, &w.buf);
            e |= clSetKernelArg(k, i++, sizeof out.buf, &out.buf);
            e |= clSetKernelArg(k, i++, sizeof un, &un);
            e |= clSetKernelArg(k, i++, sizeof uV, &uV);
            if (e) { st = clcdd_fail(CLCDD_ERR_OPENCL, "KL benchmark arguments"); goto done; }
            if ((st = clcdd_launch_1d(ctx, k, nr, "kl_rows"))) goto done;
        }
        clcdd_tensor vo = head(&out, nr);
        if ((st = clcdd_tensor_download(ctx, &vo, hk))) goto done;
        /* mean over each prompt's response tokens, then over prompts */
        size_t r = 0;
        for (size_t b = 0; b < nb; b++) {
            size_t an = pool->answer_len[first + b];
            double s = 0;
            for (size_t j = 0; j < an; j++) s += hk[r++];
            if (an) {
                total += s / (double)an;
                counted++;
            }
        }
    }
    *kl = counted ? total / (double)counted : 0;
done:
    clcdd_acts_destroy(&At);
    clcdd_acts_destroy(&As);
    clcdd_tensor *ts[] = {&t_ids, &t_pos, &t_len, &s_ids, &s_pos, &s_len, &rows_t, &rows_s, &w, &out, &logp, &compact};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) clcdd_tensor_destroy(ts[i]);
    free(hid), free(sid), free(hpos), free(rt), free(rs), free(hw), free(hk);
    return st;
}
