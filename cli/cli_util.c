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
        double dv = cls_strtod_c(text, &end); /* '.' whatever the locale */
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
    double v = cls_strtod_c(text, &end); /* '.' whatever the locale */
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

static int check_range(const char *command, const cli_option *o, double v, const char *text)
{
    if (o->range && !(v >= o->min && v <= o->max)) {
        if (isinf(o->max) && o->min > 0 && o->min < 1e-200)
            cli_usage_error(command, "--%s: %s must be > 0", o->name, text);
        else if (isinf(o->max))
            cli_usage_error(command, "--%s: %s must be >= %g", o->name, text, o->min);
        else
            cli_usage_error(command, "--%s: %s is out of range [%g, %g]", o->name, text, o->min, o->max);
        return 0;
    }
    return 1;
}

/* Index of `value` in the "|"-separated list, -1 when absent. */
static int choice_index(const char *choices, const char *value)
{
    size_t n = strlen(value);
    int i = 0;
    for (const char *p = choices; p && *p; i++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, value, n) == 0) return i;
        p = bar ? bar + 1 : NULL;
    }
    return -1;
}

/* BYTES: an integer >= 1 with an optional binary K/M/G suffix. */
static int parse_bytes(const char *command, const char *name, const char *text, int64_t *out)
{
    char buf[64];
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof buf) return cli_parse_int64(name, text, out);
    memcpy(buf, text, n + 1);
    int64_t mul = 1;
    char last = buf[n - 1];
    if (last == 'K' || last == 'k') mul = (int64_t)1 << 10;
    if (last == 'M' || last == 'm') mul = (int64_t)1 << 20;
    if (last == 'G' || last == 'g') mul = (int64_t)1 << 30;
    if (mul > 1) buf[n - 1] = 0;
    int64_t v;
    if (!cli_parse_int64(name, buf, &v)) return 0;
    if (v < 1 || v > INT64_MAX / mul) {
        cli_usage_error(command, "%s %s: out of range", name, text);
        return 0;
    }
    *out = v * mul;
    return 1;
}

static int parse_value(const char *command, const cli_option *o, const char *arg)
{
    char name[80];
    snprintf(name, sizeof name, "--%s", o->name);
    switch (o->kind) {
    case CLI_OPT_FLAG: *(int *)o->dest = 1; return 1;
    case CLI_OPT_STRING: *(const char **)o->dest = arg; return 1;
    case CLI_OPT_STRINGS: ((const char **)o->dest)[(*o->count)++] = arg; return 1;
    case CLI_OPT_BYTES: return parse_bytes(command, name, arg, (int64_t *)o->dest);
    case CLI_OPT_STRING_PAIR: return 0; /* taken in cli_parse_options */
    case CLI_OPT_CHOICE: {
        int k = choice_index(o->choices, arg);
        if (k < 0) {
            cli_usage_error(command, "%s: '%s' is not one of %s", name, arg, o->choices);
            return 0;
        }
        *(int *)o->dest = k;
        return 1;
    }
    case CLI_OPT_INT: {
        int v;
        if (!cli_parse_int(name, arg, &v) || !check_range(command, o, v, arg)) return 0;
        *(int *)o->dest = v;
        return 1;
    }
    case CLI_OPT_INT64: {
        int64_t v;
        if (!cli_parse_int64(name, arg, &v) || !check_range(command, o, (double)v, arg)) return 0;
        *(int64_t *)o->dest = v;
        return 1;
    }
    case CLI_OPT_DOUBLE: {
        double v;
        if (!cli_parse_double(name, arg, &v) || !check_range(command, o, v, arg)) return 0;
        *(double *)o->dest = v;
        return 1;
    }
    case CLI_OPT_DOUBLE_LIST: {
        double *v = NULL;
        int n = 0;
        if (!cli_parse_double_list(name, arg, &v, &n)) return 0;
        for (int i = 0; i < n; i++) {
            char t[64];
            snprintf(t, sizeof t, "%g", v[i]);
            if (!check_range(command, o, v[i], t)) {
                free(v);
                return 0;
            }
        }
        free(*(double **)o->dest);
        *(double **)o->dest = v;
        *o->count = n;
        return 1;
    }
    }
    return 0;
}

/* The option named by the n characters at `name`: an exact match, else the
 * one option it is an unambiguous prefix of ("--temp" for "--temperature");
 * -1 when none, -2 when several. Index nopts is the built-in "help". */
static int find_option(const cli_option *opts, int nopts, const char *name, size_t n)
{
    int found = -1;
    for (int i = 0; i <= nopts; i++) {
        const char *o = i < nopts ? opts[i].name : "help";
        if (strncmp(o, name, n) != 0) continue;
        if (o[n] == 0) return i;
        found = found == -1 ? i : -2;
    }
    return found;
}

/* One option at argv[*i] (its value, if any, at argv[*i + 1]); advances *i
 * past what it used. CLI_OK, CLI_HELP or CLI_USAGE. */
static int parse_one(const char *command, const cli_option *opts, int nopts, int argc, char **argv,
                     int *i, void (*usage)(void))
{
    const char *a = argv[*i];
    if (strcmp(a, "-h") == 0) {
        if (usage) usage();
        return CLI_HELP;
    }
    if (a[1] != '-') return cli_usage_error(command, "unknown option '%s'", a);
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    int k = find_option(opts, nopts, name, len);
    if (k == -2) return cli_usage_error(command, "ambiguous option '%.*s'", (int)len + 2, a);
    if (k < 0) return cli_usage_error(command, "unknown option '%s'", a);
    if ((k == nopts || opts[k].kind == CLI_OPT_FLAG) && eq)
        return cli_usage_error(command, "%s takes no value", a);
    if (k == nopts) {
        if (usage) usage();
        return CLI_HELP;
    }
    const cli_option *o = &opts[k];
    if (o->seen) *o->seen = 1;
    if (o->kind == CLI_OPT_FLAG) return parse_value(command, o, NULL) ? CLI_OK : CLI_USAGE;
    const char *value = eq ? eq + 1 : NULL;
    if (!value) {
        if (*i + 1 >= argc) return cli_usage_error(command, "%s needs a value", a);
        value = argv[++*i];
    }
    if (o->kind == CLI_OPT_STRING_PAIR) {
        if (*i + 1 >= argc || argv[*i + 1][0] == '-')
            return cli_usage_error(command, "--%s needs two values", o->name);
        ((const char **)o->dest)[0] = value;
        ((const char **)o->dest)[1] = argv[++*i];
        return CLI_OK;
    }
    return parse_value(command, o, value) ? CLI_OK : CLI_USAGE;
}

int cli_parse_options(const char *command, const cli_option *opts, int argc, char **argv,
                      void (*usage)(void), int *first_arg)
{
    int n = 0;
    while (opts[n].name) n++;
    /* Options may come before, between or after the positional arguments
     * (which keep their order); "--" ends the options. On return argv holds
     * the options first and the positional arguments from argv[*first_arg]. */
    char **pos = malloc(((size_t)argc + 1) * sizeof *pos);
    if (!pos) return cli_error("out of memory");
    int npos = 0, out = 1, rc = CLI_OK, i = 1, start = 1;
    while (rc == CLI_OK && i < argc) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) { /* stays in front of the positional arguments */
            argv[out++] = argv[i++];
            break;
        }
        if (a[0] != '-' || a[1] == 0) {
            pos[npos++] = argv[i++];
            continue;
        }
        start = i;
        rc = parse_one(command, opts, n, argc, argv, &i, usage);
        if (rc == CLI_OK) {
            for (int j = start; j <= i; j++) argv[out++] = argv[j];
            i++;
        } else {
            i = start; /* argv stays a permutation: what is left keeps its place */
        }
    }
    while (i < argc) pos[npos++] = argv[i++];
    if (first_arg) *first_arg = out;
    memcpy(argv + out, pos, (size_t)npos * sizeof *pos);
    free(pos);
    return rc;
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
    fprintf(stderr, "wrote %s\n", output_path);
    return CLI_OK;
}

void cli_gnuplot_quote(FILE *f, const char *text)
{
    fputc('\'', f);
    for (const char *c = text ? text : ""; *c; c++) {
        if (*c == '\'') fputc('\'', f);
        if (*c != '\n') fputc(*c, f);
    }
    fputc('\'', f);
}

FILE *cli_gnuplot_open(const char *path, char **script, size_t *len)
{
    const char *term = cli_gnuplot_terminal(path);
    if (!term) return NULL;
    *script = NULL;
    FILE *f = open_memstream(script, len);
    if (!f) {
        cli_error("out of memory building the plot script");
        return NULL;
    }
    fprintf(f, "%s\nset output ", term);
    cli_gnuplot_quote(f, path);
    fputc('\n', f);
    return f;
}

int cli_gnuplot_finish(FILE *f, char **script, const char *path)
{
    int bad = ferror(f);
    /* open_memstream updates *script at fclose: read it only afterwards */
    if (fclose(f) != 0 || bad || !*script) {
        free(*script);
        *script = NULL;
        return cli_error("out of memory building the plot script for %s", path);
    }
    int rc = cli_gnuplot_run(*script, path);
    free(*script);
    *script = NULL;
    return rc;
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
