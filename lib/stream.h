/* stream.h: the sluice record stream (format: sluice-stream(5)).
 *
 * A stream is a sequence of zstd frames: a header frame, one frame per block
 * of records, and a trailer frame with the record count and a hash, then
 * optionally a skippable frame holding an index of the blocks.  Records never
 * straddle a frame.
 *
 * Ownership: the caller owns readers and writers and ends them with
 * stream_reader_close() / stream_writer_close(); neither closes the file
 * descriptor. */
#ifndef SLUICE_STREAM_H
#define SLUICE_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "source.h"

#define STREAM_VERSION 1
#define STREAM_BLOCK_DEFAULT (1u << 20)
#define STREAM_BLOCK_MIN (4u << 10)
#define STREAM_BLOCK_MAX (64u << 20)
#define STREAM_META_MAX (16u << 20)

#if defined(__GNUC__)
#define MUST_CHECK __attribute__((warn_unused_result))
#else
#define MUST_CHECK
#endif

/* ---- writing ---- */

typedef struct stream_writer_opts {
	int level;          /* zstd level; default 3 */
	size_t block_size;  /* target uncompressed bytes of records per frame */
	int threads;        /* compression threads; 1 compresses inline */
	int index;          /* append a block index for random access */
} stream_writer_opts;

typedef struct stream_writer stream_writer;

/* opts may be NULL for the defaults. */
stream_writer *stream_writer_open(int fd, const stream_writer_opts *opts);
/* Set the header's metadata (a JSON object as text).  Only before the first
 * record; returns 0, or -1 if too late or too large. */
int stream_writer_set_meta(stream_writer *w, const char *json, size_t len) MUST_CHECK;
/* Append a record.  Returns 0, or -1 on a write error (errno says which). */
int stream_write(stream_writer *w, const rec *r) MUST_CHECK;
/* Flush, write the trailer (and index) and free the writer.  Returns 0, or
 * -1 if this or any earlier write failed (errno says which). */
int stream_writer_close(stream_writer *w) MUST_CHECK;
/* End a failed write: free the writer without writing the trailer (nor the
 * records still buffered), so that every reader rejects what was written as
 * cut short.  Accepts NULL. */
void stream_writer_abort(stream_writer *w);
uint64_t stream_writer_records(const stream_writer *w);

/* ---- reading ---- */

typedef struct stream_reader stream_reader;

/* Read a stream from a source positioned at its start (the reader takes
 * ownership of the source). */
stream_reader *stream_reader_open(source *src);
void stream_reader_close(stream_reader *r);           /* accepts NULL */

/* Read the next record into out (a view valid until the next call).
 * Returns 1 for a record, 0 at the verified end of the stream, -1 on error:
 * then stream_reader_error() says what and where. */
int stream_read(stream_reader *r, rec *out) MUST_CHECK;

/* Position the reader so the next record read is number n (0-based), using
 * the index at the end of a seekable input.  Call it before reading any
 * record.  Returns 0, or -1 with the reason in stream_reader_error(): if the
 * input has no usable index or n is past the end, nothing was consumed but
 * the header and reading can go on from the first record. */
int stream_reader_seek(stream_reader *r, uint64_t n) MUST_CHECK;

/* Read the header now rather than at the first record, so that its
 * metadata is known before reading or seeking.  Returns 0, or -1 with the
 * reason in stream_reader_error(). */
int stream_reader_header(stream_reader *r) MUST_CHECK;
/* "byte N (record M): what went wrong". */
const char *stream_reader_error(const stream_reader *r);
/* Header metadata of the first stream read (empty before the header).  The
 * header of every later stream of a concatenation must agree with it (see
 * stream_meta_agree), or reading fails there. */
const char *stream_reader_meta(const stream_reader *r, size_t *len);
uint64_t stream_reader_records(const stream_reader *r);  /* records read */
uint64_t stream_reader_blocks(const stream_reader *r);   /* blocks read */
uint64_t stream_reader_payload(const stream_reader *r);  /* record bytes read */
source *stream_reader_source(stream_reader *r);

/* Whether two headers' metadata agree on what the tools compare: the keys
 * tokenizer, n_vocab and eot (the vocabulary of the token ids), seq_len and
 * mode (the sequences a trainer reads), format and version (what the
 * records are).  A key absent from one and present in the other disagrees;
 * metadata that is not a JSON object agrees only with the same bytes.
 * Returns 1 if they agree, else 0 with the first difference in why
 * ("tokenizer \"shk\" here, \"gpt2\" before"). */
int stream_meta_agree(const char *first, size_t first_len, const char *later, size_t later_len, char *why,
		      size_t whylen);

/* The magic bytes that start a stream's content, for format detection. */
#define STREAM_MAGIC "SLUICE"
#define STREAM_MAGIC_LEN 6

#endif
