/* NT-Xent (SimCLR) in tiles: memory O(n*d + threads*tile*tile), never n^2.
 *
 * Z = [A; B] (N = 2n rows), X = s*Z*Z^T with the diagonal excluded, positive
 * of row i is its other view pos(i) = i +- n. Per row
 *   loss_i = lse_i - (1-eps)*X_{i,pos(i)} - eps/(N-1) * sum_{j!=i} X_ij,
 * lse_i = log sum_{j!=i} e^{X_ij}; the loss is the mean (or sum) over rows.
 *
 * Row tiles never straddle the A/B boundary (tiles 0..tpp-1 cover A, the next
 * tpp cover B), so every tile is a contiguous block of a, b, grad_a or grad_b
 * and no copy of Z is needed; a positive pos(i) is never in i's own tile.
 *
 * X is symmetric, so only the tiles X_IJ with I <= J are computed (sgemm into
 * a per-thread T x T buffer). Forward: an off-diagonal tile updates the
 * running (max, sum) of the rows of I along its rows and of the rows of J
 * along its columns, in double. Backward, with G_ij = w(P_ij - q_ij),
 * P_ij = e^{X_ij - lse_i}:
 *   dL/dz_i = s * sum_j (G_ij + G_ji) z_j,
 * and H = G_IJ + G_JI^T is formed on the same tile (using lse_i and lse_j),
 * then dZ_I += s*H*Z_J and dZ_J += s*H^T*Z_I.
 * Ownership: the tile pairs are scheduled as a round-robin tournament (see
 * ntx_schedule): within a round no row tile appears twice, so every row's
 * LSE state and gradient rows have one writer per round, and rounds run in a
 * fixed order. A tile's arithmetic does not depend on which thread runs it ->
 * bit-identical results for any thread count. Executed FLOPs: (2n)^2 d forward
 * + 3 (2n)^2 d backward = 16 n^2 d (+ O(n*T*d) for the diagonal tiles).
 *
 * dL/ds = sum_ij G_ij X_ij / s, accumulated element-wise in double during the
 * backward (note <dZ, Z> = 2 s dL/ds here, since Z enters X twice). */
#include "pair_util.h"

#include <math.h>
#include <omp.h>
#include <string.h>

typedef struct {
    const float *a, *b;
    cls_tile_src sa, sb; /* a, b as tile-product sources (bf16 copies in bf16 precision) */
    float *ga, *gb; /* gradients (backward only; either may be NULL) */
    int64_t n, d, T, tpp, ntiles;
} ntx_geom;

static void ntx_geom_init(ntx_geom *g, const float *a, const float *b, int64_t n, int64_t d,
                          const cls_loss_options *o)
{
    memset(g, 0, sizeof *g);
    g->a = a;
    g->b = b;
    g->n = n;
    g->d = d;
    g->T = cls_pair_tile(o, n);
    g->tpp = (n + g->T - 1) / g->T;
    g->ntiles = 2 * g->tpp;
}

/* Rows of tile t: global index of the first row, count, source rows in a or b,
 * and (if grad is non-NULL) pointer into grad_a / grad_b (NULL if absent). */
static cls_tile_src ntx_tile(const ntx_geom *g, int64_t t, int64_t *g0, int64_t *rows, float **grad)
{
    int64_t part = t / g->tpp, start = (t % g->tpp) * g->T;
    *rows = g->n - start < g->T ? g->n - start : g->T;
    *g0 = part * g->n + start;
    if (grad) {
        float *base = part ? g->gb : g->ga;
        *grad = base ? base + start * g->d : NULL;
    }
    return cls_tile_src_at(part ? g->sb : g->sa, start * g->d);
}

static inline int64_t ntx_pos(int64_t i, int64_t n) { return i < n ? i + n : i - n; }

/* Max of x[j0..j1) (-inf when empty). */
static inline float row_max(const float *x, int64_t j0, int64_t j1)
{
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t j = j0; j < j1; j++) m = x[j] > m ? x[j] : m;
    return m;
}

/* sum e^{x_j - m} over [j0, j1), in double. */
static inline double row_sumexp(const float *x, int64_t j0, int64_t j1, float m)
{
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = j0; j < j1; j++) s += (double)cls_sexp(x[j] - m);
    return s;
}

static inline double row_sum(const float *x, int64_t j0, int64_t j1)
{
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = j0; j < j1; j++) s += (double)x[j];
    return s;
}

/* Which tiles task k works on in round r, so that within a round no tile is
 * touched twice and over all rounds every unordered pair of tiles {I, J}
 * (I < J) and every diagonal tile (I, I) is visited exactly once:
 *   round 0: task k -> (k, k), k < nT;
 *   rounds 1..M-1 (M = nT rounded up to even): the circle method of a
 *   round-robin tournament: task 0 -> (M-1, c), task k -> (c+k, c-k) mod (M-1),
 *   c = r - 1. Pairs with the phantom tile M-1 = nT (odd nT) are skipped.
 * Returns 0 for a skipped task. */
static int ntx_schedule(int64_t nT, int64_t r, int64_t k, int64_t *ti, int64_t *tj)
{
    if (r == 0) {
        *ti = *tj = k;
        return 1;
    }
    const int64_t M = nT + (nT & 1), c = r - 1;
    int64_t x, y;
    if (k == 0) {
        x = M - 1;
        y = c;
    } else {
        x = (c + k) % (M - 1);
        y = (c - k + (M - 1)) % (M - 1);
    }
    if (x >= nT || y >= nT) return 0;
    *ti = x < y ? x : y;
    *tj = x < y ? y : x;
    return 1;
}

static int64_t ntx_rounds(int64_t nT) { return nT + (nT & 1); } /* 1 + (M - 1) */
static int64_t ntx_tasks(int64_t nT, int64_t r) { return r == 0 ? nT : (nT + (nT & 1)) / 2; }

/* A tile takes the fused path (one exp per entry, shifted by the tile max)
 * when every row and column max lies within CLS_LSE_FUSE_SPAN (vexp.h) of the
 * tile max: the smallest kept sum is then >= e^-60, far inside float's range,
 * and entries lost to underflow are below e^-27 of their row's max. */
#define FUSE_SPAN CLS_LSE_FUSE_SPAN

/* Merge a partial (m2, l2 = sum e^{x - m2}) into the state (m, l). */
static inline void state_merge(double *m, double *l, double m2, double l2)
{
    if (!(l2 > 0.0)) return;
    if (m2 > *m) {
        *l = *l * exp(*m - m2) + l2; /* exp(-inf) = 0 for an empty state */
        *m = m2;
    } else {
        *l += l2 * exp(m2 - *m);
    }
}

/* Merge the entries x[j0..j1) of row state (m, l) with a running max. */
static inline void row_merge(double *m, double *l, const float *x, int64_t j0, int64_t j1, float tmax)
{
    if (tmax == -INFINITY) return; /* nothing in this range */
    const double mnew = tmax > *m ? tmax : *m;
    *l = *l * exp(*m - mnew) + row_sumexp(x, j0, j1, (float)mnew); /* exp(-inf) = 0 at first */
    *m = mnew;
}

/* Forward: lse[2n] (double) and the reduced loss. X is symmetric, so only the
 * tiles X_IJ with I <= J are computed: rows of I merge a tile's rows, rows of
 * J its columns (X_ji = X_ij). Per-row state (max, sum, linear terms) lives in
 * lse / ws arrays of 2n doubles, owned per round by the one task touching it,
 * and merged in round order: the same bits for any thread count. */
static cls_status ntx_forward(double *loss_out, double *lse, const float *a, const float *b, int64_t n,
                              int64_t d, const cls_loss_options *o)
{
    ntx_geom g;
    ntx_geom_init(&g, a, b, n, d, o);
    const int nt = cls_threads_resolve(o->threads);
    const int64_t T = g.T, N = 2 * n, nT = g.ntiles;
    const float s = (float)o->logit_scale;
    const double eps = o->label_smoothing, unif = eps / (double)(N - 1);
    /* per thread: T*T floats of logits, T floats of column maxima, 2T doubles of column sums */
    /* + T floats of row maxima and T floats of column sums for the fused pass */
    const size_t per_thread = (size_t)T * T * sizeof(float) + (size_t)T * (3 * sizeof(float) + 2 * sizeof(double));
    char *ws = cls_alloc(per_thread * (size_t)nt, "NT-Xent forward workspace");
    double *state = cls_alloc(3 * (size_t)N * sizeof(double), "NT-Xent row state");
    cls_bf16 *copies = NULL;
    cls_status cs = ws && state ? cls_loss_tile_sources(&g.sa, &g.sb, &copies, a, n, b, n, d, o->precision) : CLS_E_NOMEM;
    if (cs != CLS_OK) {
        cls_free(ws);
        cls_free(state);
        return cs;
    }
    int fail = 0;
    double *m = state, *l = state + N, *lin = state + 2 * N; /* lin: positive + smoothing terms */
    for (int64_t i = 0; i < N; i++) m[i] = -INFINITY, l[i] = 0.0, lin[i] = 0.0;
    const cls_pair_threads saved_threads = cls_pair_blas_serial();
#pragma omp parallel num_threads(nt)
    {
        char *mine = ws + per_thread * (size_t)omp_get_thread_num();
        float *X = (float *)mine, *cmax = X + T * T;
        double *csum = (double *)(cmax + T), *cxs = csum + T;
        float *rmx = (float *)(cxs + T), *fcs = rmx + T;
        for (int64_t r = 0; r < ntx_rounds(nT); r++) {
#pragma omp for schedule(dynamic, 1)
            for (int64_t k = 0; k < ntx_tasks(nT, r); k++) {
                int64_t ti, tj, r0, ri, c0, cj;
                if (!ntx_schedule(nT, r, k, &ti, &tj)) continue;
                const cls_tile_src ZI = ntx_tile(&g, ti, &r0, &ri, NULL);
                const cls_tile_src ZJ = ntx_tile(&g, tj, &c0, &cj, NULL);
                CLS_TILE_TRY(fail, cls_tile_gemm(CLS_NO_TRANS, CLS_TRANS, ri, cj, d, s, ZI, d, ZJ, d, 0.0f, X, cj));
                if (ti == tj) { /* diagonal tile: rows only, self excluded; no positives (other half) */
                    for (int64_t i = 0; i < ri; i++) {
                        const float *x = X + i * cj;
                        float t1 = row_max(x, 0, i), t2 = row_max(x, i + 1, cj);
                        const double mold = m[r0 + i];
                        const double mnew = fmax(mold, fmax(t1, t2));
                        if (mnew == -INFINITY) continue; /* a 1-row tile: only the diagonal */
                        l[r0 + i] = l[r0 + i] * exp(mold - mnew) + row_sumexp(x, 0, i, (float)mnew) +
                                    row_sumexp(x, i + 1, cj, (float)mnew);
                        m[r0 + i] = mnew;
                        if (eps > 0.0) lin[r0 + i] += unif * (row_sum(x, 0, i) + row_sum(x, i + 1, cj));
                    }
                    continue;
                }
                /* One sweep for the row maxima of I, the column maxima (rows of
                 * J), positives and smoothing sums; then, when every row and
                 * column max lies within FUSE_SPAN of the tile max M, one
                 * exponential per entry, e^{x - M}, feeds both its row sum and
                 * its column sum (float within the tile, merged in double). */
                float M = -INFINITY, rmin = INFINITY, cmin = INFINITY;
                for (int64_t j = 0; j < cj; j++) cmax[j] = -INFINITY, cxs[j] = 0.0;
                for (int64_t i = 0; i < ri; i++) {
                    const float *x = X + i * cj;
                    rmx[i] = row_max(x, 0, cj);
                    M = rmx[i] > M ? rmx[i] : M;
                    rmin = rmx[i] < rmin ? rmx[i] : rmin;
#pragma omp simd
                    for (int64_t j = 0; j < cj; j++) cmax[j] = x[j] > cmax[j] ? x[j] : cmax[j];
                    const int64_t pj = ntx_pos(r0 + i, n) - c0;
                    if (pj >= 0 && pj < cj) lin[r0 + i] += (1.0 - eps) * (double)x[pj];
                    if (eps > 0.0) {
                        lin[r0 + i] += unif * row_sum(x, 0, cj);
#pragma omp simd
                        for (int64_t j = 0; j < cj; j++) cxs[j] += (double)x[j];
                    }
                }
                for (int64_t j = 0; j < cj; j++) cmin = cmax[j] < cmin ? cmax[j] : cmin;
                if (M - rmin <= FUSE_SPAN && M - cmin <= FUSE_SPAN) {
                    for (int64_t j = 0; j < cj; j++) fcs[j] = 0.0f;
                    for (int64_t i = 0; i < ri; i++) {
                        const float *x = X + i * cj;
                        float rs = 0.0f;
#pragma omp simd reduction(+ : rs)
                        for (int64_t j = 0; j < cj; j++) {
                            const float e = cls_sexp(x[j] - M);
                            rs += e;
                            fcs[j] += e;
                        }
                        state_merge(m + r0 + i, l + r0 + i, M, rs);
                    }
                    for (int64_t j = 0; j < cj; j++) {
                        state_merge(m + c0 + j, l + c0 + j, M, fcs[j]);
                        const int64_t pi = ntx_pos(c0 + j, n) - r0;
                        if (pi >= 0 && pi < ri) lin[c0 + j] += (1.0 - eps) * (double)X[pi * cj + j];
                        if (eps > 0.0) lin[c0 + j] += unif * cxs[j];
                    }
                    continue;
                }
                /* wide range of values: rows and columns with their own maxima */
                for (int64_t i = 0; i < ri; i++) row_merge(m + r0 + i, l + r0 + i, X + i * cj, 0, cj, rmx[i]);
                for (int64_t j = 0; j < cj; j++) {
                    const double mold = m[c0 + j], mnew = cmax[j] > mold ? cmax[j] : mold;
                    l[c0 + j] *= exp(mold - mnew);
                    m[c0 + j] = mnew;
                    cmax[j] = (float)mnew;
                    csum[j] = 0.0;
                }
                for (int64_t i = 0; i < ri; i++) {
                    const float *x = X + i * cj;
#pragma omp simd
                    for (int64_t j = 0; j < cj; j++) csum[j] += (double)cls_sexp(x[j] - cmax[j]);
                }
                for (int64_t j = 0; j < cj; j++) {
                    l[c0 + j] += csum[j];
                    const int64_t pi = ntx_pos(c0 + j, n) - r0;
                    if (pi >= 0 && pi < ri) lin[c0 + j] += (1.0 - eps) * (double)X[pi * cj + j];
                    if (eps > 0.0) lin[c0 + j] += unif * cxs[j];
                }
            }
        }
    }
    cls_pair_threads_restore(saved_threads);
    double total = 0.0;
    for (int64_t i = 0; i < N; i++) {
        lse[i] = m[i] + log(l[i]);
        total += lse[i] - lin[i];
    }
    *loss_out = o->reduction == CLS_REDUCE_SUM ? total : total / (double)N;
    cls_free(ws);
    cls_free(state);
    cls_free(copies);
    return cls_tile_failed(fail, "NT-Xent forward");
}

/* Backward from lse[2n] (double): grad_a / grad_b (either may be NULL: its
 * sgemm is skipped) and dL/ds. Tiles I <= J as in the forward: on an
 * off-diagonal tile H = G_IJ + G_JI^T feeds dZ_I += s H Z_J and
 * dZ_J += s H^T Z_I; a diagonal tile feeds dZ_I += s H_II Z_I. Each round
 * touches every gradient tile at most once; rounds run in a fixed order. */
static cls_status ntx_backward(float *grad_a, float *grad_b, double *grad_s, const double *lse,
                               const float *a, const float *b, int64_t n, int64_t d,
                               const cls_loss_options *o)
{
    ntx_geom g;
    ntx_geom_init(&g, a, b, n, d, o);
    g.ga = grad_a;
    g.gb = grad_b;
    const int nt = cls_threads_resolve(o->threads);
    const int64_t T = g.T, N = 2 * n, nT = g.ntiles;
    const float s = (float)o->logit_scale;
    const double w = o->reduction == CLS_REDUCE_SUM ? 1.0 : 1.0 / (double)N;
    const double eps = o->label_smoothing, unif = eps / (double)(N - 1);
    const float wf = (float)w, hunif = (float)(2.0 * w * unif), hpos = (float)(2.0 * w * (1.0 - eps));
    const size_t per_thread = (size_t)T * T + 2 * (size_t)T; /* tile, row and column factors */
    float *ws = cls_alloc(per_thread * sizeof(float) * (size_t)nt, "NT-Xent backward workspace");
    double *task_ds = cls_calloc((size_t)nT, sizeof(double), "NT-Xent task scale gradients");
    /* lse as an unevaluated float sum hi + lo: (x - hi) - lo keeps the exponent
     * accurate to float rounding of x even where |lse| is large (s = 100) */
    float *lhi = cls_alloc((size_t)(2 * N) * sizeof(float), "NT-Xent lse split");
    const int bf16 = o->precision == CLS_PRECISION_BF16;
    cls_bf16 *hbuf = bf16 ? cls_alloc((size_t)T * T * sizeof(cls_bf16) * (size_t)nt, "NT-Xent bf16 H tiles") : NULL;
    cls_bf16 *copies = NULL;
    cls_status cs = ws && task_ds && lhi && (!bf16 || hbuf)
                        ? cls_loss_tile_sources(&g.sa, &g.sb, &copies, a, n, b, n, d, o->precision)
                        : CLS_E_NOMEM;
    if (cs != CLS_OK) {
        cls_free(ws);
        cls_free(task_ds);
        cls_free(lhi);
        cls_free(hbuf);
        return cs;
    }
    int fail = 0;
    float *llo = lhi + N;
    for (int64_t i = 0; i < N; i++) {
        lhi[i] = (float)lse[i];
        llo[i] = (float)(lse[i] - (double)lhi[i]);
    }
    if (grad_a) memset(grad_a, 0, (size_t)(n * d) * sizeof(float));
    if (grad_b) memset(grad_b, 0, (size_t)(n * d) * sizeof(float));
    const cls_pair_threads saved_threads = cls_pair_blas_serial();
#pragma omp parallel num_threads(nt)
    {
        float *X = ws + per_thread * (size_t)omp_get_thread_num();
        float *rr = X + (size_t)T * T, *rc = rr + T;
        cls_bf16 *Xh = bf16 ? hbuf + (size_t)T * T * (size_t)omp_get_thread_num() : NULL;
        for (int64_t r = 0; r < ntx_rounds(nT); r++) {
#pragma omp for schedule(dynamic, 1)
            for (int64_t k = 0; k < ntx_tasks(nT, r); k++) {
                int64_t ti, tj, r0, ri, c0, cj;
                float *dZI, *dZJ;
                if (!ntx_schedule(nT, r, k, &ti, &tj)) continue;
                const cls_tile_src ZI = ntx_tile(&g, ti, &r0, &ri, &dZI);
                const cls_tile_src ZJ = ntx_tile(&g, tj, &c0, &cj, &dZJ);
                CLS_TILE_TRY(fail, cls_tile_gemm(CLS_NO_TRANS, CLS_TRANS, ri, cj, d, s, ZI, d, ZJ, d, 0.0f, X, cj));
                const float *hiJ = lhi + c0, *loJ = llo + c0;
                double hx = 0.0; /* sum H_ij X_ij over the computed entries */
                /* Fused when the tile's LSE values span <= FUSE_SPAN: with c their
                 * midpoint, P_ij + P_ji = e^{x - c} (e^{c - lse_i} + e^{c - lse_j}),
                 * one exponential per entry (x - c <= lse - c <= span / 2). */
                double lmin = INFINITY, lmax = -INFINITY;
                for (int64_t i = 0; i < ri; i++) lmin = fmin(lmin, lse[r0 + i]), lmax = fmax(lmax, lse[r0 + i]);
                for (int64_t j = 0; j < cj; j++) lmin = fmin(lmin, lse[c0 + j]), lmax = fmax(lmax, lse[c0 + j]);
                const int fused = lmax - lmin <= FUSE_SPAN;
                const float cf = (float)(0.5 * (lmin + lmax));
                if (fused) {
                    for (int64_t i = 0; i < ri; i++) rr[i] = (float)(w * exp((double)cf - lse[r0 + i]));
                    for (int64_t j = 0; j < cj; j++) rc[j] = (float)(w * exp((double)cf - lse[c0 + j]));
                }
                for (int64_t i = 0; i < ri; i++) {
                    float *x = X + i * cj;
                    const float hi = lhi[r0 + i], lo = llo[r0 + i], ri_f = fused ? rr[i] : 0.0f;
                    const int64_t pj = ntx_pos(r0 + i, n) - c0;
                    const int has_pos = pj >= 0 && pj < cj;
                    const float xpos = has_pos ? x[pj] : 0.0f;
                    /* the loops skip one column: self (diagonal tile) or the positive */
                    const int64_t skip = ti == tj ? i : (has_pos ? pj : cj);
                    const int64_t cut = skip, resume = skip < cj ? skip + 1 : cj;
                    double acc = 0.0;
                    for (int seg = 0; seg < 2; seg++) {
                        const int64_t j0 = seg ? resume : 0, j1 = seg ? cj : cut;
                        float facc = 0.0f; /* at most T terms in float lanes, then double */
                        if (fused) {
#pragma omp simd reduction(+ : facc)
                            for (int64_t j = j0; j < j1; j++) {
                                const float v = x[j];
                                const float h = cls_sexp(v - cf) * (ri_f + rc[j]) - hunif;
                                facc += h * v;
                                x[j] = h; /* H_ij = G_ij + G_ji */
                            }
                        } else {
#pragma omp simd reduction(+ : facc)
                            for (int64_t j = j0; j < j1; j++) {
                                const float v = x[j];
                                const float h = wf * (cls_sexp((v - hi) - lo) + cls_sexp((v - hiJ[j]) - loJ[j])) - hunif;
                                facc += h * v;
                                x[j] = h;
                            }
                        }
                        acc += (double)facc;
                    }
                    if (ti == tj) x[i] = 0.0f; /* no self-similarity */
                    if (has_pos) {
                        /* the positive from the split LSE, unfused (P near 1 cancels
                         * against hpos) */
                        const float hp =
                            wf * (cls_sexp((xpos - hi) - lo) + cls_sexp((xpos - hiJ[pj]) - loJ[pj])) - hunif;
                        acc += (double)hp * (double)xpos - (double)hpos * (double)xpos;
                        x[pj] = hp - hpos;
                    }
                    hx += acc;
                }
                /* sum_ij G_ij X_ij: an off-diagonal tile stands for both (I,J) and
                 * (J,I); a diagonal tile holds each unordered pair twice */
                task_ds[k] += ti == tj ? 0.5 * hx : hx;
                cls_tile_src H = {X, NULL};
                if (Xh) {
                    cls_bf16_from_f32(Xh, X, ri * cj);
                    H.h = Xh;
                }
                if (dZI) CLS_TILE_TRY(fail, cls_tile_gemm(CLS_NO_TRANS, CLS_NO_TRANS, ri, d, cj, s, H, cj, ZJ, d, 1.0f, dZI, d));
                if (dZJ && ti != tj)
                    CLS_TILE_TRY(fail, cls_tile_gemm(CLS_TRANS, CLS_NO_TRANS, cj, d, ri, s, H, cj, ZI, d, 1.0f, dZJ, d));
            }
        }
    }
    cls_pair_threads_restore(saved_threads);
    double total = 0.0;
    for (int64_t k = 0; k < nT; k++) total += task_ds[k];
    if (grad_s) *grad_s = total / o->logit_scale;
    cls_free(ws);
    cls_free(task_ds);
    cls_free(lhi);
    cls_free(hbuf);
    cls_free(copies);
    return cls_tile_failed(fail, "NT-Xent backward");
}

cls_status cls_ntxent_forward(double *loss, float *lse, const float *a, const float *b, int64_t n,
                              int64_t d, const cls_loss_options *options)
{
    cls_status st = cls_pair_check_f32("NT-Xent", a, b, n, d, options, 0);
    if (st) return st;
    if (!loss || !lse) return cls_set_error(CLS_E_INVALID_ARG, "NT-Xent forward: %s is NULL", !loss ? "loss" : "lse");
    double *lse64 = cls_alloc((size_t)(2 * n) * sizeof(double), "NT-Xent lse");
    if (!lse64) return CLS_E_NOMEM;
    double value;
    st = ntx_forward(&value, lse64, a, b, n, d, options);
    if (st == CLS_OK) {
        for (int64_t i = 0; i < 2 * n; i++) lse[i] = (float)lse64[i];
        *loss = value;
    }
    cls_free(lse64);
    return st;
}

cls_status cls_ntxent_backward(float *grad_a, float *grad_b, double *grad_logit_scale, const float *lse,
                               const float *a, const float *b, int64_t n, int64_t d,
                               const cls_loss_options *options)
{
    cls_status st = cls_pair_check_f32("NT-Xent", a, b, n, d, options, 0);
    if (st) return st;
    if (!grad_a || !grad_b || !lse)
        return cls_set_error(CLS_E_INVALID_ARG, "NT-Xent backward: %s is NULL",
                             !grad_a ? "grad_a" : !grad_b ? "grad_b" : "lse");
    for (int64_t i = 0; i < 2 * n; i++)
        if (!isfinite(lse[i]))
            return cls_set_error(CLS_E_NONFINITE, "NT-Xent backward: lse[%lld] is %s", (long long)i,
                                 isnan(lse[i]) ? "NaN" : "Inf");
    double *lse64 = cls_alloc((size_t)(2 * n) * sizeof(double), "NT-Xent lse");
    if (!lse64) return CLS_E_NOMEM;
    for (int64_t i = 0; i < 2 * n; i++) lse64[i] = lse[i];
    st = ntx_backward(grad_a, grad_b, grad_logit_scale, lse64, a, b, n, d, options);
    cls_free(lse64);
    return st;
}

cls_status cls_ntxent_compute(cls_loss_result *result, float *grad_a, float *grad_b, const float *a,
                              const float *b, int64_t n, int64_t d, const cls_loss_options *options)
{
    cls_status st = cls_pair_check_f32("NT-Xent", a, b, n, d, options, 0);
    if (st) return st;
    if (!result) return cls_set_error(CLS_E_INVALID_ARG, "NT-Xent: result is NULL");
    /* lse stays in double between the passes here (the split API hands floats) */
    double *lse = cls_alloc((size_t)(2 * n) * sizeof(double), "NT-Xent lse");
    if (!lse) return CLS_E_NOMEM;
    double loss = 0.0, gs = 0.0;
    st = ntx_forward(&loss, lse, a, b, n, d, options);
    if (st == CLS_OK) st = ntx_backward(grad_a, grad_b, &gs, lse, a, b, n, d, options);
    cls_free(lse);
    if (st) return st;
    result->loss = loss;
    result->grad_logit_scale = gs;
    result->grad_bias = 0.0;
    return CLS_OK;
}
