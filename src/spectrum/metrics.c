/* Metrics on a spectrum: the alpha-ReQ power-law fit, entropy ranks (RankMe,
 * effective rank) and the participation ratio. Definitions: spec spectrum.md. */
#include "spectrum_internal.h"

#include <math.h>

cls_status cls_spectrum_fit_alpha(const double *eig, int64_t count, double total, int64_t lo,
                                  int64_t hi, cls_spectrum_weights weights, int64_t n, int64_t d,
                                  double *alpha, double *intercept, double *r2,
                                  unsigned *warnings)
{
    if (!eig || !alpha || !intercept || !r2 || !warnings)
        return cls_set_error(CLS_E_INVALID_ARG, "cls_spectrum_fit_alpha: NULL argument");
    if (lo < 1 || hi < lo + 1)
        return cls_set_error(CLS_E_INVALID_ARG, "fit range %lld:%lld: need 1 <= LO < HI",
                             (long long)lo, (long long)hi);
    if (hi > count)
        return cls_set_error(CLS_E_INVALID_ARG, "fit range %lld:%lld: only %lld eigenvalues available",
                             (long long)lo, (long long)hi, (long long)count);
    if (!(total > 0) || !isfinite(total))
        return cls_set_error(CLS_E_NUMERIC, "spectrum: total variance is %g; nothing to fit", total);
    if (weights != CLS_SPECTRUM_WEIGHTS_INV && weights != CLS_SPECTRUM_WEIGHTS_NONE)
        return cls_set_error(CLS_E_INVALID_ARG, "cls_spectrum_fit_alpha: unknown weights %d", (int)weights);
    unsigned warn = 0;
    int64_t m = hi - lo + 1, used = 0;
    double *buf = cls_alloc(sizeof(double) * (size_t)(3 * m), "alpha fit points");
    if (!buf) return CLS_E_NOMEM;
    double *xs = buf, *ys = buf + m, *ws = buf + 2 * m;
    for (int64_t k = lo; k <= hi; k++) {
        double lam = eig[k - 1];
        if (!(lam > 0)) warn |= CLS_SPECTRUM_WARN_NONPOSITIVE;
        else used++;
        xs[k - lo] = (double)k;
        ys[k - lo] = lam / total; /* skipped by the fit when not positive */
        ws[k - lo] = weights == CLS_SPECTRUM_WEIGHTS_INV ? 1.0 / (double)k : 1.0;
    }
    double slope = 0.0, c = 0.0;
    cls_status st = used < 2 ? CLS_E_NUMERIC : cls_stats_loglog_fit(xs, ys, ws, m, &slope, &c, NULL);
    cls_free(buf);
    if (st != CLS_OK)
        return cls_set_error(st, "fit range %lld:%lld: fewer than 2 positive eigenvalues",
                             (long long)lo, (long long)hi);
    /* R^2: unweighted, in log space, over the fitted ranks */
    double ybar = 0;
    for (int64_t k = lo; k <= hi; k++)
        if (eig[k - 1] > 0) ybar += log(eig[k - 1] / total);
    ybar /= (double)used;
    double ss_res = 0, ss_tot = 0;
    for (int64_t k = lo; k <= hi; k++) {
        if (!(eig[k - 1] > 0)) continue;
        double y = log(eig[k - 1] / total), f = c + slope * log((double)k);
        ss_res += (y - f) * (y - f);
        ss_tot += (y - ybar) * (y - ybar);
    }
    double rsq = ss_tot > 0 ? 1.0 - ss_res / ss_tot : (ss_res == 0 ? 1.0 : 0.0);
    if (used < 10) warn |= CLS_SPECTRUM_WARN_FEW_RANKS;
    int64_t mnd = n < d ? n : d;
    if (4 * hi > mnd) warn |= CLS_SPECTRUM_WARN_FINITE_N;
    if (rsq < 0.95) warn |= CLS_SPECTRUM_WARN_LOW_R2;
    *alpha = -slope;
    *intercept = c;
    *r2 = rsq;
    *warnings = warn;
    return CLS_OK;
}

double cls_spectrum_entropy_rank(const double *values, int64_t count, double eps)
{
    double sum = 0;
    for (int64_t k = 0; k < count; k++) sum += values[k] > 0 ? values[k] : 0;
    if (!(sum > 0)) return NAN;
    double h = 0;
    for (int64_t k = 0; k < count; k++) {
        double p = (values[k] > 0 ? values[k] : 0) / sum + eps;
        if (p > 0) h -= p * log(p);
    }
    return exp(h);
}

/* entropy rank of sqrt(max(l, 0)) without a temporary array */
static double sqrt_entropy_rank(const double *eig, int64_t count, double eps)
{
    double sum = 0;
    for (int64_t k = 0; k < count; k++) sum += eig[k] > 0 ? sqrt(eig[k]) : 0;
    if (!(sum > 0)) return NAN;
    double h = 0;
    for (int64_t k = 0; k < count; k++) {
        double p = (eig[k] > 0 ? sqrt(eig[k]) : 0) / sum + eps;
        if (p > 0) h -= p * log(p);
    }
    return exp(h);
}

double cls_spectrum_rankme(const double *eig, int64_t count)
{
    return sqrt_entropy_rank(eig, count, 1e-7);
}

double cls_spectrum_effective_rank(const double *eig, int64_t count)
{
    return sqrt_entropy_rank(eig, count, 0.0);
}

double cls_spectrum_participation_ratio(double total, double total_sq)
{
    if (!(total_sq > 0)) return NAN;
    return total * total / total_sq;
}
