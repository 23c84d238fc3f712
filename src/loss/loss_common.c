/* What every loss file shares (one place, no cycle between the loss files):
 * argument checks (cls_loss_compute and the split / pair APIs), row
 * normalisation and its backward, dL/ds from a gradient, and the bf16 copies
 * of the inputs for the tile products. */
#include "loss_engine.h"
#include "pair_util.h"

#include <limits.h>
#include <math.h>
#include <omp.h>
#include <string.h>

cls_status cls_loss_check_args(cls_loss_kind kind, int64_t na, int64_t nb, int64_t d, const int64_t *labels,
                               const cls_loss_options *o)
{
    if ((unsigned)kind > CLS_LOSS_SIGLIP) return cls_set_error(CLS_E_INVALID_ARG, "unknown loss kind %d", (int)kind);
    const char *name = cls_loss_kind_name(kind);
    if (na <= 0) return cls_set_error(CLS_E_SHAPE, "a has %lld rows; need at least 1", (long long)na);
    if (nb <= 0) return cls_set_error(CLS_E_SHAPE, "b has %lld rows; need at least 1", (long long)nb);
    if (d <= 0) return cls_set_error(CLS_E_SHAPE, "the feature dimension d is %lld; need at least 1", (long long)d);
    if (kind == CLS_LOSS_INFONCE) {
        if (na > nb)
            return cls_set_error(CLS_E_SHAPE, "infonce: a has %lld rows (queries) but b only %lld (keys); need keys >= queries",
                                 (long long)na, (long long)nb);
    } else if (na != nb) {
        return cls_set_error(CLS_E_SHAPE, "%s: a has %lld rows but b has %lld; they must match", name,
                             (long long)na, (long long)nb);
    }
    if (!(o->logit_scale > 0.0) || !isfinite(o->logit_scale))
        return cls_set_error(CLS_E_INVALID_ARG, "logit scale (logit_scale) is %g; it must be positive and finite", o->logit_scale);
    if (!isfinite(o->bias)) return cls_set_error(CLS_E_INVALID_ARG, "bias is %g; it must be finite", o->bias);
    if (!(o->label_smoothing >= 0.0 && o->label_smoothing < 1.0))
        return cls_set_error(CLS_E_INVALID_ARG, "label_smoothing is %g; it must be in [0, 1)", o->label_smoothing);
    if (o->label_smoothing > 0.0 && kind == CLS_LOSS_SIGLIP)
        return cls_set_error(CLS_E_INVALID_ARG, "label_smoothing is not defined for siglip");
    if (o->reduction != CLS_REDUCE_MEAN && o->reduction != CLS_REDUCE_SUM)
        return cls_set_error(CLS_E_INVALID_ARG, "unknown reduction %d", (int)o->reduction);
    if (o->tile < 0 || o->tile > CLS_TILE_MAX)
        return cls_set_error(CLS_E_INVALID_ARG, "tile is %lld; it must be in [0, %d] (0 = automatic)",
                             (long long)o->tile, CLS_TILE_MAX);
    if (o->threads < 0) return cls_set_error(CLS_E_INVALID_ARG, "threads is %d; use 0 for all cores", o->threads);
    if (o->precision != CLS_PRECISION_FP32 && o->precision != CLS_PRECISION_BF16)
        return cls_set_error(CLS_E_INVALID_ARG, "unknown precision %d (fp32 or bf16)", (int)o->precision);
    if (labels) {
        if (kind != CLS_LOSS_INFONCE) return cls_set_error(CLS_E_INVALID_ARG, "labels are only used by infonce");
        for (int64_t i = 0; i < na; i++)
            if (labels[i] < 0 || labels[i] >= nb)
                return cls_set_error(CLS_E_INVALID_ARG, "labels[%lld] = %lld is out of range [0, %lld)", (long long)i,
                                     (long long)labels[i], (long long)nb);
    }
    return CLS_OK;
}

/* ---- normalisation ------------------------------------------------------- */

cls_status cls_loss_check_nonzero_rows(const float *x, int64_t n, int64_t d, const char *name)
{
    for (int64_t i = 0; i < n; i++) {
        double ss = 0.0;
        for (int64_t k = 0; k < d; k++) ss += (double)x[i * d + k] * x[i * d + k];
        if (!(ss > 0.0))
            return cls_set_error(CLS_E_INVALID_ARG, "%s[%lld] has zero norm and cannot be normalised", name,
                                 (long long)i);
    }
    return CLS_OK;
}

void cls_loss_normalize_rows(float *dst, const float *x, int64_t n, int64_t d, int threads)
{
#pragma omp parallel for schedule(static) num_threads(cls_threads_resolve(threads))
    for (int64_t i = 0; i < n; i++) {
        double ss = 0.0;
        for (int64_t k = 0; k < d; k++) ss += (double)x[i * d + k] * x[i * d + k];
        double inv = 1.0 / sqrt(ss);
        for (int64_t k = 0; k < d; k++) dst[i * d + k] = (float)(x[i * d + k] * inv);
    }
}

/* g <- (g - x_hat (x_hat . g)) / |x|, in place (g holds dL/dx_hat on entry). */
void cls_loss_normalize_backward(float *g, const float *x, int64_t n, int64_t d, int threads)
{
#pragma omp parallel for schedule(static) num_threads(cls_threads_resolve(threads))
    for (int64_t i = 0; i < n; i++) {
        double ss = 0.0, dot = 0.0;
        for (int64_t k = 0; k < d; k++) {
            ss += (double)x[i * d + k] * x[i * d + k];
            dot += (double)x[i * d + k] * g[i * d + k];
        }
        double norm = sqrt(ss), proj = dot / ss; /* (x_hat . g) / |x| */
        for (int64_t k = 0; k < d; k++) g[i * d + k] = (float)((g[i * d + k] - x[i * d + k] * proj) / norm);
    }
}

/* ---- dL/ds and tile sources ------------------------------------------------ */

cls_status cls_grad_scale_from(double *out, const float *g, const float *x, int64_t n, int64_t d, double s, int threads)
{
    /* fixed chunks summed in order: the same bits for any thread count */
    enum { CHUNK = 256 };
    int64_t nchunks = (n + CHUNK - 1) / CHUNK;
    double stack[64], *part = nchunks <= 64 ? stack : cls_alloc((size_t)nchunks * sizeof(double), "partial sums");
    if (!part) return CLS_E_NOMEM; /* cls_alloc said what */
#pragma omp parallel for schedule(static) num_threads(cls_threads_resolve(threads))
    for (int64_t c = 0; c < nchunks; c++) {
        double acc = 0.0;
        int64_t end = (c + 1) * CHUNK < n ? (c + 1) * CHUNK : n;
        for (int64_t i = c * CHUNK; i < end; i++)
            for (int64_t k = 0; k < d; k++) acc += (double)g[i * d + k] * (double)x[i * d + k];
        part[c] = acc;
    }
    double total = 0.0;
    for (int64_t c = 0; c < nchunks; c++) total += part[c];
    if (part != stack) cls_free(part);
    *out = total / s;
    return CLS_OK;
}

cls_status cls_loss_tile_sources(cls_tile_src *sa, cls_tile_src *sb, cls_bf16 **copy, const float *a, int64_t na,
                                 const float *b, int64_t nb, int64_t d, cls_precision precision)
{
    sa->f = a;
    sb->f = b;
    sa->h = sb->h = NULL;
    *copy = NULL;
    if (precision != CLS_PRECISION_BF16) return CLS_OK;
    cls_bf16 *h = cls_alloc(((size_t)na + (size_t)nb) * (size_t)d * sizeof(cls_bf16), "bf16 copies of the inputs");
    if (!h) return CLS_E_NOMEM;
    cls_bf16_from_f32(h, a, na * d);
    cls_bf16_from_f32(h + na * d, b, nb * d);
    sa->h = h;
    sb->h = h + na * d;
    *copy = h;
    return CLS_OK;
}

/* ---- NT-Xent / SigLIP entry checks ------------------------------------------ */

/* Checks on everything but the array values (shared by the f32 and f64
 * paths): the option and shape checks are cls_loss_check_args's, with the
 * loss named in front of the message. */
static cls_status check_common(const char *loss, const void *a, const void *b, int64_t n, int64_t d,
                               const cls_loss_options *o, int use_bias)
{
    if (!a || !b) return cls_set_error(CLS_E_INVALID_ARG, "%s: input %s is NULL", loss, !a ? "a" : "b");
    if (!o) return cls_set_error(CLS_E_INVALID_ARG, "%s: options is NULL", loss);
    size_t bytes;
    if (n > 0 && d > 0 && !cls_size_mul(&bytes, 2 * n, d, (int64_t)sizeof(double))) return CLS_E_INVALID_ARG;
    if (d > INT_MAX)
        return cls_set_error(CLS_E_UNSUPPORTED, "%s: dimension %lld exceeds the BLAS index range", loss,
                             (long long)d);
    cls_status st = cls_loss_check_args(use_bias ? CLS_LOSS_SIGLIP : CLS_LOSS_NTXENT, n, n, d, NULL, o);
    return st ? cls_error_context(st, "%s", loss) : CLS_OK;
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
