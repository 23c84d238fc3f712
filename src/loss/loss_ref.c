/* cls_loss_compute_ref: the float64 twin of cls_loss_compute. Same checks,
 * normalisation and its backward in double, then the *_ref kernels, which
 * materialise the full logits (O(na nb) memory: tests and small sizes only). */
#include "loss_engine.h"

#include <math.h>
#include <string.h>

static cls_status check_nonzero_rows(const double *x, int64_t n, int64_t d, const char *name)
{
    for (int64_t i = 0; i < n; i++) {
        double ss = 0.0;
        for (int64_t k = 0; k < d; k++) ss += x[i * d + k] * x[i * d + k];
        if (!(ss > 0.0))
            return cls_set_error(CLS_E_INVALID_ARG, "%s[%lld] has zero norm and cannot be normalised", name,
                                 (long long)i);
    }
    return CLS_OK;
}

static void normalize_rows(double *dst, const double *x, int64_t n, int64_t d)
{
    for (int64_t i = 0; i < n; i++) {
        double ss = 0.0;
        for (int64_t k = 0; k < d; k++) ss += x[i * d + k] * x[i * d + k];
        double norm = sqrt(ss);
        for (int64_t k = 0; k < d; k++) dst[i * d + k] = x[i * d + k] / norm;
    }
}

/* g_x = (g_hat - x_hat (x_hat . g_hat)) / |x| */
static void normalize_backward(double *g, const double *x, int64_t n, int64_t d)
{
    for (int64_t i = 0; i < n; i++) {
        double ss = 0.0, dot = 0.0;
        for (int64_t k = 0; k < d; k++) {
            ss += x[i * d + k] * x[i * d + k];
            dot += x[i * d + k] * g[i * d + k];
        }
        double norm = sqrt(ss);
        for (int64_t k = 0; k < d; k++) g[i * d + k] = (g[i * d + k] - x[i * d + k] * dot / ss) / norm;
    }
}

cls_status cls_loss_compute_ref(cls_loss_result *result, double *grad_a, double *grad_b, const double *a,
                                int64_t na, const double *b, int64_t nb, int64_t d, const int64_t *labels,
                                const cls_loss_options *options)
{
    cls_loss_options defaults;
    if (!options) {
        cls_loss_options_init(&defaults, CLS_LOSS_CLIP);
        options = &defaults;
    }
    if (!result) return cls_set_error(CLS_E_INVALID_ARG, "result is NULL");
    if (!a || !b) return cls_set_error(CLS_E_INVALID_ARG, "input %s is NULL", !a ? "a" : "b");
    const cls_loss_kind kind = options->kind;
    cls_status s = cls_loss_check_args(kind, na, nb, d, labels, options);
    if (s != CLS_OK) return s;
    if ((s = cls_check_finite_f64(a, na, d, "a")) != CLS_OK) return s;
    if ((s = cls_check_finite_f64(b, nb, d, "b")) != CLS_OK) return s;
    if (options->normalize) {
        if ((s = check_nonzero_rows(a, na, d, "a")) != CLS_OK) return s;
        if ((s = check_nonzero_rows(b, nb, d, "b")) != CLS_OK) return s;
    }
    size_t asz = (size_t)na * (size_t)d, bsz = (size_t)nb * (size_t)d;
    double *an = NULL, *bn = NULL, *ga = grad_a, *gb = grad_b;
    if (options->normalize) {
        an = cls_alloc(asz * sizeof(double), "normalised a");
        bn = cls_alloc(bsz * sizeof(double), "normalised b");
    }
    if (!ga) ga = cls_alloc(asz * sizeof(double), "scratch gradient of a");
    if (!gb) gb = cls_alloc(bsz * sizeof(double), "scratch gradient of b");
    if ((options->normalize && (!an || !bn)) || !ga || !gb) {
        s = CLS_E_NOMEM;
        goto done;
    }
    const double *ua = a, *ub = b;
    if (options->normalize) {
        normalize_rows(an, a, na, d);
        normalize_rows(bn, b, nb, d);
        ua = an;
        ub = bn;
    }
    cls_loss_result res = {0};
    switch (kind) {
    case CLS_LOSS_CLIP: s = cls_clip_ref(&res, ga, gb, ua, ub, na, d, options); break;
    case CLS_LOSS_INFONCE: s = cls_infonce_ref(&res, ga, gb, ua, na, ub, nb, d, labels, options); break;
    case CLS_LOSS_NTXENT: s = cls_ntxent_ref(&res, ga, gb, ua, ub, na, d, options); break;
    case CLS_LOSS_SIGLIP: s = cls_siglip_ref(&res, ga, gb, ua, ub, na, d, options); break;
    }
    if (s == CLS_OK) {
        if (options->normalize) {
            normalize_backward(ga, a, na, d);
            normalize_backward(gb, b, nb, d);
        }
        *result = res;
    }
done:
    cls_free(an);
    cls_free(bn);
    if (ga != grad_a) cls_free(ga);
    if (gb != grad_b) cls_free(gb);
    return s;
}
