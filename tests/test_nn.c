/* tests/test_nn.c: layers and models of src/nn.
 *
 * Layers: every backward against float64 central finite differences of a
 * float64 twin written here with direct loops (Linear, ReLU, Conv2d 3x3 with
 * stride 1 and 2, global average pool). Loss L = sum(y * R) with fixed random
 * R, so dL/dy = R. Tolerances: forward |y - y64| <= 1e-5 + 1e-5|y64|,
 * gradients |g - fd| <= 1e-4 + 1e-4|fd| (float32 accumulations over <= 300
 * terms against float64 differences with step 1e-6; the twins are linear
 * in each input, so the differences are exact up to rounding).
 * Models: parameter counts and FLOPs against closed forms, PyTorch's init
 * bounds, forward chunk invariance (bit-identical) and thread-count
 * determinism, cache == NULL equals the cached forward, chunked gradient
 * accumulation equals the one-chunk gradient (|g - g1| <= 1e-5 + 1e-4|g1|),
 * and bad arguments. The PyTorch twin (tests/python/test_nn_torch.py) checks
 * forward and every gradient of whole models. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "clscale.h"
#include "clscale/sys.h"
#include "nn/layers.h"
#include "nn/nn_internal.h"
#include "nn/rowgemm.h"

static double urand(cls_rng *r, double lo, double hi) { return lo + (hi - lo) * cls_rng_uniform(r); }

/* Fill with values whose magnitude is at least `gap` (keeps ReLU inputs off the kink). */
static void fill(float *x, double *xd, int64_t n, cls_rng *r, double gap)
{
    for (int64_t i = 0; i < n; i++) {
        double v = urand(r, -1, 1);
        if (fabs(v) < gap) v = v < 0 ? -gap : gap;
        x[i] = (float)v;
        xd[i] = (double)x[i];
    }
}

/* ---- float64 twins ------------------------------------------------------ */

typedef struct {
    int kind; /* 0 linear, 1 relu, 2 conv, 3 avgpool */
    int64_t n, in, out;        /* linear */
    cls_nn_conv_shape s;       /* conv */
    int64_t pixels, channels;  /* pool */
    const double *R;           /* dL/dy */
} layer_case;

static int64_t out_count(const layer_case *c)
{
    switch (c->kind) {
    case 0: return c->n * c->out;
    case 1: return c->n * c->in;
    case 2: return c->n * cls_nn_conv_out_size(&c->s);
    default: return c->n * c->channels;
    }
}

static double loss64(const layer_case *c, const double *x, const double *w, const double *b)
{
    int64_t ny = out_count(c);
    double *y = calloc((size_t)ny, sizeof(double));
    if (c->kind == 0) {
        for (int64_t i = 0; i < c->n; i++)
            for (int64_t o = 0; o < c->out; o++) {
                double s = b[o];
                for (int64_t k = 0; k < c->in; k++) s += x[i * c->in + k] * w[o * c->in + k];
                y[i * c->out + o] = s;
            }
    } else if (c->kind == 1) {
        for (int64_t i = 0; i < ny; i++) y[i] = x[i] > 0 ? x[i] : 0;
    } else if (c->kind == 2) {
        const cls_nn_conv_shape *s = &c->s;
        for (int64_t i = 0; i < c->n; i++)
            for (int64_t oy = 0; oy < s->h_out; oy++)
                for (int64_t ox = 0; ox < s->w_out; ox++)
                    for (int64_t k = 0; k < s->c_out; k++) {
                        double acc = b[k];
                        for (int64_t ch = 0; ch < s->c_in; ch++)
                            for (int ky = 0; ky < 3; ky++)
                                for (int kx = 0; kx < 3; kx++) {
                                    int64_t iy = oy * s->stride + ky - 1, ix = ox * s->stride + kx - 1;
                                    if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) continue;
                                    acc += w[((k * s->c_in + ch) * 3 + ky) * 3 + kx] *
                                           x[i * cls_nn_conv_in_size(s) + (iy * s->w + ix) * s->c_in + ch];
                                }
                        y[i * cls_nn_conv_out_size(s) + (oy * s->w_out + ox) * s->c_out + k] = acc;
                    }
    } else {
        for (int64_t i = 0; i < c->n; i++)
            for (int64_t ch = 0; ch < c->channels; ch++) {
                double s = 0;
                for (int64_t p = 0; p < c->pixels; p++) s += x[(i * c->pixels + p) * c->channels + ch];
                y[i * c->channels + ch] = s / (double)c->pixels;
            }
    }
    double L = 0;
    for (int64_t i = 0; i < ny; i++) L += y[i] * c->R[i];
    free(y);
    return L;
}

/* Central differences of loss64 with respect to each entry of v. */
static void check_fd(const layer_case *c, double *x, double *w, double *b, double *v, int64_t nv,
                     const float *analytic, const char *what)
{
    const double eps = 1e-6;
    for (int64_t i = 0; i < nv; i++) {
        double keep = v[i];
        v[i] = keep + eps;
        double lp = loss64(c, x, w, b);
        v[i] = keep - eps;
        double lm = loss64(c, x, w, b);
        v[i] = keep;
        double fd = (lp - lm) / (2 * eps);
        CHECK_CLOSE(analytic[i], fd, 1e-4, 1e-4, "%s[%lld] (kind %d)", what, (long long)i, c->kind);
    }
}

/* Forward and backward of one layer against the float64 twin. */
static void test_layer(layer_case *c, uint64_t seed)
{
    cls_rng rng;
    cls_rng_seed(&rng, seed);
    int64_t nx, nw = 0, nb = 0;
    if (c->kind == 0) nx = c->n * c->in, nw = c->in * c->out, nb = c->out;
    else if (c->kind == 1) nx = c->n * c->in;
    else if (c->kind == 2)
        nx = c->n * cls_nn_conv_in_size(&c->s), nw = c->s.c_out * c->s.c_in * 9, nb = c->s.c_out;
    else nx = c->n * c->pixels * c->channels;
    int64_t ny = out_count(c);
    float *x = calloc((size_t)nx, 4), *w = calloc((size_t)nw + 1, 4), *b = calloc((size_t)nb + 1, 4);
    double *xd = calloc((size_t)nx, 8), *wd = calloc((size_t)nw + 1, 8), *bd = calloc((size_t)nb + 1, 8);
    float *y = calloc((size_t)ny, 4), *dy = calloc((size_t)ny, 4);
    double *R = calloc((size_t)ny, 8);
    float *dx = calloc((size_t)nx, 4), *dw = calloc((size_t)nw + 1, 4), *db = calloc((size_t)nb + 1, 4);
    fill(x, xd, nx, &rng, 0.05);
    fill(w, wd, nw, &rng, 0.0);
    fill(b, bd, nb, &rng, 0.0);
    for (int64_t i = 0; i < ny; i++) {
        dy[i] = (float)urand(&rng, -1, 1);
        R[i] = dy[i];
    }
    c->R = R;
    /* dx must be overwritten, dw/db accumulated: pre-fill to check both */
    for (int64_t i = 0; i < nx; i++) dx[i] = 1e6f;
    for (int64_t i = 0; i < nw; i++) dw[i] = 0.5f;
    for (int64_t i = 0; i < nb; i++) db[i] = 0.5f;
    float *col = NULL, *dcol = NULL;
    cls_status st = CLS_OK;
    if (c->kind == 0) {
        st = cls_nn_linear_forward(y, x, w, b, NULL, c->n, c->in, c->out);
        /* the row-independent packed product gives the same values (1e-5) */
        float *pk = calloc((size_t)cls_nn_rowgemm_pack_floats(c->in, c->out), 4);
        float *y2 = calloc((size_t)ny, 4);
        cls_nn_rowgemm_pack(pk, w, b, c->in, c->out);
        cls_nn_linear_forward(y2, x, w, b, pk, c->n, c->in, c->out);
        for (int64_t i = 0; i < ny; i++) CHECK_CLOSE(y2[i], y[i], 1e-5, 1e-5, "packed y[%lld]", (long long)i);
        free(pk), free(y2);
        /* the thread-split backward (3 threads) against the plain one (1e-5) */
        float *dx3 = malloc((size_t)nx * 4), *dw3 = malloc((size_t)nw * 4), *db3 = malloc((size_t)nb * 4);
        for (int64_t i = 0; i < nx; i++) dx3[i] = 1e6f;
        for (int64_t i = 0; i < nw; i++) dw3[i] = 0.5f;
        for (int64_t i = 0; i < nb; i++) db3[i] = 0.5f;
        if (!st) st = cls_nn_linear_backward(dx, dw, db, dy, x, w, c->n, c->in, c->out);
        CHECK_STATUS(cls_nn_linear_backward_par(dx3, dw3, db3, dy, x, w, c->n, c->in, c->out, 3), CLS_OK,
                     "linear backward on 3 threads");
        for (int64_t i = 0; i < nx; i++) CHECK_CLOSE(dx3[i], dx[i], 1e-5, 1e-5, "3-thread dx[%lld]", (long long)i);
        for (int64_t i = 0; i < nw; i++) CHECK_CLOSE(dw3[i], dw[i], 1e-5, 1e-5, "3-thread dw[%lld]", (long long)i);
        for (int64_t i = 0; i < nb; i++) CHECK_CLOSE(db3[i], db[i], 1e-5, 1e-5, "3-thread db[%lld]", (long long)i);
        free(dx3), free(dw3), free(db3);
    } else if (c->kind == 1) {
        cls_nn_relu_forward(y, x, nx);
        cls_nn_relu_backward(dx, dy, y, nx);
    } else if (c->kind == 2) {
        col = calloc((size_t)(c->n * cls_nn_conv_col_size(&c->s)), 4);
        dcol = calloc((size_t)(c->n * cls_nn_conv_col_size(&c->s)), 4);
        st = cls_nn_conv_forward(y, col, x, w, b, NULL, &c->s, c->n);
        if (!st) st = cls_nn_conv_backward(dx, dw, db, col, dcol, dy, x, w, &c->s, c->n);
    } else {
        cls_nn_avgpool_forward(y, x, c->n, c->pixels, c->channels);
        cls_nn_avgpool_backward(dx, dy, c->n, c->pixels, c->channels);
    }
    CHECK(st == CLS_OK, "layer kind %d: %s", c->kind, cls_last_error());
    for (int64_t i = 0; i < nw; i++) dw[i] -= 0.5f;
    for (int64_t i = 0; i < nb; i++) db[i] -= 0.5f;
    /* forward: y against the twin, through unit vectors of R */
    double *Rk = calloc((size_t)ny, 8);
    c->R = Rk;
    for (int64_t i = 0; i < ny; i++) {
        Rk[i] = 1.0;
        double ref = loss64(c, xd, wd, bd);
        Rk[i] = 0.0;
        CHECK_CLOSE(y[i], ref, 1e-5, 1e-5, "forward y[%lld] (kind %d)", (long long)i, c->kind);
    }
    c->R = R;
    free(Rk);
    check_fd(c, xd, wd, bd, xd, nx, dx, "dx");
    if (nw) check_fd(c, xd, wd, bd, wd, nw, dw, "dw");
    if (nb) check_fd(c, xd, wd, bd, bd, nb, db, "db");
    free(x), free(w), free(b), free(xd), free(wd), free(bd), free(y), free(dy), free(R);
    free(dx), free(dw), free(db), free(col), free(dcol);
}

static void test_layers(void)
{
    layer_case c;
    memset(&c, 0, sizeof(c));
    c.kind = 0, c.n = 5, c.in = 7, c.out = 3;
    test_layer(&c, 1);
    c.n = 1, c.in = 33, c.out = 17;
    test_layer(&c, 2);
    c.n = 40, c.in = 50, c.out = 37; /* several 16-row blocks per thread split */
    test_layer(&c, 4);
    memset(&c, 0, sizeof(c));
    c.kind = 1, c.n = 4, c.in = 9;
    test_layer(&c, 3);
    const int64_t shapes[][5] = {/* c_in, c_out, h, w, stride */
                                 {1, 4, 5, 6, 1}, {3, 4, 5, 6, 1}, {3, 5, 7, 6, 2},
                                 {2, 3, 4, 4, 2}, {4, 4, 3, 3, 1}, {2, 2, 1, 1, 2}};
    for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
        memset(&c, 0, sizeof(c));
        c.kind = 2, c.n = 2;
        cls_nn_conv_shape_init(&c.s, shapes[k][0], shapes[k][1], shapes[k][2], shapes[k][3], shapes[k][4]);
        test_layer(&c, 10 + k);
    }
    memset(&c, 0, sizeof(c));
    c.kind = 3, c.n = 3, c.pixels = 5, c.channels = 4;
    test_layer(&c, 20);
}

/* ---- models ---------------------------------------------------------------- */

static void test_counts(void)
{
    cls_model_config cfg;
    cls_model *m = NULL;
    cls_model_config_init(&cfg, CLS_MODEL_MLP);
    cfg.width = 64;
    CHECK_STATUS(cls_model_create(&m, &cfg), CLS_OK, "mlp create");
    if (m) {
        int64_t W = 64, P = 128;
        int64_t want = 784 * W + W + W * W + W + W * W + W + W * P + P;
        CHECK(cls_model_param_count(m) == want, "mlp params %lld want %lld",
              (long long)cls_model_param_count(m), (long long)want);
        CHECK_CLOSE(cls_model_flops_per_input(m), 2.0 * (784 * W + W * W + W * W + W * P), 0, 0, "mlp flops");
        CHECK_CLOSE(cls_model_backward_flops_per_input(m), 2.0 * (784 * W + 2 * (W * W + W * W + W * P)), 0, 0,
                    "mlp backward flops: no dX for the input layer");
        CHECK(cls_model_in_dim(m) == 784 && cls_model_repr_dim(m) == W && cls_model_out_dim(m) == P, "mlp dims");
        int64_t ns;
        const int64_t *off, *len;
        const uint8_t *bias;
        cls_model_segments(m, &ns, &off, &len, &bias);
        CHECK(ns == 8, "mlp segments %lld", (long long)ns);
        int64_t tot = 0;
        for (int64_t i = 0; i < ns; i++) {
            CHECK(off[i] == tot, "segment %lld contiguous", (long long)i);
            CHECK(bias[i] == (i % 2), "segment %lld is_bias", (long long)i);
            tot += len[i];
        }
        CHECK(tot == want, "segments cover the parameters");
        /* init: weights within +-1/sqrt(fan_in) and spread over it; biases 0 */
        const float *p = cls_model_params(m);
        double bound = 1.0 / sqrt(784.0), mx = 0;
        for (int64_t i = 0; i < len[0]; i++) mx = fmax(mx, fabs(p[i]));
        CHECK(mx <= bound && mx > 0.99 * bound, "first weight max |w| %g, bound %g", mx, bound);
        double var = 0;
        for (int64_t i = 0; i < len[0]; i++) var += (double)p[i] * p[i];
        var /= (double)len[0];
        CHECK_CLOSE(var, bound * bound / 3, 0, 0.02, "first weight variance (uniform: bound^2/3)");
        int zero = 1;
        for (int64_t i = 0; i < len[1]; i++) zero &= p[off[1] + i] == 0.0f;
        CHECK(zero, "biases are 0");
    }
    cls_model_free(m);
    m = NULL;
    cls_model_config_init(&cfg, CLS_MODEL_CNN);
    cfg.width = 8;
    CHECK_STATUS(cls_model_create(&m, &cfg), CLS_OK, "cnn create");
    if (m) {
        int64_t c = 8;
        int64_t want = (c * 9 + c) + (2 * c * c * 9 + 2 * c) + (4 * c * 2 * c * 9 + 4 * c) +
                       (4 * c * 4 * c * 9 + 4 * c) + (4 * c * 4 * c + 4 * c) + (4 * c * 128 + 128);
        CHECK(cls_model_param_count(m) == want, "cnn params %lld want %lld",
              (long long)cls_model_param_count(m), (long long)want);
        double f = 2.0 * (784.0 * 9 * c + 196.0 * c * 9 * 2 * c + 49.0 * 2 * c * 9 * 4 * c +
                          49.0 * 4 * c * 9 * 4 * c + 4.0 * c * 4 * c + 4.0 * c * 128);
        CHECK_CLOSE(cls_model_flops_per_input(m), f, 0, 1e-12, "cnn flops");
        CHECK_CLOSE(cls_model_backward_flops_per_input(m), 2 * f - 2.0 * 784.0 * 9 * c, 0, 1e-12,
                    "cnn backward flops: no dX for the input layer");
        CHECK(cls_model_repr_dim(m) == 32, "cnn repr dim");
    }
    cls_model_free(m);
    cls_model_free(NULL);
    /* defaults of the spec */
    cls_model_config_init(&cfg, CLS_MODEL_CNN);
    CHECK(cfg.width == 32 && cfg.proj_dim == 128 && cfg.height == 28, "cnn defaults");
    cls_model_config_init(&cfg, CLS_MODEL_MLP);
    CHECK(cfg.width == 1024, "mlp default width");
    cls_model_kind k;
    CHECK_STATUS(cls_model_kind_parse("cnn", &k), CLS_OK, "parse cnn");
    CHECK(k == CLS_MODEL_CNN && !strcmp(cls_model_kind_name(k), "cnn"), "kind name");
    CHECK_STATUS(cls_model_kind_parse("resnet", &k), CLS_E_INVALID_ARG, "parse resnet");
    cfg.width = 0;
    CHECK_STATUS(cls_model_create(&m, &cfg), CLS_E_INVALID_ARG, "width 0");
    cls_model_config_init(&cfg, CLS_MODEL_CNN);
    cfg.in_dim = 100;
    CHECK_STATUS(cls_model_create(&m, &cfg), CLS_E_INVALID_ARG, "cnn with in_dim");
}

/* Forward/backward properties of one model configuration. */
static void test_model_props(cls_model_kind kind, int64_t width, int64_t proj, int64_t n)
{
    cls_model_config cfg;
    cls_model_config_init(&cfg, kind);
    cfg.width = width;
    cfg.proj_dim = proj;
    cfg.seed = 7;
    cls_model *m = NULL;
    if (cls_model_create(&m, &cfg) != CLS_OK) {
        CHECK(0, "create: %s", cls_last_error());
        return;
    }
    const char *name = cls_model_kind_name(kind);
    int64_t D = cls_model_in_dim(m), R = cls_model_repr_dim(m), Z = cls_model_out_dim(m);
    int64_t np = cls_model_param_count(m);
    cls_rng rng;
    cls_rng_seed(&rng, 99);
    float *x = malloc((size_t)(n * D) * 4), *h = malloc((size_t)(n * R) * 4), *z = malloc((size_t)(n * Z) * 4);
    float *h2 = malloc((size_t)(n * R) * 4), *z2 = malloc((size_t)(n * Z) * 4);
    float *dz = malloc((size_t)(n * Z) * 4);
    for (int64_t i = 0; i < n * D; i++) x[i] = (float)cls_rng_uniform(&rng);
    for (int64_t i = 0; i < n * Z; i++) dz[i] = (float)urand(&rng, -1, 1);

    CHECK_STATUS(cls_model_forward(m, x, n, h, z, NULL, 2), CLS_OK, "%s forward", name);
    /* chunk invariance: [0,k) + [k,n) bit-identical, for several k and threads */
    const int64_t ks[] = {1, 3, n / 2, n - 1};
    const int thr[] = {1, 2, 3};
    for (size_t a = 0; a < 4; a++)
        for (size_t t = 0; t < 3; t++) {
            int64_t k = ks[a];
            cls_model_forward(m, x, k, h2, z2, NULL, thr[t]);
            cls_model_forward(m, x + k * D, n - k, h2 + k * R, z2 + k * Z, NULL, thr[t]);
            CHECK(!memcmp(h, h2, (size_t)(n * R) * 4) && !memcmp(z, z2, (size_t)(n * Z) * 4),
                  "%s: forward of [0,%lld)+[%lld,%lld) with %d threads differs from [0,%lld)", name,
                  (long long)k, (long long)k, (long long)n, thr[t], (long long)n);
        }
    /* cached forward equals the cache-less one */
    cls_model_cache *cache = NULL;
    CHECK_STATUS(cls_model_cache_create(&cache, m, n), CLS_OK, "%s cache", name);
    CHECK(cls_model_activation_bytes(m, n) >= n * (D + R) * 4, "%s activation bytes", name);
    memset(h2, 0, (size_t)(n * R) * 4);
    CHECK_STATUS(cls_model_forward(m, x, n, h2, z2, cache, 2), CLS_OK, "%s cached forward", name);
    CHECK(!memcmp(h, h2, (size_t)(n * R) * 4) && !memcmp(z, z2, (size_t)(n * Z) * 4),
          "%s: cached forward differs", name);
    /* backward: one chunk (reference) vs chunks of 3 rows; same threads twice = same bits */
    float *g1 = malloc((size_t)np * 4), *g2 = malloc((size_t)np * 4);
    cls_model_zero_grad(m);
    CHECK_STATUS(cls_model_backward(m, cache, dz, NULL, n, 2), CLS_OK, "%s backward", name);
    memcpy(g1, cls_model_grads(m), (size_t)np * 4);
    cls_model_zero_grad(m);
    cls_model_forward(m, x, n, NULL, z2, cache, 2);
    cls_model_backward(m, cache, dz, NULL, n, 2);
    CHECK(!memcmp(g1, cls_model_grads(m), (size_t)np * 4), "%s: backward not reproducible", name);
    cls_model_zero_grad(m);
    for (int64_t r0 = 0; r0 < n; r0 += 3) {
        int64_t rows = n - r0 < 3 ? n - r0 : 3;
        cls_model_forward(m, x + r0 * D, rows, NULL, z2, cache, 1);
        CHECK_STATUS(cls_model_backward(m, cache, dz + r0 * Z, NULL, rows, 1), CLS_OK, "chunk");
    }
    memcpy(g2, cls_model_grads(m), (size_t)np * 4);
    double gmax = 0;
    for (int64_t i = 0; i < np; i++) gmax = fmax(gmax, fabs(g1[i]));
    int bad = 0;
    for (int64_t i = 0; i < np && bad < 5; i++)
        if (!(fabs(g2[i] - g1[i]) <= 1e-5 * gmax + 1e-4 * fabs(g1[i]))) {
            bad++;
            CHECK(0, "%s: chunked grad[%lld] %g vs %g", name, (long long)i, g2[i], g1[i]);
        }
    CHECK(bad == 0 && gmax > 0, "%s: chunked gradients equal the one-chunk gradient", name);
    /* gradients accumulate: a second backward doubles them */
    cls_model_zero_grad(m);
    cls_model_forward(m, x, n, NULL, NULL, cache, 2);
    cls_model_backward(m, cache, dz, NULL, n, 2);
    cls_model_backward(m, cache, dz, NULL, n, 2);
    bad = 0;
    for (int64_t i = 0; i < np; i++) bad += !(fabs(cls_model_grads(m)[i] - 2 * g1[i]) <= 1e-5 * gmax + 1e-5 * fabs(g1[i]));
    CHECK(bad == 0, "%s: gradients accumulate (%d differ)", name, bad);
    /* errors */
    CHECK_STATUS(cls_model_backward(m, cache, dz, NULL, n - 1, 1), CLS_E_SHAPE, "%s backward n mismatch", name);
    CHECK_STATUS(cls_model_forward(m, x, n + 1, NULL, NULL, cache, 1), CLS_E_SHAPE, "%s forward over cache", name);
    cls_model_cache_free(cache);
    cls_model_cache_free(NULL);
    free(x), free(h), free(z), free(h2), free(z2), free(dz), free(g1), free(g2);
    cls_model_free(m);
}

/* The forward keeps its packed weights between calls: after the parameters
 * change (in place, through the pointer), z equals a fresh model's with the
 * new parameters, bit for bit. */
static void test_repack(cls_model_kind kind)
{
    cls_model_config cfg;
    cls_model_config_init(&cfg, kind);
    cfg.width = 8;
    cls_model *m = NULL, *m2 = NULL;
    if (cls_model_create(&m, &cfg) || cls_model_create(&m2, &cfg)) return;
    int64_t n = 5, D = cls_model_in_dim(m), Z = cls_model_out_dim(m), np = cls_model_param_count(m);
    float *x = malloc((size_t)(n * D) * 4), *z1 = malloc((size_t)(n * Z) * 4), *z2 = malloc((size_t)(n * Z) * 4);
    for (int64_t i = 0; i < n * D; i++) x[i] = (float)(i % 11) / 11.0f;
    cls_model_forward(m, x, n, NULL, z1, NULL, 1);
    float *p = cls_model_params(m);
    for (int64_t i = 0; i < np; i += 3) p[i] *= -1.5f;
    p[np - 1] += 0.25f; /* a bias of the last layer alone changes z too */
    memcpy(cls_model_params(m2), p, (size_t)np * 4);
    cls_model_forward(m, x, n, NULL, z1, NULL, 1);
    cls_model_forward(m2, x, n, NULL, z2, NULL, 1);
    CHECK(!memcmp(z1, z2, (size_t)(n * Z) * 4), "%s: forward after a parameter change uses the new parameters",
          cls_model_kind_name(kind));
    p[np - 1] -= 0.25f;
    cls_model_forward(m, x, n, NULL, z1, NULL, 1);
    int changed = 0;
    for (int64_t i = 0; i < n * Z; i++) changed += z1[i] != z2[i];
    CHECK(changed > 0, "%s: a one-bias change reaches z", cls_model_kind_name(kind));
    free(x), free(z1), free(z2);
    cls_model_free(m);
    cls_model_free(m2);
}

/* The two threading modes agree (to rounding: the gemm mode's OpenBLAS
 * products depend on a row's position in the call). */
static void test_modes(cls_model_kind kind, int64_t width, int64_t n)
{
    cls_model_config cfg;
    cls_model_config_init(&cfg, kind);
    cfg.width = width;
    cls_model *m = NULL;
    if (cls_model_create(&m, &cfg)) return;
    int64_t D = cls_model_in_dim(m), Z = cls_model_out_dim(m);
    float *x = malloc((size_t)(n * D) * 4), *z1 = malloc((size_t)(n * Z) * 4), *z2 = malloc((size_t)(n * Z) * 4);
    cls_rng rng;
    cls_rng_seed(&rng, 5);
    for (int64_t i = 0; i < n * D; i++) x[i] = (float)cls_rng_uniform(&rng);
    cls_model_forward(m, x, n, NULL, z1, NULL, 2);
    cls_nn_parallel_mode = CLS_NN_PAR_GEMM;
    cls_model_forward(m, x, n, NULL, z2, NULL, 2);
    cls_nn_parallel_mode = CLS_NN_PAR_AUTO;
    for (int64_t i = 0; i < n * Z; i++)
        CHECK_CLOSE(z2[i], z1[i], 1e-5, 1e-4, "%s: gemm-parallel z[%lld]", cls_model_kind_name(kind),
                    (long long)i);
    free(x), free(z1), free(z2);
    cls_model_free(m);
}

/* cls_model_activation_bytes against the growth of the peak RSS over a cached
 * forward + backward, from the RSS before (estimates in ascending order, so
 * the peak is this call's): within
 * [0.7, 1.1] x the estimate + 16 MB. */
static void test_activation_bytes(cls_model_kind kind, int64_t width, int64_t n)
{
    cls_model_config cfg;
    cls_model_config_init(&cfg, kind);
    cfg.width = width;
    cls_model *m = NULL;
    if (cls_model_create(&m, &cfg)) return;
    int64_t D = cls_model_in_dim(m), Z = cls_model_out_dim(m);
    float *x = malloc((size_t)(n * D) * 4), *dz = malloc((size_t)(n * Z) * 4);
    for (int64_t i = 0; i < n * D; i++) x[i] = (float)(i % 7) / 7.0f;
    for (int64_t i = 0; i < n * Z; i++) dz[i] = (float)(i % 5) - 2.0f;
    int64_t est = cls_model_activation_bytes_threads(m, n, 2);
    int64_t before = cls_current_rss_bytes();
    cls_model_cache *c = NULL;
    CHECK_STATUS(cls_model_cache_create(&c, m, n), CLS_OK, "cache");
    cls_model_forward(m, x, n, NULL, NULL, c, 2);
    cls_model_backward(m, c, dz, NULL, n, 2);
    int64_t grew = cls_peak_rss_bytes() - before;
    if (before > 0)
        printf("%s: activation bytes %lld, peak RSS growth %lld\n", cls_model_kind_name(kind), (long long)est, (long long)grew);
#if defined(__SANITIZE_ADDRESS__)
    /* AddressSanitizer's shadow memory and quarantine inflate RSS: no bound to check. */
    before = 0;
#endif
    if (before > 0)
        CHECK(grew <= 1.1 * est + (16 << 20) && grew >= 0.7 * est, "%s: peak RSS grew %lld bytes, estimate %lld",
              cls_model_kind_name(kind), (long long)grew, (long long)est);
    cls_model_cache_free(c);
    cls_model_free(m);
    free(x), free(dz);
}

/* The cnn's convolution backward on oneDNN (when built with it) against
 * im2col + GEMM: every gradient within 1e-5 of the largest + 1e-4 relative. */
static void test_dnnl_backward(void)
{
    cls_model_config cfg;
    cls_model_config_init(&cfg, CLS_MODEL_CNN);
    cfg.width = 4;
    cls_model *m = NULL;
    if (cls_model_create(&m, &cfg)) return;
    int64_t n = 21, D = cls_model_in_dim(m), Z = cls_model_out_dim(m), np = cls_model_param_count(m);
    float *x = malloc((size_t)(n * D) * 4), *dz = malloc((size_t)(n * Z) * 4), *g0 = malloc((size_t)np * 4);
    cls_rng rng;
    cls_rng_seed(&rng, 8);
    for (int64_t i = 0; i < n * D; i++) x[i] = (float)cls_rng_uniform(&rng);
    for (int64_t i = 0; i < n * Z; i++) dz[i] = (float)urand(&rng, -1, 1);
    cls_model_cache *c = NULL;
    cls_model_cache_create(&c, m, n);
    cls_model_forward(m, x, n, NULL, NULL, c, 2);
    cls_nn_use_dnnl = 0;
    cls_model_zero_grad(m);
    CHECK_STATUS(cls_model_backward(m, c, dz, NULL, n, 2), CLS_OK, "im2col backward");
    memcpy(g0, cls_model_grads(m), (size_t)np * 4);
    cls_nn_use_dnnl = 1;
    cls_model_zero_grad(m);
    CHECK_STATUS(cls_model_backward(m, c, dz, NULL, n, 2), CLS_OK, "oneDNN backward");
    double gmax = 0;
    for (int64_t i = 0; i < np; i++) gmax = fmax(gmax, fabs(g0[i]));
    int bad = 0;
    for (int64_t i = 0; i < np; i++)
        bad += !(fabs(cls_model_grads(m)[i] - g0[i]) <= 1e-5 * gmax + 1e-4 * fabs(g0[i]));
    CHECK(bad == 0 && gmax > 0, "oneDNN vs im2col backward: %d gradients differ", bad);
    cls_model_cache_free(c);
    cls_model_free(m);
    free(x), free(dz), free(g0);
}

int main(void)
{
    /* ascending estimates (~30 MB, ~60 MB): the peak only grows */
    test_activation_bytes(CLS_MODEL_MLP, 512, 2048);
    test_activation_bytes(CLS_MODEL_CNN, 16, 768);
    test_layers();
    test_counts();
    test_model_props(CLS_MODEL_MLP, 24, 16, 37);
    test_model_props(CLS_MODEL_MLP, 16, 0, 20);
    test_model_props(CLS_MODEL_CNN, 4, 8, 19);
    test_model_props(CLS_MODEL_CNN, 3, 0, 11);
    test_repack(CLS_MODEL_MLP);
    test_repack(CLS_MODEL_CNN);
    test_modes(CLS_MODEL_MLP, 64, 300);
    test_modes(CLS_MODEL_CNN, 8, 70);
    test_dnnl_backward();
    return check_summary("test_nn");
}
