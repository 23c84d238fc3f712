/* Shared by clscale bench gemm and bench loss: the machine's GEMM peaks. */
#ifndef CLS_CLI_BENCH_GEMM_H
#define CLS_CLI_BENCH_GEMM_H

#include <stdint.h>

/* One measured GEMM peak. */
typedef struct {
    const char *name; /* "onednn_f32", "openblas_f32", "onednn_bf16", "fma_f32", "dpbf16" */
    int64_t m, n, k;  /* 0 for the register-only loops */
    int tiles;        /* 1: every thread runs its own product (the loss's tile use) */
    double gflops;    /* median; 0 when not available in this build / CPU */
} bench_peak;

/* Median of v[0..n) (sorts v). */
double bench_median(double *v, int n);

/* Median GFLOP/s of C = A B^T (m x n x k) through the GEMM layer forced to
 * `backend` ("openblas" / "onednn"), fp32 or bf16 inputs; with tiles = 1 each
 * of `threads` threads multiplies its own matrices at the same time (the rate
 * is the sum). Returns 0 when the backend is not built. Restores the
 * automatic backend choice afterwards. */
double bench_gemm_rate(const char *backend, int bf16, int64_t m, int64_t n, int64_t k, int tiles, int threads,
                       int repeats);

/* Register-only multiply-add loops on every thread: fp32 FMA (2 FLOPs per
 * lane) and, where the CPU has AVX512_BF16, vdpbf16ps (4 FLOPs per fp32 lane).
 * Median GFLOP/s; 0 if not available. */
double bench_fma_peak(int threads, int repeats);
double bench_dpbf16_peak(int threads, int repeats);

/* The standard set: fp32 and bf16 for both backends at 4096x4096x512 (one
 * call on all threads) and 512^3 (one product per thread), plus the loops.
 * Fills up to `max` entries, returns the count. */
int bench_peaks_measure(bench_peak *out, int max, int threads, int repeats);

#endif
