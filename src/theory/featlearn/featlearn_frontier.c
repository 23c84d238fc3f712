/* Compute-optimal frontier L*(C) = min_N L(C/N, N), C = N t (t in steps),
 * from draw-averaged runs at a grid of widths. */
#include "featlearn_internal.h"

#include <math.h>

#include "../../core/internal.h"

void cls_featlearn_frontier_free(cls_featlearn_frontier_result *r)
{
    if (!r) return;
    cls_free(r->C);
    cls_free(r->loss);
    cls_free(r->N_best);
    cls_free(r->N);
    cls_free(r);
}

/* L at step t (1 <= t <= T) by log-log interpolation between checkpoints. */
static double interp_loss(const cls_featlearn_result *run, double t)
{
    const int64_t n = run->n;
    if (t <= (double)run->step[0]) return run->loss[0];
    for (int64_t j = 1; j < n; j++) {
        if (t <= (double)run->step[j]) {
            double x0 = log((double)run->step[j - 1]), x1 = log((double)run->step[j]);
            double y0 = log(run->loss[j - 1]), y1 = log(run->loss[j]);
            double f = (log(t) - x0) / (x1 - x0);
            return exp(y0 + f * (y1 - y0));
        }
    }
    return run->loss[n - 1];
}

cls_status cls_featlearn_frontier(const cls_featlearn_config *cfg, const int64_t *N, int64_t n,
                                  cls_featlearn_frontier_result **out)
{
    if (!cfg || !N || !out) return cls_set_error(CLS_E_INVALID_ARG, "featlearn frontier: NULL argument");
    if (n < 2 || n > 64)
        return cls_set_error(CLS_E_INVALID_ARG, "featlearn frontier: %lld widths (need 2..64)",
                             (long long)n);
    for (int64_t i = 0; i < n; i++)
        if (N[i] < 1 || (i > 0 && N[i] <= N[i - 1]))
            return cls_set_error(CLS_E_INVALID_ARG,
                                 "featlearn frontier: widths must be increasing and >= 1 "
                                 "(N[%lld] = %lld)", (long long)i, (long long)N[i]);
    cls_featlearn_prediction pred;
    cls_status st = cls_featlearn_predict(cfg->alpha, cfg->beta, &pred);
    double *mask = NULL; /* fit weights (0/1) and N_best as doubles */
    if (st != CLS_OK) return st;
    double t0 = cls_now_seconds();
    cls_featlearn_result *runs[64] = {0};
    cls_featlearn_frontier_result *r = cls_calloc(1, sizeof *r, "frontier result");
    if (!r) return CLS_E_NOMEM;
    for (int64_t i = 0; i < n; i++) {
        cls_featlearn_config c = *cfg;
        c.N = N[i];
        st = cls_featlearn_run(&c, &runs[i]);
        if (st != CLS_OK) {
            cls_error_context(st, "frontier run at N = %lld", (long long)N[i]);
            goto done;
        }
        r->loss_increases += runs[i]->loss_increases;
    }
    const double T = (double)cfg->steps;
    double lcmin = log10((double)N[0]), lcmax = log10((double)N[n - 1] * T);
    int64_t nC = (int64_t)floor((lcmax - lcmin) * 10.0 + 1e-9) + 1;
    r->n_widths = n;
    r->N = cls_alloc((size_t)n * sizeof(int64_t), "frontier widths");
    r->C = cls_alloc((size_t)nC * sizeof(double), "frontier C");
    r->loss = cls_alloc((size_t)nC * sizeof(double), "frontier loss");
    r->N_best = cls_alloc((size_t)nC * sizeof(int64_t), "frontier best N");
    if (!r->N || !r->C || !r->loss || !r->N_best) {
        st = CLS_E_NOMEM;
        goto done;
    }
    for (int64_t i = 0; i < n; i++) r->N[i] = N[i];
    r->nC = 0;
    for (int64_t c = 0; c < nC; c++) {
        double C = pow(10.0, lcmin + 0.1 * (double)c);
        double best = INFINITY;
        int64_t bestN = 0;
        for (int64_t i = 0; i < n; i++) {
            double t = C / (double)N[i];
            if (t < 1.0 || t > T * (1.0 + 1e-12)) continue;
            double L = interp_loss(runs[i], t < T ? t : T);
            if (L < best) {
                best = L;
                bestN = N[i];
            }
        }
        if (bestN == 0) continue;
        r->C[r->nC] = C;
        r->loss[r->nC] = best;
        r->N_best[r->nC] = bestN;
        r->nC++;
    }
    /* Fit where the optimum is inside the grid; else over every C. */
    mask = cls_alloc((size_t)(r->nC > 0 ? r->nC : 1) * 2 * sizeof(double), "frontier fit weights");
    if (!mask) {
        st = CLS_E_NOMEM;
        goto done;
    }
    double *Nd = mask + (r->nC > 0 ? r->nC : 1);
    for (int pass = 0; pass < 2; pass++) {
        int64_t m = 0;
        for (int64_t c = 0; c < r->nC; c++) {
            int edge = r->N_best[c] == N[0] || r->N_best[c] == N[n - 1];
            mask[c] = pass == 1 || !edge; /* weight 0: left out of the fit */
            Nd[c] = (double)r->N_best[c];
            m += mask[c] > 0;
        }
        if (m < 3 && pass == 0) continue;
        double sl = 0.0, sn = 0.0;
        st = m < 2 ? CLS_E_NUMERIC : cls_stats_loglog_fit(r->C, r->loss, mask, r->nC, &sl, NULL, NULL);
        if (st == CLS_OK) st = cls_stats_loglog_fit(r->C, Nd, mask, r->nC, &sn, NULL, NULL);
        if (st != CLS_OK) {
            st = cls_set_error(st, "featlearn frontier: fewer than 2 usable compute values");
            goto done;
        }
        r->exponent = -sl;
        r->N_exponent = sn;
        r->fit_points = m;
        break;
    }
    r->exponent_predicted = cfg->gamma > 0 ? pred.c_rich : pred.c_lazy;
    r->seconds = cls_now_seconds() - t0;
done:
    cls_free(mask);
    for (int64_t i = 0; i < n; i++) cls_featlearn_result_free(runs[i]);
    if (st != CLS_OK) {
        cls_featlearn_frontier_free(r);
        return st;
    }
    *out = r;
    return CLS_OK;
}

int64_t cls_featlearn_frontier_widths(int64_t N, int64_t *out)
{
    int64_t w[CLS_FEATLEARN_MAX_WIDTHS], n = 0;
    for (; N >= 8 && n < CLS_FEATLEARN_MAX_WIDTHS; N /= 2) w[n++] = N;
    if (out)
        for (int64_t i = 0; i < n; i++) out[i] = w[n - 1 - i];
    return n;
}
