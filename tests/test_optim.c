/* tests/test_optim.c: optimisers and schedules against closed forms on tiny
 * vectors. Tolerance |x - ref| <= 1e-6 + 1e-5|ref| (float32 updates against
 * double formulas). PyTorch (SGD, AdamW) and an independent NumPy LARS are
 * checked in tests/python/test_nn_torch.py and test_optim_lars.py. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "clscale.h"


static cls_optimizer *make(cls_optim_kind kind, double mom, int nesterov, double wd, int64_t n,
                           int64_t nseg, const int64_t *off, const int64_t *len, const uint8_t *bias)
{
    cls_optim_options o;
    cls_optim_options_init(&o, kind);
    o.momentum = mom;
    o.nesterov = nesterov;
    o.weight_decay = wd;
    cls_optimizer *opt = NULL;
    CHECK_STATUS(cls_optimizer_create(&opt, &o, n, nseg, off, len, bias), CLS_OK, "create %s",
                 cls_optim_kind_name(kind));
    return opt;
}

static void test_sgd(void)
{
    const double lr = 0.1, mu = 0.9, g[2] = {0.5, -0.25}, p0[2] = {1.0, -2.0};
    float p[2], gf[2] = {0.5f, -0.25f};
    for (int nesterov = 0; nesterov < 2; nesterov++) {
        cls_optimizer *o = make(CLS_OPTIM_SGD, mu, nesterov, 0.0, 2, 0, NULL, NULL, NULL);
        if (!o) return;
        p[0] = 1.0f, p[1] = -2.0f;
        double sum = 0;
        for (int t = 1; t <= 4; t++) {
            CHECK_STATUS(cls_optimizer_step(o, p, gf, lr), CLS_OK, "sgd step");
            /* constant gradient: b_t = g (1 - mu^t) / (1 - mu); nesterov step g + mu b_t */
            double b = (1 - pow(mu, t)) / (1 - mu);
            sum += nesterov ? 1 + mu * b : b;
            for (int i = 0; i < 2; i++)
                CHECK_CLOSE(p[i], p0[i] - lr * g[i] * sum, 1e-6, 1e-5, "sgd nesterov=%d t=%d p[%d]", nesterov, t, i);
        }
        CHECK(cls_optimizer_steps(o) == 4 && cls_optimizer_state_count(o) == 2, "sgd steps/state");
        cls_optimizer_free(o);
    }
    /* weight decay (L2 added to the gradient), not on the bias segment */
    const int64_t off[2] = {0, 2}, len[2] = {2, 1};
    const uint8_t bias[2] = {0, 1};
    cls_optimizer *o = make(CLS_OPTIM_SGD, 0.0, 0, 0.01, 3, 2, off, len, bias);
    float q[3] = {1.0f, -2.0f, 3.0f}, gq[3] = {0.5f, -0.25f, 1.0f};
    cls_optimizer_step(o, q, gq, lr);
    CHECK_CLOSE(q[0], 1.0 - lr * (0.5 + 0.01 * 1.0), 1e-6, 1e-5, "sgd wd q0");
    CHECK_CLOSE(q[1], -2.0 - lr * (-0.25 + 0.01 * -2.0), 1e-6, 1e-5, "sgd wd q1");
    CHECK_CLOSE(q[2], 3.0 - lr * 1.0, 1e-6, 1e-5, "sgd bias has no wd");
    cls_optimizer_free(o);
    cls_optimizer_free(NULL);
}

static void test_adamw(void)
{
    const double lr = 0.01, wd = 0.1, eps = 1e-8;
    float p[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.5f, -0.25f, 1e-3f};
    double pd[3] = {1.0, -2.0, 0.5};
    const int64_t off[2] = {0, 2}, len[2] = {2, 1};
    const uint8_t bias[2] = {0, 1};
    cls_optimizer *o = make(CLS_OPTIM_ADAMW, 0.9, 0, wd, 3, 2, off, len, bias);
    if (!o) return;
    for (int t = 1; t <= 3; t++) {
        cls_optimizer_step(o, p, g, lr);
        /* constant g: bias-corrected moments are g and g^2, so each step is
         * p <- p (1 - lr wd) - lr g / (|g| + eps) */
        for (int i = 0; i < 3; i++) {
            double w = i < 2 ? wd : 0.0;
            pd[i] = pd[i] * (1 - lr * w) - lr * g[i] / (fabs(g[i]) + eps);
            CHECK_CLOSE(p[i], pd[i], 1e-6, 1e-5, "adamw t=%d p[%d]", t, i);
        }
    }
    CHECK(cls_optimizer_state_count(o) == 6, "adamw state is 2n");
    /* set_steps changes the bias correction: with steps = 0 again and zeroed
     * moments the next step equals the first */
    cls_optimizer_set_steps(o, 0);
    memset(cls_optimizer_state(o), 0, 6 * sizeof(float));
    float q[3] = {1.0f, -2.0f, 0.5f};
    cls_optimizer_step(o, q, g, lr);
    CHECK_CLOSE(q[0], 1.0 * (1 - lr * wd) - lr * 0.5 / (0.5 + eps), 1e-6, 1e-5, "adamw after reset");
    cls_optimizer_free(o);
}

static void test_lars(void)
{
    const double lr = 0.5, mu = 0.9, wd = 0.01, eta = 0.001;
    const int64_t off[2] = {0, 2}, len[2] = {2, 1};
    const uint8_t bias[2] = {0, 1};
    cls_optimizer *o = make(CLS_OPTIM_LARS, mu, 0, wd, 3, 2, off, len, bias);
    if (!o) return;
    float p[3] = {3.0f, 4.0f, 1.0f}, g[3] = {0.3f, -0.4f, 2.0f};
    cls_optimizer_step(o, p, g, lr);
    /* step 1: d = g + wd p = (0.33, -0.36); ||p|| = 5; trust = eta 5 / ||d|| */
    double d0 = 0.3 + wd * 3, d1 = -0.4 + wd * 4, tr = eta * 5.0 / sqrt(d0 * d0 + d1 * d1);
    double v0 = lr * tr * d0, v1 = lr * tr * d1, vb = lr * 2.0;
    CHECK_CLOSE(p[0], 3.0 - v0, 1e-6, 1e-5, "lars p0");
    CHECK_CLOSE(p[1], 4.0 - v1, 1e-6, 1e-5, "lars p1");
    CHECK_CLOSE(p[2], 1.0 - vb, 1e-6, 1e-5, "lars bias: plain momentum step, no trust, no wd");
    /* step 2 with zero gradient: weights still decay through d = wd p */
    float z[3] = {0, 0, 0};
    double q0 = p[0], q1 = p[1];
    cls_optimizer_step(o, p, z, lr);
    double e0 = wd * q0, e1 = wd * q1, tr2 = eta * sqrt(q0 * q0 + q1 * q1) / sqrt(e0 * e0 + e1 * e1);
    CHECK_CLOSE(p[0], q0 - (mu * v0 + lr * tr2 * e0), 1e-6, 1e-5, "lars step 2 p0");
    CHECK_CLOSE(p[2], 1.0 - vb - mu * vb, 1e-6, 1e-5, "lars step 2 bias");
    cls_optimizer_free(o);
    /* zero weights: trust ratio 1 */
    o = make(CLS_OPTIM_LARS, 0.0, 0, 0.0, 2, 0, NULL, NULL, NULL);
    float w[2] = {0, 0}, gw[2] = {1, 2};
    cls_optimizer_step(o, w, gw, 0.1);
    CHECK_CLOSE(w[1], -0.2, 1e-6, 1e-5, "lars zero weights: trust 1");
    cls_optimizer_free(o);
}

static void test_errors(void)
{
    cls_optimizer *o = make(CLS_OPTIM_ADAMW, 0.9, 0, 0.0, 3, 0, NULL, NULL, NULL);
    float p[3] = {1, 2, 3}, g[3] = {0.1f, NAN, 0.3f};
    CHECK_STATUS(cls_optimizer_step(o, p, g, 0.1), CLS_E_NONFINITE, "NaN gradient");
    CHECK(p[0] == 1 && p[1] == 2 && p[2] == 3 && cls_optimizer_steps(o) == 0, "params untouched");
    CHECK(strstr(cls_last_error(), "grads[0][1]") != NULL, "error names the entry: %s", cls_last_error());
    g[1] = INFINITY;
    CHECK_STATUS(cls_optimizer_step(o, p, g, 0.1), CLS_E_NONFINITE, "Inf gradient");
    cls_optimizer_free(o);
    cls_optim_options opt;
    cls_optim_options_init(&opt, CLS_OPTIM_SGD);
    const int64_t off[2] = {0, 3}, len[2] = {2, 1};
    CHECK_STATUS(cls_optimizer_create(&o, &opt, 3, 2, off, len, NULL), CLS_E_INVALID_ARG, "gap in segments");
    opt.momentum = 1.5;
    CHECK_STATUS(cls_optimizer_create(&o, &opt, 3, 0, NULL, NULL, NULL), CLS_E_INVALID_ARG, "momentum 1.5");
    cls_optim_kind k;
    CHECK_STATUS(cls_optim_kind_parse("lars", &k), CLS_OK, "parse lars");
    CHECK(k == CLS_OPTIM_LARS && !strcmp(cls_optim_kind_name(k), "lars"), "lars name");
    CHECK_STATUS(cls_optim_kind_parse("adam", &k), CLS_E_INVALID_ARG, "parse adam");
    cls_optim_options_init(&opt, CLS_OPTIM_LARS);
    CHECK(opt.trust == 0.001 && opt.momentum == 0.9 && opt.weight_decay == 1e-6, "defaults");
}

static void test_schedule(void)
{
    /* warm-up: linear up to base at step warmup-1; then cosine to 0 at total */
    CHECK_CLOSE(cls_lr_schedule(1.0, 0, 10, 110), 0.1, 0, 1e-12, "warm-up step 0");
    CHECK_CLOSE(cls_lr_schedule(1.0, 9, 10, 110), 1.0, 0, 1e-12, "end of warm-up");
    CHECK_CLOSE(cls_lr_schedule(1.0, 10, 10, 110), 1.0, 0, 1e-12, "cosine start");
    CHECK_CLOSE(cls_lr_schedule(1.0, 60, 10, 110), 0.5, 1e-12, 0, "cosine half-way");
    CHECK_CLOSE(cls_lr_schedule(2.0, 35, 10, 110), 2.0 * 0.5 * (1 + cos(M_PI * 0.25)), 1e-12, 0, "cosine quarter");
    CHECK_CLOSE(cls_lr_schedule(1.0, 110, 10, 110), 0.0, 1e-15, 0, "zero at total");
    CHECK_CLOSE(cls_lr_schedule(1.0, 5, 0, 10), 0.5, 1e-12, 0, "no warm-up");
    CHECK_CLOSE(cls_lr_scaled(0.3, 4096, CLS_LR_SCALE_LINEAR), 4.8, 0, 1e-12, "linear scaling");
    CHECK_CLOSE(cls_lr_scaled(0.3, 1024, CLS_LR_SCALE_SQRT), 0.6, 0, 1e-12, "sqrt scaling");
    CHECK_CLOSE(cls_lr_scaled(0.3, 1024, CLS_LR_SCALE_NONE), 0.3, 0, 0, "no scaling");
    cls_lr_scaling s;
    CHECK_STATUS(cls_lr_scaling_parse("sqrt", &s), CLS_OK, "parse sqrt");
    CHECK(s == CLS_LR_SCALE_SQRT, "sqrt parsed");
    CHECK_STATUS(cls_lr_scaling_parse("cube", &s), CLS_E_INVALID_ARG, "parse cube");
}

int main(void)
{
    test_sgd();
    test_adamw();
    test_lars();
    test_errors();
    test_schedule();
    return check_summary("test_optim");
}
