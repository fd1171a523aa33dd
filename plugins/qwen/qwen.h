/* The qwen family plugin's descriptor, for linking the plugin statically (tests, or an application
 * that wants no dlopen): clcdd_plugins_register_static(clcdd_plugin_qwen_descriptor()). */
#ifndef CLCDD_PLUGIN_QWEN_H
#define CLCDD_PLUGIN_QWEN_H

#include "clcdd/plugin.h"

const clcdd_plugin *clcdd_plugin_qwen_descriptor(void);

#endif
