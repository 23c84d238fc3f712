/* Paired features for two-tower training (--pairs A.npy B.npy). */
#include "clscale/data.h"
#include "clscale/npy.h"

#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"

void cls_pairs_free(cls_pairs *p)
{
    if (!p) return;
    free(p->a);
    free(p->b);
    memset(p, 0, sizeof *p);
}

cls_status cls_pairs_load(cls_pairs *out, const char *path_a, const char *path_b)
{
    if (!out || !path_a || !path_b) return cls_set_error(CLS_E_INVALID_ARG, "pairs: NULL argument");
    memset(out, 0, sizeof *out);
    int64_t na, nb;
    cls_status st = cls_npy_load_matrix_f32(path_a, &out->a, &na, &out->da);
    if (st) return cls_error_context(st, "pairs %s", path_a);
    st = cls_npy_load_matrix_f32(path_b, &out->b, &nb, &out->db);
    if (st) {
        cls_pairs_free(out);
        return cls_error_context(st, "pairs %s", path_b);
    }
    if (na != nb) {
        cls_pairs_free(out);
        return cls_set_error(CLS_E_SHAPE, "pairs: %s has %lld rows but %s has %lld", path_a,
                             (long long)na, path_b, (long long)nb);
    }
    if (na < 2) {
        cls_pairs_free(out);
        return cls_set_error(CLS_E_SHAPE, "pairs: %s has %lld rows, need at least 2", path_a,
                             (long long)na);
    }
    out->n = na;
    if ((st = cls_check_finite_f32(out->a, na, out->da, path_a)) ||
        (st = cls_check_finite_f32(out->b, nb, out->db, path_b))) {
        cls_pairs_free(out);
        return st;
    }
    return CLS_OK;
}
