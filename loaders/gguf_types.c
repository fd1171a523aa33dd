/* ggml tensor type table: names, block sizes and bytes per block (ggml's type_traits). */
#include "clcdd/gguf.h"

static const struct {
    const char *name;
    uint32_t block, size;
} type_table[CLCDD_GGML_TYPE_COUNT_] = {
    [CLCDD_GGML_F32] = {"F32", 1, 4},         [CLCDD_GGML_F16] = {"F16", 1, 2},
    [CLCDD_GGML_Q4_0] = {"Q4_0", 32, 18},     [CLCDD_GGML_Q4_1] = {"Q4_1", 32, 20},
    [CLCDD_GGML_Q5_0] = {"Q5_0", 32, 22},     [CLCDD_GGML_Q5_1] = {"Q5_1", 32, 24},
    [CLCDD_GGML_Q8_0] = {"Q8_0", 32, 34},     [CLCDD_GGML_Q8_1] = {"Q8_1", 32, 36},
    [CLCDD_GGML_Q2_K] = {"Q2_K", 256, 84},    [CLCDD_GGML_Q3_K] = {"Q3_K", 256, 110},
    [CLCDD_GGML_Q4_K] = {"Q4_K", 256, 144},   [CLCDD_GGML_Q5_K] = {"Q5_K", 256, 176},
    [CLCDD_GGML_Q6_K] = {"Q6_K", 256, 210},   [CLCDD_GGML_Q8_K] = {"Q8_K", 256, 292},
    [CLCDD_GGML_IQ2_XXS] = {"IQ2_XXS", 256, 66}, [CLCDD_GGML_IQ2_XS] = {"IQ2_XS", 256, 74},
    [CLCDD_GGML_IQ3_XXS] = {"IQ3_XXS", 256, 98}, [CLCDD_GGML_IQ1_S] = {"IQ1_S", 256, 50},
    [CLCDD_GGML_IQ4_NL] = {"IQ4_NL", 32, 18}, [CLCDD_GGML_IQ3_S] = {"IQ3_S", 256, 110},
    [CLCDD_GGML_IQ2_S] = {"IQ2_S", 256, 82},  [CLCDD_GGML_IQ4_XS] = {"IQ4_XS", 256, 136},
    [CLCDD_GGML_I8] = {"I8", 1, 1},           [CLCDD_GGML_I16] = {"I16", 1, 2},
    [CLCDD_GGML_I32] = {"I32", 1, 4},         [CLCDD_GGML_I64] = {"I64", 1, 8},
    [CLCDD_GGML_F64] = {"F64", 1, 8},         [CLCDD_GGML_IQ1_M] = {"IQ1_M", 256, 56},
    [CLCDD_GGML_BF16] = {"BF16", 1, 2},       [CLCDD_GGML_TQ1_0] = {"TQ1_0", 256, 54},
    [CLCDD_GGML_TQ2_0] = {"TQ2_0", 256, 66},  [CLCDD_GGML_MXFP4] = {"MXFP4", 32, 17},
};

const char *clcdd_ggml_type_name(uint32_t type) {
    if (type >= CLCDD_GGML_TYPE_COUNT_ || !type_table[type].name) return "?";
    return type_table[type].name;
}
uint32_t clcdd_ggml_block_size(uint32_t type) {
    return type < CLCDD_GGML_TYPE_COUNT_ ? type_table[type].block : 0;
}
uint32_t clcdd_ggml_type_size(uint32_t type) {
    return type < CLCDD_GGML_TYPE_COUNT_ ? type_table[type].size : 0;
}
int clcdd_ggml_can_dequantize(uint32_t type) {
    switch (type) {
    case CLCDD_GGML_F32: case CLCDD_GGML_F16: case CLCDD_GGML_BF16: case CLCDD_GGML_Q4_0:
    case CLCDD_GGML_Q4_1: case CLCDD_GGML_Q5_0: case CLCDD_GGML_Q5_1: case CLCDD_GGML_Q8_0:
    case CLCDD_GGML_Q4_K: case CLCDD_GGML_Q6_K:
        return 1;
    default:
        return 0;
    }
}
