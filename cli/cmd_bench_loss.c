/* clscale bench loss: forward+backward of a tiled loss on random unit-norm
 * rows, against sgemm through the GEMM layer (the backend the loss uses)
 * measured in the same run on the same number of threads, and against this
 * machine's GEMM peaks (clscale bench gemm). The figure of merit is the ratio of FLOP rates (executed FLOPs of
 * the loss per second / sgemm FLOPs per second), which survives a noisy,
 * shared machine much better than absolute timings. */
#include "cli.h"
#include "cmd_bench_gemm.h"

#include "clscale/gemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* OpenBLAS thread control (the OpenMP build). */

static void usage(FILE *out)
{
    fputs("usage: clscale bench loss [options]\n\n"
          "Times loss forward+backward (median of --repeats runs) on random unit-norm rows\n"
          "and, in the same run and thread count, a large square sgemm through the GEMM layer\n"
          "(the backend the loss uses; median), then this machine's GEMM peaks (bench gemm).\n\n"
          "options:\n"
          "  --batch B      rows of A and B (default 32768)\n"
          "  --dim D        feature dimension (default 512)\n"
          "  --loss NAME    clip | infonce | ntxent | siglip (default clip)\n"
          "  --threads T    threads for both, 0 = all cores (default 0)\n"
          "  --repeats R    timed runs of each, the median is reported (default 3)\n"
          "  --tile T       tile edge, 0 = automatic (default 0)\n"
          "  --precision P  fp32 | bf16 tile products (default fp32)\n"
          "  --no-peaks     skip the GEMM peak measurements (default: measured after the loss)\n"
          "  --sgemm-n N    edge of the square baseline sgemm, 0 = min(max(B, 1024), 4096) (default 0)\n"
          "  --no-sgemm     time and measure memory only: no warm-up, no sgemm baseline\n"
          "                 (peak RSS then covers nothing but the loss; default off)\n"
          "  --json         print one JSON object: seconds, gflops_executed, sgemm_gflops,\n"
          "                 sgemm_ratio, useful_efficiency, peak_rss_bytes, naive_logits_bytes,\n"
          "                 gemm_backend, precision, peaks {name: GFLOP/s}, peak_ratios {name: ratio}, ...\n"
          "  -h, --help     this help\n",
          out);
}

/* CPU seconds used by this process so far (all threads). Under a loaded
 * machine, the ratio of CPU-time rates is a second, load-independent view. */
static double cpu_seconds(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0) return 0.0;
    return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec + (double)u.ru_stime.tv_sec +
           1e-6 * (double)u.ru_stime.tv_usec;
}

static double median(double *v, int n) { return bench_median(v, n); }

/* Executed and useful FLOPs per forward+backward, in units of b^2 d.
 * CLIP / InfoNCE: forward X (2), backward X again (2), s G B (2), s G^T A (2);
 * the useful work is 6 (X once, the two gradient products). NT-Xent works on
 * the symmetric 2b x 2b self-similarity of [A; B] and computes only tiles on
 * or above the diagonal: forward 4, backward recompute 4 + dZ products 8 = 16
 * executed; useful 12 (X's upper half once, then dZ = s (G + G^T) Z).
 * SigLIP needs no normalisation across rows: one pass, 6 executed = useful. */
static void flop_units(cls_loss_kind kind, double *executed, double *useful)
{
    switch (kind) {
    case CLS_LOSS_NTXENT: *executed = 16.0; *useful = 12.0; break;
    case CLS_LOSS_SIGLIP: *executed = 6.0; *useful = 6.0; break;
    default: *executed = 8.0; *useful = 6.0; break;
    }
}

static void usage_stdout(void) { usage(stdout); }

int cmd_bench_loss(int argc, char **argv)
{
    int64_t batch = 32768, dim = 512, sgemm_n = 0;
    int threads = 0, repeats = 3, json = 0, no_sgemm = 0, no_peaks = 0, kind = CLS_LOSS_CLIP, first = 0;
    int precision = CLS_PRECISION_FP32;
    cls_loss_options opt;
    cls_loss_options_init(&opt, CLS_LOSS_CLIP);
    const cli_option table[] = {
        CLI_INT64("batch", &batch, 1, 1e15), CLI_INT64("dim", &dim, 1, 1e9),
        CLI_CHOICE("loss", &kind, "clip|infonce|ntxent|siglip"), /* the order of cls_loss_kind */
        CLI_INT("threads", &threads, 0, 4096), CLI_INT("repeats", &repeats, 1, 1000),
        CLI_INT64("tile", &opt.tile, 0, 1e15), CLI_INT64("sgemm-n", &sgemm_n, 0, 32768),
        CLI_FLAG("json", &json), CLI_FLAG("no-sgemm", &no_sgemm), CLI_FLAG("no-peaks", &no_peaks),
        CLI_CHOICE("precision", &precision, "fp32|bf16"), /* the order of cls_precision */
        CLI_END};
    int prc = cli_parse_options("bench loss", table, argc, argv, usage_stdout, &first);
    if (prc) return prc == CLI_HELP ? CLI_OK : prc;
    opt.kind = (cls_loss_kind)kind;
    opt.precision = (cls_precision)precision;
    if (first < argc) return cli_usage_error("bench loss", "unexpected argument '%s'", argv[first]);
    const int nt = cls_threads_resolve(threads);
    opt.threads = nt;
    const int64_t baseline_rss = cls_current_rss_bytes();

    /* random unit-norm rows; B correlated with A so the loss is realistic */
    size_t n = (size_t)batch * (size_t)dim;
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    float *ga = malloc(n * sizeof(float)), *gb = malloc(n * sizeof(float));
    double *times = malloc((size_t)repeats * sizeof(double));
    if (!a || !b || !ga || !gb || !times) {
        free(a);
        free(b);
        free(ga);
        free(gb);
        free(times);
        return cli_error("cannot allocate 4 x %lld x %lld floats", (long long)batch, (long long)dim);
    }
    cls_rng rng;
    cls_rng_seed(&rng, 2024);
    cls_rng_fill_normal_f32(&rng, a, (int64_t)n);
    cls_rng_fill_normal_f32(&rng, b, (int64_t)n);
    for (int64_t i = 0; i < batch; i++) {
        double sa = 0.0, sb = 0.0;
        for (int64_t k = 0; k < dim; k++) {
            float *x = a + i * dim + k, *y = b + i * dim + k;
            *y = 0.7f * *x + 0.7f * *y;
            sa += (double)*x * *x;
            sb += (double)*y * *y;
        }
        for (int64_t k = 0; k < dim; k++) {
            a[i * dim + k] = (float)(a[i * dim + k] / sqrt(sa));
            b[i * dim + k] = (float)(b[i * dim + k] / sqrt(sb));
        }
    }
    const int64_t inputs_rss = cls_current_rss_bytes();

    int rc = CLI_FAIL;
    cls_loss_result res = {0};
    double exec_units, useful_units;
    flop_units(opt.kind, &exec_units, &useful_units);
    const double bb = (double)batch * (double)batch * (double)dim;

    /* A warm-up loss run first (or, with --no-sgemm, all the timed runs),
     * before the sgemm buffers exist, so that the peak RSS below is the
     * loss's own: inputs, gradients, workspace.
     * The baseline: a square sgemm C = A B on the same thread count, timed
     * right before and right after every loss run, so that each loss run is
     * compared with the machine as it was at that moment (the machine may be
     * shared: the per-run ratios are what counts, their median is reported). */
    for (int r = 0; r < (no_sgemm ? repeats : 1); r++) {
        double t0 = cls_now_seconds();
        cls_status s = cls_loss_compute(&res, ga, gb, a, batch, b, batch, dim, NULL, &opt);
        times[r] = cls_now_seconds() - t0;
        if (s != CLS_OK) {
            free(a);
            free(b);
            free(ga);
            free(gb);
            free(times);
            return cli_status_error(s, "bench loss");
        }
    }
    const int64_t peak_rss = cls_peak_rss_bytes();
    if (no_sgemm) {
        /* memory / time only: every run above was timed, no baseline */
        const double seconds = median(times, repeats);
        const double io_bytes = 4.0 * (double)n * sizeof(float);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "loss_kind", cls_loss_kind_name(opt.kind));
            cJSON_AddNumberToObject(o, "batch", (double)batch);
            cJSON_AddNumberToObject(o, "dim", (double)dim);
            cJSON_AddNumberToObject(o, "threads", nt);
            cJSON_AddNumberToObject(o, "repeats", repeats);
            cJSON_AddNumberToObject(o, "loss", res.loss);
            cJSON_AddNumberToObject(o, "seconds", seconds);
            cJSON_AddNumberToObject(o, "gflops_executed", exec_units * bb / seconds * 1e-9);
            cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)peak_rss);
            cJSON_AddNumberToObject(o, "baseline_rss_bytes", (double)baseline_rss);
            cJSON_AddNumberToObject(o, "inputs_gradients_bytes", io_bytes);
            cJSON_AddNumberToObject(o, "naive_logits_bytes", 4.0 * (double)batch * (double)batch);
            cli_json_print(o);
        } else {
            printf("loss %s, batch %lld, dim %lld, %d threads, median of %d (no sgemm baseline)\n",
                   cls_loss_kind_name(opt.kind), (long long)batch, (long long)dim, nt, repeats);
            printf("  forward+backward   %.3f s  %.1f GFLOP/s executed\n", seconds, exec_units * bb / seconds * 1e-9);
            printf("  peak RSS           %.1f MiB (inputs + gradients %.1f MiB, process baseline %.1f MiB)\n",
                   peak_rss / 1048576.0, io_bytes / 1048576.0, baseline_rss / 1048576.0);
            printf("  a naive full-logits implementation would need %.2f GB for one %lld x %lld float32 matrix\n",
                   4.0 * (double)batch * (double)batch / 1e9, (long long)batch, (long long)batch);
        }
        free(a);
        free(b);
        free(ga);
        free(gb);
        free(times);
        return CLI_OK;
    }
    int64_t m = sgemm_n ? sgemm_n : (batch < 1024 ? 1024 : (batch > 4096 ? 4096 : batch));
    float *sa = malloc((size_t)(m * m) * sizeof(float)), *sb = malloc((size_t)(m * m) * sizeof(float)),
          *sc = malloc((size_t)(m * m) * sizeof(float));
    double *sg = malloc(2 * (size_t)repeats * sizeof(double)), *ratios = malloc((size_t)repeats * sizeof(double));
    if (!sa || !sb || !sc || !sg || !ratios) {
        rc = cli_error("cannot allocate the %lld x %lld sgemm baseline", (long long)m, (long long)m);
        goto done_sgemm;
    }
    cls_rng_fill_normal_f32(&rng, sa, m * m);
    cls_rng_fill_normal_f32(&rng, sb, m * m);
    const double sgemm_flops = 2.0 * (double)m * (double)m * (double)m;
    double cpu_loss = 0.0, cpu_sgemm = 0.0; /* summed over the timed runs */
    for (int r = -1; r < repeats; r++) { /* r = -1: warm-up */
        double t_sg[2], t0;
        for (int half = 0; half < 2; half++) {
            if (half == 1 && r >= 0) {
                double c0 = cpu_seconds();
                t0 = cls_now_seconds();
                cls_status s = cls_loss_compute(&res, ga, gb, a, batch, b, batch, dim, NULL, &opt);
                times[r] = cls_now_seconds() - t0;
                cpu_loss += cpu_seconds() - c0;
                if (s != CLS_OK) {
                    rc = cli_status_error(s, "bench loss");
                    goto done_sgemm;
                }
            }
            cls_thread_state saved; /* the sgemm baseline on nt threads, then the caller's settings */
            cls_threads_enter(nt, &saved);
            double c0 = cpu_seconds();
            t0 = cls_now_seconds();
            cls_gemm_f32(CLS_NO_TRANS, CLS_NO_TRANS, m, m, m, 1.0f, sa, m, sb, m, 0.0f, sc, m);
            t_sg[half] = cls_now_seconds() - t0;
            cls_threads_leave(&saved);
            if (r >= 0) cpu_sgemm += cpu_seconds() - c0;
        }
        if (r < 0) continue;
        sg[2 * r] = sgemm_flops / t_sg[0] * 1e-9;
        sg[2 * r + 1] = sgemm_flops / t_sg[1] * 1e-9;
        double loss_rate = exec_units * bb / times[r] * 1e-9;
        ratios[r] = loss_rate / (sgemm_flops / (0.5 * (t_sg[0] + t_sg[1])) * 1e-9);
    }
    double tmin = times[0], sgmax = sg[0];
    for (int r = 0; r < repeats; r++) tmin = times[r] < tmin ? times[r] : tmin;
    for (int r = 0; r < 2 * repeats; r++) sgmax = sg[r] > sgmax ? sg[r] : sgmax;
    const double seconds = median(times, repeats);
    const double sgemm_gflops = median(sg, 2 * repeats);
    const double ratio = median(ratios, repeats);
    const double ratio_cpu = (exec_units * bb * repeats / cpu_loss) / (sgemm_flops * 2 * repeats / cpu_sgemm);
    const double ratio_best = (exec_units * bb / tmin * 1e-9) / sgmax;
    const double gflops = exec_units * bb / seconds * 1e-9;
    const double useful = ratio * useful_units / exec_units;
    const double naive = 4.0 * (double)batch * (double)batch * (opt.kind == CLS_LOSS_NTXENT ? 4.0 : 1.0);
    bench_peak peaks[8];
    const int npeaks = no_peaks ? 0 : bench_peaks_measure(peaks, 8, nt, repeats);
    const double io_bytes = 4.0 * (double)n * sizeof(float);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "loss_kind", cls_loss_kind_name(opt.kind));
        cJSON_AddNumberToObject(o, "batch", (double)batch);
        cJSON_AddNumberToObject(o, "dim", (double)dim);
        cJSON_AddNumberToObject(o, "threads", nt);
        cJSON_AddNumberToObject(o, "repeats", repeats);
        cJSON_AddNumberToObject(o, "loss", res.loss);
        cJSON_AddNumberToObject(o, "seconds", seconds);
        cJSON_AddNumberToObject(o, "seconds_min", tmin);
        cJSON_AddNumberToObject(o, "gflops_executed", gflops);
        cJSON_AddNumberToObject(o, "sgemm_n", (double)m);
        cJSON_AddNumberToObject(o, "sgemm_gflops", sgemm_gflops);
        cJSON_AddNumberToObject(o, "sgemm_ratio", ratio);
        cJSON_AddNumberToObject(o, "sgemm_ratio_best", ratio_best);
        cJSON_AddNumberToObject(o, "sgemm_ratio_cpu_time", ratio_cpu);
        cJSON_AddNumberToObject(o, "useful_efficiency", useful);
        cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)peak_rss);
        cJSON_AddNumberToObject(o, "baseline_rss_bytes", (double)baseline_rss);
        cJSON_AddNumberToObject(o, "inputs_rss_bytes", (double)inputs_rss);
        cJSON_AddNumberToObject(o, "inputs_gradients_bytes", io_bytes);
        cJSON_AddNumberToObject(o, "naive_logits_bytes", naive);
        cJSON_AddStringToObject(o, "gemm_backend", cls_gemm_backend());
        cJSON_AddStringToObject(o, "precision", cls_loss_precision_name(opt.precision));
        if (npeaks) {
            cJSON *pk = cJSON_AddObjectToObject(o, "peaks"), *pr = cJSON_AddObjectToObject(o, "peak_ratios");
            for (int q = 0; q < npeaks; q++) {
                cJSON_AddNumberToObject(pk, peaks[q].name, peaks[q].gflops);
                if (peaks[q].gflops > 0) cJSON_AddNumberToObject(pr, peaks[q].name, gflops / peaks[q].gflops);
            }
        }
        cli_json_print(o);
    } else {
        printf("loss %s, batch %lld, dim %lld, %d threads, %s tile products, median of %d\n",
               cls_loss_kind_name(opt.kind), (long long)batch, (long long)dim, nt,
               cls_loss_precision_name(opt.precision), repeats);
        printf("  forward+backward   %.3f s  (fastest %.3f s)  %.1f GFLOP/s executed (%.0f b^2 d FLOPs)\n", seconds,
               tmin, gflops, exec_units);
        printf("  sgemm (%-8s)   %.1f GFLOP/s (%lld^3, same threads, around each run)\n", cls_gemm_backend(),
               sgemm_gflops, (long long)m);
        printf("  sgemm ratio        %.3f (median of per-run ratios; best/best %.3f)   useful-FLOP efficiency %.3f\n",
               ratio, ratio_best, useful);
        printf("  sgemm ratio by CPU time %.3f (FLOPs per CPU-second, loss vs sgemm)\n", ratio_cpu);
        printf("  peak RSS           %.1f MiB (inputs + gradients %.1f MiB, process baseline %.1f MiB)\n",
               peak_rss / 1048576.0, io_bytes / 1048576.0, baseline_rss / 1048576.0);
        printf("  a naive full-logits implementation would need %.2f GB for one %lld x %lld float32 matrix\n",
               naive / 1e9, (long long)(opt.kind == CLS_LOSS_NTXENT ? 2 * batch : batch),
               (long long)(opt.kind == CLS_LOSS_NTXENT ? 2 * batch : batch));
        if (npeaks) printf("  loss rate against this machine's GEMM peaks (measured after the loss, median of %d):\n", repeats);
        for (int q = 0; q < npeaks; q++)
            if (peaks[q].gflops > 0)
                printf("    %-20s %8.1f GFLOP/s   loss / peak %.3f\n", peaks[q].name, peaks[q].gflops,
                       gflops / peaks[q].gflops);
    }
    rc = CLI_OK;
done_sgemm:
    free(sa);
    free(sb);
    free(sc);
    free(sg);
    free(ratios);
    free(a);
    free(b);
    free(ga);
    free(gb);
    free(times);
    return rc;
}
