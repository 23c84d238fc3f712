/* One-directional InfoNCE (A -> B), fast path. Query i (row of A) scores all
 * nb >= na keys (rows of B); its positive is key labels[i] (default i), every
 * other key (including the nb - na extra ones) is a negative.
 *
 * L = w sum_i [r_i - (1-e) X_{i,l(i)} - (e/nb) sum_j X_ij], w = 1/na (mean) or 1 (sum),
 * i.e. F.cross_entropy(X, labels, label_smoothing=e). One forward pass (row
 * log-sum-exp only) and one recomputing backward: 6 na nb d executed FLOPs. */
#include "loss_engine.h"

#include <math.h>

static cls_tile_problem infonce_problem(const float *a, int64_t na, const float *b, int64_t nb, int64_t d,
                                        const int64_t *labels, const cls_loss_options *o)
{
    cls_tile_problem p = {0};
    p.a = a;
    p.precision = o->precision;
    p.na = na;
    p.b = b;
    p.nb = nb;
    p.d = d;
    p.scale = (float)o->logit_scale;
    p.threads = cls_threads_resolve(o->threads);
    p.tile = cls_tile_resolve(o->tile, na, nb, d, p.threads);
    p.labels = labels;
    p.columns = 0;
    return p;
}

static double infonce_weight(int64_t na, const cls_loss_options *o)
{
    return o->reduction == CLS_REDUCE_SUM ? 1.0 : 1.0 / (double)na;
}

static cls_tile_weights infonce_weights(int64_t na, int64_t nb, const cls_loss_options *o)
{
    double w = infonce_weight(na, o), e = o->label_smoothing;
    cls_tile_weights tw = {w, 0.0, w * e / (double)nb, w * (1.0 - e), 0.0};
    return tw;
}

/* s * (sum_i a_i) . (sum_j b_j) = sum_ij X_ij, in double. */
static double all_logits_sum(const float *a, int64_t na, const float *b, int64_t nb, int64_t d, double s)
{
    double total = 0.0;
    for (int64_t k = 0; k < d; k++) {
        double sa = 0.0, sb = 0.0;
        for (int64_t i = 0; i < na; i++) sa += a[i * d + k];
        for (int64_t j = 0; j < nb; j++) sb += b[j * d + k];
        total += sa * sb;
    }
    return s * total;
}

static double infonce_loss_value(const double *rm, const double *rl, const double *pos, const float *a,
                                 int64_t na, const float *b, int64_t nb, int64_t d, const cls_loss_options *o)
{
    double w = infonce_weight(na, o), e = o->label_smoothing, acc = 0.0;
    for (int64_t i = 0; i < na; i++) acc += (rm[i] + rl[i]) - (1.0 - e) * pos[i];
    if (e > 0.0) acc -= (e / (double)nb) * all_logits_sum(a, na, b, nb, d, o->logit_scale);
    return w * acc;
}

cls_status cls_infonce_run(cls_loss_result *res, float *grad_a, float *grad_b, const float *a,
                           int64_t na, const float *b, int64_t nb, int64_t d, const int64_t *labels,
                           const cls_loss_options *o)
{
    cls_tile_problem p = infonce_problem(a, na, b, nb, d, labels, o);
    double *st = cls_alloc(3 * (size_t)na * sizeof(double), "InfoNCE log-sum-exp state");
    if (!st) return CLS_E_NOMEM;
    cls_lse rows = {st, st + na}, none = {NULL, NULL};
    double *pos = st + 2 * na;
    cls_status s = cls_tile_forward(&p, rows, none, pos);
    if (s == CLS_OK) {
        res->loss = infonce_loss_value(rows.max, rows.log_sum, pos, a, na, b, nb, d, o);
        res->grad_bias = 0.0;
        res->grad_logit_scale = NAN;
        if (grad_a) {
            cls_tile_weights w = infonce_weights(na, nb, o);
            s = cls_tile_backward(&p, &w, rows, none, grad_a, grad_b);
            if (s == CLS_OK) s = cls_grad_scale_from(&res->grad_logit_scale, grad_a, a, na, d, o->logit_scale, o->threads);
        }
    }
    cls_free(st);
    return s;
}

/* ---- public forward / backward with float LSE state ---------------------- */

static cls_status check_public(const float *a, int64_t na, const float *b, int64_t nb, int64_t d,
                               const int64_t *labels, const cls_loss_options *o)
{
    if (!o) return cls_set_error(CLS_E_INVALID_ARG, "options is NULL");
    if (!a || !b) return cls_set_error(CLS_E_INVALID_ARG, "an input pointer is NULL");
    cls_status s = cls_loss_check_args(CLS_LOSS_INFONCE, na, nb, d, labels, o);
    if (s == CLS_OK) s = cls_check_finite_f32(a, na, d, "a");
    if (s == CLS_OK) s = cls_check_finite_f32(b, nb, d, "b");
    return s;
}

cls_status cls_infonce_forward(double *loss, float *row_lse, const float *a, int64_t na, const float *b,
                               int64_t nb, int64_t d, const int64_t *labels, const cls_loss_options *options)
{
    cls_status s = check_public(a, na, b, nb, d, labels, options);
    if (s != CLS_OK) return s;
    if (!loss || !row_lse) return cls_set_error(CLS_E_INVALID_ARG, "loss or row_lse is NULL");
    cls_tile_problem p = infonce_problem(a, na, b, nb, d, labels, options);
    double *st = cls_alloc(3 * (size_t)na * sizeof(double), "InfoNCE log-sum-exp state");
    if (!st) return CLS_E_NOMEM;
    cls_lse rows = {st, st + na}, none = {NULL, NULL};
    s = cls_tile_forward(&p, rows, none, st + 2 * na);
    if (s == CLS_OK) {
        *loss = infonce_loss_value(rows.max, rows.log_sum, st + 2 * na, a, na, b, nb, d, options);
        for (int64_t i = 0; i < na; i++) row_lse[i] = (float)(rows.max[i] + rows.log_sum[i]);
    }
    cls_free(st);
    return s;
}

cls_status cls_infonce_backward(float *grad_a, float *grad_b, double *grad_logit_scale, const float *row_lse,
                                const float *a, int64_t na, const float *b, int64_t nb, int64_t d,
                                const int64_t *labels, const cls_loss_options *options)
{
    cls_status s = check_public(a, na, b, nb, d, labels, options);
    if (s != CLS_OK) return s;
    if (!grad_a || !grad_b || !row_lse) return cls_set_error(CLS_E_INVALID_ARG, "a gradient or row_lse is NULL");
    if ((s = cls_check_finite_f32(row_lse, 1, na, "row_lse")) != CLS_OK) return s;
    cls_tile_problem p = infonce_problem(a, na, b, nb, d, labels, options);
    double *st = cls_alloc(2 * (size_t)na * sizeof(double), "InfoNCE log-sum-exp state");
    if (!st) return CLS_E_NOMEM;
    for (int64_t i = 0; i < na; i++) {
        st[i] = row_lse[i];
        st[na + i] = 0.0;
    }
    cls_lse rows = {st, st + na}, none = {NULL, NULL};
    cls_tile_weights w = infonce_weights(na, nb, options);
    s = cls_tile_backward(&p, &w, rows, none, grad_a, grad_b);
    if (s == CLS_OK && grad_logit_scale)
        s = cls_grad_scale_from(grad_logit_scale, grad_a, a, na, d, options->logit_scale, options->threads);
    cls_free(st);
    return s;
}
