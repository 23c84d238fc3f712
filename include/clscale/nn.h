/* clscale nn: the encoders trained by clscale (spec: train.md, "Models").
 *
 * A model is an encoder f (mlp or cnn) followed by a projection head g:
 *   h = f(x)  (the representation, used by the probe and k-NN)
 *   z = g(h)  (Linear dim(h)->dim(h), ReLU, Linear dim(h)->proj_dim; the loss sees z)
 * Input images are float32 in [0, 1], row-major n x (height*width), one channel.
 *
 * All parameters live in one contiguous float32 buffer (and their gradients in
 * another of the same layout), so optimisers, checkpoints and all-reduces see
 * one flat vector. The layout is described by segments (one per weight or bias
 * tensor) for LARS's per-layer trust ratio and for excluding biases from weight
 * decay.
 *
 * Conventions: parameter gradients ACCUMULATE (call cls_model_zero_grad before a
 * step); activation gradients are overwritten (inside src/nn/layers.h every
 * backward writes dx = ..., and adds dw += ..., db += ...).
 * Parameter layout, in order, each weight (PyTorch layout) followed by its bias:
 *   mlp: Linear(in_dim, W) [W x in_dim], Linear(W, W);
 *   cnn: Conv2d(1, c), Conv2d(c, 2c, stride 2), Conv2d(2c, 4c, stride 2),
 *        Conv2d(4c, 4c) [out x in x 3 x 3]; activations are NHWC inside;
 *   head: Linear(R, R), Linear(R, proj_dim).
 * So a torch.nn twin whose parameters() come in this order loads the flat
 * vector directly (tests/python/test_nn_torch.py). No batch normalisation (it would
 * break the equivalence of gradient caching and data parallelism with one big
 * batch). Weights are He-uniform as PyTorch's kaiming_uniform_(a=sqrt(5)) for
 * Linear/Conv, biases 0, drawn from a seeded counter-based RNG. */
#ifndef CLSCALE_NN_H
#define CLSCALE_NN_H

#include <stdint.h>

#include "../clscale.h"
#include "loss.h" /* cls_precision */

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CLS_MODEL_MLP = 0, CLS_MODEL_CNN = 1 } cls_model_kind;

/* Parse "mlp" / "cnn"; name of a kind. */
CLS_API cls_status cls_model_kind_parse(const char *name, cls_model_kind *out);
CLS_API const char *cls_model_kind_name(cls_model_kind kind);

typedef struct {
    cls_model_kind kind;
    int64_t width;    /* mlp: W (784 -> W -> W); cnn: c (channels c, 2c, 4c, 4c). Default 1024 / 32 */
    int64_t height;   /* input image height (default 28) */
    int64_t image_w;  /* input image width (default 28) */
    int64_t in_dim;   /* mlp only, when the input is a feature vector rather than an
                         image (two-tower training on --pairs): 0 = height*image_w */
    int64_t proj_dim; /* dim(z) (default 128); 0 = no head (z = h) */
    uint64_t seed;    /* initialisation seed (default 0) */
} cls_model_config;

/* Defaults for a kind (mlp W=1024 or cnn c=32, 28x28 input, proj_dim 128, seed 0). */
CLS_API void cls_model_config_init(cls_model_config *cfg, cls_model_kind kind);

typedef struct cls_model cls_model;

CLS_API cls_status cls_model_create(cls_model **out, const cls_model_config *cfg);
CLS_API void cls_model_free(cls_model *model); /* NULL is a no-op */

CLS_API const cls_model_config *cls_model_get_config(const cls_model *model);
CLS_API int64_t cls_model_param_count(const cls_model *model);
CLS_API int64_t cls_model_in_dim(const cls_model *model);   /* floats per input row */
CLS_API int64_t cls_model_repr_dim(const cls_model *model); /* dim(h) */
CLS_API int64_t cls_model_out_dim(const cls_model *model);  /* dim(z) */
/* Forward FLOPs per input (multiply-adds x 2), encoder + head. */
CLS_API double cls_model_flops_per_input(const cls_model *model);
/* Backward FLOPs per input as executed: dW and dX of every layer, less the
 * first layer's dX (nothing needs the gradient of the input). */
CLS_API double cls_model_backward_flops_per_input(const cls_model *model);

/* The flat parameter and gradient buffers (param_count floats each). */
CLS_API float *cls_model_params(cls_model *model);
CLS_API float *cls_model_grads(cls_model *model);
CLS_API void cls_model_zero_grad(cls_model *model);

/* Precision of the Linear layers' products (default CLS_PRECISION_FP32).
 * CLS_PRECISION_BF16: forward y = x W^T, backward dX = dY W and dW += dY^T X
 * take x, dY and W rounded to bfloat16 and accumulate in fp32 (the forward
 * stays row-independent and thread-independent; the backward runs through
 * cls_gemm_bf16). Parameters, gradients, biases, activations, ReLU and the
 * convolutions stay fp32; the bf16 copies of the weights are kept between
 * calls and refreshed when the parameters change, like the fp32 packing.
 * Set it before caches are created: cls_model_activation_bytes counts the
 * bf16 workspaces of the current precision. */
CLS_API cls_status cls_model_set_precision(cls_model *model, cls_precision precision);
CLS_API cls_precision cls_model_get_precision(const cls_model *model);

/* Parameter layout: *count segments; segment i covers params[offset[i] ..
 * offset[i] + length[i]); is_bias[i] is 1 for biases (excluded from weight
 * decay and from LARS's trust ratio). The arrays belong to the model. */
CLS_API void cls_model_segments(const cls_model *model, int64_t *count, const int64_t **offset,
                                const int64_t **length, const uint8_t **is_bias);

/* Activation storage for a forward that will be followed by a backward, for
 * up to max_rows inputs. Bytes it needs (so a caller can pick a chunk size
 * from a memory budget): the cache of cls_model_cache_create(max_rows) plus
 * the larger of the workspaces a forward and a backward of max_rows rows
 * allocate (per-thread im2col/gradient buffers, per-thread
 * parameter gradients), at all cores; the _threads variant for a given
 * thread count (0 = all cores). Exact for the allocations of src/nn. */
CLS_API int64_t cls_model_activation_bytes(const cls_model *model, int64_t max_rows);
CLS_API int64_t cls_model_activation_bytes_threads(const cls_model *model, int64_t max_rows,
                                                   int threads);
typedef struct cls_model_cache cls_model_cache;
CLS_API cls_status cls_model_cache_create(cls_model_cache **out, const cls_model *model,
                                          int64_t max_rows);
CLS_API void cls_model_cache_free(cls_model_cache *cache);

/* Forward of n inputs x (n x in_dim). Writes h (n x repr_dim, may be NULL) and
 * z (n x out_dim, may be NULL). With cache == NULL nothing is kept for a
 * backward (inference and the first pass of gradient caching, memory
 * O(threads x one tile of <= 256 rows)); with a cache (n <= its max_rows) the
 * activations (and a copy of x) are kept for cls_model_backward.
 * threads: 0 = all cores; the rows are split into tiles run in parallel.
 * Each row's h and z are bit-identical whatever the chunking of the batch and
 * the thread count (a forward of rows [0,n) equals forwards of [0,k) and
 * [k,n)): the forward products are computed row-independently (not through
 * OpenBLAS, whose results depend on a row's position in the call). The
 * model keeps the weights packed for that product between calls and packs
 * them again when the parameters changed: calls on one model must not run
 * concurrently. */
CLS_API cls_status cls_model_forward(cls_model *model, const float *x, int64_t n, float *h,
                                     float *z, cls_model_cache *cache, int threads);

/* Backward of the last cached forward: dz (n x out_dim, may be NULL) is dL/dz;
 * parameter gradients ACCUMULATE into cls_model_grads (summed per thread, then
 * in thread order: the same bits for the same n and thread count; a different
 * chunking changes only the summation order). dh (n x repr_dim, may be NULL)
 * adds a gradient on h directly (e.g. a loss on h when proj_dim == 0).
 * n must equal the n of the cached forward. */
CLS_API cls_status cls_model_backward(cls_model *model, cls_model_cache *cache, const float *dz,
                                      const float *dh, int64_t n, int threads);

#ifdef __cplusplus
}
#endif

#endif /* CLSCALE_NN_H */
