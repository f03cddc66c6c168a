/* fuzz_hf: any bytes as a Hugging Face tokenizer.json, then after a NUL
 * byte text to encode.  A file that loads must encode valid text so that
 * decoding gives it back (every byte is a piece or in one: the split is
 * Isolated), with its special tokens allowed or not. */
#include <stdint.h>
#include <string.h>

#include "tokenizer.h"
#include "utf8.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *z = memchr(data, 0, size);
	size_t json_len = z ? (size_t)(z - data) : size;
	const uint8_t *text = z ? z + 1 : (const uint8_t *)"Hello, world! 123 <|end|> \xc3\xa9t\xc3\xa9\n";
	size_t text_len = z ? size - json_len - 1 : strlen((const char *)text);
	char err[256];
	err[0] = '\0';
	tok_vocab *v = tok_load_hf_mem("fuzz", (const char *)data, json_len, NULL, err, sizeof(err));
	if (!v) {
		if (!err[0])
			__builtin_trap();
		return 0;
	}
	for (int allow = 0; allow < 2; allow++) {
		if (allow)
			tok_allow_special(v, NULL);
		tok_state *s = tok_state_new(v);
		size_t replaced, n;
		if (tok_encode(s, text, text_len, &replaced, err, sizeof(err)) == 0) {
			const uint32_t *ids = tok_ids(s, &n);
			buf back = { 0 };
			size_t bad;
			if (tok_decode(v, ids, n, &back, &bad) != 0 || tok_skipped(s))
				__builtin_trap();
			buf_release(&back);
		}
		tok_state_free(s);
	}
	tok_free(v);
	return 0;
}
