/* gnuplot figure of a fit (used by clscale fit --plot). */
#ifndef CLS_CMD_FIT_PLOT_H
#define CLS_CMD_FIT_PLOT_H

#include "cli.h"

/* Data and fitted law on log axes (one variable: y against x; chinchilla: loss
 * against compute 6ND with the compute-optimal frontier; additive with several
 * variables: fitted against observed). Returns a CLI exit code. */
int fit_plot(const cls_fit_result *fit, const double *x, const double *y, int64_t n,
             const char *const *xnames, const char *yname, const char *path);

#endif
