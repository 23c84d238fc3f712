/* NT-Xent float64 reference twin: the specification of ntxent.c.
 *
 * Materialises the full (2n x 2n) logits X = s*Z*Z^T of Z = [A; B] in double,
 * then for every row i (self excluded, positive pos(i) = i +- n):
 *   q_ij   = (1-eps)*[j == pos(i)] + eps/(2n-1)        (j != i)
 *   loss_i = lse_{j!=i}(X_ij) - sum_{j!=i} q_ij X_ij
 *   G_ij   = w * (softmax_{j!=i}(X_i.)_j - q_ij),  w = 1/(2n) (mean) or 1 (sum)
 *   dL/dz_k = s * sum_j (G_kj + G_jk) z_j,   dL/ds = sum_ij G_ij X_ij / s.
 * Plain loops, readable first; O(n^2) memory, for tests and small problems. */
#include "pair_util.h"

#include <math.h>
#include <stdlib.h>

cls_status cls_ntxent_ref(cls_loss_result *result, double *grad_a, double *grad_b, const double *a,
                          const double *b, int64_t n, int64_t d, const cls_loss_options *options)
{
    cls_status st = cls_pair_check_f64("NT-Xent reference", a, b, n, d, options, 0);
    if (st) return st;
    if (!result) return cls_set_error(CLS_E_INVALID_ARG, "NT-Xent reference: result is NULL");
    const int64_t N = 2 * n;
    size_t bytes;
    if (!cls_size_mul(&bytes, N, N, (int64_t)sizeof(double))) return CLS_E_INVALID_ARG;
    double *X = cls_alloc(bytes, "NT-Xent reference logits");
    if (!X) return CLS_E_NOMEM;
    const double s = options->logit_scale, eps = options->label_smoothing;
    const double w = options->reduction == CLS_REDUCE_SUM ? 1.0 : 1.0 / (double)N;
    const double unif = eps / (double)(N - 1);
#define Z(i) ((i) < n ? a + (i) * d : b + ((i) - n) * d)

    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < N; j++) {
            double dot = 0.0;
            for (int64_t k = 0; k < d; k++) dot += Z(i)[k] * Z(j)[k];
            X[i * N + j] = s * dot;
        }

    /* loss, and X overwritten in place by G */
    double loss = 0.0, gs = 0.0;
    for (int64_t i = 0; i < N; i++) {
        double *x = X + i * N;
        const int64_t pos = i < n ? i + n : i - n;
        double m = -INFINITY;
        for (int64_t j = 0; j < N; j++)
            if (j != i && x[j] > m) m = x[j];
        double sum = 0.0;
        for (int64_t j = 0; j < N; j++)
            if (j != i) sum += exp(x[j] - m);
        const double lse = m + log(sum);
        double li = lse;
        for (int64_t j = 0; j < N; j++) {
            if (j == i) continue;
            const double q = (j == pos ? 1.0 - eps : 0.0) + unif;
            li -= q * x[j];
            const double g = w * (exp(x[j] - lse) - q);
            gs += g * x[j];
            x[j] = g;
        }
        x[i] = 0.0;
        loss += li;
    }
    loss *= w;

    if (grad_a || grad_b) {
        for (int64_t k = 0; k < N; k++) {
            double *out = k < n ? (grad_a ? grad_a + k * d : NULL) : (grad_b ? grad_b + (k - n) * d : NULL);
            if (!out) continue;
            for (int64_t c = 0; c < d; c++) out[c] = 0.0;
            for (int64_t j = 0; j < N; j++) {
                const double h = s * (X[k * N + j] + X[j * N + k]);
                for (int64_t c = 0; c < d; c++) out[c] += h * Z(j)[c];
            }
        }
    }
#undef Z
    cls_free(X);
    result->loss = loss;
    result->grad_logit_scale = gs / s;
    result->grad_bias = 0.0;
    return CLS_OK;
}
