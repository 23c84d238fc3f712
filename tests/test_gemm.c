/* The GEMM layer (src/core/gemm.c) against a float64 naive product: every
 * transpose combination, odd shapes, padded strides, alpha/beta, k = 0, on
 * each backend this build has (forced with cls_gemm_set_backend, which is
 * what CLS_GEMM=openblas|onednn does), the bf16 entry point, argument checks,
 * and the threading rule (inside an active OpenMP region a product runs on
 * the calling thread: no new threads appear even with nesting allowed).
 *
 * Tolerances (per entry, from the standard bound for a k-term dot product):
 *   fp32:  |c - ref| <= (k + 2) * 2^-24 * 2 * (|alpha| sum_l |a_il b_lj| + |beta c0|) + 1e-30
 *   bf16 against the float64 product of the bf16-rounded inputs: the same;
 *   bf16 against the float64 product of the fp32 inputs: plus (2u + u^2) |alpha| sum |a b|,
 *         u = 2^-8 (bf16's relative rounding, 8 significant bits, ties to even). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "clscale.h"
#include "clscale/gemm.h"
#include "clscale/rng.h"

static double frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0;
}

static float *rand_mat(int64_t n, uint64_t *s)
{
    float *x = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) x[i] = (float)frand(s);
    return x;
}

/* element (i, l) of op(X) where X is stored with stride ld */
static double at(const float *x, int64_t ld, int trans, int64_t i, int64_t l)
{
    return trans ? x[l * ld + i] : x[i * ld + l];
}

static int g_case = 0;

static int64_t imax1(int64_t x) { return x > 1 ? x : 1; }

static void check_one(const char *backend, int ta, int tb, int64_t m, int64_t n, int64_t k, int64_t pad, float alpha,
                      float beta, int bf16)
{
    uint64_t s = 1234 + (uint64_t)(m * 1000003 + n * 1009 + k * 7 + ta * 2 + tb);
    int64_t lda = imax1(ta ? m : k) + pad, ldb = imax1(tb ? k : n) + pad, ldc = imax1(n) + pad;
    int64_t ra = ta ? k : m, rb = tb ? n : k;
    float *a = rand_mat(ra * lda, &s), *b = rand_mat(rb * ldb, &s), *c = rand_mat(m * ldc, &s);
    float *c0 = malloc((size_t)(m * ldc > 0 ? m * ldc : 1) * sizeof(float));
    memcpy(c0, c, (size_t)(m * ldc) * sizeof(float));
    cls_status st;
    float *ar = a, *br = b; /* the values actually multiplied (bf16-rounded for bf16) */
    cls_bf16 *ah = NULL, *bh = NULL;
    if (bf16) {
        ah = malloc((size_t)(ra * lda) * sizeof(cls_bf16) + 2);
        bh = malloc((size_t)(rb * ldb) * sizeof(cls_bf16) + 2);
        cls_bf16_from_f32(ah, a, ra * lda);
        cls_bf16_from_f32(bh, b, rb * ldb);
        ar = malloc((size_t)(ra * lda + 1) * sizeof(float));
        br = malloc((size_t)(rb * ldb + 1) * sizeof(float));
        cls_f32_from_bf16(ar, ah, ra * lda);
        cls_f32_from_bf16(br, bh, rb * ldb);
        st = cls_gemm_bf16(ta ? CLS_TRANS : CLS_NO_TRANS, tb ? CLS_TRANS : CLS_NO_TRANS, m, n, k, alpha, ah, lda, bh,
                           ldb, beta, c, ldc);
    } else {
        st = cls_gemm_f32(ta ? CLS_TRANS : CLS_NO_TRANS, tb ? CLS_TRANS : CLS_NO_TRANS, m, n, k, alpha, a, lda, b, ldb,
                          beta, c, ldc);
    }
    g_case++;
    CHECK(st == CLS_OK, "%s %s ta=%d tb=%d %lldx%lldx%lld: status %d (%s)", backend, bf16 ? "bf16" : "f32", ta, tb,
          (long long)m, (long long)n, (long long)k, (int)st, cls_last_error());
    const double eps = ldexp(1.0, -24), u = ldexp(1.0, -8);
    double worst = 0.0, worst_in = 0.0;
    int bad = 0, bad_in = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double ref = 0.0, refin = 0.0, absp = 0.0;
            for (int64_t l = 0; l < k; l++) {
                ref += at(ar, lda, ta, i, l) * at(br, ldb, tb, l, j);
                refin += at(a, lda, ta, i, l) * at(b, ldb, tb, l, j);
                absp += fabs(at(a, lda, ta, i, l) * at(b, ldb, tb, l, j));
            }
            double cc = beta * (double)c0[i * ldc + j];
            ref = alpha * ref + (beta == 0.0f ? 0.0 : cc);
            refin = alpha * refin + (beta == 0.0f ? 0.0 : cc);
            double mag = fabs(alpha) * absp * (1 + 2 * u) + fabs(cc);
            double tol = (double)(k + 2) * 2.0 * eps * mag + 1e-30;
            double err = fabs(c[i * ldc + j] - ref);
            if (!(err <= tol)) bad++;
            if (err / tol > worst) worst = err / tol;
            if (bf16) {
                double tol_in = tol + (2 * u + u * u) * fabs(alpha) * absp;
                double e2 = fabs(c[i * ldc + j] - refin);
                if (!(e2 <= tol_in)) bad_in++;
                if (e2 / tol_in > worst_in) worst_in = e2 / tol_in;
            }
        }
    /* padding of C untouched */
    int pad_ok = 1;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = n; j < ldc; j++) pad_ok &= c[i * ldc + j] == c0[i * ldc + j];
    CHECK(bad == 0, "%s %s ta=%d tb=%d %lldx%lldx%lld pad=%lld: %d entries outside the bound (worst err/tol %.3g)",
          backend, bf16 ? "bf16" : "f32", ta, tb, (long long)m, (long long)n, (long long)k, (long long)pad, bad, worst);
    CHECK(bad_in == 0, "%s bf16 vs fp32 inputs ta=%d tb=%d %lldx%lldx%lld: %d entries outside (worst %.3g)", backend,
          ta, tb, (long long)m, (long long)n, (long long)k, bad_in, worst_in);
    CHECK(pad_ok, "%s: the padding of C was written", backend);
    if (bf16) {
        free(ar);
        free(br);
        free(ah);
        free(bh);
    }
    free(a);
    free(b);
    free(c);
    free(c0);
}

static void run_backend(const char *backend)
{
    static const int64_t shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {33, 17, 65}, {130, 3, 257}, {64, 64, 64},
                                        {5, 300, 1}, {200, 129, 31}, {3, 2, 0}, {0, 4, 3}};
    for (size_t q = 0; q < sizeof shapes / sizeof shapes[0]; q++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int bf = 0; bf < 2; bf++) {
                    int64_t m = shapes[q][0], n = shapes[q][1], k = shapes[q][2];
                    check_one(backend, ta, tb, m, n, k, 0, 1.0f, 0.0f, bf);
                    check_one(backend, ta, tb, m, n, k, 3, -0.75f, 0.5f, bf);
                }
}

/* Threads of this process (Linux: /proc/self/status), -1 if unknown. */
static int process_threads(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    int n = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    fclose(f);
    return n;
}

/* Inside an active 2-thread region with nesting allowed, each thread's large
 * product must run on that thread: same result as outside, no thread created. */
static void check_in_parallel(const char *backend)
{
    const int64_t m = 256, n = 192, k = 320;
    uint64_t s = 99;
    float *a = rand_mat(m * k, &s), *b = rand_mat(k * n, &s);
    float *c1 = calloc((size_t)(m * n), sizeof(float)), *c2 = calloc((size_t)(2 * m * n), sizeof(float));
    cls_gemm_f32(CLS_NO_TRANS, CLS_NO_TRANS, m, n, k, 1.0f, a, k, b, n, 0.0f, c1, n);
    int saved = omp_get_max_active_levels();
    omp_set_max_active_levels(4);
    int before = -1, after = -1, ok[2] = {0, 0};
#pragma omp parallel num_threads(2)
    {
#pragma omp barrier
#pragma omp single
        before = process_threads();
        int t = omp_get_thread_num();
        ok[t] = cls_gemm_f32(CLS_NO_TRANS, CLS_NO_TRANS, m, n, k, 1.0f, a, k, b, n, 0.0f, c2 + t * m * n, n) ==
                CLS_OK;
#pragma omp barrier
#pragma omp single
        after = process_threads();
    }
    omp_set_max_active_levels(saved);
    CHECK(ok[0] && ok[1], "%s: product inside a parallel region failed", backend);
    double diff = 0.0;
    for (int64_t i = 0; i < m * n; i++) {
        diff = fmax(diff, fabs(c2[i] - c1[i]));
        diff = fmax(diff, fabs(c2[m * n + i] - c1[i]));
    }
    CHECK_CLOSE(diff, 0.0, 1e-4, 0.0, "%s: products inside a parallel region differ from outside", backend);
    if (before > 0) CHECK(after == before, "%s: threads %d -> %d during in-region products (nested fan-out)", backend,
                          before, after);
    free(a);
    free(b);
    free(c1);
    free(c2);
}

static void check_args(void)
{
    float x[4] = {1, 2, 3, 4}, c[4];
    CHECK_STATUS(cls_gemm_f32(CLS_NO_TRANS, CLS_NO_TRANS, -1, 2, 2, 1.0f, x, 2, x, 2, 0.0f, c, 2), CLS_E_INVALID_ARG,
                 "negative m");
    CHECK_STATUS(cls_gemm_f32(CLS_NO_TRANS, CLS_NO_TRANS, 2, 2, 2, 1.0f, x, 1, x, 2, 0.0f, c, 2), CLS_E_INVALID_ARG,
                 "lda too short");
    CHECK_STATUS(cls_gemm_f32(CLS_NO_TRANS, CLS_NO_TRANS, 2, 2, 2, 1.0f, NULL, 2, x, 2, 0.0f, c, 2),
                 CLS_E_INVALID_ARG, "NULL a");
    CHECK_STATUS(cls_gemm_set_backend("cublas"), CLS_E_INVALID_ARG, "unknown backend name");
    if (!cls_gemm_have_onednn())
        CHECK_STATUS(cls_gemm_set_backend("onednn"), CLS_E_UNSUPPORTED, "onednn without oneDNN");
    /* bf16 rounding: ties to even, NaN kept, exact widening */
    float v[5] = {1.0f, 1.00390625f /* 1 + 2^-8: tie -> 1 */, 1.01171875f /* 1 + 3 2^-8: tie -> 1 + 2^-6 */, NAN,
                  -3.0e38f};
    cls_bf16 h[5];
    float w[5];
    cls_bf16_from_f32(h, v, 5);
    cls_f32_from_bf16(w, h, 5);
    CHECK(w[0] == 1.0f && w[1] == 1.0f && w[2] == 1.015625f, "bf16 ties to even: %g %g %g", w[0], w[1], w[2]);
    CHECK(isnan(w[3]), "bf16 keeps NaN");
    CHECK_CLOSE(w[4], -3.0e38, 0.0, ldexp(1.0, -8), "bf16 of a large value");
}

int main(void)
{
    check_args();
    const char *backends[2] = {"openblas", "onednn"};
    for (int q = 0; q < 2; q++) {
        if (q == 1 && !cls_gemm_have_onednn()) break;
        CHECK_STATUS(cls_gemm_set_backend(backends[q]), CLS_OK, "set %s", backends[q]);
        CHECK(strcmp(cls_gemm_backend(), backends[q]) == 0, "backend reports %s", cls_gemm_backend());
        run_backend(backends[q]);
        check_in_parallel(backends[q]);
    }
    CHECK_STATUS(cls_gemm_set_backend(NULL), CLS_OK, "automatic backend");
    printf("automatic backend: %s (oneDNN built: %d); %d product cases\n", cls_gemm_backend(), cls_gemm_have_onednn(),
           g_case);
    return check_summary("gemm");
}
