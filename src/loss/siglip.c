/* Placeholder: the siglip kernels (fast and reference) are being written. */
#include "loss_internal.h"

cls_status cls_siglip_forward_backward(cls_loss_result *result, float *grad_a, float *grad_b,
                                       const float *a, const float *b, int64_t n, int64_t d,
                                       const cls_loss_options *options)
{
    return cls_set_error(CLS_E_UNSUPPORTED, "SigLIP is not implemented yet");
}

cls_status cls_siglip_ref(cls_loss_result *result, double *grad_a, double *grad_b, const double *a,
                          const double *b, int64_t n, int64_t d, const cls_loss_options *options)
{
    return cls_set_error(CLS_E_UNSUPPORTED, "SigLIP is not implemented yet");
}
