/* Internal interface between the loss files (not public).
 *
 * The float64 reference twins below take inputs exactly as the loss sees them
 * (already normalised if options->normalize; they ignore that flag), build
 * the full logits in double and return loss and gradients in double. They are
 * the specification: readable first, fast never. cls_loss_compute_ref (in
 * loss_ref.c) adds normalisation and its backward around them. */
#ifndef CLS_LOSS_INTERNAL_H
#define CLS_LOSS_INTERNAL_H

#include "../core/internal.h"
#include "clscale/gemm.h"

/* ---- tile products through the GEMM layer -------------------------------
 * A float32 matrix and, in bf16 precision, its bfloat16 copy (same layout;
 * h == NULL in fp32 precision). */
typedef struct {
    const float *f;
    const cls_bf16 *h;
} cls_tile_src;

static inline cls_tile_src cls_tile_src_at(cls_tile_src x, int64_t offset)
{
    cls_tile_src y = {x.f ? x.f + offset : NULL, x.h ? x.h + offset : NULL};
    return y;
}

/* C = alpha op(X) op(Y) + beta C: bf16 inputs with fp32 accumulation when
 * both sources carry bf16 copies, else fp32. Called from inside the kernels'
 * parallel regions, where it runs on the calling thread. */
static inline cls_status cls_tile_gemm(cls_transpose tx, cls_transpose ty, int64_t m, int64_t n, int64_t k,
                                       float alpha, cls_tile_src x, int64_t ldx, cls_tile_src y, int64_t ldy,
                                       float beta, float *c, int64_t ldc)
{
    if (x.h && y.h) return cls_gemm_bf16(tx, ty, m, n, k, alpha, x.h, ldx, y.h, ldy, beta, c, ldc);
    return cls_gemm_f32(tx, ty, m, n, k, alpha, x.f, ldx, y.f, ldy, beta, c, ldc);
}

/* Record the first failure of a tile product inside a parallel region. */
#define CLS_TILE_TRY(fail, call)                                                                    \
    do {                                                                                            \
        cls_status st_ = (call);                                                                    \
        if (st_ != CLS_OK) {                                                                        \
            _Pragma("omp atomic write") fail = (int)st_;                                            \
        }                                                                                           \
    } while (0)

/* After the region: a recorded failure as a status with a message. */
static inline cls_status cls_tile_failed(int fail, const char *where)
{
    return fail ? cls_set_error((cls_status)fail, "%s: a tile product failed (%s)", where,
                                cls_strerror((cls_status)fail))
                : CLS_OK;
}

/* The sources of a (na x d) and b (nb x d) for the tile products: in bf16
 * precision, with bfloat16 copies in *copy (one allocation, cls_free it;
 * NULL in fp32 precision). */
cls_status cls_loss_tile_sources(cls_tile_src *sa, cls_tile_src *sb, cls_bf16 **copy, const float *a, int64_t na,
                                 const float *b, int64_t nb, int64_t d, cls_precision precision);

cls_status cls_clip_ref(cls_loss_result *result, double *grad_a, double *grad_b,
                        const double *a, const double *b, int64_t n, int64_t d,
                        const cls_loss_options *options);
cls_status cls_infonce_ref(cls_loss_result *result, double *grad_a, double *grad_b,
                           const double *a, int64_t na, const double *b, int64_t nb, int64_t d,
                           const int64_t *labels, const cls_loss_options *options);
cls_status cls_ntxent_ref(cls_loss_result *result, double *grad_a, double *grad_b,
                          const double *a, const double *b, int64_t n, int64_t d,
                          const cls_loss_options *options);
cls_status cls_siglip_ref(cls_loss_result *result, double *grad_a, double *grad_b,
                          const double *a, const double *b, int64_t n, int64_t d,
                          const cls_loss_options *options);

/* One block of SigLIP logits (siglip.c; the MPI ring's block kernel and the
 * whole single-process loss with diag = 1 and na == nb). */
cls_status cls_siglip_block(double sums[3], float *grad_a, float *grad_b, const float *a, int64_t na,
                            const float *b, int64_t nb, int64_t d, int diag, double w, const cls_loss_options *o);

/* NT-Xent and SigLIP on un-normalised inputs, fast path (ntxent.c, siglip.c):
 * loss and gradients in one call, used by cls_loss_compute. */
cls_status cls_ntxent_compute(cls_loss_result *result, float *grad_a, float *grad_b,
                              const float *a, const float *b, int64_t n, int64_t d,
                              const cls_loss_options *options);

#endif
