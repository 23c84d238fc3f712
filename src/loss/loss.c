/* cls_loss_compute: the one-call entry point of the loss engine. It checks
 * every argument and every input value before anything is written (so the
 * outputs are untouched on failure), applies the optional row
 * L2-normalisation and its exact backward around the kernels, and dispatches
 * to the fast kernel of each kind.
 *
 * Normalisation: a_hat = a / |a|; backward g_a = (g_hat - a_hat (a_hat . g_hat)) / |a|.
 * A zero row cannot be normalised (its direction is undefined): it is
 * reported as an error naming the row, never turned into NaN. */
#include "loss_engine.h"

#include <math.h>
#include <string.h>

void cls_loss_options_init(cls_loss_options *opt, cls_loss_kind kind)
{
    if (!opt) return;
    memset(opt, 0, sizeof *opt);
    opt->kind = kind;
    opt->logit_scale = 1.0 / 0.07;
    opt->bias = -10.0;
    opt->normalize = 0;
    opt->reduction = CLS_REDUCE_MEAN;
    opt->label_smoothing = 0.0;
    opt->tile = 0;
    opt->threads = 0;
    opt->precision = CLS_PRECISION_FP32;
}

cls_status cls_loss_precision_parse(const char *name, cls_precision *out)
{
    if (!name || !out) return cls_set_error(CLS_E_INVALID_ARG, "precision name or output is NULL");
    if (strcmp(name, "fp32") == 0) *out = CLS_PRECISION_FP32;
    else if (strcmp(name, "bf16") == 0) *out = CLS_PRECISION_BF16;
    else return cls_set_error(CLS_E_INVALID_ARG, "unknown precision '%s' (fp32, bf16)", name);
    return CLS_OK;
}

const char *cls_loss_precision_name(cls_precision precision)
{
    return precision == CLS_PRECISION_FP32 ? "fp32" : precision == CLS_PRECISION_BF16 ? "bf16" : "unknown";
}

static const char *const kind_names[] = {"clip", "infonce", "ntxent", "siglip"};

cls_status cls_loss_kind_parse(const char *name, cls_loss_kind *out)
{
    if (!name || !out) return cls_set_error(CLS_E_INVALID_ARG, "loss name or output is NULL");
    for (int k = 0; k < 4; k++)
        if (strcmp(name, kind_names[k]) == 0) {
            *out = (cls_loss_kind)k;
            return CLS_OK;
        }
    return cls_set_error(CLS_E_INVALID_ARG, "unknown loss '%s' (expected clip, infonce, ntxent or siglip)", name);
}

const char *cls_loss_kind_name(cls_loss_kind kind)
{
    return (unsigned)kind < 4 ? kind_names[kind] : "unknown";
}

/* ---- the entry point ------------------------------------------------------ */

cls_status cls_loss_compute(cls_loss_result *result, float *grad_a, float *grad_b, const float *a, int64_t na,
                            const float *b, int64_t nb, int64_t d, const int64_t *labels,
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
    if ((s = cls_check_finite_f32(a, na, d, "a")) != CLS_OK) return s;
    if ((s = cls_check_finite_f32(b, nb, d, "b")) != CLS_OK) return s;
    if (options->normalize) {
        if ((s = cls_loss_check_nonzero_rows(a, na, d, "a")) != CLS_OK) return s;
        if ((s = cls_loss_check_nonzero_rows(b, nb, d, "b")) != CLS_OK) return s;
    }

    /* NT-Xent and SigLIP always get both gradient buffers; CLIP and InfoNCE
     * skip the backward when neither gradient is asked for. */
    int want_grads = grad_a || grad_b || kind == CLS_LOSS_NTXENT || kind == CLS_LOSS_SIGLIP;
    size_t asz = (size_t)na * (size_t)d, bsz = (size_t)nb * (size_t)d;
    float *an = NULL, *bn = NULL, *ga = grad_a, *gb = grad_b;
    if (options->normalize) {
        an = cls_alloc(asz * sizeof(float), "normalised a");
        bn = cls_alloc(bsz * sizeof(float), "normalised b");
    }
    if (want_grads && !ga) ga = cls_alloc(asz * sizeof(float), "scratch gradient of a");
    if (want_grads && !gb) gb = cls_alloc(bsz * sizeof(float), "scratch gradient of b");
    if ((options->normalize && (!an || !bn)) || (want_grads && (!ga || !gb))) {
        s = CLS_E_NOMEM;
        goto done;
    }
    const float *ua = a, *ub = b;
    if (options->normalize) {
        cls_loss_normalize_rows(an, a, na, d, options->threads);
        cls_loss_normalize_rows(bn, b, nb, d, options->threads);
        ua = an;
        ub = bn;
    }

    cls_loss_result res = {0};
    switch (kind) {
    case CLS_LOSS_CLIP: s = cls_clip_run(&res, want_grads ? ga : NULL, want_grads ? gb : NULL, ua, ub, na, d, options); break;
    case CLS_LOSS_INFONCE:
        s = cls_infonce_run(&res, want_grads ? ga : NULL, want_grads ? gb : NULL, ua, na, ub, nb, d, labels, options);
        break;
    case CLS_LOSS_NTXENT: s = cls_ntxent_compute(&res, ga, gb, ua, ub, na, d, options); break;
    case CLS_LOSS_SIGLIP: s = cls_siglip_forward_backward(&res, ga, gb, ua, ub, na, d, options); break;
    }
    if (s == CLS_OK) {
        if (options->normalize && want_grads) {
            /* dL/ds is unchanged by the normalisation: it came from the
             * normalised inputs and their gradients. */
            cls_loss_normalize_backward(ga, a, na, d, options->threads);
            cls_loss_normalize_backward(gb, b, nb, d, options->threads);
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

size_t cls_loss_workspace_bytes(int64_t na, int64_t nb, int64_t d, const cls_loss_options *options)
{
    cls_loss_options defaults;
    if (!options) {
        cls_loss_options_init(&defaults, CLS_LOSS_CLIP);
        options = &defaults;
    }
    if (na <= 0 || nb <= 0 || d <= 0) return 0;
    int threads = cls_threads_resolve(options->threads);
    int64_t tile = cls_tile_resolve(options->tile, na, nb, d, threads);
    size_t bytes = cls_tile_workspace_bytes(na, nb, d, tile, threads);
    bytes += 5 * (size_t)(na > nb ? na : nb) * sizeof(double); /* LSE state and positives */
    if (options->normalize) bytes += ((size_t)na + (size_t)nb) * (size_t)d * sizeof(float);
    if (options->precision == CLS_PRECISION_BF16) /* bf16 copies of a, b and one G tile per thread */
        bytes += ((size_t)na + (size_t)nb) * (size_t)d * sizeof(cls_bf16) +
                 (size_t)threads * (size_t)tile * (size_t)(tile + 16) * sizeof(cls_bf16);
    return bytes;
}
