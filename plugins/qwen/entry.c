/* The one exported symbol of libclcdd-qwen.so. */
#include "clcdd/plugin.h"
#include "qwen.h"

CLCDD_PLUGIN_EXPORT const clcdd_plugin *CLCDD_PLUGIN_ENTRY(void);

CLCDD_PLUGIN_EXPORT const clcdd_plugin *CLCDD_PLUGIN_ENTRY(void) {
    return clcdd_plugin_qwen_descriptor();
}
