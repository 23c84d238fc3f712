/* Column statistics and the exact second-moment matrices.
 *
 * Accuracy: every accumulator is double. The data are centred before any
 * product is formed (by the exact column means of pass 1, or, when pass 1 is
 * folded in, by the first chunk's mean followed by the exact correction
 * -n m m^T for the small residual mean m), so the covariance is never obtained
 * by cancelling E[xx^T] against mu mu^T; the uncentred moment
 * is rebuilt from the centred one by adding n mu mu^T, which cannot cancel
 * (both terms are positive semi-definite). For float32 data the centred rows
 * are rounded to float32 (a relative perturbation of 6e-8 per entry, the same
 * size as the storage error the data already carry) and multiplied by ssyrk
 * in blocks of at most SPEC_F32_BLOCK rows (and one chunk), each block's product added into
 * the double accumulator: rounding inside a block grows like sqrt(block) and
 * the blocks' errors average out over n rows. This halves the time of the
 * dominant O(n d^2) step. Its error is absolute, about 2e-9 l_1, which is
 * large relative to small eigenvalues of a steep spectrum; so the top
 * SPEC_REFINE ranks are then refined: the eigenvectors of the float-built
 * matrix span the top subspace up to that error, and a second pass forms the
 * projected matrix V^T Xc^T Xc V in double, whose eigenvalues (Rayleigh-Ritz)
 * are accurate to second order. Tests compare with a pure double reference. */
#include "spectrum_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clscale/gemm.h"

#define SPEC_F32_BLOCK 4096
/* our OpenMP loops run in parallel from this many elements on: waking a
 * thread costs more than a small chunk's work (and much more on a busy box) */
#define SPEC_PARALLEL_MIN (1 << 20)
/* refined ranks: max(100, hi) + 8. Measured on the benchmark data (60000 x
 * 2048 float32, alpha = 1; docs/spectrum.md): refining exactly the top 100
 * already gives each of them to <= 1.8e-14 relative (rank 100: 2.4e-15),
 * unrefined ranks 2..100 are off by up to 6.7e-9; 8 more vectors keep the
 * Ritz values next to the cut clear of the unrefined neighbours. */
#define SPEC_REFINE_MIN 100
#define SPEC_REFINE_MARGIN 8

void spec_stats_free(spec_stats *st)
{
    cls_free(st->mean);
    cls_free(st->m2);
    st->mean = st->m2 = NULL;
}

cls_status spec_stats_compute(spec_source *s, int64_t chunk_rows, spec_stats *st)
{
    int64_t d = s->d;
    memset(st, 0, sizeof *st);
    st->d = d;
    st->first_zero_var = -1;
    st->mean = cls_calloc((size_t)d, sizeof(double), "spectrum column means");
    st->m2 = cls_calloc((size_t)d, sizeof(double), "spectrum column variances");
    double *buf = cls_alloc((size_t)chunk_rows * (size_t)d * sizeof(double), "spectrum chunk");
    double *cm = cls_alloc((size_t)d * sizeof(double), "spectrum chunk means");
    double *cm2 = cls_alloc((size_t)d * sizeof(double), "spectrum chunk variances");
    cls_status status = (st->mean && st->m2 && buf && cm && cm2) ? spec_source_rewind(s) : CLS_E_NOMEM;
    int64_t na = 0, m;
    while (!status) {
        status = spec_source_read(s, buf, chunk_rows, &m);
        if (status || m == 0) break;
        /* chunk mean and M2 by two passes over the chunk, then Chan's merge */
        for (int64_t j = 0; j < d; j++) cm[j] = 0;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < d; j++) cm[j] += buf[i * d + j];
        for (int64_t j = 0; j < d; j++) cm[j] /= (double)m;
        double nb = (double)m, ntot = (double)(na + m);
        /* row-wise (contiguous) sums of squared deviations from the chunk mean */
        for (int64_t j = 0; j < d; j++) cm2[j] = 0;
        for (int64_t i = 0; i < m; i++) {
            const double *x = buf + i * d;
            for (int64_t j = 0; j < d; j++) {
                double t = x[j] - cm[j];
                cm2[j] += t * t;
            }
        }
        for (int64_t j = 0; j < d; j++) {
            double delta = cm[j] - st->mean[j];
            st->mean[j] += delta * nb / ntot;
            st->m2[j] += cm2[j] + delta * delta * (double)na * nb / ntot;
        }
        na += m;
    }
    cls_free(buf);
    cls_free(cm);
    cls_free(cm2);
    if (!status && na != s->n)
        status = cls_set_error(CLS_E_FORMAT, "spectrum: read %lld rows, expected %lld",
                               (long long)na, (long long)s->n);
    if (status) {
        spec_stats_free(st);
        return status;
    }
    st->n = na;
    for (int64_t j = 0; j < d; j++)
        if (st->m2[j] == 0.0) {
            if (st->zero_var++ == 0) st->first_zero_var = j;
        }
    return CLS_OK;
}

cls_status spec_eig_alloc(cls_spectrum_eig *e, int64_t count)
{
    e->values = cls_calloc((size_t)(count > 0 ? count : 1), sizeof(double), "spectrum eigenvalues");
    e->count = count;
    return e->values ? CLS_OK : CLS_E_NOMEM;
}

/* trace and squared Frobenius norm of a symmetric matrix stored as row-major lower */
static void sym_traces(const double *a, int64_t k, double *tr, double *fro2)
{
    double t = 0, f = 0;
    for (int64_t i = 0; i < k; i++) {
        const double *row = a + i * k;
        for (int64_t j = 0; j < i; j++) f += 2.0 * row[j] * row[j];
        t += row[i];
        f += row[i] * row[i];
    }
    *tr = t;
    *fro2 = f;
}

static void sym_scale(double *a, int64_t k, double s)
{
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j <= i; j++) a[i * k + j] *= s;
}

/* Second pass of the float32 path: Rayleigh-Ritz in double on the top-K
 * eigenvectors zt (K x d, row-major) of the float-built covariance; the K
 * refined values replace values[0..K) (they are sorted descending). The rows
 * are read as float32 and widened (exactly) and centred in double, in
 * parallel over rows; the projection T = Y Z^T and H = T^T T are double BLAS. */
static cls_status refine_top(spec_source *s, const spec_stats *st, int64_t chunk_rows, int threads,
                             const double *zt, int64_t K, cls_spectrum_eig *e)
{
    int64_t d = st->d;
    double *buf = cls_alloc((size_t)chunk_rows * (size_t)d * sizeof(double), "spectrum chunk");
    float *fbuf = s->f32 ? NULL : cls_alloc((size_t)chunk_rows * (size_t)d * sizeof(float), "float chunk");
    double *T = cls_alloc((size_t)chunk_rows * (size_t)K * sizeof(double), "projected chunk");
    double *H = cls_calloc((size_t)(K * K), sizeof(double), "projected covariance");
    double *w = cls_alloc((size_t)K * sizeof(double), "Ritz values");
    cls_status status = (buf && (fbuf || s->f32) && T && H && w) ? spec_source_rewind(s) : CLS_E_NOMEM;
    const double *mean = st->mean;
    int nt = cls_threads_resolve(threads);
    int64_t m;
    while (!status) {
        spec_prof_mark("refine: other");
        /* in place when in memory or mapped (pass 1 checked the values) */
        const float *rows = fbuf;
        if (s->f32)
            spec_source_view_f32(s, chunk_rows, &rows, &m);
        else
            status = spec_source_read_f32(s, fbuf, chunk_rows, &m);
        spec_prof_mark("refine: read");
        if (status || m == 0) break;
#pragma omp parallel for num_threads(nt) schedule(static) if (m * d >= SPEC_PARALLEL_MIN)
        for (int64_t i = 0; i < m; i++) {
            const float *x = rows + i * d;
            double *y = buf + i * d;
            for (int64_t j = 0; j < d; j++) y[j] = (double)x[j] - mean[j];
        }
        spec_prof_mark("refine: widen+centre");
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)K, (int)d, 1.0, buf, (int)d,
                    zt, (int)d, 0.0, T, (int)K);
        spec_prof_mark("refine: dgemm");
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, (int)K, (int)m, 1.0, T, (int)K, 1.0, H, (int)K);
        spec_prof_mark("refine: dsyrk");
    }
    if (!status) {
        sym_scale(H, K, 1.0 / (double)(st->n - 1));
        status = spec_sym_eigenvalues(H, K, w);
        spec_prof_mark("refine: K x K eig");
    }
    if (!status) memcpy(e->values, w, (size_t)(K < e->count ? K : e->count) * sizeof(double));
    cls_free(buf), cls_free(fbuf), cls_free(T), cls_free(H), cls_free(w);
    return status;
}

/* Eigenvalues of a (row-major lower, k x k, destroyed), the first `keep` stored;
 * with zt != NULL also the top-K eigenvectors (see spec_sym_eig_top_vectors);
 * with u != NULL also the uncentred moment beta a + mu mu^T (first keep_u
 * values), from the same tridiagonalisation (spec_sym_eig_pair). */
static cls_status finish_eig_pair(double *a, int64_t k, int64_t keep, cls_spectrum_eig *e, int64_t K,
                                  double *zt, const double *mu, double beta, int64_t keep_u,
                                  cls_spectrum_eig *u)
{
    sym_traces(a, k, &e->total, &e->total_sq);
    spec_prof_mark("traces");
    double *w = cls_alloc((size_t)k * sizeof(double), "spectrum eigenvalues");
    double *wu = u ? cls_alloc((size_t)k * sizeof(double), "uncentred eigenvalues") : NULL;
    cls_status st = w && (!u || wu) ? CLS_OK : CLS_E_NOMEM;
    if (!st) {
        if (u)
            st = spec_sym_eig_pair(a, k, w, K, zt, mu, beta, wu, &u->total, &u->total_sq);
        else
            st = zt ? spec_sym_eig_top_vectors(a, k, w, K, zt) : spec_sym_eigenvalues(a, k, w);
    }
    if (!st) st = spec_eig_alloc(e, keep);
    spec_prof_mark("eigen: other");
    if (!st) memcpy(e->values, w, (size_t)keep * sizeof(double));
    if (!st && u) st = spec_eig_alloc(u, keep_u);
    if (!st && u) {
        memcpy(u->values, wu, (size_t)keep_u * sizeof(double));
        u->full_count = keep_u;
        u->method = CLS_SPECTRUM_EXACT;
    }
    cls_free(w);
    cls_free(wu);
    e->full_count = keep;
    e->method = CLS_SPECTRUM_EXACT;
    return st;
}

static cls_status finish_eig(double *a, int64_t k, int64_t keep, cls_spectrum_eig *e)
{
    return finish_eig_pair(a, k, keep, e, 0, NULL, NULL, 0.0, 0, NULL);
}

/* Whether the float32 Gram blocks go to OpenBLAS ssyrk (half the flops of a
 * GEMM) or to GEMM-layer tiles of the lower triangle (56% of a GEMM's
 * flops). Measured on a 2-core Zen 4 (docs/spectrum.md): ssyrk 0.18-0.20
 * CPU s per 2048 x 2048 x 4096 block, the tiles 0.21-0.25 s on either
 * backend (the GEMM layer sends these threaded products to OpenBLAS unless
 * CLS_GEMM=onednn). So ssyrk, unless CLS_SPECTRUM_SYRK=gemm. */
static int syrk_by_blas(void)
{
    const char *env = getenv("CLS_SPECTRUM_SYRK");
    return !(env && !strcmp(env, "gemm"));
}

/* Lower triangle (and diagonal tiles) of C = Y^T Y, Y m x d row-major float,
 * by GEMM-layer tiles: the block below the diagonal as one product, the two
 * diagonal halves recursively, down to SPEC_GRAM_LEAF-wide square tiles. */
#define SPEC_GRAM_LEAF 256
static cls_status gram_tiles(const float *y, int64_t m, int64_t d, int64_t off, int64_t size, float *c)
{
    if (size <= SPEC_GRAM_LEAF)
        return cls_gemm_f32(CLS_TRANS, CLS_NO_TRANS, size, size, m, 1.0f, y + off, d, y + off, d, 0.0f,
                            c + off * d + off, d);
    int64_t h = size / 2;
    cls_status st = cls_gemm_f32(CLS_TRANS, CLS_NO_TRANS, size - h, h, m, 1.0f, y + off + h, d, y + off, d,
                                 0.0f, c + (off + h) * d + off, d);
    if (!st) st = gram_tiles(y, m, d, off, h, c);
    if (!st) st = gram_tiles(y, m, d, off + h, size - h, c);
    return st;
}

static cls_status gram_f32(const float *y, int64_t m, int64_t d, int by_blas, float *c)
{
    if (by_blas) {
        cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, (int)d, (int)m, 1.0f, y, (int)d, 0.0f, c, (int)d);
        return CLS_OK;
    }
    return gram_tiles(y, m, d, 0, d, c);
}

/* S (double, lower) += the lower triangle of the float block product Sf. */
static void add_lower(double *S, const float *Sf, int64_t d, int nt)
{
#pragma omp parallel for num_threads(nt) schedule(dynamic, 32) if (d * d >= 2 * SPEC_PARALLEL_MIN)
    for (int64_t i = 0; i < d; i++) {
        double *srow = S + i * d;
        const float *frow = Sf + i * d;
        for (int64_t j = 0; j <= i; j++) srow[j] += frow[j];
    }
}

/* Float32 rows without bootstrap weights: one pass reading float32 chunks
 * (no conversion to double), each chunk centred by `shift` in double and
 * rounded back to float32 in place, in parallel over column stripes (each
 * column's sums run in row order on one thread: the same bits for any thread
 * count), its float Gram block added into S. fuse: shift is the first
 * chunk's mean (computed here) and sq/first/varies collect pass 1's
 * statistics. chunk_rows: the option (0: about 32 MiB of floats, at most
 * SPEC_F32_BLOCK rows). *rows is the number of rows read. */
static cls_status accumulate_f32(spec_source *s, int fuse, int64_t chunk_rows, int threads, double *S,
                                 double *shift, double *msum, double *sq, double *first,
                                 unsigned char *varies, int64_t *rows)
{
    int64_t d = s->d;
    size_t dd = (size_t)d * (size_t)d;
    int64_t cr = chunk_rows > 0 ? chunk_rows : spec_chunk_rows_f32(d);
    if (cr > SPEC_F32_BLOCK) cr = SPEC_F32_BLOCK;
    float *x = cls_alloc((size_t)cr * (size_t)d * sizeof(float), "float chunk");
    float *Sf = cls_alloc(dd * sizeof(float), "float block product");
    cls_status status = x && Sf ? spec_source_rewind(s) : CLS_E_NOMEM;
    int nt = cls_threads_resolve(threads);
    int by_blas = syrk_by_blas();
    /* one contiguous column stripe per thread (multiples of 16 columns) */
    int64_t width = ((d + nt - 1) / nt + 15) / 16 * 16;
    int64_t nstripe = (d + width - 1) / width, row0 = 0, m;
    spec_prof_mark("setup");
    while (!status) {
        /* in memory or mapped: the rows are used in place (centred into x,
         * checked for NaN/Inf on the way); a stream is read into x */
        const float *src = x;
        if (s->f32)
            spec_source_view_f32(s, cr, &src, &m);
        else
            status = spec_source_read_f32(s, x, cr, &m);
        spec_prof_mark("pass 1: read");
        if (status || m == 0) break;
        int first_chunk = fuse && row0 == 0;
        unsigned bad = 0;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(|:bad) if (m * d >= SPEC_PARALLEL_MIN)
        for (int64_t sb = 0; sb < nstripe; sb++) {
            int64_t j0 = sb * width, j1 = j0 + width < d ? j0 + width : d;
            if (first_chunk) {
                for (int64_t j = j0; j < j1; j++) shift[j] = 0, first[j] = src[j];
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = j0; j < j1; j++) shift[j] += src[i * d + j];
                for (int64_t j = j0; j < j1; j++) shift[j] /= (double)m;
            }
            for (int64_t i = 0; i < m; i++) {
                const float *si = src + i * d;
                float *xi = x + i * d;
                for (int64_t j = j0; j < j1; j++) bad |= spec_f32_bad(si[j]);
                if (fuse) {
                    for (int64_t j = j0; j < j1; j++) varies[j] |= (double)si[j] != first[j];
                    for (int64_t j = j0; j < j1; j++) {
                        double t = (double)si[j] - shift[j];
                        msum[j] += t;
                        sq[j] += t * t;
                        xi[j] = (float)t;
                    }
                } else {
                    for (int64_t j = j0; j < j1; j++) {
                        double t = (double)si[j] - shift[j];
                        msum[j] += t;
                        xi[j] = (float)t;
                    }
                }
            }
        }
        if (bad) {
            status = spec_source_nonfinite_f32(s, src, m, row0);
            break;
        }
        row0 += m;
        spec_prof_mark("pass 1: centre+stats");
        status = gram_f32(x, m, d, by_blas, Sf);
        spec_prof_mark("pass 1: ssyrk");
        if (!status) add_lower(S, Sf, d, nt);
        spec_prof_mark("pass 1: add to double");
    }
    cls_free(x);
    cls_free(Sf);
    *rows = row0;
    return status;
}

cls_status spec_exact_covariance(spec_source *s, spec_stats *st, int fuse, const int32_t *counts,
                                 int64_t chunk_rows, const cls_spectrum_options *o,
                                 cls_spectrum_eig *centred, cls_spectrum_eig *uncentred)
{
    int64_t n = fuse ? s->n : st->n, d = st->d;
    int64_t refine_hi = o->fit_hi;
    int threads = o->threads;
    /* Fused: pass 1 is folded into this pass. Rows are shifted by the first
     * chunk's mean K (within sd/sqrt(chunk) of the true mean), and the exact
     * correction S - n m m^T with m = mean(x - K) removes the shift; as m is
     * tiny nothing cancels. The statistics are filled in at the end. */
    double *shift = fuse ? cls_calloc((size_t)d, sizeof(double), "spectrum shift") : st->mean;
    double *sq = fuse ? cls_calloc((size_t)d, sizeof(double), "spectrum squares") : NULL;
    /* constant columns: exact comparison with the first row (the shifted
     * sums need not cancel to an exact zero) */
    double *first = fuse ? cls_alloc((size_t)d * sizeof(double), "spectrum first row") : NULL;
    unsigned char *varies = fuse ? cls_calloc((size_t)d, 1, "spectrum column flags") : NULL;
    if (fuse && (!shift || !sq || !first || !varies)) {
        cls_free(shift), cls_free(sq), cls_free(first), cls_free(varies);
        return CLS_E_NOMEM;
    }
    size_t dd = (size_t)d * (size_t)d;
    int use_f32 = s->is_f32;
    /* both spectra (never with bootstrap weights): one tridiagonalisation */
    int pair = centred && uncentred && !counts;
    double *S = cls_calloc(dd, sizeof(double), "covariance accumulator (d x d doubles)");
    double *msum = cls_calloc((size_t)d, sizeof(double), "spectrum weighted mean");
    double *mu = pair ? cls_alloc((size_t)d * sizeof(double), "spectrum mean") : NULL;
    double *A = NULL;
    cls_status status = S && msum && (!pair || mu) ? CLS_OK : CLS_E_NOMEM;
    int64_t row0 = 0, m;
    if (!status && use_f32 && !counts) {
        status = accumulate_f32(s, fuse, o->chunk_rows, threads, S, shift, msum, sq, first, varies, &row0);
    } else if (!status) {
        int64_t fblock = chunk_rows < SPEC_F32_BLOCK ? chunk_rows : SPEC_F32_BLOCK;
        double *buf = cls_alloc((size_t)chunk_rows * (size_t)d * sizeof(double), "spectrum chunk");
        float *fbuf = use_f32 ? cls_alloc((size_t)fblock * (size_t)d * sizeof(float), "float block") : NULL;
        float *Sf = use_f32 ? cls_alloc(dd * sizeof(float), "float block product") : NULL;
        int by_blas = syrk_by_blas(), nt = cls_threads_resolve(threads);
        status = (buf && (!use_f32 || (fbuf && Sf))) ? spec_source_rewind(s) : CLS_E_NOMEM;
        while (!status) {
            status = spec_source_read(s, buf, chunk_rows, &m);
            if (status || m == 0) break;
            if (fuse && row0 == 0) {
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < d; j++) shift[j] += buf[i * d + j];
                for (int64_t j = 0; j < d; j++) shift[j] /= (double)m;
                memcpy(first, buf, (size_t)d * sizeof(double));
            }
            /* centre (and weight) the rows, compacting away rows drawn zero times */
            int64_t kept = 0;
            for (int64_t i = 0; i < m; i++) {
                double c = counts ? (double)counts[row0 + i] : 1.0;
                if (c == 0) continue;
                double sc = counts ? sqrt(c) : 1.0;
                const double *x = buf + i * d;
                double *y = buf + kept * d;
                if (sq) {
                    for (int64_t j = 0; j < d; j++) {
                        double t = x[j] - shift[j];
                        msum[j] += t;
                        sq[j] += t * t;
                        varies[j] |= x[j] != first[j];
                        y[j] = t;
                    }
                } else {
                    for (int64_t j = 0; j < d; j++) {
                        double t = x[j] - shift[j];
                        msum[j] += c * t;
                        y[j] = sc * t;
                    }
                }
                kept++;
            }
            row0 += m;
            if (!use_f32) {
                if (kept) cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, (int)d, (int)kept, 1.0, buf,
                                      (int)d, 1.0, S, (int)d);
                continue;
            }
            for (int64_t b0 = 0; b0 < kept && !status; b0 += fblock) {
                int64_t bm = kept - b0 < fblock ? kept - b0 : fblock;
                const double *src = buf + b0 * d;
                for (int64_t k = 0; k < bm * d; k++) fbuf[k] = (float)src[k];
                status = gram_f32(fbuf, bm, d, by_blas, Sf);
                if (!status) add_lower(S, Sf, d, nt);
            }
        }
        cls_free(buf);
        cls_free(fbuf);
        cls_free(Sf);
    }
    if (!status && centred && uncentred && !pair) {
        A = cls_alloc(dd * sizeof(double), "covariance copy (d x d doubles)");
        if (!A) status = CLS_E_NOMEM;
    }
    if (!status && row0 != n)
        status = cls_set_error(CLS_E_FORMAT, "spectrum: read %lld rows, expected %lld",
                               (long long)row0, (long long)n);
    for (int64_t j = 0; j < d && !status; j++) msum[j] /= (double)n; /* m = weighted mean of y */
    if (!status && fuse) {
        st->n = n;
        st->zero_var = 0;
        st->first_zero_var = -1;
        for (int64_t j = 0; j < d; j++) {
            st->mean[j] = shift[j] + msum[j];
            double m2 = sq[j] - (double)n * msum[j] * msum[j];
            st->m2[j] = varies[j] && m2 > 0 ? m2 : 0.0;
            if (!varies[j]) st->mean[j] = first[j];
            if (st->m2[j] == 0.0 && st->zero_var++ == 0) st->first_zero_var = j;
        }
    }
    if (!status && pair)
        for (int64_t j = 0; j < d; j++) mu[j] = shift[j] + msum[j];
    if (!status && centred) {
        double *C = (uncentred && !pair) ? A : S;
        if (C != S) memcpy(C, S, dd * sizeof(double));
        cblas_dsyr(CblasRowMajor, CblasLower, (int)d, -(double)n, msum, 1, C, (int)d);
        sym_scale(C, d, 1.0 / (double)(n - 1));
        centred->n = n;
        centred->d = d;
        centred->centered = 1;
        /* float32 blocks: refine the leading ranks in double (not for
         * bootstrap replicates, whose spread dwarfs the rounding) */
        int64_t keep = d < n - 1 ? d : n - 1;
        int64_t K = (refine_hi > SPEC_REFINE_MIN ? refine_hi : SPEC_REFINE_MIN) + SPEC_REFINE_MARGIN;
        if (K > keep) K = keep;
        double *zt = NULL;
        if (use_f32 && !counts && K >= 1) {
            zt = cls_alloc((size_t)(K * d) * sizeof(double), "leading eigenvectors");
            if (!zt) status = CLS_E_NOMEM;
        }
        spec_prof_mark("corrections");
        if (!status) {
            /* the uncentred moment sum x x^T / n = ((n-1)/n) C + mu mu^T */
            status = finish_eig_pair(C, d, keep, centred, K, zt, mu, (double)(n - 1) / (double)n,
                                     d < n ? d : n, pair ? uncentred : NULL);
        }
        if (!status && zt) status = refine_top(s, st, chunk_rows, threads, zt, K, centred);
        if (!status && zt) {
            /* sum of squares from the refined spectrum: it is dominated by the
             * top ranks, which the float-built matrix holds less accurately */
            double q = 0;
            for (int64_t k = 0; k < centred->count; k++) q += centred->values[k] * centred->values[k];
            centred->total_sq = q;
        }
        cls_free(zt);
        if (!status && !counts) {
            /* the trace from pass 1's double statistics, untouched by float blocks */
            double t = 0;
            for (int64_t j = 0; j < d; j++) t += st->m2[j];
            centred->total = t / (double)(n - 1);
        }
    }
    if (!status && uncentred && pair) {
        uncentred->n = n;
        uncentred->d = d;
        uncentred->centered = 0;
    }
    if (!status && uncentred && !pair) {
        /* sum c x x^T = S + n (m mu^T + mu m^T) + n mu mu^T with x = y + mu */
        cblas_dsyr2(CblasRowMajor, CblasLower, (int)d, (double)n, msum, 1, shift, 1, S, (int)d);
        cblas_dsyr(CblasRowMajor, CblasLower, (int)d, (double)n, shift, 1, S, (int)d);
        sym_scale(S, d, 1.0 / (double)n);
        uncentred->n = n;
        uncentred->d = d;
        uncentred->centered = 0;
        status = finish_eig(S, d, d < n ? d : n, uncentred);
    }
    cls_free(A);
    cls_free(S);
    cls_free(msum);
    cls_free(mu);
    if (fuse) cls_free(shift);
    cls_free(sq);
    cls_free(first);
    cls_free(varies);
    return status;
}

cls_status spec_exact_gram(spec_source *s, const spec_stats *st, int64_t chunk_rows,
                           cls_spectrum_eig *centred, cls_spectrum_eig *uncentred,
                           double **keep_gram, int keep_center)
{
    int64_t n = st->n, d = st->d;
    size_t nn = (size_t)n * (size_t)n;
    size_t bytes;
    if (!cls_size_mul(&bytes, n, d, sizeof(double))) return CLS_E_NOMEM;
    /* n < d: the rows are held in memory (n x d doubles) */
    double *Y = cls_alloc(bytes, "rows for the Gram matrix (n x d doubles)");
    double *G = cls_calloc(nn, sizeof(double), "Gram matrix (n x n doubles)");
    double *A = (centred && uncentred) ? cls_alloc(nn * sizeof(double), "Gram copy") : NULL;
    double *a = cls_calloc((size_t)n, sizeof(double), "Gram mean projection");
    cls_status status = (Y && G && a && (A || !(centred && uncentred)))
                            ? spec_source_rewind(s) : CLS_E_NOMEM;
    int64_t row = 0, m;
    while (!status) {
        status = spec_source_read(s, Y + row * d, chunk_rows < n - row ? chunk_rows : n - row, &m);
        if (status || m == 0) break;
        for (int64_t i = row; i < row + m; i++)
            for (int64_t j = 0; j < d; j++) Y[i * d + j] -= st->mean[j];
        row += m;
    }
    if (!status) {
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)n, (int)d, 1.0, Y, (int)d, 0.0, G,
                    (int)n);
        if (uncentred) /* a = Y mu */
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)d, 1.0, Y, (int)d, st->mean, 1,
                        0.0, a, 1);
    }
    cls_free(Y);
    if (!status && keep_gram && keep_center) {
        double *K = cls_alloc(nn * sizeof(double), "kept Gram matrix");
        if (!K) status = CLS_E_NOMEM;
        else {
            memcpy(K, G, nn * sizeof(double));
            *keep_gram = K;
        }
    }
    if (!status && centred) {
        double *C = A ? A : G;
        if (C != G) memcpy(C, G, nn * sizeof(double));
        sym_scale(C, n, 1.0 / (double)(n - 1));
        centred->n = n;
        centred->d = d;
        centred->centered = 1;
        status = finish_eig(C, n, n - 1, centred);
    }
    if (!status && uncentred) {
        /* X X^T = G + a 1^T + 1 a^T + |mu|^2 1 1^T */
        double mu2 = cblas_ddot((int)d, st->mean, 1, st->mean, 1);
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j <= i; j++) G[i * n + j] += a[i] + a[j] + mu2;
        if (keep_gram && !keep_center) {
            double *K = cls_alloc(nn * sizeof(double), "kept Gram matrix");
            if (!K) status = CLS_E_NOMEM;
            else {
                memcpy(K, G, nn * sizeof(double));
                *keep_gram = K;
            }
        }
        sym_scale(G, n, 1.0 / (double)n);
        if (status) goto done;
        uncentred->n = n;
        uncentred->d = d;
        uncentred->centered = 0;
        status = finish_eig(G, n, n, uncentred);
    }
done:
    cls_free(A);
    cls_free(G);
    cls_free(a);
    if (status && keep_gram && *keep_gram) {
        cls_free(*keep_gram);
        *keep_gram = NULL;
    }
    return status;
}

cls_status spec_gram_bootstrap(const double *gram, int64_t n, int64_t d, const int32_t *counts,
                               int center, cls_spectrum_eig *out)
{
    /* Replicate rows y_i - m with multiplicity c_i, m = Y^T c / n:
     * W_ij = sqrt(c_i c_j) (G_ij - g_i - g_j + s), g = G c / n, s = c^T G c / n^2,
     * restricted to rows drawn at least once. */
    double *c = cls_alloc((size_t)n * sizeof(double), "bootstrap weights");
    double *g = cls_alloc((size_t)n * sizeof(double), "bootstrap projection");
    int64_t *idx = cls_alloc((size_t)n * sizeof(int64_t), "bootstrap rows");
    if (!c || !g || !idx) {
        cls_free(c), cls_free(g), cls_free(idx);
        return CLS_E_NOMEM;
    }
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        c[i] = counts[i];
        if (counts[i] > 0) idx[k++] = i;
    }
    double s = 0;
    if (center) {
        cblas_dsymv(CblasRowMajor, CblasLower, (int)n, 1.0 / (double)n, gram, (int)n, c, 1, 0.0, g, 1);
        s = cblas_ddot((int)n, c, 1, g, 1) / (double)n;
    } else {
        /* uncentred: W_ij = sqrt(c_i c_j) (X X^T)_ij / n */
        for (int64_t i = 0; i < n; i++) g[i] = 0;
    }
    double scale = center ? 1.0 / (double)(n - 1) : 1.0 / (double)n;
    double *W = cls_alloc((size_t)k * (size_t)k * sizeof(double), "bootstrap Gram");
    cls_status status = W ? CLS_OK : CLS_E_NOMEM;
    if (!status) {
        for (int64_t a = 0; a < k; a++) {
            int64_t i = idx[a];
            for (int64_t b = 0; b <= a; b++) {
                int64_t j = idx[b];
                W[a * k + b] = sqrt(c[i] * c[j]) * (gram[i * n + j] - g[i] - g[j] + s) * scale;
            }
        }
        out->n = n;
        out->d = d;
        out->centered = center;
        status = finish_eig(W, k, center ? k - 1 : k, out);
        out->full_count = out->count;
    }
    cls_free(W);
    cls_free(c);
    cls_free(g);
    cls_free(idx);
    return status;
}
