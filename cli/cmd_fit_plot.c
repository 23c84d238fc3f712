/* clscale fit --plot: the data and the fitted law on log axes via gnuplot. */
#define _GNU_SOURCE
#include "cmd_fit_plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fit_plot(const cls_fit_result *fit, const double *x, const double *y, int64_t n,
             const char *const *xnames, const char *yname, const char *path)
{
    char *script = NULL;
    size_t len = 0;
    FILE *f = cli_gnuplot_open(path, &script, &len);
    if (!f) return CLI_USAGE;
    int k = fit->nvars;
    fputs("set logscale xy\nset grid\nset key top right\n", f);
    /* log axes fit the data: gnuplot's autoscale would round out to whole decades */
    double ylo = INFINITY, yhi = 0;
    for (int64_t i = 0; i < n; i++)
        if (y[i] > 0) ylo = fmin(ylo, y[i]), yhi = fmax(yhi, y[i]);
    if (yhi > 0) fprintf(f, "set yrange [%.10g:%.10g]\n", ylo / 1.1, yhi * 1.1);
    if (yhi > 0 && yhi / ylo < 10) {
        /* less than a decade: gnuplot's log tics (at powers of 10) would label
         * nothing, so place round linear tics (steps of 1, 2 or 5 x 10^k) */
        double lo = ylo / 1.1, hi = yhi * 1.1, raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw)));
        double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
        fputs("set ytics (", f);
        int first = 1;
        for (double t = ceil(lo / step) * step; t <= hi * (1 + 1e-12); t += step) {
            fprintf(f, "%s%.6g", first ? "" : ", ", t);
            first = 0;
        }
        fputs(")\n", f);
    }
    char title[256];
    int used = snprintf(title, sizeof title, "%s fit:", cls_fit_law_name(fit->law));
    for (int i = 0; i < fit->nparams && used < (int)sizeof title; i++)
        used += snprintf(title + used, sizeof title - (size_t)used, " %s=%.4g", fit->param_names[i], fit->params[i]);
    fputs("set title ", f);
    cli_gnuplot_quote(f, title);
    fputs(" noenhanced\n", f);
    if (k == 1) {
        double lo = INFINITY, hi = 0;
        for (int64_t i = 0; i < n; i++) {
            if (x[i] < lo) lo = x[i];
            if (x[i] > hi) hi = x[i];
        }
        fprintf(f, "set xrange [%.10g:%.10g]\n", lo / 1.25, hi * 1.25);
        fputs("set xlabel ", f);
        cli_gnuplot_quote(f, xnames[0]);
        fputs(" noenhanced\nset ylabel ", f);
        cli_gnuplot_quote(f, yname);
        fputs(" noenhanced\n$data << EOD\n", f);
        for (int64_t i = 0; i < n; i++) fprintf(f, "%.10g %.10g\n", x[i], y[i]);
        fputs("EOD\n$law << EOD\n", f);
        for (int s = 0; s <= 200; s++) {
            double xv = exp(log(lo / 1.5) + (log(hi * 1.5) - log(lo / 1.5)) * s / 200.0);
            fprintf(f, "%.10g %.10g\n", xv, cls_fit_predict(fit, &xv));
        }
        fputs("EOD\n", f);
        /* with a binned frontier, the points the law was fitted to: each bin's
         * centre and lowest y, from the fitter's own binning */
        int64_t nb = 0;
        double *bx = fit->frontier_binned && fit->bins > 0 ? malloc(sizeof(double) * 2 * (size_t)fit->bins) : NULL;
        if (bx && cls_fit_binned_frontier(x, y, n, fit->bins, bx, bx + fit->bins, &nb) == CLS_OK && nb > 0) {
            fputs("$frontier << EOD\n", f);
            for (int64_t b = 0; b < nb; b++) fprintf(f, "%.10g %.10g\n", bx[b], bx[fit->bins + b]);
            fputs("EOD\n", f);
        } else {
            nb = 0;
        }
        free(bx);
        fprintf(f, "plot $data with points pt 7 ps 0.8 title 'data', $law with lines lw 2 title '%s'%s\n",
                fit->frontier_binned ? "fitted law (binned frontier)" : "fitted law",
                nb ? ", $frontier with points pt 6 ps 2 lw 2 title 'binned frontier (fitted points)'" : "");
    } else if (fit->law == CLS_LAW_CHINCHILLA) {
        /* Loss against compute C = 6 N D, with the compute-optimal frontier. */
        double lo = INFINITY, hi = 0;
        fputs("set xlabel 'compute C = 6 N D (FLOP)'\nset ylabel ", f);
        cli_gnuplot_quote(f, yname);
        fputs(" noenhanced\n$data << EOD\n", f);
        for (int64_t i = 0; i < n; i++) {
            double C = 6.0 * x[2 * i] * x[2 * i + 1];
            if (C < lo) lo = C;
            if (C > hi) hi = C;
            fprintf(f, "%.10g %.10g %.10g\n", C, y[i], cls_fit_predict(fit, x + 2 * i));
        }
        fprintf(f, "EOD\nset xrange [%.10g:%.10g]\n$frontier << EOD\n", lo / 1.5, hi * 1.5);
        for (int s = 0; s <= 200; s++) {
            double C = exp(log(lo / 3) + (log(hi * 3) - log(lo / 3)) * s / 200.0);
            cls_plan_point p;
            if (cls_fit_plan(fit, C, 6.0, NULL, &p) == CLS_OK) fprintf(f, "%.10g %.10g\n", C, p.loss);
        }
        fputs("EOD\nplot $data using 1:2 with points pt 7 ps 0.6 title 'data', "
              "$data using 1:3 with points pt 1 ps 0.6 title 'fitted law at the data', "
              "$frontier with lines lw 2 title 'compute-optimal frontier'\n", f);
    } else {
        double lo = INFINITY, hi = 0;
        fputs("set xlabel 'fitted'\nset ylabel ", f);
        cli_gnuplot_quote(f, yname);
        fputs(" noenhanced\n$data << EOD\n", f);
        for (int64_t i = 0; i < n; i++) {
            double p = cls_fit_predict(fit, x + k * i);
            if (y[i] < lo) lo = y[i];
            if (y[i] > hi) hi = y[i];
            fprintf(f, "%.10g %.10g\n", p, y[i]);
        }
        fprintf(f, "EOD\nplot $data with points pt 7 ps 0.8 title 'data against the fitted law', "
                   "[%g:%g] x with lines title 'y = x'\n", lo, hi);
    }
    return cli_gnuplot_finish(f, &script, path);
}
