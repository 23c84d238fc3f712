/* clscale GEMM layer: every matrix product of the library goes through here,
 * so the backend (OpenBLAS today; oneDNN where it is installed and measured
 * faster) is chosen in one place.
 *
 * Row-major, like the rest of clscale: C (m x n) = alpha * op(A) * op(B) + beta * C
 * with op(A) m x k and op(B) k x n; lda/ldb/ldc are row strides in elements.
 *
 * Threads: called from outside an OpenMP parallel region, the product uses the
 * library's thread setting; called from inside one (one tile per thread), it
 * runs single-threaded on the calling thread, never oversubscribing. */
#ifndef CLSCALE_GEMM_H
#define CLSCALE_GEMM_H

#include "../clscale.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CLS_NO_TRANS = 0, CLS_TRANS = 1 } cls_transpose;

/* Single-precision product. Returns CLS_E_INVALID_ARG for negative sizes,
 * strides shorter than a row, or NULL pointers with non-empty extents. */
CLS_API cls_status cls_gemm_f32(cls_transpose trans_a, cls_transpose trans_b, int64_t m, int64_t n,
                                int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                                int64_t ldb, float beta, float *c, int64_t ldc);

/* Name of the backend cls_gemm_f32 uses in this process ("openblas", ...). */
CLS_API const char *cls_gemm_backend(void);

#ifdef __cplusplus
}
#endif

#endif /* CLSCALE_GEMM_H */
