/* Evaluation (src/eval): the probe objective and gradient against a plain
 * float64 twin written here and against central finite differences of that
 * twin; probe results independent of the thread count and chunk size;
 * non-contiguous labels; k-NN tie-breaking on hand-made cases, invariance
 * under chunk size and thread count; bad input. (scikit-learn and NumPy
 * comparisons: tests/python/test_eval_sklearn.py.) */
#include "check.h"

#include "clscale.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* float64 twin: f = sum_i lse(z_i) - z_i[y_i] + l2/2 ||W||^2, z = W x + b. */
static double ref_objective(const float *x, const int64_t *y, int64_t n, int64_t d, int64_t k, const double *w,
                            const double *b, double l2, double *gw, double *gb)
{
    double f = 0, z[16];
    if (gw) memset(gw, 0, sizeof(double) * (size_t)(k * d));
    if (gb) memset(gb, 0, sizeof(double) * (size_t)k);
    for (int64_t i = 0; i < n; i++) {
        double m = -INFINITY, se = 0;
        for (int64_t c = 0; c < k; c++) {
            z[c] = b[c];
            for (int64_t j = 0; j < d; j++) z[c] += w[c * d + j] * x[i * d + j];
            if (z[c] > m) m = z[c];
        }
        for (int64_t c = 0; c < k; c++) se += exp(z[c] - m);
        double lse = m + log(se);
        f += lse - z[y[i]];
        for (int64_t c = 0; c < k; c++) {
            double g = exp(z[c] - lse) - (c == y[i]);
            if (gb) gb[c] += g;
            if (gw)
                for (int64_t j = 0; j < d; j++) gw[c * d + j] += g * x[i * d + j];
        }
    }
    for (int64_t c = 0; c < k * d; c++) {
        f += 0.5 * l2 * w[c] * w[c];
        if (gw) gw[c] += l2 * w[c];
    }
    return f;
}

static void blobs(cls_rng *rng, float *x, int64_t *y, int64_t n, int64_t d, int64_t k, double sep,
                  const int64_t *label_values)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t c = (int64_t)cls_rng_below(rng, (uint64_t)k);
        y[i] = label_values ? label_values[c] : c;
        for (int64_t j = 0; j < d; j++) x[i * d + j] = (float)(cls_rng_normal(rng) + (j % k == c ? sep : 0.0));
    }
}

static void test_objective(void)
{
    enum { N = 300, D = 7, K = 4 };
    static float x[N * D];
    static int64_t y[N];
    cls_rng rng;
    cls_rng_seed(&rng, 11);
    blobs(&rng, x, y, N, D, K, 1.0, NULL);
    double w[K * D], b[K], gw[K * D], gb[K], rw[K * D], rb[K];
    for (int i = 0; i < K * D; i++) w[i] = 0.3 * cls_rng_normal(&rng);
    for (int i = 0; i < K; i++) b[i] = 0.2 * cls_rng_normal(&rng);
    const double l2 = 0.7;
    double f;
    for (int threads = 1; threads <= 3; threads += 2) {
        CHECK_STATUS(cls_probe_objective(x, y, N, D, K, w, b, l2, threads, &f, gw, gb), CLS_OK, "objective");
        double fr = ref_objective(x, y, N, D, K, w, b, l2, rw, rb);
        /* float32 logits: relative error ~1e-7 per term */
        CHECK_CLOSE(f, fr, 0, 1e-6, "objective vs float64 twin (threads %d)", threads);
        for (int i = 0; i < K * D; i++) CHECK_CLOSE(gw[i], rw[i], 1e-4, 1e-5, "dW[%d] vs twin", i);
        for (int i = 0; i < K; i++) CHECK_CLOSE(gb[i], rb[i], 1e-4, 1e-5, "db[%d] vs twin", i);
    }
    /* central differences of the twin (h = 1e-5): the gradient formula itself */
    const double h = 1e-5;
    for (int i = 0; i < K * D + K; i++) {
        double *p = i < K * D ? &w[i] : &b[i - K * D];
        double keep = *p;
        *p = keep + h;
        double fp = ref_objective(x, y, N, D, K, w, b, l2, NULL, NULL);
        *p = keep - h;
        double fm = ref_objective(x, y, N, D, K, w, b, l2, NULL, NULL);
        *p = keep;
        double g = i < K * D ? gw[i] : gb[i - K * D];
        CHECK_CLOSE(g, (fp - fm) / (2 * h), 1e-4, 1e-5, "gradient %d vs finite differences", i);
    }
    int64_t bad[N];
    memcpy(bad, y, sizeof bad);
    bad[5] = K;
    CHECK_STATUS(cls_probe_objective(x, bad, N, D, K, w, b, l2, 1, &f, gw, gb), CLS_E_INVALID_ARG, "y out of range");
}

static void test_probe(void)
{
    enum { N = 2000, M = 500, D = 12, K = 3 };
    static float x[N * D], xt[M * D];
    static int64_t y[N], yt[M];
    const int64_t values[K] = {40, 7, 1000};
    cls_rng rng;
    cls_rng_seed(&rng, 5);
    blobs(&rng, x, y, N, D, K, 1.5, values);
    blobs(&rng, xt, yt, M, D, K, 1.5, values);
    cls_probe_options o;
    cls_probe_options_init(&o);
    o.grid_lo = 1e-2;
    o.grid_hi = 1e2;
    o.grid_n = 5;
    o.confusion = 1;
    cls_probe_result r1, r2;
    o.threads = 1;
    o.chunk = 0;
    CHECK_STATUS(cls_eval_probe(x, y, N, xt, yt, M, D, &o, &r1), CLS_OK, "probe threads 1");
    o.threads = 3;
    CHECK_STATUS(cls_eval_probe(x, y, N, xt, yt, M, D, &o, &r2), CLS_OK, "probe threads 3");
    CHECK(r1.objective == r2.objective && r1.l2 == r2.l2 && r1.accuracy == r2.accuracy,
          "same bits under 1 and 3 threads: %.17g vs %.17g", r1.objective, r2.objective);
    CHECK(r1.n_classes == 3 && r1.classes[0] == 7 && r1.classes[1] == 40 && r1.classes[2] == 1000,
          "classes are the sorted label values");
    CHECK(r1.accuracy > 0.85, "accuracy %.3f on separated blobs", r1.accuracy);
    int ok = 1;
    for (int i = 0; i < M; i++) ok &= r1.predictions[i] == 7 || r1.predictions[i] == 40 || r1.predictions[i] == 1000;
    CHECK(ok, "predictions are label values");
    CHECK_CLOSE(r1.grid[0], 1e2, 0, 1e-12, "grid descending from HI");
    CHECK_CLOSE(r1.grid[4], 1e-2, 0, 1e-12, "grid ends at LO");
    CHECK_CLOSE(r1.grid[1], 10.0, 0, 1e-12, "log spacing");
    int64_t total = 0, diag = 0;
    for (int i = 0; i < 9; i++) total += r1.confusion[i];
    for (int i = 0; i < 3; i++) diag += r1.confusion[i * 3 + i];
    CHECK(total == M && diag == (int64_t)llround(r1.accuracy * M), "confusion %lld/%lld", (long long)diag,
          (long long)total);
    double best = -1;
    for (int g = 0; g < 5; g++) best = r1.grid_accuracy[g] > best ? r1.grid_accuracy[g] : best;
    int chosen_is_best = 0;
    for (int g = 0; g < 5; g++) chosen_is_best |= r1.grid[g] == r1.l2 && r1.grid_accuracy[g] == best;
    CHECK(chosen_is_best, "chosen lambda %g has the best held-out accuracy", r1.l2);
    cls_probe_result_free(&r2);
    /* a different objective chunking: the same optimum to rounding */
    o.chunk = 37;
    CHECK_STATUS(cls_eval_probe(x, y, N, xt, yt, M, D, &o, &r2), CLS_OK, "probe chunk 37");
    CHECK_CLOSE(r2.objective, r1.objective, 0, 1e-6, "objective with chunk 37");
    cls_probe_result_free(&r1);
    cls_probe_result_free(&r2);
    cls_probe_result_free(NULL);
}

static void test_knn_ties(void)
{
    /* query e1; train: e1 (label 5), 2*e1 (label 2), e2 (label 2), -e1 (label 9) */
    const float train[4 * 2] = {1, 0, 2, 0, 0, 1, -1, 0};
    const int64_t ytr[4] = {5, 2, 2, 9};
    const float test[1 * 2] = {3, 0};
    const int64_t yte[1] = {5};
    cls_knn_options o;
    cls_knn_options_init(&o);
    cls_knn_result r;
    o.k = 1;
    CHECK_STATUS(cls_eval_knn(train, ytr, 4, test, yte, 1, 2, &o, &r), CLS_OK, "k=1");
    CHECK(r.predictions[0] == 5, "equal similarity: the lower train index wins (got %lld)", (long long)r.predictions[0]);
    cls_knn_result_free(&r);
    o.k = 2; /* votes 5: e^{1/T}, 2: e^{1/T}: the lower class wins */
    CHECK_STATUS(cls_eval_knn(train, ytr, 4, test, yte, 1, 2, &o, &r), CLS_OK, "k=2");
    CHECK(r.predictions[0] == 2 && r.accuracy == 0.0, "equal votes: the lower class wins (got %lld)",
          (long long)r.predictions[0]);
    cls_knn_result_free(&r);
    o.weighted = 0;
    o.k = 3;
    CHECK_STATUS(cls_eval_knn(train, ytr, 4, test, yte, 1, 2, &o, &r), CLS_OK, "k=3 majority");
    CHECK(r.predictions[0] == 2, "majority 2 of 3");
    cls_knn_result_free(&r);
    o.k = 1000; /* clamped to n_train */
    CHECK_STATUS(cls_eval_knn(train, ytr, 4, test, yte, 1, 2, &o, &r), CLS_OK, "k clamped");
    CHECK(r.k == 4 && r.predictions[0] == 2, "k = %lld", (long long)r.k);
    cls_knn_result_free(&r);
}

static void test_knn_invariance(void)
{
    enum { N = 1500, M = 301, D = 9, K = 6 };
    static float x[N * D], xt[M * D];
    static int64_t y[N], yt[M];
    cls_rng rng;
    cls_rng_seed(&rng, 9);
    blobs(&rng, x, y, N, D, K, 0.8, NULL);
    blobs(&rng, xt, yt, M, D, K, 0.8, NULL);
    for (int i = 0; i < 200; i++) { /* exact duplicates with other labels: ties */
        memcpy(x + (N - 1 - i) * D, x + i * D, sizeof(float) * D);
        y[N - 1 - i] = (y[i] + 1) % K;
    }
    memcpy(xt, x + 3 * D, sizeof(float) * D); /* a test row equal to a train row */
    for (int weighted = 0; weighted <= 1; weighted++) {
        cls_knn_options o;
        cls_knn_options_init(&o);
        o.weighted = weighted;
        o.k = 50;
        cls_knn_result ref, r;
        o.threads = 1;
        o.chunk = M;
        CHECK_STATUS(cls_eval_knn(x, y, N, xt, yt, M, D, &o, &ref), CLS_OK, "reference run");
        const int64_t chunks[4] = {1, 7, 64, 0};
        for (int ci = 0; ci < 4; ci++)
            for (int t = 1; t <= 4; t += 3) {
                o.chunk = chunks[ci];
                o.threads = t;
                CHECK_STATUS(cls_eval_knn(x, y, N, xt, yt, M, D, &o, &r), CLS_OK, "run");
                CHECK(memcmp(r.predictions, ref.predictions, sizeof(int64_t) * M) == 0 && r.accuracy == ref.accuracy,
                      "weighted %d: chunk %lld threads %d differs", weighted, (long long)chunks[ci], t);
                cls_knn_result_free(&r);
            }
        CHECK(ref.accuracy > 0.3, "k-NN accuracy (chance 1/6) %.3f", ref.accuracy);
        cls_knn_result_free(&ref);
    }
}

/* CLS_KNN_MAX_CLASSES classes (each training row its own label) work; one more is refused */
static void test_knn_many_classes(void)
{
    const int64_t n = CLS_KNN_MAX_CLASSES + 1, d = 4, m = 50;
    float *x = malloc(sizeof(float) * (size_t)(n * d)), *xt = malloc(sizeof(float) * (size_t)(m * d));
    int64_t *y = malloc(sizeof(int64_t) * (size_t)n), yt[50];
    cls_rng rng;
    cls_rng_seed(&rng, 3);
    cls_rng_fill_normal_f32(&rng, x, n * d);
    for (int64_t i = 0; i < n; i++) y[i] = 7 * i;
    for (int64_t i = 0; i < m; i++) {
        memcpy(xt + i * d, x + (i * 1999) * d, sizeof(float) * (size_t)d);
        yt[i] = 7 * (i * 1999);
    }
    cls_knn_options o;
    cls_knn_options_init(&o);
    cls_knn_result r;
    CHECK_STATUS(cls_eval_knn(x, y, n - 1, xt, yt, m, d, &o, &r), CLS_OK, "%d classes", CLS_KNN_MAX_CLASSES);
    CHECK(r.n_classes == CLS_KNN_MAX_CLASSES && r.accuracy == 1.0, "classes %lld, accuracy %g (own row wins)",
          (long long)r.n_classes, r.accuracy);
    cls_knn_result_free(&r);
    CHECK_STATUS(cls_eval_knn(x, y, n, xt, yt, m, d, &o, &r), CLS_E_INVALID_ARG, "one class too many");
    free(x);
    free(xt);
    free(y);
}

static void test_bad_input(void)
{
    float x[6 * 2] = {1, 0, 0, 1, 1, 1, 2, 0, 0, 2, 1, 2};
    int64_t y[6] = {0, 1, 0, 1, 0, 1};
    cls_knn_result kr;
    cls_probe_result pr;
    CHECK_STATUS(cls_eval_knn(x, y, 0, x, y, 6, 2, NULL, &kr), CLS_E_SHAPE, "empty train");
    CHECK_STATUS(cls_eval_knn(x, y, 6, x, y, 0, 2, NULL, &kr), CLS_E_SHAPE, "empty test");
    CHECK_STATUS(cls_eval_probe(x, y, 6, x, y, 6, 0, NULL, &pr), CLS_E_SHAPE, "dim 0");
    y[4] = -3;
    CHECK_STATUS(cls_eval_knn(x, y, 6, x, y, 6, 2, NULL, &kr), CLS_E_INVALID_ARG, "negative label");
    CHECK(strstr(cls_last_error(), "train_labels[4] is -3") != NULL, "message: %s", cls_last_error());
    y[4] = 0;
    x[7] = NAN;
    CHECK_STATUS(cls_eval_probe(x, y, 6, x, y, 6, 2, NULL, &pr), CLS_E_NONFINITE, "NaN");
    CHECK(strstr(cls_last_error(), "train[3][1]") != NULL, "message: %s", cls_last_error());
    x[7] = 0;
    int64_t one[6] = {4, 4, 4, 4, 4, 4};
    CHECK_STATUS(cls_eval_probe(x, one, 6, x, y, 6, 2, NULL, &pr), CLS_E_INVALID_ARG, "single class");
    CHECK(strstr(cls_last_error(), "single class") != NULL, "message: %s", cls_last_error());
    CHECK_STATUS(cls_eval_knn(x, one, 6, x, y, 6, 2, NULL, &kr), CLS_E_INVALID_ARG, "single class (k-NN)");
    cls_knn_options ko;
    cls_knn_options_init(&ko);
    ko.k = 0;
    CHECK_STATUS(cls_eval_knn(x, y, 6, x, y, 6, 2, &ko, &kr), CLS_E_INVALID_ARG, "k = 0");
    cls_probe_options po;
    cls_probe_options_init(&po);
    po.grid_lo = -1;
    CHECK_STATUS(cls_eval_probe(x, y, 6, x, y, 6, 2, &po, &pr), CLS_E_INVALID_ARG, "grid lo < 0");
    CHECK(pr.grid == NULL && kr.predictions == NULL, "outputs zeroed on failure");
}

int main(void)
{
    test_objective();
    test_probe();
    test_knn_ties();
    test_knn_invariance();
    test_knn_many_classes();
    test_bad_input();
    return check_summary("test_eval");
}
