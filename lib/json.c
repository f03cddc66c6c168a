/* json.c: a strict JSON line parser, and a writer that gives the same bytes
 * back in the style the parser noted in the record's flags.
 *
 * Both run over every byte of a corpus, so strings are scanned 16 bytes a
 * step (SSE2) or 8 (SWAR: bit tricks on a uint64_t), UTF-8 is checked on
 * the way rather than in a pass of its own, and appends to buffers make no
 * function call when there is room. */
#include "json.h"
#include "utf8.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h> /* part of every x86-64 compiler, not a library */
#endif

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define PRINTF_LIKE(f, a)
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#endif

/* ============================== SWAR helpers ============================== */

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline uint64_t load8(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8); /* byte order does not matter: we only ask "any byte?" */
	return v;
}

/* Nonzero if some byte of v is below n (n <= 128).  Exact as a yes/no
 * answer; of the flagged bytes only the lowest is sure to be right. */
static inline uint64_t any_below(uint64_t v, uint8_t n)
{
	return (v - ONES * n) & ~v & HIGHS;
}

static inline uint64_t any_equal(uint64_t v, uint8_t c)
{
	return any_below(v ^ (ONES * c), 1);
}

/* Index of the first flagged byte of a nonzero any_*() mask.  Exact: a
 * false positive can only sit above a true one.  Where the byte order is
 * not known, 0, and the caller's byte loop finds the byte. */
static inline size_t first_flagged(uint64_t m)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (size_t)__builtin_ctzll(m) >> 3;
#else
	(void)m;
	return 0;
#endif
}

/* Where a string's fast scan stops, from s[i] on (n at the end): '"', '\\',
 * a control character, a non-ASCII byte (to check as UTF-8), and with
 * slash '/', with del DEL.  16 bytes a step with SSE2, else 8 with SWAR. */
static inline size_t scan_plain(const uint8_t *s, size_t i, size_t n, int slash, int del)
{
#if defined(__SSE2__) && defined(__GNUC__)
	const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1f);
	const __m128i sl = _mm_set1_epi8('/'), dl = _mm_set1_epi8(0x7f);
	while (n - i >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash));
		hit = _mm_or_si128(hit, _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl)); /* v <= 0x1f */
		if (slash)
			hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, sl));
		if (del)
			hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, dl));
		/* The sign bits of v are the non-ASCII bytes. */
		unsigned m = (unsigned)(_mm_movemask_epi8(hit) | _mm_movemask_epi8(v));
		if (m)
			return i + (size_t)__builtin_ctz(m);
		i += 16;
	}
#endif
	while (n - i >= 8) {
		uint64_t v = load8(s + i);
		uint64_t hit = any_below(v, 0x20) | any_equal(v, '"') | any_equal(v, '\\') | (v & HIGHS);
		if (slash)
			hit |= any_equal(v, '/');
		if (del)
			hit |= any_equal(v, 0x7f);
		if (hit) {
			i += first_flagged(hit);
			break;
		}
		i += 8;
	}
	while (i < n) {
		uint8_t c = s[i];
		if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80 || (slash && c == '/') || (del && c == 0x7f))
			break;
		i++;
	}
	return i;
}

/* Append without a call when there is room: most appends are short. */
static inline void put(buf *b, const void *p, size_t n)
{
	if (UNLIKELY(b->cap - b->len < n))
		buf_grow(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static inline void putc1(buf *b, uint8_t c)
{
	if (UNLIKELY(b->cap == b->len))
		buf_grow(b, 1);
	b->data[b->len++] = c;
}

/* ================================ parsing ================================ */

/* Lines are parsed into the serialized record form (see record.h) in a
 * buffer of our own, then copied into the caller's record in one go: that
 * keeps a line with many members linear in time, where adding fields one
 * by one with rec_set() would search and re-index the record each time. */

enum { KEY_OTHER, KEY_TEXT, KEY_TOKENS, KEY_MASK };

/* Up to this many members, duplicate keys are found by a linear search;
 * past it, by a hash table. */
#define KEYS_LINEAR 16

/* Keep no more than this much memory from one line to the next. */
#define KEEP_MAX (16u << 20)

struct parser {
	const uint8_t *start, *end;
	char *err;
	size_t errlen;
	uint8_t flags;
	buf out;               /* the record being built, serialized */
	size_t *keys;          /* offset in out of each member's field header */
	size_t nkeys, keys_cap;
	size_t *table;         /* key index + 1, or 0 for an empty slot */
	size_t table_size, table_keys;
	rec *view;             /* a view of out, to hand to rec_copy() */
	json_repair *rep;      /* repairing: lone surrogate escapes become U+FFFD */
	buf fixed;             /* the line with invalid UTF-8 and NULs repaired */
};

/* The API has no context argument; per-thread state keeps the buffers warm
 * from line to line without locking. */
static _Thread_local struct parser tls_parser;

/* A thread that ends gives its state back: a pool's worker threads that
 * parse (chat conversations, say) would otherwise leave it behind.  The
 * key's destructor runs at thread exit, before the thread's own storage
 * goes. */
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static _Thread_local int tls_registered;

static void parser_release(void *p)
{
	struct parser *ps = p;
	buf_release(&ps->out);
	buf_release(&ps->fixed);
	free(ps->keys);
	free(ps->table);
	rec_free(ps->view);
	memset(ps, 0, sizeof(*ps));
}

static void make_key(void)
{
	pthread_key_create(&tls_key, parser_release);
}

/* This thread's parser state. */
static struct parser *thread_parser(void)
{
	if (!tls_registered) {
		pthread_once(&tls_once, make_key);
		pthread_setspecific(tls_key, &tls_parser);
		tls_registered = 1;
	}
	return &tls_parser;
}

PRINTF_LIKE(3, 4)
static int fail(struct parser *ps, const uint8_t *at, const char *fmt, ...)
{
	va_list ap;
	if (!ps->errlen)
		return -1;
	int n = snprintf(ps->err, ps->errlen, "column %zu: ", (size_t)(at - ps->start) + 1);
	if (n >= 0 && (size_t)n < ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static inline const uint8_t *skip_ws(const uint8_t *p, const uint8_t *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static inline int is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Hex digit values plus one; 0 for bytes that are not hex digits. */
static const uint8_t hex_plus1[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
	['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* The 4 hex digits of a \u escape at p (which has 4 bytes), or -1. */
static inline long hex4(const uint8_t *p)
{
	unsigned a = hex_plus1[p[0]], b = hex_plus1[p[1]], c = hex_plus1[p[2]], d = hex_plus1[p[3]];
	if (!a || !b || !c || !d)
		return -1;
	return (long)((a - 1) << 12 | (b - 1) << 8 | (c - 1) << 4 | (d - 1));
}

static uint8_t *utf8_put(uint8_t *q, uint32_t cp)
{
	if (cp < 0x80) {
		*q++ = (uint8_t)cp;
	} else if (cp < 0x800) {
		*q++ = (uint8_t)(0xc0 | cp >> 6);
		*q++ = (uint8_t)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*q++ = (uint8_t)(0xe0 | cp >> 12);
		*q++ = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		*q++ = (uint8_t)(0x80 | (cp & 0x3f));
	} else {
		*q++ = (uint8_t)(0xf0 | cp >> 18);
		*q++ = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
		*q++ = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		*q++ = (uint8_t)(0x80 | (cp & 0x3f));
	}
	return q;
}

/* Count a replacement at byte offset at; the first one names the place. */
static void note_repair(json_repair *rep, size_t at, const char *what)
{
	if (!rep->replaced++ || at + 1 < rep->column) {
		rep->column = at + 1;
		rep->what = what;
	}
}

/* A byte that a string's fast scan stops at: the end of a run of plain
 * bytes, or the start of a multibyte character to check. */
static inline int str_special(uint8_t c)
{
	return c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
}

/* The string whose opening quote is at p: checked, and decoded onto the end
 * of out unless out is NULL.  Returns the end of the string (past the
 * closing quote), or NULL after fail().  UTF-8 is checked here, the only
 * place in a line where non-ASCII can be valid, rather than in a pass of
 * its own. */
static const uint8_t *scan_string(struct parser *ps, const uint8_t *p, buf *out)
{
	const uint8_t *open = p, *end = ps->end;
	uint8_t *q = NULL;
	p++;
	if (out) {
		/* Decoding never lengthens a string, so this is room enough and
		 * the loop below can store without checks. */
		buf_grow(out, (size_t)(end - p));
		q = out->data + out->len;
	}
	for (;;) {
		const uint8_t *run = p;
		for (;;) {
			p += scan_plain(p, 0, (size_t)(end - p), 0, 0);
			/* Multibyte characters stay in the run. */
			while (p < end && *p >= 0x80) {
				size_t len = utf8_seq(p, (size_t)(end - p));
				if (!len) {
					fail(ps, p, "invalid UTF-8");
					return NULL;
				}
				p += len;
			}
			if (p == end || str_special(*p))
				break;
		}
		if (q) {
			memcpy(q, run, (size_t)(p - run));
			q += p - run;
		}
		if (UNLIKELY(p == end)) {
			fail(ps, open, "unterminated string");
			return NULL;
		}
		if (*p == '"')
			break;
		if (*p != '\\') {
			fail(ps, p, "unescaped control character 0x%02x in a string", *p);
			return NULL;
		}
		if (end - p < 2) {
			fail(ps, open, "unterminated string");
			return NULL;
		}
		uint8_t c;
		switch (p[1]) {
		case '"': c = '"'; break;
		case '\\': c = '\\'; break;
		case '/': c = '/'; ps->flags |= REC_JSON_SLASH; break;
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u': {
			long cp = end - p >= 6 ? hex4(p + 2) : -1;
			if (cp < 0) {
				fail(ps, p, "invalid \\u escape");
				return NULL;
			}
			const uint8_t *esc = p;
			p += 6;
			if (cp >= 0xd800 && cp <= 0xdfff) {
				/* Only a high surrogate followed by a low one makes a
				 * character. */
				long lo = cp <= 0xdbff && end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2) : -1;
				if ((lo < 0xdc00 || lo > 0xdfff) && ps->rep) {
					note_repair(ps->rep, (size_t)(esc - ps->start), "lone surrogate escape");
					cp = 0xfffd;
				} else if (lo < 0xdc00 || lo > 0xdfff) {
					fail(ps, esc, "invalid surrogate escape");
					return NULL;
				} else {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					p += 6;
				}
			}
			if (cp >= 0x7f)
				ps->flags |= REC_JSON_ASCII;
			if (q)
				q = utf8_put(q, (uint32_t)cp);
			continue;
		}
		default:
			if (p[1] >= 0x20 && p[1] < 0x7f)
				fail(ps, p, "invalid escape '\\%c'", p[1]);
			else
				fail(ps, p, "invalid escape");
			return NULL;
		}
		if (q)
			*q++ = c;
		p += 2;
	}
	if (out)
		out->len = (size_t)(q - out->data);
	return p + 1;
}

static const uint8_t *scan_number(struct parser *ps, const uint8_t *p)
{
	const uint8_t *s = p, *end = ps->end;
	if (*p == '-')
		p++;
	if (p == end || !is_digit(*p)) {
		fail(ps, s, "invalid number");
		return NULL;
	}
	if (*p == '0') {
		if (++p < end && is_digit(*p)) {
			fail(ps, s, "invalid number (leading zero)");
			return NULL;
		}
	} else {
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && *p == '.') {
		if (++p == end || !is_digit(*p)) {
			fail(ps, s, "invalid number (no digit after '.')");
			return NULL;
		}
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !is_digit(*p)) {
			fail(ps, s, "invalid number (no digit in the exponent)");
			return NULL;
		}
		while (p < end && is_digit(*p))
			p++;
	}
	return p;
}

static const uint8_t *scan_literal(struct parser *ps, const uint8_t *p, const char *word, size_t n)
{
	if ((size_t)(ps->end - p) < n || memcmp(p, word, n) != 0) {
		fail(ps, p, "invalid literal (expected %s)", word);
		return NULL;
	}
	return p + n;
}

/* A key and its colon inside a nested object; returns the place after the
 * colon.  Nested keys are checked but not stored (the value is kept
 * verbatim), and not checked for duplicates. */
static const uint8_t *scan_key(struct parser *ps, const uint8_t *p)
{
	if (p == ps->end || *p != '"') {
		fail(ps, p, "expected a string key");
		return NULL;
	}
	if (!(p = scan_string(ps, p, NULL)))
		return NULL;
	p = skip_ws(p, ps->end);
	if (p == ps->end || *p != ':') {
		fail(ps, p, "expected ':' after the key");
		return NULL;
	}
	return p + 1;
}

static void fail_unexpected(struct parser *ps, const uint8_t *p)
{
	if (p == ps->end)
		fail(ps, p, "unexpected end of line, expected a value");
	else if (*p >= 0x20 && *p < 0x7f)
		fail(ps, p, "unexpected character '%c', expected a value", *p);
	else
		fail(ps, p, "unexpected byte 0x%02x, expected a value", *p);
}

/* Check the value at p, which sits inside depth levels of brackets, and
 * return its end.  Iterative, with its own stack of open brackets, so that
 * deep nesting costs no C stack. */
static const uint8_t *scan_value(struct parser *ps, const uint8_t *p, int depth)
{
	const uint8_t *end = ps->end;
	uint8_t open[JSON_DEPTH_MAX];
	int n = 0;
	for (;;) {
		p = skip_ws(p, end);
		if (p == end) {
			fail_unexpected(ps, p);
			return NULL;
		}
		switch (*p) {
		case '"':
			p = scan_string(ps, p, NULL);
			break;
		case '{':
		case '[': {
			if (depth + n >= JSON_DEPTH_MAX) {
				fail(ps, p, "nesting deeper than %d", JSON_DEPTH_MAX);
				return NULL;
			}
			uint8_t close = *p == '{' ? '}' : ']';
			p = skip_ws(p + 1, end);
			if (p < end && *p == close) {
				p++;
				break;
			}
			open[n++] = close;
			if (close == '}' && !(p = scan_key(ps, p)))
				return NULL;
			continue; /* on to the first member's or element's value */
		}
		case 't':
			p = scan_literal(ps, p, "true", 4);
			break;
		case 'f':
			p = scan_literal(ps, p, "false", 5);
			break;
		case 'n':
			p = scan_literal(ps, p, "null", 4);
			break;
		default:
			if (*p != '-' && !is_digit(*p)) {
				fail_unexpected(ps, p);
				return NULL;
			}
			p = scan_number(ps, p);
		}
		if (!p)
			return NULL;
		/* A value is complete: close brackets, or go on to the next one. */
		for (;;) {
			if (n == 0)
				return p;
			uint8_t close = open[n - 1];
			p = skip_ws(p, end);
			if (p < end && *p == ',') {
				p = skip_ws(p + 1, end);
				if (close == '}' && !(p = scan_key(ps, p)))
					return NULL;
				break;
			}
			if (p < end && *p == close) {
				p++;
				n--;
				continue;
			}
			fail(ps, p, close == '}' ? "expected ',' or '}' after object member" :
			     "expected ',' or ']' after array element");
			return NULL;
		}
	}
}

/* The "tokens" or "mask" array at p, as width-byte little-endian values
 * appended to out. */
static const uint8_t *scan_uints(struct parser *ps, const uint8_t *p, const char *key, uint32_t max, int width)
{
	const uint8_t *end = ps->end;
	buf *out = &ps->out;
	if (p == end || *p != '[')
		goto bad;
	p = skip_ws(p + 1, end);
	if (p < end && *p == ']')
		return p + 1;
	for (;;) {
		const uint8_t *at = p;
		/* "-0" is the integer 0 too, as JSON readers take it. */
		if (end - p >= 2 && p[0] == '-' && p[1] == '0')
			p++;
		const uint8_t *s = p;
		uint64_t v = 0;
		unsigned d;
		/* 11 digits hold any uint32 with room to see it overflow. */
		while (p < end && (d = (unsigned)*p - '0') < 10 && p - s < 11) {
			v = v * 10 + d;
			p++;
		}
		if (p == s || v > max || (p - s > 1 && *s == '0') ||
		    (p < end && (is_digit(*p) || *p == '.' || *p == 'e' || *p == 'E'))) {
			p = at;
			goto bad;
		}
		if (width == 4) {
			if (UNLIKELY(out->cap - out->len < 4))
				buf_grow(out, 4);
			store_u32le(out->data + out->len, (uint32_t)v);
			out->len += 4;
		} else {
			putc1(out, (uint8_t)v);
		}
		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == ']')
			return p + 1;
		fail(ps, p, "expected ',' or ']' after array element");
		return NULL;
	}
bad:
	fail(ps, p, "\"%s\" must be an array of integers from 0 to %lu", key, (unsigned long)max);
	return NULL;
}

static uint64_t key_hash(const uint8_t *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h ^ h >> 29;
}

/* Find key k (by its field header's offset in out) among keys[0..k), or
 * add it to the hash table.  Returns 1 if it is a duplicate. */
static int table_find_or_add(struct parser *ps, size_t k)
{
	const uint8_t *d = ps->out.data;
	size_t off = ps->keys[k], len = d[off + 1];
	size_t mask = ps->table_size - 1, i = (size_t)key_hash(d + off + 2, len) & mask;
	for (; ps->table[i]; i = (i + 1) & mask) {
		size_t o = ps->keys[ps->table[i] - 1];
		if (d[o + 1] == len && memcmp(d + o + 2, d + off + 2, len) == 0)
			return 1;
	}
	ps->table[i] = k + 1;
	ps->table_keys++;
	return 0;
}

/* Note the key whose field header is at off; returns 1 if the line has
 * had it before. */
static int key_seen(struct parser *ps, size_t off)
{
	if (ps->nkeys == ps->keys_cap) {
		ps->keys_cap = ps->keys_cap ? ps->keys_cap * 2 : 64;
		ps->keys = xrealloc(ps->keys, ps->keys_cap * sizeof(*ps->keys));
	}
	size_t k = ps->nkeys++;
	ps->keys[k] = off;
	const uint8_t *d = ps->out.data;
	size_t len = d[off + 1];
	if (k < KEYS_LINEAR) {
		for (size_t i = 0; i < k; i++) {
			size_t o = ps->keys[i];
			if (d[o + 1] == len && memcmp(d + o + 2, d + off + 2, len) == 0)
				return 1;
		}
		return 0;
	}
	if (ps->table_keys == 0 || 2 * (k + 1) > ps->table_size) {
		/* (Re)build the table, half empty, from every key so far. */
		size_t size = ps->table_size ? ps->table_size : 4 * KEYS_LINEAR;
		while (2 * (k + 1) > size)
			size *= 2;
		if (size != ps->table_size) {
			free(ps->table);
			ps->table = xmalloc(size * sizeof(*ps->table));
			ps->table_size = size;
		}
		memset(ps->table, 0, size * sizeof(*ps->table));
		ps->table_keys = 0;
		for (size_t i = 0; i < k; i++)
			table_find_or_add(ps, i);
	}
	return table_find_or_add(ps, k);
}

/* A key for an error message: control characters would garble a terminal. */
static void printable_key(char *dst, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = s[i] < 0x20 || s[i] == 0x7f ? '?' : (char)s[i];
	dst[n] = '\0';
}

static int parse_members(struct parser *ps, const uint8_t *p)
{
	const uint8_t *end = ps->end;
	buf *out = &ps->out;
	p = skip_ws(p, end);
	if (p < end && *p == '}')
		goto close;
	for (;;) {
		/* The field header: type and name length are filled in later. */
		const uint8_t *kat = p;
		if (p == end || *p != '"')
			return fail(ps, p, "expected a string key");
		size_t hdr = out->len;
		put(out, "\0", 2);
		if (!(p = scan_string(ps, p, out)))
			return -1;
		size_t klen = out->len - hdr - 2;
		if (klen > REC_NAME_MAX)
			return fail(ps, kat, "key longer than %d bytes", REC_NAME_MAX);
		out->data[hdr + 1] = (uint8_t)klen;
		if (key_seen(ps, hdr)) {
			char key[REC_NAME_MAX + 1];
			printable_key(key, out->data + hdr + 2, klen);
			return fail(ps, kat, "duplicate key '%s'", key);
		}
		const uint8_t *name = out->data + hdr + 2;
		int kind = KEY_OTHER;
		if (klen == 4 && memcmp(name, "text", 4) == 0)
			kind = KEY_TEXT;
		else if (klen == 6 && memcmp(name, "tokens", 6) == 0)
			kind = KEY_TOKENS;
		else if (klen == 4 && memcmp(name, "mask", 4) == 0)
			kind = KEY_MASK;

		p = skip_ws(p, end);
		if (p == end || *p != ':')
			return fail(ps, p, "expected ':' after the key");
		p++;
		/* The style of the first separator is the style of the line. */
		if (ps->nkeys == 1 && (p == end || *p != ' '))
			ps->flags |= REC_JSON_COMPACT;
		p = skip_ws(p, end);

		const uint8_t *vat = p;
		size_t lenpos = out->len;
		uint8_t type;
		put(out, "\0\0\0", 4);
		if (kind == KEY_TOKENS) {
			type = REC_U32S;
			p = scan_uints(ps, p, "tokens", UINT32_MAX, 4);
		} else if (kind == KEY_MASK) {
			type = REC_U8S;
			p = scan_uints(ps, p, "mask", 255, 1);
		} else if (p < end && *p == '"') {
			type = REC_STR;
			p = scan_string(ps, p, out);
		} else if (kind == KEY_TEXT) {
			return fail(ps, vat, "\"text\" must be a string");
		} else {
			type = REC_JSON;
			if ((p = scan_value(ps, p, 1)))
				put(out, vat, (size_t)(p - vat));
		}
		if (!p)
			return -1;
		if (out->len > REC_MAX_BYTES)
			return fail(ps, vat, "record larger than %u bytes", REC_MAX_BYTES);
		out->data[hdr] = type;
		store_u32le(out->data + lenpos, (uint32_t)(out->len - lenpos - 4));

		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			break;
		return fail(ps, p, "expected ',' or '}' after object member");
	}
close:
	p = skip_ws(p + 1, end);
	if (p < end)
		return fail(ps, p, "trailing characters after the object");
	return 0;
}

static int parse_line(struct parser *ps, rec *r, const char *line, size_t len, char *err, size_t errlen);

int json_parse_line(rec *r, const char *line, size_t len, char *err, size_t errlen)
{
	struct parser *ps = thread_parser();
	ps->rep = NULL;
	return parse_line(ps, r, line, len, err, errlen);
}

int json_parse_line_repair(rec *r, const char *line, size_t len, json_repair *rep, char *err, size_t errlen)
{
	struct parser *ps = thread_parser();
	const uint8_t *s = (const uint8_t *)line;
	memset(rep, 0, sizeof(*rep));
	ps->rep = rep;
	size_t ok = utf8_valid_prefix(s, len);
	const uint8_t *nul = memchr(s, 0, ok);
	if (ok == len && !nul) {
		int ret = parse_line(ps, r, line, len, err, errlen);
		ps->rep = NULL;
		return ret;
	}
	/* Invalid UTF-8 and NUL bytes become U+FFFD before parsing: inside a
	 * string that is the repair; outside one, an error either way.  The
	 * line up to the first of them is the same, so the column of the
	 * first replacement is right for the line as given. */
	size_t i = nul ? (size_t)(nul - s) : ok;
	buf *f = &ps->fixed;
	buf_reset(f);
	buf_add(f, s, i);
	while (i < len) {
		size_t run = i;
		while (run < len && s[run] && (s[run] < 0x80 || utf8_seq(s + run, len - run)))
			run += s[run] < 0x80 ? 1 : utf8_seq(s + run, len - run);
		buf_add(f, s + i, run - i);
		if (run == len)
			break;
		uint32_t cp;
		size_t n = s[run] ? utf8_decode(s + run, len - run, &cp) : 1;
		note_repair(rep, run, s[run] ? "invalid UTF-8" : "NUL byte");
		buf_add(f, UTF8_REPLACEMENT, 3);
		i = run + n;
	}
	int ret = parse_line(ps, r, (const char *)f->data, f->len, err, errlen);
	ps->rep = NULL;
	if (f->cap > KEEP_MAX)
		buf_release(f);
	return ret;
}

static int parse_line(struct parser *ps, rec *r, const char *line, size_t len, char *err, size_t errlen)
{
	const uint8_t *p = (const uint8_t *)line;
	ps->start = p;
	ps->end = p + len;
	ps->err = err;
	ps->errlen = errlen;
	ps->flags = 0;
	ps->nkeys = 0;
	ps->table_keys = 0;
	if (errlen)
		err[0] = '\0';
	rec_clear(r); /* on error too: never a half-parsed record */

	int ret;
	p = skip_ws(p, ps->end);
	if (p == ps->end) {
		snprintf(err, errlen, "empty line");
		return -1;
	} else if (*p != '{') {
		ret = fail(ps, p, "expected a JSON object");
	} else {
		buf_reset(&ps->out);
		putc1(&ps->out, 0); /* the flags byte, known at the end */
		ret = parse_members(ps, p + 1);
	}
	if (ret < 0) {
		/* Strings were checked as UTF-8 as they came; a parsed line is
		 * valid throughout, since any non-ASCII byte outside a string
		 * is a syntax error.  A bad line may have invalid UTF-8 further
		 * on: that is the error to report, as the more basic one. */
		size_t ok = utf8_valid_prefix((const uint8_t *)line, len);
		if (ok < len)
			fail(ps, (const uint8_t *)line + ok, "invalid UTF-8");
	} else {
		ps->out.data[0] = ps->flags;
		if (!ps->view)
			ps->view = rec_new();
		char why[128];
		/* The bytes were built to the format, so this cannot fail unless
		 * record.c and this file disagree about it. */
		if (rec_parse(ps->view, ps->out.data, ps->out.len, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "internal error: %s", why);
			ret = -1;
		} else {
			rec_copy(r, ps->view);
		}
	}
	/* A huge one-off line should not pin its memory. */
	if (ps->out.cap > KEEP_MAX) {
		buf_release(&ps->out);
		if (ps->view)
			rec_clear(ps->view); /* it pointed into out */
	}
	if (ps->keys_cap > KEEP_MAX / sizeof(size_t)) {
		free(ps->keys);
		free(ps->table);
		ps->keys = ps->table = NULL;
		ps->keys_cap = ps->table_size = 0;
	}
	return ret;
}

int json_parse_strings(const char *text, size_t len, buf *out, size_t *count, char *err, size_t errlen)
{
	struct parser *ps = thread_parser();
	const uint8_t *p = (const uint8_t *)text;
	ps->rep = NULL;
	ps->start = p;
	ps->end = p + len;
	ps->err = err;
	ps->errlen = errlen;
	*count = 0;
	p = skip_ws(p, ps->end);
	if (p == ps->end || *p != '[')
		return fail(ps, p, "expected an array of strings");
	p = skip_ws(p + 1, ps->end);
	if (p < ps->end && *p == ']') {
		p++;
	} else {
		for (;;) {
			if (p == ps->end || *p != '"')
				return fail(ps, p, "expected a string");
			if (!(p = scan_string(ps, p, out)))
				return -1;
			buf_addc(out, 0);
			++*count;
			p = skip_ws(p, ps->end);
			if (p < ps->end && *p == ',') {
				p = skip_ws(p + 1, ps->end);
				continue;
			}
			if (p < ps->end && *p == ']') {
				p++;
				break;
			}
			return fail(ps, p, "expected ',' or ']'");
		}
	}
	p = skip_ws(p, ps->end);
	return p == ps->end ? 0 : fail(ps, p, "unexpected text after the array");
}

/* ============================ walking a value ============================ */

static struct parser *walk_parser(const char *text, size_t len, char *err, size_t errlen)
{
	struct parser *ps = thread_parser();
	ps->rep = NULL;
	ps->start = (const uint8_t *)text;
	ps->end = ps->start + len;
	ps->err = err;
	ps->errlen = errlen;
	if (errlen)
		err[0] = '\0';
	return ps;
}

int json_iter_start(json_iter *it, const char *text, size_t len, size_t at, char want, char *err, size_t errlen)
{
	struct parser *ps = walk_parser(text, len, err, errlen);
	const uint8_t *p = skip_ws(ps->start + (at < len ? at : len), ps->end);
	memset(it, 0, sizeof(*it));
	if (p == ps->end || *p != (uint8_t)want)
		return fail(ps, p, want == '{' ? "expected an object" : "expected an array");
	it->text = text;
	it->len = len;
	it->pos = (size_t)(p + 1 - ps->start);
	it->close = want == '{' ? '}' : ']';
	it->first = 1;
	return 0;
}

int json_iter_next(json_iter *it, buf *key, size_t *vstart, size_t *vend, char *err, size_t errlen)
{
	if (!it->text)
		return 0;
	struct parser *ps = walk_parser(it->text, it->len, err, errlen);
	const uint8_t *p = skip_ws(ps->start + it->pos, ps->end);
	if (p < ps->end && *p == (uint8_t)it->close && it->first) {
		it->pos = (size_t)(p + 1 - ps->start);
		it->text = NULL;
		return 0;
	}
	if (!it->first) {
		if (p < ps->end && *p == (uint8_t)it->close) {
			it->pos = (size_t)(p + 1 - ps->start);
			it->text = NULL;
			return 0;
		}
		if (p == ps->end || *p != ',')
			return fail(ps, p, it->close == '}' ? "expected ',' or '}' after object member"
							    : "expected ',' or ']' after array element");
		p = skip_ws(p + 1, ps->end);
	}
	it->first = 0;
	if (it->close == '}') {
		if (p == ps->end || *p != '"')
			return fail(ps, p, "expected a string key");
		if (key)
			buf_reset(key);
		if (!(p = scan_string(ps, p, key)))
			return -1;
		p = skip_ws(p, ps->end);
		if (p == ps->end || *p != ':')
			return fail(ps, p, "expected ':' after the key");
		p = skip_ws(p + 1, ps->end);
	}
	const uint8_t *v = p;
	if (!(p = scan_value(ps, p, 1)))
		return -1;
	*vstart = (size_t)(v - ps->start);
	*vend = (size_t)(p - ps->start);
	it->pos = *vend;
	return 1;
}

int json_string_at(const char *text, size_t len, size_t at, buf *out, char *err, size_t errlen)
{
	struct parser *ps = walk_parser(text, len, err, errlen);
	const uint8_t *p = skip_ws(ps->start + (at < len ? at : len), ps->end);
	if (p == ps->end || *p != '"')
		return fail(ps, p, "expected a string");
	return scan_string(ps, p, out) ? 0 : -1;
}

/* ================================ writing ================================ */

static const char hex_digits[] = "0123456789abcdef";

static inline void put_u_escape(buf *b, uint32_t u)
{
	if (UNLIKELY(b->cap - b->len < 6))
		buf_grow(b, 6);
	uint8_t *e = b->data + b->len;
	e[0] = '\\';
	e[1] = 'u';
	e[2] = (uint8_t)hex_digits[u >> 12 & 15];
	e[3] = (uint8_t)hex_digits[u >> 8 & 15];
	e[4] = (uint8_t)hex_digits[u >> 4 & 15];
	e[5] = (uint8_t)hex_digits[u & 15];
	b->len += 6;
}

/* s[0..n) as a JSON string in the style of flags.  Returns 0, or -1 with
 * *bad set to the offset of the first byte that is not valid UTF-8 (the
 * check is done here, on the way, rather than in a pass of its own). */
static int put_string(buf *b, const uint8_t *s, size_t n, uint8_t flags, size_t *bad)
{
	int slash = !!(flags & REC_JSON_SLASH), ascii = !!(flags & REC_JSON_ASCII);
	size_t i = 0, j = 0; /* s[i..j) is a run still to copy as it is */
	buf_grow(b, n + 2);  /* right when nothing needs escaping, the usual case */
	b->data[b->len++] = '"';
	for (;;) {
		/* On to the next byte to escape or check. */
		j = scan_plain(s, j, n, slash, ascii);
		if (j == n)
			break;
		uint8_t c = s[j];
		if (c >= 0x80) {
			size_t len = utf8_seq(s + j, n - j);
			if (!len) {
				*bad = j;
				return -1;
			}
			if (!ascii) {
				/* Written as they are: check the rest of a run of them
				 * here rather than go back to the scan for each. */
				j += len;
				while (j < n && s[j] >= 0x80) {
					if (!(len = utf8_seq(s + j, n - j))) {
						*bad = j;
						return -1;
					}
					j += len;
				}
				continue;
			}
			/* ASCII style: the code point as UTF-16 escapes, which takes
			 * a surrogate pair past U+FFFF. */
			put(b, s + i, j - i);
			uint32_t cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
			for (size_t k = 1; k < len; k++)
				cp = cp << 6 | (s[j + k] & 0x3f);
			if (cp >= 0x10000) {
				cp -= 0x10000;
				put_u_escape(b, 0xd800 + (cp >> 10));
				put_u_escape(b, 0xdc00 + (cp & 0x3ff));
			} else {
				put_u_escape(b, cp);
			}
			i = j += len;
			continue;
		}
		put(b, s + i, j - i);
		const char *esc = NULL;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '/': esc = "\\/"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		}
		if (esc)
			put(b, esc, 2);
		else
			put_u_escape(b, c); /* other controls, and DEL in ASCII style */
		i = ++j;
	}
	put(b, s + i, n - i);
	putc1(b, '"');
	return 0;
}

/* Decimal digits of v, written backwards ending at q; returns the start. */
static char *u64_digits(char *q, uint64_t v)
{
	do {
		*--q = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return q;
}

static void put_i64(buf *b, int64_t v)
{
	char tmp[24], *e = tmp + sizeof(tmp);
	char *s = u64_digits(e, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
	if (v < 0)
		*--s = '-';
	put(b, s, (size_t)(e - s));
}

static int same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static int same_float(float a, float b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

/* Format v with prec + 1 significant digits into tmp; 1 if that reads
 * back (with strtod, or strtof when single) as exactly v. */
static int reads_back(char *tmp, size_t size, int prec, double v, int single)
{
	snprintf(tmp, size, "%.*e", prec, v);
	return single ? same_float(strtof(tmp, NULL), (float)v) : same_double(strtod(tmp, NULL), v);
}

/* The shortest decimal that reads back as exactly v (a double, or a float
 * when single), laid out as Python's repr() does: positional with at
 * least one decimal (1.0, 0.0001) for exponents -4 to 15, else exponent
 * form (1e+16, 1.5e-07).  JSON has no NaN or infinities, and Python's NaN
 * and Infinity are not JSON, so those are written as null (as JavaScript's
 * JSON.stringify does): a record must never become a line that JSON
 * readers reject.  (The C locale is assumed: nothing in sluice calls
 * setlocale.) */
static void put_shortest(buf *b, double v, int single)
{
	if (!isfinite(v)) {
		put(b, "null", 4);
		return;
	}
	/* Try 1, 2, ... digits up to 17 (9 for a float), which always read
	 * back.  Each try costs a printf and a strtod, and computed values
	 * need nearly all the digits, so first probe at 15 digits (6 for a
	 * float): if that fails, fewer fail too.  (The correctly rounded
	 * shorter decimal is never closer to v; it could still read back when
	 * it falls on the wider side of a power of two, which is where the
	 * rounding interval is lopsided, so those get every try.) */
	char tmp[40];
	int max = single ? 8 : 16, probe = single ? 5 : 14, prec = 0;
	uint64_t mant;
	if (single) {
		float f = (float)v;
		uint32_t u;
		memcpy(&u, &f, sizeof(u));
		mant = u & 0x7fffff;
	} else {
		memcpy(&mant, &v, sizeof(mant));
		mant &= (1ull << 52) - 1;
	}
	if (mant && !reads_back(tmp, sizeof(tmp), probe, v, single))
		prec = probe + 1;
	while (prec < max && !reads_back(tmp, sizeof(tmp), prec, v, single))
		prec++;
	if (prec == max)
		snprintf(tmp, sizeof(tmp), "%.*e", max, v);
	/* tmp is [-]d[.ddd]e(+|-)dd[d]: split into sign, digits and exponent. */
	const char *t = tmp;
	char digits[24], out[48];
	size_t nd = 0, o = 0;
	if (*t == '-')
		out[o++] = *t++;
	for (; *t != 'e'; t++)
		if (*t != '.')
			digits[nd++] = *t;
	int exp = atoi(t + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	if (exp >= -4 && exp < 16) {
		if (exp < 0) {
			out[o++] = '0';
			out[o++] = '.';
			for (int k = -1; k > exp; k--)
				out[o++] = '0';
			memcpy(out + o, digits, nd);
			o += nd;
		} else {
			/* exp + 1 digits before the point, zero-padded. */
			for (size_t k = 0; k <= (size_t)exp; k++)
				out[o++] = k < nd ? digits[k] : '0';
			out[o++] = '.';
			if (nd > (size_t)exp + 1) {
				memcpy(out + o, digits + exp + 1, nd - (size_t)exp - 1);
				o += nd - (size_t)exp - 1;
			} else {
				out[o++] = '0';
			}
		}
	} else {
		out[o++] = digits[0];
		if (nd > 1) {
			out[o++] = '.';
			memcpy(out + o, digits + 1, nd - 1);
			o += nd - 1;
		}
		o += (size_t)snprintf(out + o, sizeof(out) - o, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
	}
	put(b, out, o);
}

static inline size_t n_digits(uint32_t x)
{
	size_t n = 1;
	while (x >= 10) {
		x /= 10;
		n++;
	}
	return n;
}

/* A 'T' or 'B' field's values as a JSON array. */
static void put_uint_array(buf *b, const uint8_t *v, size_t n, int width, int compact)
{
	putc1(b, '[');
	for (size_t k = 0; k < n; k++) {
		/* Room for a separator and the longest uint32, then store directly
		 * (a call to memcpy per number would cost more than the number). */
		if (UNLIKELY(b->cap - b->len < 12))
			buf_grow(b, 12 * (n - k < 4096 ? n - k : 4096));
		uint8_t *q = b->data + b->len;
		if (k) {
			*q++ = ',';
			if (!compact)
				*q++ = ' ';
		}
		uint32_t x = width == 4 ? load_u32le(v + 4 * k) : v[k];
		size_t nd = n_digits(x);
		for (uint8_t *e = q + nd; e > q; x /= 10)
			*--e = (uint8_t)('0' + x % 10);
		b->len = (size_t)(q + nd - b->data);
	}
	putc1(b, ']');
}

PRINTF_LIKE(4, 5)
static int field_error(char *err, size_t errlen, const rec_field *f, const char *fmt, ...)
{
	va_list ap;
	if (!errlen)
		return -1;
	int n = snprintf(err, errlen, "field '%.*s': ", f->name_len, f->name);
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Check that a field's value has the right length for its type, and that
 * the type is known.  (Names and text are checked as they are written.) */
static int check_field(const rec_field *f, char *err, size_t errlen)
{
	switch (f->type) {
	case REC_STR:
	case REC_JSON:
	case REC_U8S:
		return 0;
	case REC_INT:
	case REC_FLOAT:
		if (f->len != 8)
			return field_error(err, errlen, f, "'%c' value of %u bytes, not 8", f->type, (unsigned)f->len);
		return 0;
	case REC_U32S:
	case REC_F32S:
		if (f->len % 4)
			return field_error(err, errlen, f, "'%c' value of %u bytes, not a multiple of 4", f->type,
					   (unsigned)f->len);
		return 0;
	default:
		if (f->type >= 0x20 && f->type < 0x7f)
			return field_error(err, errlen, f, "unknown type '%c'", f->type);
		return field_error(err, errlen, f, "unknown type '\\x%02x'", f->type);
	}
}

int json_write_record(buf *out, const rec *r, char *err, size_t errlen)
{
	uint8_t flags = rec_flags(r);
	int compact = !!(flags & REC_JSON_COMPACT);
	size_t start = out->len, nf = rec_nfields(r);
	if (errlen)
		err[0] = '\0';
	size_t bad;
	putc1(out, '{');
	for (size_t i = 0; i < nf; i++) {
		const rec_field *f = rec_field_at(r, i);
		if (check_field(f, err, errlen) < 0)
			goto fail;
		if (i)
			put(out, ", ", compact ? 1 : 2);
		if (put_string(out, (const uint8_t *)f->name, f->name_len, flags, &bad) < 0) {
			snprintf(err, errlen, "field %zu: name is not valid UTF-8", i + 1);
			goto fail;
		}
		put(out, ": ", compact ? 1 : 2);
		switch (f->type) {
		case REC_STR:
			if (put_string(out, f->val, f->len, flags, &bad) < 0) {
				field_error(err, errlen, f, "invalid UTF-8 at byte %zu", bad);
				goto fail;
			}
			break;
		case REC_JSON:
			put(out, f->val, f->len);
			break;
		case REC_INT:
			put_i64(out, (int64_t)load_u64le(f->val));
			break;
		case REC_FLOAT: {
			uint64_t u = load_u64le(f->val);
			double d;
			memcpy(&d, &u, sizeof(d));
			put_shortest(out, d, 0);
			break;
		}
		case REC_U32S:
			put_uint_array(out, f->val, f->len / 4, 4, compact);
			break;
		case REC_U8S:
			put_uint_array(out, f->val, f->len, 1, compact);
			break;
		case REC_F32S:
			putc1(out, '[');
			for (size_t k = 0; k < f->len / 4; k++) {
				if (k)
					put(out, ", ", compact ? 1 : 2);
				put_shortest(out, rec_f32_at(f, k), 1);
			}
			putc1(out, ']');
			break;
		}
	}
	put(out, "}\n", 2);
	return 0;
fail:
	out->len = start; /* nothing of a record that cannot be written */
	return -1;
}

int json_put_string(buf *out, const char *s, size_t n)
{
	size_t bad;
	return put_string(out, (const uint8_t *)s, n, 0, &bad);
}

int json_get_u64(const rec *r, const char *name, uint64_t *out)
{
	const rec_field *f = rec_get(r, name);
	if (!f)
		return 0;
	if (f->type != REC_JSON || f->len == 0 || f->len > 20)
		return -1;
	uint64_t v = 0;
	for (uint32_t i = 0; i < f->len; i++) {
		unsigned d = (unsigned)(f->val[i] - '0');
		if (d > 9 || (i == 0 && d == 0 && f->len > 1) || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 1;
}

void json_copy_str(const rec *r, const char *name, char *dst, size_t size)
{
	const rec_field *f = rec_get(r, name);
	if (f && f->type == REC_STR)
		snprintf(dst, size, "%.*s", (int)f->len, (const char *)f->val);
}
