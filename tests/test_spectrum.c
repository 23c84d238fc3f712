/* Tests of the spectrum module (fast suite; the n = 50000 and d = 2048 rows
 * of the spec's table are in test_spectrum_slow.c). Every check states its
 * tolerance; references are independent: closed forms, the spec's published
 * numbers, a naive double covariance with LAPACK dsyev, explicit resampling. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "clscale.h"
#include "spectrum_testutil.h"

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k = 0;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/spectrum_test_%d_%s", CLS_BINARY_DIR, (int)getpid(), name);
    return buf[k];
}

/* alpha fit on an exact power law and against an independent centred-moment formula */
static void test_fit(void)
{
    double lam[200];
    for (int k = 1; k <= 200; k++) lam[k - 1] = 3.0 * pow(k, -1.3);
    double total = 0;
    for (int k = 0; k < 200; k++) total += lam[k];
    double a, c, r2;
    unsigned w;
    CHECK_STATUS(cls_spectrum_fit_alpha(lam, 200, total, 4, 100, CLS_SPECTRUM_WEIGHTS_INV, 10000, 1000,
                                        &a, &c, &r2, &w), CLS_OK, "fit exact power law");
    CHECK_CLOSE(a, 1.3, 1e-12, 0, "alpha of an exact power law (atol 1e-12)");
    CHECK_CLOSE(c, log(3.0 / total), 1e-12, 0, "intercept = log(3/total) (atol 1e-12)");
    CHECK_CLOSE(r2, 1.0, 1e-12, 0, "R^2 = 1 (atol 1e-12)");
    CHECK(w == 0, "no warnings on a clean fit, got %#x", w);

    /* noisy spectrum: compare with slope = sum w (x - xb)(y - yb) / sum w (x - xb)^2 */
    cls_rng rng;
    cls_rng_seed(&rng, 5);
    for (int k = 0; k < 200; k++) lam[k] *= exp(0.2 * cls_rng_normal(&rng));
    for (int wt = 0; wt < 2; wt++) {
        double sw = 0, xb = 0, yb = 0;
        for (int k = 11; k <= 150; k++) {
            double ww = wt == 0 ? 1.0 / k : 1.0;
            sw += ww, xb += ww * log(k), yb += ww * log(lam[k - 1] / total);
        }
        xb /= sw, yb /= sw;
        double num = 0, den = 0, ssr = 0, sst = 0, ybu = 0;
        for (int k = 11; k <= 150; k++) {
            double ww = wt == 0 ? 1.0 / k : 1.0, x = log(k) - xb, y = log(lam[k - 1] / total) - yb;
            num += ww * x * y, den += ww * x * x;
            ybu += log(lam[k - 1] / total) / 140.0;
        }
        double slope = num / den, icpt = yb - slope * xb;
        for (int k = 11; k <= 150; k++) {
            double y = log(lam[k - 1] / total), f = icpt + slope * log(k);
            ssr += (y - f) * (y - f), sst += (y - ybu) * (y - ybu);
        }
        CHECK_STATUS(cls_spectrum_fit_alpha(lam, 200, total, 11, 150, (cls_spectrum_weights)wt, 100000,
                                            100000, &a, &c, &r2, &w), CLS_OK, "noisy fit");
        CHECK_CLOSE(a, -slope, 1e-10, 1e-10, "alpha vs centred-moment LS, weights %d (tol 1e-10)", wt);
        CHECK_CLOSE(c, icpt, 1e-10, 1e-10, "intercept vs centred-moment LS (tol 1e-10)");
        CHECK_CLOSE(r2, 1 - ssr / sst, 1e-10, 0, "unweighted R^2 (atol 1e-10)");
    }

    /* warnings: finite n, few ranks, non-positive, low R^2 */
    CHECK_STATUS(cls_spectrum_fit_alpha(lam, 200, total, 4, 100, CLS_SPECTRUM_WEIGHTS_INV, 1000, 300,
                                        &a, &c, &r2, &w), CLS_OK, "finite-n fit");
    CHECK(w & CLS_SPECTRUM_WARN_FINITE_N, "hi=100 > 300/4 flags finite-n bias");
    CHECK_STATUS(cls_spectrum_fit_alpha(lam, 200, total, 4, 8, CLS_SPECTRUM_WEIGHTS_INV, 1e5, 1e5, &a,
                                        &c, &r2, &w), CLS_OK, "short fit");
    CHECK(w & CLS_SPECTRUM_WARN_FEW_RANKS, "5 ranks flags too few ranks");
    double zig[100];
    for (int k = 0; k < 100; k++) zig[k] = (k % 2) ? 1.0 : 100.0;
    zig[50] = 0.0;
    CHECK_STATUS(cls_spectrum_fit_alpha(zig, 100, 5000, 4, 100, CLS_SPECTRUM_WEIGHTS_INV, 1e5, 1e5, &a,
                                        &c, &r2, &w), CLS_OK, "zigzag fit");
    CHECK(w & CLS_SPECTRUM_WARN_LOW_R2, "zigzag spectrum flags R^2 < 0.95 (R^2 = %g)", r2);
    CHECK(w & CLS_SPECTRUM_WARN_NONPOSITIVE, "a zero eigenvalue in range is flagged");
    CHECK_STATUS(cls_spectrum_fit_alpha(lam, 200, total, 4, 300, CLS_SPECTRUM_WEIGHTS_INV, 1e5, 1e5, &a,
                                        &c, &r2, &w), CLS_E_INVALID_ARG, "hi beyond the spectrum");
    CHECK_STATUS(cls_spectrum_fit_alpha(lam, 200, total, 5, 5, CLS_SPECTRUM_WEIGHTS_INV, 1e5, 1e5, &a,
                                        &c, &r2, &w), CLS_E_INVALID_ARG, "empty range");
}

/* RankMe / effective rank on the spec's population spectra (d = 512) */
static void test_population_ranks(void)
{
    const double alphas[4] = {0, 0.5, 1, 2}, want[4] = {512, 491.7, 409.6, 117.2};
    double lam[512];
    for (int a = 0; a < 4; a++) {
        for (int k = 0; k < 512; k++) lam[k] = pow(k + 1, -alphas[a]);
        /* The spec's figures are the eps = 0 entropy (effective rank) on sqrt(l);
         * RankMe's eps = 1e-7 adds at most 0.16 at d = 512. */
        CHECK_CLOSE(cls_spectrum_effective_rank(lam, 512), want[a], 0.05, 0,
                    "effective rank, population alpha %g (atol 0.05, spec rounding)", alphas[a]);
        CHECK_CLOSE(cls_spectrum_rankme(lam, 512), want[a], 0.2, 0,
                    "RankMe, population alpha %g (atol 0.2)", alphas[a]);
    }
    CHECK_CLOSE(cls_spectrum_participation_ratio(10.0, 10.0), 10.0, 1e-15, 0, "PR of identity_10");
}

/* Identity -> d, rank-r projection -> r (RankMe on the uncentred X) */
static void test_rankme_matrices(void)
{
    int64_t d = 64;
    double *x = calloc((size_t)(d * d), sizeof(double));
    for (int64_t i = 0; i < d; i++) x[i * d + i] = 1.0;
    cls_spectrum_options o;
    cls_spectrum_options_init(&o);
    o.fit_lo = 2;
    o.fit_hi = 10;
    o.threads = 1;
    cls_spectrum_result r;
    CHECK_STATUS(cls_spectrum_analyze_f64(x, d, d, &o, &r), CLS_OK, "identity");
    /* p_k = 1/d + 1e-7: RankMe = d exactly up to 1e-7 d log d */
    double p = 1.0 / (double)d + 1e-7;
    CHECK_CLOSE(r.rankme, exp(-(double)d * p * log(p)), 1e-6, 0,
                "RankMe(I_64) = exp(-64 p ln p), p = 1/64 + 1e-7 (= 64.0013; atol 1e-6)");
    cls_spectrum_result_free(&r);

    /* rank-r projection P = Q_r Q_r^T, d = 64, r = 10 */
    int64_t rr = 10;
    double *q = random_rotation(d, 3);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d, (int)d, (int)rr, 1.0, q, (int)d, q,
                (int)d, 0.0, x, (int)d);
    CHECK_STATUS(cls_spectrum_analyze_f64(x, d, d, &o, &r), CLS_OK, "projection");
    /* entropy of r equal p's plus d eps: |RankMe - r| < 1e-3 */
    CHECK_CLOSE(r.rankme, (double)rr, 1e-3, 0, "RankMe(rank-10 projection) = 10 (atol 1e-3)");
    cls_spectrum_result_free(&r);
    free(q);
    free(x);
}

/* Exact path vs the naive double reference: float32 (ssyrk blocks) and
 * float64 (dsyrk), centred and uncentred, with a large mean offset. */
static void test_exact_vs_reference(void)
{
    int64_t n = 3000, d = 200;
    double *x = powerlaw_rows(n, d, 2.0, 11, 1, 50.0); /* steep: l_100 = 1e-4 l_1 */
    float *xf = to_f32(x, n * d);
    double *xr = malloc((size_t)(n * d) * sizeof(double));
    for (int64_t k = 0; k < n * d; k++) xr[k] = xf[k]; /* reference on the same float32 data */
    cls_spectrum_options o;
    cls_spectrum_options_init(&o);
    o.chunk_rows = 700; /* several chunks and a partial one */
    for (int center = 0; center < 2; center++) {
        double *ref = reference_eigs(xr, n, d, center);
        cls_spectrum_eig e32, e64;
        CHECK_STATUS(cls_spectrum_eigenvalues_f32(xf, n, d, center, &o, &e32), CLS_OK, "f32 eig");
        CHECK_STATUS(cls_spectrum_eigenvalues_f64(xr, n, d, center, &o, &e64), CLS_OK, "f64 eig");
        CHECK(e32.count == d && e64.count == d, "d eigenvalues kept (%lld)", (long long)e32.count);
        /* centred: top 100 to 1e-6 relative (the target); uncentred:
         * the mean (50^2 d) dominates, so only the top 20 are resolvable */
        int top = center ? 100 : 20;
        int bad32 = 0, bad64 = 0;
        double worst32 = 0;
        for (int k = 0; k < top; k++) {
            double r32 = fabs(e32.values[k] - ref[k]) / ref[k], r64 = fabs(e64.values[k] - ref[k]) / ref[k];
            if (r32 > worst32) worst32 = r32;
            bad32 += r32 > 1e-6;
            /* uncentred: dsyev/dsyevd are accurate to eps * l1 in absolute terms */
            bad64 += fabs(e64.values[k] - ref[k]) > 1e-9 * ref[k] + 1e-13 * ref[0];
            (void)r64;
        }
        CHECK(bad32 == 0, "float32 path, center %d: top %d within 1e-6 rel (worst %.2e)", center, top, worst32);
        CHECK(bad64 == 0, "float64 path, center %d: top %d within 1e-9 rel + 1e-13 l1", center, top);
        double tr = 0;
        for (int64_t k = 0; k < d; k++) tr += ref[k];
        CHECK_CLOSE(e32.total, tr, 0, 1e-9, "trace (rtol 1e-9)");
        cls_spectrum_eig_free(&e32);
        cls_spectrum_eig_free(&e64);
        free(ref);
    }
    free(x), free(xf), free(xr);
}

/* n < d (Gram) agrees with the d x d covariance reference; drops rank n-1 */
static void test_gram_vs_covariance(void)
{
    int64_t n = 150, d = 400;
    double *x = powerlaw_rows(n, d, 1.0, 21, 1, 3.0);
    cls_spectrum_options o;
    cls_spectrum_options_init(&o);
    for (int center = 0; center < 2; center++) {
        double *ref = reference_eigs(x, n, d, center);
        cls_spectrum_eig e;
        CHECK_STATUS(cls_spectrum_eigenvalues_f64(x, n, d, center, &o, &e), CLS_OK, "gram eig");
        CHECK(e.count == (center ? n - 1 : n), "Gram keeps %s values (got %lld)", center ? "n-1" : "n",
              (long long)e.count);
        int bad = 0;
        for (int64_t k = 0; k < e.count; k++) bad += fabs(e.values[k] - ref[k]) > 1e-9 * ref[0];
        CHECK(bad == 0, "Gram path = covariance path, center %d (atol 1e-9 * l1)", center);
        cls_spectrum_eig_free(&e);
        free(ref);
    }
    free(x);
}

/* Randomized top-100 vs exact on a steep spectrum */
static void test_randomized(void)
{
    int64_t n = 4000, d = 600;
    double *x = powerlaw_rows(n, d, 2.0, 31, 1, 1.0);
    cls_spectrum_options o;
    cls_spectrum_options_init(&o);
    cls_spectrum_eig ex, rz;
    CHECK_STATUS(cls_spectrum_eigenvalues_f64(x, n, d, 1, &o, &ex), CLS_OK, "exact");
    o.method = CLS_SPECTRUM_RANDOMIZED;
    o.rank = 100; /* defaults: oversampling 100, 6 power iterations */
    CHECK_STATUS(cls_spectrum_eigenvalues_f64(x, n, d, 1, &o, &rz), CLS_OK, "randomized");
    CHECK(rz.count == 100 && rz.method == CLS_SPECTRUM_RANDOMIZED, "100 randomized values");
    double worst = 0;
    for (int k = 0; k < 100; k++) {
        double r = fabs(rz.values[k] - ex.values[k]) / ex.values[k];
        if (r > worst) worst = r;
    }
    CHECK(worst < 1e-6, "randomized top-100 within 1e-6 rel of exact on alpha = 2 (worst %.2e)", worst);
    CHECK_CLOSE(rz.total, ex.total, 0, 1e-12, "randomized total variance exact (rtol 1e-12)");
    cls_spectrum_eig_free(&ex);
    cls_spectrum_eig_free(&rz);
    free(x);
}

/* The spec's table, n = 1000 (8 seeds) and 10000 (3 seeds) at d = 512.
 * The mean over seeds must lie within 2 of the spec's sd. Single seeds are
 * held to 4 sd with sd = max(spec, 0.0095): NumPy on 20 seeds at n = 1000
 * gives sd 0.008-0.0095 (the spec's .004-.006 understate the spread). */
static void test_table(void)
{
    const double alphas[3] = {0.5, 1, 2};
    const double want[2][3] = {{0.436, 0.965, 2.006}, {0.489, 0.996, 2.001}};
    const double sd[2][3] = {{0.005, 0.006, 0.004}, {0.002, 0.002, 0.002}};
    const int64_t ns[2] = {1000, 10000};
    for (int row = 0; row < 2; row++) {
        for (int a = 0; a < 3; a++) {
            int seeds = row == 0 ? 8 : 3;
            double mean = 0, sd1 = sd[row][a] > 0.0095 ? sd[row][a] : 0.0095;
            for (int s = 0; s < seeds; s++) {
                double *x = powerlaw_rows(ns[row], 512, alphas[a], 100 + s, s == 1, 0.0);
                float *xf = to_f32(x, ns[row] * 512);
                cls_spectrum_result r;
                CHECK_STATUS(cls_spectrum_analyze_f32(xf, ns[row], 512, NULL, &r), CLS_OK, "table");
                mean += r.alpha / seeds;
                CHECK_CLOSE(r.alpha, want[row][a], 4 * sd1, 0,
                            "n=%lld alpha=%g seed %d: single seed within 4 sd", (long long)ns[row], alphas[a], s);
                cls_spectrum_result_free(&r);
                free(x), free(xf);
            }
            CHECK_CLOSE(mean, want[row][a], 2 * sd[row][a], 0, "n=%lld d=512 alpha=%g: mean over seeds within 2 sd",
                        (long long)ns[row], alphas[a]);
        }
    }
}

/* White noise: n = 1000, d = 1024, ranks 11..100 -> 0.144 (Marchenko-Pastur) */
static void test_white_noise(void)
{
    cls_spectrum_options o;
    cls_spectrum_options_init(&o);
    o.fit_lo = 11;
    o.fit_hi = 100;
    for (int s = 0; s < 3; s++) {
        double *x = powerlaw_rows(1000, 1024, 0.0, 200 + s, 0, 0.0);
        cls_spectrum_result r;
        CHECK_STATUS(cls_spectrum_analyze_f64(x, 1000, 1024, &o, &r), CLS_OK, "white noise");
        CHECK_CLOSE(r.alpha, 0.144, 0.01, 0, "white noise alpha seed %d (atol 0.01)", s);
        CHECK(r.warnings & CLS_SPECTRUM_WARN_LOW_R2 || r.r2 >= 0.95, "R^2 flag consistent");
        cls_spectrum_result_free(&r);
        free(x);
    }
}

/* Bootstrap CI = percentiles of alphas of explicitly resampled matrices */
static void test_bootstrap(void)
{
    for (int path = 0; path < 2; path++) {
        int64_t n = path ? 120 : 800, d = path ? 300 : 150; /* path 1: Gram */
        double *x = powerlaw_rows(n, d, 1.0, 41, 1, 2.0);
        cls_spectrum_options o;
        cls_spectrum_options_init(&o);
        o.fit_lo = 2;
        o.fit_hi = 25;
        o.bootstrap = 20;
        o.seed = 9;
        cls_spectrum_result r;
        CHECK_STATUS(cls_spectrum_analyze_f64(x, n, d, &o, &r), CLS_OK, "bootstrap");
        double alphas[20];
        double *xb = malloc((size_t)(n * d) * sizeof(double));
        int32_t *cnt = calloc((size_t)n, sizeof(int32_t));
        cls_spectrum_options ob = o;
        ob.bootstrap = 0;
        for (int b = 0; b < 20; b++) {
            cls_rng rng;
            cls_rng_seed_stream(&rng, 9, 1000u + (uint64_t)b);
            memset(cnt, 0, (size_t)n * sizeof(int32_t));
            for (int64_t i = 0; i < n; i++) cnt[cls_rng_below(&rng, (uint64_t)n)]++;
            int64_t row = 0;
            for (int64_t i = 0; i < n; i++)
                for (int c = 0; c < cnt[i]; c++, row++) memcpy(xb + row * d, x + i * d, (size_t)d * sizeof(double));
            cls_spectrum_result rb;
            CHECK_STATUS(cls_spectrum_analyze_f64(xb, n, d, &ob, &rb), CLS_OK, "replicate");
            alphas[b] = rb.alpha;
            cls_spectrum_result_free(&rb);
        }
        qsort(alphas, 20, sizeof(double), cmp_desc);
        /* descending order: 2.5% is near the end; numpy linear interpolation */
        double lo = alphas[19] + 0.475 * (alphas[18] - alphas[19]);
        double hi = alphas[1] + 0.525 * (alphas[0] - alphas[1]);
        CHECK(r.bootstrap == 20, "20 replicates used (%lld)", (long long)r.bootstrap);
        CHECK_CLOSE(r.alpha_ci95[0], lo, 1e-9, 1e-9, "CI low = resampled 2.5%% (path %d, tol 1e-9)", path);
        CHECK_CLOSE(r.alpha_ci95[1], hi, 1e-9, 1e-9, "CI high = resampled 97.5%% (path %d, tol 1e-9)", path);
        cls_spectrum_result_free(&r);
        free(xb), free(cnt), free(x);
    }
}

/* Streaming from a file in small chunks equals the in-memory result */
static void test_streaming_and_bad_input(void)
{
    int64_t n = 500, d = 40;
    double *x = powerlaw_rows(n, d, 1.0, 51, 1, 1.0);
    float *xf = to_f32(x, n * d);
    const char *p = tmp_path("x.npy");
    CHECK_STATUS(cls_npy_save_matrix_f32(p, xf, n, d), CLS_OK, "save");
    cls_spectrum_options o;
    cls_spectrum_options_init(&o);
    o.fit_lo = 2;
    o.fit_hi = 10;
    o.chunk_rows = 7;
    cls_spectrum_result a, b;
    CHECK_STATUS(cls_spectrum_analyze_npy(p, &o, &a), CLS_OK, "file");
    CHECK_STATUS(cls_spectrum_analyze_f32(xf, n, d, &o, &b), CLS_OK, "memory");
    CHECK_CLOSE(a.alpha, b.alpha, 1e-13, 1e-13, "streamed = in-memory alpha, same chunks (tol 1e-13)");
    CHECK_CLOSE(a.rankme, b.rankme, 1e-13, 1e-13, "streamed = in-memory RankMe (tol 1e-13)");
    cls_spectrum_result_free(&b);
    o.chunk_rows = 0; /* other chunking: float32 blocks round differently */
    CHECK_STATUS(cls_spectrum_analyze_f32(xf, n, d, &o, &b), CLS_OK, "memory");
    CHECK_CLOSE(a.alpha, b.alpha, 0, 1e-7, "7-row vs one-chunk alpha (rtol 1e-7)");
    cls_spectrum_result_free(&a);
    cls_spectrum_result_free(&b);

    /* NaN: in memory and in a file, named by row and column */
    double saved = x[17 * d + 3];
    x[17 * d + 3] = NAN;
    CHECK_STATUS(cls_spectrum_analyze_f64(x, n, d, &o, &a), CLS_E_NONFINITE, "NaN in memory");
    CHECK(strstr(cls_last_error(), "X[17][3]") != NULL, "message names X[17][3]: %s", cls_last_error());
    CHECK_STATUS(cls_npy_save_matrix_f64(p, x, n, d), CLS_OK, "save NaN");
    CHECK_STATUS(cls_spectrum_analyze_npy(p, &o, &a), CLS_E_NONFINITE, "NaN in a file");
    CHECK(strstr(cls_last_error(), "row 17 column 3") != NULL, "message names row 17 column 3: %s",
          cls_last_error());
    x[17 * d + 3] = saved;

    /* constant column: a warning, not garbage */
    for (int64_t i = 0; i < n; i++) x[i * d + 5] = 2.5;
    CHECK_STATUS(cls_spectrum_analyze_f64(x, n, d, &o, &a), CLS_OK, "constant column");
    CHECK(a.warnings & CLS_SPECTRUM_WARN_ZERO_VARIANCE, "constant column flagged");
    CHECK(a.eig.first_zero_variance_column == 5, "first constant column is 5 (%lld)",
          (long long)a.eig.first_zero_variance_column);
    CHECK(isfinite(a.alpha), "alpha still finite");
    cls_spectrum_result_free(&a);

    /* n <= HI: clamped with a warning; too few rows for LO: error */
    o.fit_lo = 4;
    o.fit_hi = 100;
    CHECK_STATUS(cls_spectrum_analyze_f64(x, 60, d, &o, &a), CLS_OK, "n=60 d=40 hi=100");
    CHECK(a.warnings & CLS_SPECTRUM_WARN_CLAMPED, "hi clamped");
    CHECK(a.fit_hi == 40, "clamped to d = 40 (%lld)", (long long)a.fit_hi);
    cls_spectrum_result_free(&a);
    CHECK_STATUS(cls_spectrum_analyze_f64(x, 4, d, &o, &a), CLS_E_INVALID_ARG, "n=4 < LO+1");
    CHECK_STATUS(cls_spectrum_analyze_f64(x, 1, d, &o, &a), CLS_E_SHAPE, "one row");

    /* corrupt files */
    FILE *f = fopen(p, "wb");
    fputs("this is not a numpy file at all", f);
    fclose(f);
    CHECK_STATUS(cls_spectrum_analyze_npy(p, &o, &a), CLS_E_FORMAT, "garbage file");
    CHECK_STATUS(cls_npy_save_matrix_f32(p, xf, n, d), CLS_OK, "save");
    CHECK(truncate(p, 128 + 4 * n * d / 2) == 0, "truncate");
    CHECK_STATUS(cls_spectrum_analyze_npy(p, &o, &a), CLS_E_FORMAT, "truncated file");
    CHECK(strstr(cls_last_error(), "truncated") != NULL, "says truncated: %s", cls_last_error());
    CHECK_STATUS(cls_spectrum_analyze_npy(tmp_path("missing.npy"), &o, &a), CLS_E_IO, "missing file");
    int64_t shape1[1] = {10};
    CHECK_STATUS(cls_npy_save(p, CLS_DTYPE_F64, 1, shape1, x), CLS_OK, "save 1-D");
    CHECK_STATUS(cls_spectrum_analyze_npy(p, &o, &a), CLS_E_SHAPE, "1-D array");
    o.fit_lo = 0;
    CHECK_STATUS(cls_spectrum_analyze_f64(x, n, d, &o, &a), CLS_E_INVALID_ARG, "LO = 0");
    unlink(p);
    free(x), free(xf);
}

int main(void)
{
    test_fit();
    test_population_ranks();
    test_rankme_matrices();
    test_exact_vs_reference();
    test_gram_vs_covariance();
    test_randomized();
    test_bootstrap();
    test_streaming_and_bad_input();
    test_white_noise();
    test_table();
    return check_summary("test_spectrum");
}
