/* Exact contrastive losses computed in tiles: memory O(b*d), never O(b^2).
 *
 * A and B are row-major float32 (rows x dim). The logits X = s * A * B^T (plus a
 * bias for SigLIP) are never stored whole: forwards walk tiles of X with BLAS
 * and keep only per-row / per-column log-sum-exp values, which are the
 * explicit state handed to the backward; backwards rebuild each tile once.
 * Every kernel has a plain float64 twin (*_ref) kept in the library as the
 * specification the fast kernel is tested against.
 *
 * Conventions: outputs first; inputs are never modified; on any failure the
 * outputs are left untouched and cls_last_error() says what was wrong. */
#ifndef CLSCALE_LOSS_H
#define CLSCALE_LOSS_H

#include <stdint.h>

#include "../clscale.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CLS_LOSS_CLIP = 0,    /* symmetric InfoNCE: (A->B + B->A) / 2, positives on the diagonal */
    CLS_LOSS_INFONCE = 1, /* one-directional A->B; nb >= na keys; positive of row i is labels[i] (default i) */
    CLS_LOSS_NTXENT = 2,  /* SimCLR: Z = [A; B], self-similarity excluded, positive = the other view */
    CLS_LOSS_SIGLIP = 3   /* pairwise sigmoid with learnable bias */
} cls_loss_kind;

typedef enum { CLS_REDUCE_MEAN = 0, CLS_REDUCE_SUM = 1 } cls_reduction;

/* Precision of the tile products (docs/loss.md, "Precision"). fp32: float32
 * inputs and accumulation. bf16: the products' inputs (A, B and the gradient
 * tiles G) rounded to bfloat16, accumulation in float32; every log-sum-exp,
 * softmax and gradient accumulation stays float32 / double either way. */
typedef enum { CLS_PRECISION_FP32 = 0, CLS_PRECISION_BF16 = 1 } cls_precision;

typedef struct {
    cls_loss_kind kind;
    double logit_scale;      /* s = 1/temperature, > 0 and finite (default 1/0.07) */
    double bias;             /* SigLIP bias beta (default -10) */
    int normalize;           /* L2-normalise rows inside the loss (with its backward) */
    cls_reduction reduction; /* mean (default) or sum over the loss terms */
    double label_smoothing;  /* InfoNCE / CLIP / NT-Xent, in [0, 1) (default 0) */
    int64_t tile;            /* tile edge in rows, 0 = automatic */
    int threads;             /* 0 = all cores */
    cls_precision precision; /* tile products: fp32 (default) or bf16 */
} cls_loss_options;

/* Fill *opt with the defaults above. */
CLS_API void cls_loss_options_init(cls_loss_options *opt, cls_loss_kind kind);

/* Parse "clip" / "infonce" / "ntxent" / "siglip"; name of a kind. */
CLS_API cls_status cls_loss_kind_parse(const char *name, cls_loss_kind *out);
CLS_API const char *cls_loss_kind_name(cls_loss_kind kind);

/* Parse "fp32" / "bf16"; name of a precision. */
CLS_API cls_status cls_loss_precision_parse(const char *name, cls_precision *out);
CLS_API const char *cls_loss_precision_name(cls_precision precision);

/* Scalar results of a loss evaluation. */
typedef struct {
    double loss;
    double grad_logit_scale; /* dL/ds */
    double grad_bias;        /* dL/dbeta (SigLIP only, else 0) */
} cls_loss_result;

/* One call: loss and (if grad_a / grad_b are non-NULL) gradients for any kind.
 * a: na x d, b: nb x d. For CLIP, NT-Xent and SigLIP na == nb is required; for
 * InfoNCE na <= nb and labels (length na, values in [0, nb)) may be NULL
 * meaning labels[i] = i. grad_a is na x d, grad_b is nb x d. Handles
 * options->normalize. Deterministic: same inputs and thread count -> same bits. */
CLS_API cls_status cls_loss_compute(cls_loss_result *result, float *grad_a, float *grad_b,
                            const float *a, int64_t na, const float *b, int64_t nb, int64_t d,
                            const int64_t *labels, const cls_loss_options *options);

/* The float64 reference twin of cls_loss_compute: materialises the full
 * logits, in double. For tests and small problems only (O(na*nb) memory). */
CLS_API cls_status cls_loss_compute_ref(cls_loss_result *result, double *grad_a, double *grad_b,
                                const double *a, int64_t na, const double *b, int64_t nb, int64_t d,
                                const int64_t *labels, const cls_loss_options *options);

/* Workspace bytes cls_loss_compute allocates for these sizes (beyond its
 * inputs and outputs): O((na + nb) * d + threads * tile * (tile + d)). */
CLS_API size_t cls_loss_workspace_bytes(int64_t na, int64_t nb, int64_t d, const cls_loss_options *options);

/* ---- Symmetric InfoNCE (CLIP), split into forward and backward ----------
 * Inputs are used as given (no normalisation at this level). The forward
 * saves row_lse[n] and col_lse[n] (log-sum-exp of each row / column of X);
 * the backward consumes them and rebuilds each tile of X exactly once. */
CLS_API cls_status cls_clip_forward(double *loss, float *row_lse, float *col_lse,
                            const float *a, const float *b, int64_t n, int64_t d,
                            const cls_loss_options *options);
CLS_API cls_status cls_clip_backward(float *grad_a, float *grad_b, double *grad_logit_scale,
                             const float *row_lse, const float *col_lse,
                             const float *a, const float *b, int64_t n, int64_t d,
                             const cls_loss_options *options);

/* ---- One-directional InfoNCE (A -> B) ----------------------------------- */
CLS_API cls_status cls_infonce_forward(double *loss, float *row_lse,
                               const float *a, int64_t na, const float *b, int64_t nb, int64_t d,
                               const int64_t *labels, const cls_loss_options *options);
CLS_API cls_status cls_infonce_backward(float *grad_a, float *grad_b, double *grad_logit_scale,
                                const float *row_lse,
                                const float *a, int64_t na, const float *b, int64_t nb, int64_t d,
                                const int64_t *labels, const cls_loss_options *options);

/* ---- NT-Xent (SimCLR) --------------------------------------------------- *
 * lse has 2n entries (rows of [A; B] with the self-similarity excluded). */
CLS_API cls_status cls_ntxent_forward(double *loss, float *lse,
                              const float *a, const float *b, int64_t n, int64_t d,
                              const cls_loss_options *options);
CLS_API cls_status cls_ntxent_backward(float *grad_a, float *grad_b, double *grad_logit_scale,
                               const float *lse, const float *a, const float *b, int64_t n, int64_t d,
                               const cls_loss_options *options);

/* ---- SigLIP: no normalisation across rows, so one pass gives everything -- */
CLS_API cls_status cls_siglip_forward_backward(cls_loss_result *result, float *grad_a, float *grad_b,
                                       const float *a, const float *b, int64_t n, int64_t d,
                                       const cls_loss_options *options);

#ifdef __cplusplus
}
#endif

#endif
