/* Sketched linear contrastive learning (lcl): a simulator with an exact risk
 * decomposition (specs/lcl.md).
 *
 * Data: two correlated Gaussian views x, x' in R^d with power-law spectra
 * lambda_i = i^-a (view 2: i^-a2), correlations rho_i = rho0 * i^(-b/2). The
 * learner sees the sketched views Sx, Sx' (S is M x d, shared by both views)
 * and trains the bilinear score s_W(x, x') = (Sx)^T W (Sx') by full-batch
 * gradient descent from W = 0 on the quadratic contrastive surrogate
 *   R(W) = -<W, C_S> + 1/2 tr(W G2 W^T G1),  G_v = S H_v S^T, C_S = S C S^T.
 * Negatives are either the population (mode P: gradient G1 W G2 - C^) or the
 * N^2 in-batch pairs (mode E: gradient G1^ W G2^ - C^).
 *
 * Everything that depends on the sketch is computed once per model (O(M^2 d)
 * to form G and C_S, O(M^3) for the eigendecompositions); gradient descent
 * for any number of steps and any step schedule is then a closed form whose
 * cost does not depend on N or on the step count (only on the number of
 * constant-step segments of the schedule, O(M^2) each).
 *
 * Conventions: matrices are row-major double; M x M unless noted. Functions
 * return cls_status and set cls_last_error() on failure; outputs are left
 * untouched on failure. Warnings (e.g. an unstable step) are returned in the
 * result struct, never printed. */
#ifndef CLSCALE_LCL_H
#define CLSCALE_LCL_H

#include <stdint.h>

#include "../clscale.h"
#include "rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- data model ---------------------------------------------------------- */

typedef struct {
    int64_t d;    /* ambient dimension (default 4000) */
    double a;     /* spectrum exponent of view 1, lambda_i = i^-a, a > 1 (1.5) */
    double a2;    /* spectrum exponent of view 2; 0 = same as a (symmetric) */
    double b;     /* correlation exponent, rho_i = rho0 i^(-b/2), b > 1 (2) */
    double rho0;  /* correlation scale, 0 < rho0 < 1 (0.9) */
} cls_lcl_data;

/* Defaults of the spec: d = 4000, a = 1.5, a2 = 0 (symmetric), b = 2, rho0 = 0.9. */
CLS_API void cls_lcl_data_init(cls_lcl_data *data);

/* Validate: d >= 1, a > 1, a2 == 0 or a2 > 1, b > 1, 0 < rho0 < 1. */
CLS_API cls_status cls_lcl_data_check(const cls_lcl_data *data);

/* Irreducible risk R* = -1/2 sum_i rho_i^2 (needs no sketch). */
CLS_API double cls_lcl_r_star(const cls_lcl_data *data);

/* ---- the sketched model -------------------------------------------------- */

/* Everything the simulator needs about one sketch: G1, G2, C_S, their
 * eigendecompositions, the sketched optimum W_M* and the sampling factor of
 * the sketched views. Opaque; create/free pair. */
typedef struct cls_lcl_model cls_lcl_model;

/* Gaussian sketch S_ij ~ N(0, 1/M) from `seed`. Row r of the underlying
 * N(0, 1) matrix comes from RNG stream r of the seed, so sketches of
 * different M with the same seed are nested (the first rows agree up to the
 * 1/sqrt(M) scale) and the result does not depend on the thread count.
 * Errors: invalid data, M < 1 or M > d. `threads` = 0: all cores. */
CLS_API cls_status cls_lcl_model_create(cls_lcl_model **out, const cls_lcl_data *data, int64_t M,
                                uint64_t seed, int threads);

/* A sketch given by the caller: S is M x d row-major (d = data->d). */
CLS_API cls_status cls_lcl_model_create_sketch(cls_lcl_model **out, const cls_lcl_data *data,
                                       const double *S, int64_t M, int threads);

CLS_API void cls_lcl_model_free(cls_lcl_model *model);

CLS_API int64_t cls_lcl_model_M(const cls_lcl_model *model);
/* Largest eigenvalues of G1 and G2 (equal for symmetric views). */
CLS_API void cls_lcl_model_lambda_max(const cls_lcl_model *model, double *g1_max, double *g2_max);
/* Default stable step 0.5 / (lambda_max(G1) lambda_max(G2)). */
CLS_API double cls_lcl_model_default_lr(const cls_lcl_model *model);
/* Approximation error A = R(W_M*) - R* (exact, per sketch). */
CLS_API double cls_lcl_model_approx(const cls_lcl_model *model);
/* Read-only views of the M x M matrices (valid while the model lives). */
CLS_API const double *cls_lcl_model_G1(const cls_lcl_model *model);
CLS_API const double *cls_lcl_model_G2(const cls_lcl_model *model);
CLS_API const double *cls_lcl_model_CS(const cls_lcl_model *model);
CLS_API const double *cls_lcl_model_Wstar(const cls_lcl_model *model);

/* Product effective dimension D_M(t) = #{(i, j): kappa_ij t >= 1},
 * kappa_ij = Lambda1_i Lambda2_j (eigenvalues of G1, G2). */
CLS_API double cls_lcl_model_dim(const cls_lcl_model *model, double t);

/* Population surrogate risk R(W) = -<W, C_S> + 1/2 tr(W G2 W^T G1). */
CLS_API cls_status cls_lcl_population_risk(const cls_lcl_model *model, const double *W, double *risk);

/* ---- step schedules ------------------------------------------------------ */

/* A schedule is a list of constant-step segments: steps[k] steps of size
 * lr[k], in order. A per-step schedule is the special case steps[k] = 1.
 * Horizon t = sum_k steps[k] lr[k]. `infinite` = 1 means gradient descent run
 * to convergence (t = inf: W = the least-squares solution on the range). */
typedef struct {
    int nseg;
    const int64_t *steps;
    const double *lr;
    int infinite;
} cls_lcl_schedule;

/* phi(kappa) = 1 - prod_k (1 - lr_k kappa)^steps_k; f(kappa) = phi / kappa
 * (-> t as kappa -> 0). Exposed for tests and sweeps. */
CLS_API double cls_lcl_schedule_phi(const cls_lcl_schedule *s, double kappa);
CLS_API double cls_lcl_schedule_horizon(const cls_lcl_schedule *s);

/* Closed-form GD from W = 0 on the gradient A W B - C (A, B symmetric PSD,
 * M x M): W_L = Q_A [f(kappa_ij) o (Q_A^T C Q_B)] Q_B^T. O(M^3). */
CLS_API cls_status cls_lcl_gd_closed(int64_t M, const double *A, const double *B, const double *C,
                             const cls_lcl_schedule *s, double *W);
/* The same by plain iteration W <- W - lr_k (A W B - C): O(steps M^3). The
 * independent reference for the closed form. An infinite schedule is refused. */
CLS_API cls_status cls_lcl_gd_iterate(int64_t M, const double *A, const double *B, const double *C,
                              const cls_lcl_schedule *s, double *W);

/* ---- empirical moments ---------------------------------------------------- */

typedef enum {
    CLS_LCL_SAMPLER_AUTO = 0,     /* Wishart when N >= 2M, explicit samples otherwise */
    CLS_LCL_SAMPLER_WISHART = 1,  /* exact Wishart (Bartlett), needs N >= 2M */
    CLS_LCL_SAMPLER_EXPLICIT = 2, /* N sketched pairs drawn in R^2M via Cholesky */
    CLS_LCL_SAMPLER_FULL = 3      /* N pairs drawn in R^d, then sketched (O(N d M)) */
} cls_lcl_sampler;

/* Draw the empirical moments of N pairs: G1h = (1/N) sum u u^T,
 * G2h = (1/N) sum v v^T, Ch = (1/N) sum u v^T with u = Sx, v = Sx'.
 * *used reports the sampler actually used (AUTO resolves; WISHART with
 * N < 2M is an error). Any output pointer may be NULL except Ch. */
CLS_API cls_status cls_lcl_sample_moments(const cls_lcl_model *model, int64_t N, cls_lcl_sampler sampler,
                                  cls_rng *rng, double *G1h, double *G2h, double *Ch,
                                  cls_lcl_sampler *used);

/* Draw N sketched pairs explicitly: U, V are N x M (rows u_n = Sx_n, v_n = Sx'_n). */
CLS_API cls_status cls_lcl_sample_pairs(const cls_lcl_model *model, int64_t N, cls_rng *rng, double *U,
                                 double *V);

/* Mode-E empirical loss and gradient from the moments:
 * L = -<W, Ch> + 1/2 tr(W G2h W^T G1h), grad = G1h W G2h - Ch. */
CLS_API cls_status cls_lcl_loss_e(int64_t M, const double *G1h, const double *G2h, const double *Ch,
                          const double *W, double *loss, double *grad);
/* The same by brute force over the N^2 pairs (float64 reference):
 * L = -(1/N) sum_n s_nn + 1/(2N^2) sum_{n,m} s_nm^2, s_nm = u_n^T W v_m. */
CLS_API cls_status cls_lcl_loss_e_ref(int64_t M, int64_t N, const double *U, const double *V,
                              const double *W, double *loss, double *grad);

/* ---- risk ---------------------------------------------------------------- */

typedef enum { CLS_LCL_MODE_P = 0, CLS_LCL_MODE_E = 1 } cls_lcl_mode;

typedef struct {
    cls_lcl_mode mode;       /* P (default) or E */
    int64_t N;               /* samples; 0 = infinite (no variance) */
    cls_lcl_schedule schedule;
    int64_t draws;           /* mode E: datasets averaged (default 16) */
    int64_t monte_carlo;     /* Monte Carlo datasets with iterated GD (0 = none) */
    cls_lcl_sampler sampler; /* how datasets are drawn (AUTO) */
    uint64_t seed;           /* data seed (the sketch has its own) */
    int threads;             /* 0 = all cores */
} cls_lcl_config;

CLS_API void cls_lcl_config_init(cls_lcl_config *config);

#define CLS_LCL_MAX_WARNINGS 4

typedef struct {
    double R_star;     /* irreducible risk */
    double approx;     /* A = R(W_M*) - R* */
    double bias;       /* GD bias */
    double variance;   /* GD variance */
    double cross;      /* cross term (0 in mode P) */
    double excess;     /* approx + bias + variance + cross */
    double risk;       /* R_star + excess */
    /* mode E: standard errors over the draws (0 in mode P, where the terms
     * are exact expectations) */
    double bias_se, variance_se, cross_se, excess_se;
    double t;          /* horizon sum of steps */
    double lr;         /* first step size */
    double D_M;        /* product effective dimension at t */
    double lr_bound;   /* stability bound 2/(lambda_max lambda_max) (population G) */
    int64_t draws;     /* mode E draws used */
    /* Monte Carlo with iterated GD (monte_carlo > 0) */
    double mc_excess, mc_se;
    int64_t mc_runs;
    cls_lcl_sampler sampler_used;  /* last sampler used for datasets */
    int nwarnings;
    char warnings[CLS_LCL_MAX_WARNINGS][256];
} cls_lcl_result;

/* One point: exact expected terms in mode P, the per-draw decomposition
 * averaged over `draws` in mode E, and the Monte Carlo check if asked. */
CLS_API cls_status cls_lcl_risk(const cls_lcl_model *model, const cls_lcl_config *config,
                        cls_lcl_result *out);

/* Mode P for many horizons at once (for sweeps): with a constant step lr and
 * steps[k] steps (steps[k] < 0: t = inf), writes B[k] and the N-free variance
 * sum Vs[k] = sum_ij phi^2 (kappa + C~^2)/kappa, so that V = Vs / (2N), and
 * D[k] = D_M(t_k). Any of B, Vs, D may be NULL. O(nt M^2). */
CLS_API cls_status cls_lcl_p_curve(const cls_lcl_model *model, double lr, int nt, const double *steps,
                           double *B, double *Vs, double *D, int threads);

/* Mode E for many horizons at once, for `draws` datasets of N samples: mean
 * and standard error of bias, variance and cross per horizon (arrays of nt;
 * the *_se may be NULL). Costs 2 eigendecompositions per draw plus 4 M^3
 * products per horizon and draw. */
CLS_API cls_status cls_lcl_e_curve(const cls_lcl_model *model, int64_t N, double lr, int nt,
                           const double *steps, int64_t draws, cls_lcl_sampler sampler,
                           uint64_t seed, int threads, double *bias, double *variance,
                           double *cross, double *bias_se, double *variance_se,
                           double *cross_se);

/* ---- sweeps of the spec (S1..S6) ------------------------------------------ */

/* S1: A vs M (N = t = inf).        S2: B vs t (N = inf, fixed M).
 * S3: 2N V vs t, against D_M(t).   S4: min_t (B + V) vs N, mode P.
 * S5: risk vs M at t = inf, N fixed (U-shape A(M) + M^2/(2N)).
 * S6: as S4 in mode E (datasets from the Wishart sampler). */
typedef struct {
    int sweep;             /* 1..6 */
    cls_lcl_data data;     /* d = 0: the sweep's default d */
    int64_t M;             /* fixed M (S2, S3, S4, S6); 0 = default */
    int64_t N;             /* fixed N (S5); 0 = default */
    int64_t ngrid;         /* swept values: M (S1, S5), t (S2, S3), N (S4, S6) */
    const double *grid;    /* NULL = the default grid */
    int64_t nt;            /* horizons searched for the best t (S4, S6) */
    const double *t_grid;  /* NULL = default */
    double lr;             /* constant step; 0 = 0.5/(lambda_max lambda_max) of each sketch */
    int64_t draws;         /* S6: datasets per point (0 = default 4) */
    uint64_t seed;         /* sketch seed */
    uint64_t data_seed;    /* dataset seed (S6) */
    int threads;
} cls_lcl_sweep_config;

/* Fill the defaults of sweep `sweep` (the spec's settings). */
CLS_API void cls_lcl_sweep_config_init(cls_lcl_sweep_config *c, int sweep);

#define CLS_LCL_SWEEP_MAXCOLS 12

typedef struct {
    int sweep;
    int64_t npoints;
    int ncols;
    char colnames[CLS_LCL_SWEEP_MAXCOLS][24];
    double *table;           /* npoints x ncols, row-major (owned) */
    int xcol, ycol;          /* the fit is log(table[ycol]) on log(table[xcol]) */
    int predcol;             /* predicted curve, scaled through the data (-1: none) */
    double slope, intercept; /* measured log-log fit */
    int64_t used;            /* points in the fit */
    double predicted_slope;  /* the predicted exponent */
    double predicted_effective; /* fitted slope of the predicted curve on the grid (log corrections) */
    char predicted_text[96]; /* the formula, e.g. "-min(b-1, a)" */
    char x_label[32], y_label[48];
    double x_opt, x_opt_predicted; /* S5: argmin of the measured / predicted risk */
    int64_t M, d, N;         /* settings used */
    double lr;               /* step used (last sketch) */
    int nwarnings;
    char warnings[CLS_LCL_MAX_WARNINGS][256];
} cls_lcl_sweep_result;

CLS_API cls_status cls_lcl_sweep_run(const cls_lcl_sweep_config *c, cls_lcl_sweep_result *out);
CLS_API void cls_lcl_sweep_result_free(cls_lcl_sweep_result *r);

#ifdef __cplusplus
}
#endif

#endif
