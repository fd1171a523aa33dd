/* The per-device, per-shape GEMM choice and its tuning record.
 *
 * Record file: <cache_dir>/gemm-tune-<16 hex digits>.txt, the digits a hash of the device name,
 * driver version and platform version (a driver update invalidates it). Text, one item a line:
 *   clcdd-gemm-tune 1
 *   device <name>
 *   driver <version>
 *   entry <ta> <tb> <m> <n> <k> <clblast|own> <vw> <rm> <nv> <rows_first> <gflops>  (repeated)
 *   clblast <kernel> <NAME>=<value> ...   (0 or more: CLBlast parameters, version 2)
 *   check <16 hex digits: FNV-1a of everything above>
 * The clblast lines are applied with CLBlastOverrideParameters when the record loads, before
 * CLBlast's first use (and so before its self-check) on the device. Version 1 records (no clblast
 * lines) are still read.
 * Written atomically; a record that fails to parse, has another version or a bad checksum is
 * ignored with a warning (re-run `clcdd tune`). Without a record: own kernels on CPU devices,
 * CLBlast elsewhere if it passed the self-check. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx_internal.h"
#include "clcdd_internal.h"
#include "runtime/gemm_internal.h"

#define RECORD_MAGIC "clcdd-gemm-tune"
#define RECORD_VERSION 2

void clcdd_gemm_record_path(const clcdd_ctx *ctx, char *out, size_t cap) {
    uint64_t h = CLCDD_FNV_SEED;
    h = clcdd_fnv1a64(ctx->dev.name, strlen(ctx->dev.name) + 1, h);
    h = clcdd_fnv1a64(ctx->dev.driver_version, strlen(ctx->dev.driver_version) + 1, h);
    h = clcdd_fnv1a64(ctx->dev.platform_version, strlen(ctx->dev.platform_version) + 1, h);
    snprintf(out, cap, "%s/gemm-tune-%016" PRIx64 ".txt", ctx->cache_dir, h);
}

static int valid_params(const clcdd_gemm_params *p) {
    return (p->vw == 1 || p->vw == 2 || p->vw == 4 || p->vw == 8 || p->vw == 16) && p->rm >= 1 &&
           p->rm <= 32 && p->nv >= 1 && p->nv <= 16 && (p->rows_first == 0 || p->rows_first == 1);
}

/* Parses a record; 0 on success. */
static int parse_record(const clcdd_ctx *ctx, char *text, size_t len, clcdd_gemm_tune_record *rec,
                        const char **why) {
    char *check = strstr(text, "\ncheck ");
    if (!check) return *why = "no checksum line", 1;
    uint64_t want = 0;
    if (sscanf(check + 7, "%16" SCNx64, &want) != 1) return *why = "unreadable checksum", 1;
    if (clcdd_fnv1a64(text, (size_t)(check + 1 - text), CLCDD_FNV_SEED) != want)
        return *why = "checksum mismatch", 1;
    (void)len;
    *check = 0;
    memset(rec, 0, sizeof *rec);
    int line_no = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), line_no++) {
        if (line_no == 0) {
            int v = 0;
            if (sscanf(line, RECORD_MAGIC " %d", &v) != 1) return *why = "not a tuning record", 1;
            if (v != 1 && v != RECORD_VERSION) return *why = "other record version", 1;
        } else if (strncmp(line, "device ", 7) == 0) {
            if (strcmp(line + 7, ctx->dev.name) != 0) return *why = "made for another device", 1;
        } else if (strncmp(line, "driver ", 7) == 0) {
            if (strcmp(line + 7, ctx->dev.driver_version) != 0)
                return *why = "made for another driver version", 1;
        } else if (strncmp(line, "entry ", 6) == 0) {
            if (rec->count == CLCDD_GEMM_TUNE_MAX) return *why = "too many entries", 1;
            clcdd_gemm_tune_entry *e = &rec->e[rec->count];
            char be[16];
            if (sscanf(line + 6, "%d %d %" SCNu64 " %" SCNu64 " %" SCNu64 " %15s %d %d %d %d %lf",
                       &e->ta, &e->tb, &e->m, &e->n, &e->k, be, &e->params.vw, &e->params.rm,
                       &e->params.nv, &e->params.rows_first, &e->gflops) != 11 ||
                (e->ta != 0 && e->ta != 1) || (e->tb != 0 && e->tb != 1) || !e->m || !e->n ||
                !e->k)
                return *why = "malformed entry", 1;
            if (strcmp(be, "clblast") == 0) e->backend = CLCDD_GEMM_CLBLAST;
            else if (strcmp(be, "own") == 0 && valid_params(&e->params)) e->backend = CLCDD_GEMM_OWN;
            else return *why = "malformed entry", 1;
            rec->count++;
        } else if (strncmp(line, "clblast ", 8) == 0) {
            clcdd_clblast_params p;
            memset(&p, 0, sizeof p);
            char *save = NULL, *tok = strtok_r(line + 8, " ", &save);
            if (!tok || strlen(tok) >= sizeof p.kernel) return *why = "malformed clblast line", 1;
            strcpy(p.kernel, tok);
            while ((tok = strtok_r(NULL, " ", &save))) {
                char *eq = strchr(tok, '='), *end = NULL;
                if (!eq || eq == tok || (size_t)(eq - tok) >= sizeof p.names[0] ||
                    p.count == CLCDD_CLBLAST_MAX_PARAMS)
                    return *why = "malformed clblast line", 1;
                unsigned long long v = strtoull(eq + 1, &end, 10);
                if (end == eq + 1 || *end) return *why = "malformed clblast line", 1;
                memcpy(p.names[p.count], tok, (size_t)(eq - tok));
                p.names[p.count][eq - tok] = 0;
                p.values[p.count++] = (size_t)v;
            }
            if (!p.count || clcdd_clblast_set_put(&rec->clblast, &p) != CLCDD_OK) {
                clcdd_clear_error();
                return *why = "malformed clblast line", 1;
            }
        } else {
            return *why = "unknown line", 1;
        }
    }
    return 0;
}

clcdd_status clcdd_gemm_record_save(clcdd_ctx *ctx, const clcdd_gemm_tune_record *rec) {
    if (!ctx->cache_dir[0])
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT,
                          "the kernel cache is off, so there is nowhere to keep a tuning record");
    size_t cap = 512 + rec->count * 160 + rec->clblast.count * 64 * (CLCDD_CLBLAST_MAX_PARAMS + 1),
           len = 0;
    char *buf = malloc(cap);
    if (!buf) return clcdd_fail(CLCDD_ERR_OUT_OF_MEMORY, "tuning record");
    len += (size_t)snprintf(buf + len, cap - len, RECORD_MAGIC " %d\ndevice %s\ndriver %s\n",
                            RECORD_VERSION, ctx->dev.name, ctx->dev.driver_version);
    for (size_t i = 0; i < rec->count && len < cap; i++) {
        const clcdd_gemm_tune_entry *e = &rec->e[i];
        len += (size_t)snprintf(buf + len, cap - len,
                                "entry %d %d %" PRIu64 " %" PRIu64 " %" PRIu64 " %s %d %d %d %d %.1f\n",
                                e->ta, e->tb, e->m, e->n, e->k,
                                e->backend == CLCDD_GEMM_CLBLAST ? "clblast" : "own", e->params.vw,
                                e->params.rm, e->params.nv, e->params.rows_first, e->gflops);
    }
    for (size_t i = 0; i < rec->clblast.count && len < cap; i++) {
        const clcdd_clblast_params *p = &rec->clblast.k[i];
        len += (size_t)snprintf(buf + len, cap - len, "clblast %s", p->kernel);
        for (size_t j = 0; j < p->count && len < cap; j++)
            len += (size_t)snprintf(buf + len, cap - len, " %s=%zu", p->names[j], p->values[j]);
        if (len < cap) len += (size_t)snprintf(buf + len, cap - len, "\n");
    }
    if (len + 32 >= cap) {
        free(buf);
        return clcdd_fail(CLCDD_ERR_INVALID_ARGUMENT, "tuning record too long");
    }
    len += (size_t)snprintf(buf + len, cap - len, "check %016" PRIx64 "\n",
                            clcdd_fnv1a64(buf, len, CLCDD_FNV_SEED));
    char path[1200];
    clcdd_gemm_record_path(ctx, path, sizeof path);
    clcdd_status st = clcdd_mkdirs(ctx->cache_dir);
    if (!st) st = clcdd_write_file_atomic(path, buf, len);
    free(buf);
    if (!st) {
        clcdd_gemm_own_state *o = NULL;
        if (clcdd_gemm_own_state_get(ctx, &o) == CLCDD_OK) {
            o->rec = *rec;
            o->record_loaded = 1;
        }
    }
    return st;
}

static void load_record(clcdd_ctx *ctx, clcdd_gemm_own_state *o) {
    o->record_loaded = 1;
    o->rec.count = 0;
    if (!ctx->cache_dir[0]) return;
    char path[1200];
    clcdd_gemm_record_path(ctx, path, sizeof path);
    char *text = NULL;
    size_t len = 0;
    if (clcdd_read_file(path, &text, &len) != CLCDD_OK) { /* none yet: defaults */
        clcdd_clear_error();
        return;
    }
    const char *why = NULL;
    clcdd_gemm_tune_record *rec = malloc(sizeof *rec);
    if (rec && parse_record(ctx, text, len, rec, &why) == 0) {
        o->rec = *rec;
        clcdd_log(CLCDD_LOG_DEBUG, "GEMM tuning record %s: %zu entries, %zu CLBlast kernels tuned",
                  path, rec->count, rec->clblast.count);
        if (rec->clblast.count && clcdd_gemm_clblast_apply(ctx, &rec->clblast) != CLCDD_OK) {
            clcdd_log(CLCDD_LOG_WARN, "GEMM tuning record %s: %s; CLBlast keeps its built-in "
                      "parameters (run `clcdd tune` again)", path, clcdd_last_error());
            clcdd_clear_error();
        }
    } else if (rec) {
        clcdd_log(CLCDD_LOG_WARN, "ignoring GEMM tuning record %s (%s); run `clcdd tune` again",
                  path, why);
    }
    free(rec);
    free(text);
}

void clcdd_gemm_record_ensure(clcdd_ctx *ctx) {
    clcdd_gemm_own_state *o = NULL;
    if (clcdd_gemm_own_state_get(ctx, &o) != CLCDD_OK) {
        clcdd_clear_error();
        return;
    }
    if (!o->record_loaded) load_record(ctx, o);
}

/* The record entry nearest to this problem, or NULL. */
static const clcdd_gemm_tune_entry *nearest(clcdd_ctx *ctx, const clcdd_gemm_args *a) {
    clcdd_gemm_own_state *o = NULL;
    if (clcdd_gemm_own_state_get(ctx, &o) != CLCDD_OK) {
        clcdd_clear_error();
        return NULL;
    }
    if (!o->record_loaded) load_record(ctx, o);
    const clcdd_gemm_tune_entry *best = NULL;
    double best_d = 0;
    for (size_t i = 0; i < o->rec.count; i++) {
        const clcdd_gemm_tune_entry *e = &o->rec.e[i];
        if (e->ta != a->ta || e->tb != a->tb) continue;
        double d = fabs(log((double)e->m / (double)a->m)) + fabs(log((double)e->n / (double)a->n)) +
                   fabs(log((double)e->k / (double)a->k));
        if (!best || d < best_d) best = e, best_d = d;
    }
    return best;
}

clcdd_gemm_params clcdd_gemm_own_params(clcdd_ctx *ctx, const clcdd_gemm_args *a) {
    clcdd_gemm_own_state *o = ctx->gemm ? ctx->gemm->own : NULL;
    if (o && o->override) return *o->override;
    const clcdd_gemm_tune_entry *e = nearest(ctx, a);
    if (e && e->backend == CLCDD_GEMM_OWN) return e->params;
    return clcdd_gemm_default_params(&ctx->dev);
}

clcdd_gemm_backend clcdd_gemm_own_choose(clcdd_ctx *ctx, clcdd_gemm_state *g,
                                         const clcdd_gemm_args *a) {
    const clcdd_gemm_tune_entry *e = nearest(ctx, a);
    /* CLBlast is used only once it passed the self-check; before the check has run, asking for
     * it is what triggers the check (see gemm.c). */
    int clblast_usable = !g->checked || g->clblast_ok;
    if (e) return e->backend == CLCDD_GEMM_CLBLAST && !clblast_usable ? CLCDD_GEMM_OWN : e->backend;
    if (ctx->dev.is_cpu) return CLCDD_GEMM_OWN;
    return clblast_usable ? CLCDD_GEMM_CLBLAST : CLCDD_GEMM_OWN;
}
