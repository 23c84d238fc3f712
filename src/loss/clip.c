/* Symmetric InfoNCE (CLIP), fast path: one forward pass and one recomputing
 * backward over tiles (tile_kernel.c), 8 b^2 d executed FLOPs in all:
 * forward 2 b^2 d (X), backward 6 b^2 d (X again, s G B, s G^T A).
 *
 * L = w sum_i [r_i - (1-e) X_ii - (e/b) sum_j X_ij] + w sum_j [c_j - (1-e) X_jj - (e/b) sum_i X_ij]
 * with w = 1/(2b) (mean) or 1/2 (sum: the two directions averaged, summed
 * over pairs, as (CE(X) + CE(X^T)) / 2 with reduction 'sum'), e = label smoothing.
 * The smoothing sums are O(b d): sum_ij X_ij = s (sum_i a_i) . (sum_j b_j). */
#include "loss_engine.h"

#include <math.h>
#include <omp.h>

/* s * (sum_i x_i) . (sum_j y_j), in double. */
static double scaled_sum_dot(const float *x, const float *y, int64_t n, int64_t d, double s)
{
    double total = 0.0;
    for (int64_t k = 0; k < d; k++) {
        double sx = 0.0, sy = 0.0;
        for (int64_t i = 0; i < n; i++) sx += x[i * d + k];
        for (int64_t i = 0; i < n; i++) sy += y[i * d + k];
        total += sx * sy;
    }
    return s * total;
}

static cls_tile_problem clip_problem(const float *a, const float *b, int64_t n, int64_t d,
                                     const cls_loss_options *o)
{
    cls_tile_problem p = {0};
    p.a = a;
    p.precision = o->precision;
    p.na = n;
    p.b = b;
    p.nb = n;
    p.d = d;
    p.scale = (float)o->logit_scale;
    p.threads = cls_threads_resolve(o->threads);
    p.tile = cls_tile_resolve(o->tile, n, n, d, p.threads);
    p.labels = NULL;
    p.columns = 1;
    return p;
}

static double clip_weight(int64_t n, const cls_loss_options *o)
{
    return o->reduction == CLS_REDUCE_SUM ? 0.5 : 1.0 / (2.0 * (double)n);
}

static cls_tile_weights clip_weights(int64_t n, const cls_loss_options *o)
{
    double w = clip_weight(n, o), e = o->label_smoothing;
    cls_tile_weights tw = {w, w, 2.0 * w * e / (double)n, w * (1.0 - e), w * (1.0 - e)};
    return tw;
}

/* Loss from the forward's saved state. */
static double clip_loss_value(const double *rm, const double *rl, const double *cm, const double *cl,
                              const double *pos, const float *a, const float *b, int64_t n, int64_t d,
                              const cls_loss_options *o)
{
    double w = clip_weight(n, o), e = o->label_smoothing, acc = 0.0;
    for (int64_t i = 0; i < n; i++) acc += (rm[i] + rl[i]) + (cm[i] + cl[i]) - 2.0 * (1.0 - e) * pos[i];
    if (e > 0.0) acc -= 2.0 * (e / (double)n) * scaled_sum_dot(a, b, n, d, o->logit_scale);
    return w * acc;
}

cls_status cls_clip_run(cls_loss_result *res, float *grad_a, float *grad_b, const float *a,
                        const float *b, int64_t n, int64_t d, const cls_loss_options *o)
{
    cls_tile_problem p = clip_problem(a, b, n, d, o);
    double *st = cls_alloc(5 * (size_t)n * sizeof(double), "CLIP log-sum-exp state");
    if (!st) return CLS_E_NOMEM;
    cls_lse rows = {st, st + n}, cols = {st + 2 * n, st + 3 * n};
    double *pos = st + 4 * n;
    cls_status s = cls_tile_forward(&p, rows, cols, pos);
    if (s == CLS_OK) {
        res->loss = clip_loss_value(rows.max, rows.log_sum, cols.max, cols.log_sum, pos, a, b, n, d, o);
        res->grad_bias = 0.0;
        res->grad_logit_scale = NAN;
        if (grad_a) {
            cls_tile_weights w = clip_weights(n, o);
            s = cls_tile_backward(&p, &w, rows, cols, grad_a, grad_b);
            if (s == CLS_OK) s = cls_grad_scale_from(&res->grad_logit_scale, grad_a, a, n, d, o->logit_scale, o->threads);
        }
    }
    cls_free(st);
    return s;
}

/* ---- public forward / backward with float LSE state ---------------------- */

static cls_status check_public(float *out1, const float *a, const float *b, int64_t n, int64_t d,
                               const cls_loss_options *o)
{
    if (!o) return cls_set_error(CLS_E_INVALID_ARG, "options is NULL");
    if (!out1 || !a || !b) return cls_set_error(CLS_E_INVALID_ARG, "an input or output pointer is NULL");
    cls_status s = cls_loss_check_args(CLS_LOSS_CLIP, n, n, d, NULL, o);
    if (s == CLS_OK) s = cls_check_finite_f32(a, n, d, "a");
    if (s == CLS_OK) s = cls_check_finite_f32(b, n, d, "b");
    return s;
}

cls_status cls_clip_forward(double *loss, float *row_lse, float *col_lse, const float *a, const float *b,
                            int64_t n, int64_t d, const cls_loss_options *options)
{
    cls_status s = check_public(row_lse, a, b, n, d, options);
    if (s != CLS_OK) return s;
    if (!loss || !col_lse) return cls_set_error(CLS_E_INVALID_ARG, "loss or col_lse is NULL");
    cls_tile_problem p = clip_problem(a, b, n, d, options);
    double *st = cls_alloc(5 * (size_t)n * sizeof(double), "CLIP log-sum-exp state");
    if (!st) return CLS_E_NOMEM;
    cls_lse rows = {st, st + n}, cols = {st + 2 * n, st + 3 * n};
    s = cls_tile_forward(&p, rows, cols, st + 4 * n);
    if (s == CLS_OK) {
        *loss = clip_loss_value(rows.max, rows.log_sum, cols.max, cols.log_sum, st + 4 * n, a, b, n, d, options);
        for (int64_t i = 0; i < n; i++) {
            row_lse[i] = (float)(rows.max[i] + rows.log_sum[i]);
            col_lse[i] = (float)(cols.max[i] + cols.log_sum[i]);
        }
    }
    cls_free(st);
    return s;
}

cls_status cls_clip_backward(float *grad_a, float *grad_b, double *grad_logit_scale, const float *row_lse,
                             const float *col_lse, const float *a, const float *b, int64_t n, int64_t d,
                             const cls_loss_options *options)
{
    cls_status s = check_public(grad_a, a, b, n, d, options);
    if (s != CLS_OK) return s;
    if (!grad_b || !row_lse || !col_lse) return cls_set_error(CLS_E_INVALID_ARG, "grad_b or an LSE array is NULL");
    if ((s = cls_check_finite_f32(row_lse, 1, n, "row_lse")) != CLS_OK) return s;
    if ((s = cls_check_finite_f32(col_lse, 1, n, "col_lse")) != CLS_OK) return s;
    cls_tile_problem p = clip_problem(a, b, n, d, options);
    double *st = cls_alloc(4 * (size_t)n * sizeof(double), "CLIP log-sum-exp state");
    if (!st) return CLS_E_NOMEM;
    /* the saved LSE is used whole as the "max" with a zero log-sum */
    for (int64_t i = 0; i < n; i++) {
        st[i] = row_lse[i];
        st[n + i] = 0.0;
        st[2 * n + i] = col_lse[i];
        st[3 * n + i] = 0.0;
    }
    cls_lse rows = {st, st + n}, cols = {st + 2 * n, st + 3 * n};
    cls_tile_weights w = clip_weights(n, options);
    s = cls_tile_backward(&p, &w, rows, cols, grad_a, grad_b);
    if (s == CLS_OK && grad_logit_scale)
        s = cls_grad_scale_from(grad_logit_scale, grad_a, a, n, d, options->logit_scale, options->threads);
    cls_free(st);
    return s;
}
