/* .npy reading and writing (format versions 1.0, 2.0 and 3.0).
 *
 * Layout: "\x93NUMPY", major, minor, header length (uint16 for v1, uint32
 * for v2/v3, little-endian), then an ASCII (v3: UTF-8) Python dict literal
 * {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } padded with
 * spaces and ended by '\n', then the raw data. */
#include "internal.h"
#include "npy_map.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAX_HEADER (1u << 20) /* far beyond any real header */

typedef struct {
    cls_dtype dtype;
    int ndim;
    int64_t shape[CLS_NPY_MAX_DIMS];
    int64_t count;
    int64_t data_offset;
    size_t data_bytes;
} npy_header;

struct cls_npy_reader {
    FILE *f;
    char *path;
    npy_header h;
    int64_t rows, cols, next_row;
    void *map;      /* cls_npy_reader_map: the whole file, read-only */
    size_t map_len;
};

size_t cls_dtype_size(cls_dtype dtype)
{
    switch (dtype) {
    case CLS_DTYPE_F32: return 4;
    case CLS_DTYPE_F64: return 8;
    case CLS_DTYPE_I32: return 4;
    case CLS_DTYPE_I64: return 8;
    }
    return 0;
}

const char *cls_dtype_name(cls_dtype dtype)
{
    switch (dtype) {
    case CLS_DTYPE_F32: return "float32";
    case CLS_DTYPE_F64: return "float64";
    case CLS_DTYPE_I32: return "int32";
    case CLS_DTYPE_I64: return "int64";
    }
    return "unknown";
}

static const char *dtype_descr(cls_dtype dtype)
{
    switch (dtype) {
    case CLS_DTYPE_F32: return "<f4";
    case CLS_DTYPE_F64: return "<f8";
    case CLS_DTYPE_I32: return "<i4";
    case CLS_DTYPE_I64: return "<i8";
    }
    return "?";
}

void cls_array_free(cls_array *array)
{
    if (!array) return;
    free(array->data);
    array->data = NULL;
}

/* Find the value text after 'key': in the header dict; NULL if absent. */
static const char *dict_value(const char *dict, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "'%s'", key);
    const char *p = strstr(dict, pattern);
    if (!p) {
        snprintf(pattern, sizeof pattern, "\"%s\"", key);
        p = strstr(dict, pattern);
    }
    if (!p) return NULL;
    p += strlen(pattern);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

static cls_status parse_dict(const char *path, const char *dict, npy_header *h)
{
    const char *v = dict_value(dict, "descr");
    if (!v || (*v != '\'' && *v != '"'))
        return cls_set_error(CLS_E_FORMAT, "file %s: header has no 'descr' string", path);
    char quote = *v++;
    char descr[32];
    size_t k = 0;
    while (*v && *v != quote && k + 1 < sizeof descr) descr[k++] = *v++;
    descr[k] = '\0';
    if (*v != quote)
        return cls_set_error(CLS_E_FORMAT, "file %s: unterminated or overlong 'descr'", path);
    /* '|' (not applicable) is fine only for 1-byte types, which we refuse anyway. */
    if (descr[0] == '>')
        return cls_set_error(CLS_E_DTYPE, "file %s: big-endian arrays ('%s') are not supported; "
                             "save with dtype '<%s'", path, descr, descr + 1);
    const char *t = (descr[0] == '<' || descr[0] == '=') ? descr + 1 : descr;
    if (strcmp(t, "f4") == 0) h->dtype = CLS_DTYPE_F32;
    else if (strcmp(t, "f8") == 0) h->dtype = CLS_DTYPE_F64;
    else if (strcmp(t, "i4") == 0) h->dtype = CLS_DTYPE_I32;
    else if (strcmp(t, "i8") == 0) h->dtype = CLS_DTYPE_I64;
    else
        return cls_set_error(CLS_E_DTYPE, "file %s: dtype '%s' is not supported "
                             "(use float32, float64, int32 or int64)", path, descr);

    v = dict_value(dict, "fortran_order");
    if (!v) return cls_set_error(CLS_E_FORMAT, "file %s: header has no 'fortran_order'", path);
    if (strncmp(v, "True", 4) == 0)
        return cls_set_error(CLS_E_FORMAT, "file %s: fortran_order arrays are not supported "
                             "(save a C-ordered array: np.ascontiguousarray)", path);
    if (strncmp(v, "False", 5) != 0)
        return cls_set_error(CLS_E_FORMAT, "file %s: bad 'fortran_order' value", path);

    v = dict_value(dict, "shape");
    if (!v || *v != '(') return cls_set_error(CLS_E_FORMAT, "file %s: header has no 'shape' tuple", path);
    v++;
    h->ndim = 0;
    h->count = 1;
    for (;;) {
        while (*v == ' ') v++;
        if (*v == ')') break;
        if (!isdigit((unsigned char)*v))
            return cls_set_error(CLS_E_FORMAT, "file %s: bad 'shape' entry", path);
        if (h->ndim == CLS_NPY_MAX_DIMS)
            return cls_set_error(CLS_E_FORMAT, "file %s: more than %d dimensions", path, CLS_NPY_MAX_DIMS);
        errno = 0;
        char *end;
        long long dim = strtoll(v, &end, 10);
        if (errno || dim < 0 || dim > ((int64_t)1 << 48))
            return cls_set_error(CLS_E_FORMAT, "file %s: absurd dimension in 'shape'", path);
        h->shape[h->ndim++] = dim;
        if (dim != 0 && h->count > INT64_MAX / dim)
            return cls_set_error(CLS_E_FORMAT, "file %s: shape has too many elements", path);
        h->count *= dim;
        v = end;
        while (*v == ' ') v++;
        if (*v == ',') v++;
        else if (*v != ')') return cls_set_error(CLS_E_FORMAT, "file %s: bad 'shape' tuple", path);
    }
    size_t esz = cls_dtype_size(h->dtype);
    if ((uint64_t)h->count > SIZE_MAX / esz)
        return cls_set_error(CLS_E_FORMAT, "file %s: shape has too many elements", path);
    h->data_bytes = (size_t)h->count * esz;
    return CLS_OK;
}

/* total: the size of the whole stream in bytes when known (an in-memory buffer);
 * -1 to ask fstat (a regular file) or skip the size check (a pipe). */
static cls_status read_header(FILE *f, const char *path, int64_t total, npy_header *h)
{
    unsigned char pre[10];
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return cls_set_error(CLS_E_FORMAT, "file %s: not a .npy file (bad magic)", path);
    int major = pre[6];
    uint32_t hlen;
    int64_t prefix;
    if (major == 1) {
        if (fread(pre + 8, 1, 2, f) != 2)
            return cls_set_error(CLS_E_FORMAT, "file %s: truncated header", path);
        hlen = (uint32_t)pre[8] | ((uint32_t)pre[9] << 8);
        prefix = 10;
    } else if (major == 2 || major == 3) {
        unsigned char l[4];
        if (fread(l, 1, 4, f) != 4)
            return cls_set_error(CLS_E_FORMAT, "file %s: truncated header", path);
        hlen = (uint32_t)l[0] | ((uint32_t)l[1] << 8) | ((uint32_t)l[2] << 16) | ((uint32_t)l[3] << 24);
        prefix = 12;
    } else {
        return cls_set_error(CLS_E_FORMAT, "file %s: unsupported .npy version %d.%d", path, major, pre[7]);
    }
    if (hlen == 0 || hlen > NPY_MAX_HEADER)
        return cls_set_error(CLS_E_FORMAT, "file %s: absurd header length %u", path, hlen);
    char *dict = malloc(hlen + 1);
    if (!dict) return cls_set_error(CLS_E_NOMEM, "file %s: cannot allocate header", path);
    if (fread(dict, 1, hlen, f) != hlen) {
        free(dict);
        return cls_set_error(CLS_E_FORMAT, "file %s: truncated header", path);
    }
    dict[hlen] = '\0';
    if (memchr(dict, '\0', hlen)) {
        free(dict);
        return cls_set_error(CLS_E_FORMAT, "file %s: header contains a NUL byte", path);
    }
    cls_status st = parse_dict(path, dict, h);
    free(dict);
    if (st) return st;
    h->data_offset = prefix + hlen;

    struct stat sb;
    if (total < 0 && fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode)) total = (int64_t)sb.st_size;
    if (total >= 0) {
        uint64_t size = (uint64_t)total;
        uint64_t have = size - (uint64_t)h->data_offset;
        if (size < (uint64_t)h->data_offset || have < h->data_bytes)
            return cls_set_error(CLS_E_FORMAT, "file %s: truncated: shape needs %zu data bytes, "
                                 "file holds %llu", path, h->data_bytes,
                                 (unsigned long long)(size < (uint64_t)h->data_offset ? 0 : have));
        if (have > h->data_bytes)
            return cls_set_error(CLS_E_FORMAT, "file %s: %llu unexpected bytes after the data", path,
                                 (unsigned long long)(have - h->data_bytes));
    }
    return CLS_OK;
}

static FILE *open_read(const char *path)
{
    if (!path) {
        cls_set_error(CLS_E_INVALID_ARG, "no file name given");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        char msg[128];
        cls_set_error(CLS_E_IO, "file %s: %s", path, cls_errno_string(errno, msg, sizeof msg));
    }
    return f;
}

/* A read-only stream over size bytes at data (named name in messages). */
static FILE *open_buffer(const void *data, size_t size, const char *name)
{
    if (!data || size == 0) {
        cls_set_error(CLS_E_FORMAT, "file %s: not a .npy file (empty)", name);
        return NULL;
    }
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f) {
        char msg[128];
        cls_set_error(CLS_E_NOMEM, "file %s: cannot open memory stream: %s", name,
                      cls_errno_string(errno, msg, sizeof msg));
    }
    return f;
}

/* Read a whole array from f (which load_stream closes). */
static cls_status load_stream(FILE *f, const char *path, int64_t total, cls_array *out)
{
    npy_header h;
    cls_status st = read_header(f, path, total, &h);
    if (st) {
        fclose(f);
        return st;
    }
    void *data = malloc(h.data_bytes ? h.data_bytes : 1);
    if (!data) {
        fclose(f);
        return cls_set_error(CLS_E_NOMEM, "file %s: cannot allocate %zu bytes", path, h.data_bytes);
    }
    if (fread(data, 1, h.data_bytes, f) != h.data_bytes) {
        free(data);
        fclose(f);
        return cls_set_error(CLS_E_FORMAT, "file %s: truncated data", path);
    }
    fclose(f);
    out->dtype = h.dtype;
    out->ndim = h.ndim;
    memcpy(out->shape, h.shape, sizeof h.shape);
    out->count = h.count;
    out->data = data;
    return CLS_OK;
}

cls_status cls_npy_load(const char *path, cls_array *out)
{
    if (!out) return cls_set_error(CLS_E_INVALID_ARG, "cls_npy_load: out is NULL");
    if (!path) return cls_set_error(CLS_E_INVALID_ARG, "no file name given");
    FILE *f = open_read(path);
    if (!f) return CLS_E_IO;
    return load_stream(f, path, -1, out);
}

cls_status cls_npy_load_buffer(const void *data, size_t size, const char *name, cls_array *out)
{
    if (!out) return cls_set_error(CLS_E_INVALID_ARG, "cls_npy_load_buffer: out is NULL");
    if (!name) name = "<memory>";
    FILE *f = open_buffer(data, size, name);
    if (!f) return data && size ? CLS_E_NOMEM : CLS_E_FORMAT;
    return load_stream(f, name, (int64_t)size, out);
}

static cls_status load_matrix(const char *path, cls_array *a, int64_t *rows, int64_t *cols)
{
    cls_status st = cls_npy_load(path, a);
    if (st) return st;
    if (a->ndim != 2) {
        int nd = a->ndim;
        cls_array_free(a);
        return cls_set_error(CLS_E_SHAPE, "file %s: expected a 2-D array (rows x dim), got %d-D", path, nd);
    }
    if (a->dtype != CLS_DTYPE_F32 && a->dtype != CLS_DTYPE_F64) {
        cls_dtype dt = a->dtype;
        cls_array_free(a);
        return cls_set_error(CLS_E_DTYPE, "file %s: expected float32 or float64, got %s", path, cls_dtype_name(dt));
    }
    *rows = a->shape[0];
    *cols = a->shape[1];
    return CLS_OK;
}

cls_status cls_npy_load_matrix_f32(const char *path, float **out, int64_t *rows, int64_t *cols)
{
    cls_array a;
    int64_t r = 0, c = 0;
    cls_status st = load_matrix(path, &a, &r, &c);
    if (st) return st;
    float *x;
    if (a.dtype == CLS_DTYPE_F32) {
        x = a.data;
    } else {
        x = malloc((size_t)(a.count ? a.count : 1) * sizeof *x);
        if (!x) {
            cls_array_free(&a);
            return cls_set_error(CLS_E_NOMEM, "file %s: cannot allocate float32 copy", path);
        }
        const double *src = a.data;
        for (int64_t k = 0; k < a.count; k++) x[k] = (float)src[k];
        cls_array_free(&a);
    }
    *out = x;
    *rows = r;
    *cols = c;
    return CLS_OK;
}

cls_status cls_npy_load_matrix_f64(const char *path, double **out, int64_t *rows, int64_t *cols)
{
    cls_array a;
    int64_t r = 0, c = 0;
    cls_status st = load_matrix(path, &a, &r, &c);
    if (st) return st;
    double *x;
    if (a.dtype == CLS_DTYPE_F64) {
        x = a.data;
    } else {
        x = malloc((size_t)(a.count ? a.count : 1) * sizeof *x);
        if (!x) {
            cls_array_free(&a);
            return cls_set_error(CLS_E_NOMEM, "file %s: cannot allocate float64 copy", path);
        }
        const float *src = a.data;
        for (int64_t k = 0; k < a.count; k++) x[k] = src[k];
        cls_array_free(&a);
    }
    *out = x;
    *rows = r;
    *cols = c;
    return CLS_OK;
}

cls_status cls_npy_load_vector_i64(const char *path, int64_t **out, int64_t *n)
{
    cls_array a;
    cls_status st = cls_npy_load(path, &a);
    if (st) return st;
    if (a.ndim != 1) {
        int nd = a.ndim;
        cls_array_free(&a);
        return cls_set_error(CLS_E_SHAPE, "file %s: expected a 1-D integer array, got %d-D", path, nd);
    }
    if (a.dtype == CLS_DTYPE_I64) {
        *out = a.data;
    } else if (a.dtype == CLS_DTYPE_I32) {
        int64_t *x = malloc((size_t)(a.count ? a.count : 1) * sizeof *x);
        if (!x) {
            cls_array_free(&a);
            return cls_set_error(CLS_E_NOMEM, "file %s: cannot allocate int64 copy", path);
        }
        const int32_t *src = a.data;
        for (int64_t k = 0; k < a.count; k++) x[k] = src[k];
        cls_array_free(&a);
        *out = x;
    } else {
        cls_dtype dt = a.dtype;
        cls_array_free(&a);
        return cls_set_error(CLS_E_DTYPE, "file %s: expected int64 or int32, got %s", path, cls_dtype_name(dt));
    }
    *n = a.shape[0];
    return CLS_OK;
}

cls_status cls_npy_save(const char *path, cls_dtype dtype, int ndim, const int64_t *shape, const void *data)
{
    if (!path) return cls_set_error(CLS_E_INVALID_ARG, "no file name given");
    if (ndim < 0 || ndim > CLS_NPY_MAX_DIMS)
        return cls_set_error(CLS_E_INVALID_ARG, "file %s: bad number of dimensions %d", path, ndim);
    if (cls_dtype_size(dtype) == 0) return cls_set_error(CLS_E_DTYPE, "file %s: bad dtype", path);
    char dict[512];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", dtype_descr(dtype));
    uint64_t count = 1;
    for (int k = 0; k < ndim; k++) {
        if (shape[k] < 0) return cls_set_error(CLS_E_INVALID_ARG, "file %s: negative dimension", path);
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%lld%s", (long long)shape[k],
                        ndim == 1 ? "," : (k + 1 < ndim ? ", " : ""));
        count *= (uint64_t)shape[k];
    }
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    /* Pad so that magic + version + length + dict + '\n' is a multiple of 64. */
    int total = 10 + len + 1;
    int pad = (64 - total % 64) % 64;
    int hlen = len + pad + 1;

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) return cls_set_error(CLS_E_NOMEM, "file %s: cannot allocate", path);
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        cls_status st = cls_set_error(CLS_E_IO, "file %s: %s", path, cls_errno_string(errno, (char[128]){0}, 128));
        free(tmp);
        return st;
    }
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)len, f) == (size_t)len;
    for (int k = 0; ok && k < pad; k++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    size_t bytes = (size_t)count * cls_dtype_size(dtype);
    ok = ok && (bytes == 0 || fwrite(data, 1, bytes, f) == bytes);
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        cls_status st = cls_set_error(CLS_E_IO, "file %s: write failed: %s", path, cls_errno_string(errno, (char[128]){0}, 128));
        remove(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    return CLS_OK;
}

cls_status cls_npy_save_matrix_f32(const char *path, const float *data, int64_t rows, int64_t cols)
{
    int64_t shape[2] = {rows, cols};
    return cls_npy_save(path, CLS_DTYPE_F32, 2, shape, data);
}

cls_status cls_npy_save_matrix_f64(const char *path, const double *data, int64_t rows, int64_t cols)
{
    int64_t shape[2] = {rows, cols};
    return cls_npy_save(path, CLS_DTYPE_F64, 2, shape, data);
}

/* Wrap stream f (closed on failure) in a reader named path. */
static cls_status reader_from_stream(FILE *f, const char *path, int64_t total, cls_npy_reader **out)
{
    cls_npy_reader *r = calloc(1, sizeof *r);
    if (!r) {
        fclose(f);
        return cls_set_error(CLS_E_NOMEM, "file %s: cannot allocate reader", path);
    }
    r->f = f;
    r->path = strdup(path);
    cls_status st = r->path ? read_header(f, path, total, &r->h) : cls_set_error(CLS_E_NOMEM, "out of memory");
    if (!st && r->h.ndim != 2)
        st = cls_set_error(CLS_E_SHAPE, "file %s: expected a 2-D array (rows x dim), got %d-D", path, r->h.ndim);
    if (!st && r->h.dtype != CLS_DTYPE_F32 && r->h.dtype != CLS_DTYPE_F64)
        st = cls_set_error(CLS_E_DTYPE, "file %s: expected float32 or float64, got %s", path,
                           cls_dtype_name(r->h.dtype));
    if (st) {
        cls_npy_reader_free(r);
        return st;
    }
    r->rows = r->h.shape[0];
    r->cols = r->h.shape[1];
    *out = r;
    return CLS_OK;
}

cls_status cls_npy_reader_open(const char *path, cls_npy_reader **out)
{
    if (!out) return cls_set_error(CLS_E_INVALID_ARG, "cls_npy_reader_open: out is NULL");
    if (!path) return cls_set_error(CLS_E_INVALID_ARG, "no file name given");
    FILE *f = open_read(path);
    if (!f) return CLS_E_IO;
    return reader_from_stream(f, path, -1, out);
}

cls_status cls_npy_reader_open_buffer(const void *data, size_t size, const char *name, cls_npy_reader **out)
{
    if (!out) return cls_set_error(CLS_E_INVALID_ARG, "cls_npy_reader_open_buffer: out is NULL");
    if (!name) name = "<memory>";
    FILE *f = open_buffer(data, size, name);
    if (!f) return data && size ? CLS_E_NOMEM : CLS_E_FORMAT;
    return reader_from_stream(f, name, (int64_t)size, out);
}

void cls_npy_reader_shape(const cls_npy_reader *r, int64_t *rows, int64_t *cols, cls_dtype *dtype)
{
    if (rows) *rows = r->rows;
    if (cols) *cols = r->cols;
    if (dtype) *dtype = r->h.dtype;
}

/* The error for the first non-finite value, element k of the rows just read. */
static cls_status nonfinite_at(const cls_npy_reader *r, size_t k, int is_nan)
{
    return cls_set_error(CLS_E_NONFINITE, "file %s: row %lld column %lld is %s", r->path,
                         (long long)(r->next_row + (int64_t)k / r->cols), (long long)((int64_t)k % r->cols),
                         is_nan ? "NaN" : "Inf");
}

cls_status cls_npy_reader_read_f64(cls_npy_reader *r, double *buf, int64_t max_rows, int64_t *got)
{
    *got = 0;
    int64_t want = r->rows - r->next_row;
    if (want > max_rows) want = max_rows;
    if (want <= 0) return CLS_OK;
    size_t n = (size_t)(want * r->cols);
    if (r->h.dtype == CLS_DTYPE_F64) {
        if (fread(buf, sizeof(double), n, r->f) != n)
            return cls_set_error(CLS_E_FORMAT, "file %s: truncated data at row %lld", r->path,
                                 (long long)r->next_row);
    } else {
        /* Convert in place from the back so float32 data fits in the same buffer. */
        float *fbuf = (float *)buf;
        if (fread(fbuf, sizeof(float), n, r->f) != n)
            return cls_set_error(CLS_E_FORMAT, "file %s: truncated data at row %lld", r->path,
                                 (long long)r->next_row);
        for (size_t k = n; k-- > 0;) buf[k] = fbuf[k];
    }
    for (size_t k = 0; k < n; k++)
        if (!isfinite(buf[k])) return nonfinite_at(r, k, isnan(buf[k]));
    r->next_row += want;
    *got = want;
    return CLS_OK;
}

cls_status cls_npy_reader_read_f32(cls_npy_reader *r, float *buf, int64_t max_rows, int64_t *got)
{
    *got = 0;
    if (r->h.dtype != CLS_DTYPE_F32)
        return cls_set_error(CLS_E_UNSUPPORTED, "file %s: cls_npy_reader_read_f32 needs float32 data, the file holds %s",
                             r->path, cls_dtype_name(r->h.dtype));
    int64_t want = r->rows - r->next_row;
    if (want > max_rows) want = max_rows;
    if (want <= 0) return CLS_OK;
    size_t n = (size_t)(want * r->cols);
    if (fread(buf, sizeof(float), n, r->f) != n)
        return cls_set_error(CLS_E_FORMAT, "file %s: truncated data at row %lld", r->path, (long long)r->next_row);
    /* branch-free scan for NaN/Inf (all exponent bits set), then locate the first */
    uint32_t bad = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t u;
        memcpy(&u, buf + k, sizeof u);
        bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
    }
    if (bad)
        for (size_t k = 0; k < n; k++)
            if (!isfinite(buf[k])) return nonfinite_at(r, k, isnan(buf[k]));
    r->next_row += want;
    *got = want;
    return CLS_OK;
}

cls_status cls_npy_reader_rewind(cls_npy_reader *r)
{
    if (fseeko(r->f, (off_t)r->h.data_offset, SEEK_SET) != 0)
        return cls_set_error(CLS_E_IO, "file %s: cannot seek: %s", r->path, cls_errno_string(errno, (char[128]){0}, 128));
    r->next_row = 0;
    return CLS_OK;
}

cls_status cls_npy_reader_seek(cls_npy_reader *r, int64_t row)
{
    if (row < 0 || row > r->rows)
        return cls_set_error(CLS_E_INVALID_ARG, "file %s: row %lld is outside [0, %lld]", r->path, (long long)row,
                             (long long)r->rows);
    const off_t at = (off_t)r->h.data_offset + (off_t)row * (off_t)r->cols * (off_t)cls_dtype_size(r->h.dtype);
    if (fseeko(r->f, at, SEEK_SET) != 0)
        return cls_set_error(CLS_E_IO, "file %s: cannot seek: %s", r->path, cls_errno_string(errno, (char[128]){0}, 128));
    r->next_row = row;
    return CLS_OK;
}

cls_status cls_npy_reader_map(cls_npy_reader *r, const void **data)
{
    *data = NULL;
    if (!r->map) {
        struct stat sb;
        int fd = fileno(r->f); /* -1 for a buffer reader (fmemopen) */
        size_t need = (size_t)r->h.data_offset + (size_t)(r->rows * r->cols) * cls_dtype_size(r->h.dtype);
        /* a short file would fault (SIGBUS) on access: let the streaming reader
         * report it; data not aligned to its element size (a crafted header
         * length) would make misaligned float/double pointers: stream those too */
        if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size < need || need == 0 ||
            r->h.data_offset % (int64_t)cls_dtype_size(r->h.dtype) != 0)
            return cls_set_error(CLS_E_UNSUPPORTED, "file %s: cannot be mapped", r->path);
        void *m = mmap(NULL, need, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED)
            return cls_set_error(CLS_E_UNSUPPORTED, "file %s: cannot be mapped: %s", r->path,
                                 cls_errno_string(errno, (char[128]){0}, 128));
        r->map = m;
        r->map_len = need;
    }
    *data = (const char *)r->map + r->h.data_offset;
    return CLS_OK;
}

void cls_npy_map_prefetch(const void *p, size_t bytes)
{
    /* whole pages around [p, p + bytes); advice only, failures do not matter */
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p, b = a + bytes;
    if (page <= 0 || bytes == 0) return;
    a -= a % (uintptr_t)page;
    (void)madvise((void *)a, (size_t)(b - a), MADV_WILLNEED);
}

void cls_npy_map_release(const void *p, size_t bytes)
{
    /* whole pages inside [p, p + bytes); a page dropped from a read-only
     * private mapping is faulted in again from the page cache if touched */
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p, b = a + bytes;
    if (page <= 0 || bytes == 0) return;
    a += ((uintptr_t)page - a % (uintptr_t)page) % (uintptr_t)page;
    b -= b % (uintptr_t)page;
    if (b > a) (void)madvise((void *)a, (size_t)(b - a), MADV_DONTNEED);
}

void cls_npy_reader_free(cls_npy_reader *r)
{
    if (!r) return;
    if (r->map) munmap(r->map, r->map_len);
    if (r->f) fclose(r->f);
    free(r->path);
    free(r);
}
