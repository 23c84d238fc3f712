/* The tile kernel shared by CLIP and InfoNCE: one forward pass and one
 * recomputing backward over tiles X_IJ = s * A_I * B_J^T, never storing X.
 *
 * Schedule (both passes): the outer loop walks column panels J; inside a
 * panel the row blocks I, in a few contiguous groups per thread, are handed
 * to the threads dynamically (on a shared machine a paused thread does not
 * stall the others).
 * - Row statistics and dA rows of block I are touched by one task per panel,
 *   and each row sees the panels in order (no reduction needed).
 * - Column statistics (forward) and dB rows (backward) of panel J get one
 *   partial per group (tile doubles / tile x d floats), accumulated in block
 *   order and merged in group order after the panel. Results are bit-identical
 *   for a fixed thread count (the group count is 4 per thread), and memory is
 *   O(threads * tile * (tile + d)) beyond inputs and outputs.
 * The tile products go through the GEMM layer (oneDNN or OpenBLAS, both on
 * the OpenMP runtime) inside our parallel region, where they run
 * single-threaded: no oversubscription. In bf16 precision their inputs are
 * bfloat16 copies of A and B (made once per pass) and of each G tile.
 *
 * Numerics: all (max, sum) merges are in double with the running max always
 * subtracted (m' = max(m, x); l <- l e^{m - m'} + sum e^{x - m'}); an empty
 * state is recognised by its flag, never by computing (-inf) - (-inf). The
 * per-tile sums of exponentials are formed in float over at most 64 terms per
 * lane before they join a double. */
#include "loss_engine.h"

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

/* Row blocks are dealt out in contiguous groups, a few per thread, handed
 * to threads dynamically (a thread that the OS pauses does not hold the panel
 * up), while every column / dB partial belongs to a group and is accumulated
 * in block order and merged in group order: the bits do not depend on which
 * thread ran which group. */
static int64_t group_count(int64_t nblocks, int threads)
{
    int64_t g = 4 * (int64_t)threads;
    return g < nblocks ? g : nblocks;
}

/* BLAS calls made inside an active OpenMP region (2+ threads) run
 * single-threaded in the OpenMP build of OpenBLAS. A one-thread team is not
 * "active", so for threads == 1 OpenBLAS would start its own threads for every
 * tile product: pin it to one thread for the duration and restore after. */
static cls_thread_state blas_single_begin(int threads)
{
    cls_thread_state saved = {0, 0};
    if (threads == 1) cls_threads_enter(1, &saved);
    return saved;
}

static void blas_single_end(int threads, cls_thread_state previous)
{
    if (threads == 1) cls_threads_leave(&previous);
}

/* Padded leading dimension of a tile buffer (whole vectors per row). */
static int64_t tile_ld(int64_t tile) { return (tile + CLS_VW - 1) / CLS_VW * CLS_VW; }

size_t cls_tile_workspace_bytes(int64_t na, int64_t nb, int64_t d, int64_t tile, int threads)
{
    int64_t ld = tile_ld(tile), groups = group_count((na + tile - 1) / tile, threads);
    size_t per_thread = (size_t)ld * (size_t)(tile + 3) * sizeof(float) + (size_t)ld * sizeof(double);
    size_t per_group = 2 * ((size_t)tile * (size_t)d * sizeof(float) + 2 * (size_t)ld * sizeof(double));
    return per_thread * (size_t)threads + per_group * (size_t)groups + 2 * (size_t)nb * sizeof(float);
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

/* Max of the row x[0..n), and cm[j] = max(cm[j], x[j]) in the same sweep. */
static float row_col_max(float *cm, const float *x, int64_t n)
{
    int64_t j = 0;
    float m = -INFINITY;
    if (n >= CLS_VW) {
        cls_vf v = cls_vf_set1(-INFINITY);
        for (; j + CLS_VW <= n; j += CLS_VW) {
            const cls_vf xv = cls_vf_load(x + j);
            v = cls_vf_max(v, xv);
            cls_vf_store(cm + j, cls_vf_max(cls_vf_load(cm + j), xv));
        }
        m = cls_vf_hmax(v);
    }
    for (; j < n; j++) {
        m = x[j] > m ? x[j] : m;
        cm[j] = x[j] > cm[j] ? x[j] : cm[j];
    }
    return m;
}

/* The fused sweep: e = e^{x[j] - m} once per entry; acc[j] += e (column
 * sums) and the row's sum of e is returned (float lanes, then double). */
static double row_col_sum_exp(float *acc, const float *x, int64_t n, float m)
{
    cls_vf racc = cls_vf_set1(0.0f), vm = cls_vf_set1(m);
    int64_t j = 0;
    for (; j + CLS_VW <= n; j += CLS_VW) {
        const cls_vf e = cls_vexp(cls_vf_load(x + j) - vm);
        racc += e;
        cls_vf_store(acc + j, cls_vf_load(acc + j) + e);
    }
    double s = cls_vf_hsum(racc);
    for (; j < n; j++) {
        const float e = cls_sexp(x[j] - m);
        s += (double)e;
        acc[j] += e;
    }
    return s;
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

    const int64_t ngroups = group_count(nblocks, nt);
    size_t per_thread_f = (size_t)T * (size_t)ld + 3 * (size_t)ld; /* X, tile col max, col chunk sums, row max */
    float *fbuf = cls_alloc(per_thread_f * (size_t)nt * sizeof(float), "forward tile buffers");
    double *dbuf =
        cls_alloc((size_t)ld * ((size_t)nt + 4 * (size_t)ngroups) * sizeof(double), "forward column partials");
    cls_tile_src sa, sb;
    cls_bf16 *copies = NULL;
    cls_status cs = (fbuf && dbuf) ? cls_loss_tile_sources(&sa, &sb, &copies, p->a, na, p->b, nb, d, p->precision)
                                   : CLS_E_NOMEM;
    if (cs != CLS_OK) {
        cls_free(fbuf);
        cls_free(dbuf);
        return cs;
    }
    int fail = 0;
    for (int64_t i = 0; i < na; i++) {
        rows.max[i] = -INFINITY;
        rows.log_sum[i] = 0.0; /* holds the running sum until the end */
        row_pos[i] = 0.0;
    }
    /* per group: column (max, sum) of the panel, two sets used alternately
     * (the merge of panel J overlaps the tiles of panel J+1: one barrier per panel) */
    double *gpart0 = dbuf + (size_t)ld * (size_t)nt;
    const cls_thread_state blas_threads = blas_single_begin(nt);

#pragma omp parallel num_threads(nt)
    {
        const int t = omp_get_thread_num();
        float *X = fbuf + (size_t)t * per_thread_f;
        float *tmax = X + (size_t)T * (size_t)ld;
        float *facc = tmax + ld, *rmx = facc + ld;
        double *tsum = dbuf + (size_t)t * (size_t)ld;

        for (int64_t jb = 0; jb < npanels; jb++) {
            const int64_t j0 = jb * T, tj = (nb - j0) < T ? (nb - j0) : T;
            double *gpart = gpart0 + (size_t)(jb & 1) * 2 * (size_t)ld * (size_t)ngroups;
#pragma omp for schedule(dynamic, 1)
            for (int64_t g = 0; g < ngroups; g++) {
                double *pm = gpart + (size_t)g * 2 * (size_t)ld, *pl = pm + ld;
                int have = 0;
                for (int64_t ib = g * nblocks / ngroups; ib < (g + 1) * nblocks / ngroups; ib++) {
                    const int64_t i0 = ib * T, ti = (na - i0) < T ? (na - i0) : T;
                    CLS_TILE_TRY(fail, cls_tile_gemm(CLS_NO_TRANS, CLS_TRANS, ti, tj, d, p->scale,
                                                     cls_tile_src_at(sa, i0 * d), d, cls_tile_src_at(sb, j0 * d), d,
                                                     0.0f, X, ld));
                    if (p->exclude_diag)
                        for (int64_t i = 0; i < ti; i++)
                            if (i0 + i >= j0 && i0 + i < j0 + tj) X[i * ld + (i0 + i - j0)] = -INFINITY;
                    /* one sweep: row maxima, column maxima (CLIP) and positives */
                    float M = -INFINITY, rmin = INFINITY, cmin = INFINITY;
                    if (p->columns)
                        for (int64_t j = 0; j < tj; j++) tmax[j] = -INFINITY;
                    for (int64_t i = 0; i < ti; i++) {
                        const float *x = X + i * ld;
                        const int64_t gi = i0 + i;
                        rmx[i] = p->columns ? row_col_max(tmax, x, tj) : row_max(x, tj);
                        M = rmx[i] > M ? rmx[i] : M;
                        rmin = rmx[i] < rmin ? rmx[i] : rmin;
                        int64_t lab = p->labels ? p->labels[gi] : gi;
                        if (lab >= j0 && lab < j0 + tj) row_pos[gi] = x[lab - j0];
                    }
                    if (p->columns)
                        for (int64_t j = 0; j < tj; j++) cmin = tmax[j] < cmin ? tmax[j] : cmin;
                    if (p->columns && M - rmin <= CLS_LSE_FUSE_SPAN && M - cmin <= CLS_LSE_FUSE_SPAN) {
                        /* Fused: every row and column max lies within the span of
                         * the tile max M, so one exponential per logit, e^{x - M},
                         * feeds both its row sum and its column sum (no sum can
                         * underflow; terms that flush to 0 are below e^-27 of
                         * their row's or column's largest). */
                        for (int64_t j = 0; j < tj; j++) tsum[j] = 0.0;
                        for (int64_t c0 = 0; c0 < ti; c0 += COL_CHUNK) {
                            int64_t c1 = c0 + COL_CHUNK < ti ? c0 + COL_CHUNK : ti;
                            for (int64_t j = 0; j < tj; j++) facc[j] = 0.0f;
                            for (int64_t i = c0; i < c1; i++) {
                                const double rs = row_col_sum_exp(facc, X + i * ld, tj, M);
                                lse_merge(&rows.max[i0 + i], &rows.log_sum[i0 + i], rows.max[i0 + i] != -INFINITY,
                                          M, rs);
                            }
                            for (int64_t j = 0; j < tj; j++) tsum[j] += (double)facc[j];
                        }
                        for (int64_t j = 0; j < tj; j++) lse_merge(&pm[j], &pl[j], have, M, tsum[j]);
                        have = 1;
                        continue;
                    }
                    /* rows: merge this tile's (max, sum) into the running state */
                    for (int64_t i = 0; i < ti; i++) {
                        const float *x = X + i * ld;
                        const int64_t gi = i0 + i;
                        double mo = rows.max[gi], mn = rmx[i];
                        if (mn == -INFINITY) continue; /* nothing in this row of the tile */
                        int first = (mo == -INFINITY);
                        if (!first && mo > mn) mn = mo;
                        double s = row_sum_exp(x, tj, (float)mn);
                        rows.log_sum[gi] = first ? s : rows.log_sum[gi] * exp(mo - mn) + s;
                        rows.max[gi] = mn;
                    }
                    if (p->columns) {
                        /* columns: sums of e^{x - column max} (float over
                         * COL_CHUNK rows, then double), merged into the group's
                         * partial for the panel */
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
            } /* implicit barrier: every group partial of the panel is complete */
            if (p->columns) {
                /* merge the group partials of this panel in group order */
#pragma omp for schedule(static) nowait
                for (int64_t j = 0; j < tj; j++) {
                    double m = 0.0, l = 0.0;
                    for (int64_t g = 0; g < ngroups; g++) {
                        const double *gm = gpart + (size_t)g * 2 * (size_t)ld;
                        lse_merge(&m, &l, g > 0, gm[j], gm[ld + j]);
                    }
                    cols.max[j0 + j] = m;
                    cols.log_sum[j0 + j] = log(l);
                }
            }
        }
    }
    blas_single_end(nt, blas_threads);
    for (int64_t i = 0; i < na; i++) rows.log_sum[i] = log(rows.log_sum[i]);
    cls_free(fbuf);
    cls_free(dbuf);
    cls_free(copies);
    return cls_tile_failed(fail, "loss forward");
}

/* ---- backward ------------------------------------------------------------ */

cls_status cls_tile_backward(const cls_tile_problem *p, const cls_tile_weights *w, cls_lse rows, cls_lse cols,
                             float *grad_a, float *grad_b)
{
    const int64_t na = p->na, nb = p->nb, d = p->d, T = p->tile;
    const int nt = p->threads;
    const int64_t ld = tile_ld(T);
    const int64_t nblocks = (na + T - 1) / T, npanels = (nb + T - 1) / T;
    const float wr = (float)w->row, wc = (float)w->col, wu = (float)w->uniform;
    const float pr = (float)w->pos_row, pc = (float)w->pos_col;
    if (p->columns && p->labels) return cls_set_error(CLS_E_INTERNAL, "tile kernel: column softmax with labels");

    const int64_t ngroups = group_count(nblocks, nt);
    size_t per_thread = (size_t)T * (size_t)ld + 3 * (size_t)ld; /* X tile, positives, fused row / column factors */
    const int bf16 = p->precision == CLS_PRECISION_BF16;
    size_t part_size = (size_t)T * (size_t)d;                /* one group's dB partial */
    float *fbuf =
        cls_alloc((per_thread * (size_t)nt + 2 * part_size * (size_t)ngroups) * sizeof(float), "backward tile buffers");
    float *colf = p->columns ? cls_alloc(2 * (size_t)nb * sizeof(float), "column log-sum-exp") : NULL;
    /* bf16: each thread's G tile rounded to bfloat16 for the two gradient products */
    cls_bf16 *gbuf = bf16 ? cls_alloc((size_t)T * (size_t)ld * (size_t)nt * sizeof(cls_bf16), "bf16 G tiles") : NULL;
    cls_tile_src sa, sb;
    cls_bf16 *copies = NULL;
    cls_status cs = (fbuf && (!p->columns || colf) && (!bf16 || gbuf))
                        ? cls_loss_tile_sources(&sa, &sb, &copies, p->a, na, p->b, nb, d,
                                                p->precision)
                        : CLS_E_NOMEM;
    if (cs != CLS_OK) {
        cls_free(fbuf);
        cls_free(colf);
        cls_free(gbuf);
        return cs;
    }
    int fail = 0;
    /* per group: the dB partial of the panel, two sets used alternately (the
     * reduction of panel J overlaps the tiles of panel J+1) */
    float *gpart0 = fbuf + per_thread * (size_t)nt;
    const cls_thread_state blas_threads = blas_single_begin(nt);
    if (p->columns)
        for (int64_t j = 0; j < nb; j++) {
            colf[j] = (float)cols.max[j];
            colf[nb + j] = (float)cols.log_sum[j];
        }

#pragma omp parallel num_threads(nt)
    {
        const int t = omp_get_thread_num();
        float *X = fbuf + (size_t)t * per_thread;
        float *xpos = X + (size_t)T * (size_t)ld; /* positive logit of each tile row */
        float *fr = xpos + ld, *fc = fr + ld;      /* fused path: w e^{C - lse} per row / column */
        cls_bf16 *Xh = bf16 ? gbuf + (size_t)t * (size_t)T * (size_t)ld : NULL;

        for (int64_t jb = 0; jb < npanels; jb++) {
            const int64_t j0 = jb * T, tj = (nb - j0) < T ? (nb - j0) : T;
            float *gpart = gpart0 + (size_t)(jb & 1) * part_size * (size_t)ngroups;
#pragma omp for schedule(dynamic, 1)
            for (int64_t grp = 0; grp < ngroups; grp++) {
                float *part = gpart + (size_t)grp * part_size;
                int have = 0;
                for (int64_t ib = grp * nblocks / ngroups; ib < (grp + 1) * nblocks / ngroups; ib++) {
                    const int64_t i0 = ib * T, ti = (na - i0) < T ? (na - i0) : T;
                    const cls_tile_src AI = cls_tile_src_at(sa, i0 * d), BJ = cls_tile_src_at(sb, j0 * d);
                    CLS_TILE_TRY(fail, cls_tile_gemm(CLS_NO_TRANS, CLS_TRANS, ti, tj, d, p->scale, AI, d, BJ, d, 0.0f,
                                                     X, ld));
                    const float *cmx = colf ? colf + j0 : NULL, *cll = colf ? colf + nb + j0 : NULL;
                    /* Fused (CLIP): when the tile's row and column LSE values span
                     * <= CLS_LSE_FUSE_SPAN, with C their midpoint,
                     * wr P^r + wc P^c = e^{x - C} (wr e^{C - r_i} + wc e^{C - c_j}):
                     * one exponential per logit (x - C <= lse - C <= span / 2). */
                    int fused = 0;
                    float cf = 0.0f;
                    if (cmx) {
                        double lmin = INFINITY, lmax = -INFINITY;
                        for (int64_t i = 0; i < ti; i++) {
                            const double l = rows.max[i0 + i] + rows.log_sum[i0 + i];
                            lmin = l < lmin ? l : lmin;
                            lmax = l > lmax ? l : lmax;
                        }
                        for (int64_t j = 0; j < tj; j++) {
                            const double l = cols.max[j0 + j] + cols.log_sum[j0 + j];
                            lmin = l < lmin ? l : lmin;
                            lmax = l > lmax ? l : lmax;
                        }
                        fused = lmax - lmin <= CLS_LSE_FUSE_SPAN;
                        if (fused) {
                            cf = (float)(0.5 * (lmin + lmax));
                            for (int64_t i = 0; i < ti; i++)
                                fr[i] = (float)(w->row * exp((double)cf - (rows.max[i0 + i] + rows.log_sum[i0 + i])));
                            for (int64_t j = 0; j < tj; j++)
                                fc[j] = (float)(w->col * exp((double)cf - (cols.max[j0 + j] + cols.log_sum[j0 + j])));
                        }
                    }
                    for (int64_t i = 0; i < ti; i++) {
                        float *x = X + i * ld;
                        const int64_t lab0 = p->labels ? p->labels[i0 + i] : i0 + i;
                        xpos[i] = (lab0 >= j0 && lab0 < j0 + tj) ? x[lab0 - j0] : 0.0f;
                        const float rm = (float)rows.max[i0 + i], rl = (float)rows.log_sum[i0 + i];
                        const cls_vf vrm = cls_vf_set1(rm), vrl = cls_vf_set1(rl);
                        const cls_vf vwr = cls_vf_set1(wr), vwc = cls_vf_set1(wc), vwu = cls_vf_set1(wu);
                        int64_t j = 0;
                        if (fused) {
                            const cls_vf vc = cls_vf_set1(cf), vfr = cls_vf_set1(fr[i]);
                            for (; j + CLS_VW <= tj; j += CLS_VW) {
                                cls_vf v = cls_vf_load(x + j);
                                cls_vf_store(x + j, cls_vexp(v - vc) * (vfr + cls_vf_load(fc + j)) - vwu);
                            }
                            for (; j < tj; j++) x[j] = cls_sexp(x[j] - cf) * (fr[i] + fc[j]) - wu;
                        } else if (cmx) {
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
                        if (p->exclude_diag && i0 + i >= j0 && i0 + i < j0 + tj) x[i0 + i - j0] = 0.0f;
                    }
                    cls_tile_src G = {X, NULL};
                    if (Xh) {
                        for (int64_t i = 0; i < ti; i++) cls_bf16_from_f32(Xh + i * ld, X + i * ld, tj);
                        G.h = Xh;
                    }
                    CLS_TILE_TRY(fail, cls_tile_gemm(CLS_NO_TRANS, CLS_NO_TRANS, ti, d, tj, p->scale, G, ld, BJ, d,
                                                     jb == 0 ? 0.0f : 1.0f, grad_a + i0 * d, d));
                    CLS_TILE_TRY(fail, cls_tile_gemm(CLS_TRANS, CLS_NO_TRANS, tj, d, ti, p->scale, G, ld, AI, d,
                                                     have ? 1.0f : 0.0f, part, d));
                    have = 1;
                }
            } /* implicit barrier: every group partial of the panel is complete */
              /* dB rows of this panel: the group partials summed in group order */
#pragma omp for schedule(static) nowait
            for (int64_t j = 0; j < tj; j++) {
                float *dst = grad_b + (j0 + j) * d;
                const float *src = gpart + (size_t)j * (size_t)d;
                for (int64_t k = 0; k < d; k++) dst[k] = src[k];
                for (int64_t g = 1; g < ngroups; g++) {
                    src = gpart + (size_t)g * part_size + (size_t)j * (size_t)d;
                    for (int64_t k = 0; k < d; k++) dst[k] += src[k];
                }
            }
        }
    }
    blas_single_end(nt, blas_threads);
    cls_free(fbuf);
    cls_free(colf);
    cls_free(gbuf);
    cls_free(copies);
    return cls_tile_failed(fail, "loss backward");
}
