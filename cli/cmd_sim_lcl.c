/* clscale sim lcl: sketched linear contrastive learning, one point (the five
 * risk terms) or one of the spec's sweeps S1..S6 (CSV, fitted slopes against
 * the predicted exponents, a gnuplot plot). */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *CMD = "sim lcl";

static void usage(FILE *out)
{
    fputs("usage: clscale sim lcl [options]\n"
          "       clscale sim lcl --sweep S1|S2|S3|S4|S5|S6 [--out DIR] [options]\n\n"
          "Sketched linear contrastive learning: full-batch GD on a bilinear score of sketched\n"
          "views, with the excess risk split into approximation, GD bias, GD variance and a\n"
          "cross term (specs/lcl.md). GD is evaluated in closed form for any number of steps.\n\n"
          "data and sketch:\n"
          "  --d D              ambient dimension (default 4000; sweeps: 8000, S4 16000, S6 4000)\n"
          "  --M M              sketch size, M <= d (default 64; sweeps S2/S3 512, S4 1024, S6 128)\n"
          "  --a A              spectrum exponent lambda_i = i^-a, a > 1 (default 1.5)\n"
          "  --a2 A2            view-2 spectrum exponent, asymmetric views (default: = a)\n"
          "  --b B              correlation exponent rho_i = rho0 i^(-b/2), b > 1 (default 2)\n"
          "  --rho0 R           correlation scale in (0, 1) (default 0.9)\n"
          "  --sketch S.npy     use this M x d sketch (float32/float64) instead of a Gaussian one\n"
          "  --seed S           sketch seed (default 1)\n\n"
          "training and risk:\n"
          "  --N N              samples, or 'inf' for no variance (default 1000; sweep S5 100000)\n"
          "  --steps L          GD steps, or 'inf' to run to convergence (default 1000)\n"
          "  --lr G             step size (default 0.5/(lambda_max(G1) lambda_max(G2)) of the sketch;\n"
          "                     mode E warns if a draw's empirical G^ makes it unstable)\n"
          "  --schedule L1:G1,L2:G2,...  piecewise-constant step schedule (replaces --steps/--lr)\n"
          "  --mode P|E         negatives: P population, E in-batch N^2 pairs (default P)\n"
          "  --draws K          mode E: datasets averaged (default 16; sweep S6 4)\n"
          "  --monte-carlo K    also simulate K datasets with iterated GD (default 0 = off)\n"
          "  --sampler S        datasets: auto|wishart|explicit|full (default auto: Wishart\n"
          "                     when N >= 2M, explicit samples otherwise)\n"
          "  --data-seed S      dataset seed (default 1)\n"
          "  --threads T        threads, 0 = all cores (default 0)\n"
          "  --json             print one JSON object on one line\n\n"
          "sweeps:\n"
          "  --sweep SK         S1 A vs M | S2 bias vs t | S3 2N*variance vs t and D_M(t) |\n"
          "                     S4 best-t B+V vs N | S5 risk vs M at t = inf | S6 as S4 in mode E\n"
          "  --out DIR          where lcl_SK.csv and lcl_SK.png go (default .)\n"
          "  --grid V1,V2,...   custom values of the swept axis (M, t or N)\n"
          "  --t-grid T1,...    custom horizons searched for the best t (S4, S6)\n"
          "  --no-plot          skip the gnuplot plot\n"
          "  --help             this text\n", out);
}

static const char *sampler_name(cls_lcl_sampler s)
{
    switch (s) {
    case CLS_LCL_SAMPLER_WISHART: return "wishart";
    case CLS_LCL_SAMPLER_EXPLICIT: return "explicit";
    case CLS_LCL_SAMPLER_FULL: return "full";
    default: return "auto";
    }
}

/* "L1:G1,L2:G2" into segments; returns 0 after a usage error. */
static int parse_schedule(const char *text, int *nseg, int64_t **steps, double **lr)
{
    int n = 1;
    for (const char *p = text; *p; p++) n += (*p == ',');
    int64_t *s = malloc((size_t)n * sizeof *s);
    double *g = malloc((size_t)n * sizeof *g);
    char *copy = strdup(text), *save = NULL;
    int k = 0, ok = s && g && copy;
    for (char *tok = ok ? strtok_r(copy, ",", &save) : NULL; ok && tok; tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        if (!colon) {
            cli_usage_error(CMD, "--schedule: segment '%s' is not STEPS:LR", tok);
            ok = 0;
            break;
        }
        *colon = 0;
        if (!cli_parse_int64("--schedule steps", tok, &s[k]) || !cli_parse_double("--schedule lr", colon + 1, &g[k])) {
            ok = 0;
            break;
        }
        if (s[k] < 0 || !(g[k] > 0)) {
            cli_usage_error(CMD, "--schedule: segment %d needs steps >= 0 and lr > 0", k + 1);
            ok = 0;
            break;
        }
        k++;
    }
    free(copy);
    if (!ok || k == 0) {
        if (ok) cli_usage_error(CMD, "--schedule is empty");
        free(s);
        free(g);
        return 0;
    }
    *nseg = k;
    *steps = s;
    *lr = g;
    return 1;
}

static void print_warnings(int n, char w[][256])
{
    for (int k = 0; k < n; k++) cli_warning("%s", w[k]);
}

/* Measured exponents the spec reports for its own settings (specs/lcl.md). */
static const char *spec_measured(int sweep, double a, double b)
{
    struct { int s; double a, b; const char *v; } t[] = {
        {1, 1.5, 2, "-1.016"}, {1, 1.5, 3, "-1.54"}, {1, 3, 3, "-2.02"},
        {2, 1.5, 2, "-0.379"}, {2, 2, 2, "-0.262"}, {4, 1.5, 2, "-0.298"}, {4, 1.5, 3, "-0.426"}};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        if (t[k].s == sweep && t[k].a == a && t[k].b == b) return t[k].v;
    return NULL;
}

static int write_csv(const char *path, const cls_lcl_sweep_result *r)
{
    FILE *f = fopen(path, "w");
    if (!f) return cli_error("cannot write %s", path);
    for (int c = 0; c < r->ncols; c++) fprintf(f, "%s%s", c ? "," : "", r->colnames[c]);
    fputc('\n', f);
    for (int i = 0; i < r->npoints; i++) {
        for (int c = 0; c < r->ncols; c++) fprintf(f, "%s%.10g", c ? "," : "", r->table[(size_t)i * r->ncols + c]);
        fputc('\n', f);
    }
    if (fclose(f) != 0) return cli_error("cannot write %s", path);
    return CLI_OK;
}

static int plot_sweep(const char *csv, const char *png, const cls_lcl_sweep_result *r)
{
    char *script = NULL;
    size_t len = 0;
    FILE *f = cli_gnuplot_open(png, &script, &len);
    if (!f) return CLI_FAIL;
    char title[256];
    snprintf(title, sizeof title, "lcl S%d: measured slope %.3f, predicted %.3f (%s)", r->sweep, r->slope,
             r->predicted_slope, r->predicted_text);
    fputs("set datafile separator ','\nset logscale xy\nset grid\nset key top right\nset title ", f);
    cli_gnuplot_quote(f, title);
    fputs(" noenhanced\nset xlabel ", f);
    cli_gnuplot_quote(f, r->x_label);
    fputs(" noenhanced\nset ylabel ", f);
    cli_gnuplot_quote(f, r->sweep == 5 ? "excess risk E R - R* (t = inf)" : r->y_label);
    fputs(" noenhanced\nplot ", f);
    cli_gnuplot_quote(f, csv);
    int yc = r->sweep == 5 ? 3 : r->ycol;
    fprintf(f, " every ::1 using %d:%d with points pt 7 ps 1.2 title ", r->xcol + 1, yc + 1);
    char t[160];
    snprintf(t, sizeof t, "measured (%s)", r->colnames[yc]);
    cli_gnuplot_quote(f, t);
    fputs(" noenhanced", f);
    if (r->predcol >= 0) {
        fputs(", ", f);
        cli_gnuplot_quote(f, csv);
        fprintf(f, " every ::1 using %d:%d with lines lw 2 title ", r->xcol + 1, r->predcol + 1);
        snprintf(t, sizeof t, "predicted (%s)",
                 r->sweep == 3 ? "D_M(t)" : r->sweep == 5 ? "c M^-min(b-1,a) + M^2/(2N)" : r->predicted_text);
        cli_gnuplot_quote(f, t);
        fputs(" noenhanced", f);
    }
    if (r->sweep == 5) {
        fputs(", ", f);
        cli_gnuplot_quote(f, csv);
        fputs(" every ::1 using 1:2 with linespoints title 'approx A', ", f);
        cli_gnuplot_quote(f, csv);
        fputs(" every ::1 using 1:3 with linespoints title 'variance'", f);
    }
    fputs("\nunset output\n", f);
    return cli_gnuplot_finish(f, &script, png);
}

static int run_sweep(cls_lcl_sweep_config *sc, const char *outdir, int json, int plot)
{
    cls_lcl_sweep_result r;
    double t0 = cls_now_seconds();
    cls_status st = cls_lcl_sweep_run(sc, &r);
    if (st == CLS_E_INVALID_ARG) return cli_usage_error(CMD, "%s", cls_last_error());
    if (st) return cli_status_error(st, NULL);
    double secs = cls_now_seconds() - t0;
    struct stat sb;
    if (stat(outdir, &sb) != 0 && mkdir(outdir, 0777) != 0) {
        cls_lcl_sweep_result_free(&r);
        return cli_error("cannot create directory %s", outdir);
    }
    char csv[4096], png[4096];
    snprintf(csv, sizeof csv, "%s/lcl_S%d.csv", outdir, sc->sweep);
    snprintf(png, sizeof png, "%s/lcl_S%d.png", outdir, sc->sweep);
    int rc = write_csv(csv, &r);
    if (rc == CLI_OK && plot) rc = plot_sweep(csv, png, &r);
    print_warnings(r.nwarnings, r.warnings);
    const char *spec = spec_measured(sc->sweep, sc->data.a, sc->data.b);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        char name[8];
        snprintf(name, sizeof name, "S%d", sc->sweep);
        cJSON_AddStringToObject(o, "sweep", name);
        cJSON_AddNumberToObject(o, "points", r.npoints);
        cJSON_AddNumberToObject(o, "M", (double)r.M);
        cJSON_AddNumberToObject(o, "d", (double)r.d);
        cJSON_AddNumberToObject(o, "slope_measured", r.slope);
        cJSON_AddNumberToObject(o, "slope_predicted", r.predicted_slope);
        cJSON_AddNumberToObject(o, "slope_predicted_effective", r.predicted_effective);
        cJSON_AddStringToObject(o, "predicted", r.predicted_text);
        if (spec) cJSON_AddNumberToObject(o, "slope_spec_measured", cls_strtod_c(spec, NULL));
        if (sc->sweep == 5) {
            cJSON_AddNumberToObject(o, "M_opt_measured", r.x_opt);
            cJSON_AddNumberToObject(o, "M_opt_predicted", r.x_opt_predicted);
        }
        cJSON_AddStringToObject(o, "csv", csv);
        cJSON_AddNumberToObject(o, "seconds", secs);
        cli_json_print(o);
    } else {
        printf("lcl sweep S%d: a = %g, b = %g, rho0 = %g, d = %lld, M = %lld%s (%.2f s)\n", sc->sweep,
               sc->data.a, sc->data.b, sc->data.rho0, (long long)r.d, (long long)r.M,
               sc->sweep == 1 || sc->sweep == 5 ? " (largest)" : "", secs);
        for (int c = 0; c < r.ncols; c++) printf("%s%14s", c ? " " : "", r.colnames[c]);
        putchar('\n');
        for (int i = 0; i < r.npoints; i++) {
            for (int c = 0; c < r.ncols; c++) printf("%s%14.6g", c ? " " : "", r.table[(size_t)i * r.ncols + c]);
            putchar('\n');
        }
        printf("\n%-32s %-12s %-12s %s\n", "fit (log-log least squares)", "measured", "predicted", "spec measured");
        printf("%-32s %-12.4f %-12.4f %s\n", r.y_label, r.slope, r.predicted_slope, spec ? spec : "-");
        if (sc->sweep == 4 || sc->sweep == 6)
            printf("%-32s %-12s %-12.4f (slope of (N/ln N)^-(b-1)/(b+1) on this grid)\n", "  with the log correction", "",
                   r.predicted_effective);
        printf("predicted: %s\n", r.predicted_text);
        if (sc->sweep == 5) printf("argmin M: measured %.0f, predicted %.1f\n", r.x_opt, r.x_opt_predicted);
        printf("csv: %s\n", csv);
        if (plot) printf("plot: %s\n", png);
    }
    cls_lcl_sweep_result_free(&r);
    return rc;
}

static void usage_stdout(void) { usage(stdout); }

int cmd_sim_lcl(int argc, char **argv)
{
    cls_lcl_data data;
    cls_lcl_data_init(&data);
    int64_t M = 64, N = 1000, steps = 1000, draws = 16, mc = 0, d_set = 0, M_set = 0, N_set = 0;
    int64_t seed = 1, data_seed = 1;
    double lr = 0.0;
    int mode = CLS_LCL_MODE_P, threads = 0, json = 0, sweep = 0, plot = 1, steps_inf = 0;
    cls_lcl_sampler sampler = CLS_LCL_SAMPLER_AUTO;
    const char *sketch = NULL, *outdir = ".", *schedule_text = NULL;
    double *grid = NULL, *tgrid = NULL;
    int ngrid = 0, ntgrid = 0, rc = CLI_OK;
    int steps_set = 0, lr_set = 0, a2_set = 0, draws_set = 0;

    const char *N_text = NULL, *steps_text = NULL;
    int mode_i = -1, sampler_i = -1, sweep_i = -1, no_plot = 0, first = 0;
    cli_option table[] = {
        CLI_INT64("d", &data.d, NAN, NAN), CLI_INT64("M", &M, NAN, NAN), CLI_STRING("N", &N_text),
        CLI_STRING("steps", &steps_text), CLI_DOUBLE("lr", &lr, NAN, NAN), CLI_STRING("schedule", &schedule_text),
        CLI_DOUBLE("a", &data.a, NAN, NAN), CLI_DOUBLE("a2", &data.a2, NAN, NAN), CLI_DOUBLE("b", &data.b, NAN, NAN),
        CLI_DOUBLE("rho0", &data.rho0, NAN, NAN), CLI_CHOICE("mode", &mode_i, "P|E|p|e"),
        CLI_STRING("sketch", &sketch), CLI_INT64("seed", &seed, NAN, NAN), CLI_INT64("data-seed", &data_seed, NAN, NAN),
        CLI_INT64("draws", &draws, NAN, NAN), CLI_INT64("monte-carlo", &mc, NAN, NAN),
        CLI_CHOICE("sampler", &sampler_i, "auto|wishart|explicit|full"), CLI_INT("threads", &threads, 0, 4096),
        CLI_FLAG("json", &json), CLI_CHOICE("sweep", &sweep_i, "S1|S2|S3|S4|S5|S6|s1|s2|s3|s4|s5|s6"),
        CLI_STRING("out", &outdir), CLI_DOUBLE_LIST("grid", &grid, &ngrid, NAN, NAN),
        CLI_DOUBLE_LIST("t-grid", &tgrid, &ntgrid, NAN, NAN), CLI_FLAG("no-plot", &no_plot), CLI_END};
    int dset = 0, mset = 0, lrset = 0, a2set = 0, drawsset = 0;
    table[0].seen = &dset, table[1].seen = &mset, table[4].seen = &lrset, table[7].seen = &a2set;
    table[14].seen = &drawsset;
    rc = cli_parse_options(CMD, table, argc, argv, usage_stdout, &first);
    if (rc) {
        if (rc == CLI_HELP) rc = CLI_OK;
        goto out;
    }
    d_set = dset, M_set = mset, lr_set = lrset, a2_set = a2set, draws_set = drawsset;
    if (no_plot) plot = 0;
    if (mode_i >= 0) mode = mode_i % 2 == 0 ? CLS_LCL_MODE_P : CLS_LCL_MODE_E;
    if (sampler_i >= 0) {
        const cls_lcl_sampler smp[4] = {CLS_LCL_SAMPLER_AUTO, CLS_LCL_SAMPLER_WISHART, CLS_LCL_SAMPLER_EXPLICIT,
                                        CLS_LCL_SAMPLER_FULL};
        sampler = smp[sampler_i];
    }
    if (sweep_i >= 0) sweep = sweep_i % 6 + 1;
    if (N_text) {
        N_set = 1;
        if (strcmp(N_text, "inf") == 0) N = 0;
        else if (!cli_parse_int64("--N", N_text, &N) || N < 1) {
            rc = cli_usage_error(CMD, "--N must be an integer >= 1 or 'inf', not '%s'", N_text);
            goto out;
        }
    }
    if (steps_text) {
        steps_set = 1;
        if (strcmp(steps_text, "inf") == 0) steps_inf = 1;
        else if (!cli_parse_int64("--steps", steps_text, &steps) || steps < 0) {
            rc = cli_usage_error(CMD, "--steps must be an integer >= 0 or 'inf', not '%s'", steps_text);
            goto out;
        }
    }
    if (first < argc) { rc = cli_usage_error(CMD, "unexpected argument '%s'", argv[first]); goto out; }
    (void)a2_set;

    if (sweep) {
        cls_lcl_sweep_config sc;
        cls_lcl_sweep_config_init(&sc, sweep);
        sc.data = data;
        if (!d_set) sc.data.d = 0;
        sc.M = M_set ? M : 0;
        sc.N = N_set ? N : 0;
        sc.grid = grid;
        sc.ngrid = ngrid;
        sc.t_grid = tgrid;
        sc.nt = ntgrid;
        sc.lr = lr_set ? lr : 0.0;
        sc.draws = draws_set ? draws : 0;
        sc.seed = (uint64_t)seed;
        sc.data_seed = (uint64_t)data_seed;
        sc.threads = threads;
        if (sketch || mode == CLS_LCL_MODE_E || mc || schedule_text || steps_set)
            cli_warning("--sketch, --mode, --monte-carlo, --schedule and --steps do not apply to sweeps (ignored)");
        rc = run_sweep(&sc, outdir, json, plot);
        goto out;
    }

    /* ---- one point ---- */
    cls_lcl_model *model = NULL;
    cls_status st;
    if (sketch) {
        double *S = NULL;
        int64_t rows = 0, cols = 0;
        if ((st = cls_npy_load_matrix_f64(sketch, &S, &rows, &cols))) { rc = cli_status_error(st, "--sketch"); goto out; }
        if ((M_set && rows != M) || (d_set && cols != data.d)) {
            free(S);
            rc = cli_usage_error(CMD, "--sketch %s is %lld x %lld, but --M %lld / --d %lld were given", sketch,
                                 (long long)rows, (long long)cols, (long long)M, (long long)data.d);
            goto out;
        }
        M = rows;
        data.d = cols;
        st = cls_lcl_model_create_sketch(&model, &data, S, M, threads);
        free(S);
    } else {
        if (M > data.d) { /* name the option the user actually gave */
            rc = M_set ? cli_usage_error(CMD, "--M %lld exceeds --d %lld (a sketch compresses: M <= d)",
                                         (long long)M, (long long)data.d)
                       : cli_usage_error(CMD, "--d %lld is below the default sketch size M = %lld: give --M <= d",
                                         (long long)data.d, (long long)M);
            goto out;
        }
        st = cls_lcl_model_create(&model, &data, M, (uint64_t)seed, threads);
    }
    /* the options are the only input: an invalid argument is a usage error */
    if (st == CLS_E_INVALID_ARG) { rc = cli_usage_error(CMD, "%s", cls_last_error()); goto out; }
    if (st) { rc = cli_status_error(st, NULL); goto out; }

    cls_lcl_config cfg;
    cls_lcl_config_init(&cfg);
    cfg.mode = (cls_lcl_mode)mode;
    cfg.N = N;
    cfg.draws = draws;
    cfg.monte_carlo = mc;
    cfg.sampler = sampler;
    cfg.seed = (uint64_t)data_seed;
    cfg.threads = threads;
    int64_t one_steps = steps;
    double one_lr = lr_set ? lr : cls_lcl_model_default_lr(model);
    int64_t *seg_steps = NULL;
    double *seg_lr = NULL;
    if (schedule_text) {
        if (steps_set || lr_set) {
            cls_lcl_model_free(model);
            rc = cli_usage_error(CMD, "--schedule replaces --steps and --lr: give one or the other");
            goto out;
        }
        if (!parse_schedule(schedule_text, &cfg.schedule.nseg, &seg_steps, &seg_lr)) {
            cls_lcl_model_free(model);
            rc = CLI_USAGE;
            goto out;
        }
        cfg.schedule.steps = seg_steps;
        cfg.schedule.lr = seg_lr;
    } else if (steps_inf) {
        cfg.schedule.infinite = 1;
    } else {
        cfg.schedule.nseg = 1;
        cfg.schedule.steps = &one_steps;
        cfg.schedule.lr = &one_lr;
    }
    cls_lcl_result r;
    st = cls_lcl_risk(model, &cfg, &r);
    int64_t Mused = cls_lcl_model_M(model);
    cls_lcl_model_free(model);
    free(seg_steps);
    free(seg_lr);
    if (st == CLS_E_INVALID_ARG) { rc = cli_usage_error(CMD, "%s", cls_last_error()); goto out; }
    if (st) { rc = cli_status_error(st, NULL); goto out; }
    print_warnings(r.nwarnings, r.warnings);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "R_star", r.R_star);
        cJSON_AddNumberToObject(o, "approx", r.approx);
        cJSON_AddNumberToObject(o, "bias", r.bias);
        cJSON_AddNumberToObject(o, "variance", r.variance);
        cJSON_AddNumberToObject(o, "cross", r.cross);
        cJSON_AddNumberToObject(o, "excess", r.excess);
        cJSON_AddNumberToObject(o, "risk", r.risk);
        if (isinf(r.t)) cJSON_AddStringToObject(o, "t", "inf");
        else cJSON_AddNumberToObject(o, "t", r.t);
        cJSON_AddNumberToObject(o, "lr", r.lr);
        cJSON_AddNumberToObject(o, "D_M", r.D_M);
        cJSON_AddStringToObject(o, "mode", mode == CLS_LCL_MODE_E ? "E" : "P");
        cJSON_AddNumberToObject(o, "M", (double)Mused);
        cJSON_AddNumberToObject(o, "d", (double)data.d);
        if (N > 0) cJSON_AddNumberToObject(o, "N", (double)N);
        else cJSON_AddStringToObject(o, "N", "inf");
        cJSON_AddNumberToObject(o, "lr_bound", r.lr_bound);
        if (mode == CLS_LCL_MODE_E) {
            cJSON_AddNumberToObject(o, "draws", (double)r.draws);
            cJSON_AddNumberToObject(o, "bias_se", r.bias_se);
            cJSON_AddNumberToObject(o, "variance_se", r.variance_se);
            cJSON_AddNumberToObject(o, "cross_se", r.cross_se);
            cJSON_AddNumberToObject(o, "excess_se", r.excess_se);
        }
        if (mc > 0) {
            cJSON_AddNumberToObject(o, "mc_excess", r.mc_excess);
            cJSON_AddNumberToObject(o, "mc_se", r.mc_se);
            cJSON_AddNumberToObject(o, "mc_runs", (double)r.mc_runs);
        }
        if (mode == CLS_LCL_MODE_E || mc > 0) cJSON_AddStringToObject(o, "sampler", sampler_name(r.sampler_used));
        cJSON *w = cJSON_AddArrayToObject(o, "warnings");
        for (int k = 0; k < r.nwarnings; k++) cJSON_AddItemToArray(w, cJSON_CreateString(r.warnings[k]));
        cli_json_print(o);
    } else {
        char ntext[32];
        if (N > 0) snprintf(ntext, sizeof ntext, "%lld", (long long)N);
        else snprintf(ntext, sizeof ntext, "inf");
        printf("lcl: mode %s, d = %lld, M = %lld, N = %s, t = %g (lr %g), D_M(t) = %g\n",
               mode == CLS_LCL_MODE_E ? "E" : "P", (long long)data.d, (long long)Mused, ntext, r.t, r.lr, r.D_M);
        printf("  R*        %12.6f\n", r.R_star);
        printf("  approx    %12.6f\n", r.approx);
        if (mode == CLS_LCL_MODE_E) {
            printf("  bias      %12.6f  +- %.6f\n", r.bias, r.bias_se);
            printf("  variance  %12.6f  +- %.6f\n", r.variance, r.variance_se);
            printf("  cross     %12.6f  +- %.6f\n", r.cross, r.cross_se);
            printf("  excess    %12.6f  +- %.6f  (%lld draws)\n", r.excess, r.excess_se, (long long)r.draws);
        } else {
            printf("  bias      %12.6f\n  variance  %12.6f\n  cross     %12.6f\n  excess    %12.6f  (exact expectation)\n",
                   r.bias, r.variance, r.cross, r.excess);
        }
        printf("  risk      %12.6f\n", r.risk);
        if (mc > 0)
            printf("  Monte Carlo (iterated GD, %lld datasets, %s sampler): excess %.6f +- %.6f\n", (long long)r.mc_runs,
                   sampler_name(r.sampler_used), r.mc_excess, r.mc_se);
    }
out:
    free(grid);
    free(tgrid);
    return rc;
}
