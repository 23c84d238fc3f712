/* Multi-start over the spec's grid, in parallel over starts.
 *
 * Grid (two variables, the Chinchilla grid of Hoffmann et al. / Epoch):
 * a_k in {0, 5, ..., 25}, e in {-1, -0.5, ..., 1}, alpha_k in {0, 0.5, ..., 2}:
 * 6^k * 5 * 5^k starts (150 for one variable, 4,500 for two). For three and
 * four variables that product is 135,000 and 4 million, so those use the
 * coarser a_k in {0, 10, 20}, e in {-1, 0, 1}, alpha_k in {0, 1, 2} (2,187 and
 * 19,683 starts).
 *
 * Each start writes its own slot, and the best is chosen by (objective, index)
 * after the loop, so the result does not depend on the thread count. */
#include "fit_internal.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

typedef struct {
    int na, ne, nalpha;
    double a0, da, e0, de, alpha0, dalpha;
} grid_spec;

static grid_spec grid_for(int nvars)
{
    if (nvars <= 2) return (grid_spec){6, 5, 5, 0.0, 5.0, -1.0, 0.5, 0.0, 0.5};
    return (grid_spec){3, 3, 3, 0.0, 10.0, -1.0, 1.0, 0.0, 1.0};
}

int64_t fit_grid_size(int nvars)
{
    grid_spec g = grid_for(nvars);
    int64_t s = g.ne;
    for (int k = 0; k < nvars; k++) s *= (int64_t)g.na * g.nalpha;
    return s;
}

void fit_grid_start(int nvars, int64_t index, double *theta)
{
    grid_spec g = grid_for(nvars);
    /* Mixed radix: alpha_k fastest, then a_k, then e. */
    for (int k = nvars - 1; k >= 0; k--) {
        theta[1 + nvars + k] = g.alpha0 + g.dalpha * (double)(index % g.nalpha);
        index /= g.nalpha;
    }
    for (int k = nvars - 1; k >= 0; k--) {
        theta[1 + k] = g.a0 + g.da * (double)(index % g.na);
        index /= g.na;
    }
    theta[0] = g.e0 + g.de * (double)(index % g.ne);
}

cls_status fit_multistart(const fit_data *d, const fit_tolerances *tol, const int64_t *starts,
                          int64_t nstarts, const double *extra_start, int threads, double *best_theta,
                          double *best_obj, double *fraction)
{
    const int nraw = 1 + 2 * d->nvars;
    int64_t total = nstarts + (extra_start ? 1 : 0);
    *best_obj = INFINITY;
    *fraction = 0.0;
    size_t bytes;
    if (!cls_size_mul(&bytes, total, nraw + 1, (int64_t)sizeof(double))) return CLS_E_NOMEM;
    double *obj = malloc(bytes ? bytes : 1);
    if (!obj)
        return cls_set_error(CLS_E_NOMEM, "fit: cannot allocate %zu bytes for %lld starts", bytes,
                             (long long)total);
    double *th = obj + total;
    int nth = threads > 0 ? threads : 1;
#pragma omp parallel for schedule(dynamic, 4) num_threads(nth) if (nth > 1)
    for (int64_t s = 0; s < total; s++) {
        double *t = th + s * nraw;
        if (s < nstarts)
            fit_grid_start(d->nvars, starts ? starts[s] : s, t);
        else
            for (int i = 0; i < nraw; i++) t[i] = extra_start[i];
        obj[s] = fit_minimize(d, tol, t);
    }
    int64_t best = -1;
    for (int64_t s = 0; s < total; s++)
        if (isfinite(obj[s]) && (best < 0 || obj[s] < obj[best])) best = s;
    if (best >= 0) {
        double f = obj[best], thr = f + 1e-3 * fabs(f);
        int64_t hit = 0;
        for (int64_t s = 0; s < total; s++) hit += obj[s] <= thr;
        *best_obj = f;
        *fraction = (double)hit / (double)total;
        for (int i = 0; i < nraw; i++) best_theta[i] = th[best * nraw + i];
    }
    free(obj);
    return CLS_OK;
}
