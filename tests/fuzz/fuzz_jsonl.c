/* fuzz_jsonl: any bytes as one JSONL line, and as a JSON array of strings.
 * A line that parses must write back as JSON that parses to the same
 * record. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "utf8.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rec *r = rec_new(), *again = rec_new();
	buf out = { 0 };
	char err[256];
	if (json_parse_line(r, (const char *)data, size, err, sizeof(err)) == 0) {
		if (json_write_record(&out, r, err, sizeof(err)) != 0)
			__builtin_trap();
		if (json_parse_line(again, (const char *)out.data, out.len - 1, err, sizeof(err)) != 0)
			__builtin_trap();
		size_t a, b;
		const uint8_t *x = rec_bytes(r, &a), *y = rec_bytes(again, &b);
		if (a != b || memcmp(x, y, a) != 0)
			__builtin_trap();
	} else if (err[0] == '\0') {
		__builtin_trap();
	}
	/* The same bytes as an array of strings: parsed or refused with a
	 * message; every string parsed is valid UTF-8 and no longer than its
	 * escaped form. */
	buf strs = { 0 };
	size_t n;
	err[0] = '\0';
	if (json_parse_strings((const char *)data, size, &strs, &n, err, sizeof(err)) == 0) {
		if (strs.len > size || (n && !strs.len) || utf8_valid_prefix(strs.data, strs.len) != strs.len)
			__builtin_trap();
	} else if (err[0] == '\0') {
		__builtin_trap();
	}
	buf_release(&strs);
	buf_release(&out);
	rec_free(r);
	rec_free(again);
	return 0;
}
