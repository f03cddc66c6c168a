/* fuzz_jsonl: any bytes as one JSONL line, strictly and repairing, as a
 * JSON array of strings, and as a whole input to detect and read.  A line
 * that parses must write back as JSON that parses to the same record; a
 * repaired line holds valid UTF-8 only, and equals the strict parse when
 * that succeeds. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "input.h"
#include "json.h"
#include "utf8.h"
#include "record.h"

/* Every string field (and name) of r is valid UTF-8. */
static int all_utf8(const rec *r)
{
	for (size_t i = 0; i < rec_nfields(r); i++) {
		const rec_field *f = rec_field_at(r, i);
		if (utf8_valid_prefix((const uint8_t *)f->name, f->name_len) != f->name_len)
			return 0;
		if (f->type == REC_STR && utf8_valid_prefix(f->val, f->len) != f->len)
			return 0;
	}
	return 1;
}

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
	/* Repairing: whatever parses is valid UTF-8 and writes back; a line
	 * the strict parser takes comes out the same, with nothing replaced. */
	json_repair rep;
	rec *fixed = rec_new();
	err[0] = '\0';
	if (json_parse_line_repair(fixed, (const char *)data, size, &rep, err, sizeof(err)) == 0) {
		buf_reset(&out);
		if (!all_utf8(fixed) || json_write_record(&out, fixed, err, sizeof(err)) != 0)
			__builtin_trap();
		if ((rep.replaced == 0) != (rep.column == 0) || (rep.replaced && !rep.what))
			__builtin_trap();
		size_t a, b;
		const uint8_t *x = rec_bytes(fixed, &a), *y = rec_bytes(r, &b);
		if (rec_nfields(r) && (rep.replaced || a != b || memcmp(x, y, a) != 0))
			__builtin_trap();
	} else if (err[0] == '\0' || rec_nfields(r)) {
		__builtin_trap();
	}
	rec_free(fixed);
	/* The same bytes as a whole input, format detected, strict and
	 * repairing: records or an error with a message, never a crash. */
	for (int repair = 0; repair < 2; repair++) {
		input *in = input_open_mem(data, size, INPUT_AUTO);
		rec *one = rec_new();
		int got;
		if (repair)
			input_repair_utf8(in);
		while ((got = input_read(in, one)) == 1)
			if (repair && input_detected(in) != INPUT_RECORDS && !all_utf8(one))
				__builtin_trap();
		if (got < 0 && input_error(in)[0] == '\0')
			__builtin_trap();
		rec_free(one);
		input_close(in);
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
