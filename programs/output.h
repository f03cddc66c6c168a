/* output.h: where a tool's records go: a record stream (the default between
 * tools), JSONL, or the text field one per line.
 *
 * The counterpart of input.h, so every tool writes the same formats with the
 * same checks: binary is refused on a terminal unless forced, write errors
 * (a full disk too) are reported with the output's name. */
#ifndef SLUICE_OUTPUT_H
#define SLUICE_OUTPUT_H

#include "record.h"
#include "stream.h"

typedef enum { OUTPUT_RECORDS, OUTPUT_JSONL, OUTPUT_TEXT } output_format;

typedef struct output output;

/* Open path (NULL or "-" for stdout).  opts applies to record streams (NULL
 * for the defaults); force allows binary on a terminal.  Returns NULL after
 * printing the error; *status is then the exit status to use.
 *
 * A path that names a regular file, or nothing yet, is written to a
 * temporary file beside it that output_close() renames over it only when
 * the run succeeded: a failed run leaves the old file, or none.  Other paths
 * (a pipe, a device) are written directly. */
output *output_open(const char *path, output_format fmt, const stream_writer_opts *opts, int force,
		    int *status);
/* Header metadata (a JSON object) of a record stream; ignored for the other
 * formats.  Only before the first record.  Returns 0, or -1 after a message. */
int output_set_meta(output *o, const char *json, size_t len);
/* Write r.  where names the record in messages about it ("FILE: record N").
 * Returns 0, or -1 after printing the error. */
int output_write(output *o, const rec *r, const char *where);
/* Finish and free; accepts NULL.  status is the tool's exit status so far:
 * EXIT_OK (0) completes the output (a record stream gets its trailer, a
 * file takes its place); anything else, or an earlier write error, aborts
 * it: no trailer, so every reader rejects the stream as cut short, and a
 * file is not put in place.  Returns 0, or -1 after printing the error (the
 * output is then not complete either). */
int output_close(output *o, int status);
const char *output_name(const output *o);
uint64_t output_records(const output *o);

#endif
