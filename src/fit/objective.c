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

double cls_fit_objective(const double *theta, int nvars, const double *logx, const double *logy,
                         const double *w, int64_t n, double delta, double *grad)
{
    const int k = nvars, nraw = 1 + 2 * nvars;
    double f = 0.0;
    double g[CLS_FIT_MAX_PARAMS] = {0};
    for (int64_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        if (wi == 0.0) continue;
        const double *lx = logx + i * k;
        double t[CLS_FIT_MAX_VARS + 1];
        t[0] = theta[0];
        double m = t[0];
        for (int j = 0; j < k; j++) {
            t[j + 1] = theta[1 + j] - theta[1 + k + j] * lx[j];
            if (t[j + 1] > m) m = t[j + 1];
        }
        double s = 0.0;
        for (int j = 0; j <= k; j++) {
            t[j] = exp(t[j] - m);
            s += t[j];
        }
        double r = m + log(s) - logy[i];
        double ar = fabs(r);
        f += wi * (ar <= delta ? 0.5 * r * r / delta : ar - 0.5 * delta);
        if (grad) {
            double psi = (r > delta ? delta : (r < -delta ? -delta : r)) / delta;
            double c = wi * psi / s;
            g[0] += c * t[0];
            for (int j = 0; j < k; j++) {
                double cs = c * t[j + 1];
                g[1 + j] += cs;
                g[1 + k + j] -= cs * lx[j];
            }
        }
    }
    if (grad) memcpy(grad, g, sizeof(double) * (size_t)nraw);
    return f;
}
