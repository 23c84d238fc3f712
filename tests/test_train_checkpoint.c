/* Checkpoints: round trip, every truncation and every single-byte corruption
 * refused, foreign/version errors named, atomic write keeps the previous one.
 * With an argument DIR it also writes the fuzz seed corpus into DIR. */
#include "check.h"
#include "clscale.h"
#include "clscale/train.h"

#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void make(cls_checkpoint *ck, int n_models, int64_t np, int64_t ns)
{
    memset(ck, 0, sizeof *ck);
    ck->n_models = n_models;
    for (int m = 0; m < n_models; m++) {
        ck->model[m].kind = m ? CLS_MODEL_MLP : CLS_MODEL_CNN;
        ck->model[m].height = ck->model[m].image_w = 28;
        ck->model[m].proj_dim = 128;
        ck->model[m].width = 4 + m;
        ck->model[m].seed = 17 + (uint64_t)m;
    }
    ck->optim_kind = CLS_OPTIM_LARS;
    ck->param_count[0] = np;
    ck->param_count[1] = n_models == 2 ? np / 2 : 0;
    ck->param_count[2] = 2;
    ck->state_count[0] = ns;
    ck->state_count[1] = n_models == 2 ? ns / 2 : 0;
    ck->state_count[2] = 2;
    ck->step = 12;
    ck->epoch = 3;
    ck->seed = 99;
    ck->config_hash = 0x1234567890abcdefULL;
    ck->log_logit_scale = 0.6931;
    ck->bias = -10;
    int64_t tp = ck->param_count[0] + ck->param_count[1] + 2;
    int64_t ts = ck->state_count[0] + ck->state_count[1] + 2;
    ck->params = malloc((size_t)tp * 4);
    ck->state = malloc((size_t)ts * 4);
    for (int64_t i = 0; i < tp; i++) ck->params[i] = (float)i * 0.25f - 3.0f;
    for (int64_t i = 0; i < ts; i++) ck->state[i] = (float)i * -0.5f;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    cls_checkpoint ck, back;
    make(&ck, 1, 37, 74);
    void *buf;
    size_t n;
    CHECK(cls_checkpoint_serialize(&ck, &buf, &n) == CLS_OK, "serialize");
    CHECK(cls_checkpoint_parse(&back, buf, n, "mem") == CLS_OK, "parse: %s", cls_last_error());
    CHECK(back.step == 12 && back.epoch == 3 && back.seed == 99 &&
              back.config_hash == ck.config_hash && back.log_logit_scale == ck.log_logit_scale &&
              back.bias == -10 && back.n_models == 1 && back.model[0].kind == CLS_MODEL_CNN &&
              back.model[0].width == 4 && back.model[0].seed == 17 && back.optim_kind == CLS_OPTIM_LARS,
          "header round trip");
    CHECK(memcmp(back.params, ck.params, 39 * 4) == 0 && memcmp(back.state, ck.state, 76 * 4) == 0,
          "payload round trip");
    cls_checkpoint_free(&back);

    /* Every truncation is refused. */
    int all_trunc = 1;
    for (size_t k = 0; k < n; k++) {
        cls_status st = cls_checkpoint_parse(&back, buf, k, "mem");
        all_trunc &= st == CLS_E_FORMAT;
        if (st == CLS_OK) cls_checkpoint_free(&back);
    }
    CHECK(all_trunc, "every truncation refused with CLS_E_FORMAT");
    /* Every single-bit flip is refused (CRC-32 catches all of them). */
    unsigned char *c = malloc(n + 1);
    int all_flip = 1;
    for (size_t k = 0; k < n; k++) {
        memcpy(c, buf, n);
        c[k] ^= (unsigned char)(1u << (k % 8));
        cls_status st = cls_checkpoint_parse(&back, c, n, "mem");
        all_flip &= st != CLS_OK;
        if (st == CLS_OK) cls_checkpoint_free(&back);
    }
    CHECK(all_flip, "every bit flip refused");
    memcpy(c, buf, n);
    c[n] = 0;
    CHECK_STATUS(cls_checkpoint_parse(&back, c, n + 1, "mem"), CLS_E_FORMAT, "trailing byte");
    CHECK(strstr(cls_last_error(), "trailing") != NULL, "message: %s", cls_last_error());
    memcpy(c, buf, n);
    c[n - 100] ^= 1;
    CHECK_STATUS(cls_checkpoint_parse(&back, c, n, "run/checkpoint.bin"), CLS_E_FORMAT, "corrupt payload");
    CHECK(strstr(cls_last_error(), "run/checkpoint.bin") && strstr(cls_last_error(), "CRC"),
          "corruption named: %s", cls_last_error());
    CHECK_STATUS(cls_checkpoint_parse(&back, "NOTACKPT", 8, "x.bin"), CLS_E_FORMAT, "foreign file");
    CHECK(strstr(cls_last_error(), "magic") != NULL, "foreign named: %s", cls_last_error());

    /* Atomic write: the first write has no previous; the second keeps it. */
    char dir[] = "/tmp/cls_ckpt_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    char path[256], prev[256];
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    snprintf(prev, sizeof prev, "%s/checkpoint.prev.bin", dir);
    CHECK(cls_checkpoint_write(&ck, path, prev) == CLS_OK, "write 1: %s", cls_last_error());
    CHECK(access(prev, F_OK) != 0, "no previous after the first write");
    ck.step = 13;
    ck.params[0] = 42.0f;
    CHECK(cls_checkpoint_write(&ck, path, prev) == CLS_OK, "write 2");
    CHECK(cls_checkpoint_read(&back, path) == CLS_OK && back.step == 13 && back.params[0] == 42.0f,
          "latest read back");
    cls_checkpoint_free(&back);
    CHECK(cls_checkpoint_read(&back, prev) == CLS_OK && back.step == 12 && back.params[0] == -3.0f,
          "previous kept");
    cls_checkpoint_free(&back);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0, "no temporary left");
    /* A truncated file on disk is refused by name. */
    truncate(path, 100);
    CHECK_STATUS(cls_checkpoint_read(&back, path), CLS_E_FORMAT, "truncated file");
    CHECK(strstr(cls_last_error(), "checkpoint.bin") && strstr(cls_last_error(), "truncated"),
          "truncation named: %s", cls_last_error());
    unlink(path);
    unlink(prev);
    rmdir(dir);

    /* Two models round trip. */
    cls_checkpoint two;
    make(&two, 2, 20, 40);
    void *b2;
    size_t n2;
    CHECK(cls_checkpoint_serialize(&two, &b2, &n2) == CLS_OK, "serialize 2");
    CHECK(cls_checkpoint_parse(&back, b2, n2, "two") == CLS_OK && back.n_models == 2 &&
              back.model[1].width == 5 && back.param_count[1] == 10,
          "two-model round trip");
    cls_checkpoint_free(&back);

    if (argc > 1) { /* fuzz seed corpus */
        char p[512];
        snprintf(p, sizeof p, "%s/one_model.bin", argv[1]);
        write_file(p, buf, n);
        snprintf(p, sizeof p, "%s/two_models.bin", argv[1]);
        write_file(p, b2, n2);
    }
    free(buf);
    free(b2);
    free(c);
    free(ck.params);
    free(ck.state);
    free(two.params);
    free(two.state);
    return check_summary("train_checkpoint");
}
