/* clscale lab: run a sweep of training runs, fit and check their scaling laws,
 * and write a self-contained report (src/lab). */
#define _GNU_SOURCE
#include "cli.h"
#include "cmd_lab_mpi.h"
#include "cmd_loss_mpi.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
    puts("usage: clscale lab [--preset demo|full | --sweep FILE] [--out DIR] [options]\n"
         "       clscale lab --resume DIR [options]\n"
         "       clscale lab --report-only DIR [options]\n"
         "\n"
         "Train a sweep of contrastive models on Fashion-MNIST (width x training-set size x\n"
         "steps), measure each run (parameters N, samples seen D, training FLOPs C, held-out\n"
         "NT-Xent loss, linear-probe and k-NN error, alpha, RankMe, wall time), fit the\n"
         "compute frontier and L(N, D) = E + A/N^alpha + B/D^beta with intervals from\n"
         "resampling runs, check the law by predicting the most expensive runs it was not\n"
         "fitted on, plan N*(C) and D*(C), test whether |alpha - 1| tracks accuracy, and\n"
         "write DIR/report.html (self-contained), DIR/report.md and DIR/summary.json.\n"
         "\n"
         "  --preset NAME        demo (minutes on 2 cores) or full (35 CPU-minutes)\n"
         "                       (default demo when no --sweep is given)\n"
         "  --sweep FILE         a sweep file: JSON {\"defaults\":{..},\"grid\":{..},\"runs\":[..]}\n"
         "                       or CSV with columns among model,width,train_subset,steps,\n"
         "                       epochs,batch,seed (see docs/lab.md)\n"
         "  --out DIR            lab directory for a new sweep (default lab-<preset or sweep>)\n"
         "  --resume DIR         continue the lab in DIR: finished runs are skipped, an\n"
         "                       interrupted run continues from its checkpoint\n"
         "  --report-only DIR    rebuild the report from DIR/runs.csv and the run files alone\n"
         "  --threads T          threads per run, 0 = all cores (default 0; under mpirun:\n"
         "                       the node's cores over its ranks)\n"
         "  --data SOURCE        fashion-mnist or an IDX directory (default fashion-mnist)\n"
         "  --probe-train N      training images used for the probe and k-NN, 0 = all\n"
         "                       (default 10000)\n"
         "  --bootstrap B        run resamples for every interval (default 200)\n"
         "  --permutations P     permutations for the Spearman p-values (default 10000)\n"
         "  --holdout F          fraction of runs (top by compute) held out (default 0.2)\n"
         "  --seed S             seed of the bootstrap and the permutations (default 0)\n"
         "  --no-plots           no gnuplot plots in the report (default: plots when\n"
         "                       gnuplot is installed, a note in their place otherwise)\n"
         "  --json               print summary.json's object on one line on stdout\n"
         "  -h, --help           show this help\n"
         "\n"
         "Progress: a line per run on stderr (which run, how long, the sweep's ETA) and a\n"
         "bar when stderr is a terminal. Ctrl-C stops cleanly after a checkpoint; continue\n"
         "with --resume DIR.\n"
         "\n"
         "Under mpirun -np P, rank 0 deals the runs to ranks 1 .. P-1 (a free rank gets the\n"
         "next run) and alone writes runs.csv and the report, equal to a serial sweep's; DIR\n"
         "must be on a filesystem every rank sees. See docs/lab.md.");
}

static volatile sig_atomic_t interrupted = 0;
/* Said at once by rank 0 of an MPI job on SIGINT/SIGTERM: mpirun sends
 * SIGTERM to every rank when one dies and may kill rank 0 before it gets
 * another word out (write(2) is async-signal-safe). */
static char sig_note[600];
static size_t sig_note_len;
static void on_sigint(int sig)
{
    (void)sig;
    if (!interrupted && sig_note_len) {
        ssize_t w = write(2, sig_note, sig_note_len);
        (void)w;
    }
    interrupted = 1;
}

static void fmt_eta(char *b, size_t n, double s)
{
    if (!isfinite(s)) snprintf(b, n, "?");
    else if (s < 90) snprintf(b, n, "%.0fs", s);
    else if (s < 5400) snprintf(b, n, "%.0fm%02.0fs", floor(s / 60), fmod(s, 60));
    else snprintf(b, n, "%.0fh%02.0fm", floor(s / 3600), fmod(floor(s / 60), 60));
}

static int on_progress(void *user, const cls_lab_progress *p)
{
    (void)user;
    char eta[32];
    fmt_eta(eta, sizeof eta, p->eta);
    if (p->event == CLS_LAB_EVENT_STEP) {
        char label[160];
        snprintf(label, sizeof label, "[%lld/%lld] %s %3.0f%%, sweep ETA %s", (long long)p->index + 1,
                 (long long)p->total, p->id, 100 * p->run_frac, eta);
        cli_progress(label, p->sweep_frac); /* the bar is the whole sweep's */
        return interrupted;
    }
    cli_progress_done();
    const cls_lab_record *r = p->record;
    char where[32] = "";
#ifdef CLS_HAVE_MPI
    int rank = lab_mpi_rank_of(p->index);
    if (rank > 0) snprintf(where, sizeof where, " on rank %d", rank);
#endif
    if (p->event == CLS_LAB_EVENT_START)
        fprintf(stderr, "[%lld/%lld] %s: running%s (sweep %.0f %%, ETA %s)\n", (long long)p->index + 1,
                (long long)p->total, p->id, where, 100 * p->sweep_frac, eta);
    else if (p->event == CLS_LAB_EVENT_SKIPPED)
        fprintf(stderr, "[%lld/%lld] %s: already finished, skipped\n", (long long)p->index + 1, (long long)p->total,
                p->id);
    else if (p->event == CLS_LAB_EVENT_DONE)
        fprintf(stderr, "[%lld/%lld] %s: done in %.1f s (loss %.4g, probe error %.4g, alpha %.3g); sweep %.0f %%, "
                        "ETA %s\n", (long long)p->index + 1, (long long)p->total, p->id, r->seconds, r->heldout_loss,
                r->probe_error, r->alpha, 100 * p->sweep_frac, eta);
    else if (p->event == CLS_LAB_EVENT_FAILED)
        fprintf(stderr, "[%lld/%lld] %s: FAILED: %s; the sweep goes on (ETA %s)\n", (long long)p->index + 1,
                (long long)p->total, p->id, r->error, eta);
    fflush(stderr);
    return interrupted;
}

/* Threads per run when --threads is not given: all cores, shared by the
 * ranks of this node under mpirun. */
static int default_threads(void)
{
    int cores = cls_threads_resolve(0);
#ifdef CLS_HAVE_MPI
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    int64_t ranks = 1;
    if (local && cli_mpi_launched() && cli_parse_int64("OMPI_COMM_WORLD_LOCAL_SIZE", local, &ranks) && ranks > 1)
        return cores / (int)ranks > 1 ? cores / (int)ranks : 1;
#endif
    return cores;
}

/* A new sweep or --resume: runs it into *dir (rank 0 of an MPI job deals the
 * runs to the other ranks through `ex`). */
static int run_sweep(const char *preset, const char *sweep_file, const char *out, const char *resume,
                     cls_lab_options *lo, int ranks, char *dir_buf, size_t dir_len,
                     const char **dir)
{
    cls_lab_sweep sweep = {0};
    cls_status st = CLS_OK;
    *dir = resume;
    if (!resume) {
        if (sweep_file) {
            st = cls_lab_sweep_load(sweep_file, &sweep);
            if (st) return cli_status_error(st, "sweep file");
        } else {
            st = cls_lab_sweep_preset(preset ? preset : "demo", &sweep);
            if (st) return cli_usage_error("lab", "%s", cls_last_error());
        }
        if (!out) {
            snprintf(dir_buf, dir_len, "lab-%s", sweep.name);
            for (char *p = dir_buf; *p; p++)
                if (*p == '/' || *p == ' ') *p = '_';
            char *dot = strrchr(dir_buf, '.');
            if (dot && (strcmp(dot, ".json") == 0 || strcmp(dot, ".csv") == 0)) *dot = 0;
        }
        *dir = out ? out : dir_buf;
    }
    if (lo->runner == cls_lab_runner_train && !cls_lab_have_train()) {
        cls_lab_sweep_free(&sweep);
        return cli_error("this build has no training module (src/train, src/eval): the lab cannot train; "
                         "--report-only DIR still works");
    }
    char on[48] = "";
    if (ranks > 1) snprintf(on, sizeof on, " on %d ranks (%d training)", ranks, ranks - 1);
    if (!resume)
        fprintf(stderr, "clscale lab: %lld runs of sweep '%s' into %s%s\n", (long long)sweep.n, sweep.name, *dir, on);
    else fprintf(stderr, "clscale lab: resuming %s%s\n", *dir, on);
#ifdef CLS_HAVE_MPI
    cls_lab_executor ex;
    if (ranks > 1) {
        lab_mpi_executor(&ex, *dir, &interrupted);
        int n = snprintf(sig_note, sizeof sig_note, "clscale lab: stopping (interrupted, or mpirun is ending the job "
                         "because a rank died); the finished runs are in %s/runs.csv: continue with 'clscale lab "
                         "--resume %s' (under mpirun or not)\n", *dir, *dir);
        sig_note_len = n > 0 && (size_t)n < sizeof sig_note ? (size_t)n : 0;
        lo->executor = &ex;
    }
#endif
    int stopped = 0;
    st = cls_lab_run(resume ? NULL : &sweep, *dir, resume != NULL, lo, &stopped);
    cli_progress_done();
    cls_lab_sweep_free(&sweep);
#ifdef CLS_HAVE_MPI
    if (st && lab_mpi_error()) return cli_error("lab: %s", lab_mpi_error());
#endif
    if (st) return cli_status_error(st, "lab");
    if (stopped) return cli_error("interrupted: continue with 'clscale lab --resume %s'", *dir);
    return CLI_OK;
}

int cmd_lab(int argc, char **argv)
{
    const char *preset = NULL, *sweep_file = NULL, *out = NULL, *resume = NULL, *report = NULL, *data = NULL;
    const char *runner = NULL;
    int threads = 0, json = 0, no_plots = 0, seed_seen = 0, holdout_seen = 0, threads_seen = 0;
    int64_t seed = 0, probe_train = 10000;
    cls_lab_analysis_options ao;
    cls_lab_analysis_options_init(&ao);
    cls_lab_synthetic syn;
    cls_lab_synthetic_init(&syn);
    cli_option opts[] = {
        CLI_STRING("preset", &preset),
        CLI_STRING("sweep", &sweep_file),
        CLI_STRING("out", &out),
        CLI_STRING("resume", &resume),
        CLI_STRING("report-only", &report),
        CLI_INT("threads", &threads, 0, INFINITY),
        CLI_STRING("data", &data),
        CLI_INT64("probe-train", &probe_train, 0, INFINITY),
        CLI_INT("bootstrap", &ao.bootstrap, 0, INFINITY),
        CLI_INT("permutations", &ao.permutations, 0, INFINITY),
        CLI_DOUBLE("holdout", &ao.holdout_fraction, NAN, NAN),
        CLI_INT64("seed", &seed, 0, INFINITY),
        CLI_FLAG("no-plots", &no_plots),
        CLI_FLAG("json", &json),
        /* hidden, for tests: the synthetic runner and its knobs */
        CLI_STRING("runner", &runner),
        CLI_DOUBLE("synthetic-delay", &syn.delay_s, NAN, NAN),
        CLI_INT("synthetic-fail-width", &syn.fail_width, NAN, NAN),
        CLI_DOUBLE("synthetic-noise", &syn.noise, NAN, NAN),
        CLI_END};
    opts[5].seen = &threads_seen;
    opts[10].seen = &holdout_seen;
    opts[11].seen = &seed_seen;
    int first, rc = cli_parse_options("lab", opts, argc, argv, usage, &first);
    if (rc == CLI_HELP) return CLI_OK;
    if (rc) return rc;
    if (holdout_seen && !(ao.holdout_fraction > 0 && ao.holdout_fraction < 1))
        return cli_usage_error("lab", "--holdout must be in (0, 1), got %g", ao.holdout_fraction);
    if (seed_seen) ao.seed = (uint64_t)seed;
    int plots = !no_plots;
    if (first < argc) return cli_usage_error("lab", "unexpected argument '%s'", argv[first]);
    int modes = (resume != NULL) + (report != NULL) + (preset || sweep_file || out);
    if (modes > 1)
        return cli_usage_error("lab", "--resume DIR, --report-only DIR and a new sweep (--preset/--sweep/--out) "
                                      "exclude each other");
    if (preset && sweep_file) return cli_usage_error("lab", "give --preset or --sweep, not both");
    threads = threads_seen ? cls_threads_resolve(threads) : default_threads();
    ao.threads = threads;

    cls_lab_options lo;
    cls_lab_options_init(&lo);
    lo.threads = threads;
    lo.data = data;
    lo.progress = on_progress;
    cls_lab_train_options to;
    cls_lab_train_options_init(&to);
    to.probe_train = probe_train;
    if (!runner || strcmp(runner, "train") == 0) {
        lo.runner = cls_lab_runner_train;
        lo.runner_user = &to;
    } else if (strcmp(runner, "synthetic") == 0) {
        lo.runner = cls_lab_runner_synthetic;
        lo.runner_user = &syn;
    } else {
        return cli_usage_error("lab", "--runner must be train or synthetic, got '%s'", runner);
    }

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    int ranks = 1, mpi = 0;
#ifdef CLS_HAVE_MPI
    if (cli_mpi_launched()) { /* mpirun -np P clscale lab ...: rank 0 deals the runs to ranks 1 .. P-1 */
        int rank = 0;
        lab_mpi_init(&rank, &ranks);
        mpi = 1;
        if (rank > 0 && report) { /* rank 0 alone rebuilds the report */
            lab_mpi_finish(0);
            return CLI_OK;
        }
        if (rank > 0) {
            sigaction(SIGINT, &sa, &old_int);
            sigaction(SIGTERM, &sa, &old_term);
            return lab_mpi_worker(&lo, &interrupted);
        }
    }
#endif

    char default_out[128];
    const char *dir = report;
    double t0 = cls_now_seconds();
    double wall = 0;
    if (!report) {
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        rc = run_sweep(preset, sweep_file, out, resume, &lo, ranks, default_out, sizeof default_out, &dir);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        wall = cls_now_seconds() - t0;
    }
#ifdef CLS_HAVE_MPI
    if (mpi) lab_mpi_finish(!report); /* the workers exit; the analysis is rank 0's alone */
#endif
    (void)mpi;
    if (rc) return rc;

    cls_lab_records recs;
    cls_status st = cls_lab_records_read(dir, &recs);
    if (st) return cli_status_error(st, "lab records");
    fprintf(stderr, "clscale lab: analysing %lld runs ...\n", (long long)recs.n);
    cls_lab_analysis an;
    st = cls_lab_analyze(&recs, &ao, &an);
    if (st) {
        cls_lab_records_free(&recs);
        return cli_status_error(st, "analysis");
    }
    cls_lab_report_options ro;
    cls_lab_report_options_init(&ro);
    ro.plots = plots;
    ro.wall_seconds = wall;
    st = cls_lab_report_write(dir, &recs, &an, &ro);
    rc = CLI_OK;
    if (st) rc = cli_status_error(st, "report");
    else if (json) {
        char *text = NULL;
        st = cls_lab_summary_json(&recs, &an, wall, &text);
        if (st) rc = cli_status_error(st, "summary");
        else {
            puts(text);
            free(text);
        }
    } else {
        char lines[3][256];
        cls_lab_headlines(&an, lines);
        printf("report: %s/report.html\n", dir);
        for (int i = 0; i < 3; i++) printf("%s\n", lines[i]);
    }
    cls_lab_analysis_free(&an);
    cls_lab_records_free(&recs);
    return rc;
}
