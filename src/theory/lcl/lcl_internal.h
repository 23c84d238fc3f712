/* Internal state of the lcl simulator shared by its source files
 * (lcl_model.c, lcl_gd.c, lcl_sample.c, lcl_risk.c, lcl_sweep.c). */
#ifndef CLS_LCL_INTERNAL_H
#define CLS_LCL_INTERNAL_H

#include "clscale/lcl.h"

#include "../../core/internal.h"

struct cls_lcl_model {
    cls_lcl_data data;
    int64_t M, d;
    int symmetric;        /* a2 == a: G2 == G1 (Q2/L2 alias Q1/L1) */
    double *lam1, *lam2;  /* d: view spectra */
    double *corr;         /* d: rho_i (latent correlation) */
    double *S;            /* M x d sketch (kept for the full-sample path) */
    double *G1, *G2, *CS; /* M x M population moments in sketch space */
    double *Q1, *L1;      /* eigenvectors (columns) and eigenvalues of G1 */
    double *Q2, *L2;      /* of G2 (alias of Q1/L1 when symmetric) */
    double *Ct;           /* Q1^T CS Q2 */
    double *Wstar;        /* G1^+ CS G2^+ */
    double *F;            /* 2M x 2M factor with F F^T = [[G1, CS], [CS, G2]] */
    double sum_rho2;      /* sum_i rho_i^2 */
    double approx;        /* A */
    double tol1, tol2;    /* eigenvalues at or below these count as zero (pseudo-inverse) */
    int64_t i0, j0;       /* first indices with L1 > tol1, L2 > tol2 (ascending order) */
};

/* Symmetric eigendecomposition of an n x n row-major matrix: Q (columns are
 * eigenvectors) and ascending eigenvalues w. A is not modified. */
cls_status cls_lcl_eig(int64_t n, const double *A, double *Q, double *w);

/* C = op(A) op(B) for n x n row-major matrices (alpha = 1, beta = 0). */
void cls_lcl_mm(int64_t n, int ta, const double *A, int tb, const double *B, double *C);

/* f(kappa) = phi(kappa)/kappa with its kappa -> 0 limit (t); for an infinite
 * schedule 1/kappa on valid pairs (both eigenvalues numerically nonzero) and
 * 0 otherwise (the pseudo-inverse). */
double cls_lcl_schedule_f(const cls_lcl_schedule *s, double kappa, int valid);

/* Eigenvalues at or below this are numerically zero: 64 eps M lambda_max. */
double cls_lcl_eig_tol(int64_t n, const double *w_ascending);

/* Add a warning to a result (silently dropped beyond the maximum). */
void cls_lcl_warn(cls_lcl_result *r, const char *fmt, ...) CLS_PRINTF(2, 3);

#endif
