/* The one exported symbol of libclcdd-mistral.so. */
#include "clcdd/plugin.h"
#include "mistral.h"

CLCDD_PLUGIN_EXPORT const clcdd_plugin *CLCDD_PLUGIN_ENTRY(void);

CLCDD_PLUGIN_EXPORT const clcdd_plugin *CLCDD_PLUGIN_ENTRY(void) {
    return clcdd_plugin_mistral_descriptor();
}
