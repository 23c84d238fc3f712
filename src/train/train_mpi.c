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

/* Sum over ranks, in rank order, segment by segment: every rank gathers all
 * ranks' segment and adds them (double accumulator) rank 0 first. */
static cls_status d_reduce(void *user, float *g, int64_t n)
{
    dist_state *ds = user;
    const int P = ds->size;
    if (P == 1 || n <= 0) return CLS_OK;
    int64_t seg = ((int64_t)1 << 22) / P;
    if (seg < 1) seg = 1;
    if (seg > n) seg = n;
    float *all = cls_alloc((size_t)P * (size_t)seg * sizeof(float), "gradient exchange buffer");
    cls_status st = d_agree(user, all ? CLS_OK : CLS_E_NOMEM);
    if (st) {
        cls_free(all);
        return st;
    }
    const double t0 = MPI_Wtime();
    for (int64_t o = 0; o < n; o += seg) {
        const int len = (int)(n - o < seg ? n - o : seg);
        MPI_Allgather(g + o, len, MPI_FLOAT, all, len, MPI_FLOAT, ds->comm);
        for (int k = 0; k < len; k++) {
            double t = 0.0;
            for (int q = 0; q < P; q++) t += all[(size_t)q * (size_t)len + (size_t)k];
            g[o + k] = (float)t;
        }
    }
    ds->exchange += MPI_Wtime() - t0;
    ds->bytes += (double)n * sizeof(float) * (double)(P - 1); /* this rank's gradients to every other rank */
    cls_free(all);
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
