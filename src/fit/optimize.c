/* L-BFGS through libLBFGS (memory 10, More-Thuente line search).
 *
 * Tolerances follow the spec: gradient test ||g|| < 1e-10 max(1, ||x||) and a
 * relative-decrease test of 1e-15 over one iteration, with many iterations
 * allowed. A line search that cannot make progress (rounding error at the
 * bottom of a valley) ends the run too; libLBFGS then leaves x at the last
 * accepted point, whose objective we recompute rather than trust. */
#include "fit_internal.h"

#include "../core/lbfgs_setup.h"
#include <math.h>

fit_tolerances fit_tolerances_for(const cls_fit_options *opt, int misscaled)
{
    fit_tolerances t;
    if (misscaled) {
        /* SciPy L-BFGS-B defaults, as in the paper's fit: pgtol 1e-5, factr 1e7. */
        t.epsilon = 1e-5;
        t.past = 1;
        t.delta = 2.220446049250313e-09;
    } else {
        t.epsilon = 1e-10;
        t.past = 1;
        t.delta = 1e-15;
    }
    t.max_iterations = opt->max_iterations > 0 ? opt->max_iterations : 10000;
    return t;
}

static lbfgsfloatval_t evaluate(void *instance, const lbfgsfloatval_t *x, lbfgsfloatval_t *g,
                                const int n, const lbfgsfloatval_t step)
{
    (void)step;
    const fit_data *d = instance;
    double f = cls_fit_objective(x, d->nvars, d->logx, d->logy, d->w, d->n, d->delta, g);
    if (d->scale != 1.0) {
        f *= d->scale;
        for (int i = 0; i < n; i++) g[i] *= d->scale;
    }
    return f;
}

double fit_minimize(const fit_data *d, const fit_tolerances *tol, double *theta)
{
    const int nraw = 1 + 2 * d->nvars;
    lbfgs_parameter_t p;
    cls_lbfgs_setup(&p, tol->epsilon, tol->past, tol->delta, tol->max_iterations, 60);
    lbfgsfloatval_t x[CLS_FIT_MAX_PARAMS], fx = 0;
    for (int i = 0; i < nraw; i++) x[i] = theta[i];
    (void)lbfgs(nraw, x, &fx, evaluate, NULL, (void *)d, &p);
    double f = cls_fit_objective(x, d->nvars, d->logx, d->logy, d->w, d->n, d->delta, NULL);
    for (int i = 0; i < nraw; i++)
        if (!isfinite(x[i])) return INFINITY;
    if (!isfinite(f)) return INFINITY;
    for (int i = 0; i < nraw; i++) theta[i] = x[i];
    return f; /* always the summed objective, so fits are comparable */
}
