/* High-dimensional dynamics of a one-layer nonlinear contrastive model:
 * finite-N online SGD against its N -> infinity ODE limit (spec: dynamics.md).
 *
 * Model: N coordinates, p planted features (the first p coordinates) carrying
 * c_j drawn from a discrete law, unit-variance Gaussian background elsewhere;
 * two views x + eps*xi(v) with corr(xi(1), xi(2)) = rho; K units with fields
 * h(v)_k = w_k . x(v) / sqrt(N) and sigma = tanh; loss per sample
 *   l = -sum_i C_ii + lambda * sum_{i != j} C_ij^2 / 2,  C_ij = sigma(h1_i) sigma(h2_j);
 * online SGD with weight decay, time t = steps / N.
 * Order parameters: Q (p x K, row-major, Q[j*K+k] = a_j . w_k / sqrt N) and
 * R (K x K, R[k*K+l] = w_k . w_l / N); cos_jk = Q_jk / sqrt(R_kk). */
#ifndef CLSCALE_DYNAMICS_H
#define CLSCALE_DYNAMICS_H

#include <stdint.h>

#include "../clscale.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLS_DYNAMICS_LAW_MAX 16 /* support points of one discrete law */
#define CLS_DYNAMICS_MAX_K 8    /* units */
#define CLS_DYNAMICS_MAX_P 8    /* features */
#define CLS_DYNAMICS_NODES_DEFAULT 40 /* Gauss-Hermite nodes per dimension */

/* A discrete law for one feature strength c: P(c = value[i]) = prob[i]. */
typedef struct {
    int n;
    double value[CLS_DYNAMICS_LAW_MAX];
    double prob[CLS_DYNAMICS_LAW_MAX];
} cls_dynamics_law;

/* c = +-sqrt(m2) with probability 1/2 each (m2 > 0). */
CLS_API cls_status cls_dynamics_law_rademacher(cls_dynamics_law *law, double m2);
/* P(c != 0) = s, c in {0, +-sqrt(m2/s)}: kurtosis 1/s (m2 > 0, 0 < s <= 1). */
CLS_API cls_status cls_dynamics_law_sparse(cls_dynamics_law *law, double m2, double s);
/* An explicit table; probabilities must be >= 0 and sum to 1 (to 1e-9). */
CLS_API cls_status cls_dynamics_law_table(cls_dynamics_law *law, int n, const double *value, const double *prob);
/* Parse "rademacher:m2=2", "sparse:m2=2,s=0.2" or "table:v:p,v:p,...". */
CLS_API cls_status cls_dynamics_law_parse(cls_dynamics_law *law, const char *text);
/* Check a law (n in range, finite values, probabilities >= 0 summing to 1). */
CLS_API cls_status cls_dynamics_law_check(const cls_dynamics_law *law, const char *name);
/* E c^k. */
CLS_API double cls_dynamics_law_moment(const cls_dynamics_law *law, int k);

/* The model's parameters; law[j] is the law of feature j (j < p). */
typedef struct {
    int K, p;
    double tau;    /* learning rate */
    double mu;     /* L2 weight decay */
    double eps;    /* augmentation noise level (>= 0) */
    double rho;    /* correlation of the two views' noise (|rho| <= 1) */
    double lambda; /* strength of the off-diagonal penalty */
    cls_dynamics_law law[CLS_DYNAMICS_MAX_P];
} cls_dynamics_model;

/* The spec's defaults: K = p = 1, tau 0.5, mu 1, eps 0, rho 0, lambda 1,
 * c Rademacher with m2 = 2. */
CLS_API void cls_dynamics_model_init(cls_dynamics_model *model);
/* Validate every parameter; the message names the offending one. */
CLS_API cls_status cls_dynamics_model_check(const cls_dynamics_model *model);

/* Number of records at t = 0, every, 2 every, ... <= T (+1e-9); 0 if invalid. */
CLS_API int cls_dynamics_n_records(double T, double every);

/* The default initial state: Q_jk = q0 if j == k mod p else 0, R = r0 * I.
 * Q0 is p x K, R0 is K x K. */
CLS_API void cls_dynamics_initial_state(const cls_dynamics_model *model, double q0, double r0, double *Q0, double *R0);
/* Check an initial state: finite, R symmetric, R - Q^T Q positive semi-definite. */
CLS_API cls_status cls_dynamics_check_state(const cls_dynamics_model *model, const double *Q, const double *R);

/* cos_jk = Q_jk / sqrt(R_kk) for one state (p x K out). */
CLS_API void cls_dynamics_cosines(int p, int K, const double *Q, const double *R, double *cos_out);

/* ---- ODE limit ---- */

/* Gauss-Hermite rule for weight exp(-x^2) (Golub-Welsch, LAPACKE_dstev):
 * sum_i w_i f(x_i) ~ integral exp(-x^2) f(x) dx, exact for degree <= 2n-1. */
CLS_API cls_status cls_dynamics_gauss_hermite(int n, double *nodes, double *weights);

/* The ODE right-hand side with its quadrature (fixed at creation). */
typedef struct cls_dynamics_ode cls_dynamics_ode;

/* nodes: Gauss-Hermite nodes per dimension for the fields (0 = 40). With
 * K = 1 the fields given c are 2-D Gaussian and the expectation is an exact
 * sum over the c-table times a nodes x nodes Gauss-Hermite product in rotated
 * (sum, difference) coordinates (one dimension when eps = 0 or rho = 1). For
 * K > 1 the same product when the fields have 2 dimensions (eps = 0, K = 2),
 * else 8192 fixed Halton quasi-Monte-Carlo points (~1e-3 accurate in cos):
 * either way a fixed rule, so the right-hand side is smooth. */
CLS_API cls_status cls_dynamics_ode_create(cls_dynamics_ode **out, const cls_dynamics_model *model, int nodes);
CLS_API void cls_dynamics_ode_free(cls_dynamics_ode *ode);
/* Number of quadrature points per c-value combination (for reports). */
CLS_API int64_t cls_dynamics_ode_points(const cls_dynamics_ode *ode);

/* dQ/dt (p x K) and dR/dt (K x K) at (Q, R). */
CLS_API cls_status cls_dynamics_ode_rhs(cls_dynamics_ode *ode, const double *Q, const double *R, double *dQ, double *dR);

/* RK4 from (Q0, R0) with step dt (shrunk so that `every` is a whole number of
 * steps); records n_rec = cls_dynamics_n_records(T, every) states:
 * Q_out[n_rec][p][K], R_out[n_rec][K][K]. */
CLS_API cls_status cls_dynamics_ode_integrate(cls_dynamics_ode *ode, const double *Q0, const double *R0, double T,
                                 double dt, double every, double *Q_out, double *R_out);

/* ---- finite-N online SGD ---- */

/* Optional progress report: called with the fraction of seeds done. */
typedef void (*cls_dynamics_progress_fn)(void *ctx, double frac);

/* Run `seeds` independent SGD trajectories in dimension N from (Q0, R0)
 * (built exactly: feature coordinates Q0*sqrt(N), background orthonormalised
 * and scaled so that w.w/N = R0). Seed s uses rng stream (seed, s), so the
 * result is the same for any thread count (threads = 0: all cores).
 * Outputs: Q_out[seeds][n_rec][p][K], R_out[seeds][n_rec][K][K]. */
CLS_API cls_status cls_dynamics_sgd_run(const cls_dynamics_model *model, int64_t N, const double *Q0, const double *R0,
                           double T, double every, int seeds, uint64_t seed, int threads,
                           double *Q_out, double *R_out, cls_dynamics_progress_fn progress,
                           void *progress_ctx);

/* Across-seed summary of cls_dynamics_sgd_run's output (Q[seeds][n_rec][p][K],
 * R[seeds][n_rec][K][K]): per record, the seed mean and sample standard
 * deviation (n - 1; 0 for one seed) of cos_jk = Q_jk / sqrt(R_kk) (|cos| when
 * use_abs), and the seed mean of R. Outputs cos_mean, cos_sd [n_rec][p][K]
 * and r_mean [n_rec][K][K]; any may be NULL. */
CLS_API cls_status cls_dynamics_sgd_summary(const cls_dynamics_model *model, int64_t n_rec, int64_t seeds,
                                            const double *Q, const double *R, int use_abs,
                                            double *cos_mean, double *cos_sd, double *r_mean);

/* ---- fixed points (K = 1) ---- */

typedef struct {
    double r_u;      /* the uninformative point's r (q = 0) */
    double S1;       /* E0[s''(h1)s(h2) + s'(h1)s'(h2)] at r_u */
    double D0;       /* 2(1+eps^2)E0[s'^2 s^2] + 2(1+eps^2 rho)E0[ss'(h1) ss'(h2)] */
    double m2_c;     /* learnable iff m2 > m2_c = 1 + tau D0 / (4 r_u S1) */
    double growth_rate[CLS_DYNAMICS_MAX_P]; /* Gamma_q of each feature (its m2) */
} cls_dynamics_threshold;

/* K = 1 (any p): r_u by bisection on [1e-6, 10] for the non-trivial root of
 * dr/dt at q = 0, then S1, D0, m2_c and each feature's growth rate
 * Gamma_q = tau [2 (m2 - 1) S1 - tau D0 / (2 r_u)]. */
CLS_API cls_status cls_dynamics_threshold_compute(const cls_dynamics_model *model, int nodes, cls_dynamics_threshold *out);

typedef struct {
    double q, r;
    double eig_re[2], eig_im[2]; /* Jacobian eigenvalues of (dq/dt, dr/dt) */
    double jacobian[4];          /* row-major [dq'/dq dq'/dr; dr'/dq dr'/dr] */
    int stable;                  /* both real parts < 0 */
    int found;                   /* 0: no such point (e.g. no informative point) */
} cls_dynamics_fixed_point;

/* K = p = 1: the uninformative point (q = 0, r_u) and the informative point
 * (Newton from the ODE state reached at t = 200 from (q0, r0)); Jacobians by
 * central differences of the RHS, eigenvalues in closed form. */
CLS_API cls_status cls_dynamics_fixed_points(const cls_dynamics_model *model, int nodes, double q0, double r0,
                                cls_dynamics_fixed_point *uninformative, cls_dynamics_fixed_point *informative);

/* ---- feature selection (K = 1, p = 2) ---- */

/* Basin map: start at Q = q_norm (cos theta_i, sin theta_i), R = r0, theta_i
 * = theta_max * i / (n_theta - 1); integrate the ODE to T with step dt and
 * report winner[i] (0 or 1: the feature with the larger |cos|, -1 when
 * undecided: max |cos| < 0.5 or the two within 0.1) and the final
 * |cos| pair cos_out[2 i + j]. */
CLS_API cls_status cls_dynamics_basins(const cls_dynamics_model *model, int nodes, double q_norm, double r0,
                          int n_theta, double theta_max, double T, double dt, double *theta_out,
                          int *winner_out, double *cos_out);

#ifdef __cplusplus
}
#endif

#endif
