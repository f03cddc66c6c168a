/* fuzz_vocab: any bytes as a vocabulary: rank file, then after a NUL byte
 * the JSON config, then after another NUL text to encode.  A vocabulary
 * that loads must encode valid text so that decoding gives it back, less
 * the bytes its pattern does not match (counted, as tiktoken drops them). */
#include <stdint.h>
#include <string.h>

#include "tokenizer.h"
#include "utf8.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *z1 = memchr(data, 0, size);
	size_t ranks_len = z1 ? (size_t)(z1 - data) : size;
	const uint8_t *config = z1 ? z1 + 1 : NULL;
	size_t rest = z1 ? size - ranks_len - 1 : 0;
	const uint8_t *z2 = config ? memchr(config, 0, rest) : NULL;
	size_t config_len = z2 ? (size_t)(z2 - config) : rest;
	const uint8_t *text = z2 ? z2 + 1 : (const uint8_t *)"hello world 123";
	size_t text_len = z2 ? rest - config_len - 1 : 15;
	char err[256];
	err[0] = '\0';
	tok_vocab *v = tok_load_mem("fuzz", data, ranks_len, config_len ? (const char *)config : NULL, config_len,
				    config_len ? NULL : "\\p{L}+|\\p{N}+|\\s+|.", err, sizeof(err));
	if (!v) {
		if (!err[0])
			__builtin_trap();
		return 0;
	}
	tok_allow_special(v, NULL);
	tok_state *s = tok_state_new(v);
	size_t replaced, n;
	if (tok_encode(s, text, text_len, &replaced, err, sizeof(err)) == 0) {
		const uint32_t *ids = tok_ids(s, &n);
		buf back = { 0 };
		size_t bad;
		if (tok_decode(v, ids, n, &back, &bad) != 0)
			__builtin_trap();
		size_t skipped = tok_skipped(s);
		if (!replaced && back.len + skipped != text_len)
			__builtin_trap();
		if (!replaced && !skipped && text_len && memcmp(back.data, text, text_len) != 0)
			__builtin_trap();
		buf_release(&back);
	}
	tok_state_free(s);
	tok_free(v);
	return 0;
}
