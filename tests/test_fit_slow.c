/* Long statistical checks of the fitter (ctest label "slow"): the spec's
 * synthetic recovery with the full 4,500-start grid over many noise draws,
 * bootstrap coverage over 100 replicates, and Epoch's intervals with the full
 * 1000 resamples. */
#include <string.h>

#include "check.h"
#include "clscale.h"
#include "fit_testdata.h"

static void test_spread_and_bias(void)
{
    double x[80], y[40];
    int n = syn_design(x);
    const double sigma[2] = {0.005, 0.01}, spread[2] = {0.014, 0.031};
    cls_fit_options opt;
    cls_fit_options_init(&opt);
    opt.law = CLS_LAW_CHINCHILLA;
    for (int s = 0; s < 2; s++) {
        cls_rng rng;
        cls_rng_seed(&rng, 2000 + s);
        const int R = 200;
        double sum = 0, sum2 = 0, sumb = 0;
        for (int r = 0; r < R; r++) {
            syn_losses(x, n, sigma[s], &rng, y);
            cls_fit_result f;
            if (cls_fit_law(x, y, NULL, n, &opt, &f)) {
                CHECK(0, "fit failed: %s", cls_last_error());
                return;
            }
            sum += f.params[3];
            sum2 += f.params[3] * f.params[3];
            sumb += f.params[4];
            cls_fit_result_free(&f);
        }
        double mean = sum / R, sd = sqrt((sum2 - R * mean * mean) / (R - 1));
        printf("sigma %.3f: alpha-hat mean %.4f sd %.4f (spec sd %.3f); beta-hat mean %.4f\n", sigma[s],
               mean, sd, spread[s], sumb / R);
        /* sd of an sd estimate from 200 draws is 5 %: allow 20 %. */
        CHECK_CLOSE(sd, spread[s], 0, 0.20, "spread of alpha-hat at sigma %.3f", sigma[s]);
        CHECK(fabs(mean - syn_truth_alpha) < 0.01, "alpha bias %.4f < 0.01", mean - syn_truth_alpha);
        CHECK(fabs(sumb / R - syn_truth_beta) < 0.01, "beta bias %.4f < 0.01", sumb / R - syn_truth_beta);
    }
}

static void test_coverage(void)
{
    double x[80], y[40];
    int n = syn_design(x);
    cls_fit_options opt;
    cls_fit_options_init(&opt);
    opt.law = CLS_LAW_CHINCHILLA;
    opt.bootstrap = 200;
    cls_rng rng;
    cls_rng_seed(&rng, 99);
    const int R = 100;
    int cov95[5] = {0}, cov80[5] = {0};
    double truth[5] = {syn_truth_E, syn_truth_A, syn_truth_B, syn_truth_alpha, syn_truth_beta};
    for (int r = 0; r < R; r++) {
        syn_losses(x, n, 0.01, &rng, y);
        opt.seed = (uint64_t)r;
        cls_fit_result f;
        if (cls_fit_law(x, y, NULL, n, &opt, &f)) {
            CHECK(0, "fit failed: %s", cls_last_error());
            return;
        }
        for (int p = 0; p < 5; p++) {
            cov95[p] += f.ci95[p][0] <= truth[p] && truth[p] <= f.ci95[p][1];
            cov80[p] += f.ci80[p][0] <= truth[p] && truth[p] <= f.ci80[p][1];
        }
        cls_fit_result_free(&f);
    }
    const char *names[5] = {"E", "A", "B", "alpha", "beta"};
    for (int p = 0; p < 5; p++) {
        printf("coverage over %d replicates (B=200, sigma 0.01): %-5s 95%%: %d%%  80%%: %d%%\n", R,
               names[p], cov95[p] * 100 / R, cov80[p] * 100 / R);
        /* Binomial(100, 0.95) lies in [88, 100] with probability > 99.9 %;
         * Binomial(100, 0.80) in [66, 92]. A percentile bootstrap on 40
         * points may under-cover a little; these bounds catch intervals that
         * are far too narrow (the Chinchilla paper's failure) or far too wide. */
        CHECK(cov95[p] >= 85, "95%% interval of %s covers the truth in %d/100", names[p], cov95[p]);
        CHECK(cov80[p] >= 64 && cov80[p] <= 95, "80%% interval of %s covers the truth in %d/100", names[p],
              cov80[p]);
    }
}

static void test_epoch_full_bootstrap(void)
{
    double x[490], y[245];
    int n = epoch_data(x, y);
    cls_fit_options opt;
    cls_fit_options_init(&opt);
    opt.law = CLS_LAW_CHINCHILLA;
    opt.bootstrap = 1000;
    cls_fit_result r;
    CHECK_STATUS(cls_fit_law(x, y, NULL, n, &opt, &r), CLS_OK, "Epoch with 1000 resamples");
    /* Epoch's 95 % CIs: alpha (0.317, 0.373), beta (0.331, 0.415), E (1.769, 1.871). */
    CHECK_CLOSE(r.ci95[3][0], 0.317, 0.008, 0, "alpha low");
    CHECK_CLOSE(r.ci95[3][1], 0.373, 0.008, 0, "alpha high");
    CHECK_CLOSE(r.ci95[4][0], 0.331, 0.008, 0, "beta low");
    CHECK_CLOSE(r.ci95[4][1], 0.415, 0.008, 0, "beta high");
    CHECK_CLOSE(r.ci95[0][0], 1.769, 0.015, 0, "E low");
    CHECK_CLOSE(r.ci95[0][1], 1.871, 0.015, 0, "E high");
    printf("Epoch 95%% CIs: alpha (%.4f, %.4f) beta (%.4f, %.4f) E (%.4f, %.4f)\n", r.ci95[3][0],
           r.ci95[3][1], r.ci95[4][0], r.ci95[4][1], r.ci95[0][0], r.ci95[0][1]);
    cls_fit_result_free(&r);
}

int main(void)
{
    test_epoch_full_bootstrap();
    test_spread_and_bias();
    test_coverage();
    return check_summary("test_fit_slow");
}
