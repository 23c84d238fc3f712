/* Layers as forward/backward pairs (see layers.h for the buffer conventions:
 * parameter gradients accumulate, activation gradients are overwritten). */
#include "layers.h"

#include <string.h>

#include "../core/internal.h"
#include "clscale/gemm.h"
#include "rowgemm.h"

cls_status cls_nn_linear_forward(float *y, const float *x, const float *w, const float *b,
                                 const float *packed, int64_t n, int64_t in, int64_t out)
{
    if (n <= 0) return CLS_OK;
    if (packed) {
        cls_nn_rowgemm(y, x, packed, n, in, out);
        return CLS_OK;
    }
    float beta = 0.0f;
    if (b) {
        for (int64_t i = 0; i < n; i++) memcpy(y + i * out, b, (size_t)out * sizeof(float));
        beta = 1.0f;
    }
    return cls_gemm_f32(CLS_NO_TRANS, CLS_TRANS, n, out, in, 1.0f, x, in, w, in, beta, y, out);
}

cls_status cls_nn_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                  const float *w, int64_t n, int64_t in, int64_t out)
{
    if (n <= 0) return CLS_OK;
    cls_status st = CLS_OK;
    if (dw) st = cls_gemm_f32(CLS_TRANS, CLS_NO_TRANS, out, in, n, 1.0f, dy, out, x, in, 1.0f, dw, in);
    if (st) return st;
    if (db)
        for (int64_t i = 0; i < n; i++) {
            const float *r = dy + i * out;
            for (int64_t j = 0; j < out; j++) db[j] += r[j];
        }
    if (dx) st = cls_gemm_f32(CLS_NO_TRANS, CLS_NO_TRANS, n, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
    return st;
}

void cls_nn_relu_forward(float *y, const float *x, int64_t count)
{
    for (int64_t i = 0; i < count; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void cls_nn_relu_backward(float *dx, const float *dy, const float *y, int64_t count)
{
    for (int64_t i = 0; i < count; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void cls_nn_conv_shape_init(cls_nn_conv_shape *s, int64_t c_in, int64_t c_out, int64_t h,
                            int64_t w, int64_t stride)
{
    s->c_in = c_in;
    s->c_out = c_out;
    s->h = h;
    s->w = w;
    s->stride = stride;
    /* kernel 3, padding 1: floor((h + 2 - 3) / stride) + 1 */
    s->h_out = (h - 1) / stride + 1;
    s->w_out = (w - 1) / stride + 1;
}

int64_t cls_nn_conv_in_size(const cls_nn_conv_shape *s) { return s->h * s->w * s->c_in; }
int64_t cls_nn_conv_out_size(const cls_nn_conv_shape *s) { return s->h_out * s->w_out * s->c_out; }
int64_t cls_nn_conv_col_size(const cls_nn_conv_shape *s)
{
    return s->h_out * s->w_out * s->c_in * 9;
}

void cls_nn_conv_im2col(float *col, const float *x, const cls_nn_conv_shape *s, int64_t n)
{
    const int64_t C = s->c_in, k9 = C * 9, in_size = cls_nn_conv_in_size(s);
    for (int64_t img = 0; img < n; img++) {
        const float *xi = x + img * in_size;
        float *ci = col + img * cls_nn_conv_col_size(s);
        for (int64_t oy = 0; oy < s->h_out; oy++)
            for (int64_t ox = 0; ox < s->w_out; ox++) {
                float *row = ci + (oy * s->w_out + ox) * k9;
                for (int64_t t = 0; t < 9; t++) {
                    int64_t iy = oy * s->stride + t / 3 - 1, ix = ox * s->stride + t % 3 - 1;
                    if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) {
                        for (int64_t c = 0; c < C; c++) row[c * 9 + t] = 0.0f;
                    } else {
                        const float *src = xi + (iy * s->w + ix) * C;
                        for (int64_t c = 0; c < C; c++) row[c * 9 + t] = src[c];
                    }
                }
            }
    }
}

void cls_nn_conv_col2im(float *dx, const float *dcol, const cls_nn_conv_shape *s, int64_t n)
{
    const int64_t C = s->c_in, k9 = C * 9, in_size = cls_nn_conv_in_size(s);
    memset(dx, 0, (size_t)(n * in_size) * sizeof(float));
    for (int64_t img = 0; img < n; img++) {
        float *xi = dx + img * in_size;
        const float *ci = dcol + img * cls_nn_conv_col_size(s);
        for (int64_t oy = 0; oy < s->h_out; oy++)
            for (int64_t ox = 0; ox < s->w_out; ox++) {
                const float *row = ci + (oy * s->w_out + ox) * k9;
                for (int64_t t = 0; t < 9; t++) {
                    int64_t iy = oy * s->stride + t / 3 - 1, ix = ox * s->stride + t % 3 - 1;
                    if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w) continue;
                    float *dst = xi + (iy * s->w + ix) * C;
                    for (int64_t c = 0; c < C; c++) dst[c] += row[c * 9 + t];
                }
            }
    }
}

cls_status cls_nn_conv_forward(float *y, float *col, const float *x, const float *w,
                               const float *b, const float *packed, const cls_nn_conv_shape *s,
                               int64_t n)
{
    if (n <= 0) return CLS_OK;
    cls_nn_conv_im2col(col, x, s, n);
    return cls_nn_linear_forward(y, col, w, b, packed, n * s->h_out * s->w_out, s->c_in * 9,
                                 s->c_out);
}

cls_status cls_nn_conv_backward(float *dx, float *dw, float *db, float *col, float *dcol,
                                const float *dy, const float *x, const float *w,
                                const cls_nn_conv_shape *s, int64_t n)
{
    if (n <= 0) return CLS_OK;
    cls_nn_conv_im2col(col, x, s, n);
    cls_status st = cls_nn_linear_backward(dx ? dcol : NULL, dw, db, dy, col, w,
                                           n * s->h_out * s->w_out, s->c_in * 9, s->c_out);
    if (st) return st;
    if (dx) cls_nn_conv_col2im(dx, dcol, s, n);
    return CLS_OK;
}

void cls_nn_avgpool_forward(float *y, const float *x, int64_t n, int64_t pixels, int64_t channels)
{
    const float inv = 1.0f / (float)pixels;
    for (int64_t i = 0; i < n; i++) {
        const float *xi = x + i * pixels * channels;
        float *yi = y + i * channels;
        for (int64_t c = 0; c < channels; c++) yi[c] = 0.0f;
        for (int64_t p = 0; p < pixels; p++)
            for (int64_t c = 0; c < channels; c++) yi[c] += xi[p * channels + c];
        for (int64_t c = 0; c < channels; c++) yi[c] *= inv;
    }
}

void cls_nn_avgpool_backward(float *dx, const float *dy, int64_t n, int64_t pixels,
                             int64_t channels)
{
    const float inv = 1.0f / (float)pixels;
    for (int64_t i = 0; i < n; i++) {
        const float *dyi = dy + i * channels;
        float *dxi = dx + i * pixels * channels;
        for (int64_t p = 0; p < pixels; p++)
            for (int64_t c = 0; c < channels; c++) dxi[p * channels + c] = dyi[c] * inv;
    }
}
