/* clscale fit: fit a scaling law to columns of a CSV file. */
#define _GNU_SOURCE
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_fit_plot.h"

static void fit_usage(void)
{
    puts("usage: clscale fit DATA.csv --law LAW --x COL[,COL...] --y COL [options]\n"
         "\n"
         "Fit a scaling law to a CSV table (header row; quoted fields allowed).\n"
         "\n"
         "  --law LAW            power | saturating | chinchilla | additive (required)\n"
         "                         power      y = A x^-alpha (least squares in log10-log10)\n"
         "                         saturating L = E + A x^-alpha\n"
         "                         chinchilla L = E + A/N^alpha + B/D^beta (--x N,D)\n"
         "                         additive   L = E + sum_k Ak xk^-alphak (1 to 4 columns)\n"
         "  --x COL[,COL...]     input column(s), by header name (required)\n"
         "  --y COL              output column, e.g. the loss (required)\n"
         "  --where COL=VALUE    keep rows whose COL equals VALUE (COL!=VALUE drops them);\n"
         "                       repeatable, all must hold (default: all rows)\n"
         "  --group COL          bootstrap whole groups of rows sharing COL (default: points)\n"
         "  --tokens-from-compute  chinchilla: the second --x column is training compute C;\n"
         "                       use D = C / (6 N) with N the first column (default: off)\n"
         "  --one-minus-y        fit 1 - y instead of y (error = 1 - accuracy) (default: off)\n"
         "  --frontier binned    power law on the binned frontier: bin log10 x into --bins\n"
         "                       equal bins, fit bin centres vs the lowest log10 y (default: off)\n"
         "  --bins N             bins of the frontier (default 5)\n"
         "  --bootstrap B        bootstrap resamples for the intervals, 0 = none (default 1000)\n"
         "  --seed S             bootstrap seed (default 0)\n"
         "  --drop-top K         drop the K rows with the highest y first (default 0)\n"
         "  --save FIT.json      save the fit (with its bootstrap refits) for 'clscale plan'\n"
         "  --plot P.png|P.svg   plot the data and the fitted law on log axes (gnuplot)\n"
         "  --threads T          threads, 0 = all cores (default 0)\n"
         "  --json               print one JSON object on stdout\n"
         "  -h, --help           show this help\n"
         "\n"
         "Output: parameters with percentile bootstrap intervals (80 % and 95 %), the\n"
         "objective, the fraction of the multi-start grid that reached the best objective\n"
         "(a warning below 5 %), and for chinchilla the allocation exponents a, b and G.\n"
         "See docs/fit.md.");
}

/* Split "a,b,c" into at most `max` malloc'd names (quotes are not special). */
static int split_names(const char *text, char **names, int max)
{
    int n = 0;
    const char *s = text;
    for (;;) {
        const char *c = strchr(s, ',');
        size_t len = c ? (size_t)(c - s) : strlen(s);
        if (n == max || len == 0) return -1;
        names[n++] = strndup(s, len);
        if (!c) break;
        s = c + 1;
    }
    return n;
}

static int cmp_cells(const void *a, const void *b, void *ctx)
{
    const char **cells = ctx;
    return strcmp(cells[*(const int64_t *)a], cells[*(const int64_t *)b]);
}

static cJSON *interval_json(const cls_fit_result *f, double (*ci)[2])
{
    cJSON *m = cJSON_CreateObject();
    for (int q = 0; q < f->nparams + f->nderived; q++) {
        const char *name = q < f->nparams ? f->param_names[q] : f->derived_names[q - f->nparams];
        if (isfinite(ci[q][0]) && isfinite(ci[q][1])) {
            double pair[2] = {ci[q][0], ci[q][1]};
            cJSON_AddItemToObject(m, name, cJSON_CreateDoubleArray(pair, 2));
        } else {
            cJSON_AddNullToObject(m, name);
        }
    }
    return m;
}

int cmd_fit(int argc, char **argv)
{
    const char *law_name = NULL, *xarg = NULL, *ycol = NULL, *group = NULL, *save = NULL,
               *plot = NULL;
    const char **where = calloc((size_t)argc + 1, sizeof(char *));
    int nwhere = 0, json = 0, tokens = 0, one_minus = 0, threads = 0, bins = 5, binned = -1, boot = 1000, drop = 0;
    int64_t seed = 0;
    if (!where) return cli_error("out of memory");
    int rc = CLI_OK, first = 0;
    const cli_option opts[] = {
        CLI_STRING("law", &law_name), CLI_STRING("x", &xarg), CLI_STRING("y", &ycol),
        CLI_STRINGS("where", where, &nwhere), CLI_STRING("group", &group),
        CLI_CHOICE("frontier", &binned, "binned"),
        CLI_INT("bins", &bins, 3, 1000000), CLI_INT("bootstrap", &boot, 0, 100000000),
        CLI_INT64("seed", &seed, NAN, NAN), CLI_INT("drop-top", &drop, 0, 1000000000),
        CLI_STRING("save", &save), CLI_STRING("plot", &plot), CLI_INT("threads", &threads, 0, 4096),
        CLI_FLAG("json", &json), CLI_FLAG("tokens-from-compute", &tokens),
        CLI_FLAG("one-minus-y", &one_minus), CLI_END};
    int prc = cli_parse_options("fit", opts, argc, argv, fit_usage, &first);
    if (prc) {
        free(where);
        return prc == CLI_HELP ? CLI_OK : prc;
    }
    binned = binned == 0; /* the only choice, "binned" */
    if (first != argc - 1) {
        free(where);
        return cli_usage_error("fit", "expected exactly one DATA.csv argument");
    }
    if (!law_name || !xarg || !ycol) {
        free(where);
        return cli_usage_error("fit", "--law, --x and --y are required");
    }
    cls_fit_options opt;
    cls_fit_options_init(&opt);
    if (cls_fit_law_parse(law_name, &opt.law) != CLS_OK) {
        free(where);
        return cli_usage_error("fit", "%s", cls_last_error());
    }
    if (bins < 3 || boot < 0 || drop < 0 || threads < 0) {
        free(where);
        return cli_usage_error("fit", "--bins must be >= 3 and --bootstrap, --drop-top, --threads >= 0");
    }
    if (binned && opt.law != CLS_LAW_POWER) {
        free(where);
        return cli_usage_error("fit", "--frontier binned applies to --law power only");
    }
    if (plot && !cli_gnuplot_terminal(plot)) {
        free(where);
        return CLI_USAGE;
    }
    char *xnames[CLS_FIT_MAX_VARS] = {0};
    int nx = split_names(xarg, xnames, CLS_FIT_MAX_VARS);
    int want = cls_fit_law_nvars(opt.law, nx);
    if (nx < 0 || want != nx) {
        for (int j = 0; j < CLS_FIT_MAX_VARS; j++) free(xnames[j]);
        free(where);
        if (nx < 0) return cli_usage_error("fit", "--x must name 1 to %d columns", CLS_FIT_MAX_VARS);
        return cli_usage_error("fit", "the %s law takes %d --x column%s, got %d", law_name, want,
                               want == 1 ? "" : "s", nx);
    }
    if (tokens && opt.law != CLS_LAW_CHINCHILLA) {
        for (int j = 0; j < nx; j++) free(xnames[j]);
        free(where);
        return cli_usage_error("fit", "--tokens-from-compute applies to --law chinchilla only");
    }
    opt.nvars = nx;
    opt.frontier_binned = binned;
    opt.bins = bins;
    opt.bootstrap = boot;
    opt.seed = (uint64_t)seed;
    opt.threads = threads;

    const char *path = argv[first];
    cls_csv *csv = NULL;
    int64_t *rows = NULL, *groups = NULL, *order = NULL;
    double *x = NULL, *y = NULL, *col = NULL;
    cls_fit_result fit;
    memset(&fit, 0, sizeof fit);
    cls_status st = cls_csv_read_file(path, &csv);
    if (st) {
        rc = cli_status_error(st, NULL);
        goto out;
    }
    int64_t nrows = cls_csv_rows(csv);
    rows = malloc(sizeof(int64_t) * (size_t)(nrows + 1));
    if (!rows) { rc = cli_error("out of memory"); goto out; }
    int64_t n;
    st = cls_csv_select(csv, where, nwhere, rows, &n);
    if (st) { rc = cli_status_error(st, NULL); goto out; }
    if (n == 0) { rc = cli_error("%s: no rows left after the --where filters", path); goto out; }
    x = malloc(sizeof(double) * (size_t)n * (size_t)nx);
    y = malloc(sizeof(double) * (size_t)n);
    col = malloc(sizeof(double) * (size_t)n);
    order = malloc(sizeof(int64_t) * (size_t)n);
    if (!x || !y || !col || !order) { rc = cli_error("out of memory"); goto out; }
    for (int j = 0; j < nx; j++) {
        st = cls_csv_column_f64(csv, xnames[j], rows, n, col);
        if (st) { rc = cli_status_error(st, NULL); goto out; }
        for (int64_t i = 0; i < n; i++) x[i * nx + j] = col[i];
    }
    st = cls_csv_column_f64(csv, ycol, rows, n, y);
    if (st) { rc = cli_status_error(st, NULL); goto out; }
    if (drop >= n) { rc = cli_error("--drop-top %d leaves no rows (%lld selected)", drop, (long long)n); goto out; }
    {
        /* --one-minus-y, --tokens-from-compute, --drop-top (rows stay in file order). */
        cls_fit_prep_options prep;
        cls_fit_prep_options_init(&prep);
        prep.one_minus_y = one_minus;
        prep.tokens_from_compute = tokens;
        prep.drop_top = drop;
        st = cls_fit_prepare(x, y, nx, &n, &prep, order);
        if (st) { rc = cli_status_error(st, NULL); goto out; }
        for (int64_t i = 0; i < n; i++) rows[i] = rows[order[i]];
    }
    /* Log laws need positive values: name the line and the column. */
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < nx; j++)
            if (!(x[i * nx + j] > 0)) {
                rc = cli_error("%s: line %lld, column '%s': %g is not positive (the %s law is "
                               "fitted on logarithms)", path, (long long)cls_csv_line(csv, rows[i]),
                               xnames[j], x[i * nx + j], law_name);
                goto out;
            }
        if (!(y[i] > 0)) {
            rc = cli_error("%s: line %lld, column '%s': %g is not positive (the %s law is fitted on "
                           "logarithms)", path, (long long)cls_csv_line(csv, rows[i]), ycol, y[i], law_name);
            goto out;
        }
    }
    if (group) {
        int64_t gcol;
        st = cls_csv_column_index(csv, group, &gcol);
        if (st) { rc = cli_status_error(st, NULL); goto out; }
        groups = malloc(sizeof(int64_t) * (size_t)n);
        if (!groups) { rc = cli_error("out of memory"); goto out; }
        /* Group id = rank of the cell text among the distinct texts (sort, then number). */
        const char **cells = malloc(sizeof(char *) * (size_t)n);
        int64_t *idx = malloc(sizeof(int64_t) * (size_t)n);
        if (!cells || !idx) {
            free(cells);
            free(idx);
            rc = cli_error("out of memory");
            goto out;
        }
        for (int64_t i = 0; i < n; i++) {
            cells[i] = cls_csv_cell(csv, rows[i], gcol);
            idx[i] = i;
        }
        qsort_r(idx, (size_t)n, sizeof *idx, cmp_cells, cells);
        int64_t id = -1;
        for (int64_t r = 0; r < n; r++) {
            if (r == 0 || strcmp(cells[idx[r]], cells[idx[r - 1]]) != 0) id++;
            groups[idx[r]] = id;
        }
        free(cells);
        free(idx);
    }
    char ylabel[300];
    snprintf(ylabel, sizeof ylabel, one_minus ? "1 - %s" : "%s", ycol);
    st = cls_fit_law(x, y, groups, n, &opt, &fit);
    if (st) { rc = cli_status_error(st, "fit"); goto out; }
    for (int i = 0; i < fit.nwarnings; i++) cli_warning("%s", fit.warnings[i]);
    if (save) {
        st = cls_fit_save(&fit, (const char *const *)xnames, ylabel, save);
        if (st) { rc = cli_status_error(st, "--save"); goto out; }
    }
    if (plot) {
        rc = fit_plot(&fit, x, y, n, (const char *const *)xnames, ylabel, plot);
        if (rc) goto out;
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "law", cls_fit_law_name(fit.law));
        cJSON *p = cJSON_CreateObject();
        for (int i = 0; i < fit.nparams; i++) cJSON_AddNumberToObject(p, fit.param_names[i], fit.params[i]);
        cJSON_AddItemToObject(o, "params", p);
        cJSON_AddItemToObject(o, "ci80", interval_json(&fit, fit.ci80));
        cJSON_AddItemToObject(o, "ci95", interval_json(&fit, fit.ci95));
        cJSON_AddNumberToObject(o, "objective", fit.objective);
        cJSON_AddNumberToObject(o, "n_points", (double)fit.n_points);
        cJSON_AddNumberToObject(o, "n_starts", (double)fit.n_starts);
        cJSON_AddNumberToObject(o, "starts_converged_fraction", fit.starts_converged_fraction);
        cJSON_AddNumberToObject(o, "bootstrap", fit.bootstrap);
        cJSON *w = cJSON_CreateArray();
        for (int i = 0; i < fit.nwarnings; i++) cJSON_AddItemToArray(w, cJSON_CreateString(fit.warnings[i]));
        cJSON_AddItemToObject(o, "warnings", w);
        if (fit.nderived) {
            cJSON *a = cJSON_CreateObject();
            for (int i = 0; i < fit.nderived; i++)
                cJSON_AddNumberToObject(a, fit.derived_names[i], fit.derived[i]);
            cJSON_AddItemToObject(o, "allocation", a);
        }
        cli_json_print(o);
    } else {
        printf("law %s%s on %lld points (%s)\n", cls_fit_law_name(fit.law),
               fit.frontier_binned ? " (binned frontier)" : "", (long long)fit.n_points, path);
        printf("objective %.10g; %lld starts, %.1f %% reached the best\n", fit.objective,
               (long long)fit.n_starts, 100.0 * fit.starts_converged_fraction);
        printf("%-8s %14s %26s %26s\n", "", "estimate", "80% interval", "95% interval");
        for (int q = 0; q < fit.nparams + fit.nderived; q++) {
            const char *name = q < fit.nparams ? fit.param_names[q] : fit.derived_names[q - fit.nparams];
            double v = q < fit.nparams ? fit.params[q] : fit.derived[q - fit.nparams];
            if (fit.bootstrap > 0)
                printf("%-8s %14.6g   [%10.5g, %10.5g]   [%10.5g, %10.5g]\n", name, v, fit.ci80[q][0],
                       fit.ci80[q][1], fit.ci95[q][0], fit.ci95[q][1]);
            else
                printf("%-8s %14.6g   (no bootstrap)\n", name, v);
        }
        if (fit.bootstrap > 0)
            printf("intervals: percentile bootstrap over %d %s resamples\n", fit.bootstrap,
                   group ? "group" : "point");
    }
out:
    cls_fit_result_free(&fit);
    cls_csv_free(csv);
    for (int j = 0; j < CLS_FIT_MAX_VARS; j++) free(xnames[j]);
    free(rows);
    free(groups);
    free(order);
    free(x);
    free(y);
    free(col);
    free(where);
    return rc;
}
