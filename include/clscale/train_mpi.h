/* Data-parallel training over MPI (link libclscale_mpi; not included by
 * clscale.h, it needs mpi.h).
 *
 * Every rank of comm calls it with the same configuration. The global batch
 * of cfg->batch images is split over the P ranks (rank r: images
 * [r B / P, (r+1) B / P) of each batch, uneven allowed); each rank builds and
 * encodes only its images' views, with gradient caching; the loss is the ring
 * loss on the global batch (cls_loss_ring_compute); the parameter gradients
 * are summed over ranks in a fixed order (a ring all-reduce: segment k is
 * always added g_k + g_{k+1} + ... + g_{k-1}; no MPI_Allreduce, whose order is
 * the implementation's) and every rank takes
 * the same optimiser step. Deterministic for a fixed P and thread count; P = 1
 * gives cls_train_run's bits; other P agree with it to float rounding.
 *
 * Rank 0 writes out_dir (config.json, metrics.jsonl, checkpoints: the same
 * files as cls_train_run; the checkpoint holds only global state, so a run
 * resumes at any P). On resume rank 0 reads the checkpoint and sends it to
 * the others. A failure on any rank is returned on every rank: the failing
 * rank's message, prefixed "rank r: ", is the message everywhere. The
 * progress callback is called on rank 0 only; its stop request stops all. */
#ifndef CLSCALE_TRAIN_MPI_H
#define CLSCALE_TRAIN_MPI_H

#include <mpi.h>

#include "train.h"

#ifdef __cplusplus
extern "C" {
#endif

CLS_API cls_status cls_train_run_mpi(const cls_train_config *cfg, const char *out_dir, int resume,
                                     cls_train_result *out, MPI_Comm comm);

/* `mpirun clscale bench train`: cls_train_bench on comm, plus what
 * communication cost this rank over the timed steps (per step): bytes it
 * sent (ring and gradient exchange), seconds blocked in the ring's MPI waits
 * and in the gradient exchange and agreement collectives. */
typedef struct {
    cls_train_bench_result bench; /* samples_per_s and gflops: the whole batch, all ranks */
    int ranks;
    int64_t local_images;         /* this rank's images per step */
    double bytes_sent_per_step;   /* this rank */
    double ring_wait_seconds_per_step, exchange_seconds_per_step, wait_share;
} cls_train_bench_mpi_result;

CLS_API cls_status cls_train_bench_mpi(const cls_train_config *cfg, int64_t steps,
                                       cls_train_bench_mpi_result *out, MPI_Comm comm);

#ifdef __cplusplus
}
#endif

#endif
