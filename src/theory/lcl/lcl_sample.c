/* Datasets in sketch space. The N sketched pairs v_n = [Sx_n; Sx'_n] are
 * i.i.d. N(0, Sigma_S) with Sigma_S = [[G1, C_S], [C_S, G2]] = F F^T, so the
 * moment matrix N Sigma^ is Wishart(Sigma_S, N): drawn exactly in O(M^3) by
 * the Bartlett decomposition (needs N >= 2M), or from N explicit vectors
 * (O(N M^2)), or literally from pairs in R^d (O(N d M), the independent
 * reference used by the tests). */
#include "lcl_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* Gamma(shape, 1) by Marsaglia-Tsang; shape < 1 through the U^(1/shape) boost. */
static double gamma_draw(cls_rng *rng, double shape)
{
    if (shape < 1.0) {
        double u = cls_rng_uniform(rng);
        return gamma_draw(rng, shape + 1.0) * pow(u, 1.0 / shape);
    }
    const double dd = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * dd);
    for (;;) {
        double x = cls_rng_normal(rng), v = 1.0 + c * x;
        if (v <= 0.0) continue;
        v = v * v * v;
        double u = cls_rng_uniform(rng);
        if (u < 1.0 - 0.0331 * x * x * x * x) return dd * v;
        if (log(u) < 0.5 * x * x + dd * (1.0 - v + log(v))) return dd * v;
    }
}

static double chi2_draw(cls_rng *rng, double dof) { return 2.0 * gamma_draw(rng, 0.5 * dof); }

/* Split the 2M x 2M moment matrix into its blocks. */
static void split_moments(int64_t M, const double *Sig, double scale, double *G1h, double *G2h,
                          double *Ch)
{
    const int64_t p = 2 * M;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < M; j++) {
            if (G1h) G1h[i * M + j] = scale * Sig[(i <= j ? i * p + j : j * p + i)];
            if (G2h) {
                int64_t a = i + M, b = j + M;
                G2h[i * M + j] = scale * Sig[(a <= b ? a * p + b : b * p + a)];
            }
            Ch[i * M + j] = scale * Sig[i * p + j + M]; /* i < j + M: upper triangle */
        }
}

static cls_status wishart(const cls_lcl_model *m, int64_t N, cls_rng *rng, double *Sig)
{
    const int64_t p = 2 * m->M;
    double *A = cls_calloc((size_t)p * (size_t)p, sizeof(double), "Bartlett factor");
    if (!A) return CLS_E_NOMEM;
    for (int64_t i = 0; i < p; i++) {
        for (int64_t j = 0; j < i; j++) A[i * p + j] = cls_rng_normal(rng);
        A[i * p + i] = sqrt(chi2_draw(rng, (double)(N - i)));
    }
    /* B = F A (both lower triangular), then Sig = B B^T (upper triangle). */
    cblas_dtrmm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (int)p, (int)p, 1.0,
                m->F, (int)p, A, (int)p);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)p, (int)p, 1.0, A, (int)p, 0.0, Sig, (int)p);
    cls_free(A);
    return CLS_OK;
}

#define LCL_CHUNK 2048

/* Rows v_n = F z_n for a chunk of n rows into Vc (n x 2M). */
static void explicit_rows(const cls_lcl_model *m, int64_t n, cls_rng *rng, double *Z, double *Vc)
{
    const int64_t p = 2 * m->M;
    cls_rng_fill_normal_f64(rng, Z, n * p);
    /* Vc = Z F^T */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)p, (int)p, 1.0, Z, (int)p, m->F,
                (int)p, 0.0, Vc, (int)p);
}

/* Rows [Sx_n; Sx'_n] from pairs drawn in R^d. */
static void full_rows(const cls_lcl_model *m, int64_t n, cls_rng *rng, double *X, double *Xp,
                      double *Vc)
{
    const int64_t d = m->d, M = m->M, p = 2 * M;
    for (int64_t r = 0; r < n; r++) {
        double *x = X + r * d, *xp = Xp + r * d;
        for (int64_t i = 0; i < d; i++) {
            double z = cls_rng_normal(rng), xi = cls_rng_normal(rng), rho = m->corr[i];
            x[i] = sqrt(m->lam1[i]) * z;
            xp[i] = sqrt(m->lam2[i]) * (rho * z + sqrt(1.0 - rho * rho) * xi);
        }
    }
    /* u = S x: Vc[:, :M] = X S^T, Vc[:, M:] = Xp S^T */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)M, (int)d, 1.0, X, (int)d, m->S,
                (int)d, 0.0, Vc, (int)p);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)M, (int)d, 1.0, Xp, (int)d, m->S,
                (int)d, 0.0, Vc + M, (int)p);
}

/* Accumulate Sig += Vc^T Vc (upper) over chunks, or hand rows to U/V. */
static cls_status draw_rows(const cls_lcl_model *m, int64_t N, int full, cls_rng *rng, double *Sig,
                            double *U, double *V)
{
    const int64_t M = m->M, p = 2 * M, d = m->d;
    const int64_t chunk = N < LCL_CHUNK ? N : LCL_CHUNK;
    double *Vc = cls_alloc((size_t)chunk * (size_t)p * sizeof(double), "sketched pairs");
    double *Z = NULL, *X = NULL, *Xp = NULL;
    if (full) {
        X = cls_alloc((size_t)chunk * (size_t)d * sizeof(double), "pairs in R^d");
        Xp = cls_alloc((size_t)chunk * (size_t)d * sizeof(double), "pairs in R^d");
    } else {
        Z = cls_alloc((size_t)chunk * (size_t)p * sizeof(double), "normals");
    }
    if (!Vc || (full ? (!X || !Xp) : !Z)) {
        cls_free(Vc);
        cls_free(Z);
        cls_free(X);
        cls_free(Xp);
        return CLS_E_NOMEM;
    }
    if (Sig) memset(Sig, 0, (size_t)p * (size_t)p * sizeof(double));
    for (int64_t start = 0; start < N; start += chunk) {
        int64_t n = N - start < chunk ? N - start : chunk;
        if (full)
            full_rows(m, n, rng, X, Xp, Vc);
        else
            explicit_rows(m, n, rng, Z, Vc);
        if (Sig)
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)p, (int)n, 1.0, Vc, (int)p, 1.0, Sig, (int)p);
        if (U)
            for (int64_t r = 0; r < n; r++) {
                memcpy(U + (start + r) * M, Vc + r * p, (size_t)M * sizeof(double));
                memcpy(V + (start + r) * M, Vc + r * p + M, (size_t)M * sizeof(double));
            }
    }
    cls_free(Vc);
    cls_free(Z);
    cls_free(X);
    cls_free(Xp);
    return CLS_OK;
}

cls_status cls_lcl_sample_moments(const cls_lcl_model *m, int64_t N, cls_lcl_sampler sampler,
                                  cls_rng *rng, double *G1h, double *G2h, double *Ch,
                                  cls_lcl_sampler *used)
{
    if (!m || !rng || !Ch) return cls_set_error(CLS_E_INVALID_ARG, "lcl_sample_moments: NULL argument");
    if (N < 1) return cls_set_error(CLS_E_INVALID_ARG, "lcl: sample count N = %lld must be >= 1", (long long)N);
    const int64_t M = m->M, p = 2 * M;
    if (sampler == CLS_LCL_SAMPLER_AUTO)
        sampler = N >= p ? CLS_LCL_SAMPLER_WISHART : CLS_LCL_SAMPLER_EXPLICIT;
    if (sampler == CLS_LCL_SAMPLER_WISHART && N < p)
        return cls_set_error(CLS_E_INVALID_ARG, "lcl: Wishart sampling needs N >= 2M = %lld (got N = %lld); use explicit samples",
                             (long long)p, (long long)N);
    if (sampler < CLS_LCL_SAMPLER_AUTO || sampler > CLS_LCL_SAMPLER_FULL)
        return cls_set_error(CLS_E_INVALID_ARG, "lcl: unknown sampler %d", (int)sampler);
    double *Sig = cls_alloc((size_t)p * (size_t)p * sizeof(double), "moment matrix");
    if (!Sig) return CLS_E_NOMEM;
    cls_status st;
    if (sampler == CLS_LCL_SAMPLER_WISHART)
        st = wishart(m, N, rng, Sig);
    else
        st = draw_rows(m, N, sampler == CLS_LCL_SAMPLER_FULL, rng, Sig, NULL, NULL);
    if (st == CLS_OK) {
        split_moments(M, Sig, 1.0 / (double)N, G1h, G2h, Ch);
        if (used) *used = sampler;
    }
    cls_free(Sig);
    return st;
}

cls_status cls_lcl_sample_pairs(const cls_lcl_model *m, int64_t N, cls_rng *rng, double *U, double *V)
{
    if (!m || !rng || !U || !V) return cls_set_error(CLS_E_INVALID_ARG, "lcl_sample_pairs: NULL argument");
    if (N < 1) return cls_set_error(CLS_E_INVALID_ARG, "lcl: sample count N = %lld must be >= 1", (long long)N);
    return draw_rows(m, N, 0, rng, NULL, U, V);
}
