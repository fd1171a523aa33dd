/* clcdd devices: a table (or JSON) of every OpenCL device and its capabilities. */
#include <stdio.h>
#include <string.h>

#include "clcdd/runtime.h"
#include "commands.h"
#include "common.h"

static const char *usage =
    "usage: clcdd devices [--json]\n"
    "\n"
    "Lists every OpenCL device of every installed platform with the capabilities clcdd uses.\n"
    "Select one for other commands with --device INDEX|NAME or CLCDD_DEVICE.\n"
    "\n"
    "  --json   machine-readable output\n";

static void print_json(const clcdd_device_info *d, size_t n, int chosen) {
    printf("{\"devices\": [");
    for (size_t i = 0; i < n; i++) {
        printf("%s\n  {\"index\": %d, \"name\": ", i ? "," : "", d[i].index);
        cli_json_string(stdout, d[i].name);
        printf(", \"vendor\": ");
        cli_json_string(stdout, d[i].vendor);
        printf(", \"platform\": ");
        cli_json_string(stdout, d[i].platform_name);
        printf(", \"platform_version\": ");
        cli_json_string(stdout, d[i].platform_version);
        printf(", \"driver_version\": ");
        cli_json_string(stdout, d[i].driver_version);
        printf(", \"opencl_c_version\": ");
        cli_json_string(stdout, d[i].opencl_c_version);
        printf(", \"type\": \"%s\", \"compute_units\": %u, \"max_clock_mhz\": %u, "
               "\"global_mem_bytes\": %llu, \"local_mem_bytes\": %llu, \"max_alloc_bytes\": %llu, "
               "\"base_align_bytes\": %u, \"max_work_group_size\": %zu, "
               "\"preferred_vector_width_float\": %u, \"fp16\": %s, \"fp64\": %s, "
               "\"subgroups\": %s, \"unified_memory\": %s, \"default\": %s}",
               d[i].is_gpu ? "gpu" : d[i].is_cpu ? "cpu" : d[i].is_accelerator ? "accelerator" : "other",
               d[i].compute_units, d[i].max_clock_mhz, (unsigned long long)d[i].global_mem_bytes,
               (unsigned long long)d[i].local_mem_bytes, (unsigned long long)d[i].max_alloc_bytes,
               d[i].base_align_bytes, d[i].max_work_group_size, d[i].preferred_vector_width_float,
               d[i].has_fp16 ? "true" : "false", d[i].has_fp64 ? "true" : "false",
               d[i].has_subgroups ? "true" : "false", d[i].unified_memory ? "true" : "false",
               (int)i == chosen ? "true" : "false");
    }
    printf("\n]}\n");
}

static void print_table(const clcdd_device_info *d, size_t n, int chosen) {
    printf("  # %-44s %-5s %4s %9s %9s %6s %3s %4s %4s  %s\n", "device", "type", "CUs", "memory",
           "max alloc", "OCL C", "vec", "fp16", "fp64", "platform / driver");
    for (size_t i = 0; i < n; i++) {
        char name[45];
        snprintf(name, sizeof name, "%s", d[i].name);
        printf("%c%2d %-44s %-5s %4u %7.1fG %7.1fG %3d.%-2d %3u %4s %4s  %s / %s\n",
               (int)i == chosen ? '*' : ' ', d[i].index, name,
               d[i].is_gpu ? "gpu" : d[i].is_cpu ? "cpu" : "other", d[i].compute_units,
               (double)d[i].global_mem_bytes / 1073741824.0,
               (double)d[i].max_alloc_bytes / 1073741824.0, d[i].opencl_c_major,
               d[i].opencl_c_minor, d[i].preferred_vector_width_float, d[i].has_fp16 ? "yes" : "no",
               d[i].has_fp64 ? "yes" : "no", d[i].platform_name, d[i].driver_version);
    }
    printf("(* = the device used by default; choose another with --device or CLCDD_DEVICE)\n");
}

int clcdd_cmd_devices(int argc, char **argv) {
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else {
            fprintf(stderr, "clcdd devices: unknown argument '%s'\n%s", argv[i], usage);
            return EXIT_USAGE;
        }
    }
    clcdd_device_info *list = NULL;
    size_t n = 0;
    clcdd_status st = clcdd_list_devices(&list, &n);
    if (st != CLCDD_OK) return cli_report("devices", st);
    clcdd_device_info pick;
    int chosen = -1;
    if (clcdd_select_device(NULL, &pick) == CLCDD_OK) chosen = pick.index;
    clcdd_clear_error();
    if (json)
        print_json(list, n, chosen);
    else
        print_table(list, n, chosen);
    clcdd_free_devices(list);
    return EXIT_OK;
}
