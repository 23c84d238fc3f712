/* The GEMM layer: one entry point for matrix products (see clscale/gemm.h).
 *
 * Backends: OpenBLAS (OpenMP build) always; oneDNN's dnnl_sgemm and
 * dnnl_gemm_bf16bf16f32 when built with CLS_HAVE_DNNL. Both are row-major
 * entry points taking 'N'/'T' flags and int64 sizes. oneDNN is built with the
 * OpenMP runtime (dnnl_config.h: DNNL_CPU_THREADING_RUNTIME == OMP), so like
 * OpenBLAS it runs on one thread when called inside an active parallel
 * region (omp_in_parallel()) and on omp_get_max_threads() threads outside. */
#include "internal.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "clscale/gemm.h"

#ifdef CLS_HAVE_DNNL
#include <dnnl.h>
/* Exported by libdnnl (src/common/gemm.cpp) but not declared in its public
 * header; row-major like dnnl_sgemm. */
extern dnnl_status_t dnnl_gemm_bf16bf16f32(char transa, char transb, dnnl_dim_t M, dnnl_dim_t N,
                                           dnnl_dim_t K, float alpha, const uint16_t *A,
                                           dnnl_dim_t lda, const uint16_t *B, dnnl_dim_t ldb,
                                           float beta, float *C, dnnl_dim_t ldc);
#endif

enum { BACKEND_UNSET = 0, BACKEND_OPENBLAS = 1, BACKEND_ONEDNN = 2 };

/* mode: how the backend was chosen; forced modes ignore the small-shape rule */
static int g_backend = BACKEND_UNSET;
static int g_forced = 0;

int cls_gemm_have_onednn(void)
{
#ifdef CLS_HAVE_DNNL
    return 1;
#else
    return 0;
#endif
}

static int auto_backend(void)
{
#ifdef CLS_HAVE_DNNL
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    /* Measured (docs/gemm.md): on AVX-512 CPUs oneDNN's JIT sgemm ran at
     * 1.7-1.8x OpenBLAS pinned to its AVX2 kernels (OPENBLAS_CORETYPE=Haswell)
     * and at parity to 1.4x with its own AVX-512 kernels; on AVX2-only CPUs
     * both use 256-bit FMA kernels and OpenBLAS is kept. */
    if (__builtin_cpu_supports("avx512f")) return BACKEND_ONEDNN;
    return BACKEND_OPENBLAS;
#else
    return BACKEND_OPENBLAS;
#endif
#else
    return BACKEND_OPENBLAS;
#endif
}

static cls_status choose(const char *name)
{
    if (!name || !*name || strcmp(name, "auto") == 0) {
        g_backend = auto_backend();
        g_forced = 0;
        return CLS_OK;
    }
    if (strcmp(name, "openblas") == 0) {
        g_backend = BACKEND_OPENBLAS;
        g_forced = 1;
        return CLS_OK;
    }
    if (strcmp(name, "onednn") == 0) {
        if (!cls_gemm_have_onednn())
            return cls_set_error(CLS_E_UNSUPPORTED, "gemm: backend 'onednn' requested but this build has no oneDNN");
        g_backend = BACKEND_ONEDNN;
        g_forced = 1;
        return CLS_OK;
    }
    return cls_set_error(CLS_E_INVALID_ARG, "gemm: unknown backend '%s' (openblas, onednn or auto)", name);
}

static int backend(void)
{
    int b = __atomic_load_n(&g_backend, __ATOMIC_ACQUIRE);
    if (b != BACKEND_UNSET) return b;
#pragma omp critical
    {
        if (g_backend == BACKEND_UNSET) {
            /* an unusable CLS_GEMM value falls back to the automatic rule */
            if (choose(getenv("CLS_GEMM")) != CLS_OK) choose(NULL);
        }
    }
    return g_backend;
}

cls_status cls_gemm_set_backend(const char *name)
{
    if (!name || !*name || strcmp(name, "auto") == 0) {
        cls_status s = choose(getenv("CLS_GEMM"));
        if (s != CLS_OK) choose(NULL);
        return CLS_OK;
    }
    return choose(name);
}

const char *cls_gemm_backend(void) { return backend() == BACKEND_ONEDNN ? "onednn" : "openblas"; }

#ifdef CLS_HAVE_DNNL
/* Backend for one product of m n k multiply-adds. */
static int backend_for(int64_t m, int64_t n, int64_t k)
{
    int b = backend();
    if (b != BACKEND_ONEDNN || g_forced) return b;
    if (m * n * k < CLS_GEMM_SMALL_FLOPS) return BACKEND_OPENBLAS;
    /* oneDNN's automatic use is for single-threaded products: the loss's and
     * the probe's tiles inside our parallel regions, where it measured 1.4x
     * OpenBLAS (clscale bench gemm, *_tiles). A multi-threaded call from
     * outside a parallel region goes to OpenBLAS: for k-NN's
     * chunk x 60000 x 512 product with B transposed, oneDNN's threaded sgemm
     * took 4x OpenBLAS's time (44 s vs 11 s for the whole k-NN, 2 threads,
     * bench/bench_eval_sklearn.py --what knn), and at 4096x4096x512 the two
     * were level. CLS_GEMM=onednn forces it everywhere. */
    if (!omp_in_parallel() && omp_get_max_threads() > 1) return BACKEND_OPENBLAS;
    return b;
}
#endif

static int stride_ok(cls_transpose t, int64_t rows, int64_t cols, int64_t ld)
{
    /* op(X) is rows x cols; X itself is stored cols x rows when transposed. */
    int64_t row_len = t == CLS_TRANS ? rows : cols;
    return ld >= (row_len > 1 ? row_len : 1);
}

static cls_status check_args(const char *what, cls_transpose trans_a, cls_transpose trans_b, int64_t m,
                             int64_t n, int64_t k, const void *a, int64_t lda, const void *b, int64_t ldb,
                             const float *c, int64_t ldc, int *empty)
{
    *empty = 0;
    if (m < 0 || n < 0 || k < 0)
        return cls_set_error(CLS_E_INVALID_ARG, "%s: negative size m=%lld n=%lld k=%lld", what, (long long)m,
                             (long long)n, (long long)k);
    if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || lda > INT32_MAX || ldb > INT32_MAX ||
        ldc > INT32_MAX)
        return cls_set_error(CLS_E_INVALID_ARG, "%s: a size or stride exceeds 2^31-1", what);
    if (!stride_ok(trans_a, m, k, lda) || !stride_ok(trans_b, k, n, ldb) || ldc < (n > 1 ? n : 1))
        return cls_set_error(CLS_E_INVALID_ARG, "%s: a leading dimension is shorter than a row", what);
    if (m == 0 || n == 0) {
        *empty = 1;
        return CLS_OK;
    }
    if (!c || (k > 0 && (!a || !b))) return cls_set_error(CLS_E_INVALID_ARG, "%s: NULL matrix", what);
    return CLS_OK;
}

/* C = beta C for k == 0 (BLAS semantics; oneDNN is not asked about it). */
static void scale_c(int64_t m, int64_t n, float beta, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

static void openblas_sgemm(cls_transpose trans_a, cls_transpose trans_b, int64_t m, int64_t n, int64_t k,
                           float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                           float *c, int64_t ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a == CLS_TRANS ? CblasTrans : CblasNoTrans,
                trans_b == CLS_TRANS ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
                (int)ldb, beta, c, (int)ldc);
}

cls_status cls_gemm_f32(cls_transpose trans_a, cls_transpose trans_b, int64_t m, int64_t n, int64_t k,
                        float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                        int64_t ldc)
{
    int empty;
    cls_status s = check_args("gemm", trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, &empty);
    if (s != CLS_OK || empty) return s;
    if (k == 0) {
        scale_c(m, n, beta, c, ldc);
        return CLS_OK;
    }
#ifdef CLS_HAVE_DNNL
    if (backend_for(m, n, k) == BACKEND_ONEDNN) {
        dnnl_status_t st = dnnl_sgemm(trans_a == CLS_TRANS ? 'T' : 'N', trans_b == CLS_TRANS ? 'T' : 'N', m, n, k,
                                      alpha, a, lda, b, ldb, beta, c, ldc);
        if (st != dnnl_success)
            return cls_set_error(CLS_E_INTERNAL, "gemm: dnnl_sgemm failed (status %d) for m=%lld n=%lld k=%lld",
                                 (int)st, (long long)m, (long long)n, (long long)k);
        return CLS_OK;
    }
#endif
    openblas_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return CLS_OK;
}

void cls_bf16_from_f32(cls_bf16 *out, const float *x, int64_t n)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        uint32_t nan = (u & 0x7fffffffu) > 0x7f800000u;
        uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
        out[i] = (cls_bf16)(nan ? ((u >> 16) | 0x40u) : r);
    }
}

void cls_f32_from_bf16(float *out, const cls_bf16 *x, int64_t n)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)x[i] << 16;
        memcpy(&out[i], &u, sizeof u);
    }
}

/* Widen a stored (rows x ld) bf16 matrix, only the `cols` used per row. */
static float *widen(const cls_bf16 *x, int64_t rows, int64_t cols, int64_t ld)
{
    float *w = cls_alloc((size_t)rows * (size_t)cols * sizeof(float), "bf16 gemm: widened input");
    if (!w) return NULL;
    for (int64_t i = 0; i < rows; i++) cls_f32_from_bf16(w + i * cols, x + i * ld, cols);
    return w;
}

cls_status cls_gemm_bf16(cls_transpose trans_a, cls_transpose trans_b, int64_t m, int64_t n, int64_t k,
                         float alpha, const cls_bf16 *a, int64_t lda, const cls_bf16 *b, int64_t ldb, float beta,
                         float *c, int64_t ldc)
{
    int empty;
    cls_status s = check_args("gemm_bf16", trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, &empty);
    if (s != CLS_OK || empty) return s;
    if (k == 0) {
        scale_c(m, n, beta, c, ldc);
        return CLS_OK;
    }
#ifdef CLS_HAVE_DNNL
    if (backend() == BACKEND_ONEDNN) {
        dnnl_status_t st = dnnl_gemm_bf16bf16f32(trans_a == CLS_TRANS ? 'T' : 'N', trans_b == CLS_TRANS ? 'T' : 'N',
                                                 m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        if (st != dnnl_success)
            return cls_set_error(CLS_E_INTERNAL,
                                 "gemm_bf16: dnnl_gemm_bf16bf16f32 failed (status %d) for m=%lld n=%lld k=%lld",
                                 (int)st, (long long)m, (long long)n, (long long)k);
        return CLS_OK;
    }
#endif
    /* fallback: widen exactly to float32 and use sgemm */
    int64_t ar = trans_a == CLS_TRANS ? k : m, ac = trans_a == CLS_TRANS ? m : k;
    int64_t br = trans_b == CLS_TRANS ? n : k, bc = trans_b == CLS_TRANS ? k : n;
    float *wa = widen(a, ar, ac, lda), *wb = wa ? widen(b, br, bc, ldb) : NULL;
    if (!wa || !wb) {
        cls_free(wa);
        return CLS_E_NOMEM;
    }
    openblas_sgemm(trans_a, trans_b, m, n, k, alpha, wa, ac, wb, bc, beta, c, ldc);
    cls_free(wa);
    cls_free(wb);
    return CLS_OK;
}
