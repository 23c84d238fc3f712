/* The clscale encoders (mlp, cnn) and their projection head (spec: train.md,
 * "Models"), built from the layers of layers.h.
 *
 * Threads and determinism. A call splits its n rows into tiles of at most
 * TILE rows; in the default mode an OpenMP loop (static schedule) runs the
 * tiles on `threads` threads with single-threaded GEMMs inside. Each row's h
 * and z depend only on that row (GEMM rows are computed independently, the
 * bias/ReLU/pool loops are per row), so a forward of rows [0,n) gives the
 * same bits as forwards of [0,k) and [k,n): the gradient-cache path relies on
 * it. Parameter gradients are summed per thread and then added in thread
 * order: the same bits for a given thread count and n. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "../core/internal.h"
#include "clscale/gemm.h"
#include "clscale/nn.h"
#include "clscale/rng.h"
#include "layers.h"
#include "nn_internal.h"
#include "conv_dnnl.h"
#include "rowgemm.h"

int cls_nn_parallel_mode = CLS_NN_PAR_AUTO;
int cls_nn_use_dnnl = 1;

#define MLP_TILE 256       /* rows per tile (mlp) */
#define CNN_TILE 8         /* images per tile (cnn) */
#define GEMM_MODE_TILE_MLP 1024
#define GEMM_MODE_TILE_CNN 64
#define MAX_SEG 12

typedef struct {
    int64_t in, out, w_off, b_off;
} lin_desc;

struct cls_model {
    cls_model_config cfg;
    int64_t in_dim, repr_dim, out_dim, n_params;
    int n_enc;             /* encoder layers: mlp 2 (linear), cnn 4 (conv) */
    lin_desc lin[2];       /* mlp encoder */
    cls_nn_conv_shape conv[4];
    int64_t conv_w[4], conv_b[4];
    int has_head;
    lin_desc head[2];
    int64_t enc_width[4]; /* floats per row of each encoder layer's output */
    int64_t pool_pixels;  /* cnn: pixels averaged by the pool */
    int64_t max_col;      /* cnn: im2col floats per image, largest layer */
    int64_t max_wb;       /* cnn: weight + bias floats of the largest layer */
    cls_nn_dnnl *dnnl;    /* cnn: oneDNN backward (NULL: im2col only) */
    int64_t max_width;    /* widest per-row activation */
    double flops;
    double flops_input_dx; /* what the first layer's dX would cost: never computed */
    /* packed forward weights (rowgemm.h): product layers in order
     * (encoder layers, then the head's two), offsets into one buffer */
    int n_prod;
    int64_t pk_off[6], pk_in[6], pk_out[6], pk_w[6], pk_b[6], pk_total;
    /* the packed weights of the last forward and a copy of the parameters
     * they were packed from: repacked only when the parameters changed */
    float *packed, *packed_src;
    int packed_ok;
    /* mixed precision (cls_model_set_precision): the Linear layers' products
     * take bf16 inputs; their weights packed for the bf16 row product and a
     * bf16 copy of the parameters (its weight segments are used by the
     * backward's dX = dY W), both refreshed with the fp32 packing */
    cls_precision precision;
    int pk_lin[6];
    int64_t pkb_off[6], pkb_total;
    float *packed_bf16;
    uint16_t *wbf16;
    float *params, *grads;
    int64_t nseg, seg_off[MAX_SEG], seg_len[MAX_SEG];
    uint8_t seg_bias[MAX_SEG];
};

/* Per-row activations kept for a backward: x copy, encoder outputs (after
 * ReLU), h (cnn only: the pooled features; mlp's h is its last encoder
 * output), head hidden u (after ReLU). */
typedef struct {
    float *enc[4], *h, *u; /* activations of a run of rows */
} tile_acts;

struct cls_model_cache {
    const cls_model *model;
    int64_t max_rows, n;
    float *buf;
    float *x;
    tile_acts acts; /* max_rows rows each */
};

/* ---- kinds and configuration ------------------------------------------ */

cls_status cls_model_kind_parse(const char *name, cls_model_kind *out)
{
    if (!name || !out) return cls_set_error(CLS_E_INVALID_ARG, "model kind: NULL argument");
    if (!strcmp(name, "mlp")) *out = CLS_MODEL_MLP;
    else if (!strcmp(name, "cnn")) *out = CLS_MODEL_CNN;
    else return cls_set_error(CLS_E_INVALID_ARG, "model kind '%s': expected mlp or cnn", name);
    return CLS_OK;
}

const char *cls_model_kind_name(cls_model_kind kind)
{
    return kind == CLS_MODEL_MLP ? "mlp" : kind == CLS_MODEL_CNN ? "cnn" : "unknown";
}

void cls_model_config_init(cls_model_config *cfg, cls_model_kind kind)
{
    if (!cfg) return; /* NULL is a no-op, like every _init */
    memset(cfg, 0, sizeof(*cfg));
    cfg->kind = kind;
    cfg->width = kind == CLS_MODEL_CNN ? 32 : 1024;
    cfg->height = 28;
    cfg->image_w = 28;
    cfg->in_dim = 0;
    cfg->proj_dim = 128;
    cfg->seed = 0;
}

/* ---- construction ------------------------------------------------------ */

static void add_segment(cls_model *m, int64_t len, int is_bias)
{
    m->seg_off[m->nseg] = m->n_params;
    m->seg_len[m->nseg] = len;
    m->seg_bias[m->nseg] = (uint8_t)is_bias;
    m->nseg++;
    m->n_params += len;
}

/* A product layer (Linear or Conv as im2col rows): weight out x in, bias out. */
static void add_product(cls_model *m, int64_t in, int64_t out)
{
    int i = m->n_prod++;
    m->pk_in[i] = in;
    m->pk_out[i] = out;
    m->pk_w[i] = m->n_params;
    add_segment(m, in * out, 0);
    m->pk_b[i] = m->n_params;
    add_segment(m, out, 1);
    m->pk_off[i] = m->pk_total;
    m->pk_total += cls_nn_rowgemm_pack_floats(in, out);
    m->pkb_off[i] = m->pkb_total;
    m->pkb_total += cls_nn_rowgemm_bf16_pack_floats(in, out);
}

static void add_linear(cls_model *m, lin_desc *l, int64_t in, int64_t out)
{
    l->in = in;
    l->out = out;
    l->w_off = m->n_params;
    l->b_off = m->n_params + in * out;
    m->pk_lin[m->n_prod] = 1;
    add_product(m, in, out);
    if (m->flops == 0) m->flops_input_dx = 2.0 * (double)in * (double)out;
    m->flops += 2.0 * (double)in * (double)out;
}

/* Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's kaiming_uniform_(a=sqrt(5))
 * (gain sqrt(2/(1+5)), bound gain*sqrt(3/fan_in)). Biases stay 0. */
static void init_weights(float *w, int64_t count, int64_t fan_in, cls_rng *rng)
{
    double bound = 1.0 / sqrt((double)fan_in);
    for (int64_t i = 0; i < count; i++) w[i] = (float)((2.0 * cls_rng_uniform(rng) - 1.0) * bound);
}

cls_status cls_model_create(cls_model **out, const cls_model_config *cfg)
{
    if (!out || !cfg) return cls_set_error(CLS_E_INVALID_ARG, "model: NULL argument");
    *out = NULL;
    if (cfg->kind != CLS_MODEL_MLP && cfg->kind != CLS_MODEL_CNN)
        return cls_set_error(CLS_E_INVALID_ARG, "model: unknown kind %d", (int)cfg->kind);
    if (cfg->width < 1 || cfg->width > (1 << 16))
        return cls_set_error(CLS_E_INVALID_ARG, "model: width %lld out of range [1, 65536]",
                             (long long)cfg->width);
    if (cfg->height < 1 || cfg->image_w < 1 || cfg->height > 4096 || cfg->image_w > 4096)
        return cls_set_error(CLS_E_INVALID_ARG, "model: image size %lld x %lld out of range",
                             (long long)cfg->height, (long long)cfg->image_w);
    if (cfg->proj_dim < 0 || cfg->proj_dim > (1 << 16))
        return cls_set_error(CLS_E_INVALID_ARG, "model: proj_dim %lld out of range [0, 65536]",
                             (long long)cfg->proj_dim);
    if (cfg->in_dim < 0 || cfg->in_dim > (1 << 24))
        return cls_set_error(CLS_E_INVALID_ARG, "model: in_dim %lld out of range",
                             (long long)cfg->in_dim);
    int64_t pixels = cfg->height * cfg->image_w;
    if (cfg->kind == CLS_MODEL_CNN && cfg->in_dim != 0 && cfg->in_dim != pixels)
        return cls_set_error(CLS_E_INVALID_ARG,
                             "model: cnn takes %lldx%lld images, in_dim %lld is not supported",
                             (long long)cfg->height, (long long)cfg->image_w,
                             (long long)cfg->in_dim);

    cls_model *m = cls_calloc(1, sizeof(*m), "model");
    if (!m) return CLS_E_NOMEM;
    m->cfg = *cfg;
    const int64_t W = cfg->width;
    if (cfg->kind == CLS_MODEL_MLP) {
        m->in_dim = cfg->in_dim ? cfg->in_dim : pixels;
        m->n_enc = 2;
        add_linear(m, &m->lin[0], m->in_dim, W);
        add_linear(m, &m->lin[1], W, W);
        m->enc_width[0] = m->enc_width[1] = W;
        m->repr_dim = W;
    } else {
        m->in_dim = pixels;
        m->n_enc = 4;
        const int64_t ch[5] = {1, W, 2 * W, 4 * W, 4 * W};
        const int64_t stride[4] = {1, 2, 2, 1};
        int64_t h = cfg->height, w = cfg->image_w;
        for (int l = 0; l < 4; l++) {
            cls_nn_conv_shape *s = &m->conv[l];
            cls_nn_conv_shape_init(s, ch[l], ch[l + 1], h, w, stride[l]);
            h = s->h_out;
            w = s->w_out;
            m->conv_w[l] = m->n_params;
            m->conv_b[l] = m->n_params + ch[l + 1] * ch[l] * 9;
            add_product(m, ch[l] * 9, ch[l + 1]);
            m->enc_width[l] = cls_nn_conv_out_size(s);
            const double conv_flops = 2.0 * (double)(s->h_out * s->w_out) * (double)(ch[l] * 9) * (double)ch[l + 1];
            if (l == 0) m->flops_input_dx = conv_flops;
            m->flops += conv_flops;
            if (cls_nn_conv_col_size(s) > m->max_col) m->max_col = cls_nn_conv_col_size(s);
            if (ch[l + 1] * ch[l] * 9 + ch[l + 1] > m->max_wb) m->max_wb = ch[l + 1] * ch[l] * 9 + ch[l + 1];
        }
        m->pool_pixels = h * w;
        m->repr_dim = 4 * W;
        m->dnnl = cls_nn_dnnl_create(m->conv, 4); /* NULL without oneDNN: im2col */
    }
    m->has_head = cfg->proj_dim > 0;
    if (m->has_head) {
        add_linear(m, &m->head[0], m->repr_dim, m->repr_dim);
        add_linear(m, &m->head[1], m->repr_dim, cfg->proj_dim);
        m->out_dim = cfg->proj_dim;
    } else {
        m->out_dim = m->repr_dim;
    }
    m->max_width = m->in_dim > m->repr_dim ? m->in_dim : m->repr_dim;
    if (m->out_dim > m->max_width) m->max_width = m->out_dim;
    for (int l = 0; l < m->n_enc; l++)
        if (m->enc_width[l] > m->max_width) m->max_width = m->enc_width[l];

    m->params = cls_calloc((size_t)m->n_params, sizeof(float), "model parameters");
    m->grads = cls_calloc((size_t)m->n_params, sizeof(float), "model gradients");
    m->packed = cls_alloc((size_t)m->pk_total * sizeof(float), "model packed weights");
    m->packed_src = cls_alloc((size_t)m->n_params * sizeof(float), "model packed weights");
    if (!m->params || !m->grads || !m->packed || !m->packed_src) {
        cls_model_free(m);
        return CLS_E_NOMEM;
    }
    /* One stream, tensors in layout order; fan_in = in (Linear) or c_in*9 (Conv). */
    cls_rng rng;
    cls_rng_seed(&rng, cfg->seed);
    if (cfg->kind == CLS_MODEL_MLP) {
        for (int l = 0; l < 2; l++)
            init_weights(m->params + m->lin[l].w_off, m->lin[l].in * m->lin[l].out, m->lin[l].in, &rng);
    } else {
        for (int l = 0; l < 4; l++)
            init_weights(m->params + m->conv_w[l], m->conv[l].c_out * m->conv[l].c_in * 9,
                         m->conv[l].c_in * 9, &rng);
    }
    if (m->has_head)
        for (int l = 0; l < 2; l++)
            init_weights(m->params + m->head[l].w_off, m->head[l].in * m->head[l].out, m->head[l].in, &rng);
    *out = m;
    return CLS_OK;
}

void cls_model_free(cls_model *m)
{
    if (!m) return;
    cls_free(m->params);
    cls_free(m->grads);
    cls_free(m->packed);
    cls_free(m->packed_src);
    cls_free(m->packed_bf16);
    cls_free(m->wbf16);
    cls_nn_dnnl_free(m->dnnl);
    cls_free(m);
}

const cls_model_config *cls_model_get_config(const cls_model *m) { return &m->cfg; }
int64_t cls_model_param_count(const cls_model *m) { return m->n_params; }
int64_t cls_model_in_dim(const cls_model *m) { return m->in_dim; }
int64_t cls_model_repr_dim(const cls_model *m) { return m->repr_dim; }
int64_t cls_model_out_dim(const cls_model *m) { return m->out_dim; }
double cls_model_flops_per_input(const cls_model *m) { return m->flops; }
double cls_model_backward_flops_per_input(const cls_model *m) { return 2.0 * m->flops - m->flops_input_dx; }
float *cls_model_params(cls_model *m) { return m->params; }
float *cls_model_grads(cls_model *m) { return m->grads; }
cls_status cls_model_set_precision(cls_model *m, cls_precision precision)
{
    if (!m) return cls_set_error(CLS_E_INVALID_ARG, "model precision: NULL model");
    if (precision != CLS_PRECISION_FP32 && precision != CLS_PRECISION_BF16)
        return cls_set_error(CLS_E_INVALID_ARG, "model precision %d: expected fp32 or bf16", (int)precision);
    if (precision == CLS_PRECISION_BF16 && !m->packed_bf16) {
        m->packed_bf16 = cls_alloc((size_t)m->pkb_total * sizeof(float), "model bf16 packed weights");
        m->wbf16 = cls_alloc((size_t)m->n_params * sizeof(uint16_t), "model bf16 weights");
        if (!m->packed_bf16 || !m->wbf16) {
            cls_free(m->packed_bf16);
            cls_free(m->wbf16);
            m->packed_bf16 = NULL;
            m->wbf16 = NULL;
            return CLS_E_NOMEM;
        }
    }
    m->precision = precision;
    m->packed_ok = 0;
    return CLS_OK;
}

cls_precision cls_model_get_precision(const cls_model *m)
{
    return m ? m->precision : CLS_PRECISION_FP32;
}

void cls_model_zero_grad(cls_model *m) { memset(m->grads, 0, (size_t)m->n_params * sizeof(float)); }

void cls_model_segments(const cls_model *m, int64_t *count, const int64_t **offset,
                        const int64_t **length, const uint8_t **is_bias)
{
    if (count) *count = m->nseg;
    if (offset) *offset = m->seg_off;
    if (length) *length = m->seg_len;
    if (is_bias) *is_bias = m->seg_bias;
}

/* ---- memory plan ---------------------------------------------------------- */

/* Floats per row the cache keeps. */
static int64_t cache_row_floats(const cls_model *m)
{
    int64_t f = m->in_dim;
    for (int l = 0; l < m->n_enc; l++) f += m->enc_width[l];
    if (m->cfg.kind == CLS_MODEL_CNN) f += m->repr_dim;
    if (m->has_head) f += m->repr_dim;
    return f;
}

static int64_t tile_rows(const cls_model *m, int64_t n, int nthreads, int gemm_mode)
{
    int64_t cap;
    if (gemm_mode) {
        cap = m->cfg.kind == CLS_MODEL_CNN ? GEMM_MODE_TILE_CNN : GEMM_MODE_TILE_MLP;
        return n < 1 ? 1 : n < cap ? n : cap;
    }
    cap = m->cfg.kind == CLS_MODEL_CNN ? CNN_TILE : MLP_TILE;
    int64_t per = (n + nthreads - 1) / nthreads;
    if (per < 1) per = 1;
    return per < cap ? per : cap;
}

/* Workspace floats one thread needs for a tile of r rows: activations when
 * there is no cache (forward), im2col (and its gradient in the backward),
 * two activation-gradient buffers (backward). */
static int64_t ws_floats(const cls_model *m, int64_t r, int with_acts, int backward)
{
    int64_t f = m->max_col * r * (backward ? 2 : 1);
    if (with_acts) f += (cache_row_floats(m) - m->in_dim) * r;
    if (backward) f += 2 * m->max_width * r;
    /* oneDNN backward: its weight-gradient output, and the copies of dy, dx
     * and x in its blocked layouts it allocates per call (bounded here by
     * three of the widest activations) */
    if (backward && m->dnnl) f += m->max_wb + 3 * m->max_width * r;
    /* bf16: the rounded inputs of a forward product (rows of even length),
     * the rounded dy and x of a backward one */
    if (m->precision == CLS_PRECISION_BF16)
        f += backward ? m->max_width * r + 16 : ((m->max_width + 1) * r + 1) / 2 + 16;
    return f;
}

static int par_threads(int threads)
{
    return cls_threads_resolve(threads);
}


/* Lay out the activations of r rows from p on; returns the end. */
static float *acts_from_ws(tile_acts *a, const cls_model *m, float *p, int64_t r)
{
    for (int l = 0; l < m->n_enc; l++) {
        a->enc[l] = p;
        p += r * m->enc_width[l];
    }
    if (m->cfg.kind == CLS_MODEL_CNN) {
        a->h = p;
        p += r * m->repr_dim;
    } else {
        a->h = a->enc[1];
    }
    a->u = NULL;
    if (m->has_head) {
        a->u = p;
        p += r * m->repr_dim;
    }
    return p;
}

cls_status cls_model_cache_create(cls_model_cache **out, const cls_model *m, int64_t max_rows)
{
    if (!out || !m) return cls_set_error(CLS_E_INVALID_ARG, "model cache: NULL argument");
    *out = NULL;
    if (max_rows < 1)
        return cls_set_error(CLS_E_INVALID_ARG, "model cache: max_rows %lld < 1", (long long)max_rows);
    cls_model_cache *c = cls_calloc(1, sizeof(*c), "model cache");
    if (!c) return CLS_E_NOMEM;
    size_t bytes;
    if (!cls_size_mul(&bytes, max_rows, cache_row_floats(m), sizeof(float))) {
        cls_free(c);
        return CLS_E_INVALID_ARG;
    }
    c->buf = cls_alloc(bytes, "model activation cache");
    if (!c->buf) {
        cls_free(c);
        return CLS_E_NOMEM;
    }
    c->model = m;
    c->max_rows = max_rows;
    c->x = c->buf;
    acts_from_ws(&c->acts, m, c->buf + max_rows * m->in_dim, max_rows);
    *out = c;
    return CLS_OK;
}

void cls_model_cache_free(cls_model_cache *c)
{
    if (!c) return;
    cls_free(c->buf);
    cls_free(c);
}

/* ---- one tile ----------------------------------------------------------- */

static void acts_from_cache(tile_acts *a, const cls_model *m, const cls_model_cache *c, int64_t r0)
{
    for (int l = 0; l < m->n_enc; l++) a->enc[l] = c->acts.enc[l] + r0 * m->enc_width[l];
    a->h = c->acts.h + r0 * m->repr_dim;
    a->u = m->has_head ? c->acts.u + r0 * m->repr_dim : NULL;
}


/* Linear product i (encoder or head) of r rows: y = x W^T + b in the model's
 * precision. packed: the batch mode's row-independent packed weights (NULL:
 * one GEMM call); xb: workspace for the bf16-rounded rows. */
static cls_status lin_forward(const cls_model *m, int i, float *y, const float *x, int64_t r,
                              const float *packed, uint16_t *xb)
{
    const int64_t in = m->pk_in[i], out = m->pk_out[i];
    const float *P = m->params;
    if (m->precision != CLS_PRECISION_BF16)
        return cls_nn_linear_forward(y, x, P + m->pk_w[i], P + m->pk_b[i],
                                     packed ? packed + m->pk_off[i] : NULL, r, in, out);
    if (r <= 0) return CLS_OK;
    cls_nn_bf16_rows(xb, x, r, in);
    if (packed) {
        cls_nn_rowgemm_bf16(y, xb, m->packed_bf16 + m->pkb_off[i], r, in, out);
        return CLS_OK;
    }
    for (int64_t k = 0; k < r; k++) memcpy(y + k * out, P + m->pk_b[i], (size_t)out * sizeof(float));
    return cls_gemm_bf16(CLS_NO_TRANS, CLS_TRANS, r, out, in, 1.0f, xb, cls_nn_bf16_stride(in),
                         m->wbf16 + m->pk_w[i], in, 1.0f, y, out);
}

/* Backward of Linear product i (lin_desc L): dx overwritten, dW and db
 * accumulated into G; bws: bf16 workspace (bf16 precision only). */
static cls_status lin_backward(const cls_model *m, int i, const lin_desc *L, float *dx, float *G,
                               const float *dy, const float *x, int64_t r, int T, uint16_t *bws)
{
    if (m->precision == CLS_PRECISION_BF16)
        return cls_nn_linear_backward_bf16(dx, G + L->w_off, G + L->b_off, dy, x, m->wbf16 + m->pk_w[i],
                                           r, L->in, L->out, T, bws);
    return cls_nn_linear_backward_par(dx, G + L->w_off, G + L->b_off, dy, x, m->params + L->w_off, r,
                                      L->in, L->out, T);
}

/* Forward of r rows; z (may be NULL) gets the head's output. */
static cls_status tile_forward(const cls_model *m, const float *x, int64_t r, const tile_acts *a,
                               float *z, float *col, const float *packed, int keep, uint16_t *xb)
{
    const float *P = m->params;
#define PK(i) (packed ? packed + m->pk_off[i] : NULL)
    cls_status st = CLS_OK;
    if (m->cfg.kind == CLS_MODEL_MLP) {
        const float *in = x;
        for (int l = 0; l < 2 && !st; l++) {
            const lin_desc *L = &m->lin[l];
            st = lin_forward(m, l, a->enc[l], in, r, packed, xb);
            cls_nn_relu_forward(a->enc[l], a->enc[l], r * L->out);
            in = a->enc[l];
        }
    } else {
        const float *in = x;
        for (int l = 0; l < 4 && !st; l++) {
            st = cls_nn_conv_forward(a->enc[l], col, in, P + m->conv_w[l], P + m->conv_b[l],
                                     PK(l), &m->conv[l], r);
            cls_nn_relu_forward(a->enc[l], a->enc[l], r * m->enc_width[l]);
            in = a->enc[l];
        }
        if (!st) cls_nn_avgpool_forward(a->h, a->enc[3], r, m->pool_pixels, m->repr_dim);
    }
    /* with a cache (keep) the head's hidden layer is needed by the backward */
    if (st || (!z && !(keep && m->has_head))) return st;
    if (!m->has_head) {
        memcpy(z, a->h, (size_t)(r * m->repr_dim) * sizeof(float));
        return CLS_OK;
    }
    const lin_desc *H0 = &m->head[0], *H1 = &m->head[1];
    st = lin_forward(m, m->n_enc, a->u, a->h, r, packed, xb);
    if (st) return st;
    cls_nn_relu_forward(a->u, a->u, r * H0->out);
    if (!z) return CLS_OK;
    (void)H1;
    return lin_forward(m, m->n_enc + 1, z, a->u, r, packed, xb);
#undef PK
}

/* Backward of r cached rows; parameter gradients accumulate into G. */
static cls_status tile_backward(const cls_model *m, const float *x, int64_t r, const tile_acts *a,
                                const float *dz, const float *dh, float *G, float *col,
                                float *dcol, float *gA, float *gB, float *tmp_w, int T,
                                uint16_t *bws)
{
    const float *P = m->params;
    const int64_t R = m->repr_dim;
    cls_status st = CLS_OK;
    /* gB <- dL/dh */
    if (m->has_head) {
        const lin_desc *H0 = &m->head[0], *H1 = &m->head[1];
        if (dz) {
            st = lin_backward(m, m->n_enc + 1, H1, gA, G, dz, a->u, r, T, bws);
            if (st) return st;
            cls_nn_relu_backward(gA, gA, a->u, r * H0->out);
            st = lin_backward(m, m->n_enc, H0, gB, G, gA, a->h, r, T, bws);
            if (st) return st;
        } else {
            memset(gB, 0, (size_t)(r * R) * sizeof(float));
        }
    } else if (dz) {
        memcpy(gB, dz, (size_t)(r * R) * sizeof(float));
    } else {
        memset(gB, 0, (size_t)(r * R) * sizeof(float));
    }
    if (dh)
        for (int64_t i = 0; i < r * R; i++) gB[i] += dh[i];

    if (m->cfg.kind == CLS_MODEL_MLP) {
        const lin_desc *L0 = &m->lin[0], *L1 = &m->lin[1];
        cls_nn_relu_backward(gB, gB, a->enc[1], r * L1->out);
        st = lin_backward(m, 1, L1, gA, G, gB, a->enc[0], r, T, bws);
        if (st) return st;
        cls_nn_relu_backward(gA, gA, a->enc[0], r * L0->out);
        return lin_backward(m, 0, L0, NULL, G, gA, x, r, T, bws);
    }
    /* cnn: gB holds dh; the gradient ping-pongs between gA and gB */
    cls_nn_avgpool_backward(gA, gB, r, m->pool_pixels, R);
    float *g = gA, *other = gB;
    for (int l = 3; l >= 0; l--) {
        cls_nn_relu_backward(g, g, a->enc[l], r * m->enc_width[l]);
        const float *in = l > 0 ? a->enc[l - 1] : x;
        int done = m->dnnl && cls_nn_use_dnnl &&
                   cls_nn_dnnl_conv_backward(m->dnnl, l, l > 0 ? other : NULL, G + m->conv_w[l],
                                             G + m->conv_b[l], tmp_w, g, in, P + m->conv_w[l], r);
        if (!done)
            st = cls_nn_conv_backward(l > 0 ? other : NULL, G + m->conv_w[l], G + m->conv_b[l], col,
                                      dcol, g, in, P + m->conv_w[l], &m->conv[l], r);
        if (st) return st;
        float *t = g;
        g = other;
        other = t;
    }
    return CLS_OK;
}

/* ---- forward / backward over a chunk ------------------------------------ */

/* serial_tiles_note: when tiles run one after another (GEMM mode, or one
 * workspace) the loop must not sit inside an OpenMP construct, not even an
 * inactive `parallel if (0)`: the multi-threaded GEMMs inside would then open
 * nested parallel regions, for which libgomp creates and destroys threads on
 * every call (fresh oneDNN scratchpads each time) while the pool's worker
 * idles. Measured on the mlp backward: the main thread ran 2/3 of the JIT
 * GEMM work, dozens of short-lived threads the rest. */
typedef struct {
    int T, gemm_mode, nws; /* threads, mode, workspaces (threads running tiles) */
    int64_t r, ntiles;     /* rows per tile, tiles */
} run_plan;

/* Forward: batch-parallel (its row-independent products keep any chunking
 * bit-identical); backward: batch-parallel for the cnn, multi-threaded GEMMs
 * over tiles of up to 1024 rows for the mlp (measured faster by
 * bench/bench_nn.c: no per-thread gradient buffers to sum). */
static run_plan plan_run(const cls_model *m, int64_t n, int threads, int backward)
{
    run_plan p;
    p.T = par_threads(threads);
    p.gemm_mode = cls_nn_parallel_mode == CLS_NN_PAR_GEMM ||
                  (cls_nn_parallel_mode == CLS_NN_PAR_AUTO && backward && m->cfg.kind == CLS_MODEL_MLP);
    p.r = tile_rows(m, n, p.T, p.gemm_mode);
    p.ntiles = (n + p.r - 1) / p.r;
    p.nws = p.gemm_mode ? 1 : (int)(p.ntiles < p.T ? p.ntiles : p.T);
    return p;
}

/* Floats a forward allocates: packed weights (batch mode), then one
 * workspace per running thread. */
static int64_t fwd_alloc_floats(const cls_model *m, const run_plan *p, int cached)
{
    return p->nws * ws_floats(m, p->r, !cached, 0) + 1;
}

/* Floats a backward allocates: per running thread a workspace and, with
 * more than one, a parameter-gradient buffer. */
static int64_t bwd_grad_floats(const cls_model *m, const run_plan *p)
{
    return p->nws > 1 ? m->n_params : 0;
}
static int64_t bwd_alloc_floats(const cls_model *m, const run_plan *p)
{
    return p->nws * (ws_floats(m, p->r, 0, 1) + bwd_grad_floats(m, p)) + 1;
}

int64_t cls_model_activation_bytes_threads(const cls_model *m, int64_t max_rows, int threads)
{
    if (!m || max_rows < 0) return 0;
    run_plan pf = plan_run(m, max_rows, threads, 0), pb = plan_run(m, max_rows, threads, 1);
    int64_t f = fwd_alloc_floats(m, &pf, 1), b = bwd_alloc_floats(m, &pb);
    return (max_rows * cache_row_floats(m) + (f > b ? f : b)) * (int64_t)sizeof(float);
}

int64_t cls_model_activation_bytes(const cls_model *m, int64_t max_rows)
{
    return cls_model_activation_bytes_threads(m, max_rows, 0);
}

/* The packed weights (shared, read-only in the forward's tiles), packed again
 * only when the parameters differ from those of the last packing (exact
 * comparison: reading the parameters costs a fraction of packing them, which
 * a chunked training step would otherwise repeat for every chunk). */
static void pack_weights(cls_model *m, int T)
{
    const size_t pbytes = (size_t)m->n_params * sizeof(float);
    if (m->packed_ok && !memcmp(m->packed_src, m->params, pbytes)) return;
    const int np = m->n_prod, bf16 = m->precision == CLS_PRECISION_BF16;
#pragma omp parallel for schedule(dynamic) num_threads(T < np ? T : np)
    for (int i = 0; i < np; i++) {
        if (bf16 && m->pk_lin[i]) { /* Linear layers: bf16 packing and copy */
            cls_bf16_from_f32(m->wbf16 + m->pk_w[i], m->params + m->pk_w[i], m->pk_in[i] * m->pk_out[i]);
            cls_nn_rowgemm_bf16_pack(m->packed_bf16 + m->pkb_off[i], m->wbf16 + m->pk_w[i],
                                     m->params + m->pk_b[i], m->pk_in[i], m->pk_out[i]);
        } else {
            cls_nn_rowgemm_pack(m->packed + m->pk_off[i], m->params + m->pk_w[i],
                                m->params + m->pk_b[i], m->pk_in[i], m->pk_out[i]);
        }
    }
    memcpy(m->packed_src, m->params, pbytes);
    m->packed_ok = 1;
}

/* Run tile(ctx, t, tid) for t in [0, ntiles) on workspace tid: one after
 * another outside any OpenMP construct (see serial_tiles_note), stopping at
 * the first error, or over the plan's workspaces in parallel, the first
 * error's message carried back to this thread. */
typedef cls_status (*tile_fn)(void *ctx, int64_t t, int tid);
static cls_status run_tiles(const run_plan *pl, tile_fn tile, void *ctx)
{
    if (pl->gemm_mode || pl->nws <= 1) {
        for (int64_t t = 0; t < pl->ntiles; t++) {
            cls_status st = tile(ctx, t, 0);
            if (st) return st;
        }
        return CLS_OK;
    }
    cls_worker_error err = {CLS_OK, {0}};
#pragma omp parallel for schedule(static) num_threads(pl->nws)
    for (int64_t t = 0; t < pl->ntiles; t++) cls_worker_fail(&err, tile(ctx, t, omp_get_thread_num()));
    return cls_worker_report(&err);
}

/* What a forward tile needs: rows [t r, t r + r) of xs, workspace tid. */
typedef struct {
    const cls_model *m;
    const float *xs;
    float *h, *z;
    const float *packed;
    const cls_model_cache *cache;
    float *ws;
    int64_t n, r, wsf;
} fwd_tiles;

static cls_status forward_one_tile(void *ctx, int64_t t, int tid)
{
    const fwd_tiles *f = ctx;
    const cls_model *m = f->m;
    const int64_t r = f->r, wsf = f->wsf, r0 = t * r, rows = f->n - r0 < r ? f->n - r0 : r;
    float *w = f->ws + (int64_t)tid * wsf;
    tile_acts a;
    float *col = w;
    if (f->cache) acts_from_cache(&a, m, f->cache, r0);
    else col = acts_from_ws(&a, m, w, rows > 0 ? r : 0);
    /* bf16: the rounded rows at the end of this thread's workspace */
    uint16_t *xb = m->precision == CLS_PRECISION_BF16 ? (uint16_t *)(w + wsf - ((m->max_width + 1) * r + 1) / 2)
                                                      : NULL;
    cls_status st = tile_forward(m, f->xs + r0 * m->in_dim, rows, &a, f->z ? f->z + r0 * m->out_dim : NULL, col,
                                 f->packed, f->cache != NULL, xb);
    if (!st && f->h) memcpy(f->h + r0 * m->repr_dim, a.h, (size_t)(rows * m->repr_dim) * sizeof(float));
    return st;
}

/* What a backward tile needs: its rows of the cache, workspace tid (and its
 * own gradient buffer when gf > 0), the GEMMs' thread count. */
typedef struct {
    const cls_model *m;
    const cls_model_cache *cache;
    const float *dz, *dh;
    float *ws;
    int64_t n, r, wsf, gf;
    int gemm_threads;
} bwd_tiles;

static cls_status backward_one_tile(void *ctx, int64_t t, int tid)
{
    const bwd_tiles *b = ctx;
    const cls_model *m = b->m;
    const int64_t r = b->r, wsf = b->wsf, r0 = t * r, rows = b->n - r0 < r ? b->n - r0 : r;
    float *w = b->ws + (int64_t)tid * (wsf + b->gf);
    float *G = b->gf ? w + wsf : m->grads;
    float *col = w, *dcol = col + m->max_col * r, *gA = dcol + m->max_col * r;
    float *gB = gA + m->max_width * r, *tmp_w = gB + m->max_width * r;
    uint16_t *bws = m->precision == CLS_PRECISION_BF16 ? (uint16_t *)(w + wsf - m->max_width * r) : NULL;
    tile_acts a;
    acts_from_cache(&a, m, b->cache, r0);
    return tile_backward(m, b->cache->x + r0 * m->in_dim, rows, &a, b->dz ? b->dz + r0 * m->out_dim : NULL,
                         b->dh ? b->dh + r0 * m->repr_dim : NULL, G, col, dcol, gA, gB, tmp_w, b->gemm_threads, bws);
}

cls_status cls_model_forward(cls_model *m, const float *x, int64_t n, float *h, float *z,
                             cls_model_cache *cache, int threads)
{
    if (!m || (n > 0 && !x)) return cls_set_error(CLS_E_INVALID_ARG, "model forward: NULL argument");
    if (n < 0) return cls_set_error(CLS_E_INVALID_ARG, "model forward: n = %lld", (long long)n);
    if (cache) {
        if (cache->model != m)
            return cls_set_error(CLS_E_INVALID_ARG, "model forward: cache belongs to another model");
        if (n > cache->max_rows)
            return cls_set_error(CLS_E_SHAPE, "model forward: n = %lld exceeds the cache's %lld rows",
                                 (long long)n, (long long)cache->max_rows);
        cache->n = n;
        memcpy(cache->x, x, (size_t)(n * m->in_dim) * sizeof(float));
    }
    if (n == 0) return CLS_OK;
    run_plan pl = plan_run(m, n, threads, 0);
    const int T = pl.T, gemm_mode = pl.gemm_mode;
    const int64_t r = pl.r;
    int64_t wsf = ws_floats(m, r, cache == NULL, 0);
    /* one workspace per thread */
    float *ws = cls_alloc((size_t)fwd_alloc_floats(m, &pl, cache != NULL) * sizeof(float),
                          "model forward workspace");
    if (!ws) return CLS_E_NOMEM;
    const float *packed = NULL;
    if (!gemm_mode || m->precision == CLS_PRECISION_BF16) pack_weights(m, T);
    if (!gemm_mode) packed = m->packed;
    const float *xs = cache ? cache->x : x;
    cls_thread_state prev_threads = {0, 0};
    if (gemm_mode) cls_threads_enter(T, &prev_threads);

    fwd_tiles ft = {m, xs, h, z, packed, cache, ws, n, r, wsf};
    cls_status status = run_tiles(&pl, forward_one_tile, &ft);
    if (gemm_mode) cls_threads_leave(&prev_threads);
    cls_free(ws);
    return status;
}

cls_status cls_model_backward(cls_model *m, cls_model_cache *cache, const float *dz,
                              const float *dh, int64_t n, int threads)
{
    if (!m || !cache) return cls_set_error(CLS_E_INVALID_ARG, "model backward: NULL argument");
    if (cache->model != m)
        return cls_set_error(CLS_E_INVALID_ARG, "model backward: cache belongs to another model");
    if (n != cache->n)
        return cls_set_error(CLS_E_SHAPE, "model backward: n = %lld but the cached forward had %lld rows",
                             (long long)n, (long long)cache->n);
    if (n == 0) return CLS_OK;
    run_plan pl = plan_run(m, n, threads, 1);
    const int T = pl.T, gemm_mode = pl.gemm_mode, nws = pl.nws;
    const int64_t r = pl.r;
    int64_t wsf = ws_floats(m, r, 0, 1);
    /* one gradient buffer per thread when more than one thread accumulates */
    int64_t gf = bwd_grad_floats(m, &pl);
    float *ws = cls_calloc((size_t)bwd_alloc_floats(m, &pl), sizeof(float), "model backward workspace");
    if (!ws) return CLS_E_NOMEM;
    if (m->precision == CLS_PRECISION_BF16) pack_weights(m, T); /* the bf16 W of dX = dY W */
    cls_thread_state prev_threads = {0, 0};
    if (gemm_mode) cls_threads_enter(T, &prev_threads);

    bwd_tiles bt = {m, cache, dz, dh, ws, n, r, wsf, gf, gemm_mode ? T : 1};
    cls_status status = run_tiles(&pl, backward_one_tile, &bt);
    if (gemm_mode) cls_threads_leave(&prev_threads);
    if (gf && !status) {
        float *grads = m->grads;
        const int64_t np = m->n_params;
#pragma omp parallel for schedule(static) num_threads(T)
        for (int64_t i = 0; i < np; i++) {
            float s = grads[i];
            for (int k = 0; k < nws; k++) s += ws[(int64_t)k * (wsf + gf) + wsf + i];
            grads[i] = s;
        }
    }
    cls_free(ws);
    return status;
}
