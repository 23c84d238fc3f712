/* Law forms: names, parameter bookkeeping, prediction, and the power law's
 * closed-form least squares (plain or on the binned frontier). */
#include "fit_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const law_names[] = {"power", "saturating", "chinchilla", "additive"};

const char *cls_fit_law_name(cls_law law)
{
    return (unsigned)law < 4 ? law_names[law] : "unknown";
}

cls_status cls_fit_law_parse(const char *name, cls_law *law)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, law_names[i]) == 0) {
            *law = (cls_law)i;
            return CLS_OK;
        }
    return cls_set_error(CLS_E_INVALID_ARG,
                         "unknown law '%s' (power, saturating, chinchilla or additive)",
                         name ? name : "(null)");
}

int cls_fit_law_nvars(cls_law law, int nvars)
{
    switch (law) {
    case CLS_LAW_POWER:
    case CLS_LAW_SATURATING: return 1;
    case CLS_LAW_CHINCHILLA: return 2;
    case CLS_LAW_ADDITIVE: return nvars >= 1 && nvars <= CLS_FIT_MAX_VARS ? nvars : -1;
    }
    return -1;
}

void fit_describe(cls_fit_result *r)
{
    int k = r->nvars;
    r->nderived = 0;
    if (r->law == CLS_LAW_POWER) {
        r->nparams = r->nraw = 2;
        strcpy(r->param_names[0], "A");
        strcpy(r->param_names[1], "alpha");
        return;
    }
    r->nparams = r->nraw = 1 + 2 * k;
    strcpy(r->param_names[0], "E");
    if (r->law == CLS_LAW_SATURATING) {
        strcpy(r->param_names[1], "A");
        strcpy(r->param_names[2], "alpha");
    } else if (r->law == CLS_LAW_CHINCHILLA) {
        strcpy(r->param_names[1], "A");
        strcpy(r->param_names[2], "B");
        strcpy(r->param_names[3], "alpha");
        strcpy(r->param_names[4], "beta");
        r->nderived = 3;
        strcpy(r->derived_names[0], "a");
        strcpy(r->derived_names[1], "b");
        strcpy(r->derived_names[2], "G");
    } else {
        for (int j = 0; j < k; j++) {
            snprintf(r->param_names[1 + j], CLS_FIT_NAME_LEN, "A%d", j + 1);
            snprintf(r->param_names[1 + k + j], CLS_FIT_NAME_LEN, "alpha%d", j + 1);
        }
    }
}

void cls_fit_chinchilla_allocation(const double *raw, double *a, double *b, double *G)
{
    double al = raw[3], be = raw[4], s = al + be;
    if (!(al > 0 && be > 0)) {
        *a = *b = *G = NAN;
        return;
    }
    *a = be / s;
    *b = al / s;
    *G = exp((log(al) + raw[1] - log(be) - raw[2]) / s);
}

void fit_raw_to_quantities(cls_law law, int nvars, const double *raw, double *params,
                           double *derived)
{
    if (law == CLS_LAW_POWER) {
        params[0] = pow(10.0, raw[0]);
        params[1] = raw[1];
        return;
    }
    params[0] = exp(raw[0]);
    for (int j = 0; j < nvars; j++) {
        params[1 + j] = exp(raw[1 + j]);
        params[1 + nvars + j] = raw[1 + nvars + j];
    }
    if (law == CLS_LAW_CHINCHILLA && derived)
        cls_fit_chinchilla_allocation(raw, &derived[0], &derived[1], &derived[2]);
}

double cls_fit_predict_raw(cls_law law, int nvars, const double *raw, const double *x)
{
    if (law == CLS_LAW_POWER) return pow(10.0, raw[0]) * pow(x[0], -raw[1]);
    double t[CLS_FIT_MAX_VARS + 1], m;
    t[0] = m = raw[0];
    for (int j = 0; j < nvars; j++) {
        t[j + 1] = raw[1 + j] - raw[1 + nvars + j] * log(x[j]);
        if (t[j + 1] > m) m = t[j + 1];
    }
    double s = 0;
    for (int j = 0; j <= nvars; j++) s += exp(t[j] - m);
    return exp(m + log(s));
}

double cls_fit_predict(const cls_fit_result *fit, const double *x)
{
    return cls_fit_predict_raw(fit->law, fit->nvars, fit->raw, x);
}

/* Weighted least squares of v on u; returns 0 when u is constant. */
static int line_fit(const double *u, const double *v, const double *w, int64_t n, double *icpt,
                    double *slope, double *sse)
{
    double sw = 0, su = 0, sv = 0;
    for (int64_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        sw += wi;
        su += wi * u[i];
        sv += wi * v[i];
    }
    double mu = su / sw, mv = sv / sw, suu = 0, suv = 0;
    for (int64_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        suu += wi * (u[i] - mu) * (u[i] - mu);
        suv += wi * (u[i] - mu) * (v[i] - mv);
    }
    if (!(suu > 0)) return 0;
    *slope = suv / suu;
    *icpt = mv - *slope * mu;
    double e = 0;
    for (int64_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0, d = v[i] - (*icpt + *slope * u[i]);
        e += wi * d * d;
    }
    *sse = e;
    return 1;
}

/* The binned frontier in log10 space: [min u, max u + 0.1] in `bins` equal
 * bins, the lowest v of each; the non-empty bins' centres and minima are
 * packed to the front of cu, cv. Returns their count. */
static int64_t bin_frontier_log(const double *u, const double *v, int64_t m, int bins, double *cu, double *cv)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < m; i++) {
        if (u[i] < lo) lo = u[i];
        if (u[i] > hi) hi = u[i];
    }
    hi += 0.1;
    double width = (hi - lo) / bins;
    for (int b = 0; b < bins; b++) cv[b] = INFINITY;
    for (int64_t i = 0; i < m; i++) {
        int b = (int)floor((u[i] - lo) / width);
        if (b < 0) b = 0;
        if (b >= bins) b = bins - 1;
        if (v[i] < cv[b]) cv[b] = v[i];
    }
    int64_t used = 0;
    for (int b = 0; b < bins; b++)
        if (isfinite(cv[b])) {
            cu[used] = lo + (b + 0.5) * width;
            cv[used] = cv[b];
            used++;
        }
    return used;
}

cls_status cls_fit_binned_frontier(const double *x, const double *y, int64_t n, int bins, double *bin_x,
                                   double *bin_y, int64_t *count)
{
    if (!x || !y || !bin_x || !bin_y || !count)
        return cls_set_error(CLS_E_INVALID_ARG, "binned frontier: NULL argument");
    if (n < 1 || bins < 1)
        return cls_set_error(CLS_E_INVALID_ARG, "binned frontier: n = %lld, bins = %d (both must be >= 1)",
                             (long long)n, bins);
    double *u = malloc(sizeof(double) * (size_t)n * 2);
    if (!u) return cls_set_error(CLS_E_NOMEM, "binned frontier: out of memory");
    double *v = u + n;
    for (int64_t i = 0; i < n; i++) {
        if (!(x[i] > 0) || !(y[i] > 0) || !isfinite(x[i]) || !isfinite(y[i])) {
            free(u);
            return cls_set_error(CLS_E_INVALID_ARG, "binned frontier: point %lld (%g, %g) is not positive and finite",
                                 (long long)i, x[i], y[i]);
        }
        u[i] = log10(x[i]);
        v[i] = log10(y[i]);
    }
    int64_t used = bin_frontier_log(u, v, n, bins, bin_x, bin_y);
    for (int64_t b = 0; b < used; b++) {
        bin_x[b] = pow(10.0, bin_x[b]);
        bin_y[b] = pow(10.0, bin_y[b]);
    }
    free(u);
    *count = used;
    return CLS_OK;
}

int fit_power(const double *x, const double *y, const double *w, int64_t n, int binned, int bins,
              double raw[2], double *objective, int64_t *npoints)
{
    double *u = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1) * 3);
    if (!u) {
        cls_set_error(CLS_E_NOMEM, "power fit: out of memory");
        return 0;
    }
    double *v = u + n, *ww = v + n;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (w && w[i] == 0.0) continue;
        u[m] = log10(x[i]);
        v[m] = log10(y[i]);
        ww[m] = w ? w[i] : 1.0;
        m++;
    }
    int ok = 1, too_few = 0;
    double icpt = 0, slope = 0, sse = 0;
    int64_t used = m;
    if (binned) {
        /* Cherti et al.: the bin centres against the lowest log y in each */
        double *cu = malloc(sizeof(double) * (size_t)bins * 2);
        if (!cu) {
            free(u);
            cls_set_error(CLS_E_NOMEM, "power fit: out of memory");
            return 0;
        }
        double *cv = cu + bins;
        used = bin_frontier_log(u, v, m, bins, cu, cv);
        if (used < 3) {
            cls_set_error(CLS_E_INVALID_ARG,
                          "too few points: the binned power law needs at least 3 non-empty bins, "
                          "got %lld", (long long)used);
            ok = 0;
            too_few = 1;
        } else {
            ok = line_fit(cu, cv, NULL, used, &icpt, &slope, &sse);
        }
        free(cu);
    } else if (m < 3) {
        cls_set_error(CLS_E_INVALID_ARG,
                      "too few points: the power law (2 parameters) needs at least 3, got %lld",
                      (long long)m);
        ok = 0;
        too_few = 1;
    } else {
        ok = line_fit(u, v, ww, m, &icpt, &slope, &sse);
    }
    free(u);
    if (ok && !(isfinite(icpt) && isfinite(slope))) {
        cls_set_error(CLS_E_NUMERIC, "power fit: the least-squares line is not finite");
        return 0;
    }
    if (!ok) {
        if (!too_few) cls_set_error(CLS_E_NUMERIC, "power fit: all x values are equal");
        return 0;
    }
    raw[0] = icpt;
    raw[1] = -slope;
    *objective = sse;
    *npoints = used;
    return 1;
}

/* Percentile of the finite values (NaN when none, or when the copy cannot be
 * allocated): the shared implementation in src/core/stats.c. */
double fit_percentile(const double *v, int64_t n, double q)
{
    double r = NAN;
    if (cls_stats_percentile(v, n, q, &r) != CLS_OK) return NAN;
    return r;
}

void fit_intervals(cls_fit_result *r)
{
    int nq = r->nparams + r->nderived;
    for (int q = 0; q < nq; q++) r->ci80[q][0] = r->ci80[q][1] = r->ci95[q][0] = r->ci95[q][1] = NAN;
    if (!r->boot_raw || r->bootstrap <= 0) return;
    int64_t B = r->bootstrap;
    double *vals = malloc(sizeof(double) * (size_t)B * (size_t)nq);
    if (!vals) return;
    for (int64_t b = 0; b < B; b++) {
        double p[CLS_FIT_MAX_PARAMS], d[CLS_FIT_MAX_DERIVED] = {NAN, NAN, NAN};
        const double *raw = r->boot_raw + b * r->nraw;
        int finite = 1;
        for (int i = 0; i < r->nraw; i++) finite &= isfinite(raw[i]);
        if (finite) fit_raw_to_quantities(r->law, r->nvars, raw, p, d);
        for (int q = 0; q < nq; q++)
            vals[(size_t)q * B + b] = !finite ? NAN : (q < r->nparams ? p[q] : d[q - r->nparams]);
    }
    for (int q = 0; q < nq; q++) {
        const double *v = vals + (size_t)q * B;
        r->ci80[q][0] = fit_percentile(v, B, 10.0);
        r->ci80[q][1] = fit_percentile(v, B, 90.0);
        r->ci95[q][0] = fit_percentile(v, B, 2.5);
        r->ci95[q][1] = fit_percentile(v, B, 97.5);
    }
    free(vals);
}

void fit_warn(cls_fit_result *r, unsigned flag, const char *fmt, ...)
{
    r->warning_flags |= flag;
    if (r->nwarnings >= CLS_FIT_MAX_WARNINGS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->warnings[r->nwarnings], sizeof r->warnings[0], fmt, ap);
    va_end(ap);
    r->nwarnings++;
}
