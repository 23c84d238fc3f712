/* Scaling-law fitting: objective and gradient, recovery, the published
 * reference fits (Epoch's Chinchilla replication, OpenCLIP), the early-stopping
 * warning, bad input, the planner, persistence and determinism. The long
 * versions of the statistical checks live in test_fit_slow.c. */
#include <string.h>

#include "check.h"
#include "clscale.h"
#include "fit/fit_internal.h" /* cls_fit_law_seam: the test-only mis-scaled objective */
#include "fit_testdata.h"
#include "locale_testutil.h"

/* The objective written the obvious way (no max trick), as an independent
 * reference for the value. */
static double objective_naive(const double *th, int k, const double *lx, const double *ly,
                              const double *w, int n, double delta)
{
    double f = 0;
    for (int i = 0; i < n; i++) {
        double s = exp(th[0]);
        for (int j = 0; j < k; j++) s += exp(th[1 + j] - th[1 + k + j] * lx[i * k + j]);
        double r = log(s) - ly[i];
        double h = fabs(r) <= delta ? 0.5 * r * r : delta * (fabs(r) - 0.5 * delta);
        f += (w ? w[i] : 1.0) * h / delta;
    }
    return f;
}

/* A fit or load that must succeed: on failure report it, zero the result (so
 * clearing it is safe: a failed call leaves it untouched, i.e. uninitialised)
 * and return from the calling test instead of reading garbage. */
#define FIT_OK(call, res, ...)                                                    \
    do {                                                                          \
        cls_status fst_ = (call);                                                 \
        CHECK_STATUS(fst_, CLS_OK, __VA_ARGS__);                                  \
        if (fst_ != CLS_OK) {                                                     \
            memset((res), 0, sizeof *(res));                                      \
            return;                                                               \
        }                                                                         \
    } while (0)

static void test_objective_gradient(void)
{
    cls_rng rng;
    cls_rng_seed(&rng, 7);
    for (int k = 1; k <= 4; k++) {
        const int n = 30;
        double lx[30 * 4], ly[30], w[30], th[9], g[9];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < k; j++) lx[i * k + j] = 15 + 8 * cls_rng_uniform(&rng);
            w[i] = (double)cls_rng_below(&rng, 3);
        }
        th[0] = 0.5;
        for (int j = 0; j < k; j++) {
            th[1 + j] = 4 + 3 * cls_rng_uniform(&rng);
            th[1 + k + j] = 0.2 + 0.3 * cls_rng_uniform(&rng);
        }
        /* Losses near the law so residuals fall on both sides of the Huber kink. */
        for (int i = 0; i < n; i++) {
            double s = exp(th[0]);
            for (int j = 0; j < k; j++) s += exp(th[1 + j] - th[1 + k + j] * lx[i * k + j]);
            ly[i] = log(s) + 0.004 * cls_rng_normal(&rng);
        }
        for (int pass = 0; pass < 2; pass++) {
            const double *ww = pass ? w : NULL;
            double f = cls_fit_objective(th, k, lx, ly, ww, n, 1e-3, g);
            CHECK_CLOSE(f, objective_naive(th, k, lx, ly, ww, n, 1e-3), 1e-9, 1e-11,
                        "objective vs naive formula, k=%d weights=%d", k, pass);
            for (int p = 0; p < 1 + 2 * k; p++) {
                /* Central differences; the Huber loss is C1 with a jump of
                 * 1/delta in its second derivative, so h is kept small. */
                double h = 1e-7, tp[9], tm[9];
                memcpy(tp, th, sizeof th);
                memcpy(tm, th, sizeof th);
                tp[p] += h;
                tm[p] -= h;
                double fd = (cls_fit_objective(tp, k, lx, ly, ww, n, 1e-3, NULL) -
                             cls_fit_objective(tm, k, lx, ly, ww, n, 1e-3, NULL)) / (2 * h);
                CHECK_CLOSE(g[p], fd, 2e-4, 1e-5, "gradient[%d] vs central differences, k=%d weights=%d",
                            p, k, pass);
            }
        }
    }
}

/* Noiseless data: every law form recovers its parameters. */
static void test_noiseless_recovery(void)
{
    /* saturating: 12 points over 3 decades */
    double x[60 * 3], y[60];
    double raw_sat[3] = {log(0.7), log(30.0), 0.45};
    for (int i = 0; i < 12; i++) {
        x[i] = pow(10.0, 3 + 3.0 * i / 11);
        y[i] = cls_fit_predict_raw(CLS_LAW_SATURATING, 1, raw_sat, &x[i]);
    }
    cls_fit_options opt;
    cls_fit_options_init(&opt);
    opt.law = CLS_LAW_SATURATING;
    cls_fit_result r;
    FIT_OK(cls_fit_law(x, y, NULL, 12, &opt, &r), &r, "saturating fit");
    CHECK(strcmp(r.param_names[0], "E") == 0 && strcmp(r.param_names[1], "A") == 0 &&
              strcmp(r.param_names[2], "alpha") == 0, "saturating names E, A, alpha");
    CHECK_CLOSE(r.params[0], 0.7, 0, 1e-4, "saturating E");
    CHECK_CLOSE(r.params[1], 30.0, 0, 1e-3, "saturating A");
    CHECK_CLOSE(r.params[2], 0.45, 0, 1e-4, "saturating alpha");
    CHECK(r.n_starts == 150, "saturating grid has 150 starts, got %lld", (long long)r.n_starts);
    cls_fit_result_free(&r);

    /* additive with 3 variables on a 4x4x4 grid (64 points) */
    double raw3[7] = {log(0.5), log(20.0), log(60.0), log(8.0), 0.3, 0.5, 0.25};
    int n = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4 && n < 60; c++) {
                x[3 * n] = pow(10.0, 2 + a);
                x[3 * n + 1] = pow(10.0, 3 + b * 0.8);
                x[3 * n + 2] = pow(10.0, 1 + c * 0.7);
                y[n] = cls_fit_predict_raw(CLS_LAW_ADDITIVE, 3, raw3, x + 3 * n);
                n++;
            }
    opt.law = CLS_LAW_ADDITIVE;
    opt.nvars = 3;
    FIT_OK(cls_fit_law(x, y, NULL, n, &opt, &r), &r, "additive-3 fit");
    CHECK(strcmp(r.param_names[3], "A3") == 0 && strcmp(r.param_names[4], "alpha1") == 0,
          "additive names A1.., alpha1..");
    for (int p = 0; p < 7; p++)
        CHECK_CLOSE(r.raw[p], raw3[p], 1e-4, 1e-4, "additive-3 raw[%d]", p);
    CHECK(r.n_starts == 2187, "additive-3 grid has 2187 starts");
    cls_fit_result_free(&r);

    /* power law: exact */
    for (int i = 0; i < 8; i++) {
        x[i] = pow(10.0, 8 + i * 0.5);
        y[i] = 12.5 * pow(x[i], -0.2);
    }
    opt.law = CLS_LAW_POWER;
    FIT_OK(cls_fit_law(x, y, NULL, 8, &opt, &r), &r, "power fit");
    CHECK_CLOSE(r.params[0], 12.5, 0, 1e-10, "power A");
    CHECK_CLOSE(r.params[1], 0.2, 1e-12, 0, "power alpha");
    cls_fit_result_free(&r);
}

static void test_epoch(void)
{
    double x[490], y[245];
    int n = epoch_data(x, y);
    CHECK(n == 240, "Epoch data: 240 points after dropping 5, got %d", n);
    if (n != 240) return;
    cls_fit_options opt;
    cls_fit_options_init(&opt);
    opt.law = CLS_LAW_CHINCHILLA;
    opt.bootstrap = 300;
    opt.seed = 1;
    cls_fit_result r;
    FIT_OK(cls_fit_law(x, y, NULL, n, &opt, &r), &r, "Epoch fit");
    CHECK(r.n_starts == 4500, "the full 4,500-start grid");
    /* Regression on the known optimum of this objective (Huber delta 1e-3, the
     * 4,500-start grid, L-BFGS to gtol 1e-10): E 1.8172181, A 477.82587,
     * B 2143.4174, alpha 0.34731050, beta 0.36717243, a 0.51389952. Native,
     * portable (-DCLS_NATIVE=OFF) and 1/2-thread runs agree to 1e-9 relative;
     * tolerance |x - ref| <= 1e-5 |ref| for every quantity. */
    CHECK_CLOSE(r.params[0], 1.8172181, 0, 1e-5, "E regression");
    CHECK_CLOSE(r.params[1], 477.82587, 0, 1e-5, "A regression");
    CHECK_CLOSE(r.params[2], 2143.4174, 0, 1e-5, "B regression");
    CHECK_CLOSE(r.params[3], 0.34731050, 0, 1e-5, "alpha regression");
    CHECK_CLOSE(r.params[4], 0.36717243, 0, 1e-5, "beta regression");
    CHECK_CLOSE(r.derived[0], 0.51389952, 0, 1e-5, "a regression");
    /* Epoch's replication (independent), within one of its standard errors. */
    CHECK_CLOSE(r.params[0], 1.817, 0.026, 0, "E within Epoch's SE");
    CHECK_CLOSE(r.params[1], 482.0, 124.5, 0, "A within Epoch's SE");
    CHECK_CLOSE(r.params[2], 2085.4, 1293.3, 0, "B within Epoch's SE");
    CHECK_CLOSE(r.params[3], 0.348, 0.015, 0, "alpha within Epoch's SE");
    CHECK_CLOSE(r.params[4], 0.366, 0.021, 0, "beta within Epoch's SE");
    CHECK_CLOSE(r.derived[0], 0.513, 0.020, 0, "a within Epoch's SE");
    CHECK(r.params[3] > 0.317 && r.params[3] < 0.373, "alpha %.4f inside Epoch's 95%% CI (0.317, 0.373)",
          r.params[3]);
    /* Chinchilla's own published fit lies far outside: the fit is not theirs. */
    CHECK(fabs(r.params[2] - 410.7) > 3 * 124.5 || fabs(r.params[4] - 0.28) > 0.05,
          "not Chinchilla's published B=410.7, beta=0.28");
    CHECK(r.starts_converged_fraction >= 0.05 && !(r.warning_flags & CLS_FIT_WARN_FEW_CONVERGED),
          "no convergence warning (fraction %.3f)", r.starts_converged_fraction);
    /* Our bootstrap intervals against Epoch's 95 % CIs (300 resamples here:
     * endpoints within 0.012 for exponents and 0.025 for E). */
    CHECK_CLOSE(r.ci95[3][0], 0.317, 0.012, 0, "alpha 95%% CI low");
    CHECK_CLOSE(r.ci95[3][1], 0.373, 0.012, 0, "alpha 95%% CI high");
    CHECK_CLOSE(r.ci95[4][0], 0.331, 0.012, 0, "beta 95%% CI low");
    CHECK_CLOSE(r.ci95[4][1], 0.415, 0.012, 0, "beta 95%% CI high");
    CHECK_CLOSE(r.ci95[0][0], 1.769, 0.025, 0, "E 95%% CI low");
    CHECK_CLOSE(r.ci95[0][1], 1.871, 0.025, 0, "E 95%% CI high");
    for (int q = 0; q < r.nparams + r.nderived; q++) {
        double v = q < r.nparams ? r.params[q] : r.derived[q - r.nparams];
        CHECK(r.ci95[q][0] <= r.ci80[q][0] && r.ci80[q][0] <= v && v <= r.ci80[q][1] &&
                  r.ci80[q][1] <= r.ci95[q][1],
              "quantity %d: 95%% interval contains the 80%% one, which contains the estimate", q);
    }

    /* Planner: closed form == numerical minimisation of the same law under
     * C = 6 N D (additive form with identical parameters), and the budget holds. */
    cls_fit_result num = r;
    num.law = CLS_LAW_ADDITIVE;
    num.boot_raw = NULL;
    num.bootstrap = 0;
    for (int e = 0; e < 3; e++) {
        double C = pow(10.0, 21 + 2 * e);
        cls_plan_point pc, pn;
        CHECK_STATUS(cls_fit_plan(&r, C, 6.0, NULL, &pc), CLS_OK, "closed-form plan");
        CHECK_STATUS(cls_fit_plan(&num, C, 6.0, NULL, &pn), CLS_OK, "numerical plan");
        CHECK_CLOSE(pn.x[0], pc.x[0], 0, 1e-5, "N_opt numeric vs closed form at C=%g", C);
        CHECK_CLOSE(pn.x[1], pc.x[1], 0, 1e-5, "D_opt numeric vs closed form at C=%g", C);
        CHECK_CLOSE(pc.loss, pn.loss, 0, 1e-10, "loss at the optimum");
        CHECK_CLOSE(6.0 * pc.x[0] * pc.x[1], C, 0, 1e-10, "6 N D = C");
        double off[2] = {pc.x[0] * 1.3, pc.x[1] / 1.3};
        CHECK(cls_fit_predict(&r, off) > pc.loss, "moving along the budget raises the loss");
        CHECK(pc.loss_ci95[0] <= pc.loss && pc.loss <= pc.loss_ci95[1] && pc.x_ci95[0][0] <= pc.x[0] &&
                  pc.x[0] <= pc.x_ci95[0][1], "bootstrap bands contain the plan");
    }

    /* Save and load: identical parameters, bootstrap refits and intervals. */
    const char *path = CLS_BINARY_DIR "/test_fit_epoch.json";
    const char *xn[] = {"N", "D"};
    CHECK_STATUS(cls_fit_save(&r, xn, "loss", path), CLS_OK, "save");
    cls_fit_result back;
    FIT_OK(cls_fit_load(path, &back), &back, "load");
    CHECK(back.law == r.law && back.nparams == 5 && back.bootstrap == r.bootstrap, "law, params, B");
    for (int p = 0; p < 5; p++) CHECK_CLOSE(back.raw[p], r.raw[p], 0, 1e-14, "raw[%d] round trip", p);
    for (int q = 0; q < 8; q++) CHECK_CLOSE(back.ci95[q][1], r.ci95[q][1], 0, 1e-12, "ci95[%d] round trip", q);
    CHECK_CLOSE(back.boot_raw[17 * 5 + 3], r.boot_raw[17 * 5 + 3], 0, 1e-14, "bootstrap row round trip");
    cls_fit_result_free(&back);
    CHECK_STATUS(cls_fit_load(CLS_DATA_DIR "/README.md", &back), CLS_E_FORMAT, "not JSON");
    cls_fit_result_free(&r);

    /* Early stopping: the test-only mis-scaled objective (mean Huber loss,
     * SciPy's default tolerances) must trip the convergence warning. */
    opt.bootstrap = 0;
    FIT_OK(cls_fit_law_seam(x, y, NULL, n, &opt, 1, &r), &r, "mis-scaled fit");
    CHECK((r.warning_flags & CLS_FIT_WARN_FEW_CONVERGED) && r.starts_converged_fraction < 0.05,
          "mis-scaled objective warns (fraction %.4f)", r.starts_converged_fraction);
    CHECK(r.nwarnings >= 1 && strstr(r.warnings[0], "stopping early"), "warning text: %s", r.warnings[0]);
    cls_fit_result_free(&r);
}

static void test_openclip(void)
{
    cls_csv *c = NULL;
    CHECK_STATUS(cls_csv_read_file(CLS_DATA_DIR "/openclip-scaling/zeroshot_results.csv", &c),
                 CLS_OK, "OpenCLIP CSV");
    if (!c) return;
    int64_t rows[2000], n;
    double x[64], acc[64], y[64];
    const char *laion[] = {"downstream_dataset=imagenet1k", "upstream_dataset!=CLIP-WIT"};
    cls_csv_select(c, laion, 2, rows, &n);
    CHECK(n == 29, "29 LAION runs, got %lld", (long long)n);
    cls_csv_column_f64(c, "gmacs_total", rows, n, x);
    cls_csv_column_f64(c, "acc1", rows, n, acc);
    for (int i = 0; i < n; i++) y[i] = 1.0 - acc[i];
    cls_fit_options opt;
    cls_fit_options_init(&opt);
    opt.frontier_binned = 1;
    cls_fit_result r;
    FIT_OK(cls_fit_law(x, y, NULL, n, &opt, &r), &r, "binned frontier fit");
    CHECK_CLOSE(r.params[0], 5.858, 0.0005, 0, "OpenCLIP A = 5.858");
    CHECK_CLOSE(r.params[1], 0.1114, 0.00005, 0, "OpenCLIP alpha = 0.1114");
    CHECK(r.n_points == 5, "5 non-empty bins");
    cls_fit_result_free(&r);
    const char *openai[] = {"downstream_dataset=imagenet1k", "upstream_dataset=CLIP-WIT"};
    cls_csv_select(c, openai, 2, rows, &n);
    CHECK(n == 3, "3 OpenAI runs");
    cls_csv_column_f64(c, "gmacs_total", rows, n, x);
    cls_csv_column_f64(c, "acc1", rows, n, acc);
    for (int i = 0; i < n; i++) y[i] = 1.0 - acc[i];
    opt.frontier_binned = 0;
    FIT_OK(cls_fit_law(x, y, NULL, n, &opt, &r), &r, "OpenAI plain fit");
    CHECK_CLOSE(r.params[0], 23.18, 0.005, 0, "OpenAI A = 23.18");
    CHECK_CLOSE(r.params[1], 0.1638, 0.00005, 0, "OpenAI alpha = 0.1638");
    cls_fit_result_free(&r);
    cls_csv_free(c);
}

static void test_bad_input(void)
{
    double x[40], y[20];
    for (int i = 0; i < 20; i++) {
        x[2 * i] = pow(10.0, 7 + i * 0.2);
        x[2 * i + 1] = pow(10.0, 9 + (i % 5) * 0.5);
        y[i] = 2.0 + 1.0 / (1 + i);
    }
    cls_fit_options opt;
    cls_fit_options_init(&opt);
    opt.law = CLS_LAW_CHINCHILLA;
    cls_fit_result r;
    memset(&r, 0x5a, sizeof r);
    unsigned char before = ((unsigned char *)&r)[0];
    CHECK_STATUS(cls_fit_law(x, y, NULL, 5, &opt, &r), CLS_E_INVALID_ARG, "5 points for 5 parameters");
    CHECK(strstr(cls_last_error(), "too few points") && strstr(cls_last_error(), "at least 6"),
          "message: %s", cls_last_error());
    CHECK(((unsigned char *)&r)[0] == before, "result untouched on failure");
    opt.law = CLS_LAW_POWER;
    CHECK_STATUS(cls_fit_law(x, y, NULL, 2, &opt, &r), CLS_E_INVALID_ARG, "power with 2 points");
    CHECK(strstr(cls_last_error(), "too few"), "message: %s", cls_last_error());
    opt.law = CLS_LAW_CHINCHILLA;
    double saved = x[7];
    x[7] = -3;
    CHECK_STATUS(cls_fit_law(x, y, NULL, 20, &opt, &r), CLS_E_INVALID_ARG, "negative D");
    CHECK(strstr(cls_last_error(), "x[3][1]") && strstr(cls_last_error(), "not positive"),
          "message names x[3][1]: %s", cls_last_error());
    x[7] = saved;
    y[4] = 0;
    CHECK_STATUS(cls_fit_law(x, y, NULL, 20, &opt, &r), CLS_E_INVALID_ARG, "zero loss");
    CHECK(strstr(cls_last_error(), "y[4]"), "message names y[4]: %s", cls_last_error());
    y[4] = NAN;
    CHECK_STATUS(cls_fit_law(x, y, NULL, 20, &opt, &r), CLS_E_NONFINITE, "NaN loss");
    y[4] = 2.2;
    /* D spans only a factor 10^0.4 x ... < 10 here when restricted to one value class. */
    for (int i = 0; i < 20; i++) x[2 * i + 1] = 1e9 * (1 + 0.4 * (i % 5));
    opt.grid_stride = 25;
    FIT_OK(cls_fit_law(x, y, NULL, 20, &opt, &r), &r, "narrow range still fits");
    CHECK((r.warning_flags & CLS_FIT_WARN_NARROW_RANGE) && strstr(r.warnings[0], "variable 2"),
          "narrow range warning on variable 2: %s", r.nwarnings ? r.warnings[0] : "(none)");
    cls_fit_result_free(&r);
    opt.law = CLS_LAW_ADDITIVE;
    opt.nvars = 5;
    CHECK_STATUS(cls_fit_law(x, y, NULL, 20, &opt, &r), CLS_E_INVALID_ARG, "5 variables");
    cls_law law;
    CHECK_STATUS(cls_fit_law_parse("cubic", &law), CLS_E_INVALID_ARG, "unknown law");
    cls_plan_point p;
    cls_fit_result fake;
    memset(&fake, 0, sizeof fake);
    fake.law = CLS_LAW_CHINCHILLA;
    fake.nvars = 2;
    fake.nraw = 5;
    double raw[5] = {0.5, 6, 7, -0.1, 0.3};
    memcpy(fake.raw, raw, sizeof raw);
    CHECK_STATUS(cls_fit_plan(&fake, 1e21, 6, NULL, &p), CLS_E_NUMERIC, "negative exponent refused by planner");
    CHECK_STATUS(cls_fit_plan(&fake, -1, 6, NULL, &p), CLS_E_INVALID_ARG, "negative compute");
}

/* Synthetic recovery (short version; test_fit_slow runs the full grid and
 * more draws): spread and bias of alpha-hat, and bootstrap coverage over
 * replicates. */
static void test_synthetic(void)
{
    double x[80], y[40];
    int n = syn_design(x);
    CHECK(n == 40, "40-point design");
    const double sigma[2] = {0.005, 0.01}, spread[2] = {0.014, 0.031};
    cls_fit_options opt;
    cls_fit_options_init(&opt);
    opt.law = CLS_LAW_CHINCHILLA;
    opt.grid_stride = 7; /* 643 of the 4,500 starts: enough for noise this small */
    for (int s = 0; s < 2; s++) {
        cls_rng rng;
        cls_rng_seed(&rng, 1000 + s);
        const int R = 40;
        double sum = 0, sum2 = 0;
        for (int r = 0; r < R; r++) {
            syn_losses(x, n, sigma[s], &rng, y);
            cls_fit_result f;
            if (cls_fit_law(x, y, NULL, n, &opt, &f)) {
                CHECK(0, "synthetic fit failed: %s", cls_last_error());
                return;
            }
            sum += f.params[3];
            sum2 += f.params[3] * f.params[3];
            cls_fit_result_free(&f);
        }
        double mean = sum / R, sd = sqrt((sum2 - R * mean * mean) / (R - 1));
        /* sd of an sd estimate from 40 draws is ~11 %: allow 35 %. */
        CHECK_CLOSE(sd, spread[s], 0, 0.35, "spread of alpha-hat at sigma %.3f (spec %.3f)", sigma[s], spread[s]);
        CHECK(fabs(mean - syn_truth_alpha) < 0.01, "bias of alpha-hat %.4f < 0.01 at sigma %.3f",
              mean - syn_truth_alpha, sigma[s]);
    }
    /* Coverage of the 95 % bootstrap interval of alpha over 20 replicates
     * (100 resamples each). Expect ~19/20; >= 16 fails with probability < 2 %
     * if the true coverage is 95 %, and catches intervals that are far too
     * narrow (at 60 % coverage, P(>= 16) < 2 %). */
    cls_rng rng;
    cls_rng_seed(&rng, 77);
    opt.bootstrap = 100;
    int covered = 0, covered_beta = 0;
    for (int r = 0; r < 20; r++) {
        syn_losses(x, n, 0.01, &rng, y);
        opt.seed = (uint64_t)r;
        cls_fit_result f;
        if (cls_fit_law(x, y, NULL, n, &opt, &f)) {
            CHECK(0, "coverage fit failed: %s", cls_last_error());
            return;
        }
        covered += f.ci95[3][0] <= syn_truth_alpha && syn_truth_alpha <= f.ci95[3][1];
        covered_beta += f.ci95[4][0] <= syn_truth_beta && syn_truth_beta <= f.ci95[4][1];
        cls_fit_result_free(&f);
    }
    printf("synthetic coverage (20 replicates, B=100): alpha %d/20, beta %d/20\n", covered, covered_beta);
    CHECK(covered >= 16, "95%% interval of alpha covers the truth in %d/20 replicates", covered);
    CHECK(covered_beta >= 16, "95%% interval of beta covers the truth in %d/20 replicates", covered_beta);
}

/* Same seed -> same bits with 1 or 2 threads; groups resample clusters. */
static void test_determinism_groups(void)
{
    double x[80], y[40];
    int64_t g[40];
    int n = syn_design(x);
    cls_rng rng;
    cls_rng_seed(&rng, 5);
    syn_losses(x, n, 0.01, &rng, y);
    for (int i = 0; i < n; i++) g[i] = i / 8; /* 5 groups of 8 */
    cls_fit_options opt;
    cls_fit_options_init(&opt);
    opt.law = CLS_LAW_CHINCHILLA;
    opt.grid_stride = 9;
    opt.bootstrap = 40;
    opt.seed = 3;
    cls_fit_result a, b;
    opt.threads = 1;
    FIT_OK(cls_fit_law(x, y, NULL, n, &opt, &a), &a, "1 thread");
    opt.threads = 2;
    FIT_OK(cls_fit_law(x, y, NULL, n, &opt, &b), &b, "2 threads");
    CHECK(memcmp(a.raw, b.raw, sizeof a.raw) == 0 && a.objective == b.objective, "same optimum bits");
    CHECK(memcmp(a.boot_raw, b.boot_raw, sizeof(double) * 40 * 5) == 0, "same bootstrap bits");
    cls_fit_result_free(&b);
    FIT_OK(cls_fit_law(x, y, g, n, &opt, &b), &b, "group bootstrap");
    CHECK(b.warning_flags & CLS_FIT_WARN_FEW_GROUPS, "5 groups -> few-groups warning");
    CHECK(memcmp(a.boot_raw, b.boot_raw, sizeof(double) * 40 * 5) != 0, "groups change the resamples");
    cls_fit_result_free(&a);
    cls_fit_result_free(&b);
}

/* The JSON reader in memory (cls_fit_parse_json): not NUL-terminated text,
 * truncation, and '.' decimals under a comma-decimal locale for both reading
 * and cls_fit_save/cls_fit_load. */
static void check_power_json(const char *what)
{
    const char *text = "{\"law\": \"power\", \"raw\": [0.5, 0.25], \"n_points\": 7}";
    size_t len = strlen(text);
    char buf[256];
    memcpy(buf, text, len);
    memcpy(buf + len, "}}garbage", 9); /* beyond len: must not be read */
    cls_fit_result r;
    FIT_OK(cls_fit_parse_json(buf, len, "mem.json", &r), &r, "parse power JSON (%s)", what);
    CHECK(r.law == CLS_LAW_POWER && r.nraw == 2 && r.n_points == 7, "law, nraw, n_points (%s)", what);
    CHECK_CLOSE(r.params[0], pow(10.0, 0.5), 0, 1e-14, "A = 10^0.5 (%s)", what);
    CHECK_CLOSE(r.params[1], 0.25, 0, 0, "alpha = 0.25 (%s)", what);
    cls_fit_result_free(&r);
    CHECK_STATUS(cls_fit_parse_json(buf, len - 1, "mem.json", &r), CLS_E_FORMAT, "truncated JSON (%s)", what);
    CHECK(strstr(cls_last_error(), "mem.json"), "message names the text: %s", cls_last_error());
    CHECK_STATUS(cls_fit_parse_json(NULL, 0, NULL, &r), CLS_E_FORMAT, "empty JSON");
}

static void test_parse_json(void)
{
    check_power_json("C locale");
    locale_t loc = comma_locale();
    if (loc == (locale_t)0) {
        comma_locale_skip_note("fit JSON");
        return;
    }
    locale_t old = uselocale(loc);
    check_power_json("comma locale");
    /* Save and load a fit under the comma locale: the file uses '.', values survive. */
    double x[8], y[8];
    for (int i = 0; i < 8; i++) {
        x[i] = pow(10.0, 8 + i * 0.5);
        y[i] = 12.5 * pow(x[i], -0.2);
    }
    cls_fit_options opt;
    cls_fit_options_init(&opt);
    opt.law = CLS_LAW_POWER;
    opt.bootstrap = 20;
    cls_fit_result r, back;
    const char *path = CLS_BINARY_DIR "/test_fit_locale.json";
    cls_status st = cls_fit_law(x, y, NULL, 8, &opt, &r);
    CHECK_STATUS(st, CLS_OK, "power fit under the comma locale");
    if (st == CLS_OK) {
        CHECK_STATUS(cls_fit_save(&r, NULL, "y", path), CLS_OK, "save under the comma locale");
        if (cls_fit_load(path, &back) == CLS_OK) {
            CHECK_CLOSE(back.params[1], 0.2, 1e-12, 0, "alpha read back under the comma locale");
            CHECK(back.bootstrap == 20, "bootstrap refits read back");
            cls_fit_result_free(&back);
        } else {
            CHECK(0, "load under the comma locale: %s", cls_last_error());
        }
        cls_fit_result_free(&r);
    }
    uselocale(old);
    freelocale(loc);
    printf("comma-decimal locale check ran\n");
}

/* cls_fit_prepare against the same steps written out by hand. */
static void test_prepare(void)
{
    double x[12] = {1e8, 6e17, 2e8, 1.2e18, 4e8, 2.4e18, 8e8, 4.8e18, 1e9, 6e18, 2e9, 1.2e19};
    double y[6] = {0.30, 0.55, 0.20, 0.55, 0.10, 0.40};
    cls_fit_prep_options prep;
    cls_fit_prep_options_init(&prep);
    CHECK(prep.cost_factor == 6.0 && !prep.tokens_from_compute && !prep.one_minus_y && prep.drop_top == 0,
          "prep defaults");
    prep.tokens_from_compute = 1;
    prep.one_minus_y = 1;
    prep.drop_top = 2;
    int64_t n = 6, kept[6] = {-1, -1, -1, -1, -1, -1};
    CHECK_STATUS(cls_fit_prepare(x, y, 2, &n, &prep, kept), CLS_OK, "prepare");
    /* 1 - y = .70 .45 .80 .45 .90 .60: drop rows 4 (.90) and 2 (.80). */
    const int64_t want[4] = {0, 1, 3, 5};
    CHECK(n == 4, "4 rows kept, got %lld", (long long)n);
    for (int k = 0; k < 4 && n == 4; k++) {
        int64_t i = want[k];
        CHECK(kept[k] == i, "kept[%d] = %lld, want %lld", k, (long long)kept[k], (long long)i);
        double N = (double)(i == 0 ? 1e8 : i == 1 ? 2e8 : i == 3 ? 8e8 : 2e9);
        double Cc = 6e9 * N; /* every row above has C = 6e9 N, so D = 1e9 */
        CHECK_CLOSE(x[2 * k], N, 0, 0, "N of kept row %d", k);
        CHECK_CLOSE(x[2 * k + 1], Cc / (6.0 * N), 0, 1e-15, "D = C / (6N) of kept row %d", k);
    }
    CHECK_CLOSE(y[0], 0.70, 0, 1e-15, "1 - y");
    CHECK_CLOSE(y[3], 0.60, 0, 1e-15, "1 - y of the last kept row");
    /* Ties: of two equal highest y the earlier row is dropped first. */
    double x1[3] = {1, 2, 3}, y1[3] = {5, 7, 7};
    cls_fit_prep_options_init(&prep);
    prep.drop_top = 1;
    n = 3;
    CHECK_STATUS(cls_fit_prepare(x1, y1, 1, &n, &prep, kept), CLS_OK, "prepare with a tie");
    CHECK(n == 2 && kept[0] == 0 && kept[1] == 2 && x1[1] == 3, "tie: row 1 dropped, row 2 kept");
    n = 2;
    prep.drop_top = 2;
    CHECK_STATUS(cls_fit_prepare(x1, y1, 1, &n, &prep, NULL), CLS_E_INVALID_ARG, "dropping every row");
    prep.drop_top = 0;
    prep.tokens_from_compute = 1;
    CHECK_STATUS(cls_fit_prepare(x1, y1, 1, &n, &prep, NULL), CLS_E_INVALID_ARG, "tokens need 2 columns");
}

/* The binned frontier by hand: logs 0, .301, 1, 1.301, 2 in 3 bins of width
 * 0.7 over [0, 2.1]; the binned power fit is the least-squares line through
 * exactly those points. */
static void test_binned_frontier(void)
{
    const double x[] = {1, 2, 10, 20, 100}, y[] = {5, 4, 3, 3.5, 1};
    double bx[3], by[3];
    int64_t nb = -1;
    CHECK_STATUS(cls_fit_binned_frontier(x, y, 5, 3, bx, by, &nb), CLS_OK, "binned frontier");
    CHECK(nb == 3, "3 non-empty bins, got %lld", (long long)nb);
    const double wx[] = {pow(10, 0.35), pow(10, 1.05), pow(10, 1.75)}, wy[] = {4, 3, 1};
    for (int b = 0; b < 3 && nb == 3; b++) {
        CHECK_CLOSE(bx[b], wx[b], 0, 1e-12, "bin %d centre", b);
        CHECK_CLOSE(by[b], wy[b], 0, 1e-12, "bin %d lowest y", b);
    }
    /* slope of the least-squares line through the three (log x, log y) */
    double mu = 0, mv = 0, suv = 0, suu = 0;
    for (int b = 0; b < 3; b++) mu += log10(wx[b]) / 3, mv += log10(wy[b]) / 3;
    for (int b = 0; b < 3; b++) {
        suv += (log10(wx[b]) - mu) * (log10(wy[b]) - mv);
        suu += (log10(wx[b]) - mu) * (log10(wx[b]) - mu);
    }
    cls_fit_options opt;
    cls_fit_options_init(&opt);
    opt.law = CLS_LAW_POWER;
    opt.frontier_binned = 1;
    opt.bins = 3;
    opt.bootstrap = 0;
    cls_fit_result r;
    memset(&r, 0, sizeof r);
    if (cls_fit_law(x, y, NULL, 5, &opt, &r) == CLS_OK) {
        CHECK_CLOSE(r.params[1], -suv / suu, 1e-12, 1e-9, "binned power alpha = -slope through the frontier points");
        cls_fit_result_free(&r);
    } else {
        CHECK(0, "binned power fit failed: %s", cls_last_error());
    }
    const double bad[] = {1, -2, 10, 20, 100};
    CHECK_STATUS(cls_fit_binned_frontier(bad, y, 5, 3, bx, by, &nb), CLS_E_INVALID_ARG, "x <= 0 refused");
    CHECK_STATUS(cls_fit_binned_frontier(x, y, 5, 0, bx, by, &nb), CLS_E_INVALID_ARG, "0 bins refused");
    CHECK_STATUS(cls_fit_binned_frontier(NULL, y, 5, 3, bx, by, &nb), CLS_E_INVALID_ARG, "NULL refused");
}

int main(void)
{
    test_prepare();
    test_parse_json();
    test_objective_gradient();
    test_noiseless_recovery();
    test_bad_input();
    test_openclip();
    test_epoch();
    test_synthetic();
    test_determinism_groups();
    test_binned_frontier();
    return check_summary("test_fit");
}
