/* Every loss kind through cls_loss_ring_compute (run with mpirun -np 1, 2, 3):
 * uneven shards of one global batch (built identically on every rank from a
 * fixed seed) against the single-process engine, cls_loss_compute, on the
 * whole batch (itself checked against float64 twins and PyTorch by
 * test_loss / test_loss_pair / test_loss_torch).
 * - CLIP and InfoNCE (keys sharded with their labels: global key indices,
 *   more keys than queries, key shards sized differently from query shards):
 *   loss |diff| <= 1e-6 |ref|; gradients max|diff| <= 1e-6 * max|g|; dL/ds
 *   within 1e-6 * max(|ref|, max|g|). Same loss bits on every rank.
 * - The ring on one rank (MPI_COMM_SELF) is cls_loss_compute: identical bits
 *   for all four kinds.
 * - SigLIP (one pass; positives on the own block's diagonal): the same
 *   tolerances, and dL/dbeta within 1e-6 * max(|ref|, 1e-3).
 * - NT-Xent (Z = [A; B] rows on the ring, self-similarity excluded in the own
 *   block): the same tolerances.
 * - A bad label on one rank fails every rank. */
#include "clscale.h"
#include "clscale/loss_mpi.h"
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static int rank_, P_;

/* rows of shard q of n rows over P ranks, uneven: weights 1, 2, 3, ... */
static void shard(int64_t n, int q, int64_t *off, int64_t *len)
{
    int64_t W = (int64_t)P_ * (P_ + 1) / 2, o = 0;
    for (int r = 0; r < q; r++) o += n * (r + 1) / W;
    *off = o;
    *len = q == P_ - 1 ? n - o : n * (q + 1) / W;
}

static float *randn(int64_t len, uint64_t seed)
{
    float *x = malloc((size_t)len * sizeof(float));
    cls_rng rng;
    cls_rng_seed(&rng, seed);
    cls_rng_fill_normal_f32(&rng, x, len);
    for (int64_t i = 0; i < len; i++) x[i] *= 0.3f;
    return x;
}

static void compare(cls_loss_kind kind, int64_t na, int64_t nb, int64_t d, int use_labels, const cls_loss_options *o,
                    const char *what)
{
    float *a = randn(na * d, 11), *b = randn(nb * d, 12);
    int64_t *labels = NULL;
    if (use_labels) {
        labels = malloc((size_t)na * sizeof(int64_t));
        for (int64_t i = 0; i < na; i++) labels[i] = (i * 7 + 3) % nb;
    }
    float *ra = malloc((size_t)(na * d) * sizeof(float)), *rb = malloc((size_t)(nb * d) * sizeof(float));
    cls_loss_result ref;
    CHECK_STATUS(cls_loss_compute(&ref, ra, rb, a, na, b, nb, d, labels, o), CLS_OK, "single process %s", what);
    int64_t qo, ql, ko, kl;
    shard(na, rank_, &qo, &ql);
    if (kind != CLS_LOSS_INFONCE) ko = qo, kl = ql;
    else shard(nb, P_ - 1 - rank_, &ko, &kl), ko = 0; /* key shards sized in reverse order */
    if (kind == CLS_LOSS_INFONCE)
        for (int q = 0; q < rank_; q++) {
            int64_t x, len;
            shard(nb, P_ - 1 - q, &x, &len);
            ko += len;
        }
    float *ga = malloc((size_t)(ql * d) * sizeof(float)), *gb = malloc((size_t)(kl * d) * sizeof(float));
    cls_loss_result res;
    CHECK_STATUS(cls_loss_ring_compute(&res, ga, gb, a + qo * d, ql, b + ko * d, kl, d, labels ? labels + qo : NULL, o,
                                       MPI_COMM_WORLD),
                 CLS_OK, "ring %s", what);
    CHECK_CLOSE(res.loss, ref.loss, 0, 1e-6, "loss %s (rank %d of %d)", what, rank_, P_);
    double gmax = 0, md = 0;
    for (int64_t i = 0; i < na * d; i++) gmax = fmax(gmax, fabs(ra[i]));
    for (int64_t i = 0; i < nb * d; i++) gmax = fmax(gmax, fabs(rb[i]));
    for (int64_t i = 0; i < ql * d; i++) md = fmax(md, fabs(ga[i] - ra[qo * d + i]));
    for (int64_t i = 0; i < kl * d; i++) md = fmax(md, fabs(gb[i] - rb[ko * d + i]));
    CHECK(md <= 1e-6 * gmax, "grads %s (rank %d of %d): max|diff| %.3g > 1e-6 * max|g| %.3g", what, rank_, P_, md, gmax);
    CHECK_CLOSE(res.grad_logit_scale, ref.grad_logit_scale, 1e-6 * fmax(fabs(ref.grad_logit_scale), gmax), 0,
                "dL/ds %s", what);
    if (kind == CLS_LOSS_SIGLIP)
        CHECK_CLOSE(res.grad_bias, ref.grad_bias, 1e-6 * fmax(fabs(ref.grad_bias), 1e-3), 0, "dL/dbeta %s", what);
    double lo, hi;
    MPI_Allreduce(&res.loss, &lo, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&res.loss, &hi, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    CHECK(lo == hi, "loss differs between ranks %s", what);
    free(a), free(b), free(labels), free(ra), free(rb), free(ga), free(gb);
}

/* On MPI_COMM_SELF the ring is the single-process engine: identical bits. */
static void test_self_bits(void)
{
    const int64_t n = 37, d = 13;
    float *a = randn(n * d, 21), *b = randn(n * d, 22);
    for (int kind = 0; kind < 4; kind++) {
        cls_loss_options o;
        cls_loss_options_init(&o, (cls_loss_kind)kind);
        o.threads = 1;
        o.logit_scale = 5.0;
        float ga[37 * 13], gb[37 * 13], ra[37 * 13], rb[37 * 13];
        cls_loss_result r1, r2;
        CHECK_STATUS(cls_loss_compute(&r1, ra, rb, a, n, b, n, d, NULL, &o), CLS_OK, "kind %d single", kind);
        CHECK_STATUS(cls_loss_ring_compute(&r2, ga, gb, a, n, b, n, d, NULL, &o, MPI_COMM_SELF), CLS_OK,
                     "kind %d ring on self", kind);
        CHECK(memcmp(&r1, &r2, sizeof r1) == 0 && memcmp(ga, ra, sizeof ga) == 0 && memcmp(gb, rb, sizeof gb) == 0,
              "kind %s: ring on one rank differs in bits from cls_loss_compute", cls_loss_kind_name((cls_loss_kind)kind));
    }
    free(a), free(b);
}

static void test_errors(void)
{
    const int64_t d = 8, nl = 5 + rank_;
    float *a = randn(nl * d, 31 + rank_), *b = randn(nl * d, 41 + rank_);
    float ga[8 * 8], gb[8 * 8];
    cls_loss_result r;
    cls_loss_options o;
    cls_loss_options_init(&o, CLS_LOSS_INFONCE);
    int64_t labels[8];
    for (int64_t i = 0; i < nl; i++) labels[i] = i;
    if (rank_ == P_ - 1) labels[2] = 1000; /* beyond every key */
    CHECK_STATUS(cls_loss_ring_compute(&r, ga, gb, a, nl, b, nl, d, labels, &o, MPI_COMM_WORLD), CLS_E_INVALID_ARG,
                 "bad label on the last rank");
    if (rank_ == P_ - 1)
        CHECK(strstr(cls_last_error(), "labels[2]") != NULL, "message: %s", cls_last_error());
    else
        CHECK(strstr(cls_last_error(), "rank") != NULL, "message: %s", cls_last_error());
    free(a), free(b);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &P_);
    test_self_bits();
    cls_loss_options o;
    cls_loss_options_init(&o, CLS_LOSS_CLIP);
    o.threads = 1;
    o.tile = 16;
    compare(CLS_LOSS_CLIP, 90, 90, 24, 0, &o, "clip tile 16");
    o.normalize = 1, o.label_smoothing = 0.1, o.reduction = CLS_REDUCE_SUM, o.tile = 0;
    compare(CLS_LOSS_CLIP, 101, 101, 17, 0, &o, "clip normalize smoothing sum");
    cls_loss_options_init(&o, CLS_LOSS_INFONCE);
    o.threads = 1;
    o.tile = 16;
    compare(CLS_LOSS_INFONCE, 70, 130, 24, 0, &o, "infonce default labels, 70 queries, 130 keys");
    compare(CLS_LOSS_INFONCE, 70, 130, 24, 1, &o, "infonce labels (7i+3) mod 130");
    o.normalize = 1, o.label_smoothing = 0.2, o.reduction = CLS_REDUCE_SUM, o.tile = 0;
    compare(CLS_LOSS_INFONCE, 61, 61, 19, 1, &o, "infonce normalize smoothing sum");
    cls_loss_options_init(&o, CLS_LOSS_SIGLIP);
    o.threads = 1;
    o.tile = 16;
    o.logit_scale = 10.0;
    compare(CLS_LOSS_SIGLIP, 90, 90, 24, 0, &o, "siglip tile 16, bias -10");
    o.normalize = 1, o.bias = 0.5, o.reduction = CLS_REDUCE_SUM, o.tile = 0;
    compare(CLS_LOSS_SIGLIP, 101, 101, 17, 0, &o, "siglip normalize, bias 0.5, sum");
    cls_loss_options_init(&o, CLS_LOSS_NTXENT);
    o.threads = 1;
    o.tile = 16;
    o.logit_scale = 10.0;
    compare(CLS_LOSS_NTXENT, 90, 90, 24, 0, &o, "ntxent tile 16");
    o.normalize = 1, o.label_smoothing = 0.1, o.reduction = CLS_REDUCE_SUM, o.tile = 0;
    compare(CLS_LOSS_NTXENT, 101, 101, 17, 0, &o, "ntxent normalize smoothing sum");
    test_errors();
    int failed = check_failed, any;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    char suite[64];
    snprintf(suite, sizeof suite, "test_loss_ring_kinds_mpi (rank %d of %d)", rank_, P_);
    check_summary(suite);
    MPI_Finalize();
    return any == 0 ? 0 : 1;
}
