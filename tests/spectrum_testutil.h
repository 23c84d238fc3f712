/* Shared helpers for the spectrum tests: synthetic embeddings with a known
 * population spectrum and an independent double reference for eigenvalues
 * (naive two-pass covariance + LAPACK dsyev, the QR algorithm, where the
 * library uses blocked syrk + dsyevd, divide and conquer). */
#ifndef CLS_SPECTRUM_TESTUTIL_H
#define CLS_SPECTRUM_TESTUTIL_H

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clscale.h"

/* Random orthogonal d x d (QR of a Gaussian matrix), row-major. */
static inline double *random_rotation(int64_t d, uint64_t seed)
{
    cls_rng rng;
    cls_rng_seed_stream(&rng, seed, 77);
    double *q = malloc((size_t)(d * d) * sizeof(double));
    double *tau = malloc((size_t)d * sizeof(double));
    cls_rng_fill_normal_f64(&rng, q, d * d);
    LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (int)d, (int)d, q, (int)d, tau);
    LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (int)d, (int)d, (int)d, q, (int)d, tau);
    free(tau);
    return q;
}

/* n x d rows ~ N(offset, diag(k^-alpha)), optionally rotated: X = Z diag(sqrt l) Q^T. */
static inline double *powerlaw_rows(int64_t n, int64_t d, double alpha, uint64_t seed, int rotate,
                             double offset)
{
    cls_rng rng;
    cls_rng_seed(&rng, seed);
    double *z = malloc((size_t)(n * d) * sizeof(double));
    cls_rng_fill_normal_f64(&rng, z, n * d);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) z[i * d + j] *= pow((double)(j + 1), -alpha / 2);
    if (rotate) {
        double *q = random_rotation(d, seed);
        double *x = malloc((size_t)(n * d) * sizeof(double));
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)d, (int)d, 1.0, z, (int)d, q,
                    (int)d, 0.0, x, (int)d);
        free(q);
        free(z);
        z = x;
    }
    for (int64_t k = 0; k < n * d; k++) z[k] += offset;
    return z;
}

static inline float *to_f32(const double *x, int64_t count)
{
    float *f = malloc((size_t)count * sizeof(float));
    for (int64_t k = 0; k < count; k++) f[k] = (float)x[k];
    return f;
}

static inline int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Reference: eigenvalues (descending, all d) of the covariance (centred,
 * /(n-1)) or second moment (/n), naive loops + dsyev. */
static inline double *reference_eigs(const double *x, int64_t n, int64_t d, int center)
{
    double *mu = calloc((size_t)d, sizeof(double));
    if (center) {
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < d; j++) mu[j] += x[i * d + j];
        for (int64_t j = 0; j < d; j++) mu[j] /= (double)n;
    }
    double *c = calloc((size_t)(d * d), sizeof(double));
    double *y = malloc((size_t)d * sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < d; j++) y[j] = x[i * d + j] - mu[j];
        for (int64_t a = 0; a < d; a++)
            for (int64_t b = 0; b <= a; b++) c[a * d + b] += y[a] * y[b];
    }
    double s = 1.0 / (double)(center ? n - 1 : n);
    for (int64_t k = 0; k < d * d; k++) c[k] *= s;
    double *w = malloc((size_t)d * sizeof(double));
    LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'L', (int)d, c, (int)d, w);
    qsort(w, (size_t)d, sizeof(double), cmp_desc);
    free(mu), free(c), free(y);
    return w;
}

#endif
