/* Width bottleneck: the t -> inf loss of the lazy model at width N,
 *   E(N) = min_w sum_k lambda_k (w* - A0^T w / N)_k^2,
 * measured by a Cholesky solve of G w = h (G = A0 Lambda A0^T / N,
 * h = A0 Lambda w*), averaged over draws of A0, against the deterministic
 * equivalent. Draw d uses the first N rows of one A0 (rng stream 2d), so the
 * widths are nested, like the columns of one network grown wider. */
#include "featlearn_internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../core/internal.h"

void cls_featlearn_bottleneck_free(cls_featlearn_bottleneck_result *r)
{
    if (!r) return;
    cls_free(r->N);
    cls_free(r->measured);
    cls_free(r->measured_sd);
    cls_free(r->equivalent);
    cls_free(r->kappa);
    cls_free(r);
}

/* E(N) for each width of one draw; values[i] for N[i]. */
static cls_status bottleneck_draw(const cls_featlearn_task *task, const int64_t *Ns, int64_t n, uint64_t seed,
                                  int draw, double *values)
{
    const int64_t M = task->M;
    int64_t Nmax = 0;
    for (int64_t i = 0; i < n; i++) Nmax = Ns[i] > Nmax ? Ns[i] : Nmax;
    cls_status st = CLS_OK;
    double *A0 = cls_alloc((size_t)Nmax * (size_t)M * sizeof(double), "bottleneck A0");
    double *X = cls_alloc((size_t)Nmax * (size_t)M * sizeof(double), "bottleneck A0 Lambda^1/2");
    double *G = cls_alloc((size_t)Nmax * (size_t)Nmax * sizeof(double), "bottleneck G");
    double *vec = cls_alloc((size_t)(2 * Nmax + 2 * M) * sizeof(double), "bottleneck vectors");
    if (!A0 || !X || !G || !vec) {
        st = CLS_E_NOMEM;
        goto done;
    }
    double *h = vec, *lw = vec + Nmax, *v = vec + Nmax + M;
    cls_rng rng;
    cls_rng_seed_stream(&rng, seed, 2 * (uint64_t)draw);
    cls_rng_fill_normal_f64(&rng, A0, Nmax * M);
    for (int64_t i = 0; i < Nmax; i++)
        for (int64_t k = 0; k < M; k++) X[i * M + k] = A0[i * M + k] * task->sqrtlam[k];
    for (int64_t k = 0; k < M; k++) lw[k] = task->lam[k] * task->wstar[k];
    for (int64_t j = 0; j < n; j++) {
        int N = (int)Ns[j];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, N, (int)M, 1.0 / N, X, (int)M, 0.0,
                    G, N);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, N, (int)M, 1.0, A0, (int)M, lw, 1, 0.0, h, 1);
        lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', N, G, N);
        if (info == 0) info = LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'U', N, 1, G, N, h, 1);
        if (info != 0) {
            st = cls_set_error(CLS_E_NUMERIC,
                               "featlearn bottleneck: Cholesky of G failed (info %d) at N = %d, "
                               "draw %d", (int)info, N, draw);
            goto done;
        }
        /* Residual computed directly (no cancellation against c0). */
        memcpy(v, task->wstar, (size_t)M * sizeof(double));
        cblas_dgemv(CblasRowMajor, CblasTrans, N, (int)M, -1.0 / N, A0, (int)M, h, 1, 1.0, v, 1);
        double E = 0.0;
        for (int64_t k = 0; k < M; k++) E += task->lam[k] * v[k] * v[k];
        values[j] = E;
    }
done:
    cls_free(A0);
    cls_free(X);
    cls_free(G);
    cls_free(vec);
    return st;
}

static cls_status loglog_slope(const int64_t *x, const double *y, int64_t n, double *slope)
{
    double *xd = cls_alloc((size_t)n * sizeof(double), "bottleneck widths");
    if (!xd) return CLS_E_NOMEM;
    for (int64_t i = 0; i < n; i++) xd[i] = (double)x[i];
    cls_status st = cls_stats_loglog_fit(xd, y, NULL, n, slope, NULL, NULL);
    cls_free(xd);
    return st;
}

cls_status cls_featlearn_bottleneck(double alpha, double beta, int64_t M, const int64_t *N, int64_t n,
                                    int seeds, uint64_t seed, int threads,
                                    cls_featlearn_bottleneck_result **out)
{
    if (!out || !N) return cls_set_error(CLS_E_INVALID_ARG, "featlearn bottleneck: NULL argument");
    if (!(alpha > 1.0) || !isfinite(alpha))
        return cls_set_error(CLS_E_INVALID_ARG, "featlearn: alpha = %g must be > 1", alpha);
    if (!(beta > 0.0) || !isfinite(beta))
        return cls_set_error(CLS_E_INVALID_ARG, "featlearn: beta = %g must be > 0", beta);
    if (M < 2 || M > 100000)
        return cls_set_error(CLS_E_INVALID_ARG, "featlearn bottleneck: M = %lld must be in [2, 1e5]",
                             (long long)M);
    if (n < 2) return cls_set_error(CLS_E_INVALID_ARG, "featlearn bottleneck: need >= 2 widths");
    if (seeds < 1) return cls_set_error(CLS_E_INVALID_ARG, "featlearn bottleneck: seeds = %d must be >= 1", seeds);
    for (int64_t i = 0; i < n; i++)
        if (N[i] < 1 || N[i] >= M || (double)N[i] * (double)M > 2147483647.0)
            return cls_set_error(CLS_E_INVALID_ARG,
                                 "featlearn bottleneck: N[%lld] = %lld must be in [1, M) (M = %lld)",
                                 (long long)i, (long long)N[i], (long long)M);
    double t0 = cls_now_seconds();
    cls_featlearn_task task;
    cls_status st = cls_featlearn_task_init(&task, alpha, beta, M);
    if (st != CLS_OK) return st;
    double *vals = cls_alloc((size_t)seeds * (size_t)n * sizeof(double), "bottleneck values");
    cls_status *sts = cls_calloc((size_t)seeds, sizeof(cls_status), "bottleneck statuses");
    char (*msgs)[512] = cls_calloc((size_t)seeds, 512, "bottleneck messages");
    double *col = cls_alloc((size_t)seeds * sizeof(double), "bottleneck column");
    cls_featlearn_bottleneck_result *r = cls_calloc(1, sizeof *r, "bottleneck result");
    if (!vals || !sts || !msgs || !col || !r) {
        st = CLS_E_NOMEM;
        goto fail;
    }
    r->n = n;
    r->N = cls_alloc((size_t)n * sizeof(int64_t), "bottleneck N");
    r->measured = cls_alloc((size_t)n * sizeof(double), "bottleneck measured");
    r->measured_sd = cls_alloc((size_t)n * sizeof(double), "bottleneck sd");
    r->equivalent = cls_alloc((size_t)n * sizeof(double), "bottleneck equivalent");
    r->kappa = cls_alloc((size_t)n * sizeof(double), "bottleneck kappa");
    if (!r->N || !r->measured || !r->measured_sd || !r->equivalent || !r->kappa) {
        st = CLS_E_NOMEM;
        goto fail;
    }
    int nt = cls_threads_resolve(threads);
    if (nt > seeds) nt = seeds;
    cls_thread_state saved;
    cls_threads_enter(1, &saved); /* BLAS on one thread: parallel over draws instead */
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int d = 0; d < seeds; d++) {
        sts[d] = bottleneck_draw(&task, N, n, seed, d, vals + (size_t)d * (size_t)n);
        if (sts[d] != CLS_OK) snprintf(msgs[d], 512, "%s", cls_last_error());
    }
    cls_threads_leave(&saved);
    for (int d = 0; d < seeds; d++)
        if (sts[d] != CLS_OK) {
            st = cls_set_error(sts[d], "%s", msgs[d]);
            goto fail;
        }
    for (int64_t j = 0; j < n; j++) {
        /* vals is seeds x n, row-major: gather column j */
        double se = 0.0;
        for (int d = 0; d < seeds; d++) col[d] = vals[(size_t)d * n + j];
        st = cls_stats_mean_se(col, seeds, &r->measured[j], &se);
        if (st != CLS_OK) goto fail;
        r->N[j] = N[j];
        r->measured_sd[j] = se * sqrt((double)seeds);
        st = cls_featlearn_deterministic_equivalent(alpha, beta, M, (double)N[j], &r->equivalent[j],
                                                    &r->kappa[j]);
        if (st != CLS_OK) goto fail;
    }
    st = loglog_slope(r->N, r->measured, n, &r->slope_measured);
    if (st == CLS_OK) st = loglog_slope(r->N, r->equivalent, n, &r->slope_equivalent);
    if (st != CLS_OK) {
        cls_error_context(st, "featlearn bottleneck: loss-vs-N slope");
        goto fail;
    }
    r->slope_predicted = -alpha * fmin(1.0, beta);
    r->seconds = cls_now_seconds() - t0;
    cls_free(col);
    cls_free(vals);
    cls_free(sts);
    cls_free(msgs);
    cls_featlearn_task_free(&task);
    *out = r;
    return CLS_OK;
fail:
    cls_featlearn_bottleneck_free(r);
    cls_free(col);
    cls_free(vals);
    cls_free(sts);
    cls_free(msgs);
    cls_featlearn_task_free(&task);
    return st;
}

int64_t cls_featlearn_bottleneck_widths(int64_t M, int64_t *out)
{
    static const int64_t grid[] = {50, 71, 100, 141, 200, 283, 400};
    int64_t n = 0;
    for (int i = 0; i < 7; i++)
        if (2 * grid[i] < M) {
            if (out) out[n] = grid[i];
            n++;
        }
    return n;
}
