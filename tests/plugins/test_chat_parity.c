/* Chat template parity: every flavor's fixture directory (tests/fixtures/plugins/chat/<flavor>,
 * real templates) is opened through the HF config view, the host picks the plugin, and the
 * plugin's rendering of every conversation, with and without add_generation_prompt, must equal
 * transformers' apply_chat_template(tokenize=False) byte for byte
 * (tests/fixtures/plugins/chat_expected.json, made by tests/fixtures/make_chat_fixtures.py).
 * A conversation the template refuses is null there and must be an error here. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_test_util.h"

static const struct {
    const char *flavor, *plugin;
    clcdd_chat_format format;
} expected_format[] = {
    {"smollm2", "llama", CLCDD_CHAT_CHATML},   {"qwen2", "qwen", CLCDD_CHAT_CHATML},
    {"qwen2.5", "qwen", CLCDD_CHAT_CHATML},    {"qwen3", "qwen", CLCDD_CHAT_QWEN3},
    {"llama3", "llama", CLCDD_CHAT_LLAMA3},    {"llama3.2", "llama", CLCDD_CHAT_LLAMA3},
    {"llama2", "llama", CLCDD_CHAT_LLAMA2},    {"mistral", "mistral", CLCDD_CHAT_MISTRAL},
    {"tinyllama", "llama", CLCDD_CHAT_ZEPHYR},
};

static void show_diff(const char *want, const char *got) {
    size_t i = 0;
    while (want[i] && want[i] == got[i]) i++;
    fprintf(stderr, "first difference at byte %zu\n want: ...%.60s\n got:  ...%.60s\n", i,
            want + (i > 10 ? i - 10 : 0), got + (i > 10 ? i - 10 : 0));
}

Test(chat, parity_with_transformers) {
    json_error_t jerr;
    json_t *root = json_load_file(CLCDD_TEST_DATA "/fixtures/plugins/chat_expected.json",
                                  JSON_REJECT_DUPLICATES, &jerr);
    cr_assert_not_null(root, "chat_expected.json: %s (run tests/fixtures/make_chat_fixtures.py)",
                       jerr.text);
    json_t *convs = json_object_get(root, "conversations");
    json_t *flavors = json_object_get(root, "flavors");
    cr_assert(json_array_size(convs) > 0 && json_object_size(flavors) == 9);
    clcdd_plugin_registry *reg = pt_registry();
    size_t compared = 0, refused = 0;
    for (size_t f = 0; f < sizeof expected_format / sizeof expected_format[0]; f++) {
        json_t *fl = json_object_get(flavors, expected_format[f].flavor);
        cr_assert_not_null(fl, "flavor %s missing", expected_format[f].flavor);
        clcdd_hparams hp;
        const clcdd_plugin *p =
            pt_hparams(reg, json_string_value(json_object_get(fl, "dir")), &hp);
        cr_assert_str_eq(p->name, expected_format[f].plugin, "%s", expected_format[f].flavor);
        cr_assert_eq(hp.chat_format, expected_format[f].format, "%s: format %d",
                     expected_format[f].flavor, (int)hp.chat_format);
        json_t *results = json_object_get(fl, "results");
        cr_assert_eq(json_array_size(results), json_array_size(convs));
        for (size_t c = 0; c < json_array_size(convs); c++) {
            json_t *conv = json_array_get(convs, c);
            size_t n = json_array_size(conv);
            clcdd_chat_message msgs[16];
            cr_assert(n <= 16);
            for (size_t i = 0; i < n; i++) {
                msgs[i].role = json_string_value(json_object_get(json_array_get(conv, i), "role"));
                msgs[i].content =
                    json_string_value(json_object_get(json_array_get(conv, i), "content"));
            }
            for (int gen = 0; gen < 2; gen++) {
                json_t *want = json_object_get(json_array_get(results, c), gen ? "gen" : "nogen");
                char *got = NULL;
                clcdd_status st = clcdd_plugin_render_chat(p, &hp, msgs, n, gen, &got);
                if (json_is_null(want)) {
                    cr_expect_neq(st, CLCDD_OK, "%s conversation %zu gen=%d: the template "
                                  "refuses it, the plugin rendered '%s'",
                                  expected_format[f].flavor, c, gen, got ? got : "");
                    refused++;
                } else {
                    cr_assert_eq(st, CLCDD_OK, "%s conversation %zu gen=%d: %s",
                                 expected_format[f].flavor, c, gen, clcdd_last_error());
                    const char *w = json_string_value(want);
                    if (strcmp(w, got)) show_diff(w, got);
                    cr_expect_str_eq(got, w, "%s conversation %zu gen=%d",
                                     expected_format[f].flavor, c, gen);
                    compared++;
                }
                free(got);
            }
        }
    }
    cr_log_info("%zu renderings identical, %zu refusals matched", compared, refused);
    cr_assert(compared > 200);
    clcdd_plugin_registry_destroy(reg);
    json_decref(root);
}

Test(chat, truncation_reports_full_length) {
    clcdd_plugin_registry *reg = pt_registry();
    clcdd_hparams hp;
    const clcdd_plugin *p = pt_hparams(reg, "chat/qwen2.5", &hp);
    clcdd_chat_message m[] = {{"user", "Hello"}};
    char small[8];
    long n = p->chat_template(&hp, m, 1, 1, small, sizeof small);
    long full = p->chat_template(&hp, m, 1, 1, NULL, 0);
    cr_assert_eq(n, full);
    cr_assert_gt(n, 8);
    cr_assert_eq(small[7], 0);
    cr_assert_eq(strncmp(small, "<|im_st", 7), 0);
    clcdd_plugin_registry_destroy(reg);
}

Test(chat, errors) {
    clcdd_plugin_registry *reg = pt_registry();
    clcdd_hparams hp;
    const clcdd_plugin *p = pt_hparams(reg, "chat/mistral", &hp);
    clcdd_chat_message sys[] = {{"system", "x"}, {"user", "y"}};
    cr_assert_eq(p->chat_template(&hp, sys, 2, 1, NULL, 0), CLCDD_CHAT_ERR_ROLES);
    char *s;
    cr_assert_eq(clcdd_plugin_render_chat(p, &hp, sys, 2, 1, &s), CLCDD_ERR_INVALID_ARGUMENT);
    cr_assert(strstr(clcdd_last_error(), "alternat"), "%s", clcdd_last_error());
    clcdd_chat_message tool[] = {{"tool", "x"}};
    cr_assert_eq(p->chat_template(&hp, tool, 1, 1, NULL, 0), CLCDD_CHAT_ERR_INVALID);
    cr_assert_eq(p->chat_template(&hp, tool, 0, 1, NULL, 0), CLCDD_CHAT_ERR_INVALID);
    p = pt_hparams(reg, "configs/tinyllama-chat", &hp); /* no tokenizer_config.json */
    clcdd_chat_message u[] = {{"user", "x"}};
    cr_assert_eq(p->chat_template(&hp, u, 1, 1, NULL, 0), CLCDD_CHAT_ERR_NO_TEMPLATE);
    cr_assert_eq(clcdd_plugin_render_chat(p, &hp, u, 1, 1, &s), CLCDD_ERR_UNSUPPORTED);
    clcdd_plugin_registry_destroy(reg);
}

Test(chat, special_token_defaults_of_chat_dirs) {
    clcdd_plugin_registry *reg = pt_registry();
    clcdd_hparams hp;
    pt_hparams(reg, "chat/llama3.2", &hp);
    cr_assert_str_eq(hp.default_system,
                     "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n");
    pt_hparams(reg, "chat/llama3", &hp);
    cr_assert_str_eq(hp.default_system, "");
    pt_hparams(reg, "chat/qwen2", &hp);
    cr_assert_str_eq(hp.default_system, "You are a helpful assistant.");
    pt_hparams(reg, "chat/qwen3", &hp);
    cr_assert_str_eq(hp.default_system, "");
    cr_assert_eq(hp.add_bos, 0);
    clcdd_plugin_registry_destroy(reg);
}
