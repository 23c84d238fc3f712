/* clscale lab under mpirun (cmd_lab_mpi.c; compiled in when CMake finds MPI
 * and defines CLS_HAVE_MPI): rank 0 deals the sweep's runs to the other ranks. */
#ifndef CLS_CMD_LAB_MPI_H
#define CLS_CMD_LAB_MPI_H

#include <signal.h>

#include "cli.h"
#include "clscale/lab.h"

#ifdef CLS_HAVE_MPI
/* Start MPI (this process was started by mpirun); set *rank and *ranks. */
void lab_mpi_init(int *rank, int *ranks);
/* Ranks > 0: train the runs rank 0 sends (cls_lab_run_one with opt's runner,
 * threads and data), send each record back, until rank 0 says the sweep is
 * over; then MPI_Finalize. Stops a run at its next checkpoint when rank 0
 * asks or *interrupted becomes nonzero. Returns the exit status. */
int lab_mpi_worker(const cls_lab_options *opt, volatile sig_atomic_t *interrupted);
/* Rank 0: an executor for the lab in dir whose slots are ranks 1 .. P-1 (a
 * free rank gets the next run). *interrupted (SIGINT/SIGTERM) stops the runs
 * in flight. */
void lab_mpi_executor(cls_lab_executor *ex, const char *dir, volatile sig_atomic_t *interrupted);
/* Why the executor failed (NULL when it did not). */
const char *lab_mpi_error(void);
/* Rank of the run `index` of the sweep (0 when it is not under way). */
int lab_mpi_rank_of(int64_t index);
/* When the sweep is over (every rank of a --report-only job, rank 0 of a
 * sweep): with quit_workers, rank 0 tells the workers to exit, or aborts the
 * job (MPI_Abort, exit status 1) when runs are still in flight (the sweep
 * failed); then MPI_Finalize. */
void lab_mpi_finish(int quit_workers);
#endif

#endif
