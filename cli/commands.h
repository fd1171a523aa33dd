/* Every subcommand: int clcdd_cmd_<name>(argc, argv) with argv[0] = the subcommand's name. */
#ifndef CLCDD_CLI_COMMANDS_H
#define CLCDD_CLI_COMMANDS_H

int clcdd_cmd_devices(int argc, char **argv);
int clcdd_cmd_doctor(int argc, char **argv);
int clcdd_cmd_tokenize(int argc, char **argv);
int clcdd_cmd_plugins(int argc, char **argv);
int clcdd_cmd_inspect(int argc, char **argv);
int clcdd_cmd_tune(int argc, char **argv);
int clcdd_cmd_info(int argc, char **argv);
int clcdd_cmd_debug(int argc, char **argv);
int clcdd_cmd_generate(int argc, char **argv);
int clcdd_cmd_demo(int argc, char **argv);
int clcdd_cmd_chat(int argc, char **argv);
int clcdd_cmd_sft(int argc, char **argv);
int clcdd_cmd_train(int argc, char **argv);
int clcdd_cmd_carrier(int argc, char **argv);
int clcdd_cmd_erase(int argc, char **argv);
int clcdd_cmd_export(int argc, char **argv);
int clcdd_cmd_eval(int argc, char **argv);

#endif
