/* Shared part of the config views (loaders/config_view_*.c). A view handed out to callers is the
 * `pub` member of one of these; close() finds its way back with a cast. */
#ifndef CLCDD_CONFIG_VIEW_INTERNAL_H
#define CLCDD_CONFIG_VIEW_INTERNAL_H

#include "clcdd/config_view.h"

typedef struct cv_base {
    clcdd_config_view pub; /* first member: (cv_base *)view is valid */
    void (*destroy)(struct cv_base *self);
    int is_table;
    char *name;
} cv_base;

#endif
