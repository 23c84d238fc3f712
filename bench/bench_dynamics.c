/* Benchmark of the dynamics simulator, each figure next to a baseline run in
 * the same process:
 *  - one SGD trajectory (K = p = 1, N = 2000) against drawing the same Gaussian
 *    numbers alone (cls_rng_fill_normal_f64): the ratio is the SGD's cost over
 *    its irreducible random-number cost;
 *  - one ODE right-hand side (K = 1, 40 x 40 Gauss-Hermite, 2 c values) against
 *    a plain loop over the same number of tanh calls.
 * Medians of 5 repetitions. Usage: bench_dynamics [N] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "clscale.h"
#include "clscale/sys.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median5(double *v)
{
    qsort(v, 5, sizeof *v, cmp);
    return v[2];
}

static volatile double sink;

int main(int argc, char **argv)
{
    int64_t N = argc > 1 ? atoll(argv[1]) : 2000;
    const double T = 2.0;
    const int64_t steps = (int64_t)llround(T * N);
    printf("bench_dynamics: N = %lld, %lld SGD steps (t = %g), 1 thread, medians of 5\n", (long long)N,
           (long long)steps, T);
    double *buf = malloc(sizeof(double) * 3 * N);
    const double eps_list[2] = {0.0, 0.7};
    for (int e = 0; e < 2; e++) {
        cls_dynamics_model m;
        cls_dynamics_model_init(&m);
        m.eps = eps_list[e];
        const int vectors = e ? 3 : 1; /* x, then xi(1) and xi' with noise */
        double ts[5], tb[5], Q[2], R[2], q0 = 0.1, r0 = 1.0;
        for (int rep = 0; rep < 5; rep++) {
            double t0 = cls_now_seconds();
            cls_status st = cls_dynamics_sgd_run(&m, N, &q0, &r0, T, T, 1, rep, 1, Q, R, NULL, NULL);
            ts[rep] = cls_now_seconds() - t0;
            if (st) {
                fprintf(stderr, "bench_dynamics: %s\n", cls_last_error());
                return 1;
            }
            cls_rng rng;
            cls_rng_seed(&rng, rep);
            t0 = cls_now_seconds();
            for (int64_t s = 0; s < steps; s++) cls_rng_fill_normal_f64(&rng, buf, vectors * N);
            tb[rep] = cls_now_seconds() - t0;
            sink = buf[0];
        }
        double a = median5(ts), b = median5(tb);
        printf("SGD eps = %.1f: %.3f s (%.2f us/step, %.2f ns per coordinate); baseline %d x N normals/step: %.3f s; "
               "ratio %.2f\n",
               m.eps, a, 1e6 * a / steps, 1e9 * a / steps / N, vectors, b, a / b);
    }
    free(buf);

    cls_dynamics_model m;
    cls_dynamics_model_init(&m);
    m.eps = 0.7;
    cls_dynamics_ode *ode;
    if (cls_dynamics_ode_create(&ode, &m, 0)) {
        fprintf(stderr, "bench_dynamics: %s\n", cls_last_error());
        return 1;
    }
    const int64_t pts = cls_dynamics_ode_points(ode), reps = 200;
    double tr[5], tt[5], q = 0.3, r = 0.5, dq, dr;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = cls_now_seconds();
        for (int i = 0; i < reps; i++) cls_dynamics_ode_rhs(ode, &q, &r, &dq, &dr);
        tr[rep] = (cls_now_seconds() - t0) / reps;
        t0 = cls_now_seconds();
        double acc = 0.0;
        for (int i = 0; i < reps; i++)
            for (int64_t k = 0; k < 2 * 2 * pts; k++) acc += tanh(1e-4 * (double)k - 0.5 + 1e-7 * i);
        sink = acc;
        tt[rep] = (cls_now_seconds() - t0) / reps;
    }
    double a = median5(tr), b = median5(tt);
    printf("ODE rhs (K = 1, eps 0.7, %lld points x 2 c values): %.1f us; baseline %lld tanh calls: %.1f us; ratio %.2f\n",
           (long long)pts, 1e6 * a, (long long)(4 * pts), 1e6 * b, a / b);
    cls_dynamics_ode_free(ode);
    return 0;
}
