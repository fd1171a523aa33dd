/* The plugin host: finds model-family plugins, checks their ABI, picks the one for a checkpoint.
 *
 * A registry holds the plugins found when it was created (and any added later); the shared
 * objects stay open until it is destroyed, so descriptors and strings it hands out are valid
 * while it lives. Search order (CLCDD_PLUGINS_SEARCH):
 *   1. every directory of $CLCDD_PLUGIN_PATH (colon-separated),
 *   2. the install directory (<libdir>/clcdd/plugins),
 *   3. the directory of the running executable, its ../plugins and ../plugins/<any> (a build
 *      tree puts the plugins in build/plugins/<family>/).
 * In each directory the files named libclcdd-<name>.so are tried. A plugin whose name is already
 * registered is rejected as a duplicate (the first one found wins), so $CLCDD_PLUGIN_PATH
 * overrides the installed plugins. Every rejected file is kept with its reason.
 *
 * Config views (the settings of a checkpoint as the plugins see them) are in
 * clcdd/config_view.h. */
#ifndef CLCDD_PLUGINS_H
#define CLCDD_PLUGINS_H

#include <stddef.h>
#include <stdint.h>

#include "clcdd/plugin.h"
#include "clcdd/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clcdd_plugin_registry clcdd_plugin_registry;

/* Flags of clcdd_plugin_registry_create. */
#define CLCDD_PLUGINS_STATIC 1u  /* include the plugins registered with clcdd_plugins_register_static */
#define CLCDD_PLUGINS_SEARCH 2u  /* search the plugin path (see above) */
#define CLCDD_PLUGINS_DEFAULT (CLCDD_PLUGINS_STATIC | CLCDD_PLUGINS_SEARCH)

/* Register a plugin linked into the program (no dlopen). Registries created afterwards with
 * CLCDD_PLUGINS_STATIC include it. The descriptor must stay valid for the process's lifetime.
 * Registering the same descriptor twice is a no-op. Thread-safe. */
CLCDD_API clcdd_status clcdd_plugins_register_static(const clcdd_plugin *plugin);

CLCDD_API clcdd_status clcdd_plugin_registry_create(unsigned flags, clcdd_plugin_registry **out);
CLCDD_API void clcdd_plugin_registry_destroy(clcdd_plugin_registry *reg);

/* Try every libclcdd-*.so in `dir`. A missing directory is not an error (nothing is added). */
CLCDD_API clcdd_status clcdd_plugin_registry_add_dir(clcdd_plugin_registry *reg, const char *dir);
/* dlopen one file (any name). A rejected plugin returns CLCDD_ERR_PLUGIN with the reason (and is
 * also listed among the rejected files). */
CLCDD_API clcdd_status clcdd_plugin_registry_add_file(clcdd_plugin_registry *reg, const char *path);
/* Add a descriptor directly; `origin` is shown as its path (NULL: "(built in)"). Same checks. */
CLCDD_API clcdd_status clcdd_plugin_registry_add(clcdd_plugin_registry *reg,
                                                 const clcdd_plugin *plugin, const char *origin);

typedef struct clcdd_plugin_info {
    const char *name;
    const char *version;
    const char *path;                 /* file it came from, or "(built in)" */
    const char *const *architectures; /* NULL-terminated */
    uint32_t abi_major, abi_minor, struct_size;
    const clcdd_plugin *plugin;       /* the host's copy: fields beyond struct_size are NULL */
} clcdd_plugin_info;

CLCDD_API size_t clcdd_plugin_registry_count(const clcdd_plugin_registry *reg);
CLCDD_API clcdd_status clcdd_plugin_registry_get(const clcdd_plugin_registry *reg, size_t index,
                                                 clcdd_plugin_info *out);
/* Find a plugin by its name ("llama"); NULL when absent. */
CLCDD_API const clcdd_plugin *clcdd_plugin_registry_find(const clcdd_plugin_registry *reg,
                                                         const char *name);

/* Files that were tried and refused, each with a reason naming the file. */
CLCDD_API size_t clcdd_plugin_registry_rejected_count(const clcdd_plugin_registry *reg);
CLCDD_API clcdd_status clcdd_plugin_registry_rejected(const clcdd_plugin_registry *reg,
                                                      size_t index, const char **path,
                                                      const char **reason);

/* Directories searched, in order (whether or not they exist). */
CLCDD_API size_t clcdd_plugin_registry_searched_count(const clcdd_plugin_registry *reg);
CLCDD_API const char *clcdd_plugin_registry_searched(const clcdd_plugin_registry *reg,
                                                     size_t index);

/* Ask every plugin's probe and return the one with the highest score (ties: the first
 * registered). No plugin interested: CLCDD_ERR_UNSUPPORTED, with a message naming the
 * checkpoint's architecture and listing every supported one. `source` names the checkpoint in
 * messages (NULL: "checkpoint"). */
CLCDD_API clcdd_status clcdd_plugin_registry_select(const clcdd_plugin_registry *reg,
                                                    const clcdd_config_view *cfg,
                                                    const char *source,
                                                    const clcdd_plugin **out);

/* Select, then read_hparams, then check the result (dimensions non-zero, H % H_kv == 0, ...).
 * `plugin` may be NULL. */
CLCDD_API clcdd_status clcdd_plugin_registry_read_hparams(const clcdd_plugin_registry *reg,
                                                          const clcdd_config_view *cfg,
                                                          const char *source,
                                                          const clcdd_plugin **plugin,
                                                          clcdd_hparams *hp);

/* Render a conversation with a plugin's chat_template into a malloc'd string (free() it). */
CLCDD_API clcdd_status clcdd_plugin_render_chat(const clcdd_plugin *plugin,
                                                const clcdd_hparams *hp,
                                                const clcdd_chat_message *messages,
                                                size_t n_messages, int add_generation_prompt,
                                                char **out);

#ifdef __cplusplus
}
#endif
#endif
