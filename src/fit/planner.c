/* Compute-optimal planning under a cost model C = c0 * prod_k x_k^p_k.
 *
 * Chinchilla with C = c0 N D has the closed form of the spec:
 * a = beta/(alpha+beta), b = alpha/(alpha+beta), G = (alpha A/(beta B))^(1/(alpha+beta)),
 * N_opt = G (C/c0)^a, D_opt = (C/c0)^b / G. Every other case is minimised
 * numerically: with u_k = ln x_k and the last variable eliminated through the
 * budget, ln L = LSE(e, a_k - alpha_k u_k) is a convex function of the free u
 * (a log-sum-exp of affine functions), so L-BFGS finds the unique optimum. */
#include "fit_internal.h"

#include <lbfgs.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const double *raw;
    int k;
    const double *p;
    double logb; /* ln(C / c0) */
} plan_problem;

/* u_last from the free u's and the budget. */
static double last_u(const plan_problem *q, const double *u)
{
    double s = q->logb;
    for (int j = 0; j < q->k - 1; j++) s -= q->p[j] * u[j];
    return s / q->p[q->k - 1];
}

static double plan_lse(const plan_problem *q, const double *u, double *grad)
{
    int k = q->k;
    double t[CLS_FIT_MAX_VARS + 1], uu[CLS_FIT_MAX_VARS];
    for (int j = 0; j < k - 1; j++) uu[j] = u[j];
    uu[k - 1] = last_u(q, u);
    double m = t[0] = q->raw[0];
    for (int j = 0; j < k; j++) {
        t[j + 1] = q->raw[1 + j] - q->raw[1 + k + j] * uu[j];
        if (t[j + 1] > m) m = t[j + 1];
    }
    double s = 0;
    for (int j = 0; j <= k; j++) s += exp(t[j] - m);
    if (grad) {
        /* d/du_j = -alpha_j w_j + alpha_last w_last p_j / p_last */
        double wl = exp(t[k] - m) / s, al = q->raw[2 * k];
        for (int j = 0; j < k - 1; j++) {
            double wj = exp(t[j + 1] - m) / s;
            grad[j] = -q->raw[1 + k + j] * wj + al * wl * q->p[j] / q->p[k - 1];
        }
    }
    return m + log(s);
}

static lbfgsfloatval_t plan_eval(void *inst, const lbfgsfloatval_t *u, lbfgsfloatval_t *g,
                                 const int n, const lbfgsfloatval_t step)
{
    (void)n;
    (void)step;
    return plan_lse(inst, u, g);
}

/* Optimal x (natural units) and loss for one parameter vector; 0 on failure. */
static int plan_one(cls_law law, int k, const double *raw, double C, double c0, const double *p,
                    double *x, double *loss)
{
    double logb = log(C / c0);
    if (law == CLS_LAW_POWER || k == 1) {
        x[0] = exp(logb / p[0]);
    } else if (law == CLS_LAW_CHINCHILLA && p[0] == 1.0 && p[1] == 1.0) {
        double a, b, G;
        cls_fit_chinchilla_allocation(raw, &a, &b, &G);
        x[0] = G * exp(a * logb);
        x[1] = exp(b * logb) / G;
    } else {
        plan_problem q = {raw, k, p, logb};
        double psum = 0;
        for (int j = 0; j < k; j++) psum += p[j];
        lbfgsfloatval_t u[CLS_FIT_MAX_VARS];
        for (int j = 0; j < k - 1; j++) u[j] = logb / psum;
        lbfgs_parameter_t par;
        lbfgs_parameter_init(&par);
        par.m = 10;
        par.epsilon = 1e-12;
        par.past = 1;
        par.delta = 1e-15;
        par.max_iterations = 2000;
        par.linesearch = LBFGS_LINESEARCH_MORETHUENTE;
        lbfgsfloatval_t fx;
        (void)lbfgs(k - 1, u, &fx, plan_eval, NULL, &q, &par);
        double uu[CLS_FIT_MAX_VARS];
        for (int j = 0; j < k - 1; j++) uu[j] = u[j];
        uu[k - 1] = last_u(&q, uu);
        for (int j = 0; j < k; j++) x[j] = exp(uu[j]);
    }
    *loss = cls_fit_predict_raw(law, k, raw, x);
    for (int j = 0; j < k; j++)
        if (!isfinite(x[j]) || !(x[j] > 0)) return 0;
    return isfinite(*loss);
}

cls_status cls_fit_plan(const cls_fit_result *fit, double compute, double cost_factor,
                        const double *cost_powers, cls_plan_point *out)
{
    if (!fit || !out) return cls_set_error(CLS_E_INVALID_ARG, "plan: fit and out must not be NULL");
    if (!(compute > 0) || !isfinite(compute))
        return cls_set_error(CLS_E_INVALID_ARG, "plan: compute must be positive, got %g", compute);
    if (!(cost_factor > 0) || !isfinite(cost_factor))
        return cls_set_error(CLS_E_INVALID_ARG, "plan: cost factor must be positive, got %g", cost_factor);
    int k = fit->nvars;
    double p[CLS_FIT_MAX_VARS] = {1.0, 1.0, 1.0, 1.0};
    for (int j = 0; j < k; j++) {
        p[j] = cost_powers ? cost_powers[j] : 1.0;
        if (!(p[j] > 0) || !isfinite(p[j]))
            return cls_set_error(CLS_E_INVALID_ARG, "plan: cost power %d must be positive, got %g", j + 1, p[j]);
    }
    for (int j = 0; j < k && fit->law != CLS_LAW_POWER; j++)
        if (!(fit->raw[1 + k + j] > 0))
            return cls_set_error(CLS_E_NUMERIC,
                                 "plan: exponent %d of the fit is %g; a compute-optimal allocation "
                                 "needs every exponent positive", j + 1, fit->raw[1 + k + j]);
    cls_plan_point r;
    memset(&r, 0, sizeof r);
    r.compute = compute;
    r.nvars = k;
    if (!plan_one(fit->law, k, fit->raw, compute, cost_factor, p, r.x, &r.loss))
        return cls_set_error(CLS_E_NUMERIC, "plan: no finite optimum for compute %g", compute);
    for (int j = 0; j < k; j++) r.x_ci80[j][0] = r.x_ci80[j][1] = r.x_ci95[j][0] = r.x_ci95[j][1] = NAN;
    r.loss_ci80[0] = r.loss_ci80[1] = r.loss_ci95[0] = r.loss_ci95[1] = NAN;
    if (fit->boot_raw && fit->bootstrap > 0) {
        int64_t B = fit->bootstrap;
        double *v = malloc(sizeof(double) * (size_t)B * (size_t)(k + 1));
        if (!v) return cls_set_error(CLS_E_NOMEM, "plan: out of memory");
        for (int64_t b = 0; b < B; b++) {
            const double *raw = fit->boot_raw + b * fit->nraw;
            double x[CLS_FIT_MAX_VARS], loss;
            int ok = 1;
            for (int i = 0; i < fit->nraw; i++) ok &= isfinite(raw[i]);
            for (int j = 0; ok && j < k && fit->law != CLS_LAW_POWER; j++) ok &= raw[1 + k + j] > 0;
            if (ok) ok = plan_one(fit->law, k, raw, compute, cost_factor, p, x, &loss);
            for (int j = 0; j < k; j++) v[j * B + b] = ok ? x[j] : NAN;
            v[k * B + b] = ok ? loss : NAN;
        }
        for (int j = 0; j <= k; j++) {
            double *lo80 = j < k ? &r.x_ci80[j][0] : &r.loss_ci80[0];
            double *lo95 = j < k ? &r.x_ci95[j][0] : &r.loss_ci95[0];
            lo80[0] = fit_percentile(v + j * B, B, 10.0);
            lo80[1] = fit_percentile(v + j * B, B, 90.0);
            lo95[0] = fit_percentile(v + j * B, B, 2.5);
            lo95[1] = fit_percentile(v + j * B, B, 97.5);
        }
        free(v);
    }
    *out = r;
    return CLS_OK;
}
