/* minhash.h: MinHash signatures of word n-gram shingles, with LSH bands.
 *
 * A text (already normalised, see textnorm.h) is split into words at
 * spaces; each run of n consecutive words is a shingle (a text of fewer
 * than n words, but at least one, is one shingle of all its words).  Each
 * word is hashed with XXH3-64 and each shingle is the XXH3-64 of its words'
 * hashes.  Hash function k of the signature maps a shingle h to
 * (a_k * h + b_k) >> 32 over 64-bit integers (multiply-shift, a_k odd),
 * a_k and b_k drawn from a splitmix64 sequence started at the seed; the
 * signature keeps each function's minimum over the shingles.
 *
 * The signature is bands x rows values.  A band's key is the XXH3-64 of its
 * rows; two texts that share a band key are LSH candidates.  Besides the
 * keys, a signature keeps the low 8 bits of each value ("b-bit minwise
 * hashing", Li and Koenig 2010), from which the Jaccard similarity of two
 * texts is estimated in a tenth of the space of full values.
 *
 * Ownership: the caller owns a minhash and frees it with minhash_free(). */
#ifndef SLUICE_MINHASH_H
#define SLUICE_MINHASH_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define MINHASH_MAX_HASHES 1024

typedef struct minhash minhash;

/* ngram >= 1, bands * rows hashes in 1..MINHASH_MAX_HASHES.  NULL if the
 * parameters are out of range. */
minhash *minhash_new(int ngram, int bands, int rows, uint64_t seed);
void minhash_free(minhash *m);                       /* accepts NULL */
int minhash_bands(const minhash *m);
int minhash_rows(const minhash *m);

/* Sign the normalised text s[0..n): write bands band keys to keys and
 * bands*rows low bytes to low8.  If shingles is not NULL, replace its
 * contents by the text's distinct shingles as sorted uint32_t values (the
 * low half of each shingle hash: exact enough for a Jaccard check).
 * scratch is working space the caller keeps between calls (one per
 * thread).  Returns the number of shingles, repeats included; 0 for a text with no words, when keys and
 * low8 are left zero and the text takes no part in near-duplicate search. */
size_t minhash_sign(const minhash *m, const uint8_t *s, size_t n, uint64_t *keys, uint8_t *low8,
		    buf *shingles, buf *scratch);

/* The number of words of s[0..n) as minhash_sign() splits it (runs of
 * characters other than the space). */
size_t minhash_words(const uint8_t *s, size_t n);

/* Estimated Jaccard similarity from two low-byte signatures of k values:
 * the share of equal bytes corrected for chance agreement (1/256), at
 * least 0. */
double minhash_estimate(const uint8_t *a, const uint8_t *b, size_t k);

/* Exact Jaccard similarity of two sorted sets of distinct values; 1 when
 * both are empty. */
double minhash_jaccard(const uint32_t *a, size_t na, const uint32_t *b, size_t nb);

#endif
