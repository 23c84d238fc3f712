/* Symmetric InfoNCE (CLIP) on a ring of MPI ranks (see include/clscale/loss_mpi.h).
 *
 * Rank p holds rows [off_p, off_p + n_p) of A and B. With w = 1/(2n) (mean)
 * or 1/2 (sum), e = label smoothing, X = s A B^T over the global batch:
 *   L = w [sum_i r_i + sum_j c_j - 2(1-e) sum_i X_ii - 2(e/n) sum_ij X_ij],
 *   G = w (P^r + P^c) - 2w(1-e) I - 2we/n,  dA = s G B, dB = s G^T A,
 *   dL/ds = sum_ij G_ij X_ij / s.
 *
 * Schedule (P ranks, left = p-1, right = p+1): at step k = 1..P-1 rank p
 * works on the B block of rank q = p-k, received from the left and forwarded
 * to the right while it computes; at step P it works on its own block last.
 * So block q visits q+1, q+2, ..., q-1 and finally q, and the state that must
 * be summed over all row owners rides along one hop behind it:
 *   forward:  the column (max, sum) partials of block q (2 n_q doubles);
 *   backward: block q travels with its column LSE, and its partial dB
 *             (n_q x d floats) follows, arriving fully summed at its owner.
 * B crosses P-1 hops in each pass and dB P-1 hops: (P-1) n_q d floats forward,
 * twice that backward. Every partial is combined as (incoming (+) local) in
 * the fixed ring order, and within a block the tiles are walked in
 * conflict-free rounds (as in siglip.c) so each tile's row and column state
 * has one owner per round: the same bits for a given P and any thread count.
 *
 * Only public headers, core/internal.h and our own pair_util.h (fast exp). */
#include "clscale/gemm.h"
#include "clscale/loss_mpi.h"

#include "pair_util.h"

#include <limits.h>
#include <math.h>
#include <omp.h>
#include <string.h>

enum { TAG_B = 101, TAG_C = 102, TAG_STATS = 103, TAG_DB = 104 };

/* One block product: local rows (a, na) against the block's rows (b, nb). */
typedef struct {
    const float *a, *b;
    int64_t na, nb, d, T;
    float s;
    int nt;
    int own; /* the own block: the positives X_ii are on its diagonal */
} ring_block;

/* Tile (I, J) handled by task k in round r: within a round the I's and the J's
 * are distinct, over the rounds every tile is visited once. */
static void round_tile(int64_t nI, int64_t nJ, int64_t r, int64_t k, int64_t *ti, int64_t *tj)
{
    if (nI <= nJ) {
        *ti = k;
        *tj = (k + r) % nJ;
    } else {
        *ti = (k + r) % nI;
        *tj = k;
    }
}

/* Forward on one block: merges into the row state (rm, rl: na) and fresh
 * column state (cm, cl: nb); adds sum X_ij and sum X_ii to sums[0], sums[1].
 * scratch: per thread T*T floats + T floats + T doubles; acc: 2*min(nI,nJ). */
static void block_forward(const ring_block *B, double *rm, double *rl, double *cm, double *cl,
                          double *sums, char *scratch, double *acc)
{
    const int64_t T = B->T, d = B->d, nI = (B->na + T - 1) / T, nJ = (B->nb + T - 1) / T;
    const int64_t nR = nI > nJ ? nI : nJ, nK = nI < nJ ? nI : nJ;
    const size_t per_thread = (size_t)T * T * sizeof(float) + (size_t)T * (sizeof(float) + sizeof(double));
    for (int64_t j = 0; j < B->nb; j++) cm[j] = -INFINITY, cl[j] = 0.0;
    memset(acc, 0, 2 * (size_t)nK * sizeof(double));
#pragma omp parallel num_threads(B->nt)
    {
        char *mine = scratch + per_thread * (size_t)omp_get_thread_num();
        float *X = (float *)mine, *cmax = X + T * T;
        double *csum = (double *)(cmax + T);
        for (int64_t r = 0; r < nR; r++) {
#pragma omp for schedule(dynamic, 1)
            for (int64_t k = 0; k < nK; k++) {
                int64_t ti, tj;
                round_tile(nI, nJ, r, k, &ti, &tj);
                const int64_t i0 = ti * T, j0 = tj * T;
                const int64_t ri = B->na - i0 < T ? B->na - i0 : T, cj = B->nb - j0 < T ? B->nb - j0 : T;
                (void)cls_gemm_f32(CLS_NO_TRANS, CLS_TRANS, ri, cj, d, B->s, B->a + i0 * d, d, B->b + j0 * d, d,
                                   0.0f, X, cj); /* valid by construction */
                double xsum = 0.0, pos = 0.0;
                for (int64_t j = 0; j < cj; j++) cmax[j] = -INFINITY, csum[j] = 0.0;
                for (int64_t i = 0; i < ri; i++) {
                    const float *x = X + i * cj;
                    float tmax = -INFINITY;
                    double rs = 0.0;
#pragma omp simd reduction(max : tmax) reduction(+ : rs)
                    for (int64_t j = 0; j < cj; j++) {
                        tmax = x[j] > tmax ? x[j] : tmax;
                        rs += (double)x[j];
                        cmax[j] = x[j] > cmax[j] ? x[j] : cmax[j];
                    }
                    xsum += rs;
                    if (B->own && i0 + i >= j0 && i0 + i < j0 + cj) pos += (double)x[i0 + i - j0];
                    double *m = rm + i0 + i, *l = rl + i0 + i;
                    const double mnew = tmax > *m ? tmax : *m;
                    const float mf = (float)mnew;
                    double se = 0.0;
#pragma omp simd reduction(+ : se)
                    for (int64_t j = 0; j < cj; j++) se += (double)cls_sexp(x[j] - mf);
                    *l = *l * exp(*m - mnew) + se; /* exp(-inf) = 0 before the first tile */
                    *m = mnew;
                }
                for (int64_t j = 0; j < cj; j++) {
                    double *m = cm + j0 + j;
                    const double mnew = cmax[j] > *m ? cmax[j] : *m;
                    cl[j0 + j] *= exp(*m - mnew);
                    *m = mnew;
                    cmax[j] = (float)mnew;
                }
                for (int64_t i = 0; i < ri; i++) {
                    const float *x = X + i * cj;
#pragma omp simd
                    for (int64_t j = 0; j < cj; j++) csum[j] += (double)cls_sexp(x[j] - cmax[j]);
                }
                for (int64_t j = 0; j < cj; j++) cl[j0 + j] += csum[j];
                acc[2 * k] += xsum;
                acc[2 * k + 1] += pos;
            }
        }
    }
    for (int64_t k = 0; k < nK; k++) sums[0] += acc[2 * k], sums[1] += acc[2 * k + 1];
}

/* Backward on one block: ga (na x d, accumulated) += s G B_blk; dbc (nb x d,
 * overwritten) = s G^T A; *ds += sum G_ij X_ij. rhi/rlo: row LSE of the local
 * rows, chi/clo: column LSE of the block, each as float hi + lo. */
static void block_backward(const ring_block *B, float *ga, float *dbc, double *ds, const float *rhi,
                           const float *rlo, const float *chi, const float *clo, double w, double e, int64_t n,
                           float *scratch, double *acc)
{
    const int64_t T = B->T, d = B->d, nI = (B->na + T - 1) / T, nJ = (B->nb + T - 1) / T;
    const int64_t nR = nI > nJ ? nI : nJ, nK = nI < nJ ? nI : nJ;
    const float wf = (float)w, uf = (float)(2.0 * w * e / (double)n), posw = (float)(2.0 * w * (1.0 - e));
    memset(dbc, 0, (size_t)B->nb * (size_t)d * sizeof(float));
    memset(acc, 0, (size_t)nK * sizeof(double));
#pragma omp parallel num_threads(B->nt)
    {
        float *X = scratch + (size_t)T * T * (size_t)omp_get_thread_num();
        for (int64_t r = 0; r < nR; r++) {
#pragma omp for schedule(dynamic, 1)
            for (int64_t k = 0; k < nK; k++) {
                int64_t ti, tj;
                round_tile(nI, nJ, r, k, &ti, &tj);
                const int64_t i0 = ti * T, j0 = tj * T;
                const int64_t ri = B->na - i0 < T ? B->na - i0 : T, cj = B->nb - j0 < T ? B->nb - j0 : T;
                const float *AI = B->a + i0 * d, *BJ = B->b + j0 * d;
                (void)cls_gemm_f32(CLS_NO_TRANS, CLS_TRANS, ri, cj, d, B->s, AI, d, BJ, d, 0.0f, X, cj);
                double gx = 0.0;
                for (int64_t i = 0; i < ri; i++) {
                    float *x = X + i * cj;
                    const float hi = rhi[i0 + i], lo = rlo[i0 + i];
                    const float *ch = chi + j0, *cl = clo + j0;
                    const int64_t dj = (B->own && i0 + i >= j0 && i0 + i < j0 + cj) ? i0 + i - j0 : -1;
                    const float xd = dj >= 0 ? x[dj] : 0.0f;
                    double px = 0.0, xs = 0.0;
#pragma omp simd reduction(+ : px, xs)
                    for (int64_t j = 0; j < cj; j++) {
                        const float v = x[j];
                        const float p = cls_sexp((v - hi) - lo) + cls_sexp((v - ch[j]) - cl[j]);
                        px += (double)p * (double)v;
                        xs += (double)v;
                        x[j] = wf * p - uf;
                    }
                    gx += w * px - (double)uf * xs;
                    if (dj >= 0) {
                        x[dj] -= posw;
                        gx -= (double)posw * (double)xd;
                    }
                }
                acc[k] += gx;
                (void)cls_gemm_f32(CLS_NO_TRANS, CLS_NO_TRANS, ri, d, cj, B->s, X, cj, BJ, d, 1.0f, ga + i0 * d, d);
                (void)cls_gemm_f32(CLS_TRANS, CLS_NO_TRANS, cj, d, ri, B->s, X, cj, AI, d, 1.0f, dbc + j0 * d, d);
            }
        }
    }
    for (int64_t k = 0; k < nK; k++) *ds += acc[k];
}

/* Log-sum-exp values as float hi + lo (exp arguments (x - hi) - lo). */
static void split_lse(float *hi, float *lo, const double *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        hi[i] = (float)v[i];
        lo[i] = (float)(v[i] - (double)hi[i]);
    }
}

/* Every rank learns whether all ranks succeeded; a failing rank keeps its own
 * message, the others get one naming the first failing rank. */
static cls_status agree(cls_status st, int rank, MPI_Comm comm)
{
    int mine[2] = {st != CLS_OK ? rank : INT_MAX, (int)st}, first[2];
    MPI_Allreduce(mine, first, 1, MPI_2INT, MPI_MINLOC, comm);
    if (first[0] == INT_MAX) return CLS_OK;
    if (st != CLS_OK) return st;
    return cls_set_error((cls_status)first[1], "CLIP ring: rank %d failed (see its error message)", first[0]);
}

static void normalize_rows(float *dst, const float *x, int64_t n, int64_t d)
{
    for (int64_t i = 0; i < n; i++) {
        double ss = 0.0;
        for (int64_t k = 0; k < d; k++) ss += (double)x[i * d + k] * x[i * d + k];
        const double inv = 1.0 / sqrt(ss);
        for (int64_t k = 0; k < d; k++) dst[i * d + k] = (float)(x[i * d + k] * inv);
    }
}

/* g <- (g - x_hat (x_hat . g)) / |x| (g holds dL/dx_hat on entry). */
static void normalize_backward(float *g, const float *x, int64_t n, int64_t d)
{
    for (int64_t i = 0; i < n; i++) {
        double ss = 0.0, dot = 0.0;
        for (int64_t k = 0; k < d; k++) {
            ss += (double)x[i * d + k] * x[i * d + k];
            dot += (double)x[i * d + k] * g[i * d + k];
        }
        const double norm = sqrt(ss), proj = dot / ss;
        for (int64_t k = 0; k < d; k++) g[i * d + k] = (float)((g[i * d + k] - x[i * d + k] * proj) / norm);
    }
}

static cls_status check_local(const float *a, const float *b, int64_t n_local, int64_t d,
                              const cls_loss_options *o, int rank)
{
    if (!a || !b) return cls_set_error(CLS_E_INVALID_ARG, "CLIP ring: rank %d: input %s is NULL", rank, !a ? "a" : "b");
    if (!o) return cls_set_error(CLS_E_INVALID_ARG, "CLIP ring: rank %d: options is NULL", rank);
    if (n_local <= 0 || d <= 0)
        return cls_set_error(CLS_E_SHAPE, "CLIP ring: rank %d: empty input (%lld rows x %lld columns)", rank,
                             (long long)n_local, (long long)d);
    if (!isfinite(o->logit_scale) || o->logit_scale <= 0.0)
        return cls_set_error(CLS_E_INVALID_ARG, "CLIP ring: logit scale must be positive and finite (got %g)",
                             o->logit_scale);
    if (!(o->label_smoothing >= 0.0 && o->label_smoothing < 1.0))
        return cls_set_error(CLS_E_INVALID_ARG, "CLIP ring: label smoothing must be in [0, 1) (got %g)",
                             o->label_smoothing);
    if (o->reduction != CLS_REDUCE_MEAN && o->reduction != CLS_REDUCE_SUM)
        return cls_set_error(CLS_E_INVALID_ARG, "CLIP ring: unknown reduction %d", (int)o->reduction);
    if (o->tile < 0) return cls_set_error(CLS_E_INVALID_ARG, "CLIP ring: tile must be >= 0");
    cls_status st;
    if ((st = cls_check_finite_f32(a, n_local, d, "a")) || (st = cls_check_finite_f32(b, n_local, d, "b")))
        return cls_error_context(st, "CLIP ring: rank %d (local rows)", rank);
    if (o->normalize)
        for (int64_t i = 0; i < n_local; i++) {
            double sa = 0.0, sb = 0.0;
            for (int64_t k = 0; k < d; k++) sa += (double)a[i * d + k] * a[i * d + k], sb += (double)b[i * d + k] * b[i * d + k];
            if (sa == 0.0 || sb == 0.0)
                return cls_set_error(CLS_E_INVALID_ARG, "CLIP ring: rank %d: %s local row %lld has zero norm "
                                     "and cannot be normalised", rank, sa == 0.0 ? "a" : "b", (long long)i);
        }
    return CLS_OK;
}

cls_status cls_clip_ring_compute(cls_loss_result *result, float *grad_a, float *grad_b, const float *a_local,
                                 const float *b_local, int64_t n_local, int64_t d,
                                 const cls_loss_options *options, MPI_Comm comm)
{
    int P, p;
    MPI_Comm_size(comm, &P);
    MPI_Comm_rank(comm, &p);
    cls_status st = result ? check_local(a_local, b_local, n_local, d, options, p)
                           : cls_set_error(CLS_E_INVALID_ARG, "CLIP ring: result is NULL");
    /* the same d, scale and options everywhere, and message sizes that fit an int */
    double mine[6] = {st ? 0 : (double)d, st ? 0 : options->logit_scale, st ? 0 : options->label_smoothing,
                      st ? 0 : (double)options->reduction, st ? 0 : (double)options->normalize, 0}, lo6[6], hi6[6];
    int64_t *counts = cls_alloc((size_t)P * sizeof(int64_t), "CLIP ring row counts");
    if (!counts && !st) st = CLS_E_NOMEM;
    if ((st = agree(st, p, comm))) {
        cls_free(counts);
        return st;
    }
    MPI_Allreduce(mine, lo6, 6, MPI_DOUBLE, MPI_MIN, comm);
    MPI_Allreduce(mine, hi6, 6, MPI_DOUBLE, MPI_MAX, comm);
    if (memcmp(lo6, hi6, sizeof lo6) != 0) {
        cls_free(counts);
        return cls_set_error(CLS_E_INVALID_ARG, "CLIP ring: ranks disagree on d, logit scale or options");
    }
    MPI_Allgather(&n_local, 1, MPI_INT64_T, counts, 1, MPI_INT64_T, comm);
    int64_t n = 0, n_max = 0;
    for (int q = 0; q < P; q++) {
        n += counts[q];
        n_max = counts[q] > n_max ? counts[q] : n_max;
    }
    if (n_max * d > INT_MAX) {
        cls_free(counts);
        return cls_set_error(CLS_E_UNSUPPORTED, "CLIP ring: a block of %lld x %lld floats exceeds one MPI message",
                             (long long)n_max, (long long)d);
    }

    /* ---- workspace: one allocation, carved in two passes (size, then pointers);
     * every rank agrees it succeeded before any output is touched ---- */
    const int nt = cls_threads_resolve(options->threads);
    const int64_t T = cls_pair_tile(options, n_max);
    const size_t blk = (size_t)n_max * (size_t)d, nl = (size_t)n_local * (size_t)d, nm = (size_t)n_max;
    const size_t nK = (size_t)((n_max + T - 1) / T);
    const size_t per_thread = (size_t)T * T * sizeof(float) + (size_t)T * (sizeof(float) + sizeof(double));
    double *rm, *rl, *cm, *cl, *cin, *cout, *cown, *cblk[2], *acc;
    float *bbuf[2], *dbc, *dbin, *dbout, *an = NULL, *bn = NULL, *gAo, *gBo, *rhi, *rlo, *chi, *clo;
    char *tiles, *ws = NULL;
    for (int pass = 0; pass < 2; pass++) {
        size_t used = 0;
#define TAKE(ptr, bytes)                                                     \
    do {                                                                     \
        *(void **)&(ptr) = ws ? ws + used : NULL;                            \
        used += ((size_t)(bytes) + 63) & ~(size_t)63;                        \
    } while (0)
        TAKE(rm, n_local * sizeof(double));
        TAKE(rl, n_local * sizeof(double));
        TAKE(cm, nm * sizeof(double));          /* column state of the block being computed */
        TAKE(cl, nm * sizeof(double));
        TAKE(cin, 2 * nm * sizeof(double));     /* (max, sum) partials arriving from the left */
        TAKE(cout, 2 * nm * sizeof(double));    /* ... and leaving to the right */
        TAKE(cown, 2 * nm * sizeof(double));    /* own columns, complete */
        TAKE(cblk[0], nm * sizeof(double));     /* column LSE travelling with a block (backward) */
        TAKE(cblk[1], nm * sizeof(double));
        TAKE(acc, 2 * nK * sizeof(double));     /* per-task sums */
        TAKE(bbuf[0], blk * sizeof(float));     /* B blocks: the one computed, the one arriving */
        TAKE(bbuf[1], blk * sizeof(float));
        TAKE(dbc, blk * sizeof(float));         /* this rank's contribution to a block's dB */
        TAKE(dbin, blk * sizeof(float));
        TAKE(dbout, blk * sizeof(float));
        if (options->normalize) {
            TAKE(an, nl * sizeof(float));
            TAKE(bn, nl * sizeof(float));
        }
        TAKE(gAo, nl * sizeof(float));          /* gradients, copied out once all ranks agree */
        TAKE(gBo, nl * sizeof(float));
        TAKE(rhi, nm * sizeof(float));
        TAKE(rlo, nm * sizeof(float));
        TAKE(chi, nm * sizeof(float));
        TAKE(clo, nm * sizeof(float));
        TAKE(tiles, (size_t)nt * per_thread);
#undef TAKE
        if (pass == 0) {
            ws = cls_alloc(used, "CLIP ring workspace");
            if ((st = agree(ws ? CLS_OK : CLS_E_NOMEM, p, comm))) {
                cls_free(ws);
                cls_free(counts);
                return st;
            }
        }
    }

    const float *A = a_local, *Bl = b_local;
    if (options->normalize) {
        normalize_rows(an, a_local, n_local, d);
        normalize_rows(bn, b_local, n_local, d);
        A = an;
        Bl = bn;
    }
    const int left = (p - 1 + P) % P, right = (p + 1) % P;
    const double w = options->reduction == CLS_REDUCE_SUM ? 0.5 : 1.0 / (2.0 * (double)n);
    const double e = options->label_smoothing;
    ring_block rb = {A, NULL, n_local, 0, d, T, (float)options->logit_scale, nt, 0};
    const cls_pair_threads saved_threads = cls_pair_blas_serial();

    /* ================= forward ================= */
    for (int64_t i = 0; i < n_local; i++) rm[i] = -INFINITY, rl[i] = 0.0;
    double sums[2] = {0.0, 0.0};
    MPI_Request sB = MPI_REQUEST_NULL, sBprev = MPI_REQUEST_NULL, rB = MPI_REQUEST_NULL;
    MPI_Request sS = MPI_REQUEST_NULL, rS = MPI_REQUEST_NULL;
    if (P > 1) {
        MPI_Isend(Bl, (int)nl, MPI_FLOAT, right, TAG_B, comm, &sBprev);
        MPI_Irecv(bbuf[1], (int)(counts[left] * d), MPI_FLOAT, left, TAG_B, comm, &rB);
    }
    for (int k = 1; k <= P; k++) {
        const int q = k < P ? (p - k + P) % P : p;
        const int64_t nq = counts[q];
        const float *Bq = k < P ? bbuf[k % 2] : Bl;
        if (k < P) MPI_Wait(&rB, MPI_STATUS_IGNORE);
        if (k < P - 1) MPI_Isend(Bq, (int)(nq * d), MPI_FLOAT, right, TAG_B, comm, &sB);
        MPI_Wait(&sBprev, MPI_STATUS_IGNORE); /* frees bbuf[(k+1) % 2] */
        sBprev = sB;
        sB = MPI_REQUEST_NULL;
        if (k + 1 < P) {
            const int qn = (p - k - 1 + P) % P;
            MPI_Irecv(bbuf[(k + 1) % 2], (int)(counts[qn] * d), MPI_FLOAT, left, TAG_B, comm, &rB);
        }
        const int incoming = (k >= 2 && k < P) || (k == P && P > 1);
        if (incoming) MPI_Irecv(cin, (int)(2 * nq), MPI_DOUBLE, left, TAG_STATS, comm, &rS);
        rb.b = Bq;
        rb.nb = nq;
        rb.own = (k == P);
        block_forward(&rb, rm, rl, cm, cl, sums, tiles, acc);
        /* combine (incoming (+) local) for the block's columns */
        double *res = k < P ? cout : cown;
        if (k < P) MPI_Wait(&sS, MPI_STATUS_IGNORE); /* cout is free again */
        if (incoming) {
            MPI_Wait(&rS, MPI_STATUS_IGNORE);
            for (int64_t j = 0; j < nq; j++) {
                const double mi = cin[j], li = cin[nq + j], ml = cm[j], ll = cl[j];
                const double mx = mi > ml ? mi : ml;
                res[j] = mx;
                res[nq + j] = li * exp(mi - mx) + ll * exp(ml - mx);
            }
        } else {
            memcpy(res, cm, (size_t)nq * sizeof(double));
            memcpy(res + nq, cl, (size_t)nq * sizeof(double));
        }
        if (k < P) MPI_Isend(cout, (int)(2 * nq), MPI_DOUBLE, right, TAG_STATS, comm, &sS);
    }
    MPI_Wait(&sS, MPI_STATUS_IGNORE);
    MPI_Wait(&sBprev, MPI_STATUS_IGNORE);
    /* lse of the local rows (into rm) and of the own columns (into cown[0..n_local)) */
    double part[3] = {0.0, 0.0, 0.0};
    for (int64_t i = 0; i < n_local; i++) {
        rm[i] = rm[i] + log(rl[i]);
        cown[i] = cown[i] + log(cown[n_local + i]);
        part[0] += rm[i] + cown[i];
    }
    part[0] -= 2.0 * (1.0 - e) * sums[1] + 2.0 * (e / (double)n) * sums[0];

    /* ================= backward ================= */
    memset(gAo, 0, nl * sizeof(float));
    split_lse(rhi, rlo, rm, n_local);
    double ds = 0.0;
    MPI_Request sC = MPI_REQUEST_NULL, sCprev = MPI_REQUEST_NULL, rC = MPI_REQUEST_NULL;
    MPI_Request sD = MPI_REQUEST_NULL, rD = MPI_REQUEST_NULL;
    sB = sBprev = rB = MPI_REQUEST_NULL;
    if (P > 1) {
        MPI_Isend(Bl, (int)nl, MPI_FLOAT, right, TAG_B, comm, &sBprev);
        MPI_Isend(cown, (int)n_local, MPI_DOUBLE, right, TAG_C, comm, &sCprev);
        MPI_Irecv(bbuf[1], (int)(counts[left] * d), MPI_FLOAT, left, TAG_B, comm, &rB);
        MPI_Irecv(cblk[1], (int)counts[left], MPI_DOUBLE, left, TAG_C, comm, &rC);
    }
    for (int k = 1; k <= P; k++) {
        const int q = k < P ? (p - k + P) % P : p;
        const int64_t nq = counts[q];
        const float *Bq = k < P ? bbuf[k % 2] : Bl;
        const double *cq = k < P ? cblk[k % 2] : cown;
        if (k < P) {
            MPI_Wait(&rB, MPI_STATUS_IGNORE);
            MPI_Wait(&rC, MPI_STATUS_IGNORE);
        }
        if (k < P - 1) {
            MPI_Isend(Bq, (int)(nq * d), MPI_FLOAT, right, TAG_B, comm, &sB);
            MPI_Isend(cq, (int)nq, MPI_DOUBLE, right, TAG_C, comm, &sC);
        }
        MPI_Wait(&sBprev, MPI_STATUS_IGNORE);
        MPI_Wait(&sCprev, MPI_STATUS_IGNORE);
        sBprev = sB, sCprev = sC;
        sB = sC = MPI_REQUEST_NULL;
        if (k + 1 < P) {
            const int qn = (p - k - 1 + P) % P;
            MPI_Irecv(bbuf[(k + 1) % 2], (int)(counts[qn] * d), MPI_FLOAT, left, TAG_B, comm, &rB);
            MPI_Irecv(cblk[(k + 1) % 2], (int)counts[qn], MPI_DOUBLE, left, TAG_C, comm, &rC);
        }
        const int incoming = (k >= 2 && k < P) || (k == P && P > 1);
        if (incoming) MPI_Irecv(dbin, (int)(nq * d), MPI_FLOAT, left, TAG_DB, comm, &rD);
        split_lse(chi, clo, cq, nq);
        rb.b = Bq;
        rb.nb = nq;
        rb.own = (k == P);
        block_backward(&rb, gAo, dbc, &ds, rhi, rlo, chi, clo, w, e, n, (float *)tiles, acc);
        float *res = k < P ? dbout : gBo;
        if (k < P) MPI_Wait(&sD, MPI_STATUS_IGNORE); /* dbout is free again */
        const size_t m = (size_t)nq * (size_t)d;
        if (incoming) {
            MPI_Wait(&rD, MPI_STATUS_IGNORE);
            for (size_t t = 0; t < m; t++) res[t] = dbin[t] + dbc[t];
        } else {
            memcpy(res, dbc, m * sizeof(float));
        }
        if (k < P) MPI_Isend(dbout, (int)m, MPI_FLOAT, right, TAG_DB, comm, &sD);
    }
    MPI_Wait(&sD, MPI_STATUS_IGNORE);
    MPI_Wait(&sBprev, MPI_STATUS_IGNORE);
    MPI_Wait(&sCprev, MPI_STATUS_IGNORE);
    cls_pair_threads_restore(saved_threads);
    part[1] = ds;

    /* scalars: every rank sums the per-rank parts in rank order -> same bits */
    double *all = (double *)cls_alloc((size_t)P * 3 * sizeof(double), "CLIP ring partial sums");
    st = agree(all ? CLS_OK : CLS_E_NOMEM, p, comm);
    if (st == CLS_OK) {
        MPI_Allgather(part, 3, MPI_DOUBLE, all, 3, MPI_DOUBLE, comm);
        double L = 0.0, S = 0.0;
        for (int q = 0; q < P; q++) L += all[3 * q], S += all[3 * q + 1];
        if (options->normalize) {
            normalize_backward(gAo, a_local, n_local, d);
            normalize_backward(gBo, b_local, n_local, d);
        }
        if (grad_a) memcpy(grad_a, gAo, nl * sizeof(float));
        if (grad_b) memcpy(grad_b, gBo, nl * sizeof(float));
        result->loss = w * L;
        result->grad_logit_scale = S / options->logit_scale;
        result->grad_bias = 0.0;
    }
    cls_free(all);
    cls_free(ws);
    cls_free(counts);
    return st;
}
