/* Symmetric InfoNCE (CLIP), float64 reference twin: the full logits in double,
 * written to be read. See clip.c for the loss and its reductions.
 * G = w (P^row + P^col) - 2 w e / b - 2 w (1 - e) I, dA = s G B, dB = s G^T A,
 * dL/ds = sum G_ij X_ij / s. */
#include "ref_common.h"

cls_status cls_clip_ref(cls_loss_result *result, double *grad_a, double *grad_b, const double *a,
                        const double *b, int64_t n, int64_t d, const cls_loss_options *options)
{
    const double s = options->logit_scale, e = options->label_smoothing;
    const double w = options->reduction == CLS_REDUCE_SUM ? 0.5 : 1.0 / (2.0 * (double)n);
    double *X = cls_alloc((size_t)n * (size_t)n * sizeof(double), "reference logits");
    double *G = cls_alloc((size_t)n * (size_t)n * sizeof(double), "reference logit gradient");
    double *lse = cls_alloc(2 * (size_t)n * sizeof(double), "reference log-sum-exp");
    if (!X || !G || !lse) {
        cls_free(X);
        cls_free(G);
        cls_free(lse);
        return CLS_E_NOMEM;
    }
    double *r = lse, *c = lse + n;
    cls_ref_logits(X, a, n, b, n, d, s);
    double loss = 0.0;
    for (int64_t i = 0; i < n; i++) {
        r[i] = cls_ref_lse(X + i * n, n, 1);
        c[i] = cls_ref_lse(X + i, n, n);
    }
    for (int64_t i = 0; i < n; i++) {
        double row_mean = 0.0, col_mean = 0.0;
        for (int64_t j = 0; j < n; j++) {
            row_mean += X[i * n + j] / (double)n;
            col_mean += X[j * n + i] / (double)n;
        }
        loss += (r[i] - (1.0 - e) * X[i * n + i] - e * row_mean) + (c[i] - (1.0 - e) * X[i * n + i] - e * col_mean);
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double x = X[i * n + j];
            G[i * n + j] = w * (exp(x - r[i]) + exp(x - c[j])) - 2.0 * w * e / (double)n -
                           (i == j ? 2.0 * w * (1.0 - e) : 0.0);
        }
    double gs = cls_ref_grads(grad_a, grad_b, G, X, a, n, b, n, d, s);
    result->loss = w * loss;
    result->grad_logit_scale = gs;
    result->grad_bias = 0.0;
    cls_free(X);
    cls_free(G);
    cls_free(lse);
    return CLS_OK;
}
