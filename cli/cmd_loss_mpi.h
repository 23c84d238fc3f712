/* The CLI under mpirun (cmd_loss_mpi.c; compiled in when CMake finds MPI and
 * defines CLS_HAVE_MPI). */
#ifndef CLS_CMD_LOSS_MPI_H
#define CLS_CMD_LOSS_MPI_H

#include "cli.h"

#ifdef CLS_HAVE_MPI
/* 1 when this process was started by mpirun / mpiexec (Open MPI, PMI, PMIx). */
int cli_mpi_launched(void);
/* clscale loss on a ring of ranks, with the options cmd_loss parsed. */
int cmd_loss_mpi(const cls_loss_options *opt, const char *path_a, const char *path_b, const char *path_labels,
                 const char *path_ga, const char *path_gb, int json);
/* clscale bench loss on a ring of ranks. */
int cmd_bench_loss_mpi(int argc, char **argv);
#endif

#endif
