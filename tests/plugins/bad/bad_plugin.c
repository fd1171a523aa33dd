/* Deliberately broken (and one deliberately newer) plugins for the host's ABI checks, one per
 * BAD_KIND:
 *   1 abi_major 2        2 struct_size too small     3 no entry symbol
 *   4 probe missing      5 newer minor (9) with an appended field: must be accepted */
#include <stddef.h>

#include "clcdd/plugin.h"

static const char *const archs[] = {"BadForCausalLM", NULL};
static int probe(const clcdd_config_view *cfg) { (void)cfg; return 0; }
static int read_hparams(const clcdd_config_view *cfg, clcdd_hparams *hp, char *e, size_t c) {
    (void)cfg; (void)hp; (void)e; (void)c;
    return 1;
}
static int map_tensor(const clcdd_hparams *hp, clcdd_source_format f, clcdd_tensor_role r,
                      uint32_t l, clcdd_tensor_mapping *o) {
    (void)hp; (void)f; (void)r; (void)l; (void)o;
    return 1;
}

/* ABI 1.9 as imagined here: 1.0's fields, then one more. */
typedef struct future_plugin {
    clcdd_plugin v1_0;
    int (*future_hook)(void);
} future_plugin;

static const future_plugin desc = {
    .v1_0 = {
        .abi_major = BAD_KIND == 1 ? 2 : CLCDD_PLUGIN_ABI_MAJOR,
        .abi_minor = BAD_KIND == 5 ? 9 : CLCDD_PLUGIN_ABI_MINOR,
        .struct_size = BAD_KIND == 2 ? 16 : BAD_KIND == 5 ? sizeof(future_plugin) : sizeof(clcdd_plugin),
        .name = BAD_KIND == 5 ? "future" : "bad",
        .version = "0",
        .architectures = archs,
        .probe = BAD_KIND == 4 ? NULL : probe,
        .read_hparams = read_hparams,
        .map_tensor = map_tensor,
        .chat_template = NULL,
    },
    .future_hook = NULL,
};

#if BAD_KIND == 3
CLCDD_PLUGIN_EXPORT const clcdd_plugin *clcdd_plugin_entry_v0(void);
CLCDD_PLUGIN_EXPORT const clcdd_plugin *clcdd_plugin_entry_v0(void) { return &desc.v1_0; }
#else
CLCDD_PLUGIN_EXPORT const clcdd_plugin *CLCDD_PLUGIN_ENTRY(void);
CLCDD_PLUGIN_EXPORT const clcdd_plugin *CLCDD_PLUGIN_ENTRY(void) { return &desc.v1_0; }
#endif
