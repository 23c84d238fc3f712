/* NT-Xent and SigLIP forward+backward speed as a ratio of the OpenBLAS sgemm
 * rate measured in the same run on the same thread count.
 *
 *   build/bench/bench_loss_pair [batch] [dim] [threads] [reps]   (defaults 8192 256 0 5)
 *
 * Executed FLOPs: NT-Xent 16 n^2 d (Z = [A; B] has 2n rows; X is symmetric, so
 * only tiles I <= J: forward (2n)^2 d, backward 3(2n)^2 d, + O(n*tile*d)), SigLIP 6 n^2 d (one pass: X, dA, dB).
 * The sgemm baseline multiplies 4096 x d by d x 4096 (a product of the same
 * inner dimension as the tiles) with all requested threads. Medians of reps. */
#include "clscale.h"
#include "clscale/sys.h"
#include "loss/loss_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    const int64_t n = argc > 1 ? atoll(argv[1]) : 8192, d = argc > 2 ? atoll(argv[2]) : 256;
    const int threads = cls_threads_resolve(argc > 3 ? atoi(argv[3]) : 0);
    const int reps = argc > 4 ? atoi(argv[4]) : 5;
    if (n <= 0 || d <= 0 || reps <= 0) {
        fprintf(stderr, "usage: bench_loss_pair [batch] [dim] [threads] [reps]\n");
        return 2;
    }
    const int64_t rss0 = cls_current_rss_bytes();
    float *a = malloc((size_t)(n * d) * sizeof(float)), *b = malloc((size_t)(n * d) * sizeof(float));
    float *ga = malloc((size_t)(n * d) * sizeof(float)), *gb = malloc((size_t)(n * d) * sizeof(float));
    cls_rng rng;
    cls_rng_seed(&rng, 1);
    cls_rng_fill_normal_f32(&rng, a, n * d);
    cls_rng_fill_normal_f32(&rng, b, n * d);
    for (int64_t i = 0; i < 2 * n; i++) { /* unit rows */
        float *x = (i < n ? a : b) + (i % n) * d;
        double ss = 0;
        for (int64_t k = 0; k < d; k++) ss += (double)x[k] * x[k];
        for (int64_t k = 0; k < d; k++) x[k] = (float)(x[k] / sqrt(ss));
    }
    double *t = malloc((size_t)reps * sizeof(double));

    printf("batch %lld dim %lld threads %d reps %d\n", (long long)n, (long long)d, threads, reps);
    double rate[2], sec[2], loss[2];
    cls_loss_options o;
    memset(&o, 0, sizeof o);
    o.logit_scale = 1.0 / 0.07;
    o.bias = -10.0;
    o.threads = threads;
    for (int k = 0; k < 2; k++) {
        cls_loss_result res;
        const char *name = k ? "siglip" : "ntxent";
        const double flops = (k ? 6.0 : 16.0) * (double)n * n * d;
        for (int r = -1; r < reps; r++) {
            double t0 = cls_now_seconds();
            cls_status st = k ? cls_siglip_forward_backward(&res, ga, gb, a, b, n, d, &o)
                              : cls_ntxent_compute(&res, ga, gb, a, b, n, d, &o);
            if (st) {
                fprintf(stderr, "bench_loss_pair: %s: %s\n", name, cls_last_error());
                return 1;
            }
            if (r >= 0) t[r] = cls_now_seconds() - t0;
        }
        sec[k] = median(t, reps);
        rate[k] = flops / sec[k] / 1e9;
        loss[k] = res.loss;
    }
    /* memory before the sgemm baseline allocates its 4096 x 4096 output */
    printf("peak RSS above process start: %.1f MB (inputs + gradients: %.1f MB)\n",
           (double)(cls_peak_rss_bytes() - rss0) / 1e6, 16.0 * (double)n * d / 1e6);
    /* sgemm baseline: all threads, C (4096 x 4096) = X (4096 x d) Y^T */
    const int64_t m = 4096;
    float *X = malloc((size_t)(m * d) * sizeof(float)), *C = malloc((size_t)(m * m) * sizeof(float));
    cls_rng_fill_normal_f32(&rng, X, m * d);
    cls_thread_state prev;
    cls_threads_enter(threads, &prev);
    for (int r = -1; r < reps; r++) {
        double t0 = cls_now_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)m, (int)d, 1.0f, X, (int)d, X, (int)d,
                    0.0f, C, (int)m);
        if (r >= 0) t[r] = cls_now_seconds() - t0;
    }
    cls_threads_leave(&prev);
    const double sgemm = 2.0 * m * m * d / median(t, reps) / 1e9;
    free(X), free(C);

    printf("sgemm (4096 x 4096 x %lld): %.1f GFLOP/s\n", (long long)d, sgemm);
    for (int k = 0; k < 2; k++)
        printf("%s: %.3f s (median), loss %.6f, %.1f GFLOP/s executed, sgemm ratio %.2f\n", k ? "siglip" : "ntxent",
               sec[k], loss[k], rate[k], rate[k] / sgemm);
    free(a), free(b), free(ga), free(gb), free(t);
    return 0;
}
