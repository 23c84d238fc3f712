/* Loss engine (CLIP and InfoNCE): the fast tiled kernels against their
 * float64 twins over the spec's grid of shapes, scales and tiles; finite
 * differences of the twins; closed forms; stress cases; determinism and
 * thread-count agreement; bad input; the vectorised exp helper. Every check
 * states its tolerance. */
#include "clscale.h"
#include "check.h"
#include "loss/loss_engine.h"
#include "loss/vexp.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------------- */

/* Random rows with norm about 1 (Gaussian / sqrt(d)), so that s sets the
 * logit range; float data, also given as double for the twin. */
static float *random_rows(uint64_t seed, int64_t n, int64_t d)
{
    cls_rng rng;
    cls_rng_seed(&rng, seed);
    float *x = malloc((size_t)(n * d) * sizeof(float));
    cls_rng_fill_normal_f32(&rng, x, n * d);
    for (int64_t k = 0; k < n * d; k++) x[k] /= sqrtf((float)d);
    return x;
}

static double *to_double(const float *x, int64_t n)
{
    double *y = malloc((size_t)n * sizeof(double));
    for (int64_t k = 0; k < n; k++) y[k] = x[k];
    return y;
}

static double max_abs_d(const double *x, int64_t n)
{
    double m = 0.0;
    for (int64_t k = 0; k < n; k++) m = fabs(x[k]) > m ? fabs(x[k]) : m;
    return m;
}

static double max_diff_fd(const float *x, const double *y, int64_t n)
{
    double m = 0.0;
    for (int64_t k = 0; k < n; k++) {
        double e = fabs((double)x[k] - y[k]);
        if (!(e <= m)) m = e; /* NaN propagates */
    }
    return m;
}

typedef struct {
    cls_loss_kind kind;
    int64_t na, nb, d;
    double s;
    int64_t tile;
    int threads, normalize;
    double smoothing;
    cls_reduction reduction;
    int labels; /* random labels (infonce) */
    uint64_t seed;
} fast_case;

/* Fast kernel vs float64 twin on the same (float) inputs.
 * Loss: |diff| <= 1e-6 |ref| + 1e-7 s max|a_i| max|b_j|; gradients: max|diff| <= 1e-5 max|g_ref|;
 * dL/ds: |diff| <= 1e-5 (|ref| + max|g_ref| * sum|a| / s) (its error is that of
 * <dA, A> / s). */
static void check_fast_vs_ref(fast_case c)
{
    float *a = random_rows(c.seed, c.na, c.d), *b = random_rows(c.seed + 1, c.nb, c.d);
    if (c.kind == CLS_LOSS_CLIP || !c.labels) {
        /* make positives related so that the loss is not trivially ln b */
        for (int64_t i = 0; i < c.na && i < c.nb; i++)
            for (int64_t k = 0; k < c.d; k++) b[i * c.d + k] = 0.6f * a[i * c.d + k] + 0.8f * b[i * c.d + k];
    }
    int64_t *labels = NULL;
    if (c.labels) {
        cls_rng rng;
        cls_rng_seed(&rng, c.seed + 7);
        labels = malloc((size_t)c.na * sizeof(int64_t));
        for (int64_t i = 0; i < c.na; i++) labels[i] = (int64_t)cls_rng_below(&rng, (uint64_t)c.nb);
    }
    double *ad = to_double(a, c.na * c.d), *bd = to_double(b, c.nb * c.d);
    float *ga = malloc((size_t)(c.na * c.d) * sizeof(float)), *gb = malloc((size_t)(c.nb * c.d) * sizeof(float));
    double *gad = malloc((size_t)(c.na * c.d) * sizeof(double)), *gbd = malloc((size_t)(c.nb * c.d) * sizeof(double));
    cls_loss_options o;
    cls_loss_options_init(&o, c.kind);
    o.logit_scale = c.s;
    o.tile = c.tile;
    o.threads = c.threads;
    o.normalize = c.normalize;
    o.label_smoothing = c.smoothing;
    o.reduction = c.reduction;
    cls_loss_result rf, rr;
    char what[200];
    snprintf(what, sizeof what, "%s na=%lld nb=%lld d=%lld s=%g tile=%lld threads=%d norm=%d eps=%g red=%d labels=%d",
             cls_loss_kind_name(c.kind), (long long)c.na, (long long)c.nb, (long long)c.d, c.s, (long long)c.tile,
             c.threads, c.normalize, c.smoothing, (int)c.reduction, c.labels);
    CHECK_STATUS(cls_loss_compute(&rf, ga, gb, a, c.na, b, c.nb, c.d, labels, &o), CLS_OK, "fast %s", what);
    CHECK_STATUS(cls_loss_compute_ref(&rr, gad, gbd, ad, c.na, bd, c.nb, c.d, labels, &o), CLS_OK, "ref %s", what);
    /* The absolute floor is the float32 rounding unit of the largest possible
     * logit, 1e-7 s max|a_i| max|b_j|: the fast kernel forms the logits in
     * float32, so a loss far below 1 (a confident model) cannot be matched to
     * 1e-6 relative; every loss of order 1 is held to the 1e-6 relative bound. */
    double na_max = 0.0, nb_max = 0.0;
    for (int64_t i = 0; i < c.na; i++) {
        double ss = 0.0;
        for (int64_t k = 0; k < c.d; k++) ss += ad[i * c.d + k] * ad[i * c.d + k];
        na_max = fmax(na_max, c.normalize ? 1.0 : sqrt(ss));
    }
    for (int64_t j = 0; j < c.nb; j++) {
        double ss = 0.0;
        for (int64_t k = 0; k < c.d; k++) ss += bd[j * c.d + k] * bd[j * c.d + k];
        nb_max = fmax(nb_max, c.normalize ? 1.0 : sqrt(ss));
    }
    CHECK_CLOSE(rf.loss, rr.loss, 1e-7 * c.s * na_max * nb_max, 1e-6, "loss %s", what);
    double gmax = fmax(max_abs_d(gad, c.na * c.d), max_abs_d(gbd, c.nb * c.d));
    double da = max_diff_fd(ga, gad, c.na * c.d), db = max_diff_fd(gb, gbd, c.nb * c.d);
    CHECK(da <= 1e-5 * gmax + 1e-12, "grad_a max|diff| %.3g > 1e-5 * %.3g: %s", da, gmax, what);
    CHECK(db <= 1e-5 * gmax + 1e-12, "grad_b max|diff| %.3g > 1e-5 * %.3g: %s", db, gmax, what);
    double suma = 0.0;
    for (int64_t k = 0; k < c.na * c.d; k++) suma += fabs(ad[k]);
    if (c.normalize) suma = (double)c.na; /* unit rows: sum of |a_i| */
    CHECK_CLOSE(rf.grad_logit_scale, rr.grad_logit_scale, 1e-5 * gmax * suma / c.s + 1e-12, 1e-5, "dL/ds %s", what);
    free(a);
    free(b);
    free(ad);
    free(bd);
    free(ga);
    free(gb);
    free(gad);
    free(gbd);
    free(labels);
}

static void test_fast_vs_ref(void)
{
    /* Covers every b in {1,2,3,7,64,1000,4099}, d in {1,3,17,64,513},
     * s in {0.01,1,14.3,100}, tiles that divide b and tiles that do not. */
    const fast_case cases[] = {
        {CLS_LOSS_CLIP, 1, 1, 1, 1.0, 0, 1, 0, 0, CLS_REDUCE_MEAN, 0, 11},
        {CLS_LOSS_CLIP, 1, 1, 513, 100.0, 0, 2, 0, 0, CLS_REDUCE_MEAN, 0, 12},
        {CLS_LOSS_CLIP, 2, 2, 3, 0.01, 1, 2, 0, 0, CLS_REDUCE_MEAN, 0, 13},
        {CLS_LOSS_CLIP, 3, 3, 17, 14.3, 2, 2, 0, 0, CLS_REDUCE_MEAN, 0, 14},
        {CLS_LOSS_CLIP, 7, 7, 1, 14.3, 3, 3, 0, 0, CLS_REDUCE_MEAN, 0, 15},
        {CLS_LOSS_CLIP, 7, 7, 64, 100.0, 7, 1, 0, 0, CLS_REDUCE_MEAN, 0, 16},
        {CLS_LOSS_CLIP, 64, 64, 513, 1.0, 16, 2, 0, 0, CLS_REDUCE_MEAN, 0, 17},
        {CLS_LOSS_CLIP, 64, 64, 17, 100.0, 20, 3, 0, 0, CLS_REDUCE_MEAN, 0, 18},
        {CLS_LOSS_CLIP, 64, 64, 3, 0.01, 0, 2, 0, 0, CLS_REDUCE_SUM, 0, 19},
        {CLS_LOSS_CLIP, 64, 64, 17, 14.3, 24, 2, 1, 0.1, CLS_REDUCE_SUM, 0, 20},
        {CLS_LOSS_CLIP, 1000, 1000, 64, 14.3, 128, 2, 0, 0, CLS_REDUCE_MEAN, 0, 21},
        {CLS_LOSS_CLIP, 1000, 1000, 1, 100.0, 250, 2, 1, 0, CLS_REDUCE_MEAN, 0, 22},
        {CLS_LOSS_CLIP, 4099, 4099, 3, 14.3, 0, 2, 1, 0, CLS_REDUCE_MEAN, 0, 23},
        {CLS_LOSS_CLIP, 4099, 4099, 17, 1.0, 1024, 2, 0, 0.05, CLS_REDUCE_MEAN, 0, 24},
        {CLS_LOSS_INFONCE, 1, 1, 3, 1.0, 0, 1, 0, 0, CLS_REDUCE_MEAN, 0, 31},
        {CLS_LOSS_INFONCE, 2, 3, 1, 0.01, 1, 2, 0, 0, CLS_REDUCE_MEAN, 1, 32},
        {CLS_LOSS_INFONCE, 7, 13, 17, 14.3, 4, 2, 1, 0.1, CLS_REDUCE_MEAN, 1, 33},
        {CLS_LOSS_INFONCE, 64, 100, 64, 100.0, 32, 3, 0, 0, CLS_REDUCE_MEAN, 0, 34},
        {CLS_LOSS_INFONCE, 64, 64, 513, 14.3, 0, 2, 1, 0, CLS_REDUCE_SUM, 1, 35},
        {CLS_LOSS_INFONCE, 1000, 1100, 3, 1.0, 300, 2, 0, 0.2, CLS_REDUCE_MEAN, 1, 36},
        {CLS_LOSS_INFONCE, 1000, 4099, 17, 100.0, 0, 2, 1, 0, CLS_REDUCE_MEAN, 1, 37},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) check_fast_vs_ref(cases[k]);
}

/* ---- finite differences of the float64 twins ------------------------------ */

static double ref_loss(const double *a, int64_t na, const double *b, int64_t nb, int64_t d, const int64_t *labels,
                       const cls_loss_options *o)
{
    cls_loss_result r;
    cls_status s = cls_loss_compute_ref(&r, NULL, NULL, a, na, b, nb, d, labels, o);
    return s == CLS_OK ? r.loss : NAN;
}

/* Central differences, h = 1e-6: |fd - g| <= 1e-6 + 1e-5 |g| for every entry of
 * A and B and for s. */
static void check_fd(cls_loss_kind kind, int64_t na, int64_t nb, int64_t d, int normalize, double smoothing,
                     cls_reduction red, const int64_t *labels)
{
    float *af = random_rows(100 + (uint64_t)na, na, d), *bf = random_rows(200 + (uint64_t)nb, nb, d);
    double *a = to_double(af, na * d), *b = to_double(bf, nb * d);
    double *ga = malloc((size_t)(na * d) * sizeof(double)), *gb = malloc((size_t)(nb * d) * sizeof(double));
    cls_loss_options o;
    cls_loss_options_init(&o, kind);
    o.logit_scale = 3.7;
    o.normalize = normalize;
    o.label_smoothing = smoothing;
    o.reduction = red;
    cls_loss_result r;
    CHECK_STATUS(cls_loss_compute_ref(&r, ga, gb, a, na, b, nb, d, labels, &o), CLS_OK, "fd base");
    const double h = 1e-6;
    for (int which = 0; which < 2; which++) {
        double *x = which ? b : a, *g = which ? gb : ga;
        int64_t n = (which ? nb : na) * d;
        for (int64_t k = 0; k < n; k++) {
            double keep = x[k];
            x[k] = keep + h;
            double lp = ref_loss(a, na, b, nb, d, labels, &o);
            x[k] = keep - h;
            double lm = ref_loss(a, na, b, nb, d, labels, &o);
            x[k] = keep;
            CHECK_CLOSE((lp - lm) / (2 * h), g[k], 1e-6, 1e-5, "fd %s d%s[%lld] norm=%d eps=%g",
                        cls_loss_kind_name(kind), which ? "b" : "a", (long long)k, normalize, smoothing);
        }
    }
    cls_loss_options op = o, om = o;
    op.logit_scale += h;
    om.logit_scale -= h;
    double fds = (ref_loss(a, na, b, nb, d, labels, &op) - ref_loss(a, na, b, nb, d, labels, &om)) / (2 * h);
    CHECK_CLOSE(fds, r.grad_logit_scale, 1e-6, 1e-5, "fd %s dL/ds", cls_loss_kind_name(kind));
    free(af);
    free(bf);
    free(a);
    free(b);
    free(ga);
    free(gb);
}

static void test_finite_differences(void)
{
    const int64_t labels[4] = {2, 0, 5, 2};
    check_fd(CLS_LOSS_CLIP, 4, 4, 3, 0, 0.0, CLS_REDUCE_MEAN, NULL);
    check_fd(CLS_LOSS_CLIP, 5, 5, 4, 1, 0.1, CLS_REDUCE_SUM, NULL);
    check_fd(CLS_LOSS_INFONCE, 4, 6, 3, 0, 0.0, CLS_REDUCE_MEAN, labels);
    check_fd(CLS_LOSS_INFONCE, 4, 6, 5, 1, 0.2, CLS_REDUCE_SUM, labels);
    check_fd(CLS_LOSS_INFONCE, 3, 3, 2, 0, 0.0, CLS_REDUCE_MEAN, NULL);
}

/* ---- closed forms ----------------------------------------------------------- */

static void fast_loss(cls_loss_result *r, float *ga, float *gb, const float *a, const float *b, int64_t n,
                      int64_t d, double s, int64_t tile)
{
    cls_loss_options o;
    cls_loss_options_init(&o, CLS_LOSS_CLIP);
    o.logit_scale = s;
    o.tile = tile;
    o.threads = 2;
    CHECK_STATUS(cls_loss_compute(r, ga, gb, a, n, b, n, d, NULL, &o), CLS_OK, "closed form n=%lld", (long long)n);
}

static int all_finite(const float *x, int64_t n)
{
    for (int64_t k = 0; k < n; k++)
        if (!isfinite(x[k])) return 0;
    return 1;
}

static void test_closed_forms(void)
{
    /* identical rows: every logit equals s, so each softmax is uniform: ln b
     * (|diff| <= 1e-6 ln b), at s = 14.3 and at the stress scale s = 100 with
     * all cosines 1 (gradients finite). */
    {
        const int64_t n = 300, d = 8;
        float *a = calloc((size_t)(n * d), sizeof(float)), *ga = malloc((size_t)(n * d) * sizeof(float)),
              *gb = malloc((size_t)(n * d) * sizeof(float));
        for (int64_t i = 0; i < n; i++) a[i * d + 3] = 1.0f;
        cls_loss_result r;
        const double scales[2] = {14.3, 100.0};
        for (int k = 0; k < 2; k++) {
            fast_loss(&r, ga, gb, a, a, n, d, scales[k], 64);
            CHECK_CLOSE(r.loss, log((double)n), 0, 1e-6, "identical rows, s=%g: ln b", scales[k]);
            CHECK(all_finite(ga, n * d) && all_finite(gb, n * d), "identical rows s=%g: finite gradients", scales[k]);
        }
        /* all logits = -s: A rows u, B rows -u; also uniform softmax -> ln b */
        float *bneg = malloc((size_t)(n * d) * sizeof(float));
        for (int64_t k = 0; k < n * d; k++) bneg[k] = -a[k];
        fast_loss(&r, ga, gb, a, bneg, n, d, 100.0, 0);
        CHECK_CLOSE(r.loss, log((double)n), 0, 1e-6, "all logits -s at s=100: ln b");
        CHECK(all_finite(ga, n * d) && all_finite(gb, n * d), "all logits -s: finite gradients");
        free(a);
        free(bneg);
        free(ga);
        free(gb);
    }
    /* orthonormal rows (d >= b): X = s I, loss = ln(1 + (b-1) e^{-s});
     * |diff| <= 1e-7 + 1e-6 |ref| */
    {
        const int64_t n = 40, d = 45;
        float *a = calloc((size_t)(n * d), sizeof(float)), *ga = malloc((size_t)(n * d) * sizeof(float)),
              *gb = malloc((size_t)(n * d) * sizeof(float));
        for (int64_t i = 0; i < n; i++) a[i * d + (i * 7) % d] = 1.0f;
        const double scales[4] = {0.01, 1.0, 14.3, 100.0};
        for (int k = 0; k < 4; k++) {
            cls_loss_result r;
            fast_loss(&r, ga, gb, a, a, n, d, scales[k], 16);
            CHECK_CLOSE(r.loss, log1p((double)(n - 1) * exp(-scales[k])), 1e-7, 1e-6, "orthonormal rows s=%g",
                        scales[k]);
        }
        free(a);
        free(ga);
        free(gb);
    }
    /* b = 1: loss 0 and zero gradients (|x| <= 1e-7) */
    {
        float a[5] = {0.3f, -1.0f, 2.0f, 0.5f, 0.1f}, b[5] = {1.0f, 0.2f, -0.4f, 0.0f, 3.0f}, ga[5], gb[5];
        cls_loss_result r;
        fast_loss(&r, ga, gb, a, b, 1, 5, 14.3, 0);
        CHECK_CLOSE(r.loss, 0.0, 1e-7, 0, "b = 1: loss 0");
        for (int k = 0; k < 5; k++) {
            CHECK_CLOSE(ga[k], 0.0, 1e-7, 0, "b = 1: grad_a[%d] = 0", k);
            CHECK_CLOSE(gb[k], 0.0, 1e-7, 0, "b = 1: grad_b[%d] = 0", k);
        }
        CHECK_CLOSE(r.grad_logit_scale, 0.0, 1e-7, 0, "b = 1: dL/ds = 0");
    }
}

/* ---- stress ----------------------------------------------------------------- */

static void test_stress(void)
{
    /* s = 100, duplicates and a column far below every row maximum: A rows all
     * u, b_0 = u, the other b_j = -u, plus duplicated random rows. The fast
     * kernel must stay finite and match the twin (tolerances of check_fast_vs_ref). */
    const int64_t n = 96, d = 16;
    float *a = random_rows(5, n, d), *b = random_rows(6, n, d);
    for (int64_t i = 0; i < 40; i++)
        for (int64_t k = 0; k < d; k++) {
            a[i * d + k] = k == 0 ? 1.0f : 0.0f;
            b[i * d + k] = k == 0 ? (i == 0 ? 1.0f : -1.0f) : 0.0f;
        }
    for (int64_t i = 40; i < 60; i++) /* duplicates of row 60 */
        for (int64_t k = 0; k < d; k++) {
            a[i * d + k] = a[60 * d + k];
            b[i * d + k] = b[60 * d + k];
        }
    double *ad = to_double(a, n * d), *bd = to_double(b, n * d);
    float *ga = malloc((size_t)(n * d) * sizeof(float)), *gb = malloc((size_t)(n * d) * sizeof(float));
    double *gad = malloc((size_t)(n * d) * sizeof(double)), *gbd = malloc((size_t)(n * d) * sizeof(double));
    cls_loss_options o;
    cls_loss_options_init(&o, CLS_LOSS_CLIP);
    o.logit_scale = 100.0;
    o.tile = 32;
    o.threads = 2;
    cls_loss_result rf, rr;
    CHECK_STATUS(cls_loss_compute(&rf, ga, gb, a, n, b, n, d, NULL, &o), CLS_OK, "stress fast");
    CHECK_STATUS(cls_loss_compute_ref(&rr, gad, gbd, ad, n, bd, n, d, NULL, &o), CLS_OK, "stress ref");
    CHECK(isfinite(rf.loss) && isfinite(rf.grad_logit_scale) && all_finite(ga, n * d) && all_finite(gb, n * d),
          "stress: everything finite");
    CHECK_CLOSE(rf.loss, rr.loss, 1e-9, 1e-6, "stress loss");
    double gmax = fmax(max_abs_d(gad, n * d), max_abs_d(gbd, n * d));
    CHECK(max_diff_fd(ga, gad, n * d) <= 1e-5 * gmax, "stress grad_a");
    CHECK(max_diff_fd(gb, gbd, n * d) <= 1e-5 * gmax, "stress grad_b");
    free(a);
    free(b);
    free(ad);
    free(bd);
    free(ga);
    free(gb);
    free(gad);
    free(gbd);
}

/* The CLIP tile passes take one exponential per logit where a tile's row and
 * column maxima (forward) / LSE values (backward) span <= 60, and per-row /
 * per-column shifts elsewhere. Rows 0..63 of A scaled by 12 at s = 14.3 (tile
 * 64, d = 16) give both kinds in one problem: tiles of row block 0 have row
 * and column LSE values near 100 (fused), the other row blocks have row LSE
 * values near 15 against column LSE values near 100 (unfused); row block 0's
 * forward tiles mix row maxima that span less than 60. Tolerances of
 * check_fast_vs_ref (the absolute floor uses the largest row norm). */
static void test_fused_and_unfused_tiles(void)
{
    const int64_t n = 300, d = 16;
    float *a = random_rows(11, n, d), *b = random_rows(12, n, d);
    for (int64_t k = 0; k < 64 * d; k++) a[k] *= 12.0f;
    double *ad = to_double(a, n * d), *bd = to_double(b, n * d);
    float *ga = malloc((size_t)(n * d) * sizeof(float)), *gb = malloc((size_t)(n * d) * sizeof(float));
    double *gad = malloc((size_t)(n * d) * sizeof(double)), *gbd = malloc((size_t)(n * d) * sizeof(double));
    double amax = 0.0, bmax = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double sa = 0.0, sb = 0.0;
        for (int64_t k = 0; k < d; k++) sa += ad[i * d + k] * ad[i * d + k], sb += bd[i * d + k] * bd[i * d + k];
        amax = fmax(amax, sqrt(sa));
        bmax = fmax(bmax, sqrt(sb));
    }
    for (int threads = 1; threads <= 2; threads++) {
        cls_loss_options o;
        cls_loss_options_init(&o, CLS_LOSS_CLIP);
        o.tile = 64;
        o.threads = threads;
        cls_loss_result rf, rr;
        CHECK_STATUS(cls_loss_compute(&rf, ga, gb, a, n, b, n, d, NULL, &o), CLS_OK, "mixed spans fast");
        CHECK_STATUS(cls_loss_compute_ref(&rr, gad, gbd, ad, n, bd, n, d, NULL, &o), CLS_OK, "mixed spans ref");
        CHECK_CLOSE(rf.loss, rr.loss, 1e-7 * o.logit_scale * amax * bmax, 1e-6, "mixed spans loss (%d threads)",
                    threads);
        double gmax = fmax(max_abs_d(gad, n * d), max_abs_d(gbd, n * d));
        double da = max_diff_fd(ga, gad, n * d), db = max_diff_fd(gb, gbd, n * d);
        CHECK(da <= 1e-5 * gmax, "mixed spans grad_a max|diff| %.3g > 1e-5 * %.3g", da, gmax);
        CHECK(db <= 1e-5 * gmax, "mixed spans grad_b max|diff| %.3g > 1e-5 * %.3g", db, gmax);
    }
    void *bufs[] = {a, b, ad, bd, ga, gb, gad, gbd};
    for (size_t k = 0; k < sizeof bufs / sizeof bufs[0]; k++) free(bufs[k]);
}

/* ---- determinism and thread counts ------------------------------------------ */

static void test_determinism(void)
{
    const int64_t n = 700, d = 40;
    float *a = random_rows(41, n, d), *b = random_rows(42, n, d);
    float *g[3][2];
    cls_loss_result r[3];
    const int threads[3] = {1, 2, 3};
    for (int t = 0; t < 3; t++) {
        g[t][0] = malloc((size_t)(n * d) * sizeof(float));
        g[t][1] = malloc((size_t)(n * d) * sizeof(float));
        cls_loss_options o;
        cls_loss_options_init(&o, CLS_LOSS_CLIP);
        o.tile = 96;
        o.threads = threads[t];
        CHECK_STATUS(cls_loss_compute(&r[t], g[t][0], g[t][1], a, n, b, n, d, NULL, &o), CLS_OK, "threads %d",
                     threads[t]);
        /* the same call again: identical bits */
        float *ga2 = malloc((size_t)(n * d) * sizeof(float)), *gb2 = malloc((size_t)(n * d) * sizeof(float));
        cls_loss_result r2;
        CHECK_STATUS(cls_loss_compute(&r2, ga2, gb2, a, n, b, n, d, NULL, &o), CLS_OK, "threads %d again", threads[t]);
        CHECK(memcmp(&r2.loss, &r[t].loss, sizeof(double)) == 0 &&
                  memcmp(&r2.grad_logit_scale, &r[t].grad_logit_scale, sizeof(double)) == 0,
              "threads %d: same loss bits twice", threads[t]);
        CHECK(memcmp(ga2, g[t][0], (size_t)(n * d) * sizeof(float)) == 0 &&
                  memcmp(gb2, g[t][1], (size_t)(n * d) * sizeof(float)) == 0,
              "threads %d: same gradient bits twice", threads[t]);
        free(ga2);
        free(gb2);
    }
    /* thread counts agree: loss to 1e-6 relative, gradients to 1e-6 max|g| */
    double gmax = 0.0;
    for (int64_t k = 0; k < n * d; k++) gmax = fmax(gmax, fmax(fabs(g[0][0][k]), fabs(g[0][1][k])));
    for (int t = 1; t < 3; t++) {
        CHECK_CLOSE(r[t].loss, r[0].loss, 0, 1e-6, "loss, %d threads vs 1", threads[t]);
        double da = 0.0, db = 0.0;
        for (int64_t k = 0; k < n * d; k++) {
            da = fmax(da, fabs(g[t][0][k] - g[0][0][k]));
            db = fmax(db, fabs(g[t][1][k] - g[0][1][k]));
        }
        CHECK(da <= 1e-6 * gmax && db <= 1e-6 * gmax, "gradients, %d threads vs 1: %.3g %.3g vs %.3g", threads[t], da,
              db, 1e-6 * gmax);
    }
    for (int t = 0; t < 3; t++) {
        free(g[t][0]);
        free(g[t][1]);
    }
    free(a);
    free(b);
}

/* ---- the split public API agrees with the one-call entry -------------------- */

static void test_split_api(void)
{
    const int64_t n = 200, nb = 230, d = 24;
    float *a = random_rows(51, n, d), *b = random_rows(52, nb, d);
    float *ga = malloc((size_t)(n * d) * sizeof(float)), *gb = malloc((size_t)(nb * d) * sizeof(float));
    float *ga2 = malloc((size_t)(n * d) * sizeof(float)), *gb2 = malloc((size_t)(nb * d) * sizeof(float));
    float *rl = malloc((size_t)nb * sizeof(float)), *cl = malloc((size_t)nb * sizeof(float));
    cls_loss_options o;
    for (int kind = 0; kind < 2; kind++) {
        int64_t keys = kind ? nb : n;
        cls_loss_options_init(&o, kind ? CLS_LOSS_INFONCE : CLS_LOSS_CLIP);
        o.tile = 64;
        cls_loss_result r;
        CHECK_STATUS(cls_loss_compute(&r, ga, gb, a, n, b, keys, d, NULL, &o), CLS_OK, "split: one call");
        double loss = 0.0, gs = 0.0;
        if (kind) {
            CHECK_STATUS(cls_infonce_forward(&loss, rl, a, n, b, keys, d, NULL, &o), CLS_OK, "infonce forward");
            CHECK_STATUS(cls_infonce_backward(ga2, gb2, &gs, rl, a, n, b, keys, d, NULL, &o), CLS_OK, "infonce backward");
        } else {
            CHECK_STATUS(cls_clip_forward(&loss, rl, cl, a, b, n, d, &o), CLS_OK, "clip forward");
            CHECK_STATUS(cls_clip_backward(ga2, gb2, &gs, rl, cl, a, b, n, d, &o), CLS_OK, "clip backward");
        }
        /* float LSE state costs a little accuracy: 1e-5 relative */
        CHECK_CLOSE(loss, r.loss, 0, 1e-12, "split %d: same loss", kind);
        double gmax = 0.0, diff = 0.0;
        for (int64_t k = 0; k < n * d; k++) {
            gmax = fmax(gmax, fabs(ga[k]));
            diff = fmax(diff, fabs(ga[k] - ga2[k]));
        }
        for (int64_t k = 0; k < keys * d; k++) diff = fmax(diff, fabs(gb[k] - gb2[k]));
        CHECK(diff <= 1e-5 * gmax, "split %d: gradients max|diff| %.3g <= 1e-5 * %.3g", kind, diff, gmax);
        CHECK_CLOSE(gs, r.grad_logit_scale, 1e-7, 1e-5, "split %d: dL/ds", kind);
    }
    free(a);
    free(b);
    free(ga);
    free(gb);
    free(ga2);
    free(gb2);
    free(rl);
    free(cl);
}

/* ---- bad input ---------------------------------------------------------------- */

static int untouched(const float *x, int64_t n)
{
    for (int64_t k = 0; k < n; k++)
        if (x[k] != 12345.0f) return 0;
    return 1;
}

#define BAD(call, want, needle, ...)                                                                 \
    do {                                                                                             \
        for (int64_t k_ = 0; k_ < 64; k_++) ga[k_] = gb[k_] = 12345.0f;                             \
        r.loss = 777.0;                                                                              \
        CHECK_STATUS(call, want, __VA_ARGS__);                                                       \
        CHECK(strstr(cls_last_error(), needle) != NULL, "message '%s' should name '%s'", cls_last_error(), needle); \
        CHECK(untouched(ga, 64) && untouched(gb, 64) && r.loss == 777.0, "outputs untouched: " __VA_ARGS__); \
    } while (0)

static void test_bad_input(void)
{
    float a[64], b[64], ga[64], gb[64];
    for (int k = 0; k < 64; k++) {
        a[k] = (float)sin(k + 1.0);
        b[k] = (float)cos(k * 0.7);
    }
    cls_loss_result r;
    cls_loss_options o;
    cls_loss_options_init(&o, CLS_LOSS_CLIP);
    a[2 * 4 + 1] = NAN;
    BAD(cls_loss_compute(&r, ga, gb, a, 8, b, 8, 4, NULL, &o), CLS_E_NONFINITE, "a[2][1] is NaN", "NaN in a");
    a[2 * 4 + 1] = 0.5f;
    b[7 * 4 + 3] = INFINITY;
    BAD(cls_loss_compute(&r, ga, gb, a, 8, b, 8, 4, NULL, &o), CLS_E_NONFINITE, "b[7][3] is Inf", "Inf in b");
    b[7 * 4 + 3] = 0.5f;
    BAD(cls_loss_compute(&r, ga, gb, a, 8, b, 0, 4, NULL, &o), CLS_E_SHAPE, "b has 0 rows", "b = 0");
    BAD(cls_loss_compute(&r, ga, gb, a, 0, b, 0, 4, NULL, &o), CLS_E_SHAPE, "a has 0 rows", "a = 0");
    BAD(cls_loss_compute(&r, ga, gb, a, 8, b, 8, 0, NULL, &o), CLS_E_SHAPE, "dimension d is 0", "d = 0");
    BAD(cls_loss_compute(&r, ga, gb, a, 8, b, 6, 4, NULL, &o), CLS_E_SHAPE, "must match", "clip 8 vs 6 rows");
    const double bad_s[4] = {0.0, -1.0, NAN, INFINITY};
    for (int k = 0; k < 4; k++) {
        o.logit_scale = bad_s[k];
        BAD(cls_loss_compute(&r, ga, gb, a, 8, b, 8, 4, NULL, &o), CLS_E_INVALID_ARG, "logit_scale", "s = %g", bad_s[k]);
    }
    o.logit_scale = 10.0;
    o.label_smoothing = 1.0;
    BAD(cls_loss_compute(&r, ga, gb, a, 8, b, 8, 4, NULL, &o), CLS_E_INVALID_ARG, "label_smoothing", "smoothing 1");
    o.label_smoothing = 0.0;
    o.tile = -3;
    BAD(cls_loss_compute(&r, ga, gb, a, 8, b, 8, 4, NULL, &o), CLS_E_INVALID_ARG, "tile", "tile -3");
    o.tile = 0;
    cls_loss_options_init(&o, CLS_LOSS_INFONCE);
    BAD(cls_loss_compute(&r, ga, gb, a, 8, b, 6, 4, NULL, &o), CLS_E_SHAPE, "keys >= queries", "infonce 8 > 6");
    int64_t labels[8] = {0, 1, 2, 3, 4, 5, 9, 7};
    BAD(cls_loss_compute(&r, ga, gb, a, 8, b, 8, 4, labels, &o), CLS_E_INVALID_ARG, "labels[6] = 9", "label 9");
    labels[6] = -1;
    BAD(cls_loss_compute(&r, ga, gb, a, 8, b, 8, 4, labels, &o), CLS_E_INVALID_ARG, "labels[6] = -1", "label -1");
    o.normalize = 1;
    for (int k = 0; k < 4; k++) b[3 * 4 + k] = 0.0f;
    BAD(cls_loss_compute(&r, ga, gb, a, 8, b, 8, 4, NULL, &o), CLS_E_INVALID_ARG, "b[3] has zero norm",
        "zero row with normalize");
    /* the twin checks the same things */
    double ad[4] = {1, 2, NAN, 4}, bd[4] = {1, 2, 3, 4};
    cls_loss_options_init(&o, CLS_LOSS_CLIP);
    CHECK_STATUS(cls_loss_compute_ref(&r, NULL, NULL, ad, 2, bd, 2, 2, NULL, &o), CLS_E_NONFINITE, "ref NaN");
    CHECK(strstr(cls_last_error(), "a[1][0]") != NULL, "ref message names a[1][0]: %s", cls_last_error());
    cls_loss_kind kind;
    CHECK_STATUS(cls_loss_kind_parse("clip", &kind), CLS_OK, "parse clip");
    CHECK(kind == CLS_LOSS_CLIP, "clip parsed");
    CHECK_STATUS(cls_loss_kind_parse("siglip", &kind), CLS_OK, "parse siglip");
    CHECK(kind == CLS_LOSS_SIGLIP && strcmp(cls_loss_kind_name(kind), "siglip") == 0, "siglip round trip");
    CHECK_STATUS(cls_loss_kind_parse("clap", &kind), CLS_E_INVALID_ARG, "parse clap");
}

/* ---- defaults, workspace ------------------------------------------------------ */

static void test_defaults_workspace(void)
{
    cls_loss_options o;
    cls_loss_options_init(&o, CLS_LOSS_SIGLIP);
    CHECK(o.kind == CLS_LOSS_SIGLIP && fabs(o.logit_scale - 1.0 / 0.07) < 1e-12 && o.bias == -10.0 &&
              o.reduction == CLS_REDUCE_MEAN && o.tile == 0 && o.threads == 0 && !o.normalize &&
              o.label_smoothing == 0.0,
          "defaults: 1/0.07, bias -10, mean, auto tile, all threads");
    /* workspace grows linearly in b (no b^2 term): doubling b at most doubles it
     * plus the fixed per-thread buffers */
    cls_loss_options_init(&o, CLS_LOSS_CLIP);
    o.threads = 2;
    size_t w1 = cls_loss_workspace_bytes(131072, 131072, 64, &o), w2 = cls_loss_workspace_bytes(262144, 262144, 64, &o);
    CHECK(w1 < ((size_t)16 << 20), "workspace at b=131072, d=64 is %zu bytes < 16 MB", w1);
    CHECK(w2 <= 2 * w1, "workspace linear in b: %zu vs %zu", w2, w1);
}

/* ---- the exp helper ------------------------------------------------------------ */

static double ulp_error(float got, double want)
{
    if (want == 0.0) return got == 0.0f ? 0.0 : INFINITY;
    int e;
    frexp(want, &e); /* want = m 2^e, m in [0.5, 1) */
    double ulp = ldexp(1.0, e - 24);
    return fabs((double)got - want) / ulp;
}

static void test_exp_helper(void)
{
    /* max error over [-87.3, 88] in a dense grid: <= 2 ulp, vector and scalar */
    double worst_s = 0.0, worst_v = 0.0;
    float xs[CLS_VW];
    int lane = 0;
    for (double x = -87.3; x <= 88.0; x += 0.000731) {
        float xf = (float)x;
        worst_s = fmax(worst_s, ulp_error(cls_sexp(xf), exp((double)xf)));
        xs[lane++] = xf;
        if (lane == CLS_VW) {
            cls_vf v = cls_vexp(cls_vf_load(xs));
            for (int k = 0; k < CLS_VW; k++) worst_v = fmax(worst_v, ulp_error(v[k], exp((double)xs[k])));
            lane = 0;
        }
    }
    CHECK(worst_s <= 2.0, "scalar exp: max error %.3f ulp <= 2", worst_s);
    CHECK(worst_v <= 2.0, "vector exp: max error %.3f ulp <= 2", worst_v);
    CHECK(cls_sexp(0.0f) == 1.0f, "exp(0) = 1 exactly");
    CHECK(cls_sexp(-INFINITY) == 0.0f && cls_sexp(-200.0f) == 0.0f, "exp(-inf) = exp(-200) = 0");
    float edge[CLS_VW];
    for (int k = 0; k < CLS_VW; k++) edge[k] = k == 0 ? -INFINITY : (k == 1 ? -1000.0f : (k == 2 ? 0.0f : -0.5f * k));
    cls_vf v = cls_vexp(cls_vf_load(edge));
    CHECK(v[0] == 0.0f && v[1] == 0.0f && v[2] == 1.0f, "vector exp: -inf, -1000 -> 0, 0 -> 1");
    printf("exp helper: max error %.3f ulp (scalar), %.3f ulp (vector)\n", worst_s, worst_v);
}

/* dL/ds from a gradient: the heap path (more than 64 chunks of 256 rows)
 * against a plain double sum, status OK, same bits for 1 and 2 threads. (The
 * allocation-failure path returns CLS_E_NOMEM; it is not provoked here.) */
static void test_grad_scale_from(void)
{
    const int64_t n = 20000, d = 3;
    float *g = malloc((size_t)(n * d) * sizeof(float)), *x = malloc((size_t)(n * d) * sizeof(float));
    double ref = 0.0;
    for (int64_t i = 0; i < n * d; i++) {
        g[i] = (float)sin(0.37 * (double)i);
        x[i] = (float)cos(0.11 * (double)i);
        ref += (double)g[i] * (double)x[i];
    }
    double v1 = NAN, v2 = NAN;
    CHECK_STATUS(cls_grad_scale_from(&v1, g, x, n, d, 2.0, 1), CLS_OK, "grad scale, 1 thread");
    CHECK_STATUS(cls_grad_scale_from(&v2, g, x, n, d, 2.0, 2), CLS_OK, "grad scale, 2 threads");
    CHECK_CLOSE(v1, ref / 2.0, 1e-9, 1e-12, "grad scale over 79 chunks");
    CHECK(v1 == v2, "grad scale: same bits for 1 and 2 threads (%.17g vs %.17g)", v1, v2);
    free(g);
    free(x);
}

int main(void)
{
    test_grad_scale_from();
    test_exp_helper();
    test_defaults_workspace();
    test_bad_input();
    test_closed_forms();
    test_stress();
    test_fused_and_unfused_tiles();
    test_determinism();
    test_split_api();
    test_finite_differences();
    test_fast_vs_ref();
    return check_summary("test_loss");
}
