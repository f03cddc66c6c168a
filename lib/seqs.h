/* seqs.h: reading training sequences (doc/sequences.md) for the trainer
 * and the evaluator.
 *
 * A sequence stream is a record stream from sluice-shard, or JSONL or
 * records with a "tokens" array (and optionally a "mask"), all of one
 * length.  The reader checks every record: the tokens field and its
 * length, the mask's length and values, and token ids against the model's
 * vocabulary.
 *
 * Ownership: the caller owns the reader (seqs_close accepts NULL); views
 * returned by seqs_next() stay valid until the next call. */
#ifndef SLUICE_SEQS_H
#define SLUICE_SEQS_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

typedef struct seqs_header {
	int present;                /* a record stream with metadata */
	char tokenizer[TOK_NAME_MAX];
	uint64_t n_vocab, eot, seq_len;
	char mode[16], split[16], dataset[24];
	char chat_template[16];     /* the chat template of the data, "" if none */
	int64_t shard;              /* -1 if absent */
} seqs_header;

typedef struct seqs seqs;

/* Open path (NULL or "-" is stdin) and read its header.  Returns NULL with
 * errno set if it cannot be opened; a malformed header shows at the first
 * seqs_next(). */
seqs *seqs_open(const char *path);
void seqs_close(seqs *s);
const seqs_header *seqs_hdr(const seqs *s);
const char *seqs_path(const seqs *s);
/* The model the sequences are for: reject token ids >= n_vocab and
 * sequences of more than n_ctx + 1 tokens (0: no limit). */
void seqs_set_model(seqs *s, uint64_t n_vocab, uint64_t n_ctx);

/* The next sequence: *tok gets seq_len ids, *mask seq_len bytes of 0 or 1
 * (NULL when the record has none: every token after the first is a
 * target).  Returns 1, 0 at the end, -1 on error (seqs_error()). */
int seqs_next(seqs *s, const uint32_t **tok, const uint8_t **mask, size_t *len);
/* Skip n records, through the stream's index where it has one.  Returns 0,
 * or -1 on error or if the input ends first. */
int seqs_skip(seqs *s, uint64_t n);
/* "record N: problem" or the input's own message. */
const char *seqs_error(const seqs *s);
uint64_t seqs_records(const seqs *s);

#endif
