/* clcdd tune: measure GEMM backends and own-kernel parameters on one device and store the
 * winners as that device's tuning record (loaded automatically by later runs).
 *
 *   clcdd tune [--device SEL] [--budget SECONDS] [--shapes LIST] [--clblast-json FILE]... [--json]
 *
 * LIST is comma-separated TRANSPOSES:MxNxK items, TRANSPOSES one of nn, nt, tn, tt (op(A) is
 * m x k, op(B) k x n, as in clcdd_gemm). Default: the three products (forward x W^T, backward
 * dY W and dY^T x) of typical small-LLaMA layers with 512 tokens: d 576, d_ff 1536, vocab 49152.
 * Exit status: 0 done, 1 the device or a measurement failed, 2 bad usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clcdd/gemm.h"
#include "clcdd/runtime.h"

int clcdd_cmd_tune(int argc, char **argv);

static const char *default_shapes =
    "nt:512x1536x576,nn:512x576x1536,tn:1536x576x512,"
    "nt:512x576x1536,nn:512x1536x576,tn:576x1536x512,"
    "nt:512x49152x576,nn:512x576x49152,tn:49152x576x512";

static void usage(FILE *f) {
    fprintf(f,
            "usage: clcdd tune [--device SEL] [--budget SECONDS] [--shapes LIST]\n"
            "                  [--clblast-json FILE]... [--json]\n"
            "  Measures CLBlast and clcdd's own GEMM kernels on the device, checks each against\n"
            "  the reference kernel, and stores the fastest per shape as the device's tuning\n"
            "  record in the kernel cache directory.\n"
            "  --device SEL      device index or name substring (default: CLCDD_DEVICE, first GPU)\n"
            "  --budget SECONDS  time to spend in all (default 60)\n"
            "  --shapes LIST     comma-separated TT:MxNxK, TT one of nn nt tn tt (default: the\n"
            "                    forward and backward products of a small LLaMA layer, 512 tokens)\n"
            "  --clblast-json FILE\n"
            "                    a result of one of CLBlast's tuner programs (clblast-utils:\n"
            "                    clblast_tuner_xgemm, clblast_tuner_xgemm_direct, ... writes\n"
            "                    clblast_xgemm_1_32.json etc.; precision 32); repeatable. These\n"
            "                    parameters are tried as one set against CLBlast's current ones;\n"
            "                    on GPUs the direct/indirect threshold is tried too. The faster\n"
            "                    set, if it passes the reference check, is kept in the record\n"
            "                    and installed by every later run on the device\n"
            "  --json            print the results as JSON on stdout\n"
            "  Exit status: 0 done, 1 the device, a measurement or a tuner file failed, 2 bad usage.\n");
}

static int parse_shapes(const char *text, clcdd_gemm_shape **out, size_t *count) {
    size_t cap = 1;
    for (const char *p = text; *p; p++) cap += *p == ',';
    clcdd_gemm_shape *s = calloc(cap, sizeof *s);
    char *copy = strdup(text);
    if (!s || !copy) {
        free(s);
        free(copy);
        return -1;
    }
    size_t n = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char t[3] = {0};
        unsigned long long m = 0, nn = 0, k = 0;
        char tail = 0;
        if (sscanf(item, "%2[ntNT]:%llux%llux%llu%c", t, &m, &nn, &k, &tail) != 4 ||
            strlen(t) != 2 || !m || !nn || !k) {
            fprintf(stderr, "clcdd tune: bad shape '%s' (expected e.g. nt:512x1536x576)\n", item);
            free(s);
            free(copy);
            return -1;
        }
        s[n].ta = (t[0] == 't' || t[0] == 'T') ? CLCDD_TRANS : CLCDD_NO_TRANS;
        s[n].tb = (t[1] == 't' || t[1] == 'T') ? CLCDD_TRANS : CLCDD_NO_TRANS;
        s[n].m = (size_t)m;
        s[n].n = (size_t)nn;
        s[n].k = (size_t)k;
        n++;
    }
    free(copy);
    if (!n) {
        free(s);
        fprintf(stderr, "clcdd tune: --shapes is empty\n");
        return -1;
    }
    *out = s;
    *count = n;
    return 0;
}

static void progress_line(const char *msg, void *user) {
    (void)user;
    fprintf(stderr, "  %s\n", msg);
}

static const char *backend_name(clcdd_gemm_backend b) {
    return b == CLCDD_GEMM_CLBLAST ? "clblast" : b == CLCDD_GEMM_OWN ? "own" : "reference";
}

static void json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
        else putchar(*s);
    }
    putchar('"');
}

int clcdd_cmd_tune(int argc, char **argv) {
    const char *device = NULL, *shapes_text = default_shapes;
    double budget = 60;
    int json = 0;
    const char **cjson = calloc((size_t)argc, sizeof *cjson);
    size_t n_cjson = 0;
    if (!cjson) {
        fprintf(stderr, "clcdd tune: out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--clblast-json") && i + 1 < argc) {
            cjson[n_cjson++] = argv[++i];
        } else if ((!strcmp(a, "--device") || !strcmp(a, "--budget") || !strcmp(a, "--shapes")) &&
                   i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(a, "--device")) device = v;
            else if (!strcmp(a, "--shapes")) shapes_text = v;
            else {
                char *end = NULL;
                errno = 0;
                budget = strtod(v, &end);
                if (errno || end == v || *end || !(budget > 0)) {
                    fprintf(stderr, "clcdd tune: --budget needs a positive number of seconds\n");
                    free(cjson);
                    return 2;
                }
            }
        } else {
            fprintf(stderr, "clcdd tune: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            free(cjson);
            return 2;
        }
    }
    clcdd_gemm_shape *shapes = NULL;
    size_t count = 0;
    if (parse_shapes(shapes_text, &shapes, &count)) {
        free(cjson);
        return 2;
    }
    clcdd_gemm_tune_result *res = calloc(count, sizeof *res);
    clcdd_ctx_options o = {.device = device};
    clcdd_ctx *ctx = NULL;
    if (!res || clcdd_ctx_create(&o, &ctx) != CLCDD_OK) {
        fprintf(stderr, "clcdd tune: %s\n", res ? clcdd_last_error() : "out of memory");
        free(shapes);
        free(res);
        free(cjson);
        return 1;
    }
    const clcdd_device_info *dev = clcdd_ctx_device(ctx);
    int tty = isatty(STDERR_FILENO);
    if (tty)
        fprintf(stderr, "tuning GEMM on %s (driver %s), budget %.0f s\n", dev->name,
                dev->driver_version, budget);
    clcdd_status st = clcdd_gemm_tune_with_clblast(ctx, shapes, count, budget, cjson, n_cjson,
                                                   tty ? progress_line : NULL, NULL, res);
    char path[1200];
    clcdd_gemm_tune_record_path(ctx, path, sizeof path);
    int rc = 0;
    if (st != CLCDD_OK) {
        fprintf(stderr, "clcdd tune: %s\n", clcdd_last_error());
        rc = 1;
    } else if (json) {
        printf("{\"device\":");
        json_string(dev->name);
        printf(",\"driver\":");
        json_string(dev->driver_version);
        printf(",\"record\":");
        json_string(path);
        printf(",\"clblast_set\":");
        json_string(count ? res[0].clblast_set : "");
        printf(",\"shapes\":[");
        for (size_t i = 0; i < count; i++) {
            const clcdd_gemm_tune_result *r = &res[i];
            printf("%s{\"ta\":%d,\"tb\":%d,\"m\":%zu,\"n\":%zu,\"k\":%zu,\"backend\":\"%s\","
                   "\"params\":",
                   i ? "," : "", r->shape.ta, r->shape.tb, r->shape.m, r->shape.n, r->shape.k,
                   backend_name(r->backend));
            json_string(r->params);
            printf(",\"gflops\":%.2f,\"clblast_gflops\":%.2f,\"default_gflops\":%.2f,"
                   "\"tried\":%d,\"rejected\":%d}",
                   r->gflops, r->clblast_gflops, r->default_gflops, r->tried, r->rejected);
        }
        printf("]}\n");
    } else {
        printf("%-4s %-20s %-8s %-30s %9s %9s %9s\n", "op", "m x n x k", "winner", "params",
               "GFLOP/s", "clblast", "default");
        for (size_t i = 0; i < count; i++) {
            const clcdd_gemm_tune_result *r = &res[i];
            char dims[64];
            snprintf(dims, sizeof dims, "%zux%zux%zu", r->shape.m, r->shape.n, r->shape.k);
            printf("%c%c   %-20s %-8s %-30s %9.1f %9.1f %9.1f\n", r->shape.ta ? 'T' : 'N',
                   r->shape.tb ? 'T' : 'N', dims, backend_name(r->backend), r->params, r->gflops,
                   r->clblast_gflops, r->default_gflops);
        }
        if (count && res[0].clblast_set[0]) printf("clblast parameters: %s\n", res[0].clblast_set);
        printf("record: %s\n", path);
    }
    clcdd_ctx_destroy(ctx);
    free(shapes);
    free(res);
    free(cjson);
    return rc;
}
