/* Minimal test harness for the C tests (one program per module, run by ctest).
 *
 * Every check states its tolerance: CHECK_CLOSE passes when
 * |x - ref| <= atol + rtol * |ref|. A failing check prints what and where and
 * the program exits non-zero; the last line is "N passed, N failed". */
#ifndef CLS_TEST_CHECK_H
#define CLS_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_passed = 0, check_failed = 0;

#define CHECK(cond, ...)                                                          \
    do {                                                                          \
        if (cond) {                                                               \
            check_passed++;                                                       \
        } else {                                                                  \
            check_failed++;                                                       \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                  \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
        }                                                                         \
    } while (0)

/* |x - ref| <= atol + rtol * |ref| (NaN never passes). */
#define CHECK_CLOSE(x, ref, atol, rtol, ...)                                      \
    do {                                                                          \
        double cx_ = (double)(x), cr_ = (double)(ref);                            \
        double tol_ = (double)(atol) + (double)(rtol) * fabs(cr_);                \
        if (fabs(cx_ - cr_) <= tol_) {                                            \
            check_passed++;                                                       \
        } else {                                                                  \
            check_failed++;                                                       \
            fprintf(stderr, "FAIL %s:%d: got %.10g, want %.10g (|diff| %.3g > tol %.3g): ", \
                    __FILE__, __LINE__, cx_, cr_, fabs(cx_ - cr_), tol_);          \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
        }                                                                         \
    } while (0)

/* Check that a library call failed with the expected status. */
#define CHECK_STATUS(call, want, ...)                                             \
    do {                                                                          \
        cls_status got_ = (call);                                                 \
        if (got_ == (want)) {                                                     \
            check_passed++;                                                       \
        } else {                                                                  \
            check_failed++;                                                       \
            fprintf(stderr, "FAIL %s:%d: status %d (%s), want %d (%s) [%s]: ",   \
                    __FILE__, __LINE__, (int)got_, cls_strerror(got_), (int)(want), \
                    cls_strerror(want), cls_last_error());                        \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
        }                                                                         \
    } while (0)

/* Print the summary line and return the exit code for main(). */
static inline int check_summary(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
    return check_failed == 0 ? 0 : 1;
}

#endif
