/* json.h: JSON lines to records and back, byte for byte.
 *
 * A JSONL line is one object; its members become fields in order.  Strings
 * become 's' fields, "tokens" and "mask" typed arrays, and every other value
 * a 'j' field holding the value's text verbatim.  The record flags note the
 * line's style (ASCII escapes, compact separators, escaped '/') so that
 * json_write_record() gives back the same bytes for JSONL written by the
 * usual writers (Python's json.dumps with or without ensure_ascii, compact
 * writers).  See sluice-stream(5). */
#ifndef SLUICE_JSON_H
#define SLUICE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "util.h"

#define JSON_DEPTH_MAX 256

/* Parse one line (without its '\n') into r, replacing its contents.
 * Returns 0, or -1 with "column N: problem" in err. */
int json_parse_line(rec *r, const char *line, size_t len, char *err, size_t errlen);

/* Append r as one JSON line, '\n' included, to out.  Returns 0, or -1 with
 * the problem in err (a field that is not valid UTF-8, an unknown type). */
int json_write_record(buf *out, const rec *r, char *err, size_t errlen);

/* Length of the longest valid UTF-8 prefix of s[0..n): n if all of it is
 * valid.  Overlong forms, surrogates and code points past U+10FFFF are not. */
size_t utf8_valid_prefix(const uint8_t *s, size_t n);

#endif
