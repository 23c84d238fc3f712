/* core/stats: the shared log-log least squares, percentile and mean/SE,
 * against closed forms (exact power laws, hand-computed sums). The NumPy
 * cross-check of the same functions is tests/python/test_stats_numpy.py. */
#include "clscale.h"
#include "check.h"

#include <math.h>

static void test_loglog(void)
{
    /* exact power law, huge offset in log x: the centred form keeps it exact */
    double x[6], y[6];
    for (int i = 0; i < 6; i++) {
        x[i] = 1e12 * (1.0 + 0.01 * i);
        y[i] = 3.0 * pow(x[i], -0.7);
    }
    double s = 0, c = 0;
    int64_t used = 0;
    CHECK_STATUS(cls_stats_loglog_fit(x, y, NULL, 6, &s, &c, &used), CLS_OK, "exact law");
    CHECK_CLOSE(s, -0.7, 1e-9, 0, "slope of 3 x^-0.7 at x ~ 1e12");
    CHECK_CLOSE(c, log(3.0), 1e-7, 0, "intercept log 3");
    CHECK(used == 6, "used = %lld", (long long)used);

    /* three points, closed form: weights (1, 1, 2) on log-points (0,0), (1,1), (2,1)
     * weighted means mx = (0+1+4)/4 = 5/4, my = (0+1+2)/4 = 3/4;
     * Sxx = 1*(25/16) + 1*(1/16) + 2*(9/16) = 44/16 */
    double e = exp(1.0);
    double xs[3] = {1.0, e, e * e}, ys[3] = {1.0, e, e}, ws[3] = {1.0, 1.0, 2.0};
    /* dx = (-5/4, -1/4, 3/4), dy = (-3/4, 1/4, 1/4): Sxy = 15/16 - 1/16 + 2*3/16 = 20/16 */
    CHECK_STATUS(cls_stats_loglog_fit(xs, ys, ws, 3, &s, &c, &used), CLS_OK, "weighted");
    CHECK_CLOSE(s, 20.0 / 44.0, 1e-14, 0, "weighted slope = Sxy/Sxx");
    CHECK_CLOSE(c, 0.75 - 20.0 / 44.0 * 1.25, 1e-14, 0, "weighted intercept = my - b mx");

    /* skipped points: non-positive y, NaN, zero weight */
    double x2[5] = {1, 2, 4, 8, 16}, y2[5] = {1, -1, 0.25, NAN, 1.0 / 256}, w2[5] = {1, 1, 1, 1, 0};
    CHECK_STATUS(cls_stats_loglog_fit(x2, y2, w2, 5, &s, NULL, &used), CLS_OK, "skips");
    CHECK(used == 2, "used %lld of 5 (want 2)", (long long)used);
    CHECK_CLOSE(s, -1.0, 1e-14, 0, "slope from (1,1), (4,1/4)");
    CHECK_STATUS(cls_stats_loglog_fit(x2, y2, NULL, 2, &s, NULL, &used), CLS_E_INVALID_ARG, "one point");
    double xe[3] = {2, 2, 2};
    CHECK_STATUS(cls_stats_loglog_fit(xe, x2, NULL, 3, &s, NULL, NULL), CLS_E_NUMERIC, "equal x");
}

static void test_percentile(void)
{
    /* NumPy: np.percentile([1, 2, 3, 4, 10], q): 0->1, 25->2, 40->2.6, 90->7.6, 100->10 */
    double v[7] = {10, 3, NAN, 1, 4, INFINITY, 2}, p = 0;
    double q[5] = {0, 25, 40, 90, 100}, want[5] = {1, 2, 2.6, 7.6, 10};
    for (int i = 0; i < 5; i++) {
        CHECK_STATUS(cls_stats_percentile(v, 7, q[i], &p), CLS_OK, "q %g", q[i]);
        CHECK_CLOSE(p, want[i], 1e-14, 1e-14, "percentile %g of finite values", q[i]);
    }
    CHECK(v[0] == 10 && v[1] == 3, "input not modified");
    double sorted[4] = {0, 1, 2, 3};
    CHECK_CLOSE(cls_stats_percentile_sorted(sorted, 4, 50), 1.5, 0, 0, "median of 0..3");
    CHECK_STATUS(cls_stats_percentile(v, 7, 101, &p), CLS_E_INVALID_ARG, "q > 100");
    double nan1[1] = {NAN};
    CHECK_STATUS(cls_stats_percentile(nan1, 1, 50, &p), CLS_OK, "all NaN");
    CHECK(isnan(p), "no finite value -> NaN");
}

static void test_mean_se(void)
{
    double x[4] = {1, 2, 3, 6}, m = 0, se = 0;
    CHECK_STATUS(cls_stats_mean_se(x, 4, &m, &se), CLS_OK, "mean");
    /* mean 3, sample var = (4+1+0+9)/3 = 14/3, se = sqrt(14/3/4) */
    CHECK_CLOSE(m, 3.0, 0, 0, "mean");
    CHECK_CLOSE(se, sqrt(14.0 / 12.0), 1e-15, 1e-15, "standard error");
    CHECK_STATUS(cls_stats_mean_se(x, 1, &m, &se), CLS_OK, "one value");
    CHECK(se == 0.0 && m == 1.0, "n = 1: se 0");
    CHECK_STATUS(cls_stats_mean_se(x, 0, &m, &se), CLS_E_INVALID_ARG, "n = 0");
}

int main(void)
{
    test_loglog();
    test_percentile();
    test_mean_se();
    return check_summary("stats");
}
