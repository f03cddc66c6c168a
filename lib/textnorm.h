/* textnorm.h: the text normalisation that deduplication compares.
 *
 * Each step is a flag.  TEXTNORM_DATATROVE is datatrove's simplify_text()
 * (its defaults, in its order): lower case, numbers to "0", punctuation and
 * symbols to spaces, runs of white space to one space, diacritics removed.
 * The default is the same without numbers to "0": texts that differ only
 * in their numbers ("Route 611" and "Route 618", the 1955 and the 1980
 * edition of a race) are different documents, not near duplicates.
 * Unicode data (case folding, decomposition, categories) comes from
 * utf8proc.  Text that is all ASCII takes a fast path with the same result.
 *
 * Ownership: the caller owns the output buffer. */
#ifndef SLUICE_TEXTNORM_H
#define SLUICE_TEXTNORM_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum {
	TEXTNORM_NFC     = 0x01, /* Unicode canonical composition */
	TEXTNORM_CASE    = 0x02, /* full case folding ("Straße" -> "strasse") */
	TEXTNORM_DIGITS  = 0x04, /* each number, digits with one optional decimal part, -> "0" */
	TEXTNORM_PUNCT   = 0x08, /* punctuation (P*) and symbols (S*) -> space */
	TEXTNORM_SPACE   = 0x10, /* white space and controls runs -> one space, trimmed */
	TEXTNORM_ACCENTS = 0x20, /* decompose and drop combining marks (Mn) */
};
#define TEXTNORM_DATATROVE (TEXTNORM_NFC | TEXTNORM_CASE | TEXTNORM_DIGITS | TEXTNORM_PUNCT | \
			    TEXTNORM_SPACE | TEXTNORM_ACCENTS)
#define TEXTNORM_DEFAULT (TEXTNORM_DATATROVE & ~TEXTNORM_DIGITS)
/* The steps that cannot make two texts with different content equal: the
 * only ones exact duplicates are compared under (numbers, punctuation and
 * accents carry content: "GPL-2+" is not "GPL-3+"). */
#define TEXTNORM_EXACT (TEXTNORM_NFC | TEXTNORM_CASE | TEXTNORM_SPACE)

/* Parse a comma-separated list of "nfc", "case", "digits", "punct", "space",
 * "accents", "default", "datatrove" (each a set of these), or "none".  Returns 0, or -1 if a word is
 * unknown. */
int textnorm_parse(const char *spec, unsigned *flags);
/* The list form of flags ("case,punct,space"; "none"), in a static buffer. */
const char *textnorm_name(unsigned flags);

/* Replace out's contents by the normalised form of s[0..n).  Invalid UTF-8
 * is first repaired (U+FFFD per bad sequence). */
void textnorm_apply(buf *out, const uint8_t *s, size_t n, unsigned flags);

#endif
