/* Shared statistics: weighted log-log least squares, percentile, mean/SE.
 * Declarations and contracts: include/clscale/stats.h. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

static int usable(double x, double y, double w)
{
    return x > 0.0 && y > 0.0 && w > 0.0 && isfinite(x) && isfinite(y) && isfinite(w);
}

cls_status cls_stats_loglog_fit(const double *x, const double *y, const double *w, int64_t n,
                                double *slope, double *intercept, int64_t *used)
{
    if (used) *used = 0;
    if (n < 0 || (n > 0 && (!x || !y)))
        return cls_set_error(CLS_E_INVALID_ARG, "log-log fit: NULL array or n = %lld", (long long)n);
    /* pass 1: weighted means of log x and log y */
    double sw = 0.0, mx = 0.0, my = 0.0;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        if (!usable(x[i], y[i], wi)) continue;
        sw += wi;
        mx += wi * log(x[i]);
        my += wi * log(y[i]);
        m++;
    }
    if (used) *used = m;
    if (m < 2)
        return cls_set_error(CLS_E_INVALID_ARG, "log-log fit: %lld usable (positive, finite) points, need 2",
                             (long long)m);
    mx /= sw;
    my /= sw;
    /* pass 2: centred sums */
    double sxx = 0.0, sxy = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        if (!usable(x[i], y[i], wi)) continue;
        double dx = log(x[i]) - mx, dy = log(y[i]) - my;
        sxx += wi * dx * dx;
        sxy += wi * dx * dy;
    }
    if (!(sxx > 0.0))
        return cls_set_error(CLS_E_NUMERIC, "log-log fit: all %lld fitted x are equal (%g)", (long long)m,
                             exp(mx));
    double b = sxy / sxx;
    if (slope) *slope = b;
    if (intercept) *intercept = my - b * mx;
    return CLS_OK;
}

double cls_stats_percentile_sorted(const double *v, int64_t n, double q)
{
    if (!v || n < 1) return NAN;
    double pos = q / 100.0 * (double)(n - 1);
    if (!(pos > 0.0)) return v[0];
    int64_t i = (int64_t)floor(pos);
    if (i >= n - 1) return v[n - 1];
    return v[i] + (pos - (double)i) * (v[i + 1] - v[i]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

cls_status cls_stats_percentile(const double *v, int64_t n, double q, double *out)
{
    if (!out || n < 0 || (n > 0 && !v))
        return cls_set_error(CLS_E_INVALID_ARG, "percentile: NULL argument or n = %lld", (long long)n);
    *out = NAN;
    if (!(q >= 0.0 && q <= 100.0))
        return cls_set_error(CLS_E_INVALID_ARG, "percentile: q = %g is not in [0, 100]", q);
    if (n == 0) return CLS_OK;
    double *s = cls_alloc(sizeof(double) * (size_t)n, "percentile copy");
    if (!s) return CLS_E_NOMEM;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(v[i])) s[m++] = v[i];
    if (m > 0) {
        qsort(s, (size_t)m, sizeof *s, cmp_double);
        *out = cls_stats_percentile_sorted(s, m, q);
    }
    cls_free(s);
    return CLS_OK;
}

cls_status cls_stats_mean_se(const double *x, int64_t n, double *mean, double *se)
{
    if (!x || !mean || n < 1)
        return cls_set_error(CLS_E_INVALID_ARG, "mean: NULL argument or n = %lld < 1", (long long)n);
    double s = 0.0;
    for (int64_t k = 0; k < n; k++) s += x[k];
    double mu = s / (double)n, v = 0.0;
    for (int64_t k = 0; k < n; k++) v += (x[k] - mu) * (x[k] - mu);
    *mean = mu;
    if (se) *se = n > 1 ? sqrt(v / (double)(n - 1) / (double)n) : 0.0;
    return CLS_OK;
}
