/* lcl, long runs: the spec's sweeps at their full settings (S4 with
 * M = 1024, d = 16000, N = 1e2..1e6, 181 horizons) and the other measured
 * slopes of the spec table, each within +-0.06; the reference case with
 * 2000 Monte Carlo datasets as in the spec. */
#include "clscale.h"
#include "clscale/sys.h"
#include "check.h"

static double sweep_slope(int sweep, double a, double b)
{
    cls_lcl_sweep_config c;
    cls_lcl_sweep_config_init(&c, sweep);
    c.data.a = a;
    c.data.b = b;
    cls_lcl_sweep_result r;
    double t0 = cls_now_seconds();
    if (cls_lcl_sweep_run(&c, &r) != CLS_OK) {
        fprintf(stderr, "sweep S%d failed: %s\n", sweep, cls_last_error());
        return NAN;
    }
    double s = r.slope;
    printf("S%d (a %g, b %g, M %lld, d %lld): measured slope %.4f, predicted %.4f (%.1f s)\n", sweep, a, b,
           (long long)r.M, (long long)r.d, s, r.predicted_slope, cls_now_seconds() - t0);
    cls_lcl_sweep_result_free(&r);
    return s;
}

int main(void)
{
    CHECK_CLOSE(sweep_slope(4, 1.5, 2), -0.298, 0.06, 0, "S4 full (M 1024, d 16000) slope (1.5, 2) vs spec -0.298 (+-0.06)");
    CHECK_CLOSE(sweep_slope(4, 1.5, 3), -0.426, 0.06, 0, "S4 full slope (1.5, 3) vs spec -0.426 (+-0.06)");
    CHECK_CLOSE(sweep_slope(1, 1.5, 3), -1.54, 0.06, 0, "S1 slope (1.5, 3) vs spec -1.54 (+-0.06)");
    CHECK_CLOSE(sweep_slope(1, 3, 3), -2.02, 0.06, 0, "S1 slope (3, 3) vs spec -2.02 (+-0.06)");
    CHECK_CLOSE(sweep_slope(2, 2, 2), -0.262, 0.06, 0, "S2 slope (2, 2) vs spec -0.262 (+-0.06)");

    /* reference case, 2000 datasets as in the spec, our own sketch */
    cls_lcl_data d;
    cls_lcl_data_init(&d);
    d.d = 400;
    cls_lcl_model *m = NULL;
    CHECK_STATUS(cls_lcl_model_create(&m, &d, 24, 11, 0), CLS_OK, "model");
    if (m) {
        int64_t L = 300;
        double g = 0.84;
        cls_lcl_config c;
        cls_lcl_config_init(&c);
        c.N = 200;
        c.schedule = (cls_lcl_schedule){1, &L, &g, 0};
        c.monte_carlo = 2000;
        c.seed = 21;
        cls_lcl_result r;
        CHECK_STATUS(cls_lcl_risk(m, &c, &r), CLS_OK, "mode P");
        CHECK(fabs(r.excess - r.mc_excess) <= 3 * r.mc_se, "mode P exact %.5f vs MC(2000) %.5f +- %.5f (3 se)", r.excess,
              r.mc_excess, r.mc_se);
        c.mode = CLS_LCL_MODE_E;
        c.draws = 2000;
        CHECK_STATUS(cls_lcl_risk(m, &c, &r), CLS_OK, "mode E");
        double se = sqrt(r.excess_se * r.excess_se + r.mc_se * r.mc_se);
        CHECK(fabs(r.excess - r.mc_excess) <= 3 * se, "mode E %.5f +- %.5f vs MC(2000) %.5f +- %.5f (3 se)", r.excess,
              r.excess_se, r.mc_excess, r.mc_se);
        cls_lcl_model_free(m);
    }
    return check_summary("test_lcl_slow");
}
