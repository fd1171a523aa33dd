/* Evaluation helpers (ALGORITHMS.md §5): the teacher-forced KL benchmark. */
#ifndef CLCDD_ALGO_EVAL_H
#define CLCDD_ALGO_EVAL_H

#include "algo/eraser.h"

/* Mean over prompts of the mean over response tokens of KL(teacher || student), teacher-forcing
 * each pool prompt followed by its answer (pool->answer, incl. EOS). The student may carry a soft
 * prompt (prompt_rows x d, placed by trigger_pos, algo/eraser.h; NULL for none). */
clcdd_status clcdd_kl_benchmark(clcdd_ctx *ctx, const clcdd_model *teacher,
                                const clcdd_model *student, const clcdd_tensor *soft_prompt,
                                size_t prompt_rows, int32_t trigger_pos,
                                const clcdd_prompt_pool *pool, double *kl);

#endif
