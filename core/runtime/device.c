/* Enumerating OpenCL platforms and devices into capability records, and device selection. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_check.h"

static const char *no_platform_help =
    "no OpenCL platform is installed (the ICD loader found no vendor driver). Install one: "
    "Debian/Ubuntu CPU: `apt-get install pocl-opencl-icd`; AMD: ROCm or Mesa rusticl; Intel: "
    "intel-opencl-icd; NVIDIA: the proprietary driver. `clinfo` lists what is installed; "
    "OCL_ICD_VENDORS can point the loader at a directory of .icd files";

static void get_str(cl_device_id d, cl_device_info what, char *out, size_t cap) {
    out[0] = '\0';
    if (clGetDeviceInfo(d, what, cap, out, NULL) != CL_SUCCESS) out[0] = '\0';
    out[cap - 1] = '\0';
}

static int has_ext(const char *exts, const char *name) {
    size_t n = strlen(name);
    for (const char *p = exts; (p = strstr(p, name)) != NULL; p += n)
        if ((p == exts || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
    return 0;
}

static clcdd_status fill_info(cl_platform_id plat, int pidx, cl_device_id dev,
                              clcdd_device_info *info) {
    memset(info, 0, sizeof *info);
    info->platform = plat;
    info->platform_index = pidx;
    info->device = dev;
    get_str(dev, CL_DEVICE_NAME, info->name, sizeof info->name);
    get_str(dev, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    get_str(dev, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    get_str(dev, CL_DEVICE_VERSION, info->device_version, sizeof info->device_version);
    get_str(dev, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version, sizeof info->opencl_c_version);
    if (clGetPlatformInfo(plat, CL_PLATFORM_NAME, sizeof info->platform_name, info->platform_name,
                          NULL) != CL_SUCCESS)
        info->platform_name[0] = '\0';
    if (clGetPlatformInfo(plat, CL_PLATFORM_VERSION, sizeof info->platform_version,
                          info->platform_version, NULL) != CL_SUCCESS)
        info->platform_version[0] = '\0';
    info->platform_name[sizeof info->platform_name - 1] = '\0';
    info->platform_version[sizeof info->platform_version - 1] = '\0';
    if (sscanf(info->opencl_c_version, "OpenCL C %d.%d", &info->opencl_c_major,
               &info->opencl_c_minor) != 2) {
        info->opencl_c_major = 1;
        info->opencl_c_minor = 0;
    }
    cl_device_type type = 0;
    CL_TRY(clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof type, &type, NULL), "device %s: type",
           info->name);
    info->is_gpu = (type & CL_DEVICE_TYPE_GPU) != 0;
    info->is_cpu = (type & CL_DEVICE_TYPE_CPU) != 0;
    info->is_accelerator = (type & CL_DEVICE_TYPE_ACCELERATOR) != 0;
    cl_uint u = 0;
    cl_ulong ul = 0;
    size_t sz = 0;
    cl_bool b = 0;
    CL_TRY(clGetDeviceInfo(dev, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL),
           "device %s: compute units", info->name);
    info->compute_units = u;
    CL_TRY(clGetDeviceInfo(dev, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL),
           "device %s: clock", info->name);
    info->max_clock_mhz = u;
    CL_TRY(clGetDeviceInfo(dev, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof ul, &ul, NULL),
           "device %s: global memory", info->name);
    info->global_mem_bytes = ul;
    CL_TRY(clGetDeviceInfo(dev, CL_DEVICE_LOCAL_MEM_SIZE, sizeof ul, &ul, NULL),
           "device %s: local memory", info->name);
    info->local_mem_bytes = ul;
    CL_TRY(clGetDeviceInfo(dev, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ul, &ul, NULL),
           "device %s: max allocation", info->name);
    info->max_alloc_bytes = ul;
    CL_TRY(clGetDeviceInfo(dev, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof u, &u, NULL),
           "device %s: base address alignment", info->name);
    info->base_align_bytes = u / 8 ? u / 8 : 1;
    CL_TRY(clGetDeviceInfo(dev, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof sz, &sz, NULL),
           "device %s: max work-group size", info->name);
    info->max_work_group_size = sz;
    CL_TRY(clGetDeviceInfo(dev, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof u, &u, NULL),
           "device %s: preferred float vector width", info->name);
    info->preferred_vector_width_float = u ? u : 1;
    CL_TRY(clGetDeviceInfo(dev, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof b, &b, NULL),
           "device %s: unified memory", info->name);
    info->unified_memory = b != 0;
    size_t ext_len = 0;
    CL_TRY(clGetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_len), "device %s: extensions",
           info->name);
    char *exts = calloc(ext_len + 1, 1);
    if (!exts) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "device extensions");
    cl_int e = clGetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, ext_len, exts, NULL);
    if (e != CL_SUCCESS) {
        free(exts);
        return clcdd_cl_fail(e, "device %s: extensions", info->name);
    }
    info->has_fp16 = has_ext(exts, "cl_khr_fp16");
    info->has_fp64 = has_ext(exts, "cl_khr_fp64");
    info->has_subgroups = has_ext(exts, "cl_khr_subgroups") || has_ext(exts, "cl_intel_subgroups");
    free(exts);
    return CLCDD_OK;
}

clcdd_status clcdd_list_devices(clcdd_device_info **out, size_t *count) {
    *out = NULL;
    *count = 0;
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && np == 0))
        return clcdd_fail(CLCDD_ERR_NO_PLATFORM, "%s", no_platform_help);
    CL_TRY(err, "listing OpenCL platforms");
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "listing platforms");
    err = clGetPlatformIDs(np, plats, NULL);
    if (err != CL_SUCCESS) {
        free(plats);
        return clcdd_cl_fail(err, "listing OpenCL platforms");
    }
    clcdd_device_info *list = NULL;
    size_t n = 0;
    clcdd_status st = CLCDD_OK;
    for (cl_uint p = 0; p < np && st == CLCDD_OK; p++) {
        cl_uint nd = 0;
        err = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
        if (err == CL_DEVICE_NOT_FOUND || nd == 0) continue;
        if (err != CL_SUCCESS) {
            /* A broken platform must not hide the others: skip it with a warning. */
            clcdd_log(CLCDD_LOG_WARN, "OpenCL platform %u: cannot list devices: %s", p,
                      clcdd_cl_error_name(err));
            continue;
        }
        cl_device_id *devs = calloc(nd, sizeof *devs);
        clcdd_device_info *grown = realloc(list, (n + nd) * sizeof *list);
        if (!devs || !grown) {
            free(devs);
            if (grown) list = grown;
            st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "listing devices");
            break;
        }
        list = grown;
        err = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL);
        if (err != CL_SUCCESS) {
            free(devs);
            st = clcdd_cl_fail(err, "OpenCL platform %u: listing devices", p);
            break;
        }
        for (cl_uint d = 0; d < nd; d++) {
            st = fill_info(plats[p], (int)p, devs[d], &list[n]);
            if (st != CLCDD_OK) break;
            list[n].index = (int)n;
            n++;
        }
        free(devs);
    }
    free(plats);
    if (st != CLCDD_OK) {
        free(list);
        return st;
    }
    if (n == 0) {
        free(list);
        return clcdd_fail(CLCDD_ERR_NO_DEVICE,
                          "OpenCL platforms are installed but none has a device; %s",
                          no_platform_help);
    }
    *out = list;
    *count = n;
    return CLCDD_OK;
}

void clcdd_free_devices(clcdd_device_info *devices) { free(devices); }

static int contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n) return 1;
    }
    return n == 0;
}

clcdd_status clcdd_select_device(const char *selector, clcdd_device_info *out) {
    const char *source = "--device";
    if (!selector || !*selector) {
        selector = getenv("CLCDD_DEVICE");
        source = "CLCDD_DEVICE";
    }
    clcdd_device_info *list = NULL;
    size_t n = 0;
    TRY(clcdd_list_devices(&list, &n));
    ptrdiff_t pick = -1;
    if (selector && *selector) {
        char *end = NULL;
        long idx = strtol(selector, &end, 10);
        if (end && *end == '\0') {
            if (idx < 0 || (size_t)idx >= n) {
                clcdd_free_devices(list);
                return clcdd_fail(CLCDD_ERR_NO_DEVICE,
                                  "%s=%s: there are %zu devices (0..%zu); `clcdd devices` lists them",
                                  source, selector, n, n - 1);
            }
            pick = idx;
        } else {
            for (size_t i = 0; i < n && pick < 0; i++)
                if (contains_ci(list[i].name, selector) || contains_ci(list[i].platform_name, selector))
                    pick = (ptrdiff_t)i;
            if (pick < 0) {
                clcdd_free_devices(list);
                return clcdd_fail(CLCDD_ERR_NO_DEVICE,
                                  "%s=%s matches no device name; `clcdd devices` lists them",
                                  source, selector);
            }
        }
    } else {
        for (size_t i = 0; i < n && pick < 0; i++)
            if (list[i].is_gpu) pick = (ptrdiff_t)i;
        if (pick < 0) pick = 0;
    }
    *out = list[pick];
    clcdd_free_devices(list);
    return CLCDD_OK;
}

clcdd_status clcdd_select_devices(const char *list, int **out, size_t *count) {
    *out = NULL;
    *count = 0;
    if (!list || !*list)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "--devices needs a list: indices, name "
                          "substrings or `all` (`clcdd devices` lists them)");
    clcdd_device_info *devs = NULL;
    size_t n = 0;
    TRY(clcdd_list_devices(&devs, &n));
    int *pick = malloc((n ? n : 1) * sizeof *pick);
    char *copy = strdup(list);
    clcdd_status st = CLCDD_OK;
    size_t k = 0;
    if (!pick || !copy) st = clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "device list");
    if (st == CLCDD_OK && !strcmp(list, "all")) {
        for (size_t i = 0; i < n; i++) pick[k++] = (int)i;
    } else if (st == CLCDD_OK) {
        char *save = NULL;
        for (char *item = strtok_r(copy, ",", &save); item && st == CLCDD_OK;
             item = strtok_r(NULL, ",", &save)) {
            char *end = NULL;
            long idx = strtol(item, &end, 10);
            size_t matched = 0;
            for (size_t i = 0; i < n && st == CLCDD_OK; i++) {
                int hit = (end && *end == '\0' && end != item) ? (long)i == idx
                          : contains_ci(devs[i].name, item) || contains_ci(devs[i].platform_name, item);
                if (!hit) continue;
                matched++;
                for (size_t j = 0; j < k; j++)
                    if (pick[j] == (int)i)
                        st = clcdd_fail(CLCDD_ERR_NO_DEVICE, "--devices %s: device %zu (%s) is "
                                        "picked twice (by '%s'); list each device once", list, i,
                                        devs[i].name, item);
                if (st == CLCDD_OK) pick[k++] = (int)i;
            }
            if (st == CLCDD_OK && !matched)
                st = clcdd_fail(CLCDD_ERR_NO_DEVICE, "--devices %s: '%s' matches no device (there "
                                "are %zu); `clcdd devices` lists them", list, item, n);
        }
    }
    free(copy);
    clcdd_free_devices(devs);
    if (st == CLCDD_OK && k == 0) st = clcdd_fail(CLCDD_ERR_NO_DEVICE, "--devices %s: no device", list);
    if (st != CLCDD_OK) {
        free(pick);
        return st;
    }
    *out = pick;
    *count = k;
    return CLCDD_OK;
}
