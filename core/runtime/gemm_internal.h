/* Internals of the GEMM dispatcher shared between gemm.c (entry point, CLBlast, reference,
 * self-check), gemm_own.c (the own kernels, packing, packed weights), gemm_tune.c (the tuning
 * record and the per-shape choice) and gemm_tune_run.c (the tuner). */
#ifndef CLCDD_GEMM_INTERNAL_H
#define CLCDD_GEMM_INTERNAL_H

#include "clcdd/gemm.h"

typedef struct clcdd_gemm_args {
    int ta, tb;
    size_t m, n, k;
    float alpha, beta;
    clcdd_matrix a, b, c;
    size_t batch, stride_a, stride_b, stride_c; /* batch 1: strides unused */
} clcdd_gemm_args;

typedef struct clcdd_gemm_state {
    clcdd_gemm_backend forced; /* AUTO unless a test/bench forces one */
    int checked;               /* self-check has run */
    int clblast_ok;            /* CLBlast passed it */
    double clblast_max_err;    /* its worst relative error (-1: it failed to run) */
    void *own;                 /* gemm_own.c's private state */
} clcdd_gemm_state;

/* Parameters of the own register-tiled kernel (kernels/gemm_tiled.cl): each work-item computes
 * rm x (vw * nv) of C with rm * nv accumulators of vw floats; rows_first 1 numbers work-items
 * down the rows of C first (consecutive work-items share a panel of B), 0 along a row first
 * (they share rows of A). */
typedef struct clcdd_gemm_params {
    int vw, rm, nv, rows_first;
} clcdd_gemm_params;

/* One measured choice of the tuning record: for problems of this transpose pair near this shape
 * (nearest in log m, log n, log k), use `backend` with `params`. */
typedef struct clcdd_gemm_tune_entry {
    int ta, tb;
    uint64_t m, n, k;
    clcdd_gemm_backend backend; /* CLBLAST or OWN */
    clcdd_gemm_params params;   /* OWN only */
    double gflops;
} clcdd_gemm_tune_entry;

#define CLCDD_GEMM_TUNE_MAX 64

/* CLBlast tuning parameters for one of its kernels ("Xgemm", "XgemmDirect", "GemmRoutine", ...),
 * as CLBlastOverrideParameters takes them; a set holds one entry per kernel. */
#define CLCDD_CLBLAST_MAX_PARAMS 24
#define CLCDD_CLBLAST_MAX_KERNELS 8
typedef struct clcdd_clblast_params {
    char kernel[32];
    size_t count;
    char names[CLCDD_CLBLAST_MAX_PARAMS][24];
    size_t values[CLCDD_CLBLAST_MAX_PARAMS];
} clcdd_clblast_params;
typedef struct clcdd_clblast_set {
    size_t count; /* 0: CLBlast's built-in parameters */
    clcdd_clblast_params k[CLCDD_CLBLAST_MAX_KERNELS];
} clcdd_clblast_set;

typedef struct clcdd_gemm_tune_record {
    size_t count;
    clcdd_gemm_tune_entry e[CLCDD_GEMM_TUNE_MAX];
    clcdd_clblast_set clblast; /* applied to CLBlast on the device when the record loads */
} clcdd_gemm_tune_record;

/* gemm_own.c's private state (clcdd_gemm_state.own). */
typedef struct clcdd_gemm_own_state {
    cl_mem scratch; /* packed op(B) for calls that need packing */
    size_t scratch_bytes;
    cl_mem scratch_a; /* packed op(A) (transposed A with many rows) */
    size_t scratch_a_bytes;
    int record_loaded;            /* tried to load the tuning record */
    clcdd_gemm_tune_record rec;   /* count 0: none */
    const clcdd_gemm_params *override; /* tuner: forces these parameters on the own path */
} clcdd_gemm_own_state;

/* Bounds check of one operand: stored shape rows x cols, `batch` entries `stride` apart. */
clcdd_status clcdd_gemm_check_matrix(const char *name, clcdd_matrix x, size_t rows, size_t cols,
                                     size_t stride, size_t batch);
/* The context's GEMM state, created on first use. */
clcdd_status clcdd_gemm_state_get(clcdd_ctx *ctx, clcdd_gemm_state **out);
/* Tuning record (gemm_tune.c): its path for this context's device, and saving one (which also
 * makes it this context's record). */
void clcdd_gemm_record_path(const clcdd_ctx *ctx, char *out, size_t cap);
clcdd_status clcdd_gemm_record_save(clcdd_ctx *ctx, const clcdd_gemm_tune_record *rec);
clcdd_status clcdd_gemm_own_state_get(clcdd_ctx *ctx, clcdd_gemm_own_state **out);
/* Loads this device's tuning record (once per context) and applies its CLBlast parameters. */
void clcdd_gemm_record_ensure(clcdd_ctx *ctx);
/* Overrides CLBlast's single-precision parameters on this context's device with every kernel of
 * the set (CLBlastOverrideParameters: process-wide for the device; CLBlast recompiles on next use).
 * There is no way back to the built-in parameters within the process. */
clcdd_status clcdd_gemm_clblast_apply(clcdd_ctx *ctx, const clcdd_clblast_set *set);
/* Reads the JSON file one of CLBlast's tuner programs writes (clblast_xgemm_*_32.json, ...): its
 * best kernel and parameters (precision 32 only) go into *out. */
clcdd_status clcdd_gemm_clblast_read_tuner_json(const char *path, clcdd_clblast_params *out);
/* Adds (or replaces, by kernel name) one kernel's parameters in a set. */
clcdd_status clcdd_clblast_set_put(clcdd_clblast_set *set, const clcdd_clblast_params *p);

/* Own-kernel entry with explicit parameters. pack: 0 = pack op(B) into panels only when needed
 * (B transposed, or n not a multiple of the tile width), 1 = always pack. */
clcdd_status clcdd_gemm_own_with(clcdd_ctx *ctx, const clcdd_gemm_args *g,
                                 const clcdd_gemm_params *p, int pack);
/* The two steps of the own path (benchmarks and the packed-weight code use them directly):
 * pack op(B) of `batch` entries into panels at dst (entry stride stride_p elements), and run the
 * tile kernel on row-major op(B) (bpack 0; n a multiple of vw * nv) or on such panels. */
clcdd_status clcdd_gemm_own_pack(clcdd_ctx *ctx, const clcdd_gemm_params *p, int tb, size_t n,
                                 size_t k, clcdd_matrix b, size_t stride_b, size_t batch,
                                 cl_mem dst, size_t stride_p);
clcdd_status clcdd_gemm_own_tiles(clcdd_ctx *ctx, const clcdd_gemm_args *g,
                                  const clcdd_gemm_params *p, int bpack, clcdd_matrix b,
                                  size_t stride_b);
/* The own kernel's parameters for this shape: from the tuning record, else device defaults. */
clcdd_gemm_params clcdd_gemm_own_params(clcdd_ctx *ctx, const clcdd_gemm_args *a);
/* Defaults from the device's capability record alone. */
clcdd_gemm_params clcdd_gemm_default_params(const clcdd_device_info *dev);
/* Build options selecting one variant of kernels/gemm_tiled.cl. */
void clcdd_gemm_options(const clcdd_gemm_params *p, int ta, int apack, int bpack, char *buf,
                        size_t cap);

clcdd_status clcdd_gemm_reference(clcdd_ctx *ctx, const clcdd_gemm_args *g);
clcdd_status clcdd_gemm_own(clcdd_ctx *ctx, const clcdd_gemm_args *g);
void clcdd_gemm_own_free(clcdd_gemm_state *g);
/* Which backend serves this shape on this device (self-check already ran). */
clcdd_gemm_backend clcdd_gemm_own_choose(clcdd_ctx *ctx, clcdd_gemm_state *g,
                                         const clcdd_gemm_args *a);
/* One problem (operands with padding and offset `off`, alpha 0.75) through `backend` and through
 * the reference kernel; *max_err = max |c - ref| / (1 + |ref|). */
clcdd_status clcdd_gemm_compare_one(clcdd_ctx *ctx, clcdd_gemm_backend backend, int ta, int tb,
                                    size_t m, size_t n, size_t k, size_t off, float beta,
                                    double *max_err);
/* Compare a backend with the reference on the self-check problems; *worst = max rel. error. */
clcdd_status clcdd_gemm_check_backend(clcdd_ctx *ctx, clcdd_gemm_backend backend, double *worst);

#endif
