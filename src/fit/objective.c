/* The robust objective of the LSE laws and its analytic gradient.
 *
 * For point i the law in log space is LSE_i = log(exp(e) + sum_k exp(a_k -
 * alpha_k ln x_ik)); the residual r_i = LSE_i - ln L_i enters a Huber loss with
 * threshold delta, summed over points and divided by delta (the spec's
 * scaling: dividing by delta keeps gradients O(1) per point, and the sum -
 * not the mean - keeps them from shrinking with n, which is what stopped the
 * Chinchilla paper's optimiser early). With softmax weights s_ij of the LSE
 * terms and psi_i = clip(r_i, -delta, delta) / delta:
 *   d/de = sum psi_i s_i0,  d/da_k = sum psi_i s_ik,
 *   d/dalpha_k = -sum psi_i s_ik ln x_ik. */
#include "fit_internal.h"

#include <math.h>
#include <string.h>

/* glibc's libmvec has SIMD variants of exp and log (math.h only declares them
 * under -ffast-math, which we do not want elsewhere). Declaring them here lets
 * the `omp simd` loops below use 4 or 8 lanes; libm.so pulls libmvec in as
 * needed. Elsewhere the loops stay scalar. Results are deterministic either
 * way: every point always goes through the same code path. */
#if defined(__GLIBC__) && defined(__x86_64__) && defined(_OPENMP)
#pragma omp declare simd notinbranch
extern double exp(double);
#pragma omp declare simd notinbranch
extern double log(double);
#endif

#define CHUNK 64 /* points per block: the terms of a block stay in L1 */

double cls_fit_objective(const double *theta, int nvars, const double *logx, const double *logy,
                         const double *w, int64_t n, double delta, double *grad)
{
    const int k = nvars, nraw = 1 + 2 * nvars;
    double f = 0.0;
    double g[CLS_FIT_MAX_PARAMS] = {0};
    double t[(CLS_FIT_MAX_VARS + 1) * CHUNK], m[CHUNK], s[CHUNK], r[CHUNK];
    for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
        const int c = (int)(n - i0 < CHUNK ? n - i0 : CHUNK);
        const double *lx = logx + i0 * k;
        /* Terms t_0 = e, t_j = a_j - alpha_j ln x_j, and their maximum. */
        for (int q = 0; q < c; q++) m[q] = t[q] = theta[0];
        for (int j = 0; j < k; j++) {
            double *tj = t + (j + 1) * CHUNK;
            const double aj = theta[1 + j], alj = theta[1 + k + j];
#pragma omp simd
            for (int q = 0; q < c; q++) {
                tj[q] = aj - alj * lx[q * k + j];
                m[q] = tj[q] > m[q] ? tj[q] : m[q];
            }
        }
        /* Softmax numerators and the residual r = LSE - ln L. */
        for (int q = 0; q < c; q++) s[q] = 0.0;
        for (int j = 0; j <= k; j++) {
            double *tj = t + j * CHUNK;
#pragma omp simd
            for (int q = 0; q < c; q++) {
                tj[q] = exp(tj[q] - m[q]);
                s[q] += tj[q];
            }
        }
#pragma omp simd
        for (int q = 0; q < c; q++) r[q] = m[q] + log(s[q]) - logy[i0 + q];
        for (int q = 0; q < c; q++) {
            double wi = w ? w[i0 + q] : 1.0;
            if (wi == 0.0) continue;
            double rq = r[q], ar = fabs(rq);
            f += wi * (ar <= delta ? 0.5 * rq * rq / delta : ar - 0.5 * delta);
            if (grad) {
                double psi = (rq > delta ? delta : (rq < -delta ? -delta : rq)) / delta;
                double cq = wi * psi / s[q];
                g[0] += cq * t[q];
                for (int j = 0; j < k; j++) {
                    double cs = cq * t[(j + 1) * CHUNK + q];
                    g[1 + j] += cs;
                    g[1 + k + j] -= cs * lx[q * k + j];
                }
            }
        }
    }
    if (grad) memcpy(grad, g, sizeof(double) * (size_t)nraw);
    return f;
}
