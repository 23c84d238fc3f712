/* The projected-SGD model, one draw of A0 at a time, by three engines that
 * compute the same iteration:
 *
 *   FUNCTION  tracks v = w* - A^T w/N (M), S = A^T A/N (M x M) and
 *             n2 = |w|^2/N. With g = Sigma v and z = K0 g (K0 = A0^T A0/N),
 *             e = w* - v, p = e.g, the simultaneous update is exactly
 *               v'  = v - eta S g - eta gamma (n2 + eta p) z
 *               S'  = S + eta gamma (z e^T + e z^T) + eta^2 gamma^2 n2 z z^T
 *               n2' = n2 + 2 eta p + eta^2 g^T S g
 *             (expand A' = A + eta gamma w z^T, w' = w + eta A g). Lazy runs
 *             keep S = K0. Infinite width is K0 = I.
 *   WIDTH     tracks w (N) and B (N x N), A = B A0. With u = B^T w,
 *             r = A0 Sigma v: w' = w + eta B r, B' = B + (eta gamma/N) w r^T.
 *             For the population gradient r = h - G u with h = A0 Lambda w*,
 *             G = A0 Lambda A0^T / N, and L = c0 - (2 h.u - u^T G u)/N.
 *   REFERENCE the literal update of A (N x M) with loops: the specification.
 *
 * All arithmetic is float64: the rich update accumulates 1e4-1e5 rank-2
 * corrections into S and the loss-increase count compares consecutive losses
 * to a relative 1e-12, both beyond float32. */
#include "featlearn_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "../../core/internal.h"

cls_status cls_featlearn_task_init(cls_featlearn_task *task, double alpha, double beta, int64_t M)
{
    memset(task, 0, sizeof *task);
    task->M = M;
    task->lam = cls_alloc((size_t)M * sizeof(double), "featlearn lambda");
    task->sqrtlam = cls_alloc((size_t)M * sizeof(double), "featlearn sqrt(lambda)");
    task->wstar = cls_alloc((size_t)M * sizeof(double), "featlearn w*");
    if (!task->lam || !task->sqrtlam || !task->wstar) {
        cls_featlearn_task_free(task);
        return CLS_E_NOMEM;
    }
    double c0 = 0.0;
    /* Sum from the smallest terms up so c0 does not lose the tail. */
    for (int64_t k = M; k >= 1; k--) {
        double kd = (double)k;
        double lam = pow(kd, -alpha);
        task->lam[k - 1] = lam;
        task->sqrtlam[k - 1] = sqrt(lam);
        task->wstar[k - 1] = sqrt(pow(kd, -alpha * beta - 1.0) / lam);
        c0 += pow(kd, -alpha * beta - 1.0);
    }
    task->c0 = c0;
    return CLS_OK;
}

void cls_featlearn_task_free(cls_featlearn_task *task)
{
    if (!task) return;
    cls_free(task->lam);
    cls_free(task->sqrtlam);
    cls_free(task->wstar);
    memset(task, 0, sizeof *task);
}

cls_featlearn_engine cls_featlearn_resolve_engine(const cls_featlearn_config *cfg)
{
    if (cfg->engine != CLS_FEATLEARN_AUTO) return cfg->engine;
    if (cfg->N == 0 || 2 * cfg->N >= cfg->M) return CLS_FEATLEARN_FUNCTION;
    return CLS_FEATLEARN_WIDTH;
}

/* Record the loss of step t; count rises; fail on divergence. */
static cls_status record_loss(const cls_featlearn_config *cfg, int draw, int64_t t, double L,
                              double L0, double *loss, int64_t *increases)
{
    loss[t] = L;
    if (t > 0 && L > loss[t - 1] * (1.0 + FL_INCREASE_RTOL)) (*increases)++;
    if (!isfinite(L) || L > FL_DIVERGE_FACTOR * L0)
        return cls_set_error(CLS_E_NUMERIC,
                             "featlearn: the loss diverged (L = %.3g at step %lld, eta*t = %.4g, "
                             "draw %d, gamma = %g) after %lld loss increases: eta = %g is too "
                             "large for this model, lower it",
                             L, (long long)t, cfg->eta * (double)t, draw, cfg->gamma,
                             (long long)*increases, cfg->eta);
    return CLS_OK;
}

/* g = Sigma v: Lambda v for the population gradient, else Psi^T Psi v / B
 * with Psi = Z Lambda^(1/2), Z (B x M) drawn from the batch stream. */
static void batch_gradient(const cls_featlearn_config *cfg, const cls_featlearn_task *task, cls_rng *brng,
                           const double *v, double *g, double *Z, double *sv, double *y)
{
    int64_t M = task->M, B = cfg->batch;
    if (B == 0) {
        for (int64_t k = 0; k < M; k++) g[k] = task->lam[k] * v[k];
        return;
    }
    cls_rng_fill_normal_f64(brng, Z, B * M);
    for (int64_t k = 0; k < M; k++) sv[k] = task->sqrtlam[k] * v[k];
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)B, (int)M, 1.0, Z, (int)M, sv, 1, 0.0, y, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)B, (int)M, 1.0, Z, (int)M, y, 1, 0.0, g, 1);
    double inv = 1.0 / (double)B;
    for (int64_t k = 0; k < M; k++) g[k] *= task->sqrtlam[k] * inv;
}

static double weighted_sq(const cls_featlearn_task *task, const double *v)
{
    double L = 0.0;
    for (int64_t k = 0; k < task->M; k++) L += task->lam[k] * v[k] * v[k];
    return L;
}

/* Rows of A0 come from the draw's stream in row order, in blocks of this many
 * rows (the matrix does not depend on the blocking). */
#define FL_ROW_BLOCK 256

static cls_status run_function(const cls_featlearn_config *cfg, const cls_featlearn_task *task, int draw,
                               double *loss, int64_t *increases)
{
    const int64_t M = task->M, N = cfg->N, B = cfg->batch, T = cfg->steps;
    const int rich = cfg->gamma != 0.0, infinite = N == 0;
    const double eta = cfg->eta, gamma = cfg->gamma;
    cls_status st = CLS_OK;
    double *K0 = NULL, *S = NULL, *A0 = NULL, *Z = NULL;
    double *v = cls_alloc((size_t)M * 6 * sizeof(double), "featlearn vectors");
    if (!v) return CLS_E_NOMEM;
    double *g = v + M, *z = v + 2 * M, *sg = v + 3 * M, *e = v + 4 * M, *sv = v + 5 * M;
    double *y = NULL;
    cls_rng rng, brng;
    cls_rng_seed_stream(&rng, cfg->seed, 2 * (uint64_t)draw);
    cls_rng_seed_stream(&brng, cfg->seed, 2 * (uint64_t)draw + 1);

    if (!infinite) {
        /* K0 = A0^T A0 / N (upper triangle), accumulated over row blocks. */
        K0 = cls_alloc((size_t)M * (size_t)M * sizeof(double), "featlearn K0 (M x M)");
        A0 = cls_alloc((size_t)FL_ROW_BLOCK * (size_t)M * sizeof(double), "featlearn A0 rows");
        if (!K0 || !A0) { st = CLS_E_NOMEM; goto done; }
        for (int64_t r0 = 0; r0 < N; r0 += FL_ROW_BLOCK) {
            int64_t rows = N - r0 < FL_ROW_BLOCK ? N - r0 : FL_ROW_BLOCK;
            cls_rng_fill_normal_f64(&rng, A0, rows * M);
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)M, (int)rows, 1.0 / (double)N,
                        A0, (int)M, r0 == 0 ? 0.0 : 1.0, K0, (int)M);
        }
        cls_free(A0);
        A0 = NULL;
    }
    if (rich) {
        S = cls_alloc((size_t)M * (size_t)M * sizeof(double), "featlearn S (M x M)");
        if (!S) { st = CLS_E_NOMEM; goto done; }
        if (infinite) {
            memset(S, 0, (size_t)M * (size_t)M * sizeof(double));
            for (int64_t k = 0; k < M; k++) S[k * M + k] = 1.0;
        } else {
            memcpy(S, K0, (size_t)M * (size_t)M * sizeof(double));
        }
    }
    if (B > 0) {
        Z = cls_alloc((size_t)B * (size_t)M * sizeof(double) + (size_t)B * sizeof(double),
                      "featlearn batch");
        if (!Z) { st = CLS_E_NOMEM; goto done; }
        y = Z + B * M;
    }

    memcpy(v, task->wstar, (size_t)M * sizeof(double));
    double n2 = 0.0;
    *increases = 0;
    for (int64_t t = 0;; t++) {
        st = record_loss(cfg, draw, t, weighted_sq(task, v), task->c0, loss, increases);
        if (st != CLS_OK || t == T) break;
        batch_gradient(cfg, task, &brng, v, g, Z, sv, y);
        if (infinite)
            memcpy(z, g, (size_t)M * sizeof(double));
        else
            cblas_dsymv(CblasRowMajor, CblasUpper, (int)M, 1.0, K0, (int)M, g, 1, 0.0, z, 1);
        if (!rich) {
            cblas_daxpy((int)M, -eta, z, 1, v, 1);
            continue;
        }
        cblas_dsymv(CblasRowMajor, CblasUpper, (int)M, 1.0, S, (int)M, g, 1, 0.0, sg, 1);
        double p = 0.0, gsg = 0.0;
        for (int64_t k = 0; k < M; k++) {
            e[k] = task->wstar[k] - v[k];
            p += e[k] * g[k];
            gsg += g[k] * sg[k];
        }
        /* S += a (z e^T + e z^T) + b z z^T as one rank-2 update:
         * a (z q^T + q z^T) with q = e + (b / 2a) z. */
        double a = eta * gamma, b = eta * eta * gamma * gamma * n2;
        double cz = eta * gamma * (n2 + eta * p);
        for (int64_t k = 0; k < M; k++) {
            v[k] -= eta * sg[k] + cz * z[k];
            e[k] += b / (2.0 * a) * z[k];
        }
        cblas_dsyr2(CblasRowMajor, CblasUpper, (int)M, a, z, 1, e, 1, S, (int)M);
        n2 += 2.0 * eta * p + eta * eta * gsg;
    }
done:
    cls_free(v);
    cls_free(K0);
    cls_free(S);
    cls_free(A0);
    cls_free(Z);
    return st;
}

static cls_status run_width(const cls_featlearn_config *cfg, const cls_featlearn_task *task, int draw,
                            double *loss, int64_t *increases)
{
    const int64_t M = task->M, N = cfg->N, Bt = cfg->batch, T = cfg->steps;
    const int rich = cfg->gamma != 0.0, population = Bt == 0;
    const double eta = cfg->eta, gamma = cfg->gamma, invN = 1.0 / (double)N;
    cls_status st = CLS_OK;
    double *A0 = NULL, *G = NULL, *Bm = NULL, *Z = NULL, *y = NULL;
    double *w = cls_alloc((size_t)(4 * N + 4 * M) * sizeof(double), "featlearn vectors");
    if (!w) return CLS_E_NOMEM;
    double *u = w + N, *r = w + 2 * N, *h = w + 3 * N;
    double *v = w + 4 * N, *g = v + M, *sv = v + 2 * M, *tmp = v + 3 * M;
    cls_rng rng, brng;
    cls_rng_seed_stream(&rng, cfg->seed, 2 * (uint64_t)draw);
    cls_rng_seed_stream(&brng, cfg->seed, 2 * (uint64_t)draw + 1);

    A0 = cls_alloc((size_t)N * (size_t)M * sizeof(double), "featlearn A0 (N x M)");
    if (!A0) { st = CLS_E_NOMEM; goto done; }
    cls_rng_fill_normal_f64(&rng, A0, N * M);
    if (population) {
        /* h = A0 Lambda w*, G = (A0 Lambda^1/2)(A0 Lambda^1/2)^T / N; A0 is
         * then no longer needed. */
        G = cls_alloc((size_t)N * (size_t)N * sizeof(double), "featlearn G (N x N)");
        if (!G) { st = CLS_E_NOMEM; goto done; }
        for (int64_t k = 0; k < M; k++) tmp[k] = task->lam[k] * task->wstar[k];
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)M, 1.0, A0, (int)M, tmp, 1, 0.0, h, 1);
        for (int64_t i = 0; i < N; i++)
            for (int64_t k = 0; k < M; k++) A0[i * M + k] *= task->sqrtlam[k];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)N, (int)M, invN, A0, (int)M, 0.0,
                    G, (int)N);
        cls_free(A0);
        A0 = NULL;
    } else {
        Z = cls_alloc((size_t)Bt * (size_t)M * sizeof(double) + (size_t)Bt * sizeof(double),
                      "featlearn batch");
        if (!Z) { st = CLS_E_NOMEM; goto done; }
        y = Z + Bt * M;
    }
    if (rich) {
        Bm = cls_calloc((size_t)N * (size_t)N, sizeof(double), "featlearn B (N x N)");
        if (!Bm) { st = CLS_E_NOMEM; goto done; }
        for (int64_t i = 0; i < N; i++) Bm[i * N + i] = 1.0;
    }

    memset(w, 0, (size_t)N * sizeof(double));
    *increases = 0;
    for (int64_t t = 0;; t++) {
        /* u = B^T w (B = I when lazy). */
        if (rich)
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)N, (int)N, 1.0, Bm, (int)N, w, 1, 0.0, u, 1);
        else
            memcpy(u, w, (size_t)N * sizeof(double));
        double L;
        if (population) {
            /* r = h - G u; L = c0 - (h.u + u.r)/N. */
            memcpy(r, h, (size_t)N * sizeof(double));
            cblas_dsymv(CblasRowMajor, CblasUpper, (int)N, -1.0, G, (int)N, u, 1, 1.0, r, 1);
            double hu = 0.0, ur = 0.0;
            for (int64_t i = 0; i < N; i++) {
                hu += h[i] * u[i];
                ur += u[i] * r[i];
            }
            L = task->c0 - (hu + ur) * invN;
        } else {
            memcpy(v, task->wstar, (size_t)M * sizeof(double));
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)N, (int)M, -invN, A0, (int)M, u, 1, 1.0, v, 1);
            L = weighted_sq(task, v);
        }
        st = record_loss(cfg, draw, t, L, task->c0, loss, increases);
        if (st != CLS_OK || t == T) break;
        if (!population) {
            batch_gradient(cfg, task, &brng, v, g, Z, sv, y);
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)M, 1.0, A0, (int)M, g, 1, 0.0, r, 1);
        }
        if (rich) {
            /* w' = w + eta B r and B' = B + (eta gamma/N) w r^T, both from the
             * old w and B: the update of w goes through u (free now). */
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)N, eta, Bm, (int)N, r, 1, 0.0, u, 1);
            cblas_dger(CblasRowMajor, (int)N, (int)N, eta * gamma * invN, w, 1, r, 1, Bm, (int)N);
            cblas_daxpy((int)N, 1.0, u, 1, w, 1);
        } else {
            cblas_daxpy((int)N, eta, r, 1, w, 1);
        }
    }
done:
    cls_free(w);
    cls_free(A0);
    cls_free(G);
    cls_free(Bm);
    cls_free(Z);
    return st;
}

/* The specification: the literal update with plain loops (no BLAS). */
static cls_status run_reference(const cls_featlearn_config *cfg, const cls_featlearn_task *task, int draw,
                                double *loss, int64_t *increases)
{
    const int64_t M = task->M, N = cfg->N, Bt = cfg->batch, T = cfg->steps;
    const double eta = cfg->eta, gamma = cfg->gamma;
    cls_status st = CLS_OK;
    double *A = cls_alloc((size_t)N * (size_t)M * sizeof(double), "featlearn A");
    double *K0 = cls_alloc((size_t)M * (size_t)M * sizeof(double), "featlearn K0");
    double *vec = cls_alloc((size_t)(2 * N + 3 * M) * sizeof(double), "featlearn vectors");
    double *Z = Bt > 0 ? cls_alloc((size_t)(Bt * M + Bt) * sizeof(double), "featlearn batch") : NULL;
    if (!A || !K0 || !vec || (Bt > 0 && !Z)) {
        st = CLS_E_NOMEM;
        goto done;
    }
    double *w = vec, *dw = vec + N, *v = vec + 2 * N, *g = v + M, *q = v + 2 * M;
    cls_rng rng, brng;
    cls_rng_seed_stream(&rng, cfg->seed, 2 * (uint64_t)draw);
    cls_rng_seed_stream(&brng, cfg->seed, 2 * (uint64_t)draw + 1);
    cls_rng_fill_normal_f64(&rng, A, N * M);
    for (int64_t j = 0; j < M; j++)
        for (int64_t k = 0; k < M; k++) {
            double s = 0.0;
            for (int64_t i = 0; i < N; i++) s += A[i * M + j] * A[i * M + k];
            K0[j * M + k] = s / (double)N;
        }
    for (int64_t i = 0; i < N; i++) w[i] = 0.0;
    *increases = 0;
    for (int64_t t = 0;; t++) {
        double L = 0.0;
        for (int64_t k = 0; k < M; k++) {
            double s = 0.0;
            for (int64_t i = 0; i < N; i++) s += A[i * M + k] * w[i];
            v[k] = task->wstar[k] - s / (double)N;
            L += task->lam[k] * v[k] * v[k];
        }
        st = record_loss(cfg, draw, t, L, task->c0, loss, increases);
        if (st != CLS_OK || t == T) break;
        if (Bt == 0) {
            for (int64_t k = 0; k < M; k++) g[k] = task->lam[k] * v[k];
        } else {
            /* Psi = Z Lambda^1/2 (B x M); g = Psi^T (Psi v) / B. */
            double *Zb = Z, *yb = Z + Bt * M;
            cls_rng_fill_normal_f64(&brng, Zb, Bt * M);
            for (int64_t b = 0; b < Bt; b++) {
                double s = 0.0;
                for (int64_t k = 0; k < M; k++) s += Zb[b * M + k] * task->sqrtlam[k] * v[k];
                yb[b] = s;
            }
            for (int64_t k = 0; k < M; k++) {
                double s = 0.0;
                for (int64_t b = 0; b < Bt; b++) s += Zb[b * M + k] * task->sqrtlam[k] * yb[b];
                g[k] = s / (double)Bt;
            }
        }
        for (int64_t i = 0; i < N; i++) {
            double s = 0.0;
            for (int64_t k = 0; k < M; k++) s += A[i * M + k] * g[k];
            dw[i] = eta * s;
        }
        for (int64_t j = 0; j < M; j++) {
            double s = 0.0;
            for (int64_t k = 0; k < M; k++) s += g[k] * K0[k * M + j];
            q[j] = s;
        }
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < M; j++) A[i * M + j] += eta * gamma * w[i] * q[j];
        for (int64_t i = 0; i < N; i++) w[i] += dw[i];
    }
done:
    cls_free(A);
    cls_free(K0);
    cls_free(vec);
    cls_free(Z);
    return st;
}

cls_status cls_featlearn_draw_run(const cls_featlearn_config *cfg, cls_featlearn_engine engine,
                       const cls_featlearn_task *task, int draw, double *loss, int64_t *increases)
{
    switch (engine) {
    case CLS_FEATLEARN_FUNCTION: return run_function(cfg, task, draw, loss, increases);
    case CLS_FEATLEARN_WIDTH: return run_width(cfg, task, draw, loss, increases);
    case CLS_FEATLEARN_REFERENCE: return run_reference(cfg, task, draw, loss, increases);
    default: return cls_set_error(CLS_E_INTERNAL, "featlearn: engine %d not resolved", (int)engine);
    }
}
