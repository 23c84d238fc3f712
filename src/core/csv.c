/* CSV reader: one pass over the text into a flat buffer of NUL-terminated
 * cells (header first), so a table is two allocations plus the line index. */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cls_csv {
    char name[256];
    int64_t rows, cols;
    char *text;        /* all cells, each NUL-terminated */
    size_t *cell;      /* (rows + 1) * cols offsets into text; row 0 = header */
    int64_t *line;     /* rows + 1 line numbers (1-based) */
};

/* Growable arrays used while parsing. */
typedef struct {
    char *text;
    size_t text_len, text_cap;
    size_t *cell;
    size_t ncell, cell_cap;
    int64_t *line;
    size_t nline, line_cap;
} csv_builder;

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 1;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return 0;
    *p = q;
    *cap = c;
    return 1;
}

static int put_char(csv_builder *b, char c)
{
    if (!grow((void **)&b->text, &b->text_cap, b->text_len + 1, 1)) return 0;
    b->text[b->text_len++] = c;
    return 1;
}

static int start_cell(csv_builder *b)
{
    if (!grow((void **)&b->cell, &b->cell_cap, b->ncell + 1, sizeof(size_t))) return 0;
    b->cell[b->ncell++] = b->text_len;
    return 1;
}

static int start_row(csv_builder *b, int64_t line)
{
    if (!grow((void **)&b->line, &b->line_cap, b->nline + 1, sizeof(int64_t))) return 0;
    b->line[b->nline++] = line;
    return 1;
}

static void builder_free(csv_builder *b)
{
    free(b->text);
    free(b->cell);
    free(b->line);
}

cls_status cls_csv_parse(const char *text, size_t len, const char *name, cls_csv **out)
{
    if (!out) return cls_set_error(CLS_E_INVALID_ARG, "csv: out is NULL");
    if (!text && len) return cls_set_error(CLS_E_INVALID_ARG, "csv: text is NULL");
    if (!name) name = "csv";
    csv_builder b = {0};
    size_t i = 0;
    int64_t line = 1, cols = -1;
    if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
        (unsigned char)text[2] == 0xBF)
        i = 3;
    cls_status st = CLS_OK;
    while (i < len) {
        /* Blank lines (also a final newline) carry no record. */
        if (text[i] == '\n' || text[i] == '\r') {
            if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n') i++;
            i++;
            line++;
            continue;
        }
        int64_t row_line = line, nfields = 0;
        if (!start_row(&b, row_line)) goto nomem;
        for (;;) { /* one field per iteration */
            if (!start_cell(&b)) goto nomem;
            nfields++;
            if (i < len && text[i] == '"') {
                int64_t quote_line = line;
                i++;
                for (;;) {
                    if (i >= len) {
                        st = cls_set_error(CLS_E_FORMAT,
                                           "%s: line %lld: unterminated quoted field (field %lld "
                                           "of the record starting on line %lld)",
                                           name, (long long)quote_line, (long long)nfields,
                                           (long long)row_line);
                        goto fail;
                    }
                    char c = text[i];
                    if (c == '"') {
                        if (i + 1 < len && text[i + 1] == '"') {
                            if (!put_char(&b, '"')) goto nomem;
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    if (c == '\n') line++;
                    if (!put_char(&b, c)) goto nomem;
                    i++;
                }
                /* After the closing quote only a separator or a line end may follow. */
                if (i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                    st = cls_set_error(CLS_E_FORMAT,
                                       "%s: line %lld: unexpected character '%c' after the closing "
                                       "quote of field %lld",
                                       name, (long long)line, text[i], (long long)nfields);
                    goto fail;
                }
            } else {
                while (i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
                    if (text[i] == '"') {
                        st = cls_set_error(CLS_E_FORMAT,
                                           "%s: line %lld: stray quote inside unquoted field %lld",
                                           name, (long long)line, (long long)nfields);
                        goto fail;
                    }
                    if (!put_char(&b, text[i])) goto nomem;
                    i++;
                }
            }
            if (!put_char(&b, '\0')) goto nomem;
            if (i < len && text[i] == ',') {
                i++;
                continue;
            }
            break; /* line end or end of text */
        }
        if (i < len) { /* consume the line end */
            if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n') i++;
            i++;
            line++;
        }
        if (cols < 0) {
            cols = nfields;
        } else if (nfields != cols) {
            st = cls_set_error(CLS_E_FORMAT, "%s: line %lld has %lld fields, the header has %lld",
                               name, (long long)row_line, (long long)nfields, (long long)cols);
            goto fail;
        }
    }
    if (cols < 0) {
        st = cls_set_error(CLS_E_FORMAT, "%s: no header row (the file is empty)", name);
        goto fail;
    }
    cls_csv *t = calloc(1, sizeof *t);
    if (!t) goto nomem;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->cols = cols;
    t->rows = (int64_t)b.nline - 1;
    t->text = b.text ? b.text : calloc(1, 1);
    t->cell = b.cell;
    t->line = b.line;
    if (!t->text) {
        free(t);
        goto nomem;
    }
    *out = t;
    return CLS_OK;
nomem:
    st = cls_set_error(CLS_E_NOMEM, "%s: out of memory while parsing", name);
fail:
    builder_free(&b);
    return st;
}

cls_status cls_csv_read_file(const char *path, cls_csv **out)
{
    if (!path || !out) return cls_set_error(CLS_E_INVALID_ARG, "csv: path or out is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return cls_set_error(CLS_E_IO, "cannot open %s: %s", path, cls_errno_string(errno, (char[128]){0}, 128));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return cls_set_error(CLS_E_NOMEM, "out of memory reading %s", path);
    }
    for (;;) {
        if (len == cap) {
            char *q = realloc(buf, cap * 2);
            if (!q) {
                free(buf);
                fclose(f);
                return cls_set_error(CLS_E_NOMEM, "out of memory reading %s", path);
            }
            buf = q;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return cls_set_error(CLS_E_IO, "error reading %s", path);
    }
    cls_status st = cls_csv_parse(buf, len, path, out);
    free(buf);
    return st;
}

void cls_csv_free(cls_csv *csv)
{
    if (!csv) return;
    free(csv->text);
    free(csv->cell);
    free(csv->line);
    free(csv);
}

int64_t cls_csv_rows(const cls_csv *csv) { return csv ? csv->rows : 0; }
int64_t cls_csv_cols(const cls_csv *csv) { return csv ? csv->cols : 0; }

const char *cls_csv_header(const cls_csv *csv, int64_t col)
{
    if (!csv || col < 0 || col >= csv->cols) return NULL;
    return csv->text + csv->cell[col];
}

const char *cls_csv_cell(const cls_csv *csv, int64_t row, int64_t col)
{
    if (!csv || row < 0 || row >= csv->rows || col < 0 || col >= csv->cols) return NULL;
    return csv->text + csv->cell[(size_t)(row + 1) * (size_t)csv->cols + (size_t)col];
}

int64_t cls_csv_line(const cls_csv *csv, int64_t row)
{
    if (!csv || row < 0 || row >= csv->rows) return 0;
    return csv->line[row + 1];
}

cls_status cls_csv_column_index(const cls_csv *csv, const char *name, int64_t *col)
{
    if (!csv || !name || !col) return cls_set_error(CLS_E_INVALID_ARG, "csv: NULL argument");
    for (int64_t j = 0; j < csv->cols; j++)
        if (strcmp(cls_csv_header(csv, j), name) == 0) {
            *col = j;
            return CLS_OK;
        }
    char list[512];
    size_t used = 0;
    list[0] = '\0';
    for (int64_t j = 0; j < csv->cols && used + 4 < sizeof list; j++) {
        int w = snprintf(list + used, sizeof list - used, "%s'%s'", j ? ", " : "",
                         cls_csv_header(csv, j));
        if (w < 0) break;
        used += (size_t)w;
        if (used >= sizeof list) used = sizeof list - 1;
    }
    return cls_set_error(CLS_E_INVALID_ARG, "%s: no column '%s' (the columns are %s)",
                         csv->name, name, list);
}

cls_status cls_csv_select(const cls_csv *csv, const char *const *filters, int nfilters,
                          int64_t *rows, int64_t *count)
{
    if (!csv || !rows || !count || (nfilters > 0 && !filters))
        return cls_set_error(CLS_E_INVALID_ARG, "csv select: NULL argument");
    int64_t *fcol = malloc(sizeof(int64_t) * (size_t)(nfilters > 0 ? nfilters : 1));
    int *fneg = malloc(sizeof(int) * (size_t)(nfilters > 0 ? nfilters : 1));
    const char **fval = malloc(sizeof(char *) * (size_t)(nfilters > 0 ? nfilters : 1));
    char **fname = calloc((size_t)(nfilters > 0 ? nfilters : 1), sizeof(char *));
    cls_status st = CLS_OK;
    if (!fcol || !fneg || !fval || !fname) {
        st = cls_set_error(CLS_E_NOMEM, "csv select: out of memory");
        goto done;
    }
    for (int k = 0; k < nfilters; k++) {
        const char *f = filters[k];
        const char *eq = f ? strchr(f, '=') : NULL;
        if (!eq || eq == f || (eq == f + 1 && f[0] == '!')) {
            st = cls_set_error(CLS_E_INVALID_ARG,
                               "filter '%s' is not of the form COL=VALUE or COL!=VALUE",
                               f ? f : "(null)");
            goto done;
        }
        fneg[k] = eq[-1] == '!';
        size_t nlen = (size_t)(eq - f) - (size_t)fneg[k];
        fname[k] = strndup(f, nlen);
        if (!fname[k]) {
            st = cls_set_error(CLS_E_NOMEM, "csv select: out of memory");
            goto done;
        }
        fval[k] = eq + 1;
        st = cls_csv_column_index(csv, fname[k], &fcol[k]);
        if (st) goto done;
    }
    int64_t n = 0;
    for (int64_t r = 0; r < csv->rows; r++) {
        int keep = 1;
        for (int k = 0; k < nfilters && keep; k++) {
            int eq = strcmp(cls_csv_cell(csv, r, fcol[k]), fval[k]) == 0;
            keep = fneg[k] ? !eq : eq;
        }
        if (keep) rows[n++] = r;
    }
    *count = n;
done:
    if (fname)
        for (int k = 0; k < nfilters; k++) free(fname[k]);
    free(fname);
    free(fcol);
    free(fneg);
    free(fval);
    return st;
}

/* Strict conversion of one cell: blanks around the number are allowed, nothing
 * else; NaN and infinities are refused (a measurement table has no use for them). */
static int parse_cell(const char *s, double *v)
{
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return 0;
    char *end;
    errno = 0;
    double x = cls_strtod_c(s, &end); /* '.' whatever the locale */
    if (end == s) return 0;
    while (*end == ' ' || *end == '\t') end++;
    if (*end || !isfinite(x)) return 0;
    *v = x;
    return 1;
}

cls_status cls_csv_column_f64(const cls_csv *csv, const char *name, const int64_t *rows,
                              int64_t n, double *out)
{
    if (!csv || !name || (n > 0 && !out))
        return cls_set_error(CLS_E_INVALID_ARG, "csv column: NULL argument");
    if (!rows && n != csv->rows)
        return cls_set_error(CLS_E_INVALID_ARG, "csv column: n = %lld but the table has %lld rows",
                             (long long)n, (long long)csv->rows);
    int64_t col;
    cls_status st = cls_csv_column_index(csv, name, &col);
    if (st) return st;
    /* Validate everything first so `out` stays untouched on failure. */
    for (int64_t k = 0; k < n; k++) {
        int64_t r = rows ? rows[k] : k;
        if (r < 0 || r >= csv->rows)
            return cls_set_error(CLS_E_INVALID_ARG, "csv column: row index %lld out of range",
                                 (long long)r);
        double v;
        const char *cell = cls_csv_cell(csv, r, col);
        if (!parse_cell(cell, &v)) {
            if (!cell[0])
                return cls_set_error(CLS_E_FORMAT, "%s: line %lld, column '%s': empty cell",
                                     csv->name, (long long)cls_csv_line(csv, r), name);
            return cls_set_error(CLS_E_FORMAT,
                                 "%s: line %lld, column '%s': '%.40s' is not a finite number",
                                 csv->name, (long long)cls_csv_line(csv, r), name, cell);
        }
    }
    for (int64_t k = 0; k < n; k++) parse_cell(cls_csv_cell(csv, rows ? rows[k] : k, col), &out[k]);
    return CLS_OK;
}
