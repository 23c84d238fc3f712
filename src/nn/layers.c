/* Layers as forward/backward pairs (see layers.h for the buffer conventions:
 * parameter gradients accumulate, activation gradients are overwritten). */
#include "layers.h"

#include <omp.h>
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

/* [lo, hi) of part t of `count` split in `parts`, boundaries on multiples of
 * 16 (whole cache lines of floats) except the last. */
static void split16(int64_t count, int t, int parts, int64_t *lo, int64_t *hi)
{
    int64_t blocks = (count + 15) / 16;
    *lo = blocks * t / parts * 16;
    *hi = blocks * (t + 1) / parts * 16;
    if (*lo > count) *lo = count;
    if (*hi > count) *hi = count;
}

cls_status cls_nn_linear_backward_par(float *dx, float *dw, float *db, const float *dy, const float *x,
                                      const float *w, int64_t n, int64_t in, int64_t out, int threads)
{
    if (n <= 0) return CLS_OK;
    if (threads <= 1 || omp_in_parallel()) return cls_nn_linear_backward(dx, dw, db, dy, x, w, n, in, out);
    cls_worker_error err = {CLS_OK, {0}};
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t o0, o1, i0, i1;
        split16(out, t, nt, &o0, &o1);
        split16(n, t, nt, &i0, &i1);
        cls_status st = CLS_OK;
        /* rows [o0, o1) of dW and entries [o0, o1) of db: all n rows summed */
        if (dw && o1 > o0)
            st = cls_gemm_f32(CLS_TRANS, CLS_NO_TRANS, o1 - o0, in, n, 1.0f, dy + o0, out, x, in, 1.0f,
                              dw + o0 * in, in);
        if (db)
            for (int64_t i = 0; i < n; i++) {
                const float *r = dy + i * out;
                for (int64_t j = o0; j < o1; j++) db[j] += r[j];
            }
        /* rows [i0, i1) of dx */
        if (!st && dx && i1 > i0)
            st = cls_gemm_f32(CLS_NO_TRANS, CLS_NO_TRANS, i1 - i0, in, out, 1.0f, dy + i0 * out, out, w, in,
                              0.0f, dx + i0 * in, in);
        cls_worker_fail(&err, st);
    }
    return cls_worker_report(&err);
}

/* Part t of nt of the bf16 backward: first round its rows of dy and x (every
 * part needs all of them afterwards), then its products. */
static void backward_bf16_round(cls_bf16 *dyb, cls_bf16 *xb, const float *dy, const float *x, int have_dw,
                                int64_t n, int64_t in, int64_t out, int t, int nt)
{
    int64_t i0, i1;
    split16(n, t, nt, &i0, &i1);
    cls_bf16_from_f32(dyb + i0 * out, dy + i0 * out, (i1 - i0) * out);
    if (have_dw) cls_bf16_from_f32(xb + i0 * in, x + i0 * in, (i1 - i0) * in);
}

static cls_status backward_bf16_products(float *dx, float *dw, float *db, const float *dy, const cls_bf16 *dyb,
                                         const cls_bf16 *xb, const uint16_t *wb, int64_t n, int64_t in,
                                         int64_t out, int t, int nt)
{
    int64_t o0, o1, i0, i1;
    split16(out, t, nt, &o0, &o1);
    split16(n, t, nt, &i0, &i1);
    cls_status st = CLS_OK;
    /* rows [o0, o1) of dW and entries [o0, o1) of db: all n rows summed */
    if (dw && o1 > o0)
        st = cls_gemm_bf16(CLS_TRANS, CLS_NO_TRANS, o1 - o0, in, n, 1.0f, dyb + o0, out, xb, in, 1.0f,
                           dw + o0 * in, in);
    if (db)
        for (int64_t i = 0; i < n; i++) {
            const float *r = dy + i * out;
            for (int64_t j = o0; j < o1; j++) db[j] += r[j];
        }
    /* rows [i0, i1) of dx */
    if (!st && dx && i1 > i0)
        st = cls_gemm_bf16(CLS_NO_TRANS, CLS_NO_TRANS, i1 - i0, in, out, 1.0f, dyb + i0 * out, out, wb, in, 0.0f,
                           dx + i0 * in, in);
    return st;
}

cls_status cls_nn_linear_backward_bf16(float *dx, float *dw, float *db, const float *dy,
                                       const float *x, const uint16_t *wb, int64_t n, int64_t in,
                                       int64_t out, int threads, uint16_t *ws)
{
    if (n <= 0) return CLS_OK;
    cls_bf16 *dyb = ws, *xb = ws + n * out;
    if (threads <= 1 || omp_in_parallel()) {
        /* one part, outside any OpenMP construct: an inactive region would make
         * every threaded GEMM inside it open a nested team */
        backward_bf16_round(dyb, xb, dy, x, dw != NULL, n, in, out, 0, 1);
        return backward_bf16_products(dx, dw, db, dy, dyb, xb, wb, n, in, out, 0, 1);
    }
    cls_worker_error err = {CLS_OK, {0}};
    /* the same split as cls_nn_linear_backward_par */
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        backward_bf16_round(dyb, xb, dy, x, dw != NULL, n, in, out, t, nt);
#pragma omp barrier
        cls_worker_fail(&err, backward_bf16_products(dx, dw, db, dy, dyb, xb, wb, n, in, out, t, nt));
    }
    return cls_worker_report(&err);
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
