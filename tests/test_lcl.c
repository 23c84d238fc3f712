/* lcl simulator: closed forms against brute force, iteration and Monte Carlo;
 * bad parameters; the spec's slopes on the spec's settings (S4 reduced to
 * M = 512, d = 8000 here; the full M = 1024, d = 16000 run is in
 * test_lcl_slow). Every check states its tolerance. */
#include "clscale.h"
#include "clscale/sys.h"
#include "check.h"

#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

static cls_lcl_data ref_data(void)
{
    cls_lcl_data d;
    cls_lcl_data_init(&d);
    d.d = 400;
    return d;
}

static double maxabs_diff(const double *a, const double *b, size_t n, double *scale)
{
    double m = 0.0, s = 0.0;
    for (size_t k = 0; k < n; k++) {
        double e = fabs(a[k] - b[k]);
        if (e > m) m = e;
        if (fabs(b[k]) > s) s = fabs(b[k]);
    }
    if (scale) *scale = s;
    return m;
}

static void test_bad_parameters(void)
{
    cls_lcl_data d = ref_data();
    cls_lcl_model *m = NULL;
    d.a = 1.0;
    CHECK_STATUS(cls_lcl_model_create(&m, &d, 8, 1, 1), CLS_E_INVALID_ARG, "a = 1");
    CHECK(strstr(cls_last_error(), "a = 1") != NULL, "message names a: %s", cls_last_error());
    CHECK(m == NULL, "output untouched on failure");
    d.a = 0.5;
    CHECK_STATUS(cls_lcl_model_create(&m, &d, 8, 1, 1), CLS_E_INVALID_ARG, "a = 0.5");
    d = ref_data();
    d.rho0 = 0.0;
    CHECK_STATUS(cls_lcl_model_create(&m, &d, 8, 1, 1), CLS_E_INVALID_ARG, "rho0 = 0");
    CHECK(strstr(cls_last_error(), "rho0") != NULL, "message names rho0: %s", cls_last_error());
    d.rho0 = 1.0;
    CHECK_STATUS(cls_lcl_model_create(&m, &d, 8, 1, 1), CLS_E_INVALID_ARG, "rho0 = 1");
    d.rho0 = -0.3;
    CHECK_STATUS(cls_lcl_model_create(&m, &d, 8, 1, 1), CLS_E_INVALID_ARG, "rho0 < 0");
    d = ref_data();
    d.b = 1.0;
    CHECK_STATUS(cls_lcl_model_create(&m, &d, 8, 1, 1), CLS_E_INVALID_ARG, "b = 1");
    d = ref_data();
    CHECK_STATUS(cls_lcl_model_create(&m, &d, 401, 1, 1), CLS_E_INVALID_ARG, "M > d");
    CHECK(strstr(cls_last_error(), "exceeds the dimension") != NULL, "message: %s", cls_last_error());
    CHECK_STATUS(cls_lcl_model_create(&m, &d, 0, 1, 1), CLS_E_INVALID_ARG, "M = 0");
    d.a2 = 0.7;
    CHECK_STATUS(cls_lcl_model_create(&m, &d, 8, 1, 1), CLS_E_INVALID_ARG, "a2 = 0.7");
    CHECK(m == NULL, "still untouched");
    d = ref_data();
    double S[2 * 400];
    for (int k = 0; k < 800; k++) S[k] = 0.01 * (k % 7);
    S[403] = NAN;
    CHECK_STATUS(cls_lcl_model_create_sketch(&m, &d, S, 2, 1), CLS_E_NONFINITE, "NaN in sketch");
    CHECK(strstr(cls_last_error(), "sketch[1][3]") != NULL, "message names the entry: %s", cls_last_error());
}

/* Mode-E loss and gradient from the moments against the N^2 pairs, and the
 * brute-force gradient against central finite differences of the loss. */
static void test_mode_e_loss(void)
{
    cls_lcl_data d = ref_data();
    d.d = 60;
    cls_lcl_model *m = NULL;
    CHECK_STATUS(cls_lcl_model_create(&m, &d, 5, 3, 1), CLS_OK, "model");
    if (!m) return;
    const int64_t M = 5, N = 9;
    double U[9 * 5], V[9 * 5], W[25], G1[25], G2[25], C[25], g[25], gref[25], l, lref;
    cls_rng rng;
    cls_rng_seed(&rng, 11);
    CHECK_STATUS(cls_lcl_sample_pairs(m, N, &rng, U, V), CLS_OK, "pairs");
    for (int k = 0; k < 25; k++) W[k] = cls_rng_normal(&rng);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            double a = 0, b = 0, c = 0;
            for (int n = 0; n < N; n++) {
                a += U[n * M + i] * U[n * M + j];
                b += V[n * M + i] * V[n * M + j];
                c += U[n * M + i] * V[n * M + j];
            }
            G1[i * M + j] = a / N;
            G2[i * M + j] = b / N;
            C[i * M + j] = c / N;
        }
    CHECK_STATUS(cls_lcl_loss_e(M, G1, G2, C, W, &l, g), CLS_OK, "loss_e");
    CHECK_STATUS(cls_lcl_loss_e_ref(M, N, U, V, W, &lref, gref), CLS_OK, "loss_e_ref");
    CHECK_CLOSE(l, lref, 1e-13, 1e-11, "mode-E loss: moments vs N^2 pairs (rtol 1e-11)");
    double sc, e = maxabs_diff(g, gref, 25, &sc);
    CHECK(e <= 1e-11 * sc + 1e-14, "mode-E gradient vs N^2 pairs: max err %.3g (tol 1e-11 x %.3g)", e, sc);
    /* finite differences (the loss is quadratic: central differences are exact up to rounding) */
    double fdmax = 0.0;
    for (int k = 0; k < 25; k++) {
        double h = 1e-2, lp, lm, w0 = W[k];
        W[k] = w0 + h;
        cls_lcl_loss_e_ref(M, N, U, V, W, &lp, NULL);
        W[k] = w0 - h;
        cls_lcl_loss_e_ref(M, N, U, V, W, &lm, NULL);
        W[k] = w0;
        double fd = (lp - lm) / (2 * h), err = fabs(fd - gref[k]) / (fabs(gref[k]) + 1e-3);
        if (err > fdmax) fdmax = err;
    }
    CHECK(fdmax <= 1e-9, "finite differences vs brute-force gradient: rel err %.3g (tol 1e-9)", fdmax);
    /* explicit moments from the sampler equal the moments of the same pairs */
    double G1s[25], G2s[25], Cs[25];
    cls_lcl_sampler used;
    cls_rng_seed(&rng, 11);
    CHECK_STATUS(cls_lcl_sample_moments(m, N, CLS_LCL_SAMPLER_EXPLICIT, &rng, G1s, G2s, Cs, &used), CLS_OK, "explicit");
    e = maxabs_diff(Cs, C, 25, &sc);
    CHECK(e <= 1e-13 * sc, "explicit moments = moments of the explicit pairs (err %.3g)", e);
    e = maxabs_diff(G1s, G1, 25, &sc);
    CHECK(e <= 1e-13 * sc, "explicit G1^ (err %.3g)", e);
    cls_lcl_model_free(m);
}

/* Closed-form W_L against iterated GD: one and several segments, a step in
 * (1, 2)/kappa_max (oscillating modes), and an asymmetric pair G1^ != G2^. */
static void test_closed_vs_iterated(void)
{
    cls_lcl_data d = ref_data();
    d.a2 = 2.0;
    cls_lcl_model *m = NULL;
    CHECK_STATUS(cls_lcl_model_create(&m, &d, 12, 5, 1), CLS_OK, "asymmetric model");
    if (!m) return;
    const int64_t M = 12;
    double G1h[144], G2h[144], Ch[144], Wc[144], Wi[144];
    cls_rng rng;
    cls_rng_seed(&rng, 2);
    CHECK_STATUS(cls_lcl_sample_moments(m, 50, CLS_LCL_SAMPLER_AUTO, &rng, G1h, G2h, Ch, NULL), CLS_OK, "moments");
    double l1, l2;
    cls_lcl_model_lambda_max(m, &l1, &l2);
    int64_t st1[1] = {300}, st3[3] = {40, 7, 123};
    double lr1[1] = {0.5 / (l1 * l2)}, lr3[3] = {0.9 / (l1 * l2), 1.6 / (l1 * l2), 0.2 / (l1 * l2)};
    cls_lcl_schedule s1 = {1, st1, lr1, 0}, s3 = {3, st3, lr3, 0};
    const double *A[2] = {m ? cls_lcl_model_G1(m) : NULL, G1h}, *B[2] = {cls_lcl_model_G2(m), G2h};
    const char *name[2] = {"population G1, G2 (mode P)", "empirical G1^, G2^ (mode E)"};
    for (int c = 0; c < 2; c++) {
        const cls_lcl_schedule *sch[2] = {&s1, &s3};
        for (int s = 0; s < 2; s++) {
            CHECK_STATUS(cls_lcl_gd_closed(M, A[c], B[c], Ch, sch[s], Wc), CLS_OK, "closed");
            CHECK_STATUS(cls_lcl_gd_iterate(M, A[c], B[c], Ch, sch[s], Wi), CLS_OK, "iterate");
            double sc, e = maxabs_diff(Wc, Wi, 144, &sc);
            CHECK(e <= 1e-9 * sc, "closed-form W_L vs iterated GD, %s, %d segment(s): err %.3g (tol 1e-9 x %.3g)",
                  name[c], sch[s]->nseg, e, sc);
        }
    }
    /* a billion steps cost the same as one: W_L -> the t = inf solution */
    int64_t big[1] = {1000000000};
    cls_lcl_schedule sb = {1, big, lr1, 0}, sinf = {0, NULL, NULL, 1};
    CHECK_STATUS(cls_lcl_gd_closed(M, A[1], B[1], Ch, &sb, Wc), CLS_OK, "closed 1e9 steps");
    CHECK_STATUS(cls_lcl_gd_closed(M, A[1], B[1], Ch, &sinf, Wi), CLS_OK, "closed inf");
    double sc, e = maxabs_diff(Wc, Wi, 144, &sc);
    CHECK(e <= 1e-6 * sc, "1e9 steps vs t = inf: err %.3g (tol 1e-6 x %.3g)", e, sc);
    CHECK_STATUS(cls_lcl_gd_iterate(M, A[1], B[1], Ch, &sinf, Wi), CLS_E_INVALID_ARG, "cannot iterate t = inf");
    cls_lcl_model_free(m);
}

/* The Wishart sampler against a moment known in closed form:
 * E ||C^||_F^2 = ||C_S||^2 + (tr G1 tr G2 + ||C_S||^2)/N for Gaussian pairs. */
static void test_wishart_moments(void)
{
    cls_lcl_data d = ref_data();
    cls_lcl_model *m = NULL;
    CHECK_STATUS(cls_lcl_model_create(&m, &d, 6, 9, 1), CLS_OK, "model");
    if (!m) return;
    const int64_t M = 6, N = 20, K = 4000;
    const double *G = cls_lcl_model_G1(m), *C = cls_lcl_model_CS(m);
    double trG = 0, c2 = 0, trC = 0;
    for (int i = 0; i < M; i++) trG += G[i * M + i], trC += C[i * M + i];
    for (int k = 0; k < M * M; k++) c2 += C[k] * C[k];
    double want = c2 + (trG * trG + c2) / N;
    for (int smp = 1; smp <= 3; smp++) {
        cls_rng rng;
        cls_rng_seed(&rng, 100 + smp);
        double s = 0, ss = 0, st = 0, sst = 0, Ch[36];
        for (int r = 0; r < K; r++) {
            cls_lcl_sample_moments(m, N, (cls_lcl_sampler)smp, &rng, NULL, NULL, Ch, NULL);
            double f = 0, t = 0;
            for (int k = 0; k < M * M; k++) f += Ch[k] * Ch[k];
            for (int i = 0; i < M; i++) t += Ch[i * M + i];
            s += f, ss += f * f, st += t, sst += t * t;
        }
        double mu = s / K, se = sqrt((ss / K - mu * mu) / K);
        double mt = st / K, set = sqrt((sst / K - mt * mt) / K);
        CHECK(fabs(mu - want) <= 4 * se, "sampler %d: E||C^||^2 = %.6g vs closed form %.6g (4 se = %.3g)", smp, mu, want, 4 * se);
        CHECK(fabs(mt - trC) <= 4 * set, "sampler %d: E tr C^ = %.6g vs tr C_S %.6g (4 se = %.3g)", smp, mt, trC, 4 * set);
    }
    /* N < 2M: Wishart refuses, AUTO falls back to explicit samples */
    cls_rng rng;
    cls_rng_seed(&rng, 1);
    double Ch[36];
    cls_lcl_sampler used = CLS_LCL_SAMPLER_AUTO;
    CHECK_STATUS(cls_lcl_sample_moments(m, 11, CLS_LCL_SAMPLER_WISHART, &rng, NULL, NULL, Ch, &used), CLS_E_INVALID_ARG,
                 "Wishart with N < 2M");
    CHECK(strstr(cls_last_error(), "N >= 2M") != NULL, "message: %s", cls_last_error());
    CHECK_STATUS(cls_lcl_sample_moments(m, 11, CLS_LCL_SAMPLER_AUTO, &rng, NULL, NULL, Ch, &used), CLS_OK, "auto");
    CHECK(used == CLS_LCL_SAMPLER_EXPLICIT, "N < 2M falls back to explicit samples (used %d)", (int)used);
    CHECK_STATUS(cls_lcl_sample_moments(m, 12, CLS_LCL_SAMPLER_AUTO, &rng, NULL, NULL, Ch, &used), CLS_OK, "auto");
    CHECK(used == CLS_LCL_SAMPLER_WISHART, "N = 2M uses Wishart (used %d)", (int)used);
    cls_lcl_config c;
    cls_lcl_config_init(&c);
    int64_t L = 50;
    double g = 0.3;
    c.schedule = (cls_lcl_schedule){1, &L, &g, 0};
    c.mode = CLS_LCL_MODE_E;
    c.N = 7;
    c.draws = 3;
    cls_lcl_result r;
    CHECK_STATUS(cls_lcl_risk(m, &c, &r), CLS_OK, "mode E with N < 2M");
    int noted = 0;
    for (int k = 0; k < r.nwarnings; k++) noted |= strstr(r.warnings[k], "explicit") != NULL;
    CHECK(noted && r.sampler_used == CLS_LCL_SAMPLER_EXPLICIT, "mode E N < 2M: explicit samples, noted in the warnings");
    c.sampler = CLS_LCL_SAMPLER_WISHART;
    CHECK_STATUS(cls_lcl_risk(m, &c, &r), CLS_E_INVALID_ARG, "forced Wishart with N < 2M is an error");
    cls_lcl_model_free(m);
}

/* The spec's reference case (d = 400, M = 24, N = 200, L = 300, lr = 0.84)
 * with our own Gaussian sketch: the exact mode-P terms against Monte Carlo
 * with iterated GD, mode E against its Monte Carlo, R* exactly. */
static void test_reference_case(void)
{
    cls_lcl_data d = ref_data();
    CHECK_CLOSE(cls_lcl_r_star(&d), -0.66519, 1e-5, 0, "R* of the reference case (spec: -0.66519)");
    cls_lcl_model *m = NULL;
    CHECK_STATUS(cls_lcl_model_create(&m, &d, 24, 7, 0), CLS_OK, "reference model");
    if (!m) return;
    int64_t L = 300;
    double g = 0.84;
    cls_lcl_config c;
    cls_lcl_config_init(&c);
    c.N = 200;
    c.schedule = (cls_lcl_schedule){1, &L, &g, 0};
    c.monte_carlo = 800;
    c.seed = 3;
    cls_lcl_result r;
    CHECK_STATUS(cls_lcl_risk(m, &c, &r), CLS_OK, "mode P + Monte Carlo");
    /* Independent of the decomposition code: the approximation term is the
     * population risk of the sketched optimum W*_M (R(W) = -<W, C_S> +
     * 1/2 tr(W G2 W^T G1), evaluated directly) minus R*. */
    double rw = 0.0;
    CHECK_STATUS(cls_lcl_population_risk(m, cls_lcl_model_Wstar(m), &rw), CLS_OK, "R(W*_M)");
    CHECK_CLOSE(r.approx, rw - r.R_star, 1e-12, 1e-9, "A = R(W*_M) - R* from the population risk");
    CHECK_CLOSE(r.risk, r.R_star + r.excess, 1e-12, 1e-12, "risk = R* + excess");
    /* Closed form at t = 0: GD has not moved, W_0 = 0, R(0) = 0, so the
     * expected risk is exactly 0 (excess -R*) and no data enters (V = 0). */
    int64_t L0 = 0;
    cls_lcl_config c0 = c;
    c0.schedule = (cls_lcl_schedule){1, &L0, &g, 0};
    c0.monte_carlo = 0;
    cls_lcl_result r0;
    CHECK_STATUS(cls_lcl_risk(m, &c0, &r0), CLS_OK, "mode P at t = 0");
    CHECK_CLOSE(r0.risk, 0.0, 1e-12, 0, "t = 0: E R(W_0) = R(0) = 0");
    CHECK_CLOSE(r0.variance, 0.0, 1e-15, 0, "t = 0: no variance");
    CHECK(fabs(r.excess - r.mc_excess) <= 3 * r.mc_se,
          "mode P exact E R - R* = %.5f vs Monte Carlo (iterated GD, %lld Wishart datasets) %.5f +- %.5f (3 se)",
          r.excess, (long long)r.mc_runs, r.mc_excess, r.mc_se);
    printf("reference (our sketch, seed 7): A %.5f B %.5f V %.5f excess %.5f, MC %.5f +- %.5f\n", r.approx, r.bias,
           r.variance, r.excess, r.mc_excess, r.mc_se);
    /* the same with datasets drawn literally in R^d and then sketched */
    c.sampler = CLS_LCL_SAMPLER_FULL;
    c.monte_carlo = 300;
    cls_lcl_result rf;
    CHECK_STATUS(cls_lcl_risk(m, &c, &rf), CLS_OK, "mode P + Monte Carlo (full samples)");
    CHECK(fabs(rf.excess - rf.mc_excess) <= 3 * rf.mc_se,
          "mode P exact %.5f vs Monte Carlo with pairs drawn in R^d %.5f +- %.5f (3 se)", rf.excess, rf.mc_excess, rf.mc_se);
    /* mode E: the per-draw decomposition averaged vs iterated GD on the same kind of datasets */
    c.sampler = CLS_LCL_SAMPLER_AUTO;
    c.mode = CLS_LCL_MODE_E;
    c.draws = 400;
    c.monte_carlo = 400;
    cls_lcl_result re;
    CHECK_STATUS(cls_lcl_risk(m, &c, &re), CLS_OK, "mode E + Monte Carlo");
    double se = sqrt(re.excess_se * re.excess_se + re.mc_se * re.mc_se);
    CHECK(fabs(re.excess - re.mc_excess) <= 3 * se, "mode E decomposition %.5f +- %.5f vs Monte Carlo %.5f +- %.5f (3 se)",
          re.excess, re.excess_se, re.mc_excess, re.mc_se);
    CHECK(re.excess < r.excess, "in-batch negatives (E) %.4f below population negatives (P) %.4f, as in the spec", re.excess,
          r.excess);
    CHECK(fabs(re.cross) <= 2 * sqrt(re.bias * re.variance), "|cross| %.3g <= 2 sqrt(B V) %.3g", fabs(re.cross),
          2 * sqrt(re.bias * re.variance));
    /* same seed, different thread counts: the same bits */
    c.monte_carlo = 0;
    c.draws = 6;
    cls_lcl_result a, b;
    c.threads = 1;
    cls_lcl_risk(m, &c, &a);
    c.threads = 2;
    cls_lcl_risk(m, &c, &b);
    CHECK(a.excess == b.excess && a.cross == b.cross, "mode E deterministic across thread counts");
    cls_lcl_model_free(m);
}

/* Asymmetric views (a2 != a): mode-P exact terms against Monte Carlo. */
static void test_asymmetric_views(void)
{
    cls_lcl_data d = ref_data();
    d.a2 = 2.2;
    cls_lcl_model *m = NULL;
    CHECK_STATUS(cls_lcl_model_create(&m, &d, 16, 8, 0), CLS_OK, "asymmetric model");
    if (!m) return;
    int64_t L = 200;
    double g = cls_lcl_model_default_lr(m);
    cls_lcl_config c;
    cls_lcl_config_init(&c);
    c.N = 300;
    c.schedule = (cls_lcl_schedule){1, &L, &g, 0};
    c.monte_carlo = 600;
    cls_lcl_result r;
    CHECK_STATUS(cls_lcl_risk(m, &c, &r), CLS_OK, "asymmetric mode P + Monte Carlo");
    CHECK(fabs(r.excess - r.mc_excess) <= 3 * r.mc_se, "asymmetric views: exact %.5f vs Monte Carlo %.5f +- %.5f (3 se)",
          r.excess, r.mc_excess, r.mc_se);
    CHECK_CLOSE(r.R_star, cls_lcl_r_star(&d), 1e-15, 1e-13, "R* does not depend on the view spectra");
    cls_lcl_model_free(m);
}

static void test_warnings_and_curves(void)
{
    cls_lcl_data d = ref_data();
    cls_lcl_model *m = NULL;
    CHECK_STATUS(cls_lcl_model_create(&m, &d, 16, 4, 1), CLS_OK, "model");
    if (!m) return;
    double l1;
    cls_lcl_model_lambda_max(m, &l1, NULL);
    double bound = 2.0 / (l1 * l1);
    int64_t L = 100;
    double g = 1.05 * bound;
    cls_lcl_config c;
    cls_lcl_config_init(&c);
    c.schedule = (cls_lcl_schedule){1, &L, &g, 0};
    cls_lcl_result r;
    CHECK_STATUS(cls_lcl_risk(m, &c, &r), CLS_OK, "unstable step still evaluates");
    CHECK(r.nwarnings >= 1 && strstr(r.warnings[0], "unstable") != NULL, "unstable step warns: %s",
          r.nwarnings ? r.warnings[0] : "(none)");
    char want[64];
    snprintf(want, sizeof want, "%.6g", bound);
    CHECK(r.nwarnings >= 1 && strstr(r.warnings[0], want) != NULL, "warning states the bound %s", want);
    CHECK_CLOSE(r.lr_bound, bound, 0, 1e-12, "lr_bound");
    g = 0.9 * bound;
    CHECK_STATUS(cls_lcl_risk(m, &c, &r), CLS_OK, "stable step");
    CHECK(r.nwarnings == 0, "no warning below the bound");

    /* D_M(t) against a direct count; p_curve against the single-point risk */
    double Q[256], Lam[16];
    memcpy(Q, cls_lcl_model_G1(m), sizeof Q);
    CHECK(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', 16, Q, 16, Lam) == 0, "dsyev");
    double ts[3] = {3.0, 250.0, 1e5};
    for (int k = 0; k < 3; k++) {
        double cnt = 0;
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 16; j++) cnt += Lam[i] * Lam[j] * ts[k] >= 1.0;
        CHECK(cls_lcl_model_dim(m, ts[k]) == cnt, "D_M(%g) = %g vs direct count %g", ts[k], cls_lcl_model_dim(m, ts[k]), cnt);
    }
    g = 0.3;
    double steps[2] = {100, 5000}, B[2], Vs[2];
    CHECK_STATUS(cls_lcl_p_curve(m, g, 2, steps, B, Vs, NULL, 0), CLS_OK, "p_curve");
    for (int k = 0; k < 2; k++) {
        L = (int64_t)steps[k];
        c.N = 300;
        CHECK_STATUS(cls_lcl_risk(m, &c, &r), CLS_OK, "risk");
        CHECK_CLOSE(B[k], r.bias, 1e-15, 1e-12, "p_curve bias = point bias");
        CHECK_CLOSE(Vs[k] / 600.0, r.variance, 1e-15, 1e-12, "p_curve variance sum / 2N = point variance");
    }
    /* e_curve: one draw of several horizons equals single-horizon risk with draws = 1 */
    double eb[2], ev[2], ex[2];
    CHECK_STATUS(cls_lcl_e_curve(m, 300, g, 2, steps, 3, CLS_LCL_SAMPLER_AUTO, 5, 1, eb, ev, ex, NULL, NULL, NULL), CLS_OK, "e_curve");
    c.mode = CLS_LCL_MODE_E;
    c.draws = 3;
    c.seed = 5;
    L = (int64_t)steps[1];
    CHECK_STATUS(cls_lcl_risk(m, &c, &r), CLS_OK, "risk E");
    CHECK_CLOSE(eb[1], r.bias, 1e-15, 1e-12, "e_curve bias = point bias (same seed)");
    CHECK_CLOSE(ex[1], r.cross, 1e-15, 1e-10, "e_curve cross = point cross");
    double x[4] = {1, 10, 100, 1000}, y[4], s, ic;
    for (int k = 0; k < 4; k++) y[k] = 3.0 * pow(x[k], -0.7);
    CHECK_STATUS(cls_stats_loglog_fit(x, y, NULL, 4, &s, &ic, NULL), CLS_OK, "fit");
    CHECK_CLOSE(s, -0.7, 1e-12, 0, "log-log fit recovers an exact power law");
    cls_lcl_model_free(m);
}

static double sweep_slope(int sweep, double a, double b, int64_t M, int64_t d)
{
    cls_lcl_sweep_config c;
    cls_lcl_sweep_config_init(&c, sweep);
    c.data.a = a;
    c.data.b = b;
    c.data.d = d;
    c.M = M;
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

static void test_slopes(void)
{
    /* spec settings: S1 d = 8000, M = 64..512; S2 M = 512, d = 8000, t = 10..1e5 */
    CHECK_CLOSE(sweep_slope(1, 1.5, 2, 0, 0), -1.016, 0.06, 0, "S1 slope (a 1.5, b 2) vs spec -1.016 (+-0.06)");
    CHECK_CLOSE(sweep_slope(2, 1.5, 2, 0, 0), -0.379, 0.06, 0, "S2 slope (a 1.5, b 2) vs spec -0.379 (+-0.06)");
    /* S4 reduced (M = 512, d = 8000); the spec's M = 1024, d = 16000 is in test_lcl_slow */
    CHECK_CLOSE(sweep_slope(4, 1.5, 2, 512, 8000), -0.298, 0.06, 0, "S4 slope, reduced M/d (a 1.5, b 2) vs spec -0.298 (+-0.06)");
}

int main(void)
{
    test_bad_parameters();
    test_mode_e_loss();
    test_closed_vs_iterated();
    test_wishart_moments();
    test_reference_case();
    test_asymmetric_views();
    test_warnings_and_curves();
    test_slopes();
    return check_summary("test_lcl");
}
