/* Thread-safe and locale-independent text helpers: error strings from errno
 * (strerror_r, not strerror's shared buffer) and number parsing in the "C"
 * locale (strtod follows LC_NUMERIC: under de_DE, "2.5" would stop at the '.'). */
#define _GNU_SOURCE
#include "internal.h"

#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cls_errno_string(int errnum, char *buf, size_t len)
{
    if (!buf || len == 0) return "";
#if defined(__GLIBC__)
    /* GNU strerror_r: returns a pointer to a message, not always into buf. */
    const char *m = strerror_r(errnum, buf, len);
    if (m != buf) snprintf(buf, len, "%s", m ? m : "unknown error");
#else
    if (strerror_r(errnum, buf, len) != 0) snprintf(buf, len, "error %d", errnum);
#endif
    return buf;
}

static locale_t c_locale = (locale_t)0;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void) { c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0); }

double cls_strtod_c(const char *s, char **end)
{
    pthread_once(&c_locale_once, make_c_locale);
    if (c_locale != (locale_t)0) return strtod_l(s, end, c_locale);
    return strtod(s, end); /* newlocale failed (out of memory): the best we can do */
}
