/* bench/bench_nn.c: threading of the encoders. For mlp (W=1024) and cnn
 * (c=32) at chunks of 256, 512 and 1024 rows, times a cached forward +
 * backward in the two modes of src/nn (batch-parallel tiles with
 * single-threaded products, the default; tiles in sequence with
 * multi-threaded cls_gemm_f32 products) and the default (auto: forward
 * batch-parallel; backward batch-parallel for the cnn, GEMM-parallel for the
 * mlp) and prints samples/s and the ratios batch/gemm and auto/gemm (speed,
 * > 1 = faster than gemm). Medians of paired runs. Usage: bench_nn [reps=3] [threads=0] */
#include <stdio.h>
#include <stdlib.h>

#include "clscale.h"
#include "clscale/sys.h"
#include "nn/nn_internal.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double run(cls_model *m, cls_model_cache *c, const float *x, const float *dz, int64_t n,
                  int threads)
{
    double t0 = cls_now_seconds();
    cls_model_zero_grad(m);
    if (cls_model_forward(m, x, n, NULL, NULL, c, threads) ||
        cls_model_backward(m, c, dz, NULL, n, threads)) {
        fprintf(stderr, "bench_nn: %s\n", cls_last_error());
        exit(1);
    }
    return cls_now_seconds() - t0;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3, threads = argc > 2 ? atoi(argv[2]) : 0;
    const int64_t chunks[] = {256, 512, 1024};
    printf("model chunk threads batch_samples_s gemm_samples_s ratio_batch_over_gemm auto_samples_s ratio_auto_over_gemm\n");
    for (int kind = 0; kind < 2; kind++) {
        cls_model_config cfg;
        cls_model_config_init(&cfg, (cls_model_kind)kind);
        cls_model *m = NULL;
        if (cls_model_create(&m, &cfg)) return 1;
        int64_t D = cls_model_in_dim(m), Z = cls_model_out_dim(m), nmax = 1024;
        float *x = malloc((size_t)(nmax * D) * 4), *dz = malloc((size_t)(nmax * Z) * 4);
        cls_rng rng;
        cls_rng_seed(&rng, 1);
        for (int64_t i = 0; i < nmax * D; i++) x[i] = (float)cls_rng_uniform(&rng);
        for (int64_t i = 0; i < nmax * Z; i++) dz[i] = (float)(cls_rng_uniform(&rng) - 0.5);
        cls_model_cache *c = NULL;
        if (cls_model_cache_create(&c, m, nmax)) return 1;
        for (int k = 0; k < 3; k++) {
            int64_t n = chunks[k];
            double tb[16], tg[16], rt[16], ta[16], ra[16];
            run(m, c, x, dz, n, threads); /* warm-up */
            for (int r = 0; r < reps && r < 16; r++) {
                cls_nn_parallel_mode = CLS_NN_PAR_BATCH;
                tb[r] = run(m, c, x, dz, n, threads);
                cls_nn_parallel_mode = CLS_NN_PAR_GEMM;
                tg[r] = run(m, c, x, dz, n, threads);
                cls_nn_parallel_mode = CLS_NN_PAR_AUTO;
                ta[r] = run(m, c, x, dz, n, threads);
                rt[r] = tg[r] / tb[r];
                ra[r] = tg[r] / ta[r];
            }
            qsort(tb, (size_t)reps, sizeof(double), cmp);
            qsort(tg, (size_t)reps, sizeof(double), cmp);
            qsort(rt, (size_t)reps, sizeof(double), cmp);
            qsort(ta, (size_t)reps, sizeof(double), cmp);
            qsort(ra, (size_t)reps, sizeof(double), cmp);
            printf("%s %lld %d %.0f %.0f %.3f %.0f %.3f\n", cls_model_kind_name((cls_model_kind)kind),
                   (long long)n, cls_threads_resolve(threads), n / tb[reps / 2], n / tg[reps / 2],
                   rt[reps / 2], n / ta[reps / 2], ra[reps / 2]);
            fflush(stdout);
        }
        cls_model_cache_free(c);
        cls_model_free(m);
        free(x), free(dz);
    }
    return 0;
}
