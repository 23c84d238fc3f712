/* One-directional InfoNCE, float64 reference twin: full logits in double.
 * L = w sum_i [r_i - (1-e) X_{i,l(i)} - (e/nb) sum_j X_ij],
 * G = w (P - e/nb - (1-e) onehot(l(i))), dA = s G B, dB = s G^T A. */
#include "ref_common.h"

cls_status cls_infonce_ref(cls_loss_result *result, double *grad_a, double *grad_b, const double *a,
                           int64_t na, const double *b, int64_t nb, int64_t d, const int64_t *labels,
                           const cls_loss_options *options)
{
    const double s = options->logit_scale, e = options->label_smoothing;
    const double w = options->reduction == CLS_REDUCE_SUM ? 1.0 : 1.0 / (double)na;
    double *X = cls_alloc((size_t)na * (size_t)nb * sizeof(double), "reference logits");
    double *G = cls_alloc((size_t)na * (size_t)nb * sizeof(double), "reference logit gradient");
    if (!X || !G) {
        cls_free(X);
        cls_free(G);
        return CLS_E_NOMEM;
    }
    cls_ref_logits(X, a, na, b, nb, d, s);
    double loss = 0.0;
    for (int64_t i = 0; i < na; i++) {
        const double *x = X + i * nb;
        int64_t pos = labels ? labels[i] : i;
        double r = cls_ref_lse(x, nb, 1), mean = 0.0;
        for (int64_t j = 0; j < nb; j++) mean += x[j] / (double)nb;
        loss += r - (1.0 - e) * x[pos] - e * mean;
        for (int64_t j = 0; j < nb; j++)
            G[i * nb + j] = w * (exp(x[j] - r) - e / (double)nb - (j == pos ? 1.0 - e : 0.0));
    }
    double gs = cls_ref_grads(grad_a, grad_b, G, X, a, na, b, nb, d, s);
    result->loss = w * loss;
    result->grad_logit_scale = gs;
    result->grad_bias = 0.0;
    cls_free(X);
    cls_free(G);
    return CLS_OK;
}
