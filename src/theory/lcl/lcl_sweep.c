/* The spec's sweeps S1..S6: one table of every term per point, the measured
 * log-log slope and the predicted exponent (specs/lcl.md, "Predicted
 * scaling"). The predicted curves are scaled through the data (the theory
 * fixes exponents, not constants). */
#include "lcl_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void cls_lcl_sweep_config_init(cls_lcl_sweep_config *c, int sweep)
{
    if (!c) return; /* NULL is a no-op, like every _init */
    memset(c, 0, sizeof *c);
    c->sweep = sweep;
    cls_lcl_data_init(&c->data);
    c->data.d = 0; /* the sweep's own default */
    c->seed = 1;
    c->data_seed = 1;
}

void cls_lcl_sweep_result_free(cls_lcl_sweep_result *r)
{
    if (!r) return;
    cls_free(r->table);
    r->table = NULL;
}

static void sweep_warn(cls_lcl_sweep_result *r, const char *msg)
{
    if (r->nwarnings < CLS_LCL_MAX_WARNINGS) snprintf(r->warnings[r->nwarnings++], sizeof r->warnings[0], "%s", msg);
}

/* n values log-spaced from 10^lo to 10^hi. */
static double *logspace(double lo, double hi, int n)
{
    double *v = cls_alloc((size_t)n * sizeof(double), "grid");
    if (!v) return NULL;
    for (int k = 0; k < n; k++) v[k] = pow(10.0, n == 1 ? lo : lo + (hi - lo) * k / (n - 1));
    return v;
}

/* The slope of log(pred) on log(x) and the intercept that puts a line of
 * slope p through the centre of the data. */
static double centred_intercept(int n, const double *x, const double *y, double p)
{
    double s = 0.0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (x[i] > 0 && y[i] > 0) {
            s += log(y[i]) - p * log(x[i]);
            k++;
        }
    return k ? s / k : 0.0;
}

#define T(r, c) out->table[(size_t)(r) * (size_t)out->ncols + (size_t)(c)]

static void set_cols(cls_lcl_sweep_result *out, int n, const char *const *names)
{
    out->ncols = n;
    for (int k = 0; k < n; k++) snprintf(out->colnames[k], sizeof out->colnames[0], "%s", names[k]);
}

/* Fit table[ycol] on table[xcol] and fill the predicted column with
 * exp(c) x^p (p = predicted_slope) through the data. */
static cls_status fit_and_predict(cls_lcl_sweep_result *out, int power_pred)
{
    int n = out->npoints;
    double *x = cls_alloc((size_t)n * sizeof(double), "fit"), *y = cls_alloc((size_t)n * sizeof(double), "fit");
    if (!x || !y) {
        cls_free(x);
        cls_free(y);
        return CLS_E_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        x[i] = T(i, out->xcol);
        y[i] = T(i, out->ycol);
    }
    cls_status st = cls_stats_loglog_fit(x, y, NULL, n, &out->slope, &out->intercept, &out->used);
    if (st == CLS_OK && power_pred && out->predcol >= 0) {
        double c = centred_intercept(n, x, y, out->predicted_slope);
        for (int i = 0; i < n; i++) T(i, out->predcol) = exp(c + out->predicted_slope * log(x[i]));
        out->predicted_effective = out->predicted_slope;
    }
    cls_free(x);
    cls_free(y);
    return st;
}

static cls_status sweep_s1_s5(const cls_lcl_sweep_config *c, cls_lcl_data data, cls_lcl_sweep_result *out)
{
    const int s5 = c->sweep == 5;
    double *grid = NULL;
    int n = c->ngrid;
    if (c->grid) {
        grid = cls_alloc((size_t)n * sizeof(double), "grid");
        if (!grid) return CLS_E_NOMEM;
        memcpy(grid, c->grid, (size_t)n * sizeof(double));
    } else {
        /* S1: M = 64..512 by sqrt 2; S5: M = 8..512 */
        n = s5 ? 13 : 7;
        grid = cls_alloc((size_t)n * sizeof(double), "grid");
        if (!grid) return CLS_E_NOMEM;
        for (int k = 0; k < n; k++) grid[k] = round((s5 ? 8.0 : 64.0) * pow(2.0, 0.5 * k));
    }
    const int64_t N = c->N > 0 ? c->N : 100000;
    out->N = s5 ? N : 0;
    static const char *const c1[] = {"M", "approx", "R_star", "predicted"};
    static const char *const c5[] = {"M", "approx", "variance", "excess", "predicted", "N"};
    set_cols(out, s5 ? 6 : 4, s5 ? c5 : c1);
    out->npoints = n;
    out->table = cls_calloc((size_t)n * (size_t)out->ncols, sizeof(double), "sweep table");
    if (!out->table) {
        cls_free(grid);
        return CLS_E_NOMEM;
    }
    cls_status st = CLS_OK;
    int64_t inf_steps = 0;
    double inf_lr = 0;
    cls_lcl_schedule inf = {0, &inf_steps, &inf_lr, 1};
    for (int k = 0; k < n && st == CLS_OK; k++) {
        int64_t M = (int64_t)llround(grid[k]);
        cls_lcl_model *m = NULL;
        /* Same seed for every M: the sketches are nested, so the curve is smooth. */
        st = cls_lcl_model_create(&m, &data, M, c->seed, c->threads);
        if (st) break;
        T(k, 0) = (double)M;
        T(k, 1) = m->approx;
        if (s5) {
            cls_lcl_config cfg;
            cls_lcl_config_init(&cfg);
            cfg.N = N;
            cfg.schedule = inf;
            cfg.threads = c->threads;
            cls_lcl_result r;
            st = cls_lcl_risk(m, &cfg, &r);
            if (st == CLS_OK) {
                T(k, 2) = r.variance;
                T(k, 3) = r.excess;
                T(k, 5) = (double)N;
            }
        } else {
            T(k, 2) = -0.5 * m->sum_rho2;
        }
        out->M = M;
        cls_lcl_model_free(m);
    }
    cls_free(grid);
    if (st) return st;
    out->xcol = 0;
    out->ycol = 1;
    double a = data.a2 > 0 && data.a2 < data.a ? data.a2 : data.a;
    out->predicted_slope = -fmin(data.b - 1.0, a);
    snprintf(out->predicted_text, sizeof out->predicted_text, "-min(b-1, a)");
    snprintf(out->x_label, sizeof out->x_label, "sketch size M");
    snprintf(out->y_label, sizeof out->y_label, s5 ? "approximation error A (S5)" : "approximation error A");
    out->predcol = s5 ? 4 : 3;
    if (!s5) return fit_and_predict(out, 1);
    /* S5: fit A(M), then predicted risk = c M^-min(b-1,a) + M^2/(2N). */
    out->predcol = -1;
    if ((st = fit_and_predict(out, 1))) return st;
    double *x = cls_alloc((size_t)n * sizeof(double), "x"), *y = cls_alloc((size_t)n * sizeof(double), "y");
    if (!x || !y) {
        cls_free(x);
        cls_free(y);
        return CLS_E_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        x[i] = T(i, 0);
        y[i] = T(i, 1);
    }
    double ca = centred_intercept(n, x, y, out->predicted_slope);
    cls_free(x);
    cls_free(y);
    out->predcol = 4;
    out->predicted_effective = out->predicted_slope;
    double best = INFINITY, bestp = INFINITY;
    for (int i = 0; i < n; i++) {
        double M = T(i, 0);
        T(i, 4) = exp(ca) * pow(M, out->predicted_slope) + M * M / (2.0 * (double)N);
        if (T(i, 3) < best) {
            best = T(i, 3);
            out->x_opt = M;
        }
    }
    /* continuous argmin of the predicted form over the grid's range */
    for (double M = T(0, 0); M <= T(n - 1, 0); M *= 1.01) {
        double v = exp(ca) * pow(M, out->predicted_slope) + M * M / (2.0 * (double)N);
        if (v < bestp) {
            bestp = v;
            out->x_opt_predicted = M;
        }
    }
    return CLS_OK;
}

static cls_status sweep_s2_s3(const cls_lcl_sweep_config *c, cls_lcl_data data, cls_lcl_sweep_result *out)
{
    const int s3 = c->sweep == 3;
    const int64_t M = c->M > 0 ? c->M : 512;
    cls_lcl_model *m = NULL;
    cls_status st = cls_lcl_model_create(&m, &data, M, c->seed, c->threads);
    if (st) return st;
    double lr = c->lr > 0 ? c->lr : cls_lcl_model_default_lr(m);
    int n = c->grid ? c->ngrid : 33;
    double *t = c->grid ? NULL : logspace(1.0, 5.0, 33); /* t = 10..1e5, 8 per decade */
    double *steps = cls_alloc((size_t)n * sizeof(double), "steps");
    double *B = cls_alloc((size_t)n * sizeof(double), "B"), *Vs = cls_alloc((size_t)n * sizeof(double), "Vs");
    double *D = cls_alloc((size_t)n * sizeof(double), "D");
    static const char *const c2[] = {"t", "steps", "bias", "predicted"};
    static const char *const c3[] = {"t", "steps", "variance_2N", "D_M", "predicted"};
    if ((!c->grid && !t) || !steps || !B || !Vs || !D) {
        st = CLS_E_NOMEM;
        goto done;
    }
    const double *tg = c->grid ? c->grid : t;
    for (int k = 0; k < n; k++) {
        double L = round(tg[k] / lr);
        steps[k] = L < 1 ? 1 : L;
    }
    if ((st = cls_lcl_p_curve(m, lr, n, steps, B, Vs, D, c->threads))) goto done;
    set_cols(out, s3 ? 5 : 4, s3 ? c3 : c2);
    out->npoints = n;
    out->table = cls_calloc((size_t)n * (size_t)out->ncols, sizeof(double), "sweep table");
    if (!out->table) {
        st = CLS_E_NOMEM;
        goto done;
    }
    for (int k = 0; k < n; k++) {
        T(k, 0) = steps[k] * lr;
        T(k, 1) = steps[k];
        T(k, 2) = s3 ? Vs[k] : B[k];
        if (s3) T(k, 3) = D[k];
    }
    out->M = M;
    out->lr = lr;
    out->xcol = 0;
    out->ycol = 2;
    snprintf(out->x_label, sizeof out->x_label, "horizon t");
    if (!s3) {
        out->predcol = 3;
        out->predicted_slope = -(data.b - 1.0) / (2.0 * data.a);
        snprintf(out->predicted_text, sizeof out->predicted_text, "-(b-1)/(2a)");
        snprintf(out->y_label, sizeof out->y_label, "GD bias B (N = inf)");
        st = fit_and_predict(out, 1);
    } else {
        /* 2N V tracks D_M(t): the predicted curve is D_M itself and the
         * predicted slope is the fitted slope of D_M on the same grid. */
        out->predcol = 4;
        double *x = cls_alloc((size_t)n * sizeof(double), "x");
        if (!x) {
            st = CLS_E_NOMEM;
            goto done;
        }
        for (int k = 0; k < n; k++) x[k] = T(k, 0);
        st = cls_stats_loglog_fit(x, D, NULL, n, &out->predicted_slope, NULL, NULL);
        cls_free(x);
        if (st) goto done;
        out->predicted_effective = out->predicted_slope;
        snprintf(out->predicted_text, sizeof out->predicted_text, "slope of D_M(t)");
        snprintf(out->y_label, sizeof out->y_label, "2N x GD variance");
        out->predcol = -1;
        if ((st = fit_and_predict(out, 0))) goto done;
        out->predcol = 4;
        for (int k = 0; k < n; k++) T(k, 4) = D[k];
    }
done:
    cls_lcl_model_free(m);
    cls_free(t);
    cls_free(steps);
    cls_free(B);
    cls_free(Vs);
    cls_free(D);
    return st;
}

static cls_status sweep_s4_s6(const cls_lcl_sweep_config *c, cls_lcl_data data, cls_lcl_sweep_result *out)
{
    const int s6 = c->sweep == 6;
    const int64_t M = c->M > 0 ? c->M : (s6 ? 128 : 1024);
    cls_lcl_model *m = NULL;
    cls_status st = cls_lcl_model_create(&m, &data, M, c->seed, c->threads);
    if (st) return st;
    double lr = c->lr > 0 ? c->lr : cls_lcl_model_default_lr(m);
    const int n = c->grid ? c->ngrid : (s6 ? 10 : 17);
    const int nt = c->t_grid ? c->nt : (s6 ? 41 : 181);
    double *Ng = c->grid ? NULL : logspace(2.0, s6 ? 5.0 : 6.0, n);
    double *tg = c->t_grid ? NULL : logspace(0.0, s6 ? 8.0 : 9.0, nt);
    double *steps = cls_alloc((size_t)nt * sizeof(double), "steps");
    double *B = cls_alloc((size_t)nt * sizeof(double), "B"), *V = cls_alloc((size_t)nt * sizeof(double), "V");
    double *X = cls_alloc((size_t)nt * sizeof(double), "cross"), *Bse = cls_alloc((size_t)nt * sizeof(double), "se");
    double *Vse = cls_alloc((size_t)nt * sizeof(double), "se"), *Xse = cls_alloc((size_t)nt * sizeof(double), "se");
    static const char *const c4[] = {"N", "t_best", "bias", "variance", "bias_plus_variance", "predicted"};
    static const char *const c6[] = {"N", "t_best", "bias", "variance", "cross", "bias_var_cross", "se", "sampler_wishart", "predicted"};
    if ((!c->grid && !Ng) || (!c->t_grid && !tg) || !steps || !B || !V || !X || !Bse || !Vse || !Xse) {
        st = CLS_E_NOMEM;
        goto done;
    }
    const double *Nv = c->grid ? c->grid : Ng;
    const double *tv = c->t_grid ? c->t_grid : tg;
    for (int k = 0; k < nt; k++) {
        double L = round(tv[k] / lr);
        steps[k] = L < 1 ? 1 : L;
    }
    set_cols(out, s6 ? 9 : 6, s6 ? c6 : c4);
    out->npoints = n;
    out->table = cls_calloc((size_t)n * (size_t)out->ncols, sizeof(double), "sweep table");
    if (!out->table) {
        st = CLS_E_NOMEM;
        goto done;
    }
    if (!s6 && (st = cls_lcl_p_curve(m, lr, nt, steps, B, V, NULL, c->threads))) goto done;
    const int64_t draws = c->draws > 0 ? c->draws : 4;
    int fallback = 0;
    for (int i = 0; i < n; i++) {
        int64_t N = (int64_t)llround(Nv[i]);
        if (N < 1) {
            st = cls_set_error(CLS_E_INVALID_ARG, "lcl sweep: N = %g in the grid must be >= 1", Nv[i]);
            goto done;
        }
        int best = 0;
        double bestv = INFINITY;
        if (!s6) {
            for (int k = 0; k < nt; k++) {
                double v = B[k] + V[k] / (2.0 * (double)N);
                if (v < bestv) {
                    bestv = v;
                    best = k;
                }
            }
            T(i, 2) = B[best];
            T(i, 3) = V[best] / (2.0 * (double)N);
            T(i, 4) = bestv;
        } else {
            /* Wishart when N >= 2M, explicit samples below (noted). */
            if (N < 2 * M) fallback = 1;
            st = cls_lcl_e_curve(m, N, lr, nt, steps, draws, CLS_LCL_SAMPLER_AUTO, c->data_seed + (uint64_t)i,
                                 c->threads, B, V, X, Bse, Vse, Xse);
            if (st) goto done;
            for (int k = 0; k < nt; k++) {
                double v = B[k] + V[k] + X[k];
                if (v < bestv) {
                    bestv = v;
                    best = k;
                }
            }
            T(i, 2) = B[best];
            T(i, 3) = V[best];
            T(i, 4) = X[best];
            T(i, 5) = bestv;
            /* se of the sum, treating the three as independent: a bound-level figure */
            T(i, 6) = sqrt(Bse[best] * Bse[best] + Vse[best] * Vse[best] + Xse[best] * Xse[best]);
            T(i, 7) = N >= 2 * M;
        }
        T(i, 0) = (double)N;
        T(i, 1) = steps[best] * lr;
        if (best == 0 || best == nt - 1)
            sweep_warn(out, "the best horizon sits at an end of the horizon grid for some N: widen --t-grid");
    }
    if (fallback)
        sweep_warn(out, "N < 2M for some points: Wishart sampling needs N >= 2M, those datasets were drawn as explicit samples");
    out->M = M;
    out->lr = lr;
    out->xcol = 0;
    out->ycol = s6 ? 5 : 4;
    out->predcol = s6 ? 8 : 5;
    out->predicted_slope = -(data.b - 1.0) / (data.b + 1.0);
    snprintf(out->predicted_text, sizeof out->predicted_text, "-(b-1)/(b+1), curve (N/ln N)^-(b-1)/(b+1)");
    snprintf(out->x_label, sizeof out->x_label, "samples N");
    snprintf(out->y_label, sizeof out->y_label, s6 ? "min_t (B + V + cross), mode E" : "min_t (B + V), mode P");
    {
        /* measured fit, then the log-corrected predicted curve through the data */
        int pc = out->predcol;
        out->predcol = -1;
        if ((st = fit_and_predict(out, 0))) goto done;
        out->predcol = pc;
        double *x = cls_alloc((size_t)n * sizeof(double), "x"), *y = cls_alloc((size_t)n * sizeof(double), "y");
        double *z = cls_alloc((size_t)n * sizeof(double), "z");
        if (!x || !y || !z) {
            cls_free(x);
            cls_free(y);
            cls_free(z);
            st = CLS_E_NOMEM;
            goto done;
        }
        for (int i = 0; i < n; i++) {
            x[i] = T(i, 0) / log(T(i, 0)); /* N / ln N */
            y[i] = T(i, out->ycol);
        }
        double cc = centred_intercept(n, x, y, out->predicted_slope);
        for (int i = 0; i < n; i++) {
            z[i] = exp(cc + out->predicted_slope * log(x[i]));
            x[i] = T(i, 0);
            T(i, pc) = z[i];
        }
        st = cls_stats_loglog_fit(x, z, NULL, n, &out->predicted_effective, NULL, NULL);
        cls_free(x);
        cls_free(y);
        cls_free(z);
    }
done:
    cls_lcl_model_free(m);
    cls_free(Ng);
    cls_free(tg);
    cls_free(steps);
    cls_free(B);
    cls_free(V);
    cls_free(X);
    cls_free(Bse);
    cls_free(Vse);
    cls_free(Xse);
    return st;
}

cls_status cls_lcl_sweep_run(const cls_lcl_sweep_config *c, cls_lcl_sweep_result *out)
{
    if (!c || !out) return cls_set_error(CLS_E_INVALID_ARG, "lcl sweep: NULL argument");
    if (c->sweep < 1 || c->sweep > 6) return cls_set_error(CLS_E_INVALID_ARG, "lcl sweep: unknown sweep S%d (S1..S6)", c->sweep);
    if (c->grid && c->ngrid < 2) return cls_set_error(CLS_E_INVALID_ARG, "lcl sweep: a custom grid needs >= 2 values");
    if (c->t_grid && c->nt < 1) return cls_set_error(CLS_E_INVALID_ARG, "lcl sweep: the horizon grid is empty");
    if (c->grid)
        for (int k = 0; k < c->ngrid; k++)
            if (!(c->grid[k] > 0) || !isfinite(c->grid[k]))
                return cls_set_error(CLS_E_INVALID_ARG, "lcl sweep: grid value %d (%g) must be > 0", k, c->grid[k]);
    if (c->t_grid)
        for (int k = 0; k < c->nt; k++)
            if (!(c->t_grid[k] > 0) || !isfinite(c->t_grid[k]))
                return cls_set_error(CLS_E_INVALID_ARG, "lcl sweep: horizon %d (%g) must be > 0", k, c->t_grid[k]);
    cls_lcl_data data = c->data;
    if (data.d == 0) data.d = c->sweep == 4 ? 16000 : c->sweep == 6 ? 4000 : 8000;
    cls_status st = cls_lcl_data_check(&data);
    if (st) return st;
    cls_lcl_sweep_result r;
    memset(&r, 0, sizeof r);
    r.sweep = c->sweep;
    r.predcol = -1;
    r.d = data.d;
    if (c->sweep == 1 || c->sweep == 5)
        st = sweep_s1_s5(c, data, &r);
    else if (c->sweep == 2 || c->sweep == 3)
        st = sweep_s2_s3(c, data, &r);
    else
        st = sweep_s4_s6(c, data, &r);
    if (st) {
        cls_free(r.table);
        return st;
    }
    *out = r;
    return CLS_OK;
}
