/* Finite-N online SGD of the contrastive model, one independent rng stream
 * per seed so that OpenMP over seeds gives the same bits on any thread count. */
#include "dynamics_internal.h"
#include "../../core/internal.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

/* Draw an index of a discrete law by inversion of its cumulative sum. */
static double draw_law(const cls_dynamics_law *law, cls_rng *rng)
{
    double u = cls_rng_uniform(rng), acc = 0.0;
    for (int i = 0; i < law->n - 1; i++) {
        acc += law->prob[i];
        if (u < acc) return law->value[i];
    }
    return law->value[law->n - 1];
}

/* Build the K weight vectors (w[k*N + i]) so that the order parameters are
 * exactly (Q0, R0): feature coordinates Q0 sqrt(N); the background part is a
 * Gaussian K-frame, orthonormalised (Gram-Schmidt, twice), mixed by
 * (R0 - Q0^T Q0)^(1/2) and scaled by sqrt(N). */
static cls_status init_weights(const cls_dynamics_model *m, int64_t N, const double *Q0, const double *R0,
                               cls_rng *rng, double *w, double *u /* K x (N-p) scratch */)
{
    const int K = m->K, p = m->p;
    const int64_t nb = N - p;
    const double sN = sqrt((double)N);
    double A[CLS_DYNAMICS_MAX_K * CLS_DYNAMICS_MAX_K] = {0}, L[CLS_DYNAMICS_MAX_K * CLS_DYNAMICS_MAX_K], mn;
    for (int k = 0; k < K; k++)
        for (int l = 0; l < K; l++) {
            double a = R0[k * K + l];
            for (int j = 0; j < p; j++) a -= Q0[j * K + k] * Q0[j * K + l];
            A[k * K + l] = a;
        }
    cls_status st = cls_dynamics_sym_sqrt(K, A, L, &mn);
    if (st) return st;
    for (int k = 0; k < K; k++) {
        double *uk = u + k * nb;
        cls_rng_fill_normal_f64(rng, uk, nb);
        for (int pass = 0; pass < 2; pass++)
            for (int l = 0; l < k; l++) {
                const double *ul = u + l * nb;
                double d = 0.0;
                for (int64_t i = 0; i < nb; i++) d += uk[i] * ul[i];
                for (int64_t i = 0; i < nb; i++) uk[i] -= d * ul[i];
            }
        double nn = 0.0;
        for (int64_t i = 0; i < nb; i++) nn += uk[i] * uk[i];
        nn = 1.0 / sqrt(nn);
        for (int64_t i = 0; i < nb; i++) uk[i] *= nn;
    }
    for (int k = 0; k < K; k++) {
        double *wk = w + k * N;
        for (int j = 0; j < p; j++) wk[j] = Q0[j * K + k] * sN;
        for (int64_t i = 0; i < nb; i++) {
            double s = 0.0;
            for (int l = 0; l < K; l++) s += L[k * K + l] * u[l * nb + i];
            wk[p + i] = sN * s;
        }
    }
    return CLS_OK;
}

static void record(const cls_dynamics_model *m, int64_t N, const double *w, double *Q, double *R)
{
    const int K = m->K, p = m->p;
    const double sN = sqrt((double)N);
    for (int j = 0; j < p; j++)
        for (int k = 0; k < K; k++) Q[j * K + k] = w[k * N + j] / sN;
    for (int k = 0; k < K; k++)
        for (int l = 0; l <= k; l++) {
            double s = 0.0;
            for (int64_t i = 0; i < N; i++) s += w[k * N + i] * w[l * N + i];
            R[k * K + l] = R[l * K + k] = s / (double)N;
        }
}

/* One trajectory; buf holds K*N (w) + 3N (x1, x2, xi') + K*(N-p) doubles. */
static cls_status run_one(const cls_dynamics_model *m, int64_t N, const double *Q0, const double *R0, int n_rec,
                          double every, cls_rng *rng, double *buf, double *Qs, double *Rs)
{
    const int K = m->K, p = m->p;
    double *w = buf, *x1 = w + (size_t)K * N, *x2 = x1 + N, *xi = x2 + N, *u = xi + N;
    cls_status st = init_weights(m, N, Q0, R0, rng, w, u);
    if (st) return st;
    const double isN = 1.0 / sqrt((double)N), decay = 1.0 - m->tau * m->mu / (double)N;
    const double step = m->tau * isN, eps = m->eps, rho = m->rho, lam = m->lambda;
    const double rho_perp = sqrt(fmax(0.0, 1.0 - rho * rho));
    const int noisy = eps > 0.0, two_noises = noisy && rho_perp > 0.0;
    int64_t t = 0;
    for (int r = 0; r < n_rec; r++) {
        int64_t target = llround((double)r * every * (double)N);
        for (; t < target; t++) {
            for (int j = 0; j < p; j++) x1[j] = draw_law(&m->law[j], rng);
            cls_rng_fill_normal_f64(rng, x1 + p, N - p);
            if (noisy) {
                /* x2 first takes xi(1), then both views get their noise */
                cls_rng_fill_normal_f64(rng, x2, N);
                if (two_noises) cls_rng_fill_normal_f64(rng, xi, N);
                for (int64_t i = 0; i < N; i++) {
                    double a = x1[i], e1 = x2[i];
                    double e2 = rho * e1 + (two_noises ? rho_perp * xi[i] : 0.0);
                    x1[i] = a + eps * e1;
                    x2[i] = a + eps * e2;
                }
            }
            const double *v2 = noisy ? x2 : x1;
            double h1[CLS_DYNAMICS_MAX_K], h2[CLS_DYNAMICS_MAX_K], s1[CLS_DYNAMICS_MAX_K], s2[CLS_DYNAMICS_MAX_K];
            double G1[CLS_DYNAMICS_MAX_K], G2[CLS_DYNAMICS_MAX_K], sq1 = 0.0, sq2 = 0.0;
            for (int k = 0; k < K; k++) {
                const double *wk = w + (size_t)k * N;
                double a = 0.0, b = 0.0;
                if (noisy) {
                    for (int64_t i = 0; i < N; i++) a += wk[i] * x1[i], b += wk[i] * x2[i];
                } else {
                    for (int64_t i = 0; i < N; i++) a += wk[i] * x1[i];
                    b = a;
                }
                h1[k] = a * isN, h2[k] = b * isN;
                s1[k] = tanh(h1[k]), s2[k] = tanh(h2[k]);
                sq1 += s1[k] * s1[k], sq2 += s2[k] * s2[k];
            }
            for (int k = 0; k < K; k++) {
                double B1 = sq1 - s1[k] * s1[k], B2 = sq2 - s2[k] * s2[k];
                G1[k] = (1.0 - s1[k] * s1[k]) * (s2[k] - lam * s1[k] * B2);
                G2[k] = (1.0 - s2[k] * s2[k]) * (s1[k] - lam * s2[k] * B1);
            }
            for (int k = 0; k < K; k++) {
                double *wk = w + (size_t)k * N;
                const double a = step * G1[k], b = step * G2[k];
                for (int64_t i = 0; i < N; i++) wk[i] = decay * wk[i] + a * x1[i] + b * v2[i];
            }
        }
        record(m, N, w, Qs + (size_t)r * p * K, Rs + (size_t)r * K * K);
        for (int i = 0; i < K * K; i++)
            if (!isfinite(Rs[(size_t)r * K * K + i]))
                return cls_set_error(CLS_E_NUMERIC, "SGD diverged (non-finite weights) at t = %g", r * every);
    }
    return CLS_OK;
}

cls_status cls_dynamics_sgd_run(const cls_dynamics_model *m, int64_t N, const double *Q0, const double *R0, double T,
                           double every, int seeds, uint64_t seed, int threads, double *Q_out, double *R_out,
                           cls_dynamics_progress_fn progress, void *progress_ctx)
{
    cls_status st = cls_dynamics_model_check(m);
    if (st) return st;
    if (!Q0 || !R0 || !Q_out || !R_out) return cls_set_error(CLS_E_INVALID_ARG, "SGD: NULL argument");
    if (m->K >= N) return cls_set_error(CLS_E_INVALID_ARG, "K = %d must be smaller than N = %lld", m->K, (long long)N);
    if (m->p >= N) return cls_set_error(CLS_E_INVALID_ARG, "p = %d must be smaller than N = %lld", m->p, (long long)N);
    if (N - m->p < m->K)
        return cls_set_error(CLS_E_INVALID_ARG, "N - p = %lld background coordinates cannot hold K = %d units",
                             (long long)(N - m->p), m->K);
    if (N > ((int64_t)1 << 31)) return cls_set_error(CLS_E_INVALID_ARG, "N = %lld is too large", (long long)N);
    if (seeds < 1) return cls_set_error(CLS_E_INVALID_ARG, "seeds = %d must be >= 1", seeds);
    int n_rec = cls_dynamics_n_records(T, every);
    if (n_rec < 1) return cls_set_error(CLS_E_INVALID_ARG, "SGD: T = %g and every = %g give no records", T, every);
    if ((st = cls_dynamics_check_state(m, Q0, R0))) return st;
    const int K = m->K, p = m->p;
    const size_t per_q = (size_t)n_rec * p * K, per_r = (size_t)n_rec * K * K;
    double *Qt = cls_alloc(sizeof(double) * per_q * (size_t)seeds, "SGD Q records");
    double *Rt = cls_alloc(sizeof(double) * per_r * (size_t)seeds, "SGD R records");
    if (!Qt || !Rt) {
        cls_free(Qt), cls_free(Rt);
        return CLS_E_NOMEM;
    }
    const size_t buf_n = (size_t)K * N + 3 * (size_t)N + (size_t)K * (N - p);
    int nt = cls_threads_resolve(threads);
    if (nt > seeds) nt = seeds;
    cls_status first = CLS_OK;
    char first_msg[256] = "";
    int done = 0;
#pragma omp parallel num_threads(nt)
    {
        double *buf = cls_alloc(sizeof(double) * buf_n, "SGD buffers");
#pragma omp for schedule(dynamic, 1)
        for (int s = 0; s < seeds; s++) {
            cls_status e = CLS_OK;
            if (!buf) e = CLS_E_NOMEM;
            else {
                cls_rng rng;
                cls_rng_seed_stream(&rng, seed, (uint64_t)s);
                e = run_one(m, N, Q0, R0, n_rec, every, &rng, buf, Qt + per_q * s, Rt + per_r * s);
            }
#pragma omp critical /* unnamed: a named one exports a .gomp_critical_user_ symbol */
            {
                if (e && first == CLS_OK) {
                    first = e;
                    snprintf(first_msg, sizeof first_msg, "seed %d: %s", s, cls_last_error());
                }
                done++;
                if (progress) progress(progress_ctx, (double)done / seeds);
            }
        }
        cls_free(buf);
    }
    if (first) {
        cls_free(Qt), cls_free(Rt);
        return cls_set_error(first, "%s", first_msg);
    }
    memcpy(Q_out, Qt, sizeof(double) * per_q * (size_t)seeds);
    memcpy(R_out, Rt, sizeof(double) * per_r * (size_t)seeds);
    cls_free(Qt), cls_free(Rt);
    return CLS_OK;
}

cls_status cls_dynamics_sgd_summary(const cls_dynamics_model *m, int64_t n_rec, int64_t seeds,
                                    const double *Q, const double *R, int use_abs,
                                    double *cos_mean, double *cos_sd, double *r_mean)
{
    if (!m || !Q || !R || n_rec < 1 || seeds < 1)
        return cls_set_error(CLS_E_INVALID_ARG, "dynamics summary: NULL array, n_rec = %lld or seeds = %lld",
                             (long long)n_rec, (long long)seeds);
    const int p = m->p, K = m->K, pK = p * K, KK = K * K;
    if (p < 1 || K < 1 || p > CLS_DYNAMICS_MAX_P || K > CLS_DYNAMICS_MAX_K)
        return cls_set_error(CLS_E_INVALID_ARG, "dynamics summary: p = %d, K = %d out of range", p, K);
    const size_t nq = (size_t)n_rec * (size_t)pK, nr = (size_t)n_rec * (size_t)KK;
    double c[CLS_DYNAMICS_MAX_P * CLS_DYNAMICS_MAX_K], col[CLS_DYNAMICS_MAX_P * CLS_DYNAMICS_MAX_K];
    for (int64_t r = 0; r < n_rec; r++) {
        /* two passes over the seeds: mean, then centred squares */
        for (int i = 0; i < pK; i++) col[i] = 0.0;
        for (int64_t s = 0; s < seeds; s++) {
            cls_dynamics_cosines(p, K, Q + (size_t)s * nq + (size_t)r * pK, R + (size_t)s * nr + (size_t)r * KK, c);
            for (int i = 0; i < pK; i++) col[i] += use_abs ? fabs(c[i]) : c[i];
        }
        for (int i = 0; i < pK; i++) col[i] /= (double)seeds;
        if (cos_mean)
            for (int i = 0; i < pK; i++) cos_mean[(size_t)r * pK + i] = col[i];
        if (cos_sd) {
            double ss[CLS_DYNAMICS_MAX_P * CLS_DYNAMICS_MAX_K] = {0};
            for (int64_t s = 0; s < seeds; s++) {
                cls_dynamics_cosines(p, K, Q + (size_t)s * nq + (size_t)r * pK, R + (size_t)s * nr + (size_t)r * KK, c);
                for (int i = 0; i < pK; i++) {
                    double d = (use_abs ? fabs(c[i]) : c[i]) - col[i];
                    ss[i] += d * d;
                }
            }
            for (int i = 0; i < pK; i++)
                cos_sd[(size_t)r * pK + i] = seeds > 1 ? sqrt(ss[i] / (double)(seeds - 1)) : 0.0;
        }
        if (r_mean)
            for (int i = 0; i < KK; i++) {
                double sr = 0.0;
                for (int64_t s = 0; s < seeds; s++) sr += R[(size_t)s * nr + (size_t)r * KK + i];
                r_mean[(size_t)r * KK + i] = sr / (double)seeds;
            }
    }
    return CLS_OK;
}
