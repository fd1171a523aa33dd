/* `clcdd debug backward` (cmd_debug_backward.c), dispatched by cmd_debug.c. */
#ifndef CLCDD_CLI_CMD_DEBUG_BACKWARD_H
#define CLCDD_CLI_CMD_DEBUG_BACKWARD_H

/* argv[0] = "backward". */
int cli_debug_backward(int argc, char **argv);

#endif
