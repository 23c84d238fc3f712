/* SigLIP (pairwise sigmoid loss with learnable bias) in tiles, one pass.
 *
 * X_ij = s*a_i.b_j + beta, z_ii = +1, z_ij = -1 off the diagonal,
 *   L = w * sum_ij softplus(-z_ij X_ij),  w = 1/n (mean) or 1 (sum),
 *   G_ij = dL/dX_ij = -w z_ij sigmoid(-z_ij X_ij),
 *   dA = s G B, dB = s G^T A, dL/ds = sum G_ij a_i.b_j, dL/dbeta = sum G_ij.
 * Nothing couples the entries of a row, so one pass over the tiles yields the
 * loss and every gradient: executed FLOPs 6 n^2 d.
 *
 * Deterministic ownership without per-thread copies of dB: the nT x nT grid of
 * tiles is walked in nT rounds; in round r task I handles tile (I, (I+r) mod nT).
 * Within a round the row tiles I and the column tiles J are both permutations,
 * so each task owns its dA_I and dB_J outright; rounds are separated by the
 * barrier of the work-sharing loop. Every gradient row is therefore summed in
 * the fixed order r = 0, 1, ... whatever the thread count, and the scalar sums
 * are kept per row tile and reduced in tile order: bit-identical results for
 * any number of threads. Memory: inputs, gradients, threads * T*T floats. */
#include "pair_util.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* Softplus and sigmoid of the off-diagonal entries (z = -1) of x[j0..j1):
 * loss += softplus(x), gb += sigmoid(x), gs += sigmoid(x) * raw (raw = x - beta
 * = s a.b), and x[j] <- w * sigmoid(x) (the gradient before the w z sign). */
static inline void siglip_negatives(float *x, int64_t j0, int64_t j1, float beta, float w, double *loss,
                                    double *gb, double *gs)
{
    /* float lanes over one tile row (<= T terms, a handful per lane), then double */
    float l = 0.0f, b = 0.0f, g = 0.0f;
#pragma omp simd reduction(+ : l, b, g)
    for (int64_t j = j0; j < j1; j++) {
        const float raw = x[j], v = raw + beta;
        const float e = cls_sexp(-fabsf(v)); /* in (0, 1]: the one exp of this logit */
        const float sp = (v > 0.0f ? v : 0.0f) + cls_pair_log1pf_unit(e);
        const float sig = (v >= 0.0f ? 1.0f : e) / (1.0f + e);
        l += sp;
        b += sig;
        g += sig * raw;
        x[j] = w * sig;
    }
    *loss += (double)l;
    *gb += (double)b;
    *gs += (double)g;
}

/* One block of SigLIP logits, A (na rows) against B (nb rows): with `diag`,
 * z = +1 on the block's diagonal (i == j), else every entry is a negative.
 * grad_a (na x d) and grad_b (nb x d) are overwritten (either may be NULL);
 * sums[0..2] get the unweighted sums of softplus, of dL/dX / w and of
 * dL/dX / w * s a.b, over the block; G is weighted by w. The tile grid
 * (nI x nJ) is walked in max(nI, nJ) rounds of min(nI, nJ) tasks whose row
 * tiles and column tiles are all distinct: each task owns its dA_I and dB_J,
 * and every sum is in a fixed order whatever the thread count. */
cls_status cls_siglip_block(double sums[3], float *grad_a, float *grad_b, const float *a, int64_t na,
                            const float *b, int64_t nb, int64_t d, int diag, double w, const cls_loss_options *o)
{
    const int64_t T = cls_pair_tile(o, na > nb ? na : nb), nI = (na + T - 1) / T, nJ = (nb + T - 1) / T;
    const int64_t nR = nI > nJ ? nI : nJ, nK = nI < nJ ? nI : nJ;
    const int nt = cls_threads_resolve(o->threads);
    const float s = (float)o->logit_scale, beta = (float)o->bias;
    const float wf = (float)w;
    float *ws = cls_alloc((size_t)T * T * sizeof(float) * (size_t)nt, "SigLIP workspace");
    /* per task: loss, sum of G, sum of G * s a.b */
    double *acc = cls_calloc((size_t)nK * 3, sizeof(double), "SigLIP tile sums");
    const int bf16 = o->precision == CLS_PRECISION_BF16;
    cls_bf16 *hbuf = bf16 ? cls_alloc((size_t)T * T * sizeof(cls_bf16) * (size_t)nt, "SigLIP bf16 G tiles") : NULL;
    cls_tile_src sa, sb;
    cls_bf16 *copies = NULL;
    cls_status cs = ws && acc && (!bf16 || hbuf) ? cls_loss_tile_sources(&sa, &sb, &copies, a, na, b, nb, d, o->precision)
                                                 : CLS_E_NOMEM;
    if (cs != CLS_OK) {
        cls_free(ws);
        cls_free(acc);
        cls_free(hbuf);
        return cs;
    }
    int fail = 0;
    if (nI > nJ && grad_a) memset(grad_a, 0, (size_t)na * (size_t)d * sizeof(float));
    if (nI < nJ && grad_b) memset(grad_b, 0, (size_t)nb * (size_t)d * sizeof(float));
    const cls_pair_threads saved_threads = cls_pair_blas_serial();
#pragma omp parallel num_threads(nt)
    {
        float *X = ws + (size_t)T * T * (size_t)omp_get_thread_num();
        cls_bf16 *Xh = bf16 ? hbuf + (size_t)T * T * (size_t)omp_get_thread_num() : NULL;
        for (int64_t r = 0; r < nR; r++) {
#pragma omp for schedule(dynamic, 1)
            for (int64_t k = 0; k < nK; k++) {
                const int64_t ti = nI <= nJ ? k : (k + r) % nI, tj = nI <= nJ ? (k + r) % nJ : k;
                const int64_t i0 = ti * T, j0 = tj * T;
                const int64_t ri = na - i0 < T ? na - i0 : T, cj = nb - j0 < T ? nb - j0 : T;
                const cls_tile_src AI = cls_tile_src_at(sa, i0 * d), BJ = cls_tile_src_at(sb, j0 * d);
                CLS_TILE_TRY(fail, cls_tile_gemm(CLS_NO_TRANS, CLS_TRANS, ri, cj, d, s, AI, d, BJ, d, 0.0f, X, cj));
                double loss = 0.0, gb = 0.0, gs = 0.0;
                for (int64_t i = 0; i < ri; i++) {
                    float *x = X + i * cj;
                    const int64_t dj = i0 + i - j0; /* the positive's column, if in this tile */
                    if (diag && dj >= 0 && dj < cj) {
                        siglip_negatives(x, 0, dj, beta, wf, &loss, &gb, &gs);
                        siglip_negatives(x, dj + 1, cj, beta, wf, &loss, &gb, &gs);
                        /* the positive (z = +1): softplus(-v), G = -w sigmoid(-v) */
                        const float raw = x[dj], v = raw + beta;
                        const double e = exp(-fabs((double)v));
                        const double sp = (v < 0.0f ? -(double)v : 0.0) + log1p(e);
                        const double sig = (v <= 0.0f ? 1.0 : e) / (1.0 + e); /* sigmoid(-v) */
                        loss += sp;
                        gb -= sig;
                        gs -= sig * (double)raw;
                        x[dj] = (float)(-w * sig);
                    } else {
                        siglip_negatives(x, 0, cj, beta, wf, &loss, &gb, &gs);
                    }
                }
                acc[3 * k] += loss;
                acc[3 * k + 1] += gb;
                acc[3 * k + 2] += gs;
                cls_tile_src G = {X, NULL};
                if (Xh) {
                    cls_bf16_from_f32(Xh, X, ri * cj);
                    G.h = Xh;
                }
                /* round 0 is the first visit of every row tile (nI <= nJ) or
                 * column tile (nI >= nJ); the other side was zeroed above */
                if (grad_a)
                    CLS_TILE_TRY(fail, cls_tile_gemm(CLS_NO_TRANS, CLS_NO_TRANS, ri, d, cj, s, G, cj, BJ, d,
                                                     nI <= nJ && r == 0 ? 0.0f : 1.0f, grad_a + i0 * d, d));
                if (grad_b)
                    CLS_TILE_TRY(fail, cls_tile_gemm(CLS_TRANS, CLS_NO_TRANS, cj, d, ri, s, G, cj, AI, d,
                                                     nI >= nJ && r == 0 ? 0.0f : 1.0f, grad_b + j0 * d, d));
            }
        }
    }
    cls_pair_threads_restore(saved_threads);
    sums[0] = sums[1] = sums[2] = 0.0;
    for (int64_t k = 0; k < nK; k++) {
        sums[0] += acc[3 * k];
        sums[1] += acc[3 * k + 1];
        sums[2] += acc[3 * k + 2];
    }
    cls_free(ws);
    cls_free(acc);
    cls_free(hbuf);
    cls_free(copies);
    return cls_tile_failed(fail, "SigLIP");
}

static cls_status siglip_run(cls_loss_result *result, float *grad_a, float *grad_b, const float *a,
                             const float *b, int64_t n, int64_t d, const cls_loss_options *o)
{
    const double w = o->reduction == CLS_REDUCE_SUM ? 1.0 : 1.0 / (double)n;
    double sums[3];
    cls_status st = cls_siglip_block(sums, grad_a, grad_b, a, n, b, n, d, 1, w, o);
    if (st == CLS_OK) {
        result->loss = w * sums[0];
        result->grad_bias = w * sums[1];
        result->grad_logit_scale = w * sums[2] / o->logit_scale;
    }
    return st;
}

cls_status cls_siglip_forward_backward(cls_loss_result *result, float *grad_a, float *grad_b,
                                       const float *a, const float *b, int64_t n, int64_t d,
                                       const cls_loss_options *options)
{
    cls_status st = cls_pair_check_f32("SigLIP", a, b, n, d, options, 1);
    if (st) return st;
    if (!result) return cls_set_error(CLS_E_INVALID_ARG, "SigLIP: result is NULL");
    return siglip_run(result, grad_a, grad_b, a, b, n, d, options);
}
