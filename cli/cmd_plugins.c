/* clcdd plugins: the model-family plugins found on the search path, their architectures, and the
 * files that were refused with the reason. */
#include <stdio.h>
#include <string.h>

#include "clcdd/plugins.h"
#include "commands.h"
#include "common.h"

static const char *usage =
    "usage: clcdd plugins [--json]\n"
    "\n"
    "Lists the model-family plugins clcdd finds: name, version, ABI, file and the architectures\n"
    "each one handles, then every file that was refused and why. Search order: the directories\n"
    "in CLCDD_PLUGIN_PATH (colon-separated), the install directory, then the executable's\n"
    "directory and its ../plugins/*. Files are named libclcdd-<name>.so; the first plugin of a\n"
    "name wins.\n"
    "\n"
    "  --json   machine-readable output\n";

static void print_json(const clcdd_plugin_registry *r) {
    printf("{\"plugins\": [");
    for (size_t i = 0; i < clcdd_plugin_registry_count(r); i++) {
        clcdd_plugin_info p;
        if (clcdd_plugin_registry_get(r, i, &p) != CLCDD_OK) continue;
        printf("%s\n  {\"name\": ", i ? "," : "");
        cli_json_string(stdout, p.name);
        printf(", \"version\": ");
        cli_json_string(stdout, p.version);
        printf(", \"abi\": \"%u.%u\", \"path\": ", p.abi_major, p.abi_minor);
        cli_json_string(stdout, p.path);
        printf(", \"architectures\": [");
        for (const char *const *a = p.architectures; *a; a++) {
            if (a != p.architectures) printf(", ");
            cli_json_string(stdout, *a);
        }
        printf("], \"chat_templates\": %s}", p.plugin->chat_template ? "true" : "false");
    }
    printf("\n ],\n \"rejected\": [");
    for (size_t i = 0; i < clcdd_plugin_registry_rejected_count(r); i++) {
        const char *path, *why;
        if (clcdd_plugin_registry_rejected(r, i, &path, &why) != CLCDD_OK) continue;
        printf("%s\n  {\"path\": ", i ? "," : "");
        cli_json_string(stdout, path);
        printf(", \"reason\": ");
        cli_json_string(stdout, why);
        printf("}");
    }
    printf("\n ],\n \"searched\": [");
    for (size_t i = 0; i < clcdd_plugin_registry_searched_count(r); i++) {
        if (i) printf(", ");
        cli_json_string(stdout, clcdd_plugin_registry_searched(r, i));
    }
    printf("]}\n");
}

static void print_table(const clcdd_plugin_registry *r) {
    size_t n = clcdd_plugin_registry_count(r);
    if (!n) printf("no plugins found (set CLCDD_PLUGIN_PATH or install them)\n");
    for (size_t i = 0; i < n; i++) {
        clcdd_plugin_info p;
        if (clcdd_plugin_registry_get(r, i, &p) != CLCDD_OK) continue;
        printf("%-10s %-8s ABI %u.%u  %s\n", p.name, p.version, p.abi_major, p.abi_minor, p.path);
        printf("           architectures:");
        for (const char *const *a = p.architectures; *a; a++)
            printf("%s %s", a == p.architectures ? "" : ",", *a);
        printf("\n");
    }
    size_t nr = clcdd_plugin_registry_rejected_count(r);
    if (nr) printf("\nrejected:\n");
    for (size_t i = 0; i < nr; i++) {
        const char *path, *why;
        if (clcdd_plugin_registry_rejected(r, i, &path, &why) == CLCDD_OK)
            printf("  %s\n    %s\n", path, why);
    }
    printf("\nsearched:");
    for (size_t i = 0; i < clcdd_plugin_registry_searched_count(r); i++)
        printf(" %s", clcdd_plugin_registry_searched(r, i));
    printf("\n");
}

int clcdd_cmd_plugins(int argc, char **argv) {
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else {
            fprintf(stderr, "clcdd plugins: unknown argument '%s'\n%s", argv[i], usage);
            return EXIT_USAGE;
        }
    }
    clcdd_plugin_registry *r = NULL;
    clcdd_status st = clcdd_plugin_registry_create(CLCDD_PLUGINS_DEFAULT, &r);
    if (st != CLCDD_OK) return cli_report("plugins", st);
    if (json)
        print_json(r);
    else
        print_table(r);
    clcdd_plugin_registry_destroy(r);
    return EXIT_OK;
}
