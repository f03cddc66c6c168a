/* shard.h: tokenized documents to training shards (doc/sequences.md).
 *
 * Documents are added source by source; shard_write() then decides the
 * split, the mixture and the order, and writes the shards and the manifest.
 * Every decision is a hash of the seed and a document's place in its
 * source (or of its id, for the split), so the result depends only on the
 * inputs and the options, not on memory, threads or timing:
 *
 *   split    validation if XXH3(id or tokens) falls below the fraction;
 *            independent of the seed, so reshuffling never moves a document
 *            between train and validation
 *   mixture  a source of weight w gets w / sum(w) of the training tokens;
 *            each document is taken floor(rate) times, and once more with
 *            probability frac(rate)
 *   order    the copies sorted by a seeded 64-bit key (a uniform shuffle)
 *
 * Token ids are held in memory up to opts.mem bytes, then spilled to a
 * temporary file and read back by offset, so the shuffle covers the whole
 * input in bounded memory: what stays in memory is 24 bytes per document
 * and 16 per copy written. */
#ifndef SLUICE_SHARD_H
#define SLUICE_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "llmc.h"

typedef struct shard_opts {
	uint32_t seq_len;        /* tokens per sequence, T + 1 */
	int sft;                 /* one example per sequence, padded and masked */
	int shuffle;
	uint64_t seed;
	double val_fraction;
	uint64_t shard_tokens;   /* tokens per output shard */
	uint64_t train_tokens;   /* after mixing; 0: the sum over the sources */
	uint64_t mem;            /* token bytes held before spilling */
	int llmc;                /* write llm.c .bin files instead of streams */
	int threads, level;      /* compression of the streams written */
	/* Called after each sequence written, with the number written so far
	 * in the split being written; NULL: not called. */
	void (*progress)(void *ctx, uint64_t written);
	void *progress_ctx;
} shard_opts;

/* Receives the counts of a write, by name ("train_sequences", "shards"). */
typedef void (*shard_count_fn)(void *ctx, const char *name, uint64_t n);

typedef struct shard shard;

/* Write into dir (created if missing).  Returns NULL with err. */
shard *shard_new(const shard_opts *o, const char *dir, char *err, size_t errlen);
void shard_free(shard *s);                               /* accepts NULL */

/* Vocabulary of a source: the first one named fixes it, later ones must
 * agree.  tokenizer may be NULL (unnamed); n_vocab 0 unknown; eot
 * UINT32_MAX unknown.  Returns 0, or -1 with err. */
int shard_vocab(shard *s, const char *tokenizer, uint64_t n_vocab, uint64_t eot, char *err, size_t errlen);
/* The chat template a source's conversations were rendered with (its name
 * and the JSON object of its control tokens' ids, as sluice-tokenize --chat
 * writes them in the stream header): the first one named is written in the
 * shards' headers and the manifest; a later source naming another template
 * or other ids is an error.  Returns 0, or -1 with err. */
int shard_chat(shard *s, const char *name, const char *tokens_json, char *err, size_t errlen);
/* The end-of-text id, or UINT32_MAX while unknown. */
uint32_t shard_eot(const shard *s);

/* Begin a source of this weight (< 0: none); the documents added next
 * belong to it.  Returns 0, or -1 with err (from the document it ends). */
int shard_source(shard *s, double weight, char *err, size_t errlen);
/* Name a file of the current source, for the manifest. */
void shard_source_file(shard *s, const char *name);
/* Add a document of the current source.  id (NULL: the tokens) decides its
 * split; mask (NULL: none) is kept for SFT.  Empty documents are counted
 * and skipped.  Returns 0, or -1 with err (a token id out of range). */
int shard_add(shard *s, const void *id, size_t id_len, const uint32_t *tok, size_t n, const uint8_t *mask,
	      char *err, size_t errlen);
/* Add the documents of an llm.c token file: the stream cut at each
 * end-of-text token.  A document the file ends in the middle of goes on in
 * the next file of the same source, as llm.c cuts its shards from one
 * stream.  Returns 0, or -1 with err. */
int shard_add_llmc(shard *s, llmc_reader *r, char *err, size_t errlen);

/* Plan, write the shards and then DIR/manifest.json.  The counts go to
 * count(ctx, ...) unless count is NULL.  Returns 0, or -1 with err. */
int shard_write(shard *s, shard_count_fn count, void *ctx, char *err, size_t errlen);
/* shard_write() in its two halves, for a caller with more to write before
 * the manifest marks the output complete: the shards (removing the old
 * manifest first; counts to count), then the manifest.  Each returns 0, or
 * -1 with err. */
int shard_write_data(shard *s, shard_count_fn count, void *ctx, char *err, size_t errlen);
int shard_write_manifest(shard *s, char *err, size_t errlen);

#endif
