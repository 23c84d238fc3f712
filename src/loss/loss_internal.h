/* Internal interface between the loss files (not public).
 *
 * The float64 reference twins below take inputs exactly as the loss sees them
 * (already normalised if options->normalize; they ignore that flag), build
 * the full logits in double and return loss and gradients in double. They are
 * the specification: readable first, fast never. cls_loss_compute_ref (in
 * loss_ref.c) adds normalisation and its backward around them. */
#ifndef CLS_LOSS_INTERNAL_H
#define CLS_LOSS_INTERNAL_H

#include "../core/internal.h"

cls_status cls_clip_ref(cls_loss_result *result, double *grad_a, double *grad_b,
                        const double *a, const double *b, int64_t n, int64_t d,
                        const cls_loss_options *options);
cls_status cls_infonce_ref(cls_loss_result *result, double *grad_a, double *grad_b,
                           const double *a, int64_t na, const double *b, int64_t nb, int64_t d,
                           const int64_t *labels, const cls_loss_options *options);
cls_status cls_ntxent_ref(cls_loss_result *result, double *grad_a, double *grad_b,
                          const double *a, const double *b, int64_t n, int64_t d,
                          const cls_loss_options *options);
cls_status cls_siglip_ref(cls_loss_result *result, double *grad_a, double *grad_b,
                          const double *a, const double *b, int64_t n, int64_t d,
                          const cls_loss_options *options);

/* NT-Xent and SigLIP on un-normalised inputs, fast path (ntxent.c, siglip.c):
 * loss and gradients in one call, used by cls_loss_compute. */
cls_status cls_ntxent_compute(cls_loss_result *result, float *grad_a, float *grad_b,
                              const float *a, const float *b, int64_t n, int64_t d,
                              const cls_loss_options *options);

#endif
