/* bf16 tile products (cls_loss_options.precision = CLS_PRECISION_BF16): the
 * loss and gradients against the float64 reference, with the error bound
 * derived in docs/loss.md ("Precision"), on every loss kind, over d and s.
 *
 * Bound. Every product input (A, B and the gradient tiles G) is rounded to
 * bfloat16: relative error <= u = 2^-8. A logit then carries
 *   |dX_ij| <= delta = s (2u + u^2 + (d + 2) 2^-24) |a_i| |b_j|
 * (two rounded factors per term, then fp32 accumulation of d terms).
 * - CLIP / InfoNCE / NT-Xent: a log-sum-exp and a logit each move by <= delta,
 *   so |dL| <= 2 delta. SigLIP: softplus is 1-Lipschitz, |dL| <= w n^2 delta.
 * - Gradients, E = sum_i |dgA_i| + sum_j |dgB_j| (row 2-norms), divided by
 *   s max|a| max|b|: softmax entries move by a factor in [e^-2delta, e^2delta],
 *   so sum |dP| <= rows (e^{2 delta} - 1); rounding G and the other factor adds
 *   (2u + u^2) sum |G|. With w = 1/(2n) (CLIP), 1/n (InfoNCE), 1/(2n) (NT-Xent,
 *   G + G^T doubling both terms): E <= 2 (e^{2 delta} - 1) + 4 (2u + u^2); SigLIP
 *   (sigmoid 1/4-Lipschitz, w = 1/n): E <= 2 n (delta / 4 + 2u + u^2).
 * Plus an fp32 allowance of 1e-5 (1 + |L|) on the loss and 1e-4 on E.
 * Printed: the relative loss error and E against the bound, per (kind, d, s). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "clscale.h"
#include "clscale/gemm.h"
#include "clscale/loss.h"
#include "clscale/rng.h"

static void unit_rows(float *x, double *xd, int64_t n, int64_t d, uint64_t seed)
{
    cls_rng rng;
    cls_rng_seed(&rng, seed);
    cls_rng_fill_normal_f32(&rng, x, n * d);
    for (int64_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int64_t k = 0; k < d; k++) s += (double)x[i * d + k] * x[i * d + k];
        for (int64_t k = 0; k < d; k++) x[i * d + k] = (float)(x[i * d + k] / sqrt(s));
        for (int64_t k = 0; k < d; k++) xd[i * d + k] = x[i * d + k];
    }
}

static double max_row_norm(const float *x, int64_t n, int64_t d)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int64_t k = 0; k < d; k++) s += (double)x[i * d + k] * x[i * d + k];
        m = fmax(m, sqrt(s));
    }
    return m;
}

/* sum over rows of |g - ref|_2 */
static double row_err_sum(const float *g, const double *ref, int64_t n, int64_t d)
{
    double t = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int64_t k = 0; k < d; k++) s += (g[i * d + k] - ref[i * d + k]) * (g[i * d + k] - ref[i * d + k]);
        t += sqrt(s);
    }
    return t;
}

static void check_case(cls_loss_kind kind, int64_t n, int64_t d, double s, int64_t tile)
{
    const int64_t na = n, nb = kind == CLS_LOSS_INFONCE ? n + n / 2 : n;
    float *a = malloc((size_t)(na * d) * sizeof(float)), *b = malloc((size_t)(nb * d) * sizeof(float));
    double *ad = malloc((size_t)(na * d) * sizeof(double)), *bd = malloc((size_t)(nb * d) * sizeof(double));
    float *ga = malloc((size_t)(na * d) * sizeof(float)), *gb = malloc((size_t)(nb * d) * sizeof(float));
    double *gad = malloc((size_t)(na * d) * sizeof(double)), *gbd = malloc((size_t)(nb * d) * sizeof(double));
    unit_rows(a, ad, na, d, 11 + (uint64_t)d);
    unit_rows(b, bd, nb, d, 17 + (uint64_t)d);
    /* correlated positives so the loss is not at its random-init value */
    for (int64_t i = 0; i < na * d; i++) bd[i] = b[i] = 0.6f * a[i] + 0.8f * b[i];
    cls_loss_options o;
    cls_loss_options_init(&o, kind);
    o.logit_scale = s;
    o.tile = tile;
    o.threads = 2;
    o.precision = CLS_PRECISION_BF16;
    cls_loss_result r, rr;
    cls_status st = cls_loss_compute(&r, ga, gb, a, na, b, nb, d, NULL, &o);
    CHECK(st == CLS_OK, "bf16 %s: %s", cls_loss_kind_name(kind), cls_last_error());
    st = cls_loss_compute_ref(&rr, gad, gbd, ad, na, bd, nb, d, NULL, &o);
    CHECK(st == CLS_OK, "ref %s: %s", cls_loss_kind_name(kind), cls_last_error());

    const double u = ldexp(1.0, -8), eu = 2 * u + u * u;
    const double na_ = max_row_norm(a, na, d), nb_ = max_row_norm(b, nb, d);
    const double delta = s * (eu + (double)(d + 2) * ldexp(1.0, -24)) * na_ * nb_;
    double loss_bound, grad_bound;
    if (kind == CLS_LOSS_SIGLIP) {
        loss_bound = (double)n * delta; /* w n^2 delta, w = 1/n */
        grad_bound = 2.0 * (double)n * (delta / 4.0 + eu);
    } else {
        loss_bound = 2.0 * delta;
        grad_bound = 2.0 * expm1(2.0 * delta) + 4.0 * eu;
    }
    loss_bound += 1e-5 * (1.0 + fabs(rr.loss));
    grad_bound += 1e-4;
    const double dl = fabs(r.loss - rr.loss);
    const double eg = (row_err_sum(ga, gad, na, d) + row_err_sum(gb, gbd, nb, d)) / (s * na_ * nb_);
    CHECK(dl <= loss_bound, "%s d=%lld s=%g: |dL| %.3g > bound %.3g", cls_loss_kind_name(kind), (long long)d, s, dl,
          loss_bound);
    CHECK(eg <= grad_bound, "%s d=%lld s=%g: gradient error %.3g > bound %.3g", cls_loss_kind_name(kind), (long long)d,
          s, eg, grad_bound);
    /* Typical size, much tighter than the worst case (rounding errors of d
     * terms average out): |dL| <= s u / sqrt(d) for unit rows, and for the
     * softmax losses E <= 4u (G's own rounding dominates). Empirical: in this
     * grid |dL| stays below 1/20 and E below 0.6 of these. Catches e.g. an
     * extra rounding or truncation instead of rounding, which the worst-case
     * bound would let through. */
    CHECK(dl <= s * u / sqrt((double)d) * na_ * nb_ + 1e-5 * (1.0 + fabs(rr.loss)),
          "%s d=%lld s=%g: |dL| %.3g above the typical size %.3g", cls_loss_kind_name(kind), (long long)d, s, dl,
          s * u / sqrt((double)d));
    if (kind != CLS_LOSS_SIGLIP)
        CHECK(eg <= 4.0 * u, "%s d=%lld s=%g: gradient error %.3g above the typical size 4u", cls_loss_kind_name(kind),
              (long long)d, s, eg);
    /* bf16 must actually be in use: the result differs from fp32 */
    o.precision = CLS_PRECISION_FP32;
    cls_loss_result rf;
    cls_loss_compute(&rf, NULL, NULL, a, na, b, nb, d, NULL, &o);
    CHECK(rf.loss != r.loss, "%s d=%lld: bf16 loss equals the fp32 loss bit for bit", cls_loss_kind_name(kind),
          (long long)d);
    printf("  %-8s d=%4lld s=%6.2f  L=%9.5f  rel loss err %.2e (bound %.2e, used %5.1f%%)  grad err %.2e (bound "
           "%.2e, used %5.1f%%)\n",
           cls_loss_kind_name(kind), (long long)d, s, rr.loss, dl / fabs(rr.loss), loss_bound / fabs(rr.loss),
           100 * dl / loss_bound, eg, grad_bound, 100 * eg / grad_bound);
    free(a);
    free(b);
    free(ad);
    free(bd);
    free(ga);
    free(gb);
    free(gad);
    free(gbd);
}

int main(void)
{
    static const int64_t dims[] = {16, 64, 256};
    static const double scales[] = {1.0, 1.0 / 0.07, 50.0};
    static const cls_loss_kind kinds[] = {CLS_LOSS_CLIP, CLS_LOSS_INFONCE, CLS_LOSS_NTXENT, CLS_LOSS_SIGLIP};
    printf("bf16 tile products against the float64 reference (n = 200, tile 64, gemm backend %s)\n",
           cls_gemm_backend());
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (size_t q = 0; q < sizeof dims / sizeof dims[0]; q++)
            for (size_t z = 0; z < sizeof scales / sizeof scales[0]; z++) check_case(kinds[k], 200, dims[q], scales[z], 64);
    /* bad precision value is rejected */
    cls_loss_options o;
    cls_loss_options_init(&o, CLS_LOSS_CLIP);
    o.precision = (cls_precision)7;
    float x[4] = {1, 0, 0, 1};
    cls_loss_result r;
    CHECK_STATUS(cls_loss_compute(&r, NULL, NULL, x, 2, x, 2, 2, NULL, &o), CLS_E_INVALID_ARG, "precision 7");
    /* the workspace estimate counts the bf16 copies of a and b */
    cls_loss_options_init(&o, CLS_LOSS_CLIP);
    o.threads = 2;
    size_t w32 = cls_loss_workspace_bytes(4096, 4096, 512, &o);
    o.precision = CLS_PRECISION_BF16;
    size_t w16 = cls_loss_workspace_bytes(4096, 4096, 512, &o);
    CHECK(w16 >= w32 + (size_t)2 * 4096 * 512 * 2, "bf16 workspace %zu vs fp32 %zu", w16, w32);
    cls_precision p;
    CHECK_STATUS(cls_loss_precision_parse("bf16", &p), CLS_OK, "parse bf16");
    CHECK(p == CLS_PRECISION_BF16, "bf16 parsed as %d", (int)p);
    CHECK_STATUS(cls_loss_precision_parse("fp16", &p), CLS_E_INVALID_ARG, "fp16 is not offered");
    return check_summary("loss_bf16");
}
