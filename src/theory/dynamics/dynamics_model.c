/* Discrete laws of the feature strengths, the model's parameters and the
 * initial state: construction and validation. */
#include "dynamics_internal.h"
#include "../../core/internal.h"

#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cls_status cls_dynamics_law_check(const cls_dynamics_law *law, const char *name)
{
    if (!law) return cls_set_error(CLS_E_INVALID_ARG, "%s: law is NULL", name);
    if (law->n < 1 || law->n > CLS_DYNAMICS_LAW_MAX)
        return cls_set_error(CLS_E_INVALID_ARG, "%s: law has %d values (must be 1..%d)", name, law->n,
                             CLS_DYNAMICS_LAW_MAX);
    double sum = 0.0;
    for (int i = 0; i < law->n; i++) {
        if (!isfinite(law->value[i]))
            return cls_set_error(CLS_E_INVALID_ARG, "%s: value[%d] is not finite", name, i);
        if (!isfinite(law->prob[i]) || law->prob[i] < 0.0)
            return cls_set_error(CLS_E_INVALID_ARG, "%s: probability[%d] = %g is negative or not finite",
                                 name, i, law->prob[i]);
        sum += law->prob[i];
    }
    if (fabs(sum - 1.0) > 1e-9)
        return cls_set_error(CLS_E_INVALID_ARG, "%s: probabilities sum to %.12g, not 1", name, sum);
    return CLS_OK;
}

double cls_dynamics_law_moment(const cls_dynamics_law *law, int k)
{
    double m = 0.0;
    for (int i = 0; i < law->n; i++) m += law->prob[i] * pow(law->value[i], k);
    return m;
}

cls_status cls_dynamics_law_rademacher(cls_dynamics_law *law, double m2)
{
    if (!law) return cls_set_error(CLS_E_INVALID_ARG, "law is NULL");
    if (!(m2 > 0.0) || !isfinite(m2))
        return cls_set_error(CLS_E_INVALID_ARG, "rademacher: m2 = %g must be > 0", m2);
    cls_dynamics_law l = {0};
    l.n = 2;
    l.value[0] = -sqrt(m2), l.value[1] = sqrt(m2);
    l.prob[0] = l.prob[1] = 0.5;
    *law = l;
    return CLS_OK;
}

cls_status cls_dynamics_law_sparse(cls_dynamics_law *law, double m2, double s)
{
    if (!law) return cls_set_error(CLS_E_INVALID_ARG, "law is NULL");
    if (!(m2 > 0.0) || !isfinite(m2))
        return cls_set_error(CLS_E_INVALID_ARG, "sparse: m2 = %g must be > 0", m2);
    if (!(s > 0.0 && s <= 1.0))
        return cls_set_error(CLS_E_INVALID_ARG, "sparse: s = %g must be in (0, 1]", s);
    cls_dynamics_law l = {0};
    double a = sqrt(m2 / s);
    l.n = 3;
    l.value[0] = -a, l.value[1] = 0.0, l.value[2] = a;
    l.prob[0] = l.prob[2] = 0.5 * s;
    l.prob[1] = 1.0 - s;
    *law = l;
    return CLS_OK;
}

cls_status cls_dynamics_law_table(cls_dynamics_law *law, int n, const double *value, const double *prob)
{
    if (!law || !value || !prob) return cls_set_error(CLS_E_INVALID_ARG, "table: NULL argument");
    if (n < 1 || n > CLS_DYNAMICS_LAW_MAX)
        return cls_set_error(CLS_E_INVALID_ARG, "table: %d values (must be 1..%d)", n, CLS_DYNAMICS_LAW_MAX);
    cls_dynamics_law l = {0};
    l.n = n;
    for (int i = 0; i < n; i++) l.value[i] = value[i], l.prob[i] = prob[i];
    cls_status st = cls_dynamics_law_check(&l, "table");
    if (st) return st;
    *law = l;
    return CLS_OK;
}

/* Strict double from [s, end): the whole span must be consumed. */
static int parse_number(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end = NULL;
    double v = cls_strtod_c(buf, &end); /* '.' whatever the locale */
    if (end != buf + len || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

/* "key=value,key=value" -> m2 and s (s optional). */
static cls_status parse_params(const char *text, const char *kind, double *m2, double *s)
{
    const char *p = text;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq) return cls_set_error(CLS_E_INVALID_ARG, "law '%s': expected key=value in '%s'", kind, text);
        size_t klen = (size_t)(eq - p);
        double v;
        if (!parse_number(eq + 1, len - klen - 1, &v))
            return cls_set_error(CLS_E_INVALID_ARG, "law '%s': bad number in '%.*s'", kind, (int)len, p);
        if (klen == 2 && strncmp(p, "m2", 2) == 0) *m2 = v;
        else if (klen == 1 && p[0] == 's' && s) *s = v;
        else return cls_set_error(CLS_E_INVALID_ARG, "law '%s': unknown parameter '%.*s'", kind, (int)klen, p);
        p += len;
        if (*p == ',') p++;
    }
    return CLS_OK;
}

cls_status cls_dynamics_law_parse(cls_dynamics_law *law, const char *text)
{
    if (!law || !text) return cls_set_error(CLS_E_INVALID_ARG, "law text is NULL");
    if (strncmp(text, "rademacher", 10) == 0 && (text[10] == ':' || text[10] == 0)) {
        double m2 = 1.0;
        cls_status st = text[10] ? parse_params(text + 11, "rademacher", &m2, NULL) : CLS_OK;
        return st ? st : cls_dynamics_law_rademacher(law, m2);
    }
    if (strncmp(text, "sparse", 6) == 0 && (text[6] == ':' || text[6] == 0)) {
        double m2 = 1.0, s = 0.2;
        cls_status st = text[6] ? parse_params(text + 7, "sparse", &m2, &s) : CLS_OK;
        return st ? st : cls_dynamics_law_sparse(law, m2, s);
    }
    if (strncmp(text, "table:", 6) == 0) {
        double v[CLS_DYNAMICS_LAW_MAX], pr[CLS_DYNAMICS_LAW_MAX];
        int n = 0;
        const char *p = text + 6;
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            /* the value may be negative, so split at the LAST ':' of the entry */
            const char *colon = NULL;
            for (const char *q = p; q < p + len; q++)
                if (*q == ':') colon = q;
            if (!colon)
                return cls_set_error(CLS_E_INVALID_ARG, "law 'table': entry '%.*s' is not value:probability",
                                     (int)len, p);
            if (n == CLS_DYNAMICS_LAW_MAX)
                return cls_set_error(CLS_E_INVALID_ARG, "law 'table': more than %d entries", CLS_DYNAMICS_LAW_MAX);
            if (!parse_number(p, (size_t)(colon - p), &v[n]) ||
                !parse_number(colon + 1, len - (size_t)(colon - p) - 1, &pr[n]))
                return cls_set_error(CLS_E_INVALID_ARG, "law 'table': bad number in '%.*s'", (int)len, p);
            n++;
            p += len;
            if (*p == ',') p++;
        }
        if (n == 0) return cls_set_error(CLS_E_INVALID_ARG, "law 'table': no entries");
        return cls_dynamics_law_table(law, n, v, pr);
    }
    return cls_set_error(CLS_E_INVALID_ARG,
                         "unknown law '%s' (expected rademacher:m2=M, sparse:m2=M,s=S or table:v:p,...)", text);
}

void cls_dynamics_model_init(cls_dynamics_model *m)
{
    if (!m) return; /* NULL is a no-op, like every _init */
    memset(m, 0, sizeof *m);
    m->K = 1, m->p = 1;
    m->tau = 0.5, m->mu = 1.0, m->eps = 0.0, m->rho = 0.0, m->lambda = 1.0;
    for (int j = 0; j < CLS_DYNAMICS_MAX_P; j++) cls_dynamics_law_rademacher(&m->law[j], 2.0);
}

cls_status cls_dynamics_model_check(const cls_dynamics_model *m)
{
    if (!m) return cls_set_error(CLS_E_INVALID_ARG, "model is NULL");
    if (m->K < 1 || m->K > CLS_DYNAMICS_MAX_K)
        return cls_set_error(CLS_E_INVALID_ARG, "K = %d must be in 1..%d", m->K, CLS_DYNAMICS_MAX_K);
    if (m->p < 1 || m->p > CLS_DYNAMICS_MAX_P)
        return cls_set_error(CLS_E_INVALID_ARG, "p = %d must be in 1..%d", m->p, CLS_DYNAMICS_MAX_P);
    if (!(m->tau > 0.0) || !isfinite(m->tau)) return cls_set_error(CLS_E_INVALID_ARG, "tau = %g must be > 0", m->tau);
    if (!(m->mu >= 0.0) || !isfinite(m->mu)) return cls_set_error(CLS_E_INVALID_ARG, "mu = %g must be >= 0", m->mu);
    if (!(m->eps >= 0.0) || !isfinite(m->eps))
        return cls_set_error(CLS_E_INVALID_ARG, "eps = %g must be >= 0", m->eps);
    if (!(fabs(m->rho) <= 1.0)) return cls_set_error(CLS_E_INVALID_ARG, "rho = %g must be in [-1, 1]", m->rho);
    if (!(m->lambda >= 0.0) || !isfinite(m->lambda))
        return cls_set_error(CLS_E_INVALID_ARG, "lambda = %g must be >= 0", m->lambda);
    int64_t combos = 1;
    for (int j = 0; j < m->p; j++) {
        char name[32];
        snprintf(name, sizeof name, "law of feature %d", j + 1);
        cls_status st = cls_dynamics_law_check(&m->law[j], name);
        if (st) return st;
        combos *= m->law[j].n;
    }
    if (combos > CLS_DYNAMICS_MAX_COMBOS)
        return cls_set_error(CLS_E_INVALID_ARG, "the feature laws have %lld value combinations (at most %d)",
                             (long long)combos, CLS_DYNAMICS_MAX_COMBOS);
    return CLS_OK;
}

int cls_dynamics_n_records(double T, double every)
{
    if (!(T >= 0.0) || !(every > 0.0) || !isfinite(T) || !isfinite(every)) return 0;
    double n = floor(T / every + 1e-9) + 1.0;
    if (n > 1e7) return 0;
    return (int)n;
}

void cls_dynamics_initial_state(const cls_dynamics_model *m, double q0, double r0, double *Q0, double *R0)
{
    int K = m->K, p = m->p;
    for (int j = 0; j < p; j++)
        for (int k = 0; k < K; k++) Q0[j * K + k] = (j == k % p) ? q0 : 0.0;
    for (int k = 0; k < K; k++)
        for (int l = 0; l < K; l++) R0[k * K + l] = (k == l) ? r0 : 0.0;
}

cls_status cls_dynamics_sym_sqrt(int K, const double *A, double *out, double *min_eig)
{
    if (K == 1) {
        *min_eig = A[0];
        out[0] = sqrt(A[0] > 0.0 ? A[0] : 0.0);
        return CLS_OK;
    }
    double V[CLS_DYNAMICS_MAX_K * CLS_DYNAMICS_MAX_K], w[CLS_DYNAMICS_MAX_K];
    memcpy(V, A, sizeof(double) * K * K);
    lapack_int info = LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', K, V, K, w);
    if (info != 0) return cls_set_error(CLS_E_NUMERIC, "dsyev failed (info %d) on a %dx%d covariance", (int)info, K, K);
    *min_eig = w[0];
    for (int a = 0; a < K; a++)
        for (int b = 0; b < K; b++) {
            double s = 0.0;
            for (int e = 0; e < K; e++) s += V[a * K + e] * sqrt(w[e] > 0.0 ? w[e] : 0.0) * V[b * K + e];
            out[a * K + b] = s;
        }
    return CLS_OK;
}

cls_status cls_dynamics_check_state(const cls_dynamics_model *m, const double *Q, const double *R)
{
    int K = m->K, p = m->p;
    cls_status st = cls_check_finite_f64(Q, p, K, "Q");
    if (st) return st;
    if ((st = cls_check_finite_f64(R, K, K, "R"))) return st;
    double A[CLS_DYNAMICS_MAX_K * CLS_DYNAMICS_MAX_K], S[CLS_DYNAMICS_MAX_K * CLS_DYNAMICS_MAX_K], mn;
    for (int k = 0; k < K; k++)
        for (int l = 0; l < K; l++) {
            if (fabs(R[k * K + l] - R[l * K + k]) > 1e-12 * (1.0 + fabs(R[k * K + l])))
                return cls_set_error(CLS_E_INVALID_ARG, "R is not symmetric at [%d][%d]", k, l);
            double a = R[k * K + l];
            for (int j = 0; j < p; j++) a -= Q[j * K + k] * Q[j * K + l];
            A[k * K + l] = a;
        }
    if ((st = cls_dynamics_sym_sqrt(K, A, S, &mn))) return st;
    double scale = 0.0;
    for (int k = 0; k < K; k++) scale = fmax(scale, R[k * K + k]);
    if (mn < -1e-12 * (1.0 + scale))
        return cls_set_error(CLS_E_INVALID_ARG,
                             "initial state: R - Q^T Q has eigenvalue %g < 0 (for K = p = 1: r0 must be >= q0^2)", mn);
    return CLS_OK;
}

void cls_dynamics_cosines(int p, int K, const double *Q, const double *R, double *cos_out)
{
    for (int j = 0; j < p; j++)
        for (int k = 0; k < K; k++) {
            double r = R[k * K + k];
            cos_out[j * K + k] = r > 0.0 ? Q[j * K + k] / sqrt(r) : 0.0;
        }
}
