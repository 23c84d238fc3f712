/* Internal knobs of src/nn shared with the benchmarks and tests (not public). */
#ifndef CLS_NN_INTERNAL_H
#define CLS_NN_INTERNAL_H

#include "clscale/nn.h"

/* How cls_model_forward/backward use threads:
 *   CLS_NN_PAR_BATCH: an OpenMP loop over row tiles of the chunk,
 *     single-threaded products inside, one parameter-gradient buffer per
 *     thread summed in thread order at the end;
 *   CLS_NN_PAR_GEMM: tiles one after another, each product a multi-threaded
 *     cls_gemm_f32 (the forward then is NOT chunk-invariant: OpenBLAS's
 *     results depend on a row's position in the call);
 *   CLS_NN_PAR_AUTO (default): forward BATCH; backward BATCH for the cnn and
 *     GEMM for the mlp, as bench/bench_nn.c measured. */
enum { CLS_NN_PAR_BATCH = 0, CLS_NN_PAR_GEMM = 1, CLS_NN_PAR_AUTO = 2 };
extern int cls_nn_parallel_mode;

/* 1 (default): the cnn's convolution backward runs on oneDNN when the build
 * has it (src/nn/conv_dnnl.c); 0: im2col + GEMM (for tests and benchmarks). */
extern int cls_nn_use_dnnl;

#endif
