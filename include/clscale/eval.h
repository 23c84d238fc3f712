/* clscale eval: the standard frozen-representation evaluation (spec: train.md,
 * "Evaluation"): a linear probe and k-NN on any embeddings + labels.
 *
 * Inputs are float32 row-major matrices (n x dim) and int64 labels. Labels are
 * any non-negative values; the classes are the distinct values of the
 * training labels, mapped to 0..K-1 in increasing order (so labels need not be
 * contiguous). A test label absent from the training labels can never be
 * predicted and counts as an error. Errors: empty sets, dim < 1, negative
 * labels ("train_labels[17] is -3"), NaN/Inf features ("test[4][7] is NaN"),
 * a single class.
 *
 * Linear probe: multinomial logistic regression on features standardised with
 * the training set's mean and (population) deviation (a constant column is
 * left at 0), minimising exactly scikit-learn's LogisticRegression objective
 *     f(W, b) = sum_i -log softmax(W^T x_i + b)[y_i] + (lambda/2) ||W||_F^2,
 * lambda = 1/C, the intercept b unpenalised. The grid is over lambda (= 1/C):
 * grid_n values log-spaced from grid_lo to grid_hi. Each lambda is fitted on a
 * seeded 90 % of the training rows and scored on the other 10 %, from the
 * largest lambda down, each fit warm-started from the previous one; the best
 * held-out accuracy wins (ties: the larger lambda); then the model is refitted
 * on all training rows at that lambda (warm-started) and scored on the test
 * set. L-BFGS (liblbfgs) with the analytic gradient; the objective is computed
 * in row chunks on all threads (logits by cls_gemm_f32 in float32, softmax,
 * loss and gradient accumulated in double), with a fixed reduction order, so
 * the result does not depend on the thread count.
 *
 * k-NN: cosine similarity (rows L2-normalised; an all-zero row has similarity
 * 0 to everything), the k most similar training rows of each test row, votes
 * exp(s/temperature) (weighted) or 1 (majority). Similarities are computed in
 * tiles of chunk test rows x all training rows by cls_gemm_f32 with a running
 * top-k per row, so memory is O(chunk x n_train) plus the inputs. Tie-breaking
 * is deterministic: among equal similarities the lower training index ranks
 * first; among equal votes the lower class (smaller label value) wins. The
 * result is the same for any chunk size and thread count. */
#ifndef CLSCALE_EVAL_H
#define CLSCALE_EVAL_H

#include <stdint.h>

#include "../clscale.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- linear probe ---- */

typedef struct {
    int threads;          /* 0 = all cores */
    uint64_t seed;        /* held-out split (default 0) */
    double grid_lo;       /* smallest lambda = 1/C of the grid (default 1e-2) */
    double grid_hi;       /* largest lambda (default 1e4) */
    int grid_n;           /* grid points, log-spaced (default 7; 1: just grid_lo, no held-out split) */
    double holdout;       /* fraction held out for the choice (default 0.1) */
    int max_iter;         /* L-BFGS iterations per fit (default 1000) */
    double tol;           /* L-BFGS stop on f/n: ||g|| <= tol * max(1, ||x||), or f decreasing by
                             less than tol * 1e-3 (relative) over 5 iterations (default 1e-4) */
    int64_t chunk;        /* rows per objective chunk (default 0: 1024) */
    int confusion;        /* 1: fill cls_probe_result.confusion (default 0) */
} cls_probe_options;

CLS_API void cls_probe_options_init(cls_probe_options *opt);

typedef struct {
    double accuracy;          /* test accuracy in [0, 1] */
    double l2;                /* chosen lambda (= 1/C) */
    double C;                 /* 1 / l2 */
    int grid_n;
    double *grid;             /* the lambdas tried (grid_n, descending) */
    double *grid_accuracy;    /* held-out accuracy for each (grid_n) */
    int64_t n_classes;        /* K */
    int64_t *classes;         /* the label value of each class (K, increasing) */
    double *per_class;        /* test accuracy per class (K; NaN if the class is absent from test) */
    int64_t *confusion;       /* K x K counts [true][predicted], or NULL if not requested;
                                 test rows with a label unseen in training are not counted */
    int64_t *predictions;     /* predicted label value per test row (n_test) */
    int64_t dim;
    double *coef;             /* K x dim, on the standardised features (row-major) */
    double *intercept;        /* K */
    double *mean, *scale;     /* dim each: the standardisation (scale 1 for constant columns) */
    double objective;         /* f(W, b) of the final fit on all training rows */
    int iterations;           /* L-BFGS iterations of the final fit */
    int64_t evaluations;      /* objective evaluations, all fits together */
} cls_probe_result;

CLS_API void cls_probe_result_free(cls_probe_result *r);

CLS_API cls_status cls_eval_probe(const float *train, const int64_t *train_labels, int64_t n_train,
                                  const float *test, const int64_t *test_labels, int64_t n_test,
                                  int64_t dim, const cls_probe_options *opt, cls_probe_result *out);

/* The probe objective on already standardised features x (n x dim) with class
 * indices y in 0..K-1: f and its gradient (grad_coef K x dim, grad_intercept
 * K; either may be NULL) at coef (K x dim), intercept (K). For checks against
 * finite differences and scikit-learn. */
CLS_API cls_status cls_probe_objective(const float *x, const int64_t *y, int64_t n, int64_t dim,
                                       int64_t n_classes, const double *coef, const double *intercept,
                                       double l2, int threads, double *f, double *grad_coef,
                                       double *grad_intercept);

/* ---- k-NN ---- */

typedef struct {
    int64_t k;            /* neighbours (default 200; clamped to n_train) */
    int weighted;         /* 1: votes exp(s/temperature) (default); 0: majority */
    double temperature;   /* default 0.07 */
    int threads;          /* 0 = all cores */
    int64_t chunk;        /* test rows per similarity tile (default 0: about 32 MiB of tile) */
} cls_knn_options;

CLS_API void cls_knn_options_init(cls_knn_options *opt);

#define CLS_KNN_MAX_CLASSES 100000

typedef struct {
    double accuracy;          /* test accuracy in [0, 1] */
    int64_t k;                /* neighbours used */
    int64_t n_classes;
    int64_t *predictions;     /* predicted label value per test row (n_test) */
} cls_knn_result;

CLS_API void cls_knn_result_free(cls_knn_result *r);

CLS_API cls_status cls_eval_knn(const float *train, const int64_t *train_labels, int64_t n_train,
                                const float *test, const int64_t *test_labels, int64_t n_test,
                                int64_t dim, const cls_knn_options *opt, cls_knn_result *out);

#ifdef __cplusplus
}
#endif

#endif /* CLSCALE_EVAL_H */
