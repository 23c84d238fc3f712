/* Layers of the clscale encoders as forward/backward pairs (internal; the
 * public surface is include/clscale/nn.h).
 *
 * Every buffer is passed in, outputs first. Conventions of every backward:
 *   - parameter gradients (dw, db) ACCUMULATE: dw += ..., db += ...;
 *   - activation gradients (dx) are OVERWRITTEN: dx = ...
 * Tensors are row-major float32. Images are NHWC: one row per image of
 * height*width*channels floats, channel innermost. Weights use PyTorch's
 * layouts (Linear out x in; Conv2d out x in x 3 x 3) so a torch twin can load
 * the same flat vector. Matrix products go through cls_gemm_f32. */
#ifndef CLS_NN_LAYERS_H
#define CLS_NN_LAYERS_H

#include <stdint.h>

#include "clscale.h"

/* ---- Linear: y = x W^T + b --------------------------------------------
 * x n x in, w out x in, b out (may be NULL), y n x out.
 * packed: W and b packed by cls_nn_rowgemm_pack (rowgemm.h): the product is
 * then row-independent (a row's bits do not depend on the other rows of the
 * call), which the models need; NULL: one cls_gemm_f32 call (w, b used). */
cls_status cls_nn_linear_forward(float *y, const float *x, const float *w, const float *b,
                                 const float *packed, int64_t n, int64_t in, int64_t out);
/* dx (n x in, may be NULL) = dy W  (overwritten)
 * dw (out x in)         += dy^T x (accumulated)
 * db (out, may be NULL) += column sums of dy (accumulated) */
cls_status cls_nn_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                  const float *w, int64_t n, int64_t in, int64_t out);
/* The same on `threads` threads, called outside a parallel region: each
 * thread computes a block of rows of dW (and the same entries of db) over all
 * n rows, then a block of rows of dx, with single-threaded products (oneDNN's
 * kernels where the build has it). The same bits for the same shapes and
 * thread count; threads <= 1 or inside a parallel region: the plain call. */
cls_status cls_nn_linear_backward_par(float *dx, float *dw, float *db, const float *dy, const float *x,
                                      const float *w, int64_t n, int64_t in, int64_t out, int threads);

/* bfloat16 products (mixed precision): the same three products with dy, x
 * and W rounded to bf16 and fp32 accumulation, through cls_gemm_bf16. wb is
 * W already rounded (out x in); ws holds n * (in + out) bf16 (the rounded
 * dy and x). Threads as cls_nn_linear_backward_par. */
cls_status cls_nn_linear_backward_bf16(float *dx, float *dw, float *db, const float *dy,
                                       const float *x, const uint16_t *wb, int64_t n, int64_t in,
                                       int64_t out, int threads, uint16_t *ws);

/* ---- ReLU (elementwise, in place allowed) ------------------------------
 * y = max(x, 0); backward from the OUTPUT y: dx = dy * [y > 0] (overwritten;
 * dx may alias dy). */
void cls_nn_relu_forward(float *y, const float *x, int64_t count);
void cls_nn_relu_backward(float *dx, const float *dy, const float *y, int64_t count);

/* ---- Conv2d 3x3, padding 1, stride 1 or 2, NHWC --------------------------
 * Weight c_out x c_in x 3 x 3 (PyTorch order), bias c_out. Implemented as
 * im2col (one row of c_in*9 per output pixel, columns in (c, ky, kx) order)
 * and one GEMM per call: y (n*P x c_out) = col (n*P x c_in*9) W^T. */
typedef struct {
    int64_t c_in, c_out, h, w, stride, h_out, w_out;
} cls_nn_conv_shape;

void cls_nn_conv_shape_init(cls_nn_conv_shape *s, int64_t c_in, int64_t c_out, int64_t h,
                            int64_t w, int64_t stride);
int64_t cls_nn_conv_in_size(const cls_nn_conv_shape *s);   /* floats per input image */
int64_t cls_nn_conv_out_size(const cls_nn_conv_shape *s);  /* floats per output image */
int64_t cls_nn_conv_col_size(const cls_nn_conv_shape *s);  /* floats of im2col per image */

/* col (n x P x c_in*9) from x (n images). */
void cls_nn_conv_im2col(float *col, const float *x, const cls_nn_conv_shape *s, int64_t n);
/* dx = col2im(dcol): overwritten (zeroed, then the overlapping taps summed). */
void cls_nn_conv_col2im(float *dx, const float *dcol, const cls_nn_conv_shape *s, int64_t n);

/* y (n images x P x c_out); col: workspace of n * col_size floats; packed
 * as for cls_nn_linear_forward (W seen as c_out x c_in*9). */
cls_status cls_nn_conv_forward(float *y, float *col, const float *x, const float *w,
                               const float *b, const float *packed, const cls_nn_conv_shape *s,
                               int64_t n);
/* dx (may be NULL) overwritten; dw, db accumulated. col and dcol are
 * workspaces of n * col_size floats (col is rebuilt from x here; dcol is
 * unused when dx is NULL). */
cls_status cls_nn_conv_backward(float *dx, float *dw, float *db, float *col, float *dcol,
                                const float *dy, const float *x, const float *w,
                                const cls_nn_conv_shape *s, int64_t n);

/* ---- Global average pool over pixels (NHWC) ----------------------------
 * x n x pixels x channels -> y n x channels; backward dx = dy / pixels
 * broadcast (overwritten). */
void cls_nn_avgpool_forward(float *y, const float *x, int64_t n, int64_t pixels, int64_t channels);
void cls_nn_avgpool_backward(float *dx, const float *dy, int64_t n, int64_t pixels,
                             int64_t channels);

#endif
