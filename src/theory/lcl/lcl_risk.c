/* Risk of GD on the sketched surrogate: exact expected terms in mode P, the
 * per-draw decomposition averaged over datasets in mode E, the Monte Carlo
 * check by iterated GD, the horizon curves used by the sweeps, and the plain
 * log-log exponent fit. */
#include "lcl_internal.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

void cls_lcl_config_init(cls_lcl_config *c)
{
    if (!c) return; /* NULL is a no-op, like every _init */
    memset(c, 0, sizeof *c);
    c->mode = CLS_LCL_MODE_P;
    c->N = 1000;
    c->draws = 16;
    c->sampler = CLS_LCL_SAMPLER_AUTO;
    c->seed = 1;
}

/* ---- mode E: one dataset, many schedules -------------------------------- */

enum { EW_G1H, EW_G2H, EW_CH, EW_Q1, EW_Q2, EW_XI, EW_XT, EW_WT, EW_P1, EW_P2, EW_XB, EW_XV,
       EW_T, EW_YB, EW_YV, EW_COUNT };

/* Per-draw decomposition: W_L - W* = Q1^[(phi^ - 1) o W~*]Q2^T + Q1^[f^ o Xi~]Q2^T
 * with Xi = C^ - G1^ W* G2^; terms measured in the population metric
 * 1/2 ||G1^(1/2) D G2^(1/2)||^2 = 1/2 <X, P1 X P2>, P_v = Q^_v^T G_v Q^_v. */
static cls_status e_draw(const cls_lcl_model *m, int64_t N, cls_lcl_sampler sampler, cls_rng *rng,
                         int ns, const cls_lcl_schedule *sch, double *bias, double *var,
                         double *cross, double *kmax, cls_lcl_sampler *used)
{
    const int64_t M = m->M;
    const size_t MM = (size_t)M * (size_t)M;
    double *buf = cls_alloc(MM * EW_COUNT * sizeof(double) + 2 * (size_t)M * sizeof(double), "mode-E workspace");
    if (!buf) return CLS_E_NOMEM;
    double *w[EW_COUNT];
    for (int k = 0; k < EW_COUNT; k++) w[k] = buf + (size_t)k * MM;
    double *e1 = buf + MM * EW_COUNT, *e2 = e1 + M;
    cls_status st = cls_lcl_sample_moments(m, N, sampler, rng, w[EW_G1H], w[EW_G2H], w[EW_CH], used);
    if (st) goto done;
    if ((st = cls_lcl_eig(M, w[EW_G1H], w[EW_Q1], e1))) goto done;
    if ((st = cls_lcl_eig(M, w[EW_G2H], w[EW_Q2], e2))) goto done;
    *kmax = e1[M - 1] * e2[M - 1];
    double t1 = cls_lcl_eig_tol(M, e1), t2 = cls_lcl_eig_tol(M, e2);
    /* Xi = C^ - G1^ W* G2^ */
    cls_lcl_mm(M, 0, w[EW_G1H], 0, m->Wstar, w[EW_T]);
    memcpy(w[EW_XI], w[EW_CH], MM * sizeof(double));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)M, (int)M, -1.0, w[EW_T], (int)M,
                w[EW_G2H], (int)M, 1.0, w[EW_XI], (int)M);
    /* rotate Xi, W*, G1, G2 into the eigenbases of G1^, G2^ */
    cls_lcl_mm(M, 0, w[EW_XI], 0, w[EW_Q2], w[EW_T]);
    cls_lcl_mm(M, 1, w[EW_Q1], 0, w[EW_T], w[EW_XT]);
    cls_lcl_mm(M, 0, m->Wstar, 0, w[EW_Q2], w[EW_T]);
    cls_lcl_mm(M, 1, w[EW_Q1], 0, w[EW_T], w[EW_WT]);
    cls_lcl_mm(M, 0, m->G1, 0, w[EW_Q1], w[EW_T]);
    cls_lcl_mm(M, 1, w[EW_Q1], 0, w[EW_T], w[EW_P1]);
    cls_lcl_mm(M, 0, m->G2, 0, w[EW_Q2], w[EW_T]);
    cls_lcl_mm(M, 1, w[EW_Q2], 0, w[EW_T], w[EW_P2]);
    for (int s = 0; s < ns; s++) {
        double *Xb = w[EW_XB], *Xv = w[EW_XV];
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < M; j++) {
                double k = e1[i] * e2[j];
                int valid = e1[i] > t1 && e2[j] > t2;
                double f = cls_lcl_schedule_f(&sch[s], k, valid);
                double phi = sch[s].infinite ? (valid ? 1.0 : 0.0) : cls_lcl_schedule_phi(&sch[s], k);
                Xb[i * M + j] = (phi - 1.0) * w[EW_WT][i * M + j];
                Xv[i * M + j] = f * w[EW_XT][i * M + j];
            }
        cls_lcl_mm(M, 0, w[EW_P1], 0, Xb, w[EW_T]);
        cls_lcl_mm(M, 0, w[EW_T], 0, w[EW_P2], w[EW_YB]);
        cls_lcl_mm(M, 0, w[EW_P1], 0, Xv, w[EW_T]);
        cls_lcl_mm(M, 0, w[EW_T], 0, w[EW_P2], w[EW_YV]);
        double b = 0.0, v = 0.0, c = 0.0;
        for (size_t q = 0; q < MM; q++) {
            b += Xb[q] * w[EW_YB][q];
            v += Xv[q] * w[EW_YV][q];
            c += Xv[q] * w[EW_YB][q];
        }
        bias[s] = 0.5 * b;
        var[s] = 0.5 * v;
        cross[s] = c;
    }
done:
    cls_free(buf);
    return st;
}

/* Run `draws` datasets in parallel (stream = first_stream + draw), each
 * evaluating ns schedules; per-draw results in [draw * ns + s]. */
static cls_status e_draws(const cls_lcl_model *m, int64_t N, cls_lcl_sampler sampler, uint64_t seed,
                          int threads, int64_t draws, int ns, const cls_lcl_schedule *sch,
                          double *bias, double *var, double *cross, double *kmax_max,
                          cls_lcl_sampler *used)
{
    cls_worker_error err = {CLS_OK, {0}};
    double *kmax = cls_alloc((size_t)draws * sizeof(double), "kappa max");
    if (!kmax) return CLS_E_NOMEM;
    int nt = cls_threads_resolve(threads);
    cls_thread_state saved;
    cls_threads_enter(draws > 1 ? 1 : threads, &saved);
    cls_lcl_sampler u = sampler;
#pragma omp parallel for num_threads(nt) schedule(dynamic) if (draws > 1)
    for (int64_t r = 0; r < draws; r++) {
        cls_rng rng;
        cls_rng_seed_stream(&rng, seed, (uint64_t)r);
        cls_lcl_sampler ur = sampler;
        cls_status st = e_draw(m, N, sampler, &rng, ns, sch, bias + r * ns, var + r * ns, cross + r * ns,
                               &kmax[r], &ur);
        cls_worker_fail(&err, st);
        if (r == 0) u = ur;
    }
    cls_threads_leave(&saved);
    cls_status st = cls_worker_report(&err);
    if (st == CLS_OK) {
        double km = kmax[0];
        for (int64_t r = 1; r < draws; r++) km = kmax[r] > km ? kmax[r] : km;
        *kmax_max = km;
        if (used) *used = u;
    }
    cls_free(kmax);
    return st;
}

/* ---- Monte Carlo: iterated GD on simulated datasets --------------------- */

static cls_status mc_run(const cls_lcl_model *m, const cls_lcl_config *c, cls_rng *rng, double *excess,
                         cls_lcl_sampler *used)
{
    const int64_t M = m->M;
    const size_t MM = (size_t)M * (size_t)M;
    double *buf = cls_alloc(4 * MM * sizeof(double), "Monte Carlo workspace");
    if (!buf) return CLS_E_NOMEM;
    double *G1h = buf, *G2h = buf + MM, *Ch = buf + 2 * MM, *W = buf + 3 * MM;
    int e = c->mode == CLS_LCL_MODE_E;
    cls_status st = cls_lcl_sample_moments(m, c->N, c->sampler, rng, e ? G1h : NULL, e ? G2h : NULL, Ch, used);
    if (st == CLS_OK)
        st = cls_lcl_gd_iterate(M, e ? G1h : m->G1, e ? G2h : m->G2, Ch, &c->schedule, W);
    if (st == CLS_OK) {
        double r;
        st = cls_lcl_population_risk(m, W, &r);
        *excess = r + 0.5 * m->sum_rho2;
    }
    cls_free(buf);
    return st;
}

static cls_status monte_carlo(const cls_lcl_model *m, const cls_lcl_config *c, cls_lcl_result *out)
{
    const int64_t K = c->monte_carlo;
    double *x = cls_alloc((size_t)K * sizeof(double), "Monte Carlo results");
    if (!x) return CLS_E_NOMEM;
    cls_worker_error err = {CLS_OK, {0}};
    int nt = cls_threads_resolve(c->threads);
    cls_thread_state saved;
    cls_threads_enter(1, &saved);
    cls_lcl_sampler used = c->sampler;
    /* Streams 2^32 + r: disjoint from the mode-E draws of the same seed. */
#pragma omp parallel for num_threads(nt) schedule(dynamic)
    for (int64_t r = 0; r < K; r++) {
        cls_rng rng;
        cls_rng_seed_stream(&rng, c->seed, (UINT64_C(1) << 32) + (uint64_t)r);
        cls_lcl_sampler u;
        cls_status st = mc_run(m, c, &rng, &x[r], &u);
        cls_worker_fail(&err, st);
        if (r == 0) used = u;
    }
    cls_threads_leave(&saved);
    cls_status st = cls_worker_report(&err);
    if (st == CLS_OK) {
        cls_stats_mean_se(x, K, &out->mc_excess, &out->mc_se);
        out->mc_runs = K;
        out->sampler_used = used;
    }
    cls_free(x);
    return st;
}

/* ---- one point ----------------------------------------------------------- */

static cls_status config_check(const cls_lcl_model *m, const cls_lcl_config *c)
{
    if (!m || !c) return cls_set_error(CLS_E_INVALID_ARG, "lcl_risk: NULL argument");
    if (c->mode != CLS_LCL_MODE_P && c->mode != CLS_LCL_MODE_E)
        return cls_set_error(CLS_E_INVALID_ARG, "lcl: unknown negative mode %d", (int)c->mode);
    if (c->N < 0) return cls_set_error(CLS_E_INVALID_ARG, "lcl: N = %lld must be >= 1 (0 = infinite)", (long long)c->N);
    if (c->mode == CLS_LCL_MODE_E && c->N == 0)
        return cls_set_error(CLS_E_INVALID_ARG, "lcl: mode E needs a finite sample count N");
    if (c->mode == CLS_LCL_MODE_E && c->draws < 1)
        return cls_set_error(CLS_E_INVALID_ARG, "lcl: mode E needs draws >= 1 (got %lld)", (long long)c->draws);
    if (c->monte_carlo < 0) return cls_set_error(CLS_E_INVALID_ARG, "lcl: monte_carlo = %lld must be >= 0", (long long)c->monte_carlo);
    if (c->monte_carlo > 0 && c->N == 0)
        return cls_set_error(CLS_E_INVALID_ARG, "lcl: the Monte Carlo check needs a finite N");
    if (c->monte_carlo > 0 && c->schedule.infinite)
        return cls_set_error(CLS_E_INVALID_ARG, "lcl: the Monte Carlo check iterates GD and needs a finite number of steps");
    if (c->sampler == CLS_LCL_SAMPLER_WISHART && c->N > 0 && c->N < 2 * m->M && (c->mode == CLS_LCL_MODE_E || c->monte_carlo > 0))
        return cls_set_error(CLS_E_INVALID_ARG, "lcl: Wishart sampling needs N >= 2M = %lld (got N = %lld)",
                             (long long)(2 * m->M), (long long)c->N);
    const cls_lcl_schedule *s = &c->schedule;
    if (c->monte_carlo > 0 && !s->infinite) {
        /* iterated GD costs 4 M^3 flops a step: refuse what would run for days */
        double steps = 0.0;
        for (int k = 0; k < s->nseg && s->steps; k++) steps += (double)s->steps[k];
        double flops = 4.0 * (double)m->M * (double)m->M * (double)m->M * steps * (double)c->monte_carlo;
        if (flops > 1e15)
            return cls_set_error(CLS_E_INVALID_ARG, "lcl: the Monte Carlo check would iterate %.3g GD steps of M = %lld "
                                 "(%.3g flops); reduce the steps or the number of datasets",
                                 steps * (double)c->monte_carlo, (long long)m->M, flops);
    }
    if (!s->infinite) {
        if (s->nseg < 1 || !s->steps || !s->lr) return cls_set_error(CLS_E_INVALID_ARG, "lcl: the step schedule is empty");
        for (int k = 0; k < s->nseg; k++) {
            if (s->steps[k] < 0)
                return cls_set_error(CLS_E_INVALID_ARG, "lcl: schedule segment %d has %lld steps", k, (long long)s->steps[k]);
            if (!(s->lr[k] > 0) || !isfinite(s->lr[k]))
                return cls_set_error(CLS_E_INVALID_ARG, "lcl: step size %g must be > 0", s->lr[k]);
        }
    }
    return CLS_OK;
}

static void warn_unstable(const cls_lcl_schedule *s, double kmax, const char *what, cls_lcl_result *r)
{
    if (s->infinite) return;
    double bound = 2.0 / kmax;
    for (int k = 0; k < s->nseg; k++)
        if (s->steps[k] > 0 && s->lr[k] >= bound) {
            cls_lcl_warn(r, "step size %g is unstable: GD diverges for steps >= 2/(lambda_max lambda_max) = %.6g (%s)",
                         s->lr[k], bound, what);
            return;
        }
}

cls_status cls_lcl_risk(const cls_lcl_model *m, const cls_lcl_config *c, cls_lcl_result *out)
{
    cls_status st = config_check(m, c);
    if (st) return st;
    if (!out) return cls_set_error(CLS_E_INVALID_ARG, "lcl_risk: result pointer is NULL");
    const int64_t M = m->M;
    const cls_lcl_schedule *s = &c->schedule;
    cls_lcl_result r;
    memset(&r, 0, sizeof r);
    r.R_star = -0.5 * m->sum_rho2;
    r.approx = m->approx;
    r.t = cls_lcl_schedule_horizon(s);
    r.lr = s->infinite ? 0.0 : s->lr[0];
    r.D_M = cls_lcl_model_dim(m, r.t);
    double kpop = m->L1[M - 1] * m->L2[M - 1];
    r.lr_bound = 2.0 / kpop;
    r.sampler_used = c->sampler;

    if (c->mode == CLS_LCL_MODE_P) {
        warn_unstable(s, kpop, "population G", &r);
        double b = 0.0, v = 0.0;
        /* pairs with a numerically zero eigenvalue are outside the range: not learnable, in A */
        for (int64_t i = m->i0; i < M; i++)
            for (int64_t j = m->j0; j < M; j++) {
                double k = m->L1[i] * m->L2[j];
                double ct2 = m->Ct[i * M + j] * m->Ct[i * M + j];
                double phi = cls_lcl_schedule_phi(s, k);
                b += (1.0 - phi) * (1.0 - phi) * ct2 / k;
                v += phi * phi * (k + ct2) / k;
            }
        r.bias = 0.5 * b;
        r.variance = c->N > 0 ? v / (2.0 * (double)c->N) : 0.0;
        r.cross = 0.0;
    } else {
        int64_t D = c->draws;
        double *t = cls_alloc(3 * (size_t)D * sizeof(double), "mode-E terms");
        if (!t) return CLS_E_NOMEM;
        double kmax = 0.0;
        st = e_draws(m, c->N, c->sampler, c->seed, c->threads, D, 1, s, t, t + D, t + 2 * D, &kmax, &r.sampler_used);
        if (st) {
            cls_free(t);
            return st;
        }
        double *ex = cls_alloc((size_t)D * sizeof(double), "mode-E excess");
        if (!ex) {
            cls_free(t);
            return CLS_E_NOMEM;
        }
        for (int64_t k = 0; k < D; k++) ex[k] = m->approx + t[k] + t[D + k] + t[2 * D + k];
        cls_stats_mean_se(t, D, &r.bias, &r.bias_se);
        cls_stats_mean_se(t + D, D, &r.variance, &r.variance_se);
        cls_stats_mean_se(t + 2 * D, D, &r.cross, &r.cross_se);
        double exm;
        cls_stats_mean_se(ex, D, &exm, &r.excess_se);
        cls_free(ex);
        cls_free(t);
        r.draws = D;
        warn_unstable(s, kpop, "population G", &r);
        if (r.nwarnings == 0) warn_unstable(s, kmax, "empirical G^ of the worst draw", &r);
        if (r.sampler_used == CLS_LCL_SAMPLER_EXPLICIT && c->sampler == CLS_LCL_SAMPLER_AUTO)
            cls_lcl_warn(&r, "N = %lld < 2M = %lld: Wishart sampling needs N >= 2M; datasets drawn as explicit samples",
                         (long long)c->N, (long long)(2 * M));
    }
    r.excess = r.approx + r.bias + r.variance + r.cross;
    r.risk = r.R_star + r.excess;
    if (!isfinite(r.excess))
        cls_lcl_warn(&r, "GD diverged: the risk terms are not finite (lower the step below the stability bound)");
    if (c->monte_carlo > 0) {
        if ((st = monte_carlo(m, c, &r))) return st;
        if (c->mode == CLS_LCL_MODE_P && c->sampler == CLS_LCL_SAMPLER_AUTO && c->N < 2 * M)
            cls_lcl_warn(&r, "N = %lld < 2M = %lld: Wishart sampling needs N >= 2M; Monte Carlo datasets drawn as explicit samples",
                         (long long)c->N, (long long)(2 * M));
    }
    *out = r;
    return CLS_OK;
}

/* ---- horizon curves ------------------------------------------------------ */

static void constant_schedule(cls_lcl_schedule *s, int64_t *steps, double *lr, double L, double gamma)
{
    memset(s, 0, sizeof *s);
    if (L < 0) {
        s->infinite = 1;
        return;
    }
    *steps = (int64_t)llround(L);
    *lr = gamma;
    s->nseg = 1;
    s->steps = steps;
    s->lr = lr;
}

cls_status cls_lcl_p_curve(const cls_lcl_model *m, double lr, int nt, const double *steps, double *B,
                           double *Vs, double *D, int threads)
{
    if (!m || nt < 1 || !steps) return cls_set_error(CLS_E_INVALID_ARG, "lcl_p_curve: bad arguments");
    if (!(lr > 0) || !isfinite(lr)) return cls_set_error(CLS_E_INVALID_ARG, "lcl_p_curve: step size %g must be > 0", lr);
    const int64_t M = m->M;
    int nth = cls_threads_resolve(threads);
    /* One horizon per iteration: each sum is taken by one thread in a fixed
     * order, so the result does not depend on the thread count. */
#pragma omp parallel for num_threads(nth) schedule(dynamic)
    for (int k = 0; k < nt; k++) {
        cls_lcl_schedule s;
        int64_t n;
        double g;
        constant_schedule(&s, &n, &g, steps[k], lr);
        double b = 0.0, v = 0.0;
        for (int64_t i = m->i0; i < M; i++)
            for (int64_t j = m->j0; j < M; j++) {
                double kap = m->L1[i] * m->L2[j];
                double ct2 = m->Ct[i * M + j] * m->Ct[i * M + j];
                double phi = cls_lcl_schedule_phi(&s, kap);
                b += (1.0 - phi) * (1.0 - phi) * ct2 / kap;
                v += phi * phi * (kap + ct2) / kap;
            }
        if (B) B[k] = 0.5 * b;
        if (Vs) Vs[k] = v;
        if (D) D[k] = cls_lcl_model_dim(m, cls_lcl_schedule_horizon(&s));
    }
    return CLS_OK;
}

cls_status cls_lcl_e_curve(const cls_lcl_model *m, int64_t N, double lr, int nt, const double *steps,
                           int64_t draws, cls_lcl_sampler sampler, uint64_t seed, int threads,
                           double *bias, double *variance, double *cross, double *bias_se,
                           double *variance_se, double *cross_se)
{
    if (!m || nt < 1 || !steps || draws < 1 || N < 1 || !bias || !variance || !cross)
        return cls_set_error(CLS_E_INVALID_ARG, "lcl_e_curve: bad arguments (N >= 1, draws >= 1, nt >= 1)");
    if (!(lr > 0) || !isfinite(lr)) return cls_set_error(CLS_E_INVALID_ARG, "lcl_e_curve: step size %g must be > 0", lr);
    cls_lcl_schedule *sch = cls_alloc((size_t)nt * sizeof *sch, "schedules");
    int64_t *n = cls_alloc((size_t)nt * sizeof *n, "steps");
    double *g = cls_alloc((size_t)nt * sizeof *g, "steps");
    double *t = cls_alloc(3 * (size_t)nt * (size_t)draws * sizeof(double), "mode-E terms");
    double *col = cls_alloc((size_t)draws * sizeof(double), "column");
    cls_status st = CLS_OK;
    if (!sch || !n || !g || !t || !col) {
        st = CLS_E_NOMEM;
        goto done;
    }
    for (int k = 0; k < nt; k++) constant_schedule(&sch[k], &n[k], &g[k], steps[k], lr);
    const size_t P = (size_t)nt * (size_t)draws;
    double kmax;
    st = e_draws(m, N, sampler, seed, threads, draws, nt, sch, t, t + P, t + 2 * P, &kmax, NULL);
    if (st) goto done;
    for (int part = 0; part < 3; part++) {
        double *mean = part == 0 ? bias : part == 1 ? variance : cross;
        double *se = part == 0 ? bias_se : part == 1 ? variance_se : cross_se;
        for (int k = 0; k < nt; k++) {
            for (int64_t r = 0; r < draws; r++) col[r] = t[part * P + (size_t)r * nt + k];
            double sev;
            cls_stats_mean_se(col, draws, &mean[k], &sev);
            if (se) se[k] = sev;
        }
    }
done:
    cls_free(sch);
    cls_free(n);
    cls_free(g);
    cls_free(t);
    cls_free(col);
    return st;
}
