/* Fixed points of the K = 1 ODE: the uninformative point (q = 0, r_u), its
 * growth rate and the learnability threshold m2_c; the informative point by
 * Newton's method with Jacobian eigenvalues; the p = 2 basin map. */
#include "dynamics_internal.h"
#include "../../core/internal.h"

#include <math.h>
#include <string.h>

/* Centred-Gaussian moments at the uninformative point, by their own 2-D
 * Gauss-Hermite sum in (s, d) coordinates: h1 = s + d, h2 = s - d. */
static cls_status uninformative_moments(const cls_dynamics_model *m, int nodes, double r, double *S1, double *D0)
{
    double x[400], w[400];
    cls_status st = cls_dynamics_gauss_hermite(nodes, x, w);
    if (st) return st;
    const double e2 = m->eps * m->eps;
    const double V = r * (1.0 + e2), C = r * (1.0 + e2 * m->rho);
    const double ss = sqrt(fmax(0.0, 0.5 * (V + C))), sd = sqrt(fmax(0.0, 0.5 * (V - C)));
    double s1 = 0.0, a = 0.0, b = 0.0;
    for (int i = 0; i < nodes; i++)
        for (int j = 0; j < nodes; j++) {
            double wt = w[i] * w[j] / M_PI;
            double s = sqrt(2.0) * ss * x[i], d = sqrt(2.0) * sd * x[j];
            double t1 = tanh(s + d), t2 = tanh(s - d);
            double p1 = 1.0 - t1 * t1, p2 = 1.0 - t2 * t2;
            double pp1 = -2.0 * t1 * p1;
            s1 += wt * (pp1 * t2 + p1 * p2);
            a += wt * p1 * p1 * t2 * t2;
            b += wt * t1 * p1 * t2 * p2;
        }
    *S1 = s1;
    *D0 = 2.0 * (1.0 + e2) * a + 2.0 * (1.0 + e2 * m->rho) * b;
    return CLS_OK;
}

cls_status cls_dynamics_threshold_compute(const cls_dynamics_model *model, int nodes, cls_dynamics_threshold *out)
{
    cls_status st = cls_dynamics_model_check(model);
    if (st) return st;
    if (!out) return cls_set_error(CLS_E_INVALID_ARG, "threshold: out is NULL");
    if (model->K != 1)
        return cls_set_error(CLS_E_UNSUPPORTED, "the threshold is computed for K = 1 (got K = %d)", model->K);
    if (nodes == 0) nodes = CLS_DYNAMICS_NODES_DEFAULT;
    /* at q = 0 the fields do not see c: one feature with any law will do */
    cls_dynamics_model m1 = *model;
    m1.p = 1;
    cls_dynamics_ode *ode = NULL;
    if ((st = cls_dynamics_ode_create(&ode, &m1, nodes))) return st;
    double q = 0.0, dq, lo = 1e-6, hi = 10.0, flo, fhi, f;
    if ((st = cls_dynamics_ode_rhs(ode, &q, &lo, &dq, &flo)) || (st = cls_dynamics_ode_rhs(ode, &q, &hi, &dq, &fhi))) goto done;
    if (!(flo > 0.0 && fhi < 0.0)) {
        st = cls_set_error(CLS_E_NUMERIC, "dr/dt at q = 0 does not change sign on [1e-6, 10] (%g, %g): "
                                          "no non-trivial uninformative point", flo, fhi);
        goto done;
    }
    for (int it = 0; it < 200 && hi - lo > 1e-14 * hi; it++) {
        double mid = 0.5 * (lo + hi);
        if ((st = cls_dynamics_ode_rhs(ode, &q, &mid, &dq, &f))) goto done;
        if (f > 0.0) lo = mid;
        else hi = mid;
    }
    cls_dynamics_threshold t;
    memset(&t, 0, sizeof t);
    t.r_u = 0.5 * (lo + hi);
    if ((st = uninformative_moments(model, nodes, t.r_u, &t.S1, &t.D0))) goto done;
    if (!(t.S1 > 0.0)) {
        st = cls_set_error(CLS_E_NUMERIC, "S1 = %g <= 0 at r_u = %g: the threshold formula does not apply", t.S1, t.r_u);
        goto done;
    }
    t.m2_c = 1.0 + model->tau * t.D0 / (4.0 * t.r_u * t.S1);
    for (int j = 0; j < model->p; j++) {
        double m2 = cls_dynamics_law_moment(&model->law[j], 2);
        t.growth_rate[j] = model->tau * (2.0 * (m2 - 1.0) * t.S1 - model->tau * t.D0 / (2.0 * t.r_u));
    }
    *out = t;
done:
    cls_dynamics_ode_free(ode);
    return st;
}

/* 2x2 Jacobian of (dq/dt, dr/dt) by central differences, and its eigenvalues. */
static cls_status jacobian(cls_dynamics_ode *ode, double q, double r, cls_dynamics_fixed_point *fp)
{
    double y[2] = {q, r}, J[4];
    for (int c = 0; c < 2; c++) {
        double h = 1e-5 * fmax(1.0, fabs(y[c])), yp[2] = {y[0], y[1]}, ym[2] = {y[0], y[1]};
        yp[c] += h, ym[c] -= h;
        double fp_[2], fm[2];
        cls_status st = cls_dynamics_ode_rhs(ode, &yp[0], &yp[1], &fp_[0], &fp_[1]);
        if (!st) st = cls_dynamics_ode_rhs(ode, &ym[0], &ym[1], &fm[0], &fm[1]);
        if (st) return st;
        J[0 * 2 + c] = (fp_[0] - fm[0]) / (2 * h);
        J[1 * 2 + c] = (fp_[1] - fm[1]) / (2 * h);
    }
    memcpy(fp->jacobian, J, sizeof J);
    double tr = J[0] + J[3], det = J[0] * J[3] - J[1] * J[2], disc = 0.25 * tr * tr - det;
    if (disc >= 0.0) {
        double s = sqrt(disc);
        /* the larger one first */
        fp->eig_re[0] = 0.5 * tr + s, fp->eig_re[1] = 0.5 * tr - s;
        fp->eig_im[0] = fp->eig_im[1] = 0.0;
    } else {
        fp->eig_re[0] = fp->eig_re[1] = 0.5 * tr;
        fp->eig_im[0] = sqrt(-disc), fp->eig_im[1] = -sqrt(-disc);
    }
    fp->stable = fp->eig_re[0] < 0.0 && fp->eig_re[1] < 0.0;
    return CLS_OK;
}

/* Newton on F(q, r) = 0 with the finite-difference Jacobian. */
static cls_status newton(cls_dynamics_ode *ode, double *q, double *r, int *converged)
{
    *converged = 0;
    for (int it = 0; it < 60; it++) {
        double f[2];
        cls_status st = cls_dynamics_ode_rhs(ode, q, r, &f[0], &f[1]);
        if (st) return st;
        if (fabs(f[0]) + fabs(f[1]) < 1e-12) {
            *converged = 1;
            return CLS_OK;
        }
        cls_dynamics_fixed_point tmp;
        if ((st = jacobian(ode, *q, *r, &tmp))) return st;
        const double *J = tmp.jacobian;
        double det = J[0] * J[3] - J[1] * J[2];
        if (!(fabs(det) > 1e-300)) return CLS_OK;
        double dq = (J[3] * f[0] - J[1] * f[1]) / det, dr = (-J[2] * f[0] + J[0] * f[1]) / det;
        *q -= dq, *r -= dr;
        if (!(*r > 0.0) || !isfinite(*q) || *r < (*q) * (*q)) return CLS_OK;
    }
    return CLS_OK;
}

cls_status cls_dynamics_fixed_points(const cls_dynamics_model *model, int nodes, double q0, double r0,
                                cls_dynamics_fixed_point *uninformative, cls_dynamics_fixed_point *informative)
{
    cls_status st = cls_dynamics_model_check(model);
    if (st) return st;
    if (!uninformative || !informative) return cls_set_error(CLS_E_INVALID_ARG, "fixed points: NULL output");
    if (model->K != 1 || model->p != 1)
        return cls_set_error(CLS_E_UNSUPPORTED, "fixed points are computed for K = p = 1 (got K = %d, p = %d)",
                             model->K, model->p);
    cls_dynamics_threshold th;
    if ((st = cls_dynamics_threshold_compute(model, nodes, &th))) return st;
    cls_dynamics_ode *ode = NULL;
    if ((st = cls_dynamics_ode_create(&ode, model, nodes))) return st;
    cls_dynamics_fixed_point u = {0}, inf = {0};
    u.q = 0.0, u.r = th.r_u, u.found = 1;
    if ((st = jacobian(ode, u.q, u.r, &u))) goto done;
    /* the informative point: follow the ODE for a long time, then polish */
    {
        double Q0 = q0, R0 = r0, Qo[2], Ro[2];
        if ((st = cls_dynamics_ode_integrate(ode, &Q0, &R0, 200.0, 0.05, 200.0, Qo, Ro))) goto done;
        double q = fabs(Qo[1]), r = Ro[1];
        if (q < 1e-3) q = 0.9 * sqrt(r), r = r; /* not learned from here: try an informed guess */
        int conv = 0;
        if ((st = newton(ode, &q, &r, &conv))) goto done;
        if (conv && fabs(q) > 1e-6) {
            inf.q = fabs(q), inf.r = r, inf.found = 1;
            if ((st = jacobian(ode, inf.q, inf.r, &inf))) goto done;
        }
    }
    *uninformative = u;
    *informative = inf;
done:
    cls_dynamics_ode_free(ode);
    return st;
}

cls_status cls_dynamics_basins(const cls_dynamics_model *model, int nodes, double q_norm, double r0, int n_theta,
                          double theta_max, double T, double dt, double *theta_out, int *winner_out,
                          double *cos_out)
{
    cls_status st = cls_dynamics_model_check(model);
    if (st) return st;
    if (model->K != 1 || model->p != 2)
        return cls_set_error(CLS_E_UNSUPPORTED, "the basin map needs K = 1 and p = 2 (got K = %d, p = %d)",
                             model->K, model->p);
    if (!theta_out || !winner_out || !cos_out) return cls_set_error(CLS_E_INVALID_ARG, "basins: NULL output");
    if (n_theta < 2) return cls_set_error(CLS_E_INVALID_ARG, "basins: n_theta = %d must be >= 2", n_theta);
    if (!(theta_max > 0.0 && theta_max <= M_PI / 2 + 1e-12))
        return cls_set_error(CLS_E_INVALID_ARG, "basins: theta_max = %g must be in (0, pi/2]", theta_max);
    if (!(T > 0.0) || !isfinite(T)) return cls_set_error(CLS_E_INVALID_ARG, "basins: T = %g must be > 0", T);
    cls_dynamics_ode *ode = NULL;
    if ((st = cls_dynamics_ode_create(&ode, model, nodes))) return st;
    double *th = cls_alloc(sizeof(double) * n_theta, "basins"), *cs = cls_alloc(sizeof(double) * 2 * n_theta, "basins");
    int *win = cls_alloc(sizeof(int) * n_theta, "basins");
    if (!th || !cs || !win) {
        st = CLS_E_NOMEM;
        goto done;
    }
    for (int i = 0; i < n_theta; i++) {
        double t = theta_max * i / (n_theta - 1);
        double Q0[2] = {q_norm * cos(t), q_norm * sin(t)}, R0 = r0, Qo[4], Ro[2], c[2];
        if ((st = cls_dynamics_ode_integrate(ode, Q0, &R0, T, dt, T, Qo, Ro))) goto done;
        cls_dynamics_cosines(2, 1, Qo + 2, Ro + 1, c);
        c[0] = fabs(c[0]), c[1] = fabs(c[1]);
        int j = c[1] > c[0];
        th[i] = t;
        cs[2 * i] = c[0], cs[2 * i + 1] = c[1];
        win[i] = (c[j] >= 0.5 && c[j] - c[1 - j] >= 0.1) ? j : -1;
    }
    memcpy(theta_out, th, sizeof(double) * n_theta);
    memcpy(cos_out, cs, sizeof(double) * 2 * n_theta);
    memcpy(winner_out, win, sizeof(int) * n_theta);
done:
    cls_free(th), cls_free(cs), cls_free(win);
    cls_dynamics_ode_free(ode);
    return st;
}
