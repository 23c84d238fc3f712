/* Helpers shared by the NT-Xent and SigLIP kernels (ntxent.c, siglip.c) and
 * their reference twins: input validation (loss_common.c), tile geometry, and
 * vectorisable float exp / log1p.
 *
 * Why our own exp: the fast kernels evaluate one to two exponentials per logit,
 * as many as the sgemm does multiply-adds per d/2 columns; glibc's scalar expf
 * is not vectorised without -ffast-math and would dominate the run time. The
 * exp is vexp.h's (shared with the CLIP kernel), branch-free so `#pragma omp
 * simd` loops vectorise it. */
#ifndef CLS_LOSS_PAIR_UTIL_H
#define CLS_LOSS_PAIR_UTIL_H

#include "loss_internal.h"
#include "vexp.h"

#include <omp.h>
#include <stdint.h>

/* log(1 + e) for e in [0, 1] in float with relative error ~1e-7 also for tiny
 * e (where computing log(1 + e) directly would lose every digit):
 * log1p(e) = 2 atanh(t), t = e / (2 + e) in [0, 1/3], odd series to t^15. */
static inline float cls_pair_log1pf_unit(float e)
{
    float t = e / (2.0f + e);
    float t2 = t * t;
    float p = 1.0f / 15.0f;
    p = p * t2 + 1.0f / 13.0f;
    p = p * t2 + 1.0f / 11.0f;
    p = p * t2 + 1.0f / 9.0f;
    p = p * t2 + 1.0f / 7.0f;
    p = p * t2 + 1.0f / 5.0f;
    p = p * t2 + 1.0f / 3.0f;
    p = p * t2 + 1.0f;
    return 2.0f * t * p;
}

/* BLAS calls made from our parallel regions must run single-threaded; with a
 * team of one thread OpenMP reports no parallel region and OpenBLAS would fan
 * out, so BLAS is pinned to one thread for the duration of a kernel.
 * OpenBLAS's OpenMP build also resets the caller's OpenMP default team size
 * when its thread count is set, so that is saved and restored as well. */
typedef cls_thread_state cls_pair_threads;

static inline cls_pair_threads cls_pair_blas_serial(void)
{
    cls_pair_threads saved;
    cls_threads_enter(1, &saved);
    return saved;
}

static inline void cls_pair_threads_restore(cls_pair_threads saved) { cls_threads_leave(&saved); }

/* Validate what every NT-Xent / SigLIP entry point receives: non-NULL arrays,
 * n, d > 0, finite inputs (naming a[i][j] / b[i][j]), a positive finite logit
 * scale, a finite bias (when use_bias), label smoothing in [0, 1), tile >= 0. */
cls_status cls_pair_check_f32(const char *loss, const float *a, const float *b, int64_t n, int64_t d,
                              const cls_loss_options *options, int use_bias);
cls_status cls_pair_check_f64(const char *loss, const double *a, const double *b, int64_t n,
                              int64_t d, const cls_loss_options *options, int use_bias);

/* Tile edge in rows for a dimension of `rows` rows: options->tile if set (capped
 * at rows), else a default that keeps a tile of logits in L2 cache. */
int64_t cls_pair_tile(const cls_loss_options *options, int64_t rows);

#endif
