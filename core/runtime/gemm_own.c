/* clcdd's own GEMM kernels and the per-device, per-shape backend choice.
 * First version: the own path is the reference kernel; the register-tiled kernels with packed
 * weights replace it (see the GEMM performance work). */
#include "ctx_internal.h"
#include "runtime/gemm_internal.h"

clcdd_status clcdd_gemm_own(clcdd_ctx *ctx, const clcdd_gemm_args *g) {
    return clcdd_gemm_reference(ctx, g);
}

void clcdd_gemm_own_free(clcdd_gemm_state *g) { (void)g; }

clcdd_gemm_backend clcdd_gemm_own_choose(clcdd_ctx *ctx, clcdd_gemm_state *g,
                                         const clcdd_gemm_args *a) {
    (void)a;
    /* CPU devices: the own register-tiled kernels (CLBlast's GPU-style kernels map poorly onto
     * CPU OpenCL runtimes). Other devices: CLBlast until its self-check says otherwise. */
    if (ctx->dev.is_cpu) return CLCDD_GEMM_OWN;
    return (!g->checked || g->clblast_ok) ? CLCDD_GEMM_CLBLAST : CLCDD_GEMM_OWN;
}
