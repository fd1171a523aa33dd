#include "nn/ops.h"

#include <string.h>

#include <stdlib.h>

#include "runtime/ctx_internal.h"

/* Element offset of a tensor of element size es (tensors are created aligned). */
static cl_ulong eoff(const clcdd_tensor *t) { return t->offset / clcdd_dtype_size(t->dtype); }

static clcdd_status need(const clcdd_tensor *t, clcdd_dtype dt, size_t numel, const char *op,
                         const char *name) {
    if (!t || !t->buf)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: %s is missing", op, name);
    if (t->dtype != dt)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: %s is %s, expected %s", op, name,
                          clcdd_dtype_name(t->dtype), clcdd_dtype_name(dt));
    if ((size_t)clcdd_tensor_numel(t) < numel)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: %s has %lld elements, needs %zu", op,
                          name, (long long)clcdd_tensor_numel(t), numel);
    return CLCDD_OK;
}

/* Work-group size for a row reduction over `len` elements: a power of two, at most the
 * context's reduction size; a function of len and the device only (determinism). */
static size_t row_wg(const clcdd_ctx *ctx, size_t len) {
    /* CPU runtimes run a work-group's items as loops split at every barrier; a row is cheaper as
     * one work-item walking it (many rows keep every core busy). */
    if (ctx->dev.is_cpu) return 1;
    size_t w = 1;
    while (w < len && w < ctx->wg_reduce) w *= 2;
    return w;
}

static clcdd_status launch_rows(clcdd_ctx *ctx, cl_kernel k, size_t rows, size_t wg,
                                const char *what) {
    if (rows == 0) return CLCDD_OK;
    size_t global = rows * wg;
    CL_TRY(clcdd_enqueue(ctx, k, 1, &global, &wg),
           "launching %s over %zu rows on %s", what, rows, ctx->dev.name);
    return CLCDD_OK;
}

clcdd_status clcdd_rmsnorm_forward(clcdd_ctx *ctx, clcdd_tensor *y, clcdd_tensor *rstd,
                                   const clcdd_tensor *x, const clcdd_tensor *w, size_t rows,
                                   size_t d, float eps) {
    TRY(need(y, CLCDD_F32, rows * d, "rmsnorm", "y"));
    TRY(need(rstd, CLCDD_F32, rows, "rmsnorm", "rstd"));
    TRY(need(x, CLCDD_F32, rows * d, "rmsnorm", "x"));
    TRY(need(w, CLCDD_F32, d, "rmsnorm", "w"));
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "rmsnorm", "", "rmsnorm_fwd", &k));
    size_t wg = row_wg(ctx, d);
    cl_ulong yo = eoff(y), xo = eoff(x), wo = eoff(w);
    cl_uint ud = (cl_uint)d;
    int i = 0;
    cl_ulong ro = eoff(rstd);
    KARG(k, i++, y->buf); KARG(k, i++, yo); KARG(k, i++, rstd->buf); KARG(k, i++, ro);
    KARG(k, i++, x->buf); KARG(k, i++, xo); KARG(k, i++, w->buf); KARG(k, i++, wo);
    KARG(k, i++, ud); KARG(k, i++, eps);
    CL_TRY(clSetKernelArg(k, i, wg * sizeof(float), NULL), "rmsnorm scratch");
    return launch_rows(ctx, k, rows, wg, "rmsnorm_fwd");
}

clcdd_status clcdd_rmsnorm_backward(clcdd_ctx *ctx, clcdd_tensor *dx, int accumulate,
                                    clcdd_tensor *dw, const clcdd_tensor *dy,
                                    const clcdd_tensor *x, const clcdd_tensor *w,
                                    const clcdd_tensor *rstd, size_t rows, size_t d) {
    TRY(need(dx, CLCDD_F32, rows * d, "rmsnorm backward", "dx"));
    TRY(need(dy, CLCDD_F32, rows * d, "rmsnorm backward", "dy"));
    TRY(need(x, CLCDD_F32, rows * d, "rmsnorm backward", "x"));
    TRY(need(w, CLCDD_F32, d, "rmsnorm backward", "w"));
    TRY(need(rstd, CLCDD_F32, rows, "rmsnorm backward", "rstd"));
    cl_ulong dxo = eoff(dx), dyo = eoff(dy), xo = eoff(x), wo = eoff(w), ro = eoff(rstd);
    cl_uint ud = (cl_uint)d, ur = (cl_uint)rows;
    cl_int acc = accumulate ? 1 : 0;
    if (dw) {
        TRY(need(dw, CLCDD_F32, d, "rmsnorm backward", "dw"));
        cl_kernel kw;
        TRY(clcdd_ctx_kernel(ctx, "rmsnorm", "", "rmsnorm_bwd_w", &kw));
        cl_ulong dwo = eoff(dw);
        int i = 0;
        KARG(kw, i++, dw->buf); KARG(kw, i++, dwo); KARG(kw, i++, dy->buf); KARG(kw, i++, dyo);
        KARG(kw, i++, x->buf); KARG(kw, i++, xo); KARG(kw, i++, rstd->buf); KARG(kw, i++, ro);
        KARG(kw, i++, ur); KARG(kw, i++, ud);
        TRY(clcdd_launch_1d(ctx, kw, d, "rmsnorm_bwd_w"));
    }
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "rmsnorm", "", "rmsnorm_bwd_x", &k));
    size_t wg = row_wg(ctx, d);
    int i = 0;
    KARG(k, i++, dx->buf); KARG(k, i++, dxo); KARG(k, i++, acc);
    KARG(k, i++, dy->buf); KARG(k, i++, dyo); KARG(k, i++, x->buf); KARG(k, i++, xo);
    KARG(k, i++, w->buf); KARG(k, i++, wo); KARG(k, i++, rstd->buf); KARG(k, i++, ro);
    KARG(k, i++, ud);
    CL_TRY(clSetKernelArg(k, i, wg * sizeof(float), NULL), "rmsnorm scratch");
    return launch_rows(ctx, k, rows, wg, "rmsnorm_bwd_x");
}

static clcdd_status heads(clcdd_ctx *ctx, const char *kname, clcdd_tensor *out,
                          const clcdd_tensor *in, const clcdd_tensor *pos,
                          const clcdd_tensor *inv_freq, const clcdd_rope_cs *cs, size_t B, size_t T, size_t H, size_t hd,
                          clcdd_rope_mode mode, float sign, int with_sign, size_t T_out,
                          size_t t_off) {
    size_t n = B * T * H * hd;
    if (t_off + T > T_out)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: rows %zu..%zu exceed %zu", kname, t_off,
                          t_off + T, T_out);
    if (hd % 2)
        return clcdd_fail(CLCDD_ERR_UNSUPPORTED, "%s: head dim %zu is odd", kname, hd);
    TRY(need(out, CLCDD_F32, with_sign ? n : B * T_out * H * hd, kname, "out"));
    TRY(need(in, CLCDD_F32, n, kname, "in"));
    TRY(need(pos, CLCDD_I32, B * T, kname, "positions"));
    TRY(need(inv_freq, CLCDD_F32, hd / 2, kname, "inv_freq"));
    if (pos->offset || inv_freq->offset)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: positions/inv_freq must not be views", kname);
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "rope", "", kname, &k));
    cl_ulong oo = eoff(out), io = eoff(in);
    cl_uint uT = (cl_uint)T, uH = (cl_uint)H, uhd = (cl_uint)hd;
    cl_int m = (cl_int)mode;
    int i = 0;
    KARG(k, i++, out->buf); KARG(k, i++, oo); KARG(k, i++, in->buf); KARG(k, i++, io);
    KARG(k, i++, pos->buf); KARG(k, i++, inv_freq->buf);
    /* No table: any buffer with length 0 (the kernel then computes every angle). */
    cl_uint cs_len = cs && cs->table.buf ? cs->len : 0;
    cl_mem cs_buf = cs_len ? cs->table.buf : inv_freq->buf;
    if (cs_len && (cs->half != hd / 2 || cs->table.offset))
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "%s: RoPE table for head dim %u, not %zu",
                          kname, 2 * cs->half, hd);
    KARG(k, i++, cs_buf); KARG(k, i++, cs_len);
    KARG(k, i++, uT); KARG(k, i++, uH); KARG(k, i++, uhd); KARG(k, i++, m);
    if (with_sign) {
        KARG(k, i++, sign);
    } else {
        cl_uint uTo = (cl_uint)T_out, uto = (cl_uint)t_off;
        KARG(k, i++, uTo);
        KARG(k, i++, uto);
    }
    size_t global[3] = {hd / 2, H, B * T};
    if (n == 0) return CLCDD_OK;
    /* On a CPU runtime every work-group costs a fixed overhead: group as many rows as fit in
     * ~1024 items (a divisor of B*T, so no row is out of range). Elsewhere the driver chooses. */
    size_t local[3] = {hd / 2, H, 1}, *lp = NULL;
    if (ctx->dev.is_cpu && hd / 2 * H <= ctx->dev.max_work_group_size) {
        size_t cap = 1024 / (hd / 2 * H), rows = B * T;
        if (cap * (hd / 2 * H) > ctx->dev.max_work_group_size) cap = ctx->dev.max_work_group_size / (hd / 2 * H);
        for (size_t r = cap < rows ? cap : rows; r >= 1; r--)
            if (rows % r == 0) {
                local[2] = r;
                break;
            }
        lp = local;
    }
    CL_TRY(clcdd_enqueue(ctx, k, 3, global, lp),
           "launching %s on %s", kname, ctx->dev.name);
    return CLCDD_OK;
}

clcdd_status clcdd_split_heads_rope(clcdd_ctx *ctx, clcdd_tensor *out, const clcdd_tensor *in,
                                    const clcdd_tensor *pos, const clcdd_tensor *inv_freq,
                                    const clcdd_rope_cs *cs, size_t B, size_t T, size_t H, size_t hd,
                                    clcdd_rope_mode mode) {
    return heads(ctx, "split_heads_rope", out, in, pos, inv_freq, cs, B, T, H, hd, mode, 1.0f, 0, T, 0);
}

clcdd_status clcdd_split_heads_rope_into(clcdd_ctx *ctx, clcdd_tensor *out, const clcdd_tensor *in,
                                         const clcdd_tensor *pos, const clcdd_tensor *inv_freq,
                                         const clcdd_rope_cs *cs, size_t B, size_t T, size_t H,
                                         size_t hd, clcdd_rope_mode mode, size_t T_out,
                                         size_t t_off) {
    return heads(ctx, "split_heads_rope", out, in, pos, inv_freq, cs, B, T, H, hd, mode, 1.0f, 0,
                 T_out, t_off);
}

clcdd_status clcdd_merge_heads_rope(clcdd_ctx *ctx, clcdd_tensor *out, const clcdd_tensor *in,
                                    const clcdd_tensor *pos, const clcdd_tensor *inv_freq,
                                    const clcdd_rope_cs *cs, size_t B, size_t T, size_t H, size_t hd,
                                    clcdd_rope_mode mode, float sign) {
    return heads(ctx, "merge_heads_rope", out, in, pos, inv_freq, cs, B, T, H, hd, mode, sign, 1, T, 0);
}

clcdd_status clcdd_softmax_forward(clcdd_ctx *ctx, clcdd_tensor *S, size_t B, size_t H,
                                   size_t Tq, size_t Tk, size_t q_off, size_t window,
                                   const clcdd_tensor *key_len, float scale) {
    TRY(need(S, CLCDD_F32, B * H * Tq * Tk, "softmax", "scores"));
    TRY(need(key_len, CLCDD_I32, B, "softmax", "key lengths"));
    if (key_len->offset)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "softmax: key lengths must not be a view");
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "attention", "", "softmax_fwd", &k));
    size_t wg = row_wg(ctx, Tk);
    cl_ulong so = eoff(S);
    cl_uint uH = (cl_uint)H, uTq = (cl_uint)Tq, uTk = (cl_uint)Tk, uq = (cl_uint)q_off,
            uw = (cl_uint)window;
    int i = 0;
    KARG(k, i++, S->buf); KARG(k, i++, so); KARG(k, i++, uH); KARG(k, i++, uTq);
    KARG(k, i++, uTk); KARG(k, i++, uq); KARG(k, i++, uw); KARG(k, i++, key_len->buf);
    KARG(k, i++, scale);
    CL_TRY(clSetKernelArg(k, i, wg * sizeof(float), NULL), "softmax scratch");
    return launch_rows(ctx, k, B * H * Tq, wg, "softmax_fwd");
}

clcdd_status clcdd_softmax_backward(clcdd_ctx *ctx, clcdd_tensor *dP, const clcdd_tensor *P,
                                    size_t rows, size_t Tk, float scale) {
    TRY(need(dP, CLCDD_F32, rows * Tk, "softmax backward", "dP"));
    TRY(need(P, CLCDD_F32, rows * Tk, "softmax backward", "P"));
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "attention", "", "softmax_bwd", &k));
    size_t wg = row_wg(ctx, Tk);
    cl_ulong dpo = eoff(dP), po = eoff(P);
    cl_uint uTk = (cl_uint)Tk;
    int i = 0;
    KARG(k, i++, dP->buf); KARG(k, i++, dpo); KARG(k, i++, P->buf); KARG(k, i++, po);
    KARG(k, i++, uTk); KARG(k, i++, scale);
    CL_TRY(clSetKernelArg(k, i, wg * sizeof(float), NULL), "softmax scratch");
    return launch_rows(ctx, k, rows, wg, "softmax_bwd");
}

clcdd_status clcdd_swiglu_forward(clcdd_ctx *ctx, clcdd_tensor *h, const clcdd_tensor *g,
                                  const clcdd_tensor *u, size_t n) {
    TRY(need(h, CLCDD_F32, n, "swiglu", "h"));
    TRY(need(g, CLCDD_F32, n, "swiglu", "gate"));
    TRY(need(u, CLCDD_F32, n, "swiglu", "up"));
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "swiglu", "", "swiglu_fwd", &k));
    cl_ulong ho = eoff(h), go = eoff(g), uo = eoff(u), un = n;
    int i = 0;
    KARG(k, i++, h->buf); KARG(k, i++, ho); KARG(k, i++, g->buf); KARG(k, i++, go);
    KARG(k, i++, u->buf); KARG(k, i++, uo); KARG(k, i++, un);
    return clcdd_launch_1d(ctx, k, n, "swiglu_fwd");
}

clcdd_status clcdd_swiglu_backward(clcdd_ctx *ctx, clcdd_tensor *dg, clcdd_tensor *du,
                                   const clcdd_tensor *dh, const clcdd_tensor *g,
                                   const clcdd_tensor *u, size_t n) {
    TRY(need(dg, CLCDD_F32, n, "swiglu backward", "dgate"));
    TRY(need(du, CLCDD_F32, n, "swiglu backward", "dup"));
    TRY(need(dh, CLCDD_F32, n, "swiglu backward", "dh"));
    TRY(need(g, CLCDD_F32, n, "swiglu backward", "gate"));
    TRY(need(u, CLCDD_F32, n, "swiglu backward", "up"));
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "swiglu", "", "swiglu_bwd", &k));
    cl_ulong dgo = eoff(dg), duo = eoff(du), dho = eoff(dh), go = eoff(g), uo = eoff(u), un = n;
    int i = 0;
    KARG(k, i++, dg->buf); KARG(k, i++, dgo); KARG(k, i++, du->buf); KARG(k, i++, duo);
    KARG(k, i++, dh->buf); KARG(k, i++, dho); KARG(k, i++, g->buf); KARG(k, i++, go);
    KARG(k, i++, u->buf); KARG(k, i++, uo); KARG(k, i++, un);
    return clcdd_launch_1d(ctx, k, n, "swiglu_bwd");
}

clcdd_status clcdd_cross_entropy(clcdd_ctx *ctx, clcdd_tensor *logits, clcdd_tensor *loss,
                                 const clcdd_tensor *target, size_t rows, size_t V,
                                 float grad_scale, int write_grad) {
    TRY(need(logits, CLCDD_F32, rows * V, "cross-entropy", "logits"));
    TRY(need(loss, CLCDD_F32, rows, "cross-entropy", "loss"));
    TRY(need(target, CLCDD_I32, rows, "cross-entropy", "targets"));
    if (target->offset)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "cross-entropy: targets must not be a view");
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "loss", "", "ce_fwd_bwd", &k));
    size_t wg = row_wg(ctx, V);
    cl_ulong lo = eoff(logits), losso = eoff(loss);
    cl_uint uV = (cl_uint)V;
    cl_int wgr = write_grad ? 1 : 0;
    int i = 0;
    KARG(k, i++, logits->buf); KARG(k, i++, lo); KARG(k, i++, loss->buf); KARG(k, i++, losso);
    KARG(k, i++, target->buf); KARG(k, i++, uV); KARG(k, i++, grad_scale); KARG(k, i++, wgr);
    CL_TRY(clSetKernelArg(k, i, wg * sizeof(float), NULL), "cross-entropy scratch");
    return launch_rows(ctx, k, rows, wg, "ce_fwd_bwd");
}

clcdd_status clcdd_kl_teacher(clcdd_ctx *ctx, clcdd_tensor *logits, const clcdd_tensor *teacher,
                              clcdd_tensor *loss, const clcdd_tensor *target, size_t rows,
                              size_t V, float grad_scale, int write_grad) {
    TRY(need(logits, CLCDD_F32, rows * V, "KL to the teacher", "logits"));
    TRY(need(teacher, CLCDD_F32, rows * V, "KL to the teacher", "teacher logits"));
    TRY(need(loss, CLCDD_F32, rows, "KL to the teacher", "loss"));
    TRY(need(target, CLCDD_I32, rows, "KL to the teacher", "targets"));
    if (target->offset)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "KL to the teacher: targets must not be a view");
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "loss", "", "kl_fwd_bwd", &k));
    size_t wg = row_wg(ctx, V);
    cl_ulong lo = eoff(logits), to = eoff(teacher), losso = eoff(loss);
    cl_uint uV = (cl_uint)V;
    cl_int wgr = write_grad ? 1 : 0;
    int i = 0;
    KARG(k, i++, logits->buf); KARG(k, i++, lo); KARG(k, i++, teacher->buf); KARG(k, i++, to);
    KARG(k, i++, loss->buf); KARG(k, i++, losso); KARG(k, i++, target->buf); KARG(k, i++, uV);
    KARG(k, i++, grad_scale); KARG(k, i++, wgr);
    CL_TRY(clSetKernelArg(k, i, wg * sizeof(float), NULL), "KL scratch");
    return launch_rows(ctx, k, rows, wg, "kl_fwd_bwd");
}

clcdd_status clcdd_add_bias_rows(clcdd_ctx *ctx, clcdd_tensor *y, const clcdd_tensor *b,
                                 size_t rows, size_t cols) {
    TRY(need(y, CLCDD_F32, rows * cols, "bias add", "y"));
    TRY(need(b, CLCDD_F32, cols, "bias add", "bias"));
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "elementwise", "", "add_bias_rows", &k));
    cl_ulong yo = eoff(y), bo = eoff(b), n = rows * cols;
    cl_uint uc = (cl_uint)cols;
    int i = 0;
    KARG(k, i++, y->buf); KARG(k, i++, yo); KARG(k, i++, b->buf); KARG(k, i++, bo);
    KARG(k, i++, uc); KARG(k, i++, n);
    return clcdd_launch_1d(ctx, k, (size_t)n, "add_bias_rows");
}

clcdd_status clcdd_bias_grad_rows(clcdd_ctx *ctx, clcdd_tensor *db, const clcdd_tensor *dy,
                                  size_t rows, size_t cols) {
    TRY(need(db, CLCDD_F32, cols, "bias gradient", "db"));
    TRY(need(dy, CLCDD_F32, rows * cols, "bias gradient", "dy"));
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "elementwise", "", "bias_grad_rows", &k));
    cl_ulong dbo = eoff(db), dyo = eoff(dy);
    cl_uint ur = (cl_uint)rows, uc = (cl_uint)cols;
    int i = 0;
    KARG(k, i++, db->buf); KARG(k, i++, dbo); KARG(k, i++, dy->buf); KARG(k, i++, dyo);
    KARG(k, i++, ur); KARG(k, i++, uc);
    return clcdd_launch_1d(ctx, k, cols, "bias_grad_rows");
}

clcdd_status clcdd_embed_gather(clcdd_ctx *ctx, clcdd_tensor *out, const clcdd_tensor *E,
                                const clcdd_tensor *P, const clcdd_tensor *ids, size_t rows,
                                size_t d) {
    TRY(need(out, CLCDD_F32, rows * d, "embedding", "out"));
    TRY(need(E, CLCDD_F32, d, "embedding", "table"));
    TRY(need(ids, CLCDD_I32, rows, "embedding", "ids"));
    if (ids->offset)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "embedding: ids must not be a view");
    const clcdd_tensor *p = P ? P : E;
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "elementwise", "", "embed_gather", &k));
    cl_ulong oo = eoff(out), eo = eoff(E), po = eoff(p), n = rows * d;
    cl_uint ud = (cl_uint)d;
    int i = 0;
    KARG(k, i++, out->buf); KARG(k, i++, oo); KARG(k, i++, E->buf); KARG(k, i++, eo);
    KARG(k, i++, p->buf); KARG(k, i++, po); KARG(k, i++, ids->buf); KARG(k, i++, ud);
    KARG(k, i++, n);
    return clcdd_launch_1d(ctx, k, (size_t)n, "embed_gather");
}

clcdd_status clcdd_prompt_grad(clcdd_ctx *ctx, clcdd_tensor *dP, const clcdd_tensor *dx,
                               const clcdd_tensor *ids, size_t rows, size_t d, size_t prompt_rows) {
    TRY(need(dP, CLCDD_F32, prompt_rows * d, "prompt gradient", "dP"));
    TRY(need(dx, CLCDD_F32, rows * d, "prompt gradient", "dx"));
    TRY(need(ids, CLCDD_I32, rows, "prompt gradient", "ids"));
    if (ids->offset)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "prompt gradient: ids must not be a view");
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "elementwise", "", "prompt_grad", &k));
    cl_ulong po = eoff(dP), xo = eoff(dx);
    cl_uint ur = (cl_uint)rows, ud = (cl_uint)d, up = (cl_uint)prompt_rows;
    int i = 0;
    KARG(k, i++, dP->buf); KARG(k, i++, po); KARG(k, i++, dx->buf); KARG(k, i++, xo);
    KARG(k, i++, ids->buf); KARG(k, i++, ur); KARG(k, i++, ud); KARG(k, i++, up);
    return clcdd_launch_1d(ctx, k, prompt_rows * d, "prompt_grad");
}

clcdd_status clcdd_argmax_rows(clcdd_ctx *ctx, clcdd_tensor *out, const clcdd_tensor *logits,
                               const clcdd_tensor *rows, size_t n, size_t V) {
    TRY(need(out, CLCDD_I32, n, "argmax", "out"));
    TRY(need(rows, CLCDD_I32, n, "argmax", "rows"));
    TRY(need(logits, CLCDD_F32, V, "argmax", "logits"));
    if (out->offset || rows->offset)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "argmax: out/rows must not be views");
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "loss", "", "argmax_rows", &k));
    size_t wg = row_wg(ctx, V);
    cl_ulong lo = eoff(logits);
    cl_uint uV = (cl_uint)V;
    int i = 0;
    KARG(k, i++, out->buf); KARG(k, i++, logits->buf); KARG(k, i++, lo); KARG(k, i++, rows->buf);
    KARG(k, i++, uV);
    CL_TRY(clSetKernelArg(k, i++, wg * sizeof(float), NULL), "argmax scratch");
    CL_TRY(clSetKernelArg(k, i++, wg * sizeof(cl_int), NULL), "argmax scratch");
    return launch_rows(ctx, k, n, wg, "argmax_rows");
}

clcdd_status clcdd_embed_backward(clcdd_ctx *ctx, clcdd_tensor *dE, const clcdd_tensor *dx,
                                  const clcdd_tensor *ids_u, const clcdd_tensor *starts,
                                  const clcdd_tensor *rows, size_t n_unique, size_t d) {
    if (n_unique == 0) return CLCDD_OK;
    TRY(need(dE, CLCDD_F32, d, "embedding backward", "dE"));
    TRY(need(dx, CLCDD_F32, d, "embedding backward", "dx"));
    TRY(need(ids_u, CLCDD_I32, n_unique, "embedding backward", "ids"));
    TRY(need(starts, CLCDD_I32, n_unique + 1, "embedding backward", "starts"));
    if (ids_u->offset || starts->offset || rows->offset)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "embedding backward: index tensors must not be views");
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "elementwise", "", "embed_backward", &k));
    cl_ulong eo = eoff(dE), xo = eoff(dx);
    cl_uint nu = (cl_uint)n_unique, ud = (cl_uint)d;
    int i = 0;
    KARG(k, i++, dE->buf); KARG(k, i++, eo); KARG(k, i++, dx->buf); KARG(k, i++, xo);
    KARG(k, i++, ids_u->buf); KARG(k, i++, starts->buf); KARG(k, i++, rows->buf);
    KARG(k, i++, nu); KARG(k, i++, ud);
    return clcdd_launch_1d(ctx, k, n_unique * d, "embed_backward");
}

static int cmp_pair(const void *a, const void *b) {
    const int32_t *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

size_t clcdd_embed_csr(const int32_t *ids, size_t n, int32_t *ids_u, int32_t *starts, int32_t *rows) {
    int32_t *pairs = malloc(2 * (n ? n : 1) * sizeof *pairs);
    if (!pairs) return 0;
    size_t m = 0;
    for (size_t r = 0; r < n; r++)
        if (ids[r] >= 0) {
            pairs[2 * m] = ids[r];
            pairs[2 * m + 1] = (int32_t)r;
            m++;
        }
    qsort(pairs, m, 2 * sizeof *pairs, cmp_pair);
    size_t u = 0;
    for (size_t i = 0; i < m; i++) {
        if (i == 0 || pairs[2 * i] != pairs[2 * i - 2]) {
            ids_u[u] = pairs[2 * i];
            starts[u] = (int32_t)i;
            u++;
        }
        rows[i] = pairs[2 * i + 1];
    }
    starts[u] = (int32_t)m;
    free(pairs);
    return u;
}

clcdd_status clcdd_rope_cs_create(clcdd_ctx *ctx, const clcdd_tensor *inv_freq, size_t half,
                                  size_t len, clcdd_rope_cs *out) {
    memset(out, 0, sizeof *out);
    if (half == 0 || len == 0) return CLCDD_OK;
    TRY(need(inv_freq, CLCDD_F32, half, "rope table", "inv_freq"));
    int64_t shape[1] = {(int64_t)(2 * half * len)};
    TRY(clcdd_tensor_create(ctx, CLCDD_F32, 1, shape, "RoPE cos/sin table", &out->table));
    out->half = (uint32_t)half;
    out->len = (uint32_t)len;
    return clcdd_rope_cs_fill(ctx, out, inv_freq);
}

clcdd_status clcdd_rope_cs_fill(clcdd_ctx *ctx, clcdd_rope_cs *cs, const clcdd_tensor *inv_freq) {
    if (!cs->table.buf) return CLCDD_OK;
    if (inv_freq->offset)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "rope table: inv_freq must not be a view");
    cl_kernel k;
    TRY(clcdd_ctx_kernel(ctx, "rope", "", "rope_table", &k));
    cl_uint half = cs->half, len = cs->len;
    int i = 0;
    KARG(k, i++, cs->table.buf); KARG(k, i++, inv_freq->buf); KARG(k, i++, half); KARG(k, i++, len);
    size_t global[2] = {half, len};
    return clcdd_launch_2d(ctx, k, global, NULL, "rope_table");
}

void clcdd_rope_cs_destroy(clcdd_rope_cs *cs) {
    clcdd_tensor_destroy(&cs->table);
    memset(cs, 0, sizeof *cs);
}
