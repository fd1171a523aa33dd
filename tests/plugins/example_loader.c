/* Loads the out-of-tree example plugin through the host's search path (CLCDD_PLUGIN_PATH), checks
 * that it is selected for its architecture, and uses it. Usage: example_loader CONFIG_DIR
 * Exit 0 on success; prints what failed otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clcdd/config_view.h"
#include "clcdd/plugins.h"

#define CHECK(c, ...)                                                                       \
    do {                                                                                    \
        if (!(c)) {                                                                         \
            fprintf(stderr, "example_loader: " __VA_ARGS__);                                \
            fprintf(stderr, " [%s]\n", clcdd_last_error());                                 \
            return 1;                                                                       \
        }                                                                                   \
    } while (0)

int main(int argc, char **argv) {
    CHECK(argc == 2, "usage: example_loader CONFIG_DIR");
    clcdd_plugin_registry *r;
    CHECK(clcdd_plugin_registry_create(CLCDD_PLUGINS_SEARCH, &r) == CLCDD_OK, "create");
    for (size_t i = 0; i < clcdd_plugin_registry_rejected_count(r); i++) {
        const char *p, *why;
        clcdd_plugin_registry_rejected(r, i, &p, &why);
        fprintf(stderr, "rejected %s: %s\n", p, why);
    }
    CHECK(clcdd_plugin_registry_find(r, "example"), "the example plugin was not found");
    clcdd_config_view *v;
    CHECK(clcdd_config_view_open_hf(argv[1], &v) == CLCDD_OK, "open %s", argv[1]);
    const clcdd_plugin *p;
    clcdd_hparams hp;
    CHECK(clcdd_plugin_registry_read_hparams(r, v, argv[1], &p, &hp) == CLCDD_OK, "read_hparams");
    CHECK(!strcmp(p->name, "example") && hp.head_dim == 8 && hp.n_layers == 2, "hparams");
    clcdd_tensor_mapping m;
    CHECK(p->map_tensor(&hp, CLCDD_SOURCE_HF, CLCDD_ROLE_UP, 1, &m) == 0 &&
              !strcmp(m.name, "model.layers.1.mlp.up_proj.weight"), "map_tensor");
    clcdd_chat_message msg[] = {{"user", "hi"}};
    char *s;
    CHECK(clcdd_plugin_render_chat(p, &hp, msg, 1, 1, &s) == CLCDD_OK, "chat");
    CHECK(!strcmp(s, "user: hi\nassistant: "), "chat gave '%s'", s);
    free(s);
    clcdd_config_view_close(v);
    clcdd_plugin_registry_destroy(r);
    printf("example plugin loaded and used\n");
    return 0;
}
