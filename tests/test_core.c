/* Core: status/errors, .npy round trips and malformed files, the RNG. */
#include "clscale.h"
#include "clscale/sys.h"
#include "check.h"
#include "core/internal.h" /* cls_errno_string */
#include "core/npy_map.h"

#include <errno.h>
#include <omp.h>

#include <stdint.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/cls_test_core_XXXXXX";

static const char *path_in_tmp(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

/* Write a .npy by hand with a given header dict (version 1.0 or 2.0) and
 * `nbytes` bytes of data. */
static void write_npy_raw(const char *path, int major, const char *dict, const void *data, size_t nbytes)
{
    char hdr[1024];
    size_t len = strlen(dict);
    size_t prefix = major == 1 ? 10 : 12;
    size_t total = prefix + len + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = len + pad + 1;
    memcpy(hdr, "\x93NUMPY", 6);
    hdr[6] = (char)major;
    hdr[7] = 0;
    if (major == 1) {
        hdr[8] = (char)(hlen & 0xff);
        hdr[9] = (char)(hlen >> 8);
    } else {
        hdr[8] = (char)(hlen & 0xff);
        hdr[9] = (char)((hlen >> 8) & 0xff);
        hdr[10] = 0;
        hdr[11] = 0;
    }
    memcpy(hdr + prefix, dict, len);
    memset(hdr + prefix + len, ' ', pad);
    hdr[prefix + len + pad] = '\n';
    FILE *f = fopen(path, "wb");
    fwrite(hdr, 1, prefix + hlen, f);
    if (nbytes) fwrite(data, 1, nbytes, f);
    fclose(f);
}

static void test_status(void)
{
    CHECK(strcmp(cls_strerror(CLS_OK), "ok") == 0, "strerror(OK)");
    CHECK(strlen(cls_strerror(CLS_E_NONFINITE)) > 0, "strerror(NONFINITE)");
    CHECK(strcmp(cls_version(), CLS_VERSION_STRING) == 0, "version");
    /* The numeric version agrees with the string, the macros and CMakeLists.txt's
     * project(clscale VERSION x.y.z), read independently here. */
    int ma = -1, mi = -1, pa = -1;
    CHECK(sscanf(cls_version(), "%d.%d.%d", &ma, &mi, &pa) == 3, "version string is x.y.z");
    CHECK(cls_version_number() == ma * 10000 + mi * 100 + pa, "cls_version_number %d vs %s",
          cls_version_number(), cls_version());
    CHECK(cls_version_number() == CLS_VERSION_NUMBER, "runtime vs header version number");
    CHECK(ma == CLS_VERSION_MAJOR && mi == CLS_VERSION_MINOR && pa == CLS_VERSION_PATCH,
          "version macros");
    FILE *cm = fopen(CLS_SOURCE_DIR "/CMakeLists.txt", "r");
    char line[512];
    int found = 0;
    while (cm && fgets(line, sizeof line, cm)) {
        int a, b, c;
        const char *v = strstr(line, "project(clscale VERSION ");
        if (v && sscanf(v, "project(clscale VERSION %d.%d.%d", &a, &b, &c) == 3) {
            found = 1;
            CHECK(a == ma && b == mi && c == pa, "CMake version %d.%d.%d vs %s", a, b, c, cls_version());
        }
    }
    if (cm) fclose(cm);
    CHECK(found, "project(clscale VERSION ...) found in CMakeLists.txt");
    cls_clear_error();
    CHECK(cls_last_error()[0] == '\0', "cleared error is empty");
    CHECK(cls_threads_resolve(0) >= 1, "threads resolve");
    CHECK(cls_threads_resolve(3) == 3, "explicit threads");
    CHECK(cls_peak_rss_bytes() > 0, "peak rss readable");
}

/* An error raised on a worker thread reaches the caller's thread with its
 * message (the message buffer is thread-local). */
static void test_worker_error(void)
{
    cls_worker_error err = {CLS_OK, {0}};
    cls_clear_error();
    int workers = 0;
#pragma omp parallel num_threads(2)
    {
        if (omp_get_thread_num() == 1) {
            workers = omp_get_num_threads();
            cls_worker_fail(&err, cls_set_error(CLS_E_NOMEM, "tile %d: no memory", 7));
        }
        cls_worker_fail(&err, CLS_OK); /* a success records nothing */
    }
    if (workers == 2) {
        CHECK(cls_last_error()[0] == '\0', "the caller's message is untouched inside the region");
        CHECK_STATUS(cls_worker_report(&err), CLS_E_NOMEM, "worker status reported");
        CHECK(strcmp(cls_last_error(), "tile 7: no memory") == 0, "worker message on the caller's thread: '%s'",
              cls_last_error());
    }
    cls_worker_error none = {CLS_OK, {0}};
    CHECK_STATUS(cls_worker_report(&none), CLS_OK, "no worker error");
}

static void test_npy_roundtrip(void)
{
    float x[6] = {1, -2, 3.5f, 4, 5, 6e-8f};
    CHECK_STATUS(cls_npy_save_matrix_f32(path_in_tmp("x.npy"), x, 2, 3), CLS_OK, "save f32");
    float *y = NULL;
    int64_t r = 0, c = 0;
    CHECK_STATUS(cls_npy_load_matrix_f32(path_in_tmp("x.npy"), &y, &r, &c), CLS_OK, "load f32");
    CHECK(r == 2 && c == 3, "shape 2x3, got %lldx%lld", (long long)r, (long long)c);
    CHECK(y && memcmp(x, y, sizeof x) == 0, "f32 bits round trip");
    free(y);

    double *yd = NULL;
    CHECK_STATUS(cls_npy_load_matrix_f64(path_in_tmp("x.npy"), &yd, &r, &c), CLS_OK, "f32 file as f64");
    CHECK(yd && yd[2] == 3.5 && yd[5] == (double)6e-8f, "f32->f64 conversion");
    free(yd);

    double xd[4] = {1e300, -1e-300, 0.25, 7};
    CHECK_STATUS(cls_npy_save_matrix_f64(path_in_tmp("d.npy"), xd, 4, 1), CLS_OK, "save f64");
    CHECK_STATUS(cls_npy_load_matrix_f64(path_in_tmp("d.npy"), &yd, &r, &c), CLS_OK, "load f64");
    CHECK(r == 4 && c == 1 && memcmp(xd, yd, sizeof xd) == 0, "f64 bits round trip");
    free(yd);

    int64_t lab[3] = {2, 0, 1};
    int64_t shape1[1] = {3};
    CHECK_STATUS(cls_npy_save(path_in_tmp("l.npy"), CLS_DTYPE_I64, 1, shape1, lab), CLS_OK, "save i64");
    int64_t *lb = NULL, n = 0;
    CHECK_STATUS(cls_npy_load_vector_i64(path_in_tmp("l.npy"), &lb, &n), CLS_OK, "load i64");
    CHECK(n == 3 && lb && lb[0] == 2 && lb[2] == 1, "i64 round trip");
    free(lb);

    /* Header version 2.0 and an int32 vector read as int64. */
    int32_t l32[2] = {5, -1};
    write_npy_raw(path_in_tmp("v2.npy"), 2, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", l32, 8);
    CHECK_STATUS(cls_npy_load_vector_i64(path_in_tmp("v2.npy"), &lb, &n), CLS_OK, "v2 header");
    CHECK(n == 2 && lb && lb[0] == 5 && lb[1] == -1, "int32 widened");
    free(lb);

    /* Version 3.0 is version 2.0 with a UTF-8 header. */
    write_npy_raw(path_in_tmp("v3.npy"), 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", x, 8);
    CHECK_STATUS(cls_npy_load_matrix_f32(path_in_tmp("v3.npy"), &y, &r, &c), CLS_OK, "v3 header");
    CHECK(r == 1 && c == 2 && y && y[1] == -2.0f, "v3 data");
    free(y);

    /* Empty arrays are legal files (callers decide whether 0 rows is an error). */
    CHECK_STATUS(cls_npy_save_matrix_f32(path_in_tmp("e.npy"), x, 0, 3), CLS_OK, "save empty");
    CHECK_STATUS(cls_npy_load_matrix_f32(path_in_tmp("e.npy"), &y, &r, &c), CLS_OK, "load empty");
    CHECK(r == 0 && c == 3, "empty shape");
    free(y);
}

static void test_npy_bad(void)
{
    float *y = (float *)0x1;
    int64_t r = -7, c = -7;
    float data[8] = {0};
    const char *p = path_in_tmp("bad.npy");

    CHECK_STATUS(cls_npy_load_matrix_f32(path_in_tmp("missing.npy"), &y, &r, &c), CLS_E_IO, "missing file");
    CHECK(strstr(cls_last_error(), "missing.npy") != NULL, "error names the file: %s", cls_last_error());
    CHECK(y == (float *)0x1 && r == -7, "outputs untouched on failure");

    write_bytes(p, "hello world, not numpy", 22);
    CHECK_STATUS(cls_npy_load_matrix_f32(p, &y, &r, &c), CLS_E_FORMAT, "garbage");

    write_bytes(p, "\x93NUMPY\x01", 7);
    CHECK_STATUS(cls_npy_load_matrix_f32(p, &y, &r, &c), CLS_E_FORMAT, "truncated prefix");

    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data, 20);
    CHECK_STATUS(cls_npy_load_matrix_f32(p, &y, &r, &c), CLS_E_FORMAT, "truncated data");
    CHECK(strstr(cls_last_error(), "truncated") != NULL, "says truncated: %s", cls_last_error());

    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data, 32);
    CHECK_STATUS(cls_npy_load_matrix_f32(p, &y, &r, &c), CLS_E_FORMAT, "trailing bytes");

    write_npy_raw(p, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", data, 8);
    CHECK_STATUS(cls_npy_load_matrix_f32(p, &y, &r, &c), CLS_E_DTYPE, "big-endian");

    write_npy_raw(p, 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (1, 1), }", data, 8);
    CHECK_STATUS(cls_npy_load_matrix_f32(p, &y, &r, &c), CLS_E_DTYPE, "complex dtype");

    write_npy_raw(p, 1, "{'descr': '|O', 'fortran_order': False, 'shape': (1, 1), }", data, 8);
    CHECK_STATUS(cls_npy_load_matrix_f32(p, &y, &r, &c), CLS_E_DTYPE, "object dtype");

    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 1), }", data, 8);
    CHECK_STATUS(cls_npy_load_matrix_f32(p, &y, &r, &c), CLS_E_FORMAT, "fortran order");
    CHECK(strstr(cls_last_error(), "fortran_order") != NULL, "names fortran_order: %s", cls_last_error());

    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", data, 8);
    CHECK_STATUS(cls_npy_load_matrix_f32(p, &y, &r, &c), CLS_E_FORMAT, "absurd shape");

    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 1), }", data, 8);
    CHECK_STATUS(cls_npy_load_matrix_f32(p, &y, &r, &c), CLS_E_FORMAT, "negative shape");

    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data, 8);
    CHECK_STATUS(cls_npy_load_matrix_f32(p, &y, &r, &c), CLS_E_SHAPE, "1-D where 2-D needed");

    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data, 8);
    int64_t *lb;
    int64_t n;
    CHECK_STATUS(cls_npy_load_vector_i64(p, &lb, &n), CLS_E_DTYPE, "float labels");

    write_npy_raw(p, 1, "{'descr': '<f4', 'shape': (2, 1), }", data, 8);
    CHECK_STATUS(cls_npy_load_matrix_f32(p, &y, &r, &c), CLS_E_FORMAT, "missing fortran_order");

    unsigned char huge[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xff, 0xff, 0xff, 0x7f};
    write_bytes(p, huge, sizeof huge);
    CHECK_STATUS(cls_npy_load_matrix_f32(p, &y, &r, &c), CLS_E_FORMAT, "absurd header length");

    unsigned char v9[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 9, 0, 10, 0};
    write_bytes(p, v9, sizeof v9);
    CHECK_STATUS(cls_npy_load_matrix_f32(p, &y, &r, &c), CLS_E_FORMAT, "unknown version");

    /* A failed save leaves an existing file intact. */
    float keep[2] = {42, 43};
    CHECK_STATUS(cls_npy_save_matrix_f32(path_in_tmp("keep.npy"), keep, 1, 2), CLS_OK, "save keep");
    CHECK_STATUS(cls_npy_save_matrix_f32(path_in_tmp("no/such/dir/keep.npy"), keep, 1, 2), CLS_E_IO,
                 "unwritable path");
    CHECK_STATUS(cls_npy_load_matrix_f32(path_in_tmp("keep.npy"), &y, &r, &c), CLS_OK, "kept file loads");
    CHECK(y && y[0] == 42, "kept data");
    free(y);
}

static void test_npy_stream(void)
{
    enum { R = 1000, C = 7 };
    static float x[R * C];
    for (int k = 0; k < R * C; k++) x[k] = (float)k * 0.5f;
    CHECK_STATUS(cls_npy_save_matrix_f32(path_in_tmp("s.npy"), x, R, C), CLS_OK, "save stream file");
    cls_npy_reader *rd = NULL;
    CHECK_STATUS(cls_npy_reader_open(path_in_tmp("s.npy"), &rd), CLS_OK, "open reader");
    if (!rd) return;
    int64_t rows, cols;
    cls_npy_reader_shape(rd, &rows, &cols, NULL);
    CHECK(rows == R && cols == C, "reader shape");
    double buf[64 * C];
    for (int pass = 0; pass < 2; pass++) {
        int64_t seen = 0, got = 0;
        int ok = 1;
        do {
            CHECK_STATUS(cls_npy_reader_read_f64(rd, buf, 64, &got), CLS_OK, "read chunk");
            for (int64_t k = 0; k < got * C; k++) ok &= buf[k] == (double)x[seen * C + k];
            seen += got;
        } while (got > 0);
        CHECK(seen == R && ok, "streamed %lld rows, values ok=%d (pass %d)", (long long)seen, ok, pass);
        CHECK_STATUS(cls_npy_reader_rewind(rd), CLS_OK, "rewind");
    }
    /* the mapped view (what the spectrum uses by default) holds the same values */
    const void *mapped = NULL;
    CHECK_STATUS(cls_npy_reader_map(rd, &mapped), CLS_OK, "map the stream file: %s", cls_last_error());
    if (mapped) CHECK(!memcmp(mapped, x, sizeof x), "mapped rows = the saved values");
    cls_npy_reader_free(rd);
    cls_npy_reader_free(NULL);
    /* a file cut short after its reader opened it is not mapped (access
     * would fault): the caller streams it and the reader reports the
     * truncation */
    rd = NULL;
    CHECK_STATUS(cls_npy_reader_open(path_in_tmp("s.npy"), &rd), CLS_OK, "reopen the stream file");
    FILE *f = fopen(path_in_tmp("s.npy"), "r+b");
    if (f) {
        CHECK(ftruncate(fileno(f), 4096) == 0, "truncate");
        fclose(f);
    }
    if (rd) {
        mapped = &mapped;
        CHECK_STATUS(cls_npy_reader_map(rd, &mapped), CLS_E_UNSUPPORTED, "a short file is not mapped");
        CHECK(mapped == NULL, "no view of a short file");
        cls_npy_reader_free(rd);
    }
}

/* In-memory .npy (the fuzz targets' entry points): the bytes of a saved file
 * give the same array as the file; truncations and trailing bytes are refused. */
static void test_npy_buffer(void)
{
    enum { R = 5, C = 3 };
    double x[R * C];
    for (int k = 0; k < R * C; k++) x[k] = 0.25 * k - 1.0;
    const char *p = path_in_tmp("buf.npy");
    CHECK_STATUS(cls_npy_save_matrix_f64(p, x, R, C), CLS_OK, "save f64 for the buffer test");
    FILE *f = fopen(p, "rb");
    unsigned char bytes[4096];
    size_t n = f ? fread(bytes, 1, sizeof bytes, f) : 0;
    if (f) fclose(f);
    CHECK(n == 128 + sizeof x, "file is 128 header bytes + data, got %zu", n);
    cls_array a;
    CHECK_STATUS(cls_npy_load_buffer(bytes, n, "mem.npy", &a), CLS_OK, "load from memory");
    if (a.data && n) {
        CHECK(a.dtype == CLS_DTYPE_F64 && a.ndim == 2 && a.shape[0] == R && a.shape[1] == C,
              "dtype and shape from memory");
        CHECK(memcmp(a.data, x, sizeof x) == 0, "bits from memory equal the saved array");
        cls_array_free(&a);
    }
    CHECK_STATUS(cls_npy_load_buffer(bytes, n - 1, "mem.npy", &a), CLS_E_FORMAT, "one byte short");
    CHECK(strstr(cls_last_error(), "mem.npy") && strstr(cls_last_error(), "truncated"),
          "message names the buffer: %s", cls_last_error());
    CHECK_STATUS(cls_npy_load_buffer(bytes, 9, NULL, &a), CLS_E_FORMAT, "header cut");
    CHECK_STATUS(cls_npy_load_buffer(bytes, 0, NULL, &a), CLS_E_FORMAT, "empty buffer");
    CHECK_STATUS(cls_npy_load_buffer(NULL, 0, NULL, &a), CLS_E_FORMAT, "NULL buffer");
    unsigned char more[4096 + 1];
    memcpy(more, bytes, n);
    more[n] = 0;
    CHECK_STATUS(cls_npy_load_buffer(more, n + 1, "mem.npy", &a), CLS_E_FORMAT, "trailing byte");
    cls_npy_reader *rd = NULL;
    CHECK_STATUS(cls_npy_reader_open_buffer(bytes, n, "mem.npy", &rd), CLS_OK, "reader from memory");
    if (rd) {
        double buf[2 * C];
        int64_t got = 0, seen = 0;
        int ok = 1;
        do {
            CHECK_STATUS(cls_npy_reader_read_f64(rd, buf, 2, &got), CLS_OK, "read chunk from memory");
            for (int64_t k = 0; k < got * C; k++) ok &= buf[k] == x[seen * C + k];
            seen += got;
        } while (got > 0);
        CHECK(seen == R && ok, "streamed %lld rows from memory", (long long)seen);
        cls_npy_reader_free(rd);
    }
}

/* cls_errno_string is strerror_r: the text of the code, never NULL. */
static void test_errno_string(void)
{
    char buf[128];
    const char *m = cls_errno_string(ENOENT, buf, sizeof buf);
    CHECK(m == buf && strstr(buf, "No such file"), "ENOENT text: %s", buf);
    char tiny[4];
    m = cls_errno_string(ENOENT, tiny, sizeof tiny);
    CHECK(m == tiny && strlen(tiny) < sizeof tiny, "truncated into a small buffer");
    cls_npy_reader *rd = NULL;
    CHECK_STATUS(cls_npy_reader_open(path_in_tmp("does-not-exist.npy"), &rd), CLS_E_IO, "missing file");
    CHECK(strstr(cls_last_error(), "No such file"), "message carries the errno text: %s", cls_last_error());
}

static void test_rng(void)
{
    cls_rng a, b;
    cls_rng_seed(&a, 42);
    cls_rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= cls_rng_u64(&a) == cls_rng_u64(&b);
    CHECK(same, "same seed, same stream");
    cls_rng_seed_stream(&b, 42, 1);
    cls_rng_seed(&a, 42);
    CHECK(cls_rng_u64(&a) != cls_rng_u64(&b), "streams differ");

    /* Moments of N(0,1) by Monte Carlo: n = 1e6, se(mean) = 1e-3, se(var) ~ 1.4e-3. */
    double s1 = 0, s2 = 0, s4 = 0;
    int n = 1000000;
    cls_rng_seed(&a, 7);
    for (int i = 0; i < n; i++) {
        double z = cls_rng_normal(&a);
        s1 += z;
        s2 += z * z;
        s4 += z * z * z * z;
    }
    CHECK_CLOSE(s1 / n, 0.0, 5e-3, 0, "normal mean (5 se)");
    CHECK_CLOSE(s2 / n, 1.0, 7e-3, 0, "normal variance (5 se)");
    CHECK_CLOSE(s4 / n, 3.0, 0.05, 0, "normal fourth moment");
    double u = 0;
    int hist[10] = {0};
    for (int i = 0; i < n; i++) {
        double v = cls_rng_uniform(&a);
        u += v;
        hist[(int)(v * 10)]++;
    }
    CHECK_CLOSE(u / n, 0.5, 2e-3, 0, "uniform mean");
    int okh = 1;
    for (int k = 0; k < 10; k++) okh &= abs(hist[k] - n / 10) < 1500; /* ~5 sd */
    CHECK(okh, "uniform histogram flat");
    int inrange = 1;
    for (int i = 0; i < 10000; i++) inrange &= cls_rng_below(&a, 7) < 7;
    CHECK(inrange, "below(7) in range");
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_status();
    test_worker_error();
    test_npy_roundtrip();
    test_npy_bad();
    test_npy_stream();
    test_npy_buffer();
    test_errno_string();
    test_rng();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    return check_summary("test_core");
}
