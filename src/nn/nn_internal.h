/* Internal knobs of src/nn shared with the benchmarks and tests (not public). */
#ifndef CLS_NN_INTERNAL_H
#define CLS_NN_INTERNAL_H

#include "clscale/nn.h"

/* How cls_model_forward/backward use threads:
 *   CLS_NN_PAR_BATCH (default): an OpenMP loop over row tiles of the chunk,
 *     single-threaded GEMMs inside, one parameter-gradient buffer per thread
 *     summed in thread order at the end;
 *   CLS_NN_PAR_GEMM: tiles one after another, each GEMM multi-threaded.
 * Both give the same h and z bits (each row's result does not depend on the
 * tile it is in); bench/bench_nn.c measures which is faster. */
enum { CLS_NN_PAR_BATCH = 0, CLS_NN_PAR_GEMM = 1 };
extern int cls_nn_parallel_mode;

#endif
