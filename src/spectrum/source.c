/* Rows for the spectrum passes: from memory (float32 or float64) or streamed
 * from a .npy file, always handed out as double chunks. */
#include "spectrum_internal.h"

#include "../core/npy_map.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cls_status spec_source_memory(spec_source *s, const float *f32, const double *f64, int64_t n,
                              int64_t d)
{
    memset(s, 0, sizeof *s);
    if (!f32 && !f64) return cls_set_error(CLS_E_INVALID_ARG, "spectrum: X is NULL");
    if (n < 2 || d < 1)
        return cls_set_error(CLS_E_SHAPE, "spectrum: X is %lld x %lld; need at least 2 rows and 1 column",
                             (long long)n, (long long)d);
    s->f32 = f32;
    s->f64 = f64;
    s->n = n;
    s->d = d;
    s->is_f32 = f32 != NULL;
    return CLS_OK;
}

cls_status spec_source_file(spec_source *s, const char *path)
{
    memset(s, 0, sizeof *s);
    if (!path) return cls_set_error(CLS_E_INVALID_ARG, "spectrum: path is NULL");
    cls_status st = cls_npy_reader_open(path, &s->reader);
    if (st) return st;
    cls_dtype dt;
    cls_npy_reader_shape(s->reader, &s->n, &s->d, &dt);
    s->is_f32 = dt == CLS_DTYPE_F32;
    s->path = path;
    if (s->n < 2 || s->d < 1) {
        st = cls_set_error(CLS_E_SHAPE, "file %s: X is %lld x %lld; need at least 2 rows and 1 column",
                           path, (long long)s->n, (long long)s->d);
        spec_source_close(s);
        return st;
    }
    /* Mapped, the passes use the rows in place: no copy out of the page
     * cache, and read-ahead instead of waiting on each chunk.
     * CLS_SPECTRUM_MAP=0 streams instead (for tests and comparisons). */
    const void *data;
    const char *env = getenv("CLS_SPECTRUM_MAP");
    if (!(env && !strcmp(env, "0")) && cls_npy_reader_map(s->reader, &data) == CLS_OK) {
        if (s->is_f32)
            s->f32 = data;
        else
            s->f64 = data;
    } else {
        cls_clear_error(); /* not mappable: stream it */
    }
    return CLS_OK;
}

void spec_source_close(spec_source *s)
{
    if (s->reader) cls_npy_reader_free(s->reader);
    s->reader = NULL;
    s->f32 = NULL;
    s->f64 = NULL;
}

/* in memory or mapped (else streamed through the reader) */
static int in_memory(const spec_source *s)
{
    return s->f32 || s->f64;
}

cls_status spec_source_rewind(spec_source *s)
{
    if (s->reader && s->f32 && s->next > s->view0)
        cls_npy_map_release(s->f32 + s->view0 * s->d, (size_t)((s->next - s->view0) * s->d) * sizeof(float));
    s->next = s->view0 = 0;
    return s->reader && !in_memory(s) ? cls_npy_reader_rewind(s->reader) : CLS_OK;
}

/* The error for element k of the rows starting at row row0 (a file's
 * message, as its streaming reader words it, when the rows are mapped). */
static cls_status nonfinite_at(const spec_source *s, int64_t row0, size_t k, double v)
{
    long long r = (long long)(row0 + (int64_t)k / s->d), c = (long long)((int64_t)k % s->d);
    const char *what = isnan(v) ? "NaN" : "Inf";
    if (s->path) return cls_set_error(CLS_E_NONFINITE, "file %s: row %lld column %lld is %s", s->path, r, c, what);
    return cls_set_error(CLS_E_NONFINITE, "X[%lld][%lld] is %s", r, c, what);
}

static cls_status nonfinite(const spec_source *s, size_t k, double v)
{
    return nonfinite_at(s, s->next, k, v);
}

cls_status spec_source_nonfinite_f32(const spec_source *s, const float *rows, int64_t m, int64_t row0)
{
    for (size_t k = 0; k < (size_t)(m * s->d); k++)
        if (!isfinite(rows[k])) return nonfinite_at(s, row0, k, rows[k]);
    return CLS_OK;
}

void spec_source_view_f32(spec_source *s, int64_t max_rows, const float **rows, int64_t *got)
{
    /* the rows handed out last time are done: out of the resident set */
    if (s->reader && s->next > s->view0)
        cls_npy_map_release(s->f32 + s->view0 * s->d, (size_t)((s->next - s->view0) * s->d) * sizeof(float));
    s->view0 = s->next;
    int64_t m = s->n - s->next;
    if (m > max_rows) m = max_rows;
    if (m < 0) m = 0;
    *rows = s->f32 + s->next * s->d;
    *got = m;
    s->next += m;
    int64_t ahead = s->n - s->next < max_rows ? s->n - s->next : max_rows;
    if (s->reader && ahead > 0) cls_npy_map_prefetch(s->f32 + s->next * s->d, (size_t)(ahead * s->d) * sizeof(float));
}

cls_status spec_source_read(spec_source *s, double *buf, int64_t max_rows, int64_t *got)
{
    *got = 0;
    if (!in_memory(s)) {
        cls_status st = cls_npy_reader_read_f64(s->reader, buf, max_rows, got);
        s->next += *got;
        return st;
    }
    int64_t m = s->n - s->next;
    if (m > max_rows) m = max_rows;
    if (m <= 0) return CLS_OK;
    size_t count = (size_t)(m * s->d), off = (size_t)(s->next * s->d);
    if (s->f32)
        for (size_t k = 0; k < count; k++) buf[k] = s->f32[off + k];
    else
        memcpy(buf, s->f64 + off, count * sizeof(double));
    for (size_t k = 0; k < count; k++)
        if (!isfinite(buf[k])) return nonfinite(s, k, buf[k]);
    s->next += m;
    *got = m;
    return CLS_OK;
}

cls_status spec_source_read_f32(spec_source *s, float *buf, int64_t max_rows, int64_t *got)
{
    *got = 0;
    if (!in_memory(s)) {
        cls_status st = cls_npy_reader_read_f32(s->reader, buf, max_rows, got);
        s->next += *got;
        return st;
    }
    if (!s->f32) return cls_set_error(CLS_E_INVALID_ARG, "spectrum: float32 rows requested from float64 data");
    int64_t m = s->n - s->next;
    if (m > max_rows) m = max_rows;
    if (m <= 0) return CLS_OK;
    size_t count = (size_t)(m * s->d), off = (size_t)(s->next * s->d);
    memcpy(buf, s->f32 + off, count * sizeof(float));
    int bad = 0;
    for (size_t k = 0; k < count; k++) bad |= !isfinite(buf[k]);
    if (bad)
        for (size_t k = 0; k < count; k++)
            if (!isfinite(buf[k])) return nonfinite(s, k, buf[k]);
    s->next += m;
    *got = m;
    return CLS_OK;
}

int64_t spec_chunk_rows(const cls_spectrum_options *opt, int64_t d)
{
    if (opt && opt->chunk_rows > 0) return opt->chunk_rows;
    int64_t rows = ((int64_t)32 << 20) / (8 * d);
    if (rows < 64) rows = 64;
    /* multiples of the float block keep the ssyrk blocks full */
    if (rows > 1024) rows -= rows % 1024;
    return rows;
}

int64_t spec_chunk_rows_f32(int64_t d)
{
    int64_t rows = ((int64_t)32 << 20) / (4 * d);
    if (rows < 64) rows = 64;
    if (rows > 4096) rows = 4096; /* the float32 block limit (covariance.c) */
    return rows;
}
