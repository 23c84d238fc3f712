/* The featlearn run driver: configuration, draws in parallel, the
 * log-spaced checkpoint grid, and local slopes of the draw-averaged curve. */
#include "featlearn_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <omp.h>

#include "../../core/internal.h"

void cls_featlearn_config_init(cls_featlearn_config *cfg)
{
    if (!cfg) return; /* NULL is a no-op, like every _init */
    memset(cfg, 0, sizeof *cfg);
    cfg->alpha = 2.0;
    cfg->beta = 0.5;
    cfg->N = 2000;
    cfg->M = 1000;
    cfg->gamma = 0.0;
    cfg->eta = 0.1;
    cfg->batch = 0;
    cfg->steps = 20000;
    cfg->seeds = 8;
    cfg->seed = 0;
    cfg->checkpoints_per_decade = 20;
    cfg->threads = 0;
    cfg->engine = CLS_FEATLEARN_AUTO;
}

cls_status cls_featlearn_config_check(const cls_featlearn_config *cfg)
{
    if (!cfg) return cls_set_error(CLS_E_INVALID_ARG, "featlearn: config is NULL");
    if (!(cfg->alpha > 1.0) || !isfinite(cfg->alpha))
        return cls_set_error(CLS_E_INVALID_ARG,
                             "featlearn: alpha = %g must be > 1 (lambda_k = k^-alpha must be "
                             "summable)", cfg->alpha);
    if (!(cfg->beta > 0.0) || !isfinite(cfg->beta))
        return cls_set_error(CLS_E_INVALID_ARG,
                             "featlearn: beta = %g must be > 0 (the source exponent)", cfg->beta);
    if (cfg->M < 1 || cfg->M > 100000)
        return cls_set_error(CLS_E_INVALID_ARG, "featlearn: M = %lld must be in [1, 100000]",
                             (long long)cfg->M);
    if (cfg->N < 0 || cfg->N > 10000000)
        return cls_set_error(CLS_E_INVALID_ARG,
                             "featlearn: N = %lld must be in [0, 1e7] (0 = infinite width)",
                             (long long)cfg->N);
    if (!(cfg->gamma >= 0.0) || !isfinite(cfg->gamma))
        return cls_set_error(CLS_E_INVALID_ARG, "featlearn: gamma = %g must be >= 0", cfg->gamma);
    if (!(cfg->eta > 0.0) || !isfinite(cfg->eta))
        return cls_set_error(CLS_E_INVALID_ARG, "featlearn: eta = %g must be > 0", cfg->eta);
    if (cfg->batch < 0 || cfg->batch > 1000000)
        return cls_set_error(CLS_E_INVALID_ARG,
                             "featlearn: batch = %lld must be in [0, 1e6] (0 = population "
                             "gradient)", (long long)cfg->batch);
    if (cfg->steps < 1 || cfg->steps > 100000000)
        return cls_set_error(CLS_E_INVALID_ARG, "featlearn: steps = %lld must be in [1, 1e8]",
                             (long long)cfg->steps);
    if (cfg->seeds < 1 || cfg->seeds > 10000)
        return cls_set_error(CLS_E_INVALID_ARG, "featlearn: seeds = %lld must be in [1, 10000]",
                             (long long)cfg->seeds);
    if (cfg->checkpoints_per_decade < 1 || cfg->checkpoints_per_decade > 10000)
        return cls_set_error(CLS_E_INVALID_ARG,
                             "featlearn: checkpoints_per_decade = %d must be in [1, 10000]",
                             cfg->checkpoints_per_decade);
    if ((int)cfg->engine < 0 || (int)cfg->engine > 3)
        return cls_set_error(CLS_E_INVALID_ARG, "featlearn: unknown engine %d", (int)cfg->engine);
    cls_featlearn_engine e = cls_featlearn_resolve_engine(cfg);
    if (cfg->N == 0 && e != CLS_FEATLEARN_FUNCTION)
        return cls_set_error(CLS_E_INVALID_ARG,
                             "featlearn: infinite width (N = 0) needs the function-space engine");
    /* BLAS takes int sizes and the width engine stores N x M and N x N. */
    double big = 2147483647.0;
    if ((double)cfg->M * (double)cfg->M > big || (double)cfg->N * (double)cfg->M > big * 4 ||
        (e != CLS_FEATLEARN_FUNCTION && (double)cfg->N * (double)cfg->M > big) ||
        (double)cfg->batch * (double)cfg->M > big)
        return cls_set_error(CLS_E_INVALID_ARG,
                             "featlearn: N = %lld, M = %lld, batch = %lld give matrices too large",
                             (long long)cfg->N, (long long)cfg->M, (long long)cfg->batch);
    if (e == CLS_FEATLEARN_WIDTH && (double)cfg->N * (double)cfg->N > big)
        return cls_set_error(CLS_E_INVALID_ARG, "featlearn: N = %lld is too large for the width "
                             "engine", (long long)cfg->N);
    return CLS_OK;
}

int cls_featlearn_windows(double eta_t_max, double *lo, double *hi, int cap)
{
    /* Edges 3, 10, 30, 100, 300, ...: 3 * 10^k and 10^(k+1). */
    int count = 0;
    for (int i = 0; count < cap && i < 600; i++) {
        double a = (i % 2 == 0) ? 3.0 * pow(10.0, i / 2) : pow(10.0, i / 2 + 1);
        double b = (i % 2 == 0) ? pow(10.0, i / 2 + 1) : 3.0 * pow(10.0, i / 2 + 1);
        if (a >= eta_t_max * (1.0 - 1e-12)) break;
        double top = b < eta_t_max ? b : eta_t_max;
        if (top / a >= 1.5 - 1e-12) {
            if (lo) lo[count] = a;
            if (hi) hi[count] = top;
            count++;
        }
    }
    return count;
}

cls_status cls_featlearn_slope(const double *x, const double *y, int64_t n, double lo, double hi,
                               double *slope, int64_t *points)
{
    if (!x || !y || !slope) return cls_set_error(CLS_E_INVALID_ARG, "featlearn slope: NULL array");
    /* Closed window, with room for rounding in eta*t (0.1*30 > 3). */
    double a = lo * (1.0 - 1e-9), b = hi * (1.0 + 1e-9);
    double *w = cls_alloc((size_t)(n > 0 ? n : 1) * sizeof(double), "featlearn slope window");
    if (!w) return CLS_E_NOMEM;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        w[i] = x[i] >= a && x[i] <= b; /* weight 0: outside the window, skipped by the fit */
        if (!w[i]) continue;
        if (!(x[i] > 0.0) || !(y[i] > 0.0) || !isfinite(y[i])) {
            cls_free(w);
            return cls_set_error(CLS_E_INVALID_ARG,
                                 "featlearn slope: point %lld (x = %g, y = %g) is not positive",
                                 (long long)i, x[i], y[i]);
        }
        m++;
    }
    if (points) *points = m;
    double s = 0.0;
    cls_status st = m < 2 ? CLS_E_INVALID_ARG : cls_stats_loglog_fit(x, y, w, n, &s, NULL, NULL);
    cls_free(w);
    if (st == CLS_OK) *slope = -s;
    else if (m < 2)
        cls_set_error(st, "featlearn slope: fewer than 2 points in the window [%g, %g]", lo, hi);
    else
        cls_set_error(st, "featlearn slope: the window [%g, %g] has one x", lo, hi);
    return st;
}

void cls_featlearn_result_free(cls_featlearn_result *r)
{
    if (!r) return;
    cls_free(r->step);
    cls_free(r->eta_t);
    cls_free(r->loss);
    cls_free(r->loss_draws);
    cls_free(r->windows);
    cls_free(r);
}

/* Distinct steps round(10^(j/cpd)) in [1, T], plus T. */
static int64_t checkpoint_grid(int64_t T, int cpd, int64_t *out)
{
    int64_t n = 0, last = 0;
    for (int64_t j = 0;; j++) {
        double s = floor(pow(10.0, (double)j / cpd) + 0.5);
        if (s > (double)T) break;
        int64_t t = (int64_t)s;
        if (t > last) {
            if (out) out[n] = t;
            n++;
            last = t;
        }
    }
    if (last < T) {
        if (out) out[n] = T;
        n++;
    }
    return n;
}

#define FL_MAX_WINDOWS 64

cls_status cls_featlearn_run(const cls_featlearn_config *cfg, cls_featlearn_result **out)
{
    if (!out) return cls_set_error(CLS_E_INVALID_ARG, "featlearn run: out is NULL");
    cls_status st = cls_featlearn_config_check(cfg);
    if (st != CLS_OK) return st;
    double t_start = cls_now_seconds();
    const int64_t T = cfg->steps;
    const int D = cfg->seeds;
    cls_featlearn_engine engine = cls_featlearn_resolve_engine(cfg);

    cls_featlearn_task task;
    st = cls_featlearn_task_init(&task, cfg->alpha, cfg->beta, cfg->M);
    if (st != CLS_OK) return st;

    size_t curve_len;
    if (!cls_size_mul(&curve_len, (int64_t)D, T + 1, (int64_t)sizeof(double))) {
        cls_featlearn_task_free(&task);
        return CLS_E_NOMEM;
    }
    double *curves = cls_alloc(curve_len, "featlearn per-step loss curves");
    int64_t *incs = cls_calloc((size_t)D, sizeof(int64_t), "featlearn increases");
    cls_status *sts = cls_calloc((size_t)D, sizeof(cls_status), "featlearn statuses");
    char (*msgs)[512] = cls_calloc((size_t)D, 512, "featlearn messages");
    cls_featlearn_result *r = cls_calloc(1, sizeof *r, "featlearn result");
    if (!curves || !incs || !sts || !msgs || !r) {
        st = CLS_E_NOMEM;
        goto fail;
    }

    /* One draw per iteration; each owns its rng streams and its slice of
     * curves, so the result does not depend on the thread count. BLAS calls
     * inside the team run single-threaded (OpenMP build of OpenBLAS). */
    int nt = cls_threads_resolve(cfg->threads);
    if (nt > D) nt = D;
    /* BLAS stays single-threaded even with one draw: the per-step products
     * are small (one matrix-vector product each), threading them cost 70x on
     * a loaded 2-core machine, and it keeps the bits independent of threads. */
    cls_thread_state saved;
    cls_threads_enter(1, &saved); /* the team below has an explicit num_threads(nt) */
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int d = 0; d < D; d++) {
        sts[d] = cls_featlearn_draw_run(cfg, engine, &task, d, curves + (size_t)d * (size_t)(T + 1), &incs[d]);
        if (sts[d] != CLS_OK) snprintf(msgs[d], 512, "%s", cls_last_error());
    }
    cls_threads_leave(&saved);
    for (int d = 0; d < D; d++)
        if (sts[d] != CLS_OK) {
            st = cls_set_error(sts[d], "%s", msgs[d]);
            goto fail;
        }

    /* Mean curve over draws (summed in draw order: deterministic). */
    double *mean = cls_alloc((size_t)(T + 1) * sizeof(double), "featlearn mean curve");
    double *x = cls_alloc((size_t)(T + 1) * sizeof(double), "featlearn eta*t");
    if (!mean || !x) {
        cls_free(mean);
        cls_free(x);
        st = CLS_E_NOMEM;
        goto fail;
    }
    for (int64_t t = 0; t <= T; t++) {
        double s = 0.0;
        for (int d = 0; d < D; d++) s += curves[(size_t)d * (size_t)(T + 1) + (size_t)t];
        mean[t] = s / (double)D;
        x[t] = cfg->eta * (double)t;
    }

    r->config = *cfg;
    r->loss0 = mean[0];
    for (int d = 0; d < D; d++) r->loss_increases += incs[d];
    r->n = checkpoint_grid(T, cfg->checkpoints_per_decade, NULL);
    r->step = cls_alloc((size_t)r->n * sizeof(int64_t), "featlearn steps");
    r->eta_t = cls_alloc((size_t)r->n * sizeof(double), "featlearn eta*t");
    r->loss = cls_alloc((size_t)r->n * sizeof(double), "featlearn loss");
    r->loss_draws = cls_alloc((size_t)r->n * (size_t)D * sizeof(double), "featlearn draw losses");
    double wlo[FL_MAX_WINDOWS], whi[FL_MAX_WINDOWS];
    int nw = cls_featlearn_windows(cfg->eta * (double)T, wlo, whi, FL_MAX_WINDOWS);
    r->windows = cls_calloc((size_t)(nw > 0 ? nw : 1), sizeof(cls_featlearn_window),
                            "featlearn windows");
    if (!r->step || !r->eta_t || !r->loss || !r->loss_draws || !r->windows) {
        cls_free(mean);
        cls_free(x);
        st = CLS_E_NOMEM;
        goto fail;
    }
    checkpoint_grid(T, cfg->checkpoints_per_decade, r->step);
    for (int64_t j = 0; j < r->n; j++) {
        int64_t t = r->step[j];
        r->eta_t[j] = x[t];
        r->loss[j] = mean[t];
        for (int d = 0; d < D; d++)
            r->loss_draws[(size_t)d * (size_t)r->n + (size_t)j] =
                curves[(size_t)d * (size_t)(T + 1) + (size_t)t];
    }
    /* Slopes over every step in the window (as the spec's reference does). */
    r->n_windows = 0;
    for (int i = 0; i < nw; i++) {
        cls_featlearn_window *w = &r->windows[r->n_windows];
        w->lo = wlo[i];
        w->hi = whi[i];
        if (cls_featlearn_slope(x + 1, mean + 1, T, wlo[i], whi[i], &w->slope, &w->points) ==
            CLS_OK)
            r->n_windows++;
    }
    cls_clear_error();
    cls_free(mean);
    cls_free(x);
    r->seconds = cls_now_seconds() - t_start;
    cls_free(curves);
    cls_free(incs);
    cls_free(sts);
    cls_free(msgs);
    cls_featlearn_task_free(&task);
    *out = r;
    return CLS_OK;

fail:
    cls_featlearn_result_free(r);
    cls_free(curves);
    cls_free(incs);
    cls_free(sts);
    cls_free(msgs);
    cls_featlearn_task_free(&task);
    return st;
}
