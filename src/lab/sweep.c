/* Sweeps: run specs, stable ids, the presets and user sweep files (JSON/CSV). */
#define _GNU_SOURCE
#include "lab_internal.h"

#include <cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- presets: edit these tables to resize ----
 * Every preset is a grid widths x subsets; the steps of a run are
 * round(subset * epochs / 512) at the trainer's default batch of 512, so
 * D = samples seen grows with the subset while N grows with the width, and
 * the two vary independently.
 * Sizing (measured with the real runner, 2 threads, user CPU seconds): a
 * training step costs about 0.1 s at width 64 and 0.15 s at width 256; the
 * evaluation of a run (embeddings of 70k images, held-out loss on 10k, probe
 * on 10k, k-NN) about 8 s. At 8 epochs the demo took 141 s of CPU (user +
 * sys) for the whole lab; at 16 it should take about 200 s: a few minutes
 * on 2 idle cores. full: about 4000 steps per width; measured 35 CPU-minutes
 * (2078 s user + sys, docs/lab-full/README.md). */
typedef struct {
    const char *name;
    const char *model;
    int64_t widths[8];
    int64_t subsets[8];
    double epochs;   /* passes over the subset */
    int64_t min_steps;
} lab_preset;

static const lab_preset presets[] = {
    /* demo: <= 10 minutes for the whole lab on 2 cores with the real runner */
    {"demo", "mlp", {32, 64, 128, 256, 0}, {2000, 6000, 20000, 0}, 16.0, 10},
    /* full: 30 runs, 35 CPU-minutes (about 20 minutes on 2 idle cores) */
    {"full", "mlp", {32, 64, 128, 256, 512, 1024, 0}, {1000, 3000, 10000, 30000, 60000, 0}, 20.0, 20},
};
#define LAB_PRESET_BATCH 512

void cls_lab_spec_init(cls_lab_spec *s)
{
    if (!s) return; /* NULL is a no-op, like every _init */
    memset(s, 0, sizeof *s);
    strcpy(s->model, "mlp");
    s->epochs = 1.0;
}

void cls_lab_spec_make_id(cls_lab_spec *s)
{
    char len_part[48];
    if (s->steps > 0) snprintf(len_part, sizeof len_part, "s%lld", (long long)s->steps);
    else {
        char e[40];
        snprintf(len_part, sizeof len_part, "e%s", lab_fmt_num(e, sizeof e, "%g", s->epochs));
    }
    char batch_part[32] = "";
    if (s->batch > 0) snprintf(batch_part, sizeof batch_part, "-b%lld", (long long)s->batch);
    snprintf(s->id, sizeof s->id, "%s-w%lld-n%lld-%s%s-seed%llu", s->model, (long long)s->width,
             (long long)s->train_subset, len_part, batch_part, (unsigned long long)s->seed);
}

cls_status cls_lab_spec_check(const cls_lab_spec *s)
{
    if (strcmp(s->model, "mlp") != 0 && strcmp(s->model, "cnn") != 0)
        return cls_set_error(CLS_E_INVALID_ARG, "model '%s' is not one of mlp, cnn", s->model);
    if (s->width < 0) return cls_set_error(CLS_E_INVALID_ARG, "width %lld is negative", (long long)s->width);
    if (s->train_subset < 0)
        return cls_set_error(CLS_E_INVALID_ARG, "train_subset %lld is negative", (long long)s->train_subset);
    if (s->batch < 0) return cls_set_error(CLS_E_INVALID_ARG, "batch %lld is negative", (long long)s->batch);
    if (s->steps < 0) return cls_set_error(CLS_E_INVALID_ARG, "steps %lld is negative", (long long)s->steps);
    if (!(s->epochs >= 0) || !isfinite(s->epochs))
        return cls_set_error(CLS_E_INVALID_ARG, "epochs %g is not a finite non-negative number", s->epochs);
    if (s->steps == 0 && s->epochs == 0)
        return cls_set_error(CLS_E_INVALID_ARG, "neither steps nor epochs is positive");
    return CLS_OK;
}

void cls_lab_sweep_free(cls_lab_sweep *sw)
{
    if (!sw) return;
    free(sw->runs);
    memset(sw, 0, sizeof *sw);
}

static cls_status sweep_push(cls_lab_sweep *sw, int64_t *cap, const cls_lab_spec *s)
{
    if (sw->n == *cap) {
        int64_t nc = *cap ? 2 * *cap : 16;
        cls_lab_spec *p = realloc(sw->runs, sizeof *p * (size_t)nc);
        if (!p) return cls_set_error(CLS_E_NOMEM, "sweep: out of memory");
        sw->runs = p;
        *cap = nc;
    }
    sw->runs[sw->n++] = *s;
    return CLS_OK;
}

/* Fill ids, check every spec and that ids are unique. */
static cls_status sweep_finish(cls_lab_sweep *sw, const char *where)
{
    if (sw->n == 0) return cls_set_error(CLS_E_INVALID_ARG, "%s: the sweep has no runs", where);
    for (int64_t i = 0; i < sw->n; i++) {
        cls_status st = cls_lab_spec_check(&sw->runs[i]);
        if (st) return cls_error_context(st, "%s: run %lld", where, (long long)i + 1);
        cls_lab_spec_make_id(&sw->runs[i]);
        for (int64_t j = 0; j < i; j++)
            if (strcmp(sw->runs[j].id, sw->runs[i].id) == 0)
                return cls_set_error(CLS_E_INVALID_ARG, "%s: runs %lld and %lld are the same run (%s)",
                                     where, (long long)j + 1, (long long)i + 1, sw->runs[i].id);
    }
    return CLS_OK;
}

cls_status cls_lab_sweep_preset(const char *name, cls_lab_sweep *out)
{
    const lab_preset *p = NULL;
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (name && strcmp(name, presets[i].name) == 0) p = &presets[i];
    if (!p) return cls_set_error(CLS_E_INVALID_ARG, "unknown preset '%s' (presets: demo, full)", name ? name : "");
    cls_lab_sweep sw = {0};
    int64_t cap = 0;
    snprintf(sw.name, sizeof sw.name, "%s", p->name);
    for (int a = 0; a < 8 && p->widths[a]; a++)
        for (int b = 0; b < 8 && p->subsets[b]; b++) {
            cls_lab_spec s;
            cls_lab_spec_init(&s);
            snprintf(s.model, sizeof s.model, "%s", p->model);
            s.width = p->widths[a];
            s.train_subset = p->subsets[b];
            s.steps = llround((double)p->subsets[b] * p->epochs / LAB_PRESET_BATCH);
            if (s.steps < p->min_steps) s.steps = p->min_steps;
            s.batch = 0;
            cls_status st = sweep_push(&sw, &cap, &s);
            if (st) {
                cls_lab_sweep_free(&sw);
                return st;
            }
        }
    cls_status st = sweep_finish(&sw, p->name);
    if (st) {
        cls_lab_sweep_free(&sw);
        return st;
    }
    *out = sw;
    return CLS_OK;
}

/* ---- JSON ---- */

static const char *const spec_keys[] = {"model", "width", "train_subset", "steps", "epochs", "batch", "seed"};
#define N_SPEC_KEYS 7

static int spec_key_index(const char *k)
{
    for (int i = 0; i < N_SPEC_KEYS; i++)
        if (strcmp(k, spec_keys[i]) == 0) return i;
    return -1;
}

/* Set key ki of spec from a JSON value. */
static cls_status spec_set_json(cls_lab_spec *s, int ki, const cJSON *v, const char *where)
{
    if (ki == 0) {
        if (!cJSON_IsString(v)) return cls_set_error(CLS_E_FORMAT, "%s: model must be a string", where);
        if (strlen(v->valuestring) >= sizeof s->model)
            return cls_set_error(CLS_E_INVALID_ARG, "%s: model '%s' is not one of mlp, cnn", where, v->valuestring);
        strcpy(s->model, v->valuestring);
        return CLS_OK;
    }
    if (!cJSON_IsNumber(v)) return cls_set_error(CLS_E_FORMAT, "%s: %s must be a number", where, spec_keys[ki]);
    double d = v->valuedouble;
    if (ki == 4) {
        s->epochs = d;
        return CLS_OK;
    }
    if (!isfinite(d) || d != floor(d) || d < 0 || d > 9.0e15)
        return cls_set_error(CLS_E_INVALID_ARG, "%s: %s = %g is not a non-negative integer", where, spec_keys[ki], d);
    int64_t iv = (int64_t)d;
    switch (ki) {
    case 1: s->width = iv; break;
    case 2: s->train_subset = iv; break;
    case 3: s->steps = iv; break;
    case 5: s->batch = iv; break;
    default: s->seed = (uint64_t)iv; break;
    }
    return CLS_OK;
}

static cls_status spec_from_object(cls_lab_spec *s, const cJSON *obj, const char *where)
{
    if (!cJSON_IsObject(obj)) return cls_set_error(CLS_E_FORMAT, "%s: expected an object", where);
    for (const cJSON *it = obj->child; it; it = it->next) {
        int ki = spec_key_index(it->string);
        if (ki < 0)
            return cls_set_error(CLS_E_FORMAT, "%s: unknown key '%s' (keys: model, width, train_subset, steps, "
                                 "epochs, batch, seed)", where, it->string);
        cls_status st = spec_set_json(s, ki, it, where);
        if (st) return st;
    }
    return CLS_OK;
}

static cls_status expand_grid(cls_lab_sweep *sw, int64_t *cap, const cls_lab_spec *base, const cJSON *grid,
                              const char *name)
{
    const cJSON *axes[N_SPEC_KEYS] = {0};
    char where[300];
    for (const cJSON *it = grid->child; it; it = it->next) {
        int ki = spec_key_index(it->string);
        if (ki < 0)
            return cls_set_error(CLS_E_FORMAT, "%s: grid: unknown key '%s' (keys: model, width, train_subset, "
                                 "steps, epochs, batch, seed)", name, it->string);
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) == 0)
            return cls_set_error(CLS_E_FORMAT, "%s: grid.%s must be a non-empty array", name, it->string);
        axes[ki] = it;
    }
    int64_t idx[N_SPEC_KEYS] = {0}, size[N_SPEC_KEYS];
    for (int k = 0; k < N_SPEC_KEYS; k++) size[k] = axes[k] ? cJSON_GetArraySize(axes[k]) : 1;
    for (;;) {
        cls_lab_spec s = *base;
        for (int k = 0; k < N_SPEC_KEYS; k++) {
            if (!axes[k]) continue;
            snprintf(where, sizeof where, "%s: grid.%s[%lld]", name, spec_keys[k], (long long)idx[k]);
            cls_status st = spec_set_json(&s, k, cJSON_GetArrayItem(axes[k], (int)idx[k]), where);
            if (st) return st;
        }
        cls_status st = sweep_push(sw, cap, &s);
        if (st) return st;
        int k = N_SPEC_KEYS - 1;
        while (k >= 0 && ++idx[k] == size[k]) idx[k--] = 0;
        if (k < 0) break;
    }
    return CLS_OK;
}

static cls_status parse_json(const char *text, size_t len, const char *name, cls_lab_sweep *sw, int64_t *cap)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t off = end && end >= text ? (size_t)(end - text) : 0;
        int64_t line = 1;
        for (size_t i = 0; i < off && i < len; i++) line += text[i] == '\n';
        return cls_set_error(CLS_E_FORMAT, "%s: not valid JSON (near line %lld, byte %zu)", name, (long long)line, off);
    }
    cls_status st = CLS_OK;
    cls_lab_spec base;
    cls_lab_spec_init(&base);
    char where[300];
    if (!cJSON_IsObject(root)) {
        st = cls_set_error(CLS_E_FORMAT, "%s: expected a JSON object with \"grid\" and/or \"runs\"", name);
        goto done;
    }
    for (const cJSON *it = root->child; it; it = it->next)
        if (strcmp(it->string, "name") && strcmp(it->string, "defaults") && strcmp(it->string, "grid") &&
            strcmp(it->string, "runs")) {
            st = cls_set_error(CLS_E_FORMAT, "%s: unknown key '%s' (keys: name, defaults, grid, runs)", name,
                               it->string);
            goto done;
        }
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (nm) {
        if (!cJSON_IsString(nm)) {
            st = cls_set_error(CLS_E_FORMAT, "%s: name must be a string", name);
            goto done;
        }
        snprintf(sw->name, sizeof sw->name, "%s", nm->valuestring);
    }
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(root, "defaults");
    if (def) {
        snprintf(where, sizeof where, "%s: defaults", name);
        if ((st = spec_from_object(&base, def, where))) goto done;
    }
    const cJSON *grid = cJSON_GetObjectItemCaseSensitive(root, "grid");
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(root, "runs");
    if (!grid && !runs) {
        st = cls_set_error(CLS_E_FORMAT, "%s: neither \"grid\" nor \"runs\" is given", name);
        goto done;
    }
    if (grid) {
        if (!cJSON_IsObject(grid)) {
            st = cls_set_error(CLS_E_FORMAT, "%s: grid must be an object of arrays", name);
            goto done;
        }
        if ((st = expand_grid(sw, cap, &base, grid, name))) goto done;
    }
    if (runs) {
        if (!cJSON_IsArray(runs)) {
            st = cls_set_error(CLS_E_FORMAT, "%s: runs must be an array of objects", name);
            goto done;
        }
        int i = 0;
        for (const cJSON *r = runs->child; r; r = r->next, i++) {
            cls_lab_spec s = base;
            snprintf(where, sizeof where, "%s: runs[%d]", name, i);
            if ((st = spec_from_object(&s, r, where))) goto done;
            if ((st = sweep_push(sw, cap, &s))) goto done;
        }
    }
done:
    cJSON_Delete(root);
    return st;
}

/* ---- CSV ---- */

static cls_status parse_csv(const char *text, size_t len, const char *name, cls_lab_sweep *sw, int64_t *cap)
{
    cls_csv *csv = NULL;
    double *num = NULL;
    cls_status st = cls_csv_parse(text, len, name, &csv);
    if (st) return st;
    int64_t cols = cls_csv_cols(csv), rows = cls_csv_rows(csv);
    int key[N_SPEC_KEYS + 8];
    if (cols > N_SPEC_KEYS) {
        st = cls_set_error(CLS_E_FORMAT, "%s: %lld columns; a sweep has at most %d (model, width, train_subset, "
                           "steps, epochs, batch, seed)", name, (long long)cols, N_SPEC_KEYS);
        goto done;
    }
    for (int64_t c = 0; c < cols; c++) {
        const char *h = cls_csv_header(csv, c);
        key[c] = spec_key_index(h);
        if (key[c] < 0) {
            st = cls_set_error(CLS_E_FORMAT, "%s: unknown column '%s' (columns: model, width, train_subset, steps, "
                               "epochs, batch, seed)", name, h);
            goto done;
        }
        for (int64_t d = 0; d < c; d++)
            if (key[d] == key[c]) {
                st = cls_set_error(CLS_E_FORMAT, "%s: column '%s' appears twice", name, h);
                goto done;
            }
    }
    /* the numeric columns, parsed in the C locale by the core CSV reader */
    num = malloc(sizeof(double) * (size_t)(rows > 0 ? rows : 1) * (size_t)(cols > 0 ? cols : 1));
    if (!num) {
        st = cls_set_error(CLS_E_NOMEM, "%s: out of memory", name);
        goto done;
    }
    for (int64_t c = 0; c < cols && !st; c++)
        if (key[c] != 0) st = lab_csv_column(csv, cls_csv_header(csv, c), 0, num + (size_t)c * (size_t)rows);
    if (st) goto done;
    for (int64_t r = 0; r < rows; r++) {
        cls_lab_spec s;
        cls_lab_spec_init(&s);
        for (int64_t c = 0; c < cols; c++) {
            const char *cell = cls_csv_cell(csv, r, c);
            char where[300];
            snprintf(where, sizeof where, "%s: line %lld, column %s", name, (long long)cls_csv_line(csv, r),
                     spec_keys[key[c]]);
            cJSON *v = key[c] == 0 ? cJSON_CreateString(cell)
                                   : cJSON_CreateNumber(num[(size_t)c * (size_t)rows + (size_t)r]);
            if (!v) {
                st = cls_set_error(CLS_E_NOMEM, "%s: out of memory", name);
                goto done;
            }
            st = spec_set_json(&s, key[c], v, where);
            cJSON_Delete(v);
            if (st) goto done;
        }
        if ((st = sweep_push(sw, cap, &s))) goto done;
    }
done:
    free(num);
    cls_csv_free(csv);
    return st;
}

cls_status cls_lab_sweep_parse(const char *text, size_t len, const char *name, cls_lab_sweep *out)
{
    if (!name) name = "sweep";
    cls_lab_sweep sw = {0};
    int64_t cap = 0;
    const char *dot = strrchr(name, '.');
    int json;
    if (dot && strcasecmp(dot, ".json") == 0) json = 1;
    else if (dot && strcasecmp(dot, ".csv") == 0) json = 0;
    else {
        size_t i = 0;
        while (i < len && isspace((unsigned char)text[i])) i++;
        json = i < len && (text[i] == '{' || text[i] == '[');
    }
    const char *base = strrchr(name, '/');
    snprintf(sw.name, sizeof sw.name, "%s", base ? base + 1 : name);
    cls_status st = json ? parse_json(text, len, name, &sw, &cap) : parse_csv(text, len, name, &sw, &cap);
    if (!st) st = sweep_finish(&sw, name);
    if (st) {
        cls_lab_sweep_free(&sw);
        return st;
    }
    *out = sw;
    return CLS_OK;
}

cls_status cls_lab_sweep_load(const char *path, cls_lab_sweep *out)
{
    char *text = NULL;
    size_t len = 0;
    cls_status st = lab_read_file(path, &text, &len);
    if (st) return st;
    st = cls_lab_sweep_parse(text, len, path, out);
    free(text);
    return st;
}

cls_status cls_lab_sweep_save(const cls_lab_sweep *sw, const char *path)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "name", sw->name);
    cJSON *runs = cJSON_AddArrayToObject(root, "runs");
    for (int64_t i = 0; i < sw->n; i++) {
        const cls_lab_spec *s = &sw->runs[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", s->model);
        cJSON_AddNumberToObject(o, "width", (double)s->width);
        cJSON_AddNumberToObject(o, "train_subset", (double)s->train_subset);
        cJSON_AddNumberToObject(o, "steps", (double)s->steps);
        cJSON_AddNumberToObject(o, "epochs", s->epochs);
        cJSON_AddNumberToObject(o, "batch", (double)s->batch);
        cJSON_AddNumberToObject(o, "seed", (double)s->seed);
        cJSON_AddItemToArray(runs, o);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return cls_set_error(CLS_E_NOMEM, "%s: out of memory", path);
    size_t n = strlen(text);
    text = realloc(text, n + 2);
    text[n] = '\n';
    cls_status st = lab_write_file_atomic(path, text, n + 1);
    free(text);
    return st;
}

double lab_spec_cost(const cls_lab_spec *s)
{
    double batch = s->batch > 0 ? (double)s->batch : 512.0;
    double steps = s->steps > 0 ? (double)s->steps
                                : s->epochs * (double)(s->train_subset > 0 ? s->train_subset : 60000) / batch;
    double w = s->width > 0 ? (double)s->width : 1024.0;
    /* estimated CPU seconds (measured on the real runner, mlp): a step of 512
     * images costs 0.09 s of augmentation and bookkeeping plus the model's
     * products; a run's evaluation about 12 s. The ETA rescales this by the
     * runs timed so far, so only the proportions matter. */
    return steps * (batch / 512.0) * (0.09 + 1.9e-7 * w * (w + 912.0)) + 12.0;
}
