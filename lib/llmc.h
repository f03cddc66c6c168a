/* llmc.h: llm.c's token shards (.bin), so data moves between the projects.
 *
 * Layout, all little-endian: a header of 256 int32 -- [0] magic 20240520,
 * [1] version (1: tokens are uint16, as llm.c writes GPT-2 tokens; 2: tokens
 * are uint32), [2] token count, the rest 0 -- then the tokens.  The token
 * stream is documents joined by end-of-text tokens, each document preceded
 * by one. */
#ifndef SLUICE_LLMC_H
#define SLUICE_LLMC_H

#include <stddef.h>
#include <stdint.h>

#define LLMC_MAGIC 20240520
#define LLMC_HEADER_BYTES 1024
#define LLMC_MAX_TOKENS 2147483647u  /* the count is an int32 */

/* True if the first bytes p[0..n) start an llm.c token file. */
int llmc_sniff(const uint8_t *p, size_t n);

typedef struct llmc_reader llmc_reader;
/* Open path and check its header against its size.  Returns NULL with the
 * problem in err. */
llmc_reader *llmc_open(const char *path, char *err, size_t errlen);
int llmc_version(const llmc_reader *r);
uint64_t llmc_count(const llmc_reader *r);
/* Read up to max tokens into out.  Returns the number read (0 at the end),
 * or -1 with err. */
long llmc_read(llmc_reader *r, uint32_t *out, size_t max, char *err, size_t errlen);
void llmc_close(llmc_reader *r);                 /* accepts NULL */

typedef struct llmc_writer llmc_writer;
/* Create path for a file of the given version.  Returns NULL with err. */
llmc_writer *llmc_create(const char *path, int version, char *err, size_t errlen);
/* Append tokens.  Returns 0, or -1 with err: a write error, an id that does
 * not fit the version's width, or more than LLMC_MAX_TOKENS in all. */
int llmc_write(llmc_writer *w, const uint32_t *tok, size_t n, char *err, size_t errlen);
uint64_t llmc_written(const llmc_writer *w);
/* Write the header with the final count and close.  Returns 0, or -1 with
 * err.  The writer is freed either way. */
int llmc_finish(llmc_writer *w, char *err, size_t errlen);

#endif
