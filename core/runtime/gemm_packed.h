/* Packed weights: the B operand of the forward product y = x * W^T, packed once per weight update.
 *
 * Dimensions: W is (out, in) row-major as stored in checkpoints; x is (m, in); y is (m, out).
 * Where the device's GEMM choice for this shape is the own kernel, the handle holds W^T in the
 * panel layout of kernels/gemm_tiled.cl (RN-wide column panels of W^T, zero-padded to a multiple
 * of RN: about the size of W). Elsewhere (e.g. CLBlast on a GPU) it holds no copy and
 * clcdd_gemm_packed is clcdd_gemm(NT) on W.
 *
 * The backward product dX = dY * W reads W row-major (NN). The tiled kernel can stream W directly
 * (when `in` is a multiple of its tile width), but on CPUs that stream crosses a page every row
 * and runs at a third to a half of the packed speed (bench/gemm: own vs own-pk on the bwdX rows),
 * and packing per call costs about as much as the product at m = 512. So a second copy, W in
 * RN-wide column panels, is kept on request (CLCDD_PACK_BACKWARD): it doubles the packed memory
 * (one more weight-sized buffer) for a 2-3x faster dX. dW = dY^T * X (TN) does not involve W. */
#ifndef CLCDD_GEMM_PACKED_H
#define CLCDD_GEMM_PACKED_H

#include "runtime/gemm_internal.h"

typedef struct clcdd_packed_weight {
    size_t out, in;            /* W is (out, in) */
    clcdd_matrix w;            /* the source weight (not owned; must outlive the handle) */
    cl_mem packed;             /* forward: W^T as (ceil(out/RN), in, RN) panels; NULL: use w */
    cl_mem packed_bwd;         /* backward: W as (ceil(in/RN), out, RN) panels; NULL: use w */
    size_t bytes;              /* of both */
    clcdd_gemm_params params;  /* kernel variant the panels were made for */
} clcdd_packed_weight;

enum { CLCDD_PACK_FORWARD = 1, CLCDD_PACK_BACKWARD = 2 };

/* Pack W (out x in, offset/ld in w) for forward and/or backward products (flags). */
clcdd_status clcdd_packed_weight_create(clcdd_ctx *ctx, clcdd_matrix w, size_t out, size_t in,
                                        int flags, clcdd_packed_weight *pw);
/* Re-pack after W changed (e.g. after an optimizer step); queued, no host round trip. */
clcdd_status clcdd_packed_weight_update(clcdd_ctx *ctx, clcdd_packed_weight *pw);
void clcdd_packed_weight_destroy(clcdd_packed_weight *pw);

/* y = alpha * x * W^T + beta * y; x is m x in (x.ld >= in), y is m x out (y.ld >= out). */
clcdd_status clcdd_gemm_packed(clcdd_ctx *ctx, size_t m, float alpha, clcdd_matrix x,
                               const clcdd_packed_weight *w, float beta, clcdd_matrix y);

/* dx = alpha * dy * W + beta * dx; dy is m x out, dx is m x in. */
clcdd_status clcdd_gemm_packed_backward(clcdd_ctx *ctx, size_t m, float alpha, clcdd_matrix dy,
                                        const clcdd_packed_weight *w, float beta, clcdd_matrix dx);

#endif
