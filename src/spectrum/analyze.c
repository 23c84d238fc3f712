/* Public entry points of the spectrum module: options, the eigenvalue API,
 * and the full analysis (alpha fit, RankMe, effective rank, participation
 * ratio, bootstrap interval, warnings) the CLI prints. */
#include "spectrum_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cls_spectrum_options_init(cls_spectrum_options *o)
{
    if (!o) return; /* NULL is a no-op, like every _init */
    memset(o, 0, sizeof *o);
    o->center = 1;
    o->rankme_center = 0;
    o->method = CLS_SPECTRUM_AUTO;
    o->fit_lo = 4;
    o->fit_hi = 100;
    o->weights = CLS_SPECTRUM_WEIGHTS_INV;
    o->power_iters = 6;
}

const char *cls_spectrum_method_name(cls_spectrum_method m)
{
    switch (m) {
    case CLS_SPECTRUM_AUTO: return "auto";
    case CLS_SPECTRUM_EXACT: return "exact";
    case CLS_SPECTRUM_RANDOMIZED: return "randomized";
    }
    return "unknown";
}

void cls_spectrum_eig_free(cls_spectrum_eig *e)
{
    if (!e) return;
    cls_free(e->values);
    memset(e, 0, sizeof *e);
}

void cls_spectrum_result_free(cls_spectrum_result *r)
{
    if (!r) return;
    cls_spectrum_eig_free(&r->eig);
}

static cls_status check_options(const cls_spectrum_options *o)
{
    if (!o) return cls_set_error(CLS_E_INVALID_ARG, "spectrum: options are NULL");
    if (o->fit_lo < 1 || o->fit_hi < o->fit_lo + 1)
        return cls_set_error(CLS_E_INVALID_ARG, "fit range %lld:%lld: need 1 <= LO < HI",
                             (long long)o->fit_lo, (long long)o->fit_hi);
    if (o->method < CLS_SPECTRUM_AUTO || o->method > CLS_SPECTRUM_RANDOMIZED)
        return cls_set_error(CLS_E_INVALID_ARG, "spectrum: unknown method %d", (int)o->method);
    if (o->weights != CLS_SPECTRUM_WEIGHTS_INV && o->weights != CLS_SPECTRUM_WEIGHTS_NONE)
        return cls_set_error(CLS_E_INVALID_ARG, "spectrum: unknown weights %d", (int)o->weights);
    if (o->bootstrap < 0)
        return cls_set_error(CLS_E_INVALID_ARG, "spectrum: bootstrap replicates must be >= 0, got %lld", (long long)o->bootstrap);
    if (o->chunk_rows < 0 || o->rank < 0 || o->oversample < 0 || o->power_iters < 0 || o->power_iters > 50)
        return cls_set_error(CLS_E_INVALID_ARG, "spectrum: chunk_rows, rank, oversample must be >= 0 and power_iters in 0..50");
    return CLS_OK;
}

static cls_spectrum_method resolve_method(const cls_spectrum_options *o, int64_t n, int64_t d)
{
    if (o->method != CLS_SPECTRUM_AUTO) return o->method;
    int64_t m = n < d ? n : d;
    return m <= CLS_SPECTRUM_AUTO_EXACT_MAX ? CLS_SPECTRUM_EXACT : CLS_SPECTRUM_RANDOMIZED;
}

/* One or two spectra (centred / uncentred) from a source, exact or randomized. */
static cls_status spectra(spec_source *s, spec_stats *st, int fuse, cls_spectrum_method method,
                          const cls_spectrum_options *o, int64_t chunk, cls_spectrum_eig *c,
                          cls_spectrum_eig *u, double **keep_gram, int keep_center)
{
    if (method == CLS_SPECTRUM_RANDOMIZED) {
        int64_t k = o->rank > 0 ? o->rank : o->fit_hi;
        cls_status status = CLS_OK;
        if (c) status = spec_randomized(s, st, NULL, 1, k, o, chunk, c);
        if (!status && u) status = spec_randomized(s, st, NULL, 0, k, o, chunk, u);
        return status;
    }
    if (s->n >= s->d) return spec_exact_covariance(s, st, fuse, NULL, chunk, o, c, u);
    return spec_exact_gram(s, st, chunk, c, u, keep_gram, keep_center);
}

/* Pass 1, or (exact path with n >= d) its arrays only: that path folds the
 * statistics into its own pass and saves one read of the data. */
static cls_status prepare_stats(spec_source *s, cls_spectrum_method method, int64_t chunk,
                                spec_stats *st, int *fuse)
{
    *fuse = method == CLS_SPECTRUM_EXACT && s->n >= s->d;
    if (!*fuse) return spec_stats_compute(s, chunk, st);
    memset(st, 0, sizeof *st);
    st->d = s->d;
    st->first_zero_var = -1;
    st->mean = cls_calloc((size_t)s->d, sizeof(double), "spectrum column means");
    st->m2 = cls_calloc((size_t)s->d, sizeof(double), "spectrum column variances");
    if (!st->mean || !st->m2) {
        spec_stats_free(st);
        return CLS_E_NOMEM;
    }
    return CLS_OK;
}

static void set_zero_var(cls_spectrum_eig *e, const spec_stats *st)
{
    e->zero_variance_columns = st->zero_var;
    e->first_zero_variance_column = st->first_zero_var;
}

static cls_status eigenvalues(spec_source *s, int center, const cls_spectrum_options *opt,
                              cls_spectrum_eig *out)
{
    cls_spectrum_options def;
    if (!opt) {
        cls_spectrum_options_init(&def);
        opt = &def;
    }
    cls_status status = out ? check_options(opt) : cls_set_error(CLS_E_INVALID_ARG, "spectrum: out is NULL");
    if (status) return status;
    cls_thread_state saved;
    cls_threads_enter(opt->threads, &saved);
    spec_prof_begin();
    int64_t chunk = spec_chunk_rows(opt, s->d);
    spec_stats st;
    cls_spectrum_eig e = {0};
    cls_spectrum_method m = resolve_method(opt, s->n, s->d);
    int fuse;
    status = prepare_stats(s, m, chunk, &st, &fuse);
    if (!status) {
        status = spectra(s, &st, fuse, m, opt, chunk, center ? &e : NULL, center ? NULL : &e, NULL, 0);
        set_zero_var(&e, &st);
        spec_stats_free(&st);
    }
    spec_prof_end();
    cls_threads_leave(&saved);
    if (status) {
        cls_spectrum_eig_free(&e);
        return status;
    }
    *out = e;
    return CLS_OK;
}

cls_status cls_spectrum_eigenvalues_f32(const float *x, int64_t n, int64_t d, int center,
                                        const cls_spectrum_options *opt, cls_spectrum_eig *out)
{
    spec_source s;
    cls_status status = spec_source_memory(&s, x, NULL, n, d);
    return status ? status : eigenvalues(&s, center, opt, out);
}

cls_status cls_spectrum_eigenvalues_f64(const double *x, int64_t n, int64_t d, int center,
                                        const cls_spectrum_options *opt, cls_spectrum_eig *out)
{
    spec_source s;
    cls_status status = spec_source_memory(&s, NULL, x, n, d);
    return status ? status : eigenvalues(&s, center, opt, out);
}

cls_status cls_spectrum_eigenvalues_npy(const char *path, int center,
                                        const cls_spectrum_options *opt, cls_spectrum_eig *out)
{
    spec_source s;
    cls_status status = spec_source_file(&s, path);
    if (status) return status;
    status = eigenvalues(&s, center, opt, out);
    spec_source_close(&s);
    return status;
}

static void add_warning(cls_spectrum_result *r, unsigned bit, const char *fmt, ...)
{
    r->warnings |= bit;
    if (r->n_warnings >= CLS_SPECTRUM_MAX_WARNINGS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->warning_text[r->n_warnings++], CLS_SPECTRUM_WARNING_LEN, fmt, ap);
    va_end(ap);
}

/* Bootstrap: replicate b resamples n rows with replacement using RNG stream
 * b of the seed, so results do not depend on thread counts. */
static cls_status bootstrap(spec_source *s, const spec_stats *st, cls_spectrum_method method,
                            const cls_spectrum_options *o, int64_t chunk, const double *gram,
                            cls_spectrum_result *r)
{
    int64_t n = st->n;
    int B = o->bootstrap;
    int32_t *counts = cls_alloc((size_t)n * sizeof(int32_t), "bootstrap counts");
    double *alphas = cls_alloc((size_t)B * sizeof(double), "bootstrap alphas");
    if (!counts || !alphas) {
        cls_free(counts), cls_free(alphas);
        return CLS_E_NOMEM;
    }
    int good = 0;
    cls_status status = CLS_OK;
    for (int b = 0; b < B && !status; b++) {
        cls_rng rng;
        cls_rng_seed_stream(&rng, o->seed, 1000u + (uint64_t)b);
        memset(counts, 0, (size_t)n * sizeof(int32_t));
        for (int64_t i = 0; i < n; i++) counts[cls_rng_below(&rng, (uint64_t)n)]++;
        cls_spectrum_eig e = {0};
        if (method == CLS_SPECTRUM_RANDOMIZED)
            status = spec_randomized(s, st, counts, o->center, r->eig.count, o, chunk, &e);
        else if (gram)
            status = spec_gram_bootstrap(gram, n, st->d, counts, o->center, &e);
        else
            status = spec_exact_covariance(s, (spec_stats *)st, 0, counts, chunk, o,
                                           o->center ? &e : NULL,
                                           o->center ? NULL : &e);
        if (!status && r->fit_hi <= e.count) {
            double a, c, r2;
            unsigned w;
            if (cls_spectrum_fit_alpha(e.values, e.count, e.total, r->fit_lo, r->fit_hi, o->weights,
                                       st->n, st->d, &a, &c, &r2, &w) == CLS_OK &&
                !(w & CLS_SPECTRUM_WARN_NONPOSITIVE))
                alphas[good++] = a;
        }
        cls_spectrum_eig_free(&e);
    }
    cls_clear_error();
    if (!status && good >= 2) {
        status = cls_stats_percentile(alphas, good, 2.5, &r->alpha_ci95[0]);
        if (!status) status = cls_stats_percentile(alphas, good, 97.5, &r->alpha_ci95[1]);
        r->bootstrap = good;
    }
    if (!status && good < B)
        add_warning(r, CLS_SPECTRUM_WARN_BOOTSTRAP,
                    "%d of %d bootstrap replicates could not be fitted and were dropped%s", B - good, B,
                    good < 2 ? "; no interval" : "");
    cls_free(counts);
    cls_free(alphas);
    return status;
}

static cls_status analyze(spec_source *s, const cls_spectrum_options *opt, cls_spectrum_result *out)
{
    cls_spectrum_options def;
    if (!opt) {
        cls_spectrum_options_init(&def);
        opt = &def;
    }
    cls_status status = out ? check_options(opt) : cls_set_error(CLS_E_INVALID_ARG, "spectrum: out is NULL");
    if (status) return status;
    cls_spectrum_result r;
    memset(&r, 0, sizeof r);
    r.rankme = r.effective_rank = r.effective_rank_eig = r.participation_ratio = NAN;
    r.alpha_ci95[0] = r.alpha_ci95[1] = NAN;
    cls_thread_state saved;
    cls_threads_enter(opt->threads, &saved);
    spec_prof_begin();
    int64_t chunk = spec_chunk_rows(opt, s->d);
    spec_stats st;
    cls_spectrum_eig ec = {0}, eu = {0};
    double *gram = NULL;
    int64_t n = s->n, d = s->d;
    cls_spectrum_method method = resolve_method(opt, n, d);
    int fuse;
    status = prepare_stats(s, method, chunk, &st, &fuse);
    if (status) {
        spec_prof_end();
        cls_threads_leave(&saved);
        return status;
    }
    int want_c = opt->center || opt->rankme_center;
    int want_u = !opt->center || !opt->rankme_center;
    if (method == CLS_SPECTRUM_RANDOMIZED) want_u = want_u && !opt->center, want_c = want_c && opt->center;
    status = spectra(s, &st, fuse, method, opt, chunk, want_c ? &ec : NULL, want_u ? &eu : NULL,
                     (opt->bootstrap > 0 && n < d && method == CLS_SPECTRUM_EXACT) ? &gram : NULL,
                     opt->center);
    if (!status) {
        r.n = n;
        r.d = d;
        r.method = method;
        r.centered = opt->center;
        r.eig = opt->center ? ec : eu;
        if (opt->center) ec.values = NULL; else eu.values = NULL;
        set_zero_var(&r.eig, &st);
        if (st.zero_var)
            add_warning(&r, CLS_SPECTRUM_WARN_ZERO_VARIANCE,
                        "%lld constant column(s) with zero variance (first: column %lld)",
                        (long long)st.zero_var, (long long)st.first_zero_var);
        r.fit_lo = opt->fit_lo;
        r.fit_hi = opt->fit_hi;
        if (r.fit_hi > r.eig.count) {
            r.fit_hi = r.eig.count;
            if (r.fit_hi < r.fit_lo + 1)
                status = cls_set_error(CLS_E_INVALID_ARG,
                                       "fit range %lld:%lld needs more eigenvalues: n = %lld, d = %lld give only %lld",
                                       (long long)opt->fit_lo, (long long)opt->fit_hi, (long long)n,
                                       (long long)d, (long long)r.eig.count);
            else
                add_warning(&r, CLS_SPECTRUM_WARN_CLAMPED,
                            "fit range clamped to %lld:%lld: only %lld eigenvalues (n = %lld, d = %lld)",
                            (long long)r.fit_lo, (long long)r.fit_hi, (long long)r.eig.count,
                            (long long)n, (long long)d);
        }
    }
    unsigned fw = 0;
    if (!status)
        status = cls_spectrum_fit_alpha(r.eig.values, r.eig.count, r.eig.total, r.fit_lo, r.fit_hi,
                                        opt->weights, n, d, &r.alpha, &r.intercept, &r.r2, &fw);
    if (!status) {
        int64_t used = 0;
        for (int64_t k = r.fit_lo; k <= r.fit_hi; k++) used += r.eig.values[k - 1] > 0;
        int64_t mnd = n < d ? n : d;
        if (fw & CLS_SPECTRUM_WARN_FINITE_N)
            add_warning(&r, CLS_SPECTRUM_WARN_FINITE_N,
                        "fit range HI = %lld > min(n, d)/4 = %lld: finite-n bias (alpha reads low for flat spectra)",
                        (long long)r.fit_hi, (long long)(mnd / 4));
        if (fw & CLS_SPECTRUM_WARN_LOW_R2)
            add_warning(&r, CLS_SPECTRUM_WARN_LOW_R2,
                        "R^2 = %.3f < 0.95: the spectrum is not a power law over ranks %lld:%lld; alpha means little",
                        r.r2, (long long)r.fit_lo, (long long)r.fit_hi);
        if (fw & CLS_SPECTRUM_WARN_FEW_RANKS)
            add_warning(&r, CLS_SPECTRUM_WARN_FEW_RANKS, "only %lld ranks fitted (< 10): alpha is unreliable",
                        (long long)used);
        if (fw & CLS_SPECTRUM_WARN_NONPOSITIVE)
            add_warning(&r, CLS_SPECTRUM_WARN_NONPOSITIVE,
                        "%lld eigenvalue(s) <= 0 in ranks %lld:%lld were left out of the fit",
                        (long long)(r.fit_hi - r.fit_lo + 1 - used), (long long)r.fit_lo, (long long)r.fit_hi);
        if (method == CLS_SPECTRUM_EXACT) {
            const cls_spectrum_eig *rk = opt->rankme_center ? (opt->center ? &r.eig : &ec)
                                                            : (opt->center ? &eu : &r.eig);
            r.rankme = cls_spectrum_rankme(rk->values, rk->count);
            r.effective_rank = cls_spectrum_effective_rank(r.eig.values, r.eig.count);
            r.effective_rank_eig = cls_spectrum_entropy_rank(r.eig.values, r.eig.count, 0.0);
            r.participation_ratio = cls_spectrum_participation_ratio(r.eig.total, r.eig.total_sq);
        } else {
            add_warning(&r, CLS_SPECTRUM_WARN_PARTIAL,
                        "randomized method: rankme, effective_rank and participation_ratio need the whole "
                        "spectrum and are not reported (use --method exact)");
        }
        spec_prof_mark("metrics");
        if (opt->bootstrap > 0) status = bootstrap(s, &st, method, opt, chunk, gram, &r);
        spec_prof_mark("bootstrap");
    }
    spec_prof_end();
    cls_free(gram);
    cls_spectrum_eig_free(&ec);
    cls_spectrum_eig_free(&eu);
    spec_stats_free(&st);
    cls_threads_leave(&saved);
    if (status) {
        cls_spectrum_result_free(&r);
        return status;
    }
    *out = r;
    return CLS_OK;
}

cls_status cls_spectrum_analyze_f32(const float *x, int64_t n, int64_t d,
                                    const cls_spectrum_options *opt, cls_spectrum_result *out)
{
    spec_source s;
    cls_status status = spec_source_memory(&s, x, NULL, n, d);
    return status ? status : analyze(&s, opt, out);
}

cls_status cls_spectrum_analyze_f64(const double *x, int64_t n, int64_t d,
                                    const cls_spectrum_options *opt, cls_spectrum_result *out)
{
    spec_source s;
    cls_status status = spec_source_memory(&s, NULL, x, n, d);
    return status ? status : analyze(&s, opt, out);
}

cls_status cls_spectrum_analyze_npy(const char *path, const cls_spectrum_options *opt,
                                    cls_spectrum_result *out)
{
    spec_source s;
    cls_status status = spec_source_file(&s, path);
    if (status) return status;
    status = analyze(&s, opt, out);
    spec_source_close(&s);
    return status;
}
