/* fuzz_stream: any bytes through the record reader, as every tool reads them
 * (format detection, zstd layer, stream, JSONL and text parsers).  Must never
 * crash, hang or leak; every record returned must serialize and re-parse. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "input.h"
#include "json.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int fmt = INPUT_AUTO; fmt <= INPUT_RECORDS; fmt++) {
		input *in = input_open_mem(data, size, (input_format)fmt);
		rec *r = rec_new(), *again = rec_new();
		buf out = { 0 };
		char err[256];
		int ret, n = 0;
		while ((ret = input_read(in, r)) == 1 && n++ < 100000) {
			size_t len;
			const uint8_t *b = rec_bytes(r, &len);
			if (rec_parse(again, b, len, err, sizeof(err)) != 0)
				__builtin_trap();
			buf_reset(&out);
			json_write_record(&out, r, err, sizeof(err));
		}
		if (ret < 0 && input_error(in)[0] == '\0')
			__builtin_trap(); /* an error must say what went wrong */
		buf_release(&out);
		rec_free(r);
		rec_free(again);
		input_close(in);
	}
	return 0;
}
