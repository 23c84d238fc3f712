/* Internal helpers shared by the lab's files (not installed). */
#ifndef CLS_LAB_INTERNAL_H
#define CLS_LAB_INTERNAL_H

#include "clscale/lab.h"

#include <stdio.h>

#include <cJSON.h>

#include "../core/internal.h"

/* Read a whole file into a malloc'd NUL-terminated buffer. */
cls_status lab_read_file(const char *path, char **text, size_t *len);
/* Write len bytes to path atomically: path.tmp, fsync-free flush, rename. */
cls_status lab_write_file_atomic(const char *path, const char *text, size_t len);
/* mkdir -p (existing directories are fine). */
cls_status lab_mkdir(const char *path);
/* malloc'd "a/b". */
char *lab_path(const char *dir, const char *name);
/* 1 if path exists. */
int lab_exists(const char *path);

/* Column `name` of a CSV as doubles (out: one per row), parsed by the core's
 * cls_csv_column_f64 ('.' is the decimal point whatever the locale; errors
 * name the file, line and column); empty cells are NaN when empty_ok. */
cls_status lab_csv_column(const cls_csv *csv, const char *name, int empty_ok, double *out);
/* snprintf of one number with '.' as the decimal point whatever LC_NUMERIC
 * the host program set (fmt has one double conversion); returns buf. */
const char *lab_fmt_num(char *buf, size_t len, const char *fmt, double v);

/* The measurements of a record (params, samples_seen, flops ... seconds) as
 * members of the JSON object o, each number through num (which writes null
 * for NaN): record.json and summary.json's runs. */
void lab_record_json_measurements(cJSON *o, const cls_lab_record *r, cJSON *(*num)(double));
/* Record <-> JSON (record.json of a run; eigenvalues included). */
cls_status lab_record_save_json(const cls_lab_record *r, const char *path);
cls_status lab_record_load_eig(cls_lab_record *r, const char *path);


/* 1 if the analysis fits this run (finished, C, N, D, loss and probe error > 0). */
int lab_record_fittable(const cls_lab_record *r);
/* The compute frontier of points (C[i], y[i]) as the analysis fits it: the
 * points no cheaper (or equally cheap) point beats, by increasing C, into
 * fc, fy (n each); returns their count (-1: out of memory). */
int64_t lab_frontier(const double *C, const double *y, int64_t n, double *fc, double *fy);

/* A relative cost of a spec (for the ETA): steps-equivalent x width terms. */
double lab_spec_cost(const cls_lab_spec *s);

#endif
