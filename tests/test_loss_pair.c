/* NT-Xent and SigLIP: fast tiled kernels against their float64 twins, the twins
 * against central finite differences, closed forms, stress cases, determinism,
 * thread counts and bad input. Every check states its tolerance. */
#include "clscale.h"
#include "check.h"
#include "loss/loss_internal.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

static cls_loss_options opts(cls_loss_kind kind, double s, double beta, int64_t tile, int threads)
{
    cls_loss_options o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.logit_scale = s;
    o.bias = beta;
    o.reduction = CLS_REDUCE_MEAN;
    o.tile = tile;
    o.threads = threads;
    return o;
}

/* Rows drawn from N(0, I) and scaled to `norm`. */
static void random_rows(cls_rng *rng, float *x, int64_t n, int64_t d, double norm)
{
    cls_rng_fill_normal_f32(rng, x, n * d);
    for (int64_t i = 0; i < n; i++) {
        double ss = 0.0;
        for (int64_t k = 0; k < d; k++) ss += (double)x[i * d + k] * x[i * d + k];
        double f = ss > 0.0 ? norm / sqrt(ss) : 0.0;
        for (int64_t k = 0; k < d; k++) x[i * d + k] = (float)(x[i * d + k] * f);
    }
}

static double *to_f64(const float *x, int64_t m)
{
    double *y = malloc((size_t)m * sizeof(double));
    for (int64_t i = 0; i < m; i++) y[i] = x[i];
    return y;
}

/* Fast (float) vs twin (double): returns max|g_ref| over both gradients and
 * writes max|diff| to *maxdiff. */
static double grad_compare(const float *ga, const float *gb, const double *ra, const double *rb, int64_t m,
                           double *maxdiff)
{
    double mg = 0.0, md = 0.0;
    for (int64_t i = 0; i < m; i++) {
        mg = fmax(mg, fmax(fabs(ra[i]), fabs(rb[i])));
        md = fmax(md, fmax(fabs(ga[i] - ra[i]), fabs(gb[i] - rb[i])));
    }
    *maxdiff = md;
    return mg;
}

typedef cls_status (*fast_fn)(cls_loss_result *, float *, float *, const float *, const float *, int64_t,
                              int64_t, const cls_loss_options *);
typedef cls_status (*ref_fn)(cls_loss_result *, double *, double *, const double *, const double *, int64_t,
                             int64_t, const cls_loss_options *);

static fast_fn fast_of(cls_loss_kind k) { return k == CLS_LOSS_NTXENT ? cls_ntxent_compute : cls_siglip_forward_backward; }
static ref_fn ref_of(cls_loss_kind k) { return k == CLS_LOSS_NTXENT ? cls_ntxent_ref : cls_siglip_ref; }
static const char *name_of(cls_loss_kind k) { return k == CLS_LOSS_NTXENT ? "ntxent" : "siglip"; }

/* Fast kernel vs twin on one problem: loss rel err <= loss_rtol (1e-6 in the
 * grid; atol 1e-12 for exactly-zero losses); gradients max|diff| <=
 * grad_rtol * max|g| (1e-5 in the grid); dL/ds, dL/dbeta within
 * grad_rtol * max(|ref|, max|g|) (atol 1e-12). */
static void compare_with_twin(cls_loss_kind kind, const float *a, const float *b, int64_t n, int64_t d,
                              const cls_loss_options *o, double loss_rtol, double grad_rtol, const char *what)
{
    const int64_t m = n * d;
    float *ga = malloc((size_t)m * sizeof(float)), *gb = malloc((size_t)m * sizeof(float));
    double *a64 = to_f64(a, m), *b64 = to_f64(b, m);
    double *ra = malloc((size_t)m * sizeof(double)), *rb = malloc((size_t)m * sizeof(double));
    cls_loss_result fr, rr;
    CHECK_STATUS(fast_of(kind)(&fr, ga, gb, a, b, n, d, o), CLS_OK, "%s fast %s", name_of(kind), what);
    CHECK_STATUS(ref_of(kind)(&rr, ra, rb, a64, b64, n, d, o), CLS_OK, "%s ref %s", name_of(kind), what);
    CHECK_CLOSE(fr.loss, rr.loss, 1e-12, loss_rtol, "%s loss %s", name_of(kind), what);
    double md, mg = grad_compare(ga, gb, ra, rb, m, &md);
    CHECK(md <= grad_rtol * mg, "%s grads %s: max|diff| %.3g > %g * max|g| (%.3g)", name_of(kind), what, md,
          grad_rtol, mg);
    double gscale = fmax(fabs(rr.grad_logit_scale), mg);
    CHECK_CLOSE(fr.grad_logit_scale, rr.grad_logit_scale, 1e-12 + grad_rtol * gscale, 0.0, "%s dL/ds %s",
                name_of(kind), what);
    CHECK_CLOSE(fr.grad_bias, rr.grad_bias, 1e-12 + grad_rtol * fmax(fabs(rr.grad_bias), mg), 0.0,
                "%s dL/dbeta %s", name_of(kind), what);
    free(ga), free(gb), free(a64), free(b64), free(ra), free(rb);
}

/* The shape grid: every value of n, d, s appears; tiles that divide and that
 * do not divide n; automatic tiles; both reductions; label smoothing. */
static void test_shapes(void)
{
    static const struct { int64_t n, d; double s; int64_t tile; } cases[] = {
        {1, 3, 1.0, 0},      {2, 1, 14.3, 1},     {3, 17, 100.0, 2},  {7, 64, 0.01, 3},
        {7, 513, 14.3, 0},   {64, 17, 14.3, 16},  {64, 513, 100.0, 24}, {64, 1, 100.0, 0},
        {1000, 64, 14.3, 0}, {1000, 3, 100.0, 200}, {3, 513, 0.01, 0}, {4099, 17, 1.0, 0},
    };
    cls_rng rng;
    cls_rng_seed(&rng, 20260101);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int64_t n = cases[c].n, d = cases[c].d;
        float *a = malloc((size_t)(n * d) * sizeof(float)), *b = malloc((size_t)(n * d) * sizeof(float));
        random_rows(&rng, a, n, d, 1.0);
        random_rows(&rng, b, n, d, 1.0);
        char what[128];
        snprintf(what, sizeof what, "n=%lld d=%lld s=%g tile=%lld", (long long)n, (long long)d, cases[c].s,
                 (long long)cases[c].tile);
        cls_loss_options o = opts(CLS_LOSS_NTXENT, cases[c].s, 0.0, cases[c].tile, 2);
        compare_with_twin(CLS_LOSS_NTXENT, a, b, n, d, &o, 1e-6, 1e-5, what);
        /* SigLIP with the default bias and a bias that makes positives and negatives both matter */
        o = opts(CLS_LOSS_SIGLIP, cases[c].s, c % 2 ? -10.0 : -0.5 * cases[c].s, cases[c].tile, 2);
        compare_with_twin(CLS_LOSS_SIGLIP, a, b, n, d, &o, 1e-6, 1e-5, what);
        if (n <= 1000 && d <= 64) { /* sum reduction, label smoothing */
            o = opts(CLS_LOSS_NTXENT, cases[c].s, 0.0, cases[c].tile, 2);
            o.reduction = CLS_REDUCE_SUM;
            o.label_smoothing = 0.1;
            compare_with_twin(CLS_LOSS_NTXENT, a, b, n, d, &o, 1e-6, 1e-5, what);
            o = opts(CLS_LOSS_SIGLIP, cases[c].s, 2.0, cases[c].tile, 2);
            o.reduction = CLS_REDUCE_SUM;
            compare_with_twin(CLS_LOSS_SIGLIP, a, b, n, d, &o, 1e-6, 1e-5, what);
        }
        free(a), free(b);
    }
}

/* Loss of a twin at (a, b, s, beta) for finite differences. */
static double twin_loss(cls_loss_kind kind, const double *a, const double *b, int64_t n, int64_t d,
                        cls_loss_options o)
{
    cls_loss_result r;
    cls_status st = ref_of(kind)(&r, NULL, NULL, a, b, n, d, &o);
    return st == CLS_OK ? r.loss : NAN;
}

/* Twins against central differences (h = 1e-6, double): every coordinate of
 * a and b, s and beta; |fd - analytic| <= 1e-7 + 1e-6 |analytic|. */
static void test_finite_differences(void)
{
    const int64_t n = 3, d = 4, m = n * d;
    cls_rng rng;
    cls_rng_seed(&rng, 7);
    double a[12], b[12], ga[12], gb[12];
    cls_rng_fill_normal_f64(&rng, a, m);
    cls_rng_fill_normal_f64(&rng, b, m);
    const double h = 1e-6;
    for (int variant = 0; variant < 4; variant++) {
        cls_loss_kind kind = variant < 2 ? CLS_LOSS_NTXENT : CLS_LOSS_SIGLIP;
        cls_loss_options o = opts(kind, 2.5, -1.5, 0, 1);
        if (variant % 2) {
            o.reduction = CLS_REDUCE_SUM;
            if (kind == CLS_LOSS_NTXENT) o.label_smoothing = 0.2;
            o.bias = 0.7;
        }
        cls_loss_result r;
        CHECK_STATUS(ref_of(kind)(&r, ga, gb, a, b, n, d, &o), CLS_OK, "fd base");
        for (int side = 0; side < 2; side++) {
            double *x = side ? b : a, *g = side ? gb : ga;
            for (int64_t k = 0; k < m; k++) {
                double keep = x[k];
                x[k] = keep + h;
                double lp = twin_loss(kind, a, b, n, d, o);
                x[k] = keep - h;
                double lm = twin_loss(kind, a, b, n, d, o);
                x[k] = keep;
                CHECK_CLOSE(g[k], (lp - lm) / (2 * h), 1e-7, 1e-6, "%s fd d%c[%lld] variant %d",
                            name_of(kind), side ? 'b' : 'a', (long long)k, variant);
            }
        }
        cls_loss_options op = o, om = o;
        op.logit_scale += h;
        om.logit_scale -= h;
        CHECK_CLOSE(r.grad_logit_scale, (twin_loss(kind, a, b, n, d, op) - twin_loss(kind, a, b, n, d, om)) / (2 * h),
                    1e-7, 1e-6, "%s fd dL/ds variant %d", name_of(kind), variant);
        if (kind == CLS_LOSS_SIGLIP) {
            op = o, om = o;
            op.bias += h;
            om.bias -= h;
            CHECK_CLOSE(r.grad_bias, (twin_loss(kind, a, b, n, d, op) - twin_loss(kind, a, b, n, d, om)) / (2 * h),
                        1e-7, 1e-6, "siglip fd dL/dbeta variant %d", variant);
        }
    }
}

/* Run the fast kernel; returns loss and the largest |gradient entry|. */
static cls_loss_result run_fast(cls_loss_kind kind, const float *a, const float *b, int64_t n, int64_t d,
                                const cls_loss_options *o, float *ga, float *gb, double *gmax, int *finite)
{
    cls_loss_result r;
    memset(&r, 0, sizeof r);
    CHECK_STATUS(fast_of(kind)(&r, ga, gb, a, b, n, d, o), CLS_OK, "%s run", name_of(kind));
    double mg = 0.0;
    int ok = isfinite(r.loss) && isfinite(r.grad_logit_scale) && isfinite(r.grad_bias);
    for (int64_t i = 0; i < n * d; i++) {
        ok = ok && isfinite(ga[i]) && isfinite(gb[i]);
        mg = fmax(mg, fmax(fabs(ga[i]), fabs(gb[i])));
    }
    *gmax = mg;
    *finite = ok;
    return r;
}

static double softplus(double t) { return (t > 0 ? t : 0) + log1p(exp(-fabs(t))); }
static double sigmoid(double t) { return t >= 0 ? 1 / (1 + exp(-t)) : exp(t) / (1 + exp(t)); }

/* Closed forms (fast kernel, loss rel 1e-6 unless stated). */
static void test_closed_forms(void)
{
    const int64_t d = 8;
    float a[64 * 8], b[64 * 8], ga[64 * 8], gb[64 * 8];
    double gmax;
    int fin;
    cls_rng rng;
    cls_rng_seed(&rng, 99);
    float v[8], u[8];
    random_rows(&rng, v, 1, d, 1.0);
    random_rows(&rng, u, 1, d, 1.0);
    double vu = 0.0;
    for (int k = 0; k < d; k++) vu += (double)v[k] * u[k];

    /* NT-Xent, identical rows: every row's LSE is over 2n-1 equal logits and the
     * positive equals them -> loss = ln(2n-1), all gradients 0 (atol 1e-5). */
    for (int64_t n = 1; n <= 5; n += 4) {
        for (int64_t i = 0; i < n; i++) memcpy(a + i * d, v, sizeof v), memcpy(b + i * d, v, sizeof v);
        cls_loss_options o = opts(CLS_LOSS_NTXENT, 14.3, 0, 2, 2);
        cls_loss_result r = run_fast(CLS_LOSS_NTXENT, a, b, n, d, &o, ga, gb, &gmax, &fin);
        CHECK_CLOSE(r.loss, log(2.0 * n - 1), 1e-7, 1e-6, "ntxent identical rows n=%lld", (long long)n);
        CHECK(gmax <= 1e-5 && fabs(r.grad_logit_scale) <= 1e-5, "ntxent identical rows grads %g ds %g", gmax,
              r.grad_logit_scale);
    }
    /* NT-Xent, A = B = orthonormal rows (d >= n): loss = ln(1 + (2n-2) e^{-s}). */
    {
        const int64_t n = 6;
        memset(a, 0, sizeof a);
        for (int64_t i = 0; i < n; i++) a[i * d + i] = 1.0f;
        memcpy(b, a, sizeof a);
        for (double s = 0.5; s <= 50; s *= 10) {
            cls_loss_options o = opts(CLS_LOSS_NTXENT, s, 0, 4, 2);
            cls_loss_result r = run_fast(CLS_LOSS_NTXENT, a, b, n, d, &o, ga, gb, &gmax, &fin);
            double want = log1p((2.0 * n - 2) * exp(-s));
            CHECK_CLOSE(r.loss, want, 1e-12, 1e-5, "ntxent orthonormal s=%g", s);
            double a64[64 * 8], b64[64 * 8];
            for (int k = 0; k < n * d; k++) a64[k] = a[k], b64[k] = b[k];
            CHECK_STATUS(cls_ntxent_ref(&r, NULL, NULL, a64, b64, n, d, &o), CLS_OK, "ref");
            CHECK_CLOSE(r.loss, want, 1e-15, 1e-12, "ntxent twin orthonormal s=%g", s);
        }
    }
    /* NT-Xent n = 1: the only candidate is the positive -> loss 0, zero grads. */
    {
        random_rows(&rng, a, 1, d, 1.0);
        random_rows(&rng, b, 1, d, 1.0);
        cls_loss_options o = opts(CLS_LOSS_NTXENT, 14.3, 0, 0, 1);
        cls_loss_result r = run_fast(CLS_LOSS_NTXENT, a, b, 1, d, &o, ga, gb, &gmax, &fin);
        CHECK(fabs(r.loss) <= 1e-6 && gmax <= 1e-6 && fabs(r.grad_logit_scale) <= 1e-6,
              "ntxent n=1: loss %g grads %g ds %g (atol 1e-6)", r.loss, gmax, r.grad_logit_scale);
    }
    /* SigLIP, all rows of A = v and of B = u: every logit x = s v.u + beta;
     * loss = softplus(-x) + (n-1) softplus(x); dL/dbeta = -sig(-x) + (n-1) sig(x);
     * dL/ds = v.u dL/dbeta; dA_i = s u dL/dbeta / n. */
    for (int64_t n = 1; n <= 64; n *= 4) {
        for (int64_t i = 0; i < n; i++) memcpy(a + i * d, v, sizeof v), memcpy(b + i * d, u, sizeof u);
        const double s = 7.0, beta = -3.0, x = s * vu + beta;
        cls_loss_options o = opts(CLS_LOSS_SIGLIP, s, beta, 5, 2);
        cls_loss_result r = run_fast(CLS_LOSS_SIGLIP, a, b, n, d, &o, ga, gb, &gmax, &fin);
        const double gbeta = -sigmoid(-x) + (n - 1) * sigmoid(x);
        CHECK_CLOSE(r.loss, softplus(-x) + (n - 1) * softplus(x), 0, 1e-6, "siglip equal logits n=%lld", (long long)n);
        CHECK_CLOSE(r.grad_bias, gbeta, 1e-6, 1e-6, "siglip equal logits dbeta n=%lld", (long long)n);
        CHECK_CLOSE(r.grad_logit_scale, vu * gbeta, 1e-6, 1e-6, "siglip equal logits ds n=%lld", (long long)n);
        double md = 0.0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < d; k++) md = fmax(md, fabs(ga[i * d + k] - s * u[k] * gbeta / n));
        CHECK(md <= 1e-5 * fabs(s * gbeta / n) + 1e-7, "siglip equal logits dA max|diff| %g", md);
    }
    /* SigLIP, A = B = orthonormal rows: loss = softplus(-(s+beta)) + (n-1) softplus(beta). */
    {
        const int64_t n = 8;
        memset(a, 0, sizeof a);
        for (int64_t i = 0; i < n; i++) a[i * d + i] = 1.0f;
        memcpy(b, a, sizeof a);
        cls_loss_options o = opts(CLS_LOSS_SIGLIP, 10.0, -10.0, 3, 2);
        cls_loss_result r = run_fast(CLS_LOSS_SIGLIP, a, b, n, d, &o, ga, gb, &gmax, &fin);
        CHECK_CLOSE(r.loss, softplus(-0.0) + (n - 1) * softplus(-10.0), 0, 1e-6, "siglip orthonormal");
    }
}

/* Stress: s = 100 with every cosine 1, every positive logit -s, huge norms,
 * duplicated rows: finite everything, closed forms / twin where known. */
static void test_stress(void)
{
    const int64_t n = 300, d = 64;
    float *a = malloc(n * d * sizeof(float)), *b = malloc(n * d * sizeof(float));
    float *ga = malloc(n * d * sizeof(float)), *gb = malloc(n * d * sizeof(float));
    double gmax;
    int fin;
    cls_rng rng;
    cls_rng_seed(&rng, 5);
    float v[64];
    random_rows(&rng, v, 1, d, 1.0);
    const double s = 100.0;
    /* all cosines 1 */
    for (int64_t i = 0; i < n; i++) memcpy(a + i * d, v, sizeof v), memcpy(b + i * d, v, sizeof v);
    cls_loss_options o = opts(CLS_LOSS_NTXENT, s, 0, 0, 2);
    cls_loss_result r = run_fast(CLS_LOSS_NTXENT, a, b, n, d, &o, ga, gb, &gmax, &fin);
    CHECK(fin, "ntxent s=100 cosines 1: non-finite output");
    CHECK_CLOSE(r.loss, log(2.0 * n - 1), 0, 1e-6, "ntxent s=100 cosines 1");
    o = opts(CLS_LOSS_SIGLIP, s, -10.0, 0, 2);
    r = run_fast(CLS_LOSS_SIGLIP, a, b, n, d, &o, ga, gb, &gmax, &fin);
    CHECK(fin, "siglip s=100 cosines 1: non-finite output");
    CHECK_CLOSE(r.loss, softplus(-90.0) + (n - 1) * softplus(90.0), 0, 1e-6, "siglip s=100 cosines 1");
    /* B = -A: every positive (and every SigLIP) logit is -s */
    for (int64_t i = 0; i < n * d; i++) b[i] = -a[i];
    o = opts(CLS_LOSS_NTXENT, s, 0, 0, 2);
    r = run_fast(CLS_LOSS_NTXENT, a, b, n, d, &o, ga, gb, &gmax, &fin);
    CHECK(fin, "ntxent positives -s: non-finite output");
    CHECK_CLOSE(r.loss, 2 * s + log((n - 1) + n * exp(-2 * s)), 0, 1e-6, "ntxent positives -s");
    o = opts(CLS_LOSS_SIGLIP, s, 0.0, 0, 2);
    r = run_fast(CLS_LOSS_SIGLIP, a, b, n, d, &o, ga, gb, &gmax, &fin);
    CHECK(fin, "siglip logits -s: non-finite output");
    CHECK_CLOSE(r.loss, softplus(s) + (n - 1) * softplus(-s), 0, 1e-6, "siglip logits -s");
    /* duplicates (every row appears 3 times) and norms of 10 at s = 100 (logits up to 1e4) */
    random_rows(&rng, a, n / 3, d, 10.0);
    random_rows(&rng, b, n / 3, d, 10.0);
    for (int64_t i = n / 3; i < n; i++) memcpy(a + i * d, a + (i % (n / 3)) * d, d * sizeof(float)),
                                          memcpy(b + i * d, b + (i % (n / 3)) * d, d * sizeof(float));
    for (int k = 0; k < 2; k++) {
        cls_loss_kind kind = k ? CLS_LOSS_SIGLIP : CLS_LOSS_NTXENT;
        o = opts(kind, s, -10.0, 64, 2);
        r = run_fast(kind, a, b, n, d, &o, ga, gb, &gmax, &fin);
        CHECK(fin, "%s duplicates, norm 10, s=100: non-finite output", name_of(kind));
        /* Logits up to s*|z|^2 = 1e4 carry a float rounding error of ~1e-3
         * absolute (the inputs are float, the twin's logits exact), which moves
         * softmax weights by ~1e-3 relative: loss rel 1e-5, grads 5e-3 max|g|. */
        compare_with_twin(kind, a, b, n, d, &o, 1e-5, 5e-3, "duplicates, norm 10, s=100");
        random_rows(&rng, a, n, d, 1.0);
        compare_with_twin(kind, a, b, n, d, &o, 1e-5, 5e-3, "duplicated rows of B (norm 10), s=100");
    }
    free(a), free(b), free(ga), free(gb);
}

/* Same input twice -> identical bits; 1, 2, 3 threads -> agreement to 1e-6
 * (by construction the bits agree too, which is checked as well). */
static void test_determinism(void)
{
    const int64_t n = 777, d = 40, m = n * d;
    cls_rng rng;
    cls_rng_seed(&rng, 11);
    float *a = malloc(m * sizeof(float)), *b = malloc(m * sizeof(float));
    random_rows(&rng, a, n, d, 1.0);
    random_rows(&rng, b, n, d, 1.0);
    for (int k = 0; k < 2; k++) {
        cls_loss_kind kind = k ? CLS_LOSS_SIGLIP : CLS_LOSS_NTXENT;
        float *g[4][2];
        cls_loss_result r[4];
        const int threads[4] = {2, 2, 1, 3};
        for (int t = 0; t < 4; t++) {
            g[t][0] = malloc(m * sizeof(float));
            g[t][1] = malloc(m * sizeof(float));
            cls_loss_options o = opts(kind, 14.3, -10.0, 100, threads[t]);
            CHECK_STATUS(fast_of(kind)(&r[t], g[t][0], g[t][1], a, b, n, d, &o), CLS_OK, "determinism run");
        }
        CHECK(memcmp(&r[0], &r[1], sizeof r[0]) == 0 && memcmp(g[0][0], g[1][0], m * sizeof(float)) == 0 &&
                  memcmp(g[0][1], g[1][1], m * sizeof(float)) == 0,
              "%s: same input twice gave different bits", name_of(kind));
        for (int t = 2; t < 4; t++) {
            CHECK_CLOSE(r[t].loss, r[0].loss, 0, 1e-6, "%s loss threads %d vs 2", name_of(kind), threads[t]);
            double md = 0, mg = 0;
            for (int64_t i = 0; i < m; i++)
                for (int s = 0; s < 2; s++) {
                    md = fmax(md, fabs(g[t][s][i] - g[0][s][i]));
                    mg = fmax(mg, fabs(g[0][s][i]));
                }
            CHECK(md <= 1e-6 * mg, "%s grads threads %d vs 2: %g", name_of(kind), threads[t], md);
            CHECK(memcmp(g[t][0], g[0][0], m * sizeof(float)) == 0 && r[t].loss == r[0].loss,
                  "%s threads %d vs 2: bits differ", name_of(kind), threads[t]);
        }
        for (int t = 0; t < 4; t++) free(g[t][0]), free(g[t][1]);
    }
    /* the caller's OpenMP default team size survives a call (OpenBLAS's
     * thread setter would otherwise reset it) */
    omp_set_num_threads(3);
    cls_loss_result r;
    float *ga = malloc(m * sizeof(float)), *gb = malloc(m * sizeof(float));
    cls_loss_options o = opts(CLS_LOSS_NTXENT, 14.3, -10.0, 0, 2);
    CHECK_STATUS(cls_ntxent_compute(&r, ga, gb, a, b, n, d, &o), CLS_OK, "ntxent");
    o.kind = CLS_LOSS_SIGLIP;
    CHECK_STATUS(cls_siglip_forward_backward(&r, ga, gb, a, b, n, d, &o), CLS_OK, "siglip");
    CHECK(omp_get_max_threads() == 3, "OpenMP default team size changed to %d", omp_get_max_threads());
    free(ga), free(gb);
    free(a), free(b);
}

/* The split NT-Xent API (forward saves float lse, backward consumes it) agrees
 * with the one-call path: loss identical, grads within 1e-5 max|g|; and a
 * NULL grad_b still gives the same grad_a. */
static void test_ntxent_split(void)
{
    const int64_t n = 200, d = 32, m = n * d;
    cls_rng rng;
    cls_rng_seed(&rng, 12);
    float *a = malloc(m * sizeof(float)), *b = malloc(m * sizeof(float)), *lse = malloc(2 * n * sizeof(float));
    float *ga = malloc(m * sizeof(float)), *gb = malloc(m * sizeof(float));
    float *ha = malloc(m * sizeof(float)), *hb = malloc(m * sizeof(float));
    random_rows(&rng, a, n, d, 1.0);
    random_rows(&rng, b, n, d, 1.0);
    cls_loss_options o = opts(CLS_LOSS_NTXENT, 14.3, 0, 48, 2);
    cls_loss_result r;
    double loss = 0, gs = 0;
    CHECK_STATUS(cls_ntxent_compute(&r, ga, gb, a, b, n, d, &o), CLS_OK, "compute");
    CHECK_STATUS(cls_ntxent_forward(&loss, lse, a, b, n, d, &o), CLS_OK, "forward");
    CHECK_STATUS(cls_ntxent_backward(ha, hb, &gs, lse, a, b, n, d, &o), CLS_OK, "backward");
    CHECK(loss == r.loss, "split forward loss %.17g vs %.17g", loss, r.loss);
    double md = 0, mg = 0;
    for (int64_t i = 0; i < m; i++) {
        md = fmax(md, fmax(fabs(ha[i] - ga[i]), fabs(hb[i] - gb[i])));
        mg = fmax(mg, fmax(fabs(ga[i]), fabs(gb[i])));
    }
    CHECK(md <= 1e-5 * mg, "split grads max|diff| %g vs max|g| %g", md, mg);
    CHECK_CLOSE(gs, r.grad_logit_scale, 1e-5 * mg, 0, "split dL/ds");
    CHECK_STATUS(cls_ntxent_compute(&r, ha, NULL, a, b, n, d, &o), CLS_OK, "compute grad_b NULL");
    CHECK(memcmp(ha, ga, m * sizeof(float)) == 0, "grad_a with grad_b NULL differs");
    free(a), free(b), free(lse), free(ga), free(gb), free(ha), free(hb);
}

/* Bad input: status + message naming the problem; outputs untouched. */
static void test_bad_input(void)
{
    const int64_t n = 4, d = 3, m = n * d;
    float a[12], b[12], ga[12], gb[12], lse[8];
    double a64[12], b64[12], ra[12];
    for (int i = 0; i < m; i++) a[i] = b[i] = (float)(0.1 * i), a64[i] = b64[i] = 0.1 * i;
    const float sentinel = 12345.0f;
    for (int k = 0; k < 2; k++) {
        cls_loss_kind kind = k ? CLS_LOSS_SIGLIP : CLS_LOSS_NTXENT;
        for (int i = 0; i < m; i++) ga[i] = gb[i] = sentinel;
        cls_loss_result r = {-1.0, -2.0, -3.0};
        cls_loss_options o = opts(kind, 10.0, -10.0, 0, 2);
        a[2 * d + 1] = NAN;
        CHECK_STATUS(fast_of(kind)(&r, ga, gb, a, b, n, d, &o), CLS_E_NONFINITE, "%s NaN", name_of(kind));
        CHECK(strstr(cls_last_error(), "a[2][1] is NaN") != NULL, "message: %s", cls_last_error());
        a[2 * d + 1] = 0.0f;
        b[3 * d + 2] = -INFINITY;
        CHECK_STATUS(fast_of(kind)(&r, ga, gb, a, b, n, d, &o), CLS_E_NONFINITE, "%s Inf", name_of(kind));
        CHECK(strstr(cls_last_error(), "b[3][2] is Inf") != NULL, "message: %s", cls_last_error());
        b[3 * d + 2] = 0.0f;
        a64[1] = NAN;
        CHECK_STATUS(ref_of(kind)(&r, ra, ra, a64, b64, n, d, &o), CLS_E_NONFINITE, "%s ref NaN", name_of(kind));
        CHECK(strstr(cls_last_error(), "a[0][1] is NaN") != NULL, "message: %s", cls_last_error());
        a64[1] = 0.1;
        CHECK_STATUS(fast_of(kind)(&r, ga, gb, a, b, 0, d, &o), CLS_E_SHAPE, "%s n=0", name_of(kind));
        CHECK_STATUS(fast_of(kind)(&r, ga, gb, a, b, n, 0, &o), CLS_E_SHAPE, "%s d=0", name_of(kind));
        CHECK_STATUS(fast_of(kind)(&r, ga, gb, NULL, b, n, d, &o), CLS_E_INVALID_ARG, "%s a NULL", name_of(kind));
        CHECK_STATUS(fast_of(kind)(&r, ga, gb, a, b, n, d, NULL), CLS_E_INVALID_ARG, "%s options NULL", name_of(kind));
        const double bad_s[] = {0.0, -1.0, NAN, INFINITY};
        for (int t = 0; t < 4; t++) {
            o.logit_scale = bad_s[t];
            CHECK_STATUS(fast_of(kind)(&r, ga, gb, a, b, n, d, &o), CLS_E_INVALID_ARG, "%s s=%g", name_of(kind), bad_s[t]);
            CHECK(strstr(cls_last_error(), "logit scale") != NULL, "message: %s", cls_last_error());
            CHECK_STATUS(ref_of(kind)(&r, ra, ra, a64, b64, n, d, &o), CLS_E_INVALID_ARG, "%s ref s=%g", name_of(kind), bad_s[t]);
        }
        o.logit_scale = 10.0;
        if (kind == CLS_LOSS_SIGLIP) {
            o.bias = NAN;
            CHECK_STATUS(fast_of(kind)(&r, ga, gb, a, b, n, d, &o), CLS_E_INVALID_ARG, "siglip bias NaN");
            CHECK(strstr(cls_last_error(), "bias") != NULL, "message: %s", cls_last_error());
            o.bias = -10.0;
        } else {
            o.label_smoothing = 1.0;
            CHECK_STATUS(fast_of(kind)(&r, ga, gb, a, b, n, d, &o), CLS_E_INVALID_ARG, "ntxent smoothing 1");
            o.label_smoothing = 0.0;
        }
        o.tile = -3;
        CHECK_STATUS(fast_of(kind)(&r, ga, gb, a, b, n, d, &o), CLS_E_INVALID_ARG, "%s tile -3", name_of(kind));
        int untouched = r.loss == -1.0 && r.grad_logit_scale == -2.0 && r.grad_bias == -3.0;
        for (int i = 0; i < m; i++) untouched = untouched && ga[i] == sentinel && gb[i] == sentinel;
        CHECK(untouched, "%s: outputs changed on failure", name_of(kind));
    }
    /* the split NT-Xent API */
    cls_loss_options o = opts(CLS_LOSS_NTXENT, 10.0, 0, 0, 1);
    double loss = -1.0, gs = -2.0;
    for (int i = 0; i < 8; i++) lse[i] = sentinel;
    a[5] = NAN;
    CHECK_STATUS(cls_ntxent_forward(&loss, lse, a, b, n, d, &o), CLS_E_NONFINITE, "forward NaN");
    CHECK(loss == -1.0 && lse[0] == sentinel, "forward outputs changed on failure");
    a[5] = 0.0f;
    lse[3] = NAN;
    CHECK_STATUS(cls_ntxent_backward(ga, gb, &gs, lse, a, b, n, d, &o), CLS_E_NONFINITE, "backward NaN lse");
    CHECK(strstr(cls_last_error(), "lse[3] is NaN") != NULL, "message: %s", cls_last_error());
    CHECK(gs == -2.0 && ga[0] == sentinel, "backward outputs changed on failure");
}

int main(void)
{
    test_bad_input();
    test_finite_differences();
    test_closed_forms();
    test_stress();
    test_determinism();
    test_ntxent_split();
    test_shapes();
    return check_summary("test_loss_pair");
}
