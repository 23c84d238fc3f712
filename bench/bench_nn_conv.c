/* bench/bench_nn_conv.c: the cnn's four convolutions (c = 32) at batch 256,
 * forward and backward (data + weights + bias), clscale's im2col path as the
 * model runs it (OpenMP over tiles of 8 images; row-independent product in
 * the forward, cls_gemm_f32 in the backward) against oneDNN's convolution
 * primitives (dnnl_convolution_*_desc_init, oneDNN 2.6 C API) on the same
 * NHWC activations and OIHW weights, its own threading. Prints milliseconds
 * (median of paired runs) and the ratio onednn/clscale (> 1: clscale
 * faster). Usage: bench_nn_conv [reps=5] [batch=256] */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clscale.h"
#include "clscale/sys.h"
#include "nn/layers.h"
#include "nn/rowgemm.h"

#ifdef CLS_HAVE_DNNL
#include <dnnl.h>
#endif

#define TILE 8

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp);
    return v[n / 2];
}

static void cls_fwd(float *y, float *col, const float *x, const float *w, const float *b, float *pk,
                    const cls_nn_conv_shape *s, int64_t n, int T)
{
    const int64_t cs = cls_nn_conv_col_size(s);
    cls_nn_rowgemm_pack(pk, w, b, s->c_in * 9, s->c_out);
#pragma omp parallel for schedule(static) num_threads(T)
    for (int64_t i = 0; i < n; i += TILE) {
        int64_t r = n - i < TILE ? n - i : TILE;
        cls_nn_conv_forward(y + i * cls_nn_conv_out_size(s), col + i * cs, x + i * cls_nn_conv_in_size(s),
                            w, b, pk, s, r);
    }
}

static void cls_bwd(float *dx, float *dw, float *db, float *col, float *dcol, const float *dy,
                    const float *x, const float *w, const cls_nn_conv_shape *s, int64_t n, int T)
{
    const int64_t cs = cls_nn_conv_col_size(s), nw = s->c_out * s->c_in * 9;
    float *g = calloc((size_t)(T * (nw + s->c_out)), sizeof(float));
#pragma omp parallel num_threads(T)
    {
        int t = omp_get_thread_num();
        float *gw = g + t * (nw + s->c_out);
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; i += TILE) {
            int64_t r = n - i < TILE ? n - i : TILE;
            cls_nn_conv_backward(dx ? dx + i * cls_nn_conv_in_size(s) : NULL, gw, gw + nw,
                                 col + i * cs, dcol + i * cs, dy + i * cls_nn_conv_out_size(s),
                                 x + i * cls_nn_conv_in_size(s), w, s, r);
        }
    }
    for (int t = 0; t < T; t++)
        for (int64_t j = 0; j < nw + s->c_out; j++) *(j < nw ? &dw[j] : &db[j - nw]) += g[t * (nw + s->c_out) + j];
    free(g);
}

#ifdef CLS_HAVE_DNNL
#define DN(call)                                                                     \
    do {                                                                             \
        dnnl_status_t st_ = (call);                                                  \
        if (st_ != dnnl_success) {                                                   \
            fprintf(stderr, "bench_nn_conv: %s failed (%d)\n", #call, (int)st_);     \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

/* A user memory (NHWC / OIHW / x, our buffers) and the primitive's own
 * (format "any": oneDNN picks its blocked layout), with reorders both ways. */
typedef struct {
    dnnl_memory_t user, prim;
    dnnl_primitive_t to_prim, to_user;
} mpair;

typedef struct {
    dnnl_primitive_t fwd, bwd_data, bwd_w;
    mpair src, wei, bia, dst;         /* forward */
    mpair bd_ddst, bd_wei, bd_dsrc;   /* backward data */
    mpair bw_src, bw_ddst, bw_dwei, bw_dbia; /* backward weights */
} dnnl_conv;

static void mpair_init(mpair *p, dnnl_engine_t e, const dnnl_memory_desc_t *umd,
                       const dnnl_memory_desc_t *pmd, void *ptr)
{
    DN(dnnl_memory_create(&p->user, umd, e, ptr));
    p->to_prim = p->to_user = NULL;
    if (dnnl_memory_desc_equal(umd, pmd)) {
        p->prim = p->user;
        return;
    }
    DN(dnnl_memory_create(&p->prim, pmd, e, DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_desc_t r1, r2;
    DN(dnnl_reorder_primitive_desc_create(&r1, umd, e, pmd, e, NULL));
    DN(dnnl_primitive_create(&p->to_prim, r1));
    DN(dnnl_reorder_primitive_desc_create(&r2, pmd, e, umd, e, NULL));
    DN(dnnl_primitive_create(&p->to_user, r2));
}

static int reorder(dnnl_primitive_t r, dnnl_memory_t from, dnnl_memory_t to, dnnl_stream_t s)
{
    if (!r) return 0;
    dnnl_exec_arg_t a[] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    DN(dnnl_primitive_execute(r, s, 2, a));
    return 1;
}
static void in(mpair *p, dnnl_stream_t s) { reorder(p->to_prim, p->user, p->prim, s); }
static void out(mpair *p, dnnl_stream_t s) { reorder(p->to_user, p->prim, p->user, s); }

static const dnnl_memory_desc_t *q(dnnl_primitive_desc_t pd, dnnl_query_t what, int i)
{
    return dnnl_primitive_desc_query_md(pd, what, i);
}

static void dnnl_setup(dnnl_conv *c, dnnl_engine_t e, const cls_nn_conv_shape *s, int64_t n, float *x,
                       float *w, float *b, float *y, float *dx, float *dw, float *db, float *dy)
{
    dnnl_dims_t sd = {n, s->c_in, s->h, s->w}, wd = {s->c_out, s->c_in, 3, 3}, bd = {s->c_out},
                dd = {n, s->c_out, s->h_out, s->w_out}, st = {s->stride, s->stride}, pad = {1, 1};
    dnnl_memory_desc_t smd, wmd, bmd, dmd, sa, wa, da;
    DN(dnnl_memory_desc_init_by_tag(&smd, 4, sd, dnnl_f32, dnnl_nhwc));
    DN(dnnl_memory_desc_init_by_tag(&wmd, 4, wd, dnnl_f32, dnnl_oihw));
    DN(dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x));
    DN(dnnl_memory_desc_init_by_tag(&dmd, 4, dd, dnnl_f32, dnnl_nhwc));
    DN(dnnl_memory_desc_init_by_tag(&sa, 4, sd, dnnl_f32, dnnl_format_tag_any));
    DN(dnnl_memory_desc_init_by_tag(&wa, 4, wd, dnnl_f32, dnnl_format_tag_any));
    DN(dnnl_memory_desc_init_by_tag(&da, 4, dd, dnnl_f32, dnnl_format_tag_any));
    dnnl_convolution_desc_t fd, bdd, bwd;
    DN(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &sa, &wa,
                                          &bmd, &da, st, pad, pad));
    dnnl_primitive_desc_t fpd, bdpd, bwpd;
    DN(dnnl_primitive_desc_create(&fpd, &fd, NULL, e, NULL));
    DN(dnnl_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, &sa, &wa, &da, st, pad, pad));
    DN(dnnl_primitive_desc_create(&bdpd, &bdd, NULL, e, fpd));
    DN(dnnl_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &sa, &wa, &bmd, &da, st,
                                                   pad, pad));
    DN(dnnl_primitive_desc_create(&bwpd, &bwd, NULL, e, fpd));
    DN(dnnl_primitive_create(&c->fwd, fpd));
    DN(dnnl_primitive_create(&c->bwd_data, bdpd));
    DN(dnnl_primitive_create(&c->bwd_w, bwpd));
    mpair_init(&c->src, e, &smd, q(fpd, dnnl_query_src_md, 0), x);
    mpair_init(&c->wei, e, &wmd, q(fpd, dnnl_query_weights_md, 0), w);
    mpair_init(&c->bia, e, &bmd, q(fpd, dnnl_query_weights_md, 1), b);
    mpair_init(&c->dst, e, &dmd, q(fpd, dnnl_query_dst_md, 0), y);
    mpair_init(&c->bd_ddst, e, &dmd, q(bdpd, dnnl_query_diff_dst_md, 0), dy);
    mpair_init(&c->bd_wei, e, &wmd, q(bdpd, dnnl_query_weights_md, 0), w);
    mpair_init(&c->bd_dsrc, e, &smd, q(bdpd, dnnl_query_diff_src_md, 0), dx);
    mpair_init(&c->bw_src, e, &smd, q(bwpd, dnnl_query_src_md, 0), x);
    mpair_init(&c->bw_ddst, e, &dmd, q(bwpd, dnnl_query_diff_dst_md, 0), dy);
    mpair_init(&c->bw_dwei, e, &wmd, q(bwpd, dnnl_query_diff_weights_md, 0), dw);
    mpair_init(&c->bw_dbia, e, &bmd, q(bwpd, dnnl_query_diff_weights_md, 1), db);
    const char *i1 = NULL, *i2 = NULL, *i3 = NULL;
    dnnl_primitive_desc_query(fpd, dnnl_query_impl_info_str, 0, &i1);
    dnnl_primitive_desc_query(bdpd, dnnl_query_impl_info_str, 0, &i2);
    dnnl_primitive_desc_query(bwpd, dnnl_query_impl_info_str, 0, &i3);
    printf("# onednn implementations: fwd %s, bwd data %s, bwd weights %s\n", i1 ? i1 : "?", i2 ? i2 : "?",
           i3 ? i3 : "?");
}

/* Forward; *prim_ms gets the convolution alone (activations already in
 * oneDNN's layout), the return value includes the reorders from/to our
 * NHWC/OIHW buffers. */
static double dnnl_fwd(dnnl_conv *c, dnnl_stream_t s, double *prim_ms)
{
    double t0 = cls_now_seconds();
    in(&c->src, s), in(&c->wei, s);
    DN(dnnl_stream_wait(s));
    double t1 = cls_now_seconds();
    dnnl_exec_arg_t a[] = {{DNNL_ARG_SRC, c->src.prim}, {DNNL_ARG_WEIGHTS, c->wei.prim},
                           {DNNL_ARG_BIAS, c->bia.prim}, {DNNL_ARG_DST, c->dst.prim}};
    DN(dnnl_primitive_execute(c->fwd, s, 4, a));
    DN(dnnl_stream_wait(s));
    double t2 = cls_now_seconds();
    out(&c->dst, s);
    DN(dnnl_stream_wait(s));
    *prim_ms = (t2 - t1) * 1e3;
    return (cls_now_seconds() - t0) * 1e3;
}

static double dnnl_bwd(dnnl_conv *c, dnnl_stream_t s, int with_dx, double *prim_ms)
{
    double t0 = cls_now_seconds(), prim = 0;
    if (with_dx) {
        in(&c->bd_ddst, s), in(&c->bd_wei, s);
        DN(dnnl_stream_wait(s));
        double t1 = cls_now_seconds();
        dnnl_exec_arg_t a[] = {{DNNL_ARG_DIFF_DST, c->bd_ddst.prim}, {DNNL_ARG_WEIGHTS, c->bd_wei.prim},
                               {DNNL_ARG_DIFF_SRC, c->bd_dsrc.prim}};
        DN(dnnl_primitive_execute(c->bwd_data, s, 3, a));
        DN(dnnl_stream_wait(s));
        prim += cls_now_seconds() - t1;
        out(&c->bd_dsrc, s);
    }
    in(&c->bw_src, s), in(&c->bw_ddst, s);
    DN(dnnl_stream_wait(s));
    double t1 = cls_now_seconds();
    dnnl_exec_arg_t b[] = {{DNNL_ARG_SRC, c->bw_src.prim}, {DNNL_ARG_DIFF_DST, c->bw_ddst.prim},
                           {DNNL_ARG_DIFF_WEIGHTS, c->bw_dwei.prim}, {DNNL_ARG_DIFF_BIAS, c->bw_dbia.prim}};
    DN(dnnl_primitive_execute(c->bwd_w, s, 4, b));
    DN(dnnl_stream_wait(s));
    prim += cls_now_seconds() - t1;
    out(&c->bw_dwei, s), out(&c->bw_dbia, s);
    DN(dnnl_stream_wait(s));
    *prim_ms = prim * 1e3;
    return (cls_now_seconds() - t0) * 1e3;
}
#endif

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    int64_t n = argc > 2 ? atoll(argv[2]) : 256;
    int T = cls_threads_resolve(0);
    const int64_t c = 32, ch[5] = {1, c, 2 * c, 4 * c, 4 * c}, stride[4] = {1, 2, 2, 1};
#ifdef CLS_HAVE_DNNL
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    DN(dnnl_engine_create(&eng, dnnl_cpu, 0));
    DN(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));
    printf("# onednn columns: with reorders from/to NHWC+OIHW (primitive alone); ratio = onednn/clscale\n");
    printf("layer shape fwd_cls_ms fwd_onednn_ms fwd_ratio bwd_cls_ms bwd_onednn_ms bwd_ratio max_rel_diff_y\n");
#else
    printf("# oneDNN not available in this build (CLS_HAVE_DNNL unset): clscale only\n");
    printf("layer shape fwd_cls_ms bwd_cls_ms\n");
#endif
    int64_t h = 28, w = 28;
    double tot_c[2] = {0, 0}, tot_d[2] = {0, 0}, tot_p[2] = {0, 0};
    for (int l = 0; l < 4; l++) {
        cls_nn_conv_shape s;
        cls_nn_conv_shape_init(&s, ch[l], ch[l + 1], h, w, stride[l]);
        int64_t nx = n * cls_nn_conv_in_size(&s), ny = n * cls_nn_conv_out_size(&s), nw = s.c_out * s.c_in * 9;
        float *x = malloc((size_t)nx * 4), *y = malloc((size_t)ny * 4), *y2 = malloc((size_t)ny * 4);
        float *wt = malloc((size_t)nw * 4), *b = calloc((size_t)s.c_out, 4), *dy = malloc((size_t)ny * 4);
        float *dx = malloc((size_t)nx * 4), *dw = calloc((size_t)nw, 4), *db = calloc((size_t)s.c_out, 4);
        float *col = malloc((size_t)(n * cls_nn_conv_col_size(&s)) * 4), *dcol = malloc((size_t)(n * cls_nn_conv_col_size(&s)) * 4);
        float *pk = malloc((size_t)cls_nn_rowgemm_pack_floats(s.c_in * 9, s.c_out) * 4);
        cls_rng rng;
        cls_rng_seed(&rng, (uint64_t)l);
        for (int64_t i = 0; i < nx; i++) x[i] = (float)cls_rng_uniform(&rng);
        for (int64_t i = 0; i < ny; i++) dy[i] = (float)(cls_rng_uniform(&rng) - 0.5);
        for (int64_t i = 0; i < nw; i++) wt[i] = (float)(cls_rng_uniform(&rng) - 0.5) * 0.1f;
        double fc[32], bc[32], fdn[32], bdn[32], fpr[32], bpr[32];
        if (reps > 32) reps = 32;
        (void)fdn, (void)bdn, (void)y2, (void)fpr, (void)bpr;
#ifdef CLS_HAVE_DNNL
        dnnl_conv dc;
        dnnl_setup(&dc, eng, &s, n, x, wt, b, y2, dx, dw, db, dy);
        double pf, pb;
        dnnl_fwd(&dc, strm, &pf);
        dnnl_bwd(&dc, strm, l > 0, &pb);
#endif
        cls_fwd(y, col, x, wt, b, pk, &s, n, T);
        cls_bwd(l > 0 ? dx : NULL, dw, db, col, dcol, dy, x, wt, &s, n, T);
        for (int r = 0; r < reps; r++) {
            double t0 = cls_now_seconds();
            cls_fwd(y, col, x, wt, b, pk, &s, n, T);
            double t1 = cls_now_seconds();
            cls_bwd(l > 0 ? dx : NULL, dw, db, col, dcol, dy, x, wt, &s, n, T);
            double t2 = cls_now_seconds();
            fc[r] = (t1 - t0) * 1e3, bc[r] = (t2 - t1) * 1e3;
#ifdef CLS_HAVE_DNNL
            fdn[r] = dnnl_fwd(&dc, strm, &fpr[r]);
            bdn[r] = dnnl_bwd(&dc, strm, l > 0, &bpr[r]);
#endif
        }
        double mf = median(fc, reps), mb = median(bc, reps);
        tot_c[0] += mf, tot_c[1] += mb;
#ifdef CLS_HAVE_DNNL
        double df = median(fdn, reps), db_ = median(bdn, reps), md = 0, my = 0;
        double dfp = median(fpr, reps), dbp = median(bpr, reps);
        tot_p[0] += dfp, tot_p[1] += dbp;
        for (int64_t i = 0; i < ny; i++) {
            double d = y[i] - y2[i];
            md = d * d > md ? d * d : md;
            my = (double)y[i] * y[i] > my ? (double)y[i] * y[i] : my;
        }
        tot_d[0] += df, tot_d[1] += db_;
        printf("conv%d %lldx%lldx%lld->%lld/s%lld %.2f %.2f(%.2f) %.2f(%.2f) %.2f %.2f(%.2f) %.2f(%.2f) %.1e\n", l + 1,
               (long long)s.h, (long long)s.w, (long long)s.c_in, (long long)s.c_out, (long long)s.stride, mf, df,
               dfp, df / mf, dfp / mf, mb, db_, dbp, db_ / mb, dbp / mb, my > 0 ? sqrt(md / my) : 0.0);
#else
        printf("conv%d %lldx%lldx%lld->%lld/s%lld %.2f %.2f\n", l + 1, (long long)s.h, (long long)s.w,
               (long long)s.c_in, (long long)s.c_out, (long long)s.stride, mf, mb);
#endif
        fflush(stdout);
        h = s.h_out, w = s.w_out;
        free(x), free(y), free(y2), free(wt), free(b), free(dy), free(dx), free(dw), free(db), free(col), free(dcol), free(pk);
    }
#ifdef CLS_HAVE_DNNL
    printf("total fwd %.2f ms vs %.2f ms (ratio %.2f; primitives alone %.2f ms, ratio %.2f), bwd %.2f ms vs "
           "%.2f ms (ratio %.2f; primitives alone %.2f ms, ratio %.2f), threads %d, batch %lld\n",
           tot_c[0], tot_d[0], tot_d[0] / tot_c[0], tot_p[0], tot_p[0] / tot_c[0], tot_c[1], tot_d[1],
           tot_d[1] / tot_c[1], tot_p[1], tot_p[1] / tot_c[1], T, (long long)n);
#else
    printf("total fwd %.2f ms, bwd %.2f ms, threads %d, batch %lld\n", tot_c[0], tot_c[1], T, (long long)n);
    (void)tot_d, (void)tot_p;
#endif
    return 0;
}
