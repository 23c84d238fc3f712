/* The lab's analysis, all with the existing fitter (src/fit):
 *  - the compute frontier: the runs no cheaper run beats (Pareto lower
 *    envelope of loss against compute), fitted by the saturating law
 *    L = E + A C^-alpha; intervals by resampling RUNS (the frontier is
 *    recomputed from each resample and refitted);
 *  - L(N, D) = E + A/N^alpha + B/D^beta (chinchilla) on every run, with the
 *    fitter's bootstrap over points = runs;
 *  - the same two for the probe error;
 *  - the extrapolation check: chinchilla fitted without the top fraction of
 *    runs by compute, predicting them, with bootstrap intervals;
 *  - compute-optimal N*(C), D*(C) with bands (cls_fit_plan, C = k N D);
 *  - Spearman(|alpha - 1|, probe accuracy) and Spearman(RankMe, accuracy)
 *    (cls_stats_spearman, src/core/stats.c). */
#include "lab_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void cls_lab_analysis_options_init(cls_lab_analysis_options *opt)
{
    if (!opt) return; /* NULL is a no-op, like every _init */
    memset(opt, 0, sizeof *opt);
    opt->bootstrap = 200;
    opt->permutations = 10000;
    opt->holdout_fraction = 0.2;
    opt->predict_tolerance = 0.10;
}

void cls_lab_analysis_free(cls_lab_analysis *a)
{
    if (!a) return;
    cls_fit_result_free(&a->loss_frontier.fit);
    cls_fit_result_free(&a->probe_frontier.fit);
    cls_fit_result_free(&a->loss_nd.fit);
    cls_fit_result_free(&a->probe_nd.fit);
    cls_fit_result_free(&a->loss_extra.law.fit);
    cls_fit_result_free(&a->probe_extra.law.fit);
    free(a->loss_extra.pred);
    free(a->probe_extra.pred);
    memset(a, 0, sizeof *a);
}

static void law_fail(cls_lab_law *law, const char *msg)
{
    law->ok = 0;
    snprintf(law->message, sizeof law->message, "%s", msg);
}

typedef struct {
    double C, y;
    int64_t i;
} pt;

static int cmp_pt(const void *a, const void *b)
{
    const pt *p = a, *q = b;
    if (p->C != q->C) return p->C < q->C ? -1 : 1;
    if (p->y != q->y) return p->y < q->y ? -1 : 1;
    return (p->i > q->i) - (p->i < q->i);
}

/* Pareto lower envelope of (C, y) over the runs idx[0..m): writes the C and y
 * of the runs no cheaper (or equally cheap) run beats; returns their count. */
static int64_t pareto(const double *C, const double *y, const int64_t *idx, int64_t m, pt *work, double *fc,
                      double *fy)
{
    for (int64_t j = 0; j < m; j++) work[j] = (pt){C[idx[j]], y[idx[j]], idx[j]};
    qsort(work, (size_t)m, sizeof *work, cmp_pt);
    int64_t k = 0;
    double best = INFINITY;
    for (int64_t j = 0; j < m; j++)
        if (work[j].y < best) {
            best = work[j].y;
            fc[k] = work[j].C;
            fy[k] = work[j].y;
            k++;
        }
    return k;
}

int lab_record_fittable(const cls_lab_record *r)
{
    return r->ok && r->flops > 0 && r->params > 0 && r->samples_seen > 0 && r->heldout_loss > 0 && r->probe_error > 0;
}

int64_t lab_frontier(const double *C, const double *y, int64_t n, double *fc, double *fy)
{
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    pt *work = malloc(sizeof(pt) * (size_t)(n > 0 ? n : 1));
    int64_t k = -1;
    if (idx && work) {
        for (int64_t i = 0; i < n; i++) idx[i] = i;
        k = pareto(C, y, idx, n, work, fc, fy);
    }
    free(idx);
    free(work);
    return k;
}

/* The shared percentile (src/core/stats.c: NumPy's linear rule over the
 * finite values), NaN when it cannot be computed. */
static double lab_percentile(const double *v, int64_t n, double q)
{
    double r = NAN;
    if (cls_stats_percentile(v, n, q, &r) != CLS_OK) return NAN;
    return r;
}

/* Kept for the public API: the shared Spearman of src/core/stats.c. */
cls_status cls_lab_spearman(const double *x, const double *y, int64_t n, int permutations, uint64_t seed,
                            double *rho, double *p_value)
{
    return cls_stats_spearman(x, y, n, permutations, seed, rho, p_value);
}

static void percentile_ci(const double *v, int64_t B, double (*ci80)[2], double (*ci95)[2], int q)
{
    ci80[q][0] = lab_percentile(v, B, 10.0);
    ci80[q][1] = lab_percentile(v, B, 90.0);
    ci95[q][0] = lab_percentile(v, B, 2.5);
    ci95[q][1] = lab_percentile(v, B, 97.5);
}

/* Saturating law on the compute frontier, intervals by resampling runs. */
static cls_status fit_frontier(const double *C, const double *y, int64_t n, const cls_lab_analysis_options *opt,
                               cls_lab_law *law)
{
    memset(law, 0, sizeof *law);
    if (n < 4) {
        law_fail(law, "fewer than 4 successful runs");
        return CLS_OK;
    }
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)n);
    pt *work = malloc(sizeof(pt) * (size_t)n);
    double *fc = malloc(sizeof(double) * (size_t)n * 2);
    int B = opt->bootstrap;
    double *boot = malloc(sizeof(double) * (size_t)(B > 0 ? B : 1) * CLS_FIT_MAX_PARAMS);
    double *braw = malloc(sizeof(double) * (size_t)(B > 0 ? B : 1) * CLS_FIT_MAX_PARAMS);
    if (!idx || !work || !fc || !boot || !braw) {
        free(idx);
        free(work);
        free(fc);
        free(boot);
        free(braw);
        return cls_set_error(CLS_E_NOMEM, "analysis: out of memory");
    }
    double *fy = fc + n;
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    int64_t k = pareto(C, y, idx, n, work, fc, fy);
    cls_fit_options fo;
    cls_fit_options_init(&fo);
    fo.law = CLS_LAW_SATURATING;
    fo.threads = opt->threads;
    law->n_points = k;
    if (k < 4) {
        char msg[160];
        snprintf(msg, sizeof msg, "the compute frontier has %lld runs; the saturating law needs at least 4",
                 (long long)k);
        law_fail(law, msg);
    } else if (cls_fit_law(fc, fy, NULL, k, &fo, &law->fit) != CLS_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "fit failed: %s", cls_last_error());
        law_fail(law, msg);
    } else {
        law->ok = 1;
        int np = law->fit.nparams, nr = law->fit.nraw, good = 0;
        cls_rng rng;
        for (int b = 0; b < B; b++) {
            cls_rng_seed_stream(&rng, opt->seed, 1000003ull + (uint64_t)b);
            for (int64_t i = 0; i < n; i++) idx[i] = (int64_t)cls_rng_below(&rng, (uint64_t)n);
            int64_t kb = pareto(C, y, idx, n, work, fc, fy);
            cls_fit_result r;
            for (int q = 0; q < np; q++) boot[(size_t)q * B + b] = NAN;
            for (int q = 0; q < nr; q++) braw[(size_t)b * nr + q] = NAN;
            if (kb < 4 || cls_fit_law(fc, fy, NULL, kb, &fo, &r) != CLS_OK) continue;
            for (int q = 0; q < np; q++) boot[(size_t)q * B + b] = r.params[q];
            for (int q = 0; q < nr; q++) braw[(size_t)b * nr + q] = r.raw[q];
            cls_fit_result_free(&r);
            good++;
        }
        cls_clear_error();
        law->bootstrap = good;
        for (int q = 0; q < np + law->fit.nderived; q++)
            law->fit.ci80[q][0] = law->fit.ci80[q][1] = law->fit.ci95[q][0] = law->fit.ci95[q][1] = NAN;
        if (good >= 10) {
            for (int q = 0; q < np; q++) percentile_ci(boot + (size_t)q * B, B, law->fit.ci80, law->fit.ci95, q);
            law->fit.bootstrap = B;
            law->fit.bootstrap_failed = B - good;
            law->fit.boot_raw = braw; /* owned by the fit from here */
            braw = NULL;
        }
    }
    free(idx);
    free(work);
    free(fc);
    free(boot);
    free(braw);
    return CLS_OK;
}

static cls_status fit_nd(const double *x, const double *y, int64_t n, int bootstrap,
                         const cls_lab_analysis_options *opt, cls_lab_law *law)
{
    memset(law, 0, sizeof *law);
    law->n_points = n;
    if (n < 6) {
        char msg[160];
        snprintf(msg, sizeof msg, "%lld runs; L(N, D) has 5 parameters and needs at least 6", (long long)n);
        law_fail(law, msg);
        return CLS_OK;
    }
    cls_fit_options fo;
    cls_fit_options_init(&fo);
    fo.law = CLS_LAW_CHINCHILLA;
    fo.bootstrap = bootstrap;
    fo.seed = opt->seed;
    fo.threads = opt->threads;
    if (cls_fit_law(x, y, NULL, n, &fo, &law->fit) != CLS_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "fit failed: %s", cls_last_error());
        law_fail(law, msg);
        cls_clear_error();
        return CLS_OK;
    }
    law->ok = 1;
    law->bootstrap = law->fit.bootstrap - law->fit.bootstrap_failed;
    return CLS_OK;
}

/* Bootstrap interval of the law's prediction at x. */
static void predict_ci(const cls_fit_result *f, const double *x, double ci[2])
{
    ci[0] = ci[1] = NAN;
    if (!f->boot_raw || f->bootstrap <= 0) return;
    double *v = malloc(sizeof(double) * (size_t)f->bootstrap);
    if (!v) return;
    for (int b = 0; b < f->bootstrap; b++) {
        const double *raw = f->boot_raw + (size_t)b * f->nraw;
        int fin = 1;
        for (int q = 0; q < f->nraw; q++) fin &= isfinite(raw[q]);
        v[b] = fin ? cls_fit_predict_raw(f->law, f->nvars, raw, x) : NAN;
    }
    ci[0] = lab_percentile(v, f->bootstrap, 2.5);
    ci[1] = lab_percentile(v, f->bootstrap, 97.5);
    free(v);
}

static int cmp_by_c(const void *a, const void *b) { return cmp_pt(a, b); }

static cls_status extrapolate(const double *C, const double *x, const double *y, const int64_t *rec_index,
                              int64_t n, const cls_lab_analysis_options *opt, cls_lab_extrapolation *ex)
{
    memset(ex, 0, sizeof *ex);
    ex->mean_abs_rel_error = NAN;
    int64_t hold = (int64_t)ceil(opt->holdout_fraction * (double)n - 1e-9);
    if (hold < 1) hold = 1;
    if (n - hold < 6) {
        law_fail(&ex->law, "too few runs to fit without the held-out ones");
        snprintf(ex->verdict, sizeof ex->verdict,
                 "cannot be checked: %lld runs leave %lld to fit after holding out %lld (need 6)", (long long)n,
                 (long long)(n - hold), (long long)hold);
        return CLS_OK;
    }
    pt *order = malloc(sizeof(pt) * (size_t)n);
    double *fx = malloc(sizeof(double) * (size_t)n * 3);
    ex->pred = calloc((size_t)hold, sizeof *ex->pred);
    if (!order || !fx || !ex->pred) {
        free(order);
        free(fx);
        return cls_set_error(CLS_E_NOMEM, "analysis: out of memory");
    }
    double *fy = fx + 2 * n;
    for (int64_t i = 0; i < n; i++) order[i] = (pt){C[i], y[i], i};
    qsort(order, (size_t)n, sizeof *order, cmp_by_c);
    int64_t nf = n - hold;
    for (int64_t j = 0; j < nf; j++) {
        int64_t i = order[j].i;
        fx[2 * j] = x[2 * i];
        fx[2 * j + 1] = x[2 * i + 1];
        fy[j] = y[i];
    }
    ex->n_fit = nf;
    ex->n_holdout = hold;
    cls_status st = fit_nd(fx, fy, nf, opt->bootstrap, opt, &ex->law);
    if (st) {
        free(order);
        free(fx);
        return st;
    }
    double sum = 0;
    for (int64_t h = 0; h < hold; h++) {
        int64_t i = order[nf + h].i;
        cls_lab_prediction *p = &ex->pred[h];
        p->run = rec_index[i];
        p->compute = C[i];
        p->measured = y[i];
        p->predicted = p->ci95[0] = p->ci95[1] = p->rel_error = NAN;
        if (!ex->law.ok) continue;
        p->predicted = cls_fit_predict(&ex->law.fit, x + 2 * i);
        predict_ci(&ex->law.fit, x + 2 * i, p->ci95);
        p->rel_error = (p->predicted - p->measured) / p->measured;
        sum += fabs(p->rel_error);
        int inside = p->measured >= p->ci95[0] && p->measured <= p->ci95[1];
        if (fabs(p->rel_error) <= opt->predict_tolerance || inside) ex->n_good++;
    }
    if (ex->law.ok) {
        ex->mean_abs_rel_error = sum / (double)hold;
        ex->predicts = ex->n_good == hold;
        if (ex->predicts)
            snprintf(ex->verdict, sizeof ex->verdict,
                     "predicts: all %lld held-out runs within %.3g %% or inside their 95 %% interval "
                     "(mean |error| %.3g %%)", (long long)hold, 100 * opt->predict_tolerance,
                     100 * ex->mean_abs_rel_error);
        else
            snprintf(ex->verdict, sizeof ex->verdict,
                     "does not predict: %d of %lld held-out runs within %.3g %% or inside their 95 %% interval "
                     "(mean |error| %.3g %%)", ex->n_good, (long long)hold, 100 * opt->predict_tolerance,
                     100 * ex->mean_abs_rel_error);
    } else {
        snprintf(ex->verdict, sizeof ex->verdict, "cannot predict: the law could not be fitted on the %lld "
                 "cheaper runs (%s)", (long long)nf, ex->law.message);
    }
    free(order);
    free(fx);
    return CLS_OK;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

cls_status cls_lab_analyze(const cls_lab_records *recs, const cls_lab_analysis_options *opt_in,
                           cls_lab_analysis *out)
{
    cls_lab_analysis_options defaults;
    cls_lab_analysis_options_init(&defaults);
    const cls_lab_analysis_options *opt = opt_in ? opt_in : &defaults;
    if (!recs || !out) return cls_set_error(CLS_E_INVALID_ARG, "analysis: records and output must not be NULL");
    if (opt->bootstrap < 0 || opt->permutations < 0 || !(opt->holdout_fraction > 0 && opt->holdout_fraction < 1))
        return cls_set_error(CLS_E_INVALID_ARG, "analysis: bootstrap %d, permutations %d, holdout fraction %g "
                             "(must be >= 0, >= 0, in (0, 1))", opt->bootstrap, opt->permutations,
                             opt->holdout_fraction);
    cls_lab_analysis a;
    memset(&a, 0, sizeof a);
    a.permutations = opt->permutations;
    a.bootstrap = opt->bootstrap;
    a.holdout_fraction = opt->holdout_fraction;
    a.predict_tolerance = opt->predict_tolerance;
    a.n_runs = recs->n;
    int64_t n = recs->n;
    size_t m = (size_t)(n > 0 ? n : 1);
    double *C = malloc(sizeof(double) * m * 8);
    int64_t *ri = malloc(sizeof(int64_t) * m);
    if (!C || !ri) {
        free(C);
        free(ri);
        return cls_set_error(CLS_E_NOMEM, "analysis: out of memory");
    }
    double *x = C + m, *L = C + 3 * m, *P = C + 4 * m, *ax = C + 5 * m, *acc = C + 6 * m, *rk = C + 7 * m;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        const cls_lab_record *r = &recs->runs[i];
        if (r->ok) a.n_ok++;
        else a.n_failed++;
        if (isfinite(r->seconds)) a.seconds += r->seconds;
        if (!lab_record_fittable(r)) continue;
        C[k] = r->flops;
        x[2 * k] = (double)r->params;
        x[2 * k + 1] = (double)r->samples_seen;
        L[k] = r->heldout_loss;
        P[k] = r->probe_error;
        ri[k] = i;
        k++;
    }
    cls_status st = fit_frontier(C, L, k, opt, &a.loss_frontier);
    if (!st) st = fit_frontier(C, P, k, opt, &a.probe_frontier);
    if (!st) st = fit_nd(x, L, k, opt->bootstrap, opt, &a.loss_nd);
    if (!st) st = fit_nd(x, P, k, opt->bootstrap, opt, &a.probe_nd);
    if (!st) st = extrapolate(C, x, L, ri, k, opt, &a.loss_extra);
    if (!st) st = extrapolate(C, x, P, ri, k, opt, &a.probe_extra);
    /* compute-optimal allocation under C = k N D */
    if (!st && k > 0) {
        for (int64_t j = 0; j < k; j++) ax[j] = C[j] / (x[2 * j] * x[2 * j + 1]);
        qsort(ax, (size_t)k, sizeof *ax, cmp_dbl);
        a.cost_factor = k % 2 ? ax[k / 2] : 0.5 * (ax[k / 2 - 1] + ax[k / 2]);
        double cmin = INFINITY, cmax = 0;
        for (int64_t j = 0; j < k; j++) {
            cmin = fmin(cmin, C[j]);
            cmax = fmax(cmax, C[j]);
        }
        if (a.loss_nd.ok) {
            int npts = 6;
            double lo = log(cmin), hi = log(cmax * 100.0);
            for (int s = 0; s < npts; s++) {
                double c = exp(lo + (hi - lo) * s / (npts - 1));
                cls_plan_point pp;
                if (cls_fit_plan(&a.loss_nd.fit, c, a.cost_factor, NULL, &pp) != CLS_OK) continue;
                cls_lab_optimal *o = &a.optimal[a.n_optimal++];
                o->compute = c;
                o->N = pp.x[0];
                o->D = pp.x[1];
                o->loss = pp.loss;
                memcpy(o->N_ci95, pp.x_ci95[0], sizeof o->N_ci95);
                memcpy(o->D_ci95, pp.x_ci95[1], sizeof o->D_ci95);
                memcpy(o->loss_ci95, pp.loss_ci95, sizeof o->loss_ci95);
            }
            cls_clear_error();
        }
    }
    /* spectrum against accuracy */
    a.alpha_accuracy.rho = a.alpha_accuracy.p_value = NAN;
    a.rankme_accuracy.rho = a.rankme_accuracy.p_value = NAN;
    if (!st) {
        int64_t na = 0, nr = 0;
        double *acc2 = x; /* reuse: x is no longer needed */
        for (int64_t i = 0; i < n; i++) {
            const cls_lab_record *r = &recs->runs[i];
            if (!r->ok || !isfinite(r->probe_error)) continue;
            if (isfinite(r->alpha)) {
                ax[na] = fabs(r->alpha - 1.0);
                acc[na++] = 1.0 - r->probe_error;
            }
            if (isfinite(r->rankme)) {
                rk[nr] = r->rankme;
                acc2[nr++] = 1.0 - r->probe_error;
            }
        }
        a.alpha_accuracy.n = na;
        a.rankme_accuracy.n = nr;
        if (na >= 3)
            st = cls_lab_spearman(ax, acc, na, opt->permutations, opt->seed, &a.alpha_accuracy.rho,
                                  &a.alpha_accuracy.p_value);
        if (!st && nr >= 3)
            st = cls_lab_spearman(rk, acc2, nr, opt->permutations, opt->seed + 1, &a.rankme_accuracy.rho,
                                  &a.rankme_accuracy.p_value);
    }
    free(C);
    free(ri);
    if (st) {
        cls_lab_analysis_free(&a);
        return st;
    }
    *out = a;
    return CLS_OK;
}
