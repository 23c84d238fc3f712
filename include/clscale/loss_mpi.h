/* Distributed contrastive losses over MPI: a ring of P ranks.
 *
 * Not included by clscale.h (it needs mpi.h); link libclscale_mpi. The global
 * batch is the concatenation of the ranks' rows in rank order; shards may be
 * uneven. The result is the single-process loss of the whole batch
 * (cls_loss_compute): key blocks travel round the ring with non-blocking MPI
 * while the local tiles are computed by the single-process tile kernel;
 * column log-sum-exp partials and partial key gradients travel with them and
 * arrive complete at their owner. Memory per rank O((n_local + nb_max) d +
 * threads tile^2), no term in the global batch squared. Communication per
 * rank per evaluation: 3 (P-1) blocks of nb_q x d floats (B forward, B and dB
 * backward; NT-Xent: blocks of 2 n_q rows; SigLIP: 2 (P-1), one pass) plus O(nb) doubles. docs/distributed.md has the scaling model.
 *
 * Collective: every rank of comm calls it with the same d and options. On
 * return every rank holds the same result (identical bits) and the gradients
 * of its own rows. P = 1 is cls_loss_compute itself (identical bits);
 * deterministic for a fixed P and thread count. Bad input on any rank makes
 * every rank return an error (the offending rank's message names the row and
 * column; the others name the rank); outputs untouched. */
#ifndef CLSCALE_LOSS_MPI_H
#define CLSCALE_LOSS_MPI_H

#include <mpi.h>

#include "../clscale.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Any kind distributed over comm, arguments as cls_loss_compute's but local:
 * - CLIP: a_local and b_local are the same rows of A and B (na_local == nb_local).
 * - InfoNCE: a_local are this rank's queries, b_local its shard of the keys
 *   (nb_local may differ from na_local); labels_local[i] is the GLOBAL index of
 *   query i's key (NULL: the query's own global index); keys over all ranks >=
 *   queries over all ranks.
 * - NT-Xent, SigLIP: as CLIP, the same rows of A and B on each rank (NT-Xent:
 *   the global Z = [A; B] with A's rows of all ranks first, as single-process).
 * grad_a, grad_b: this rank's rows, may be NULL (loss only; grad_logit_scale is
 * then NaN, as with cls_loss_compute). */
CLS_API cls_status cls_loss_ring_compute(cls_loss_result *result, float *grad_a, float *grad_b,
                                         const float *a_local, int64_t na_local, const float *b_local,
                                         int64_t nb_local, int64_t d, const int64_t *labels_local,
                                         const cls_loss_options *options, MPI_Comm comm);

/* CLIP on the ring: cls_loss_ring_compute with kind CLIP and the same rows of
 * A and B on each rank. */
CLS_API cls_status cls_clip_ring_compute(cls_loss_result *result, float *grad_a, float *grad_b,
                                         const float *a_local, const float *b_local, int64_t n_local, int64_t d,
                                         const cls_loss_options *options, MPI_Comm comm);

/* What the last cls_loss_ring_compute / cls_clip_ring_compute call of this
 * process spent (for clscale bench loss under mpirun): wall time, time blocked
 * in MPI waits and collectives (communication not hidden behind compute, plus
 * waiting for slower ranks), and bytes this rank sent. */
typedef struct {
    double total_seconds, wait_seconds, bytes_sent;
} cls_ring_stats;
CLS_API void cls_loss_ring_last_stats(cls_ring_stats *out);

#ifdef __cplusplus
}
#endif

#endif
