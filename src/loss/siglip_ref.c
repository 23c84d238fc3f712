/* SigLIP float64 reference twin: the specification of siglip.c.
 *
 * Full logits X_ij = s*a_i.b_j + beta in double, z_ii = +1, z_ij = -1 else;
 *   L = w * sum_ij softplus(-z_ij X_ij), w = 1/n (mean) or 1 (sum),
 *   G_ij = -w z_ij sigmoid(-z_ij X_ij),
 *   dA = s G B, dB = s G^T A, dL/ds = sum_ij G_ij a_i.b_j, dL/dbeta = sum_ij G_ij.
 * softplus(t) = max(t, 0) + log1p(e^{-|t|}) is safe for any magnitude. */
#include "pair_util.h"

#include <math.h>

static double softplus(double t) { return (t > 0.0 ? t : 0.0) + log1p(exp(-fabs(t))); }
static double sigmoid(double t) { return t >= 0.0 ? 1.0 / (1.0 + exp(-t)) : exp(t) / (1.0 + exp(t)); }

cls_status cls_siglip_ref(cls_loss_result *result, double *grad_a, double *grad_b, const double *a,
                          const double *b, int64_t n, int64_t d, const cls_loss_options *options)
{
    cls_status st = cls_pair_check_f64("SigLIP reference", a, b, n, d, options, 1);
    if (st) return st;
    if (!result) return cls_set_error(CLS_E_INVALID_ARG, "SigLIP reference: result is NULL");
    size_t bytes;
    if (!cls_size_mul(&bytes, n, n, (int64_t)sizeof(double))) return CLS_E_INVALID_ARG;
    double *G = cls_alloc(bytes, "SigLIP reference logits");
    if (!G) return CLS_E_NOMEM;
    const double s = options->logit_scale, beta = options->bias;
    const double w = options->reduction == CLS_REDUCE_SUM ? 1.0 : 1.0 / (double)n;

    double loss = 0.0, gb = 0.0, gs = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double dot = 0.0;
            for (int64_t k = 0; k < d; k++) dot += a[i * d + k] * b[j * d + k];
            const double x = s * dot + beta, z = i == j ? 1.0 : -1.0;
            loss += softplus(-z * x);
            const double g = -w * z * sigmoid(-z * x);
            gb += g;
            gs += g * dot;
            G[i * n + j] = g;
        }

    if (grad_a)
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < d; k++) {
                double acc = 0.0;
                for (int64_t j = 0; j < n; j++) acc += G[i * n + j] * b[j * d + k];
                grad_a[i * d + k] = s * acc;
            }
    if (grad_b)
        for (int64_t j = 0; j < n; j++)
            for (int64_t k = 0; k < d; k++) {
                double acc = 0.0;
                for (int64_t i = 0; i < n; i++) acc += G[i * n + j] * a[i * d + k];
                grad_b[j * d + k] = s * acc;
            }
    cls_free(G);
    result->loss = w * loss;
    result->grad_logit_scale = gs;
    result->grad_bias = gb;
    return CLS_OK;
}
