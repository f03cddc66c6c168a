/* json.c: a strict JSON line parser and a writer that mirrors its styles. */
#include "json.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================ UTF-8 ================================ */

size_t utf8_valid_prefix(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		/* ASCII fast path, 8 bytes at a time. */
		while (i + 8 <= n) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i >= n)
			break;
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		uint32_t min, cp;
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2; min = 0x80; cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3; min = 0x800; cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4; min = 0x10000; cp = c & 0x07;
		} else {
			return i;
		}
		if (n - i < len)
			return i;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += len;
	}
	return n;
}

/* ================================ parsing ================================ */

struct parser {
	const uint8_t *p, *start, *end;
	char *err;
	size_t errlen;
	uint8_t flags;
	int style_seen;        /* separator style decided by the first member */
	buf scratch;           /* decoded string */
	buf arr;               /* typed array being built */
};

__attribute__((format(printf, 3, 4)))
static int perr(struct parser *ps, const uint8_t *at, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(ps->err, ps->errlen, "column %zu: ", (size_t)(at - ps->start) + 1);
	if (n < 0 || (size_t)n >= ps->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int hex4(const uint8_t *p, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		uint8_t c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
		else return -1;
	}
	*out = v;
	return 0;
}

static void put_utf8(buf *b, uint32_t cp)
{
	uint8_t u[4];
	size_t n;
	if (cp < 0x80) { u[0] = (uint8_t)cp; n = 1; }
	else if (cp < 0x800) { u[0] = (uint8_t)(0xc0 | cp >> 6); u[1] = (uint8_t)(0x80 | (cp & 0x3f)); n = 2; }
	else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12); u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f)); n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18); u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f)); u[3] = (uint8_t)(0x80 | (cp & 0x3f)); n = 4;
	}
	buf_add(b, u, n);
}

/* Parse a string at ps->p (on the opening quote); decoded into out when
 * out is not NULL.  The line is already known to be valid UTF-8. */
static int parse_string(struct parser *ps, buf *out)
{
	const uint8_t *q = ++ps->p;
	if (out)
		buf_reset(out);
	for (;;) {
		/* Copy the run of plain bytes in one go. */
		const uint8_t *r = q;
		while (ps->end - r >= 4 && r[0] >= 0x20 && r[0] != '"' && r[0] != '\\' &&
		       r[1] >= 0x20 && r[1] != '"' && r[1] != '\\' && r[2] >= 0x20 && r[2] != '"' &&
		       r[2] != '\\' && r[3] >= 0x20 && r[3] != '"' && r[3] != '\\')
			r += 4;
		while (r < ps->end && *r != '"' && *r != '\\' && *r >= 0x20)
			r++;
		if (out && r > q)
			buf_add(out, q, (size_t)(r - q));
		if (r >= ps->end)
			return perr(ps, ps->p - 1, "unterminated string");
		if (*r == '"') {
			ps->p = r + 1;
			return 0;
		}
		if (*r < 0x20)
			return perr(ps, r, "control character 0x%02x in a string (must be escaped)", *r);
		/* A backslash escape. */
		if (r + 1 >= ps->end)
			return perr(ps, r, "unterminated string");
		uint8_t e = r[1], c;
		q = r + 2;
		switch (e) {
		case '"': c = '"'; break;
		case '\\': c = '\\'; break;
		case '/': c = '/'; ps->flags |= REC_JSON_SLASH; break;
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u': {
			uint32_t cp, lo;
			if (ps->end - r < 6 || hex4(r + 2, &cp) < 0)
				return perr(ps, r, "bad \\u escape");
			q = r + 6;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return perr(ps, r, "invalid surrogate escape (low surrogate first)");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (ps->end - q < 6 || q[0] != '\\' || q[1] != 'u' || hex4(q + 2, &lo) < 0 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return perr(ps, r, "invalid surrogate escape (high surrogate alone)");
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				q += 6;
			}
			if (cp >= 0x7f)
				ps->flags |= REC_JSON_ASCII;
			if (out)
				put_utf8(out, cp);
			continue;
		}
		default:
			return perr(ps, r, "bad escape '\\%c'", e >= 0x20 && e < 0x7f ? e : '?');
		}
		if (out)
			buf_addc(out, c);
	}
}

static int is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Check a number's grammar; on success ps->p is past it. */
static int parse_number(struct parser *ps)
{
	const uint8_t *p = ps->p, *s = p;
	if (p < ps->end && *p == '-')
		p++;
	if (p >= ps->end || !is_digit(*p))
		return perr(ps, s, "bad number");
	if (*p == '0') {
		p++;
		if (p < ps->end && is_digit(*p))
			return perr(ps, s, "bad number (leading zero)");
	} else {
		while (p < ps->end && is_digit(*p))
			p++;
	}
	if (p < ps->end && *p == '.') {
		p++;
		if (p >= ps->end || !is_digit(*p))
			return perr(ps, s, "bad number (no digits after '.')");
		while (p < ps->end && is_digit(*p))
			p++;
	}
	if (p < ps->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < ps->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= ps->end || !is_digit(*p))
			return perr(ps, s, "bad number (no digits in the exponent)");
		while (p < ps->end && is_digit(*p))
			p++;
	}
	ps->p = p;
	return 0;
}

static int parse_literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return perr(ps, ps->p, "unexpected character '%c'", *ps->p >= 0x20 && *ps->p < 0x7f ? *ps->p : '?');
	ps->p += n;
	return 0;
}

/* Validate any value; strings are checked but not kept. */
static int skip_value(struct parser *ps, int depth)
{
	if (depth > JSON_DEPTH_MAX)
		return perr(ps, ps->p, "nesting deeper than %d", JSON_DEPTH_MAX);
	skip_ws(ps);
	if (ps->p >= ps->end)
		return perr(ps, ps->p, "unexpected end of line, expected a value");
	uint8_t c = *ps->p;
	if (c == '"')
		return parse_string(ps, NULL);
	if (c == '-' || is_digit(c))
		return parse_number(ps);
	if (c == 't')
		return parse_literal(ps, "true");
	if (c == 'f')
		return parse_literal(ps, "false");
	if (c == 'n')
		return parse_literal(ps, "null");
	if (c != '[' && c != '{')
		return perr(ps, ps->p, "unexpected character '%c', expected a value", c >= 0x20 && c < 0x7f ? c : '?');
	uint8_t close = c == '[' ? ']' : '}';
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return 0;
	}
	for (;;) {
		if (close == '}') {
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != '"')
				return perr(ps, ps->p, "expected a string key");
			if (parse_string(ps, NULL) < 0)
				return -1;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return perr(ps, ps->p, "expected ':' after a key");
			ps->p++;
		}
		if (skip_value(ps, depth + 1) < 0)
			return -1;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return 0;
		}
		return perr(ps, ps->p, "expected ',' or '%c'", close);
	}
}

/* An array of integers in [0, max], stored as 4-byte or 1-byte values. */
static int parse_int_array(struct parser *ps, const char *key, uint64_t max, int width)
{
	buf_reset(&ps->arr);
	const uint8_t *at = ps->p;
	if (ps->p >= ps->end || *ps->p != '[')
		return perr(ps, at, "\"%s\" must be an array of integers", key);
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return 0;
	}
	for (;;) {
		skip_ws(ps);
		const uint8_t *s = ps->p;
		uint64_t v = 0;
		while (ps->p < ps->end && is_digit(*ps->p) && v <= max) {
			v = v * 10 + (uint64_t)(*ps->p - '0');
			ps->p++;
		}
		if (ps->p == s || v > max || (ps->p - s > 1 && *s == '0') ||
		    (ps->p < ps->end && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E' || is_digit(*ps->p))))
			return perr(ps, s, "\"%s\" must hold integers from 0 to %llu", key, (unsigned long long)max);
		if (width == 4) {
			uint8_t b[4];
			store_u32le(b, (uint32_t)v);
			buf_add(&ps->arr, b, 4);
		} else {
			buf_addc(&ps->arr, (uint8_t)v);
		}
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			return 0;
		}
		return perr(ps, ps->p, "expected ',' or ']'");
	}
}

int json_parse_line(rec *r, const char *line, size_t len, char *err, size_t errlen)
{
	static _Thread_local struct parser ps;
	ps.start = ps.p = (const uint8_t *)line;
	ps.end = ps.start + len;
	ps.err = err;
	ps.errlen = errlen;
	ps.flags = 0;
	ps.style_seen = 0;
	err[0] = '\0';
	if (len && ps.end[-1] == '\r')
		ps.end--;
	size_t ok = utf8_valid_prefix(ps.start, (size_t)(ps.end - ps.start));
	if (ok < (size_t)(ps.end - ps.start))
		return perr(&ps, ps.start + ok, "invalid UTF-8");
	if (ps.end > ps.start && memchr(ps.start, 0, (size_t)(ps.end - ps.start)))
		return perr(&ps, memchr(ps.start, 0, (size_t)(ps.end - ps.start)), "NUL byte in a JSON line");
	rec_clear(r);
	skip_ws(&ps);
	if (ps.p >= ps.end)
		return perr(&ps, ps.p, "empty line");
	if (*ps.p != '{')
		return perr(&ps, ps.p, "expected a JSON object");
	ps.p++;
	skip_ws(&ps);
	if (ps.p < ps.end && *ps.p == '}') {
		ps.p++;
		goto done;
	}
	for (;;) {
		skip_ws(&ps);
		const uint8_t *kat = ps.p;
		if (ps.p >= ps.end || *ps.p != '"')
			return perr(&ps, ps.p, "expected a string key");
		if (parse_string(&ps, &ps.scratch) < 0)
			return -1;
		if (ps.scratch.len > REC_NAME_MAX)
			return perr(&ps, kat, "key longer than %d bytes", REC_NAME_MAX);
		char key[REC_NAME_MAX + 1];
		size_t klen = ps.scratch.len;
		memcpy(key, ps.scratch.data, klen);
		key[klen] = '\0';
		for (size_t i = 0; i < rec_nfields(r); i++) {
			const rec_field *f = rec_field_at(r, i);
			if (f->name_len == klen && memcmp(f->name, key, klen) == 0)
				return perr(&ps, kat, "duplicate key '%s'", key);
		}
		skip_ws(&ps);
		if (ps.p >= ps.end || *ps.p != ':')
			return perr(&ps, ps.p, "expected ':' after a key");
		ps.p++;
		if (!ps.style_seen) {
			ps.style_seen = 1;
			if (ps.p < ps.end && *ps.p != ' ')
				ps.flags |= REC_JSON_COMPACT;
		}
		skip_ws(&ps);
		const uint8_t *vat = ps.p;
		int set;
		if (klen == 4 && memcmp(key, "text", 4) == 0 && (ps.p >= ps.end || *ps.p != '"'))
			return perr(&ps, vat, "\"text\" must be a string");
		if (klen == 6 && memcmp(key, "tokens", 6) == 0) {
			if (parse_int_array(&ps, "tokens", UINT32_MAX, 4) < 0)
				return -1;
			set = rec_set(r, key, klen, REC_U32S, ps.arr.data, ps.arr.len);
		} else if (klen == 4 && memcmp(key, "mask", 4) == 0) {
			if (parse_int_array(&ps, "mask", 255, 1) < 0)
				return -1;
			set = rec_set(r, key, klen, REC_U8S, ps.arr.data, ps.arr.len);
		} else if (ps.p < ps.end && *ps.p == '"') {
			if (parse_string(&ps, &ps.scratch) < 0)
				return -1;
			set = rec_set(r, key, klen, REC_STR, ps.scratch.data, ps.scratch.len);
		} else {
			if (skip_value(&ps, 1) < 0)
				return -1;
			set = rec_set(r, key, klen, REC_JSON, vat, (size_t)(ps.p - vat));
		}
		if (set < 0)
			return perr(&ps, vat, "record larger than %u bytes", REC_MAX_BYTES);
		skip_ws(&ps);
		if (ps.p < ps.end && *ps.p == ',') {
			ps.p++;
			continue;
		}
		if (ps.p < ps.end && *ps.p == '}') {
			ps.p++;
			break;
		}
		return perr(&ps, ps.p, "expected ',' or '}' after an object member");
	}
done:
	skip_ws(&ps);
	if (ps.p < ps.end)
		return perr(&ps, ps.p, "trailing characters after the object");
	rec_set_flags(r, ps.flags);
	/* Large one-off lines should not pin their memory. */
	if (ps.scratch.cap > (16u << 20))
		buf_release(&ps.scratch);
	if (ps.arr.cap > (16u << 20))
		buf_release(&ps.arr);
	return 0;
}

/* ================================ writing ================================ */

static const char hexd[] = "0123456789abcdef";

static void put_u_escape(buf *b, uint32_t u)
{
	uint8_t e[6] = { '\\', 'u', (uint8_t)hexd[u >> 12 & 15], (uint8_t)hexd[u >> 8 & 15],
			 (uint8_t)hexd[u >> 4 & 15], (uint8_t)hexd[u & 15] };
	buf_add(b, e, 6);
}

/* Which bytes a string writer must escape: bit 0 always, bit 1 with
 * REC_JSON_SLASH, bit 2 with REC_JSON_ASCII.  A table keeps the scan of
 * plain bytes, where the time goes, to one load and test a byte. */
enum { ESC_ALWAYS = 1, ESC_SLASH = 2, ESC_ASCII = 4 };
static uint8_t esc_table[256];

static void esc_table_init(void)
{
	for (int c = 0; c < 256; c++)
		esc_table[c] = (uint8_t)((c < 0x20 || c == '"' || c == '\\' ? ESC_ALWAYS : 0) |
					 (c == '/' ? ESC_SLASH : 0) | (c >= 0x7f ? ESC_ASCII : 0));
}

/* Write s as a JSON string in the style of flags.  s must be valid UTF-8. */
static void put_string(buf *b, const uint8_t *s, size_t n, uint8_t flags)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, esc_table_init);
	uint8_t mask = (uint8_t)(ESC_ALWAYS | (flags & REC_JSON_SLASH ? ESC_SLASH : 0) |
				 (flags & REC_JSON_ASCII ? ESC_ASCII : 0));
	buf_grow(b, n + 2);
	buf_addc(b, '"');
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j + 4 <= n && !((esc_table[s[j]] | esc_table[s[j + 1]] | esc_table[s[j + 2]] |
					esc_table[s[j + 3]]) & mask))
			j += 4;
		while (j < n && !(esc_table[s[j]] & mask))
			j++;
		buf_add(b, s + i, j - i);
		if (j >= n)
			break;
		uint8_t c = s[j];
		i = j + 1;
		switch (c) {
		case '"': buf_add(b, "\\\"", 2); continue;
		case '\\': buf_add(b, "\\\\", 2); continue;
		case '/': buf_add(b, "\\/", 2); continue;
		case '\b': buf_add(b, "\\b", 2); continue;
		case '\f': buf_add(b, "\\f", 2); continue;
		case '\n': buf_add(b, "\\n", 2); continue;
		case '\r': buf_add(b, "\\r", 2); continue;
		case '\t': buf_add(b, "\\t", 2); continue;
		}
		if (c < 0x80) {
			put_u_escape(b, c);
			continue;
		}
		/* A non-ASCII character, escaped as UTF-16. */
		size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		uint32_t cp = c & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
		for (size_t k = 1; k < len; k++)
			cp = cp << 6 | (s[j + k] & 0x3f);
		i = j + len;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			put_u_escape(b, 0xd800 + (cp >> 10));
			put_u_escape(b, 0xdc00 + (cp & 0x3ff));
		} else {
			put_u_escape(b, cp);
		}
	}
	buf_addc(b, '"');
}

/* Shortest decimal that reads back as the same double (or float). */
static void put_double(buf *b, double v, int is_float)
{
	char tmp[40];
	if (!isfinite(v)) {
		buf_add(b, "null", 4); /* JSON has no NaN or infinity */
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (is_float ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v)
			break;
	}
	/* Integral values keep a ".0", as Python writes floats. */
	if (!strpbrk(tmp, ".eEn"))
		strcat(tmp, ".0");
	buf_adds(b, tmp);
}

int json_write_record(buf *out, const rec *r, char *err, size_t errlen)
{
	uint8_t flags = rec_flags(r);
	const char *sep = flags & REC_JSON_COMPACT ? "," : ", ";
	const char *colon = flags & REC_JSON_COMPACT ? ":" : ": ";
	size_t start = out->len;
	buf_addc(out, '{');
	for (size_t i = 0; i < rec_nfields(r); i++) {
		const rec_field *f = rec_field_at(r, i);
		if (i)
			buf_adds(out, sep);
		if (utf8_valid_prefix((const uint8_t *)f->name, f->name_len) < f->name_len) {
			snprintf(err, errlen, "field name is not valid UTF-8");
			goto fail;
		}
		put_string(out, (const uint8_t *)f->name, f->name_len, flags);
		buf_adds(out, colon);
		char num[32];
		switch (f->type) {
		case REC_STR: {
			size_t ok = utf8_valid_prefix(f->val, f->len);
			if (ok < f->len) {
				snprintf(err, errlen, "field '%.*s': invalid UTF-8 at byte %zu", f->name_len, f->name, ok);
				goto fail;
			}
			put_string(out, f->val, f->len, flags);
			break;
		}
		case REC_JSON:
			buf_add(out, f->val, f->len);
			break;
		case REC_INT:
			snprintf(num, sizeof(num), "%lld", (long long)(int64_t)load_u64le(f->val));
			buf_adds(out, num);
			break;
		case REC_FLOAT: {
			uint64_t u = load_u64le(f->val);
			double d;
			memcpy(&d, &u, 8);
			put_double(out, d, 0);
			break;
		}
		case REC_U32S:
		case REC_U8S:
		case REC_F32S: {
			size_t w = f->type == REC_U8S ? 1 : 4, n = f->len / w;
			buf_addc(out, '[');
			for (size_t k = 0; k < n; k++) {
				if (k)
					buf_adds(out, sep);
				if (f->type == REC_F32S) {
					put_double(out, rec_f32_at(f, k), 1);
				} else {
					unsigned long v = w == 1 ? f->val[k] : rec_u32_at(f, k);
					int m = snprintf(num, sizeof(num), "%lu", v);
					buf_add(out, num, (size_t)m);
				}
			}
			buf_addc(out, ']');
			break;
		}
		default:
			if (f->type >= 0x21 && f->type < 0x7f)
				snprintf(err, errlen, "field '%.*s': unknown type '%c'", f->name_len, f->name, f->type);
			else
				snprintf(err, errlen, "field '%.*s': unknown type \\x%02x", f->name_len, f->name, f->type);
			goto fail;
		}
	}
	buf_add(out, "}\n", 2);
	return 0;
fail:
	out->len = start;
	return -1;
}
