/* Convolution backward through oneDNN's primitives (when CMake found oneDNN:
 * CLS_HAVE_DNNL), measured faster than im2col + GEMM on the cnn's layers
 * (docs/benchmarks.md). The forward stays on im2col + the row-independent
 * product (its bits must not depend on the chunking). Called per tile from
 * inside the model's OpenMP loop: oneDNN then runs single-threaded; each call
 * uses its own stream, memory objects and scratchpad (user-managed), so
 * concurrent calls share only the immutable primitives. Primitive sets are
 * created on first use for each (layer, tile size), at most SETS per layer;
 * beyond that, or on any oneDNN failure, the caller falls back to im2col. */
#include "conv_dnnl.h"

#ifdef CLS_HAVE_DNNL

#include <dnnl.h>
#include <omp.h>
#include <string.h>

#include "../core/internal.h"

#define SETS 4

typedef struct {
    int64_t n; /* images; 0 = unused */
    int ok;
    dnnl_primitive_t bwd_d, bwd_w;
    /* user layouts (ours) and the primitives' own */
    dnnl_memory_desc_t u_src, u_wei, u_bia, u_dst;
    dnnl_memory_desc_t d_ddst, d_wei, d_dsrc, w_src, w_ddst, w_dwei, w_dbia, sp_d, sp_w;
    dnnl_primitive_t r_d_ddst, r_d_wei, r_d_dsrc, r_w_src, r_w_ddst, r_w_dwei, r_w_dbia;
} conv_set;

struct cls_nn_dnnl {
    dnnl_engine_t eng;
    int layers;
    cls_nn_conv_shape shape[CLS_NN_DNNL_MAX_LAYERS];
    conv_set set[CLS_NN_DNNL_MAX_LAYERS][SETS];
};

cls_nn_dnnl *cls_nn_dnnl_create(const cls_nn_conv_shape *shapes, int layers)
{
    if (layers > CLS_NN_DNNL_MAX_LAYERS) return NULL;
    cls_nn_dnnl *d = cls_calloc(1, sizeof(*d), "oneDNN context");
    if (!d) return NULL;
    if (dnnl_engine_create(&d->eng, dnnl_cpu, 0) != dnnl_success) {
        cls_free(d);
        return NULL;
    }
    d->layers = layers;
    memcpy(d->shape, shapes, (size_t)layers * sizeof(*shapes));
    return d;
}

static void set_destroy(conv_set *s)
{
    dnnl_primitive_t *p[] = {&s->bwd_d, &s->bwd_w, &s->r_d_ddst, &s->r_d_wei, &s->r_d_dsrc,
                             &s->r_w_src, &s->r_w_ddst, &s->r_w_dwei, &s->r_w_dbia};
    for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
        if (*p[i]) dnnl_primitive_destroy(*p[i]);
}

void cls_nn_dnnl_free(cls_nn_dnnl *d)
{
    if (!d) return;
    for (int l = 0; l < d->layers; l++)
        for (int k = 0; k < SETS; k++) set_destroy(&d->set[l][k]);
    dnnl_engine_destroy(d->eng);
    cls_free(d);
}

/* A reorder from -> to, or NULL when the layouts are the same. */
static int make_reorder(dnnl_engine_t e, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                        dnnl_primitive_t *out)
{
    *out = NULL;
    if (dnnl_memory_desc_equal(from, to)) return 1;
    dnnl_primitive_desc_t pd;
    if (dnnl_reorder_primitive_desc_create(&pd, from, e, to, e, NULL) != dnnl_success) return 0;
    int ok = dnnl_primitive_create(out, pd) == dnnl_success;
    dnnl_primitive_desc_destroy(pd);
    return ok;
}

static int set_build(conv_set *s, dnnl_engine_t e, const cls_nn_conv_shape *c, int64_t n)
{
    dnnl_dims_t sd = {n, c->c_in, c->h, c->w}, wd = {c->c_out, c->c_in, 3, 3}, bd = {c->c_out},
                dd = {n, c->c_out, c->h_out, c->w_out}, st = {c->stride, c->stride}, pad = {1, 1};
    dnnl_memory_desc_t sa, wa, da;
    if (dnnl_memory_desc_init_by_tag(&s->u_src, 4, sd, dnnl_f32, dnnl_nhwc) ||
        dnnl_memory_desc_init_by_tag(&s->u_wei, 4, wd, dnnl_f32, dnnl_oihw) ||
        dnnl_memory_desc_init_by_tag(&s->u_bia, 1, bd, dnnl_f32, dnnl_x) ||
        dnnl_memory_desc_init_by_tag(&s->u_dst, 4, dd, dnnl_f32, dnnl_nhwc) ||
        dnnl_memory_desc_init_by_tag(&sa, 4, sd, dnnl_f32, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&wa, 4, wd, dnnl_f32, dnnl_format_tag_any) ||
        dnnl_memory_desc_init_by_tag(&da, 4, dd, dnnl_f32, dnnl_format_tag_any))
        return 0;
    dnnl_convolution_desc_t fd, bdd, bwd;
    dnnl_primitive_desc_t fpd = NULL, bdpd = NULL, bwpd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    int ok = 0;
    if (dnnl_primitive_attr_create(&attr) ||
        dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) ||
        dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &sa, &wa,
                                           &s->u_bia, &da, st, pad, pad) ||
        dnnl_primitive_desc_create(&fpd, &fd, NULL, e, NULL) ||
        dnnl_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, &sa, &wa, &da, st, pad, pad) ||
        dnnl_primitive_desc_create(&bdpd, &bdd, attr, e, fpd) ||
        dnnl_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &sa, &wa, &s->u_bia, &da,
                                                    st, pad, pad) ||
        dnnl_primitive_desc_create(&bwpd, &bwd, attr, e, fpd))
        goto done;
    s->d_ddst = *dnnl_primitive_desc_query_md(bdpd, dnnl_query_diff_dst_md, 0);
    s->d_wei = *dnnl_primitive_desc_query_md(bdpd, dnnl_query_weights_md, 0);
    s->d_dsrc = *dnnl_primitive_desc_query_md(bdpd, dnnl_query_diff_src_md, 0);
    s->sp_d = *dnnl_primitive_desc_query_md(bdpd, dnnl_query_scratchpad_md, 0);
    s->w_src = *dnnl_primitive_desc_query_md(bwpd, dnnl_query_src_md, 0);
    s->w_ddst = *dnnl_primitive_desc_query_md(bwpd, dnnl_query_diff_dst_md, 0);
    s->w_dwei = *dnnl_primitive_desc_query_md(bwpd, dnnl_query_diff_weights_md, 0);
    s->w_dbia = *dnnl_primitive_desc_query_md(bwpd, dnnl_query_diff_weights_md, 1);
    s->sp_w = *dnnl_primitive_desc_query_md(bwpd, dnnl_query_scratchpad_md, 0);
    ok = dnnl_primitive_create(&s->bwd_d, bdpd) == dnnl_success &&
         dnnl_primitive_create(&s->bwd_w, bwpd) == dnnl_success &&
         make_reorder(e, &s->u_dst, &s->d_ddst, &s->r_d_ddst) && make_reorder(e, &s->u_wei, &s->d_wei, &s->r_d_wei) &&
         make_reorder(e, &s->d_dsrc, &s->u_src, &s->r_d_dsrc) && make_reorder(e, &s->u_src, &s->w_src, &s->r_w_src) &&
         make_reorder(e, &s->u_dst, &s->w_ddst, &s->r_w_ddst) &&
         make_reorder(e, &s->w_dwei, &s->u_wei, &s->r_w_dwei) &&
         make_reorder(e, &s->w_dbia, &s->u_bia, &s->r_w_dbia);
done:
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (bdpd) dnnl_primitive_desc_destroy(bdpd);
    if (bwpd) dnnl_primitive_desc_destroy(bwpd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return ok;
}

static conv_set *get_set(cls_nn_dnnl *d, int layer, int64_t n)
{
    conv_set *found = NULL;
#pragma omp critical
    {
        for (int k = 0; k < SETS && !found; k++) {
            conv_set *s = &d->set[layer][k];
            if (s->n == n) found = s;
            else if (s->n == 0) {
                s->n = n;
                s->ok = set_build(s, d->eng, &d->shape[layer], n);
                found = s;
            }
        }
    }
    return found && found->ok ? found : NULL;
}

/* Memory objects over our buffer (user layout) and, when the primitive's
 * layout differs, over a temporary in its layout. */
typedef struct {
    dnnl_memory_t user, prim;
    void *buf;
} mem2;

static int mem2_make(mem2 *m, dnnl_engine_t e, const dnnl_memory_desc_t *u, const dnnl_memory_desc_t *p,
                     void *ptr)
{
    m->user = m->prim = NULL;
    m->buf = NULL;
    if (dnnl_memory_create(&m->user, u, e, ptr)) return 0;
    if (dnnl_memory_desc_equal(u, p)) {
        m->prim = m->user;
        return 1;
    }
    m->buf = cls_alloc(dnnl_memory_desc_get_size(p) + 64, "oneDNN buffer");
    return m->buf && dnnl_memory_create(&m->prim, p, e, m->buf) == dnnl_success;
}

static void mem2_free(mem2 *m)
{
    if (m->prim && m->prim != m->user) dnnl_memory_destroy(m->prim);
    if (m->user) dnnl_memory_destroy(m->user);
    cls_free(m->buf);
}

static int run_reorder(dnnl_primitive_t r, dnnl_memory_t from, dnnl_memory_t to, dnnl_stream_t s)
{
    if (!r) return 1;
    dnnl_exec_arg_t a[] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    return dnnl_primitive_execute(r, s, 2, a) == dnnl_success;
}

static int backward(cls_nn_dnnl *d, int layer, float *dx, float *dw, float *db, float *tmp_w,
                    const float *dy, const float *x, const float *w, int64_t n);

int cls_nn_dnnl_conv_backward(cls_nn_dnnl *d, int layer, float *dx, float *dw, float *db, float *tmp_w,
                              const float *dy, const float *x, const float *w, int64_t n)
{
    if (!d || n <= 0) return 0;
    /* Inside our parallel region oneDNN must plan for one thread: it sizes its
     * work split (and spin barriers) by omp_get_max_threads(), while the
     * nested region it opens gets one thread; without this it deadlocks. */
    cls_thread_state saved = {0, 0}; /* zeros: cls_threads_leave restores nothing */
    if (omp_in_parallel()) cls_threads_enter_local(1, &saved);
    int ok = backward(d, layer, dx, dw, db, tmp_w, dy, x, w, n);
    cls_threads_leave(&saved);
    return ok;
}

static int backward(cls_nn_dnnl *d, int layer, float *dx, float *dw, float *db, float *tmp_w,
                    const float *dy, const float *x, const float *w, int64_t n)
{
    conv_set *s = get_set(d, layer, n);
    if (!s) return 0;
    const cls_nn_conv_shape *c = &d->shape[layer];
    const int64_t nw = c->c_out * c->c_in * 9;
    dnnl_stream_t st = NULL;
    mem2 m_ddst_d = {0}, m_wei_d = {0}, m_dsrc_d = {0}, m_src_w = {0}, m_ddst_w = {0}, m_dwei = {0}, m_dbia = {0};
    dnnl_memory_t sp_d = NULL, sp_w = NULL;
    void *spb_d = NULL, *spb_w = NULL;
    int ok = dnnl_stream_create(&st, d->eng, dnnl_stream_default_flags) == dnnl_success;
    if (ok && dx) {
        spb_d = cls_alloc(dnnl_memory_desc_get_size(&s->sp_d) + 64, "oneDNN scratchpad");
        ok = spb_d && mem2_make(&m_ddst_d, d->eng, &s->u_dst, &s->d_ddst, (void *)dy) &&
             mem2_make(&m_wei_d, d->eng, &s->u_wei, &s->d_wei, (void *)w) &&
             mem2_make(&m_dsrc_d, d->eng, &s->u_src, &s->d_dsrc, dx) &&
             dnnl_memory_create(&sp_d, &s->sp_d, d->eng, spb_d) == dnnl_success &&
             run_reorder(s->r_d_ddst, m_ddst_d.user, m_ddst_d.prim, st) &&
             run_reorder(s->r_d_wei, m_wei_d.user, m_wei_d.prim, st);
        if (ok) {
            dnnl_exec_arg_t a[] = {{DNNL_ARG_DIFF_DST, m_ddst_d.prim}, {DNNL_ARG_WEIGHTS, m_wei_d.prim},
                                   {DNNL_ARG_DIFF_SRC, m_dsrc_d.prim}, {DNNL_ARG_SCRATCHPAD, sp_d}};
            ok = dnnl_primitive_execute(s->bwd_d, st, 4, a) == dnnl_success &&
                 run_reorder(s->r_d_dsrc, m_dsrc_d.prim, m_dsrc_d.user, st);
        }
    }
    /* weights: into tmp_w (nw + c_out floats), then accumulated into dw, db */
    if (ok) {
        spb_w = cls_alloc(dnnl_memory_desc_get_size(&s->sp_w) + 64, "oneDNN scratchpad");
        ok = spb_w && mem2_make(&m_src_w, d->eng, &s->u_src, &s->w_src, (void *)x) &&
             mem2_make(&m_ddst_w, d->eng, &s->u_dst, &s->w_ddst, (void *)dy) &&
             mem2_make(&m_dwei, d->eng, &s->u_wei, &s->w_dwei, tmp_w) &&
             mem2_make(&m_dbia, d->eng, &s->u_bia, &s->w_dbia, tmp_w + nw) &&
             dnnl_memory_create(&sp_w, &s->sp_w, d->eng, spb_w) == dnnl_success &&
             run_reorder(s->r_w_src, m_src_w.user, m_src_w.prim, st) &&
             run_reorder(s->r_w_ddst, m_ddst_w.user, m_ddst_w.prim, st);
        if (ok) {
            dnnl_exec_arg_t a[] = {{DNNL_ARG_SRC, m_src_w.prim}, {DNNL_ARG_DIFF_DST, m_ddst_w.prim},
                                   {DNNL_ARG_DIFF_WEIGHTS, m_dwei.prim}, {DNNL_ARG_DIFF_BIAS, m_dbia.prim},
                                   {DNNL_ARG_SCRATCHPAD, sp_w}};
            ok = dnnl_primitive_execute(s->bwd_w, st, 5, a) == dnnl_success &&
                 run_reorder(s->r_w_dwei, m_dwei.prim, m_dwei.user, st) &&
                 run_reorder(s->r_w_dbia, m_dbia.prim, m_dbia.user, st);
        }
    }
    if (st) {
        if (dnnl_stream_wait(st) != dnnl_success) ok = 0;
        dnnl_stream_destroy(st);
    }
    if (ok) {
        for (int64_t i = 0; i < nw; i++) dw[i] += tmp_w[i];
        for (int64_t i = 0; i < c->c_out; i++) db[i] += tmp_w[nw + i];
    }
    mem2_free(&m_ddst_d), mem2_free(&m_wei_d), mem2_free(&m_dsrc_d);
    mem2_free(&m_src_w), mem2_free(&m_ddst_w), mem2_free(&m_dwei), mem2_free(&m_dbia);
    if (sp_d) dnnl_memory_destroy(sp_d);
    if (sp_w) dnnl_memory_destroy(sp_w);
    cls_free(spb_d);
    cls_free(spb_w);
    return ok;
}

#else

cls_nn_dnnl *cls_nn_dnnl_create(const cls_nn_conv_shape *shapes, int layers)
{
    (void)shapes, (void)layers;
    return NULL;
}
void cls_nn_dnnl_free(cls_nn_dnnl *d) { (void)d; }
int cls_nn_dnnl_conv_backward(cls_nn_dnnl *d, int layer, float *dx, float *dw, float *db, float *tmp_w,
                              const float *dy, const float *x, const float *w, int64_t n)
{
    (void)d, (void)layer, (void)dx, (void)dw, (void)db, (void)tmp_w, (void)dy, (void)x, (void)w, (void)n;
    return 0;
}

#endif
