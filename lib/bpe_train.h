/* bpe_train.h: learn a byte-level BPE vocabulary from text.
 *
 * Text is split with a pre-tokenization pattern; the distinct pieces are
 * counted; then, starting from the 256 single bytes (id = byte value), the
 * most frequent adjacent pair of tokens is merged into a new token, again
 * and again, until the vocabulary has the size asked for.  Ties go to the
 * pair with the smaller ids, so the result depends on the text only.  The
 * vocabulary is written in tiktoken's format, ready for tok_load(). */
#ifndef SLUICE_BPE_TRAIN_H
#define SLUICE_BPE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

typedef struct bpe_trainer bpe_trainer;

bpe_trainer *bpe_train_new(const char *pattern, char *err, size_t errlen);
void bpe_train_free(bpe_trainer *t);                    /* accepts NULL */
/* Count the pieces of one document (valid UTF-8).  Returns 0, or -1. */
int bpe_train_add(bpe_trainer *t, const uint8_t *text, size_t n, char *err, size_t errlen);
/* Merge until the vocabulary has vocab_size tokens in all (the 256 bytes,
 * the merged tokens and <|endoftext|>), or no pair is left. */
int bpe_train_run(bpe_trainer *t, uint32_t vocab_size, char *err, size_t errlen);
uint32_t bpe_train_merges(const bpe_trainer *t);
/* Write PREFIX.tiktoken and PREFIX.json (name, pattern, and one special
 * token, <|endoftext|>, with the id after the last).  Each replaces an old
 * file whole: both are written and synced beside it first, so that a full
 * disk leaves the old ones.  Returns 0, or -1 with err ("FILE: problem"). */
int bpe_train_write(const bpe_trainer *t, const char *prefix, const char *name, char *err, size_t errlen);

#endif
