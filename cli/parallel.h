/* Several devices and several processes for `clcdd sft`, `clcdd train` and `clcdd erase`
 * (docs/cli.md "Several devices and machines"): --devices LIST, --split N,N,..., and ranks under MPI (mpirun), which
 * this file detects from the launcher's environment (OMPI_COMM_WORLD_SIZE, PMI_SIZE,
 * PMIX_SIZE... see cli_parallel_open). */
#ifndef CLCDD_CLI_PARALLEL_H
#define CLCDD_CLI_PARALLEL_H

#include <stdio.h>

#include "clcdd/train.h"

typedef struct cli_parallel {
    const char *cmd;
    const char *devices;          /* --devices LIST (NULL: --device / the default) */
    const char *split;            /* --split N,N,... (NULL: calibrate) */
    size_t split_v[CLCDD_DP_MAX];
    clcdd_ctx **ctx;              /* the contexts this process drives (owned) */
    size_t n_ctx;
    int ranks, rank;              /* 1, 0 without MPI */
    clcdd_comm comm;
    int mpi_started;
} cli_parallel;

/* Parse --devices / --split at argv[*i]; 1 if it was one of them (2: usage error printed). */
int cli_parallel_option(cli_parallel *p, int argc, char **argv, int *i);

/* After parsing: start MPI when launched as one of several ranks, create the contexts (one per
 * --devices entry; under MPI the LIST entry of this rank's local index, or --device), and fill
 * the library's options. Returns an exit code (EXIT_OK: go on); prints why otherwise. */
int cli_parallel_open(cli_parallel *p, const char *device, clcdd_ctx **ctx, clcdd_dp_options *o);
/* Print a failure (rank-prefixed under MPI) and, with several ranks, abort them all so none
 * waits forever for a rank that has stopped; returns the exit code. */
int cli_parallel_fail(cli_parallel *p, clcdd_status st);
void cli_parallel_close(cli_parallel *p);

/* Rank 0 prints and writes; the others stay quiet. */
int cli_parallel_leader(const cli_parallel *p);
/* The plan on stderr (a clcdd_dp_plan_fn; user: the cli_train_display). */
void cli_parallel_print_plan(const clcdd_dp_plan *plan, void *user);
/* The words of a plan: what a step's window holds ("examples"), what each device timed for the
 * calibration ("one micro-batch"), what is reduced ("gradients") and what replica 0 sends to
 * unlike devices after each step ("weights"). */
typedef struct cli_plan_words {
    const char *items, *calib, *reduced, *sent;
} cli_plan_words;
void cli_parallel_print_plan_as(const char *cmd, const cli_plan_words *w, const clcdd_dp_plan *plan);
/* After the run: time per step, split into slices and reduction, on stderr. */
void cli_parallel_print_timing(const char *cmd, const clcdd_dp_plan *plan);
/* `, "parallel": {...}` for --json (nothing when plan->replicas == 0). */
void cli_parallel_json(FILE *f, const clcdd_dp_plan *plan);

#endif
