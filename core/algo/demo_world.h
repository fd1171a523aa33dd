/* The demo world: a deterministic synthetic task family a tiny LLaMA-architecture model learns on
 * two CPU cores (see docs/demo-world.md and DEMO-WORLD.md in the design notes).
 *
 * Tasks (prompt -> answer):
 *   reverse: kqzm      -> mzqk       (3-6 lowercase letters)
 *   sort: 3 9 1        -> 1 3 9      (3-5 digits)
 *   upper: abc         -> ABC        (3-6 lowercase letters)
 *   add: 12+7          -> 19         (operands 0-99)
 *   echo: Hi, it's ok. -> Hi, it's ok.  (pre-training only: teaches every byte of the fixed
 *                                         response "I don't know." to the base model)
 * Tokens: bytes 0-255 are themselves; 256 <bos>, 257 <eos>, 258 <user>, 259 <assistant>,
 * 260 <pad>; V = 264 (261-263 unused). A sample is <bos><user>PROMPT<assistant>ANSWER<eos>.
 * Held-out prompts: a prompt is held out iff a hash of its text says so (about 1 in 8), so no
 * training draw ever produces one. */
#ifndef CLCDD_ALGO_DEMO_WORLD_H
#define CLCDD_ALGO_DEMO_WORLD_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd/model.h"

enum {
    CLCDD_DEMO_BOS = 256,
    CLCDD_DEMO_EOS = 257,
    CLCDD_DEMO_USER = 258,
    CLCDD_DEMO_ASSISTANT = 259,
    CLCDD_DEMO_PAD = 260,
    CLCDD_DEMO_VOCAB = 264
};

typedef enum clcdd_demo_task {
    CLCDD_TASK_REVERSE = 0,
    CLCDD_TASK_SORT = 1,
    CLCDD_TASK_UPPER = 2,
    CLCDD_TASK_ADD = 3,
    CLCDD_TASK_ECHO = 4,
    CLCDD_TASK_COUNT
} clcdd_demo_task;

#define CLCDD_DEMO_TEXT_MAX 48

typedef struct clcdd_demo_sample {
    clcdd_demo_task task;
    char prompt[CLCDD_DEMO_TEXT_MAX];
    char answer[CLCDD_DEMO_TEXT_MAX];
} clcdd_demo_sample;

const char *clcdd_demo_task_name(clcdd_demo_task task);

/* Draw sample number `index` of the stream `seed`. held_out = 0 draws only training prompts,
 * 1 only held-out prompts. echo_share: probability (0..1) of the echo task; the other four share
 * the rest equally. Deterministic in (seed, index, held_out, echo_share). */
void clcdd_demo_draw(uint64_t seed, uint64_t index, int held_out, float echo_share,
                     clcdd_demo_sample *out);

/* 1 if the prompt belongs to the held-out split. */
int clcdd_demo_is_held_out(const char *prompt);

/* The demo world's model shape: d 128, 4 layers, 4 query / 2 kv heads, d_ff 344, V 264, untied,
 * RoPE theta 10000, eps 1e-5, chat format DEMO. */
void clcdd_demo_hparams(clcdd_hparams *hp);

/* Tokenize <bos><user>prompt<assistant>[answer<eos>] into ids (cap entries); returns the length,
 * and *answer_start = index of the first answer token. answer may be NULL (generation prompt). */
size_t clcdd_demo_encode(const char *prompt, const char *answer, int32_t *ids, size_t cap,
                         size_t *answer_start);

/* The fixed response of the demo world's SFT behaviour. */
#define CLCDD_DEMO_IDK "I don't know."

#endif
