/* Shared helpers for the clscale subcommands. The CLI uses only the public
 * headers; this file holds what every command needs: error reporting with the
 * right exit codes, number parsing, JSON output, gnuplot and progress. */
#ifndef CLS_CLI_H
#define CLS_CLI_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include <cJSON.h>

#include "clscale.h"
#include "clscale/sys.h"

/* Exit codes: 0 success, 1 failure, 2 usage error. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Every subcommand has this signature; argv[0] is the subcommand name. */
typedef int (*cli_command_fn)(int argc, char **argv);

/* Print "clscale: error: <message>" on stderr; return CLI_FAIL / CLI_USAGE. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print a library failure: "clscale: error: <context>: <cls_last_error()>". */
int cli_status_error(cls_status status, const char *context);
/* Print "clscale: warning: <message>" on stderr. */
void cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Strict number parsing of option values; on failure print a usage error
 * naming the option and return 0. */
int cli_parse_int64(const char *option, const char *text, int64_t *out);
int cli_parse_int(const char *option, const char *text, int *out);
int cli_parse_double(const char *option, const char *text, double *out);
/* Comma-separated list of doubles; *out is malloc'd. */
int cli_parse_double_list(const char *option, const char *text, double **out, int *count);

/* ---- table-driven option parsing (use it for every new command) ----------
 *
 * A command describes its options in a table ended by {0}; cli_parse_options
 * walks argv (options before, between or after the positional arguments;
 * --name=value or --name value; unambiguous prefixes of a name; "--" ends the
 * options) and, for every problem, prints
 * "clscale: error: ..." plus a pointer to --help and returns CLI_USAGE (exit 2):
 * unknown options, missing values, values that do not parse, are not finite,
 * or are outside [min, max], and choices not in the list. -h / --help call
 * `usage` (on stdout) and return CLI_HELP: the command then exits 0.
 * Positional arguments, in their order, start at argv[*first_arg] (argv is
 * permuted: the options come first).
 *
 *     double eta = 0.1; int json = 0, loss = 0; const char *out = NULL;
 *     const cli_option opts[] = {
 *         CLI_DOUBLE("eta", &eta, 0, 10),        // range [0, 10]; NAN bounds: any finite
 *         CLI_FLAG("json", &json),
 *         CLI_STRING("out", &out),
 *         CLI_CHOICE("loss", &loss, "clip|siglip"),
 *         CLI_END};
 *     int first, rc = cli_parse_options("mycmd", opts, argc, argv, usage, &first);
 *     if (rc == CLI_HELP) return CLI_OK;
 *     if (rc) return rc;
 *
 * Destinations by kind: FLAG int* (set to 1), INT int*, INT64 int64_t*,
 * DOUBLE double*, STRING const char** (points into argv), CHOICE int* (the
 * index of the value in `choices`, a "|"-separated list such as "clip|siglip"),
 * DOUBLE_LIST double** (malloc'd; the caller frees) with its length in *count,
 * STRINGS const char** array of at least argc entries, appended to, length in
 * *count. BYTES int64_t*: a size >= 1 with an optional binary K/M/G suffix
 * ("512M" = 512 * 2^20). STRING_PAIR const char *[2]: an option followed by
 * two values ("--pairs A.npy B.npy"). `seen` (optional) is set to 1 when the option is given, so a command
 * can refuse options that do not apply ("--bias needs --loss siglip"). */
enum { CLI_HELP = -1 };
typedef enum {
    CLI_OPT_FLAG, CLI_OPT_INT, CLI_OPT_INT64, CLI_OPT_DOUBLE, CLI_OPT_STRING, CLI_OPT_CHOICE,
    CLI_OPT_DOUBLE_LIST, CLI_OPT_STRINGS, CLI_OPT_BYTES, CLI_OPT_STRING_PAIR
} cli_opt_kind;
typedef struct {
    const char *name;    /* long option name without "--" */
    cli_opt_kind kind;
    void *dest;
    double min, max;     /* inclusive bounds of INT, INT64, DOUBLE (and each list value) */
    int range;           /* 1: check [min, max] */
    const char *choices; /* CHOICE: "a|b|c" */
    int *count;          /* DOUBLE_LIST, STRINGS: number of values */
    int *seen;           /* optional: set to 1 when the option appears */
} cli_option;
#define CLI_OPT_(n, k, d, lo, hi, r, ch, cnt) \
    { .name = (n), .kind = (k), .dest = (d), .min = (lo), .max = (hi), .range = (r), .choices = (ch), .count = (cnt), .seen = NULL }
#define CLI_FLAG(n, d) CLI_OPT_(n, CLI_OPT_FLAG, d, 0, 0, 0, NULL, NULL)
#define CLI_STRING(n, d) CLI_OPT_(n, CLI_OPT_STRING, d, 0, 0, 0, NULL, NULL)
#define CLI_STRINGS(n, d, cnt) CLI_OPT_(n, CLI_OPT_STRINGS, d, 0, 0, 0, NULL, cnt)
#define CLI_CHOICE(n, d, ch) CLI_OPT_(n, CLI_OPT_CHOICE, d, 0, 0, 0, ch, NULL)
#define CLI_INT(n, d, lo, hi) CLI_OPT_(n, CLI_OPT_INT, d, lo, hi, !isnan((double)(lo)), NULL, NULL)
#define CLI_INT64(n, d, lo, hi) CLI_OPT_(n, CLI_OPT_INT64, d, lo, hi, !isnan((double)(lo)), NULL, NULL)
#define CLI_DOUBLE(n, d, lo, hi) CLI_OPT_(n, CLI_OPT_DOUBLE, d, lo, hi, !isnan((double)(lo)), NULL, NULL)
#define CLI_DOUBLE_LIST(n, d, cnt, lo, hi) CLI_OPT_(n, CLI_OPT_DOUBLE_LIST, d, lo, hi, !isnan((double)(lo)), NULL, cnt)
#define CLI_BYTES(n, d) CLI_OPT_(n, CLI_OPT_BYTES, d, 0, 0, 0, NULL, NULL)
#define CLI_STRING_PAIR(n, d) CLI_OPT_(n, CLI_OPT_STRING_PAIR, d, 0, 0, 0, NULL, NULL)
#define CLI_END { .name = NULL }
int cli_parse_options(const char *command, const cli_option *opts, int argc, char **argv,
                      void (*usage)(void), int *first_arg);

/* Print a JSON object as one line on stdout and delete it. */
void cli_json_print(cJSON *object);

/* gnuplot: 1 if it is on PATH. cli_gnuplot_run feeds it a script; if gnuplot
 * is absent, prints a note (not an error) and returns CLI_OK. */
int cli_gnuplot_available(void);
int cli_gnuplot_run(const char *script, const char *output_path);
/* The gnuplot "set terminal" line for an output path ending in .png or .svg;
 * NULL (after printing a usage error) for anything else. */
const char *cli_gnuplot_terminal(const char *output_path);

/* Building a gnuplot script: cli_gnuplot_open starts an open_memstream
 * script with the terminal and the quoted `set output` for `path` (NULL after
 * a usage error for a bad extension, or on out of memory); write the rest with
 * fprintf and cli_gnuplot_quote (a single-quoted gnuplot string, quotes
 * doubled: use it for every path or label); cli_gnuplot_finish closes the
 * stream, runs gnuplot and frees the script. cli_gnuplot_run says "wrote PATH"
 * on stderr when the plot was written. */
FILE *cli_gnuplot_open(const char *path, char **script, size_t *len);
void cli_gnuplot_quote(FILE *f, const char *text);
int cli_gnuplot_finish(FILE *f, char **script, const char *path);

/* Progress bar on stderr, shown only when stderr is a terminal. frac in [0,1];
 * call cli_progress_done() at the end. */
void cli_progress(const char *label, double frac);
void cli_progress_done(void);

/* Subcommands (one cmd_<name>.c each). */
int cmd_loss(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_bench_loss(int argc, char **argv);
int cmd_bench_gemm(int argc, char **argv);
int cmd_spectrum(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_sim_lcl(int argc, char **argv);
int cmd_sim_dynamics(int argc, char **argv);
int cmd_sim_featlearn(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_bench_train(int argc, char **argv);
int cmd_lab(int argc, char **argv);

#endif
