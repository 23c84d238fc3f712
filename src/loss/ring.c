/* Contrastive losses on a ring of MPI ranks (see include/clscale/loss_mpi.h).
 *
 * One kernel: every block product below is the single-process tile kernel
 * (tile_kernel.c: cls_tile_forward / cls_tile_backward), with the same exp,
 * the same argument checks (cls_loss_check_args) and the same normalisation
 * (loss_common.c). With P = 1 the ring is not entered at all: the call is
 * cls_loss_compute on the local rows, so P = 1 gives the single-process bits.
 *
 * Rank p holds queries A_p (na_p rows) and keys B_p (nb_p rows; CLIP: the same
 * rows as A_p). Schedule (left = p-1, right = p+1): at step k = 1..P-1 rank p
 * works on the key block of rank q = p-k, received from the left and forwarded
 * to the right while it computes; at step P it works on its own block. Block q
 * thus visits q+1, ..., q-1 and finally q, and the state summed over all row
 * owners rides one hop behind it:
 *   forward:  the column log-sum-exp partials of block q (CLIP; 2 nb_q doubles);
 *   backward: block q travels with its complete column LSE (CLIP) and its
 *             partial dB (nb_q x d floats) follows, arriving summed at its owner.
 * Row state is merged block by block in the fixed visiting order; every
 * partial is combined as (incoming (+) local); scalar sums are gathered and
 * added in rank order: the same bits on every rank, for a fixed P and thread
 * count. Communication per rank per step: B crosses P-1 hops in each pass and
 * dB P-1 hops, i.e. 3 (P-1) nb_q d floats (+ O(nb) doubles of LSE).
 *
 * Blocks without the positives (CLIP: q != p; InfoNCE: keys outside block q)
 * get positive weights 0 (CLIP) or label -1 (InfoNCE): the kernel's positive
 * entry then reduces to the plain softmax term.
 *
 * NT-Xent runs as a row-only (InfoNCE-like) ring on Z_p = [A_p; B_p] against
 * the Z blocks: the positive of a Z row is the other view (own block only),
 * the self-similarity is excluded in the own block (the tile kernel's
 * exclude_diag), the uniform smoothing weight is e / (2n - 1), and
 * dZ = s G Z + s G^T Z is the local row part plus the travelled part.
 * SigLIP has no row normalisation: one pass (cls_siglip_block per block). */
#include "clscale/loss_mpi.h"

#include "loss_engine.h"

#include <limits.h>
#include <math.h>
#include <string.h>

enum { TAG_B = 101, TAG_C = 102, TAG_STATS = 103, TAG_DB = 104 };

/* Counters of the last call on this process (cls_loss_ring_last_stats). */
static cls_ring_stats last_stats;


/* MPI_Wait and MPI_Isend, timed and counted. */
static void ring_wait(MPI_Request *req)
{
    if (*req == MPI_REQUEST_NULL) return;
    const double t0 = MPI_Wtime();
    MPI_Wait(req, MPI_STATUS_IGNORE);
    last_stats.wait_seconds += MPI_Wtime() - t0;
}

static void ring_isend(const void *buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm,
                       MPI_Request *req)
{
    int size;
    MPI_Type_size(type, &size);
    last_stats.bytes_sent += (double)count * (double)size;
    MPI_Isend(buf, count, type, dest, tag, comm, req);
}

void cls_loss_ring_last_stats(cls_ring_stats *out)
{
    if (out) *out = last_stats;
}

/* Every rank learns whether all ranks succeeded; a failing rank keeps its own
 * message, the others get one naming the first failing rank. */
static cls_status agree(cls_status st, int rank, MPI_Comm comm)
{
    int mine[2] = {st != CLS_OK ? rank : INT_MAX, (int)st}, first[2];
    const double t0 = MPI_Wtime(); /* a collective: waiting for the slowest rank counts as waiting */
    MPI_Allreduce(mine, first, 1, MPI_2INT, MPI_MINLOC, comm);
    last_stats.wait_seconds += MPI_Wtime() - t0;
    if (first[0] == INT_MAX) return CLS_OK;
    if (st != CLS_OK) return st;
    return cls_set_error((cls_status)first[1], "loss ring: rank %d failed (see its error message)", first[0]);
}

/* (m, ls) <- (m, ls) (+) (m2, ls2) for log-sum-exp values m + ls; `have`
 * says whether (m, ls) holds data yet. */
static inline void lse_join(double *m, double *ls, int have, double m2, double ls2)
{
    if (!have) {
        *m = m2, *ls = ls2;
        return;
    }
    const double mx = *m > m2 ? *m : m2;
    const double s = exp(*m - mx + *ls) + exp(m2 - mx + ls2);
    *m = mx;
    *ls = log(s);
}

/* Sum over all ranks of a vector of doubles, added in rank order (same bits everywhere). */
static cls_status sum_in_rank_order(double *out, const double *mine, int64_t len, int P, MPI_Comm comm)
{
    double *all = cls_alloc((size_t)P * (size_t)len * sizeof(double), "loss ring partial sums");
    cls_status st = all ? CLS_OK : CLS_E_NOMEM;
    int rank;
    MPI_Comm_rank(comm, &rank);
    if ((st = agree(st, rank, comm))) {
        cls_free(all);
        return st;
    }
    MPI_Allgather(mine, (int)len, MPI_DOUBLE, all, (int)len, MPI_DOUBLE, comm);
    for (int64_t k = 0; k < len; k++) {
        double t = 0.0;
        for (int q = 0; q < P; q++) t += all[(size_t)q * (size_t)len + (size_t)k];
        out[k] = t;
    }
    cls_free(all);
    return CLS_OK;
}

/* Column sums of x (n x d) in double. */
static void column_sums(double *out, const float *x, int64_t n, int64_t d)
{
    for (int64_t k = 0; k < d; k++) out[k] = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < d; k++) out[k] += x[i * d + k];
}

/* Local checks before any collective on the data. */
static cls_status check_local(const cls_loss_result *result, const float *a, int64_t na, const float *b,
                              int64_t nb, int64_t nb_total, int64_t d, const int64_t *labels,
                              const cls_loss_options *o)
{
    if (!result) return cls_set_error(CLS_E_INVALID_ARG, "result is NULL");
    if (!o) return cls_set_error(CLS_E_INVALID_ARG, "options is NULL");
    if (!a || !b) return cls_set_error(CLS_E_INVALID_ARG, "input %s is NULL", !a ? "a" : "b");
    cls_status st = cls_loss_check_args(o->kind, na, o->kind == CLS_LOSS_INFONCE ? nb_total : nb, d, labels, o);
    if (st == CLS_OK && o->kind == CLS_LOSS_INFONCE && nb <= 0)
        st = cls_set_error(CLS_E_SHAPE, "b has %lld rows; need at least 1", (long long)nb);
    if (st == CLS_OK) st = cls_check_finite_f32(a, na, d, "a");
    if (st == CLS_OK) st = cls_check_finite_f32(b, nb, d, "b");
    if (st == CLS_OK && o->normalize) {
        if ((st = cls_loss_check_nonzero_rows(a, na, d, "a")) == CLS_OK) st = cls_loss_check_nonzero_rows(b, nb, d, "b");
    }
    return st;
}

cls_status cls_loss_ring_compute(cls_loss_result *result, float *grad_a, float *grad_b, const float *a_local,
                                 int64_t na_local, const float *b_local, int64_t nb_local, int64_t d,
                                 const int64_t *labels_local, const cls_loss_options *options, MPI_Comm comm)
{
    int P, p;
    MPI_Comm_size(comm, &P);
    MPI_Comm_rank(comm, &p);
    memset(&last_stats, 0, sizeof last_stats);
    const double t_start = MPI_Wtime();
    if (P == 1) { /* the single-process engine itself: the same bits */
        cls_status s1 = cls_loss_compute(result, grad_a, grad_b, a_local, na_local, b_local, nb_local, d,
                                         labels_local, options);
        last_stats.total_seconds = MPI_Wtime() - t_start;
        return s1;
    }

    /* ---- shapes, options and data agreed by every rank ---- */
    int64_t mine_n[2] = {na_local, nb_local};
    int64_t *counts = cls_alloc(2 * (size_t)P * sizeof(int64_t), "loss ring row counts");
    cls_status st = counts ? CLS_OK : CLS_E_NOMEM;
    if ((st = agree(st, p, comm))) {
        cls_free(counts);
        return st;
    }
    MPI_Allgather(mine_n, 2, MPI_INT64_T, counts, 2, MPI_INT64_T, comm);
    int64_t na = 0, nb = 0, nb_max = 0, koff = 0;
    for (int q = 0; q < P; q++) {
        na += counts[2 * q];
        nb += counts[2 * q + 1];
        nb_max = counts[2 * q + 1] > nb_max ? counts[2 * q + 1] : nb_max;
        if (q < p) koff += counts[2 * q + 1];
    }
    int64_t qoff = 0;
    for (int q = 0; q < p; q++) qoff += counts[2 * q];
    st = check_local(result, a_local, na_local, b_local, nb_local, nb, d, labels_local, options);
    if (st == CLS_OK && options->kind == CLS_LOSS_INFONCE && na > nb)
        st = cls_set_error(CLS_E_SHAPE, "infonce: %lld queries but only %lld keys over all ranks", (long long)na,
                           (long long)nb);
    if (st == CLS_OK && nb_max * d > INT_MAX)
        st = cls_set_error(CLS_E_UNSUPPORTED, "loss ring: a block of %lld x %lld floats exceeds one MPI message",
                           (long long)nb_max, (long long)d);
    if ((st = agree(st, p, comm))) {
        cls_free(counts);
        return st;
    }
    const cls_loss_options *o = options;
    double ov[10] = {(double)d, (double)o->kind, o->logit_scale, o->bias, o->label_smoothing, (double)o->reduction,
                     (double)o->normalize, (double)o->tile, (double)o->precision, 0}, lo[10], hi[10];
    MPI_Allreduce(ov, lo, 10, MPI_DOUBLE, MPI_MIN, comm);
    MPI_Allreduce(ov, hi, 10, MPI_DOUBLE, MPI_MAX, comm);
    if (memcmp(lo, hi, sizeof lo) != 0) {
        cls_free(counts);
        return cls_set_error(CLS_E_INVALID_ARG, "loss ring: ranks disagree on d, kind, logit scale or options");
    }

    /* NT-Xent: the ring runs on Z_p = [A_p; B_p] (2 n_p rows) against the Z blocks */
    const int ntx = o->kind == CLS_LOSS_NTXENT;
    if (ntx) {
        nb_max *= 2, na *= 2, nb *= 2;
        for (int q = 0; q < 2 * P; q++) counts[q] *= 2;
        if (nb_max * d > INT_MAX) { /* the same verdict on every rank: no collective needed */
            cls_free(counts);
            return cls_set_error(CLS_E_UNSUPPORTED, "loss ring: a block of %lld x %lld floats exceeds one MPI message",
                                 (long long)nb_max, (long long)d);
        }
    }
    const int64_t la = ntx ? 2 * na_local : na_local, lb = ntx ? 2 * nb_local : nb_local;

    /* ---- workspace: one allocation, carved in two passes ---- */
    const int clip = o->kind == CLS_LOSS_CLIP, siglip = o->kind == CLS_LOSS_SIGLIP;
    const int infonce = o->kind == CLS_LOSS_INFONCE;
    const int nt = cls_threads_resolve(o->threads);
    const size_t nal = (size_t)la, nbl = (size_t)lb, nbm = (size_t)nb_max, dd = (size_t)d;
    double *rm, *rl, *bm, *bl, *cm, *cl, *cin, *cout, *cown, *cblk[2], *pos, *bpos;
    float *bbuf[2], *dbc, *dbin, *dbout, *an = NULL, *bn = NULL, *gA, *gB, *gtmp, *zb = NULL;
    int64_t *lab = NULL;
    char *ws = NULL;
    for (int pass = 0; pass < 2; pass++) {
        size_t used = 0;
#define TAKE(ptr, bytes)                                                     \
    do {                                                                     \
        *(void **)&(ptr) = ws ? ws + used : NULL;                            \
        used += ((size_t)(bytes) + 63) & ~(size_t)63;                        \
    } while (0)
        TAKE(rm, nal * sizeof(double)); /* running row LSE (max, log-sum) */
        TAKE(rl, nal * sizeof(double));
        TAKE(bm, nal * sizeof(double)); /* row LSE of one block */
        TAKE(bl, nal * sizeof(double));
        TAKE(pos, nal * sizeof(double));  /* logit of each row's positive */
        TAKE(bpos, nal * sizeof(double)); /* ... as seen by one block */
        TAKE(cm, nbm * sizeof(double));   /* column LSE of the block being computed */
        TAKE(cl, nbm * sizeof(double));
        TAKE(cin, 2 * nbm * sizeof(double)); /* column partials arriving from the left */
        TAKE(cout, 2 * nbm * sizeof(double));
        TAKE(cown, 2 * nbm * sizeof(double)); /* own columns, complete */
        TAKE(cblk[0], 2 * nbm * sizeof(double));
        TAKE(cblk[1], 2 * nbm * sizeof(double));
        TAKE(bbuf[0], nbm * dd * sizeof(float));
        TAKE(bbuf[1], nbm * dd * sizeof(float));
        TAKE(dbc, nbm * dd * sizeof(float));
        TAKE(dbin, nbm * dd * sizeof(float));
        TAKE(dbout, nbm * dd * sizeof(float));
        TAKE(gA, nal * dd * sizeof(float));
        TAKE(gtmp, nal * dd * sizeof(float));
        TAKE(gB, nbl * dd * sizeof(float));
        if (o->normalize) {
            TAKE(an, (size_t)na_local * dd * sizeof(float));
            TAKE(bn, (size_t)nb_local * dd * sizeof(float));
        }
        if (ntx) TAKE(zb, nal * dd * sizeof(float));
        if (infonce || ntx) TAKE(lab, nal * sizeof(int64_t));
#undef TAKE
        if (pass == 0) {
            ws = cls_alloc(used, "loss ring workspace");
            if ((st = agree(ws ? CLS_OK : CLS_E_NOMEM, p, comm))) {
                cls_free(ws);
                cls_free(counts);
                return st;
            }
        }
    }

    const float *A = a_local, *Bl = b_local;
    if (o->normalize) {
        cls_loss_normalize_rows(an, a_local, na_local, d, o->threads);
        cls_loss_normalize_rows(bn, b_local, nb_local, d, o->threads);
        A = an, Bl = bn;
    }
    if (ntx) {
        memcpy(zb, A, (size_t)na_local * dd * sizeof(float));
        memcpy(zb + (size_t)na_local * dd, Bl, (size_t)nb_local * dd * sizeof(float));
        A = Bl = zb;
    }
    const int left = (p - 1 + P) % P, right = (p + 1) % P;
    const double e = o->label_smoothing;
    /* clip: 1/(2n) or 1/2; infonce: 1/na or 1; siglip: 1/n or 1 */
    const double w = clip ? (o->reduction == CLS_REDUCE_SUM ? 0.5 : 1.0 / (2.0 * (double)na))
                          : (o->reduction == CLS_REDUCE_SUM ? 1.0 : 1.0 / (double)na);
    cls_tile_problem tp = {0};
    tp.a = A;
    tp.na = la;
    tp.precision = o->precision;
    tp.d = d;
    tp.scale = (float)o->logit_scale;
    tp.threads = nt;
    tp.columns = clip;
    cls_status kst = CLS_OK; /* first kernel failure on this rank (the ring keeps its pace) */
    /* the problem of this rank's rows against key block q */
    int64_t block_off[1];
#define SET_BLOCK(q, Bq)                                                                             \
    do {                                                                                             \
        const int64_t nq_ = counts[2 * (q) + 1];                                                    \
        block_off[0] = 0;                                                                            \
        for (int r_ = 0; r_ < (q); r_++) block_off[0] += counts[2 * r_ + 1];                        \
        tp.b = (Bq);                                                                                 \
        tp.nb = nq_;                                                                                 \
        tp.tile = cls_tile_resolve(o->tile, la, nq_, d, nt);                                   \
        tp.exclude_diag = ntx && (q) == p;                                                           \
        if (ntx) { /* the positive of Z row i is the other view, in the own block only */          \
            for (int64_t i_ = 0; i_ < la; i_++) lab[i_] = (q) == p ? (i_ + la / 2) % la : -1;        \
            tp.labels = lab;                                                                         \
        }                                                                                            \
        if (infonce) {                                                                               \
            for (int64_t i_ = 0; i_ < la; i_++) {                                              \
                const int64_t g_ = (labels_local ? labels_local[i_] : qoff + i_) - block_off[0];     \
                lab[i_] = g_ >= 0 && g_ < nq_ ? g_ : -1;                                             \
            }                                                                                        \
            tp.labels = lab;                                                                         \
        }                                                                                            \
    } while (0)

    /* ================= forward ================= */
    for (size_t i = 0; i < nal; i++) pos[i] = 0.0;
    MPI_Request sB = MPI_REQUEST_NULL, sBprev = MPI_REQUEST_NULL, rB = MPI_REQUEST_NULL;
    MPI_Request sS = MPI_REQUEST_NULL, rS = MPI_REQUEST_NULL;
    if (!siglip) { /* SigLIP has no forward pass: its one pass is below */
    ring_isend(Bl, (int)(nbl * dd), MPI_FLOAT, right, TAG_B, comm, &sBprev);
    MPI_Irecv(bbuf[1], (int)(counts[2 * left + 1] * d), MPI_FLOAT, left, TAG_B, comm, &rB);
    for (int k = 1; k <= P; k++) {
        const int q = k < P ? (p - k + P) % P : p;
        const int64_t nq = counts[2 * q + 1];
        const float *Bq = k < P ? bbuf[k % 2] : Bl;
        if (k < P) ring_wait(&rB);
        if (k < P - 1) ring_isend(Bq, (int)(nq * d), MPI_FLOAT, right, TAG_B, comm, &sB);
        ring_wait(&sBprev); /* frees bbuf[(k+1) % 2] */
        sBprev = sB;
        sB = MPI_REQUEST_NULL;
        if (k + 1 < P) {
            const int qn = (p - k - 1 + P) % P;
            MPI_Irecv(bbuf[(k + 1) % 2], (int)(counts[2 * qn + 1] * d), MPI_FLOAT, left, TAG_B, comm, &rB);
        }
        const int incoming = clip && k >= 2;
        if (incoming) MPI_Irecv(cin, (int)(2 * nq), MPI_DOUBLE, left, TAG_STATS, comm, &rS);
        SET_BLOCK(q, Bq);
        cls_lse rows = {bm, bl}, cols = {cm, cl};
        if (!kst) kst = cls_tile_forward(&tp, rows, cols, bpos);
        for (int64_t i = 0; i < la; i++) {
            lse_join(&rm[i], &rl[i], k > 1, bm[i], bl[i]);
            if (clip ? k == P : lab[i] >= 0) pos[i] = bpos[i];
        }
        if (clip) { /* combine (incoming (+) local) for the block's columns */
            double *res = k < P ? cout : cown;
            if (k < P) ring_wait(&sS); /* cout is free again */
            if (incoming) ring_wait(&rS);
            for (int64_t j = 0; j < nq; j++) {
                res[j] = incoming ? cin[j] : cm[j];
                res[nq + j] = incoming ? cin[nq + j] : cl[j];
                if (incoming) lse_join(&res[j], &res[nq + j], 1, cm[j], cl[j]);
            }
            if (k < P) ring_isend(cout, (int)(2 * nq), MPI_DOUBLE, right, TAG_STATS, comm, &sS);
        }
    }
    ring_wait(&sS);
    ring_wait(&sBprev);
    }

    /* loss parts of this rank: [0] sum of LSE - positives (SigLIP: of softplus),
     * [1] dL/ds (SigLIP: / w), [2, 2+d) column sums of A, [2+d, 2+2d) of B,
     * [2+2d] SigLIP dL/dbeta / w */
    double *part = cls_alloc((2 * dd + 3) * sizeof(double), "loss ring sums");
    double *tot = cls_alloc((2 * dd + 3) * sizeof(double), "loss ring sums");
    if (!part || !tot) kst = kst ? kst : cls_set_error(CLS_E_NOMEM, "loss ring sums");
    if (!kst) {
        double acc = 0.0;
        for (int64_t i = 0; i < (siglip ? 0 : la); i++) acc += (rm[i] + rl[i]) - (clip ? 2.0 : 1.0) * (1.0 - e) * pos[i];
        if (clip)
            for (int64_t j = 0; j < lb; j++) acc += cown[j] + cown[lb + j];
        part[0] = acc;
        part[1] = part[2 + 2 * d] = 0.0;
        column_sums(part + 2, A, la, d);
        column_sums(part + 2 + d, Bl, lb, d);
        if (ntx) { /* sum of |z_i|^2: the self terms left out of sum_{j != i} X_ij */
            double q2 = 0.0;
            for (size_t t = 0; t < nal * dd; t++) q2 += (double)A[t] * A[t];
            part[2 + 2 * d] = q2;
        }
    }
    kst = agree(kst, p, comm); /* all ranks enter the backward, or none */

    /* ================= backward ================= */
    const int want_grads = grad_a || grad_b || siglip;
    double ssum[3] = {0.0, 0.0, 0.0};
    if (!kst && want_grads) {
        MPI_Request sC = MPI_REQUEST_NULL, sCprev = MPI_REQUEST_NULL, rC = MPI_REQUEST_NULL;
        MPI_Request sD = MPI_REQUEST_NULL, rD = MPI_REQUEST_NULL;
        sB = sBprev = rB = MPI_REQUEST_NULL;
        const int cn = clip ? 1 : 0; /* column LSE travels with the block (CLIP) */
        ring_isend(Bl, (int)(nbl * dd), MPI_FLOAT, right, TAG_B, comm, &sBprev);
        if (cn) ring_isend(cown, (int)(2 * nbl), MPI_DOUBLE, right, TAG_C, comm, &sCprev);
        MPI_Irecv(bbuf[1], (int)(counts[2 * left + 1] * d), MPI_FLOAT, left, TAG_B, comm, &rB);
        if (cn) MPI_Irecv(cblk[1], (int)(2 * counts[2 * left + 1]), MPI_DOUBLE, left, TAG_C, comm, &rC);
        cls_lse rows = {rm, rl};
        for (int k = 1; k <= P; k++) {
            const int q = k < P ? (p - k + P) % P : p;
            const int64_t nq = counts[2 * q + 1];
            const float *Bq = k < P ? bbuf[k % 2] : Bl;
            const double *cq = k < P ? cblk[k % 2] : cown;
            if (k < P) {
                ring_wait(&rB);
                ring_wait(&rC);
            }
            if (k < P - 1) {
                ring_isend(Bq, (int)(nq * d), MPI_FLOAT, right, TAG_B, comm, &sB);
                if (cn) ring_isend(cq, (int)(2 * nq), MPI_DOUBLE, right, TAG_C, comm, &sC);
            }
            ring_wait(&sBprev);
            ring_wait(&sCprev);
            sBprev = sB, sCprev = sC;
            sB = sC = MPI_REQUEST_NULL;
            if (k + 1 < P) {
                const int qn = (p - k - 1 + P) % P;
                MPI_Irecv(bbuf[(k + 1) % 2], (int)(counts[2 * qn + 1] * d), MPI_FLOAT, left, TAG_B, comm, &rB);
                if (cn) MPI_Irecv(cblk[(k + 1) % 2], (int)(2 * counts[2 * qn + 1]), MPI_DOUBLE, left, TAG_C, comm, &rC);
            }
            const int incoming = k >= 2;
            if (incoming) MPI_Irecv(dbin, (int)(nq * d), MPI_FLOAT, left, TAG_DB, comm, &rD);
            SET_BLOCK(q, Bq);
            cls_tile_weights tw;
            if (clip) {
                const double pw = k == P ? w * (1.0 - e) : 0.0;
                tw = (cls_tile_weights){w, w, 2.0 * w * e / (double)na, pw, pw};
            } else {
                tw = (cls_tile_weights){w, 0.0, w * e / (double)(ntx ? nb - 1 : nb), w * (1.0 - e), 0.0};
            }
            cls_lse cols = {(double *)cq, (double *)cq + nq}, none = {NULL, NULL};
            if (siglip) {
                double bs[3] = {0.0, 0.0, 0.0};
                if (!kst) kst = cls_siglip_block(bs, k == 1 ? gA : gtmp, dbc, A, la, Bq, nq, d, k == P, w, o);
                for (int t = 0; t < 3; t++) ssum[t] += bs[t];
            } else if (!kst) {
                kst = cls_tile_backward(&tp, &tw, rows, clip ? cols : none, k == 1 ? gA : gtmp, dbc);
            }
            if (k > 1)
                for (size_t t = 0; t < nal * dd; t++) gA[t] += gtmp[t];
            float *res = k < P ? dbout : gB;
            if (k < P) ring_wait(&sD); /* dbout is free again */
            const size_t m = (size_t)nq * dd;
            if (incoming) {
                ring_wait(&rD);
                for (size_t t = 0; t < m; t++) res[t] = dbin[t] + dbc[t];
            } else {
                memcpy(res, dbc, m * sizeof(float));
            }
            if (k < P) ring_isend(dbout, (int)m, MPI_FLOAT, right, TAG_DB, comm, &sD);
        }
        ring_wait(&sD);
        ring_wait(&sBprev);
        ring_wait(&sCprev);
        if (siglip) {
            part[0] = ssum[0];
            part[1] = ssum[2];
            part[2 + 2 * d] = ssum[1];
        } else if (!kst) {
            kst = cls_grad_scale_from(&part[1], gA, A, la, d, o->logit_scale, o->threads);
        }
    }
#undef SET_BLOCK

    /* ---- scalars: summed in rank order; outputs only once every rank succeeded ---- */
    st = agree(kst, p, comm);
    if (st == CLS_OK) st = sum_in_rank_order(tot, part, 2 * d + 3, P, comm);
    if (st == CLS_OK) {
        double sdot = 0.0;
        for (int64_t k = 0; k < d; k++) sdot += tot[2 + k] * tot[2 + d + k];
        sdot *= o->logit_scale; /* sum_ij X_ij over the global batch */
        double L = tot[0];
        if (ntx) /* sum_{i != j} X_ij = s (|sum z|^2 - sum |z|^2) */
            sdot -= o->logit_scale * tot[2 + 2 * d];
        if (e > 0.0) L -= (clip ? 2.0 * (e / (double)na) : e / (double)(ntx ? nb - 1 : nb)) * sdot;
        result->loss = w * L;
        result->grad_logit_scale = want_grads ? tot[1] : NAN;
        result->grad_bias = 0.0;
        if (siglip) {
            result->grad_logit_scale = w * tot[1] / o->logit_scale;
            result->grad_bias = w * tot[2 + 2 * d];
        }
        if (ntx && want_grads) { /* dZ = s G Z + s G^T Z: the row part plus the travelled part */
            for (size_t t = 0; t < nal * dd; t++) gA[t] += gB[t];
            gB = gA + (size_t)na_local * dd;
        }
        if (want_grads && o->normalize) {
            cls_loss_normalize_backward(gA, a_local, na_local, d, o->threads);
            cls_loss_normalize_backward(gB, b_local, nb_local, d, o->threads);
        }
        if (grad_a) memcpy(grad_a, gA, (size_t)na_local * dd * sizeof(float));
        if (grad_b) memcpy(grad_b, gB, (size_t)nb_local * dd * sizeof(float));
    }
    cls_free(part);
    cls_free(tot);
    cls_free(ws);
    cls_free(counts);
    last_stats.total_seconds = MPI_Wtime() - t_start;
    return st;
}

cls_status cls_clip_ring_compute(cls_loss_result *result, float *grad_a, float *grad_b, const float *a_local,
                                 const float *b_local, int64_t n_local, int64_t d,
                                 const cls_loss_options *options, MPI_Comm comm)
{
    cls_loss_options o;
    if (options) {
        o = *options;
        o.kind = CLS_LOSS_CLIP;
    }
    return cls_loss_ring_compute(result, grad_a, grad_b, a_local, n_local, b_local, n_local, d, NULL,
                                 options ? &o : NULL, comm);
}
