/* Run records: runs.csv (atomic rewrite), record.json per run, small file helpers. */
#define _GNU_SOURCE
#include "lab_internal.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

cls_status lab_read_file(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return cls_set_error(CLS_E_IO, "%s: cannot open (%s)", path, cls_errno_string(errno, (char[128]){0}, 128));
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 65536) {
            char *p = realloc(buf, cap + 65536 + 1);
            if (!p) {
                free(buf);
                fclose(f);
                return cls_set_error(CLS_E_NOMEM, "%s: out of memory", path);
            }
            buf = p;
            cap += 65536;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return cls_set_error(CLS_E_IO, "%s: read error", path);
    }
    buf[n] = 0;
    *text = buf;
    *len = n;
    return CLS_OK;
}

cls_status lab_write_file_atomic(const char *path, const char *text, size_t len)
{
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (!tmp) return cls_set_error(CLS_E_NOMEM, "%s: out of memory", path);
    snprintf(tmp, pl + 16, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        cls_status st = cls_set_error(CLS_E_IO, "%s: cannot create (%s)", tmp, cls_errno_string(errno, (char[128]){0}, 128));
        free(tmp);
        return st;
    }
    size_t w = fwrite(text, 1, len, f);
    int bad = w != len;
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0 && errno != EINVAL;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        cls_status st = cls_set_error(CLS_E_IO, "%s: cannot write (%s)", path, cls_errno_string(errno, (char[128]){0}, 128));
        unlink(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    return CLS_OK;
}

static cls_status mkdir_one(const char *path)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return CLS_OK;
        return cls_set_error(CLS_E_IO, "%s: exists and is not a directory", path);
    }
    return cls_set_error(CLS_E_IO, "%s: cannot create directory (%s)", path, cls_errno_string(errno, (char[128]){0}, 128));
}

cls_status lab_mkdir(const char *path)
{
    char *p = strdup(path);
    if (!p) return cls_set_error(CLS_E_NOMEM, "out of memory");
    cls_status st = CLS_OK;
    for (char *s = p + 1; *s && !st; s++)
        if (*s == '/') {
            *s = 0;
            if (!lab_exists(p)) st = mkdir_one(p);
            *s = '/';
        }
    if (!st) st = mkdir_one(p);
    free(p);
    return st;
}

char *lab_path(const char *dir, const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, name) < 0) return NULL;
    return p;
}

int lab_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

void cls_lab_record_init(cls_lab_record *r)
{
    if (!r) return; /* NULL is a no-op, like every _init */
    memset(r, 0, sizeof *r);
    cls_lab_spec_init(&r->spec);
    r->flops = r->heldout_loss = r->probe_error = r->knn_error = NAN;
    r->alpha = r->alpha_r2 = r->rankme = r->seconds = NAN;
}

void cls_lab_record_clear(cls_lab_record *r)
{
    if (!r) return;
    free(r->eig);
    r->eig = NULL;
    r->n_eig = 0;
}

void cls_lab_records_free(cls_lab_records *recs)
{
    if (!recs) return;
    for (int64_t i = 0; i < recs->n; i++) cls_lab_record_clear(&recs->runs[i]);
    free(recs->runs);
    recs->runs = NULL;
    recs->n = 0;
}

/* ---- runs.csv ---- */

static const char *const csv_cols[] = {
    "id", "model", "width", "train_subset", "steps", "epochs", "batch", "seed", "status", "error",
    "params", "samples_seen", "flops", "heldout_loss", "probe_error", "knn_error", "alpha", "alpha_r2",
    "rankme", "seconds"};
#define N_CSV_COLS 20

const char *lab_fmt_num(char *buf, size_t len, const char *fmt, double v)
{
    snprintf(buf, len, fmt, v);
    /* a comma LC_NUMERIC writes "2,5": the only ',' a %e/%f/%g conversion can print */
    for (char *p = buf; *p; p++)
        if (*p == ',') *p = '.';
    return buf;
}

static void put_num(FILE *f, double v)
{
    char b[40];
    fputc(',', f);
    if (isfinite(v)) fputs(lab_fmt_num(b, sizeof b, "%.17g", v), f);
}

static void put_text(FILE *f, const char *s)
{
    fputc(',', f);
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

cls_status cls_lab_records_write_csv(const cls_lab_records *recs, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return cls_set_error(CLS_E_NOMEM, "%s: out of memory", path);
    for (int c = 0; c < N_CSV_COLS; c++) fprintf(f, "%s%s", c ? "," : "", csv_cols[c]);
    fputc('\n', f);
    for (int64_t i = 0; i < recs->n; i++) {
        const cls_lab_record *r = &recs->runs[i];
        const cls_lab_spec *s = &r->spec;
        fputs(s->id, f);
        put_text(f, s->model);
        fprintf(f, ",%lld,%lld,%lld", (long long)s->width, (long long)s->train_subset, (long long)s->steps);
        put_num(f, s->epochs);
        fprintf(f, ",%lld,%llu", (long long)s->batch, (unsigned long long)s->seed);
        put_text(f, r->ok ? "ok" : "failed");
        put_text(f, r->error);
        fprintf(f, ",%lld,%lld", (long long)r->params, (long long)r->samples_seen);
        put_num(f, r->flops);
        put_num(f, r->heldout_loss);
        put_num(f, r->probe_error);
        put_num(f, r->knn_error);
        put_num(f, r->alpha);
        put_num(f, r->alpha_r2);
        put_num(f, r->rankme);
        put_num(f, r->seconds);
        fputc('\n', f);
    }
    fclose(f);
    cls_status st = lab_write_file_atomic(path, text, len);
    free(text);
    return st;
}

cls_status lab_csv_column(const cls_csv *csv, const char *name, int empty_ok, double *out)
{
    int64_t n = cls_csv_rows(csv), col, k = 0;
    cls_status st = cls_csv_column_index(csv, name, &col);
    if (st || n == 0) return st;
    if (!empty_ok) return cls_csv_column_f64(csv, name, NULL, n, out);
    int64_t *rows = malloc(sizeof(int64_t) * (size_t)n);
    double *v = malloc(sizeof(double) * (size_t)n);
    if (!rows || !v) {
        free(rows);
        free(v);
        return cls_set_error(CLS_E_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < n; i++) {
        out[i] = NAN;
        if (cls_csv_cell(csv, i, col)[0]) rows[k++] = i;
    }
    st = k ? cls_csv_column_f64(csv, name, rows, k, v) : CLS_OK;
    for (int64_t j = 0; !st && j < k; j++) out[rows[j]] = v[j];
    free(rows);
    free(v);
    return st;
}

cls_status cls_lab_records_read(const char *dir, cls_lab_records *out)
{
    char *path = lab_path(dir, "runs.csv");
    if (!path) return cls_set_error(CLS_E_NOMEM, "out of memory");
    cls_csv *csv = NULL;
    cls_status st = cls_csv_read_file(path, &csv);
    if (st) {
        free(path);
        return st;
    }
    int64_t col[N_CSV_COLS];
    for (int c = 0; c < N_CSV_COLS; c++) {
        st = cls_csv_column_index(csv, csv_cols[c], &col[c]);
        if (st) {
            cls_error_context(st, "%s", path);
            cls_csv_free(csv);
            free(path);
            return st;
        }
    }
    cls_lab_records recs = {0};
    int64_t n = cls_csv_rows(csv);
    size_t m = (size_t)(n > 0 ? n : 1);
    recs.runs = calloc(m, sizeof *recs.runs);
    double *num = malloc(sizeof(double) * m * N_CSV_COLS); /* the numeric columns, column-major */
    if (!recs.runs || !num) {
        free(recs.runs);
        free(num);
        cls_csv_free(csv);
        free(path);
        return cls_set_error(CLS_E_NOMEM, "out of memory");
    }
    /* numbers in the C locale (the core CSV parser); empty cells (a failed run's measurements) are NaN */
    for (int c = 0; c < N_CSV_COLS && !st; c++)
        if (c != 0 && c != 1 && c != 8 && c != 9) st = lab_csv_column(csv, csv_cols[c], 1, num + (size_t)c * m);
    for (int64_t i = 0; i < n && !st; i++) {
        cls_lab_record *r = &recs.runs[i];
        cls_lab_record_init(r);
        recs.n = i + 1;
        double v[N_CSV_COLS];
        for (int c = 0; c < N_CSV_COLS; c++) v[c] = num[(size_t)c * m + (size_t)i];
        snprintf(r->spec.id, sizeof r->spec.id, "%s", cls_csv_cell(csv, i, col[0]));
        snprintf(r->spec.model, sizeof r->spec.model, "%s", cls_csv_cell(csv, i, col[1]));
        r->spec.width = isfinite(v[2]) ? (int64_t)v[2] : 0;
        r->spec.train_subset = isfinite(v[3]) ? (int64_t)v[3] : 0;
        r->spec.steps = isfinite(v[4]) ? (int64_t)v[4] : 0;
        r->spec.epochs = v[5];
        r->spec.batch = isfinite(v[6]) ? (int64_t)v[6] : 0;
        r->spec.seed = isfinite(v[7]) ? (uint64_t)v[7] : 0;
        r->ok = strcmp(cls_csv_cell(csv, i, col[8]), "ok") == 0;
        snprintf(r->error, sizeof r->error, "%s", cls_csv_cell(csv, i, col[9]));
        r->params = isfinite(v[10]) ? (int64_t)v[10] : 0;
        r->samples_seen = isfinite(v[11]) ? (int64_t)v[11] : 0;
        r->flops = v[12];
        r->heldout_loss = v[13];
        r->probe_error = v[14];
        r->knn_error = v[15];
        r->alpha = v[16];
        r->alpha_r2 = v[17];
        r->rankme = v[18];
        r->seconds = v[19];
        /* eigenvalues, when the run directory still has them */
        char *rj = NULL;
        if (asprintf(&rj, "%s/runs/%s/record.json", dir, r->spec.id) >= 0) {
            if (lab_exists(rj)) lab_record_load_eig(r, rj); /* best effort: plots only */
            free(rj);
        }
    }
    if (!st) cls_clear_error(); /* a missing or bad record.json only costs the spectrum plot */
    free(num);
    cls_csv_free(csv);
    free(path);
    if (st) {
        cls_lab_records_free(&recs);
        return st;
    }
    *out = recs;
    return CLS_OK;
}

/* ---- record.json ---- */

static cJSON *jnum(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

void lab_record_json_measurements(cJSON *o, const cls_lab_record *r, cJSON *(*num)(double))
{
    cJSON_AddNumberToObject(o, "params", (double)r->params);
    cJSON_AddNumberToObject(o, "samples_seen", (double)r->samples_seen);
    const char *key[8] = {"flops", "heldout_loss", "probe_error", "knn_error", "alpha", "alpha_r2", "rankme",
                          "seconds"};
    const double v[8] = {r->flops, r->heldout_loss, r->probe_error, r->knn_error, r->alpha, r->alpha_r2,
                         r->rankme, r->seconds};
    for (int k = 0; k < 8; k++) cJSON_AddItemToObject(o, key[k], num(v[k]));
}

cls_status lab_record_save_json(const cls_lab_record *r, const char *path)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", r->spec.id);
    cJSON_AddStringToObject(o, "status", r->ok ? "ok" : "failed");
    cJSON_AddStringToObject(o, "error", r->error);
    lab_record_json_measurements(o, r, jnum);
    cJSON *e = cJSON_AddArrayToObject(o, "eigenvalues");
    for (int64_t k = 0; k < r->n_eig; k++) cJSON_AddItemToArray(e, jnum(r->eig[k]));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return cls_set_error(CLS_E_NOMEM, "%s: out of memory", path);
    cls_status st = lab_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}

cls_status lab_record_load_eig(cls_lab_record *r, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    cls_status st = lab_read_file(path, &text, &len);
    if (st) return st;
    cJSON *o = cJSON_ParseWithLength(text, len);
    free(text);
    if (!o) return cls_set_error(CLS_E_FORMAT, "%s: not valid JSON", path);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "eigenvalues");
    int n = cJSON_IsArray(e) ? cJSON_GetArraySize(e) : 0;
    free(r->eig);
    r->eig = n ? malloc(sizeof(double) * (size_t)n) : NULL;
    r->n_eig = r->eig ? n : 0;
    int k = 0;
    for (const cJSON *it = e ? e->child : NULL; it && k < r->n_eig; it = it->next, k++)
        r->eig[k] = cJSON_IsNumber(it) ? it->valuedouble : NAN;
    cJSON_Delete(o);
    return CLS_OK;
}
