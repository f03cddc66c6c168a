/* textnorm.h: the text normalisation that deduplication compares.
 *
 * Each step is a flag; the default set follows datatrove's simplify_text()
 * (its defaults, in its order): lower case, numbers to "0", punctuation and
 * symbols to spaces, runs of white space to one space, diacritics removed.
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
#define TEXTNORM_DEFAULT (TEXTNORM_NFC | TEXTNORM_CASE | TEXTNORM_DIGITS | TEXTNORM_PUNCT | \
			  TEXTNORM_SPACE | TEXTNORM_ACCENTS)

/* Parse a comma-separated list of "nfc", "case", "digits", "punct", "space",
 * "accents", or one of "default", "none".  Returns 0, or -1 if a word is
 * unknown. */
int textnorm_parse(const char *spec, unsigned *flags);
/* The list form of flags ("case,punct,space"; "none"), in a static buffer. */
const char *textnorm_name(unsigned flags);

/* Replace out's contents by the normalised form of s[0..n).  Invalid UTF-8
 * is first repaired (U+FFFD per bad sequence). */
void textnorm_apply(buf *out, const uint8_t *s, size_t n, unsigned flags);

#endif
