/* Closed forms of the featlearn model: the exact N = inf lazy curve, its
 * large-t closed form, the deterministic equivalent of the width bottleneck
 * and the predicted exponents (the spec's table). */
#include "featlearn_internal.h"

#include <math.h>

#include "../../core/internal.h"

/* Lower incomplete gamma gamma(s, z) by its power series; for z far beyond s
 * it equals Gamma(s) to double precision. */
static double lower_gamma(double s, double z)
{
    if (z <= 0.0) return 0.0;
    if (z > 60.0 + 2.0 * s) return tgamma(s);
    double term = 1.0 / s, sum = term;
    for (int n = 1; n < 100000; n++) {
        term *= z / (s + n);
        sum += term;
        if (term < sum * 1e-17) break;
    }
    return exp(s * log(z) - z) * sum;
}

cls_status cls_featlearn_lazy_infinite(double alpha, double beta, int64_t M, double eta,
                                       const double *steps, int64_t n, int add_tail, double *loss)
{
    if (!(alpha > 1.0)) return cls_set_error(CLS_E_INVALID_ARG, "featlearn: alpha = %g must be > 1", alpha);
    if (!(beta > 0.0)) return cls_set_error(CLS_E_INVALID_ARG, "featlearn: beta = %g must be > 0", beta);
    if (M < 1) return cls_set_error(CLS_E_INVALID_ARG, "featlearn: M = %lld must be >= 1", (long long)M);
    if (!(eta > 0.0) || !(eta < 2.0))
        return cls_set_error(CLS_E_INVALID_ARG,
                             "featlearn: eta = %g must be in (0, 2) (lambda_1 = 1)", eta);
    if (!steps || !loss || n < 0) return cls_set_error(CLS_E_INVALID_ARG, "featlearn: NULL array");
    for (int64_t i = 0; i < n; i++)
        if (!(steps[i] >= 0.0))
            return cls_set_error(CLS_E_INVALID_ARG, "featlearn: steps[%lld] = %g is negative",
                                 (long long)i, steps[i]);
    for (int64_t i = 0; i < n; i++) {
        double t = steps[i], L = 0.0;
        /* Smallest terms first. */
        for (int64_t k = M; k >= 1; k--) {
            double kd = (double)k, x = eta * pow(kd, -alpha), c = pow(kd, -alpha * beta - 1.0);
            /* (1 - x)^(2t) = |1 - x|^(2t) (t is a whole number of steps): for
             * eta in (1, 2) the first modes have x > 1, where log1p(-x) is NaN. */
            if (t == 0.0) L += c;
            else L += c * exp(2.0 * t * (x < 1.0 ? log1p(-x) : log(x - 1.0)));
        }
        if (add_tail) {
            /* sum_{k>M} f(k) ~ integral over (M + 1/2, inf) (midpoint rule). */
            double x0 = (double)M + 0.5;
            if (t == 0.0)
                L += pow(x0, -alpha * beta) / (alpha * beta);
            else
                L += pow(2.0 * eta * t, -beta) / alpha *
                     lower_gamma(beta, 2.0 * eta * t * pow(x0, -alpha));
        }
        loss[i] = L;
    }
    return CLS_OK;
}

double cls_featlearn_lazy_closed_form(double alpha, double beta, double eta_t)
{
    return tgamma(beta) / alpha * pow(2.0 * eta_t, -beta);
}

cls_status cls_featlearn_predict(double alpha, double beta, cls_featlearn_prediction *out)
{
    if (!out) return cls_set_error(CLS_E_INVALID_ARG, "featlearn predict: out is NULL");
    if (!(alpha > 1.0) || !isfinite(alpha))
        return cls_set_error(CLS_E_INVALID_ARG, "featlearn: alpha = %g must be > 1", alpha);
    if (!(beta > 0.0) || !isfinite(beta))
        return cls_set_error(CLS_E_INVALID_ARG, "featlearn: beta = %g must be > 0", beta);
    cls_featlearn_prediction p;
    p.time_lazy = beta;
    p.time_rich = beta * fmax(1.0, 2.0 / (1.0 + beta));
    p.width = alpha * fmin(1.0, beta);
    if (beta < 1.0) {
        p.regime = CLS_FEATLEARN_HARD;
        p.regime_name = "hard";
        p.c_lazy = alpha * beta / (alpha + 1.0);
        p.n_lazy = 1.0 / (alpha + 1.0);
        p.t_lazy = alpha / (alpha + 1.0);
        double d = alpha * (1.0 + beta) + 2.0;
        p.c_rich = 2.0 * alpha * beta / d;
        p.n_rich = 2.0 / d;
        p.t_rich = alpha * (1.0 + beta) / d;
    } else {
        if (beta <= 2.0 - 1.0 / alpha) {
            p.regime = CLS_FEATLEARN_EASY;
            p.regime_name = "easy";
            p.c_lazy = alpha * beta / (alpha * beta + 1.0);
            p.n_lazy = (alpha * beta - alpha + 1.0) / (alpha * beta + 1.0);
            p.t_lazy = alpha / (alpha * beta + 1.0);
        } else {
            p.regime = CLS_FEATLEARN_SUPER_EASY;
            p.regime_name = "super-easy";
            p.c_lazy = (2.0 * alpha - 1.0) / (2.0 * alpha);
            p.n_lazy = 0.5;
            p.t_lazy = 0.5;
        }
        /* Feature learning leaves easy tasks alone. */
        p.c_rich = p.c_lazy;
        p.n_rich = p.n_lazy;
        p.t_rich = p.t_lazy;
    }
    *out = p;
    return CLS_OK;
}

cls_status cls_featlearn_deterministic_equivalent(double alpha, double beta, int64_t M, double N,
                                                  double *E, double *kappa)
{
    if (!(alpha > 1.0)) return cls_set_error(CLS_E_INVALID_ARG, "featlearn: alpha = %g must be > 1", alpha);
    if (!(beta > 0.0)) return cls_set_error(CLS_E_INVALID_ARG, "featlearn: beta = %g must be > 0", beta);
    if (M < 2 || !(N > 0.0) || !(N < (double)M))
        return cls_set_error(CLS_E_INVALID_ARG,
                             "featlearn: the deterministic equivalent needs 0 < N < M (N = %g, M = %lld)",
                             N, (long long)M);
    /* df(kappa) = sum lambda/(lambda + kappa) falls from M to 0: bisect in
     * log kappa. */
    double lo = -700.0, hi = 50.0;
    for (int it = 0; it < 200 && hi - lo > 1e-13; it++) {
        double mid = 0.5 * (lo + hi), kap = exp(mid), df = 0.0;
        for (int64_t k = M; k >= 1; k--) {
            double lam = pow((double)k, -alpha);
            df += lam / (lam + kap);
        }
        if (df > N) lo = mid; else hi = mid;
    }
    double kap = exp(0.5 * (lo + hi)), e = 0.0;
    for (int64_t k = M; k >= 1; k--) {
        double kd = (double)k, lam = pow(kd, -alpha);
        e += pow(kd, -alpha * beta - 1.0) * kap / (lam + kap);
    }
    if (E) *E = e;
    if (kappa) *kappa = kap;
    return CLS_OK;
}
