/* Status codes, the thread-local error message, and small process facts. */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define CLS_ERROR_CAP 1024

static _Thread_local char last_error[CLS_ERROR_CAP];

const char *cls_version(void) { return CLS_VERSION_STRING; }

int cls_version_number(void) { return CLS_VERSION_NUMBER; }

const char *cls_strerror(cls_status status)
{
    switch (status) {
    case CLS_OK: return "ok";
    case CLS_E_INVALID_ARG: return "invalid argument";
    case CLS_E_NONFINITE: return "non-finite value";
    case CLS_E_SHAPE: return "shape mismatch";
    case CLS_E_NOMEM: return "out of memory";
    case CLS_E_IO: return "i/o error";
    case CLS_E_FORMAT: return "bad file format";
    case CLS_E_DTYPE: return "unsupported dtype";
    case CLS_E_NUMERIC: return "numerical failure";
    case CLS_E_UNSUPPORTED: return "unsupported";
    case CLS_E_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *cls_last_error(void) { return last_error; }

void cls_clear_error(void) { last_error[0] = '\0'; }

cls_status cls_set_error(cls_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

cls_status cls_error_context(cls_status status, const char *fmt, ...)
{
    char prefix[CLS_ERROR_CAP];
    char old[CLS_ERROR_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error, sizeof old);
    snprintf(last_error, sizeof last_error, "%s: %s", prefix, old);
    return status;
}

void cls_worker_fail(cls_worker_error *e, cls_status status)
{
    if (status == CLS_OK) return;
#pragma omp critical /* unnamed: a named one exports a .gomp_critical_user_ symbol */
    if (e->status == CLS_OK) {
        e->status = status;
        snprintf(e->message, sizeof e->message, "%s", last_error);
    }
}

cls_status cls_worker_report(const cls_worker_error *e)
{
    if (e->status == CLS_OK) return CLS_OK;
    return cls_set_error(e->status, "%s", e->message);
}

double cls_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int64_t read_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t klen = strlen(key);
    long long kb = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0) {
            sscanf(line + klen, "%lld", &kb);
            break;
        }
    }
    fclose(f);
    return (int64_t)kb * 1024;
}

int64_t cls_peak_rss_bytes(void) { return read_status_kb("VmHWM:"); }

int64_t cls_current_rss_bytes(void) { return read_status_kb("VmRSS:"); }
