/* The lcl data model and one sketch: spectra, G = S H S^T, C_S = S C S^T,
 * their eigendecompositions, the sketched optimum and the sampling factor.
 * Everything here is computed once per sketch; every other quantity of the
 * simulator is then O(M^2) or O(M^3), independent of d, N and the steps. */
#include "lcl_internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void cls_lcl_data_init(cls_lcl_data *data)
{
    if (!data) return; /* NULL is a no-op, like every _init */
    data->d = 4000;
    data->a = 1.5;
    data->a2 = 0.0;
    data->b = 2.0;
    data->rho0 = 0.9;
}

cls_status cls_lcl_data_check(const cls_lcl_data *data)
{
    if (!data) return cls_set_error(CLS_E_INVALID_ARG, "lcl: data parameters are NULL");
    if (data->d < 1) return cls_set_error(CLS_E_INVALID_ARG, "lcl: d = %lld must be >= 1", (long long)data->d);
    if (!(data->a > 1.0) || !isfinite(data->a))
        return cls_set_error(CLS_E_INVALID_ARG, "lcl: spectrum exponent a = %g must be > 1 (lambda_i = i^-a must be summable)", data->a);
    if (data->a2 != 0.0 && (!(data->a2 > 1.0) || !isfinite(data->a2)))
        return cls_set_error(CLS_E_INVALID_ARG, "lcl: view-2 exponent a2 = %g must be > 1 (or 0 for symmetric views)", data->a2);
    if (!(data->b > 1.0) || !isfinite(data->b))
        return cls_set_error(CLS_E_INVALID_ARG, "lcl: correlation exponent b = %g must be > 1", data->b);
    if (!(data->rho0 > 0.0 && data->rho0 < 1.0))
        return cls_set_error(CLS_E_INVALID_ARG, "lcl: rho0 = %g must lie in (0, 1)", data->rho0);
    return CLS_OK;
}

double cls_lcl_r_star(const cls_lcl_data *data)
{
    double s = 0.0;
    for (int64_t i = data->d; i >= 1; i--) { /* small terms first */
        double r = data->rho0 * pow((double)i, -data->b / 2.0);
        s += r * r;
    }
    return -0.5 * s;
}

void cls_lcl_warn(cls_lcl_result *r, const char *fmt, ...)
{
    if (!r || r->nwarnings >= CLS_LCL_MAX_WARNINGS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->warnings[r->nwarnings], sizeof r->warnings[0], fmt, ap);
    va_end(ap);
    r->nwarnings++;
}

void cls_lcl_mm(int64_t n, int ta, const double *A, int tb, const double *B, double *C)
{
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)n, (int)n, (int)n, 1.0, A, (int)n, B, (int)n, 0.0, C, (int)n);
}

cls_status cls_lcl_eig(int64_t n, const double *A, double *Q, double *w)
{
    memcpy(Q, A, (size_t)n * (size_t)n * sizeof *Q);
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)n, Q, (lapack_int)n, w);
    if (info != 0)
        return cls_set_error(CLS_E_NUMERIC, "lcl: eigendecomposition of a %lld x %lld matrix failed (dsyevd info %d)",
                             (long long)n, (long long)n, (int)info);
    return CLS_OK;
}

void cls_lcl_model_free(cls_lcl_model *m)
{
    if (!m) return;
    cls_free(m->lam1);
    if (m->lam2 != m->lam1) cls_free(m->lam2);
    cls_free(m->corr);
    cls_free(m->S);
    cls_free(m->G1);
    if (m->G2 != m->G1) cls_free(m->G2);
    cls_free(m->CS);
    cls_free(m->Q1);
    cls_free(m->L1);
    if (m->Q2 != m->Q1) cls_free(m->Q2);
    if (m->L2 != m->L1) cls_free(m->L2);
    cls_free(m->Ct);
    cls_free(m->Wstar);
    cls_free(m->F);
    cls_free(m);
}

/* G = S diag(w) S^T (w >= 0) as one syrk on S diag(sqrt w). */
static cls_status sketch_moment(const double *S, int64_t M, int64_t d, const double *w, double *G,
                                double *T)
{
    for (int64_t r = 0; r < M; r++) {
        const double *s = S + r * d;
        double *t = T + r * d;
        for (int64_t i = 0; i < d; i++) t[i] = s[i] * sqrt(w[i]);
    }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)M, (int)d, 1.0, T, (int)d, 0.0, G, (int)M);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < i; j++) G[i * M + j] = G[j * M + i];
    return CLS_OK;
}

/* Build everything from a sketch the model already owns (m->S). */
static cls_status model_build(cls_lcl_model *m)
{
    const int64_t M = m->M, d = m->d;
    const size_t MM = (size_t)M * (size_t)M;
    cls_status st = CLS_OK;
    double *T = NULL, *tmp = NULL, *Sig = NULL;
    double *c = NULL;

    m->lam1 = cls_alloc((size_t)d * sizeof(double), "lcl spectrum");
    m->corr = cls_alloc((size_t)d * sizeof(double), "lcl correlations");
    c = cls_alloc((size_t)d * sizeof(double), "lcl cross spectrum");
    if (!m->lam1 || !m->corr || !c) { st = CLS_E_NOMEM; goto done; }
    const double a2 = m->data.a2 == 0.0 ? m->data.a : m->data.a2;
    m->symmetric = (a2 == m->data.a);
    if (m->symmetric) {
        m->lam2 = m->lam1;
    } else if (!(m->lam2 = cls_alloc((size_t)d * sizeof(double), "lcl spectrum 2"))) {
        st = CLS_E_NOMEM;
        goto done;
    }
    m->sum_rho2 = 0.0;
    for (int64_t i = d; i >= 1; i--) {
        double l1 = pow((double)i, -m->data.a), l2 = pow((double)i, -a2);
        double r = m->data.rho0 * pow((double)i, -m->data.b / 2.0);
        m->lam1[i - 1] = l1;
        m->lam2[i - 1] = l2;
        m->corr[i - 1] = r;
        c[i - 1] = r * sqrt(l1 * l2);
        m->sum_rho2 += r * r;
    }

    T = cls_alloc((size_t)M * (size_t)d * sizeof(double), "lcl scaled sketch");
    m->G1 = cls_alloc(MM * sizeof(double), "lcl G1");
    m->CS = cls_alloc(MM * sizeof(double), "lcl C_S");
    m->Q1 = cls_alloc(MM * sizeof(double), "lcl Q1");
    m->L1 = cls_alloc((size_t)M * sizeof(double), "lcl Lambda1");
    m->Ct = cls_alloc(MM * sizeof(double), "lcl C~");
    m->Wstar = cls_alloc(MM * sizeof(double), "lcl W*");
    tmp = cls_alloc(MM * sizeof(double), "lcl temporary");
    if (!T || !m->G1 || !m->CS || !m->Q1 || !m->L1 || !m->Ct || !m->Wstar || !tmp) { st = CLS_E_NOMEM; goto done; }
    sketch_moment(m->S, M, d, m->lam1, m->G1, T);
    sketch_moment(m->S, M, d, c, m->CS, T);
    if ((st = cls_lcl_eig(M, m->G1, m->Q1, m->L1))) goto done;
    if (m->symmetric) {
        m->G2 = m->G1;
        m->Q2 = m->Q1;
        m->L2 = m->L1;
    } else {
        m->G2 = cls_alloc(MM * sizeof(double), "lcl G2");
        m->Q2 = cls_alloc(MM * sizeof(double), "lcl Q2");
        m->L2 = cls_alloc((size_t)M * sizeof(double), "lcl Lambda2");
        if (!m->G2 || !m->Q2 || !m->L2) { st = CLS_E_NOMEM; goto done; }
        sketch_moment(m->S, M, d, m->lam2, m->G2, T);
        if ((st = cls_lcl_eig(M, m->G2, m->Q2, m->L2))) goto done;
    }
    cls_free(T);
    T = NULL;

    /* C~ = Q1^T C_S Q2; W* = Q1 [C~ / kappa] Q2^T on the numerical range. */
    m->tol1 = cls_lcl_eig_tol(M, m->L1);
    m->tol2 = cls_lcl_eig_tol(M, m->L2);
    for (m->i0 = 0; m->i0 < M && !(m->L1[m->i0] > m->tol1); m->i0++) {}
    for (m->j0 = 0; m->j0 < M && !(m->L2[m->j0] > m->tol2); m->j0++) {}
    cls_lcl_mm(M, 0, m->CS, 0, m->Q2, tmp);
    cls_lcl_mm(M, 1, m->Q1, 0, tmp, m->Ct);
    double fit = 0.0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < M; j++) {
            double k = m->L1[i] * m->L2[j], ct = m->Ct[i * M + j];
            if (i >= m->i0 && j >= m->j0) {
                tmp[i * M + j] = ct / k;
                fit += ct * ct / k;
            } else {
                tmp[i * M + j] = 0.0;
            }
        }
    m->approx = 0.5 * m->sum_rho2 - 0.5 * fit;
    {
        double *t2 = cls_alloc(MM * sizeof(double), "lcl temporary");
        if (!t2) { st = CLS_E_NOMEM; goto done; }
        cls_lcl_mm(M, 0, m->Q1, 0, tmp, t2);
        cls_lcl_mm(M, 0, t2, 1, m->Q2, m->Wstar);
        cls_free(t2);
    }

    /* Factor of the joint covariance of (Sx, Sx'), for drawing sketched
     * pairs and Wishart moments: Cholesky, or a clamped eigen-factor when the
     * matrix is numerically singular (M close to d). */
    const int64_t p = 2 * M;
    m->F = cls_calloc((size_t)p * (size_t)p, sizeof(double), "lcl sampling factor");
    Sig = cls_alloc((size_t)p * (size_t)p * sizeof(double), "lcl joint covariance");
    if (!m->F || !Sig) { st = CLS_E_NOMEM; goto done; }
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < M; j++) {
            Sig[i * p + j] = m->G1[i * M + j];
            Sig[(i + M) * p + j + M] = m->G2[i * M + j];
            Sig[i * p + j + M] = m->CS[i * M + j];
            Sig[(i + M) * p + j] = m->CS[j * M + i];
        }
    memcpy(m->F, Sig, (size_t)p * (size_t)p * sizeof(double));
    if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)p, m->F, (lapack_int)p) == 0) {
        for (int64_t i = 0; i < p; i++)
            for (int64_t j = i + 1; j < p; j++) m->F[i * p + j] = 0.0;
    } else {
        double *w = cls_alloc((size_t)p * sizeof(double), "lcl eigenvalues");
        double *Q = cls_alloc((size_t)p * (size_t)p * sizeof(double), "lcl eigenvectors");
        if (!w || !Q) {
            cls_free(w);
            cls_free(Q);
            st = CLS_E_NOMEM;
            goto done;
        }
        st = cls_lcl_eig(p, Sig, Q, w);
        if (st == CLS_OK)
            for (int64_t i = 0; i < p; i++)
                for (int64_t j = 0; j < p; j++) m->F[i * p + j] = Q[i * p + j] * sqrt(w[j] > 0 ? w[j] : 0.0);
        cls_free(w);
        cls_free(Q);
        if (st) goto done;
    }
done:
    cls_free(T);
    cls_free(tmp);
    cls_free(Sig);
    cls_free(c);
    return st;
}

static cls_status model_alloc(cls_lcl_model **out, const cls_lcl_data *data, int64_t M)
{
    cls_status st = cls_lcl_data_check(data);
    if (st) return st;
    if (M < 1) return cls_set_error(CLS_E_INVALID_ARG, "lcl: sketch size M = %lld must be >= 1", (long long)M);
    if (M > data->d)
        return cls_set_error(CLS_E_INVALID_ARG, "lcl: sketch size M = %lld exceeds the dimension d = %lld (a sketch compresses: M <= d)",
                             (long long)M, (long long)data->d);
    if (M > 32768) return cls_set_error(CLS_E_INVALID_ARG, "lcl: sketch size M = %lld is too large (max 32768)", (long long)M);
    size_t bytes;
    if (!cls_size_mul(&bytes, M, data->d, (int64_t)sizeof(double))) return CLS_E_NOMEM;
    cls_lcl_model *m = cls_calloc(1, sizeof *m, "lcl model");
    if (!m) return CLS_E_NOMEM;
    m->data = *data;
    m->M = M;
    m->d = data->d;
    m->S = cls_alloc(bytes, "lcl sketch");
    if (!m->S) {
        cls_free(m);
        return CLS_E_NOMEM;
    }
    *out = m;
    return CLS_OK;
}

cls_status cls_lcl_model_create(cls_lcl_model **out, const cls_lcl_data *data, int64_t M,
                                uint64_t seed, int threads)
{
    if (!out) return cls_set_error(CLS_E_INVALID_ARG, "lcl: output pointer is NULL");
    cls_lcl_model *m = NULL;
    cls_status st = model_alloc(&m, data, M);
    if (st) return st;
    const int64_t d = m->d;
    const double scale = 1.0 / sqrt((double)M);
    int nt = cls_threads_resolve(threads);
    /* One RNG stream per row: deterministic for any thread count, and nested
     * across M for the same seed. */
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t r = 0; r < M; r++) {
        cls_rng rng;
        cls_rng_seed_stream(&rng, seed, (uint64_t)r);
        double *s = m->S + r * d;
        cls_rng_fill_normal_f64(&rng, s, d);
        for (int64_t i = 0; i < d; i++) s[i] *= scale;
    }
    cls_thread_state saved;
    cls_threads_enter(threads, &saved);
    st = model_build(m);
    cls_threads_leave(&saved);
    if (st) {
        cls_lcl_model_free(m);
        return st;
    }
    *out = m;
    return CLS_OK;
}

cls_status cls_lcl_model_create_sketch(cls_lcl_model **out, const cls_lcl_data *data,
                                       const double *S, int64_t M, int threads)
{
    if (!out || !S) return cls_set_error(CLS_E_INVALID_ARG, "lcl: sketch or output pointer is NULL");
    cls_lcl_model *m = NULL;
    cls_status st = model_alloc(&m, data, M);
    if (st) return st;
    if ((st = cls_check_finite_f64(S, M, m->d, "sketch"))) {
        cls_lcl_model_free(m);
        return st;
    }
    memcpy(m->S, S, (size_t)M * (size_t)m->d * sizeof(double));
    cls_thread_state saved;
    cls_threads_enter(threads, &saved);
    st = model_build(m);
    cls_threads_leave(&saved);
    if (st) {
        cls_lcl_model_free(m);
        return st;
    }
    *out = m;
    return CLS_OK;
}

int64_t cls_lcl_model_M(const cls_lcl_model *m) { return m->M; }

void cls_lcl_model_lambda_max(const cls_lcl_model *m, double *g1, double *g2)
{
    if (g1) *g1 = m->L1[m->M - 1];
    if (g2) *g2 = m->L2[m->M - 1];
}

double cls_lcl_model_default_lr(const cls_lcl_model *m)
{
    return 0.5 / (m->L1[m->M - 1] * m->L2[m->M - 1]);
}

double cls_lcl_model_approx(const cls_lcl_model *m) { return m->approx; }
const double *cls_lcl_model_G1(const cls_lcl_model *m) { return m->G1; }
const double *cls_lcl_model_G2(const cls_lcl_model *m) { return m->G2; }
const double *cls_lcl_model_CS(const cls_lcl_model *m) { return m->CS; }
const double *cls_lcl_model_Wstar(const cls_lcl_model *m) { return m->Wstar; }

double cls_lcl_model_dim(const cls_lcl_model *m, double t)
{
    /* Both eigenvalue lists are ascending: count pairs with L1_i L2_j >= 1/t
     * by a two-pointer walk, O(M). */
    if (!(t > 0)) return 0.0;
    if (isinf(t)) {
        return (double)(m->M - m->i0) * (double)(m->M - m->j0);
    }
    const int64_t M = m->M;
    double count = 0.0;
    int64_t j = M; /* first j with L1_i L2_j t >= 1; moves left as i grows */
    for (int64_t i = 0; i < M; i++) {
        while (j > 0 && m->L1[i] * m->L2[j - 1] * t >= 1.0) j--;
        count += (double)(M - j);
    }
    return count;
}

cls_status cls_lcl_population_risk(const cls_lcl_model *m, const double *W, double *risk)
{
    const int64_t M = m->M;
    const size_t MM = (size_t)M * (size_t)M;
    double *A = cls_alloc(MM * sizeof(double), "lcl temporary");
    double *B = cls_alloc(MM * sizeof(double), "lcl temporary");
    if (!A || !B) {
        cls_free(A);
        cls_free(B);
        return CLS_E_NOMEM;
    }
    /* R(W) = -<W, C_S> + 1/2 <W, G1 W G2> */
    cls_lcl_mm(M, 0, m->G1, 0, W, A);
    cls_lcl_mm(M, 0, A, 0, m->G2, B);
    double lin = 0.0, quad = 0.0;
    for (size_t k = 0; k < MM; k++) {
        lin += W[k] * m->CS[k];
        quad += W[k] * B[k];
    }
    cls_free(A);
    cls_free(B);
    *risk = -lin + 0.5 * quad;
    return CLS_OK;
}
