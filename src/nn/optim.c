/* Optimisers over a flat parameter vector (see clscale/optim.h).
 *
 * Update rules (g = gradient, p = parameter, wd = weight decay; segments
 * flagged is_bias get wd = 0 in every optimiser):
 *   SGD   (torch.optim.SGD, dampening 0): d = g + wd p; b = mu b + d (b = d at
 *         the first step, the same as b starting at 0); step = nesterov ? d + mu b : b
 *         (momentum 0: step = d); p -= lr step.
 *   AdamW (torch.optim.AdamW): p *= 1 - lr wd; m = b1 m + (1-b1) g;
 *         v = b2 v + (1-b2) g^2; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
 *   LARS  (SimCLR's LARSOptimizer): for weights d = g + wd p and
 *         trust = eta ||p|| / ||d|| (1 when either norm is 0); for biases
 *         d = g, trust = 1; v = mu v + lr trust d; p -= v.
 * Norms are accumulated in double. The state is stored as floats: momentum
 * buffers (SGD, LARS: n) or first and second moments (AdamW: 2n). */
#include <math.h>
#include <string.h>

#include "../core/internal.h"
#include "clscale/optim.h"

struct cls_optimizer {
    cls_optim_options opt;
    int64_t n, nseg, steps;
    int64_t *off, *len;
    uint8_t *bias;
    float *state;
    int64_t state_count;
};

cls_status cls_optim_kind_parse(const char *name, cls_optim_kind *out)
{
    if (!name || !out) return cls_set_error(CLS_E_INVALID_ARG, "optimizer: NULL argument");
    if (!strcmp(name, "sgd")) *out = CLS_OPTIM_SGD;
    else if (!strcmp(name, "adamw")) *out = CLS_OPTIM_ADAMW;
    else if (!strcmp(name, "lars")) *out = CLS_OPTIM_LARS;
    else return cls_set_error(CLS_E_INVALID_ARG, "optimizer '%s': expected sgd, adamw or lars", name);
    return CLS_OK;
}

const char *cls_optim_kind_name(cls_optim_kind kind)
{
    switch (kind) {
    case CLS_OPTIM_SGD: return "sgd";
    case CLS_OPTIM_ADAMW: return "adamw";
    case CLS_OPTIM_LARS: return "lars";
    }
    return "unknown";
}

void cls_optim_options_init(cls_optim_options *opt, cls_optim_kind kind)
{
    if (!opt) return; /* NULL is a no-op, like every _init */
    memset(opt, 0, sizeof(*opt));
    opt->kind = kind;
    opt->momentum = 0.9;
    opt->nesterov = 0;
    opt->beta1 = 0.9;
    opt->beta2 = 0.999;
    opt->eps = 1e-8;
    opt->weight_decay = 1e-6;
    opt->trust = 0.001;
    opt->threads = 0;
}

cls_status cls_optimizer_create(cls_optimizer **out, const cls_optim_options *opt, int64_t n_params,
                                int64_t n_segments, const int64_t *offset, const int64_t *length,
                                const uint8_t *is_bias)
{
    if (!out || !opt) return cls_set_error(CLS_E_INVALID_ARG, "optimizer: NULL argument");
    *out = NULL;
    if (opt->kind != CLS_OPTIM_SGD && opt->kind != CLS_OPTIM_ADAMW && opt->kind != CLS_OPTIM_LARS)
        return cls_set_error(CLS_E_INVALID_ARG, "optimizer: unknown kind %d", (int)opt->kind);
    if (n_params < 1) return cls_set_error(CLS_E_INVALID_ARG, "optimizer: n_params %lld < 1", (long long)n_params);
    if (n_segments < 0 || (n_segments > 0 && (!offset || !length)))
        return cls_set_error(CLS_E_INVALID_ARG, "optimizer: bad segment arrays");
    if (!(opt->momentum >= 0 && opt->momentum < 1) || !(opt->weight_decay >= 0) ||
        !(opt->beta1 >= 0 && opt->beta1 < 1) || !(opt->beta2 >= 0 && opt->beta2 < 1) ||
        !(opt->eps > 0) || !(opt->trust > 0))
        return cls_set_error(CLS_E_INVALID_ARG,
                             "optimizer: need 0 <= momentum, beta1, beta2 < 1, weight_decay >= 0, "
                             "eps > 0, trust > 0");
    if (opt->nesterov && opt->kind == CLS_OPTIM_SGD && opt->momentum <= 0)
        return cls_set_error(CLS_E_INVALID_ARG, "optimizer: Nesterov needs momentum > 0");
    int64_t ns = n_segments > 0 ? n_segments : 1, expect = 0;
    for (int64_t i = 0; i < n_segments; i++) {
        if (offset[i] != expect || length[i] < 0)
            return cls_set_error(CLS_E_INVALID_ARG,
                                 "optimizer: segment %lld (offset %lld, length %lld) does not follow "
                                 "the previous one", (long long)i, (long long)offset[i], (long long)length[i]);
        expect += length[i];
    }
    if (n_segments > 0 && expect != n_params)
        return cls_set_error(CLS_E_INVALID_ARG, "optimizer: segments cover %lld of %lld parameters",
                             (long long)expect, (long long)n_params);
    cls_optimizer *o = cls_calloc(1, sizeof(*o), "optimizer");
    if (!o) return CLS_E_NOMEM;
    o->opt = *opt;
    o->n = n_params;
    o->nseg = ns;
    o->state_count = opt->kind == CLS_OPTIM_ADAMW ? 2 * n_params : n_params;
    o->off = cls_calloc((size_t)ns, sizeof(int64_t), "optimizer segments");
    o->len = cls_calloc((size_t)ns, sizeof(int64_t), "optimizer segments");
    o->bias = cls_calloc((size_t)ns, 1, "optimizer segments");
    o->state = cls_calloc((size_t)o->state_count, sizeof(float), "optimizer state");
    if (!o->off || !o->len || !o->bias || !o->state) {
        cls_optimizer_free(o);
        return CLS_E_NOMEM;
    }
    if (n_segments > 0) {
        memcpy(o->off, offset, (size_t)ns * sizeof(int64_t));
        memcpy(o->len, length, (size_t)ns * sizeof(int64_t));
        if (is_bias) memcpy(o->bias, is_bias, (size_t)ns);
    } else {
        o->len[0] = n_params;
    }
    *out = o;
    return CLS_OK;
}

void cls_optimizer_free(cls_optimizer *o)
{
    if (!o) return;
    cls_free(o->off);
    cls_free(o->len);
    cls_free(o->bias);
    cls_free(o->state);
    cls_free(o);
}

/* Threads for an element-wise update of n parameters: each element is
 * updated on its own, so the split never changes the bits; short segments
 * (biases, the temperature) stay on one thread. In a 2-thread mlp step the
 * single-threaded AdamW update was ~4 % of the step while the other core idled. */
static int update_threads(const cls_optimizer *o, int64_t n)
{
    return n < (1 << 15) ? 1 : cls_threads_resolve(o->opt.threads);
}

static void step_sgd(const cls_optimizer *o, float *p, const float *g, float *buf, int64_t n,
                     double wd, double lr)
{
    const float mu = (float)o->opt.momentum, fwd = (float)wd, flr = (float)lr;
#pragma omp parallel for schedule(static) num_threads(update_threads(o, n))
    for (int64_t i = 0; i < n; i++) {
        float d = g[i] + fwd * p[i];
        if (mu > 0) {
            buf[i] = mu * buf[i] + d;
            d = o->opt.nesterov ? d + mu * buf[i] : buf[i];
        }
        p[i] -= flr * d;
    }
}

static void step_adamw(const cls_optimizer *o, float *p, const float *g, float *m1, float *m2,
                       int64_t n, double wd, double lr, int64_t t)
{
    const double b1 = o->opt.beta1, b2 = o->opt.beta2;
    const float decay = (float)(1.0 - lr * wd), fb1 = (float)b1, fb2 = (float)b2;
    const float step = (float)(lr / (1.0 - pow(b1, (double)t)));
    const float bc2 = (float)sqrt(1.0 - pow(b2, (double)t)), eps = (float)o->opt.eps;
#pragma omp parallel for schedule(static) num_threads(update_threads(o, n))
    for (int64_t i = 0; i < n; i++) {
        p[i] *= decay;
        m1[i] = fb1 * m1[i] + (1.0f - fb1) * g[i];
        m2[i] = fb2 * m2[i] + (1.0f - fb2) * g[i] * g[i];
        p[i] -= step * m1[i] / (sqrtf(m2[i]) / bc2 + eps);
    }
}

static void step_lars(const cls_optimizer *o, float *p, const float *g, float *v, int64_t n,
                      double wd, double lr, int use_trust)
{
    double trust = 1.0;
    if (use_trust) {
        double pn = 0, dn = 0;
        for (int64_t i = 0; i < n; i++) {
            double d = (double)g[i] + wd * (double)p[i];
            pn += (double)p[i] * p[i];
            dn += d * d;
        }
        pn = sqrt(pn);
        dn = sqrt(dn);
        if (pn > 0 && dn > 0) trust = o->opt.trust * pn / dn;
    }
    const float mu = (float)o->opt.momentum, fwd = (float)wd, slr = (float)(lr * trust);
#pragma omp parallel for schedule(static) num_threads(update_threads(o, n))
    for (int64_t i = 0; i < n; i++) {
        float d = g[i] + fwd * p[i];
        v[i] = mu * v[i] + slr * d;
        p[i] -= v[i];
    }
}

cls_status cls_optimizer_step(cls_optimizer *o, float *params, const float *grads, double lr)
{
    if (!o || !params || !grads) return cls_set_error(CLS_E_INVALID_ARG, "optimizer step: NULL argument");
    if (!isfinite(lr)) return cls_set_error(CLS_E_INVALID_ARG, "optimizer step: lr is %g", lr);
    cls_status st = cls_check_finite_f32(grads, 1, o->n, "grads");
    if (st) return cls_error_context(st, "optimizer step %lld (parameters left untouched)",
                                     (long long)o->steps);
    int64_t t = o->steps + 1;
    for (int64_t s = 0; s < o->nseg; s++) {
        int64_t a = o->off[s], n = o->len[s];
        double wd = o->bias[s] ? 0.0 : o->opt.weight_decay;
        switch (o->opt.kind) {
        case CLS_OPTIM_SGD: step_sgd(o, params + a, grads + a, o->state + a, n, wd, lr); break;
        case CLS_OPTIM_ADAMW:
            step_adamw(o, params + a, grads + a, o->state + a, o->state + o->n + a, n, wd, lr, t);
            break;
        case CLS_OPTIM_LARS:
            step_lars(o, params + a, grads + a, o->state + a, n, wd, lr, !o->bias[s]);
            break;
        }
    }
    o->steps = t;
    return CLS_OK;
}

int64_t cls_optimizer_state_count(const cls_optimizer *o) { return o->state_count; }
float *cls_optimizer_state(cls_optimizer *o) { return o->state; }
int64_t cls_optimizer_steps(const cls_optimizer *o) { return o->steps; }
void cls_optimizer_set_steps(cls_optimizer *o, int64_t steps) { o->steps = steps; }

double cls_lr_schedule(double base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps)
{
    if (step < 0) step = 0;
    if (warmup_steps > 0 && step < warmup_steps)
        return base_lr * (double)(step + 1) / (double)warmup_steps;
    if (total_steps <= warmup_steps) return base_lr;
    if (step >= total_steps) return 0.0;
    double progress = (double)(step - warmup_steps) / (double)(total_steps - warmup_steps);
    return base_lr * 0.5 * (1.0 + cos(M_PI * progress));
}

cls_status cls_lr_scaling_parse(const char *name, cls_lr_scaling *out)
{
    if (!name || !out) return cls_set_error(CLS_E_INVALID_ARG, "lr scaling: NULL argument");
    if (!strcmp(name, "none")) *out = CLS_LR_SCALE_NONE;
    else if (!strcmp(name, "linear")) *out = CLS_LR_SCALE_LINEAR;
    else if (!strcmp(name, "sqrt")) *out = CLS_LR_SCALE_SQRT;
    else return cls_set_error(CLS_E_INVALID_ARG, "lr scaling '%s': expected none, linear or sqrt", name);
    return CLS_OK;
}

double cls_lr_scaled(double base_lr, int64_t batch, cls_lr_scaling scaling)
{
    double r = (double)batch / 256.0;
    switch (scaling) {
    case CLS_LR_SCALE_LINEAR: return base_lr * r;
    case CLS_LR_SCALE_SQRT: return base_lr * sqrt(r);
    default: return base_lr;
    }
}
