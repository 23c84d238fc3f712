/* Save and load a fit as JSON (cJSON). The file keeps the optimiser's raw
 * coordinates and every bootstrap refit, so `clscale plan` can give bands;
 * the reported parameters and intervals are recomputed from them on load. */
#include "fit_internal.h"

#include <cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* JSON has no NaN: non-finite numbers are written as null. */
static cJSON *num(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static cJSON *interval_map(const cls_fit_result *f, double (*ci)[2])
{
    cJSON *m = cJSON_CreateObject();
    for (int q = 0; q < f->nparams + f->nderived; q++) {
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, num(ci[q][0]));
        cJSON_AddItemToArray(pair, num(ci[q][1]));
        cJSON_AddItemToObject(m, q < f->nparams ? f->param_names[q] : f->derived_names[q - f->nparams], pair);
    }
    return m;
}

cls_status cls_fit_save(const cls_fit_result *f, const char *const *xnames, const char *yname,
                        const char *path)
{
    if (!f || !path) return cls_set_error(CLS_E_INVALID_ARG, "fit save: NULL argument");
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "format", "clscale-fit-1");
    cJSON_AddStringToObject(o, "law", cls_fit_law_name(f->law));
    cJSON_AddNumberToObject(o, "nvars", f->nvars);
    cJSON_AddBoolToObject(o, "frontier_binned", f->frontier_binned);
    cJSON_AddNumberToObject(o, "bins", f->bins);
    cJSON *xn = cJSON_CreateArray();
    for (int j = 0; j < f->nvars; j++)
        cJSON_AddItemToArray(xn, cJSON_CreateString(xnames && xnames[j] ? xnames[j] : ""));
    cJSON_AddItemToObject(o, "x", xn);
    cJSON_AddStringToObject(o, "y", yname ? yname : "");
    cJSON *params = cJSON_CreateObject();
    for (int i = 0; i < f->nparams; i++) cJSON_AddItemToObject(params, f->param_names[i], num(f->params[i]));
    cJSON_AddItemToObject(o, "params", params);
    if (f->nderived) {
        cJSON *d = cJSON_CreateObject();
        for (int i = 0; i < f->nderived; i++) cJSON_AddItemToObject(d, f->derived_names[i], num(f->derived[i]));
        cJSON_AddItemToObject(o, "allocation", d);
    }
    cJSON_AddItemToObject(o, "ci80", interval_map(f, (double (*)[2])f->ci80));
    cJSON_AddItemToObject(o, "ci95", interval_map(f, (double (*)[2])f->ci95));
    cJSON *raw = cJSON_CreateArray();
    for (int i = 0; i < f->nraw; i++) cJSON_AddItemToArray(raw, num(f->raw[i]));
    cJSON_AddItemToObject(o, "raw", raw);
    cJSON_AddItemToObject(o, "objective", num(f->objective));
    cJSON_AddNumberToObject(o, "n_points", (double)f->n_points);
    cJSON_AddNumberToObject(o, "n_starts", (double)f->n_starts);
    cJSON_AddItemToObject(o, "starts_converged_fraction", num(f->starts_converged_fraction));
    cJSON_AddNumberToObject(o, "bootstrap", f->bootstrap);
    cJSON_AddNumberToObject(o, "bootstrap_failed", f->bootstrap_failed);
    cJSON *boot = cJSON_CreateArray();
    for (int b = 0; b < f->bootstrap && f->boot_raw; b++) {
        cJSON *row = cJSON_CreateArray();
        for (int i = 0; i < f->nraw; i++) cJSON_AddItemToArray(row, num(f->boot_raw[(size_t)b * f->nraw + i]));
        cJSON_AddItemToArray(boot, row);
    }
    cJSON_AddItemToObject(o, "bootstrap_raw", boot);
    cJSON_AddNumberToObject(o, "warning_flags", f->warning_flags);
    cJSON *w = cJSON_CreateArray();
    for (int i = 0; i < f->nwarnings; i++) cJSON_AddItemToArray(w, cJSON_CreateString(f->warnings[i]));
    cJSON_AddItemToObject(o, "warnings", w);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text) return cls_set_error(CLS_E_NOMEM, "fit save: out of memory");
    FILE *fp = fopen(path, "w");
    if (!fp) {
        free(text);
        return cls_set_error(CLS_E_IO, "cannot write %s: %s", path, cls_errno_string(errno, (char[128]){0}, 128));
    }
    int bad = fputs(text, fp) < 0;
    bad |= fputc('\n', fp) == EOF;
    bad |= fclose(fp) != 0;
    free(text);
    if (bad) return cls_set_error(CLS_E_IO, "error writing %s", path);
    return CLS_OK;
}

static double get_num(const cJSON *v) { return cJSON_IsNumber(v) ? v->valuedouble : NAN; }

/* An integer field: the number if it is finite and within [lo, hi], else dflt
 * (a cast of NaN or of an out-of-range double to an integer is undefined). */
static int64_t get_int(const cJSON *o, const char *key, int64_t lo, int64_t hi, int64_t dflt)
{
    double v = get_num(cJSON_GetObjectItemCaseSensitive(o, key));
    return isfinite(v) && v >= (double)lo && v <= (double)hi ? (int64_t)v : dflt;
}

cls_status cls_fit_load(const char *path, cls_fit_result *out)
{
    if (!path || !out) return cls_set_error(CLS_E_INVALID_ARG, "fit load: NULL argument");
    FILE *fp = fopen(path, "rb");
    if (!fp) return cls_set_error(CLS_E_IO, "cannot open %s: %s", path, cls_errno_string(errno, (char[128]){0}, 128));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) break;
        if (len == cap) {
            char *q = realloc(buf, 2 * cap + 1);
            if (!q) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = q;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (!got) break;
    }
    fclose(fp);
    if (!buf) return cls_set_error(CLS_E_NOMEM, "out of memory reading %s", path);
    buf[len] = '\0';
    cls_status st = cls_fit_parse_json(buf, len, path, out);
    free(buf);
    return st;
}

cls_status cls_fit_parse_json(const char *text, size_t len, const char *name, cls_fit_result *out)
{
    if (!out || (!text && len)) return cls_set_error(CLS_E_INVALID_ARG, "fit parse: NULL argument");
    const char *path = name ? name : "<memory>";
    cJSON *o = text ? cJSON_ParseWithLength(text, len) : NULL;
    if (!o) return cls_set_error(CLS_E_FORMAT, "%s: not valid JSON", path);
    cls_fit_result r;
    memset(&r, 0, sizeof r);
    cls_status st = CLS_OK;
    const cJSON *law = cJSON_GetObjectItemCaseSensitive(o, "law");
    const cJSON *raw = cJSON_GetObjectItemCaseSensitive(o, "raw");
    if (!cJSON_IsString(law) || cls_fit_law_parse(law->valuestring, &r.law) != CLS_OK) {
        st = cls_set_error(CLS_E_FORMAT, "%s: missing or unknown \"law\"", path);
        goto done;
    }
    r.nvars = cls_fit_law_nvars(r.law, (int)get_int(o, "nvars", 0, CLS_FIT_MAX_VARS, 0));
    if (r.nvars < 0) {
        st = cls_set_error(CLS_E_FORMAT, "%s: bad \"nvars\"", path);
        goto done;
    }
    r.frontier_binned = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "frontier_binned"));
    r.bins = (int)get_int(o, "bins", 0, INT_MAX, 0);
    fit_describe(&r);
    if (!cJSON_IsArray(raw) || cJSON_GetArraySize(raw) != r.nraw) {
        st = cls_set_error(CLS_E_FORMAT, "%s: \"raw\" must be an array of %d numbers", path, r.nraw);
        goto done;
    }
    for (int i = 0; i < r.nraw; i++) {
        r.raw[i] = get_num(cJSON_GetArrayItem(raw, i));
        if (!isfinite(r.raw[i])) {
            st = cls_set_error(CLS_E_FORMAT, "%s: raw[%d] is not a number", path, i);
            goto done;
        }
    }
    r.objective = get_num(cJSON_GetObjectItemCaseSensitive(o, "objective"));
    r.n_points = get_int(o, "n_points", 0, INT64_MAX / 2, 0);
    r.n_starts = get_int(o, "n_starts", 0, INT64_MAX / 2, 0);
    r.starts_converged_fraction = get_num(cJSON_GetObjectItemCaseSensitive(o, "starts_converged_fraction"));
    r.bootstrap_failed = (int)get_int(o, "bootstrap_failed", 0, INT_MAX, 0);
    r.warning_flags = (unsigned)get_int(o, "warning_flags", 0, UINT_MAX, 0);
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "warnings");
    for (int i = 0; cJSON_IsArray(w) && i < cJSON_GetArraySize(w) && i < CLS_FIT_MAX_WARNINGS; i++) {
        const cJSON *s = cJSON_GetArrayItem(w, i);
        if (cJSON_IsString(s)) snprintf(r.warnings[r.nwarnings++], sizeof r.warnings[0], "%s", s->valuestring);
    }
    const cJSON *boot = cJSON_GetObjectItemCaseSensitive(o, "bootstrap_raw");
    int B = cJSON_IsArray(boot) ? cJSON_GetArraySize(boot) : 0;
    if (B > 0) {
        r.boot_raw = malloc(sizeof(double) * (size_t)B * (size_t)r.nraw);
        if (!r.boot_raw) {
            st = cls_set_error(CLS_E_NOMEM, "%s: out of memory", path);
            goto done;
        }
        for (int b = 0; b < B; b++) {
            const cJSON *row = cJSON_GetArrayItem(boot, b);
            if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != r.nraw) {
                st = cls_set_error(CLS_E_FORMAT, "%s: bootstrap_raw[%d] must have %d entries", path, b, r.nraw);
                goto done;
            }
            for (int i = 0; i < r.nraw; i++) /* null (a failed refit) reads as NaN */
                r.boot_raw[(size_t)b * r.nraw + i] = get_num(cJSON_GetArrayItem(row, i));
        }
        r.bootstrap = B;
    }
    fit_raw_to_quantities(r.law, r.nvars, r.raw, r.params, r.derived);
    fit_intervals(&r);
done:
    cJSON_Delete(o);
    if (st) {
        free(r.boot_raw);
        return st;
    }
    *out = r;
    return CLS_OK;
}
