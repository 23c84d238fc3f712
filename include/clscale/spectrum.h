/* Spectrum: label-free quality of embeddings from the eigenspectrum of their
 * covariance (alpha-ReQ power-law exponent, RankMe, effective rank,
 * participation ratio), exact (LAPACK) or randomized (Halko-Martinsson-Tropp),
 * with rows streamed in chunks so .npy files larger than memory work.
 *
 * Conventions (see docs/spectrum.md and shared/specs/spectrum.md):
 *  - centred eigenvalues are those of Xc^T Xc / (n-1) (n >= d) or of the Gram
 *    matrix Xc Xc^T / (n-1) (n < d); only min(d, n-1) are kept;
 *  - uncentred eigenvalues are those of X^T X / n (or X X^T / n); their square
 *    roots are proportional to the singular values of X that RankMe uses;
 *  - everything is accumulated in double. float32 input on the exact path is
 *    read as float32, centred in double and rounded back, and each block of
 *    at most 4096 rows (one chunk at most) is multiplied in float32 (ssyrk)
 *    and added to a double accumulator; the top max(100, hi) + 8 ranks are
 *    then refined in double (Rayleigh-Ritz, a second pass). float64 input
 *    uses dsyrk throughout. The centred and the uncentred spectrum come from
 *    one tridiagonalisation. All are tested against a pure double reference. */
#ifndef CLSCALE_SPECTRUM_H
#define CLSCALE_SPECTRUM_H

#include <stdint.h>

#include "../clscale.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CLS_SPECTRUM_AUTO = 0,       /* exact when min(n, d) <= CLS_SPECTRUM_AUTO_EXACT_MAX */
    CLS_SPECTRUM_EXACT = 1,      /* full d x d (or n x n) matrix + LAPACK dsyevd */
    CLS_SPECTRUM_RANDOMIZED = 2  /* randomized subspace iteration, top ranks only */
} cls_spectrum_method;

/* auto picks the randomized path only when the exact matrix would be larger
 * than 8192 x 8192 doubles (512 MiB and about 10^12 flops for its eigensolve). */
#define CLS_SPECTRUM_AUTO_EXACT_MAX 8192

typedef enum {
    CLS_SPECTRUM_WEIGHTS_INV = 0,  /* w_k = 1/k (alpha-ReQ) */
    CLS_SPECTRUM_WEIGHTS_NONE = 1  /* ordinary least squares */
} cls_spectrum_weights;

/* Warning flags (bits of cls_spectrum_result.warnings). */
enum {
    CLS_SPECTRUM_WARN_FINITE_N = 1u << 0,     /* hi > min(n, d)/4: finite-n bias */
    CLS_SPECTRUM_WARN_LOW_R2 = 1u << 1,       /* R^2 < 0.95: not a power law */
    CLS_SPECTRUM_WARN_FEW_RANKS = 1u << 2,    /* fewer than 10 ranks fitted */
    CLS_SPECTRUM_WARN_NONPOSITIVE = 1u << 3,  /* an eigenvalue in range is <= 0 */
    CLS_SPECTRUM_WARN_CLAMPED = 1u << 4,      /* hi clamped to the available ranks */
    CLS_SPECTRUM_WARN_ZERO_VARIANCE = 1u << 5,/* constant column(s) */
    CLS_SPECTRUM_WARN_PARTIAL = 1u << 6,      /* randomized: full-spectrum metrics absent */
    CLS_SPECTRUM_WARN_BOOTSTRAP = 1u << 7     /* some bootstrap replicates were unusable */
};

#define CLS_SPECTRUM_MAX_WARNINGS 8
#define CLS_SPECTRUM_WARNING_LEN 240

typedef struct {
    int center;                    /* 1: centre columns for alpha, effective rank, PR (default 1) */
    int rankme_center;             /* 1: RankMe on centred X too (default 0: uncentred) */
    cls_spectrum_method method;    /* default AUTO */
    int64_t fit_lo, fit_hi;        /* 1-based inclusive rank range (default 4..100) */
    cls_spectrum_weights weights;  /* default INV */
    int64_t bootstrap;             /* replicates for the alpha CI (0: none) */
    uint64_t seed;                 /* bootstrap and randomized-sketch seed (default 0) */
    int threads;                   /* BLAS threads; 0 = all cores */
    int64_t chunk_rows;            /* rows per streamed chunk; 0 = about 32 MiB worth */
    int oversample;                /* randomized: extra columns (0 = auto: max(10, rank); min 10) */
    int power_iters;               /* randomized: subspace iterations (default 6; 4..7 advised) */
    int64_t rank;                  /* randomized: eigenvalues wanted (0: fit_hi) */
} cls_spectrum_options;

CLS_API void cls_spectrum_options_init(cls_spectrum_options *opt);

/* Eigenvalues of one matrix (centred covariance or uncentred second moment). */
typedef struct {
    int64_t n, d;
    int centered;
    cls_spectrum_method method;  /* EXACT or RANDOMIZED, as used */
    int64_t count;               /* values stored */
    int64_t full_count;          /* length of the whole spectrum: min(d, n-1) centred, min(n, d) not */
    double *values;              /* descending; owned (cls_spectrum_eig_free) */
    double total;                /* sum of the whole spectrum (trace), exact on both paths */
    double total_sq;             /* sum of squares of the whole spectrum (NaN if unknown) */
    int64_t zero_variance_columns;  /* constant columns (count) */
    int64_t first_zero_variance_column;  /* -1 if none */
} cls_spectrum_eig;

CLS_API void cls_spectrum_eig_free(cls_spectrum_eig *eig);

/* Exact or randomized eigenvalues; `center` picks the matrix. Inputs are
 * row-major n x d; for the file variant rows are streamed. Non-finite input is
 * CLS_E_NONFINITE naming row and column. */
CLS_API cls_status cls_spectrum_eigenvalues_f32(const float *x, int64_t n, int64_t d, int center,
                                        const cls_spectrum_options *opt, cls_spectrum_eig *out);
CLS_API cls_status cls_spectrum_eigenvalues_f64(const double *x, int64_t n, int64_t d, int center,
                                        const cls_spectrum_options *opt, cls_spectrum_eig *out);
CLS_API cls_status cls_spectrum_eigenvalues_npy(const char *path, int center,
                                        const cls_spectrum_options *opt, cls_spectrum_eig *out);

/* Power-law fit log(l_k / total) = c - alpha log k over ranks lo..hi (1-based,
 * inclusive) with weights w_k = 1/k (or 1), closed form of the spec. R^2 is
 * unweighted, in log space, over the fitted ranks. Non-positive eigenvalues
 * are left out of the fit and flagged. `n` and `d` are used for the finite-n
 * warning only. On success *warnings holds CLS_SPECTRUM_WARN_* bits. Errors:
 * lo < 1, hi < lo + 1, fewer than 2 positive eigenvalues in range. */
CLS_API cls_status cls_spectrum_fit_alpha(const double *eig, int64_t count, double total, int64_t lo,
                                  int64_t hi, cls_spectrum_weights weights, int64_t n, int64_t d,
                                  double *alpha, double *intercept, double *r2,
                                  unsigned *warnings);

/* exp(-sum p_k ln p_k) with p_k = v_k / sum(v) + eps over `count` values
 * (terms with p_k == 0 skipped). RankMe: sqrt of eigenvalues, eps = 1e-7;
 * effective rank: the same with eps = 0. Returns NaN for an all-zero input. */
CLS_API double cls_spectrum_entropy_rank(const double *values, int64_t count, double eps);
/* RankMe / effective rank from eigenvalues (takes sqrt(max(l, 0)) first). */
CLS_API double cls_spectrum_rankme(const double *eig, int64_t count);
CLS_API double cls_spectrum_effective_rank(const double *eig, int64_t count);
/* (sum l)^2 / sum l^2 from the totals. */
CLS_API double cls_spectrum_participation_ratio(double total, double total_sq);

/* Everything the CLI reports. Metrics not available are NaN. */
typedef struct {
    int64_t n, d;
    cls_spectrum_method method;
    int centered;
    cls_spectrum_eig eig;          /* the spectrum alpha was fitted on */
    int64_t fit_lo, fit_hi;        /* range actually fitted (after clamping) */
    double alpha, intercept, r2;
    int64_t bootstrap;             /* usable replicates (0: no CI) */
    double alpha_ci95[2];          /* percentile 95% interval */
    double rankme;                 /* on uncentred X unless rankme_center */
    double effective_rank;         /* entropy rank of singular values, eps = 0 */
    double effective_rank_eig;     /* the variant on eigenvalues (a different number) */
    double participation_ratio;
    unsigned warnings;
    int n_warnings;
    char warning_text[CLS_SPECTRUM_MAX_WARNINGS][CLS_SPECTRUM_WARNING_LEN];
} cls_spectrum_result;

CLS_API void cls_spectrum_result_free(cls_spectrum_result *r);

CLS_API cls_status cls_spectrum_analyze_f32(const float *x, int64_t n, int64_t d,
                                    const cls_spectrum_options *opt, cls_spectrum_result *out);
CLS_API cls_status cls_spectrum_analyze_f64(const double *x, int64_t n, int64_t d,
                                    const cls_spectrum_options *opt, cls_spectrum_result *out);
CLS_API cls_status cls_spectrum_analyze_npy(const char *path, const cls_spectrum_options *opt,
                                    cls_spectrum_result *out);

CLS_API const char *cls_spectrum_method_name(cls_spectrum_method m);

#ifdef __cplusplus
}
#endif

#endif
