/* CLBlast's tuning parameters in clcdd's GEMM tuning record: reading the JSON files CLBlast's own
 * tuner programs write, and applying a set of parameters to CLBlast on a device.
 *
 * A CLBlast tuner (e.g. clblast_tuner_xgemm from Debian's clblast-utils) writes a JSON object
 * whose "best_kernel" names the kernel ("Xgemm", "XgemmDirect", "Copy", ...), "best_parameters"
 * holds the winner as "NAME=VALUE NAME=VALUE ..." (including PRECISION) and "precision" is "32"
 * for single precision, the only one clcdd uses. CLBlastOverrideParameters then installs the
 * parameters for the device and precision, process-wide; CLBlast recompiles on next use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clblast_c.h>

#include "ctx_internal.h"
#include "clcdd_internal.h"
#include "runtime/gemm_internal.h"
#include <jansson.h>

clcdd_status clcdd_clblast_set_put(clcdd_clblast_set *set, const clcdd_clblast_params *p) {
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->k[i].kernel, p->kernel) == 0) {
            set->k[i] = *p;
            return CLCDD_OK;
        }
    if (set->count == CLCDD_CLBLAST_MAX_KERNELS)
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "more than %d CLBlast kernels in one parameter set",
                          CLCDD_CLBLAST_MAX_KERNELS);
    set->k[set->count++] = *p;
    return CLCDD_OK;
}

clcdd_status clcdd_gemm_clblast_apply(clcdd_ctx *ctx, const clcdd_clblast_set *set) {
    for (size_t i = 0; i < set->count; i++) {
        const clcdd_clblast_params *p = &set->k[i];
        const char *names[CLCDD_CLBLAST_MAX_PARAMS];
        for (size_t j = 0; j < p->count; j++) names[j] = p->names[j];
        CLBlastStatusCode s = CLBlastOverrideParameters(ctx->dev.device, p->kernel,
                                                        CLBlastPrecisionSingle, p->count, names,
                                                        p->values);
        if (s != CLBlastSuccess)
            return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                              "CLBlast refused the %zu parameters given for its kernel '%s' on %s "
                              "(status %d): the names must be exactly that kernel's tuning "
                              "parameters",
                              p->count, p->kernel, ctx->dev.name, (int)s);
    }
    return CLCDD_OK;
}

/* "NAME=VALUE NAME=VALUE ..." into p (PRECISION dropped: CLBlast takes it separately). */
static clcdd_status parse_assignments(const char *path, const char *text,
                                      clcdd_clblast_params *p) {
    const char *s = text;
    while (*s) {
        while (*s == ' ') s++;
        if (!*s) break;
        const char *eq = strchr(s, '=');
        const char *end = strchr(s, ' ');
        if (!end) end = s + strlen(s);
        if (!eq || eq > end || eq == s || (size_t)(eq - s) >= sizeof p->names[0])
            return clcdd_fail(CLCDD_ERR_FORMAT,
                              "%s: \"best_parameters\" should be NAME=VALUE items separated by "
                              "spaces; cannot read '%.*s'",
                              path, (int)(end - s), s);
        char *num_end = NULL;
        unsigned long long v = strtoull(eq + 1, &num_end, 10);
        if (num_end != end || eq + 1 == end)
            return clcdd_fail(CLCDD_ERR_FORMAT, "%s: the value of %.*s is not a whole number",
                              path, (int)(eq - s), s);
        if (!(eq - s == 9 && strncmp(s, "PRECISION", 9) == 0)) {
            if (p->count == CLCDD_CLBLAST_MAX_PARAMS)
                return clcdd_fail(CLCDD_ERR_FORMAT, "%s: more than %d parameters", path,
                                  CLCDD_CLBLAST_MAX_PARAMS);
            memcpy(p->names[p->count], s, (size_t)(eq - s));
            p->names[p->count][eq - s] = 0;
            p->values[p->count++] = (size_t)v;
        }
        s = end;
    }
    if (p->count == 0)
        return clcdd_fail(CLCDD_ERR_FORMAT, "%s: \"best_parameters\" holds no parameters", path);
    return CLCDD_OK;
}

clcdd_status clcdd_gemm_clblast_read_tuner_json(const char *path, clcdd_clblast_params *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return clcdd_fail(CLCDD_ERR_IO, "cannot open the CLBlast tuner result %s", path);
    fclose(f);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root)
        return clcdd_fail(CLCDD_ERR_FORMAT,
                          "%s: not a CLBlast tuner result (line %d: %s); give the JSON file a "
                          "CLBlast tuner program wrote",
                          path, err.line, err.text);
    clcdd_status st = CLCDD_OK;
    const char *kernel = json_string_value(json_object_get(root, "best_kernel"));
    const char *params = json_string_value(json_object_get(root, "best_parameters"));
    const char *precision = json_string_value(json_object_get(root, "precision"));
    if (!json_is_object(root) || !kernel || !params || !precision)
        st = clcdd_fail(CLCDD_ERR_FORMAT,
                        "%s: not a CLBlast tuner result (needs the strings \"best_kernel\", "
                        "\"best_parameters\" and \"precision\")",
                        path);
    else if (strcmp(precision, "32") != 0)
        st = clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                        "%s: tuned for precision %s; clcdd uses single precision: run the tuner "
                        "with -precision 32",
                        path, precision);
    else if (!kernel[0] || strlen(kernel) >= sizeof out->kernel)
        st = clcdd_fail(CLCDD_ERR_FORMAT, "%s: \"best_kernel\" is empty or too long", path);
    else {
        memcpy(out->kernel, kernel, strlen(kernel) + 1);
        st = parse_assignments(path, params, out);
    }
    json_decref(root);
    return st;
}
