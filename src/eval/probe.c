/* Linear probe: multinomial logistic regression with L2 (scikit-learn's
 * objective, lambda = 1/C), L-BFGS (liblbfgs), tiled threaded objective.
 * See include/clscale/eval.h for the protocol.
 *
 * The objective is computed over fixed row chunks. Chunk c belongs to slot
 * c mod S (S fixed, independent of the thread count); a slot processes its
 * chunks in order and accumulates loss and gradient in double; the slots are
 * reduced in order 0..S-1. Threads take whole slots, and a GEMM called inside
 * the parallel region runs single-threaded, so the bits do not depend on the
 * thread count. Temporaries: per slot two chunk x K float tiles, a K x dim
 * float gradient tile and a K x dim double accumulator. */
#include "eval_internal.h"

#include "../core/internal.h"
#include "../core/lbfgs_setup.h"
#include "clscale/gemm.h"
#include "clscale/rng.h"

#include <math.h>
#include <string.h>

#define PROBE_SLOTS 16
#define PROBE_DEFAULT_CHUNK 1024

void cls_probe_options_init(cls_probe_options *opt)
{
    if (!opt) return; /* NULL is a no-op, like every _init */
    memset(opt, 0, sizeof *opt);
    opt->threads = 0;
    opt->seed = 0;
    opt->grid_lo = 1e-2;
    opt->grid_hi = 1e4;
    opt->grid_n = 7;
    opt->holdout = 0.1;
    opt->max_iter = 1000;
    opt->tol = 1e-4;
    opt->chunk = 0;
    opt->confusion = 0;
}

void cls_probe_result_free(cls_probe_result *r)
{
    if (!r) return;
    cls_free(r->grid);
    cls_free(r->grid_accuracy);
    cls_free(r->classes);
    cls_free(r->per_class);
    cls_free(r->confusion);
    cls_free(r->predictions);
    cls_free(r->coef);
    cls_free(r->intercept);
    cls_free(r->mean);
    cls_free(r->scale);
    memset(r, 0, sizeof *r);
}

/* ---- the objective ---- */

typedef struct {
    const float *x;    /* n x dim, standardised */
    const int64_t *y;  /* class indices */
    int64_t n, dim, k, chunk;
    double l2;
    int threads;
    int nslots;
    float *wf;         /* K x dim float copy of the coefficients */
    float *tiles;      /* per slot: logits (chunk x K), dlogits (chunk x K), gradient tile (K x dim) */
    double *acc;       /* per slot: K x dim + K gradient, then 1 loss */
    int64_t evaluations;
    int iterations;    /* of the last fit */
    cls_status status;
} probe_problem;

static size_t slot_floats(const probe_problem *p)
{
    size_t v = (size_t)(2 * p->chunk * p->k + p->k * p->dim);
    return (v + 15) & ~(size_t)15; /* keep each slot 64-byte aligned */
}

static size_t slot_doubles(const probe_problem *p)
{
    size_t v = (size_t)(p->k * p->dim + p->k + 1);
    return (v + 7) & ~(size_t)7;
}

static cls_status problem_init(probe_problem *p, const float *x, const int64_t *y, int64_t n, int64_t dim,
                               int64_t k, int64_t chunk, int threads)
{
    memset(p, 0, sizeof *p);
    p->x = x;
    p->y = y;
    p->n = n;
    p->dim = dim;
    p->k = k;
    p->chunk = chunk > 0 ? chunk : PROBE_DEFAULT_CHUNK;
    if (p->chunk > n) p->chunk = n;
    int64_t nchunks = (n + p->chunk - 1) / p->chunk;
    p->nslots = nchunks < PROBE_SLOTS ? (int)nchunks : PROBE_SLOTS;
    p->threads = cls_threads_resolve(threads);
    p->wf = cls_alloc((size_t)(k * dim) * sizeof(float), "probe coefficients");
    p->tiles = cls_alloc(slot_floats(p) * (size_t)p->nslots * sizeof(float), "probe tiles");
    p->acc = cls_alloc(slot_doubles(p) * (size_t)p->nslots * sizeof(double), "probe accumulators");
    if (!p->wf || !p->tiles || !p->acc) return CLS_E_NOMEM;
    return CLS_OK;
}

static void problem_free(probe_problem *p)
{
    cls_free(p->wf);
    cls_free(p->tiles);
    cls_free(p->acc);
}

/* f = sum of log-losses + (l2/2)||W||^2 at params = [W (K x dim), b (K)];
 * grad (same layout) if not NULL. */
static double problem_eval(probe_problem *p, const double *params, double *grad)
{
    const int64_t k = p->k, dim = p->dim, chunk = p->chunk, n = p->n;
    const int64_t nw = k * dim;
    const double *b = params + nw;
    for (int64_t i = 0; i < nw; i++) p->wf[i] = (float)params[i];
    const int64_t nchunks = (n + chunk - 1) / chunk;
    const size_t sf = slot_floats(p), sd = slot_doubles(p);
    int failed = 0;
    p->evaluations++;
#pragma omp parallel for schedule(dynamic, 1) num_threads(p->threads) reduction(| : failed)
    for (int s = 0; s < p->nslots; s++) {
        float *logits = p->tiles + sf * (size_t)s;
        float *dl = logits + chunk * k;
        float *gt = dl + chunk * k;
        double *acc = p->acc + sd * (size_t)s;
        memset(acc, 0, sd * sizeof(double));
        double loss = 0;
        for (int64_t c = s; c < nchunks; c += p->nslots) {
            const int64_t r0 = c * chunk, rows = (r0 + chunk <= n) ? chunk : n - r0;
            const float *xc = p->x + r0 * dim;
            if (cls_gemm_f32(CLS_NO_TRANS, CLS_TRANS, rows, k, dim, 1.0f, xc, dim, p->wf, dim, 0.0f, logits, k)) {
                failed = 1;
                continue;
            }
            for (int64_t r = 0; r < rows; r++) {
                const float *l = logits + r * k;
                float *d = dl + r * k;
                double m = -INFINITY;
                for (int64_t j = 0; j < k; j++) {
                    double v = (double)l[j] + b[j];
                    if (v > m) m = v;
                }
                double se = 0;
                for (int64_t j = 0; j < k; j++) se += exp((double)l[j] + b[j] - m);
                const double lse = m + log(se);
                const int64_t yi = p->y[r0 + r];
                loss += lse - ((double)l[yi] + b[yi]);
                if (grad) {
                    for (int64_t j = 0; j < k; j++) {
                        double pj = exp((double)l[j] + b[j] - lse);
                        d[j] = (float)(pj - (j == yi));
                        acc[nw + j] += pj - (j == yi);
                    }
                }
            }
            if (grad) {
                if (cls_gemm_f32(CLS_TRANS, CLS_NO_TRANS, k, dim, rows, 1.0f, dl, k, xc, dim, 0.0f, gt, dim)) {
                    failed = 1;
                    continue;
                }
                for (int64_t i = 0; i < nw; i++) acc[i] += gt[i];
            }
        }
        acc[nw + k] = loss;
    }
    if (failed) p->status = CLS_E_INTERNAL;
    double f = 0;
    if (grad) memset(grad, 0, (size_t)(nw + k) * sizeof(double));
    for (int s = 0; s < p->nslots; s++) {
        const double *acc = p->acc + sd * (size_t)s;
        f += acc[nw + k];
        if (grad)
            for (int64_t i = 0; i < nw + k; i++) grad[i] += acc[i];
    }
    double reg = 0;
    for (int64_t i = 0; i < nw; i++) {
        reg += params[i] * params[i];
        if (grad) grad[i] += p->l2 * params[i];
    }
    return f + 0.5 * p->l2 * reg;
}

cls_status cls_probe_objective(const float *x, const int64_t *y, int64_t n, int64_t dim, int64_t n_classes,
                               const double *coef, const double *intercept, double l2, int threads, double *f,
                               double *grad_coef, double *grad_intercept)
{
    if (n < 1 || dim < 1 || n_classes < 2)
        return cls_set_error(CLS_E_SHAPE, "probe objective: n %lld, dim %lld, classes %lld", (long long)n,
                             (long long)dim, (long long)n_classes);
    if (!x || !y || !coef || !intercept || !f) return cls_set_error(CLS_E_INVALID_ARG, "probe objective: NULL argument");
    for (int64_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= n_classes)
            return cls_set_error(CLS_E_INVALID_ARG, "probe objective: y[%lld] is %lld, not in 0..%lld", (long long)i,
                                 (long long)y[i], (long long)(n_classes - 1));
    probe_problem p;
    cls_status st = problem_init(&p, x, y, n, dim, n_classes, 0, threads);
    const int64_t nw = n_classes * dim;
    double *params = cls_alloc((size_t)(nw + n_classes) * sizeof(double), "probe parameters");
    double *grad = cls_alloc((size_t)(nw + n_classes) * sizeof(double), "probe gradient");
    if (!st && (!params || !grad)) st = CLS_E_NOMEM;
    if (!st) {
        p.l2 = l2;
        memcpy(params, coef, (size_t)nw * sizeof(double));
        memcpy(params + nw, intercept, (size_t)n_classes * sizeof(double));
        *f = problem_eval(&p, params, grad);
        st = p.status;
        if (grad_coef) memcpy(grad_coef, grad, (size_t)nw * sizeof(double));
        if (grad_intercept) memcpy(grad_intercept, grad + nw, (size_t)n_classes * sizeof(double));
    }
    cls_free(params);
    cls_free(grad);
    problem_free(&p);
    return st;
}

/* ---- L-BFGS ---- */

static lbfgsfloatval_t lbfgs_evaluate(void *instance, const lbfgsfloatval_t *x, lbfgsfloatval_t *g, const int n,
                                      const lbfgsfloatval_t step)
{
    (void)n;
    (void)step;
    probe_problem *p = instance;
    /* minimise f / n_rows: O(1) values keep liblbfgs's tests scale-free */
    double f = problem_eval(p, x, g);
    const double inv = 1.0 / (double)p->n;
    for (int64_t i = 0; i < p->k * p->dim + p->k; i++) g[i] *= inv;
    return f * inv;
}

static int lbfgs_progress(void *instance, const lbfgsfloatval_t *x, const lbfgsfloatval_t *g,
                          const lbfgsfloatval_t fx, const lbfgsfloatval_t xnorm, const lbfgsfloatval_t gnorm,
                          const lbfgsfloatval_t step, int n, int k, int ls)
{
    (void)x, (void)g, (void)fx, (void)xnorm, (void)gnorm, (void)step, (void)n, (void)ls;
    ((probe_problem *)instance)->iterations = k;
    return 0;
}

/* Minimise from params (warm start) in place; *iterations: L-BFGS iterations,
 * *fbest: the objective there. */
static cls_status problem_fit(probe_problem *p, double *params, int max_iter, double tol, int *iterations,
                              double *fbest)
{
    const int nparam = (int)(p->k * p->dim + p->k);
    lbfgs_parameter_t par; /* delta: relative decrease of f over `past` = 5 iterations */
    cls_lbfgs_setup(&par, tol, 5, tol * 1e-3, max_iter, 40);
    lbfgsfloatval_t fx = 0;
    p->iterations = 0;
    int ret = lbfgs(nparam, params, &fx, lbfgs_evaluate, lbfgs_progress, p, &par);
    (void)ret; /* rounding-error / max-step stops near the optimum are fine: the point is kept */
    if (p->status) return cls_set_error(p->status, "probe: a matrix product failed");
    for (int i = 0; i < nparam; i++)
        if (!isfinite(params[i])) return cls_set_error(CLS_E_NUMERIC, "probe: L-BFGS diverged (parameter %d)", i);
    *iterations = p->iterations;
    *fbest = fx * (double)p->n;
    return CLS_OK;
}

/* Predicted class indices of rows of standardised x (n x dim), in chunks. */
static cls_status predict(const float *x, int64_t n, int64_t dim, int64_t k, const double *params, int threads,
                          int64_t *pred)
{
    const int64_t chunk = 1024, nw = k * dim;
    float *wf = cls_alloc((size_t)nw * sizeof(float), "probe coefficients");
    float *logits = cls_alloc((size_t)(chunk * k) * sizeof(float), "probe logits");
    if (!wf || !logits) {
        cls_free(wf);
        cls_free(logits);
        return CLS_E_NOMEM;
    }
    for (int64_t i = 0; i < nw; i++) wf[i] = (float)params[i];
    cls_thread_state prev;
    cls_threads_enter(threads, &prev);
    cls_status st = CLS_OK;
    for (int64_t r0 = 0; r0 < n && !st; r0 += chunk) {
        int64_t rows = r0 + chunk <= n ? chunk : n - r0;
        st = cls_gemm_f32(CLS_NO_TRANS, CLS_TRANS, rows, k, dim, 1.0f, x + r0 * dim, dim, wf, dim, 0.0f, logits, k);
        for (int64_t r = 0; r < rows && !st; r++) {
            int64_t best = 0;
            double bv = -INFINITY;
            for (int64_t j = 0; j < k; j++) {
                double v = (double)logits[r * k + j] + params[nw + j];
                if (v > bv) { bv = v; best = j; } /* lowest index wins ties */
            }
            pred[r0 + r] = best;
        }
    }
    cls_threads_leave(&prev);
    cls_free(wf);
    cls_free(logits);
    return st;
}

/* Column mean and population deviation in double (two passes), in column
 * blocks so the order of summation is fixed. */
static void standardisation(const float *x, int64_t n, int64_t dim, int threads, double *mean, double *scale)
{
    const int64_t block = 64, nblocks = (dim + block - 1) / block;
#pragma omp parallel for schedule(dynamic, 1) num_threads(cls_threads_resolve(threads))
    for (int64_t bi = 0; bi < nblocks; bi++) {
        const int64_t c0 = bi * block, c1 = c0 + block < dim ? c0 + block : dim;
        for (int64_t c = c0; c < c1; c++) mean[c] = 0, scale[c] = 0;
        for (int64_t i = 0; i < n; i++)
            for (int64_t c = c0; c < c1; c++) mean[c] += x[i * dim + c];
        for (int64_t c = c0; c < c1; c++) mean[c] /= (double)n;
        for (int64_t i = 0; i < n; i++)
            for (int64_t c = c0; c < c1; c++) {
                double d = x[i * dim + c] - mean[c];
                scale[c] += d * d;
            }
        for (int64_t c = c0; c < c1; c++) {
            double sd = sqrt(scale[c] / (double)n);
            scale[c] = sd > 0 ? sd : 1.0; /* as scikit-learn's StandardScaler */
        }
    }
}

/* dst row r = standardised src row order[r] (order NULL: identity). */
static void standardise_rows(float *dst, const float *src, const int64_t *order, int64_t n, int64_t dim,
                             const double *mean, const double *scale, int threads)
{
#pragma omp parallel for schedule(static) num_threads(cls_threads_resolve(threads))
    for (int64_t r = 0; r < n; r++) {
        const float *s = src + (order ? order[r] : r) * dim;
        float *d = dst + r * dim;
        for (int64_t c = 0; c < dim; c++) d[c] = (float)((s[c] - mean[c]) / scale[c]);
    }
}

static double accuracy_of(const int64_t *pred, const int64_t *y, int64_t n)
{
    int64_t ok = 0;
    for (int64_t i = 0; i < n; i++) ok += pred[i] == y[i];
    return (double)ok / (double)n;
}

cls_status cls_eval_probe(const float *train, const int64_t *train_labels, int64_t n_train, const float *test,
                          const int64_t *test_labels, int64_t n_test, int64_t dim, const cls_probe_options *opt_in,
                          cls_probe_result *out)
{
    if (!out) return cls_set_error(CLS_E_INVALID_ARG, "cls_eval_probe: out is NULL");
    memset(out, 0, sizeof *out);
    cls_probe_options opt;
    if (opt_in) opt = *opt_in;
    else cls_probe_options_init(&opt);
    if (opt.grid_n < 1 || !(opt.grid_lo > 0) || !(opt.grid_hi >= opt.grid_lo) || !isfinite(opt.grid_hi))
        return cls_set_error(CLS_E_INVALID_ARG, "probe grid %g:%g:%d: need 0 < lo <= hi and n >= 1", opt.grid_lo,
                             opt.grid_hi, opt.grid_n);
    if (opt.grid_n > 1 && !(opt.holdout > 0 && opt.holdout < 1))
        return cls_set_error(CLS_E_INVALID_ARG, "probe holdout fraction %g is not in (0, 1)", opt.holdout);
    if (opt.max_iter < 1) opt.max_iter = 1000;
    if (!(opt.tol > 0)) opt.tol = 1e-4;
    cls_status st = cls_eval_check_inputs(train, train_labels, n_train, test, test_labels, n_test, dim);
    if (st) return st;
    const int threads = cls_threads_resolve(opt.threads);

    float *xs = NULL, *xt = NULL;
    int64_t *ytr = NULL, *yte = NULL, *order = NULL, *pred = NULL;
    double *params = NULL, *best_params = NULL;
    probe_problem prob;
    memset(&prob, 0, sizeof prob);
    st = cls_eval_classes(train_labels, n_train, &out->classes, &out->n_classes);
    if (st) goto done;
    const int64_t k = out->n_classes, nw = k * dim, np = nw + k;
    out->dim = dim;
    out->grid_n = opt.grid_n;
    out->grid = cls_alloc((size_t)opt.grid_n * sizeof(double), "probe grid");
    out->grid_accuracy = cls_alloc((size_t)opt.grid_n * sizeof(double), "probe grid");
    out->mean = cls_alloc((size_t)dim * sizeof(double), "probe mean");
    out->scale = cls_alloc((size_t)dim * sizeof(double), "probe scale");
    out->per_class = cls_alloc((size_t)k * sizeof(double), "probe per-class accuracy");
    out->predictions = cls_alloc((size_t)n_test * sizeof(int64_t), "probe predictions");
    out->coef = cls_alloc((size_t)nw * sizeof(double), "probe coefficients");
    out->intercept = cls_alloc((size_t)k * sizeof(double), "probe intercepts");
    xs = cls_alloc((size_t)n_train * (size_t)dim * sizeof(float), "standardised training features");
    ytr = cls_alloc((size_t)n_train * sizeof(int64_t), "training classes");
    yte = cls_alloc((size_t)n_test * sizeof(int64_t), "test classes");
    order = cls_alloc((size_t)n_train * sizeof(int64_t), "row order");
    params = cls_calloc((size_t)np, sizeof(double), "probe parameters");
    best_params = cls_calloc((size_t)np, sizeof(double), "probe parameters");
    if (!out->grid || !out->grid_accuracy || !out->mean || !out->scale || !out->per_class || !out->predictions ||
        !out->coef || !out->intercept || !xs || !ytr || !yte || !order || !params || !best_params) {
        st = CLS_E_NOMEM;
        goto done;
    }
    if (opt.confusion) {
        out->confusion = cls_calloc((size_t)(k * k), sizeof(int64_t), "confusion matrix");
        if (!out->confusion) { st = CLS_E_NOMEM; goto done; }
    }
    for (int g = 0; g < opt.grid_n; g++) /* descending: strongest regularisation first */
        out->grid[g] = opt.grid_n == 1 ? opt.grid_lo
                                       : pow(10.0, log10(opt.grid_hi) - (log10(opt.grid_hi) - log10(opt.grid_lo)) * g /
                                                               (opt.grid_n - 1)); /* powers of 10 exact */
    standardisation(train, n_train, dim, threads, out->mean, out->scale);

    /* seeded split: a Fisher-Yates permutation, the last n_val rows held out */
    for (int64_t i = 0; i < n_train; i++) order[i] = i;
    int64_t n_val = 0;
    if (opt.grid_n > 1) {
        cls_rng rng;
        cls_rng_seed_stream(&rng, opt.seed, 0x70726f6265ULL /* "probe" */);
        for (int64_t i = n_train - 1; i > 0; i--) {
            int64_t j = (int64_t)cls_rng_below(&rng, (uint64_t)(i + 1));
            int64_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        n_val = (int64_t)llround(opt.holdout * (double)n_train);
        if (n_val < 1) n_val = 1;
        if (n_train - n_val < 2) {
            st = cls_set_error(CLS_E_SHAPE, "probe: %lld training rows are too few for a held-out split",
                               (long long)n_train);
            goto done;
        }
    }
    standardise_rows(xs, train, order, n_train, dim, out->mean, out->scale, threads);
    {
        int64_t *tmp = ytr;
        for (int64_t i = 0; i < n_train; i++) tmp[i] = train_labels[order[i]];
        cls_eval_map_labels(tmp, n_train, out->classes, k, ytr);
    }
    int it = 0;
    double fval = 0;
    double best_lambda = out->grid[0];
    if (opt.grid_n > 1) {
        const int64_t n_fit = n_train - n_val;
        pred = cls_alloc((size_t)n_val * sizeof(int64_t), "held-out predictions");
        if (!pred) { st = CLS_E_NOMEM; goto done; }
        st = problem_init(&prob, xs, ytr, n_fit, dim, k, opt.chunk, threads);
        if (st) goto done;
        double best_acc = -1;
        for (int g = 0; g < opt.grid_n; g++) {
            prob.l2 = out->grid[g];
            st = problem_fit(&prob, params, opt.max_iter, opt.tol, &it, &fval);
            if (st) goto done;
            st = predict(xs + n_fit * dim, n_val, dim, k, params, threads, pred);
            if (st) goto done;
            out->grid_accuracy[g] = accuracy_of(pred, ytr + n_fit, n_val);
            if (out->grid_accuracy[g] > best_acc) { /* strict: the larger lambda wins ties */
                best_acc = out->grid_accuracy[g];
                best_lambda = out->grid[g];
                memcpy(best_params, params, (size_t)np * sizeof(double));
            }
        }
        out->evaluations += prob.evaluations;
        problem_free(&prob);
        memset(&prob, 0, sizeof prob);
        memcpy(params, best_params, (size_t)np * sizeof(double));
    } else {
        out->grid_accuracy[0] = NAN;
    }
    /* refit on all training rows at the chosen lambda, warm-started */
    st = problem_init(&prob, xs, ytr, n_train, dim, k, opt.chunk, threads);
    if (st) goto done;
    prob.l2 = best_lambda;
    st = problem_fit(&prob, params, opt.max_iter, opt.tol, &it, &fval);
    if (st) goto done;
    out->evaluations += prob.evaluations;
    out->iterations = it;
    out->l2 = best_lambda;
    out->C = 1.0 / best_lambda;
    out->objective = problem_eval(&prob, params, NULL);
    memcpy(out->coef, params, (size_t)nw * sizeof(double));
    memcpy(out->intercept, params + nw, (size_t)k * sizeof(double));
    problem_free(&prob);
    memset(&prob, 0, sizeof prob);

    /* test set: standardise (reusing xs's storage when it is large enough) */
    cls_free(pred);
    pred = cls_alloc((size_t)n_test * sizeof(int64_t), "test predictions");
    xt = n_test <= n_train ? xs : cls_alloc((size_t)n_test * (size_t)dim * sizeof(float), "standardised test");
    if (!pred || !xt) { st = CLS_E_NOMEM; goto done; }
    standardise_rows(xt, test, NULL, n_test, dim, out->mean, out->scale, threads);
    st = predict(xt, n_test, dim, k, params, threads, pred);
    if (st) goto done;
    cls_eval_map_labels(test_labels, n_test, out->classes, k, yte);
    int64_t correct = 0;
    int64_t *cnt = cls_calloc((size_t)(2 * k), sizeof(int64_t), "per-class counts");
    if (!cnt) { st = CLS_E_NOMEM; goto done; }
    for (int64_t i = 0; i < n_test; i++) {
        out->predictions[i] = out->classes[pred[i]];
        correct += pred[i] == yte[i];
        if (yte[i] >= 0) {
            cnt[yte[i]]++;
            cnt[k + yte[i]] += pred[i] == yte[i];
            if (out->confusion) out->confusion[yte[i] * k + pred[i]]++;
        }
    }
    for (int64_t c = 0; c < k; c++) out->per_class[c] = cnt[c] ? (double)cnt[k + c] / (double)cnt[c] : NAN;
    cls_free(cnt);
    out->accuracy = (double)correct / (double)n_test;
done:
    problem_free(&prob);
    if (xt != xs) cls_free(xt);
    cls_free(xs);
    cls_free(ytr);
    cls_free(yte);
    cls_free(order);
    cls_free(pred);
    cls_free(params);
    cls_free(best_params);
    if (st) cls_probe_result_free(out);
    return st;
}
