/* input.h: read records from whatever a user hands a tool.
 *
 * Every tool reads through this, so every tool accepts the same inputs: a
 * sluice record stream (zstd-compressed, or its uncompressed content as
 * zstdcat prints it), JSONL (one object per line, "text" plus any keys), or
 * plain text (one record per line, as a "text" field) -- JSONL and text also
 * zstd-compressed.  The format is detected from the first bytes unless the
 * caller names it.
 *
 * The caller owns the input and ends it with input_close(), which closes the
 * descriptor unless it is stdin. */
#ifndef SLUICE_INPUT_H
#define SLUICE_INPUT_H

#include <stdint.h>

#include "record.h"
#include "stream.h"

typedef enum { INPUT_AUTO, INPUT_RECORDS, INPUT_JSONL, INPUT_TEXT } input_format;

typedef struct input input;

/* Open path (NULL or "-" for stdin).  Returns NULL with errno set if the
 * file cannot be opened; format problems show at the first read.
 *
 * Detection (INPUT_AUTO): the stream magic (after any zstd layer) means a
 * record stream; else, past a UTF-8 byte order mark (skipped in JSONL and
 * text whatever the format) and blank lines, '{' means JSONL, anything else
 * text -- unless a later line among the first 16 in the first 4 KiB is a
 * JSON object, which makes the input JSONL with a bad first line: an error
 * naming both lines. */
input *input_open(const char *path, input_format fmt);
input *input_open_mem(const void *p, size_t n, input_format fmt);
void input_close(input *in);                     /* accepts NULL */

/* Read the next record into r (valid until the next call).  Returns 1 for a
 * record, 0 at the end, -1 on error: input_error() says what and where,
 * without the file name ("line 4, column 9: ..."; "byte N (record M): ..."). */
int input_read(input *in, rec *r);
const char *input_error(const input *in);
/* Repair text that cannot be held as UTF-8 rather than fail on it (the
 * default): bytes that are not valid UTF-8 in a text line, in a JSONL
 * string or in a string field of a record stream, and raw NUL bytes and
 * \u escapes of lone surrogates in JSONL strings, each become U+FFFD (one
 * per maximal invalid sequence, as utf8_repair() counts).  A NUL byte in a
 * text line stays an error (binary input). */
void input_repair_utf8(input *in);
/* After input_read() returned a record: NULL if nothing in it was repaired,
 * else where the first repair was, without the file name ("line 3, column
 * 9: invalid UTF-8"), so that a strict tool can reject the record. */
const char *input_repaired(const input *in);
uint64_t input_replaced(const input *in);        /* U+FFFD substitutions */
/* Skip to record n of a record stream through its index, before any read.
 * Returns 0 if done, -1 if not possible (not a stream, no index, not a
 * file): then nothing has been consumed and reading starts at record 0. */
int input_seek(input *in, uint64_t n);

/* Parse "auto", "records", "jsonl" or "text"; returns -1 if none. */
int input_format_parse(const char *s, input_format *out);
const char *input_format_name(input_format f);
/* The format in use (detected at the first read). */
input_format input_detected(const input *in);
const char *input_path(const input *in);        /* as displayed */
/* Stream header metadata ("" unless a record stream with metadata). */
const char *input_meta(input *in, size_t *len);

uint64_t input_records(const input *in);         /* records returned */
uint64_t input_blank_lines(const input *in);     /* JSONL blank lines skipped */
uint64_t input_bytes(const input *in);           /* bytes read as stored */
stream_reader *input_stream(input *in);          /* NULL unless records */

#endif
