/* IDX datasets (the MNIST family's format), read with zlib.
 *
 * An IDX file is: two zero bytes, a type byte (0x08 = unsigned byte, the only
 * type these datasets use), a byte giving the number of dimensions, then one
 * big-endian uint32 per dimension, then the payload in row-major order. Images
 * files have magic 0x00000803 (n x height x width), labels files 0x00000801
 * (n). gzopen/gzread read gzip'd and plain files alike; the header is read
 * first so the payload size is known before anything large is allocated, and
 * a short payload (truncation) or bytes after it (trailing garbage) is an
 * error naming the file. */
#include "clscale/data.h"

#include "../core/internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_TYPE_UBYTE 0x08
#define IDX_MAX_DIMS 4

/* Parse the header in data[0..size): returns CLS_OK with *ndim, dims and
 * *header_bytes and *payload_bytes; messages carry no file name (callers add
 * it). Needs only the header bytes, not the payload. */
static cls_status idx_header(const uint8_t *data, size_t size, int *ndim, int64_t dims[4],
                             size_t *header_bytes, size_t *payload_bytes)
{
    if (size < 4) return cls_set_error(CLS_E_FORMAT, "truncated at byte %zu (IDX header is 4+ bytes)", size);
    if (data[0] != 0 || data[1] != 0)
        return cls_set_error(CLS_E_FORMAT, "bad magic number 0x%02x%02x%02x%02x (not an IDX file)",
                             data[0], data[1], data[2], data[3]);
    if (data[2] != IDX_TYPE_UBYTE)
        return cls_set_error(CLS_E_FORMAT, "IDX element type 0x%02x is not supported (only 0x08, unsigned byte)",
                             data[2]);
    int nd = data[3];
    if (nd < 1 || nd > IDX_MAX_DIMS)
        return cls_set_error(CLS_E_FORMAT, "IDX header has %d dimensions (1 to %d supported)", nd, IDX_MAX_DIMS);
    size_t hb = 4 + 4 * (size_t)nd;
    if (size < hb) return cls_set_error(CLS_E_FORMAT, "truncated at byte %zu (header is %zu bytes)", size, hb);
    uint64_t total = 1;
    for (int i = 0; i < nd; i++) {
        const uint8_t *p = data + 4 + 4 * i;
        uint64_t d = ((uint64_t)p[0] << 24) | ((uint64_t)p[1] << 16) | ((uint64_t)p[2] << 8) | p[3];
        dims[i] = (int64_t)d;
        /* each dim < 2^32, at most 4 of them: guard the product against overflow */
        if (d != 0 && total > (uint64_t)INT64_MAX / d)
            return cls_set_error(CLS_E_FORMAT, "IDX dimensions overflow (dimension %d is %llu)", i,
                                 (unsigned long long)d);
        total *= d;
    }
    for (int i = nd; i < IDX_MAX_DIMS; i++) dims[i] = 1;
    if (total > (uint64_t)SIZE_MAX - hb)
        return cls_set_error(CLS_E_FORMAT, "IDX payload of %llu bytes is too large", (unsigned long long)total);
    *ndim = nd;
    *header_bytes = hb;
    *payload_bytes = (size_t)total;
    return CLS_OK;
}

cls_status cls_idx_parse(const void *data, size_t size, int *ndim, int64_t dims[4], const uint8_t **payload)
{
    if (!data && size > 0) return cls_set_error(CLS_E_INVALID_ARG, "cls_idx_parse: data is NULL");
    if (!ndim || !dims || !payload) return cls_set_error(CLS_E_INVALID_ARG, "cls_idx_parse: NULL output");
    const uint8_t *d = data;
    size_t hb, pb;
    int nd;
    int64_t dm[4];
    cls_status st = idx_header(d, size, &nd, dm, &hb, &pb);
    if (st) return st;
    if (size - hb < pb)
        return cls_set_error(CLS_E_FORMAT, "truncated at byte %zu (header says %zu bytes)", size, hb + pb);
    if (size - hb > pb)
        return cls_set_error(CLS_E_FORMAT, "%zu bytes of trailing garbage after byte %zu", size - hb - pb, hb + pb);
    *ndim = nd;
    memcpy(dims, dm, sizeof dm);
    *payload = d + hb;
    return CLS_OK;
}

/* Read up to n bytes; returns the count read (< n only at end of data), or -1
 * on a read/decompression error (message set). */
static int64_t gz_read_full(gzFile g, void *buf, size_t n, const char *path, size_t base)
{
    size_t got = 0;
    while (got < n) {
        size_t want = n - got;
        if (want > (1u << 30)) want = 1u << 30;
        int r = gzread(g, (char *)buf + got, (unsigned)want);
        if (r < 0) {
            int err;
            const char *msg = gzerror(g, &err);
            cls_set_error(CLS_E_FORMAT, "file %s: corrupt or truncated data at byte %zu (%s)", path, base + got,
                          err == Z_ERRNO ? cls_errno_string(errno, (char[128]){0}, 128) : msg);
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    /* A truncated gzip stream reports Z_BUF_ERROR at end of input. */
    int err;
    const char *msg = gzerror(g, &err);
    if (err != Z_OK && err != Z_STREAM_END) {
        cls_set_error(CLS_E_FORMAT, "file %s: corrupt or truncated data at byte %zu (%s)", path,
                      base + got, msg);
        return -1;
    }
    return (int64_t)got;
}

/* Read a whole IDX file of the expected magic: header checked before the
 * payload is allocated; truncation and trailing bytes are errors. *payload is
 * cls_alloc'd (release with cls_free). */
static cls_status idx_read_file(const char *path, int want_ndim, int *ndim, int64_t dims[4], uint8_t **payload,
                                size_t *payload_bytes)
{
    *payload = NULL;
    gzFile g = gzopen(path, "rb");
    if (!g) return cls_set_error(CLS_E_IO, "file %s: cannot open (%s)", path, cls_errno_string(errno, (char[128]){0}, 128));
    gzbuffer(g, 1u << 18);
    uint8_t head[4 + 4 * IDX_MAX_DIMS];
    cls_status st = CLS_OK;
    int64_t got = gz_read_full(g, head, 4, path, 0);
    if (got < 0) { st = CLS_E_FORMAT; goto done; }
    size_t hb = 4, pb = 0;
    if (got == 4 && head[0] == 0 && head[1] == 0 && head[2] == IDX_TYPE_UBYTE && head[3] >= 1 &&
        head[3] <= IDX_MAX_DIMS) {
        int64_t more = gz_read_full(g, head + 4, 4 * (size_t)head[3], path, 4);
        if (more < 0) { st = CLS_E_FORMAT; goto done; }
        got += more;
    }
    st = idx_header(head, (size_t)got, ndim, dims, &hb, &pb);
    if (st) { cls_error_context(st, "file %s", path); goto done; }
    int magic = (head[2] << 8) | head[3];
    if (*ndim != want_ndim) {
        st = cls_set_error(CLS_E_FORMAT, "file %s: magic number 0x%08x, expected 0x%08x (%s)", path, magic,
                           (IDX_TYPE_UBYTE << 8) | want_ndim,
                           want_ndim == 3 ? "an images file" : "a labels file");
        goto done;
    }
    *payload = cls_alloc(pb ? pb : 1, "IDX payload");
    if (!*payload) { st = CLS_E_NOMEM; goto done; }
    int64_t n = gz_read_full(g, *payload, pb, path, hb);
    if (n < 0) { st = CLS_E_FORMAT; goto done; }
    if ((size_t)n < pb) {
        st = cls_set_error(CLS_E_FORMAT, "file %s: truncated at byte %zu (header says %zu bytes)", path,
                           hb + (size_t)n, hb + pb);
        goto done;
    }
    uint8_t extra;
    int64_t x = gz_read_full(g, &extra, 1, path, hb + pb);
    if (x < 0) { st = CLS_E_FORMAT; goto done; }
    if (x > 0) {
        st = cls_set_error(CLS_E_FORMAT, "file %s: trailing garbage after byte %zu", path, hb + pb);
        goto done;
    }
    *payload_bytes = pb;
done:
    gzclose(g);
    if (st) {
        cls_free(*payload);
        *payload = NULL;
    }
    return st;
}

cls_status cls_dataset_load_idx(cls_dataset *out, const char *images_path, const char *labels_path)
{
    if (!out || !images_path || !labels_path)
        return cls_set_error(CLS_E_INVALID_ARG, "cls_dataset_load_idx: NULL argument");
    memset(out, 0, sizeof *out);
    int ndi, ndl;
    int64_t di[4], dl[4];
    uint8_t *pix = NULL, *lab = NULL;
    size_t nbi, nbl;
    cls_status st = idx_read_file(images_path, 3, &ndi, di, &pix, &nbi);
    if (st) return st;
    st = idx_read_file(labels_path, 1, &ndl, dl, &lab, &nbl);
    if (st) { cls_free(pix); return st; }
    if (di[0] != dl[0]) {
        st = cls_set_error(CLS_E_SHAPE, "file %s has %lld images but file %s has %lld labels", images_path,
                           (long long)di[0], labels_path, (long long)dl[0]);
        goto fail;
    }
    if (di[0] == 0 || di[1] == 0 || di[2] == 0) {
        st = cls_set_error(CLS_E_SHAPE, "file %s: empty (%lld x %lld x %lld images)", images_path,
                           (long long)di[0], (long long)di[1], (long long)di[2]);
        goto fail;
    }
    out->images = cls_alloc(nbi * sizeof(float), "dataset images");
    out->labels = cls_alloc((size_t)dl[0] * sizeof(int64_t), "dataset labels");
    if (!out->images || !out->labels) { st = CLS_E_NOMEM; goto fail; }
    float table[256];
    for (int v = 0; v < 256; v++) table[v] = (float)v / 255.0f;
    for (size_t i = 0; i < nbi; i++) out->images[i] = table[pix[i]];
    for (int64_t i = 0; i < dl[0]; i++) out->labels[i] = lab[i];
    out->n = di[0];
    out->height = di[1];
    out->width = di[2];
    cls_free(pix);
    cls_free(lab);
    return CLS_OK;
fail:
    cls_free(pix);
    cls_free(lab);
    cls_dataset_free(out);
    return st;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* dir/name.gz if it exists, else dir/name if it exists; else an error. */
static cls_status find_idx(char *buf, size_t cap, const char *dir, const char *name)
{
    if ((size_t)snprintf(buf, cap, "%s/%s.gz", dir, name) >= cap)
        return cls_set_error(CLS_E_INVALID_ARG, "dataset directory name is too long");
    if (file_exists(buf)) return CLS_OK;
    snprintf(buf, cap, "%s/%s", dir, name);
    if (file_exists(buf)) return CLS_OK;
    return cls_set_error(CLS_E_IO, "dataset %s: neither %s/%s.gz nor %s/%s exists", dir, dir, name, dir, name);
}

cls_status cls_dataset_load(cls_dataset *out, const char *source, cls_split split)
{
    if (!out) return cls_set_error(CLS_E_INVALID_ARG, "cls_dataset_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (split != CLS_SPLIT_TRAIN && split != CLS_SPLIT_TEST)
        return cls_set_error(CLS_E_INVALID_ARG, "cls_dataset_load: split %d is not TRAIN or TEST", (int)split);
    const char *dir = (!source || !*source || strcmp(source, "fashion-mnist") == 0) ? CLS_FASHION_MNIST_DIR : source;
    const char *prefix = split == CLS_SPLIT_TRAIN ? "train" : "t10k";
    char iname[64], lname[64], ipath[4096], lpath[4096];
    snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", prefix);
    snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", prefix);
    cls_status st = find_idx(ipath, sizeof ipath, dir, iname);
    if (st) return st;
    st = find_idx(lpath, sizeof lpath, dir, lname);
    if (st) return st;
    return cls_dataset_load_idx(out, ipath, lpath);
}

void cls_dataset_free(cls_dataset *d)
{
    if (!d) return;
    cls_free(d->images);
    cls_free(d->labels);
    memset(d, 0, sizeof *d);
}
