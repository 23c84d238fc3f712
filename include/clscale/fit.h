/* Scaling-law fitting with bootstrap intervals, and compute-optimal planning.
 *
 * Law forms (names of the parameters as reported):
 *   power       y = A * x^-alpha                       A, alpha
 *               least squares on (log10 x, log10 y); optionally on the binned
 *               frontier (bin centres against the minimum log10 y per bin)
 *   saturating  L = E + A * x^-alpha                   E, A, alpha
 *   chinchilla  L = E + A / N^alpha + B / D^beta       E, A, B, alpha, beta
 *   additive    L = E + sum_k Ak * xk^-alphak (k<=4)   E, A1.., alpha1..
 * The last three are fitted in log space, L = exp(LSE(a_k - alpha_k ln x_k, e)),
 * by minimising sum_i Huber_delta(LSE_i - ln L_i) / delta (delta = 1e-3) with
 * L-BFGS (libLBFGS, More-Thuente line search) from every start of a grid
 * (4,500 starts for chinchilla). Exponents are positive for decreasing laws.
 *
 * Uncertainty: bootstrap over points (or whole groups), each refit warm-started
 * from the full-data optimum plus a few fixed random grid starts; percentile
 * 80 % and 95 % intervals for every parameter and derived quantity
 * (chinchilla: the allocation exponents a, b and the coefficient G). */
#ifndef CLSCALE_FIT_H
#define CLSCALE_FIT_H

#include <stdint.h>

#include "clscale.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CLS_LAW_POWER = 0,
    CLS_LAW_SATURATING = 1,
    CLS_LAW_CHINCHILLA = 2,
    CLS_LAW_ADDITIVE = 3
} cls_law;

#define CLS_FIT_MAX_VARS 4
#define CLS_FIT_MAX_PARAMS (1 + 2 * CLS_FIT_MAX_VARS)
#define CLS_FIT_MAX_DERIVED 3
#define CLS_FIT_MAX_QUANT (CLS_FIT_MAX_PARAMS + CLS_FIT_MAX_DERIVED)
#define CLS_FIT_MAX_WARNINGS 8
#define CLS_FIT_NAME_LEN 16

/* Warning flags (cls_fit_result.warning_flags); each also has a sentence in
 * cls_fit_result.warnings. */
enum {
    CLS_FIT_WARN_FEW_CONVERGED = 1 << 0, /* < 5 % of starts reach the best objective */
    CLS_FIT_WARN_NARROW_RANGE = 1 << 1,  /* a variable spans less than one decade */
    CLS_FIT_WARN_BOOTSTRAP = 1 << 2,     /* some bootstrap refits failed */
    CLS_FIT_WARN_FEW_GROUPS = 1 << 3     /* fewer than 10 groups/points to resample */
};

typedef struct {
    cls_law law;
    int nvars;            /* additive only: number of x variables (1..4); the other laws fix it (1, 1, 2) */
    int frontier_binned;  /* power only: fit the binned frontier */
    int bins;             /* bins of the frontier (default 5) */
    int bootstrap;        /* bootstrap resamples (0 = none; default 0 in the library) */
    int boot_random_starts; /* fixed random grid starts per bootstrap refit besides the warm start (default 4) */
    uint64_t seed;        /* bootstrap seed (default 0) */
    int threads;          /* OpenMP threads, 0 = all cores */
    double huber_delta;   /* default 1e-3 */
    int max_iterations;   /* L-BFGS iterations per start (default 10000) */
    int grid_stride;      /* use every grid_stride-th start of the grid (default 1 = the full
                             grid, as the spec asks; larger only for quick experiments) */
} cls_fit_options;

typedef struct {
    cls_law law;
    int nvars;
    int frontier_binned, bins;
    int nparams;                                   /* reported parameters */
    char param_names[CLS_FIT_MAX_PARAMS][CLS_FIT_NAME_LEN];
    double params[CLS_FIT_MAX_PARAMS];
    int nraw;                                      /* optimiser coordinates */
    double raw[CLS_FIT_MAX_PARAMS];                /* power: log10 A, alpha; others: e, a_1..a_k, alpha_1..alpha_k */
    int nderived;
    char derived_names[CLS_FIT_MAX_DERIVED][CLS_FIT_NAME_LEN];
    double derived[CLS_FIT_MAX_DERIVED];
    /* Intervals for params then derived quantities (NaN when no bootstrap). */
    double ci80[CLS_FIT_MAX_QUANT][2];
    double ci95[CLS_FIT_MAX_QUANT][2];
    double objective;                  /* Huber/delta sum (power: sum of squared log10 residuals) */
    int64_t n_points;                  /* points (power binned: non-empty bins) fitted */
    int64_t n_starts;                  /* optimiser starts */
    double starts_converged_fraction;  /* starts within 0.1 % of the best objective */
    int bootstrap;                     /* resamples done */
    int bootstrap_failed;              /* refits that did not yield a finite optimum (excluded) */
    double *boot_raw;                  /* bootstrap x nraw raw optima (NaN rows for failures); owned */
    unsigned warning_flags;
    int nwarnings;
    char warnings[CLS_FIT_MAX_WARNINGS][200];
} cls_fit_result;

/* Defaults: law power, nvars 1, bins 5, bootstrap 0, 4 random starts, seed 0,
 * threads 0, delta 1e-3, 10000 iterations. */
CLS_API void cls_fit_options_init(cls_fit_options *opt);

/* Preparation of a table before a fit (what `clscale fit` does with
 * --tokens-from-compute, --one-minus-y and --drop-top). */
typedef struct {
    int tokens_from_compute; /* nvars == 2, columns (N, C): replace C by D = C / (cost_factor N) */
    double cost_factor;      /* default 6 (C = 6 N D) */
    int one_minus_y;         /* y -> 1 - y (error from accuracy) */
    int64_t drop_top;        /* drop the drop_top rows with the highest y (after 1 - y); 0 = none */
} cls_fit_prep_options;

/* Defaults: nothing changed, cost_factor 6. */
CLS_API void cls_fit_prep_options_init(cls_fit_prep_options *opt);

/* Apply opt in place to x (n x nvars, row-major) and y (n): the transforms,
 * then drop the drop_top highest y (ties: the earlier row goes first), keeping
 * the remaining rows in order. *n becomes the number of rows kept; kept (may
 * be NULL, room for n entries) receives the original index of each kept row.
 * Dropping every row is CLS_E_INVALID_ARG. */
CLS_API cls_status cls_fit_prepare(double *x, double *y, int nvars, int64_t *n,
                                   const cls_fit_prep_options *opt, int64_t *kept);

/* Number of x variables a law takes for a given request (power/saturating 1,
 * chinchilla 2, additive nvars); -1 if the combination is invalid. */
CLS_API int cls_fit_law_nvars(cls_law law, int nvars);

/* Parse "power"/"saturating"/"chinchilla"/"additive"; name of a law. */
CLS_API cls_status cls_fit_law_parse(const char *name, cls_law *law);
CLS_API const char *cls_fit_law_name(cls_law law);

/* Fit a law. x is n x nvars row-major (x[i*nvars + k]), y has n entries, all
 * positive and finite. groups (may be NULL) gives each point a group id for the
 * cluster bootstrap. On success *result is filled (free with
 * cls_fit_result_free); on failure it is untouched. Too few points, a
 * non-positive value or a bad option is an error naming it. */
CLS_API cls_status cls_fit_law(const double *x, const double *y, const int64_t *groups, int64_t n,
                       const cls_fit_options *opt, cls_fit_result *result);

/* Release what a result owns (boot_raw) and zero it. */
CLS_API void cls_fit_result_free(cls_fit_result *result);

/* Evaluate the fitted law (raw coordinates as in cls_fit_result.raw) at one
 * point x[0..nvars). */
CLS_API double cls_fit_predict(const cls_fit_result *fit, const double *x);
/* The binned frontier the power law is fitted to with frontier_binned (Cherti
 * et al.): [min log10 x, max log10 x + 0.1] split into `bins` equal bins, each
 * non-empty bin giving its centre 10^c and its lowest y. Points need x, y > 0.
 * bin_x and bin_y hold `bins` values; *count gets the non-empty bins (in order).
 * Plots call it to draw the points the fit used. */
CLS_API cls_status cls_fit_binned_frontier(const double *x, const double *y, int64_t n, int bins,
                                           double *bin_x, double *bin_y, int64_t *count);
CLS_API double cls_fit_predict_raw(cls_law law, int nvars, const double *raw, const double *x);

/* ---- the objective, exposed for tests and for anyone who wants to check it ---- */

/* Huber/delta objective of an LSE law (saturating/chinchilla/additive with
 * nvars variables) at raw coordinates theta (1 + 2*nvars entries), on
 * logx (n x nvars, natural logs) and logy (natural logs), optional weights w
 * (NULL = 1). If grad is not NULL the analytic gradient is written there. */
CLS_API double cls_fit_objective(const double *theta, int nvars, const double *logx, const double *logy,
                         const double *w, int64_t n, double delta, double *grad);

/* ---- planning ---- */

typedef struct {
    double compute;
    int nvars;
    double x[CLS_FIT_MAX_VARS];          /* optimal variables (chinchilla: N, D) */
    double loss;                         /* fitted law at the optimum */
    double x_ci80[CLS_FIT_MAX_VARS][2], x_ci95[CLS_FIT_MAX_VARS][2];
    double loss_ci80[2], loss_ci95[2];   /* NaN when the fit has no bootstrap */
} cls_plan_point;

/* Compute-optimal allocation for a budget C under the cost model
 * C = cost_factor * prod_k x_k^cost_powers[k] (cost_powers NULL = all 1;
 * chinchilla with 6, {1, 1} is C = 6 N D and uses the closed form
 * N_opt = G (C/6)^a, D_opt = (C/6)^b / G). Other laws and cost models are
 * minimised numerically (ln L is convex in ln x, so the optimum is unique).
 * Bands come from applying the same planner to every bootstrap refit. */
CLS_API cls_status cls_fit_plan(const cls_fit_result *fit, double compute, double cost_factor,
                        const double *cost_powers, cls_plan_point *out);

/* The chinchilla closed form from raw coordinates (ln E, ln A, ln B, alpha, beta)
 * of L = E + A N^-alpha + B D^-beta: the allocation exponents a = beta/(alpha+beta),
 * b = alpha/(alpha+beta) and the coefficient G = (alpha A / (beta B))^(1/(alpha+beta)),
 * so that N_opt = G (C/6)^a and D_opt = (C/6)^b / G (cls_fit_plan computes
 * those). a, b, G are NaN when alpha or beta is not positive. */
CLS_API void cls_fit_chinchilla_allocation(const double *raw, double *a, double *b, double *G);

/* ---- persistence (JSON via cJSON) ---- */

/* Write a fit (parameters, intervals, bootstrap refits, metadata) to a JSON
 * file; xnames/yname (may be NULL) record the columns. */
CLS_API cls_status cls_fit_save(const cls_fit_result *fit, const char *const *xnames, const char *yname,
                        const char *path);
/* Read a fit back (free with cls_fit_result_free). */
CLS_API cls_status cls_fit_load(const char *path, cls_fit_result *fit);
/* Parse a fit from JSON text in memory (len bytes, need not be NUL-terminated;
 * name is used in error messages, NULL gives "<memory>"). cls_fit_load is this
 * on a file's contents. */
CLS_API cls_status cls_fit_parse_json(const char *text, size_t len, const char *name, cls_fit_result *fit);

#ifdef __cplusplus
}
#endif

#endif
