/* Shared helpers for the clscale subcommands. The CLI uses only the public
 * headers; this file holds what every command needs: error reporting with the
 * right exit codes, number parsing, JSON output, gnuplot and progress. */
#ifndef CLS_CLI_H
#define CLS_CLI_H

#include <stdint.h>

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

/* Print a JSON object as one line on stdout and delete it. */
void cli_json_print(cJSON *object);

/* gnuplot: 1 if it is on PATH. cli_gnuplot_run feeds it a script; if gnuplot
 * is absent, prints a note (not an error) and returns CLI_OK. */
int cli_gnuplot_available(void);
int cli_gnuplot_run(const char *script, const char *output_path);
/* The gnuplot "set terminal" line for an output path ending in .png or .svg;
 * NULL (after printing a usage error) for anything else. */
const char *cli_gnuplot_terminal(const char *output_path);

/* Progress bar on stderr, shown only when stderr is a terminal. frac in [0,1];
 * call cli_progress_done() at the end. */
void cli_progress(const char *label, double frac);
void cli_progress_done(void);

/* Subcommands (one cmd_<name>.c each). */
int cmd_loss(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_bench_loss(int argc, char **argv);
int cmd_spectrum(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_sim_lcl(int argc, char **argv);
int cmd_sim_dynamics(int argc, char **argv);
int cmd_sim_featlearn(int argc, char **argv);

#endif
