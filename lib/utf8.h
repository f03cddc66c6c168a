/* utf8.h: UTF-8 as every tool checks, walks and repairs it.
 *
 * Valid means RFC 3629: no overlong forms, no surrogates (U+D800..DFFF), no
 * code point past U+10FFFF. */
#ifndef SLUICE_UTF8_H
#define SLUICE_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* The replacement character U+FFFD, encoded. */
#define UTF8_REPLACEMENT "\xEF\xBF\xBD"

/* Length of the valid multibyte character at s (s[0] >= 0x80, avail bytes
 * there), or 0 if it is not one.  The ranges allowed for the second byte
 * rule out overlong forms (E0, F0), surrogates (ED) and code points past
 * U+10FFFF (F4); a lead below C2 is a continuation byte or overlong. */
static inline size_t utf8_seq(const uint8_t *s, size_t avail)
{
	uint8_t c = s[0];
	if (c < 0xc2)
		return 0;
	if (c < 0xe0)
		return avail >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c < 0xf0) {
		uint8_t lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		return avail >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c < 0xf5) {
		uint8_t lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		return avail >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
		       (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* Length of the longest valid prefix of s[0..n): n if all of it is valid. */
size_t utf8_valid_prefix(const uint8_t *s, size_t n);

/* Decode the character at s[0..avail) (avail > 0) into *cp and return its
 * length; for invalid bytes store U+FFFD and return the length of the
 * invalid run that one replacement character stands for (see utf8_repair). */
size_t utf8_decode(const uint8_t *s, size_t avail, uint32_t *cp);

/* Encode cp (at most U+10FFFF) into out; returns its length, 1 to 4. */
size_t utf8_encode(uint32_t cp, uint8_t out[4]);

/* Append s[0..n) to out with every invalid sequence replaced by U+FFFD, one
 * per maximal invalid subpart (the Unicode recommendation, and what
 * Python's bytes.decode(errors="replace") does).  Returns the number of
 * replacements. */
size_t utf8_repair(buf *out, const uint8_t *s, size_t n);

#endif
