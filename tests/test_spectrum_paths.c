/* The fast exact path of the spectrum (issue 11): one tridiagonalisation for
 * the centred and the uncentred spectrum, float32 rows read without
 * conversion, and the two ways of forming the float32 Gram blocks (OpenBLAS
 * ssyrk, GEMM-layer tiles). References are independent: LAPACK dsyev (the QR
 * algorithm) on matrices built with naive double loops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "clscale.h"
#include "spectrum/spectrum_internal.h"
#include "spectrum_testutil.h"

/* dsyev eigenvalues, descending, of a full symmetric row-major matrix (copied) */
static double *dsyev_desc(const double *a, int64_t k)
{
    double *c = malloc((size_t)(k * k) * sizeof(double));
    double *w = malloc((size_t)k * sizeof(double));
    memcpy(c, a, (size_t)(k * k) * sizeof(double));
    LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'L', (int)k, c, (int)k, w);
    qsort(w, (size_t)k, sizeof(double), cmp_desc);
    free(c);
    return w;
}

/* spec_sym_eig_pair: centred values, the uncentred beta A + mu mu^T from the
 * same reduction, its trace and Frobenius norm, and the top-K vectors. */
static void test_eig_pair(void)
{
    const int64_t k = 120, K = 10;
    const double beta = 0.999;
    cls_rng rng;
    cls_rng_seed(&rng, 7);
    double *g = malloc((size_t)(2 * k * k) * sizeof(double));
    cls_rng_fill_normal_f64(&rng, g, 2 * k * k);
    for (int64_t j = 0; j < k; j++) /* a decaying spectrum */
        for (int64_t i = 0; i < 2 * k; i++) g[i * k + j] *= pow((double)(j + 1), -0.5);
    double *A = calloc((size_t)(k * k), sizeof(double));
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < k; j++) {
            double s = 0;
            for (int64_t r = 0; r < 2 * k; r++) s += g[r * k + i] * g[r * k + j];
            A[i * k + j] = s / (double)(2 * k);
        }
    double *mu = malloc((size_t)k * sizeof(double));
    for (int scale_i = 0; scale_i < 3; scale_i++) {
        double scale = scale_i == 0 ? 0.0 : scale_i == 1 ? 0.3 : 40.0; /* none, small, dominant mean */
        for (int64_t j = 0; j < k; j++) mu[j] = scale * (1.0 + 0.01 * (double)j) * (j % 3 == 0 ? -1 : 1);
        double *M = malloc((size_t)(k * k) * sizeof(double));
        for (int64_t i = 0; i < k; i++)
            for (int64_t j = 0; j < k; j++) M[i * k + j] = beta * A[i * k + j] + mu[i] * mu[j];
        double *refc = dsyev_desc(A, k), *refu = dsyev_desc(M, k);
        double *a = malloc((size_t)(k * k) * sizeof(double));
        memcpy(a, A, (size_t)(k * k) * sizeof(double));
        double *wc = malloc((size_t)k * sizeof(double)), *wu = malloc((size_t)k * sizeof(double));
        double *zt = malloc((size_t)(K * k) * sizeof(double));
        double utr = 0, ufro = 0;
        CHECK_STATUS(spec_sym_eig_pair(a, k, wc, K, zt, mu, beta, wu, &utr, &ufro), CLS_OK, "eig pair");
        int badc = 0, badu = 0;
        for (int64_t i = 0; i < k; i++) {
            badc += fabs(wc[i] - refc[i]) > 1e-13 * refc[0];
            badu += fabs(wu[i] - refu[i]) > 1e-13 * refu[0];
        }
        CHECK(badc == 0, "|mu| scale %g: centred values = dsyev (atol 1e-13 l1)", scale);
        CHECK(badu == 0, "|mu| scale %g: uncentred values = dsyev of beta A + mu mu^T (atol 1e-13 l1)", scale);
        double tr = 0, fro = 0;
        for (int64_t i = 0; i < k * k; i++) fro += M[i] * M[i];
        for (int64_t i = 0; i < k; i++) tr += M[i * k + i];
        CHECK_CLOSE(utr, tr, 0, 1e-12, "uncentred trace (rtol 1e-12)");
        CHECK_CLOSE(ufro, fro, 0, 1e-12, "uncentred squared Frobenius norm (rtol 1e-12)");
        /* vectors: row j of zt belongs to the (K - j)-th largest value */
        double worst = 0, worst_norm = 0;
        for (int64_t j = 0; j < K; j++) {
            const double *z = zt + j * k;
            double lam = wc[K - 1 - j], nz = 0;
            for (int64_t r = 0; r < k; r++) {
                double az = 0;
                for (int64_t c = 0; c < k; c++) az += A[r * k + c] * z[c];
                double res = fabs(az - lam * z[r]);
                if (res > worst) worst = res;
                nz += z[r] * z[r];
            }
            if (fabs(nz - 1) > worst_norm) worst_norm = fabs(nz - 1);
        }
        CHECK(worst <= 1e-12 * refc[0], "top-%lld vectors: |A z - l z| <= 1e-12 l1 (worst %.2e)", (long long)K,
              worst);
        CHECK(worst_norm <= 1e-12, "top vectors have unit norm (worst |1 - |z|^2| %.2e)", worst_norm);
        free(M), free(refc), free(refu), free(a), free(wc), free(wu), free(zt);
    }
    free(g), free(A), free(mu);
}

/* float32 rows, both Gram modes: the refined top 100 against a double
 * reference on the same float32 values, RankMe (from the uncentred
 * spectrum of the shared reduction) and the effective rank likewise. */
static void test_f32_paths(void)
{
    const int64_t n = 4000, d = 256;
    double *x = powerlaw_rows(n, d, 1.0, 31, 1, 5.0);
    float *xf = to_f32(x, n * d);
    double *xr = malloc((size_t)(n * d) * sizeof(double));
    for (int64_t i = 0; i < n * d; i++) xr[i] = xf[i];
    double *refc = reference_eigs(xr, n, d, 1), *refu = reference_eigs(xr, n, d, 0);
    double rankme_ref = cls_spectrum_rankme(refu, d), erank_ref = cls_spectrum_effective_rank(refc, d);
    const char *modes[2] = {"blas", "gemm"};
    double alpha[2] = {0, 0};
    for (int mi = 0; mi < 2; mi++) {
        setenv("CLS_SPECTRUM_SYRK", modes[mi], 1);
        cls_spectrum_options o;
        cls_spectrum_options_init(&o);
        o.chunk_rows = 1500; /* chunks of 1500, 1500 and 1000 rows */
        o.threads = 2;
        cls_spectrum_result r;
        CHECK_STATUS(cls_spectrum_analyze_f32(xf, n, d, &o, &r), CLS_OK, "analyze f32 (%s)", modes[mi]);
        double worst = 0;
        for (int64_t i = 0; i < 100; i++) {
            double e = fabs(r.eig.values[i] - refc[i]) / refc[i];
            if (e > worst) worst = e;
        }
        CHECK(worst <= 1e-11, "%s: refined top 100 within 1e-11 relative of the double reference (worst %.2e)",
              modes[mi], worst);
        /* RankMe's tail sigma_k = sqrt(l_k) carry the float32 blocks' absolute
         * error (~1e-9 l1 of the centred part): 1e-6 against the reference;
         * against a separate reduction of the same float-built uncentred
         * matrix (cls_spectrum_eigenvalues_f32, center 0) only the double
         * rounding of the two reductions differs */
        CHECK_CLOSE(r.rankme, rankme_ref, 0, 1e-6, "%s: RankMe vs double reference (rtol 1e-6)", modes[mi]);
        cls_spectrum_eig eu;
        CHECK_STATUS(cls_spectrum_eigenvalues_f32(xf, n, d, 0, &o, &eu), CLS_OK, "uncentred alone");
        CHECK_CLOSE(r.rankme, cls_spectrum_rankme(eu.values, eu.count), 0, 1e-11,
                    "%s: RankMe from the shared reduction = from a separate one (rtol 1e-11)", modes[mi]);
        cls_spectrum_eig_free(&eu);
        CHECK_CLOSE(r.effective_rank, erank_ref, 0, 1e-8, "%s: effective rank (rtol 1e-8)", modes[mi]);
        alpha[mi] = r.alpha;
        cls_spectrum_result_free(&r);
    }
    unsetenv("CLS_SPECTRUM_SYRK");
    /* float64 rows (no float32 blocks): RankMe of the shared reduction
     * against the double reference, sharply */
    cls_spectrum_options o;
    cls_spectrum_options_init(&o);
    cls_spectrum_result r;
    CHECK_STATUS(cls_spectrum_analyze_f64(xr, n, d, &o, &r), CLS_OK, "analyze f64");
    CHECK_CLOSE(r.rankme, rankme_ref, 0, 1e-10, "f64: RankMe from the shared reduction (rtol 1e-10)");
    CHECK_CLOSE(r.effective_rank, erank_ref, 0, 1e-10, "f64: effective rank (rtol 1e-10)");
    cls_spectrum_result_free(&r);
    CHECK_CLOSE(alpha[0], alpha[1], 0, 1e-10, "alpha: ssyrk and GEMM tiles agree (rtol 1e-10)");
    free(x), free(xf), free(xr), free(refc), free(refu);
}

/* Every eigenvalue and metric of two results, bit for bit. */
static int same_bits(const cls_spectrum_result *a, const cls_spectrum_result *b)
{
    return a->eig.count == b->eig.count &&
           !memcmp(a->eig.values, b->eig.values, (size_t)a->eig.count * sizeof(double)) &&
           a->alpha == b->alpha && a->rankme == b->rankme && a->effective_rank == b->effective_rank &&
           a->participation_ratio == b->participation_ratio && a->eig.total == b->eig.total;
}

/* A float32 .npy file read as float32: a NaN is named by row and column,
 * and the result equals the in-memory float32 path bit for bit, whether the
 * file is mapped (the default) or streamed (CLS_SPECTRUM_MAP=0). */
static void test_f32_file(void)
{
    const int64_t n = 900, d = 64;
    double *x = powerlaw_rows(n, d, 1.0, 41, 1, 2.0);
    float *xf = to_f32(x, n * d);
    char path[512];
    snprintf(path, sizeof path, "%s/spectrum_paths_%d.npy", CLS_BINARY_DIR, (int)getpid());
    CHECK_STATUS(cls_npy_save_matrix_f32(path, xf, n, d), CLS_OK, "save");
    cls_spectrum_options o;
    cls_spectrum_options_init(&o);
    o.fit_hi = 30;
    o.chunk_rows = 200;
    cls_spectrum_result a, b, c;
    CHECK_STATUS(cls_spectrum_analyze_npy(path, &o, &a), CLS_OK, "file");
    CHECK_STATUS(cls_spectrum_analyze_f32(xf, n, d, &o, &b), CLS_OK, "memory");
    setenv("CLS_SPECTRUM_MAP", "0", 1);
    CHECK_STATUS(cls_spectrum_analyze_npy(path, &o, &c), CLS_OK, "file, streamed");
    unsetenv("CLS_SPECTRUM_MAP");
    CHECK(a.alpha == b.alpha && a.rankme == b.rankme, "file = memory, same bits (alpha %.17g vs %.17g)", a.alpha,
          b.alpha);
    CHECK(same_bits(&a, &b), "mapped file = memory: every eigenvalue and metric, same bits");
    CHECK(same_bits(&a, &c), "mapped file = streamed file: every eigenvalue and metric, same bits");
    cls_spectrum_result_free(&a);
    cls_spectrum_result_free(&b);
    cls_spectrum_result_free(&c);
    /* float64 files: mapped = streamed = memory too */
    CHECK_STATUS(cls_npy_save_matrix_f64(path, x, n, d), CLS_OK, "save f64");
    CHECK_STATUS(cls_spectrum_analyze_npy(path, &o, &a), CLS_OK, "f64 file");
    CHECK_STATUS(cls_spectrum_analyze_f64(x, n, d, &o, &b), CLS_OK, "f64 memory");
    setenv("CLS_SPECTRUM_MAP", "0", 1);
    CHECK_STATUS(cls_spectrum_analyze_npy(path, &o, &c), CLS_OK, "f64 file, streamed");
    unsetenv("CLS_SPECTRUM_MAP");
    CHECK(same_bits(&a, &b) && same_bits(&a, &c), "float64: mapped file = memory = streamed, same bits");
    cls_spectrum_result_free(&a);
    cls_spectrum_result_free(&b);
    cls_spectrum_result_free(&c);
    /* NaN/Inf in the first chunk and in a later one, mapped and streamed */
    xf[613 * d + 9] = NAN;
    CHECK_STATUS(cls_npy_save_matrix_f32(path, xf, n, d), CLS_OK, "save NaN");
    CHECK_STATUS(cls_spectrum_analyze_npy(path, &o, &a), CLS_E_NONFINITE, "NaN in a float32 file");
    CHECK(strstr(cls_last_error(), "row 613 column 9 is NaN") != NULL, "message names row 613 column 9: %s",
          cls_last_error());
    setenv("CLS_SPECTRUM_MAP", "0", 1);
    CHECK_STATUS(cls_spectrum_analyze_npy(path, &o, &a), CLS_E_NONFINITE, "NaN in a float32 file, streamed");
    CHECK(strstr(cls_last_error(), "row 613 column 9 is NaN") != NULL, "streamed: names row 613 column 9: %s",
          cls_last_error());
    unsetenv("CLS_SPECTRUM_MAP");
    xf[613 * d + 9] = 0.5f;
    xf[17 * d + 63] = -INFINITY;
    CHECK_STATUS(cls_npy_save_matrix_f32(path, xf, n, d), CLS_OK, "save -Inf");
    CHECK_STATUS(cls_spectrum_analyze_npy(path, &o, &a), CLS_E_NONFINITE, "-Inf in the first chunk");
    CHECK(strstr(cls_last_error(), "row 17 column 63 is Inf") != NULL, "message names row 17 column 63: %s",
          cls_last_error());
    xf[17 * d + 63] = 0.5f;
    xf[613 * d + 9] = NAN;
    CHECK_STATUS(cls_spectrum_analyze_f32(xf, n, d, &o, &a), CLS_E_NONFINITE, "NaN in memory");
    CHECK(strstr(cls_last_error(), "X[613][9]") != NULL, "message names X[613][9]: %s", cls_last_error());
    unlink(path);
    free(x), free(xf);
}

int main(void)
{
    test_eig_pair();
    test_f32_paths();
    test_f32_file();
    return check_summary("test_spectrum_paths");
}
