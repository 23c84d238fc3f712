/* clscale sim featlearn: the solvable feature-learning model, lazy (gamma = 0)
 * against rich (gamma > 0) side by side; local slopes of the draw-averaged
 * loss curves next to the predicted exponents; optionally the width
 * bottleneck and the compute-optimal frontier. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "sim featlearn"

static void usage(FILE *out)
{
    fputs("usage: clscale sim featlearn [options]\n\n"
          "Projected SGD on the power-law model of Bordelon, Atanasov & Pehlevan:\n"
          "lambda_k = k^-alpha, target with source exponent beta, width N, M features.\n"
          "Prints the local slopes -dlnL/dln(eta t) of the loss averaged over draws of A0,\n"
          "next to the predictions (lazy t^-beta, rich t^-beta*max(1, 2/(1+beta))).\n\n"
          "options:\n"
          "  --alpha A      spectrum exponent, > 1                        (default 2)\n"
          "  --beta B       source exponent, > 0 (< 1 is a hard task)     (default 0.5)\n"
          "  --N N          width; 0 = infinite width                     (default 2000)\n"
          "  --M M          number of features                            (default 1000)\n"
          "  --gamma LIST   feature-learning strengths, one run each;\n"
          "                 0 is lazy                                     (default 0,0.5)\n"
          "  --eta E        learning rate                                 (default 0.1)\n"
          "  --batch B      batch size; 0 = population gradient           (default 0)\n"
          "  --T T          SGD steps (the curve ends at eta*T)           (default 20000)\n"
          "  --seeds S      draws of A0 averaged before slopes are taken  (default 8)\n"
          "  --bottleneck   also the width bottleneck: measured E(N) against the\n"
          "                 deterministic equivalent for N = 50,71,100,141,200,283,400\n"
          "                 (those below M/2), with the slope        (default off)\n"
          "  --frontier     also the compute frontier L*(C) = min_N L(C/N, N) over the\n"
          "                 widths N, N/2, N/4, ... (>= 8, at most 8), per gamma,\n"
          "                 with its fitted exponent against the table (default off)\n"
          "  --csv OUT      write the loss curves to OUT\n"
          "                 (columns gamma,step,eta_t,loss,loss_lazy_n_inf)\n"
          "  --plot P       loss curves on log axes with the predicted slopes (.png/.svg;\n"
          "                 needs gnuplot, a note otherwise)\n"
          "  --json         print one JSON object on stdout\n"
          "  -h, --help     show this help\n", out);
}

typedef struct {
    cls_featlearn_config cfg;
    double *gammas;
    int ngamma;
    int bottleneck, frontier, json;
    const char *csv, *plot;
} options;

static void usage_stdout(void) { usage(stdout); }

static int parse(int argc, char **argv, options *o)
{
    cls_featlearn_config_init(&o->cfg);
    o->gammas = NULL;
    o->ngamma = 0;
    int first = 0;
    const cli_option opts[] = {
        CLI_DOUBLE("alpha", &o->cfg.alpha, NAN, NAN), CLI_DOUBLE("beta", &o->cfg.beta, NAN, NAN),
        CLI_INT64("N", &o->cfg.N, NAN, NAN), CLI_INT64("M", &o->cfg.M, NAN, NAN),
        CLI_DOUBLE_LIST("gamma", &o->gammas, &o->ngamma, 0, INFINITY),
        CLI_DOUBLE("eta", &o->cfg.eta, NAN, NAN), CLI_INT64("batch", &o->cfg.batch, NAN, NAN),
        CLI_INT64("T", &o->cfg.steps, NAN, NAN), CLI_INT64("seeds", &o->cfg.seeds, NAN, NAN),
        CLI_FLAG("bottleneck", &o->bottleneck), CLI_FLAG("frontier", &o->frontier),
        CLI_STRING("csv", &o->csv), CLI_STRING("plot", &o->plot), CLI_FLAG("json", &o->json), CLI_END};
    /* ranges: the library's config check below says what is allowed */
    int prc = cli_parse_options(CMD, opts, argc, argv, usage_stdout, &first);
    if (prc) return prc;
    if (first < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[first]);
    if (!o->gammas) {
        o->gammas = malloc(2 * sizeof(double));
        if (!o->gammas) return cli_error("out of memory");
        o->gammas[0] = 0.0;
        o->gammas[1] = 0.5;
        o->ngamma = 2;
    }
    for (int i = 0; i < o->ngamma; i++)
        if (!(o->gammas[i] >= 0.0))
            return cli_usage_error(CMD, "--gamma: %g must be >= 0 (0 is lazy)", o->gammas[i]);
    if (o->plot && !cli_gnuplot_terminal(o->plot)) return CLI_USAGE;
    /* Range checks with the library's messages, as usage errors. */
    cls_featlearn_config probe = o->cfg;
    probe.gamma = o->gammas[0];
    if (cls_featlearn_config_check(&probe) != CLS_OK)
        return cli_usage_error(CMD, "%s", cls_last_error());
    /* Checked before any run, so a bad combination costs nothing. */
    if (o->bottleneck && o->cfg.M <= 142)
        return cli_usage_error(CMD, "--bottleneck needs --M > 142 (widths 50..400 below M/2)");
    if (o->frontier && o->cfg.N < 16)
        return cli_usage_error(CMD, "--frontier needs --N >= 16 (widths N, N/2, ... >= 8)");
    return CLI_OK;
}

static cJSON *json_doubles(const double *x, int64_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(x[i]));
    return a;
}

static cJSON *json_ints(const int64_t *x, int64_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)x[i]));
    return a;
}

static int write_csv(const char *path, const options *o, cls_featlearn_result **runs,
                     const double *lazy_inf)
{
    FILE *f = fopen(path, "w");
    if (!f) return cli_error("cannot write %s", path);
    fprintf(f, "gamma,step,eta_t,loss,loss_lazy_n_inf\n");
    for (int g = 0; g < o->ngamma; g++)
        for (int64_t j = 0; j < runs[g]->n; j++)
            fprintf(f, "%.17g,%lld,%.17g,%.17g,%.17g\n", o->gammas[g], (long long)runs[g]->step[j],
                    runs[g]->eta_t[j], runs[g]->loss[j], lazy_inf[j]);
    if (fclose(f) != 0) return cli_error("cannot write %s", path);
    return CLI_OK;
}

/* Loss curves on log axes; each predicted slope is drawn as a dashed line
 * through the curve at eta*t = 10 (or its first point past it). */
static int write_plot(const char *path, const options *o, cls_featlearn_result **runs,
                      const double *lazy_inf, const cls_featlearn_prediction *pred)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = cli_gnuplot_open(path, &s, &len);
    if (!f) return CLI_USAGE;
#define ADD(...) fprintf(f, __VA_ARGS__)
    ADD("set logscale xy\nset xlabel 'eta t'\nset ylabel 'population loss L'\nset key bottom left\n");
    ADD("set title 'featlearn: alpha=%g beta=%g (%s) N=%lld M=%lld, mean of %lld draws'\n",
        o->cfg.alpha, o->cfg.beta, pred->regime_name, (long long)o->cfg.N, (long long)o->cfg.M,
        (long long)o->cfg.seeds);
    const cls_featlearn_result *r0 = runs[0];
    ADD("$inf << EOD\n");
    for (int64_t j = 0; j < r0->n; j++) ADD("%.10g %.10g\n", r0->eta_t[j], lazy_inf[j]);
    ADD("EOD\n");
    for (int g = 0; g < o->ngamma; g++) {
        ADD("$run%d << EOD\n", g);
        for (int64_t j = 0; j < runs[g]->n; j++) ADD("%.10g %.10g\n", runs[g]->eta_t[j], runs[g]->loss[j]);
        ADD("EOD\n");
    }
    ADD("plot $inf using 1:2 with lines dt 3 lc rgb 'gray40' title 'lazy, N = inf (exact)'");
    for (int g = 0; g < o->ngamma; g++) {
        const cls_featlearn_result *r = runs[g];
        int64_t j0 = 0;
        while (j0 + 1 < r->n && r->eta_t[j0] < 10.0) j0++;
        double chi = o->gammas[g] > 0 ? pred->time_rich : pred->time_lazy;
        ADD(", $run%d using 1:2 with lines lw 2 lc %d title 'gamma = %g (%lld loss increases)'", g,
            g + 1, o->gammas[g], (long long)r->loss_increases);
        ADD(", [x=%g:%g] %.10g*(x/%.10g)**(-%.6f) with lines dt 2 lc %d title 'predicted t^{-%.3f}'",
            r->eta_t[j0], r->eta_t[r->n - 1], r->loss[j0], r->eta_t[j0], chi, g + 1, chi);
    }
    ADD("\n");
#undef ADD
    return cli_gnuplot_finish(f, &s, path);
}

int cmd_sim_featlearn(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    int rc = parse(argc, argv, &o);
    if (rc != CLI_OK) {
        free(o.gammas);
        return rc < 0 ? CLI_OK : rc;
    }
    cls_featlearn_prediction pred;
    if (cls_featlearn_predict(o.cfg.alpha, o.cfg.beta, &pred) != CLS_OK) {
        free(o.gammas);
        return cli_usage_error(CMD, "%s", cls_last_error());
    }
    cls_featlearn_result **runs = calloc((size_t)o.ngamma, sizeof *runs);
    cls_featlearn_bottleneck_result *bn = NULL;
    cls_featlearn_frontier_result **fr = calloc((size_t)o.ngamma, sizeof *fr);
    double *lazy_inf = NULL, *steps_d = NULL;
    cJSON *root = NULL;
    if (!runs || !fr) {
        rc = cli_error("out of memory");
        goto done;
    }
    for (int g = 0; g < o.ngamma; g++) {
        cls_featlearn_config c = o.cfg;
        c.gamma = o.gammas[g];
        cli_progress("featlearn", (double)g / o.ngamma);
        cls_status st = cls_featlearn_run(&c, &runs[g]);
        if (st != CLS_OK) {
            cli_progress_done();
            char ctx[64];
            snprintf(ctx, sizeof ctx, "run at gamma = %g", c.gamma);
            rc = cli_status_error(st, ctx);
            goto done;
        }
        if (runs[g]->loss_increases > 0 && c.batch == 0)
            cli_warning("gamma = %g: the population loss rose on %lld steps (summed over %lld draws): "
                        "eta = %g may be unstable for this model, try a smaller --eta",
                        c.gamma, (long long)runs[g]->loss_increases, (long long)c.seeds, c.eta);
    }
    cli_progress_done();

    /* The exact N = inf lazy curve at the same checkpoints (truncated at M,
     * like the runs); eta >= 2 has no such curve (it diverges). */
    const cls_featlearn_result *r0 = runs[0];
    lazy_inf = malloc((size_t)r0->n * sizeof(double));
    steps_d = malloc((size_t)r0->n * sizeof(double));
    if (!lazy_inf || !steps_d) {
        rc = cli_error("out of memory");
        goto done;
    }
    for (int64_t j = 0; j < r0->n; j++) steps_d[j] = (double)r0->step[j];
    if (cls_featlearn_lazy_infinite(o.cfg.alpha, o.cfg.beta, o.cfg.M, o.cfg.eta, steps_d, r0->n, 0,
                                    lazy_inf) != CLS_OK)
        for (int64_t j = 0; j < r0->n; j++) lazy_inf[j] = NAN;

    if (o.bottleneck) {
        int64_t Ns[CLS_FEATLEARN_MAX_WIDTHS];
        int64_t nN = cls_featlearn_bottleneck_widths(o.cfg.M, Ns);
        if (nN < 2) {
            rc = cli_usage_error(CMD, "--bottleneck needs --M > 142 (widths 50..400 below M/2)");
            goto done;
        }
        cls_status st = cls_featlearn_bottleneck(o.cfg.alpha, o.cfg.beta, o.cfg.M, Ns, nN,
                                                 o.cfg.seeds, o.cfg.seed, 0, &bn);
        if (st != CLS_OK) {
            rc = cli_status_error(st, "bottleneck");
            goto done;
        }
    }
    if (o.frontier) {
        int64_t Ns[CLS_FEATLEARN_MAX_WIDTHS];
        int64_t nN = cls_featlearn_frontier_widths(o.cfg.N, Ns);
        if (nN < 2) {
            rc = cli_usage_error(CMD, "--frontier needs --N >= 16 (widths N, N/2, ... >= 8)");
            goto done;
        }
        for (int g = 0; g < o.ngamma; g++) {
            cls_featlearn_config c = o.cfg;
            c.gamma = o.gammas[g];
            cli_progress("featlearn frontier", (double)g / o.ngamma);
            cls_status st = cls_featlearn_frontier(&c, Ns, nN, &fr[g]);
            if (st != CLS_OK) {
                cli_progress_done();
                rc = cli_status_error(st, "frontier");
                goto done;
            }
        }
        cli_progress_done();
    }

    if (o.csv && (rc = write_csv(o.csv, &o, runs, lazy_inf)) != CLI_OK) goto done;
    if (o.plot && (rc = write_plot(o.plot, &o, runs, lazy_inf, &pred)) != CLI_OK) goto done;

    if (o.json) {
        root = cJSON_CreateObject();
        cJSON *model = cJSON_AddObjectToObject(root, "model");
        cJSON_AddNumberToObject(model, "alpha", o.cfg.alpha);
        cJSON_AddNumberToObject(model, "beta", o.cfg.beta);
        cJSON_AddNumberToObject(model, "N", (double)o.cfg.N);
        cJSON_AddNumberToObject(model, "M", (double)o.cfg.M);
        cJSON_AddNumberToObject(model, "eta", o.cfg.eta);
        cJSON_AddNumberToObject(model, "batch", (double)o.cfg.batch);
        cJSON_AddNumberToObject(model, "T", (double)o.cfg.steps);
        cJSON_AddNumberToObject(model, "seeds", o.cfg.seeds);
        cJSON *jr = cJSON_AddArrayToObject(root, "runs");
        for (int g = 0; g < o.ngamma; g++) {
            const cls_featlearn_result *r = runs[g];
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "gamma", o.gammas[g]);
            cJSON_AddItemToObject(x, "eta_t", json_doubles(r->eta_t, r->n));
            cJSON_AddItemToObject(x, "loss", json_doubles(r->loss, r->n));
            cJSON_AddNumberToObject(x, "loss_increases", (double)r->loss_increases);
            cJSON *sl = cJSON_AddArrayToObject(x, "slopes");
            for (int64_t i = 0; i < r->n_windows; i++) {
                cJSON *w = cJSON_CreateObject();
                double lh[2] = {r->windows[i].lo, r->windows[i].hi};
                cJSON_AddItemToObject(w, "window", json_doubles(lh, 2));
                cJSON_AddNumberToObject(w, "slope", r->windows[i].slope);
                cJSON_AddItemToArray(sl, w);
            }
            cJSON_AddNumberToObject(x, "seconds", r->seconds);
            cJSON_AddItemToArray(jr, x);
        }
        cJSON_AddItemToObject(root, "lazy_n_inf", json_doubles(lazy_inf, r0->n));
        cJSON *p = cJSON_AddObjectToObject(root, "predicted");
        cJSON_AddNumberToObject(p, "lazy", pred.time_lazy);
        cJSON_AddNumberToObject(p, "rich", pred.time_rich);
        cJSON_AddStringToObject(p, "regime", pred.regime_name);
        cJSON_AddNumberToObject(p, "width", -pred.width);
        cJSON *pc = cJSON_AddObjectToObject(p, "compute");
        cJSON_AddNumberToObject(pc, "lazy", pred.c_lazy);
        cJSON_AddNumberToObject(pc, "rich", pred.c_rich);
        cJSON_AddNumberToObject(pc, "N_lazy", pred.n_lazy);
        cJSON_AddNumberToObject(pc, "N_rich", pred.n_rich);
        cJSON_AddNumberToObject(pc, "t_lazy", pred.t_lazy);
        cJSON_AddNumberToObject(pc, "t_rich", pred.t_rich);
        if (bn) {
            cJSON *b = cJSON_AddObjectToObject(root, "bottleneck");
            cJSON_AddItemToObject(b, "N", json_ints(bn->N, bn->n));
            cJSON_AddItemToObject(b, "measured", json_doubles(bn->measured, bn->n));
            cJSON_AddItemToObject(b, "measured_sd", json_doubles(bn->measured_sd, bn->n));
            cJSON_AddItemToObject(b, "equivalent", json_doubles(bn->equivalent, bn->n));
            cJSON_AddItemToObject(b, "kappa", json_doubles(bn->kappa, bn->n));
            cJSON_AddNumberToObject(b, "slope_measured", bn->slope_measured);
            cJSON_AddNumberToObject(b, "slope_equivalent", bn->slope_equivalent);
            cJSON_AddNumberToObject(b, "slope_predicted", bn->slope_predicted);
        }
        if (o.frontier) {
            cJSON *fa = cJSON_AddArrayToObject(root, "frontier");
            for (int g = 0; g < o.ngamma; g++) {
                const cls_featlearn_frontier_result *f = fr[g];
                cJSON *x = cJSON_CreateObject();
                cJSON_AddNumberToObject(x, "gamma", o.gammas[g]);
                cJSON_AddItemToObject(x, "widths", json_ints(f->N, f->n_widths));
                cJSON_AddItemToObject(x, "C", json_doubles(f->C, f->nC));
                cJSON_AddItemToObject(x, "loss", json_doubles(f->loss, f->nC));
                cJSON_AddItemToObject(x, "N_best", json_ints(f->N_best, f->nC));
                cJSON_AddNumberToObject(x, "exponent", f->exponent);
                cJSON_AddNumberToObject(x, "exponent_predicted", f->exponent_predicted);
                cJSON_AddNumberToObject(x, "N_exponent", f->N_exponent);
                cJSON_AddNumberToObject(x, "fit_points", (double)f->fit_points);
                cJSON_AddNumberToObject(x, "loss_increases", (double)f->loss_increases);
                cJSON_AddItemToArray(fa, x);
            }
        }
        cli_json_print(root);
        root = NULL;
    } else {
        printf("featlearn: alpha = %g, beta = %g (%s task), N = %lld, M = %lld, eta = %g, "
               "batch = %lld, T = %lld (eta*T = %g), %lld draws\n",
               o.cfg.alpha, o.cfg.beta, pred.regime_name, (long long)o.cfg.N, (long long)o.cfg.M,
               o.cfg.eta, (long long)o.cfg.batch, (long long)o.cfg.steps,
               o.cfg.eta * (double)o.cfg.steps, (long long)o.cfg.seeds);
        printf("predicted time exponents: lazy %.3f, rich %.3f\n", pred.time_lazy, pred.time_rich);
        printf("\nlocal slopes -dlnL/dln(eta t) of the draw-averaged loss:\n%-14s", "window");
        for (int g = 0; g < o.ngamma; g++) printf("  gamma=%-6g", o.gammas[g]);
        printf("\n");
        for (int64_t i = 0; i < runs[0]->n_windows; i++) {
            char wb[48];
            snprintf(wb, sizeof wb, "[%g, %g]", runs[0]->windows[i].lo, runs[0]->windows[i].hi);
            printf("%-14s", wb);
            for (int g = 0; g < o.ngamma; g++)
                if (i < runs[g]->n_windows) printf("  %12.3f", runs[g]->windows[i].slope);
            printf("\n");
        }
        printf("%-14s", "L(eta*T)");
        for (int g = 0; g < o.ngamma; g++) printf("  %12.4g", runs[g]->loss[runs[g]->n - 1]);
        printf("\n%-14s", "increases");
        for (int g = 0; g < o.ngamma; g++) printf("  %12lld", (long long)runs[g]->loss_increases);
        printf("\n%-14s", "seconds");
        for (int g = 0; g < o.ngamma; g++) printf("  %12.2f", runs[g]->seconds);
        printf("\nexact N = inf lazy loss at eta*T (same M): %.4g\n", lazy_inf[r0->n - 1]);
        if (bn) {
            printf("\nwidth bottleneck (M = %lld, t -> inf, lazy):\n%8s %14s %12s %14s %12s\n",
                   (long long)o.cfg.M, "N", "measured E(N)", "sd", "equivalent", "kappa");
            for (int64_t i = 0; i < bn->n; i++)
                printf("%8lld %14.6g %12.3g %14.6g %12.4g\n", (long long)bn->N[i], bn->measured[i],
                       bn->measured_sd[i], bn->equivalent[i], bn->kappa[i]);
            printf("slope d ln E / d ln N: measured %.3f, equivalent %.3f, predicted %.3f\n",
                   bn->slope_measured, bn->slope_equivalent, bn->slope_predicted);
        }
        if (o.frontier) {
            printf("\ncompute frontier L*(C) = min_N L(C/N, N), C = N t:\n");
            for (int g = 0; g < o.ngamma; g++) {
                const cls_featlearn_frontier_result *f = fr[g];
                printf("gamma = %g: L* ~ C^-%.3f (predicted %.3f), N* ~ C^%.2f (predicted %.2f), "
                       "fitted on %lld compute values\n",
                       o.gammas[g], f->exponent, f->exponent_predicted, f->N_exponent,
                       o.gammas[g] > 0 ? pred.n_rich : pred.n_lazy, (long long)f->fit_points);
            }
        }
    }
    rc = CLI_OK;
done:
    if (root) cJSON_Delete(root);
    for (int g = 0; runs && g < o.ngamma; g++) cls_featlearn_result_free(runs[g]);
    for (int g = 0; fr && g < o.ngamma; g++) cls_featlearn_frontier_free(fr[g]);
    cls_featlearn_bottleneck_free(bn);
    free(runs);
    free(fr);
    free(lazy_inf);
    free(steps_d);
    free(o.gammas);
    return rc;
}
