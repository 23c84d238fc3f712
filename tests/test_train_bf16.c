/* tests/test_train_bf16.c: mixed-precision (bf16) training (docs/train.md,
 * "Precision").
 *
 * 1. Layers, exactly: the bf16 row product (forward) and the bf16 backward
 *    (dX = dY W, dW += dY^T X through cls_gemm_bf16, 1 and 2 threads) equal
 *    a float64 product of the bf16-ROUNDED inputs up to fp32 accumulation:
 *    |y - y64| <= (K + 2) 2^-24 sum_k |a_k b_k| + 1e-30 (K products added in
 *    fp32, each exact). The forward is row-independent (bit-identical under
 *    any split of the rows).
 * 2. A whole step (mlp and cnn with their heads, NT-Xent on z) in bf16
 *    against the fp32 step on the same weights and batch. Bound: rounding an
 *    input to bf16 (8 significant bits, nearest even) changes it by at most
 *    u = 2^-8 relative, a product term by at most ~2u; a length-K sum then
 *    errs by ~u sqrt(sum (a_k b_k)^2) for independent roundings, i.e. ~u
 *    relative for well-conditioned sums and up to ~u sqrt(K) in cancelling
 *    rows. The loss (a mean
 *    of log-sum-exps, well conditioned) is held to 2^-8 relative (measured
 *    ~1e-5). The gradients of a step at initialisation are NOT well
 *    conditioned (the views' z are nearly parallel, the loss gradient lives
 *    in their small differences): the fp32 step with only its WEIGHTS
 *    rounded to bf16 - the same <= 2^-8 perturbation, at one of the three
 *    rounded inputs of each layer's products - already moves the gradient
 *    segments by ~10 % (relative L2, printed). The bound is therefore
 *    relative to that measured sensitivity S: every segment's relative L2
 *    error <= 4 max(S, 2^-8) (three rounded inputs instead of one add in
 *    quadrature: ~1.7 S; measured 0.8-1.3 S), which a wrong product (O(1)
 *    error) cannot meet.
 * 3. Determinism: two bf16 steps, same bits; the forward at 1 and 2 threads
 *    and under chunking is bit-identical; the gradient at chunk 48 equals
 *    the one-pass gradient within the same bf16 bound (only the summation
 *    order of dW differs: in practice ~1e-6).
 * 4. Training runs (small synthetic IDX data): same seed same bits; resume
 *    after a checkpoint gives the bits of the uninterrupted run; the option
 *    round-trips through config.json; a --resume with the other precision is
 *    refused naming the precision; the bf16 loss curve follows fp32's. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "clscale.h"
#include "clscale/gemm.h"
#include "clscale/nn.h"
#include "clscale/train.h"
#include "nn/layers.h"
#include "nn/rowgemm.h"
#include "train_testutil.h"

static double urand(cls_rng *r, double lo, double hi) { return lo + (hi - lo) * cls_rng_uniform(r); }

static void fillf(float *x, int64_t n, cls_rng *r, double lo, double hi)
{
    for (int64_t i = 0; i < n; i++) x[i] = (float)urand(r, lo, hi);
}

static double rounded(float v)
{
    cls_bf16 b;
    float f;
    cls_bf16_from_f32(&b, &v, 1);
    cls_f32_from_bf16(&f, &b, 1);
    return f;
}

#define ACC_TOL(K, absum) (((double)(K) + 2.0) * 0x1p-24 * (absum) + 1e-30)

/* ---- 1. layers ------------------------------------------------------------ */

static void test_rowgemm_bf16(void)
{
    cls_rng r;
    cls_rng_seed(&r, 11);
    const int64_t shapes[][3] = {{13, 37, 45}, {20, 64, 32}, {9, 1, 70}, {17, 784, 33}};
    for (int s = 0; s < 4; s++) {
        int64_t n = shapes[s][0], in = shapes[s][1], out = shapes[s][2], st = cls_nn_bf16_stride(in);
        float *x = malloc((size_t)(n * in) * 4), *w = malloc((size_t)(out * in) * 4),
              *b = malloc((size_t)out * 4), *y = malloc((size_t)(n * out) * 4),
              *y2 = malloc((size_t)(n * out) * 4);
        float *pk = malloc((size_t)cls_nn_rowgemm_bf16_pack_floats(in, out) * 4);
        uint16_t *xb = malloc((size_t)(n * st) * 2);
        fillf(x, n * in, &r, -1, 1);
        fillf(w, out * in, &r, -1, 1);
        fillf(b, out, &r, -1, 1);
        uint16_t *wb = malloc((size_t)(out * in) * 2);
        cls_bf16_from_f32(wb, w, out * in);
        cls_nn_rowgemm_bf16_pack(pk, wb, b, in, out);
        free(wb);
        cls_nn_bf16_rows(xb, x, n, in);
        cls_nn_rowgemm_bf16(y, xb, pk, n, in, out);
        int bad = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t o = 0; o < out; o++) {
                double ref = b[o], ab = fabs(b[o]);
                for (int64_t k = 0; k < in; k++) {
                    double t = rounded(x[i * in + k]) * rounded(w[o * in + k]);
                    ref += t;
                    ab += fabs(t);
                }
                if (!(fabs(y[i * out + o] - ref) <= ACC_TOL(in, ab))) bad++;
            }
        CHECK(bad == 0, "rowgemm_bf16 %lldx%lldx%lld: %d outputs off the float64 product of the "
              "rounded inputs", (long long)n, (long long)in, (long long)out, bad);
        /* rows split [0,k) + [k,n): the same bits */
        int64_t k = n / 3;
        cls_nn_rowgemm_bf16(y2, xb, pk, k, in, out);
        cls_nn_rowgemm_bf16(y2 + k * out, xb + k * st, pk, n - k, in, out);
        CHECK(memcmp(y, y2, (size_t)(n * out) * 4) == 0, "rowgemm_bf16 not row-independent (%lld rows)",
              (long long)n);
        free(x), free(w), free(b), free(y), free(y2), free(pk), free(xb);
    }
}

static void test_linear_backward_bf16(void)
{
    cls_rng r;
    cls_rng_seed(&r, 12);
    const int64_t n = 70, in = 45, out = 38;
    float *x = malloc((size_t)(n * in) * 4), *w = malloc((size_t)(out * in) * 4),
          *dy = malloc((size_t)(n * out) * 4), *dx = malloc((size_t)(n * in) * 4),
          *dw = malloc((size_t)(out * in) * 4), *db = malloc((size_t)out * 4);
    uint16_t *wb = malloc((size_t)(out * in) * 2), *ws = malloc((size_t)(n * (in + out)) * 2);
    fillf(x, n * in, &r, -1, 1);
    fillf(w, out * in, &r, -1, 1);
    fillf(dy, n * out, &r, -1, 1);
    cls_bf16_from_f32(wb, w, out * in);
    for (int threads = 1; threads <= 2; threads++) {
        float dw0 = 0.25f; /* dW and db accumulate onto what is there */
        for (int64_t i = 0; i < out * in; i++) dw[i] = dw0;
        for (int64_t i = 0; i < out; i++) db[i] = dw0;
        cls_status st = cls_nn_linear_backward_bf16(dx, dw, db, dy, x, wb, n, in, out, threads, ws);
        CHECK(st == CLS_OK, "linear_backward_bf16: %s", cls_last_error());
        int bad = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < in; k++) {
                double ref = 0, ab = 0;
                for (int64_t o = 0; o < out; o++) {
                    double t = rounded(dy[i * out + o]) * rounded(w[o * in + k]);
                    ref += t;
                    ab += fabs(t);
                }
                if (!(fabs(dx[i * in + k] - ref) <= ACC_TOL(out, ab))) bad++;
            }
        CHECK(bad == 0, "bf16 dX = dY W (%d threads): %d entries off", threads, bad);
        bad = 0;
        for (int64_t o = 0; o < out; o++) {
            double dbr = dw0;
            for (int64_t i = 0; i < n; i++) dbr += dy[i * out + o];
            if (!(fabs(db[o] - dbr) <= ACC_TOL(n, n + 1.0))) bad++;
            for (int64_t k = 0; k < in; k++) {
                double ref = dw0, ab = dw0;
                for (int64_t i = 0; i < n; i++) {
                    double t = rounded(dy[i * out + o]) * rounded(x[i * in + k]);
                    ref += t;
                    ab += fabs(t);
                }
                if (!(fabs(dw[o * in + k] - ref) <= ACC_TOL(n + 1, ab))) bad++;
            }
        }
        CHECK(bad == 0, "bf16 dW += dY^T X, db (%d threads): %d entries off", threads, bad);
    }
    free(x), free(w), free(dy), free(dx), free(dw), free(db), free(wb), free(ws);
}

/* ---- 2./3. a model step ------------------------------------------------------ */

typedef struct {
    double loss;
    float *grads, *z;
} step_out;

/* One step on n views (n/2 pairs): forward (chunked by `chunk` rows: first
 * pass without activations as in gradient caching, then each chunk again
 * with its cache), NT-Xent on z, backward. */
static void model_step(step_out *o, cls_model *m, const float *x, int64_t n, int64_t chunk, int threads)
{
    const int64_t in = cls_model_in_dim(m), d = cls_model_out_dim(m);
    float *z = malloc((size_t)(n * d) * 4), *dz = malloc((size_t)(n * d) * 4);
    cls_model_cache *c = NULL;
    CHECK(cls_model_cache_create(&c, m, chunk) == CLS_OK, "cache: %s", cls_last_error());
    for (int64_t r0 = 0; r0 < n; r0 += chunk) {
        int64_t rows = n - r0 < chunk ? n - r0 : chunk;
        CHECK(cls_model_forward(m, x + r0 * in, rows, NULL, z + r0 * d, NULL, threads) == CLS_OK,
              "forward: %s", cls_last_error());
    }
    cls_loss_options lo;
    cls_loss_options_init(&lo, CLS_LOSS_NTXENT);
    lo.normalize = 1;
    lo.logit_scale = 5.0;
    lo.threads = threads;
    cls_loss_result res;
    CHECK(cls_loss_compute(&res, dz, dz + (n / 2) * d, z, n / 2, z + (n / 2) * d, n / 2, d, NULL, &lo) ==
              CLS_OK,
          "loss: %s", cls_last_error());
    cls_model_zero_grad(m);
    for (int64_t r0 = 0; r0 < n; r0 += chunk) {
        int64_t rows = n - r0 < chunk ? n - r0 : chunk;
        float *zz = malloc((size_t)(rows * d) * 4);
        CHECK(cls_model_forward(m, x + r0 * in, rows, NULL, zz, c, threads) == CLS_OK, "forward: %s",
              cls_last_error());
        CHECK(memcmp(zz, z + r0 * d, (size_t)(rows * d) * 4) == 0,
              "cached forward of rows %lld.. differs from the uncached one", (long long)r0);
        CHECK(cls_model_backward(m, c, dz + r0 * d, NULL, rows, threads) == CLS_OK, "backward: %s",
              cls_last_error());
        free(zz);
    }
    int64_t np = cls_model_param_count(m);
    o->loss = res.loss;
    o->grads = malloc((size_t)np * 4);
    memcpy(o->grads, cls_model_grads(m), (size_t)np * 4);
    o->z = z;
    free(dz);
    cls_model_cache_free(c);
}

static void step_free(step_out *o)
{
    free(o->grads);
    free(o->z);
}

/* Largest relative L2 error over the parameter segments of g against ref;
 * per_seg (may be NULL) gets each segment's. */
static double seg_rel_err_each(const cls_model *m, const float *g, const float *ref, int *worst,
                               double *per_seg);
static double seg_rel_err(const cls_model *m, const float *g, const float *ref, int *worst)
{
    return seg_rel_err_each(m, g, ref, worst, NULL);
}
static double seg_rel_err_each(const cls_model *m, const float *g, const float *ref, int *worst,
                               double *per_seg)
{
    int64_t cnt;
    const int64_t *off, *len;
    const uint8_t *isb;
    cls_model_segments(m, &cnt, &off, &len, &isb);
    double mx = 0;
    for (int64_t s = 0; s < cnt; s++) {
        double e2 = 0, n2 = 0;
        for (int64_t i = off[s]; i < off[s] + len[s]; i++) {
            e2 += ((double)g[i] - ref[i]) * ((double)g[i] - ref[i]);
            n2 += (double)ref[i] * ref[i];
        }
        double e = n2 > 0 ? sqrt(e2 / n2) : sqrt(e2);
        if (per_seg) per_seg[s] = e;
        if (getenv("BF16_VERBOSE")) printf("  segment %lld (%lld, bias %d): rel-L2 %.3g |g| %.3g\n", (long long)s, (long long)len[s], isb[s], e, sqrt(n2));
        if (e > mx) {
            mx = e;
            if (worst) *worst = (int)s;
        }
    }
    return mx;
}

static void test_model_step(cls_model_kind kind)
{
    const double LOSS_REL = 0x1p-8, SENS = 4.0;
    cls_model_config mc;
    cls_model_config_init(&mc, kind);
    mc.width = kind == CLS_MODEL_MLP ? 256 : 8;
    mc.proj_dim = 64;
    mc.seed = 5;
    cls_model *m32 = NULL, *m16 = NULL;
    CHECK(cls_model_create(&m32, &mc) == CLS_OK && cls_model_create(&m16, &mc) == CLS_OK, "create: %s",
          cls_last_error());
    CHECK(cls_model_set_precision(m16, CLS_PRECISION_BF16) == CLS_OK, "set_precision: %s", cls_last_error());
    CHECK(cls_model_get_precision(m16) == CLS_PRECISION_BF16, "get_precision");
    CHECK_STATUS(cls_model_set_precision(m16, (cls_precision)7), CLS_E_INVALID_ARG, "precision 7");
    const int64_t n = 128, in = cls_model_in_dim(m32);
    float *x = malloc((size_t)(n * in) * 4);
    cls_rng r;
    cls_rng_seed(&r, 21);
    fillf(x, n * in, &r, 0, 1); /* pixels */
    step_out a, b, c, d1, e;
    model_step(&a, m32, x, n, n, 2);
    model_step(&b, m16, x, n, n, 2);
    /* the sensitivity of this step to a bf16-sized perturbation: the fp32
     * step with the weights rounded to bf16 (<= 2^-8 relative) */
    cls_model *mr = NULL;
    CHECK(cls_model_create(&mr, &mc) == CLS_OK, "create: %s", cls_last_error());
    {
        float *p = cls_model_params(mr);
        for (int64_t i = 0; i < cls_model_param_count(mr); i++) p[i] = (float)rounded(p[i]);
    }
    step_out ar;
    model_step(&ar, mr, x, n, n, 2);
    int worst = -1;
    double sens[16], errs[16];
    double es = seg_rel_err_each(m32, ar.grads, a.grads, &worst, sens);
    printf("%s fp32 with bf16-rounded weights vs fp32: loss rel %.2e, worst segment %d rel-L2 %.2e\n",
           cls_model_kind_name(kind), fabs(ar.loss - a.loss) / fabs(a.loss), worst, es);
    double eg = seg_rel_err_each(m32, b.grads, a.grads, &worst, errs), el = fabs(b.loss - a.loss) / fabs(a.loss);
    const double REL = SENS * (es > 0x1p-8 ? es : 0x1p-8);
    printf("%s bf16 vs fp32: loss %.6f vs %.6f (rel %.2e, bound %.2e), worst segment %d gradient "
           "rel-L2 %.2e (bound per segment: %g x its sensitivity, overall %.3f)\n", cls_model_kind_name(kind), b.loss, a.loss, el, LOSS_REL, worst,
           eg, SENS, REL);
    CHECK(el <= LOSS_REL, "%s: bf16 loss rel err %.3g > %.3g", cls_model_kind_name(kind), el, LOSS_REL);
    int64_t nseg;
    cls_model_segments(m32, &nseg, NULL, NULL, NULL);
    for (int64_t k = 0; k < nseg; k++) /* segment by segment against its own sensitivity */
        CHECK(errs[k] <= SENS * (sens[k] > 0x1p-8 ? sens[k] : 0x1p-8),
              "%s: bf16 gradient segment %lld rel err %.3g > %g x its sensitivity %.3g",
              cls_model_kind_name(kind), (long long)k, errs[k], SENS, sens[k]);
    /* determinism: same bits again; 1 thread: the same z bits */
    model_step(&c, m16, x, n, n, 2);
    CHECK(c.loss == b.loss && !memcmp(c.grads, b.grads, (size_t)cls_model_param_count(m16) * 4),
          "%s: two bf16 steps differ", cls_model_kind_name(kind));
    model_step(&d1, m16, x, n, n, 1);
    CHECK(!memcmp(d1.z, b.z, (size_t)(n * cls_model_out_dim(m16)) * 4),
          "%s: bf16 forward differs at 1 and 2 threads", cls_model_kind_name(kind));
    /* gradient caching: chunk 48 (the forward bits are chunk-invariant:
     * checked inside model_step) */
    model_step(&e, m16, x, n, 48, 2);
    CHECK(!memcmp(e.z, b.z, (size_t)(n * cls_model_out_dim(m16)) * 4), "%s: chunked bf16 z differs",
          cls_model_kind_name(kind));
    double ec = seg_rel_err(m16, e.grads, b.grads, &worst);
    printf("%s bf16 chunk 48 vs one pass: gradient rel-L2 %.2e\n", cls_model_kind_name(kind), ec);
    CHECK(ec <= REL, "%s: chunked bf16 gradient rel err %.3g > %.3g", cls_model_kind_name(kind), ec, REL);
    /* the bf16 copies follow parameter updates: change a weight, the fp32
     * and bf16 models still agree */
    float *p32 = cls_model_params(m32), *p16 = cls_model_params(m16);
    for (int64_t i = 0; i < cls_model_param_count(m32); i++) p32[i] = p16[i] = p32[i] * -1.5f;
    step_out f32, f16;
    model_step(&f32, m32, x, n, n, 2);
    model_step(&f16, m16, x, n, n, 2);
    eg = seg_rel_err(m32, f16.grads, f32.grads, &worst);
    el = fabs(f16.loss - f32.loss) / fabs(f32.loss);
    CHECK(eg <= REL && el <= LOSS_REL, "%s: after a parameter change bf16 vs fp32: grad %.3g loss %.3g",
          cls_model_kind_name(kind), eg, el);
    step_free(&ar);
    cls_model_free(mr);
    step_free(&a), step_free(&b), step_free(&c), step_free(&d1), step_free(&e), step_free(&f32),
        step_free(&f16);
    free(x);
    cls_model_free(m32);
    cls_model_free(m16);
}

/* ---- 4. training runs ------------------------------------------------------ */

static void run_config(cls_train_config *c, const char *data, cls_precision precision)
{
    cls_train_config_init(c);
    c->data = data;
    c->width = 64;
    c->batch = 64;
    c->steps = 4;
    c->warmup_epochs = 0;
    c->threads = 2;
    c->log_every = 1;
    c->checkpoint_every = 2;
    c->temperature = 0.5;
    c->precision = precision;
}

/* 1: the two runs' checkpoints hold the same parameter bits; 0: they differ;
 * -1: a checkpoint could not be read (so neither check below passes by it). */
static int same_params(const char *a, const char *b)
{
    int64_t na = 0, nb = 0;
    float *x = params_of(a, &na), *y = params_of(b, &nb);
    int same = !x || !y ? -1 : na == nb && !memcmp(x, y, (size_t)na * 4);
    free(x);
    free(y);
    return same;
}

static void test_runs(void)
{
    snprintf(root, sizeof root, "/tmp/cls_bf16_XXXXXX");
    if (!mkdtemp(root)) {
        CHECK(0, "mkdtemp");
        return;
    }
    char data[256];
    snprintf(data, sizeof data, "%s/data", root);
    mkdir(data, 0755);
    write_idx(data, "train", 320, 1);
    write_idx(data, "t10k", 64, 2);
    cls_train_config c;
    cls_train_result r32, ra, rb, rr;
    run_config(&c, data, CLS_PRECISION_FP32);
    CHECK(train(&c, "fp32", 0, &r32) == CLS_OK, "fp32 run: %s", cls_last_error());
    run_config(&c, data, CLS_PRECISION_BF16);
    CHECK(train(&c, "bf16_a", 0, &ra) == CLS_OK, "bf16 run: %s", cls_last_error());
    CHECK(train(&c, "bf16_b", 0, &rb) == CLS_OK, "bf16 run: %s", cls_last_error());
    CHECK(ra.final_loss == rb.final_loss && same_params("bf16_a", "bf16_b") == 1,
          "bf16: two runs with the same seed differ");
    CHECK(same_params("bf16_a", "fp32") == 0, "bf16 and fp32 runs give the same bits (bf16 not used?)");
    /* the loss follows fp32's: within 2^-8 relative after 4 steps */
    printf("final loss fp32 %.6f bf16 %.6f\n", r32.final_loss, ra.final_loss);
    CHECK_CLOSE(ra.final_loss, r32.final_loss, 0, 0x1p-8, "bf16 final loss vs fp32");
    /* gradient caching: chunk 64 (2 chunks of the 128 views) vs one pass,
     * parameters after 4 AdamW steps within the bf16 bound 2^-8 (|b| + rms b)
     * (only dW's summation order differs: measured ~1e-6) */
    c.chunk = 64;
    CHECK(train(&c, "bf16_c64", 0, &rr) == CLS_OK && rr.chunk == 64, "bf16 chunk 64: %s", cls_last_error());
    c.chunk = 0;
    {
        int64_t na = 0, nb = 0;
        float *x = params_of("bf16_c64", &na), *y = params_of("bf16_a", &nb);
        CHECK(x && y && na == nb, "chunk 64 and one-pass checkpoints");
        if (x && y && na == nb) {
            double rms = 0, worst = 0;
            for (int64_t i = 0; i < nb; i++) rms += (double)y[i] * y[i];
            rms = sqrt(rms / (double)nb);
            for (int64_t i = 0; i < nb; i++) {
                double d = fabs((double)x[i] - y[i]) / (fabs((double)y[i]) + rms);
                if (d > worst) worst = d;
            }
            printf("bf16 run chunk 64 vs one pass: worst relative parameter difference %.3g\n", worst);
            CHECK(worst <= 0x1p-8, "bf16 chunk 64 vs one pass: %.3g > 2^-8", worst);
        }
        free(x);
        free(y);
    }
    /* resume: stopped after the step-2 checkpoint, resumed to the same bits */
    c.progress = stop_cb;
    stop_at = 2;
    CHECK(train(&c, "bf16_resume", 0, &rr) == CLS_OK && rr.stopped_early, "bf16 run stopped at 2: %s",
          cls_last_error());
    c.progress = NULL;
    CHECK(train(&c, "bf16_resume", 1, &rr) == CLS_OK, "bf16 resume: %s", cls_last_error());
    CHECK(rr.start_step == 2 && rr.final_loss == ra.final_loss && same_params("bf16_resume", "bf16_a") == 1,
          "bf16 resumed at step %lld: not the uninterrupted run's bits", (long long)rr.start_step);
    /* config.json round trip */
    char dir[256];
    snprintf(dir, sizeof dir, "%s/bf16_a", root);
    cls_train_config loaded;
    cls_train_config_init(&loaded);
    CHECK(cls_train_config_load(&loaded, dir) == CLS_OK, "load: %s", cls_last_error());
    CHECK(loaded.precision == CLS_PRECISION_BF16, "config.json precision %d, want bf16",
          (int)loaded.precision);
    cls_train_config_clear(&loaded);
    snprintf(dir, sizeof dir, "%s/fp32", root);
    CHECK(cls_train_config_load(&loaded, dir) == CLS_OK && loaded.precision == CLS_PRECISION_FP32,
          "fp32 config.json round trip");
    cls_train_config_clear(&loaded);
    /* --resume with the other precision: refused, naming the precision;
     * nothing saved is lost */
    run_config(&c, data, CLS_PRECISION_FP32);
    CHECK_STATUS(train(&c, "bf16_a", 1, &rr), CLS_E_FORMAT, "fp32 resume of a bf16 run");
    CHECK(strstr(cls_last_error(), "--precision bf16") != NULL, "message names the precision: %s",
          cls_last_error());
    CHECK(same_params("bf16_a", "bf16_b") == 1, "refused resume changed the checkpoint");
    run_config(&c, data, CLS_PRECISION_BF16);
    CHECK_STATUS(train(&c, "fp32", 1, &rr), CLS_E_FORMAT, "bf16 resume of an fp32 run");
    CHECK(strstr(cls_last_error(), "--precision fp32") != NULL, "message names the precision: %s",
          cls_last_error());
    c.precision = (cls_precision)9;
    CHECK_STATUS(train(&c, "bad", 0, &rr), CLS_E_INVALID_ARG, "precision 9");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
}

int main(void)
{
    test_runs();
    test_rowgemm_bf16();
    test_linear_backward_bf16();
    test_model_step(CLS_MODEL_MLP);
    test_model_step(CLS_MODEL_CNN);
    return check_summary("train_bf16");
}
