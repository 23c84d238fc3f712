/* Input validation and tile choice shared by the NT-Xent and SigLIP kernels. */
#include "pair_util.h"

#include <limits.h>
#include <math.h>

/* Checks on everything but the array values (shared by the f32 and f64 paths). */
static cls_status check_common(const char *loss, const void *a, const void *b, int64_t n, int64_t d,
                               const cls_loss_options *o, int use_bias)
{
    if (!a || !b) return cls_set_error(CLS_E_INVALID_ARG, "%s: input %s is NULL", loss, !a ? "a" : "b");
    if (!o) return cls_set_error(CLS_E_INVALID_ARG, "%s: options is NULL", loss);
    if (n <= 0 || d <= 0)
        return cls_set_error(CLS_E_SHAPE, "%s: empty input (%lld rows x %lld columns)", loss,
                             (long long)n, (long long)d);
    size_t bytes;
    if (!cls_size_mul(&bytes, 2 * n, d, (int64_t)sizeof(double))) return CLS_E_INVALID_ARG;
    if (d > INT_MAX)
        return cls_set_error(CLS_E_UNSUPPORTED, "%s: dimension %lld exceeds the BLAS index range", loss,
                             (long long)d);
    if (!isfinite(o->logit_scale) || o->logit_scale <= 0.0)
        return cls_set_error(CLS_E_INVALID_ARG, "%s: logit scale must be positive and finite (got %g)",
                             loss, o->logit_scale);
    if (use_bias && !isfinite(o->bias))
        return cls_set_error(CLS_E_INVALID_ARG, "%s: bias must be finite (got %g)", loss, o->bias);
    if (!use_bias && !(o->label_smoothing >= 0.0 && o->label_smoothing < 1.0))
        return cls_set_error(CLS_E_INVALID_ARG, "%s: label smoothing must be in [0, 1) (got %g)", loss,
                             o->label_smoothing);
    if (o->reduction != CLS_REDUCE_MEAN && o->reduction != CLS_REDUCE_SUM)
        return cls_set_error(CLS_E_INVALID_ARG, "%s: unknown reduction %d", loss, (int)o->reduction);
    if (o->tile < 0)
        return cls_set_error(CLS_E_INVALID_ARG, "%s: tile must be >= 0 (got %lld)", loss,
                             (long long)o->tile);
    if (o->precision != CLS_PRECISION_FP32 && o->precision != CLS_PRECISION_BF16)
        return cls_set_error(CLS_E_INVALID_ARG, "%s: unknown precision %d (fp32 or bf16)", loss, (int)o->precision);
    return CLS_OK;
}

cls_status cls_pair_check_f32(const char *loss, const float *a, const float *b, int64_t n, int64_t d,
                              const cls_loss_options *o, int use_bias)
{
    cls_status st = check_common(loss, a, b, n, d, o, use_bias);
    if (st) return st;
    if ((st = cls_check_finite_f32(a, n, d, "a"))) return cls_error_context(st, "%s", loss);
    if ((st = cls_check_finite_f32(b, n, d, "b"))) return cls_error_context(st, "%s", loss);
    return CLS_OK;
}

cls_status cls_pair_check_f64(const char *loss, const double *a, const double *b, int64_t n,
                              int64_t d, const cls_loss_options *o, int use_bias)
{
    cls_status st = check_common(loss, a, b, n, d, o, use_bias);
    if (st) return st;
    if ((st = cls_check_finite_f64(a, n, d, "a"))) return cls_error_context(st, "%s", loss);
    if ((st = cls_check_finite_f64(b, n, d, "b"))) return cls_error_context(st, "%s", loss);
    return CLS_OK;
}

int64_t cls_pair_tile(const cls_loss_options *o, int64_t rows)
{
    /* 256 x 256 floats = 256 KB: one tile of logits stays in L2 while the
     * element-wise pass and the gradient sgemm read it. */
    int64_t t = (o && o->tile > 0) ? o->tile : 256;
    return t < rows ? t : rows;
}
