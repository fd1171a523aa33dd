/* libFuzzer target: config.json parsing on arbitrary bytes, plus the generic getters. */
#include <stdint.h>
#include <stdlib.h>

#include "clcdd/hf_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    clcdd_hf_config c;
    if (clcdd_hf_config_parse((const char *)data, size, "fuzz", &c) != CLCDD_OK) return 0;
    if (c.num_attention_heads % c.num_key_value_heads != 0 || c.head_dim <= 0) abort();
    static const char *paths[] = {"rope_scaling.factor", "torch_dtype", "a.b.c", "", "eos_token_id"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        int64_t v;
        double d;
        int b;
        const char *s;
        char *js = NULL;
        clcdd_hf_config_get_int(&c, paths[i], &v);
        clcdd_hf_config_get_number(&c, paths[i], &d);
        clcdd_hf_config_get_bool(&c, paths[i], &b);
        clcdd_hf_config_get_string(&c, paths[i], &s);
        if (clcdd_hf_config_get_json(&c, paths[i], &js) == CLCDD_OK) free(js);
    }
    clcdd_hf_config_free(&c);
    return 0;
}
