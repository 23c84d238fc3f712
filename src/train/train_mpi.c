/* Data-parallel training over MPI (include/clscale/train_mpi.h): the
 * collectives the trainer (train.c, MPI-free) calls through cls__train_dist.
 * Built into libclscale_mpi with the loss ring. */
#include "clscale/train_mpi.h"

#include "clscale/loss_mpi.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "train_internal.h"

enum { TAG_REDUCE = 201, TAG_GATHER = 202 };

typedef struct {
    MPI_Comm comm;
    int rank, size;
    double ring_wait, exchange, bytes; /* since the last reset */
} dist_state;

static cls_status d_agree(void *user, cls_status st)
{
    dist_state *ds = user;
    int mine[2] = {st != CLS_OK ? ds->rank : INT_MAX, (int)st}, first[2];
    const double t0 = MPI_Wtime();
    MPI_Allreduce(mine, first, 1, MPI_2INT, MPI_MINLOC, ds->comm);
    if (first[0] == INT_MAX) {
        ds->exchange += MPI_Wtime() - t0;
        return CLS_OK;
    }
    /* The first failing rank's message becomes everyone's. */
    char msg[1536];
    if (ds->rank == first[0]) snprintf(msg, sizeof msg, "%s", cls_last_error());
    MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, first[0], ds->comm);
    msg[sizeof msg - 1] = '\0';
    ds->exchange += MPI_Wtime() - t0;
    if (ds->size == 1) return st;
    return cls_set_error((cls_status)first[1], "rank %d: %s", first[0], msg);
}

static cls_status d_loss(void *user, cls_loss_result *res, float *ga, float *gb, const float *a, const float *b,
                         int64_t n, int64_t d, const cls_loss_options *o)
{
    dist_state *ds = user;
    cls_status st = cls_loss_ring_compute(res, ga, gb, a, n, b, n, d, NULL, o, ds->comm);
    cls_ring_stats rs;
    cls_loss_ring_last_stats(&rs);
    ds->ring_wait += rs.wait_seconds;
    ds->bytes += rs.bytes_sent;
    if (st == CLS_OK || ds->size == 1) return st;
    /* The ring failed on every rank; the ranks it names as failed pass on their
     * own messages (the others only point at them). */
    const int bystander = strncmp(cls_last_error(), "loss ring: rank", 15) == 0;
    cls_status all = d_agree(user, bystander ? CLS_OK : st);
    return all ? all : st;
}

/* Sum over ranks in a fixed order: a ring all-reduce. The vector is cut into P
 * segments; in P-1 reduce-scatter steps segment k travels k -> k+1 -> ... ->
 * k-1, each rank adding its own part to the incoming partial sum (so segment
 * k is summed in the fixed order g_k + g_{k+1} + ... + g_{k-1}); in P-1
 * all-gather steps the finished segments travel on. Every rank ends with the
 * same bits; deterministic for a fixed P (MPI_Allreduce's order is the
 * implementation's). Each rank sends 2 (P-1)/P of the vector. */
static cls_status d_reduce(void *user, float *g, int64_t n)
{
    dist_state *ds = user;
    const int P = ds->size, r = ds->rank;
    if (P == 1 || n <= 0) return CLS_OK;
#define SEG_OFF(k) (n * (int64_t)(k) / P)
#define SEG_LEN(k) (SEG_OFF((k) + 1) - SEG_OFF(k))
    int64_t maxlen = 0;
    for (int k = 0; k < P; k++)
        if (SEG_LEN(k) > maxlen) maxlen = SEG_LEN(k);
    cls_status st = maxlen > INT_MAX ? cls_set_error(CLS_E_UNSUPPORTED, "gradient exchange: %lld floats per "
                                                     "segment (at most %d)", (long long)maxlen, INT_MAX)
                                     : CLS_OK;
    float *in = st ? NULL : cls_alloc((size_t)(maxlen > 0 ? maxlen : 1) * sizeof(float), "gradient exchange buffer");
    if (!st && !in) st = CLS_E_NOMEM;
    if ((st = d_agree(user, st))) {
        cls_free(in);
        return st;
    }
    const int left = (r + P - 1) % P, right = (r + 1) % P;
    const double t0 = MPI_Wtime();
    for (int t = 0; t < P - 1; t++) { /* reduce-scatter */
        const int ks = ((r - t) % P + P) % P, kr = ((r - t - 1) % P + P) % P;
        MPI_Sendrecv(g + SEG_OFF(ks), (int)SEG_LEN(ks), MPI_FLOAT, right, TAG_REDUCE, in, (int)SEG_LEN(kr),
                     MPI_FLOAT, left, TAG_REDUCE, ds->comm, MPI_STATUS_IGNORE);
        float *dst = g + SEG_OFF(kr);
        for (int64_t i = 0; i < SEG_LEN(kr); i++) dst[i] = in[i] + dst[i]; /* incoming partial first */
        ds->bytes += (double)SEG_LEN(ks) * sizeof(float);
    }
    for (int t = 0; t < P - 1; t++) { /* all-gather: rank r holds the sum of segment r+1 */
        const int ks = ((r + 1 - t) % P + P) % P, kr = ((r - t) % P + P) % P;
        MPI_Sendrecv(g + SEG_OFF(ks), (int)SEG_LEN(ks), MPI_FLOAT, right, TAG_GATHER, g + SEG_OFF(kr),
                     (int)SEG_LEN(kr), MPI_FLOAT, left, TAG_GATHER, ds->comm, MPI_STATUS_IGNORE);
        ds->bytes += (double)SEG_LEN(ks) * sizeof(float);
    }
#undef SEG_OFF
#undef SEG_LEN
    ds->exchange += MPI_Wtime() - t0;
    cls_free(in);
    return CLS_OK;
}

static cls_status d_bcast(void *user, void **data, size_t *size)
{
    dist_state *ds = user;
    unsigned long long sz = ds->rank == 0 ? (unsigned long long)*size : 0;
    MPI_Bcast(&sz, 1, MPI_UNSIGNED_LONG_LONG, 0, ds->comm);
    cls_status st = CLS_OK;
    if (ds->rank != 0) {
        *size = (size_t)sz;
        *data = NULL;
        if (sz && !(*data = malloc((size_t)sz)))
            st = cls_set_error(CLS_E_NOMEM, "cannot allocate %llu bytes for rank 0's data", sz);
    }
    if ((st = d_agree(user, st))) return st;
    const size_t step = (size_t)1 << 30;
    for (size_t o = 0; o < (size_t)sz; o += step) {
        size_t len = (size_t)sz - o < step ? (size_t)sz - o : step;
        MPI_Bcast((char *)*data + o, (int)len, MPI_BYTE, 0, ds->comm);
    }
    return CLS_OK;
}

static int d_any(void *user, int flag)
{
    dist_state *ds = user;
    int mine = flag != 0, any;
    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, ds->comm);
    return any;
}

static void d_reset(void *user)
{
    dist_state *ds = user;
    ds->ring_wait = ds->exchange = ds->bytes = 0;
}

static void dist_init(cls__train_dist *d, dist_state *ds, MPI_Comm comm)
{
    memset(ds, 0, sizeof *ds);
    ds->comm = comm;
    MPI_Comm_rank(comm, &ds->rank);
    MPI_Comm_size(comm, &ds->size);
    d->rank = ds->rank;
    d->size = ds->size;
    d->user = ds;
    d->agree = d_agree;
    d->loss = d_loss;
    d->reduce = d_reduce;
    d->bcast = d_bcast;
    d->any = d_any;
    d->reset_stats = d_reset;
}

cls_status cls_train_run_mpi(const cls_train_config *cfg, const char *out_dir, int resume, cls_train_result *out,
                             MPI_Comm comm)
{
    cls__train_dist d;
    dist_state ds;
    dist_init(&d, &ds, comm);
    return cls__train_run_dist(cfg, out_dir, resume, out, &d);
}

cls_status cls_train_bench_mpi(const cls_train_config *cfg, int64_t steps, cls_train_bench_mpi_result *out,
                               MPI_Comm comm)
{
    cls__train_dist d;
    dist_state ds;
    dist_init(&d, &ds, comm);
    if (!out) return d_agree(&ds, cls_set_error(CLS_E_INVALID_ARG, "bench: NULL result"));
    cls_status st = cls__train_bench_dist(cfg, steps, &out->bench, &d);
    if (st) return st;
    const double n = (double)steps;
    out->ranks = ds.size;
    out->local_images = cfg->batch * (ds.rank + 1) / ds.size - cfg->batch * ds.rank / ds.size;
    out->bytes_sent_per_step = ds.bytes / n;
    out->ring_wait_seconds_per_step = ds.ring_wait / n;
    out->exchange_seconds_per_step = ds.exchange / n;
    out->wait_share = (ds.ring_wait + ds.exchange) / n / out->bench.seconds_per_step;
    return CLS_OK;
}
