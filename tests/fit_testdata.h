/* Shared data for the fit tests: the spec's synthetic design and the Epoch
 * and OpenCLIP reference tables, read through the CSV reader. */
#ifndef CLS_FIT_TESTDATA_H
#define CLS_FIT_TESTDATA_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clscale.h"

/* Truth of the synthetic recovery (Epoch's fit): raw (e, a, b, alpha, beta). */
static const double syn_truth_E = 1.817, syn_truth_A = 482.0, syn_truth_B = 2085.4,
                    syn_truth_alpha = 0.348, syn_truth_beta = 0.366;

static void syn_truth_raw(double raw[5])
{
    raw[0] = log(syn_truth_E);
    raw[1] = log(syn_truth_A);
    raw[2] = log(syn_truth_B);
    raw[3] = syn_truth_alpha;
    raw[4] = syn_truth_beta;
}

/* The spec's 40-point design: 9 model sizes log-spaced over [5e7, 5e9] x 5
 * budgets log-spaced over [6e18, 3e21], D = C / (6N), minus the 5 pairs with
 * the fewest tokens per parameter (the most over-sized models). With these
 * ranges the spread of alpha-hat is close to the spec's 0.014 / 0.031.
 * x is 40 x 2 (N, D); returns the number of points (40). */
static int syn_design(double *x)
{
    double pr[45][3];
    int m = 0;
    for (int b = 0; b < 5; b++)
        for (int s = 0; s < 9; s++) {
            double C = exp(log(6e18) + (log(3e21) - log(6e18)) * b / 4.0);
            double N = exp(log(5e7) + (log(5e9) - log(5e7)) * s / 8.0);
            pr[m][0] = N;
            pr[m][1] = C / (6 * N);
            pr[m][2] = pr[m][1] / N;
            m++;
        }
    for (int k = 0; k < 5; k++) {
        int mi = 0;
        for (int i = 1; i < m; i++)
            if (pr[i][2] < pr[mi][2]) mi = i;
        memmove(pr[mi], pr[mi + 1], sizeof(pr[0]) * (size_t)(m - mi - 1));
        m--;
    }
    for (int i = 0; i < m; i++) {
        x[2 * i] = pr[i][0];
        x[2 * i + 1] = pr[i][1];
    }
    return m;
}

/* Log-normal noise of scale sigma around the truth. */
static void syn_losses(const double *x, int n, double sigma, cls_rng *rng, double *y)
{
    double raw[5];
    syn_truth_raw(raw);
    for (int i = 0; i < n; i++)
        y[i] = cls_fit_predict_raw(CLS_LAW_CHINCHILLA, 2, raw, x + 2 * i) * exp(sigma * cls_rng_normal(rng));
}

/* Epoch's data: (N, D = C/(6N)) and loss, the 5 highest losses dropped.
 * Returns the number of points (240) or -1. Arrays hold 245 entries. */
static int epoch_data(double *x, double *y)
{
    cls_csv *c = NULL;
    if (cls_csv_read_file(CLS_DATA_DIR "/chinchilla-epoch/svg_extracted_data.csv", &c)) return -1;
    int64_t n = cls_csv_rows(c);
    double N[245], C[245], L[245];
    if (n != 245 || cls_csv_column_f64(c, "Model Size", NULL, n, N) ||
        cls_csv_column_f64(c, "Training FLOP", NULL, n, C) || cls_csv_column_f64(c, "loss", NULL, n, L)) {
        cls_csv_free(c);
        return -1;
    }
    cls_csv_free(c);
    /* D = C / (6 N) and the 5 highest losses dropped, as `clscale fit
     * --tokens-from-compute --drop-top 5` does. */
    for (int i = 0; i < 245; i++) {
        x[2 * i] = N[i];
        x[2 * i + 1] = C[i];
        y[i] = L[i];
    }
    cls_fit_prep_options prep;
    cls_fit_prep_options_init(&prep);
    prep.tokens_from_compute = 1;
    prep.drop_top = 5;
    int64_t m = 245;
    if (cls_fit_prepare(x, y, 2, &m, &prep, NULL)) return -1;
    return (int)m;
}

#endif
