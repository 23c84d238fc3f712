/* clscale sim dynamics: online SGD of a nonlinear contrastive model against
 * its ODE limit; the learnability threshold, fixed points and basin map. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEED 1 /* seed s of a run uses rng stream s of this seed */
#define BASIN_THETAS 46 /* 0, 2, ..., 90 degrees */
#define BASIN_T_MIN 100.0

typedef struct {
    cls_dynamics_model m;
    int64_t N;
    double q0, r0, T, dt, every;
    int seeds;
    int ode_only, sgd_only, threshold, fixed_points, basins, json;
    const char *csv, *plot;
} opts;

static void usage(FILE *out)
{
    fputs("usage: clscale sim dynamics [options]\n\n"
          "Online SGD of a one-layer contrastive model (K tanh units, p planted features in\n"
          "dimension N, two noisy views) against its N -> infinity ODE limit for the\n"
          "overlaps Q (p x K) and norms R (K x K). Time t = SGD steps / N.\n\n"
          "model:\n"
          "  --N N            dimension for SGD (default 2000)\n"
          "  --K K            units (default 1)\n"
          "  --p P            planted features (default 1)\n"
          "  --tau X          learning rate (default 0.5)\n"
          "  --mu X           L2 weight decay (default 1)\n"
          "  --eps X          augmentation noise level, >= 0 (default 0)\n"
          "  --rho X          correlation of the two views' noise, in [-1, 1] (default 0)\n"
          "  --lambda X       off-diagonal penalty (default 1)\n"
          "  --c LAW          law of c: rademacher:m2=M | sparse:m2=M,s=S | table:v:p,v:p,...\n"
          "                   (default rademacher:m2=2); give it once for all features or\n"
          "                   p times, once per feature\n"
          "run:\n"
          "  --q0 X           initial overlap q: Q_jk = q0 for j = k mod p (default 0.1)\n"
          "  --r0 X           initial norm r: R = r0 I (default 1)\n"
          "  --T X            final time (default 16)\n"
          "  --dt X           RK4 step of the ODE (default 0.01)\n"
          "  --every X        record every X time units (default 0.1)\n"
          "  --seeds S        SGD runs averaged (default 16; seed s = rng stream s)\n"
          "  --ode-only       only the ODE\n"
          "  --sgd-only       only SGD\n"
          "analysis (instead of trajectories; K = 1):\n"
          "  --threshold      uninformative point r_u, threshold m2_c, growth rate Gamma_q\n"
          "  --fixed-points   uninformative and informative points with Jacobian\n"
          "                   eigenvalues (K = p = 1)\n"
          "  --basins         p = 2: the feature selected from q = q0 (cos th, sin th), th =\n"
          "                   0..90 degrees, ODE to t = max(T, 100)\n"
          "output:\n"
          "  --csv OUT        write the trajectories (or the basin map) as CSV\n"
          "  --plot P.png     plot ODE and SGD cos(t) on one figure (.png or .svg; gnuplot)\n"
          "  --json           one JSON object on stdout\n"
          "  --help           this text\n",
          out);
}

static void usage_stdout(void) { usage(stdout); }

static int parse(int argc, char **argv, opts *o)
{
    const char *cmd = "sim dynamics";
    cls_dynamics_model_init(&o->m);
    o->N = 2000, o->q0 = 0.1, o->r0 = 1.0, o->T = 16.0, o->dt = 0.01, o->every = 0.1, o->seeds = 16;
    cls_dynamics_law laws[CLS_DYNAMICS_MAX_P];
    const char **ctext = calloc((size_t)argc + 1, sizeof *ctext);
    if (!ctext) return cli_error("out of memory");
    int n_laws = 0, nc = 0, first = 0;
    /* ranges: checked below with messages that name the related option */
    const cli_option table[] = {
        CLI_INT64("N", &o->N, NAN, NAN), CLI_INT("K", &o->m.K, NAN, NAN), CLI_INT("p", &o->m.p, NAN, NAN),
        CLI_DOUBLE("tau", &o->m.tau, NAN, NAN), CLI_DOUBLE("mu", &o->m.mu, NAN, NAN),
        CLI_DOUBLE("eps", &o->m.eps, NAN, NAN), CLI_DOUBLE("rho", &o->m.rho, NAN, NAN),
        CLI_DOUBLE("lambda", &o->m.lambda, NAN, NAN), CLI_STRINGS("c", ctext, &nc),
        CLI_DOUBLE("q0", &o->q0, NAN, NAN), CLI_DOUBLE("r0", &o->r0, NAN, NAN), CLI_DOUBLE("T", &o->T, NAN, NAN),
        CLI_DOUBLE("dt", &o->dt, NAN, NAN), CLI_DOUBLE("every", &o->every, NAN, NAN),
        CLI_INT("seeds", &o->seeds, NAN, NAN), CLI_FLAG("ode-only", &o->ode_only),
        CLI_FLAG("sgd-only", &o->sgd_only), CLI_FLAG("threshold", &o->threshold),
        CLI_FLAG("fixed-points", &o->fixed_points), CLI_FLAG("basins", &o->basins),
        CLI_STRING("csv", &o->csv), CLI_STRING("plot", &o->plot), CLI_FLAG("json", &o->json), CLI_END};
    int prc = cli_parse_options(cmd, table, argc, argv, usage_stdout, &first);
    for (int i = 0; prc == CLI_OK && i < nc; i++) {
        if (n_laws == CLS_DYNAMICS_MAX_P) prc = cli_usage_error(cmd, "--c given more than %d times", CLS_DYNAMICS_MAX_P);
        else if (cls_dynamics_law_parse(&laws[n_laws], ctext[i])) prc = cli_usage_error(cmd, "--c: %s", cls_last_error());
        else n_laws++;
    }
    free(ctext);
    if (prc) return prc;
    if (first < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
    if (o->ode_only && o->sgd_only) return cli_usage_error(cmd, "--ode-only and --sgd-only exclude each other");
    if (o->m.p >= 1 && o->m.p <= CLS_DYNAMICS_MAX_P) {
        if (n_laws == 1)
            for (int j = 0; j < o->m.p; j++) o->m.law[j] = laws[0];
        else if (n_laws > 1) {
            if (n_laws != o->m.p)
                return cli_usage_error(cmd, "--c given %d times: give it once or p = %d times", n_laws, o->m.p);
            for (int j = 0; j < o->m.p; j++) o->m.law[j] = laws[j];
        }
    }
    if (cls_dynamics_model_check(&o->m)) return cli_usage_error(cmd, "%s", cls_last_error());
    if (o->N < 2) return cli_usage_error(cmd, "--N %lld must be >= 2", (long long)o->N);
    if (o->m.K >= o->N) return cli_usage_error(cmd, "--K %d must be smaller than --N %lld", o->m.K, (long long)o->N);
    if (o->m.p >= o->N) return cli_usage_error(cmd, "--p %d must be smaller than --N %lld", o->m.p, (long long)o->N);
    if (o->seeds < 1) return cli_usage_error(cmd, "--seeds %d must be >= 1", o->seeds);
    if (!(o->T > 0.0) || !isfinite(o->T)) return cli_usage_error(cmd, "--T %g must be > 0", o->T);
    if (!(o->dt > 0.0) || !isfinite(o->dt)) return cli_usage_error(cmd, "--dt %g must be > 0", o->dt);
    if (!(o->every > 0.0) || o->every > o->T) return cli_usage_error(cmd, "--every %g must be in (0, T]", o->every);
    if (o->every < o->dt * 0.999) return cli_usage_error(cmd, "--every %g must be >= --dt %g", o->every, o->dt);
    if (!(o->r0 > 0.0) || !isfinite(o->q0)) return cli_usage_error(cmd, "--r0 %g must be > 0 and --q0 finite", o->r0);
    if (o->plot && !cli_gnuplot_terminal(o->plot)) return CLI_USAGE;
    return CLI_OK;
}

/* ---------------------------------------------------------------- helpers */

static cJSON *number_or_null(double x) { return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull(); }

/* One record as JSON: a scalar for 1 x 1, else a rows x cols nested array. */
static cJSON *matrix_json(const double *a, int rows, int cols)
{
    if (rows == 1 && cols == 1) return number_or_null(a[0]);
    cJSON *m = cJSON_CreateArray();
    for (int i = 0; i < rows; i++) {
        cJSON *row = cJSON_CreateArray();
        for (int j = 0; j < cols; j++) cJSON_AddItemToArray(row, number_or_null(a[i * cols + j]));
        cJSON_AddItemToArray(m, row);
    }
    return m;
}

static cJSON *series_json(const double *a, int n_rec, int rows, int cols)
{
    cJSON *s = cJSON_CreateArray();
    for (int r = 0; r < n_rec; r++) cJSON_AddItemToArray(s, matrix_json(a + (size_t)r * rows * cols, rows, cols));
    return s;
}

static void progress_cb(void *ctx, double frac)
{
    (void)ctx;
    cli_progress("sgd", frac);
}

/* ------------------------------------------------------------- analysis */

static int run_analysis(const opts *o)
{
    const cls_dynamics_model *m = &o->m;
    cJSON *out = o->json ? cJSON_CreateObject() : NULL;
    cls_status st;
    if (o->threshold) {
        cls_dynamics_threshold th;
        if ((st = cls_dynamics_threshold_compute(m, 0, &th))) {
            cJSON_Delete(out);
            return cli_status_error(st, "threshold");
        }
        if (out) {
            cJSON_AddNumberToObject(out, "r_u", th.r_u);
            cJSON_AddNumberToObject(out, "m2_c", th.m2_c);
            if (m->p == 1) cJSON_AddNumberToObject(out, "growth_rate", th.growth_rate[0]);
            else cJSON_AddItemToObject(out, "growth_rate", cJSON_CreateDoubleArray(th.growth_rate, m->p));
            cJSON_AddNumberToObject(out, "S1", th.S1);
            cJSON_AddNumberToObject(out, "D0", th.D0);
        } else {
            printf("uninformative point: q = 0, r_u = %.6f (S1 = %.6f, D0 = %.6f)\n", th.r_u, th.S1, th.D0);
            printf("threshold: learnable iff m2 > m2_c = %.6f\n", th.m2_c);
            for (int j = 0; j < m->p; j++)
                printf("feature %d: m2 = %.6g, growth rate Gamma_q = %.6f (%s)\n", j + 1,
                       cls_dynamics_law_moment(&m->law[j], 2), th.growth_rate[j],
                       th.growth_rate[j] > 0 ? "learnable" : "not learnable");
        }
    }
    if (o->fixed_points) {
        cls_dynamics_fixed_point fp[2];
        if ((st = cls_dynamics_fixed_points(m, 0, o->q0, o->r0, &fp[0], &fp[1]))) {
            cJSON_Delete(out);
            return cli_status_error(st, "fixed points");
        }
        const char *kind[2] = {"uninformative", "informative"};
        cJSON *pts = out ? cJSON_CreateArray() : NULL;
        for (int i = 0; i < 2; i++) {
            if (!fp[i].found) {
                if (!out) printf("%s point: not found (the ODE from q0 = %g does not learn)\n", kind[i], o->q0);
                continue;
            }
            if (out) {
                cJSON *p = cJSON_CreateObject();
                cJSON_AddStringToObject(p, "kind", kind[i]);
                cJSON_AddNumberToObject(p, "q", fp[i].q);
                cJSON_AddNumberToObject(p, "r", fp[i].r);
                cJSON_AddNumberToObject(p, "cos", fp[i].q / sqrt(fp[i].r));
                cJSON *ev = cJSON_CreateArray();
                for (int e = 0; e < 2; e++) {
                    cJSON *z = cJSON_CreateObject();
                    cJSON_AddNumberToObject(z, "re", fp[i].eig_re[e]);
                    cJSON_AddNumberToObject(z, "im", fp[i].eig_im[e]);
                    cJSON_AddItemToArray(ev, z);
                }
                cJSON_AddItemToObject(p, "eigenvalues", ev);
                cJSON_AddItemToObject(p, "jacobian", matrix_json(fp[i].jacobian, 2, 2));
                cJSON_AddBoolToObject(p, "stable", fp[i].stable);
                cJSON_AddItemToArray(pts, p);
            } else {
                printf("%s point: q = %.6f, r = %.6f, cos = %.6f, eigenvalues %.6f%+.6fi, %.6f%+.6fi (%s)\n",
                       kind[i], fp[i].q, fp[i].r, fp[i].q / sqrt(fp[i].r), fp[i].eig_re[0], fp[i].eig_im[0],
                       fp[i].eig_re[1], fp[i].eig_im[1], fp[i].stable ? "stable" : "unstable");
            }
        }
        if (out) cJSON_AddItemToObject(out, "points", pts);
    }
    if (o->basins) {
        double T = o->T > BASIN_T_MIN ? o->T : BASIN_T_MIN;
        double th[BASIN_THETAS], cs[2 * BASIN_THETAS];
        int win[BASIN_THETAS];
        if ((st = cls_dynamics_basins(m, 0, o->q0, o->r0, BASIN_THETAS, M_PI / 2, T, o->dt, th, win, cs))) {
            cJSON_Delete(out);
            return cli_status_error(st, "basins");
        }
        double deg[BASIN_THETAS], c1[BASIN_THETAS], c2[BASIN_THETAS];
        int w1[BASIN_THETAS];
        for (int i = 0; i < BASIN_THETAS; i++)
            deg[i] = th[i] * 180.0 / M_PI, c1[i] = cs[2 * i], c2[i] = cs[2 * i + 1], w1[i] = win[i] < 0 ? 0 : win[i] + 1;
        if (out) {
            cJSON *b = cJSON_CreateObject();
            cJSON_AddNumberToObject(b, "q0", o->q0);
            cJSON_AddNumberToObject(b, "T", T);
            cJSON_AddItemToObject(b, "theta_deg", cJSON_CreateDoubleArray(deg, BASIN_THETAS));
            cJSON_AddItemToObject(b, "winner", cJSON_CreateIntArray(w1, BASIN_THETAS));
            cJSON_AddItemToObject(b, "cos1", cJSON_CreateDoubleArray(c1, BASIN_THETAS));
            cJSON_AddItemToObject(b, "cos2", cJSON_CreateDoubleArray(c2, BASIN_THETAS));
            cJSON_AddItemToObject(out, "basins", b);
        } else {
            printf("basin map (start q = %g (cos th, sin th), ODE to t = %g; winner 0 = undecided)\n", o->q0, T);
            printf("%8s %7s %9s %9s\n", "th_deg", "winner", "|cos1|", "|cos2|");
            for (int i = 0; i < BASIN_THETAS; i++) printf("%8.2f %7d %9.4f %9.4f\n", deg[i], w1[i], c1[i], c2[i]);
        }
        if (o->csv) {
            FILE *f = fopen(o->csv, "w");
            if (!f) {
                cJSON_Delete(out);
                return cli_error("cannot write %s", o->csv);
            }
            fprintf(f, "theta_deg,winner,cos1,cos2\n");
            for (int i = 0; i < BASIN_THETAS; i++) fprintf(f, "%.6f,%d,%.8f,%.8f\n", deg[i], w1[i], c1[i], c2[i]);
            if (fclose(f)) {
                cJSON_Delete(out);
                return cli_error("cannot write %s", o->csv);
            }
        }
    }
    if (out) cli_json_print(out);
    return CLI_OK;
}

/* ---------------------------------------------------------- trajectories */

typedef struct {
    int n_rec, pK, KK;
    double *ode_cos, *ode_R;                     /* n_rec x pK, n_rec x KK */
    double *sgd_cos, *sgd_sd, *sgd_R;            /* seed means and spreads */
    double ode_s, sgd_s;
} traj;

static void traj_free(traj *t)
{
    free(t->ode_cos), free(t->ode_R), free(t->sgd_cos), free(t->sgd_sd), free(t->sgd_R);
}

static int write_csv(const opts *o, const traj *t, int do_ode, int do_sgd)
{
    const int p = o->m.p, K = o->m.K;
    FILE *f = fopen(o->csv, "w");
    if (!f) return cli_error("cannot write %s", o->csv);
    fprintf(f, "t");
    for (int j = 0; j < p; j++)
        for (int k = 0; k < K; k++) {
            if (do_ode) fprintf(f, ",ode_cos_%d_%d", j + 1, k + 1);
            if (do_sgd) fprintf(f, ",sgd_cos_%d_%d,sgd_cos_sd_%d_%d", j + 1, k + 1, j + 1, k + 1);
        }
    for (int k = 0; k < K; k++)
        for (int l = 0; l < K; l++) {
            if (do_ode) fprintf(f, ",ode_r_%d_%d", k + 1, l + 1);
            if (do_sgd) fprintf(f, ",sgd_r_%d_%d", k + 1, l + 1);
        }
    fputc('\n', f);
    for (int r = 0; r < t->n_rec; r++) {
        fprintf(f, "%.6g", r * o->every);
        for (int i = 0; i < p * K; i++) {
            if (do_ode) fprintf(f, ",%.8f", t->ode_cos[r * t->pK + i]);
            if (do_sgd) fprintf(f, ",%.8f,%.8f", t->sgd_cos[r * t->pK + i], t->sgd_sd[r * t->pK + i]);
        }
        for (int i = 0; i < K * K; i++) {
            if (do_ode) fprintf(f, ",%.8f", t->ode_R[r * t->KK + i]);
            if (do_sgd) fprintf(f, ",%.8f", t->sgd_R[r * t->KK + i]);
        }
        fputc('\n', f);
    }
    if (fclose(f)) return cli_error("cannot write %s", o->csv);
    return CLI_OK;
}

/* gnuplot script with the data inline: ODE cos as lines, SGD means with
 * their per-seed spread as error bars, one colour per (feature, unit). */
static int write_plot(const opts *o, const traj *t, int do_ode, int do_sgd)
{
    const int pK = t->pK;
    char *s = NULL;
    size_t len = 0;
    FILE *f = cli_gnuplot_open(o->plot, &s, &len);
    if (!f) return CLI_USAGE;
#define APPEND(...) fprintf(f, __VA_ARGS__)
    APPEND("set title 'clscale sim dynamics: N = %lld, %d seeds, eps = %g, rho = %g, m2 = %g'\n", (long long)o->N,
           o->seeds, o->m.eps, o->m.rho, cls_dynamics_law_moment(&o->m.law[0], 2));
    APPEND("set xlabel 't = steps / N'\nset ylabel 'cos(feature, unit)'\nset key bottom right\nset grid\n");
    APPEND("$d << EOD\n");
    for (int r = 0; r < t->n_rec; r++) {
        APPEND("%g", r * o->every);
        for (int i = 0; i < pK; i++)
            APPEND(" %.6f %.6f %.6f", do_ode ? t->ode_cos[r * pK + i] : NAN, do_sgd ? t->sgd_cos[r * pK + i] : NAN,
                   do_sgd ? t->sgd_sd[r * pK + i] : NAN);
        APPEND("\n");
    }
    APPEND("EOD\nplot ");
    int stride = (int)(t->n_rec / 40) + 1;
    for (int i = 0, first = 1; i < pK; i++) {
        int j = i / o->m.K + 1, k = i % o->m.K + 1;
        if (do_ode) {
            APPEND("%s$d u 1:%d w l lw 2 lc %d t 'ODE cos_{%d%d}'", first ? "" : ", ", 2 + 3 * i, i + 1, j, k);
            first = 0;
        }
        if (do_sgd) {
            APPEND("%s$d every %d u 1:%d:%d w yerrorbars pt 7 ps 0.5 lc %d t 'SGD cos_{%d%d} (mean +- sd)'",
                   first ? "" : ", ", stride, 3 + 3 * i, 4 + 3 * i, i + 1, j, k);
            first = 0;
        }
    }
    APPEND("\n");
#undef APPEND
    return cli_gnuplot_finish(f, &s, o->plot);
}

static int run_trajectories(const opts *o)
{
    const cls_dynamics_model *m = &o->m;
    const int p = m->p, K = m->K, pK = p * K, KK = K * K;
    const int do_ode = !o->sgd_only, do_sgd = !o->ode_only;
    traj t = {0};
    t.n_rec = cls_dynamics_n_records(o->T, o->every), t.pK = pK, t.KK = KK;
    double Q0[CLS_DYNAMICS_MAX_P * CLS_DYNAMICS_MAX_K], R0[CLS_DYNAMICS_MAX_K * CLS_DYNAMICS_MAX_K];
    cls_dynamics_initial_state(m, o->q0, o->r0, Q0, R0);
    cls_status st = cls_dynamics_check_state(m, Q0, R0);
    if (st) return cli_usage_error("sim dynamics", "%s", cls_last_error());
    int rc = CLI_OK;
    const size_t nq = (size_t)t.n_rec * pK, nr = (size_t)t.n_rec * KK;
    if (do_ode) {
        double *Q = malloc(sizeof(double) * nq), *R = malloc(sizeof(double) * nr);
        t.ode_cos = malloc(sizeof(double) * nq), t.ode_R = R;
        cls_dynamics_ode *ode = NULL;
        if (!Q || !R || !t.ode_cos) {
            free(Q);
            traj_free(&t);
            return cli_error("out of memory");
        }
        double t0 = cls_now_seconds();
        st = cls_dynamics_ode_create(&ode, m, 0);
        if (!st) st = cls_dynamics_ode_integrate(ode, Q0, R0, o->T, o->dt, o->every, Q, R);
        cls_dynamics_ode_free(ode);
        t.ode_s = cls_now_seconds() - t0;
        if (st) {
            free(Q);
            traj_free(&t);
            return cli_status_error(st, "ODE");
        }
        for (int r = 0; r < t.n_rec; r++) cls_dynamics_cosines(p, K, Q + r * pK, R + r * KK, t.ode_cos + r * pK);
        free(Q);
    }
    if (do_sgd) {
        const int S = o->seeds;
        double *Q = malloc(sizeof(double) * nq * S), *R = malloc(sizeof(double) * nr * S);
        t.sgd_cos = calloc(nq, sizeof(double)), t.sgd_sd = calloc(nq, sizeof(double));
        t.sgd_R = calloc(nr, sizeof(double));
        if (!Q || !R || !t.sgd_cos || !t.sgd_sd || !t.sgd_R) {
            free(Q), free(R);
            traj_free(&t);
            return cli_error("out of memory");
        }
        double t0 = cls_now_seconds();
        st = cls_dynamics_sgd_run(m, o->N, Q0, R0, o->T, o->every, S, SEED, 0, Q, R, progress_cb, NULL);
        cli_progress_done();
        t.sgd_s = cls_now_seconds() - t0;
        if (st) {
            free(Q), free(R);
            traj_free(&t);
            return cli_status_error(st, "SGD");
        }
        /* seed mean and per-seed (sample) standard deviation of each cosine */
        st = cls_dynamics_sgd_summary(m, t.n_rec, S, Q, R, 0, t.sgd_cos, t.sgd_sd, t.sgd_R);
        if (st) {
            free(Q), free(R);
            traj_free(&t);
            return cli_status_error(st, "SGD summary");
        }
        free(Q), free(R);
    }
    if (o->csv && (rc = write_csv(o, &t, do_ode, do_sgd))) {
        traj_free(&t);
        return rc;
    }
    if (o->plot && (rc = write_plot(o, &t, do_ode, do_sgd))) {
        traj_free(&t);
        return rc;
    }
    if (o->json) {
        cJSON *out = cJSON_CreateObject();
        cJSON *par = cJSON_CreateObject();
        cJSON_AddNumberToObject(par, "N", (double)o->N);
        cJSON_AddNumberToObject(par, "K", K);
        cJSON_AddNumberToObject(par, "p", p);
        cJSON_AddNumberToObject(par, "tau", m->tau);
        cJSON_AddNumberToObject(par, "mu", m->mu);
        cJSON_AddNumberToObject(par, "eps", m->eps);
        cJSON_AddNumberToObject(par, "rho", m->rho);
        cJSON_AddNumberToObject(par, "lambda", m->lambda);
        cJSON_AddNumberToObject(par, "q0", o->q0);
        cJSON_AddNumberToObject(par, "r0", o->r0);
        cJSON_AddNumberToObject(par, "T", o->T);
        cJSON_AddNumberToObject(par, "dt", o->dt);
        cJSON_AddNumberToObject(par, "every", o->every);
        cJSON_AddNumberToObject(par, "seeds", o->seeds);
        cJSON_AddItemToObject(out, "params", par);
        double *ts = malloc(sizeof(double) * t.n_rec);
        for (int r = 0; r < t.n_rec && ts; r++) ts[r] = r * o->every;
        if (do_ode) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddItemToObject(e, "t", cJSON_CreateDoubleArray(ts, t.n_rec));
            cJSON_AddItemToObject(e, "cos", series_json(t.ode_cos, t.n_rec, p, K));
            cJSON_AddItemToObject(e, "r", series_json(t.ode_R, t.n_rec, K, K));
            cJSON_AddNumberToObject(e, "seconds", t.ode_s);
            cJSON_AddItemToObject(out, "ode", e);
        }
        if (do_sgd) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddItemToObject(e, "t", cJSON_CreateDoubleArray(ts, t.n_rec));
            cJSON_AddItemToObject(e, "cos", series_json(t.sgd_cos, t.n_rec, p, K));
            cJSON_AddItemToObject(e, "r", series_json(t.sgd_R, t.n_rec, K, K));
            cJSON_AddItemToObject(e, "cos_sd", series_json(t.sgd_sd, t.n_rec, p, K));
            cJSON_AddNumberToObject(e, "seconds", t.sgd_s);
            cJSON_AddItemToObject(out, "sgd", e);
        }
        free(ts);
        cli_json_print(out);
    } else {
        int stride = (int)llround(1.0 / o->every);
        if (stride < 1) stride = 1;
        printf("# N = %lld, K = %d, p = %d, tau = %g, mu = %g, eps = %g, rho = %g, lambda = %g, %d seeds\n",
               (long long)o->N, K, p, m->tau, m->mu, m->eps, m->rho, m->lambda, o->seeds);
        printf("# cos = Q_11 / sqrt(R_11), r = R_11%s\n", pK > 1 ? " (first feature and unit; --json/--csv for all)" : "");
        printf("%8s", "t");
        if (do_ode) printf(" %9s %9s", "ode_cos", "ode_r");
        if (do_sgd) printf(" %9s %9s %9s", "sgd_cos", "sgd_sd", "sgd_r");
        printf("\n");
        for (int r = 0; r < t.n_rec; r++) {
            if (r % stride && r != t.n_rec - 1) continue;
            printf("%8.3f", r * o->every);
            if (do_ode) printf(" %9.4f %9.4f", t.ode_cos[r * pK], t.ode_R[r * KK]);
            if (do_sgd) printf(" %9.4f %9.4f %9.4f", t.sgd_cos[r * pK], t.sgd_sd[r * pK], t.sgd_R[r * KK]);
            printf("\n");
        }
        if (do_ode) printf("# ODE: %.2f s", t.ode_s);
        if (do_sgd) printf("%s SGD: %.2f s", do_ode ? "," : "#", t.sgd_s);
        printf("\n");
    }
    traj_free(&t);
    return CLI_OK;
}

int cmd_sim_dynamics(int argc, char **argv)
{
    opts o;
    memset(&o, 0, sizeof o);
    int rc = parse(argc, argv, &o);
    if (rc == -1) return CLI_OK;
    if (rc) return rc;
    if (o.threshold || o.fixed_points || o.basins) {
        if (o.plot) cli_warning("--plot draws trajectories; it is ignored with --threshold/--fixed-points/--basins");
        return run_analysis(&o);
    }
    return run_trajectories(&o);
}
