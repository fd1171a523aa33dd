/* Helpers for the plugin tests: a registry of the three family plugins linked statically, and
 * views of the fixture directories. */
#ifndef CLCDD_PLUGIN_TEST_UTIL_H
#define CLCDD_PLUGIN_TEST_UTIL_H

#include <criterion/criterion.h>
#include <stdio.h>

#include "clcdd/config_view.h"
#include "clcdd/plugins.h"
#include "llama/llama.h"
#include "mistral/mistral.h"
#include "qwen/qwen.h"

#define PT_OK(expr)                                                                              \
    do {                                                                                         \
        clcdd_status pt_st_ = (expr);                                                            \
        cr_assert(pt_st_ == CLCDD_OK, "%s failed: %s: %s", #expr, clcdd_status_string(pt_st_), \
                  clcdd_last_error());                                                           \
    } while (0)

static inline clcdd_plugin_registry *pt_registry(void) {
    clcdd_plugin_registry *r = NULL;
    PT_OK(clcdd_plugin_registry_create(0, &r));
    PT_OK(clcdd_plugin_registry_add(r, clcdd_plugin_llama_descriptor(), NULL));
    PT_OK(clcdd_plugin_registry_add(r, clcdd_plugin_mistral_descriptor(), NULL));
    PT_OK(clcdd_plugin_registry_add(r, clcdd_plugin_qwen_descriptor(), NULL));
    return r;
}

static inline clcdd_config_view *pt_open(const char *sub) {
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/plugins/%s", CLCDD_TEST_DATA, sub);
    clcdd_config_view *v = NULL;
    PT_OK(clcdd_config_view_open_hf(path, &v));
    return v;
}

/* Read hparams of a fixture config directory; returns the plugin used. */
static inline const clcdd_plugin *pt_hparams(clcdd_plugin_registry *r, const char *sub,
                                             clcdd_hparams *hp) {
    clcdd_config_view *v = pt_open(sub);
    const clcdd_plugin *p = NULL;
    PT_OK(clcdd_plugin_registry_read_hparams(r, v, sub, &p, hp));
    clcdd_config_view_close(v);
    return p;
}

#endif
