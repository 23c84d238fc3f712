/* Gradient descent on the sketched surrogate: step schedules, the closed
 * form (one eigendecomposition per Hessian factor, then O(M^2) per schedule
 * segment) and the plain iteration it is checked against; the mode-E loss
 * from moments and its brute-force twin over the N^2 pairs. */
#include "lcl_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

static cls_status schedule_check(const cls_lcl_schedule *s)
{
    if (!s) return cls_set_error(CLS_E_INVALID_ARG, "lcl: schedule is NULL");
    if (s->infinite) return CLS_OK;
    if (s->nseg < 1 || !s->steps || !s->lr)
        return cls_set_error(CLS_E_INVALID_ARG, "lcl: schedule needs at least one segment");
    for (int k = 0; k < s->nseg; k++) {
        if (s->steps[k] < 0)
            return cls_set_error(CLS_E_INVALID_ARG, "lcl: schedule segment %d has %lld steps (must be >= 0)", k, (long long)s->steps[k]);
        if (!(s->lr[k] > 0) || !isfinite(s->lr[k]))
            return cls_set_error(CLS_E_INVALID_ARG, "lcl: schedule segment %d has step size %g (must be > 0)", k, s->lr[k]);
    }
    return CLS_OK;
}

double cls_lcl_schedule_horizon(const cls_lcl_schedule *s)
{
    if (s->infinite) return INFINITY;
    double t = 0.0;
    for (int k = 0; k < s->nseg; k++) t += (double)s->steps[k] * s->lr[k];
    return t;
}

/* log|prod_k (1 - lr_k kappa)^n_k| and its sign; log1p keeps small kappa exact. */
static double schedule_logprod(const cls_lcl_schedule *s, double kappa, int *sign, int *zero)
{
    double lg = 0.0;
    *sign = 1;
    *zero = 0;
    for (int k = 0; k < s->nseg; k++) {
        int64_t n = s->steps[k];
        if (n == 0) continue;
        double x = s->lr[k] * kappa;
        if (x < 1.0) {
            lg += (double)n * log1p(-x);
        } else if (x == 1.0) {
            *zero = 1;
        } else {
            lg += (double)n * log(x - 1.0);
            if (n & 1) *sign = -*sign;
        }
    }
    return lg;
}

double cls_lcl_schedule_phi(const cls_lcl_schedule *s, double kappa)
{
    if (s->infinite) return kappa > 0 ? 1.0 : 0.0;
    int sign, zero;
    double lg = schedule_logprod(s, kappa, &sign, &zero);
    if (zero) return 1.0;
    return sign > 0 ? -expm1(lg) : 1.0 + exp(lg);
}

double cls_lcl_eig_tol(int64_t n, const double *w)
{
    double mx = fabs(w[n - 1]) > fabs(w[0]) ? fabs(w[n - 1]) : fabs(w[0]);
    return 64.0 * 2.220446049250313e-16 * (double)n * mx;
}

double cls_lcl_schedule_f(const cls_lcl_schedule *s, double kappa, int valid)
{
    if (s->infinite) return valid && kappa > 0 ? 1.0 / kappa : 0.0;
    if (kappa == 0.0) return cls_lcl_schedule_horizon(s);
    double phi = cls_lcl_schedule_phi(s, kappa);
    /* For |t kappa| tiny, phi/kappa loses nothing: phi comes from expm1. */
    return phi / kappa;
}

cls_status cls_lcl_gd_closed(int64_t M, const double *A, const double *B, const double *C,
                             const cls_lcl_schedule *s, double *W)
{
    if (M < 1 || !A || !B || !C || !W) return cls_set_error(CLS_E_INVALID_ARG, "lcl_gd_closed: bad arguments");
    cls_status st = schedule_check(s);
    if (st) return st;
    const size_t MM = (size_t)M * (size_t)M;
    double *QA = cls_alloc(MM * sizeof(double), "QA"), *QB = cls_alloc(MM * sizeof(double), "QB");
    double *wa = cls_alloc((size_t)M * sizeof(double), "wa"), *wb = cls_alloc((size_t)M * sizeof(double), "wb");
    double *T = cls_alloc(MM * sizeof(double), "T"), *X = cls_alloc(MM * sizeof(double), "X");
    if (!QA || !QB || !wa || !wb || !T || !X) {
        st = CLS_E_NOMEM;
        goto done;
    }
    if ((st = cls_lcl_eig(M, A, QA, wa))) goto done;
    if (B == A) {
        memcpy(QB, QA, MM * sizeof(double));
        memcpy(wb, wa, (size_t)M * sizeof(double));
    } else if ((st = cls_lcl_eig(M, B, QB, wb))) {
        goto done;
    }
    double ta = cls_lcl_eig_tol(M, wa), tb = cls_lcl_eig_tol(M, wb);
    cls_lcl_mm(M, 0, C, 0, QB, T);
    cls_lcl_mm(M, 1, QA, 0, T, X);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < M; j++) X[i * M + j] *= cls_lcl_schedule_f(s, wa[i] * wb[j], wa[i] > ta && wb[j] > tb);
    cls_lcl_mm(M, 0, QA, 0, X, T);
    cls_lcl_mm(M, 0, T, 1, QB, W);
done:
    cls_free(QA);
    cls_free(QB);
    cls_free(wa);
    cls_free(wb);
    cls_free(T);
    cls_free(X);
    return st;
}

cls_status cls_lcl_gd_iterate(int64_t M, const double *A, const double *B, const double *C,
                              const cls_lcl_schedule *s, double *W)
{
    if (M < 1 || !A || !B || !C || !W) return cls_set_error(CLS_E_INVALID_ARG, "lcl_gd_iterate: bad arguments");
    cls_status st = schedule_check(s);
    if (st) return st;
    if (s->infinite) return cls_set_error(CLS_E_INVALID_ARG, "lcl_gd_iterate: an infinite schedule cannot be iterated");
    const size_t MM = (size_t)M * (size_t)M;
    double *Wk = cls_calloc(MM, sizeof(double), "W"), *T = cls_alloc(MM * sizeof(double), "T");
    double *Gr = cls_alloc(MM * sizeof(double), "grad");
    if (!Wk || !T || !Gr) {
        cls_free(Wk);
        cls_free(T);
        cls_free(Gr);
        return CLS_E_NOMEM;
    }
    for (int k = 0; k < s->nseg; k++) {
        for (int64_t n = 0; n < s->steps[k]; n++) {
            cls_lcl_mm(M, 0, A, 0, Wk, T);
            memcpy(Gr, C, MM * sizeof(double));
            /* Gr = T B - C, then W -= lr Gr */
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)M, (int)M, 1.0, T, (int)M,
                        B, (int)M, -1.0, Gr, (int)M);
            cblas_daxpy((int)MM, -s->lr[k], Gr, 1, Wk, 1);
        }
    }
    memcpy(W, Wk, MM * sizeof(double));
    cls_free(Wk);
    cls_free(T);
    cls_free(Gr);
    return CLS_OK;
}

cls_status cls_lcl_loss_e(int64_t M, const double *G1h, const double *G2h, const double *Ch,
                          const double *W, double *loss, double *grad)
{
    if (M < 1 || !G1h || !G2h || !Ch || !W) return cls_set_error(CLS_E_INVALID_ARG, "lcl_loss_e: bad arguments");
    const size_t MM = (size_t)M * (size_t)M;
    double *T = cls_alloc(MM * sizeof(double), "T"), *Q = cls_alloc(MM * sizeof(double), "Q");
    if (!T || !Q) {
        cls_free(T);
        cls_free(Q);
        return CLS_E_NOMEM;
    }
    cls_lcl_mm(M, 0, G1h, 0, W, T);
    cls_lcl_mm(M, 0, T, 0, G2h, Q); /* Q = G1h W G2h */
    double lin = 0.0, quad = 0.0;
    for (size_t k = 0; k < MM; k++) {
        lin += W[k] * Ch[k];
        quad += W[k] * Q[k];
    }
    if (loss) *loss = -lin + 0.5 * quad;
    if (grad)
        for (size_t k = 0; k < MM; k++) grad[k] = Q[k] - Ch[k];
    cls_free(T);
    cls_free(Q);
    return CLS_OK;
}

cls_status cls_lcl_loss_e_ref(int64_t M, int64_t N, const double *U, const double *V,
                              const double *W, double *loss, double *grad)
{
    if (M < 1 || N < 1 || !U || !V || !W) return cls_set_error(CLS_E_INVALID_ARG, "lcl_loss_e_ref: bad arguments");
    /* Wv[m] = W v_m, then s_nm = u_n . Wv[m]; every pair visited explicitly. */
    double *Wv = cls_alloc((size_t)N * (size_t)M * sizeof(double), "W v");
    double *g = cls_calloc((size_t)M * (size_t)M, sizeof(double), "grad");
    if (!Wv || !g) {
        cls_free(Wv);
        cls_free(g);
        return CLS_E_NOMEM;
    }
    for (int64_t m = 0; m < N; m++)
        for (int64_t i = 0; i < M; i++) {
            double acc = 0.0;
            for (int64_t j = 0; j < M; j++) acc += W[i * M + j] * V[m * M + j];
            Wv[m * M + i] = acc;
        }
    double pos = 0.0, neg = 0.0;
    const double invN = 1.0 / (double)N, invN2 = invN * invN;
    for (int64_t n = 0; n < N; n++) {
        const double *u = U + n * M;
        for (int64_t m = 0; m < N; m++) {
            double s = 0.0;
            for (int64_t i = 0; i < M; i++) s += u[i] * Wv[m * M + i];
            neg += s * s;
            /* d/dW of 1/(2N^2) s^2 = s/N^2 u v^T; of -(1/N) s_nn = -(1/N) u v^T */
            double coef = s * invN2 - (n == m ? invN : 0.0);
            const double *v = V + m * M;
            for (int64_t i = 0; i < M; i++) {
                double cu = coef * u[i];
                for (int64_t j = 0; j < M; j++) g[i * M + j] += cu * v[j];
            }
            if (n == m) pos += s;
        }
    }
    if (loss) *loss = -pos * invN + 0.5 * neg * invN2;
    if (grad) memcpy(grad, g, (size_t)M * (size_t)M * sizeof(double));
    cls_free(Wv);
    cls_free(g);
    return CLS_OK;
}
