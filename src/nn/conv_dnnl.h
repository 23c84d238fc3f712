/* oneDNN convolution backward for the cnn (internal; see conv_dnnl.c).
 * Without oneDNN (CLS_HAVE_DNNL unset) create returns NULL and the backward
 * returns 0, and the model uses im2col. */
#ifndef CLS_NN_CONV_DNNL_H
#define CLS_NN_CONV_DNNL_H

#include "layers.h"

#define CLS_NN_DNNL_MAX_LAYERS 4

typedef struct cls_nn_dnnl cls_nn_dnnl;

cls_nn_dnnl *cls_nn_dnnl_create(const cls_nn_conv_shape *shapes, int layers);
void cls_nn_dnnl_free(cls_nn_dnnl *d);

/* Backward of conv `layer` over n images (NHWC dy, x; OIHW w): dx (may be
 * NULL) overwritten, dw and db accumulated; tmp_w is a workspace of
 * c_out*c_in*9 + c_out floats. Returns 1 on success, 0 when the caller must
 * use im2col instead (nothing written to dw/db then; dx possibly). */
int cls_nn_dnnl_conv_backward(cls_nn_dnnl *d, int layer, float *dx, float *dw, float *db, float *tmp_w,
                              const float *dy, const float *x, const float *w, int64_t n);

#endif
