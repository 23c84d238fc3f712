/* CSV tables (RFC 4180 with the usual tolerances).
 *
 * A header row names the columns; fields may be quoted ("a, b" and "" for a
 * literal quote, newlines allowed inside quotes); CRLF and LF line ends are
 * both accepted; a UTF-8 byte-order mark is skipped; blank lines are ignored.
 * Every data row must have as many fields as the header. Cells stay text until
 * a column is converted: cls_csv_column_f64 names the line and the column of
 * the first cell that is empty or not a finite number. */
#ifndef CLSCALE_CSV_H
#define CLSCALE_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "clscale.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cls_csv cls_csv;

/* Parse a whole CSV text of `len` bytes (need not be NUL-terminated). `name`
 * is used in error messages (e.g. the file name; NULL gives "csv"). */
CLS_API cls_status cls_csv_parse(const char *text, size_t len, const char *name, cls_csv **out);

/* Read and parse a file. */
CLS_API cls_status cls_csv_read_file(const char *path, cls_csv **out);

/* Release a table; NULL is a no-op. */
CLS_API void cls_csv_free(cls_csv *csv);

/* Number of data rows (the header excluded) and of columns. */
CLS_API int64_t cls_csv_rows(const cls_csv *csv);
CLS_API int64_t cls_csv_cols(const cls_csv *csv);

/* Name of column `col` (NULL when out of range). */
CLS_API const char *cls_csv_header(const cls_csv *csv, int64_t col);

/* Index of the column called `name` (exact match). On failure sets an error
 * that lists the columns the file has and returns CLS_E_INVALID_ARG. */
CLS_API cls_status cls_csv_column_index(const cls_csv *csv, const char *name, int64_t *col);

/* Text of a cell (unquoted; NULL when out of range) and the 1-based line of
 * the file on which data row `row` starts (the header is usually line 1). */
CLS_API const char *cls_csv_cell(const cls_csv *csv, int64_t row, int64_t col);
CLS_API int64_t cls_csv_line(const cls_csv *csv, int64_t row);

/* Select the rows that pass every filter "COL=VALUE" (text equality) or
 * "COL!=VALUE". `rows` must hold cls_csv_rows(csv) entries; the selected row
 * indices are written in order and their count to *count. A malformed filter
 * or an unknown column is CLS_E_INVALID_ARG. */
CLS_API cls_status cls_csv_select(const cls_csv *csv, const char *const *filters, int nfilters,
                          int64_t *rows, int64_t *count);

/* Convert column `name` at the given rows (rows == NULL: all rows, n must be
 * cls_csv_rows) to doubles. Leading/trailing blanks are ignored; an empty,
 * non-numeric or non-finite cell is CLS_E_FORMAT with a message naming the
 * file, the line and the column. `out` is untouched on failure. */
CLS_API cls_status cls_csv_column_f64(const cls_csv *csv, const char *name, const int64_t *rows,
                              int64_t n, double *out);

#ifdef __cplusplus
}
#endif

#endif
