/* The tile kernel shared by CLIP and InfoNCE: one forward pass and one
 * recomputing backward over tiles X_IJ = s * A_I * B_J^T, never storing X.
 *
 * Schedule (both passes): the outer loop walks column panels J; inside a
 * panel the row blocks I are split over the threads with a static schedule.
 * - Row statistics and dA rows belong to the thread holding block I, and each
 *   row sees the panels in the same order whatever the thread count.
 * - Column statistics (forward) and dB rows (backward) of panel J get one
 *   partial per thread (tile doubles / tile x d floats); after the panel they
 *   are merged in thread order 0, 1, 2, ... So results are bit-identical for a
 *   fixed thread count, and memory is O(threads * tile * (tile + d)).
 * BLAS is called inside our parallel region, where the OpenMP build of
 * OpenBLAS runs single-threaded: no oversubscription.
 *
 * Numerics: all (max, sum) merges are in double with the running max always
 * subtracted (m' = max(m, x); l <- l e^{m - m'} + sum e^{x - m'}); an empty
 * state is recognised by its flag, never by computing (-inf) - (-inf). The
 * per-tile sums of exponentials are formed in float over at most 64 terms per
 * lane before they join a double. */
#include "loss_engine.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>

#include "vexp.h"

#define COL_CHUNK 64 /* rows summed in float before a column sum joins its double */

int64_t cls_tile_resolve(int64_t requested, int64_t na, int64_t nb, int64_t d, int threads)
{
    int64_t t = requested;
    if (t <= 0) {
        /* Measured on the target (see docs/benchmarks.md): 512 keeps the three
         * tile products near the large-sgemm rate at d = 512 while the tile
         * buffer stays small; smaller problems use fewer, smaller tiles so that
         * every thread gets row blocks. */
        t = 512;
        int64_t per_thread = (na + threads - 1) / threads;
        while (t > 64 && t > per_thread) t /= 2;
    }
    int64_t m = na > nb ? na : nb;
    if (t > m) t = m;
    if (t < 1) t = 1;
    return t;
}

/* Padded leading dimension of a tile buffer (whole vectors per row). */
static int64_t tile_ld(int64_t tile) { return (tile + CLS_VW - 1) / CLS_VW * CLS_VW; }

size_t cls_tile_workspace_bytes(int64_t na, int64_t nb, int64_t d, int64_t tile, int threads)
{
    int64_t ld = tile_ld(tile);
    size_t per_thread = (size_t)tile * (size_t)ld * sizeof(float) /* X tile */
                        + (size_t)tile * (size_t)d * sizeof(float) /* dB partial */
                        + (size_t)tile * (2 * sizeof(float) + 4 * sizeof(double));
    return per_thread * (size_t)threads + 2 * (size_t)nb * sizeof(float) + (size_t)threads * 64;
}

/* ---- vector helpers over one tile row (n floats) ------------------------ */

static float row_max(const float *x, int64_t n)
{
    int64_t j = 0;
    float m = -INFINITY;
    if (n >= CLS_VW) {
        cls_vf v = cls_vf_load(x);
        for (j = CLS_VW; j + CLS_VW <= n; j += CLS_VW) v = cls_vf_max(v, cls_vf_load(x + j));
        m = cls_vf_hmax(v);
    }
    for (; j < n; j++) m = x[j] > m ? x[j] : m;
    return m;
}

/* sum_j e^{x_j - m}, in float lanes (n <= CLS_TILE_MAX: at most 512 terms per
 * lane with 16 lanes, typically 32), returned in double. */
static double row_sum_exp(const float *x, int64_t n, float m)
{
    cls_vf acc = cls_vf_set1(0.0f), vm = cls_vf_set1(m);
    int64_t j = 0;
    for (; j + CLS_VW <= n; j += CLS_VW) acc += cls_vexp(cls_vf_load(x + j) - vm);
    double s = cls_vf_hsum(acc);
    for (; j < n; j++) s += (double)cls_sexp(x[j] - m);
    return s;
}

/* cm[j] = max(cm[j], x[j]) */
static void col_max_update(float *cm, const float *x, int64_t n)
{
    int64_t j = 0;
    for (; j + CLS_VW <= n; j += CLS_VW) cls_vf_store(cm + j, cls_vf_max(cls_vf_load(cm + j), cls_vf_load(x + j)));
    for (; j < n; j++) cm[j] = x[j] > cm[j] ? x[j] : cm[j];
}

/* acc[j] += e^{x[j] - cm[j]} */
static void col_sum_update(float *acc, const float *x, const float *cm, int64_t n)
{
    int64_t j = 0;
    for (; j + CLS_VW <= n; j += CLS_VW) {
        cls_vf e = cls_vexp(cls_vf_load(x + j) - cls_vf_load(cm + j));
        cls_vf_store(acc + j, cls_vf_load(acc + j) + e);
    }
    for (; j < n; j++) acc[j] += cls_sexp(x[j] - cm[j]);
}

/* Online merge of (m2, l2) into (m, l); `have` says whether (m, l) holds data. */
static inline void lse_merge(double *m, double *l, int have, double m2, double l2)
{
    if (!have) {
        *m = m2;
        *l = l2;
        return;
    }
    if (m2 > *m) {
        *l = *l * exp(*m - m2) + l2;
        *m = m2;
    } else {
        *l += l2 * exp(m2 - *m);
    }
}

/* ---- forward ------------------------------------------------------------- */

cls_status cls_tile_forward(const cls_tile_problem *p, cls_lse rows, cls_lse cols, double *row_pos)
{
    const int64_t na = p->na, nb = p->nb, d = p->d, T = p->tile;
    const int nt = p->threads;
    const int64_t ld = tile_ld(T);
    const int64_t nblocks = (na + T - 1) / T, npanels = (nb + T - 1) / T;

    size_t per_thread_f = (size_t)T * (size_t)ld + 2 * (size_t)ld; /* X, tile col max, col chunk sums */
    size_t per_thread_d = 3 * (size_t)ld;                            /* tile col sums, partial (m, l) */
    float *fbuf = cls_alloc(per_thread_f * (size_t)nt * sizeof(float), "forward tile buffers");
    double *dbuf = cls_alloc(per_thread_d * (size_t)nt * sizeof(double), "forward column partials");
    int *used = cls_calloc((size_t)nt, sizeof(int), "forward thread flags");
    if (!fbuf || !dbuf || !used) {
        cls_free(fbuf);
        cls_free(dbuf);
        cls_free(used);
        return CLS_E_NOMEM;
    }
    for (int64_t i = 0; i < na; i++) {
        rows.max[i] = -INFINITY;
        rows.log_sum[i] = 0.0; /* holds the running sum until the end */
        row_pos[i] = 0.0;
    }

#pragma omp parallel num_threads(nt)
    {
        const int t = omp_get_thread_num();
        float *X = fbuf + (size_t)t * per_thread_f;
        float *tmax = X + (size_t)T * (size_t)ld;
        float *facc = tmax + ld;
        double *tsum = dbuf + (size_t)t * per_thread_d;
        double *pm = tsum + ld, *pl = pm + ld;

        for (int64_t jb = 0; jb < npanels; jb++) {
            const int64_t j0 = jb * T, tj = (nb - j0) < T ? (nb - j0) : T;
            int have = 0;
#pragma omp for schedule(static)
            for (int64_t ib = 0; ib < nblocks; ib++) {
                const int64_t i0 = ib * T, ti = (na - i0) < T ? (na - i0) : T;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ti, (int)tj, (int)d, p->scale,
                            p->a + i0 * d, (int)d, p->b + j0 * d, (int)d, 0.0f, X, (int)ld);
                /* rows: merge this tile's (max, sum) into the running state */
                for (int64_t i = 0; i < ti; i++) {
                    const float *x = X + i * ld;
                    const int64_t gi = i0 + i;
                    double mo = rows.max[gi], mn = row_max(x, tj);
                    int first = (mo == -INFINITY);
                    if (!first && mo > mn) mn = mo;
                    double s = row_sum_exp(x, tj, (float)mn);
                    rows.log_sum[gi] = first ? s : rows.log_sum[gi] * exp(mo - mn) + s;
                    rows.max[gi] = mn;
                    int64_t lab = p->labels ? p->labels[gi] : gi;
                    if (lab >= j0 && lab < j0 + tj) row_pos[gi] = x[lab - j0];
                }
                if (p->columns) {
                    /* columns: tile max, then sums of e^{x - max} (float over
                     * COL_CHUNK rows, then double), merged into this thread's
                     * partial for the panel */
                    for (int64_t j = 0; j < tj; j++) tmax[j] = -INFINITY;
                    for (int64_t i = 0; i < ti; i++) col_max_update(tmax, X + i * ld, tj);
                    for (int64_t j = 0; j < tj; j++) tsum[j] = 0.0;
                    for (int64_t c0 = 0; c0 < ti; c0 += COL_CHUNK) {
                        int64_t c1 = c0 + COL_CHUNK < ti ? c0 + COL_CHUNK : ti;
                        for (int64_t j = 0; j < tj; j++) facc[j] = 0.0f;
                        for (int64_t i = c0; i < c1; i++) col_sum_update(facc, X + i * ld, tmax, tj);
                        for (int64_t j = 0; j < tj; j++) tsum[j] += (double)facc[j];
                    }
                    for (int64_t j = 0; j < tj; j++) lse_merge(&pm[j], &pl[j], have, tmax[j], tsum[j]);
                }
                have = 1;
            }
            if (p->columns) {
                used[t] = have;
#pragma omp barrier
                /* merge the thread partials of this panel in thread order */
#pragma omp for schedule(static)
                for (int64_t j = 0; j < tj; j++) {
                    double m = 0.0, l = 0.0;
                    int any = 0;
                    for (int u = 0; u < nt; u++) {
                        if (!used[u]) continue;
                        const double *um = dbuf + (size_t)u * per_thread_d + ld;
                        lse_merge(&m, &l, any, um[j], um[ld + j]);
                        any = 1;
                    }
                    cols.max[j0 + j] = m;
                    cols.log_sum[j0 + j] = log(l);
                }
            }
        }
    }
    for (int64_t i = 0; i < na; i++) rows.log_sum[i] = log(rows.log_sum[i]);
    cls_free(fbuf);
    cls_free(dbuf);
    cls_free(used);
    return CLS_OK;
}

/* ---- backward ------------------------------------------------------------ */

cls_status cls_tile_backward(const cls_tile_problem *p, const cls_tile_weights *w, cls_lse rows,
                             cls_lse cols, float *grad_a, float *grad_b)
{
    const int64_t na = p->na, nb = p->nb, d = p->d, T = p->tile;
    const int nt = p->threads;
    const int64_t ld = tile_ld(T);
    const int64_t nblocks = (na + T - 1) / T, npanels = (nb + T - 1) / T;
    const float wr = (float)w->row, wc = (float)w->col, wu = (float)w->uniform;
    const float pr = (float)w->pos_row, pc = (float)w->pos_col;
    if (p->columns && p->labels) return cls_set_error(CLS_E_INTERNAL, "tile kernel: column softmax with labels");

    size_t per_thread = (size_t)T * (size_t)ld + (size_t)T * (size_t)d + (size_t)ld;
    float *fbuf = cls_alloc(per_thread * (size_t)nt * sizeof(float), "backward tile buffers");
    float *colf = p->columns ? cls_alloc(2 * (size_t)nb * sizeof(float), "column log-sum-exp") : NULL;
    int *used = cls_calloc((size_t)nt, sizeof(int), "backward thread flags");
    if (!fbuf || !used || (p->columns && !colf)) {
        cls_free(fbuf);
        cls_free(colf);
        cls_free(used);
        return CLS_E_NOMEM;
    }
    if (p->columns)
        for (int64_t j = 0; j < nb; j++) {
            colf[j] = (float)cols.max[j];
            colf[nb + j] = (float)cols.log_sum[j];
        }

#pragma omp parallel num_threads(nt)
    {
        const int t = omp_get_thread_num();
        float *X = fbuf + (size_t)t * per_thread;
        float *part = X + (size_t)T * (size_t)ld;
        float *xpos = part + (size_t)T * (size_t)d; /* positive logit of each tile row */

        for (int64_t jb = 0; jb < npanels; jb++) {
            const int64_t j0 = jb * T, tj = (nb - j0) < T ? (nb - j0) : T;
            int have = 0;
#pragma omp for schedule(static)
            for (int64_t ib = 0; ib < nblocks; ib++) {
                const int64_t i0 = ib * T, ti = (na - i0) < T ? (na - i0) : T;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ti, (int)tj, (int)d, p->scale,
                            p->a + i0 * d, (int)d, p->b + j0 * d, (int)d, 0.0f, X, (int)ld);
                const float *cmx = colf ? colf + j0 : NULL, *cll = colf ? colf + nb + j0 : NULL;
                for (int64_t i = 0; i < ti; i++) {
                    float *x = X + i * ld;
                    const int64_t lab0 = p->labels ? p->labels[i0 + i] : i0 + i;
                    xpos[i] = (lab0 >= j0 && lab0 < j0 + tj) ? x[lab0 - j0] : 0.0f;
                    const float rm = (float)rows.max[i0 + i], rl = (float)rows.log_sum[i0 + i];
                    const cls_vf vrm = cls_vf_set1(rm), vrl = cls_vf_set1(rl);
                    const cls_vf vwr = cls_vf_set1(wr), vwc = cls_vf_set1(wc), vwu = cls_vf_set1(wu);
                    int64_t j = 0;
                    if (cmx) {
                        for (; j + CLS_VW <= tj; j += CLS_VW) {
                            cls_vf v = cls_vf_load(x + j);
                            cls_vf g = vwr * cls_vexp((v - vrm) - vrl) +
                                       vwc * cls_vexp((v - cls_vf_load(cmx + j)) - cls_vf_load(cll + j)) - vwu;
                            cls_vf_store(x + j, g);
                        }
                        for (; j < tj; j++)
                            x[j] = wr * cls_sexp((x[j] - rm) - rl) + wc * cls_sexp((x[j] - cmx[j]) - cll[j]) - wu;
                    } else {
                        for (; j + CLS_VW <= tj; j += CLS_VW) {
                            cls_vf v = cls_vf_load(x + j);
                            cls_vf_store(x + j, vwr * cls_vexp((v - vrm) - vrl) - vwu);
                        }
                        for (; j < tj; j++) x[j] = wr * cls_sexp((x[j] - rm) - rl) - wu;
                    }
                    /* The positive: w (P - 1) cancels badly in float when the
                     * model is confident (P near 1), so it is rebuilt from the
                     * logit kept aside, with expm1: w P - p = w expm1(.) + (w - p).
                     * (CLIP has no labels: its column positive is the same entry.) */
                    int64_t lab = p->labels ? p->labels[i0 + i] : i0 + i;
                    if (lab >= j0 && lab < j0 + tj) {
                        const int64_t jj = lab - j0;
                        const float xv = xpos[i];
                        float g = wr * expm1f((xv - rm) - rl) + (wr - pr) - wu;
                        if (cmx) g += wc * expm1f((xv - cmx[jj]) - cll[jj]) + (wc - pc);
                        x[jj] = g;
                    }
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)ti, (int)d, (int)tj, p->scale, X,
                            (int)ld, p->b + j0 * d, (int)d, jb == 0 ? 0.0f : 1.0f, grad_a + i0 * d, (int)d);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)tj, (int)d, (int)ti, p->scale, X,
                            (int)ld, p->a + i0 * d, (int)d, have ? 1.0f : 0.0f, part, (int)d);
                have = 1;
            }
            used[t] = have;
#pragma omp barrier
            /* dB rows of this panel: the thread partials summed in thread order */
#pragma omp for schedule(static)
            for (int64_t j = 0; j < tj; j++) {
                float *dst = grad_b + (j0 + j) * d;
                int any = 0;
                for (int u = 0; u < nt; u++) {
                    if (!used[u]) continue;
                    const float *src = fbuf + (size_t)u * per_thread + (size_t)T * (size_t)ld + (size_t)j * (size_t)d;
                    if (!any)
                        for (int64_t k = 0; k < d; k++) dst[k] = src[k];
                    else
                        for (int64_t k = 0; k < d; k++) dst[k] += src[k];
                    any = 1;
                }
            }
        }
    }
    cls_free(fbuf);
    cls_free(colf);
    cls_free(used);
    return CLS_OK;
}
