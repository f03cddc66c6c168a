/* utf8.c: checking, decoding and repairing UTF-8. */
#include "utf8.h"

#include <string.h>

#define HIGHS 0x8080808080808080ull

static inline uint64_t load8(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

size_t utf8_valid_prefix(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (s[i] < 0x80) {
			/* Text is mostly ASCII: skip it 16, then 8 bytes at a time. */
			i++;
			while (n - i >= 16 && !((load8(s + i) | load8(s + i + 8)) & HIGHS))
				i += 16;
			if (n - i >= 8 && !(load8(s + i) & HIGHS))
				i += 8;
			continue;
		}
		size_t len = utf8_seq(s + i, n - i);
		if (!len)
			return i;
		i += len;
	}
	return n;
}

/* Length of the maximal invalid subpart at s: the longest prefix that could
 * still begin a valid character (at least 1 byte). */
static size_t invalid_run(const uint8_t *s, size_t avail)
{
	uint8_t c = s[0];
	size_t want;
	uint8_t lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c < 0xe0)
		want = 2;
	else if (c >= 0xe0 && c < 0xf0) {
		want = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c < 0xf5) {
		want = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else
		return 1;
	size_t k = 1;
	if (k < avail && s[k] >= lo && s[k] <= hi)
		for (k = 2; k < want && k < avail && (s[k] & 0xc0) == 0x80; k++)
			;
	return k;
}

size_t utf8_decode(const uint8_t *s, size_t avail, uint32_t *cp)
{
	uint8_t c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t len = utf8_seq(s, avail);
	switch (len) {
	case 2:
		*cp = (uint32_t)(c & 0x1f) << 6 | (s[1] & 0x3f);
		return 2;
	case 3:
		*cp = (uint32_t)(c & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
		return 3;
	case 4:
		*cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
		      (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
		return 4;
	}
	*cp = 0xfffd;
	return invalid_run(s, avail);
}

size_t utf8_encode(uint32_t cp, uint8_t out[4])
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

size_t utf8_repair(buf *out, const uint8_t *s, size_t n)
{
	size_t replaced = 0;
	while (n) {
		size_t ok = utf8_valid_prefix(s, n);
		buf_add(out, s, ok);
		s += ok;
		n -= ok;
		if (!n)
			break;
		size_t bad = invalid_run(s, n);
		buf_add(out, UTF8_REPLACEMENT, 3);
		replaced++;
		s += bad;
		n -= bad;
	}
	return replaced;
}
