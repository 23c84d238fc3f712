/* Tests of the featlearn simulator (fast suite; the full-size runs of the
 * spec are in test_featlearn_slow.c). Every check states its tolerance. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "clscale.h"

static cls_featlearn_config base(void)
{
    cls_featlearn_config c;
    cls_featlearn_config_init(&c);
    return c;
}

/* Bad input is a clear error naming the field, never a crash. */
static void test_bad_input(void)
{
    cls_featlearn_config c = base();
    cls_featlearn_result *r = NULL;
    c.alpha = 1.0;
    CHECK_STATUS(cls_featlearn_run(&c, &r), CLS_E_INVALID_ARG, "alpha = 1");
    CHECK(strstr(cls_last_error(), "alpha") != NULL, "message names alpha: %s", cls_last_error());
    c = base();
    c.alpha = 0.5;
    CHECK_STATUS(cls_featlearn_config_check(&c), CLS_E_INVALID_ARG, "alpha = 0.5");
    c = base();
    c.beta = 0.0;
    CHECK_STATUS(cls_featlearn_run(&c, &r), CLS_E_INVALID_ARG, "beta = 0");
    CHECK(strstr(cls_last_error(), "beta") != NULL, "message names beta: %s", cls_last_error());
    c.beta = -1.0;
    CHECK_STATUS(cls_featlearn_config_check(&c), CLS_E_INVALID_ARG, "beta = -1");
    c = base();
    c.beta = NAN;
    CHECK_STATUS(cls_featlearn_config_check(&c), CLS_E_INVALID_ARG, "beta = NaN");
    c = base();
    c.eta = 0.0;
    CHECK_STATUS(cls_featlearn_config_check(&c), CLS_E_INVALID_ARG, "eta = 0");
    c = base();
    c.gamma = -0.1;
    CHECK_STATUS(cls_featlearn_config_check(&c), CLS_E_INVALID_ARG, "gamma < 0");
    c = base();
    c.M = 0;
    CHECK_STATUS(cls_featlearn_config_check(&c), CLS_E_INVALID_ARG, "M = 0");
    c = base();
    c.seeds = 0;
    CHECK_STATUS(cls_featlearn_config_check(&c), CLS_E_INVALID_ARG, "seeds = 0");
    c = base();
    c.N = 0;
    c.engine = CLS_FEATLEARN_WIDTH;
    CHECK_STATUS(cls_featlearn_config_check(&c), CLS_E_INVALID_ARG, "N = inf needs function engine");
    CHECK(r == NULL, "output untouched on failure");
    cls_featlearn_prediction p;
    CHECK_STATUS(cls_featlearn_predict(1.0, 0.5, &p), CLS_E_INVALID_ARG, "predict alpha = 1");
    CHECK_STATUS(cls_featlearn_predict(2.0, -0.5, &p), CLS_E_INVALID_ARG, "predict beta < 0");
    double E, k;
    CHECK_STATUS(cls_featlearn_deterministic_equivalent(2.0, 0.5, 100, 100.0, &E, &k),
                 CLS_E_INVALID_ARG, "deterministic equivalent needs N < M");
    int64_t Ns[2] = {10, 200};
    cls_featlearn_bottleneck_result *b = NULL;
    CHECK_STATUS(cls_featlearn_bottleneck(2.0, 0.5, 100, Ns, 2, 1, 0, 1, &b), CLS_E_INVALID_ARG,
                 "bottleneck N >= M");
    CHECK(b == NULL, "bottleneck output untouched");
}

/* An unstable eta: divergence is an error naming the step and the count of
 * loss increases; a mildly unstable eta over a short run is reported through
 * the count. At infinite width lambda_1 = 1, so eta > 2 is unstable. */
static void test_unstable_eta(void)
{
    cls_featlearn_config c = base();
    c.N = 0;
    c.M = 50;
    c.seeds = 1;
    c.eta = 3.0;
    c.steps = 200;
    cls_featlearn_result *r = NULL;
    CHECK_STATUS(cls_featlearn_run(&c, &r), CLS_E_NUMERIC, "eta = 3 diverges");
    CHECK(strstr(cls_last_error(), "diverged") && strstr(cls_last_error(), "loss increases"),
          "divergence message: %s", cls_last_error());
    CHECK(r == NULL, "no result on divergence");
    c.eta = 2.05;
    c.steps = 30;
    CHECK_STATUS(cls_featlearn_run(&c, &r), CLS_OK, "eta = 2.05 over 30 steps runs");
    if (r) {
        CHECK(r->loss_increases > 0, "eta = 2.05 gives loss increases (got %lld)",
              (long long)r->loss_increases);
        cls_featlearn_result_free(r);
    }
    /* The rich finite-width model with a large eta diverges too. */
    c = base();
    c.N = 60;
    c.M = 40;
    c.seeds = 2;
    c.gamma = 1.0;
    c.eta = 4.0;
    c.steps = 500;
    r = NULL;
    CHECK_STATUS(cls_featlearn_run(&c, &r), CLS_E_NUMERIC, "rich eta = 4 diverges");
    /* A stable run has none. */
    c.eta = 0.1;
    c.steps = 300;
    CHECK_STATUS(cls_featlearn_run(&c, &r), CLS_OK, "rich eta = 0.1");
    if (r) {
        CHECK(r->loss_increases == 0, "stable rich run: %lld increases", (long long)r->loss_increases);
        cls_featlearn_result_free(r);
    }
}

/* The two fast engines against the literal float64 update of A (the
 * specification), lazy and rich, population and finite batch, for N >= M/2
 * and N < M/2. rtol 1e-9 on every checkpoint of every draw. */
static void test_engines_agree(void)
{
    const int64_t NM[2][2] = {{30, 40}, {9, 50}};
    const double gammas[2] = {0.0, 0.8};
    const int64_t batches[2] = {0, 6};
    for (int s = 0; s < 2; s++)
        for (int g = 0; g < 2; g++)
            for (int b = 0; b < 2; b++) {
                cls_featlearn_config c = base();
                c.N = NM[s][0];
                c.M = NM[s][1];
                c.gamma = gammas[g];
                c.batch = batches[b];
                c.eta = 0.3;
                c.steps = 200;
                c.seeds = 2;
                c.seed = 7;
                cls_featlearn_result *r[3] = {0};
                int ok = 1;
                for (int e = 0; e < 3; e++) {
                    c.engine = (cls_featlearn_engine)(e + 1);
                    if (cls_featlearn_run(&c, &r[e]) != CLS_OK) ok = 0;
                }
                CHECK(ok, "engines run (N %lld M %lld gamma %g batch %lld): %s", (long long)c.N,
                      (long long)c.M, c.gamma, (long long)c.batch, cls_last_error());
                if (ok) {
                    double worst = 0.0;
                    for (int e = 0; e < 2; e++)
                        for (int64_t j = 0; j < r[2]->n * c.seeds; j++) {
                            double ref = r[2]->loss_draws[j];
                            double d = fabs(r[e]->loss_draws[j] - ref) / ref;
                            worst = d > worst ? d : worst;
                        }
                    CHECK(worst <= 1e-9,
                          "engines vs reference: max rel diff %.3g > 1e-9 (N %lld M %lld gamma %g "
                          "batch %lld)", worst, (long long)c.N, (long long)c.M, c.gamma,
                          (long long)c.batch);
                    CHECK(r[0]->loss_increases == r[2]->loss_increases &&
                              r[1]->loss_increases == r[2]->loss_increases,
                          "increase counts agree: %lld %lld %lld", (long long)r[0]->loss_increases,
                          (long long)r[1]->loss_increases, (long long)r[2]->loss_increases);
                    CHECK(c.gamma == 0.0 || r[2]->loss[r[2]->n - 1] < 0.5 * r[2]->loss0,
                          "the run learns");
                }
                for (int e = 0; e < 3; e++) cls_featlearn_result_free(r[e]);
            }
}

/* Same seed, different thread counts: the same bits. */
static void test_deterministic(void)
{
    cls_featlearn_config c = base();
    c.N = 300;
    c.M = 200;
    c.gamma = 0.5;
    c.steps = 300;
    c.seeds = 3;
    cls_featlearn_result *a = NULL, *b = NULL;
    c.threads = 1;
    CHECK_STATUS(cls_featlearn_run(&c, &a), CLS_OK, "threads 1");
    c.threads = 2;
    CHECK_STATUS(cls_featlearn_run(&c, &b), CLS_OK, "threads 2");
    if (a && b)
        CHECK(memcmp(a->loss_draws, b->loss_draws, (size_t)(a->n * c.seeds) * sizeof(double)) == 0,
              "bitwise identical across thread counts");
    cls_featlearn_result_free(a);
    cls_featlearn_result_free(b);
}

/* Windows and slopes: the spec's windows for eta*T = 2000, and the exact
 * exponent of a pure power law (1e-12). */
static void test_slopes(void)
{
    double lo[16], hi[16];
    int n = cls_featlearn_windows(2000.0, lo, hi, 16);
    const double want[6][2] = {{3, 10}, {10, 30}, {30, 100}, {100, 300}, {300, 1000}, {1000, 2000}};
    CHECK(n == 6, "6 windows up to eta*T = 2000 (got %d)", n);
    for (int i = 0; i < 6 && i < n; i++)
        CHECK(lo[i] == want[i][0] && hi[i] == want[i][1], "window %d = [%g, %g]", i, lo[i], hi[i]);
    CHECK(cls_featlearn_windows(3000.0, lo, hi, 16) == 6 && hi[5] == 3000.0, "eta*T = 3000");
    CHECK(cls_featlearn_windows(1200.0, lo, hi, 16) == 5, "[1000, 1200] is too short");
    double x[200], y[200];
    for (int i = 0; i < 200; i++) {
        x[i] = 0.1 * (i + 1);
        y[i] = 3.0 * pow(x[i], -0.6);
    }
    double s;
    int64_t pts;
    CHECK_STATUS(cls_featlearn_slope(x, y, 200, 3.0, 10.0, &s, &pts), CLS_OK, "slope");
    CHECK_CLOSE(s, 0.6, 1e-12, 0, "power-law slope");
    CHECK(pts == 71, "closed window [3, 10] holds steps 30..100 (got %lld)", (long long)pts);
    CHECK_STATUS(cls_featlearn_slope(x, y, 200, 100.0, 300.0, &s, &pts), CLS_E_INVALID_ARG,
                 "empty window");
}

/* The exact N = inf lazy curve against its closed form: within 1% for
 * eta*t >= 10 when the sum runs to M = 1e6, or to M = 1000 plus the tail;
 * truncated at M = 1000 it is lower, by -7% +- 2% at eta*t = 2000 (spec). */
static void test_lazy_infinite(void)
{
    const double eta = 0.1, et[] = {10, 30, 100, 300, 1000, 2000};
    double steps[6], big[6], small[6], tail[6];
    for (int i = 0; i < 6; i++) steps[i] = et[i] / eta;
    CHECK_STATUS(cls_featlearn_lazy_infinite(2.0, 0.5, 1000000, eta, steps, 6, 0, big), CLS_OK, "M=1e6");
    CHECK_STATUS(cls_featlearn_lazy_infinite(2.0, 0.5, 1000, eta, steps, 6, 0, small), CLS_OK, "M=1e3");
    CHECK_STATUS(cls_featlearn_lazy_infinite(2.0, 0.5, 1000, eta, steps, 6, 1, tail), CLS_OK, "tail");
    for (int i = 0; i < 6; i++) {
        double cf = cls_featlearn_lazy_closed_form(2.0, 0.5, et[i]);
        CHECK_CLOSE(big[i], cf, 0, 0.01, "M = 1e6 vs closed form at eta t = %g", et[i]);
        CHECK_CLOSE(tail[i], cf, 0, 0.01, "M = 1000 + tail vs closed form at eta t = %g", et[i]);
        CHECK(small[i] < cf, "truncation lowers the curve at eta t = %g", et[i]);
    }
    double cf = cls_featlearn_lazy_closed_form(2.0, 0.5, 2000.0);
    CHECK_CLOSE(small[5] / cf - 1.0, -0.07, 0.02, 0, "truncated at M = 1000, eta t = 2000");
    CHECK_CLOSE(cf - small[5], 1e-3, 3e-4, 0, "absolute gap ~1e-3 at eta t = 2000");
    /* Other exponents: the closed form holds at M = 1e6 too. */
    double b15[2], st2[2] = {1000, 20000};
    CHECK_STATUS(cls_featlearn_lazy_infinite(1.5, 0.8, 1000000, eta, st2, 2, 1, b15), CLS_OK, "1.5/0.8");
    for (int i = 0; i < 2; i++)
        CHECK_CLOSE(b15[i], cls_featlearn_lazy_closed_form(1.5, 0.8, eta * st2[i]), 0, 0.01,
                    "alpha 1.5 beta 0.8 at eta t = %g", eta * st2[i]);

    /* The simulator at infinite width is this curve, step by step. */
    cls_featlearn_config c = base();
    c.N = 0;
    c.steps = 20000;
    c.seeds = 1;
    cls_featlearn_result *r = NULL;
    CHECK_STATUS(cls_featlearn_run(&c, &r), CLS_OK, "N = inf run");
    if (r) {
        double worst = 0;
        for (int64_t j = 0; j < r->n; j++) {
            double ex, s = (double)r->step[j];
            cls_featlearn_lazy_infinite(2.0, 0.5, 1000, 0.1, &s, 1, 0, &ex);
            worst = fmax(worst, fabs(r->loss[j] - ex) / ex);
        }
        CHECK(worst <= 1e-10, "N = inf simulation vs exact sum: rel %.3g > 1e-10", worst);
        /* The spec's N = inf lazy slopes at M = 1000: .497 .502 .506 .511
         * .520 .532 (+-0.003, they are rounded). */
        const double ref[6] = {.497, .502, .506, .511, .520, .532};
        CHECK(r->n_windows == 6, "six windows");
        for (int i = 0; i < 6 && i < r->n_windows; i++)
            CHECK_CLOSE(r->windows[i].slope, ref[i], 0.003, 0, "N = inf slope window %d", i);
        cls_featlearn_result_free(r);
    }
}

/* Simulated lazy curve at large width within 1% of the exact N = inf curve
 * (same M) once eta*t >= 10: N = 40000, M = 200, mean of 4 draws. */
static void test_lazy_large_width(void)
{
    cls_featlearn_config c = base();
    c.N = 40000;
    c.M = 200;
    c.steps = 5000;
    c.seeds = 4;
    cls_featlearn_result *r = NULL;
    CHECK_STATUS(cls_featlearn_run(&c, &r), CLS_OK, "large-N lazy run");
    if (!r) return;
    double worst = 0;
    for (int64_t j = 0; j < r->n; j++) {
        if (r->eta_t[j] < 10.0) continue;
        double ex, s = (double)r->step[j];
        cls_featlearn_lazy_infinite(2.0, 0.5, 200, 0.1, &s, 1, 0, &ex);
        worst = fmax(worst, fabs(r->loss[j] - ex) / ex);
    }
    printf("lazy N = 40000, M = 200 vs exact N = inf: max rel diff %.4f (eta t >= 10)\n", worst);
    CHECK(worst <= 0.01, "lazy N = 40000 vs exact N = inf: max rel diff %.4f > 1%%", worst);
    cls_featlearn_result_free(r);
}

/* Predicted exponents: the spec's table and its example (alpha 2, beta 0.5:
 * lazy C^-0.333, rich C^-0.400). */
static void test_predictions(void)
{
    cls_featlearn_prediction p;
    CHECK_STATUS(cls_featlearn_predict(2.0, 0.5, &p), CLS_OK, "predict");
    CHECK(p.regime == CLS_FEATLEARN_HARD && strcmp(p.regime_name, "hard") == 0, "hard");
    CHECK_CLOSE(p.time_lazy, 0.5, 1e-15, 0, "lazy time");
    CHECK_CLOSE(p.time_rich, 2.0 / 3.0, 1e-15, 0, "rich time 2b/(1+b)");
    CHECK_CLOSE(p.c_lazy, 1.0 / 3.0, 1e-15, 0, "lazy C exponent");
    CHECK_CLOSE(p.c_rich, 0.4, 1e-15, 0, "rich C exponent");
    CHECK_CLOSE(p.n_lazy + p.t_lazy, 1.0, 1e-15, 0, "N* t* = C (lazy)");
    CHECK_CLOSE(p.n_rich + p.t_rich, 1.0, 1e-15, 0, "N* t* = C (rich)");
    CHECK_CLOSE(p.width, 1.0, 1e-15, 0, "bottleneck N^-1");
    CHECK_STATUS(cls_featlearn_predict(2.0, 1.5, &p), CLS_OK, "predict easy");
    CHECK(p.regime == CLS_FEATLEARN_EASY, "beta 1.5 is easy at alpha 2 (edge)");
    CHECK(p.time_rich == p.time_lazy && p.c_rich == p.c_lazy, "no gain for easy tasks");
    CHECK_CLOSE(p.c_lazy, 0.75, 1e-15, 0, "easy C exponent ab/(ab+1)");
    CHECK_CLOSE(p.c_lazy, 3.0 / 4.0, 1e-15, 0, "equals super-easy (2a-1)/2a at the edge");
    CHECK_STATUS(cls_featlearn_predict(2.0, 1.9, &p), CLS_OK, "predict super-easy");
    CHECK(p.regime == CLS_FEATLEARN_SUPER_EASY && p.n_lazy == 0.5, "super-easy");
    /* Continuity of the table at beta = 1 (hard -> easy). */
    cls_featlearn_prediction a, b;
    cls_featlearn_predict(2.5, 1.0 - 1e-9, &a);
    cls_featlearn_predict(2.5, 1.0, &b);
    CHECK_CLOSE(a.c_rich, b.c_lazy, 1e-8, 0, "rich exponent continuous at beta = 1");
    CHECK_CLOSE(a.c_lazy, b.c_lazy, 1e-8, 0, "lazy exponent continuous at beta = 1");
}

/* Width bottleneck (one setting here, 16 draws: E(N) varies ~5-10% between
 * draws at beta = 0.5; all four of the spec's settings in the slow test):
 * measured E(N) within 10% of the deterministic equivalent, and the slope
 * over N = 50..400 at M = 8000 within 0.07 of the spec's -0.973. */
static void test_bottleneck(void)
{
    /* The deterministic equivalent satisfies its defining equation. */
    double E, kap;
    CHECK_STATUS(cls_featlearn_deterministic_equivalent(2.0, 0.5, 8000, 100.0, &E, &kap), CLS_OK, "DE");
    double df = 0, e2 = 0;
    for (int k = 1; k <= 8000; k++) {
        double lam = pow(k, -2.0);
        df += lam / (lam + kap);
        e2 += pow(k, -2.0) * kap / (lam + kap);
    }
    CHECK_CLOSE(df, 100.0, 0, 1e-9, "sum lambda/(lambda+kappa) = N");
    CHECK_CLOSE(E, e2, 0, 1e-12, "E(N) from kappa");
    int64_t Ns[CLS_FEATLEARN_MAX_WIDTHS];
    CHECK(cls_featlearn_bottleneck_widths(8000, Ns) == 7, "the spec's 7 bottleneck widths below M/2");
    cls_featlearn_bottleneck_result *b = NULL;
    CHECK_STATUS(cls_featlearn_bottleneck(2.0, 0.5, 8000, Ns, 7, 16, 0, 0, &b), CLS_OK, "bottleneck");
    if (!b) return;
    for (int i = 0; i < 7; i++)
        printf("bottleneck N = %lld: measured %.5g +- %.2g, equivalent %.5g\n", (long long)Ns[i],
               b->measured[i], b->measured_sd[i], b->equivalent[i]);
    printf("bottleneck slope: measured %.3f, equivalent %.3f\n", b->slope_measured, b->slope_equivalent);
    for (int i = 0; i < 7; i++)
        CHECK_CLOSE(b->measured[i], b->equivalent[i], 0, 0.10, "E(N = %lld) vs equivalent",
                    (long long)Ns[i]);
    CHECK_CLOSE(b->slope_measured, -0.973, 0.07, 0, "measured slope vs spec");
    CHECK_CLOSE(b->slope_equivalent, -0.973, 0.07, 0, "equivalent slope vs spec");
    cls_featlearn_bottleneck_free(b);
}

/* Hard task, reduced: M = 1000, N = 2000, eta = 0.1 to eta*t = 1000 (the
 * spec's window for the rich slope), 4 draws. Lazy slopes 0.50 +- 0.03 in
 * every window; rich (gamma = 0.5) slope 0.667 +- 0.03 over [300, 1000]. */
static void test_hard_task(void)
{
    cls_featlearn_config c = base();
    c.steps = 10000;
    c.seeds = 4;
    cls_featlearn_result *lazy = NULL, *rich = NULL;
    CHECK_STATUS(cls_featlearn_run(&c, &lazy), CLS_OK, "lazy");
    c.gamma = 0.5;
    CHECK_STATUS(cls_featlearn_run(&c, &rich), CLS_OK, "rich");
    if (lazy && rich) {
        CHECK(lazy->n_windows == 5 && rich->n_windows == 5, "windows up to [300, 1000]");
        for (int i = 0; i < lazy->n_windows; i++)
            printf("hard [%g, %g]: lazy %.3f rich %.3f\n", lazy->windows[i].lo, lazy->windows[i].hi,
                   lazy->windows[i].slope, rich->windows[i].slope);
        for (int i = 0; i < lazy->n_windows; i++)
            CHECK_CLOSE(lazy->windows[i].slope, 0.5, 0.03, 0, "lazy slope [%g, %g]",
                        lazy->windows[i].lo, lazy->windows[i].hi);
        CHECK_CLOSE(rich->windows[4].slope, 2.0 / 3.0, 0.03, 0, "rich slope [300, 1000]");
        for (int i = 0; i < rich->n_windows; i++)
            CHECK(rich->windows[i].slope > lazy->windows[i].slope + 0.05,
                  "rich beats lazy by > 0.05 in [%g, %g]", rich->windows[i].lo, rich->windows[i].hi);
        CHECK(lazy->loss_increases == 0 && rich->loss_increases == 0, "no loss increases");
    }
    cls_featlearn_result_free(lazy);
    cls_featlearn_result_free(rich);
}

/* The crossover comes earlier as gamma grows: the first eta*t where the rich
 * loss is 10% below the lazy one decreases strictly with gamma. */
static void test_crossover(void)
{
    const double gammas[] = {0.0, 0.1, 0.5, 1.0};
    cls_featlearn_result *r[4] = {0};
    cls_featlearn_config c = base();
    c.N = 800;
    c.M = 400;
    c.steps = 4000;
    c.eta = 0.05;
    c.seeds = 2;
    int ok = 1;
    for (int g = 0; g < 4; g++) {
        c.gamma = gammas[g];
        if (cls_featlearn_run(&c, &r[g]) != CLS_OK) ok = 0;
    }
    CHECK(ok, "crossover runs: %s", cls_last_error());
    if (ok) {
        double cross[4];
        for (int g = 1; g < 4; g++) {
            cross[g] = INFINITY;
            for (int64_t j = 0; j < r[g]->n; j++)
                if (r[g]->loss[j] <= 0.9 * r[0]->loss[j]) {
                    cross[g] = r[g]->eta_t[j];
                    break;
                }
        }
        printf("crossover eta t: gamma 0.1 %g, 0.5 %g, 1 %g\n", cross[1], cross[2], cross[3]);
        CHECK(isfinite(cross[1]), "gamma = 0.1 crosses over by eta t = 200");
        CHECK(cross[1] > cross[2] && cross[2] > cross[3],
              "crossover earlier as gamma grows: %g, %g, %g", cross[1], cross[2], cross[3]);
    }
    for (int g = 0; g < 4; g++) cls_featlearn_result_free(r[g]);
}

/* Easy task (beta = 1.5): no exponent gain from gamma. The rich slope stays
 * within 0.05 of the lazy one in the late windows. */
static void test_easy_task(void)
{
    cls_featlearn_config c = base();
    c.beta = 1.5;
    c.N = 800;
    c.M = 400;
    c.steps = 4000;
    c.seeds = 2;
    cls_featlearn_result *lazy = NULL, *rich = NULL;
    CHECK_STATUS(cls_featlearn_run(&c, &lazy), CLS_OK, "easy lazy");
    c.gamma = 0.5;
    CHECK_STATUS(cls_featlearn_run(&c, &rich), CLS_OK, "easy rich");
    if (lazy && rich) {
        for (int i = 0; i < lazy->n_windows; i++)
            printf("easy [%g, %g]: lazy %.3f rich %.3f\n", lazy->windows[i].lo, lazy->windows[i].hi,
                   lazy->windows[i].slope, rich->windows[i].slope);
        for (int i = 2; i < lazy->n_windows; i++)
            CHECK(rich->windows[i].slope < lazy->windows[i].slope + 0.05,
                  "easy: rich slope %.3f vs lazy %.3f in [%g, %g] (gain <= 0.05)",
                  rich->windows[i].slope, lazy->windows[i].slope, lazy->windows[i].lo,
                  lazy->windows[i].hi);
    }
    cls_featlearn_result_free(lazy);
    cls_featlearn_result_free(rich);
}

/* eta in (1, 2): the exact N = inf lazy curve is finite (the first modes
 * oscillate: 1 - eta lambda_k < 0); against repeated multiplication. */
static void test_lazy_infinite_large_eta(void)
{
    const double alpha = 2.0, beta = 0.5, eta = 1.5, steps[4] = {0, 1, 7, 40};
    const int64_t M = 60;
    double L[4];
    CHECK_STATUS(cls_featlearn_lazy_infinite(alpha, beta, M, eta, steps, 4, 0, L), CLS_OK, "eta 1.5");
    for (int i = 0; i < 4; i++) {
        double ref = 0.0;
        for (int64_t k = 1; k <= M; k++) {
            double lam = pow((double)k, -alpha), f = 1.0;
            for (int s = 0; s < 2 * (int)steps[i]; s++) f *= 1.0 - eta * lam;
            ref += pow((double)k, -alpha * beta - 1.0) * f;
        }
        CHECK(isfinite(L[i]), "L(t = %g) is finite at eta = 1.5", steps[i]);
        CHECK_CLOSE(L[i], ref, 1e-15, 1e-11, "lazy N = inf curve at eta = 1.5, t = %g", steps[i]);
    }
}

static void test_width_grids(void)
{
    int64_t w[CLS_FEATLEARN_MAX_WIDTHS];
    int64_t n = cls_featlearn_frontier_widths(100, w);
    CHECK(n == 4 && w[0] == 12 && w[1] == 25 && w[2] == 50 && w[3] == 100,
          "frontier widths of N = 100: 12 25 50 100 (got %lld)", (long long)n);
    CHECK(cls_featlearn_frontier_widths(1 << 20, w) == CLS_FEATLEARN_MAX_WIDTHS && w[7] == (1 << 20),
          "at most 8 widths, ending at N");
    CHECK(cls_featlearn_frontier_widths(15, NULL) == 1, "N = 15: one width (too few)");
    n = cls_featlearn_bottleneck_widths(300, w);
    CHECK(n == 4 && w[3] == 141, "bottleneck widths with 2N < 300: 50 71 100 141");
}

int main(void)
{
    test_lazy_infinite_large_eta();
    test_width_grids();
    test_bad_input();
    test_unstable_eta();
    test_engines_agree();
    test_deterministic();
    test_slopes();
    test_predictions();
    test_lazy_infinite();
    test_lazy_large_width();
    test_bottleneck();
    test_crossover();
    test_easy_task();
    test_hard_task();
    return check_summary("test_featlearn");
}
