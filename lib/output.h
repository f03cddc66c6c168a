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
 * printing the error; *status is then the exit status to use. */
output *output_open(const char *path, output_format fmt, const stream_writer_opts *opts, int force,
		    int *status);
/* Header metadata (a JSON object) of a record stream; ignored for the other
 * formats.  Only before the first record.  Returns 0, or -1 after a message. */
int output_set_meta(output *o, const char *json, size_t len);
/* Write r.  where names the record in messages about it ("FILE: record N").
 * Returns 0, or -1 after printing the error. */
int output_write(output *o, const rec *r, const char *where);
/* Flush, close and free.  Returns 0, or -1 after printing the error. */
int output_close(output *o);
const char *output_name(const output *o);
uint64_t output_records(const output *o);

#endif
