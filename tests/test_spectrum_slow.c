/* Slow rows of the spec's table (label "slow"): n = 50000 at d = 512 and
 * n = 10000 at d = 2048, ranks 4..100, 1/k weights, 3 seeds each (seed 1
 * rotated). The mean over seeds must lie within 2 of the spec's sd (sd/sqrt(3)
 * is the standard error), each seed within 4 sd with sd >= 0.002. */
#include <stdio.h>

#include "check.h"
#include "clscale.h"
#include "spectrum_testutil.h"

int main(void)
{
    const double alphas[3] = {0.5, 1, 2};
    const int64_t ns[2] = {50000, 10000}, ds[2] = {512, 2048};
    const double want[2][3] = {{0.498, 0.999, 1.999}, {0.475, 0.992, 2.000}};
    const double sd[2][3] = {{0.001, 0.001, 0.001}, {0.001, 0.002, 0.002}};
    for (int row = 0; row < 2; row++)
        for (int a = 0; a < 3; a++) {
            double mean = 0;
            for (int s = 0; s < 3; s++) {
                int64_t n = ns[row], d = ds[row];
                double *x = powerlaw_rows(n, d, alphas[a], 300 + s, s == 1, 0.0);
                float *xf = to_f32(x, n * d);
                free(x);
                cls_spectrum_result r;
                CHECK_STATUS(cls_spectrum_analyze_f32(xf, n, d, NULL, &r), CLS_OK, "table");
                double sd1 = sd[row][a] > 0.002 ? sd[row][a] : 0.002;
                CHECK_CLOSE(r.alpha, want[row][a], 4 * sd1, 0, "n=%lld d=%lld alpha=%g seed %d within 4 sd",
                            (long long)n, (long long)d, alphas[a], s);
                mean += r.alpha / 3;
                cls_spectrum_result_free(&r);
                free(xf);
            }
            CHECK_CLOSE(mean, want[row][a], 2 * sd[row][a], 0, "n=%lld d=%lld alpha=%g: mean of 3 seeds within 2 sd",
                        (long long)ns[row], (long long)ds[row], alphas[a]);
        }
    return check_summary("test_spectrum_slow");
}
