/* NT-Xent (SimCLR) in tiles: memory O(n*d + threads*tile*tile), never n^2.
 *
 * Z = [A; B] (N = 2n rows), X = s*Z*Z^T with the diagonal excluded, positive
 * of row i is its other view pos(i) = i +- n. Per row
 *   loss_i = lse_i - (1-eps)*X_{i,pos(i)} - eps/(N-1) * sum_{j!=i} X_ij,
 * lse_i = log sum_{j!=i} e^{X_ij}; the loss is the mean (or sum) over rows.
 *
 * Row tiles never straddle the A/B boundary (tiles 0..tpp-1 cover A, the next
 * tpp cover B), so every tile is a contiguous block of a, b, grad_a or grad_b
 * and no copy of Z is needed.
 *
 * Forward: each row tile I walks every column tile J once (sgemm into a
 * per-thread T x T buffer) and merges a running (max, sum) per row in double.
 * Backward: with G_ij = w(P_ij - q_ij), P_ij = e^{X_ij - lse_i},
 *   dL/dz_i = s * sum_j (G_ij + G_ji) z_j,
 * and because X is symmetric G_ji is computable from the same tile X_IJ using
 * lse_j. So row tile I rebuilds X_IJ once per J, forms H = G + G^T on it and
 * does dZ_I += s*H*Z_J: every gradient row has one owner, no reduction, and a
 * row tile's arithmetic does not depend on which thread runs it -> the result
 * is bit-identical for any thread count. Executed FLOPs: 2N^2d forward +
 * 4N^2d backward = 24 n^2 d.
 *
 * dL/ds = sum_ij G_ij X_ij / s, accumulated element-wise in double during the
 * backward (note <dZ, Z> = 2 s dL/ds here, since Z enters X twice). */
#include "pair_util.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

typedef struct {
    const float *a, *b;
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

/* Rows of tile t: global index of the first row, count, pointer into a or b,
 * and (if grad is non-NULL) pointer into grad_a / grad_b (NULL if absent). */
static const float *ntx_tile(const ntx_geom *g, int64_t t, int64_t *g0, int64_t *rows, float **grad)
{
    int64_t part = t / g->tpp, start = (t % g->tpp) * g->T;
    *rows = g->n - start < g->T ? g->n - start : g->T;
    *g0 = part * g->n + start;
    if (grad) {
        float *base = part ? g->gb : g->ga;
        *grad = base ? base + start * g->d : NULL;
    }
    return (part ? g->b : g->a) + start * g->d;
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
    for (int64_t j = j0; j < j1; j++) s += (double)cls_pair_expf(x[j] - m);
    return s;
}

static inline double row_sum(const float *x, int64_t j0, int64_t j1)
{
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = j0; j < j1; j++) s += (double)x[j];
    return s;
}

/* Forward: lse[2n] (double) and the reduced loss. */
static cls_status ntx_forward(double *loss_out, double *lse, const float *a, const float *b, int64_t n,
                              int64_t d, const cls_loss_options *o)
{
    ntx_geom g;
    ntx_geom_init(&g, a, b, n, d, o);
    const int nt = cls_threads_resolve(o->threads);
    const int64_t T = g.T, N = 2 * n;
    const float s = (float)o->logit_scale;
    const double eps = o->label_smoothing, unif = eps / (double)(N - 1);
    /* per thread: T*T floats of logits + 3*T doubles of row state */
    const size_t per_thread = (size_t)T * T * sizeof(float) + 3 * (size_t)T * sizeof(double);
    char *ws = cls_alloc(per_thread * (size_t)nt, "NT-Xent forward workspace");
    double *tile_loss = cls_alloc((size_t)g.ntiles * sizeof(double), "NT-Xent tile losses");
    if (!ws || !tile_loss) {
        cls_free(ws);
        cls_free(tile_loss);
        return CLS_E_NOMEM;
    }
    const int blas_prev = cls_blas_set_threads(1);
#pragma omp parallel num_threads(nt)
    {
        char *mine = ws + per_thread * (size_t)omp_get_thread_num();
        float *X = (float *)mine;
        double *m = (double *)(mine + (size_t)T * T * sizeof(float));
        double *l = m + T, *lin = l + T; /* lin: the linear terms (positive, smoothing) */
#pragma omp for schedule(dynamic, 1)
        for (int64_t ti = 0; ti < g.ntiles; ti++) {
            int64_t r0, ri;
            const float *ZI = ntx_tile(&g, ti, &r0, &ri, NULL);
            for (int64_t i = 0; i < ri; i++) {
                m[i] = -INFINITY;
                l[i] = 0.0;
                lin[i] = 0.0;
            }
            for (int64_t tj = 0; tj < g.ntiles; tj++) {
                int64_t c0, cj;
                const float *ZJ = ntx_tile(&g, tj, &c0, &cj, NULL);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ri, (int)cj, (int)d, s, ZI,
                            (int)d, ZJ, (int)d, 0.0f, X, (int)cj);
                for (int64_t i = 0; i < ri; i++) {
                    const float *x = X + i * cj;
                    const int64_t gi = r0 + i, dj = gi - c0, pj = ntx_pos(gi, n) - c0;
                    /* the row's candidates in this tile: [0, cj) minus the diagonal */
                    const int64_t cut = (dj >= 0 && dj < cj) ? dj : cj;
                    const int64_t resume = cut < cj ? cut + 1 : cj;
                    float tmax = row_max(x, 0, cut);
                    float t2 = row_max(x, resume, cj);
                    tmax = t2 > tmax ? t2 : tmax;
                    if (pj >= 0 && pj < cj) lin[i] += (1.0 - eps) * (double)x[pj];
                    if (eps > 0.0) lin[i] += unif * (row_sum(x, 0, cut) + row_sum(x, resume, cj));
                    if (tmax == -INFINITY) continue; /* only the diagonal was here */
                    const double mnew = tmax > m[i] ? tmax : m[i];
                    const double part = row_sumexp(x, 0, cut, (float)mnew) +
                                        row_sumexp(x, resume, cj, (float)mnew);
                    l[i] = l[i] * exp(m[i] - mnew) + part; /* exp(-inf) = 0 on the first tile */
                    m[i] = mnew;
                }
            }
            double acc = 0.0;
            for (int64_t i = 0; i < ri; i++) {
                lse[r0 + i] = m[i] + log(l[i]);
                acc += lse[r0 + i] - lin[i];
            }
            tile_loss[ti] = acc;
        }
    }
    cls_blas_set_threads(blas_prev);
    double total = 0.0;
    for (int64_t ti = 0; ti < g.ntiles; ti++) total += tile_loss[ti];
    *loss_out = o->reduction == CLS_REDUCE_SUM ? total : total / (double)N;
    cls_free(ws);
    cls_free(tile_loss);
    return CLS_OK;
}

/* Backward from lse[2n] (double): grad_a / grad_b (either may be NULL: its
 * sgemm is skipped) and dL/ds. */
static cls_status ntx_backward(float *grad_a, float *grad_b, double *grad_s, const double *lse,
                               const float *a, const float *b, int64_t n, int64_t d,
                               const cls_loss_options *o)
{
    ntx_geom g;
    ntx_geom_init(&g, a, b, n, d, o);
    g.ga = grad_a;
    g.gb = grad_b;
    const int nt = cls_threads_resolve(o->threads);
    const int64_t T = g.T, N = 2 * n;
    const float s = (float)o->logit_scale;
    const double w = o->reduction == CLS_REDUCE_SUM ? 1.0 : 1.0 / (double)N;
    const double eps = o->label_smoothing, unif = eps / (double)(N - 1);
    const float wf = (float)w, hunif = (float)(2.0 * w * unif);
    float *ws = cls_alloc((size_t)T * T * sizeof(float) * (size_t)nt, "NT-Xent backward workspace");
    double *tile_ds = cls_alloc((size_t)g.ntiles * sizeof(double), "NT-Xent tile scale gradients");
    /* lse as an unevaluated float sum hi + lo: (x - hi) - lo keeps the exponent
     * accurate to float rounding of x even where |lse| is large (s = 100) */
    float *lhi = cls_alloc((size_t)(2 * N) * sizeof(float), "NT-Xent lse split");
    if (!ws || !tile_ds || !lhi) {
        cls_free(ws);
        cls_free(tile_ds);
        cls_free(lhi);
        return CLS_E_NOMEM;
    }
    float *llo = lhi + N;
    for (int64_t i = 0; i < N; i++) {
        lhi[i] = (float)lse[i];
        llo[i] = (float)(lse[i] - (double)lhi[i]);
    }
    const int blas_prev = cls_blas_set_threads(1);
#pragma omp parallel num_threads(nt)
    {
        float *X = ws + (size_t)T * T * (size_t)omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
        for (int64_t ti = 0; ti < g.ntiles; ti++) {
            int64_t r0, ri;
            float *dZI;
            const float *ZI = ntx_tile(&g, ti, &r0, &ri, &dZI);
            double ds = 0.0;
            for (int64_t tj = 0; tj < g.ntiles; tj++) {
                int64_t c0, cj;
                const float *ZJ = ntx_tile(&g, tj, &c0, &cj, NULL);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ri, (int)cj, (int)d, s, ZI,
                            (int)d, ZJ, (int)d, 0.0f, X, (int)cj);
                const float *hiJ = lhi + c0, *loJ = llo + c0;
                for (int64_t i = 0; i < ri; i++) {
                    float *x = X + i * cj;
                    const int64_t gi = r0 + i, dj = gi - c0, pj = ntx_pos(gi, n) - c0;
                    const float hi = lhi[gi], lo = llo[gi];
                    const int64_t cut = (dj >= 0 && dj < cj) ? dj : cj;
                    const int64_t resume = cut < cj ? cut + 1 : cj;
                    double px = 0.0, xs = 0.0; /* sum P_ij X_ij and sum X_ij over j != i */
                    const float xpos = (pj >= 0 && pj < cj) ? x[pj] : 0.0f;
                    for (int seg = 0; seg < 2; seg++) {
                        const int64_t j0 = seg ? resume : 0, j1 = seg ? cj : cut;
#pragma omp simd reduction(+ : px, xs)
                        for (int64_t j = j0; j < j1; j++) {
                            const float v = x[j];
                            const float p1 = cls_pair_expf((v - hi) - lo);
                            const float p2 = cls_pair_expf((v - hiJ[j]) - loJ[j]);
                            px += (double)p1 * (double)v;
                            xs += (double)v;
                            x[j] = wf * (p1 + p2) - hunif; /* H_ij = G_ij + G_ji */
                        }
                    }
                    if (cut < cj) x[cut] = 0.0f; /* no self-similarity */
                    if (pj >= 0 && pj < cj) {
                        x[pj] -= (float)(2.0 * w * (1.0 - eps));
                        ds -= w * (1.0 - eps) * (double)xpos;
                    }
                    ds += w * (px - unif * xs);
                }
                if (dZI)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)ri, (int)d, (int)cj, s,
                                X, (int)cj, ZJ, (int)d, tj == 0 ? 0.0f : 1.0f, dZI, (int)d);
            }
            tile_ds[ti] = ds;
        }
    }
    cls_blas_set_threads(blas_prev);
    double total = 0.0;
    for (int64_t ti = 0; ti < g.ntiles; ti++) total += tile_ds[ti];
    if (grad_s) *grad_s = total / o->logit_scale;
    cls_free(ws);
    cls_free(tile_ds);
    cls_free(lhi);
    return CLS_OK;
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
    if ((st = cls_check_finite_f32(lse, 1, 2 * n, "lse"))) return cls_error_context(st, "NT-Xent backward");
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
