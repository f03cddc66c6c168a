/* json.h: JSON lines to records and back, byte for byte.
 *
 * A JSONL line is one object; its members become fields in order.  Strings
 * become 's' fields, "tokens" and "mask" typed arrays ('T' and 'B'), and
 * every other value a 'j' field holding the value's text verbatim.  The
 * record flags note the line's style (ASCII escapes, compact separators,
 * escaped '/') so that json_write_record() gives back the same bytes for
 * JSONL written by the usual writers (Python's json.dumps with or without
 * ensure_ascii, compact writers).  See sluice-stream(5).
 *
 * Both functions keep per-thread scratch state; they are safe to call from
 * several threads at once. */
#ifndef SLUICE_JSON_H
#define SLUICE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "util.h"

/* Most levels of nesting in a line, the line's own object included. */
#define JSON_DEPTH_MAX 256

/* Parse one line (without its '\n'; a trailing '\r' and blanks around the
 * object are allowed) into r, replacing its contents.  The line must be
 * strict JSON (RFC 8259) and valid UTF-8, and hold one object with no
 * duplicate keys.  Returns 0, or -1 with r left empty and "column N:
 * problem" in err (N counts bytes from 1), or "empty line" for a line of
 * nothing but blanks. */
int json_parse_line(rec *r, const char *line, size_t len, char *err, size_t errlen);

/* What json_parse_line_repair() replaced. */
typedef struct json_repair {
	size_t replaced;       /* U+FFFD substitutions */
	size_t column;         /* byte column (from 1) of the first; 0 if none */
	const char *what;      /* its kind: "invalid UTF-8", "NUL byte",
				  "lone surrogate escape" */
} json_repair;

/* As json_parse_line(), but text that cannot be held as UTF-8 is repaired
 * rather than refused: each maximal invalid UTF-8 sequence (as
 * utf8_repair() counts them), each raw NUL byte and each \u escape of a
 * lone surrogate becomes U+FFFD, counted in *rep.  Such bytes outside a
 * string are still syntax errors, whose column then counts the repaired
 * line's bytes. */
int json_parse_line_repair(rec *r, const char *line, size_t len, json_repair *rep, char *err, size_t errlen);

/* Parse text[0..len), a JSON array of strings (a 'j' field's value, say),
 * appending each decoded string and a NUL to out.  Returns 0 with *count
 * set, or -1 with "column N: problem" in err. */
int json_parse_strings(const char *text, size_t len, buf *out, size_t *count, char *err, size_t errlen);

/* Append r as one JSON line, '\n' included, to out, in the style of r's
 * flags.  Floats are written as the shortest decimal that reads back
 * exactly, in Python's repr() layout; NaN and infinities as null, since
 * JSON has no such numbers.  Returns 0, or -1 with out unchanged and the
 * problem in err (a name or text that is not valid UTF-8, a value of the
 * wrong length for its type, an unknown type). */
int json_write_record(buf *out, const rec *r, char *err, size_t errlen);

/* Append s[0..n) as a JSON string (UTF-8 kept, controls escaped) to out.
 * Returns 0, or -1 if s is not valid UTF-8 (out then holds a part). */
int json_put_string(buf *out, const char *s, size_t n);
/* The member name of a parsed object (json_parse_line) as an unsigned
 * integer.  Returns 1 with *out set, 0 if there is no such member, -1 if
 * it is not an integer in 0..2^64-1. */
int json_get_u64(const rec *r, const char *name, uint64_t *out);
/* The string member name, cut to size - 1 bytes, into dst; dst is left as
 * it was if there is none. */
void json_copy_str(const rec *r, const char *name, char *dst, size_t size);

/* Walking a JSON value held as text (a whole document, or a 'j' field's
 * value) one member or element at a time, each value left in place as a
 * span of the text: for documents too large, or with too many members, to
 * become a record (a tokenizer's vocabulary of 150,000 tokens).  Values
 * are checked as json_parse_line() checks them (strict JSON, valid UTF-8);
 * errors read "column N: problem", N counting bytes of the whole text from
 * 1.  Duplicate keys are not looked for. */
typedef struct json_iter {
	const char *text;
	size_t len, pos;
	char close;            /* '}' for an object, ']' for an array */
	int first;             /* no member read yet */
} json_iter;

/* Start on the object (want '{') or array (want '[') that begins, after
 * blanks, at text[at].  Returns 0, or -1 with the problem in err. */
int json_iter_start(json_iter *it, const char *text, size_t len, size_t at, char want, char *err, size_t errlen);
/* The next member (its key decoded into key, which is reset first; NULL
 * for an array) with its value at text[*vstart, *vend).  Returns 1, 0 past
 * the closing bracket (it->pos then just after it), or -1 with err. */
int json_iter_next(json_iter *it, buf *key, size_t *vstart, size_t *vend, char *err, size_t errlen);
/* The string value at text[at..): decoded and appended to out.  Returns 0,
 * or -1 (not a string, or a bad one) with err. */
int json_string_at(const char *text, size_t len, size_t at, buf *out, char *err, size_t errlen);

#endif
