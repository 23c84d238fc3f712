/* Internal interface between the fit files (laws, objective, optimiser,
 * multi-start, bootstrap, planner, persistence). Not installed. */
#ifndef CLS_FIT_INTERNAL_H
#define CLS_FIT_INTERNAL_H

#include "../core/internal.h"
#include "clscale/fit.h"

/* Data of one LSE-law fit in the optimiser's coordinates. */
typedef struct {
    int nvars;
    int64_t n;
    const double *logx;  /* n x nvars natural logs */
    const double *logy;  /* n natural logs */
    const double *w;     /* n weights (bootstrap counts) or NULL */
    double delta;        /* Huber delta */
    double scale;        /* 1 (sum / delta) or delta/n (the test-only plain mean) */
} fit_data;

/* Optimiser tolerances (see optimize.c). */
typedef struct {
    double epsilon;      /* ||g|| < epsilon * max(1, ||x||) */
    int past;            /* relative-decrease test over `past` iterations (0 = off) */
    double delta;        /* ... stops when (f_past - f) / f < delta */
    int max_iterations;
} fit_tolerances;

/* Tolerances of the spec (gtol 1e-10, ftol 1e-15) or, for the test-only
 * mis-scaled mode, SciPy's defaults (gtol 1e-5, ftol 2.2e-9). */
fit_tolerances fit_tolerances_for(const cls_fit_options *opt, int misscaled);

/* Test seam (used by tests/test_fit.c, not exported): cls_fit_law, and with
 * misscaled_objective != 0 the Chinchilla paper's early-stopping mistake: the
 * optimiser sees the mean Huber loss (not summed, not divided by delta, so its
 * gradients are delta*n times smaller) with SciPy's default L-BFGS-B
 * tolerances. It exists so that a test can show the convergence warning
 * fires; nothing else sets it. */
cls_status cls_fit_law_seam(const double *x, const double *y, const int64_t *groups, int64_t n,
                            const cls_fit_options *opt, int misscaled_objective, cls_fit_result *result);

/* Minimise the objective from theta (in place, nraw = 1 + 2*nvars); returns
 * the objective at the final point (+inf if it is not finite). */
double fit_minimize(const fit_data *d, const fit_tolerances *tol, double *theta);

/* Starting grid of the spec for nvars variables: number of starts and the
 * i-th start (raw coordinates). */
int64_t fit_grid_size(int nvars);
void fit_grid_start(int nvars, int64_t index, double *theta);

/* Run every grid start (on `threads` OpenMP threads), keep the best: writes
 * best theta, best objective and the fraction of starts within 0.1 % of it.
 * No start reaching a finite objective gives CLS_OK with *best_obj = +inf;
 * CLS_E_NOMEM (with a message) when the per-start buffers cannot be allocated. */
cls_status fit_multistart(const fit_data *d, const fit_tolerances *tol, const int64_t *starts,
                          int64_t nstarts, const double *extra_start, int threads, double *best_theta,
                          double *best_obj, double *fraction);

/* Power law by least squares on (log10 x, log10 y) with weights w (counts;
 * points with w == 0 are absent); binned: bin centres vs min log10 y per bin.
 * raw = (log10 A, alpha). Returns 0 and sets an error when fewer than 3
 * points/bins remain or all x are equal. */
int fit_power(const double *x, const double *y, const double *w, int64_t n, int binned, int bins,
              double raw[2], double *objective, int64_t *npoints);

/* From raw coordinates: reported parameters and derived quantities. */
void fit_raw_to_quantities(cls_law law, int nvars, const double *raw, double *params,
                           double *derived);
/* Fill names, nparams, nraw, nderived for a law. */
void fit_describe(cls_fit_result *r);

/* Percentile intervals of every quantity from boot_raw (NaN when none). */
void fit_intervals(cls_fit_result *r);

/* Percentile (0..100) of the finite values among v[0..n) (sorted copy,
 * linear interpolation like NumPy's default); NaN when none is finite. */
double fit_percentile(const double *v, int64_t n, double q);

/* Append a warning sentence. */
void fit_warn(cls_fit_result *r, unsigned flag, const char *fmt, ...) CLS_PRINTF(3, 4);

/* Bootstrap refits into r->boot_raw (allocated here). */
cls_status fit_bootstrap(const double *x, const double *y, const int64_t *groups, int64_t n,
                         const cls_fit_options *opt, int misscaled, cls_fit_result *r);

#endif
