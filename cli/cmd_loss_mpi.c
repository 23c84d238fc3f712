/* clscale loss / clscale bench loss under mpirun (built when CMake finds MPI,
 * which then links the CLI with libclscale_mpi and defines CLS_HAVE_MPI).
 *
 * loss: rank p reads only rows [p n / P, (p+1) n / P) of A and of B (the
 * streaming npy reader, seeking to its first row), joins the ring
 * (cls_loss_ring_compute) and writes its gradient rows at their offset into
 * one preallocated float32 .npy per gradient (PATH.partial), which rank 0
 * renames to PATH once every rank has written: a reader never sees a
 * half-written file. Rank 0 prints the result as the single-process command
 * does, plus the rank count. Any failure on any rank ends every rank with
 * exit status 1; the failing rank prints its message, prefixed with its rank. */
#include "cmd_loss_mpi.h"

#ifdef CLS_HAVE_MPI

#include "clscale/loss_mpi.h"
#include "clscale/sys.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_mpi_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

/* Every rank learns whether all succeeded (1) or not (0). */
static int all_ok(int ok)
{
    int all;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return all;
}

static void shard(int64_t n, int P, int p, int64_t *off, int64_t *len)
{
    *off = n * p / P;
    *len = n * (p + 1) / P - *off;
}

static int fail_rank(cls_status st, int p, const char *what);

/* Rows [off, off + len) of a 2-D float32/float64 .npy as float32; *rows and
 * *cols get the whole file's shape. Failures are printed, naming the rank. */
static cls_status read_rows(const char *path, int64_t *rows, int64_t *cols, float **out, int P, int p,
                            int64_t *off, int64_t *len)
{
    cls_npy_reader *r = NULL;
    cls_status st = cls_npy_reader_open(path, &r);
    double *buf = NULL;
    *out = NULL;
    if (st == CLS_OK) {
        cls_dtype dt;
        cls_npy_reader_shape(r, rows, cols, &dt);
        shard(*rows, P, p, off, len);
        if (*len < 1 || *cols < 1) {
            cli_error("rank %d: file %s: %lld x %lld leaves this rank no rows (use fewer ranks)", p, path,
                      (long long)*rows, (long long)*cols);
            cls_npy_reader_free(r);
            return CLS_E_SHAPE;
        }
    }
    if (st == CLS_OK) {
        buf = malloc((size_t)(*len * *cols) * sizeof(double));
        *out = malloc((size_t)(*len * *cols) * sizeof(float));
        if (!buf || !*out) {
            cli_error("rank %d: file %s: cannot allocate %lld rows", p, path, (long long)*len);
            free(buf);
            cls_npy_reader_free(r);
            return CLS_E_NOMEM;
        }
    }
    if (st == CLS_OK) st = cls_npy_reader_seek(r, *off);
    int64_t got = 0;
    if (st == CLS_OK) st = cls_npy_reader_read_f64(r, buf, *len, &got);
    if (st) fail_rank(st, p, path);
    if (st == CLS_OK && got != *len) {
        cli_error("rank %d: file %s: read %lld of %lld rows", p, path, (long long)got, (long long)*len);
        st = CLS_E_FORMAT;
    }
    if (st == CLS_OK)
        for (int64_t k = 0; k < *len * *cols; k++) (*out)[k] = (float)buf[k];
    free(buf);
    cls_npy_reader_free(r);
    return st;
}

/* A float32 .npy of rows x cols: header (format 1.0, padded to 64 bytes) and
 * the file extended to its full size; returns the data offset, or -1. */
static long preallocate_npy(const char *path, int64_t rows, int64_t cols)
{
    char h[128];
    int n = snprintf(h, sizeof h, "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld, %lld), }",
                     (long long)rows, (long long)cols);
    int total = (10 + n + 1 + 63) / 64 * 64, hlen = total - 10;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(h, 1, (size_t)n, f) == (size_t)n;
    for (int k = 10 + n; ok && k < total - 1; k++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF && fflush(f) == 0 &&
         ftruncate(fileno(f), (off_t)total + (off_t)rows * cols * (off_t)sizeof(float)) == 0;
    ok = fclose(f) == 0 && ok;
    return ok ? total : -1;
}

static int write_rows(const char *path, long data_off, const float *g, int64_t off, int64_t len, int64_t cols)
{
    FILE *f = fopen(path, "r+b");
    if (!f) return 0;
    int ok = fseeko(f, (off_t)data_off + (off_t)off * cols * (off_t)sizeof(float), SEEK_SET) == 0 &&
             fwrite(g, sizeof(float), (size_t)(len * cols), f) == (size_t)(len * cols);
    return (fclose(f) == 0) && ok;
}

/* One gradient: rank 0 preallocates PATH.partial, every rank writes its rows,
 * rank 0 renames. Returns 1 on success on every rank. */
static int write_gradient(const char *path, const float *g, int64_t rows, int64_t off, int64_t len, int64_t cols,
                          int p)
{
    char tmp[PATH_MAX], eb[128];
    snprintf(tmp, sizeof tmp, "%s.partial", path);
    long data_off = 0;
    if (p == 0 && (data_off = preallocate_npy(tmp, rows, cols)) < 0)
        cli_error("rank 0: cannot create %s: %s", tmp, cls_errno_string(errno, eb, sizeof eb));
    MPI_Bcast(&data_off, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    if (data_off < 0) return 0;
    int ok = write_rows(tmp, data_off, g, off, len, cols);
    if (!ok) cli_error("rank %d: cannot write rows %lld..%lld of %s: %s", p, (long long)off, (long long)(off + len), tmp,
                       cls_errno_string(errno, eb, sizeof eb));
    if (!all_ok(ok)) return 0;
    if (p == 0 && rename(tmp, path) != 0) ok = 0, cli_error("rank 0: cannot rename %s to %s: %s", tmp, path, cls_errno_string(errno, eb, sizeof eb));
    return all_ok(ok);
}

static int fail_rank(cls_status st, int p, const char *what)
{
    char ctx[700];
    snprintf(ctx, sizeof ctx, "rank %d: %s", p, what);
    return cli_status_error(st, ctx);
}

int cmd_loss_mpi(const cls_loss_options *opt, const char *path_a, const char *path_b, const char *path_labels,
                 const char *path_ga, const char *path_gb, int json)
{
    MPI_Init(NULL, NULL);
    int P, p, rc = CLI_FAIL;
    MPI_Comm_size(MPI_COMM_WORLD, &P);
    MPI_Comm_rank(MPI_COMM_WORLD, &p);
    float *a = NULL, *b = NULL, *ga = NULL, *gb = NULL;
    int64_t *labels = NULL, nl = 0;
    int64_t na = 0, nb = 0, da = 0, db = 0, ao = 0, al = 0, bo = 0, bl = 0;
    const int infonce = opt->kind == CLS_LOSS_INFONCE;
    /* CLIP, NT-Xent, SigLIP: the same rows of B; InfoNCE: keys split on their own */
    cls_status st = read_rows(path_a, &na, &da, &a, P, p, &ao, &al);
    cls_status sb = read_rows(path_b, &nb, &db, &b, P, p, &bo, &bl);
    st = st ? st : sb;
    if (!st && da != db) {
        cli_error("%s has %lld columns but %s has %lld; the dimensions must match", path_a, (long long)da, path_b,
                  (long long)db);
        st = CLS_E_SHAPE;
    }
    if (!st && (infonce ? na > nb : na != nb)) {
        cli_error("%s has %lld rows but %s has %lld (%s)", path_a, (long long)na, path_b, (long long)nb,
                  infonce ? "infonce needs keys >= queries" : "they must match for this loss");
        st = CLS_E_SHAPE;
    }
    if (!st && path_labels) {
        int64_t *all = NULL;
        if ((st = cls_npy_load_vector_i64(path_labels, &all, &nl)) != CLS_OK) {
            fail_rank(st, p, "--labels");
        } else if (nl != na) {
            cli_error("%s has %lld labels but %s has %lld rows", path_labels, (long long)nl, path_a, (long long)na);
            st = CLS_E_SHAPE;
        } else if ((labels = malloc((size_t)al * sizeof(int64_t))) != NULL) {
            memcpy(labels, all + ao, (size_t)al * sizeof(int64_t));
        }
        free(all);
    }
    if (!st) {
        ga = malloc((size_t)(al * da) * sizeof(float));
        gb = malloc((size_t)(bl * db) * sizeof(float));
        if (!ga || !gb || (path_labels && !labels)) {
            cli_error("rank %d: cannot allocate the gradients", p);
            st = CLS_E_NOMEM;
        }
    }
    if (!all_ok(st == CLS_OK)) goto done;

    cls_loss_result res;
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    st = cls_loss_ring_compute(&res, ga, gb, a, al, b, bl, da, labels, opt, MPI_COMM_WORLD);
    double seconds = MPI_Wtime() - t0;
    if (st) {
        if (strstr(cls_last_error(), "loss ring: rank") == NULL || p == 0) {
            char ctx[600];
            snprintf(ctx, sizeof ctx, "%s loss of %s and %s", cls_loss_kind_name(opt->kind), path_a, path_b);
            fail_rank(st, p, ctx);
        }
        goto done;
    }
    if (path_ga && !write_gradient(path_ga, ga, na, ao, al, da, p)) goto done;
    if (path_gb && !write_gradient(path_gb, gb, nb, bo, bl, db, p)) goto done;
    rc = CLI_OK;
    if (p == 0) {
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "loss_kind", cls_loss_kind_name(opt->kind));
            cJSON_AddNumberToObject(o, "loss", res.loss);
            cJSON_AddNumberToObject(o, "grad_logit_scale", res.grad_logit_scale);
            if (opt->kind == CLS_LOSS_SIGLIP) cJSON_AddNumberToObject(o, "grad_bias", res.grad_bias);
            cJSON_AddNumberToObject(o, "batch", (double)na);
            if (nb != na) cJSON_AddNumberToObject(o, "keys", (double)nb);
            cJSON_AddNumberToObject(o, "dim", (double)da);
            cJSON_AddNumberToObject(o, "ranks", P);
            cJSON_AddNumberToObject(o, "seconds", seconds);
            cJSON_AddNumberToObject(o, "peak_rss_bytes_rank0", (double)cls_peak_rss_bytes());
            cli_json_print(o);
        } else {
            printf("loss              %.10g (%s, %s)\n", res.loss, cls_loss_kind_name(opt->kind),
                   opt->reduction == CLS_REDUCE_SUM ? "sum" : "mean");
            printf("grad_logit_scale  %.10g\n", res.grad_logit_scale);
            if (opt->kind == CLS_LOSS_SIGLIP) printf("grad_bias         %.10g\n", res.grad_bias);
            printf("batch             %lld rows of %lld over %d ranks\n", (long long)na, (long long)da, P);
            printf("seconds           %.3f\n", seconds);
            if (path_ga) printf("wrote             %s\n", path_ga);
            if (path_gb) printf("wrote             %s\n", path_gb);
        }
    }
done:
    free(a), free(b), free(ga), free(gb), free(labels);
    fflush(stdout);
    MPI_Finalize();
    return rc;
}

/* ---- clscale bench loss under mpirun ------------------------------------- */

static void bench_usage(FILE *out)
{
    fputs("usage: mpirun -np P clscale bench loss [options]\n\n"
          "Times the distributed loss (forward+backward, median of --repeats runs after one\n"
          "warm-up) on random unit-norm rows, --rows rows per rank. Reports per-rank and\n"
          "total executed-FLOP rates, bytes sent per rank per step and the share of the\n"
          "step spent waiting in MPI (communication not hidden, and waiting for slower ranks).\n\n"
          "options:\n"
          "  --rows N       rows per rank (default 16384)\n"
          "  --dim D        feature dimension (default 512)\n"
          "  --loss NAME    clip | infonce | ntxent | siglip (default clip)\n"
          "  --threads T    threads per rank, 0 = all cores (default 1)\n"
          "  --repeats R    timed runs, the median is reported (default 3)\n"
          "  --tile T       tile edge, 0 = automatic (default 0)\n"
          "  --json         one JSON object (rank 0): ranks, rows_per_rank, dim, seconds,\n"
          "                 gflops_per_rank, gflops_total, bytes_sent_per_rank, wait_share\n"
          "  -h, --help     this help\n",
          out);
}

static void bench_usage_stdout(void) { bench_usage(stdout); }

static int cmp_double(const void *x, const void *y)
{
    double u = *(const double *)x, v = *(const double *)y;
    return (u > v) - (u < v);
}

int cmd_bench_loss_mpi(int argc, char **argv)
{
    int64_t rows = 16384, d = 512;
    int repeats = 3, json = 0, kind = CLS_LOSS_CLIP, first = 0;
    cls_loss_options o;
    cls_loss_options_init(&o, CLS_LOSS_CLIP);
    o.threads = 1;
    const cli_option table[] = {
        CLI_INT64("rows", &rows, 1, 1e12), CLI_INT64("dim", &d, 1, 1e9),
        CLI_CHOICE("loss", &kind, "clip|infonce|ntxent|siglip"), /* the order of cls_loss_kind */
        CLI_INT("threads", &o.threads, 0, 4096), CLI_INT("repeats", &repeats, 1, 1000),
        CLI_INT64("tile", &o.tile, 0, 1e15), CLI_FLAG("json", &json), CLI_END};
    int prc = cli_parse_options("bench loss", table, argc, argv, bench_usage_stdout, &first);
    if (prc) return prc == CLI_HELP ? CLI_OK : prc;
    if (first < argc) return cli_usage_error("bench loss", "unexpected argument '%s'", argv[first]);
    o.kind = (cls_loss_kind)kind;
    MPI_Init(NULL, NULL);
    int P, p, rc = CLI_FAIL;
    MPI_Comm_size(MPI_COMM_WORLD, &P);
    MPI_Comm_rank(MPI_COMM_WORLD, &p);
    float *a = malloc((size_t)(rows * d) * sizeof(float)), *b = malloc((size_t)(rows * d) * sizeof(float));
    float *ga = malloc((size_t)(rows * d) * sizeof(float)), *gb = malloc((size_t)(rows * d) * sizeof(float));
    double *sec = calloc((size_t)repeats, sizeof(double)), *wait = calloc((size_t)repeats, sizeof(double));
    cls_ring_stats rs = {0};
    if (!all_ok(a && b && ga && gb && sec && wait)) {
        cli_error("rank %d: cannot allocate %lld x %lld rows", p, (long long)rows, (long long)d);
        goto done;
    }
    cls_rng rng;
    cls_rng_seed(&rng, 1234 + (uint64_t)p);
    cls_rng_fill_normal_f32(&rng, a, rows * d);
    cls_rng_fill_normal_f32(&rng, b, rows * d);
    o.normalize = 1;
    cls_loss_result res;
    for (int r = -1; r < repeats; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        cls_status st = cls_loss_ring_compute(&res, ga, gb, a, rows, b, rows, d, NULL, &o, MPI_COMM_WORLD);
        if (st) {
            fail_rank(st, p, "bench loss");
            goto done;
        }
        cls_loss_ring_last_stats(&rs);
        if (r >= 0) {
            /* the step ends for everyone when the slowest rank ends */
            double w[2] = {rs.total_seconds, rs.wait_seconds}, mx[2];
            MPI_Allreduce(w, mx, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            sec[r] = mx[0];
            wait[r] = mx[1] / mx[0];
        }
    }
    qsort(sec, (size_t)repeats, sizeof(double), cmp_double);
    qsort(wait, (size_t)repeats, sizeof(double), cmp_double);
    const double t = sec[repeats / 2], ws = wait[repeats / 2];
    /* executed FLOPs per rank: CLIP/InfoNCE 8 b_local b d (forward X, backward X, dA, dB); SigLIP 6;
     * NT-Xent on the ring 8 (2 b_local)(2 b) d (P = 1 runs the symmetric kernel: 16 b^2 d) */
    const double n = (double)rows * P;
    const double units = o.kind == CLS_LOSS_SIGLIP ? 6.0 : o.kind == CLS_LOSS_NTXENT ? (P == 1 ? 16.0 : 32.0) : 8.0;
    const double flops_rank = units * (double)rows * n * (double)d;
    rc = CLI_OK;
    if (p == 0) {
        if (json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "loss_kind", cls_loss_kind_name(o.kind));
            cJSON_AddNumberToObject(j, "ranks", P);
            cJSON_AddNumberToObject(j, "rows_per_rank", (double)rows);
            cJSON_AddNumberToObject(j, "batch", n);
            cJSON_AddNumberToObject(j, "dim", (double)d);
            cJSON_AddNumberToObject(j, "threads_per_rank", cls_threads_resolve(o.threads));
            cJSON_AddNumberToObject(j, "seconds", t);
            cJSON_AddNumberToObject(j, "gflops_per_rank", flops_rank / t * 1e-9);
            cJSON_AddNumberToObject(j, "gflops_total", flops_rank * P / t * 1e-9);
            cJSON_AddNumberToObject(j, "bytes_sent_per_rank", rs.bytes_sent);
            cJSON_AddNumberToObject(j, "wait_share", ws);
            cli_json_print(j);
        } else {
            printf("ranks               %d x %d thread(s), %lld rows per rank (batch %.0f), d = %lld, %s\n", P,
                   cls_threads_resolve(o.threads), (long long)rows, n, (long long)d, cls_loss_kind_name(o.kind));
            printf("seconds per step    %.3f (median of %d)\n", t, repeats);
            printf("GFLOP/s per rank    %.2f (executed FLOPs)\n", flops_rank / t * 1e-9);
            printf("GFLOP/s total       %.2f\n", flops_rank * P / t * 1e-9);
            printf("bytes sent per rank %.0f per step\n", rs.bytes_sent);
            printf("wait share          %.3f (slowest rank's MPI wait / step time)\n", ws);
        }
    }
done:
    free(a), free(b), free(ga), free(gb), free(sec), free(wait);
    fflush(stdout);
    MPI_Finalize();
    return rc;
}

#endif
