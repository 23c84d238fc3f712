/* Eigenvalues: LAPACK dsyevd for the exact path, and randomized subspace
 * iteration (Halko, Martinsson & Tropp 2011, Alg. 4.4) for the top ranks of
 * a covariance too large to form. The randomized path never forms X - 1 mu^T:
 * it uses X V - 1 (mu^T V) and X^T T - mu (1^T T), one streamed pass per
 * power iteration, and re-orthonormalises (QR) after each. */
#include "spectrum_internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <omp.h>
#include <string.h>

cls_status spec_sym_eigenvalues(double *a, int64_t k, double *w_desc)
{
    /* Row-major lower is column-major upper: no transposed copy needed. */
    lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'U', (lapack_int)k, a, (lapack_int)k, w_desc);
    if (info != 0)
        return cls_set_error(CLS_E_NUMERIC, "spectrum: LAPACK dsyevd failed (info %d) on a %lld x %lld matrix",
                             (int)info, (long long)k, (long long)k);
    for (int64_t i = 0, j = k - 1; i < j; i++, j--) {
        double t = w_desc[i];
        w_desc[i] = w_desc[j];
        w_desc[j] = t;
    }
    return CLS_OK;
}

/* Orthonormalise the columns of v (rows x cols, row-major) in place. */
static cls_status orthonormalise(double *v, int64_t rows, int64_t cols, double *tau)
{
    lapack_int info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (lapack_int)rows, (lapack_int)cols, v,
                                     (lapack_int)cols, tau);
    if (!info)
        info = LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (lapack_int)rows, (lapack_int)cols, (lapack_int)cols,
                              v, (lapack_int)cols, tau);
    if (info != 0)
        return cls_set_error(CLS_E_NUMERIC, "spectrum: QR re-orthonormalisation failed (info %d)", (int)info);
    return CLS_OK;
}

typedef struct {
    spec_source *s;
    const spec_stats *st;
    const int32_t *counts;
    int center;
    int64_t n, d, l, chunk_rows;
    double *buf, *T, *mu, *muv, *tsum, *msum;
    double sumsq;  /* sum c_i |y_i|^2 from the last pass */
} rsvd_ctx;

/* Z = M V for M the centred covariance (or uncentred second moment), in one pass. */
static cls_status apply_operator(rsvd_ctx *c, const double *V, double *Z)
{
    int64_t d = c->d, l = c->l, n = c->n;
    memset(Z, 0, (size_t)(d * l) * sizeof(double));
    memset(c->tsum, 0, (size_t)l * sizeof(double));
    memset(c->msum, 0, (size_t)d * sizeof(double));
    c->sumsq = 0;
    /* mu^T V (a row of length l) */
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)d, (int)l, 1.0, V, (int)l, c->mu, 1, 0.0, c->muv, 1);
    cls_status status = spec_source_rewind(c->s);
    int64_t row0 = 0, m;
    while (!status) {
        status = spec_source_read(c->s, c->buf, c->chunk_rows, &m);
        if (status || m == 0) break;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)l, (int)d, 1.0, c->buf,
                    (int)d, V, (int)l, 0.0, c->T, (int)l);
        for (int64_t i = 0; i < m; i++) {
            double w = c->counts ? (double)c->counts[row0 + i] : 1.0;
            double *t = c->T + i * l;
            for (int64_t j = 0; j < l; j++) {
                t[j] = w * (t[j] - c->muv[j]); /* implicit centring: X v - 1 (mu^T v) */
                c->tsum[j] += t[j];
            }
            if (w != 0) {
                const double *x = c->buf + i * d;
                double ss = 0;
                for (int64_t j = 0; j < d; j++) {
                    double y = x[j] - c->mu[j];
                    c->msum[j] += w * y;
                    ss += y * y;
                }
                c->sumsq += w * ss;
            }
        }
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)l, (int)m, 1.0, c->buf,
                    (int)d, c->T, (int)l, 1.0, Z, (int)l);
        row0 += m;
    }
    if (status) return status;
    /* X^T T - mu (1^T T) */
    cblas_dger(CblasRowMajor, (int)d, (int)l, -1.0, c->mu, 1, c->tsum, 1, Z, (int)l);
    if (c->center) {
        /* weighted mean m of y (zero up to rounding without bootstrap weights):
         * sum c (y - m)(y - m)^T = sum c y y^T - n m m^T */
        for (int64_t j = 0; j < d; j++) c->msum[j] /= (double)n;
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)d, (int)l, 1.0, V, (int)l, c->msum, 1, 0.0, c->muv, 1);
        cblas_dger(CblasRowMajor, (int)d, (int)l, -(double)n, c->msum, 1, c->muv, 1, Z, (int)l);
        double m2 = cblas_ddot((int)d, c->msum, 1, c->msum, 1);
        c->sumsq -= (double)n * m2;
    }
    double scale = 1.0 / (double)(c->center ? n - 1 : n);
    cblas_dscal((int)(d * l), scale, Z, 1);
    c->sumsq *= scale;
    return CLS_OK;
}

cls_status spec_randomized(spec_source *s, const spec_stats *st, const int32_t *counts,
                           int center, int64_t k, const cls_spectrum_options *opt,
                           int64_t chunk_rows, cls_spectrum_eig *out)
{
    int64_t n = st->n, d = st->d;
    int64_t full = center ? (d < n - 1 ? d : n - 1) : (d < n ? d : n);
    if (k < 1) return cls_set_error(CLS_E_INVALID_ARG, "spectrum: randomized rank must be >= 1, got %lld", (long long)k);
    if (k > full) k = full;
    /* auto oversampling l = 2k: with 6 iterations the k-th value is then
     * accurate to ~1e-7 on steep spectra (tests/test_spectrum.c) */
    int64_t p = opt->oversample > 0 ? opt->oversample : (k > 10 ? k : 10);
    if (p < 10) p = 10;
    int64_t l = k + p < d ? k + p : d;
    int q = opt->power_iters >= 0 ? opt->power_iters : 6;

    rsvd_ctx c = {s, st, counts, center, n, d, l, chunk_rows, NULL, NULL, NULL, NULL, NULL, NULL, 0};
    c.buf = cls_alloc((size_t)chunk_rows * (size_t)d * sizeof(double), "spectrum chunk");
    c.T = cls_alloc((size_t)chunk_rows * (size_t)l * sizeof(double), "sketch chunk");
    c.mu = cls_calloc((size_t)d, sizeof(double), "sketch mean");
    c.muv = cls_alloc((size_t)l * sizeof(double), "sketch mean projection");
    c.tsum = cls_alloc((size_t)l * sizeof(double), "sketch column sums");
    c.msum = cls_alloc((size_t)d * sizeof(double), "sketch weighted mean");
    double *V = cls_alloc((size_t)(d * l) * sizeof(double), "sketch basis");
    double *Z = cls_alloc((size_t)(d * l) * sizeof(double), "sketch image");
    double *tau = cls_alloc((size_t)l * sizeof(double), "QR factors");
    double *H = cls_alloc((size_t)(l * l) * sizeof(double), "projected matrix");
    double *w = cls_alloc((size_t)l * sizeof(double), "projected eigenvalues");
    cls_status status = (c.buf && c.T && c.mu && c.muv && c.tsum && c.msum && V && Z && tau && H && w)
                            ? CLS_OK : CLS_E_NOMEM;
    if (!status) {
        if (center) memcpy(c.mu, st->mean, (size_t)d * sizeof(double));
        cls_rng rng;
        cls_rng_seed_stream(&rng, opt->seed, 0x5ec7a11u);
        cls_rng_fill_normal_f64(&rng, V, d * l);
        status = orthonormalise(V, d, l, tau);
    }
    for (int it = 0; !status && it <= q; it++) {
        status = apply_operator(&c, V, Z);
        if (!status && it < q) {
            memcpy(V, Z, (size_t)(d * l) * sizeof(double));
            status = orthonormalise(V, d, l, tau);
        }
    }
    if (!status) {
        /* Rayleigh-Ritz: H = V^T M V, symmetrised */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)l, (int)l, (int)d, 1.0, V, (int)l,
                    Z, (int)l, 0.0, H, (int)l);
        for (int64_t i = 0; i < l; i++)
            for (int64_t j = 0; j < i; j++) H[i * l + j] = 0.5 * (H[i * l + j] + H[j * l + i]);
        status = spec_sym_eigenvalues(H, l, w);
    }
    if (!status) status = spec_eig_alloc(out, k);
    if (!status) {
        memcpy(out->values, w, (size_t)k * sizeof(double));
        out->n = n;
        out->d = d;
        out->centered = center;
        out->method = CLS_SPECTRUM_RANDOMIZED;
        out->full_count = full;
        /* the exact trace: sum of column variances (or of c-weighted squares) */
        if (!counts && center) {
            double t = 0;
            for (int64_t j = 0; j < d; j++) t += st->m2[j];
            out->total = t / (double)(n - 1);
        } else {
            out->total = c.sumsq;
        }
        out->total_sq = NAN;
    }
    cls_free(c.buf), cls_free(c.T), cls_free(c.mu), cls_free(c.muv), cls_free(c.tsum), cls_free(c.msum);
    cls_free(V), cls_free(Z), cls_free(tau), cls_free(H), cls_free(w);
    return status;
}

cls_status spec_sym_eig_top_vectors(double *a, int64_t k, double *w_desc, int64_t K, double *zt)
{
    return spec_sym_eig_pair(a, k, w_desc, K, zt, NULL, 0.0, NULL, NULL, NULL);
}

cls_status spec_sym_eig_pair(double *a, int64_t k, double *w_desc, int64_t K, double *zt,
                             const double *mu, double beta, double *wu_desc, double *u_trace,
                             double *u_fro2)
{
    /* One tridiagonalisation serves everything: dsterf for all values,
     * dstemr for the top K vectors of the tridiagonal, dormtr to bring them
     * back. The uncentred moment M = beta A + mu mu^T: a Householder
     * reflection P (P mu = -+|mu| e_k) is applied first, A' = P A P, and
     * dsytrd('U') never touches index k (Q e_k = e_k), so
     * Q^T P M P Q = beta T + |mu|^2 e_k e_k^T is tridiagonal too: its
     * eigenvalues cost one more dsterf instead of a second reduction. */
    int uncentred = mu && wu_desc;
    double *dg = cls_alloc((size_t)k * sizeof(double), "tridiagonal");
    double *e = cls_alloc((size_t)k * sizeof(double), "tridiagonal");
    double *dg2 = cls_alloc((size_t)k * sizeof(double), "tridiagonal copy");
    double *e2 = cls_alloc((size_t)k * sizeof(double), "tridiagonal copy");
    double *dg3 = uncentred ? cls_alloc((size_t)k * sizeof(double), "uncentred tridiagonal") : NULL;
    double *e3 = uncentred ? cls_alloc((size_t)k * sizeof(double), "uncentred tridiagonal") : NULL;
    double *tau = cls_alloc((size_t)k * sizeof(double), "reflectors");
    double *wk = zt ? cls_alloc((size_t)k * sizeof(double), "selected eigenvalues") : NULL;
    lapack_int *isuppz = zt ? cls_alloc((size_t)(2 * K) * sizeof(lapack_int), "eigenvector support") : NULL;
    double *v = uncentred ? cls_alloc((size_t)k * sizeof(double), "Householder vector") : NULL;
    double *q = uncentred ? cls_alloc((size_t)k * sizeof(double), "Householder update") : NULL;
    cls_status status = (dg && e && dg2 && e2 && tau && (!zt || (wk && isuppz)) &&
                         (!uncentred || (v && q && dg3 && e3))) ? CLS_OK : CLS_E_NOMEM;
    lapack_int info = 0, m = 0, nk = (lapack_int)k;
    lapack_logical tryrac = 1;
    double ptau = 0, mu2 = 0;
    if (!status && uncentred) {
        /* a is row-major lower = column-major upper */
        memcpy(v, mu, (size_t)k * sizeof(double));
        mu2 = cblas_ddot((int)k, mu, 1, mu, 1);
        double norm = sqrt(mu2), alpha = v[k - 1];
        if (norm > 0) {
            v[k - 1] += copysign(norm, alpha);
            ptau = 1.0 / (mu2 + fabs(alpha) * norm); /* 2 / v^T v */
            /* P A P = A - v q^T - q v^T, p = tau A v, q = p - (tau/2)(v^T p) v */
            cblas_dsymv(CblasColMajor, CblasUpper, (int)k, ptau, a, (int)k, v, 1, 0.0, q, 1);
            cblas_daxpy((int)k, -0.5 * ptau * cblas_ddot((int)k, v, 1, q, 1), v, 1, q, 1);
            cblas_dsyr2(CblasColMajor, CblasUpper, (int)k, -1.0, v, 1, q, 1, a, (int)k);
        }
    }
    spec_prof_mark("eigen: householder mu");
    if (!status) {
        /* dsytrd is ~2k small BLAS-2 calls (a dsymv per column), one parallel
         * region each. Under OMP_WAIT_POLICY=passive every region wakes the
         * sleeping thread through the kernel: at k = 2048, 2 threads took
         * 0.74 s against 0.53 s on one (and 0.23 s on 2 spinning threads,
         * the default policy). So passive waiting runs it on one thread. */
        cls_thread_state solo;
        int passive = cls_omp_wait_passive();
        if (passive) cls_threads_enter(1, &solo);
        info = LAPACKE_dsytrd(LAPACK_COL_MAJOR, 'U', nk, a, nk, dg, e, tau);
        if (passive) cls_threads_leave(&solo);
    }
    spec_prof_mark("eigen: dsytrd");
    if (!status && !info && uncentred) {
        double tr = 0, f = 0;
        for (int64_t i = 0; i < k; i++) dg3[i] = beta * dg[i];
        dg3[k - 1] += mu2;
        for (int64_t i = 0; i + 1 < k; i++) e3[i] = beta * e[i];
        for (int64_t i = 0; i < k; i++) tr += dg3[i], f += dg3[i] * dg3[i];
        for (int64_t i = 0; i + 1 < k; i++) f += 2.0 * e3[i] * e3[i];
        *u_trace = tr;
        *u_fro2 = f;
    }
    if (!status && !info) {
        /* three independent O(k^2) tridiagonal solves (the uncentred values,
         * the centred values, the top-K vectors), serial LAPACK each: run
         * side by side on the threads the caller's cls_threads_enter set */
        memcpy(dg2, dg, (size_t)k * sizeof(double));
        memcpy(e2, e, (size_t)(k - 1) * sizeof(double));
        e2[k - 1] = 0;
        lapack_int iu = 0, ic = 0, iv = 0;
        int nt = omp_get_max_threads();
        nt = nt < 3 ? nt : 3;
#pragma omp parallel sections num_threads(nt)
        {
#pragma omp section
            if (uncentred) iu = LAPACKE_dsterf(nk, dg3, e3);
#pragma omp section
            ic = LAPACKE_dsterf(nk, dg, e);
#pragma omp section
            /* vectors in column-major k x K = row-major K x k (zt) */
            if (zt)
                iv = LAPACKE_dstemr(LAPACK_COL_MAJOR, 'V', 'I', nk, dg2, e2, 0.0, 0.0, nk - (lapack_int)K + 1,
                                    nk, &m, wk, zt, nk, (lapack_int)K, isuppz, &tryrac);
        }
        info = iu ? iu : ic ? ic : iv;
    }
    spec_prof_mark("eigen: dsterf x2 + dstemr");
    if (!status && !info) {
        for (int64_t i = 0; i < k; i++) w_desc[i] = dg[k - 1 - i];
        if (uncentred)
            for (int64_t i = 0; i < k; i++) wu_desc[i] = dg3[k - 1 - i];
    }
    if (!status && !info && zt && m != (lapack_int)K) info = -1000;
    if (!status && !info && zt)
        info = LAPACKE_dormtr(LAPACK_COL_MAJOR, 'L', 'U', 'N', nk, (lapack_int)K, a, nk, tau, zt, nk);
    if (!status && !info && zt && ptau != 0) /* eigenvectors of A = P (those of P A P) */
        for (int64_t j = 0; j < K; j++) {
            double *z = zt + j * k;
            cblas_daxpy((int)k, -ptau * cblas_ddot((int)k, v, 1, z, 1), v, 1, z, 1);
        }
    spec_prof_mark("eigen: dormtr");
    if (!status && info)
        status = cls_set_error(CLS_E_NUMERIC, "spectrum: LAPACK tridiagonal eigensolver failed (info %d)", (int)info);
    cls_free(dg), cls_free(e), cls_free(dg2), cls_free(e2), cls_free(dg3), cls_free(e3), cls_free(tau);
    cls_free(wk), cls_free(isuppz);
    cls_free(v), cls_free(q);
    return status;
}
