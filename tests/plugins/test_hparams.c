/* Probe/selection and read_hparams of the family plugins on config.json fixtures
 * (tests/fixtures/plugins/configs) and on GGUF-style metadata tables; tensor name mapping. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "plugin_test_util.h"

static clcdd_plugin_registry *reg;
static void setup(void) { reg = pt_registry(); }
static void teardown(void) { clcdd_plugin_registry_destroy(reg); }
TestSuite(hparams, .init = setup, .fini = teardown);

#define FEQ(a, b) cr_assert(fabs((double)(a) - (double)(b)) <= 1e-6 * fabs((double)(b)), \
                            "%s = %g, want %g", #a, (double)(a), (double)(b))

Test(hparams, smollm2) {
    clcdd_hparams hp;
    const clcdd_plugin *p = pt_hparams(reg, "configs/smollm2-135m-instruct", &hp);
    cr_assert_str_eq(p->name, "llama");
    cr_assert_str_eq(hp.family, "llama");
    cr_assert_str_eq(hp.architecture, "LlamaForCausalLM");
    cr_assert_eq(hp.vocab_size, 49152);
    cr_assert_eq(hp.hidden_size, 576);
    cr_assert_eq(hp.intermediate_size, 1536);
    cr_assert_eq(hp.n_layers, 30);
    cr_assert_eq(hp.n_heads, 9);
    cr_assert_eq(hp.n_kv_heads, 3);
    cr_assert_eq(hp.head_dim, 64); /* d / H */
    FEQ(hp.rms_eps, 1e-5);
    FEQ(hp.rope_theta, 100000);
    cr_assert_eq(hp.rope_scaling, CLCDD_ROPE_SCALING_NONE);
    cr_assert_eq(hp.tie_word_embeddings, 1);
    cr_assert_eq(hp.qkv_bias + hp.o_bias + hp.mlp_bias + hp.qk_norm, 0);
    cr_assert_eq(hp.sliding_window, 0);
    cr_assert_eq(hp.bos_id, 1);
    cr_assert_eq(hp.pad_id, 2);
    cr_assert_eq(hp.n_eos, 1);
    cr_assert_eq(hp.eos_ids[0], 2);
    cr_assert_eq(hp.add_bos, 0, "SmolLM2's tokenizer adds no BOS");
    cr_assert_eq(hp.chat_format, CLCDD_CHAT_NONE, "no tokenizer_config.json: no template");
}

Test(hparams, tinyllama_defaults) {
    clcdd_hparams hp;
    pt_hparams(reg, "configs/tinyllama-chat", &hp);
    cr_assert_eq(hp.n_kv_heads, 4);
    cr_assert_eq(hp.head_dim, 64);
    cr_assert_eq(hp.tie_word_embeddings, 0);
    cr_assert_eq(hp.add_bos, 1);
    cr_assert_eq(hp.max_position_embeddings, 2048);
}

Test(hparams, llama32_rope_llama3_and_eos_list) {
    clcdd_hparams hp;
    pt_hparams(reg, "configs/llama3.2-1b-instruct", &hp);
    cr_assert_eq(hp.rope_scaling, CLCDD_ROPE_SCALING_LLAMA3);
    FEQ(hp.rope_factor, 32);
    FEQ(hp.rope_low_freq_factor, 1);
    FEQ(hp.rope_high_freq_factor, 4);
    cr_assert_eq(hp.rope_original_max_pos, 8192);
    FEQ(hp.rope_theta, 500000);
    cr_assert_eq(hp.n_eos, 3, "generation_config ids merged without duplicates");
    cr_assert_eq(hp.eos_ids[0], 128001);
    cr_assert_eq(hp.eos_ids[1], 128008);
    cr_assert_eq(hp.eos_ids[2], 128009);
    cr_assert_eq(hp.bos_id, 128000);
    cr_assert_eq(hp.add_bos, 1, "Llama 3 adds BOS through its post-processor");
    cr_assert_eq(hp.tie_word_embeddings, 1);
}

Test(hparams, llama_linear_scaling_biases_and_tokenizer_config) {
    clcdd_hparams hp;
    pt_hparams(reg, "configs/llama-linear-bias", &hp);
    cr_assert_eq(hp.rope_scaling, CLCDD_ROPE_SCALING_LINEAR, "older 'type' key");
    FEQ(hp.rope_factor, 2);
    FEQ(hp.rope_theta, 10000); /* default */
    FEQ(hp.rms_eps, 1e-6);
    cr_assert_eq(hp.n_kv_heads, 4, "absent num_key_value_heads => H");
    cr_assert_eq(hp.head_dim, 16);
    cr_assert_eq(hp.qkv_bias, 1);
    cr_assert_eq(hp.o_bias, 1);
    cr_assert_eq(hp.mlp_bias, 1);
    cr_assert_eq(hp.bos_id, -1, "null => none");
    cr_assert_eq(hp.pad_id, -1);
    cr_assert_eq(hp.n_eos, 2);
    cr_assert_eq(hp.eos_ids[0], 7);
    cr_assert_eq(hp.eos_ids[1], 9);
    cr_assert_eq(hp.add_bos, 0, "tokenizer_config.json add_bos_token wins");
}

Test(hparams, llama_rope_parameters_v5) {
    clcdd_hparams hp;
    pt_hparams(reg, "configs/llama-v5-rope-parameters", &hp);
    FEQ(hp.rope_theta, 500000);
    cr_assert_eq(hp.rope_scaling, CLCDD_ROPE_SCALING_LLAMA3);
    FEQ(hp.rope_factor, 8);
    cr_assert_eq(hp.rope_original_max_pos, 8192);
}

Test(hparams, mistral_window_all_layers) {
    clcdd_hparams hp;
    const clcdd_plugin *p = pt_hparams(reg, "configs/mistral-7b-v0.1", &hp);
    cr_assert_str_eq(p->name, "mistral");
    cr_assert_eq(hp.sliding_window, 4096);
    cr_assert_eq(hp.sliding_window_from_layer, 0);
    cr_assert_eq(hp.head_dim, 128);
    cr_assert_eq(hp.qkv_bias + hp.o_bias + hp.mlp_bias, 0);
    cr_assert_eq(hp.add_bos, 1);
}

Test(hparams, model_type_only) {
    clcdd_hparams hp;
    const clcdd_plugin *p = pt_hparams(reg, "configs/model-type-only", &hp);
    cr_assert_str_eq(p->name, "mistral");
    cr_assert_str_eq(hp.architecture, "mistral");
    cr_assert_eq(hp.sliding_window, 0, "null window");
}

Test(hparams, qwen25_implicit_bias) {
    clcdd_hparams hp;
    const clcdd_plugin *p = pt_hparams(reg, "configs/qwen2.5-0.5b-instruct", &hp);
    cr_assert_str_eq(p->name, "qwen");
    cr_assert_eq(hp.qkv_bias, 1, "Qwen2: q/k/v biases without a flag");
    cr_assert_eq(hp.o_bias, 0);
    cr_assert_eq(hp.qk_norm, 0);
    cr_assert_eq(hp.sliding_window, 0, "use_sliding_window false");
    cr_assert_eq(hp.head_dim, 64);
    cr_assert_eq(hp.n_eos, 2);
    cr_assert_eq(hp.eos_ids[0], 151645);
    cr_assert_eq(hp.eos_ids[1], 151643);
    cr_assert_eq(hp.pad_id, 151643, "from generation_config.json");
    cr_assert_eq(hp.add_bos, 0);
}

Test(hparams, qwen2_sliding_window_layers) {
    clcdd_hparams hp;
    pt_hparams(reg, "configs/qwen2-sliding", &hp);
    cr_assert_eq(hp.sliding_window, 128);
    cr_assert_eq(hp.sliding_window_from_layer, 2);
}

Test(hparams, qwen3_explicit_head_dim) {
    clcdd_hparams hp;
    pt_hparams(reg, "configs/qwen3-0.6b", &hp);
    cr_assert_eq(hp.head_dim, 128);
    cr_assert_neq(hp.head_dim * hp.n_heads, hp.hidden_size, "H*hd != d is legal");
    cr_assert_eq(hp.qk_norm, 1);
    cr_assert_eq(hp.qkv_bias + hp.o_bias, 0);
    cr_assert_eq(hp.tie_word_embeddings, 1);
    cr_assert_eq(hp.bos_id, 151643);
}

Test(hparams, qwen3_rope_parameters_and_bias_flag) {
    clcdd_hparams hp;
    pt_hparams(reg, "configs/qwen3-v5-rope-parameters", &hp);
    FEQ(hp.rope_theta, 1e6);
    cr_assert_eq(hp.rope_scaling, CLCDD_ROPE_SCALING_NONE);
    cr_assert_eq(hp.n_kv_heads, 4, "null num_key_value_heads => H");
    cr_assert_eq(hp.head_dim, 32);
    cr_assert_eq(hp.qkv_bias, 1);
    cr_assert_eq(hp.o_bias, 1);
}

Test(hparams, unknown_architecture_lists_supported) {
    clcdd_config_view *v = pt_open("configs/gemma2");
    const clcdd_plugin *p = (const clcdd_plugin *)1;
    clcdd_status st = clcdd_plugin_registry_select(reg, v, "gemma2", &p);
    cr_assert_eq(st, CLCDD_ERR_UNSUPPORTED);
    cr_assert_null(p);
    const char *m = clcdd_last_error();
    cr_assert(strstr(m, "Gemma2ForCausalLM"), "%s", m);
    const char *want[] = {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM",
                          "Qwen3ForCausalLM", "qwen3", NULL};
    for (const char **w = want; *w; w++) cr_assert(strstr(m, *w), "'%s' not in: %s", *w, m);
    clcdd_config_view_close(v);
}

Test(hparams, no_plugins_says_so) {
    clcdd_plugin_registry *empty;
    PT_OK(clcdd_plugin_registry_create(0, &empty));
    clcdd_config_view *v = pt_open("configs/qwen3-0.6b");
    const clcdd_plugin *p;
    cr_assert_eq(clcdd_plugin_registry_select(empty, v, NULL, &p), CLCDD_ERR_UNSUPPORTED);
    cr_assert(strstr(clcdd_last_error(), "no model-family plugins"), "%s", clcdd_last_error());
    clcdd_config_view_close(v);
    clcdd_plugin_registry_destroy(empty);
}

static void expect_fail(const char *sub, const char *needle) {
    clcdd_config_view *v = pt_open(sub);
    clcdd_hparams hp;
    clcdd_status st = clcdd_plugin_registry_read_hparams(reg, v, sub, NULL, &hp);
    cr_assert_eq(st, CLCDD_ERR_FORMAT, "%s: %s", sub, clcdd_last_error());
    cr_assert(strstr(clcdd_last_error(), needle), "'%s' not in: %s", needle, clcdd_last_error());
    cr_assert(strstr(clcdd_last_error(), sub), "source not named: %s", clcdd_last_error());
    clcdd_config_view_close(v);
}

Test(hparams, errors_name_the_field) {
    expect_fail("configs/llama-missing-hidden", "hidden_size");
    expect_fail("configs/llama-bad-rope", "longrope");
    expect_fail("configs/llama-bad-gqa", "key/value heads");
}

Test(hparams, hf_view_keys) {
    clcdd_config_view *v = pt_open("configs/llama3.2-1b-instruct");
    int64_t ids[8];
    size_t n = 0;
    cr_assert(v->get_int_array(v->self, "eos_token_id", ids, 8, &n));
    cr_assert_eq(n, 3);
    cr_assert_eq(ids[2], 128009);
    cr_assert(v->get_int_array(v->self, "eos_token_id", ids, 1, &n), "short buffer");
    cr_assert_eq(n, 3);
    const char *s;
    cr_assert(v->get_string(v->self, "rope_scaling.rope_type", &s));
    cr_assert_str_eq(s, "llama3");
    cr_assert(v->get_string(v->self, "architectures.0", &s));
    cr_assert_str_eq(s, "LlamaForCausalLM");
    cr_assert_not(v->get_string(v->self, "architectures.1", &s));
    double x;
    cr_assert(v->get_float(v->self, "num_hidden_layers", &x), "ints satisfy get_float");
    int64_t i;
    cr_assert_not(v->get_int(v->self, "rope_theta", &i), "a real is not an int");
    int b;
    cr_assert(v->get_bool(v->self, "generation.do_sample", &b));
    cr_assert_eq(b, 1);
    cr_assert_not(v->get_string(v->self, "chat_template", &s));
    clcdd_config_view_close(v);
    v = pt_open("configs/qwen3-0.6b/config.json"); /* a file path works too */
    cr_assert_not(v->get_int(v->self, "sliding_window", &i), "null is absent");
    clcdd_config_view_close(v);
}

Test(hparams, hf_view_errors) {
    clcdd_config_view *v = NULL;
    cr_assert_eq(clcdd_config_view_open_hf(CLCDD_TEST_DATA "/fixtures/plugins/nonexistent", &v),
                 CLCDD_ERR_IO);
    cr_assert(strstr(clcdd_last_error(), "config.json"), "%s", clcdd_last_error());
    cr_assert_null(v);
}

/* ---- GGUF metadata through a table view ---- */

static clcdd_config_view *gguf_view(const char *arch) {
    clcdd_config_view *v;
    PT_OK(clcdd_config_view_create_table(CLCDD_SOURCE_GGUF, &v));
    char k[128];
    PT_OK(clcdd_config_view_set_string(v, "general.architecture", arch, strlen(arch)));
#define SETI(suffix, x) (snprintf(k, sizeof k, "%s." suffix, arch), clcdd_config_view_set_int(v, k, x))
    PT_OK(SETI("embedding_length", 576));
    PT_OK(SETI("feed_forward_length", 1536));
    PT_OK(SETI("block_count", 30));
    PT_OK(SETI("attention.head_count", 9));
    PT_OK(SETI("attention.head_count_kv", 3));
    PT_OK(SETI("context_length", 8192));
    snprintf(k, sizeof k, "%s.attention.layer_norm_rms_epsilon", arch);
    PT_OK(clcdd_config_view_set_float(v, k, 1e-5));
    snprintf(k, sizeof k, "%s.rope.freq_base", arch);
    PT_OK(clcdd_config_view_set_float(v, k, 100000));
#undef SETI
    PT_OK(clcdd_config_view_set_array_length(v, "tokenizer.ggml.tokens", 49152));
    PT_OK(clcdd_config_view_set_int(v, "tokenizer.ggml.bos_token_id", 1));
    PT_OK(clcdd_config_view_set_int(v, "tokenizer.ggml.eos_token_id", 2));
    return v;
}

Test(hparams, gguf_llama_unpermute) {
    clcdd_config_view *v = gguf_view("llama");
    PT_OK(clcdd_config_view_set_string(v, "tokenizer.ggml.pre", "smollm", 6));
    const char *tmpl = "{% for message in messages %}<|im_start|>... You are a helpful AI assistant "
                       "named SmolLM, trained by Hugging Face";
    PT_OK(clcdd_config_view_set_string(v, "tokenizer.chat_template", tmpl, strlen(tmpl)));
    clcdd_hparams hp;
    const clcdd_plugin *p;
    PT_OK(clcdd_plugin_registry_read_hparams(reg, v, "smollm2.gguf", &p, &hp));
    cr_assert_str_eq(p->name, "llama");
    cr_assert_str_eq(hp.architecture, "llama");
    cr_assert_eq(hp.vocab_size, 49152, "from the token list's length");
    cr_assert_eq(hp.head_dim, 64);
    FEQ(hp.rope_theta, 100000);
    cr_assert_eq(hp.add_bos, 0, "pre-tokenizer smollm");
    cr_assert_eq(hp.chat_format, CLCDD_CHAT_CHATML);
    cr_assert_str_eq(hp.default_system,
                     "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
    clcdd_tensor_mapping m;
    cr_assert_eq(p->map_tensor(&hp, CLCDD_SOURCE_GGUF, CLCDD_ROLE_Q, 3, &m), 0);
    cr_assert_str_eq(m.name, "blk.3.attn_q.weight");
    cr_assert_eq(m.transform, CLCDD_TRANSFORM_UNPERMUTE_ROTARY);
    cr_assert_eq(m.transform_heads, 9);
    cr_assert_eq(p->map_tensor(&hp, CLCDD_SOURCE_GGUF, CLCDD_ROLE_K, 0, &m), 0);
    cr_assert_str_eq(m.name, "blk.0.attn_k.weight");
    cr_assert_eq(m.transform_heads, 3);
    cr_assert_eq(p->map_tensor(&hp, CLCDD_SOURCE_GGUF, CLCDD_ROLE_V, 0, &m), 0);
    cr_assert_eq(m.transform, CLCDD_TRANSFORM_NONE);
    cr_assert_eq(p->map_tensor(&hp, CLCDD_SOURCE_GGUF, CLCDD_ROLE_LM_HEAD, 0, &m), 0);
    cr_assert_str_eq(m.name, "output.weight");
    cr_assert_eq(m.optional, 1, "absent output.weight = tied");
    cr_assert_eq(p->map_tensor(&hp, CLCDD_SOURCE_GGUF, CLCDD_ROLE_FFN_NORM, 29, &m), 0);
    cr_assert_str_eq(m.name, "blk.29.ffn_norm.weight");
    cr_assert_lt(p->map_tensor(&hp, CLCDD_SOURCE_GGUF, CLCDD_ROLE_FFN_NORM, 30, &m), 0);
    cr_assert_eq(p->map_tensor(&hp, CLCDD_SOURCE_GGUF, CLCDD_ROLE_Q_BIAS, 0, &m), 1);
    clcdd_config_view_close(v);
}

Test(hparams, gguf_mistral_by_name_else_llama) {
    clcdd_config_view *v = gguf_view("llama");
    const clcdd_plugin *p;
    PT_OK(clcdd_plugin_registry_select(reg, v, NULL, &p));
    cr_assert_str_eq(p->name, "llama");
    PT_OK(clcdd_config_view_set_string(v, "general.name", "Mistral-7B-Instruct-v0.2", 24));
    PT_OK(clcdd_plugin_registry_select(reg, v, NULL, &p));
    cr_assert_str_eq(p->name, "mistral");
    clcdd_hparams hp;
    PT_OK(clcdd_plugin_registry_read_hparams(reg, v, NULL, NULL, &hp));
    cr_assert_str_eq(hp.family, "mistral");
    cr_assert_eq(hp.add_bos, 1);
    clcdd_tensor_mapping m;
    cr_assert_eq(p->map_tensor(&hp, CLCDD_SOURCE_GGUF, CLCDD_ROLE_Q, 0, &m), 0);
    cr_assert_eq(m.transform, CLCDD_TRANSFORM_UNPERMUTE_ROTARY, "still a llama GGUF");
    clcdd_config_view_close(v);
}

Test(hparams, gguf_qwen3_no_permutation) {
    clcdd_config_view *v = gguf_view("qwen3");
    PT_OK(clcdd_config_view_set_int(v, "qwen3.attention.key_length", 128));
    PT_OK(clcdd_config_view_set_int(v, "qwen3.vocab_size", 151936));
    int64_t eot = 151645;
    PT_OK(clcdd_config_view_set_int_array(v, "tokenizer.ggml.eot_token_id", &eot, 1));
    clcdd_hparams hp;
    const clcdd_plugin *p;
    PT_OK(clcdd_plugin_registry_read_hparams(reg, v, NULL, &p, &hp));
    cr_assert_str_eq(p->name, "qwen");
    cr_assert_eq(hp.head_dim, 128);
    cr_assert_eq(hp.vocab_size, 151936);
    cr_assert_eq(hp.qk_norm, 1);
    cr_assert_eq(hp.n_eos, 2);
    cr_assert_eq(hp.add_bos, 0);
    clcdd_tensor_mapping m;
    cr_assert_eq(p->map_tensor(&hp, CLCDD_SOURCE_GGUF, CLCDD_ROLE_Q, 1, &m), 0);
    cr_assert_eq(m.transform, CLCDD_TRANSFORM_NONE);
    cr_assert_eq(p->map_tensor(&hp, CLCDD_SOURCE_GGUF, CLCDD_ROLE_K_NORM, 1, &m), 0);
    cr_assert_str_eq(m.name, "blk.1.attn_k_norm.weight");
    clcdd_config_view_close(v);
}

Test(hparams, gguf_qwen2_bias) {
    clcdd_config_view *v = gguf_view("qwen2");
    clcdd_hparams hp;
    const clcdd_plugin *p;
    PT_OK(clcdd_plugin_registry_read_hparams(reg, v, NULL, &p, &hp));
    clcdd_tensor_mapping m;
    cr_assert_eq(p->map_tensor(&hp, CLCDD_SOURCE_GGUF, CLCDD_ROLE_Q_BIAS, 0, &m), 0);
    cr_assert_str_eq(m.name, "blk.0.attn_q.bias");
    cr_assert_eq(p->map_tensor(&hp, CLCDD_SOURCE_GGUF, CLCDD_ROLE_O_BIAS, 0, &m), 1);
    clcdd_config_view_close(v);
}

Test(hparams, gguf_unknown_arch) {
    clcdd_config_view *v = gguf_view("gemma3");
    const clcdd_plugin *p;
    cr_assert_eq(clcdd_plugin_registry_select(reg, v, "g.gguf", &p), CLCDD_ERR_UNSUPPORTED);
    cr_assert(strstr(clcdd_last_error(), "'gemma3'"), "%s", clcdd_last_error());
    clcdd_config_view_close(v);
}

Test(hparams, hf_tensor_names) {
    clcdd_hparams hp;
    const clcdd_plugin *p = pt_hparams(reg, "configs/qwen3-0.6b", &hp);
    clcdd_tensor_mapping m;
    struct { clcdd_tensor_role r; uint32_t l; int rc; const char *name; } cases[] = {
        {CLCDD_ROLE_EMBED, 0, 0, "model.embed_tokens.weight"},
        {CLCDD_ROLE_FINAL_NORM, 0, 0, "model.norm.weight"},
        {CLCDD_ROLE_LM_HEAD, 0, 1, NULL}, /* tied */
        {CLCDD_ROLE_ATTN_NORM, 2, 0, "model.layers.2.input_layernorm.weight"},
        {CLCDD_ROLE_Q, 27, 0, "model.layers.27.self_attn.q_proj.weight"},
        {CLCDD_ROLE_Q_NORM, 0, 0, "model.layers.0.self_attn.q_norm.weight"},
        {CLCDD_ROLE_K_NORM, 0, 0, "model.layers.0.self_attn.k_norm.weight"},
        {CLCDD_ROLE_Q_BIAS, 0, 1, NULL},
        {CLCDD_ROLE_FFN_NORM, 1, 0, "model.layers.1.post_attention_layernorm.weight"},
        {CLCDD_ROLE_DOWN, 1, 0, "model.layers.1.mlp.down_proj.weight"},
        {CLCDD_ROLE_DOWN_BIAS, 1, 1, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = p->map_tensor(&hp, CLCDD_SOURCE_HF, cases[i].r, cases[i].l, &m);
        cr_assert_eq(rc, cases[i].rc, "role %d", (int)cases[i].r);
        if (!rc) {
            cr_assert_str_eq(m.name, cases[i].name);
            cr_assert_eq(m.transform, CLCDD_TRANSFORM_NONE);
        }
    }
    cr_assert_lt(p->map_tensor(&hp, CLCDD_SOURCE_HF, CLCDD_ROLE_COUNT, 0, &m), 0);
    cr_assert_lt(p->map_tensor(&hp, CLCDD_SOURCE_HF, CLCDD_ROLE_Q, 28, &m), 0);
    pt_hparams(reg, "configs/qwen2.5-0.5b-instruct", &hp);
    cr_assert_eq(p->map_tensor(&hp, CLCDD_SOURCE_HF, CLCDD_ROLE_V_BIAS, 0, &m), 0);
    cr_assert_str_eq(m.name, "model.layers.0.self_attn.v_proj.bias");
    cr_assert_eq(p->map_tensor(&hp, CLCDD_SOURCE_HF, CLCDD_ROLE_O_BIAS, 0, &m), 1);
    cr_assert_eq(p->map_tensor(&hp, CLCDD_SOURCE_HF, CLCDD_ROLE_Q_NORM, 0, &m), 1);
    pt_hparams(reg, "configs/tinyllama-chat", &hp);
    cr_assert_eq(p->map_tensor(&hp, CLCDD_SOURCE_HF, CLCDD_ROLE_LM_HEAD, 0, &m), 0);
    cr_assert_str_eq(m.name, "lm_head.weight");
}
