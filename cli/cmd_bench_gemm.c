/* clscale bench gemm: this machine's GEMM peaks through the GEMM layer
 * (oneDNN and OpenBLAS, fp32 and bf16 inputs) at the shapes that matter here
 * (4096x4096x512, one call on all threads; 512^3 products, one per thread as
 * the loss's tiles run), and register-only multiply-add loops as the
 * arithmetic ceiling. Ratios to the fp32 FMA loop are printed alongside. */
#include "cli.h"
#include "cmd_bench_gemm.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clscale/gemm.h"

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double bench_gemm_rate(const char *backend, int bf16, int64_t m, int64_t n, int64_t k, int tiles, int threads,
                       int repeats)
{
    if (cls_gemm_set_backend(backend) != CLS_OK) return 0.0;
    const int copies = tiles ? threads : 1;
    const size_t sa = (size_t)(m * k), sb = (size_t)(n * k), sc = (size_t)(m * n);
    float *fa = malloc(sa * copies * sizeof(float)), *fb = malloc(sb * copies * sizeof(float));
    float *c = malloc(sc * copies * sizeof(float));
    cls_bf16 *ha = malloc(sa * copies * sizeof(cls_bf16)), *hb = malloc(sb * copies * sizeof(cls_bf16));
    double *rates = malloc((size_t)repeats * sizeof(double));
    double result = 0.0;
    if (!fa || !fb || !c || !ha || !hb || !rates) goto done;
    cls_rng rng;
    cls_rng_seed(&rng, 7);
    cls_rng_fill_normal_f32(&rng, fa, (int64_t)(sa * copies));
    cls_rng_fill_normal_f32(&rng, fb, (int64_t)(sb * copies));
    cls_bf16_from_f32(ha, fa, (int64_t)(sa * copies));
    cls_bf16_from_f32(hb, fb, (int64_t)(sb * copies));
    cls_thread_state saved; /* BLAS and the OpenMP default on `threads`, restored below */
    cls_threads_enter(threads, &saved);
    int ok = 1;
    for (int r = -1; r < repeats; r++) { /* r = -1: warm-up (JIT, caches) */
        double t0 = cls_now_seconds();
        if (tiles) {
#pragma omp parallel num_threads(threads) reduction(&& : ok)
            {
                size_t t = (size_t)omp_get_thread_num();
                ok = ok && (bf16 ? cls_gemm_bf16(CLS_NO_TRANS, CLS_TRANS, m, n, k, 1.0f, ha + t * sa, k, hb + t * sb, k,
                                                 0.0f, c + t * sc, n)
                                 : cls_gemm_f32(CLS_NO_TRANS, CLS_TRANS, m, n, k, 1.0f, fa + t * sa, k, fb + t * sb, k,
                                                0.0f, c + t * sc, n)) == CLS_OK;
            }
        } else {
            ok = ok && (bf16 ? cls_gemm_bf16(CLS_NO_TRANS, CLS_TRANS, m, n, k, 1.0f, ha, k, hb, k, 0.0f, c, n)
                             : cls_gemm_f32(CLS_NO_TRANS, CLS_TRANS, m, n, k, 1.0f, fa, k, fb, k, 0.0f, c, n)) ==
                              CLS_OK;
        }
        double t = cls_now_seconds() - t0;
        if (r >= 0) rates[r] = 2.0 * (double)m * (double)n * (double)k * copies / t * 1e-9;
    }
    cls_threads_leave(&saved);
    if (ok) result = bench_median(rates, repeats);
done:
    cls_gemm_set_backend(NULL);
    free(fa);
    free(fb);
    free(c);
    free(ha);
    free(hb);
    free(rates);
    return result;
}

/* The widest vector this build's instruction set has (a portable x86-64 build
 * has 128-bit SSE only): the register loop measures what this build can reach. */
#if defined(__AVX512F__)
#define VEC_LANES 16
#elif defined(__AVX__)
#define VEC_LANES 8
#else
#define VEC_LANES 4
#endif
typedef float vf16 __attribute__((vector_size(4 * VEC_LANES)));

#define FMA_CHAINS 12 /* independent accumulators: covers FMA latency x 2 ports */
#define FMA_ITERS 4000000L

/* fp32 FMA on registers only: FMA_CHAINS independent chains acc = acc * x + y,
 * named variables tied to registers by empty asm statements (an array would
 * live in memory). */
#define CHAIN_VARS(T, init)                                                                     \
    T a0 = init(0), a1 = init(1), a2 = init(2), a3 = init(3), a4 = init(4), a5 = init(5),       \
      a6 = init(6), a7 = init(7), a8 = init(8), a9 = init(9), a10 = init(10), a11 = init(11)
#define CHAIN_APPLY(OP) OP(a0); OP(a1); OP(a2); OP(a3); OP(a4); OP(a5); OP(a6); OP(a7); OP(a8); OP(a9); OP(a10); OP(a11)
#define CHAIN_PIN()                                                                              \
    __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5));           \
    __asm__ volatile("" : "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11))

static double fma_loop_gflops(int threads)
{
    double t0 = cls_now_seconds();
    float sink = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
        volatile float xv = 0.999999f, yv = 1e-7f;
        vf16 x = {0}, y = {0};
        x += xv;
        y += yv;
#define FINIT(c) (x * (float)((c) + 1))
        CHAIN_VARS(vf16, FINIT);
#define FSTEP(v) v = v * x + y
        for (long it = 0; it < FMA_ITERS; it++) {
            CHAIN_APPLY(FSTEP);
            CHAIN_PIN();
        }
        vf16 t = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
        for (int l = 0; l < VEC_LANES; l++) sink += t[l];
    }
    double t = cls_now_seconds() - t0;
    if (sink == 12345.678f) fputs("", stderr); /* keep the result alive */
    return 2.0 * VEC_LANES * FMA_CHAINS * (double)FMA_ITERS * threads / t * 1e-9;
}

double bench_fma_peak(int threads, int repeats)
{
    double *v = malloc((size_t)repeats * sizeof(double));
    if (!v) return 0.0;
    fma_loop_gflops(threads);
    for (int r = 0; r < repeats; r++) v[r] = fma_loop_gflops(threads);
    double m = bench_median(v, repeats);
    free(v);
    return m;
}

#if defined(__AVX512BF16__)
#include <immintrin.h>
static double dpbf16_loop_gflops(int threads)
{
    double t0 = cls_now_seconds();
    float sink = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
        volatile float xv = 0.5f;
        __m512bh x = _mm512_cvtne2ps_pbh(_mm512_set1_ps(xv), _mm512_set1_ps(xv));
#define BINIT(c) _mm512_set1_ps((float)(c))
        CHAIN_VARS(__m512, BINIT);
#define BSTEP(v) v = _mm512_dpbf16_ps(v, x, x)
        for (long it = 0; it < FMA_ITERS; it++) {
            CHAIN_APPLY(BSTEP);
            CHAIN_PIN();
        }
        float s = _mm512_reduce_add_ps(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
        sink += s;
    }
    double t = cls_now_seconds() - t0;
    if (sink == 12345.678f) fputs("", stderr);
    /* 16 fp32 lanes, each a 2-term bf16 dot product: 4 FLOPs */
    return 4.0 * 16.0 * FMA_CHAINS * (double)FMA_ITERS * threads / t * 1e-9;
}
#endif

double bench_dpbf16_peak(int threads, int repeats)
{
#if defined(__AVX512BF16__)
    double *v = malloc((size_t)repeats * sizeof(double));
    if (!v) return 0.0;
    dpbf16_loop_gflops(threads);
    for (int r = 0; r < repeats; r++) v[r] = dpbf16_loop_gflops(threads);
    double m = bench_median(v, repeats);
    free(v);
    return m;
#else
    (void)threads;
    (void)repeats;
    return 0.0;
#endif
}

int bench_peaks_measure(bench_peak *out, int max, int threads, int repeats)
{
    static const struct {
        const char *name, *backend;
        int bf16;
        int64_t m, n, k;
        int tiles;
    } cfg[] = {
        {"onednn_f32", "onednn", 0, 4096, 4096, 512, 0},   {"openblas_f32", "openblas", 0, 4096, 4096, 512, 0},
        {"onednn_bf16", "onednn", 1, 4096, 4096, 512, 0},  {"onednn_f32_tiles", "onednn", 0, 512, 512, 512, 1},
        {"openblas_f32_tiles", "openblas", 0, 512, 512, 512, 1}, {"onednn_bf16_tiles", "onednn", 1, 512, 512, 512, 1},
    };
    int n = 0;
    for (size_t q = 0; q < sizeof cfg / sizeof cfg[0] && n < max; q++) {
        bench_peak p = {cfg[q].name, cfg[q].m, cfg[q].n, cfg[q].k, cfg[q].tiles, 0.0};
        p.gflops = bench_gemm_rate(cfg[q].backend, cfg[q].bf16, cfg[q].m, cfg[q].n, cfg[q].k, cfg[q].tiles, threads,
                                   repeats);
        out[n++] = p;
    }
    if (n < max) out[n++] = (bench_peak){"fma_f32", 0, 0, 0, 0, bench_fma_peak(threads, repeats)};
    if (n < max) out[n++] = (bench_peak){"dpbf16", 0, 0, 0, 0, bench_dpbf16_peak(threads, repeats)};
    return n;
}

static void usage(FILE *out)
{
    fputs("usage: clscale bench gemm [options]\n\n"
          "Measures GEMM rates through the GEMM layer: oneDNN and OpenBLAS, fp32 and bf16\n"
          "inputs (fp32 accumulation), at 4096x4096x512 (one call on all threads) and\n"
          "512x512x512 (one product per thread at once, as the loss's tiles run), and\n"
          "register-only fp32 FMA / bf16 dot-product loops as the arithmetic ceiling.\n"
          "Each figure is the median of --repeats timed runs after a warm-up.\n\n"
          "options:\n"
          "  --threads T    threads, 0 = all cores (default 0)\n"
          "  --repeats R    timed runs of each, the median is reported (default 5)\n"
          "  --json         print one JSON object: backend, threads, and GFLOP/s per entry\n"
          "  -h, --help     this help\n",
          out);
}

static void usage_stdout(void) { usage(stdout); }

int cmd_bench_gemm(int argc, char **argv)
{
    int threads = 0, repeats = 5, json = 0;
    const cli_option opts[] = {
        CLI_INT("threads", &threads, 0, INFINITY),
        CLI_INT("repeats", &repeats, 1, 1000),
        CLI_FLAG("json", &json),
        CLI_END};
    int first, rc = cli_parse_options("bench gemm", opts, argc, argv, usage_stdout, &first);
    if (rc == CLI_HELP) return CLI_OK;
    if (rc) return rc;
    if (first < argc) return cli_usage_error("bench gemm", "unexpected argument '%s'", argv[first]);
    const int nt = cls_threads_resolve(threads);
    bench_peak peaks[8];
    int np = bench_peaks_measure(peaks, 8, nt, repeats);
    double fma = 0.0;
    for (int q = 0; q < np; q++)
        if (strcmp(peaks[q].name, "fma_f32") == 0) fma = peaks[q].gflops;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "backend", cls_gemm_backend());
        cJSON_AddNumberToObject(o, "threads", nt);
        cJSON_AddNumberToObject(o, "repeats", repeats);
        cJSON *g = cJSON_AddObjectToObject(o, "gflops");
        for (int q = 0; q < np; q++) cJSON_AddNumberToObject(g, peaks[q].name, peaks[q].gflops);
        cli_json_print(o);
        return CLI_OK;
    }
    printf("GEMM peaks, %d threads, median of %d (automatic backend: %s)\n", nt, repeats, cls_gemm_backend());
    printf("  %-20s %-16s %10s %10s\n", "what", "shape", "GFLOP/s", "/ fma_f32");
    for (int q = 0; q < np; q++) {
        char shape[48];
        if (peaks[q].m)
            snprintf(shape, sizeof shape, "%lldx%lldx%lld%s", (long long)peaks[q].m, (long long)peaks[q].n,
                     (long long)peaks[q].k, peaks[q].tiles ? "/thr" : "");
        else
            snprintf(shape, sizeof shape, "registers");
        if (peaks[q].gflops > 0)
            printf("  %-20s %-16s %10.1f %10.3f\n", peaks[q].name, shape, peaks[q].gflops,
                   fma > 0 ? peaks[q].gflops / fma : 0.0);
        else
            printf("  %-20s %-16s %10s\n", peaks[q].name, shape, "n/a");
    }
    return CLI_OK;
}
