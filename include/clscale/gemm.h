/* clscale GEMM layer: every matrix product of the library goes through here,
 * so the backend (oneDNN where it is installed and measured faster, OpenBLAS
 * otherwise) is chosen in one place.
 *
 * Row-major, like the rest of clscale: C (m x n) = alpha * op(A) * op(B) + beta * C
 * with op(A) m x k and op(B) k x n; lda/ldb/ldc are row strides in elements.
 *
 * Backend choice (docs/gemm.md): the environment variable CLS_GEMM=openblas|onednn
 * forces one; otherwise oneDNN is used when the library was built with it and
 * the CPU has AVX-512 (its JIT kernels follow the CPU; Debian's OpenBLAS runs
 * AVX2 kernels where OPENBLAS_CORETYPE=Haswell pins it, or where its build
 * predates the CPU: oneDNN measured 1.7-1.8x faster there), and
 * OpenBLAS for products under CLS_GEMM_SMALL_FLOPS multiply-adds, where
 * oneDNN's per-call overhead dominates. cls_gemm_set_backend overrides both.
 *
 * Threads: called from outside an OpenMP parallel region, the product uses the
 * OpenMP default team size (cls_blas_set_threads sets it); called from inside
 * an active one (one tile per thread), it runs single-threaded on the calling
 * thread, never oversubscribing (both backends use the same libgomp). */
#ifndef CLSCALE_GEMM_H
#define CLSCALE_GEMM_H

#include <stdint.h>

#include "../clscale.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CLS_NO_TRANS = 0, CLS_TRANS = 1 } cls_transpose;

/* bfloat16 stored as its 16 bits (the top half of a float32). */
typedef uint16_t cls_bf16;

/* Products below this many multiply-adds (m n k) go to OpenBLAS in automatic
 * mode: one thread, best of 5, oneDNN took 2.1x OpenBLAS's time at 16^3,
 * 1.1x at 64^3, 0.9x at 128^3 (docs/gemm.md). */
#define CLS_GEMM_SMALL_FLOPS (1 << 20)

/* Single-precision product. Returns CLS_E_INVALID_ARG for negative sizes,
 * strides shorter than a row, or NULL pointers with non-empty extents. */
CLS_API cls_status cls_gemm_f32(cls_transpose trans_a, cls_transpose trans_b, int64_t m, int64_t n,
                                int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                                int64_t ldb, float beta, float *c, int64_t ldc);

/* bfloat16 inputs, float32 accumulation and output (same conventions as
 * cls_gemm_f32). oneDNN's bf16 kernels when the backend is oneDNN; otherwise
 * the inputs are widened to float32 (exactly) and multiplied by sgemm, which
 * gives the same result up to fp32 summation order. */
CLS_API cls_status cls_gemm_bf16(cls_transpose trans_a, cls_transpose trans_b, int64_t m, int64_t n,
                                 int64_t k, float alpha, const cls_bf16 *a, int64_t lda,
                                 const cls_bf16 *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* out[i] = x[i] rounded to the nearest bfloat16 (ties to even; NaN stays NaN):
 * relative rounding error at most 2^-8 for normal values. */
CLS_API void cls_bf16_from_f32(cls_bf16 *out, const float *x, int64_t n);
/* out[i] = x[i] widened to float32 (exact). */
CLS_API void cls_f32_from_bf16(float *out, const cls_bf16 *x, int64_t n);

/* Name of the backend large products use in this process: "onednn" or "openblas". */
CLS_API const char *cls_gemm_backend(void);

/* Force a backend: "openblas", "onednn", or NULL / "auto" for the automatic
 * rule above (re-reading CLS_GEMM). CLS_E_INVALID_ARG for another name,
 * CLS_E_UNSUPPORTED for "onednn" in a build without it. Not thread-safe: call
 * it before products run on other threads. */
CLS_API cls_status cls_gemm_set_backend(const char *name);

/* 1 if the library was built with oneDNN, else 0. */
CLS_API int cls_gemm_have_onednn(void);

#ifdef __cplusplus
}
#endif

#endif /* CLSCALE_GEMM_H */
