/* The lab: sweeps of contrastive training runs on Fashion-MNIST, their
 * bookkeeping (one directory per run, runs.csv rewritten atomically after
 * every finished run, resumable), the scaling-law analysis of the results
 * (compute frontier, L(N, D), extrapolation check, compute-optimal plan,
 * spectrum against accuracy) and a self-contained report.
 *
 * A sweep is a list of run specs. Each run goes through a RUNNER, a function
 * that trains and measures one run in its own directory and fills a record:
 * cls_lab_runner_train (the real pipeline: training, held-out loss, linear
 * probe, k-NN, spectrum) or cls_lab_runner_synthetic (records drawn from a
 * known law with noise, for tests and for trying the analysis).
 *
 * Directory layout of a lab DIR:
 *   DIR/sweep.json           the sweep (what --resume continues)
 *   DIR/runs.csv             one row per finished run, in sweep order
 *   DIR/runs/<id>/           the runner's files (trainer: config.json,
 *                            metrics.jsonl, checkpoint.bin) and record.json
 *                            (the record with its eigenvalues)
 *   DIR/report.html, report.md, summary.json   (cls_lab_report_write)
 * See docs/lab.md. */
#ifndef CLSCALE_LAB_H
#define CLSCALE_LAB_H

#include <stddef.h>
#include <stdint.h>

#include "../clscale.h"
#include "fit.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLS_LAB_ID_LEN 96
#define CLS_LAB_ERROR_LEN 320

/* ---- sweeps ---- */

typedef struct {
    char id[CLS_LAB_ID_LEN]; /* stable run id, from cls_lab_spec_make_id */
    char model[16];          /* "mlp" (default) or "cnn" */
    int64_t width;           /* model width, 0 = the model's default */
    int64_t train_subset;    /* training images used, 0 = all */
    int64_t steps;           /* optimiser steps; > 0 overrides epochs */
    double epochs;           /* used when steps == 0 */
    int64_t batch;           /* 0 = the trainer's default */
    uint64_t seed;
} cls_lab_spec;

/* Defaults: mlp, width 0, all images, steps 0, epochs 1, batch 0, seed 0; id empty. */
CLS_API void cls_lab_spec_init(cls_lab_spec *spec);
/* Fill spec->id: "<model>-w<width>-n<subset>-s<steps>[-b<batch>]-seed<seed>"
 * (e<epochs> instead of s<steps> when steps == 0; b only when batch > 0),
 * e.g. mlp-w256-n6000-s400-seed0. */
CLS_API void cls_lab_spec_make_id(cls_lab_spec *spec);
/* Check one spec (model known, counts non-negative, steps or epochs > 0). */
CLS_API cls_status cls_lab_spec_check(const cls_lab_spec *spec);

typedef struct {
    char name[64];
    int64_t n;
    cls_lab_spec *runs; /* n specs, ids unique; owned */
} cls_lab_sweep;

/* Presets: "demo" (the whole lab in minutes on 2 cores) and "full" (an hour
 * or two). Unknown names are CLS_E_INVALID_ARG listing the presets. */
CLS_API cls_status cls_lab_sweep_preset(const char *name, cls_lab_sweep *out);
/* A sweep file written by a user, JSON or CSV (chosen by the extension
 * .json/.csv, else by the first non-blank character):
 *   JSON  {"name": "...", "defaults": {SPEC}, "grid": {KEY: [values], ...},
 *          "runs": [{SPEC}, ...]}      (grid and/or runs; the grid is the
 *          cartesian product in the order model, width, train_subset, steps,
 *          epochs, batch, seed; each run or grid point starts from defaults)
 *   CSV   a header naming some of model,width,train_subset,steps,epochs,
 *          batch,seed and one row per run.
 * SPEC keys: model, width, train_subset, steps, epochs, batch, seed. Unknown
 * keys, wrong types, bad values, duplicate runs and empty sweeps are errors
 * naming the file and the place. */
CLS_API cls_status cls_lab_sweep_load(const char *path, cls_lab_sweep *out);
CLS_API cls_status cls_lab_sweep_parse(const char *text, size_t len, const char *name,
                                       cls_lab_sweep *out);
/* Write a sweep as JSON ({"name", "runs": [...]}) to path (temp + rename). */
CLS_API cls_status cls_lab_sweep_save(const cls_lab_sweep *sweep, const char *path);
CLS_API void cls_lab_sweep_free(cls_lab_sweep *sweep);

/* ---- records ---- */

typedef struct {
    cls_lab_spec spec;
    int ok;                        /* 1: finished and measured; 0: failed (see error) */
    char error[CLS_LAB_ERROR_LEN]; /* why it failed ("" when ok) */
    int64_t params;                /* N: trainable parameters */
    int64_t samples_seen;          /* D: training samples (pairs) seen */
    double flops;                  /* C: training FLOPs, counted from the model */
    double heldout_loss;           /* NT-Xent on the 10k test images (fixed views and tau) */
    double probe_error;            /* 1 - linear probe accuracy */
    double knn_error;              /* 1 - k-NN accuracy */
    double alpha, alpha_r2;        /* eigenspectrum power-law exponent and its fit R^2 */
    double rankme;
    double seconds;                /* wall time of the run (training + evaluation) */
    int64_t n_eig;
    double *eig;                   /* leading eigenvalues of the test representations (owned) */
} cls_lab_record;

/* A record with every measurement NaN/0 and no eigenvalues. */
CLS_API void cls_lab_record_init(cls_lab_record *r);
CLS_API void cls_lab_record_clear(cls_lab_record *r);

typedef struct {
    int64_t n;
    cls_lab_record *runs; /* owned */
} cls_lab_records;

/* Read DIR/runs.csv and, where present, the eigenvalues from
 * DIR/runs/<id>/record.json. A missing runs.csv is CLS_E_IO. */
CLS_API cls_status cls_lab_records_read(const char *dir, cls_lab_records *out);
/* Write records as runs.csv to path (temp file + rename). */
CLS_API cls_status cls_lab_records_write_csv(const cls_lab_records *recs, const char *path);
CLS_API void cls_lab_records_free(cls_lab_records *recs);

/* ---- runners ---- */

typedef struct {
    int threads;         /* 0 = all cores */
    const char *data;    /* dataset: "fashion-mnist" (default) or an IDX directory */
    int resume;          /* 1: continue from a checkpoint in run_dir if there is one */
    /* Progress within the run (frac in [0,1]); a nonzero return asks the
     * runner to stop early (after a checkpoint) and return CLS_OK. */
    int (*progress)(void *user, double frac);
    void *progress_user;
} cls_lab_run_context;

/* Train and measure one run in run_dir (which exists). Fill *out (already
 * initialised with cls_lab_record_init and the spec copied in) and return
 * CLS_OK with out->ok = 1; on failure return an error status (the lab records
 * cls_last_error() as the run's error and goes on). */
typedef cls_status (*cls_lab_runner)(void *user, const cls_lab_spec *spec, const char *run_dir,
                                     const cls_lab_run_context *ctx, cls_lab_record *out);

/* Options of the real runner (user pointer of cls_lab_runner_train; NULL =
 * defaults). */
typedef struct {
    int64_t probe_train;        /* train-split representations used to fit the probe and
                                   the k-NN index, 0 = all (default 10000) */
    int probe_grid;             /* L2 strengths tried by the probe, log-spaced over the probe's
                                   range (default 3; 0 = the probe's default) */
    int probe_max_iter;         /* L-BFGS iterations per probe fit (default 200; 0 = the probe's) */
    int64_t eig_keep;           /* eigenvalues kept in the record (default 256) */
    double heldout_temperature; /* 0 = the trainer's default temperature */
    uint64_t heldout_seed;      /* views of the held-out loss (default 0) */
} cls_lab_train_options;
CLS_API void cls_lab_train_options_init(cls_lab_train_options *opt);
/* The real runner: cls_train_run, cls_train_heldout_loss, cls_train_embed,
 * cls_eval_probe, cls_eval_knn and the spectrum module. In a build without the
 * training and evaluation modules it returns CLS_E_UNSUPPORTED. */
CLS_API cls_status cls_lab_runner_train(void *user, const cls_lab_spec *spec, const char *run_dir,
                                        const cls_lab_run_context *ctx, cls_lab_record *out);
/* 1 if this build has the real runner. */
CLS_API int cls_lab_have_train(void);

/* Synthetic runner: records from known laws with multiplicative log-normal
 * noise, deterministic in (spec, seed). N from an MLP of the spec's width
 * (784 -> w -> w -> 128), D = steps * batch (batch 0 -> 256) or epochs *
 * subset, C = 6 * 2 * N * D, loss = E + A/N^alpha + B/D^beta, probe error
 * likewise with its own constants, the eigenspectrum k^-a with a tied to the
 * probe error. It "trains" in 10 chunks with a checkpoint file, calling the
 * progress callback (and sleeping delay_s) after each. */
typedef struct {
    double E, A, alpha, B, beta;           /* held-out loss law */
    double pE, pA, palpha, pB, pbeta;      /* probe error law */
    double noise;                          /* sd of the log noise (default 0.01) */
    double delay_s;                        /* sleep per chunk (default 0) */
    uint64_t seed;                         /* noise seed (default 0) */
    int fail_width;                        /* runs of this width fail (default -1: none) */
} cls_lab_synthetic;
CLS_API void cls_lab_synthetic_init(cls_lab_synthetic *syn);
CLS_API cls_status cls_lab_runner_synthetic(void *user, const cls_lab_spec *spec,
                                            const char *run_dir, const cls_lab_run_context *ctx,
                                            cls_lab_record *out);

/* ---- running a sweep ---- */

enum { CLS_LAB_EVENT_START = 0, CLS_LAB_EVENT_STEP = 1, CLS_LAB_EVENT_DONE = 2,
       CLS_LAB_EVENT_FAILED = 3, CLS_LAB_EVENT_SKIPPED = 4 };

typedef struct {
    int event;                    /* CLS_LAB_EVENT_* */
    int64_t index, total;         /* this run (0-based) of the sweep */
    const char *id;
    double run_frac;              /* progress within the run */
    double sweep_frac;            /* progress of the sweep (cost-weighted) */
    double elapsed;               /* seconds since the sweep (this session) started */
    double eta;                   /* estimated seconds left in the sweep (NaN: unknown) */
    const cls_lab_record *record; /* DONE / FAILED / SKIPPED */
} cls_lab_progress;
/* Return nonzero to stop the sweep (the current run stops at its next
 * checkpoint and is not recorded; --resume continues it). */
typedef int (*cls_lab_progress_fn)(void *user, const cls_lab_progress *p);

/* An executor runs several runs of a sweep at once, elsewhere (the CLI's
 * deals them to MPI ranks: docs/lab.md). cls_lab_run keeps all the
 * bookkeeping (which runs are left, runs.csv in sweep order after every
 * result, record.json, progress); the executor only moves runs out and
 * records back. Its workers call cls_lab_run_one. */
typedef struct {
    int slots; /* runs in flight at once (>= 1) */
    /* Start run `index` of the sweep on a free slot (resume as in
     * cls_lab_run_context). An error ends the sweep. */
    cls_status (*start)(void *user, int64_t index, const cls_lab_spec *spec, int resume);
    /* Wait until a started run ends: set *index and fill *out (initialised
     * by the caller with cls_lab_record_init; ok = 1 measured, ok = 0 failed
     * with its error) or set *stopped = 1 (stopped at a checkpoint: not a
     * result). An error (a lost worker) ends the sweep. */
    cls_status (*wait)(void *user, int64_t *index, cls_lab_record *out, int *stopped);
    /* Ask the runs in flight to stop at their next checkpoint (may be NULL). */
    void (*stop)(void *user);
    void *user;
} cls_lab_executor;

typedef struct {
    cls_lab_runner runner;        /* default cls_lab_runner_train */
    void *runner_user;
    int threads;                  /* 0 = all cores */
    const char *data;             /* NULL = "fashion-mnist" */
    cls_lab_progress_fn progress; /* may be NULL */
    void *progress_user;
    const cls_lab_executor *executor; /* NULL (default): one run at a time in this process */
} cls_lab_options;
CLS_API void cls_lab_options_init(cls_lab_options *opt);

/* Run a sweep into dir. resume = 0: dir must not hold a lab yet (no runs.csv,
 * no sweep.json); the sweep is saved as dir/sweep.json. resume = 1: sweep may
 * be NULL (dir/sweep.json is used); runs finished in runs.csv are skipped,
 * failed ones are retried, and an interrupted run continues from its
 * checkpoint. A run that fails is recorded with its error and the sweep goes
 * on. *stopped (may be NULL) is set to 1 when the progress callback stopped
 * the sweep. */
CLS_API cls_status cls_lab_run(const cls_lab_sweep *sweep, const char *dir, int resume,
                               const cls_lab_options *opt, int *stopped);

/* One run of the lab in dir, as cls_lab_run does it: create dir/runs/<id>/,
 * call opt->runner (with opt->threads, opt->data) there and time it. The
 * runner's failure becomes a failed record (out->ok = 0, out->error: not an
 * error of this call); the lab's shared files (sweep.json, runs.csv,
 * record.json) are not touched: this is what a worker of an executor calls.
 * opt->progress gets CLS_LAB_EVENT_STEP events (index as given, total 0); a
 * nonzero return stops the run at its next checkpoint and sets *stopped = 1
 * (out is then not a result). out is initialised here; free it with
 * cls_lab_record_clear. */
CLS_API cls_status cls_lab_run_one(const cls_lab_spec *spec, const char *dir, int resume,
                                   const cls_lab_options *opt, int64_t index, cls_lab_record *out,
                                   int *stopped);

/* ---- analysis ---- */

typedef struct {
    int bootstrap;           /* resamples of runs for every interval (default 200) */
    int permutations;        /* for the Spearman p-values (default 10000) */
    double holdout_fraction; /* extrapolation: the top fraction by compute held out (0.2) */
    double predict_tolerance;/* a held-out prediction counts as good within this relative
                                error or inside its 95 % interval (default 0.10) */
    uint64_t seed;           /* bootstrap and permutation seed (default 0) */
    int threads;             /* 0 = all cores */
} cls_lab_analysis_options;
CLS_API void cls_lab_analysis_options_init(cls_lab_analysis_options *opt);

typedef struct {
    int ok;                      /* 1 when fitted */
    char message[256];           /* why not, when ok == 0 */
    int64_t n_points;            /* points fitted (frontier: runs on it) */
    int bootstrap;               /* usable resamples behind the intervals */
    cls_fit_result fit;          /* parameters; ci95/ci80 from resampling RUNS */
} cls_lab_law;

typedef struct {
    int64_t run;                 /* index into the records */
    double compute, predicted, ci95[2], measured, rel_error;
} cls_lab_prediction;

typedef struct {
    cls_lab_law law;             /* chinchilla fitted on the runs kept */
    int64_t n_fit, n_holdout;
    cls_lab_prediction *pred;    /* n_holdout; owned */
    double mean_abs_rel_error;   /* NaN when the law could not be fitted */
    int n_good;                  /* predictions within tolerance or inside the interval */
    int predicts;                /* 1: every held-out run predicted well */
    char verdict[200];
} cls_lab_extrapolation;

#define CLS_LAB_MAX_OPTIMAL 8
typedef struct {
    double compute;
    double N, N_ci95[2], D, D_ci95[2], loss, loss_ci95[2];
} cls_lab_optimal;

typedef struct {
    double rho, p_value;         /* NaN when fewer than 3 runs */
    int64_t n;
} cls_lab_correlation;

typedef struct {
    int64_t n_runs, n_ok, n_failed;
    double seconds;              /* sum of the runs' wall times */
    cls_lab_law loss_frontier;   /* saturating L = E + A C^-alpha on the compute frontier */
    cls_lab_law probe_frontier;
    cls_lab_law loss_nd;         /* chinchilla L = E + A/N^alpha + B/D^beta */
    cls_lab_law probe_nd;
    cls_lab_extrapolation loss_extra, probe_extra;
    double cost_factor;          /* median C / (N D) of the runs: C = k N D */
    int n_optimal;
    cls_lab_optimal optimal[CLS_LAB_MAX_OPTIMAL]; /* N*(C), D*(C) from loss_nd */
    cls_lab_correlation alpha_accuracy;  /* Spearman(|alpha - 1|, probe accuracy) */
    cls_lab_correlation rankme_accuracy; /* Spearman(RankMe, probe accuracy) */
    int permutations, bootstrap;
    double holdout_fraction, predict_tolerance;
} cls_lab_analysis;

/* Analyse the successful runs. Laws that cannot be fitted (too few runs, a
 * failed fit) are marked ok = 0 with a message; this is not an error. */
CLS_API cls_status cls_lab_analyze(const cls_lab_records *recs,
                                   const cls_lab_analysis_options *opt, cls_lab_analysis *out);
CLS_API void cls_lab_analysis_free(cls_lab_analysis *a);

/* Spearman rank correlation (average ranks for ties) and a two-sided
 * permutation p-value (|rho_perm| >= |rho|, (count + 1) / (P + 1)), seeded:
 * cls_stats_spearman (clscale/stats.h), kept under this name. */
CLS_API cls_status cls_lab_spearman(const double *x, const double *y, int64_t n, int permutations,
                                    uint64_t seed, double *rho, double *p_value);

/* ---- report ---- */

typedef struct {
    int plots;             /* 1: gnuplot SVG plots when gnuplot is installed (default 1) */
    const char *gnuplot;   /* program (default "gnuplot", looked up on PATH) */
    double wall_seconds;   /* wall time of the whole lab, shown if > 0 (default 0) */
} cls_lab_report_options;
CLS_API void cls_lab_report_options_init(cls_lab_report_options *opt);

/* Write dir/report.html (self-contained: inline SVG, no external reference),
 * dir/report.md and dir/summary.json. */
CLS_API cls_status cls_lab_report_write(const char *dir, const cls_lab_records *recs,
                                        const cls_lab_analysis *a,
                                        const cls_lab_report_options *opt);
/* summary.json's object as text (malloc'd; free with free()). */
CLS_API cls_status cls_lab_summary_json(const cls_lab_records *recs, const cls_lab_analysis *a,
                                        double wall_seconds, char **json);
/* The three headline lines: fitted exponent with interval, extrapolation
 * error, alpha-accuracy correlation (each NUL-terminated). */
CLS_API void cls_lab_headlines(const cls_lab_analysis *a, char lines[3][256]);

#ifdef __cplusplus
}
#endif

#endif
