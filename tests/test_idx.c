/* IDX reader (src/data/idx.c): the real Fashion-MNIST files (counts, shapes,
 * first and last labels and one row of pixels, all read independently with
 * Python's gzip module), and hand-made files in a temporary directory: plain
 * and gzip'd, corrupt magic, truncated payload, truncated gzip stream,
 * trailing garbage, image/label count mismatch, wrong file kind. */
#include "check.h"

#include "clscale.h"
#include "clscale/data.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[256];

static void write_plain(const char *name, const uint8_t *d, size_t n, char *path)
{
    sprintf(path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, n, f);
    fclose(f);
}

static void write_gz(const char *name, const uint8_t *d, size_t n, char *path)
{
    sprintf(path, "%s/%s", tmpdir, name);
    gzFile g = gzopen(path, "wb");
    gzwrite(g, d, (unsigned)n);
    gzclose(g);
}

/* An IDX buffer: magic 0x0000080<nd>, dims, payload bytes i*7 mod 256. */
static size_t make_idx(uint8_t *buf, int nd, const uint32_t *dims)
{
    buf[0] = 0; buf[1] = 0; buf[2] = 8; buf[3] = (uint8_t)nd;
    size_t total = 1, p = 4;
    for (int i = 0; i < nd; i++) {
        buf[p++] = dims[i] >> 24; buf[p++] = dims[i] >> 16; buf[p++] = dims[i] >> 8; buf[p++] = dims[i];
        total *= dims[i];
    }
    for (size_t i = 0; i < total; i++) buf[p + i] = (uint8_t)(i * 7);
    return p + total;
}

static int error_mentions(const char *what)
{
    return strstr(cls_last_error(), what) != NULL;
}

static void test_real(void)
{
    const char *dir = CLS_FASHION_MNIST_DIR;
    char p[512];
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", dir);
    if (access(p, R_OK) != 0) {
        printf("skip: %s not installed\n", p);
        return;
    }
    cls_dataset tr, te;
    CHECK_STATUS(cls_dataset_load(&tr, "fashion-mnist", CLS_SPLIT_TRAIN), CLS_OK, "load train");
    CHECK_STATUS(cls_dataset_load(&te, dir, CLS_SPLIT_TEST), CLS_OK, "load test");
    CHECK(tr.n == 60000 && tr.height == 28 && tr.width == 28, "train shape %lld", (long long)tr.n);
    CHECK(te.n == 10000 && te.height == 28 && te.width == 28, "test shape %lld", (long long)te.n);
    /* Reference values from Python: gzip.open(...).read()[8:18] and [-3:]. */
    const int64_t tr_first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5}, tr_last[3] = {3, 0, 5};
    const int64_t te_first[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7}, te_last[3] = {8, 1, 5};
    for (int i = 0; i < 10; i++) {
        CHECK(tr.labels[i] == tr_first[i], "train label %d: %lld", i, (long long)tr.labels[i]);
        CHECK(te.labels[i] == te_first[i], "test label %d: %lld", i, (long long)te.labels[i]);
    }
    for (int i = 0; i < 3; i++) {
        CHECK(tr.labels[59997 + i] == tr_last[i], "train label %d", 59997 + i);
        CHECK(te.labels[9997 + i] == te_last[i], "test label %d", 9997 + i);
    }
    /* Row 14 of image 0 (bytes 16+28*14 ...), scaled by 1/255. */
    const int tr_row[28] = {0, 0, 1, 4, 6, 7, 2, 0, 0, 0, 0, 0, 237, 226, 217, 223, 222, 219, 222, 221,
                            216, 223, 229, 215, 218, 255, 77, 0};
    const int te_row[28] = {0, 0, 0, 0, 0, 0, 2, 4, 1, 0, 0, 0, 98, 136, 110, 109, 110, 162, 135, 144,
                            149, 159, 167, 144, 158, 169, 119, 0};
    for (int j = 0; j < 28; j++) {
        CHECK_CLOSE(tr.images[28 * 14 + j], tr_row[j] / 255.0, 1e-7, 0, "train pixel %d", j);
        CHECK_CLOSE(te.images[28 * 14 + j], te_row[j] / 255.0, 1e-7, 0, "test pixel %d", j);
    }
    int64_t counts[10] = {0};
    float lo = 1, hi = 0;
    for (int64_t i = 0; i < tr.n; i++) {
        if (tr.labels[i] >= 0 && tr.labels[i] < 10) counts[tr.labels[i]]++;
    }
    for (int64_t i = 0; i < tr.n * 784; i++) {
        if (tr.images[i] < lo) lo = tr.images[i];
        if (tr.images[i] > hi) hi = tr.images[i];
    }
    for (int c = 0; c < 10; c++) CHECK(counts[c] == 6000, "class %d has %lld", c, (long long)counts[c]);
    CHECK(lo == 0.0f && hi == 1.0f, "pixel range [%g, %g]", lo, hi);
    cls_dataset_free(&tr);
    cls_dataset_free(&te);
    CHECK(tr.images == NULL && tr.n == 0, "free zeroes");
    cls_dataset_free(NULL);
}

static void test_synthetic(void)
{
    static uint8_t img[4 + 12 + 5 * 3 * 4 + 16], lab[4 + 4 + 5 + 16], buf[256];
    const uint32_t di[3] = {5, 3, 4}, dl[1] = {5}, dl4[1] = {4};
    size_t ni = make_idx(img, 3, di), nl = make_idx(lab, 1, dl);
    char pi[512], pl[512], px[512];

    /* plain and gzip'd, with the dataset layout (prefers .gz) */
    write_gz("train-images-idx3-ubyte.gz", img, ni, pi);
    write_plain("train-labels-idx1-ubyte", lab, nl, pl);
    cls_dataset d;
    CHECK_STATUS(cls_dataset_load(&d, tmpdir, CLS_SPLIT_TRAIN), CLS_OK, "gz images + plain labels");
    CHECK(d.n == 5 && d.height == 3 && d.width == 4, "shape");
    int ok = 1;
    for (int i = 0; i < 60; i++) ok &= d.images[i] == (float)(uint8_t)(i * 7) / 255.0f;
    for (int i = 0; i < 5; i++) ok &= d.labels[i] == (uint8_t)(i * 7);
    CHECK(ok, "synthetic values");
    cls_dataset_free(&d);
    CHECK_STATUS(cls_dataset_load(&d, tmpdir, CLS_SPLIT_TEST), CLS_E_IO, "missing test split");
    CHECK(error_mentions("t10k-images-idx3-ubyte"), "names the file: %s", cls_last_error());

    /* in-memory parser */
    int nd;
    int64_t dims[4];
    const uint8_t *payload;
    CHECK_STATUS(cls_idx_parse(img, ni, &nd, dims, &payload), CLS_OK, "parse");
    CHECK(nd == 3 && dims[0] == 5 && dims[1] == 3 && dims[2] == 4 && payload == img + 16, "parse dims");
    CHECK_STATUS(cls_idx_parse(img, ni - 1, &nd, dims, &payload), CLS_E_FORMAT, "parse truncated");
    CHECK_STATUS(cls_idx_parse(img, 3, &nd, dims, &payload), CLS_E_FORMAT, "parse tiny");
    memcpy(buf, img, ni);
    buf[ni] = 1;
    CHECK_STATUS(cls_idx_parse(buf, ni + 1, &nd, dims, &payload), CLS_E_FORMAT, "parse trailing");
    buf[2] = 0x0D; /* float type */
    CHECK_STATUS(cls_idx_parse(buf, ni, &nd, dims, &payload), CLS_E_FORMAT, "parse float type");
    buf[2] = 8;
    buf[3] = 5;
    CHECK_STATUS(cls_idx_parse(buf, ni, &nd, dims, &payload), CLS_E_FORMAT, "parse 5 dims");
    const uint8_t huge[16] = {0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CHECK_STATUS(cls_idx_parse(huge, 16, &nd, dims, &payload), CLS_E_FORMAT, "parse huge dims");

    /* corrupt magic */
    memcpy(buf, img, ni);
    buf[0] = 0x1f;
    write_plain("badmagic", buf, ni, px);
    CHECK_STATUS(cls_dataset_load_idx(&d, px, pl), CLS_E_FORMAT, "bad magic");
    CHECK(error_mentions("badmagic") && error_mentions("magic"), "message: %s", cls_last_error());
    /* labels file given as images */
    CHECK_STATUS(cls_dataset_load_idx(&d, pl, pl), CLS_E_FORMAT, "labels as images");
    CHECK(error_mentions("0x00000801") && error_mentions("images"), "message: %s", cls_last_error());
    /* truncated payload, plain and gzip'd */
    write_plain("trunc", img, ni - 7, px);
    CHECK_STATUS(cls_dataset_load_idx(&d, px, pl), CLS_E_FORMAT, "truncated plain");
    CHECK(error_mentions("trunc") && error_mentions("truncated at byte 69"), "message: %s", cls_last_error());
    write_gz("trunc.gz", img, ni - 7, px);
    CHECK_STATUS(cls_dataset_load_idx(&d, px, pl), CLS_E_FORMAT, "truncated gz payload");
    CHECK(error_mentions("trunc.gz"), "message: %s", cls_last_error());
    /* truncated header */
    write_plain("trunchead", img, 10, px);
    CHECK_STATUS(cls_dataset_load_idx(&d, px, pl), CLS_E_FORMAT, "truncated header");
    CHECK(error_mentions("trunchead"), "message: %s", cls_last_error());
    /* truncated gzip stream (cut the compressed file) */
    {
        char full[512];
        write_gz("cut.gz", img, ni, full);
        FILE *f = fopen(full, "rb");
        uint8_t gzb[512];
        size_t gn = fread(gzb, 1, sizeof gzb, f);
        fclose(f);
        write_plain("cut.gz", gzb, gn - 12, px);
        CHECK_STATUS(cls_dataset_load_idx(&d, px, pl), CLS_E_FORMAT, "cut gzip stream");
        CHECK(error_mentions("cut.gz"), "message: %s", cls_last_error());
        /* corrupt compressed bytes (CRC or inflate error) */
        gzb[gn / 2] ^= 0x55;
        gzb[gn / 2 + 1] ^= 0xAA;
        write_plain("flip.gz", gzb, gn, px);
        CHECK_STATUS(cls_dataset_load_idx(&d, px, pl), CLS_E_FORMAT, "corrupt gzip stream");
        CHECK(error_mentions("flip.gz"), "message: %s", cls_last_error());
    }
    /* trailing garbage */
    memcpy(buf, img, ni);
    buf[ni] = 42;
    write_gz("trail.gz", buf, ni + 1, px);
    CHECK_STATUS(cls_dataset_load_idx(&d, px, pl), CLS_E_FORMAT, "trailing garbage");
    CHECK(error_mentions("trail.gz") && error_mentions("trailing"), "message: %s", cls_last_error());
    /* count mismatch */
    size_t nl4 = make_idx(lab, 1, dl4);
    write_plain("lab4", lab, nl4, px);
    CHECK_STATUS(cls_dataset_load_idx(&d, pi, px), CLS_E_SHAPE, "count mismatch");
    CHECK(error_mentions("lab4") && error_mentions("5 images") && error_mentions("4 labels"), "message: %s",
          cls_last_error());
    /* missing file */
    snprintf(px, sizeof px, "%s/nonexistent", tmpdir);
    CHECK_STATUS(cls_dataset_load_idx(&d, px, pl), CLS_E_IO, "missing");
    CHECK(error_mentions("nonexistent"), "message: %s", cls_last_error());
    CHECK(d.images == NULL && d.labels == NULL, "output zeroed on failure");
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_idx_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    test_real();
    test_synthetic();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary("test_idx");
}
