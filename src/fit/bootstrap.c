/* Bootstrap refits: resample points (or whole groups - a cluster bootstrap
 * when a run contributes several checkpoints), refit from the full-data
 * optimum plus a few fixed random grid starts, keep the best.
 *
 * A resample is represented by integer weights (how often each point was
 * drawn), so no data is copied. Resample b draws from RNG stream b + 1 of the
 * seed and writes only its own row: same seed, same bits, any thread count. */
#include "fit_internal.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Map arbitrary group ids to 0..G-1; returns G (0 on allocation failure). */
static int64_t compress_groups(const int64_t *groups, int64_t n, int64_t *gid)
{
    int64_t *u = malloc(sizeof(int64_t) * (size_t)n);
    if (!u) return 0;
    memcpy(u, groups, sizeof(int64_t) * (size_t)n);
    qsort(u, (size_t)n, sizeof *u, cmp_i64);
    int64_t G = 0;
    for (int64_t i = 0; i < n; i++)
        if (i == 0 || u[i] != u[i - 1]) u[G++] = u[i];
    for (int64_t i = 0; i < n; i++) {
        int64_t lo = 0, hi = G - 1;
        while (lo < hi) {
            int64_t mid = (lo + hi) / 2;
            if (u[mid] < groups[i]) lo = mid + 1;
            else hi = mid;
        }
        gid[i] = lo;
    }
    free(u);
    return G;
}

cls_status fit_bootstrap(const double *x, const double *y, const int64_t *groups, int64_t n,
                         const cls_fit_options *opt, int misscaled, cls_fit_result *r)
{
    const int B = opt->bootstrap, nraw = r->nraw, k = r->nvars;
    const int lse = r->law != CLS_LAW_POWER;
    double *boot = malloc(sizeof(double) * (size_t)B * (size_t)nraw);
    int64_t *gid = malloc(sizeof(int64_t) * (size_t)n);
    double *logx = lse ? malloc(sizeof(double) * (size_t)n * (size_t)k) : NULL;
    double *logy = lse ? malloc(sizeof(double) * (size_t)n) : NULL;
    if (!boot || !gid || (lse && (!logx || !logy))) {
        free(boot);
        free(gid);
        free(logx);
        free(logy);
        return cls_set_error(CLS_E_NOMEM, "bootstrap: out of memory");
    }
    int64_t G = n;
    if (groups) {
        G = compress_groups(groups, n, gid);
    } else {
        for (int64_t i = 0; i < n; i++) gid[i] = i;
    }
    if (lse) {
        for (int64_t i = 0; i < n * k; i++) logx[i] = log(x[i]);
        for (int64_t i = 0; i < n; i++) logy[i] = log(y[i]);
    }
    /* A few fixed random grid starts, the same for every resample. */
    int R = opt->boot_random_starts > 0 ? opt->boot_random_starts : 0;
    int64_t starts[64];
    if (R > 64) R = 64;
    if (lse) {
        cls_rng srng;
        cls_rng_seed_stream(&srng, opt->seed, UINT64_C(0x5747A475));
        for (int i = 0; i < R; i++) starts[i] = (int64_t)cls_rng_below(&srng, (uint64_t)fit_grid_size(k));
    }
    fit_tolerances tol = fit_tolerances_for(opt, misscaled);
    int nth = cls_threads_resolve(opt->threads);
    int failed = 0;
    int nomem = 0;
#pragma omp parallel num_threads(nth) reduction(+ : failed, nomem)
    {
        double *w = malloc(sizeof(double) * (size_t)n);
        double *gw = malloc(sizeof(double) * (size_t)G);
        if (!w || !gw) nomem++;
#pragma omp for schedule(dynamic, 1)
        for (int b = 0; b < B; b++) {
            double *out = boot + (size_t)b * nraw;
            if (!w || !gw) {
                for (int i = 0; i < nraw; i++) out[i] = NAN;
                continue;
            }
            cls_rng rng;
            cls_rng_seed_stream(&rng, opt->seed, (uint64_t)b + 1);
            memset(gw, 0, sizeof(double) * (size_t)G);
            for (int64_t j = 0; j < G; j++) gw[cls_rng_below(&rng, (uint64_t)G)] += 1.0;
            for (int64_t i = 0; i < n; i++) w[i] = gw[gid[i]];
            int ok;
            if (!lse) {
                double obj;
                int64_t np;
                ok = fit_power(x, y, w, n, r->frontier_binned, r->bins, out, &obj, &np);
            } else {
                fit_data d = {k, n, logx, logy, w, opt->huber_delta,
                              misscaled ? opt->huber_delta / (double)n : 1.0};
                double best[CLS_FIT_MAX_PARAMS], fobj, frac;
                if (fit_multistart(&d, &tol, starts, R, r->raw, 1, best, &fobj, &frac) != CLS_OK) {
                    nomem++; /* out of memory: the whole bootstrap fails below */
                    fobj = INFINITY;
                }
                ok = isfinite(fobj);
                if (ok) memcpy(out, best, sizeof(double) * (size_t)nraw);
            }
            if (!ok) {
                for (int i = 0; i < nraw; i++) out[i] = NAN;
                failed++;
            }
        }
        free(w);
        free(gw);
    }
    free(gid);
    free(logx);
    free(logy);
    if (nomem) {
        free(boot);
        return cls_set_error(CLS_E_NOMEM, "bootstrap: out of memory");
    }
    r->boot_raw = boot;
    r->bootstrap = B;
    r->bootstrap_failed = failed;
    if (failed)
        fit_warn(r, CLS_FIT_WARN_BOOTSTRAP,
                 "%d of %d bootstrap refits failed (too few distinct points drawn) and are "
                 "left out of the intervals", failed, B);
    if (G < 10)
        fit_warn(r, CLS_FIT_WARN_FEW_GROUPS,
                 "only %lld %s to resample: bootstrap intervals are unreliable", (long long)G,
                 groups ? "groups" : "points");
    return CLS_OK;
}
