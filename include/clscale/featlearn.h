/* Feature learning and scaling exponents: the solvable projected-SGD model of
 * Bordelon, Atanasov & Pehlevan ("How Feature Learning Can Improve Neural
 * Scaling Laws", arXiv 2409.17858).
 *
 * Features psi in R^M with E psi psi^T = Lambda, lambda_k = k^-alpha; target
 * y = w*.psi with w*_k = sqrt(k^(-alpha*beta-1) / lambda_k). Model
 * f = w^T A psi / N with w in R^N (w0 = 0), A = B A0, A0 entries N(0, 1).
 * Error v = w* - A^T w / N, population loss L = sum_k lambda_k v_k^2.
 * Projected SGD (simultaneous updates, Sigma = Lambda for the population
 * gradient or Psi^T Psi / batch):
 *   w <- w + eta A Sigma v,   A <- A + eta gamma w (v^T Sigma)(A0^T A0 / N).
 * gamma = 0 is the lazy (kernel) limit, gamma > 0 the rich one.
 *
 * Predictions: L ~ t^-chi(beta), chi = beta max(1, 2/(1+beta)), so feature
 * learning helps hard tasks (beta < 1) only; the width bottleneck
 * E(N) = sum lambda_k w*_k^2 kappa/(lambda_k+kappa) with
 * sum lambda_k/(lambda_k+kappa) = N; the compute-optimal exponents of
 * L*(C) = min_N L(C/N, N) in cls_featlearn_predict. */
#ifndef CLSCALE_FEATLEARN_H
#define CLSCALE_FEATLEARN_H

#include <stdint.h>

#include "../clscale.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a run is computed. All three give the same numbers (up to rounding);
 * AUTO picks the cheapest. */
typedef enum {
    CLS_FEATLEARN_AUTO = 0,
    /* Function space: tracks v (M), S = A^T A / N (M x M, only when gamma > 0)
     * and |w|^2/N; cost per step ~3 M^2 (rich) or M^2 (lazy). The only engine
     * for infinite width (N = 0). AUTO uses it when N >= M/2. */
    CLS_FEATLEARN_FUNCTION = 1,
    /* Width space: tracks w (N) and B (N x N) with A = B A0; cost per step
     * ~4 N^2 (rich) or N^2 (lazy) for the population gradient. AUTO uses it
     * when N < M/2. */
    CLS_FEATLEARN_WIDTH = 2,
    /* The literal update of the N x M matrix A with plain loops: the float64
     * specification the two fast engines are tested against (small sizes). */
    CLS_FEATLEARN_REFERENCE = 3
} cls_featlearn_engine;

typedef struct {
    double alpha;       /* spectrum exponent, lambda_k = k^-alpha, alpha > 1 (2) */
    double beta;        /* source exponent, beta > 0 (0.5) */
    int64_t N;          /* width; 0 = infinite width (A0^T A0 / N = I) (2000) */
    int64_t M;          /* number of features (truncation of M = inf) (1000) */
    double gamma;       /* feature-learning strength, 0 = lazy (0) */
    double eta;         /* learning rate (0.1) */
    int64_t batch;      /* batch size; 0 = population gradient (0) */
    int64_t steps;      /* number of SGD steps T (20000) */
    int64_t seeds;      /* draws of A0 (and of the batches) (8) */
    uint64_t seed;      /* base seed; draw d uses rng streams 2d and 2d+1 (0) */
    int checkpoints_per_decade; /* log-spaced checkpoint grid in eta*t (20) */
    int threads;        /* OpenMP threads over draws; 0 = all cores (0) */
    cls_featlearn_engine engine; /* (AUTO) */
} cls_featlearn_config;

/* Fill *cfg with the defaults above. */
CLS_API void cls_featlearn_config_init(cls_featlearn_config *cfg);

/* Check a configuration; CLS_E_INVALID_ARG with a message naming the field. */
CLS_API cls_status cls_featlearn_config_check(const cls_featlearn_config *cfg);

/* Local slopes -d ln L / d ln(eta t): ordinary least squares of ln L on
 * ln(eta t) over every step whose eta*t lies in the closed window. */
typedef struct {
    double lo, hi;
    double slope;
    int64_t points;     /* steps inside the window */
} cls_featlearn_window;

typedef struct {
    cls_featlearn_config config;  /* the configuration that was run */
    int64_t n;          /* number of checkpoints */
    int64_t *step;      /* [n] step counts t (log-spaced, distinct, 1..T) */
    double *eta_t;      /* [n] eta * step */
    double *loss;       /* [n] population loss averaged over draws */
    double *loss_draws; /* [seeds * n] each draw's loss, row per draw */
    double loss0;       /* loss at t = 0 (sum lambda w*^2) */
    /* Steps where a draw's population loss rose (relative 1e-12 above the
     * previous step), summed over draws: with the population gradient they
     * signal an eta too large for the (growing) kernel. */
    int64_t loss_increases;
    int64_t n_windows;
    cls_featlearn_window *windows; /* slopes of the draw-averaged curve */
    double seconds;     /* wall time of the run */
} cls_featlearn_result;

/* Run cfg->seeds independent draws (OpenMP over draws, deterministic for any
 * thread count) and average the loss curves. Fails with CLS_E_NUMERIC if a
 * loss becomes non-finite or exceeds 1e4 times its initial value (an unstable
 * eta); the message gives the step and the loss-increase count. */
CLS_API cls_status cls_featlearn_run(const cls_featlearn_config *cfg, cls_featlearn_result **out);
CLS_API void cls_featlearn_result_free(cls_featlearn_result *r);

/* The half-decade windows [3,10], [10,30], [30,100], ... clipped at eta_t_max
 * (so eta*T = 2000 ends with [1000, 2000]); a clipped last window is kept when
 * it spans at least a factor 1.5. Writes at most `cap`; returns the count. */
CLS_API int cls_featlearn_windows(double eta_t_max, double *lo, double *hi, int cap);

/* OLS slope -d ln y / d ln x over the points with x in [lo, hi] (x, y > 0);
 * CLS_E_INVALID_ARG if fewer than 2 such points. */
CLS_API cls_status cls_featlearn_slope(const double *x, const double *y, int64_t n, double lo, double hi,
                        double *slope, int64_t *points);

/* The exact N = inf, full-batch lazy curve
 *   L(t) = sum_{k<=M} lambda_k w*_k^2 (1 - eta lambda_k)^(2t)
 * at the given steps; with add_tail the modes k > M are added through the
 * integral of k^(-alpha beta - 1) exp(-2 eta t k^-alpha) over (M, inf)
 * (~ M^(-alpha beta)/(alpha beta) for small eta t M^-alpha). */
CLS_API cls_status cls_featlearn_lazy_infinite(double alpha, double beta, int64_t M, double eta,
                                const double *steps, int64_t n, int add_tail, double *loss);

/* Its closed form for large eta t: (Gamma(beta)/alpha) (2 eta t)^-beta. */
CLS_API double cls_featlearn_lazy_closed_form(double alpha, double beta, double eta_t);

/* Task classes and predicted exponents (the spec's table). */
typedef enum {
    CLS_FEATLEARN_HARD = 0,       /* beta < 1 */
    CLS_FEATLEARN_EASY = 1,       /* 1 <= beta <= 2 - 1/alpha */
    CLS_FEATLEARN_SUPER_EASY = 2  /* beta > 2 - 1/alpha (both formulas agree at the edges) */
} cls_featlearn_regime;

typedef struct {
    cls_featlearn_regime regime;
    const char *regime_name;  /* "hard", "easy", "super-easy" */
    double time_lazy;         /* L ~ t^-time_lazy (= beta) */
    double time_rich;         /* L ~ t^-chi(beta) */
    double width;             /* bottleneck L ~ N^-width, alpha min(1, beta) */
    /* Compute-optimal L*(C) ~ C^-c, N* ~ C^n, t* ~ C^t (C = N t). */
    double c_lazy, n_lazy, t_lazy;
    double c_rich, n_rich, t_rich;
} cls_featlearn_prediction;

CLS_API cls_status cls_featlearn_predict(double alpha, double beta, cls_featlearn_prediction *out);

/* Width bottleneck: the deterministic equivalent E(N) (sums over k <= M),
 * solving sum lambda_k/(lambda_k + kappa) = N for kappa (needs 0 < N < M). */
CLS_API cls_status cls_featlearn_deterministic_equivalent(double alpha, double beta, int64_t M, double N,
                                           double *E, double *kappa);

typedef struct {
    int64_t n;          /* number of widths */
    int64_t *N;         /* [n] */
    double *measured;   /* [n] mean over draws of min_w L (lazy t -> inf) */
    double *measured_sd;/* [n] standard deviation over draws */
    double *equivalent; /* [n] deterministic equivalent */
    double *kappa;      /* [n] */
    double slope_measured;   /* OLS of ln E on ln N */
    double slope_equivalent;
    double slope_predicted;  /* -alpha min(1, beta) */
    double seconds;
} cls_featlearn_bottleneck_result;

/* The width grids the CLI and the tests use. Bottleneck: the spec's widths
 * 50, 71, 100, 141, 200, 283, 400 (steps of sqrt 2) that satisfy 2N < M;
 * frontier: N, N/2, N/4, ... >= 8, at most CLS_FEATLEARN_MAX_WIDTHS of them,
 * in ascending order. Each writes at most CLS_FEATLEARN_MAX_WIDTHS widths
 * into `out` and returns how many (fewer than 2: the study cannot run). */
#define CLS_FEATLEARN_MAX_WIDTHS 8
CLS_API int64_t cls_featlearn_bottleneck_widths(int64_t M, int64_t *out);
CLS_API int64_t cls_featlearn_frontier_widths(int64_t N, int64_t *out);

/* Measured E(N) = min_w sum lambda_k (w* - A0^T w/N)_k^2 (the t -> inf loss of
 * the lazy model, by a Cholesky solve) averaged over `seeds` draws of A0,
 * against the deterministic equivalent. Every N must satisfy 1 <= N < M. */
CLS_API cls_status cls_featlearn_bottleneck(double alpha, double beta, int64_t M, const int64_t *N, int64_t n,
                             int seeds, uint64_t seed, int threads,
                             cls_featlearn_bottleneck_result **out);
CLS_API void cls_featlearn_bottleneck_free(cls_featlearn_bottleneck_result *r);

/* Compute-optimal frontier L*(C) = min_N L(C/N, N), C = N t (t in steps), from
 * runs of cfg at each width in N[0..n) (log-log interpolation between
 * checkpoints). The exponent is fitted over the C where the best width is
 * neither the smallest nor the largest of the grid (all C if fewer than 3). */
typedef struct {
    int64_t nC;
    double *C;          /* [nC] log-spaced, 10 per decade */
    double *loss;       /* [nC] L*(C) */
    int64_t *N_best;    /* [nC] minimizing width */
    int64_t n_widths;
    int64_t *N;         /* [n_widths] the grid */
    int64_t loss_increases; /* summed over the runs */
    double exponent;    /* fitted -d ln L* / d ln C */
    double N_exponent;  /* fitted d ln N* / d ln C (coarse: N* is on the grid) */
    int64_t fit_points;
    double exponent_predicted; /* the table's, lazy or rich by cfg->gamma */
    double seconds;
} cls_featlearn_frontier_result;

CLS_API cls_status cls_featlearn_frontier(const cls_featlearn_config *cfg, const int64_t *N, int64_t n,
                           cls_featlearn_frontier_result **out);
CLS_API void cls_featlearn_frontier_free(cls_featlearn_frontier_result *r);

#ifdef __cplusplus
}
#endif

#endif
