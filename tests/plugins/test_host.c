/* The plugin host: dlopen of the real family plugins from the build tree, the ABI checks against
 * deliberately bad plugins (tests/plugins/bad), the search path, duplicates, static registration. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_host_internal.h"
#include "plugin_test_util.h"

static const char *reason_for(const clcdd_plugin_registry *r, const char *file) {
    for (size_t i = 0; i < clcdd_plugin_registry_rejected_count(r); i++) {
        const char *path, *why;
        PT_OK(clcdd_plugin_registry_rejected(r, i, &path, &why));
        if (strstr(path, file)) return why;
    }
    return NULL;
}

Test(host, good_plugin_by_dlopen) {
    clcdd_plugin_registry *r;
    PT_OK(clcdd_plugin_registry_create(0, &r));
    PT_OK(clcdd_plugin_registry_add_file(r, CLCDD_TEST_LLAMA_SO));
    PT_OK(clcdd_plugin_registry_add_file(r, CLCDD_TEST_LLAMA_SO)); /* same file: no-op */
    cr_assert_eq(clcdd_plugin_registry_count(r), 1);
    clcdd_plugin_info info;
    PT_OK(clcdd_plugin_registry_get(r, 0, &info));
    cr_assert_str_eq(info.name, "llama");
    cr_assert_str_eq(info.path, CLCDD_TEST_LLAMA_SO);
    cr_assert_str_eq(info.architectures[0], "LlamaForCausalLM");
    cr_assert_eq(info.abi_major, 1);
    cr_assert_neq(info.plugin, clcdd_plugin_llama_descriptor(), "the host keeps its own copy");
    /* and it works through the dlopen'd code */
    clcdd_config_view *v = pt_open("configs/smollm2-135m-instruct");
    clcdd_hparams hp;
    PT_OK(clcdd_plugin_registry_read_hparams(r, v, NULL, NULL, &hp));
    cr_assert_eq(hp.n_kv_heads, 3);
    clcdd_config_view_close(v);
    clcdd_plugin_registry_destroy(r);
}

Test(host, bad_plugins_rejected_with_reasons) {
    clcdd_plugin_registry *r;
    PT_OK(clcdd_plugin_registry_create(0, &r));
    PT_OK(clcdd_plugin_registry_add_dir(r, CLCDD_TEST_BAD_DIR));
    const char *why;
    cr_assert_not_null(why = reason_for(r, "libclcdd-badmajor.so"));
    cr_assert(strstr(why, "ABI 2.0") && strstr(why, "rebuild"), "%s", why);
    cr_assert_not_null(why = reason_for(r, "libclcdd-smallstruct.so"));
    cr_assert(strstr(why, "struct_size 16"), "%s", why);
    cr_assert_not_null(why = reason_for(r, "libclcdd-nosymbol.so"));
    cr_assert(strstr(why, "clcdd_plugin_entry_v1") && strstr(why, "undefined symbol"), "%s "
              "(should carry dlerror())", why);
    cr_assert_not_null(why = reason_for(r, "libclcdd-noprobe.so"));
    cr_assert(strstr(why, "probe"), "%s", why);
    cr_assert_not_null(why = reason_for(r, "libclcdd-garbage.so"));
    cr_assert(strstr(why, "dlopen failed"), "%s", why);
    cr_assert_null(reason_for(r, "libclcdd-future.so"), "a newer minor is fine");
    cr_assert_eq(clcdd_plugin_registry_count(r), 1);
    clcdd_plugin_info info;
    PT_OK(clcdd_plugin_registry_get(r, 0, &info));
    cr_assert_str_eq(info.name, "future");
    cr_assert_eq(info.abi_minor, 9);
    cr_assert_null(info.plugin->chat_template);
    /* the direct call reports the reason too, naming the file */
    cr_assert_eq(clcdd_plugin_registry_add_file(r, CLCDD_TEST_BAD_DIR "/libclcdd-badmajor.so"),
                 CLCDD_ERR_PLUGIN);
    cr_assert(strstr(clcdd_last_error(), "libclcdd-badmajor.so"), "%s", clcdd_last_error());
    clcdd_plugin_registry_destroy(r);
}

Test(host, search_path_and_duplicates) {
    setenv("CLCDD_PLUGIN_PATH", CLCDD_TEST_BAD_DIR ":" CLCDD_TEST_LLAMA_DIR ":/nonexistent/x", 1);
    clcdd_plugin_registry *r;
    PT_OK(clcdd_plugin_registry_create(CLCDD_PLUGINS_SEARCH, &r));
    cr_assert_not_null(clcdd_plugin_registry_find(r, "llama"));
    cr_assert_not_null(clcdd_plugin_registry_find(r, "future"));
    cr_assert_not_null(reason_for(r, "libclcdd-badmajor.so"));
    cr_assert_geq(clcdd_plugin_registry_searched_count(r), 3);
    cr_assert(strstr(clcdd_plugin_registry_searched(r, 0), "bad_plugins"));
    cr_assert_str_eq(clcdd_plugin_registry_searched(r, 2), "/nonexistent/x");
    /* a second llama (static) is a duplicate */
    cr_assert_eq(clcdd_plugin_registry_add(r, clcdd_plugin_llama_descriptor(), "static llama"),
                 CLCDD_ERR_PLUGIN);
    const char *why = reason_for(r, "static llama");
    cr_assert(why && strstr(why, "already loaded"), "%s", why ? why : "(none)");
    clcdd_plugin_registry_destroy(r);
}

Test(host, static_registration) {
    PT_OK(clcdd_plugins_register_static(clcdd_plugin_qwen_descriptor()));
    PT_OK(clcdd_plugins_register_static(clcdd_plugin_qwen_descriptor()));
    clcdd_plugin_registry *r;
    PT_OK(clcdd_plugin_registry_create(CLCDD_PLUGINS_STATIC, &r));
    cr_assert_eq(clcdd_plugin_registry_count(r), 1);
    clcdd_plugin_info info;
    PT_OK(clcdd_plugin_registry_get(r, 0, &info));
    cr_assert_str_eq(info.name, "qwen");
    cr_assert_str_eq(info.path, "(built in)");
    clcdd_plugin_registry_destroy(r);
}

Test(host, descriptor_checks) {
    char why[256];
    clcdd_plugin p = *clcdd_plugin_mistral_descriptor();
    cr_assert_eq(clcdd_plugin_check_descriptor(&p, why, sizeof why), 0);
    p.struct_size = (uint32_t)CLCDD_PLUGIN_SIZE_1_0;
    cr_assert_eq(clcdd_plugin_check_descriptor(&p, why, sizeof why), 0, "exactly 1.0 is fine");
    p.struct_size--;
    cr_assert_eq(clcdd_plugin_check_descriptor(&p, why, sizeof why), 1);
    p = *clcdd_plugin_mistral_descriptor();
    p.map_tensor = NULL;
    cr_assert_eq(clcdd_plugin_check_descriptor(&p, why, sizeof why), 1);
    cr_assert(strstr(why, "map_tensor"), "%s", why);
    p = *clcdd_plugin_mistral_descriptor();
    static const char *const none[] = {NULL};
    p.architectures = none;
    cr_assert_eq(clcdd_plugin_check_descriptor(&p, why, sizeof why), 1);
    cr_assert_eq(clcdd_plugin_check_descriptor(NULL, why, sizeof why), 1);
    clcdd_plugin_registry *r;
    PT_OK(clcdd_plugin_registry_create(0, &r));
    cr_assert_eq(clcdd_plugin_registry_add(r, &p, "(test)"), CLCDD_ERR_PLUGIN);
    cr_assert_eq(clcdd_plugin_registry_rejected_count(r), 1);
    clcdd_plugin_registry_destroy(r);
}
