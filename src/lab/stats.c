/* Small statistics for the lab: average ranks, Pearson/Spearman correlation
 * with a seeded permutation p-value, percentiles. (src/core has no shared
 * statistics helpers yet; these are kept small and local to the lab.) */
#include "lab_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

void lab_ranks(const double *x, int64_t n, double *rank)
{
    keyed *k = malloc(sizeof *k * (size_t)n);
    if (!k) {
        for (int64_t i = 0; i < n; i++) rank[i] = NAN;
        return;
    }
    for (int64_t i = 0; i < n; i++) k[i] = (keyed){x[i], i};
    qsort(k, (size_t)n, sizeof *k, cmp_keyed);
    for (int64_t a = 0; a < n;) {
        int64_t b = a;
        while (b + 1 < n && k[b + 1].v == k[a].v) b++;
        double r = 0.5 * (double)(a + b) + 1.0; /* average of ranks a+1 .. b+1 */
        for (int64_t j = a; j <= b; j++) rank[k[j].i] = r;
        a = b + 1;
    }
    free(k);
}

double lab_pearson(const double *x, const double *y, int64_t n)
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

/* The shared percentile (src/core/stats.c: NumPy's linear rule over the
 * finite values), NaN when it cannot be computed. */
double lab_percentile(const double *v, int64_t n, double q)
{
    double r = NAN;
    if (cls_stats_percentile(v, n, q, &r) != CLS_OK) return NAN;
    return r;
}

cls_status cls_lab_spearman(const double *x, const double *y, int64_t n, int permutations, uint64_t seed,
                            double *rho, double *p_value)
{
    if (n < 3) return cls_set_error(CLS_E_INVALID_ARG, "Spearman correlation needs at least 3 pairs, got %lld",
                                    (long long)n);
    if (permutations < 0) return cls_set_error(CLS_E_INVALID_ARG, "permutations %d is negative", permutations);
    cls_status st = cls_check_finite_f64(x, n, 1, "x");
    if (!st) st = cls_check_finite_f64(y, n, 1, "y");
    if (st) return st;
    double *rx = malloc(sizeof(double) * (size_t)n * 3);
    if (!rx) return cls_set_error(CLS_E_NOMEM, "Spearman: out of memory");
    double *ry = rx + n, *perm = ry + n;
    lab_ranks(x, n, rx);
    lab_ranks(y, n, ry);
    double r = lab_pearson(rx, ry, n);
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
            double rp = lab_pearson(rx, perm, n);
            if (fabs(rp) >= fabs(r) - 1e-12) hits++;
        }
        p = (double)(hits + 1) / (double)(permutations + 1);
    }
    free(rx);
    *rho = r;
    if (p_value) *p_value = p;
    return CLS_OK;
}
