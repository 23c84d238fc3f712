/* The GEMM layer: one entry point for matrix products (see clscale/gemm.h).
 * Backend today: OpenBLAS (OpenMP build, so a call from inside one of our
 * parallel regions runs single-threaded). */
#include "internal.h"

#include <cblas.h>

static int stride_ok(cls_transpose t, int64_t rows, int64_t cols, int64_t ld)
{
    /* op(X) is rows x cols; X itself is stored cols x rows when transposed. */
    int64_t row_len = t == CLS_TRANS ? rows : cols;
    return ld >= (row_len > 1 ? row_len : 1);
}

cls_status cls_gemm_f32(cls_transpose trans_a, cls_transpose trans_b, int64_t m, int64_t n,
                        int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                        int64_t ldb, float beta, float *c, int64_t ldc)
{
    if (m < 0 || n < 0 || k < 0)
        return cls_set_error(CLS_E_INVALID_ARG, "gemm: negative size m=%lld n=%lld k=%lld",
                             (long long)m, (long long)n, (long long)k);
    if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || lda > INT32_MAX || ldb > INT32_MAX ||
        ldc > INT32_MAX)
        return cls_set_error(CLS_E_INVALID_ARG, "gemm: a size or stride exceeds 2^31-1");
    if (!stride_ok(trans_a, m, k, lda) || !stride_ok(trans_b, k, n, ldb) || ldc < (n > 1 ? n : 1))
        return cls_set_error(CLS_E_INVALID_ARG, "gemm: a leading dimension is shorter than a row");
    if (m == 0 || n == 0) return CLS_OK;
    if (!c || (k > 0 && (!a || !b)))
        return cls_set_error(CLS_E_INVALID_ARG, "gemm: NULL matrix");
    cblas_sgemm(CblasRowMajor, trans_a == CLS_TRANS ? CblasTrans : CblasNoTrans,
                trans_b == CLS_TRANS ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a,
                (int)lda, b, (int)ldb, beta, c, (int)ldc);
    return CLS_OK;
}

const char *cls_gemm_backend(void) { return "openblas"; }
