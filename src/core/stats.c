/* Shared statistics: weighted log-log least squares, percentile, mean/SE,
 * average ranks, Pearson and Spearman correlation (permutation p-value).
 * Declarations and contracts: include/clscale/stats.h. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

typedef struct {
    double v;
    int64_t i;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

cls_status cls_stats_ranks(const double *x, int64_t n, double *rank)
{
    if (n < 0 || (n > 0 && (!x || !rank)))
        return cls_set_error(CLS_E_INVALID_ARG, "ranks: NULL argument or n = %lld", (long long)n);
    cls_status st = cls_check_finite_f64(x, n, 1, "ranks: x");
    if (st) return st;
    keyed *k = cls_alloc(sizeof *k * (size_t)(n > 0 ? n : 1), "ranks");
    if (!k) return CLS_E_NOMEM;
    for (int64_t i = 0; i < n; i++) k[i] = (keyed){x[i], i};
    qsort(k, (size_t)n, sizeof *k, cmp_keyed);
    for (int64_t a = 0; a < n;) {
        int64_t b = a;
        while (b + 1 < n && k[b + 1].v == k[a].v) b++;
        double r = 0.5 * (double)(a + b) + 1.0; /* average of ranks a+1 .. b+1 */
        for (int64_t j = a; j <= b; j++) rank[k[j].i] = r;
        a = b + 1;
    }
    cls_free(k);
    return CLS_OK;
}

/* Pearson r of n finite pairs (NaN when either side is constant). */
static double pearson(const double *x, const double *y, int64_t n)
{
    double mx = 0, my = 0;
    for (int64_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int64_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
}

cls_status cls_stats_pearson(const double *x, const double *y, int64_t n, double *r)
{
    if (!x || !y || !r || n < 2)
        return cls_set_error(CLS_E_INVALID_ARG, "Pearson correlation: NULL argument or n = %lld < 2", (long long)n);
    cls_status st = cls_check_finite_f64(x, n, 1, "x");
    if (!st) st = cls_check_finite_f64(y, n, 1, "y");
    if (st) return st;
    *r = pearson(x, y, n);
    return CLS_OK;
}

cls_status cls_stats_spearman(const double *x, const double *y, int64_t n, int permutations, uint64_t seed,
                              double *rho, double *p_value)
{
    if (!x || !y || !rho)
        return cls_set_error(CLS_E_INVALID_ARG, "Spearman correlation: NULL argument");
    if (n < 3) return cls_set_error(CLS_E_INVALID_ARG, "Spearman correlation needs at least 3 pairs, got %lld",
                                    (long long)n);
    if (permutations < 0) return cls_set_error(CLS_E_INVALID_ARG, "permutations %d is negative", permutations);
    cls_status st = cls_check_finite_f64(x, n, 1, "x");
    if (!st) st = cls_check_finite_f64(y, n, 1, "y");
    if (st) return st;
    double *rx = cls_alloc(sizeof(double) * (size_t)n * 3, "Spearman");
    if (!rx) return CLS_E_NOMEM;
    double *ry = rx + n, *perm = ry + n;
    cls_stats_ranks(x, n, rx);
    cls_stats_ranks(y, n, ry);
    double r = pearson(rx, ry, n);
    double p = NAN;
    if (isfinite(r) && permutations > 0) {
        cls_rng rng;
        cls_rng_seed(&rng, seed);
        memcpy(perm, ry, sizeof(double) * (size_t)n);
        int64_t hits = 0;
        for (int b = 0; b < permutations; b++) {
            for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
                int64_t j = (int64_t)cls_rng_below(&rng, (uint64_t)i + 1);
                double t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            if (fabs(pearson(rx, perm, n)) >= fabs(r) - 1e-12) hits++;
        }
        p = (double)(hits + 1) / (double)(permutations + 1);
    }
    cls_free(rx);
    *rho = r;
    if (p_value) *p_value = p;
    return CLS_OK;
}
