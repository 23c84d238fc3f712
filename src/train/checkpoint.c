/* Training checkpoints: a checked binary format written atomically.
 *
 * Layout (little-endian; this library targets little-endian hosts):
 *   "CLSCKPT1"  u32 version  u32 header_bytes
 *   i32 n_models, 2 x {i32 kind, i64 width, height, image_w, in_dim, proj_dim, u64 seed}
 *   i32 optim_kind, i64 param_count[3], i64 state_count[3]
 *   i64 step, i64 epoch, u64 seed, u64 config_hash, f64 log_logit_scale, f64 bias
 *   f32 params[sum param_count], f32 state[sum state_count]
 *   u32 crc32 (zlib) of every byte before it */
#define _GNU_SOURCE
#include "clscale/train.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../core/internal.h"

#define MAGIC "CLSCKPT1"
#define MODEL_BYTES (4 + 5 * 8 + 8)
#define HEADER_BYTES (8 + 4 + 4 + 4 + 2 * MODEL_BYTES + 4 + 6 * 8 + 4 * 8 + 2 * 8)
#define MAX_COUNT ((int64_t)1 << 34) /* 64 GiB of floats: beyond any model here */

typedef struct {
    unsigned char *p;
    size_t at;
} writer;

static void put(writer *w, const void *x, size_t n)
{
    memcpy(w->p + w->at, x, n);
    w->at += n;
}
static void put_i32(writer *w, int32_t v) { put(w, &v, 4); }
static void put_u32(writer *w, uint32_t v) { put(w, &v, 4); }
static void put_i64(writer *w, int64_t v) { put(w, &v, 8); }
static void put_u64(writer *w, uint64_t v) { put(w, &v, 8); }
static void put_f64(writer *w, double v) { put(w, &v, 8); }

typedef struct {
    const unsigned char *p;
    size_t at, size;
} reader;

static void get(reader *r, void *x, size_t n)
{
    memcpy(x, r->p + r->at, n); /* callers check the size first */
    r->at += n;
}
static int32_t get_i32(reader *r) { int32_t v; get(r, &v, 4); return v; }
static uint32_t get_u32(reader *r) { uint32_t v; get(r, &v, 4); return v; }
static int64_t get_i64(reader *r) { int64_t v; get(r, &v, 8); return v; }
static uint64_t get_u64(reader *r) { uint64_t v; get(r, &v, 8); return v; }
static double get_f64(reader *r) { double v; get(r, &v, 8); return v; }

static int64_t total(const int64_t c[3]) { return c[0] + c[1] + c[2]; }

void cls_checkpoint_free(cls_checkpoint *ck)
{
    if (!ck) return;
    cls_free(ck->params);
    cls_free(ck->state);
    ck->params = ck->state = NULL;
}

cls_status cls_checkpoint_serialize(const cls_checkpoint *ck, void **data, size_t *size)
{
    if (!ck || !data || !size) return cls_set_error(CLS_E_INVALID_ARG, "checkpoint: NULL argument");
    for (int i = 0; i < 3; i++)
        if (ck->param_count[i] < 0 || ck->state_count[i] < 0 || ck->param_count[i] > MAX_COUNT ||
            ck->state_count[i] > MAX_COUNT)
            return cls_set_error(CLS_E_INVALID_ARG, "checkpoint: part %d has bad counts", i);
    int64_t np = total(ck->param_count), ns = total(ck->state_count);
    size_t n = HEADER_BYTES + (size_t)(np + ns) * 4 + 4;
    unsigned char *buf = malloc(n);
    if (!buf) return cls_set_error(CLS_E_NOMEM, "checkpoint: cannot allocate %zu bytes", n);
    writer w = {buf, 0};
    put(&w, MAGIC, 8);
    put_u32(&w, CLS_CHECKPOINT_VERSION);
    put_u32(&w, HEADER_BYTES);
    put_i32(&w, ck->n_models);
    for (int m = 0; m < 2; m++) {
        const cls_model_config *c = &ck->model[m];
        put_i32(&w, m < ck->n_models ? (int32_t)c->kind : -1);
        put_i64(&w, m < ck->n_models ? c->width : 0);
        put_i64(&w, m < ck->n_models ? c->height : 0);
        put_i64(&w, m < ck->n_models ? c->image_w : 0);
        put_i64(&w, m < ck->n_models ? c->in_dim : 0);
        put_i64(&w, m < ck->n_models ? c->proj_dim : 0);
        put_u64(&w, m < ck->n_models ? c->seed : 0);
    }
    put_i32(&w, ck->optim_kind);
    for (int i = 0; i < 3; i++) put_i64(&w, ck->param_count[i]);
    for (int i = 0; i < 3; i++) put_i64(&w, ck->state_count[i]);
    put_i64(&w, ck->step);
    put_i64(&w, ck->epoch);
    put_u64(&w, ck->seed);
    put_u64(&w, ck->config_hash);
    put_f64(&w, ck->log_logit_scale);
    put_f64(&w, ck->bias);
    if (np) put(&w, ck->params, (size_t)np * 4);
    if (ns) put(&w, ck->state, (size_t)ns * 4);
    uLong crc = crc32(0L, Z_NULL, 0);
    /* zlib's crc32 takes uInt lengths: feed it in pieces. */
    for (size_t off = 0; off < w.at;) {
        size_t len = w.at - off > (1u << 30) ? (1u << 30) : w.at - off;
        crc = crc32(crc, buf + off, (uInt)len);
        off += len;
    }
    put_u32(&w, (uint32_t)crc);
    *data = buf;
    *size = w.at;
    return CLS_OK;
}

cls_status cls_checkpoint_parse(cls_checkpoint *out, const void *data, size_t size, const char *name)
{
    if (!out || (!data && size)) return cls_set_error(CLS_E_INVALID_ARG, "checkpoint: NULL argument");
    if (!name) name = "checkpoint";
    memset(out, 0, sizeof *out);
    reader r = {data, 0, size};
    if (size < 8 || memcmp(data, MAGIC, 8) != 0)
        return cls_set_error(CLS_E_FORMAT, "%s: not a clscale checkpoint (bad magic)", name);
    if (size < HEADER_BYTES + 4)
        return cls_set_error(CLS_E_FORMAT, "%s: truncated at byte %zu (header needs %d)", name, size,
                             HEADER_BYTES + 4);
    r.at = 8;
    uint32_t version = get_u32(&r), hb = get_u32(&r);
    if (version != CLS_CHECKPOINT_VERSION)
        return cls_set_error(CLS_E_FORMAT, "%s: format version %u, this build reads %d", name,
                             version, CLS_CHECKPOINT_VERSION);
    if (hb != HEADER_BYTES)
        return cls_set_error(CLS_E_FORMAT, "%s: header size %u, expected %d", name, hb, HEADER_BYTES);
    cls_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    ck.n_models = get_i32(&r);
    if (ck.n_models != 1 && ck.n_models != 2)
        return cls_set_error(CLS_E_FORMAT, "%s: %d models (expected 1 or 2)", name, ck.n_models);
    for (int m = 0; m < 2; m++) {
        cls_model_config *c = &ck.model[m];
        int32_t kind = get_i32(&r);
        c->kind = (cls_model_kind)kind;
        c->width = get_i64(&r);
        c->height = get_i64(&r);
        c->image_w = get_i64(&r);
        c->in_dim = get_i64(&r);
        c->proj_dim = get_i64(&r);
        c->seed = get_u64(&r);
        if (m >= ck.n_models) continue;
        if (kind != CLS_MODEL_MLP && kind != CLS_MODEL_CNN)
            return cls_set_error(CLS_E_FORMAT, "%s: model %d has unknown kind %d", name, m, kind);
        if (c->width < 1 || c->width > (1 << 20) || c->height < 1 || c->height > (1 << 16) ||
            c->image_w < 1 || c->image_w > (1 << 16) || c->in_dim < 0 || c->in_dim > (1 << 24) ||
            c->proj_dim < 0 || c->proj_dim > (1 << 20))
            return cls_set_error(CLS_E_FORMAT, "%s: model %d has implausible shapes", name, m);
    }
    ck.optim_kind = get_i32(&r);
    if (ck.optim_kind < CLS_OPTIM_SGD || ck.optim_kind > CLS_OPTIM_LARS)
        return cls_set_error(CLS_E_FORMAT, "%s: unknown optimiser kind %d", name, ck.optim_kind);
    for (int i = 0; i < 3; i++) ck.param_count[i] = get_i64(&r);
    for (int i = 0; i < 3; i++) ck.state_count[i] = get_i64(&r);
    for (int i = 0; i < 3; i++)
        if (ck.param_count[i] < 0 || ck.state_count[i] < 0 || ck.param_count[i] > MAX_COUNT ||
            ck.state_count[i] > MAX_COUNT)
            return cls_set_error(CLS_E_FORMAT, "%s: part %d has bad counts (%lld, %lld)", name, i,
                                 (long long)ck.param_count[i], (long long)ck.state_count[i]);
    ck.step = get_i64(&r);
    ck.epoch = get_i64(&r);
    ck.seed = get_u64(&r);
    ck.config_hash = get_u64(&r);
    ck.log_logit_scale = get_f64(&r);
    ck.bias = get_f64(&r);
    if (ck.step < 0 || ck.epoch < 0)
        return cls_set_error(CLS_E_FORMAT, "%s: negative step %lld or epoch %lld", name,
                             (long long)ck.step, (long long)ck.epoch);
    int64_t np = total(ck.param_count), ns = total(ck.state_count);
    uint64_t want = (uint64_t)HEADER_BYTES + (uint64_t)(np + ns) * 4 + 4;
    if ((uint64_t)size < want)
        return cls_set_error(CLS_E_FORMAT, "%s: truncated: %zu bytes, the header announces %llu",
                             name, size, (unsigned long long)want);
    if ((uint64_t)size > want)
        return cls_set_error(CLS_E_FORMAT, "%s: %llu trailing bytes after the checksum", name,
                             (unsigned long long)((uint64_t)size - want));
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t off = 0; off < size - 4;) {
        size_t len = size - 4 - off > (1u << 30) ? (1u << 30) : size - 4 - off;
        crc = crc32(crc, (const unsigned char *)data + off, (uInt)len);
        off += len;
    }
    reader rc = {data, size - 4, size};
    uint32_t stored = get_u32(&rc);
    if ((uint32_t)crc != stored)
        return cls_set_error(CLS_E_FORMAT, "%s: CRC-32 mismatch (stored %08x, computed %08x): corrupt",
                             name, stored, (unsigned)crc);
    ck.params = cls_alloc((size_t)(np ? np : 1) * 4, "checkpoint parameters");
    ck.state = cls_alloc((size_t)(ns ? ns : 1) * 4, "checkpoint optimiser state");
    if (!ck.params || !ck.state) {
        cls_checkpoint_free(&ck);
        return CLS_E_NOMEM;
    }
    if (np) get(&r, ck.params, (size_t)np * 4);
    if (ns) get(&r, ck.state, (size_t)ns * 4);
    *out = ck;
    return CLS_OK;
}

cls_status cls_checkpoint_read(cls_checkpoint *out, const char *path)
{
    if (!out || !path) return cls_set_error(CLS_E_INVALID_ARG, "checkpoint: NULL argument");
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return cls_set_error(CLS_E_IO, "%s: cannot open: %s", path, cls_errno_string(errno, (char[128]){0}, 128));
    if (fseeko(f, 0, SEEK_END) != 0) {
        fclose(f);
        return cls_set_error(CLS_E_IO, "%s: cannot seek", path);
    }
    off_t len = ftello(f);
    rewind(f);
    if (len < 0) {
        fclose(f);
        return cls_set_error(CLS_E_IO, "%s: cannot size", path);
    }
    unsigned char *buf = malloc((size_t)len + 1);
    if (!buf) {
        fclose(f);
        return cls_set_error(CLS_E_NOMEM, "%s: cannot allocate %lld bytes", path, (long long)len);
    }
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    cls_status st = got != (size_t)len
                        ? cls_set_error(CLS_E_IO, "%s: read %zu of %lld bytes", path, got, (long long)len)
                        : cls_checkpoint_parse(out, buf, (size_t)len, path);
    free(buf);
    return st;
}

static cls_status fsync_dir_of(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) dir[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return CLS_OK; /* best effort */
    fsync(fd);
    close(fd);
    return CLS_OK;
}

cls_status cls_checkpoint_write(const cls_checkpoint *ck, const char *path, const char *prev_path)
{
    if (!ck || !path) return cls_set_error(CLS_E_INVALID_ARG, "checkpoint: NULL argument");
    void *buf;
    size_t n;
    cls_status st = cls_checkpoint_serialize(ck, &buf, &n);
    if (st) return st;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        free(buf);
        return cls_set_error(CLS_E_IO, "%s: cannot create: %s", tmp, cls_errno_string(errno, (char[128]){0}, 128));
    }
    size_t done = 0;
    while (done < n) {
        ssize_t k = write(fd, (unsigned char *)buf + done, n - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            free(buf);
            return cls_set_error(CLS_E_IO, "%s: write failed: %s", tmp, cls_errno_string(e, (char[128]){0}, 128));
        }
        done += (size_t)k;
    }
    free(buf);
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return cls_set_error(CLS_E_IO, "%s: fsync/close failed: %s", tmp, cls_errno_string(errno, (char[128]){0}, 128));
    }
    /* Keep the current checkpoint as prev_path without ever leaving path
     * missing: hard-link it to a temporary name, rename that over prev_path
     * (atomic), then rename the new file over path (atomic). */
    if (prev_path && access(path, F_OK) == 0) {
        char ptmp[4096];
        snprintf(ptmp, sizeof ptmp, "%s.tmp", prev_path);
        unlink(ptmp);
        if (link(path, ptmp) == 0) {
            if (rename(ptmp, prev_path) != 0) unlink(ptmp);
        } else {
            /* No hard links on this file system: copy the bytes instead. */
            cls_checkpoint old;
            if (cls_checkpoint_read(&old, path) == CLS_OK) {
                cls_checkpoint_write(&old, prev_path, NULL);
                cls_checkpoint_free(&old);
            }
        }
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return cls_set_error(CLS_E_IO, "%s: cannot rename to %s: %s", tmp, path, cls_errno_string(e, (char[128]){0}, 128));
    }
    return fsync_dir_of(path);
}
