/* bench/bench_nn_bf16.c: the encoders' Linear products in bf16 against fp32.
 * For mlp W=1024 (and the cnn c=32, whose convolutions stay fp32) times a
 * cached forward and a backward of `rows` rows on two models with the same
 * weights, one fp32 and one with cls_model_set_precision(bf16), in paired,
 * interleaved runs; prints the medians (process CPU seconds and wall
 * seconds) and the fp32/bf16 ratios (> 1: bf16 faster).
 * Usage: bench_nn_bf16 [reps=7] [threads=1] [rows=1024] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "clscale.h"
#include "clscale/nn.h"
#include "clscale/sys.h"

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return v[n / 2];
}

#define MAXREP 64

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 7, threads = argc > 2 ? atoi(argv[2]) : 1;
    int64_t n = argc > 3 ? atoll(argv[3]) : 1024;
    if (reps < 1 || reps > MAXREP || n < 1) {
        fprintf(stderr, "usage: bench_nn_bf16 [reps 1..64] [threads] [rows]\n");
        return 2;
    }
    printf("model rows threads fwd_cpu_fp32 fwd_cpu_bf16 fwd_ratio bwd_cpu_fp32 bwd_cpu_bf16 bwd_ratio "
           "step_wall_fp32 step_wall_bf16 wall_ratio\n");
    for (int kind = 0; kind < 2; kind++) {
        cls_model_config c;
        cls_model_config_init(&c, (cls_model_kind)kind);
        cls_model *m[2] = {NULL, NULL};
        cls_model_cache *ca[2] = {NULL, NULL};
        const int64_t rows = kind ? (n < 256 ? n : 256) : n; /* cnn: fewer images */
        for (int p = 0; p < 2; p++)
            if (cls_model_create(&m[p], &c) || cls_model_set_precision(m[p], (cls_precision)p) ||
                cls_model_cache_create(&ca[p], m[p], rows)) {
                fprintf(stderr, "bench_nn_bf16: %s\n", cls_last_error());
                return 1;
            }
        int64_t in = cls_model_in_dim(m[0]), d = cls_model_out_dim(m[0]);
        float *x = malloc((size_t)(rows * in) * sizeof(float)), *dz = malloc((size_t)(rows * d) * sizeof(float));
        cls_rng r;
        cls_rng_seed(&r, 1);
        for (int64_t i = 0; i < rows * in; i++) x[i] = (float)cls_rng_uniform(&r);
        for (int64_t i = 0; i < rows * d; i++) dz[i] = (float)(cls_rng_uniform(&r) - 0.5) * 1e-3f;
        double tf[2][MAXREP], tb[2][MAXREP], tw[2][MAXREP];
        for (int rep = -1; rep < reps; rep++) /* rep -1: warm-up */
            for (int p = 0; p < 2; p++) {
                double w0 = cls_now_seconds(), c0 = cpu_now();
                cls_model_zero_grad(m[p]);
                int bad = cls_model_forward(m[p], x, rows, NULL, NULL, ca[p], threads) != CLS_OK;
                double c1 = cpu_now();
                bad |= cls_model_backward(m[p], ca[p], dz, NULL, rows, threads) != CLS_OK;
                double c2 = cpu_now(), w1 = cls_now_seconds();
                if (bad) {
                    fprintf(stderr, "bench_nn_bf16: %s\n", cls_last_error());
                    return 1;
                }
                if (rep < 0) continue;
                tf[p][rep] = c1 - c0;
                tb[p][rep] = c2 - c1;
                tw[p][rep] = w1 - w0;
            }
        double f0 = median(tf[0], reps), f1 = median(tf[1], reps), b0 = median(tb[0], reps),
               b1 = median(tb[1], reps), w0 = median(tw[0], reps), w1 = median(tw[1], reps);
        printf("%s %lld %d %.4f %.4f %.2f %.4f %.4f %.2f %.4f %.4f %.2f\n", cls_model_kind_name(c.kind),
               (long long)rows, threads, f0, f1, f0 / f1, b0, b1, b0 / b1, w0, w1, w0 / w1);
        free(x);
        free(dz);
        for (int p = 0; p < 2; p++) {
            cls_model_cache_free(ca[p]);
            cls_model_free(m[p]);
        }
    }
    return 0;
}
