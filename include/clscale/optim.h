/* clscale optim: optimisers and learning-rate schedules over a flat parameter
 * vector (spec: train.md, "Optimisation").
 *
 * SGD with (Nesterov) momentum, AdamW (decoupled weight decay) and LARS (trust
 * coefficient 0.001; segments flagged as biases are excluded from the trust
 * ratio, as in SimCLR). Segments flagged as biases get no weight decay in any
 * of the three. Updates follow PyTorch's torch.optim.SGD / AdamW (with biases
 * in a group with weight_decay 0) and SimCLR's LARSOptimizer (v = mu v +
 * lr trust (g + wd p); p -= v) so a twin can be stepped alongside
 * (tests/python/test_nn_torch.py); the formulas are in src/nn/optim.c and
 * docs/nn.md. The state (momenta, step count) is exposed for checkpoints:
 * SGD and LARS n floats (momentum), AdamW 2n (first then second moments). */
#ifndef CLSCALE_OPTIM_H
#define CLSCALE_OPTIM_H

#include <stdint.h>

#include "../clscale.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CLS_OPTIM_SGD = 0, CLS_OPTIM_ADAMW = 1, CLS_OPTIM_LARS = 2 } cls_optim_kind;

CLS_API cls_status cls_optim_kind_parse(const char *name, cls_optim_kind *out); /* sgd|adamw|lars */
CLS_API const char *cls_optim_kind_name(cls_optim_kind kind);

typedef struct {
    cls_optim_kind kind;
    double momentum;     /* SGD and LARS (default 0.9) */
    int nesterov;        /* SGD (default 0) */
    double beta1, beta2; /* AdamW (default 0.9, 0.999) */
    double eps;          /* AdamW (default 1e-8) */
    double weight_decay; /* decoupled for AdamW, L2 for SGD/LARS (default 1e-6) */
    double trust;        /* LARS trust coefficient eta (default 0.001) */
    int threads;         /* for the element-wise updates, 0 = all cores (default 0);
                            every count gives the same bits */
} cls_optim_options;

CLS_API void cls_optim_options_init(cls_optim_options *opt, cls_optim_kind kind);

typedef struct cls_optimizer cls_optimizer;

/* An optimiser over n_params floats split into segments (as cls_model_segments
 * gives them; count == 0 means one segment, not a bias). */
CLS_API cls_status cls_optimizer_create(cls_optimizer **out, const cls_optim_options *opt,
                                        int64_t n_params, int64_t n_segments,
                                        const int64_t *offset, const int64_t *length,
                                        const uint8_t *is_bias);
CLS_API void cls_optimizer_free(cls_optimizer *opt); /* NULL is a no-op */

/* One update of params from grads at learning rate lr. Non-finite gradients
 * are refused (CLS_E_NONFINITE, params untouched). */
CLS_API cls_status cls_optimizer_step(cls_optimizer *opt, float *params, const float *grads,
                                      double lr);

/* Optimiser state as a flat float vector (for checkpoints), and its step count. */
CLS_API int64_t cls_optimizer_state_count(const cls_optimizer *opt);
CLS_API float *cls_optimizer_state(cls_optimizer *opt);
CLS_API int64_t cls_optimizer_steps(const cls_optimizer *opt);
CLS_API void cls_optimizer_set_steps(cls_optimizer *opt, int64_t steps);

/* Linear warm-up over warmup_steps then cosine decay to 0 at total_steps
 * (step counted from 0): base*(step+1)/warmup for step < warmup, then
 * base*(1 + cos(pi*(step-warmup)/(total-warmup)))/2, 0 from total on. */
CLS_API double cls_lr_schedule(double base_lr, int64_t step, int64_t warmup_steps,
                               int64_t total_steps);

/* Learning-rate scaling by batch: none, linear (lr * B/256), sqrt (lr * sqrt(B/256)). */
typedef enum { CLS_LR_SCALE_NONE = 0, CLS_LR_SCALE_LINEAR = 1, CLS_LR_SCALE_SQRT = 2 } cls_lr_scaling;
CLS_API cls_status cls_lr_scaling_parse(const char *name, cls_lr_scaling *out);
CLS_API double cls_lr_scaled(double base_lr, int64_t batch, cls_lr_scaling scaling);

#ifdef __cplusplus
}
#endif

#endif /* CLSCALE_OPTIM_H */
