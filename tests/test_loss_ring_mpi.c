/* CLIP on a ring of MPI ranks (run with mpirun -np 1, 2, 3): every rank holds
 * an unequal slice of the batch. The ring's loss and gradients are compared
 * (1) with the same computation on one process (the ring on MPI_COMM_SELF:
 * the single-process tiled algorithm, float): loss rel 1e-6, gradients
 * max|diff| <= 1e-6 * max|g|, always; and (2) with a float64 reference on the
 * full logits written here (itself checked by finite differences and a closed
 * form). Tolerances for (2): loss relative error <= 1e-6; gradients max|diff| <= 1e-6 * max|g|
 * for logits up to ~14 (the spec's ring requirement), dL/ds within grad_rtol *
 * max(|ref|, max|g|). Where logits reach 60-100 (s = 100, or rows of norm up
 * to 2.5) the float rounding of the logits alone (~|X| * 6e-8) moves softmax
 * weights by ~5e-6 relative, and with ~1000+ rows the float accumulation of
 * small, cancelling gradient terms does the same, so those cases use the
 * single-process kernels' 1e-5 * max|g| against float64. */
#include "clscale.h"
#include "clscale/loss_mpi.h"
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Reference CLIP in double (full logits), as documented in loss_mpi.h:
 * q_ij = (1-e)[i==j] + e/n, w = 1/(2n) (mean) or 1/2 (sum),
 * L = w sum_i (r_i - sum_j q_ij X_ij) + w sum_j (c_j - sum_i q_ij X_ij). */
static void clip_ref(double *loss, double *dls, double *ga, double *gb, const double *a0, const double *b0,
                     int64_t n, int64_t d, double s, double e, int sum, int normalize)
{
    double *a = malloc(n * d * sizeof(double)), *b = malloc(n * d * sizeof(double));
    double *X = malloc(n * n * sizeof(double)), *r = malloc(n * sizeof(double)), *c = malloc(n * sizeof(double));
    memcpy(a, a0, n * d * sizeof(double));
    memcpy(b, b0, n * d * sizeof(double));
    if (normalize)
        for (int64_t i = 0; i < n; i++)
            for (int side = 0; side < 2; side++) {
                double *x = (side ? b : a) + i * d, ss = 0;
                for (int64_t k = 0; k < d; k++) ss += x[k] * x[k];
                for (int64_t k = 0; k < d; k++) x[k] /= sqrt(ss);
            }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double t = 0;
            for (int64_t k = 0; k < d; k++) t += a[i * d + k] * b[j * d + k];
            X[i * n + j] = s * t;
        }
    for (int64_t i = 0; i < n; i++) {
        double mr = -INFINITY, mc = -INFINITY, sr = 0, sc = 0;
        for (int64_t j = 0; j < n; j++) mr = fmax(mr, X[i * n + j]), mc = fmax(mc, X[j * n + i]);
        for (int64_t j = 0; j < n; j++) sr += exp(X[i * n + j] - mr), sc += exp(X[j * n + i] - mc);
        r[i] = mr + log(sr);
        c[i] = mc + log(sc);
    }
    const double w = sum ? 0.5 : 1.0 / (2.0 * n);
    double L = 0, S = 0;
    for (int64_t i = 0; i < n; i++) L += w * (r[i] + c[i]);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            const double q = (i == j ? 1.0 - e : 0.0) + e / n, x = X[i * n + j];
            L -= 2 * w * q * x;
            const double g = w * (exp(x - r[i]) + exp(x - c[j]) - 2 * q);
            S += g * x;
            X[i * n + j] = g;
        }
    *loss = L;
    *dls = S / s;
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < d; k++) {
            double ta = 0, tb = 0;
            for (int64_t j = 0; j < n; j++) ta += X[i * n + j] * b[j * d + k], tb += X[j * n + i] * a[j * d + k];
            ga[i * d + k] = s * ta;
            gb[i * d + k] = s * tb;
        }
    if (normalize) /* back through x_hat = x / |x| */
        for (int64_t i = 0; i < n; i++)
            for (int side = 0; side < 2; side++) {
                const double *x0 = (side ? b0 : a0) + i * d;
                double *g = (side ? gb : ga) + i * d, ss = 0, dot = 0;
                for (int64_t k = 0; k < d; k++) ss += x0[k] * x0[k], dot += x0[k] * g[k];
                for (int64_t k = 0; k < d; k++) g[k] = (g[k] - x0[k] * dot / ss) / sqrt(ss);
            }
    free(a), free(b), free(X), free(r), free(c);
}

/* The reference itself against central differences (h = 1e-6; atol 1e-7 + rtol 1e-6). */
static void test_reference_fd(void)
{
    const int64_t n = 3, d = 4;
    double a[12], b[12], ga[12], gb[12], ha[12], hb[12], L, S, Lp, Lm, t;
    cls_rng rng;
    cls_rng_seed(&rng, 3);
    cls_rng_fill_normal_f64(&rng, a, n * d);
    cls_rng_fill_normal_f64(&rng, b, n * d);
    const double h = 1e-6;
    for (int variant = 0; variant < 2; variant++) {
        const double s = 2.0, e = variant ? 0.1 : 0.0;
        clip_ref(&L, &S, ga, gb, a, b, n, d, s, e, variant, variant);
        for (int64_t k = 0; k < n * d; k++) {
            double keep = a[k];
            a[k] = keep + h;
            clip_ref(&Lp, &t, ha, hb, a, b, n, d, s, e, variant, variant);
            a[k] = keep - h;
            clip_ref(&Lm, &t, ha, hb, a, b, n, d, s, e, variant, variant);
            a[k] = keep;
            CHECK_CLOSE(ga[k], (Lp - Lm) / (2 * h), 1e-7, 1e-6, "reference fd da[%lld] variant %d", (long long)k, variant);
            keep = b[k];
            b[k] = keep + h;
            clip_ref(&Lp, &t, ha, hb, a, b, n, d, s, e, variant, variant);
            b[k] = keep - h;
            clip_ref(&Lm, &t, ha, hb, a, b, n, d, s, e, variant, variant);
            b[k] = keep;
            CHECK_CLOSE(gb[k], (Lp - Lm) / (2 * h), 1e-7, 1e-6, "reference fd db[%lld] variant %d", (long long)k, variant);
        }
        clip_ref(&Lp, &t, ha, hb, a, b, n, d, s + h, e, variant, variant);
        clip_ref(&Lm, &t, ha, hb, a, b, n, d, s - h, e, variant, variant);
        CHECK_CLOSE(S, (Lp - Lm) / (2 * h), 1e-7, 1e-6, "reference fd ds variant %d", variant);
    }
    /* closed form: A = B = orthonormal rows -> loss = ln(1 + (n-1) e^{-s}) */
    double I[16] = {0};
    for (int i = 0; i < 4; i++) I[i * 4 + i] = 1;
    clip_ref(&L, &S, ha, hb, I, I, 4, 4, 3.0, 0.0, 0, 0);
    CHECK_CLOSE(L, log1p(3 * exp(-3.0)), 1e-15, 1e-12, "reference orthonormal closed form");
}

typedef struct {
    int rank, P;
    int64_t n, d, nl, off;
    float *a, *b;       /* global, float */
    double *a64, *b64;  /* the same values in double */
} problem;

static problem make_problem(int rank, int P, int64_t base, int64_t d, double norm_spread, uint64_t seed)
{
    problem pr = {rank, P, 0, d, 0, 0, NULL, NULL, NULL, NULL};
    for (int q = 0; q < P; q++) {
        int64_t nq = base + (base * 3 / 4) * q; /* unequal slices */
        if (q < rank) pr.off += nq;
        if (q == rank) pr.nl = nq;
        pr.n += nq;
    }
    cls_rng rng;
    cls_rng_seed(&rng, seed); /* every rank builds the same global batch */
    pr.a = malloc(pr.n * d * sizeof(float));
    pr.b = malloc(pr.n * d * sizeof(float));
    cls_rng_fill_normal_f32(&rng, pr.a, pr.n * d);
    cls_rng_fill_normal_f32(&rng, pr.b, pr.n * d);
    for (int64_t i = 0; i < pr.n; i++) { /* unit rows, or rows of norm in [0.5, 0.5 + spread] */
        for (int side = 0; side < 2; side++) {
            float *x = (side ? pr.b : pr.a) + i * d;
            double ss = 0;
            for (int64_t k = 0; k < d; k++) ss += (double)x[k] * x[k];
            double f = (norm_spread > 0 ? 0.5 + norm_spread * cls_rng_uniform(&rng) : 1.0) / sqrt(ss);
            for (int64_t k = 0; k < d; k++) x[k] = (float)(x[k] * f);
        }
    }
    pr.a64 = malloc(pr.n * d * sizeof(double));
    pr.b64 = malloc(pr.n * d * sizeof(double));
    for (int64_t i = 0; i < pr.n * d; i++) pr.a64[i] = pr.a[i], pr.b64[i] = pr.b[i];
    return pr;
}

static void free_problem(problem *pr) { free(pr->a), free(pr->b), free(pr->a64), free(pr->b64); }

static cls_loss_options ring_opts(double s, int64_t tile, int threads)
{
    cls_loss_options o;
    memset(&o, 0, sizeof o);
    o.kind = CLS_LOSS_CLIP;
    o.logit_scale = s;
    o.bias = -10.0;
    o.reduction = CLS_REDUCE_MEAN;
    o.tile = tile;
    o.threads = threads;
    return o;
}

/* Ring vs reference on this rank's rows; also the loss has the same bits on every rank. */
static void compare_ring(const problem *pr, const cls_loss_options *o, double grad_rtol, const char *what)
{
    const int64_t d = pr->d, m = pr->nl * d;
    float *ga = malloc(m * sizeof(float)), *gb = malloc(m * sizeof(float));
    double *ra = malloc(pr->n * d * sizeof(double)), *rb = malloc(pr->n * d * sizeof(double)), L, S;
    cls_loss_result res;
    CHECK_STATUS(cls_clip_ring_compute(&res, ga, gb, pr->a + pr->off * d, pr->b + pr->off * d, pr->nl, d, o,
                                       MPI_COMM_WORLD),
                 CLS_OK, "ring %s", what);
    clip_ref(&L, &S, ra, rb, pr->a64, pr->b64, pr->n, d, o->logit_scale, o->label_smoothing,
             o->reduction == CLS_REDUCE_SUM, o->normalize);
    CHECK_CLOSE(res.loss, L, 0, 1e-6, "ring loss %s (rank %d of %d)", what, pr->rank, pr->P);
    double gmax = 0, md = 0;
    for (int64_t i = 0; i < pr->n * d; i++) gmax = fmax(gmax, fmax(fabs(ra[i]), fabs(rb[i])));
    for (int64_t i = 0; i < m; i++)
        md = fmax(md, fmax(fabs(ga[i] - ra[pr->off * d + i]), fabs(gb[i] - rb[pr->off * d + i])));
    CHECK(md <= grad_rtol * gmax, "ring grads %s (rank %d of %d): max|diff| %.3g > %g * max|g| %.3g", what,
          pr->rank, pr->P, md, grad_rtol, gmax);
    CHECK_CLOSE(res.grad_logit_scale, S, grad_rtol * fmax(fabs(S), gmax), 0, "ring dL/ds %s", what);
    /* the same problem on this rank alone (the ring on MPI_COMM_SELF is the
     * single-process tiled algorithm): agreement to 1e-6 in both */
    float *sa = malloc(pr->n * d * sizeof(float)), *sb = malloc(pr->n * d * sizeof(float));
    cls_loss_result one;
    CHECK_STATUS(cls_clip_ring_compute(&one, sa, sb, pr->a, pr->b, pr->n, d, o, MPI_COMM_SELF), CLS_OK,
                 "single process %s", what);
    CHECK_CLOSE(res.loss, one.loss, 0, 1e-6, "ring vs single-process loss %s", what);
    double md1 = 0, mg1 = 0;
    for (int64_t i = 0; i < pr->n * d; i++) mg1 = fmax(mg1, fmax(fabs(sa[i]), fabs(sb[i])));
    for (int64_t i = 0; i < m; i++)
        md1 = fmax(md1, fmax(fabs(ga[i] - sa[pr->off * d + i]), fabs(gb[i] - sb[pr->off * d + i])));
    CHECK(md1 <= 1e-6 * mg1, "ring vs single-process grads %s (rank %d of %d): max|diff| %.3g > 1e-6 * %.3g",
          what, pr->rank, pr->P, md1, mg1);
    CHECK_CLOSE(res.grad_logit_scale, one.grad_logit_scale, 1e-6 * fmax(fabs(one.grad_logit_scale), mg1), 0,
                "ring vs single-process dL/ds %s", what);
    free(sa), free(sb);
    double lo, hi;
    MPI_Allreduce(&res.loss, &lo, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&res.loss, &hi, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    CHECK(lo == hi, "ring loss differs between ranks %s", what);
    free(ga), free(gb), free(ra), free(rb);
}

/* Same input three times (1, 1 and 2 threads per rank; the tile kernel is
 * deterministic for a fixed thread count): runs 0 and 1 identical bits, run 2
 * within 1e-6. Loss only (no gradients) gives the same loss. */
static void test_determinism(const problem *pr)
{
    const int64_t d = pr->d, m = pr->nl * d;
    float *g[3][2];
    cls_loss_result r[4];
    for (int t = 0; t < 3; t++) {
        g[t][0] = malloc(m * sizeof(float));
        g[t][1] = malloc(m * sizeof(float));
        cls_loss_options o = ring_opts(14.3, 16, t == 2 ? 2 : 1);
        CHECK_STATUS(cls_clip_ring_compute(&r[t], g[t][0], g[t][1], pr->a + pr->off * d, pr->b + pr->off * d,
                                           pr->nl, d, &o, MPI_COMM_WORLD),
                     CLS_OK, "determinism run %d", t);
    }
    CHECK(memcmp(&r[1], &r[0], sizeof r[0]) == 0 && memcmp(g[1][0], g[0][0], m * sizeof(float)) == 0 &&
              memcmp(g[1][1], g[0][1], m * sizeof(float)) == 0,
          "ring run 1 differs in bits from run 0");
    CHECK_CLOSE(r[2].loss, r[0].loss, 0, 1e-6, "2 threads per rank: loss");
    cls_loss_options o = ring_opts(14.3, 16, 1);
    CHECK_STATUS(cls_clip_ring_compute(&r[3], NULL, NULL, pr->a + pr->off * d, pr->b + pr->off * d, pr->nl, d, &o,
                                       MPI_COMM_WORLD),
                 CLS_OK, "loss only");
    CHECK(r[3].loss == r[0].loss, "loss-only run differs");
    for (int t = 0; t < 3; t++) free(g[t][0]), free(g[t][1]);
}

/* Bad input on the last rank: every rank returns the error, outputs untouched. */
static void test_bad_input(const problem *pr)
{
    const int64_t d = pr->d, m = pr->nl * d;
    float *a = malloc(m * sizeof(float)), *ga = malloc(m * sizeof(float)), *gb = malloc(m * sizeof(float));
    memcpy(a, pr->a + pr->off * d, m * sizeof(float));
    for (int64_t i = 0; i < m; i++) ga[i] = gb[i] = 777.0f;
    const int bad = pr->P - 1;
    if (pr->rank == bad) a[1 * d + 2] = NAN;
    cls_loss_options o = ring_opts(14.3, 0, 1);
    cls_loss_result r = {-1, -2, -3};
    CHECK_STATUS(cls_clip_ring_compute(&r, ga, gb, a, pr->b + pr->off * d, pr->nl, d, &o, MPI_COMM_WORLD),
                 CLS_E_NONFINITE, "NaN on rank %d", bad);
    if (pr->rank == bad)
        CHECK(strstr(cls_last_error(), "a[1][2] is NaN") != NULL, "message: %s", cls_last_error());
    else
        CHECK(strstr(cls_last_error(), "rank") != NULL, "message: %s", cls_last_error());
    int untouched = r.loss == -1 && r.grad_logit_scale == -2;
    for (int64_t i = 0; i < m; i++) untouched = untouched && ga[i] == 777.0f && gb[i] == 777.0f;
    CHECK(untouched, "outputs changed on failure (rank %d)", pr->rank);
    a[1 * d + 2] = 0.5f;
    o.logit_scale = pr->rank == 0 ? -1.0 : 14.3; /* one rank's bad scale fails every rank */
    CHECK_STATUS(cls_clip_ring_compute(&r, ga, gb, a, pr->b + pr->off * d, pr->nl, d, &o, MPI_COMM_WORLD),
                 CLS_E_INVALID_ARG, "bad scale on rank 0");
    if (pr->P > 1) { /* ranks disagreeing on the scale */
        o.logit_scale = 10.0 + pr->rank;
        CHECK_STATUS(cls_clip_ring_compute(&r, ga, gb, a, pr->b + pr->off * d, pr->nl, d, &o, MPI_COMM_WORLD),
                     CLS_E_INVALID_ARG, "ranks disagree on the scale");
    }
    free(a), free(ga), free(gb);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, P;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &P);
    if (rank == 0) test_reference_fd();

    problem pr = make_problem(rank, P, 23, 19, 0.0, 42);
    cls_loss_options o = ring_opts(14.3, 8, 1); /* tiles of 8 divide no slice */
    compare_ring(&pr, &o, 1e-6, "unit rows, s=14.3, tile 8");
    o = ring_opts(100.0, 0, 1);
    compare_ring(&pr, &o, 1e-5, "unit rows, s=100, automatic tile");
    test_determinism(&pr);
    test_bad_input(&pr);
    free_problem(&pr);

    pr = make_problem(rank, P, 23, 33, 2.0, 43);
    o = ring_opts(10.0, 5, 1);
    o.normalize = 1;
    o.reduction = CLS_REDUCE_SUM;
    o.label_smoothing = 0.1;
    compare_ring(&pr, &o, 1e-6, "normalize, sum, smoothing 0.1, tile 5");
    o.normalize = 0;
    o.reduction = CLS_REDUCE_MEAN;
    compare_ring(&pr, &o, 1e-5, "norms in [0.5, 2.5], mean, smoothing 0.1");
    free_problem(&pr);

    /* blocks of ~100-500 KB (beyond MPI's eager limits), several 256-row tiles */
    pr = make_problem(rank, P, 300, 96, 0.0, 44);
    o = ring_opts(14.3, 0, 1);
    compare_ring(&pr, &o, 1e-5, "unit rows, 300-750 rows per rank, d=96");
    free_problem(&pr);

    int failed = check_failed, any;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    char suite[64];
    snprintf(suite, sizeof suite, "test_loss_ring_mpi (rank %d of %d)", rank, P);
    check_summary(suite);
    MPI_Finalize();
    return any == 0 ? 0 : 1;
}
