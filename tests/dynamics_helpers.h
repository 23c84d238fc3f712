/* Helpers shared by test_dynamics.c and test_dynamics_slow.c: run the ODE or
 * SGD for the spec's K = p = 1 setting and summarise cos over seeds. */
#ifndef CLS_TEST_DYNAMICS_HELPERS_H
#define CLS_TEST_DYNAMICS_HELPERS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "clscale.h"

/* The spec's reference setting: tau 0.5, mu 1, c = +-sqrt(2), given (eps, rho). */
static inline cls_dynamics_model spec_model(double eps, double rho)
{
    cls_dynamics_model m;
    cls_dynamics_model_init(&m);
    m.eps = eps, m.rho = rho;
    return m;
}

/* ODE cos and r at t = i * every, i < n_rec (K = p = 1). */
static inline cls_status ode_run(const cls_dynamics_model *m, int nodes, double q0, double r0, double T, double dt,
                                 double every, double *cos_out, double *r_out)
{
    int n = cls_dynamics_n_records(T, every);
    double *Q = malloc(sizeof(double) * n), *R = malloc(sizeof(double) * n);
    cls_dynamics_ode *ode = NULL;
    cls_status st = cls_dynamics_ode_create(&ode, m, nodes);
    if (!st) st = cls_dynamics_ode_integrate(ode, &q0, &r0, T, dt, every, Q, R);
    for (int i = 0; i < n && !st; i++) {
        if (cos_out) cos_out[i] = Q[i] / sqrt(R[i]);
        if (r_out) r_out[i] = R[i];
    }
    cls_dynamics_ode_free(ode);
    free(Q), free(R);
    return st;
}

/* SGD (K = p = 1): per-record seed mean and sample sd of cos (signed, or |cos|
 * with use_abs), and the seed mean of r. */
static inline cls_status sgd_run(const cls_dynamics_model *m, int64_t N, double q0, double r0, double T, double every,
                                 int seeds, int use_abs, double *mean_cos, double *sd_cos, double *mean_r)
{
    int n = cls_dynamics_n_records(T, every);
    double *Q = malloc(sizeof(double) * n * seeds), *R = malloc(sizeof(double) * n * seeds);
    cls_status st = cls_dynamics_sgd_run(m, N, &q0, &r0, T, every, seeds, 1, 0, Q, R, NULL, NULL);
    if (!st) st = cls_dynamics_sgd_summary(m, n, seeds, Q, R, use_abs, mean_cos, sd_cos, mean_r);
    free(Q), free(R);
    return st;
}

#endif
