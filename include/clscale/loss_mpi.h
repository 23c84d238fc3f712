/* Distributed symmetric InfoNCE (CLIP) over MPI: a ring of P ranks.
 *
 * Not included by clscale.h (it needs mpi.h); link libclscale_mpi. Each rank
 * holds n_local rows of A and the SAME n_local rows of B (the global batch is
 * the concatenation of the ranks' rows in rank order; positives on the global
 * diagonal); n_local may differ between ranks. The loss is the single-process
 * CLIP loss of the whole batch (see cls_clip_forward): B blocks travel round the
 * ring with non-blocking MPI while local tiles are computed, column
 * log-sum-exp partials and partial dB travel with them and arrive complete at
 * their owner. Memory per rank O(n_local*d + n_max*d + threads*tile*tile), no
 * term in the global batch squared. Communication per rank: (P-1)*n_q*d floats
 * forward, twice that backward (plus O(n) log-sum-exp values).
 *
 * Collective: every rank of comm must call it with the same d and options.
 * On return every rank holds the same result (identical bits) and the
 * gradients of its own rows. Deterministic for a fixed P. Handles
 * options->normalize, mean/sum reduction and label smoothing as the
 * single-process CLIP loss does (mean: w = 1/(2n); sum: w = 1/2). Bad input on
 * any rank makes every rank return an error (the offending rank's message
 * names the row and column; the others name the rank); outputs untouched. */
#ifndef CLSCALE_LOSS_MPI_H
#define CLSCALE_LOSS_MPI_H

#include <mpi.h>

#include "../clscale.h"

#ifdef __cplusplus
extern "C" {
#endif

/* grad_a, grad_b: n_local x d, may both be NULL (loss only; then
 * result->grad_logit_scale is still computed). */
CLS_API cls_status cls_clip_ring_compute(cls_loss_result *result, float *grad_a, float *grad_b,
                                 const float *a_local, const float *b_local, int64_t n_local, int64_t d,
                                 const cls_loss_options *options, MPI_Comm comm);

#ifdef __cplusplus
}
#endif

#endif
