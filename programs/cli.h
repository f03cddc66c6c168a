/* cli.h: conventions shared by every sluice tool.
 *
 *   errors   "sluice-NAME: FILE: what went wrong" on stderr
 *   exits    0 ok, 1 data or I/O error, 2 usage error
 *   binary   never written to a terminal unless forced
 *   progress a line on stderr, when it is a terminal or when forced
 *   summary  counts by name at the end: a line on stderr, or JSON (--stats FILE) */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "input.h"

enum { EXIT_OK = 0, EXIT_DATA = 1, EXIT_USAGE = 2 };

/* Set the program name used in messages ("sluice-cat"), and the library's
 * hooks: running out of memory prints "sluice-cat: out of memory" and exits
 * 1; the library's warnings print as cli_warn() does. */
void cli_init(const char *prog);
const char *cli_prog(void);

/* "prog: file: message\n", or "prog: message\n" when file is NULL.  A file
 * of NULL or "-" reads as "(stdin)" where it names an input. */
void cli_error(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "prog: message" and a hint to use --help; returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The usage error for a bad option value, the one message every option
 * gives: "invalid value for --NAME: 'ARG' (expected WHAT)", NAME the long
 * option of getopt_long's table whose val is c (or -c when none is), the
 * parenthesis only when expected is not NULL.  Returns EXIT_USAGE. */
int cli_bad_value(const struct option *opts, int c, const char *arg, const char *expected);
/* "Try 'prog --help' for more information." after getopt_long's own
 * message about an unknown option or a missing value.  Returns EXIT_USAGE. */
int cli_try_help(void);
/* A warning: as cli_error(), but not under --quiet. */
void cli_warn(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_version(void);
/* Close stdout, reporting a write error (a full disk is an error too).
 * Returns EXIT_OK or EXIT_DATA. */
int cli_close_stdout(void);
/* Display name of an input or output path: "(stdin)"/"(stdout)" for "-". */
const char *cli_name(const char *path, int output);

/* The options every tool shares, defined once: the same names, bound,
 * meaning and message in every tool that takes them (sluice(1), COMMON
 * OPTIONS).  A tool lists those it takes in its getopt_long table with the
 * CLI_OPTION_* entries and their letters in its short options (-o -j -J -f
 * -h -V), handles its own options in its switch and passes everything else
 * to cli_common_option():
 *
 *   -o, --output FILE      where the output goes (default: stdout)
 *   -j, --threads N        threads, 1 to CLI_THREADS_MAX
 *   -J, --jsonl            JSON lines out instead of records
 *   -f, --force            write binary records even to a terminal
 *       --quiet            no progress line, no summary, no warnings
 *       --progress         a progress line even when stderr is not a terminal
 *       --stats FILE       the summary counts as JSON to FILE ('-': stdout)
 *       --input-format F   auto, records, jsonl or text
 *   -h, --help / -V, --version */
#define CLI_THREADS_MAX 1024
enum { CLI_OPT_QUIET = 0x1000, CLI_OPT_PROGRESS, CLI_OPT_STATS, CLI_OPT_INPUT_FORMAT };
#define CLI_OPTION_OUTPUT { "output", required_argument, NULL, 'o' }
#define CLI_OPTION_THREADS { "threads", required_argument, NULL, 'j' }
#define CLI_OPTION_JSONL { "jsonl", no_argument, NULL, 'J' }
#define CLI_OPTION_FORCE { "force", no_argument, NULL, 'f' }
#define CLI_OPTION_QUIET { "quiet", no_argument, NULL, CLI_OPT_QUIET }
#define CLI_OPTION_PROGRESS { "progress", no_argument, NULL, CLI_OPT_PROGRESS }
#define CLI_OPTION_STATS { "stats", required_argument, NULL, CLI_OPT_STATS }
#define CLI_OPTION_INPUT_FORMAT { "input-format", required_argument, NULL, CLI_OPT_INPUT_FORMAT }
#define CLI_OPTIONS_END { "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, 'V' }, \
	{ NULL, 0, NULL, 0 }

typedef struct cli_common {
	const char *output;       /* -o; NULL: stdout */
	int threads;              /* -j; 0 when not given (each tool's default) */
	int jsonl;                /* -J */
	int force;                /* -f */
	int quiet;                /* --quiet */
	int progress;             /* -1 --quiet, 1 --progress, 0 neither: as cli_progress_init() */
	const char *stats;        /* --stats FILE; NULL: none */
	input_format in_fmt;      /* --input-format; INPUT_AUTO by default */
} cli_common;

/* getopt_long(), with getopt's own messages (an unknown option, a missing
 * value) under the program's name rather than the path it was run by. */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *opts);

/* Handle option c (getopt_long's return, arg its optarg) as a common one
 * into co: -h prints usage(stdout) and exits, -V the version.  Returns 0,
 * or EXIT_USAGE after the message for a bad value, an unknown option or a
 * missing value ('?'), or an option the tool's table has but neither it nor
 * this handles. */
int cli_common_option(cli_common *co, int c, const char *arg, const struct option *opts, void (*usage)(FILE *));

/* Parse a whole string as an unsigned number in [min, max].  With suffixes
 * allowed, K, M, G multiply by 2^10, 2^20, 2^30.  Returns 0, or -1. */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, int suffixes, uint64_t *out);
int cli_parse_int(const char *s, int min, int max, int *out);
int cli_parse_double(const char *s, double min, double max, double *out);

/* The input files after the options, argv[optind..argc): "-" (stdin) alone
 * when there are none.  *n gets their number. */
char **cli_inputs(int argc, char **argv, int optind, int *n);

/* input_open(), printing "FILE: cannot open: why" when it fails. */
input *cli_input_open(const char *path, input_format fmt);
/* Open an input (NULL or "-" is stdin) or output (NULL or "-" is stdout).
 * Returns a descriptor, or -1 after printing the error. */
int cli_open_input(const char *path);
int cli_open_output(const char *path);
/* Refuse to write binary to a terminal: returns -1 after a message. */
int cli_refuse_tty(int fd, int force);

/* Progress line.  mode: -1 never (--quiet), 1 always (--progress), 0 when
 * stderr is a terminal. */
typedef struct cli_progress {
	int on;
	double start, last;
	uint64_t calls;
} cli_progress;
void cli_progress_init(cli_progress *p, int mode);
void cli_progress_update(cli_progress *p, uint64_t records, uint64_t bytes);
void cli_progress_done(cli_progress *p);
/* cli_progress_update(p, n, 0) for the library's progress callbacks. */
void cli_progress_hook(void *p, uint64_t n);

/* Counts by name, in the order first added. */
typedef struct cli_counts cli_counts;
cli_counts *cli_counts_new(void);
void cli_counts_free(cli_counts *c);
void cli_counts_add(cli_counts *c, const char *name, uint64_t n);
uint64_t cli_counts_get(const cli_counts *c, const char *name);
/* cli_counts_add(c, name, n) for the library's count callbacks. */
void cli_counts_hook(void *c, const char *name, uint64_t n);
/* "prog: name N, name N" on f (the end-of-run summary). */
void cli_counts_print(const cli_counts *c, FILE *f);
/* Write the counts as a JSON object to path ("-" for stdout).
 * Returns 0, or -1 after printing the error. */
int cli_counts_write_json(const cli_counts *c, const char *path);

#endif
