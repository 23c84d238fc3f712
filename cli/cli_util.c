/* Helpers shared by the subcommands: errors, parsing, JSON, gnuplot, progress. */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("clscale: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_FAIL;
}

int cli_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    fputs("clscale: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'clscale %s --help')\n", command ? command : "");
    return CLI_USAGE;
}

int cli_status_error(cls_status status, const char *context)
{
    const char *msg = cls_last_error();
    if (!msg[0]) msg = cls_strerror(status);
    if (context && context[0])
        fprintf(stderr, "clscale: error: %s: %s\n", context, msg);
    else
        fprintf(stderr, "clscale: error: %s\n", msg);
    return CLI_FAIL;
}

void cli_warning(const char *fmt, ...)
{
    va_list ap;
    fputs("clscale: warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_parse_int64(const char *option, const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    if (!text || !*text) {
        cli_error("%s needs an integer value", option);
        return 0;
    }
    long long v = strtoll(text, &end, 10);
    /* Accept integral scientific notation such as 1e6 too. */
    if (*end == 'e' || *end == 'E' || *end == '.') {
        double dv = strtod(text, &end);
        if (*end || !isfinite(dv) || dv != floor(dv) || fabs(dv) > 9.0e18) {
            cli_error("%s: '%s' is not an integer", option, text);
            return 0;
        }
        v = (long long)dv;
    } else if (*end || errno) {
        cli_error("%s: '%s' is not an integer", option, text);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_int(const char *option, const char *text, int *out)
{
    int64_t v;
    if (!cli_parse_int64(option, text, &v)) return 0;
    if (v < -2147483647 || v > 2147483647) {
        cli_error("%s: '%s' is out of range", option, text);
        return 0;
    }
    *out = (int)v;
    return 1;
}

int cli_parse_double(const char *option, const char *text, double *out)
{
    char *end;
    errno = 0;
    if (!text || !*text) {
        cli_error("%s needs a number", option);
        return 0;
    }
    double v = strtod(text, &end);
    if (*end || errno == ERANGE || !isfinite(v)) {
        cli_error("%s: '%s' is not a finite number", option, text);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_double_list(const char *option, const char *text, double **out, int *count)
{
    if (!text || !*text) {
        cli_error("%s needs a comma-separated list of numbers", option);
        return 0;
    }
    int n = 1;
    for (const char *p = text; *p; p++) n += (*p == ',');
    double *v = malloc((size_t)n * sizeof *v);
    char *copy = strdup(text);
    if (!v || !copy) {
        free(v);
        free(copy);
        cli_error("out of memory");
        return 0;
    }
    int k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!cli_parse_double(option, tok, &v[k])) {
            free(v);
            free(copy);
            return 0;
        }
        k++;
    }
    free(copy);
    if (k == 0) {
        free(v);
        cli_error("%s needs at least one number", option);
        return 0;
    }
    *out = v;
    *count = k;
    return 1;
}

void cli_json_print(cJSON *object)
{
    char *text = cJSON_PrintUnformatted(object);
    if (text) {
        fputs(text, stdout);
        fputc('\n', stdout);
        free(text);
    }
    cJSON_Delete(object);
}

int cli_gnuplot_available(void)
{
    return system("command -v gnuplot > /dev/null 2>&1") == 0;
}

const char *cli_gnuplot_terminal(const char *output_path)
{
    size_t n = output_path ? strlen(output_path) : 0;
    if (n > 4 && strcmp(output_path + n - 4, ".png") == 0)
        return "set terminal pngcairo size 900,600 enhanced font 'sans,10'";
    if (n > 4 && strcmp(output_path + n - 4, ".svg") == 0)
        return "set terminal svg size 900,600 enhanced font 'sans,10'";
    cli_error("plot file '%s' must end in .png or .svg", output_path ? output_path : "");
    return NULL;
}

int cli_gnuplot_run(const char *script, const char *output_path)
{
    if (!cli_gnuplot_available()) {
        fprintf(stderr, "clscale: note: gnuplot is not installed; no plot written to %s "
                        "(apt-get install gnuplot-nox)\n", output_path);
        return CLI_OK;
    }
    FILE *p = popen("gnuplot 2>&1", "w");
    if (!p) return cli_error("cannot start gnuplot");
    fputs(script, p);
    int rc = pclose(p);
    if (rc != 0) return cli_error("gnuplot failed while writing %s", output_path);
    return CLI_OK;
}

static int progress_shown = 0;

void cli_progress(const char *label, double frac)
{
    if (!isatty(STDERR_FILENO)) return;
    if (frac < 0) frac = 0;
    if (frac > 1) frac = 1;
    int width = 30, filled = (int)(frac * width + 0.5);
    fprintf(stderr, "\r%s [", label);
    for (int i = 0; i < width; i++) fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %3.0f%%", 100.0 * frac);
    fflush(stderr);
    progress_shown = 1;
}

void cli_progress_done(void)
{
    if (progress_shown && isatty(STDERR_FILENO)) fputs("\r\033[K", stderr);
    progress_shown = 0;
}
