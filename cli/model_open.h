/* Opening a model for the model commands (info, debug forward, generate): device context, plugin
 * registry (built-in plus the plugin search path) and the loaded model, with CLI exit codes. */
#ifndef CLCDD_CLI_MODEL_OPEN_H
#define CLCDD_CLI_MODEL_OPEN_H

#include "clcdd/llm.h"

typedef struct cli_model {
    clcdd_ctx *ctx;
    clcdd_plugin_registry *reg;
    clcdd_llm *llm;
} cli_model;

/* Returns EXIT_OK, or the exit code after printing "clcdd <cmd>: ..." to stderr. */
int cli_model_open(const char *cmd, const char *path, const char *device, cli_model *out);
void cli_model_close(cli_model *m);

/* Parse "1,2,3" into a malloc'd array; returns 0 on a malformed list. */
int cli_parse_ids(const char *list, int32_t **ids, size_t *n);

#endif
