/* Plugin host internals shared with the tests. */
#ifndef CLCDD_PLUGIN_HOST_INTERNAL_H
#define CLCDD_PLUGIN_HOST_INTERNAL_H

#include <stddef.h>

#include "clcdd/plugins.h"

/* Bytes of the descriptor ABI 1.0 defines: everything up to and including chat_template. A plugin
 * whose struct_size is smaller is refused. Later minors append fields after this. */
#define CLCDD_PLUGIN_SIZE_1_0 (offsetof(clcdd_plugin, chat_template) + sizeof(void *))

/* Check a descriptor as the host does before accepting it. Returns 0 when acceptable; otherwise 1
 * with the reason in `why`. */
int clcdd_plugin_check_descriptor(const clcdd_plugin *p, char *why, size_t why_cap);

#endif
