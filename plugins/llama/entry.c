/* The one exported symbol of libclcdd-llama.so. */
#include "clcdd/plugin.h"
#include "llama.h"

CLCDD_PLUGIN_EXPORT const clcdd_plugin *CLCDD_PLUGIN_ENTRY(void);

CLCDD_PLUGIN_EXPORT const clcdd_plugin *CLCDD_PLUGIN_ENTRY(void) {
    return clcdd_plugin_llama_descriptor();
}
