/* fuzz_jsonl: any bytes as one JSONL line.  A line that parses must write
 * back as JSON that parses to the same record. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
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
	buf_release(&out);
	rec_free(r);
	rec_free(again);
	return 0;
}
