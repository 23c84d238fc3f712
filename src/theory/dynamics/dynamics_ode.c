/* The N -> infinity limit: ODEs for (Q, R). Given c the fields of the two
 * views are jointly Gaussian; we write h(1,2) = Q^T c + s +- d with
 * s ~ N(0, A + eps^2 (1+rho)/2 R), d ~ N(0, eps^2 (1-rho)/2 R) independent,
 * A = R - Q^T Q (the rotated coordinates of the spec), and take expectations
 * by an exact sum over the c-table times a fixed quadrature in (s, d). */
#include "dynamics_internal.h"
#include "../../core/internal.h"

#include <lapacke.h>
#include <math.h>
#include <string.h>

#define QMC_POINTS 8192 /* Halton points per c-combination when the fields have > 2 dimensions */ /* quadrature points per c-combination for K > 1 */

struct cls_dynamics_ode {
    cls_dynamics_model m;
    int K, p;
    int dims;           /* K (d absent: eps = 0 or rho = 1) or 2K */
    int d_active;
    int64_t n_pts;
    double *pts;        /* n_pts x dims standard normal points */
    double *wts;        /* n_pts weights summing to 1 */
    int n_combo;
    double *cval;       /* n_combo x p */
    double *cprob;      /* n_combo */
    double *ys, *yd;    /* scratch: n_pts x K */
};

cls_status cls_dynamics_gauss_hermite(int n, double *nodes, double *weights)
{
    if (n < 1 || n > 400) return cls_set_error(CLS_E_INVALID_ARG, "Gauss-Hermite: n = %d must be in 1..400", n);
    if (!nodes || !weights) return cls_set_error(CLS_E_INVALID_ARG, "Gauss-Hermite: NULL output");
    /* Golub-Welsch: the Jacobi matrix of the Hermite recurrence has zero
     * diagonal and off-diagonal sqrt(i/2); nodes are its eigenvalues and the
     * weights sqrt(pi) times the squared first eigenvector components. */
    double *d = cls_alloc(sizeof(double) * (size_t)n, "GH diagonal");
    double *e = cls_alloc(sizeof(double) * (size_t)(n > 1 ? n - 1 : 1), "GH off-diagonal");
    double *z = cls_alloc(sizeof(double) * (size_t)n * (size_t)n, "GH eigenvectors");
    cls_status st = CLS_OK;
    if (!d || !e || !z) {
        st = CLS_E_NOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) d[i] = 0.0;
    for (int i = 0; i < n - 1; i++) e[i] = sqrt(0.5 * (i + 1));
    lapack_int info = LAPACKE_dstev(LAPACK_ROW_MAJOR, 'V', n, d, e, z, n);
    if (info != 0) {
        st = cls_set_error(CLS_E_NUMERIC, "Gauss-Hermite: dstev failed (info %d) for n = %d", (int)info, n);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        nodes[i] = d[i];
        weights[i] = sqrt(M_PI) * z[i] * z[i]; /* row 0, column i */
    }
done:
    cls_free(d), cls_free(e), cls_free(z);
    return st;
}

/* Inverse standard normal CDF: Acklam's rational approximation refined by one
 * Halley step on erfc (relative error ~1e-15). */
static double inv_norm_cdf(double u)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
    static const double dd[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00};
    double x, q, r;
    if (u < 0.02425) {
        q = sqrt(-2 * log(u));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((dd[0] * q + dd[1]) * q + dd[2]) * q + dd[3]) * q + 1);
    } else if (u > 1 - 0.02425) {
        q = sqrt(-2 * log(1 - u));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((dd[0] * q + dd[1]) * q + dd[2]) * q + dd[3]) * q + 1);
    } else {
        q = u - 0.5;
        r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    double e = 0.5 * erfc(-x / sqrt(2.0)) - u;
    double g = e * sqrt(2 * M_PI) * exp(x * x / 2);
    return x - g / (1 + x * g / 2);
}

/* Radical inverse of i in base b (Halton sequence). */
static double radical_inverse(int64_t i, int b)
{
    double f = 1.0, r = 0.0;
    while (i > 0) {
        f /= b;
        r += f * (double)(i % b);
        i /= b;
    }
    return r;
}

/* Fill the fixed point set: a Gauss-Hermite product in 1 or 2 dimensions
 * (K = 1: exact sums as the spec asks); beyond that Halton points pushed
 * through the inverse normal CDF. A product rule with the few nodes per
 * dimension a budget allows is much worse here: tanh has poles near the real
 * axis, and 9 nodes per dimension (4-D, 6561 points) miss the escape time by
 * ~0.02 in cos, where 8192 Halton points are within ~1e-3. */
static cls_status build_points(cls_dynamics_ode *o, int nodes)
{
    const int D = o->dims, n = nodes;
    const int halton = D > 2;
    int64_t np = halton ? QMC_POINTS : (D == 1 ? n : (int64_t)n * n);
    o->n_pts = np;
    o->pts = cls_alloc(sizeof(double) * (size_t)np * (size_t)D, "ODE points");
    o->wts = cls_alloc(sizeof(double) * (size_t)np, "ODE weights");
    o->ys = cls_alloc(sizeof(double) * (size_t)np * (size_t)o->K, "ODE scratch");
    o->yd = cls_alloc(sizeof(double) * (size_t)np * (size_t)o->K, "ODE scratch");
    if (!o->pts || !o->wts || !o->ys || !o->yd) return CLS_E_NOMEM;
    if (halton) {
        static const int primes[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53};
        for (int64_t i = 0; i < np; i++) {
            for (int d = 0; d < D; d++) o->pts[i * D + d] = inv_norm_cdf(radical_inverse(i + 1, primes[d]));
            o->wts[i] = 1.0 / (double)np;
        }
        return CLS_OK;
    }
    double x[400], w[400];
    cls_status st = cls_dynamics_gauss_hermite(n, x, w);
    if (st) return st;
    for (int64_t i = 0; i < np; i++) {
        int64_t rem = i;
        double wt = 1.0;
        for (int d = 0; d < D; d++) {
            int a = (int)(rem % n);
            rem /= n;
            o->pts[i * D + d] = sqrt(2.0) * x[a];
            wt *= w[a] / sqrt(M_PI);
        }
        o->wts[i] = wt;
    }
    return CLS_OK;
}

cls_status cls_dynamics_ode_create(cls_dynamics_ode **out, const cls_dynamics_model *model, int nodes)
{
    if (!out) return cls_set_error(CLS_E_INVALID_ARG, "out is NULL");
    cls_status st = cls_dynamics_model_check(model);
    if (st) return st;
    if (nodes == 0) nodes = CLS_DYNAMICS_NODES_DEFAULT;
    if (nodes < 2 || nodes > 400) return cls_set_error(CLS_E_INVALID_ARG, "nodes = %d must be in 2..400", nodes);
    cls_dynamics_ode *o = cls_calloc(1, sizeof *o, "ODE");
    if (!o) return CLS_E_NOMEM;
    o->m = *model;
    o->K = model->K, o->p = model->p;
    o->d_active = model->eps > 0.0 && model->rho < 1.0;
    o->dims = o->K * (o->d_active ? 2 : 1);
    int nc = 1;
    for (int j = 0; j < o->p; j++) nc *= model->law[j].n;
    o->n_combo = nc;
    o->cval = cls_alloc(sizeof(double) * (size_t)nc * (size_t)o->p, "c table");
    o->cprob = cls_alloc(sizeof(double) * (size_t)nc, "c table");
    if (!o->cval || !o->cprob) {
        cls_dynamics_ode_free(o);
        return CLS_E_NOMEM;
    }
    for (int i = 0; i < nc; i++) {
        int rem = i;
        double pr = 1.0;
        for (int j = 0; j < o->p; j++) {
            int a = rem % model->law[j].n;
            rem /= model->law[j].n;
            o->cval[i * o->p + j] = model->law[j].value[a];
            pr *= model->law[j].prob[a];
        }
        o->cprob[i] = pr;
    }
    if ((st = build_points(o, nodes))) {
        cls_dynamics_ode_free(o);
        return st;
    }
    *out = o;
    return CLS_OK;
}

void cls_dynamics_ode_free(cls_dynamics_ode *o)
{
    if (!o) return;
    cls_free(o->pts), cls_free(o->wts), cls_free(o->ys), cls_free(o->yd);
    cls_free(o->cval), cls_free(o->cprob);
    cls_free(o);
}

int64_t cls_dynamics_ode_points(const cls_dynamics_ode *o) { return o ? o->n_pts : 0; }

/* Lower-triangular L with L L^T = A for a positive semi-definite A: a
 * Cholesky factorisation in which a vanishing pivot zeroes its column. The
 * triangular form keeps unit 1's fields on the first coordinates only, so
 * the product rule integrates them as accurately as the K = 1 rule. */
static void psd_cholesky(int K, const double *A, double *L)
{
    double scale = 0.0;
    for (int k = 0; k < K; k++) scale = fmax(scale, fabs(A[k * K + k]));
    for (int i = 0; i < K * K; i++) L[i] = 0.0;
    for (int j = 0; j < K; j++) {
        double d = A[j * K + j];
        for (int e = 0; e < j; e++) d -= L[j * K + e] * L[j * K + e];
        if (d <= 1e-14 * scale) continue; /* degenerate direction: column stays 0 */
        double ljj = sqrt(d);
        L[j * K + j] = ljj;
        for (int i = j + 1; i < K; i++) {
            double s = A[i * K + j];
            for (int e = 0; e < j; e++) s -= L[i * K + e] * L[j * K + e];
            L[i * K + j] = s / ljj;
        }
    }
}

cls_status cls_dynamics_ode_rhs(cls_dynamics_ode *o, const double *Q, const double *R, double *dQ, double *dR)
{
    if (!o || !Q || !R || !dQ || !dR) return cls_set_error(CLS_E_INVALID_ARG, "ODE rhs: NULL argument");
    const int K = o->K, p = o->p, D = o->dims;
    const double tau = o->m.tau, mu = o->m.mu, eps2 = o->m.eps * o->m.eps, rho = o->m.rho, lam = o->m.lambda;
    double Ss[CLS_DYNAMICS_MAX_K * CLS_DYNAMICS_MAX_K], Sd[CLS_DYNAMICS_MAX_K * CLS_DYNAMICS_MAX_K];
    double Ls[CLS_DYNAMICS_MAX_K * CLS_DYNAMICS_MAX_K], Ld[CLS_DYNAMICS_MAX_K * CLS_DYNAMICS_MAX_K];
    for (int k = 0; k < K; k++)
        for (int l = 0; l < K; l++) {
            double a = 0.5 * (R[k * K + l] + R[l * K + k]);
            double r = a;
            for (int j = 0; j < p; j++) a -= Q[j * K + k] * Q[j * K + l];
            Ss[k * K + l] = a + 0.5 * eps2 * (1.0 + rho) * r;
            Sd[k * K + l] = 0.5 * eps2 * (1.0 - rho) * r;
        }
    psd_cholesky(K, Ss, Ls);
    if (o->d_active) psd_cholesky(K, Sd, Ld);
    /* Gaussian parts of the fields at every point (shared by all c values). */
    for (int64_t i = 0; i < o->n_pts; i++) {
        const double *z = o->pts + i * D;
        for (int k = 0; k < K; k++) {
            double s = 0.0, d = 0.0;
            for (int l = 0; l <= k; l++) s += Ls[k * K + l] * z[l];
            if (o->d_active)
                for (int l = 0; l <= k; l++) d += Ld[k * K + l] * z[K + l];
            o->ys[i * K + k] = s;
            o->yd[i * K + k] = d;
        }
    }
    double EGc[CLS_DYNAMICS_MAX_P * CLS_DYNAMICS_MAX_K] = {0};
    double Dm[CLS_DYNAMICS_MAX_K * CLS_DYNAMICS_MAX_K] = {0}, EGh[CLS_DYNAMICS_MAX_K * CLS_DYNAMICS_MAX_K] = {0};
    double EGG[CLS_DYNAMICS_MAX_K * CLS_DYNAMICS_MAX_K] = {0};
    const double c_same = 1.0 + eps2, c_cross = 1.0 + eps2 * rho;
    for (int ci = 0; ci < o->n_combo; ci++) {
        const double *c = o->cval + ci * p;
        const double pc = o->cprob[ci];
        if (pc == 0.0) continue;
        double m[CLS_DYNAMICS_MAX_K];
        for (int k = 0; k < K; k++) {
            m[k] = 0.0;
            for (int j = 0; j < p; j++) m[k] += Q[j * K + k] * c[j];
        }
        double Gsum[CLS_DYNAMICS_MAX_K] = {0};
        for (int64_t i = 0; i < o->n_pts; i++) {
            const double w = o->wts[i] * pc;
            double h1[CLS_DYNAMICS_MAX_K], h2[CLS_DYNAMICS_MAX_K], s1[CLS_DYNAMICS_MAX_K], s2[CLS_DYNAMICS_MAX_K];
            double d1[CLS_DYNAMICS_MAX_K], d2[CLS_DYNAMICS_MAX_K], G1[CLS_DYNAMICS_MAX_K], G2[CLS_DYNAMICS_MAX_K];
            double sq1 = 0.0, sq2 = 0.0;
            for (int k = 0; k < K; k++) {
                h1[k] = m[k] + o->ys[i * K + k] + o->yd[i * K + k];
                h2[k] = m[k] + o->ys[i * K + k] - o->yd[i * K + k];
                s1[k] = tanh(h1[k]), s2[k] = tanh(h2[k]);
                d1[k] = 1.0 - s1[k] * s1[k], d2[k] = 1.0 - s2[k] * s2[k];
                sq1 += s1[k] * s1[k], sq2 += s2[k] * s2[k];
            }
            for (int k = 0; k < K; k++) {
                /* G(v)_k = -dl/dh(v)_k with the off-diagonal sums B excluding k */
                double B1 = sq1 - s1[k] * s1[k], B2 = sq2 - s2[k] * s2[k];
                G1[k] = d1[k] * (s2[k] - lam * s1[k] * B2);
                G2[k] = d2[k] * (s1[k] - lam * s2[k] * B1);
                Gsum[k] += w * (G1[k] + G2[k]);
                if (eps2 > 0.0) {
                    double dd1 = -2.0 * s1[k] * d1[k], dd2 = -2.0 * s2[k] * d2[k];
                    /* same-view derivative (only l = k) plus rho times the cross-view one */
                    double diag = dd1 * s2[k] - lam * (dd1 * s1[k] + d1[k] * d1[k]) * B2 + dd2 * s1[k] -
                                  lam * (dd2 * s2[k] + d2[k] * d2[k]) * B1 + rho * 2.0 * d1[k] * d2[k];
                    Dm[k * K + k] += w * diag;
                    for (int l = 0; l < K; l++) {
                        if (l == k) continue;
                        Dm[k * K + l] += w * rho * (-2.0 * lam) *
                                         (d1[k] * s1[k] * s2[l] * d2[l] + d2[k] * s2[k] * s1[l] * d1[l]);
                    }
                }
            }
            for (int k = 0; k < K; k++)
                for (int l = 0; l < K; l++) {
                    EGh[k * K + l] += w * (G1[k] * h1[l] + G2[k] * h2[l]);
                    EGG[k * K + l] += w * (c_same * (G1[k] * G1[l] + G2[k] * G2[l]) +
                                           c_cross * (G1[k] * G2[l] + G2[k] * G1[l]));
                }
        }
        for (int j = 0; j < p; j++)
            for (int k = 0; k < K; k++) EGc[j * K + k] += c[j] * Gsum[k];
    }
    for (int j = 0; j < p; j++)
        for (int k = 0; k < K; k++) {
            double noise = 0.0;
            for (int l = 0; l < K; l++) noise += Q[j * K + l] * Dm[k * K + l];
            dQ[j * K + k] = tau * (-mu * Q[j * K + k] + EGc[j * K + k] + eps2 * noise);
        }
    for (int k = 0; k < K; k++)
        for (int l = 0; l < K; l++)
            dR[k * K + l] = tau * (-2.0 * mu * R[k * K + l] + EGh[k * K + l] + EGh[l * K + k]) + tau * tau * EGG[k * K + l];
    return CLS_OK;
}

cls_status cls_dynamics_ode_integrate(cls_dynamics_ode *o, const double *Q0, const double *R0, double T, double dt,
                                 double every, double *Q_out, double *R_out)
{
    if (!o || !Q0 || !R0 || !Q_out || !R_out) return cls_set_error(CLS_E_INVALID_ARG, "ODE: NULL argument");
    int n_rec = cls_dynamics_n_records(T, every);
    if (n_rec < 1) return cls_set_error(CLS_E_INVALID_ARG, "ODE: T = %g and every = %g give no records", T, every);
    if (!(dt > 0.0) || !isfinite(dt)) return cls_set_error(CLS_E_INVALID_ARG, "ODE: dt = %g must be > 0", dt);
    cls_status st = cls_dynamics_check_state(&o->m, Q0, R0);
    if (st) return st;
    const int K = o->K, p = o->p, nq = p * K, n = p * K + K * K;
    /* a whole number of RK4 steps per record, none longer than dt */
    int64_t sub = (int64_t)ceil(every / dt - 1e-9);
    if (sub < 1) sub = 1;
    if (sub > 100000000) return cls_set_error(CLS_E_INVALID_ARG, "ODE: every / dt = %g steps is too many", every / dt);
    const double h = every / (double)sub;
    /* records go to temporaries first: outputs stay untouched on failure */
    double *Qt = cls_alloc(sizeof(double) * (size_t)n_rec * nq, "ODE records");
    double *Rt = cls_alloc(sizeof(double) * (size_t)n_rec * K * K, "ODE records");
    if (!Qt || !Rt) {
        st = CLS_E_NOMEM;
        goto done;
    }
    double y[CLS_DYNAMICS_MAX_P * CLS_DYNAMICS_MAX_K + CLS_DYNAMICS_MAX_K * CLS_DYNAMICS_MAX_K], yt[sizeof y / sizeof y[0]];
    double k1[sizeof y / sizeof y[0]], k2[sizeof y / sizeof y[0]], k3[sizeof y / sizeof y[0]],
        k4[sizeof y / sizeof y[0]];
    memcpy(y, Q0, sizeof(double) * nq);
    memcpy(y + nq, R0, sizeof(double) * K * K);
#define RHS(state, out)                                                        \
    do {                                                                       \
        if ((st = cls_dynamics_ode_rhs(o, (state), (state) + nq, (out), (out) + nq))) \
            goto done;                                                         \
    } while (0)
    for (int r = 0; r < n_rec; r++) {
        if (r > 0) {
            for (int64_t s = 0; s < sub; s++) {
                RHS(y, k1);
                for (int i = 0; i < n; i++) yt[i] = y[i] + 0.5 * h * k1[i];
                RHS(yt, k2);
                for (int i = 0; i < n; i++) yt[i] = y[i] + 0.5 * h * k2[i];
                RHS(yt, k3);
                for (int i = 0; i < n; i++) yt[i] = y[i] + h * k3[i];
                RHS(yt, k4);
                for (int i = 0; i < n; i++) y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
            }
            for (int i = 0; i < n; i++)
                if (!isfinite(y[i])) {
                    st = cls_set_error(CLS_E_NUMERIC, "ODE: the state is not finite at t = %g (dt too large?)",
                                       r * every);
                    goto done;
                }
        }
        memcpy(Qt + (size_t)r * nq, y, sizeof(double) * nq);
        memcpy(Rt + (size_t)r * K * K, y + nq, sizeof(double) * K * K);
    }
    memcpy(Q_out, Qt, sizeof(double) * (size_t)n_rec * nq);
    memcpy(R_out, Rt, sizeof(double) * (size_t)n_rec * K * K);
done:
    cls_free(Qt), cls_free(Rt);
    return st;
#undef RHS
}
