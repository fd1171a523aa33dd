/* The carrier of an LCDD run as an archive (include/clcdd/carrier.h, docs/archive.md), and
 * applying an archive to its base model. */
#ifndef CLCDD_ALGO_CARRIER_H
#define CLCDD_ALGO_CARRIER_H

#include "algo/lcdd.h"
#include "clcdd/carrier.h"

/* 128-bit FNV-1a fingerprint (32 hex chars + NUL) of a model's hparams and parameters. */
clcdd_status clcdd_model_fingerprint(clcdd_ctx *ctx, const clcdd_model *m, char out[40]);

/* Build the archive of the LCDD state (masks from theta, deltas restricted to the carrier, norm
 * weights). sft_fingerprint may be NULL; train_json may be NULL. Free with clcdd_carrier_free. */
clcdd_status clcdd_lcdd_export(clcdd_lcdd *l, const char *sft_fingerprint, const char *train_json,
                               clcdd_carrier **out);

/* out = the LCDD model: base + carrier deltas, norms from the archive. out must be created with
 * base's hparams. Refuses an archive made for another model (dimensions or base fingerprint). */
clcdd_status clcdd_carrier_apply(clcdd_ctx *ctx, const clcdd_model *base, const clcdd_carrier *c,
                                 clcdd_model *out);

#endif
