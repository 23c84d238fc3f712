/* Placeholder: the ntxent kernels (fast and reference) are being written. */
#include "loss_internal.h"

cls_status cls_ntxent_forward(double *loss, float *lse, const float *a, const float *b, int64_t n,
                              int64_t d, const cls_loss_options *options)
{
    return cls_set_error(CLS_E_UNSUPPORTED, "NT-Xent is not implemented yet");
}

cls_status cls_ntxent_backward(float *grad_a, float *grad_b, double *grad_logit_scale, const float *lse,
                               const float *a, const float *b, int64_t n, int64_t d,
                               const cls_loss_options *options)
{
    return cls_set_error(CLS_E_UNSUPPORTED, "NT-Xent is not implemented yet");
}

cls_status cls_ntxent_compute(cls_loss_result *result, float *grad_a, float *grad_b, const float *a,
                              const float *b, int64_t n, int64_t d, const cls_loss_options *options)
{
    return cls_set_error(CLS_E_UNSUPPORTED, "NT-Xent is not implemented yet");
}

cls_status cls_ntxent_ref(cls_loss_result *result, double *grad_a, double *grad_b, const double *a,
                          const double *b, int64_t n, int64_t d, const cls_loss_options *options)
{
    return cls_set_error(CLS_E_UNSUPPORTED, "NT-Xent is not implemented yet");
}
