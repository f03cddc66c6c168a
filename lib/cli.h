/* cli.h: conventions shared by every sluice tool.
 *
 *   errors   "sluice-NAME: FILE: what went wrong" on stderr
 *   exits    0 ok, 1 data or I/O error, 2 usage error
 *   binary   never written to a terminal unless forced
 *   progress a line on stderr, when it is a terminal or when forced
 *   summary  counts by name at the end: a line on stderr, or JSON (--stats FILE) */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdint.h>
#include <stdio.h>

enum { EXIT_OK = 0, EXIT_DATA = 1, EXIT_USAGE = 2 };

/* Set the program name used in messages ("sluice-cat"). */
void cli_init(const char *prog);
const char *cli_prog(void);

/* "prog: file: message\n", or "prog: message\n" when file is NULL.  A file
 * of NULL or "-" reads as "(stdin)" where it names an input. */
void cli_error(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "prog: message" and a hint to use --help; returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The usage error for a bad option value: "invalid value for --NAME:
 * 'ARG'", NAME the long option of getopt_long's table whose val is c (or
 * -c when none is).  Returns EXIT_USAGE. */
struct option;
int cli_bad_value(const struct option *opts, int c, const char *arg);
void cli_version(void);
/* Close stdout, reporting a write error (a full disk is an error too).
 * Returns EXIT_OK or EXIT_DATA. */
int cli_close_stdout(void);
/* Display name of an input or output path: "(stdin)"/"(stdout)" for "-". */
const char *cli_name(const char *path, int output);

/* Parse a whole string as an unsigned number in [min, max].  With suffixes
 * allowed, K, M, G multiply by 2^10, 2^20, 2^30.  Returns 0, or -1. */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, int suffixes, uint64_t *out);
int cli_parse_int(const char *s, int min, int max, int *out);
int cli_parse_double(const char *s, double min, double max, double *out);

/* The input files after the options, argv[optind..argc): "-" (stdin) alone
 * when there are none.  *n gets their number. */
char **cli_inputs(int argc, char **argv, int optind, int *n);

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

/* Counts by name, in the order first added. */
typedef struct cli_counts cli_counts;
cli_counts *cli_counts_new(void);
void cli_counts_free(cli_counts *c);
void cli_counts_add(cli_counts *c, const char *name, uint64_t n);
uint64_t cli_counts_get(const cli_counts *c, const char *name);
/* "prog: name N, name N" on f (the end-of-run summary). */
void cli_counts_print(const cli_counts *c, FILE *f);
/* Write the counts as a JSON object to path ("-" for stdout).
 * Returns 0, or -1 after printing the error. */
int cli_counts_write_json(const cli_counts *c, const char *path);

double cli_now(void);

#endif
