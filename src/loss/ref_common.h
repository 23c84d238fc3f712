/* Small helpers shared by the float64 reference twins (clip_ref.c,
 * infonce_ref.c): the full logits matrix and a max-subtracted log-sum-exp. */
#ifndef CLS_LOSS_REF_COMMON_H
#define CLS_LOSS_REF_COMMON_H

#include <math.h>

#include "loss_internal.h"

/* X = s * A * B^T, na x nb, plain triple loop in double. */
static inline void cls_ref_logits(double *X, const double *a, int64_t na, const double *b, int64_t nb,
                                  int64_t d, double s)
{
    for (int64_t i = 0; i < na; i++)
        for (int64_t j = 0; j < nb; j++) {
            double acc = 0.0;
            for (int64_t k = 0; k < d; k++) acc += a[i * d + k] * b[j * d + k];
            X[i * nb + j] = s * acc;
        }
}

/* log sum_k e^{x[k * stride]} over n entries, the max subtracted. */
static inline double cls_ref_lse(const double *x, int64_t n, int64_t stride)
{
    double m = -INFINITY, acc = 0.0;
    for (int64_t k = 0; k < n; k++) m = x[k * stride] > m ? x[k * stride] : m;
    for (int64_t k = 0; k < n; k++) acc += exp(x[k * stride] - m);
    return m + log(acc);
}

/* grad_a = s G B, grad_b = s G^T A, and returns sum_ij G_ij X_ij / s. */
static inline double cls_ref_grads(double *grad_a, double *grad_b, const double *G, const double *X,
                                   const double *a, int64_t na, const double *b, int64_t nb, int64_t d,
                                   double s)
{
    double gs = 0.0;
    for (int64_t i = 0; i < na; i++)
        for (int64_t j = 0; j < nb; j++) gs += G[i * nb + j] * X[i * nb + j];
    if (grad_a)
        for (int64_t i = 0; i < na; i++)
            for (int64_t k = 0; k < d; k++) {
                double acc = 0.0;
                for (int64_t j = 0; j < nb; j++) acc += G[i * nb + j] * b[j * d + k];
                grad_a[i * d + k] = s * acc;
            }
    if (grad_b)
        for (int64_t j = 0; j < nb; j++)
            for (int64_t k = 0; k < d; k++) {
                double acc = 0.0;
                for (int64_t i = 0; i < na; i++) acc += G[i * nb + j] * a[i * d + k];
                grad_b[j * d + k] = s * acc;
            }
    return gs / s;
}

#endif
