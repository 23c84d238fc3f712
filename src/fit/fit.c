/* cls_fit_law: validate, fit from the full grid, warn, bootstrap. */
#include "fit_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void cls_fit_options_init(cls_fit_options *opt)
{
    if (!opt) return; /* NULL is a no-op, like every _init */
    memset(opt, 0, sizeof *opt);
    opt->law = CLS_LAW_POWER;
    opt->nvars = 1;
    opt->bins = 5;
    opt->boot_random_starts = 4;
    opt->huber_delta = 1e-3;
    opt->max_iterations = 10000;
    opt->grid_stride = 1;
}

void cls_fit_result_free(cls_fit_result *r)
{
    if (!r) return;
    free(r->boot_raw);
    memset(r, 0, sizeof *r);
}

static cls_status fit_law(const double *x, const double *y, const int64_t *groups, int64_t n,
                          const cls_fit_options *opt, int misscaled, cls_fit_result *result);

cls_status cls_fit_law_seam(const double *x, const double *y, const int64_t *groups, int64_t n,
                            const cls_fit_options *opt, int misscaled_objective, cls_fit_result *result)
{
    /* BLAS / OpenMP settings are the caller's again when this returns. */
    cls_thread_state saved;
    cls_threads_enter(opt ? opt->threads : 0, &saved);
    cls_status st = fit_law(x, y, groups, n, opt, misscaled_objective, result);
    cls_threads_leave(&saved);
    return st;
}

cls_status cls_fit_law(const double *x, const double *y, const int64_t *groups, int64_t n,
                       const cls_fit_options *opt, cls_fit_result *result)
{
    return cls_fit_law_seam(x, y, groups, n, opt, 0, result);
}

static cls_status fit_law(const double *x, const double *y, const int64_t *groups, int64_t n,
                          const cls_fit_options *opt, int misscaled, cls_fit_result *result)
{
    if (!x || !y || !opt || !result)
        return cls_set_error(CLS_E_INVALID_ARG, "fit: x, y, opt and result must not be NULL");
    int k = cls_fit_law_nvars(opt->law, opt->nvars);
    if (k < 0)
        return cls_set_error(CLS_E_INVALID_ARG, "fit: the %s law takes 1 to %d variables, got %d",
                             cls_fit_law_name(opt->law), CLS_FIT_MAX_VARS, opt->nvars);
    if (opt->frontier_binned && opt->law != CLS_LAW_POWER)
        return cls_set_error(CLS_E_INVALID_ARG, "fit: the binned frontier applies to the power law only");
    if (opt->frontier_binned && (opt->bins < 3 || opt->bins > 1000))
        return cls_set_error(CLS_E_INVALID_ARG, "fit: bins must be in [3, 1000], got %d", opt->bins);
    if (opt->bootstrap < 0 || opt->bootstrap > 10000000)
        return cls_set_error(CLS_E_INVALID_ARG, "fit: bootstrap must be in [0, 1e7], got %d",
                             opt->bootstrap);
    if (!(opt->huber_delta > 0) || !isfinite(opt->huber_delta))
        return cls_set_error(CLS_E_INVALID_ARG, "fit: huber_delta must be positive");
    if (n <= 0) return cls_set_error(CLS_E_SHAPE, "fit: no data points");
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < k; j++) {
            double v = x[i * k + j];
            if (!isfinite(v)) return cls_set_error(CLS_E_NONFINITE, "fit: x[%lld][%d] is %g", (long long)i, j, v);
            if (!(v > 0))
                return cls_set_error(CLS_E_INVALID_ARG,
                                     "fit: x[%lld][%d] = %g is not positive (the %s law is fitted "
                                     "in log space)", (long long)i, j, v, cls_fit_law_name(opt->law));
        }
        if (!isfinite(y[i])) return cls_set_error(CLS_E_NONFINITE, "fit: y[%lld] is %g", (long long)i, y[i]);
        if (!(y[i] > 0))
            return cls_set_error(CLS_E_INVALID_ARG,
                                 "fit: y[%lld] = %g is not positive (the %s law is fitted in log "
                                 "space)", (long long)i, y[i], cls_fit_law_name(opt->law));
    }

    cls_fit_result r;
    memset(&r, 0, sizeof r);
    r.law = opt->law;
    r.nvars = k;
    r.frontier_binned = opt->frontier_binned;
    r.bins = opt->frontier_binned ? opt->bins : 0;
    fit_describe(&r);
    if (r.law != CLS_LAW_POWER && n <= r.nraw)
        return cls_set_error(CLS_E_INVALID_ARG,
                             "too few points: the %s law has %d parameters and needs at least %d "
                             "points, got %lld", cls_fit_law_name(r.law), r.nraw, r.nraw + 1,
                             (long long)n);

    /* A variable spanning less than a decade leaves its exponent unidentified. */
    for (int j = 0; j < k; j++) {
        double lo = INFINITY, hi = 0;
        for (int64_t i = 0; i < n; i++) {
            double v = x[i * k + j];
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        if (hi / lo < 10.0)
            fit_warn(&r, CLS_FIT_WARN_NARROW_RANGE,
                     "variable %d spans only a factor %.3g (less than one decade): its exponent is "
                     "poorly identified", j + 1, hi / lo);
    }

    if (r.law == CLS_LAW_POWER) {
        if (!fit_power(x, y, NULL, n, opt->frontier_binned, opt->bins, r.raw, &r.objective, &r.n_points))
            return CLS_E_INVALID_ARG;
        r.n_starts = 1; /* closed form: the global optimum */
        r.starts_converged_fraction = 1.0;
    } else {
        double *logx = malloc(sizeof(double) * (size_t)n * (size_t)(k + 1));
        if (!logx) return cls_set_error(CLS_E_NOMEM, "fit: out of memory");
        double *logy = logx + n * k;
        for (int64_t i = 0; i < n * k; i++) logx[i] = log(x[i]);
        for (int64_t i = 0; i < n; i++) logy[i] = log(y[i]);
        fit_data d = {k, n, logx, logy, NULL, opt->huber_delta,
                      misscaled ? opt->huber_delta / (double)n : 1.0};
        fit_tolerances tol = fit_tolerances_for(opt, misscaled);
        int64_t stride = opt->grid_stride > 1 ? opt->grid_stride : 1;
        int64_t total = fit_grid_size(k);
        r.n_starts = (total + stride - 1) / stride;
        int64_t *starts = malloc(sizeof(int64_t) * (size_t)r.n_starts);
        if (!starts) {
            free(logx);
            return cls_set_error(CLS_E_NOMEM, "fit: out of memory");
        }
        for (int64_t s = 0; s < r.n_starts; s++) starts[s] = s * stride;
        cls_status st = fit_multistart(&d, &tol, starts, r.n_starts, NULL,
                                       cls_threads_resolve(opt->threads), r.raw, &r.objective,
                                       &r.starts_converged_fraction);
        free(starts);
        free(logx);
        if (st) return st;
        if (!isfinite(r.objective))
            return cls_set_error(CLS_E_NUMERIC, "fit: no start reached a finite objective");
        r.n_points = n;
        if (r.starts_converged_fraction < 0.05)
            fit_warn(&r, CLS_FIT_WARN_FEW_CONVERGED,
                     "only %.2f %% of the %lld starts reach the best objective (within 0.1 %%): "
                     "the optimiser may be stopping early; do not trust this fit",
                     100.0 * r.starts_converged_fraction, (long long)r.n_starts);
    }
    fit_raw_to_quantities(r.law, k, r.raw, r.params, r.derived);

    if (opt->bootstrap > 0) {
        cls_status st = fit_bootstrap(x, y, groups, n, opt, misscaled, &r);
        if (st) return st;
    }
    fit_intervals(&r);
    *result = r;
    return CLS_OK;
}
