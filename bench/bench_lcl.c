/* lcl benchmark: wall time of the spec's S1 sweep (M = 64..512, d = 8000)
 * and of the full S4 sweep (M = 1024, d = 16000, N = 1e2..1e6, 181
 * horizons), against baselines run in the same process: the dgemm rate of
 * this machine, and iterated GD at M = 1024 (the method the closed form
 * replaces: the S4 horizons add up to ~1e10 GD steps).
 *
 * Both sweeps run with 1 thread and with all cores: on a loaded machine the
 * OpenMP/OpenBLAS spin-waits of the multi-threaded run can cost more than
 * they gain (OMP_WAIT_POLICY=passive avoids that).
 *
 * usage: bench_lcl [repeats of each sweep (default 3)] */
#include "clscale.h"
#include "clscale/sys.h"

#include <cblas.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double sweep_seconds(int sweep, int threads, double *slope, double *lr, int64_t *M)
{
    cls_lcl_sweep_config c;
    cls_lcl_sweep_config_init(&c, sweep);
    c.threads = threads;
    cls_lcl_sweep_result r;
    double t0 = cls_now_seconds();
    if (cls_lcl_sweep_run(&c, &r) != CLS_OK) {
        fprintf(stderr, "bench_lcl: S%d failed: %s\n", sweep, cls_last_error());
        exit(1);
    }
    double t = cls_now_seconds() - t0;
    *slope = r.slope;
    *lr = r.lr;
    *M = r.M;
    cls_lcl_sweep_result_free(&r);
    return t;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    if (reps < 1) reps = 1;
    const int n = 1024;
    double *A = malloc(sizeof(double) * n * n), *B = malloc(sizeof(double) * n * n), *C = malloc(sizeof(double) * n * n);
    cls_rng rng;
    cls_rng_seed(&rng, 1);
    cls_rng_fill_normal_f64(&rng, A, (int64_t)n * n);
    cls_rng_fill_normal_f64(&rng, B, (int64_t)n * n);
    /* baseline: one iterated GD step at M = 1024 is two 1024^3 dgemms */
    double gd[5];
    for (int k = 0; k < 5; k++) {
        double t0 = cls_now_seconds();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, C, n, B, n, 0.0, A, n);
        gd[k] = cls_now_seconds() - t0;
    }
    qsort(gd, 5, sizeof gd[0], cmp);
    double step = gd[2], gflops = 4.0 * n * (double)n * n / step * 1e-9;
    printf("baseline: dgemm %.1f GFLOP/s; one iterated GD step at M = 1024: %.4f s (median of 5)\n", gflops, step);

    double *t1 = malloc(sizeof(double) * (size_t)reps), s1 = 0, lr = 0, s4 = 0;
    int64_t M = 0;
    const int tlist[2] = {1, 0};
    double t4best = 0;
    for (int q = 0; q < 2; q++) {
        int threads = tlist[q], nth = cls_threads_resolve(threads);
        for (int k = 0; k < reps; k++) t1[k] = sweep_seconds(1, threads, &s1, &lr, &M);
        qsort(t1, (size_t)reps, sizeof t1[0], cmp);
        printf("S1 sweep (M = 64..512, d = 8000, 7 sketches), %d thread(s): median %.2f s of %d (min %.2f, max %.2f); slope %.4f\n",
               nth, t1[reps / 2], reps, t1[0], t1[reps - 1], s1);
        for (int k = 0; k < reps; k++) t1[k] = sweep_seconds(4, threads, &s4, &lr, &M);
        qsort(t1, (size_t)reps, sizeof t1[0], cmp);
        printf("S4 sweep (M = 1024, d = 16000, 17 N in 1e2..1e6, 181 horizons), %d thread(s): median %.2f s of %d (min %.2f, max %.2f); slope %.4f\n",
               nth, t1[reps / 2], reps, t1[0], t1[reps - 1], s4);
        if (q == 0 || t1[reps / 2] < t4best) t4best = t1[reps / 2];
    }
    /* GD steps the closed form stands in for: sum over the 181 horizons of t/lr */
    double total_steps = 0;
    for (int k = 0; k < 181; k++) {
        double L = (double)llround(pow(10.0, 9.0 * k / 180.0) / lr);
        total_steps += L < 1 ? 1 : L;
    }
    printf("S4 (best median %.2f s) = %.0f iterated GD steps at M = 1024 (%.4f s each); iterating the %.3g steps of\n"
           "  the 181 horizons would take %.3g s: closed form / iteration ratio %.3g x (for each of the 17 N)\n",
           t4best, t4best / step, step, total_steps, total_steps * step, total_steps * step / t4best);
    free(A);
    free(B);
    free(C);
    free(t1);
    return 0;
}
