/* Internal interface of the loss engine proper (CLIP and InfoNCE fast paths,
 * the shared tile kernel and argument checks). Not public; kept apart from
 * loss_internal.h, which is shared with the NT-Xent / SigLIP files. */
#ifndef CLS_LOSS_ENGINE_H
#define CLS_LOSS_ENGINE_H

#include "loss_internal.h"

/* Largest tile edge accepted (a tile buffer is tile^2 floats per thread). */
#define CLS_TILE_MAX 8192

/* One tiled problem: logits X = scale * A * B^T, A na x d (queries), B nb x d
 * (keys). Row statistics always; column statistics when `columns` (CLIP). */
typedef struct {
    const float *a;
    int64_t na;
    const float *b;
    int64_t nb;
    cls_precision precision; /* of the tile products (bf16: the kernel makes bf16 copies of a, b) */
    int64_t d;
    float scale;
    int64_t tile;          /* tile edge in rows, already resolved (>= 1) */
    int threads;           /* already resolved (>= 1) */
    const int64_t *labels; /* positive key of row i (NULL: key i) */
    int columns;           /* also column log-sum-exp and column softmax (needs na == nb) */
    int exclude_diag;      /* entries i == j are not logits (NT-Xent self-similarity on the MPI ring) */
} cls_tile_problem;

/* G_ij = row * e^{x_ij - r_i} + col * e^{x_ij - c_j} - uniform
 *        - pos_row [j == labels[i]] - pos_col [i == j]. */
typedef struct {
    double row, col, uniform, pos_row, pos_col;
} cls_tile_weights;

/* Log-sum-exp of a row or column, split as max + log(sum e^{x - max}) so the
 * backward can form x - lse accurately in float. */
typedef struct {
    double *max; /* a float value stored in double (the max of float logits) */
    double *log_sum;
} cls_lse;

/* Tile edge for a request (0 = automatic), clamped to the problem. */
int64_t cls_tile_resolve(int64_t requested, int64_t na, int64_t nb, int64_t d, int threads);

/* Bytes of the per-thread buffers of the tile kernels. */
size_t cls_tile_workspace_bytes(int64_t na, int64_t nb, int64_t d, int64_t tile, int threads);

/* Forward: row (and column) log-sum-exp, and the logit of each row's positive
 * as computed in its tile (row_pos, length na). One pass over the tiles. */
cls_status cls_tile_forward(const cls_tile_problem *p, cls_lse rows, cls_lse cols, double *row_pos);

/* Backward: rebuild each tile once, form G, grad_a = s G B and grad_b = s G^T A
 * (both overwritten). */
cls_status cls_tile_backward(const cls_tile_problem *p, const cls_tile_weights *w, cls_lse rows,
                             cls_lse cols, float *grad_a, float *grad_b);

/* Checks that need no data: sizes, shapes per kind, options, labels. */
cls_status cls_loss_check_args(cls_loss_kind kind, int64_t na, int64_t nb, int64_t d,
                               const int64_t *labels, const cls_loss_options *o);

/* Fast CLIP / InfoNCE on inputs used as given (no normalisation). grad_a and
 * grad_b are both NULL (loss only; grad_logit_scale = NaN) or both set. */
cls_status cls_clip_run(cls_loss_result *res, float *grad_a, float *grad_b, const float *a,
                        const float *b, int64_t n, int64_t d, const cls_loss_options *o);
cls_status cls_infonce_run(cls_loss_result *res, float *grad_a, float *grad_b, const float *a,
                           int64_t na, const float *b, int64_t nb, int64_t d, const int64_t *labels,
                           const cls_loss_options *o);

/* *out = <g, x> / s over n x d arrays, in double, deterministic (any thread
 * count). CLS_E_NOMEM (with a message) if its partial sums cannot be allocated. */
cls_status cls_grad_scale_from(double *out, const float *g, const float *x, int64_t n, int64_t d, double s,
                               int threads);

/* Normalisation (loss_common.c): every row nonzero (CLS_E_INVALID_ARG naming
 * the row otherwise); dst = rows of x scaled to unit norm; and the backward
 * g <- (g - x_hat (x_hat . g)) / |x| in place. */
cls_status cls_loss_check_nonzero_rows(const float *x, int64_t n, int64_t d, const char *name);
void cls_loss_normalize_rows(float *dst, const float *x, int64_t n, int64_t d, int threads);
void cls_loss_normalize_backward(float *g, const float *x, int64_t n, int64_t d, int threads);

#endif
