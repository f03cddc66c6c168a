/* words.c: NLTK-style English word splitting; Unicode classes via utf8proc. */
#include "words.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "utf8.h"

/* datatrove's PUNCTUATION_SET and TERMINAL_PUNCTUATION as code point ranges. */
static const uint32_t punct_ranges[][2] = {
	{ 0x0, 0x8 }, { 0xB, 0x1F }, { 0x21, 0x2F }, { 0x3A, 0x40 }, { 0x5B, 0x60 }, { 0x7B, 0x9F },
	{ 0xAB, 0xAB }, { 0xB4, 0xB4 }, { 0xBB, 0xBB }, { 0x589, 0x589 }, { 0x61D, 0x61F },
	{ 0x6D4, 0x6D4 }, { 0x700, 0x702 }, { 0x7F9, 0x7F9 }, { 0x837, 0x837 }, { 0x839, 0x839 },
	{ 0x83D, 0x83E }, { 0x964, 0x965 }, { 0x104A, 0x104B }, { 0x1362, 0x1362 }, { 0x1367, 0x1368 },
	{ 0x166E, 0x166E }, { 0x1735, 0x1736 }, { 0x17D4, 0x17D6 }, { 0x17D9, 0x17DA },
	{ 0x1803, 0x1803 }, { 0x1809, 0x1809 }, { 0x1944, 0x1945 }, { 0x1AA8, 0x1AAB },
	{ 0x1B5A, 0x1B5B }, { 0x1B5E, 0x1B5F }, { 0x1B7D, 0x1B7E }, { 0x1C3B, 0x1C3C },
	{ 0x1C7E, 0x1C7F }, { 0x2013, 0x2014 }, { 0x2019, 0x2019 }, { 0x201C, 0x201E },
	{ 0x2026, 0x2026 }, { 0x203C, 0x203D }, { 0x2047, 0x2049 }, { 0x2236, 0x2236 },
	{ 0x2501, 0x2501 }, { 0x25BA, 0x25BA }, { 0x2E2E, 0x2E2E }, { 0x2E3C, 0x2E3C },
	{ 0x2E53, 0x2E54 }, { 0x3001, 0x3002 }, { 0x3008, 0x300D }, { 0x3010, 0x3011 },
	{ 0xA4FF, 0xA4FF }, { 0xA60E, 0xA60F }, { 0xA6F3, 0xA6F3 }, { 0xA6F7, 0xA6F7 },
	{ 0xA876, 0xA877 }, { 0xA8CE, 0xA8CF }, { 0xA92F, 0xA92F }, { 0xA9C8, 0xA9C9 },
	{ 0xAA5D, 0xAA5F }, { 0xAAF0, 0xAAF1 }, { 0xABEB, 0xABEB }, { 0xFE52, 0xFE52 },
	{ 0xFE56, 0xFE57 }, { 0xFF01, 0xFF01 }, { 0xFF05, 0xFF05 }, { 0xFF08, 0xFF09 },
	{ 0xFF0C, 0xFF0C }, { 0xFF0E, 0xFF0E }, { 0xFF11, 0xFF11 }, { 0xFF1A, 0xFF1B },
	{ 0xFF1F, 0xFF1F }, { 0xFF5E, 0xFF5E }, { 0xFF61, 0xFF61 }, { 0x10A56, 0x10A57 },
	{ 0x10F55, 0x10F59 }, { 0x10F86, 0x10F89 }, { 0x11047, 0x11048 }, { 0x110BE, 0x110C1 },
	{ 0x11141, 0x11143 }, { 0x111C5, 0x111C6 }, { 0x111CD, 0x111CD }, { 0x111DE, 0x111DF },
	{ 0x11238, 0x11239 }, { 0x1123B, 0x1123C }, { 0x112A9, 0x112A9 }, { 0x1144B, 0x1144C },
	{ 0x115C2, 0x115C3 }, { 0x115C9, 0x115D7 }, { 0x11641, 0x11642 }, { 0x1173C, 0x1173E },
	{ 0x11944, 0x11944 }, { 0x11946, 0x11946 }, { 0x11A42, 0x11A43 }, { 0x11A9B, 0x11A9C },
	{ 0x11C41, 0x11C42 }, { 0x11EF7, 0x11EF8 }, { 0x11F43, 0x11F44 }, { 0x16A6E, 0x16A6F },
	{ 0x16AF5, 0x16AF5 }, { 0x16B37, 0x16B38 }, { 0x16B44, 0x16B44 }, { 0x16E98, 0x16E98 },
	{ 0x1BC9F, 0x1BC9F }, { 0x1DA88, 0x1DA88 },
};
static const uint32_t terminal_ranges[][2] = {
	{ 0x21, 0x21 }, { 0x2E, 0x2E }, { 0x3F, 0x3F }, { 0x589, 0x589 }, { 0x61D, 0x61F },
	{ 0x6D4, 0x6D4 }, { 0x700, 0x702 }, { 0x7F9, 0x7F9 }, { 0x837, 0x837 }, { 0x839, 0x839 },
	{ 0x83D, 0x83E }, { 0x964, 0x965 }, { 0x104A, 0x104B }, { 0x1362, 0x1362 }, { 0x1367, 0x1368 },
	{ 0x166E, 0x166E }, { 0x1735, 0x1736 }, { 0x17D4, 0x17D6 }, { 0x17D9, 0x17DA },
	{ 0x1803, 0x1803 }, { 0x1809, 0x1809 }, { 0x1944, 0x1945 }, { 0x1AA8, 0x1AAB },
	{ 0x1B5A, 0x1B5B }, { 0x1B5E, 0x1B5F }, { 0x1B7D, 0x1B7E }, { 0x1C3B, 0x1C3C },
	{ 0x1C7E, 0x1C7F }, { 0x203C, 0x203D }, { 0x2047, 0x2049 }, { 0x2E2E, 0x2E2E },
	{ 0x2E3C, 0x2E3C }, { 0x2E53, 0x2E54 }, { 0x3002, 0x3002 }, { 0xA4FF, 0xA4FF },
	{ 0xA60E, 0xA60F }, { 0xA6F3, 0xA6F3 }, { 0xA6F7, 0xA6F7 }, { 0xA876, 0xA877 },
	{ 0xA8CE, 0xA8CF }, { 0xA92F, 0xA92F }, { 0xA9C8, 0xA9C9 }, { 0xAA5D, 0xAA5F },
	{ 0xAAF0, 0xAAF1 }, { 0xABEB, 0xABEB }, { 0xFE52, 0xFE52 }, { 0xFE56, 0xFE57 },
	{ 0xFF01, 0xFF01 }, { 0xFF0E, 0xFF0E }, { 0xFF1F, 0xFF1F }, { 0xFF61, 0xFF61 },
	{ 0x10A56, 0x10A57 }, { 0x10F55, 0x10F59 }, { 0x10F86, 0x10F89 }, { 0x11047, 0x11048 },
	{ 0x110BE, 0x110C1 }, { 0x11141, 0x11143 }, { 0x111C5, 0x111C6 }, { 0x111CD, 0x111CD },
	{ 0x111DE, 0x111DF }, { 0x11238, 0x11239 }, { 0x1123B, 0x1123C }, { 0x112A9, 0x112A9 },
	{ 0x1144B, 0x1144C }, { 0x115C2, 0x115C3 }, { 0x115C9, 0x115D7 }, { 0x11641, 0x11642 },
	{ 0x1173C, 0x1173E }, { 0x11944, 0x11944 }, { 0x11946, 0x11946 }, { 0x11A42, 0x11A43 },
	{ 0x11A9B, 0x11A9C }, { 0x11C41, 0x11C42 }, { 0x11EF7, 0x11EF8 }, { 0x11F43, 0x11F44 },
	{ 0x16A6E, 0x16A6F }, { 0x16AF5, 0x16AF5 }, { 0x16B37, 0x16B38 }, { 0x16B44, 0x16B44 },
	{ 0x16E98, 0x16E98 }, { 0x1BC9F, 0x1BC9F }, { 0x1DA88, 0x1DA88 },
};

static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cp < r[mid][0])
			hi = mid;
		else if (cp > r[mid][1])
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

int words_is_punct(uint32_t cp)
{
	return in_ranges(punct_ranges, sizeof(punct_ranges) / sizeof(punct_ranges[0]), cp);
}

int words_is_terminal(uint32_t cp)
{
	return in_ranges(terminal_ranges, sizeof(terminal_ranges) / sizeof(terminal_ranges[0]), cp);
}

static utf8proc_category_t category(uint32_t cp)
{
	return cp > 0x10FFFF ? UTF8PROC_CATEGORY_CN : utf8proc_category((utf8proc_int32_t)cp);
}

int words_is_alpha(uint32_t cp)
{
	if (cp < 0x80)
		return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
	utf8proc_category_t c = category(cp);
	return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}

int words_is_digit(uint32_t cp)
{
	if (cp < 0x80)
		return cp >= '0' && cp <= '9';
	return category(cp) == UTF8PROC_CATEGORY_ND;
}

int words_is_word(uint32_t cp)
{
	if (cp < 0x80)
		return cp == '_' || (cp >= '0' && cp <= '9') || ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z');
	utf8proc_category_t c = category(cp);
	return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
	       (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
}

int words_is_space(uint32_t cp)
{
	switch (cp) {
	case ' ': case '\t': case '\n': case 0x0B: case 0x0C: case '\r':
	case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x85: case 0xA0:
	case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
		return 1;
	}
	return cp >= 0x2000 && cp <= 0x200A;
}

int words_is_upper(uint32_t cp)
{
	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z';
	return category(cp) == UTF8PROC_CATEGORY_LU;
}

int words_is_lower(uint32_t cp)
{
	if (cp < 0x80)
		return cp >= 'a' && cp <= 'z';
	return category(cp) == UTF8PROC_CATEGORY_LL;
}

uint32_t words_lower(uint32_t cp)
{
	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
	if (cp > 0x10FFFF)
		return cp;
	return (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
}

size_t words_chars(const uint8_t *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += (s[i] & 0xC0) != 0x80 || s[i] < 0x80;
	/* Continuation bytes of valid sequences are not characters; a stray
	 * continuation byte is (as Python's errors="replace" would make it). */
	return k;
}

/* ---- the splitter ---- */

static void push(words *w, const uint8_t *p, size_t len, size_t chars)
{
	if (!len)
		return;
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 256;
		w->v = xrealloc(w->v, w->cap * sizeof(*w->v));
	}
	w->v[w->n].off = (uint32_t)w->text.len;
	w->v[w->n].len = (uint32_t)len;
	w->v[w->n].chars = (uint32_t)chars;
	w->n++;
	buf_add(&w->text, p, len);
}

/* One chunk being split: its code points and their byte offsets. */
struct chunk {
	const uint8_t *s;      /* the chunk's bytes */
	const uint32_t *cp;
	const uint32_t *off;   /* off[i]: byte offset of cp[i]; off[n]: end */
	size_t n;
};

static void push_cps(words *w, const struct chunk *c, size_t a, size_t b)
{
	if (a < b)
		push(w, c->s + c->off[a], c->off[b] - c->off[a], b - a);
}

static int lower_eq(const struct chunk *c, size_t a, size_t b, const char *s)
{
	size_t n = strlen(s);
	if (b - a != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (words_lower(c->cp[a + i]) != (uint32_t)s[i])
			return 0;
	return 1;
}

/* Does "re|ve|ll|m|t|s|d|n" followed by a word boundary start at i? */
static int contraction_at(const struct chunk *c, size_t i, size_t end)
{
	static const char *const k[] = { "re", "ve", "ll", "m", "t", "s", "d", "n" };
	for (size_t j = 0; j < sizeof(k) / sizeof(k[0]); j++) {
		size_t n = strlen(k[j]);
		if (i + n <= end && lower_eq(c, i, i + n, k[j]) && (i + n == end || !words_is_word(c->cp[i + n])))
			return 1;
	}
	return 0;
}

static int suffix_is(const struct chunk *c, size_t a, size_t b, const char *s)
{
	size_t n = strlen(s);
	if (b - a < n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (c->cp[b - n + i] != (uint32_t)s[i])
			return 0;
	return 1;
}

/* A piece [a, b) holds no splitting punctuation; apply the apostrophe and
 * contraction rules and push its tokens. */
static void push_piece(words *w, const struct chunk *c, size_t a, size_t b)
{
	if (a >= b)
		return;
	/* Opening quote: ' not after a word character, before one that does not
	 * start a contraction. */
	for (size_t i = a; i + 1 < b; i++) {
		if (c->cp[i] == '\'' && (i == a || !words_is_word(c->cp[i - 1])) && words_is_word(c->cp[i + 1]) &&
		    !contraction_at(c, i + 1, b)) {
			push_cps(w, c, a, i + 1);
			a = i + 1;
		}
	}
	/* Ending clitics: 's 'm 'd and a bare ', then 'll 're 've n't. */
	size_t tail1 = b, tail2;
	static const char *const rule5[] = { "'s", "'S", "'m", "'M", "'d", "'D", "'" };
	static const char *const rule6[] = { "'ll", "'LL", "'re", "'RE", "'ve", "'VE", "n't", "N'T" };
	for (size_t j = 0; j < sizeof(rule5) / sizeof(rule5[0]); j++) {
		size_t n = strlen(rule5[j]);
		if (b - a > n && suffix_is(c, a, b, rule5[j]) && c->cp[b - n - 1] != '\'') {
			tail1 = b - n;
			break;
		}
	}
	tail2 = tail1;
	for (size_t j = 0; j < sizeof(rule6) / sizeof(rule6[0]); j++) {
		size_t n = strlen(rule6[j]);
		if (tail1 - a > n && suffix_is(c, a, tail1, rule6[j]) && c->cp[tail1 - n - 1] != '\'') {
			tail2 = tail1 - n;
			break;
		}
	}
	/* Whole-word contractions: cannot, gimme, gonna, gotta, lemme, wanna. */
	static const char *const two[][2] = {
		{ "can", "not" }, { "gim", "me" }, { "gon", "na" }, { "got", "ta" }, { "lem", "me" }, { "wan", "na" },
	};
	int done = 0;
	for (size_t j = 0; j < sizeof(two) / sizeof(two[0]) && !done; j++) {
		size_t n1 = strlen(two[j][0]), n2 = strlen(two[j][1]);
		if (tail2 - a == n1 + n2 && lower_eq(c, a, a + n1, two[j][0]) && lower_eq(c, a + n1, tail2, two[j][1])) {
			push_cps(w, c, a, a + n1);
			push_cps(w, c, a + n1, tail2);
			done = 1;
		}
	}
	if (!done)
		push_cps(w, c, a, tail2);
	push_cps(w, c, tail2, tail1);
	push_cps(w, c, tail1, b);
}

static int is_single(uint32_t x)
{
	switch (x) {
	case 0xAB: case 0x201C: case 0x2018: case 0x201E:   /* opening quotes */
	case 0xBB: case 0x201D: case 0x2019:                /* closing quotes */
	case ';': case '@': case '#': case '$': case '%': case '&':
	case '?': case '!': case '*':
	case '[': case ']': case '(': case ')': case '{': case '}': case '<': case '>':
		return 1;
	}
	return x >= 0x2012 && x <= 0x2015;
}

static int is_closer(uint32_t x)
{
	return x == ']' || x == ')' || x == '}' || x == '>' || x == '"' || x == '\'' || x == 0xBB ||
	       x == 0x201D || x == 0x2019;
}

/* Before a '"' or "''": is it an opening quote (``)?  Also when it follows
 * a sentence break inside the chunk ("?" or a period) and more than closing
 * punctuation follows: Punkt then starts the next sentence with it. */
static int opens(const struct chunk *c, size_t i, int prev_open)
{
	if (i == 0 || prev_open)
		return 1;
	uint32_t p = c->cp[i - 1];
	if (p == '?' || p == '!' || p == '.') {
		size_t j = i;
		while (j < c->n && is_closer(c->cp[j]))
			j++;
		if (j < c->n && (p != '.' || i < 2 || c->cp[i - 2] != '.'))
			return 1;
	}
	return p == '(' || p == '[' || p == '{' || p == '<' || p == 0xAB || p == 0x201C || p == 0x2018 ||
	       p == 0x201E || p == '`';
}

/* A period at i, followed in the chunk by punctuation Punkt ends a sentence
 * before ("end.*", "end.(2)"), unless only closing marks follow: those
 * Punkt moves back to the sentence, and the final-period rule applies. */
static int breaks_inside(const struct chunk *c, size_t i)
{
	uint32_t y = c->cp[i + 1];
	if (!strchr("?!)\";}]*:@'({[", (int)y) || y == 0)
		return 0;
	size_t j = i + 1;
	while (j < c->n && is_closer(c->cp[j]))
		j++;
	return j < c->n;
}

static void split_chunk(words *w, const struct chunk *c, int sentence_end)
{
	size_t n = c->n, piece = 0;
	size_t final_dot = (size_t)-1;
	if (sentence_end) {
		size_t e = n;
		while (e > 0 && is_closer(c->cp[e - 1]))
			e--;
		if (e > 0 && c->cp[e - 1] == '.' && !(e >= 2 && c->cp[e - 2] == '.'))
			final_dot = e - 1;
	}
	int prev_open = 0;
	for (size_t i = 0; i < n;) {
		uint32_t x = c->cp[i];
		size_t j = i + 1;
		int open_now = 0;
		if (i == final_dot) {
			/* the sentence's final period */
		} else if (is_single(x)) {
			open_now = x == 0xAB || x == 0x201C || x == 0x2018 || x == 0x201E;
		} else if (x == '`') {
			while (j < n && c->cp[j] == '`')
				j++;
			open_now = 1;
		} else if (x == '"' || (x == '\'' && i + 1 < n && c->cp[i + 1] == '\'')) {
			if (x == '\'')
				j = i + 2;
			push_piece(w, c, piece, i);
			if (opens(c, i, prev_open)) {
				push(w, (const uint8_t *)"``", 2, 2);
				prev_open = 0; /* a second '"' right after is a closing one */
			} else {
				push(w, (const uint8_t *)"''", 2, 2);
				prev_open = 0;
			}
			piece = i = j;
			continue;
		} else if (x == '-' && i + 1 < n && c->cp[i + 1] == '-') {
			j = i + 2;
		} else if (x == '.' && i + 1 < n && c->cp[i + 1] == '.') {
			while (j < n && c->cp[j] == '.')
				j++;
		} else if (x == '.' && i > 0 && c->cp[i - 1] != '.' && i + 1 < n && breaks_inside(c, i)) {
			/* a period Punkt ends a sentence at inside the chunk */
		} else if ((x == ',' || x == ':') && !(i + 1 < n && words_is_digit(c->cp[i + 1]))) {
			/* split unless a digit follows */
		} else {
			i++;
			prev_open = 0;
			continue;
		}
		push_piece(w, c, piece, i);
		push_cps(w, c, i, j);
		prev_open = open_now;
		piece = i = j;
	}
	push_piece(w, c, piece, n);
}

/* Untrained Punkt's verdict on a chunk ending in a period followed by
 * the chunk next[0..nn): a sentence break, unless the chunk is an initial
 * or a number and the next word does not look like a sentence start. */
static int numeric(const uint32_t *cp, size_t n)
{
	/* ^-?[.,]?\d[\d,.-]*\.?$ */
	size_t i = 0;
	if (i < n && cp[i] == '-')
		i++;
	if (i < n && (cp[i] == '.' || cp[i] == ','))
		i++;
	if (i >= n || !words_is_digit(cp[i]))
		return 0;
	for (i++; i < n; i++)
		if (!words_is_digit(cp[i]) && cp[i] != ',' && cp[i] != '.' && cp[i] != '-')
			return 0;
	return 1;
}

static int period_breaks(const struct chunk *c, uint32_t next_first, size_t next_len)
{
	size_t e = c->n;
	while (e > 0 && is_closer(c->cp[e - 1]))
		e--;
	if (e == 0 || c->cp[e - 1] != '.' || (e >= 2 && c->cp[e - 2] == '.'))
		return 0;
	if (e != c->n)
		return 1;
	int next_punct = next_len == 1 && (next_first == ';' || next_first == ':' || next_first == ',' ||
					   next_first == '.' || next_first == '!' || next_first == '?');
	/* Punkt splits leading punctuation off the token before it asks
	 * whether the rest is an initial or a number ("H. stays one word). */
	size_t b = 0;
	while (b < e && c->cp[b] < 0x80 && c->cp[b] && strchr("(\"`{[:;&#*@)}]-,", (int)c->cp[b]))
		b++;
	int initial = e - b == 2 && words_is_alpha(c->cp[b]);
	if (initial)
		return !(next_punct || words_is_lower(next_first) || words_is_upper(next_first));
	if (numeric(c->cp + b, e - b))
		return !(next_punct || words_is_lower(next_first));
	return 1;
}

static void decode_chunk(words *w, const uint8_t *s, size_t n, struct chunk *c)
{
	if (n + 1 > w->cps_cap) {
		w->cps_cap = n + 1 > 2 * w->cps_cap ? n + 1 : 2 * w->cps_cap;
		w->cps = xrealloc(w->cps, w->cps_cap * sizeof(*w->cps));
		w->offs = xrealloc(w->offs, w->cps_cap * sizeof(*w->offs));
	}
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = utf8_decode(s + i, n - i, &cp);
		w->cps[k] = cp;
		w->offs[k++] = (uint32_t)i;
		i += l;
	}
	w->offs[k] = (uint32_t)n;
	c->s = s;
	c->cp = w->cps;
	c->off = w->offs;
	c->n = k;
}

/* Length of the whitespace (Python isspace) at s[0..n), in bytes. */
static size_t space_len(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (s[i] < 0x80) {
			if (!words_is_space(s[i]))
				break;
			i++;
			continue;
		}
		uint32_t cp;
		size_t l = utf8_decode(s + i, n - i, &cp);
		if (!words_is_space(cp))
			break;
		i += l;
	}
	return i;
}

static size_t chunk_len(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (s[i] < 0x80) {
			if (words_is_space(s[i]))
				break;
			i++;
			continue;
		}
		uint32_t cp;
		size_t l = utf8_decode(s + i, n - i, &cp);
		if (words_is_space(cp))
			break;
		i += l;
	}
	return i;
}

void words_split(words *w, const uint8_t *s, size_t n)
{
	w->n = 0;
	buf_reset(&w->text);
	size_t i = space_len(s, n);
	while (i < n) {
		size_t len = chunk_len(s + i, n - i);
		size_t next = i + len;
		next += space_len(s + next, n - next);
		/* The first character of the next chunk decides Punkt's verdict. */
		uint32_t first = 0;
		size_t next_len = 0;
		if (next < n) {
			utf8_decode(s + next, n - next, &first);
			next_len = chunk_len(s + next, n - next);
		}
		struct chunk c;
		decode_chunk(w, s + i, len, &c);
		int end = next >= n || period_breaks(&c, first, next_len);
		split_chunk(w, &c, end);
		i = next;
	}
}

void words_release(words *w)
{
	buf_release(&w->text);
	free(w->v);
	free(w->cps);
	free(w->offs);
	memset(w, 0, sizeof(*w));
}
