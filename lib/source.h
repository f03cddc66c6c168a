/* source.h: a byte source over a file descriptor or memory that undoes zstd
 * compression when the input starts with a zstd frame, and keeps track of
 * where each zstd frame began so errors can name a byte offset.
 *
 * The caller owns the source and frees it with source_close(), which does not
 * close the descriptor. */
#ifndef SLUICE_SOURCE_H
#define SLUICE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct source source;

source *source_open_fd(int fd);
source *source_open_mem(const void *p, size_t n);   /* bytes must outlive it */
void source_close(source *s);                         /* accepts NULL */

/* Make up to n bytes available without consuming them; *p points at them.
 * Returns the count (less than n only at the end), or -1 on error. */
long source_peek(source *s, size_t n, const uint8_t **p);
/* Read exactly n bytes unless the input ends.  Returns the count, or -1. */
long source_read(source *s, void *dst, size_t n);
/* Read one line into line (without its '\n').  Returns 1 for a line, 0 at
 * the end, -1 on error (including a line longer than max bytes). */
int source_getline(source *s, buf *line, size_t max);

/* The descriptor read, or -1 for a memory source. */
int source_fd(const source *s);
/* Whether the input is zstd-compressed. */
int source_is_zstd(const source *s);
/* Decompressed bytes consumed so far. */
uint64_t source_pos(const source *s);
/* Byte offset, in the input as stored, of the zstd frame holding the
 * decompressed byte at pos (pos itself for uncompressed input). */
uint64_t source_input_offset(const source *s, uint64_t pos);
/* Bytes of input read so far, as stored. */
uint64_t source_input_bytes(const source *s);
/* Reposition a seekable descriptor at byte off of the input as stored, which
 * must be the start of a zstd frame (or any byte of uncompressed input).
 * Returns 0, or -1. */
int source_seek(source *s, uint64_t off);

/* The last error, as "byte N: what went wrong". */
const char *source_error(const source *s);
/* The same without the offset, which goes to *offset. */
const char *source_error_message(const source *s, uint64_t *offset);

#endif
