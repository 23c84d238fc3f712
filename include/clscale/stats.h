/* Small statistics shared by every module: a weighted log-log least-squares
 * fit, NumPy's linear percentile, the mean with its standard error, average
 * ranks and the Pearson and Spearman correlations. One implementation of
 * each, used by the spectrum, fit, theory and lab modules. */
#ifndef CLSCALE_STATS_H
#define CLSCALE_STATS_H

#include <stdint.h>

#include "../clscale.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Weighted least squares of log(y) on log(x):
 *     log y ~ intercept + slope * log x,
 * minimising sum_i w_i (log y_i - intercept - slope log x_i)^2, computed in
 * centred form (weighted means first, then centred sums) so large offsets in
 * log x do not cancel. `w` may be NULL (all weights 1). Points where x or y
 * is not positive and finite, or w is not positive and finite, are skipped;
 * *used (may be NULL) receives how many points were fitted. slope and
 * intercept may be NULL. Fails with CLS_E_INVALID_ARG when fewer than two
 * points are usable and CLS_E_NUMERIC when all fitted x are equal. */
CLS_API cls_status cls_stats_loglog_fit(const double *x, const double *y, const double *w, int64_t n,
                                        double *slope, double *intercept, int64_t *used);

/* NumPy's default ("linear") percentile, q in [0, 100], of the finite values
 * of v (NaN and infinities are ignored; v is not modified). *out is NaN when
 * no value is finite. Fails with CLS_E_INVALID_ARG for a bad q or NULL
 * arguments and CLS_E_NOMEM when the sorted copy cannot be allocated. */
CLS_API cls_status cls_stats_percentile(const double *v, int64_t n, double q, double *out);

/* The same percentile of n >= 1 values already sorted ascending (no copy). */
CLS_API double cls_stats_percentile_sorted(const double *sorted, int64_t n, double q);

/* Mean of x[0..n) and its standard error, the sample standard deviation
 * (n - 1 in the denominator) over sqrt(n); se is 0 when n == 1. se may be
 * NULL. Fails with CLS_E_INVALID_ARG when n < 1. */
CLS_API cls_status cls_stats_mean_se(const double *x, int64_t n, double *mean, double *se);

/* Ranks 1..n of x (the smallest has rank 1), tied values sharing the average
 * of their ranks (SciPy's rankdata "average"). Fails with CLS_E_INVALID_ARG
 * for NULL arguments or n < 0, CLS_E_NONFINITE for a NaN or infinity. */
CLS_API cls_status cls_stats_ranks(const double *x, int64_t n, double *rank);

/* Pearson correlation of n >= 2 finite pairs; *r is NaN when x or y is
 * constant. */
CLS_API cls_status cls_stats_pearson(const double *x, const double *y, int64_t n, double *r);

/* Spearman rank correlation of n >= 3 finite pairs (Pearson of the average
 * ranks; NaN when a side is constant) and, with permutations > 0, a
 * two-sided permutation p-value: (count of |rho_perm| >= |rho| + 1) /
 * (permutations + 1), the y ranks shuffled by Fisher-Yates from `seed`
 * (NaN without permutations). p_value may be NULL. */
CLS_API cls_status cls_stats_spearman(const double *x, const double *y, int64_t n, int permutations,
                                      uint64_t seed, double *rho, double *p_value);

#ifdef __cplusplus
}
#endif

#endif /* CLSCALE_STATS_H */
