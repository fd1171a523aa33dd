/* `clcdd inspect PATH`: list the tensors and metadata of a checkpoint (safetensors file, sharded
 * index or directory, GGUF) or summarise a config.json. argv[0] is "inspect".
 * Exit status: 0 ok, 1 file error (message on stderr), 2 usage error. */
#ifndef CLCDD_CMD_INSPECT_H
#define CLCDD_CMD_INSPECT_H

int clcdd_cmd_inspect(int argc, char **argv);

#endif
