#include "parallel.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "train_common.h"

#ifdef CLCDD_HAVE_MPI
#include <mpi.h>
#endif

int cli_parallel_option(cli_parallel *p, int argc, char **argv, int *i) {
    const char *v = NULL;
    if (cli_opt_value(argc, argv, i, "--devices", &v)) {
        if (!v || !*v) {
            fprintf(stderr, "clcdd %s: --devices needs a list: indices, name substrings or all\n", p->cmd);
            return 2;
        }
        p->devices = v;
        return 1;
    }
    if (cli_opt_value(argc, argv, i, "--split", &v)) {
        if (!v || !*v) {
            fprintf(stderr, "clcdd %s: --split needs examples per device, e.g. 5,3\n", p->cmd);
            return 2;
        }
        p->split = v;
        return 1;
    }
    return 0;
}

/* The launcher's world size: Open MPI, then PMI / PMIx (MPICH, Slurm). */
static int env_int(const char *name, int *out) {
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    char *end = NULL;
    long x = strtol(v, &end, 10);
    if (*end || x < 0 || x > INT_MAX) return 0;
    *out = (int)x;
    return 1;
}

static int launcher_size(const char **which) {
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        int n = 0;
        if (env_int(vars[i], &n)) {
            *which = vars[i];
            return n;
        }
    }
    return 1;
}

static int local_rank(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMI_LOCAL_RANK",
                                 "SLURM_LOCALID"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        int n = 0;
        if (env_int(vars[i], &n)) return n;
    }
    return -1;
}

#ifdef CLCDD_HAVE_MPI
/* MPI_Allgather counts are ints: larger exchanges go in pieces of at most 1 GiB. */
static clcdd_status mpi_allgather(void *user, const void *send, void *recv, size_t bytes, char *err,
                                  size_t err_cap) {
    cli_parallel *p = user;
    const size_t piece = (size_t)1 << 30;
    if (bytes <= piece) {
        int rc = MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) {
            char msg[MPI_MAX_ERROR_STRING];
            int len = 0;
            MPI_Error_string(rc, msg, &len);
            snprintf(err, err_cap, "MPI_Allgather: %s", msg);
            return CLCDD_ERR_IO;
        }
        return CLCDD_OK;
    }
    unsigned char *tmp = malloc(piece * (size_t)p->ranks);
    if (!tmp) {
        snprintf(err, err_cap, "no host memory for a %zu-byte exchange buffer", piece * (size_t)p->ranks);
        return CLCDD_ERR_OUT_OF_MEMORY;
    }
    for (size_t off = 0; off < bytes; off += piece) {
        size_t n = bytes - off < piece ? bytes - off : piece;
        int rc = MPI_Allgather((const unsigned char *)send + off, (int)n, MPI_BYTE, tmp, (int)n,
                               MPI_BYTE, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) {
            free(tmp);
            snprintf(err, err_cap, "MPI_Allgather failed (code %d)", rc);
            return CLCDD_ERR_IO;
        }
        for (int r = 0; r < p->ranks; r++)
            memcpy((unsigned char *)recv + (size_t)r * bytes + off, tmp + (size_t)r * n, n);
    }
    free(tmp);
    return CLCDD_OK;
}
#endif

static int parse_split(cli_parallel *p, size_t *n) {
    *n = 0;
    const char *s = p->split;
    while (*s) {
        char *end = NULL;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 0 || *n >= CLCDD_DP_MAX || (*end && *end != ',')) return 0;
        p->split_v[(*n)++] = (size_t)v;
        s = *end ? end + 1 : end;
    }
    return *n > 0;
}

int cli_parallel_open(cli_parallel *p, const char *device, clcdd_ctx **ctx, clcdd_dp_options *o) {
    memset(o, 0, sizeof *o);
    *ctx = NULL;
    p->ranks = 1, p->rank = 0;
    const char *var = NULL;
    int world = launcher_size(&var);
    if (world > 1) {
#ifdef CLCDD_HAVE_MPI
        int ok = 0;
        if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
            fprintf(stderr, "clcdd %s: MPI_Init failed: check the MPI installation (mpirun --version)\n", p->cmd);
            return EXIT_FAILURE_RUN;
        }
        p->mpi_started = 1;
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        ok = MPI_Comm_size(MPI_COMM_WORLD, &p->ranks) == MPI_SUCCESS &&
             MPI_Comm_rank(MPI_COMM_WORLD, &p->rank) == MPI_SUCCESS;
        if (!ok) {
            fprintf(stderr, "clcdd %s: cannot query the MPI world\n", p->cmd);
            return EXIT_FAILURE_RUN;
        }
        p->comm.rank = p->rank, p->comm.size = p->ranks, p->comm.user = p;
        p->comm.allgather = mpi_allgather;
        o->comm = &p->comm;
#else
        fprintf(stderr, "clcdd %s: started as one of %d ranks (%s=%d), but this clcdd was built "
                "without MPI: install an MPI (Debian: apt-get install libopenmpi-dev openmpi-bin) and "
                "rebuild with -DCLCDD_MPI=ON, or run a single process (--devices LIST uses several "
                "devices of one machine)\n", p->cmd, world, var, world);
        return EXIT_USAGE;
#endif
    }
    clcdd_ctx_options copts;
    memset(&copts, 0, sizeof copts);
    clcdd_status st = CLCDD_OK;
    if (p->devices && p->ranks > 1) {
        /* one rank per device: this rank takes the LIST entry of its index on this machine */
        int *idx = NULL;
        size_t n = 0;
        st = clcdd_select_devices(p->devices, &idx, &n);
        int lr = local_rank();
        if (lr < 0) lr = p->rank;
        if (st == CLCDD_OK && (size_t)lr >= n) {
            fprintf(stderr, "clcdd %s: rank %d: --devices %s lists %zu devices, but this is local rank "
                    "%d of the machine: list one device per rank\n", p->cmd, p->rank, p->devices, n, lr);
            free(idx);
            return cli_parallel_fail(p, CLCDD_OK);
        }
        char sel[24];
        if (st == CLCDD_OK) {
            snprintf(sel, sizeof sel, "%d", idx[lr]);
            copts.device = sel;
            p->ctx = calloc(1, sizeof *p->ctx);
            if (!p->ctx) st = CLCDD_ERR_OUT_OF_MEMORY;
            else if ((st = clcdd_ctx_create(&copts, &p->ctx[0])) == CLCDD_OK) p->n_ctx = 1;
        }
        free(idx);
    } else if (p->devices) {
        st = clcdd_ctx_create_many(p->devices, &copts, &p->ctx, &p->n_ctx);
    } else {
        copts.device = device;
        p->ctx = calloc(1, sizeof *p->ctx);
        if (!p->ctx) st = CLCDD_ERR_OUT_OF_MEMORY;
        else if ((st = clcdd_ctx_create(&copts, &p->ctx[0])) == CLCDD_OK) p->n_ctx = 1;
    }
    if (st != CLCDD_OK) return cli_parallel_fail(p, st);
    *ctx = p->ctx[0];
    o->devices = p->ctx;
    o->n_devices = p->n_ctx;
    if (p->split) {
        size_t n = 0;
        if (!parse_split(p, &n)) {
            fprintf(stderr, "clcdd %s: --split %s: give one number of examples per device, e.g. 5,3\n",
                    p->cmd, p->split);
            return EXIT_USAGE;
        }
        o->split = p->split_v;
    }
    o->on_plan = cli_parallel_leader(p) ? cli_parallel_print_plan : NULL;
    return EXIT_OK;
}

int cli_parallel_fail(cli_parallel *p, clcdd_status st) {
    int code = EXIT_USAGE;
    if (st != CLCDD_OK) {
        char cmd[64];
        if (p->ranks > 1) snprintf(cmd, sizeof cmd, "%s (rank %d)", p->cmd, p->rank);
        else snprintf(cmd, sizeof cmd, "%s", p->cmd);
        code = cli_report(cmd, st);
        if (code == EXIT_USAGE) code = EXIT_FAILURE_RUN;
    }
#ifdef CLCDD_HAVE_MPI
    if (p->mpi_started && p->ranks > 1) {
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
#endif
    return code;
}

void cli_parallel_close(cli_parallel *p) {
    clcdd_ctx_destroy_many(p->ctx, p->n_ctx);
    p->ctx = NULL, p->n_ctx = 0;
#ifdef CLCDD_HAVE_MPI
    if (p->mpi_started) MPI_Finalize();
#endif
    p->mpi_started = 0;
}

int cli_parallel_leader(const cli_parallel *p) { return p->rank == 0; }

/* "12.59 MB", or "3.20 kB" below 0.1 MB (an eraser's reduction is a few kB). */
static const char *size_text(uint64_t bytes, char *buf, size_t cap) {
    if (bytes >= 100000) snprintf(buf, cap, "%.2f MB", (double)bytes / 1e6);
    else snprintf(buf, cap, "%.2f kB", (double)bytes / 1e3);
    return buf;
}

void cli_parallel_print_plan_as(const char *cmd, const cli_plan_words *w, const clcdd_dp_plan *plan) {
    int measured = 0;
    for (size_t g = 0; g < plan->replicas; g++) measured |= plan->calib_s[g] > 0;
    fprintf(stderr, "clcdd %s: data parallel over %zu devices (%d rank%s), %zu %s per step%s:\n",
            cmd, plan->replicas, plan->ranks, plan->ranks == 1 ? "" : "s", plan->window, w->items,
            measured ? ", split by measured speed" : ", split as given by --split");
    for (size_t g = 0; g < plan->replicas; g++) {
        fprintf(stderr, "  [%zu] %s: %zu %s", g, plan->device[g], plan->examples[g], w->items);
        if (plan->calib_s[g] > 0) fprintf(stderr, " (%s: %.1f ms)", w->calib, 1e3 * plan->calib_s[g]);
        fputc('\n', stderr);
    }
    char size[32];
    fprintf(stderr, "  %s reduced on the host in a fixed order: %s per device per step%s%s%s\n",
            w->reduced, size_text(plan->reduce_bytes, size, sizeof size),
            plan->identical ? "" : "; the devices differ, so replica 0's ",
            plan->identical ? "" : w->sent, plan->identical ? "" : " are sent to the others after each step");
}

void cli_parallel_print_plan(const clcdd_dp_plan *plan, void *user) {
    const cli_train_display *d = user;
    const cli_plan_words w = {"examples", "one micro-batch", "gradients", "weights"};
    cli_parallel_print_plan_as(d->cmd, &w, plan);
}

void cli_parallel_print_timing(const char *cmd, const clcdd_dp_plan *plan) {
    if (!plan->replicas || plan->steps <= 0) return;
    char size[32];
    fprintf(stderr, "clcdd %s: %.1f ms per step: slices %.1f ms (slowest device), reduction %.1f ms "
            "(%s per device", cmd, 1e3 * plan->step_s, 1e3 * plan->compute_s,
            1e3 * plan->reduce_s, size_text(plan->reduce_bytes, size, sizeof size));
    if (plan->ranks > 1)
        fprintf(stderr, "; %.1f ms of it exchanging with the other ranks, waiting for the slowest "
                "included", 1e3 * plan->exchange_s);
    fprintf(stderr, "), optimizer and the rest %.1f ms\n",
            1e3 * (plan->step_s - plan->compute_s - plan->reduce_s));
}

void cli_parallel_json(FILE *f, const clcdd_dp_plan *plan) {
    if (!plan->replicas) return;
    fprintf(f, ", \"parallel\": {\"replicas\": %zu, \"ranks\": %d, \"examples\": [", plan->replicas,
            plan->ranks);
    for (size_t g = 0; g < plan->replicas; g++) fprintf(f, "%s%zu", g ? ", " : "", plan->examples[g]);
    fprintf(f, "], \"calib_s\": [");
    for (size_t g = 0; g < plan->replicas; g++) fprintf(f, "%s%.6f", g ? ", " : "", plan->calib_s[g]);
    fprintf(f, "], \"identical\": %s, \"reduce_bytes\": %llu, \"steps\": %lld, \"step_s\": %.6f, "
            "\"compute_s\": %.6f, \"reduce_s\": %.6f, \"exchange_s\": %.6f}",
            plan->identical ? "true" : "false", (unsigned long long)plan->reduce_bytes,
            (long long)plan->steps, plan->step_s, plan->compute_s, plan->reduce_s, plan->exchange_s);
}
