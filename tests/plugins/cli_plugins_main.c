/* Test driver for `clcdd plugins` until the command is wired into cli/main.c. */
#include "commands.h"

int main(int argc, char **argv) { return clcdd_cmd_plugins(argc - 1, argv + 1); }
