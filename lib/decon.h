/* decon.h: decontamination by word n-gram overlap with evaluation sets.
 *
 * Texts are cut into words (runs of letters, digits and '_', lowercased);
 * every run of n consecutive words of an evaluation text goes into a set of
 * 64-bit hashes.  An evaluation text of fewer than n words goes in whole, as
 * a shorter n-gram, so that short questions are still found.  A document is
 * contaminated when it shares an n-gram with the set.  Hash collisions are
 * possible in principle (about 2^-64 per pair).
 *
 * Ownership: decon_new() gives a set the caller frees with decon_free().
 * Once built, a set may be queried from several threads at once. */
#ifndef SLUICE_DECON_H
#define SLUICE_DECON_H

#include <stddef.h>
#include <stdint.h>

typedef struct decon decon;

decon *decon_new(int n);                  /* n: words per n-gram, 1 to 64 */
void decon_free(decon *d);                /* accepts NULL */
void decon_add(decon *d, const uint8_t *s, size_t n);
size_t decon_size(const decon *d);        /* distinct n-grams held */
size_t decon_texts(const decon *d);       /* texts added */

/* Scratch for queries: one per thread. */
typedef struct decon_scratch decon_scratch;
decon_scratch *decon_scratch_new(void);
void decon_scratch_free(decon_scratch *s);

/* Number of n-grams of s[0..n) found in the set (0: clean). */
size_t decon_count(const decon *d, decon_scratch *sc, const uint8_t *s, size_t n);

#endif
