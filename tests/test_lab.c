/* Tests of the lab (src/lab): sweep files, run ids, records round trip,
 * Spearman against closed forms, the sweep loop with a failing run,
 * interruption + resume (same runs.csv as an uninterrupted sweep), a sweep
 * through an executor (runs ending out of order, stopped and resumed: the
 * same runs.csv as the serial sweep), and the fit recovering the exponents
 * of a known law from synthetic runs. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "locale_testutil.h"
#include "clscale.h"

static char tmpdir[256];

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (b) b[n] = 0;
    fclose(f);
    return b;
}

static void test_ids_and_presets(void)
{
    cls_lab_spec s;
    cls_lab_spec_init(&s);
    s.width = 256;
    s.train_subset = 6000;
    s.steps = 400;
    cls_lab_spec_make_id(&s);
    CHECK(strcmp(s.id, "mlp-w256-n6000-s400-seed0") == 0, "id %s", s.id);
    s.steps = 0;
    s.epochs = 2.5;
    s.batch = 512;
    s.seed = 3;
    cls_lab_spec_make_id(&s);
    CHECK(strcmp(s.id, "mlp-w256-n6000-e2.5-b512-seed3") == 0, "id %s", s.id);

    cls_lab_sweep sw;
    CHECK_STATUS(cls_lab_sweep_preset("demo", &sw), CLS_OK, "demo preset");
    CHECK(sw.n == 12, "demo has %lld runs, want 12", (long long)sw.n);
    CHECK(strcmp(sw.runs[0].id, "mlp-w32-n2000-s63-seed0") == 0, "first demo id %s", sw.runs[0].id);
    cls_lab_sweep_free(&sw);
    CHECK_STATUS(cls_lab_sweep_preset("full", &sw), CLS_OK, "full preset");
    CHECK(sw.n == 30, "full has %lld runs", (long long)sw.n);
    cls_lab_sweep_free(&sw);
    CHECK_STATUS(cls_lab_sweep_preset("huge", &sw), CLS_E_INVALID_ARG, "unknown preset");
    CHECK(strstr(cls_last_error(), "demo, full") != NULL, "message lists presets: %s", cls_last_error());
}

static void test_sweep_files(void)
{
    const char *j = "{\"name\": \"t\", \"defaults\": {\"seed\": 1, \"batch\": 128},\n"
                    " \"grid\": {\"width\": [32, 64], \"train_subset\": [1000, 3000, 9000], \"steps\": [50]},\n"
                    " \"runs\": [{\"width\": 16, \"train_subset\": 500, \"epochs\": 3, \"model\": \"cnn\"}]}";
    cls_lab_sweep sw;
    CHECK_STATUS(cls_lab_sweep_parse(j, strlen(j), "t.json", &sw), CLS_OK, "grid + runs");
    CHECK(sw.n == 7, "grid 2x3 + 1 run = %lld", (long long)sw.n);
    /* cartesian order: width outer, train_subset inner */
    CHECK(sw.runs[1].width == 32 && sw.runs[1].train_subset == 3000, "order");
    CHECK(strcmp(sw.runs[0].id, "mlp-w32-n1000-s50-b128-seed1") == 0, "id %s", sw.runs[0].id);
    CHECK(strcmp(sw.runs[6].id, "cnn-w16-n500-e3-b128-seed1") == 0, "id %s", sw.runs[6].id);
    cls_lab_sweep_free(&sw);

    const char *c = "width,train_subset,steps\n64,2000,10\n128,2000,10\n";
    CHECK_STATUS(cls_lab_sweep_parse(c, strlen(c), "s.csv", &sw), CLS_OK, "csv");
    CHECK(sw.n == 2 && sw.runs[1].width == 128, "csv runs");
    cls_lab_sweep_free(&sw);

    struct {
        const char *text, *name, *want;
    } bad[] = {
        {"{\"grid\": {\"width\": [64], \"depth\": [2]}}", "b.json", "unknown key 'depth'"},
        {"{\"runs\": [{\"width\": \"wide\", \"steps\": 5}]}", "b.json", "runs[0]: width must be a number"},
        {"{\"runs\": [{\"width\": -4, \"steps\": 5}]}", "b.json", "runs[0]: width = -4"},
        {"{\"runs\": [{\"width\": 4, \"steps\": 5}, {\"width\": 4, \"steps\": 5}]}", "b.json", "same run"},
        {"{\"runs\": []}", "b.json", "no runs"},
        {"{\"runs\": [{\"width\": 4, \"steps\": 5}", "b.json", "not valid JSON"},
        {"{\"runs\": [{\"model\": \"rnn\", \"steps\": 5}]}", "b.json", "model 'rnn'"},
        {"{\"grid\": {\"width\": []}}", "b.json", "grid.width must be a non-empty array"},
        {"{\"runs\": [{\"width\": 4, \"steps\": 0, \"epochs\": 0}]}", "b.json", "neither steps nor epochs"},
        {"width,depth\n4,5\n", "b.csv", "unknown column 'depth'"},
        {"width,steps\n4,x5\n", "b.csv", "line 2, column 'steps': 'x5' is not a finite number"},
        {"width,epochs\n4,\n", "b.csv", "line 2, column 'epochs': empty cell"},
        {"width,steps\n4,5,6\n", "b.csv", "b.csv"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cls_status st = cls_lab_sweep_parse(bad[i].text, strlen(bad[i].text), bad[i].name, &sw);
        CHECK(st != CLS_OK, "bad sweep %zu accepted", i);
        CHECK(strstr(cls_last_error(), bad[i].want) != NULL, "bad sweep %zu: message '%s' lacks '%s'", i,
              cls_last_error(), bad[i].want);
    }
}

static void test_spearman(void)
{
    /* no ties: rho = 1 - 6 sum d^2 / (n (n^2 - 1)) */
    double x[8] = {1.5, 0.2, 3.3, 2.0, 9.1, 4.4, 7.0, 5.5};
    double y[8] = {2.0, 1.0, 3.0, 5.0, 8.0, 4.0, 6.0, 7.0};
    /* ranks of x: 2,1,3,... computed by hand */
    double rx[8] = {2, 1, 4, 3, 8, 5, 7, 6}, ry[8] = {2, 1, 3, 5, 8, 4, 6, 7};
    double d2 = 0;
    for (int i = 0; i < 8; i++) d2 += (rx[i] - ry[i]) * (rx[i] - ry[i]);
    double want = 1 - 6 * d2 / (8.0 * 63.0), rho, p;
    CHECK_STATUS(cls_lab_spearman(x, y, 8, 0, 0, &rho, &p), CLS_OK, "spearman");
    CHECK_CLOSE(rho, want, 1e-12, 0, "rho no ties");
    /* perfect order with n = 5: exact two-sided p = 2/120 */
    double a[5] = {1, 2, 3, 4, 5}, b[5] = {10, 20, 30, 40, 50};
    CHECK_STATUS(cls_lab_spearman(a, b, 5, 20000, 7, &rho, &p), CLS_OK, "spearman perfect");
    CHECK_CLOSE(rho, 1.0, 1e-12, 0, "rho perfect");
    CHECK_CLOSE(p, 2.0 / 120.0, 0.004, 0, "permutation p of a perfect order, n = 5 (4 sd of 20000 draws)");
    /* same seed, same p */
    double p2;
    cls_lab_spearman(a, b, 5, 20000, 7, &rho, &p2);
    CHECK(p == p2, "seeded permutations reproduce");
    /* ties: average ranks; x constant in pairs */
    double t[4] = {1, 1, 2, 2}, u[4] = {1, 2, 3, 4};
    cls_lab_spearman(t, u, 4, 0, 0, &rho, NULL);
    /* ranks t: 1.5 1.5 3.5 3.5; Pearson with 1..4 = 0.894427191 */
    CHECK_CLOSE(rho, 2.0 / sqrt(5.0), 1e-12, 0, "rho with ties");
    CHECK_STATUS(cls_lab_spearman(a, b, 2, 10, 0, &rho, &p), CLS_E_INVALID_ARG, "n < 3");
}

static int stop_at(void *user, const cls_lab_progress *p)
{
    int *target = user; /* stop when run target[0] reaches 50 % */
    return p->event == CLS_LAB_EVENT_STEP && p->index == target[0] && p->run_frac >= 0.5;
}

/* A sweep parsed from JSON and the synthetic runner's options for it. */
static void synthetic_setup(const char *json, const char *name, cls_lab_sweep *sw, cls_lab_synthetic *syn,
                            cls_lab_options *opt)
{
    CHECK_STATUS(cls_lab_sweep_parse(json, strlen(json), name, sw), CLS_OK, "sweep %s", name);
    cls_lab_synthetic_init(syn);
    cls_lab_options_init(opt);
    opt->runner = cls_lab_runner_synthetic;
    opt->runner_user = syn;
}

static void test_sweep_and_resume(void)
{
    const char *j = "{\"grid\": {\"width\": [32, 64, 128], \"train_subset\": [1000, 4000], \"steps\": [20]}}";
    cls_lab_sweep sw;
    cls_lab_synthetic syn;
    cls_lab_options opt;
    synthetic_setup(j, "r.json", &sw, &syn, &opt);
    syn.fail_width = 64; /* two runs fail; the sweep goes on */
    char a[300], b[300], pa[320], pb[320];
    snprintf(a, sizeof a, "%s/full", tmpdir);
    snprintf(b, sizeof b, "%s/interrupted", tmpdir);
    int stopped = -1;
    CHECK_STATUS(cls_lab_run(&sw, a, 0, &opt, &stopped), CLS_OK, "uninterrupted sweep");
    CHECK(stopped == 0, "not stopped");
    CHECK_STATUS(cls_lab_run(&sw, a, 0, &opt, &stopped), CLS_E_INVALID_ARG, "a second sweep into the same dir");

    int target = 4;
    opt.progress = stop_at;
    opt.progress_user = &target;
    CHECK_STATUS(cls_lab_run(&sw, b, 0, &opt, &stopped), CLS_OK, "interrupted sweep");
    CHECK(stopped == 1, "stopped by the callback");
    cls_lab_records part;
    CHECK_STATUS(cls_lab_records_read(b, &part), CLS_OK, "partial records");
    CHECK(part.n == 4, "4 runs recorded before the stop, got %lld", (long long)part.n);
    cls_lab_records_free(&part);
    snprintf(pb, sizeof pb, "%s/runs/%s/checkpoint.txt", b, sw.runs[4].id);
    char *ck = slurp(pb);
    CHECK(ck && atoi(ck) == 5, "interrupted run left its checkpoint at chunk 5 (%s)", ck ? ck : "none");
    free(ck);
    opt.progress = NULL;
    CHECK_STATUS(cls_lab_run(NULL, b, 1, &opt, &stopped), CLS_OK, "resume");
    snprintf(pa, sizeof pa, "%s/runs.csv", a);
    snprintf(pb, sizeof pb, "%s/runs.csv", b);
    char *ta = slurp(pa), *tb = slurp(pb);
    CHECK(ta && tb && strcmp(ta, tb) == 0, "resumed runs.csv equals the uninterrupted one");
    free(ta);
    free(tb);

    cls_lab_records recs;
    CHECK_STATUS(cls_lab_records_read(a, &recs), CLS_OK, "records");
    CHECK(recs.n == 6, "6 records");
    int failed = 0;
    for (int64_t i = 0; i < recs.n; i++)
        if (!recs.runs[i].ok) {
            failed++;
            CHECK(strstr(recs.runs[i].error, "width 64 diverged") != NULL, "error recorded: %s", recs.runs[i].error);
        }
    CHECK(failed == 2, "2 failed runs, got %d", failed);
    CHECK(recs.runs[0].n_eig == 128, "eigenvalues read back from record.json");
    /* CSV round trip of a record with an awkward error message */
    snprintf(recs.runs[1].error, sizeof recs.runs[1].error, "a, \"quoted\"\nmessage");
    recs.runs[1].ok = 0;
    char c2[320], d2[300];
    snprintf(d2, sizeof d2, "%s/roundtrip", tmpdir);
    CHECK_STATUS(cls_lab_run(&sw, d2, 0, &opt, &stopped), CLS_OK, "roundtrip dir");
    snprintf(c2, sizeof c2, "%s/runs.csv", d2);
    CHECK_STATUS(cls_lab_records_write_csv(&recs, c2), CLS_OK, "write csv");
    cls_lab_records back;
    CHECK_STATUS(cls_lab_records_read(d2, &back), CLS_OK, "read csv");
    CHECK(back.n == recs.n, "count");
    CHECK(strcmp(back.runs[1].error, recs.runs[1].error) == 0, "error text round trip: %s", back.runs[1].error);
    for (int64_t i = 0; i < recs.n; i++) {
        CHECK(strcmp(back.runs[i].spec.id, recs.runs[i].spec.id) == 0, "id");
        if (recs.runs[i].ok) CHECK(back.runs[i].heldout_loss == recs.runs[i].heldout_loss, "loss bits");
        CHECK(back.runs[i].params == recs.runs[i].params, "params");
    }
    cls_lab_records_free(&back);
    cls_lab_records_free(&recs);
    cls_lab_sweep_free(&sw);
}

static void test_fit_recovers(void)
{
    /* 7 widths x 6 step counts: N over 2 decades, D over 2.5 */
    const char *j = "{\"grid\": {\"width\": [16, 32, 64, 128, 256, 512, 1024], \"train_subset\": [60000],"
                    " \"steps\": [10, 30, 100, 300, 1000, 3000]}}";
    cls_lab_sweep sw;
    cls_lab_synthetic syn;
    cls_lab_options opt;
    synthetic_setup(j, "fit.json", &sw, &syn, &opt);
    syn.noise = 0.005;
    char d[300];
    snprintf(d, sizeof d, "%s/fit", tmpdir);
    CHECK_STATUS(cls_lab_run(&sw, d, 0, &opt, NULL), CLS_OK, "sweep");
    cls_lab_records recs;
    CHECK_STATUS(cls_lab_records_read(d, &recs), CLS_OK, "records");
    cls_lab_analysis_options ao;
    cls_lab_analysis_options_init(&ao);
    ao.bootstrap = 60;
    ao.permutations = 2000;
    ao.threads = 2;
    cls_lab_analysis an;
    CHECK_STATUS(cls_lab_analyze(&recs, &ao, &an), CLS_OK, "analysis");
    CHECK(an.loss_nd.ok && an.probe_nd.ok && an.loss_frontier.ok, "laws fitted (%s)", an.loss_nd.message);
    /* parameters: E, A, B, alpha, beta */
    const cls_fit_result *f = &an.loss_nd.fit;
    double want[5] = {syn.E, syn.A, syn.B, syn.alpha, syn.beta};
    for (int q = 0; q < 5; q++) printf("loss %s = %g [%g, %g], truth %g\n", f->param_names[q], f->params[q],
                                       f->ci95[q][0], f->ci95[q][1], want[q]);
    /* tolerance: exponents within 0.05 absolute, E within 3 %; truth inside the 95 % interval */
    CHECK_CLOSE(f->params[3], syn.alpha, 0.05, 0, "alpha_N recovered");
    CHECK_CLOSE(f->params[4], syn.beta, 0.05, 0, "beta_D recovered");
    CHECK_CLOSE(f->params[0], syn.E, 0, 0.03, "E recovered");
    CHECK(f->ci95[3][0] <= syn.alpha && syn.alpha <= f->ci95[3][1], "alpha in its 95 %% interval");
    CHECK(f->ci95[4][0] <= syn.beta && syn.beta <= f->ci95[4][1], "beta in its 95 %% interval");
    const cls_fit_result *g = &an.probe_nd.fit;
    CHECK_CLOSE(g->params[3], syn.palpha, 0.08, 0, "probe alpha_N recovered");
    CHECK_CLOSE(g->params[4], syn.pbeta, 0.08, 0, "probe beta_D recovered");
    /* extrapolation of a true law with 0.5 % noise predicts within 10 % */
    CHECK(an.loss_extra.law.ok && an.loss_extra.predicts, "extrapolation: %s", an.loss_extra.verdict);
    CHECK(an.loss_extra.n_holdout == 9, "20 %% of 42 runs held out = 9, got %lld", (long long)an.loss_extra.n_holdout);
    CHECK(an.loss_extra.mean_abs_rel_error < 0.03, "mean |error| %g", an.loss_extra.mean_abs_rel_error);
    /* cost factor: C = 12 N D in the synthetic runner */
    CHECK_CLOSE(an.cost_factor, 12.0, 1e-9, 1e-9, "cost factor");
    /* the planner on the fitted law: each plan spends its budget, bands bracket the estimate */
    CHECK(an.n_optimal == 6, "6 planned budgets");
    for (int i = 0; i < an.n_optimal; i++) {
        CHECK_CLOSE(an.cost_factor * an.optimal[i].N * an.optimal[i].D, an.optimal[i].compute, 0, 1e-6,
                    "N* D* spends the budget");
        CHECK(an.optimal[i].N_ci95[0] <= an.optimal[i].N && an.optimal[i].N <= an.optimal[i].N_ci95[1], "N band");
    }
    /* the synthetic spectrum ties |alpha - 1| to the error: strong negative rho */
    CHECK(an.alpha_accuracy.rho < -0.8 && an.alpha_accuracy.p_value < 0.01, "rho %g p %g", an.alpha_accuracy.rho,
          an.alpha_accuracy.p_value);
    /* report files */
    cls_lab_report_options ro;
    cls_lab_report_options_init(&ro);
    ro.plots = 0;
    CHECK_STATUS(cls_lab_report_write(d, &recs, &an, &ro), CLS_OK, "report");
    const char *files[] = {"report.html", "report.md", "summary.json"};
    for (int i = 0; i < 3; i++) {
        char p[400];
        snprintf(p, sizeof p, "%s/%s", d, files[i]);
        CHECK(access(p, R_OK) == 0, "%s written", files[i]);
    }
    char lines[3][256];
    cls_lab_headlines(&an, lines);
    CHECK(strstr(lines[0], "alpha_N") && strstr(lines[1], "predicts") && strstr(lines[2], "Spearman"),
          "headlines: %s | %s | %s", lines[0], lines[1], lines[2]);
    cls_lab_analysis_free(&an);

    /* too few runs: laws reported as not fitted, not an error */
    recs.n = 3;
    CHECK_STATUS(cls_lab_analyze(&recs, &ao, &an), CLS_OK, "analysis of 3 runs");
    CHECK(!an.loss_nd.ok && !an.loss_frontier.ok && strstr(an.loss_extra.verdict, "cannot"), "%s / %s",
          an.loss_nd.message, an.loss_extra.verdict);
    cls_lab_analysis_free(&an);
    recs.n = 42;
    cls_lab_records_free(&recs);
    cls_lab_sweep_free(&sw);
}

/* An executor in this process with 3 slots that ends the runs in reverse
 * order of starting them (the last started first), each through
 * cls_lab_run_one, as an MPI worker would. */
typedef struct {
    const cls_lab_options *opt; /* the runner's */
    const char *dir;
    int64_t idx[3];
    cls_lab_spec spec[3];
    int resume[3], n, stop, stops_asked, max_flying;
} fake_exec;

static cls_status fake_start(void *user, int64_t index, const cls_lab_spec *spec, int resume)
{
    fake_exec *f = user;
    if (f->n >= 3) return CLS_E_INTERNAL;
    f->idx[f->n] = index;
    f->spec[f->n] = *spec;
    f->resume[f->n] = resume;
    f->n++;
    if (f->n > f->max_flying) f->max_flying = f->n;
    return CLS_OK;
}

static int fake_progress(void *user, const cls_lab_progress *p)
{
    (void)p;
    return ((fake_exec *)user)->stop;
}

static cls_status fake_wait(void *user, int64_t *index, cls_lab_record *out, int *stopped)
{
    fake_exec *f = user;
    if (f->n == 0) return CLS_E_INTERNAL;
    int k = --f->n;
    cls_lab_options o = *f->opt;
    o.progress = fake_progress;
    o.progress_user = f;
    *index = f->idx[k];
    cls_lab_record_clear(out);
    return cls_lab_run_one(&f->spec[k], f->dir, f->resume[k], &o, f->idx[k], out, stopped);
}

static void fake_stop(void *user)
{
    fake_exec *f = user;
    f->stop = 1;
    f->stops_asked++;
}

static int stop_after_results(void *user, const cls_lab_progress *p)
{
    int *left = user;
    if (p->event == CLS_LAB_EVENT_DONE || p->event == CLS_LAB_EVENT_FAILED) --*left;
    return *left <= 0;
}

static void test_executor(void)
{
    const char *j = "{\"grid\": {\"width\": [32, 64, 128], \"train_subset\": [1000, 4000, 9000], \"steps\": [20]}}";
    cls_lab_sweep sw;
    cls_lab_synthetic syn;
    cls_lab_options opt;
    synthetic_setup(j, "x.json", &sw, &syn, &opt);
    syn.fail_width = 64;
    char ser[300], par[300], stp[300], p1[320], p2[320];
    snprintf(ser, sizeof ser, "%s/ex_serial", tmpdir);
    snprintf(par, sizeof par, "%s/ex_parallel", tmpdir);
    snprintf(stp, sizeof stp, "%s/ex_stopped", tmpdir);
    CHECK_STATUS(cls_lab_run(&sw, ser, 0, &opt, NULL), CLS_OK, "serial sweep");

    /* cls_lab_run_one alone writes only the run's own directory */
    char one[300];
    snprintf(one, sizeof one, "%s/ex_one", tmpdir);
    cls_lab_record r;
    int stopped = -1;
    CHECK_STATUS(cls_lab_run_one(&sw.runs[3], one, 0, &opt, 3, &r, &stopped), CLS_OK, "run one (width 64)");
    CHECK(stopped == 0 && r.ok == 0 && strstr(r.error, "width 64 diverged"), "a failing run is a failed record: %s",
          r.error);
    cls_lab_record_clear(&r);
    CHECK_STATUS(cls_lab_run_one(&sw.runs[0], one, 0, &opt, 0, &r, &stopped), CLS_OK, "run one");
    CHECK(r.ok == 1 && r.n_eig == 128 && isfinite(r.heldout_loss), "a measured record");
    cls_lab_record_clear(&r);
    snprintf(p1, sizeof p1, "%s/runs.csv", one);
    snprintf(p2, sizeof p2, "%s/runs/%s/record.json", one, sw.runs[0].id);
    CHECK(access(p1, F_OK) != 0 && access(p2, F_OK) != 0, "no runs.csv, no record.json from cls_lab_run_one");

    /* 3 runs in flight, ending out of order: runs.csv still in sweep order, equal to the serial one */
    fake_exec f;
    memset(&f, 0, sizeof f);
    f.opt = &opt;
    f.dir = par;
    cls_lab_executor ex = {3, fake_start, fake_wait, fake_stop, &f};
    cls_lab_options po = opt;
    po.executor = &ex;
    CHECK_STATUS(cls_lab_run(&sw, par, 0, &po, &stopped), CLS_OK, "sweep through the executor");
    CHECK(stopped == 0 && f.max_flying == 3, "3 runs in flight at once (max %d)", f.max_flying);
    snprintf(p1, sizeof p1, "%s/runs.csv", ser);
    snprintf(p2, sizeof p2, "%s/runs.csv", par);
    char *a = slurp(p1), *b = slurp(p2);
    CHECK(a && b && strcmp(a, b) == 0, "runs.csv through the executor equals the serial one");
    free(b);
    snprintf(p2, sizeof p2, "%s/runs/%s/record.json", par, sw.runs[8].id);
    CHECK(access(p2, F_OK) == 0, "record.json written by the lab for a run ended by the executor");

    /* stopped after 4 results: the runs in flight are asked to stop and not recorded; resume completes */
    fake_exec g;
    memset(&g, 0, sizeof g);
    g.opt = &opt;
    g.dir = stp;
    cls_lab_executor ex2 = {3, fake_start, fake_wait, fake_stop, &g};
    po.executor = &ex2;
    int left = 4;
    po.progress = stop_after_results;
    po.progress_user = &left;
    CHECK_STATUS(cls_lab_run(&sw, stp, 0, &po, &stopped), CLS_OK, "stopped sweep");
    CHECK(stopped == 1 && g.stops_asked == 1 && g.n == 0, "stopped once, nothing left in flight (%d asks, %d left)",
          g.stops_asked, g.n);
    cls_lab_records part;
    CHECK_STATUS(cls_lab_records_read(stp, &part), CLS_OK, "partial records");
    CHECK(part.n == 4, "4 results recorded, got %lld", (long long)part.n);
    cls_lab_records_free(&part);
    g.stop = 0;
    po.progress = NULL;
    CHECK_STATUS(cls_lab_run(NULL, stp, 1, &po, &stopped), CLS_OK, "resume through the executor");
    snprintf(p2, sizeof p2, "%s/runs.csv", stp);
    b = slurp(p2);
    CHECK(a && b && strcmp(a, b) == 0, "stopped + resumed runs.csv equals the serial one");
    free(a);
    free(b);

    /* an executor that fails ends the sweep with its error */
    cls_lab_executor bad = {0, fake_start, fake_wait, NULL, &f};
    po.executor = &bad;
    snprintf(p2, sizeof p2, "%s/ex_bad", tmpdir);
    CHECK_STATUS(cls_lab_run(&sw, p2, 0, &po, &stopped), CLS_E_INVALID_ARG, "an executor with 0 slots");
    cls_lab_sweep_free(&sw);
}

/* Under a comma-decimal LC_NUMERIC (set by a host program): sweep CSV files,
 * runs.csv and the report's numbers still use and read '.' */
static void test_locale(void)
{
    locale_t loc = comma_locale();
    if (loc == (locale_t)0) {
        comma_locale_skip_note("lab");
        return;
    }
    locale_t old = uselocale(loc);
    char probe[16];
    snprintf(probe, sizeof probe, "%.1f", 2.5);
    CHECK(strcmp(probe, "2,5") == 0, "the comma locale is active (%s)", probe);
    const char *c = "width,epochs,steps\n64,2.5,0\n";
    cls_lab_sweep sw;
    CHECK_STATUS(cls_lab_sweep_parse(c, strlen(c), "l.csv", &sw), CLS_OK, "csv sweep under the comma locale");
    CHECK(sw.n == 1 && sw.runs[0].epochs == 2.5, "epochs 2.5 read as 2.5 (%g)", sw.n ? sw.runs[0].epochs : -1.0);
    cls_lab_records recs = {1, calloc(1, sizeof(cls_lab_record))};
    cls_lab_record_init(&recs.runs[0]);
    recs.runs[0].spec = sw.runs[0];
    recs.runs[0].ok = 1;
    recs.runs[0].heldout_loss = 4.123456789012345;
    recs.runs[0].alpha = 1.25;
    char d[300], p[320];
    snprintf(d, sizeof d, "%s/locale", tmpdir);
    mkdir(d, 0777);
    snprintf(p, sizeof p, "%s/runs.csv", d);
    CHECK_STATUS(cls_lab_records_write_csv(&recs, p), CLS_OK, "runs.csv under the comma locale");
    char *text = slurp(p);
    CHECK(text && strstr(text, ",2.5,") && strstr(text, "4.123456789012345") && !strstr(text, "4,12"),
          "runs.csv numbers with '.': %s", text ? text : "none");
    free(text);
    cls_lab_records back;
    CHECK_STATUS(cls_lab_records_read(d, &back), CLS_OK, "runs.csv read back under the comma locale");
    CHECK(back.n == 1 && back.runs[0].heldout_loss == recs.runs[0].heldout_loss && back.runs[0].spec.epochs == 2.5,
          "numbers round-trip to the bit");
    cls_lab_analysis an;
    CHECK_STATUS(cls_lab_analyze(&back, NULL, &an), CLS_OK, "analysis of one run");
    char *json = NULL;
    CHECK_STATUS(cls_lab_summary_json(&back, &an, 0, &json), CLS_OK, "summary");
    CHECK(json && strstr(json, "\"heldout_loss\":4.12346") && strstr(json, "\"alpha\":1.25"),
          "summary numbers rounded with '.': %.300s", json ? json : "none");
    free(json);
    cls_lab_analysis_free(&an);
    cls_lab_records_free(&back);
    cls_lab_records_free(&recs);
    cls_lab_sweep_free(&sw);
    uselocale(old);
    freelocale(loc);
    printf("comma-decimal locale check ran\n");
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cls_test_lab_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_ids_and_presets();
    test_sweep_files();
    test_locale();
    test_spearman();
    test_sweep_and_resume();
    test_executor();
    test_fit_recovers();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (check_failed == 0 && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary("lab");
}
