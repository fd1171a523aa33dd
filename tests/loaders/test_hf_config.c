/* config.json: the released configs of the reference models (FORMATS.md §5) and edge cases. */
#include <criterion/criterion.h>

#include "clcdd/hf_config.h"
#include "loader_test_util.h"

#define CONFIGS CLCDD_TEST_DATA "/fixtures/configs"

static clcdd_hf_config load(const char *path) {
    clcdd_hf_config c;
    clcdd_status s = clcdd_hf_config_load(path, &c);
    cr_assert_eq(s, CLCDD_OK, "%s: %s", path, clcdd_last_error());
    return c;
}

static clcdd_status parse(const char *json, clcdd_hf_config *c) {
    return clcdd_hf_config_parse(json, strlen(json), "test.json", c);
}

Test(hf_config, smollm2) {
    clcdd_hf_config c = load(CONFIGS "/smollm2-135m-instruct.json");
    cr_assert_eq(c.arch, CLCDD_HF_ARCH_LLAMA);
    cr_assert_str_eq(c.architecture, "LlamaForCausalLM");
    cr_assert_str_eq(c.model_type, "llama");
    cr_assert(c.vocab_size == 49152 && c.hidden_size == 576 && c.intermediate_size == 1536);
    cr_assert(c.num_hidden_layers == 30 && c.num_attention_heads == 9 && c.num_key_value_heads == 3);
    cr_assert_eq(c.head_dim, 64);
    cr_assert_eq(c.rms_norm_eps, 1e-5);
    cr_assert_eq(c.rope_theta, 100000.0);
    cr_assert_eq(c.rope_scaling.type, CLCDD_ROPE_NONE);
    cr_assert_eq(c.max_position_embeddings, 8192);
    cr_assert(c.tie_word_embeddings && !c.attention_bias && !c.mlp_bias && !c.qkv_bias && !c.qk_norm);
    cr_assert(c.bos_token_id == 1 && c.n_eos == 1 && c.eos_token_ids[0] == 2 && c.pad_token_id == 2);
    cr_assert(!c.use_sliding_window && c.sliding_window == 0);
    const char *s;
    cr_assert_eq(clcdd_hf_config_get_string(&c, "torch_dtype", &s), CLCDD_OK);
    cr_assert_str_eq(s, "bfloat16");
    double d;
    cr_assert_eq(clcdd_hf_config_get_number(&c, "initializer_range", &d), CLCDD_OK);
    int b;
    cr_assert_eq(clcdd_hf_config_get_bool(&c, "rope_interleaved", &b), CLCDD_OK);
    cr_assert_eq(b, 0);
    cr_assert_eq(clcdd_hf_config_get_int(&c, "rope_scaling.factor", &(int64_t){0}), CLCDD_ERR_NOT_FOUND);
    cr_assert_eq(clcdd_hf_config_get_int(&c, "torch_dtype", &(int64_t){0}), CLCDD_ERR_FORMAT);
    clcdd_hf_config_free(&c);
}

Test(hf_config, qwen2) {
    clcdd_hf_config c = load(CONFIGS "/qwen2.5-0.5b-instruct.json");
    cr_assert_eq(c.arch, CLCDD_HF_ARCH_QWEN2);
    cr_assert(c.num_attention_heads == 14 && c.num_key_value_heads == 2 && c.head_dim == 64);
    cr_assert(c.qkv_bias && !c.o_bias && !c.qk_norm);
    cr_assert(!c.use_sliding_window && c.sliding_window == 0 && c.max_window_layers == 21);
    cr_assert_eq(c.rope_theta, 1e6);
    cr_assert_eq(c.rms_norm_eps, 1e-6);
    cr_assert(c.eos_token_ids[0] == 151645 && c.pad_token_id == -1);
    clcdd_hf_config_free(&c);
}

Test(hf_config, qwen3_head_dim_explicit) {
    clcdd_hf_config c = load(CONFIGS "/qwen3-0.6b.json");
    cr_assert_eq(c.arch, CLCDD_HF_ARCH_QWEN3);
    cr_assert(c.hidden_size == 1024 && c.num_attention_heads == 16 && c.head_dim == 128);
    cr_assert(c.qk_norm && !c.qkv_bias && !c.o_bias);
    cr_assert_eq(c.max_position_embeddings, 40960);
    clcdd_hf_config_free(&c);
}

Test(hf_config, mistral_window) {
    clcdd_hf_config c = load(CONFIGS "/mistral-7b-v0.1.json");
    cr_assert_eq(c.arch, CLCDD_HF_ARCH_MISTRAL);
    cr_assert(c.use_sliding_window && c.sliding_window == 4096);
    cr_assert(!c.tie_word_embeddings && !c.qkv_bias);
    clcdd_hf_config_free(&c);
    /* v0.2+: null disables it; absent means the class default 4096 */
    const char *v2 = "{\"architectures\":[\"MistralForCausalLM\"],\"vocab_size\":8,\"hidden_size\":8,"
                     "\"intermediate_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":2,"
                     "\"sliding_window\":null}";
    cr_assert_eq(parse(v2, &c), CLCDD_OK);
    cr_assert(!c.use_sliding_window && c.sliding_window == 0);
    cr_assert_eq(c.num_key_value_heads, 2); /* absent => H */
    cr_assert_eq(c.head_dim, 4);
    clcdd_hf_config_free(&c);
}

Test(hf_config, llama3_rope_and_eos_list) {
    clcdd_hf_config c = load(CONFIGS "/llama-3.2-1b.json");
    cr_assert_eq(c.rope_scaling.type, CLCDD_ROPE_LLAMA3);
    cr_assert_eq(c.rope_scaling.factor, 32.0);
    cr_assert(c.rope_scaling.low_freq_factor == 1.0 && c.rope_scaling.high_freq_factor == 4.0);
    cr_assert_eq(c.rope_scaling.original_max_position_embeddings, 8192);
    cr_assert_eq(c.rope_theta, 500000.0);
    cr_assert_eq(c.n_eos, 3u);
    cr_assert(c.eos_token_ids[0] == 128001 && c.eos_token_ids[2] == 128009);
    char *js = NULL;
    cr_assert_eq(clcdd_hf_config_get_json(&c, "rope_scaling", &js), CLCDD_OK);
    cr_assert(strstr(js, "\"llama3\""));
    free(js);
    clcdd_hf_config_free(&c);
}

#define BASE "\"architectures\":[\"LlamaForCausalLM\"],\"vocab_size\":16,\"hidden_size\":8," \
             "\"intermediate_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":2"

Test(hf_config, rope_parameters_v5_and_legacy_type) {
    clcdd_hf_config c;
    cr_assert_eq(parse("{" BASE ",\"rope_parameters\":{\"rope_type\":\"linear\",\"factor\":2.0,"
                       "\"rope_theta\":250000.0}}", &c), CLCDD_OK, "%s", clcdd_last_error());
    cr_assert_eq(c.rope_scaling.type, CLCDD_ROPE_LINEAR);
    cr_assert_eq(c.rope_scaling.factor, 2.0);
    cr_assert_eq(c.rope_theta, 250000.0);
    clcdd_hf_config_free(&c);
    cr_assert_eq(parse("{" BASE ",\"rope_scaling\":{\"type\":\"dynamic\",\"factor\":4}}", &c), CLCDD_OK);
    cr_assert_eq(c.rope_scaling.type, CLCDD_ROPE_DYNAMIC);
    cr_assert_eq(c.rope_theta, 10000.0); /* default */
    clcdd_hf_config_free(&c);
    cr_assert_eq(parse("{" BASE ",\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4,"
                       "\"original_max_position_embeddings\":32768}}", &c), CLCDD_OK);
    cr_assert_eq(c.rope_scaling.type, CLCDD_ROPE_YARN);
    cr_assert_eq(c.rope_scaling.original_max_position_embeddings, 32768);
    clcdd_hf_config_free(&c);
    cr_assert_eq(parse("{" BASE ",\"rope_parameters\":{\"rope_type\":\"default\",\"rope_theta\":5.0}}", &c),
                 CLCDD_OK);
    cr_assert(c.rope_scaling.type == CLCDD_ROPE_NONE && c.rope_theta == 5.0);
    clcdd_hf_config_free(&c);
    cr_assert_eq(parse("{" BASE ",\"rope_scaling\":{\"rope_type\":\"longrope\",\"factor\":4}}", &c),
                 CLCDD_ERR_UNSUPPORTED);
    cr_assert(strstr(clcdd_last_error(), "longrope"));
}

Test(hf_config, refusals) {
    clcdd_hf_config c;
    cr_assert_eq(parse("{\"architectures\":[\"GPT2LMHeadModel\"],\"model_type\":\"gpt2\"}", &c),
                 CLCDD_ERR_UNSUPPORTED);
    cr_assert(strstr(clcdd_last_error(), "GPT2LMHeadModel") &&
              strstr(clcdd_last_error(), "Qwen3ForCausalLM"), "%s", clcdd_last_error());
    cr_assert_eq(parse("{" BASE ",\"num_key_value_heads\":3}", &c), CLCDD_ERR_FORMAT);
    cr_assert(strstr(clcdd_last_error(), "num_key_value_heads"));
    cr_assert_eq(parse("{" BASE ",\"hidden_size\":9}", &c), CLCDD_ERR_FORMAT); /* duplicate key */
    cr_assert_eq(parse("{\"architectures\":[\"LlamaForCausalLM\"],\"vocab_size\":16}", &c), CLCDD_ERR_FORMAT);
    cr_assert(strstr(clcdd_last_error(), "hidden_size"));
    cr_assert_eq(parse("{" BASE ",\"rms_norm_eps\":\"1e-5\"}", &c), CLCDD_ERR_FORMAT);
    cr_assert_eq(parse("{" BASE ",\"tie_word_embeddings\":1}", &c), CLCDD_ERR_FORMAT);
    cr_assert_eq(parse("{" BASE ",\"eos_token_id\":[1,\"2\"]}", &c), CLCDD_ERR_FORMAT);
    cr_assert_eq(parse("[1]", &c), CLCDD_ERR_FORMAT);
    cr_assert_eq(parse("{", &c), CLCDD_ERR_FORMAT);
    cr_assert_eq(parse("{\"architectures\":[\"LlamaForCausalLM\"],\"vocab_size\":16,\"hidden_size\":-8,"
                       "\"intermediate_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":2}", &c),
                 CLCDD_ERR_FORMAT);
    cr_assert_eq(parse("{" BASE ",\"head_dim\":null,\"num_key_value_heads\":null}", &c), CLCDD_OK);
    cr_assert(c.head_dim == 4 && c.num_key_value_heads == 2);
    clcdd_hf_config_free(&c);
    cr_assert_eq(clcdd_hf_config_load("/nonexistent/config.json", &c), CLCDD_ERR_IO);
    /* model_type alone is enough */
    cr_assert_eq(parse("{\"model_type\":\"qwen2\",\"vocab_size\":16,\"hidden_size\":8,"
                       "\"intermediate_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":2}", &c),
                 CLCDD_OK);
    cr_assert_eq(c.arch, CLCDD_HF_ARCH_QWEN2);
    clcdd_hf_config_free(&c);
}
