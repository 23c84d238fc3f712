/* Internal interface between the featlearn files (not public). */
#ifndef CLS_THEORY_FEATLEARN_INTERNAL_H
#define CLS_THEORY_FEATLEARN_INTERNAL_H

#include "clscale.h"

/* The task: lambda_k = k^-alpha, w*_k = sqrt(k^(-alpha beta - 1)/lambda_k),
 * k = 1..M, and c0 = sum lambda_k w*_k^2 (the loss at t = 0). */
typedef struct {
    int64_t M;
    double *lam, *sqrtlam, *wstar;
    double c0;
} cls_featlearn_task;

cls_status cls_featlearn_task_init(cls_featlearn_task *task, double alpha, double beta, int64_t M);
void cls_featlearn_task_free(cls_featlearn_task *task);

/* One draw of A0 (rng stream 2*draw of cfg->seed; batches from stream
 * 2*draw+1): writes the population loss after t = 0..T steps to loss[0..T]
 * and the number of steps where it rose to *increases. engine is resolved
 * (not AUTO). */
cls_status cls_featlearn_draw_run(const cls_featlearn_config *cfg, cls_featlearn_engine engine,
                       const cls_featlearn_task *task, int draw, double *loss, int64_t *increases);

/* Engine AUTO resolves to FUNCTION for N = 0 or N >= M/2, else WIDTH. */
cls_featlearn_engine cls_featlearn_resolve_engine(const cls_featlearn_config *cfg);

/* Relative rise that counts as a loss increase (above rounding). */
#define FL_INCREASE_RTOL 1e-12
/* A loss above this multiple of its initial value is a divergence. */
#define FL_DIVERGE_FACTOR 1e4

#endif
