/* Internal interface between the spectrum files (not installed).
 *
 * source.c      rows from memory (float/double) or a streamed .npy file
 * covariance.c  pass-1 column statistics; exact covariance / Gram accumulation
 * eigen.c       symmetric eigenvalues (LAPACK dsyevd); randomized top-k
 * metrics.c     alpha fit, entropy ranks, participation ratio
 * analyze.c     the public entry points, bootstrap and warnings */
#ifndef CLS_SPECTRUM_INTERNAL_H
#define CLS_SPECTRUM_INTERNAL_H

#include "../core/internal.h"
#include "clscale/spectrum.h"

#include <string.h>

/* A source of rows, read in chunks and converted to double. A file is
 * mapped when it can be (then f32/f64 point into the mapping and reader
 * only owns it), else streamed through reader. */
typedef struct {
    const float *f32;          /* in-memory (or mapped) float32 rows, or */
    const double *f64;         /* in-memory (or mapped) float64 rows, or */
    cls_npy_reader *reader;    /* a streamed file (f32 = f64 = NULL) or the mapping's owner */
    const char *path;          /* the file, for messages */
    int64_t n, d;
    int64_t next;              /* next row to hand out */
    int64_t view0;             /* first row of the last spec_source_view_f32 */
    int is_f32;                /* the data are float32 (exact in float) */
} spec_source;

cls_status spec_source_memory(spec_source *s, const float *f32, const double *f64, int64_t n,
                              int64_t d);
cls_status spec_source_file(spec_source *s, const char *path);
void spec_source_close(spec_source *s);
cls_status spec_source_rewind(spec_source *s);
/* Up to max_rows rows into buf (max_rows x d); *got = 0 at the end. Non-finite
 * values are CLS_E_NONFINITE naming the row and column. */
cls_status spec_source_read(spec_source *s, double *buf, int64_t max_rows, int64_t *got);
/* The same for float32 data (s->is_f32), unconverted: buf is max_rows x d floats. */
cls_status spec_source_read_f32(spec_source *s, float *buf, int64_t max_rows, int64_t *got);
/* Float32 rows without a copy: *rows points at the next (up to) max_rows
 * rows of an in-memory or mapped source (s->f32 != NULL), and the kernel is
 * asked to read the following ones ahead. NOT checked for NaN/Inf: callers
 * fold the check into their own pass over the values and report a bad one
 * with spec_source_nonfinite_f32. */
void spec_source_view_f32(spec_source *s, int64_t max_rows, const float **rows, int64_t *got);
/* The error for the first NaN/Inf in rows (m x d) that start at row row0. */
cls_status spec_source_nonfinite_f32(const spec_source *s, const float *rows, int64_t m, int64_t row0);
/* Whether a float32 value is NaN or Inf (all exponent bits set), branch-free. */
static inline unsigned spec_f32_bad(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return (u & 0x7f800000u) == 0x7f800000u;
}
/* Rows per chunk: the option if set, else about 32 MiB of doubles. */
int64_t spec_chunk_rows(const cls_spectrum_options *opt, int64_t d);
/* Default rows per float32 chunk: about 32 MiB of floats, at most 4096. */
int64_t spec_chunk_rows_f32(int64_t d);

/* Pass 1: column means and sums of squared deviations, merged chunk by chunk
 * (Chan et al.), so no E[x^2] - E[x]^2 cancellation. */
typedef struct {
    int64_t n, d;
    double *mean;   /* d */
    double *m2;     /* d: sum over rows of (x - mean)^2 */
    int64_t zero_var, first_zero_var;
} spec_stats;

cls_status spec_stats_compute(spec_source *s, int64_t chunk_rows, spec_stats *st);
void spec_stats_free(spec_stats *st);

/* Bootstrap multiplicities: counts[i] copies of row i (NULL: every row once).
 * The sum of counts is always n. */

/* Exact path, n >= d: S = sum c_i y_i y_i^T with y = x - mean in double
 * (float32 data: read as float32 without bootstrap weights, centred in
 * double and rounded back; blocks of <= 4096 rows by ssyrk or GEMM-layer
 * tiles, each added into double). Fills the centred covariance and/or the
 * uncentred second moment (both: from one tridiagonalisation); with
 * float32 data the top max(100, refine_hi) + 8 centred values are refined.
 * fuse: st holds only allocated zeroed mean/m2 arrays; pass 1 is folded into
 * this pass (no bootstrap counts) and st is filled on success. From o:
 * fit_hi (refined ranks), threads (our OpenMP loops), chunk_rows. */
cls_status spec_exact_covariance(spec_source *s, spec_stats *st, int fuse, const int32_t *counts,
                                 int64_t chunk_rows, const cls_spectrum_options *o,
                                 cls_spectrum_eig *centred, cls_spectrum_eig *uncentred);

/* Exact path, n < d: Gram matrices from the rows held in memory (centred by
 * the column means). `keep_gram`, if not NULL, receives the Gram matrix
 * (n x n, row-major lower, unscaled) the bootstrap needs: centred Y Y^T when
 * keep_center, else X X^T. */
cls_status spec_exact_gram(spec_source *s, const spec_stats *st, int64_t chunk_rows,
                           cls_spectrum_eig *centred, cls_spectrum_eig *uncentred,
                           double **keep_gram, int keep_center);
/* Eigenvalues of a bootstrap replicate from the kept Gram matrix (centred
 * Y Y^T when center, else the unscaled X X^T). */
cls_status spec_gram_bootstrap(const double *gram, int64_t n, int64_t d, const int32_t *counts,
                               int center, cls_spectrum_eig *out);

/* Eigenvalues (descending) of the symmetric k x k matrix whose lower triangle
 * (row-major) is in a; a is destroyed. */
cls_status spec_sym_eigenvalues(double *a, int64_t k, double *w_desc);
/* All eigenvalues (descending) plus the eigenvectors of the K largest, as a
 * row-major K x k array zt (row j: the vector of the j-th smallest of them). */
cls_status spec_sym_eig_top_vectors(double *a, int64_t k, double *w_desc, int64_t K, double *zt);

/* The same from one tridiagonalisation (zt may be NULL: no vectors), and,
 * when mu and wu_desc are given, the eigenvalues (descending) of the
 * uncentred moment beta A + mu mu^T with its trace and squared Frobenius
 * norm, without a second reduction. */
cls_status spec_sym_eig_pair(double *a, int64_t k, double *w_desc, int64_t K, double *zt,
                             const double *mu, double beta, double *wu_desc, double *u_trace,
                             double *u_fro2);

/* Randomized top-k eigenvalues of the centred (or uncentred) covariance. */
cls_status spec_randomized(spec_source *s, const spec_stats *st, const int32_t *counts,
                           int center, int64_t k, const cls_spectrum_options *opt,
                           int64_t chunk_rows, cls_spectrum_eig *out);

cls_status spec_eig_alloc(cls_spectrum_eig *e, int64_t count);

/* Phase timers (profile.c): with CLS_SPECTRUM_PROFILE=file in the
 * environment, begin starts the clock, mark charges the time since the last
 * mark to `phase` (a string literal; repeated phases add up) and end appends
 * the table to the file. Otherwise they do nothing. Main thread only. */
void spec_prof_begin(void);
void spec_prof_mark(const char *phase);
void spec_prof_end(void);

#endif
