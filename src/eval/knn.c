/* k-NN classification with cosine similarity (the SSL monitor of Wu et al.
 * 2018): see include/clscale/eval.h.
 *
 * For each tile of `chunk` test rows: normalise the rows, S = Q T^T by
 * cls_gemm_f32 (chunk x n_train floats, the only large temporary), and scan
 * each row of S with a bounded heap of the k best (similarity s_j = S_ij /
 * |t_j|, higher first, lower index first among equals). The scan visits j in
 * increasing order, so an equal similarity never displaces an earlier index.
 * The k neighbours are then sorted best-first and their votes summed in that
 * order in double; the class with the largest vote wins, the lower class among
 * equals. */
#include "eval_internal.h"

#include "../core/internal.h"
#include "clscale/gemm.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define KNN_TILE_BYTES (32ll << 20)

void cls_knn_options_init(cls_knn_options *opt)
{
    if (!opt) return; /* NULL is a no-op, like every _init */
    memset(opt, 0, sizeof *opt);
    opt->k = 200;
    opt->weighted = 1;
    opt->temperature = 0.07;
    opt->threads = 0;
    opt->chunk = 0;
}

void cls_knn_result_free(cls_knn_result *r)
{
    if (!r) return;
    cls_free(r->predictions);
    memset(r, 0, sizeof *r);
}

typedef struct {
    float s;
    int64_t j;
} knn_entry;

/* a ranks below b: lower similarity, or equal and a later index */
static inline int worse(const knn_entry *a, const knn_entry *b)
{
    return a->s < b->s || (a->s == b->s && a->j > b->j);
}

/* min-heap on "worse": h[0] is the worst kept neighbour */
static void sift_down(knn_entry *h, int64_t n, int64_t i)
{
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(&h[l], &h[m])) m = l;
        if (r < n && worse(&h[r], &h[m])) m = r;
        if (m == i) return;
        knn_entry t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void sift_up(knn_entry *h, int64_t i)
{
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!worse(&h[i], &h[p])) return;
        knn_entry t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static void row_inverse_norms(const float *x, int64_t n, int64_t dim, int threads, float *inv_f)
{
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < n; i++) {
        double ss = 0;
        for (int64_t c = 0; c < dim; c++) ss += (double)x[i * dim + c] * x[i * dim + c];
        inv_f[i] = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
    }
}

cls_status cls_eval_knn(const float *train, const int64_t *train_labels, int64_t n_train, const float *test,
                        const int64_t *test_labels, int64_t n_test, int64_t dim, const cls_knn_options *opt_in,
                        cls_knn_result *out)
{
    if (!out) return cls_set_error(CLS_E_INVALID_ARG, "cls_eval_knn: out is NULL");
    memset(out, 0, sizeof *out);
    cls_knn_options opt;
    if (opt_in) opt = *opt_in;
    else cls_knn_options_init(&opt);
    if (opt.k < 1) return cls_set_error(CLS_E_INVALID_ARG, "k-NN: k is %lld (need >= 1)", (long long)opt.k);
    if (opt.weighted && !(opt.temperature > 0 && isfinite(opt.temperature)))
        return cls_set_error(CLS_E_INVALID_ARG, "k-NN: temperature %g is not > 0", opt.temperature);
    cls_status st = cls_eval_check_inputs(train, train_labels, n_train, test, test_labels, n_test, dim);
    if (st) return st;
    const int threads = cls_threads_resolve(opt.threads);
    const int64_t k = opt.k < n_train ? opt.k : n_train;
    int64_t chunk = opt.chunk > 0 ? opt.chunk : KNN_TILE_BYTES / (4 * n_train);
    if (chunk < 1) chunk = 1;
    if (chunk > n_test) chunk = n_test;

    int64_t *classes = NULL, *ytr = NULL, *yte = NULL, nk = 0;
    float *inv = NULL, *qinv = NULL, *q = NULL, *sims = NULL;
    unsigned char *mark = NULL;
    knn_entry *heaps = NULL;
    double *votes = NULL;
    int64_t *touched = NULL;
    st = cls_eval_classes(train_labels, n_train, &classes, &nk);
    if (st) return st;
    if (nk > CLS_KNN_MAX_CLASSES) {
        st = cls_set_error(CLS_E_INVALID_ARG, "k-NN: %lld classes (at most %d)", (long long)nk, CLS_KNN_MAX_CLASSES);
        goto done;
    }
    ytr = cls_alloc((size_t)n_train * sizeof(int64_t), "training classes");
    yte = cls_alloc((size_t)n_test * sizeof(int64_t), "test classes");
    inv = cls_alloc((size_t)n_train * sizeof(float), "training row norms");
    q = cls_alloc((size_t)(chunk * dim) * sizeof(float), "k-NN query tile");
    qinv = cls_alloc((size_t)chunk * sizeof(float), "k-NN query norms");
    mark = cls_calloc((size_t)threads * (size_t)nk, 1, "k-NN class marks");
    sims = cls_alloc((size_t)chunk * (size_t)n_train * sizeof(float), "k-NN similarity tile");
    heaps = cls_alloc((size_t)threads * (size_t)k * sizeof(knn_entry), "k-NN heaps");
    votes = cls_calloc((size_t)threads * (size_t)nk, sizeof(double), "k-NN votes");
    touched = cls_alloc((size_t)threads * (size_t)k * sizeof(int64_t), "k-NN classes");
    out->predictions = cls_alloc((size_t)n_test * sizeof(int64_t), "k-NN predictions");
    if (!ytr || !yte || !inv || !q || !sims || !heaps || !votes || !touched || !qinv || !mark ||
        !out->predictions) {
        st = CLS_E_NOMEM;
        goto done;
    }
    cls_eval_map_labels(train_labels, n_train, classes, nk, ytr);
    cls_eval_map_labels(test_labels, n_test, classes, nk, yte);
    row_inverse_norms(train, n_train, dim, threads, inv);
    const double inv_t = opt.weighted ? 1.0 / opt.temperature : 0.0;
    int64_t correct = 0;
    for (int64_t r0 = 0; r0 < n_test; r0 += chunk) {
        const int64_t rows = r0 + chunk <= n_test ? chunk : n_test - r0;
        row_inverse_norms(test + r0 * dim, rows, dim, threads, qinv);
        float *qn = q;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < dim; c++) qn[r * dim + c] = test[(r0 + r) * dim + c] * qinv[r];
        cls_thread_state prev;
        cls_threads_enter(threads, &prev);
        st = cls_gemm_f32(CLS_NO_TRANS, CLS_TRANS, rows, n_train, dim, 1.0f, qn, dim, train, dim, 0.0f, sims,
                          n_train);
        cls_threads_leave(&prev);
        if (st) goto done;
        int64_t chunk_correct = 0;
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads) reduction(+ : chunk_correct)
        for (int64_t r = 0; r < rows; r++) {
            const int t = omp_get_thread_num();
            knn_entry *h = heaps + (size_t)t * (size_t)k;
            double *v = votes + (size_t)t * (size_t)nk;
            int64_t *tc = touched + (size_t)t * (size_t)k;
            unsigned char *mk = mark + (size_t)t * (size_t)nk;
            const float *srow = sims + r * n_train;
            int64_t size = 0;
            for (int64_t j = 0; j < n_train; j++) {
                float s = srow[j] * inv[j];
                if (size < k) {
                    h[size].s = s;
                    h[size].j = j;
                    sift_up(h, size++);
                } else if (s > h[0].s) { /* equal s: the kept one has the lower index */
                    h[0].s = s;
                    h[0].j = j;
                    sift_down(h, k, 0);
                }
            }
            /* heap-sort: pop the worst to the end, leaving h best-first */
            for (int64_t m = size - 1; m > 0; m--) {
                knn_entry tmp = h[0];
                h[0] = h[m];
                h[m] = tmp;
                sift_down(h, m, 0);
            }
            int64_t nt = 0;
            for (int64_t m = 0; m < size; m++) {
                int64_t c = ytr[h[m].j];
                if (!mk[c]) {
                    mk[c] = 1;
                    tc[nt++] = c;
                }
                v[c] += opt.weighted ? exp((double)h[m].s * inv_t) : 1.0;
            }
            int64_t best = -1;
            double bv = -1;
            for (int64_t m = 0; m < nt; m++) {
                int64_t c = tc[m];
                if (v[c] > bv || (v[c] == bv && c < best)) {
                    bv = v[c];
                    best = c;
                }
            }
            for (int64_t m = 0; m < nt; m++) {
                v[tc[m]] = 0;
                mk[tc[m]] = 0;
            }
            out->predictions[r0 + r] = classes[best];
            chunk_correct += best == yte[r0 + r];
        }
        correct += chunk_correct;
    }
    out->accuracy = (double)correct / (double)n_test;
    out->k = k;
    out->n_classes = nk;
done:
    cls_free(classes);
    cls_free(ytr);
    cls_free(yte);
    cls_free(inv);
    cls_free(q);
    cls_free(qinv);
    cls_free(mark);
    cls_free(sims);
    cls_free(heaps);
    cls_free(votes);
    cls_free(touched);
    if (st) cls_knn_result_free(out);
    return st;
}
