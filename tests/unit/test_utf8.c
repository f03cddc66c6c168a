/* test_utf8.c: decoding, encoding and repair of UTF-8.  The repair vectors
 * are what Python's bytes.decode("utf-8", errors="replace") gives. */
#include <string.h>

#include "check.h"
#include "utf8.h"
#include "util.h"

static void test_repair_matches_python(void)
{
	static const struct { const char *in; size_t n; size_t replaced; const char *out; } cases[] = {
		{ "abc", 3, 0, "abc" },
		{ "\xe2\x82", 2, 1, "\xef\xbf\xbd" },
		{ "\xf0\x80\x80", 3, 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xed\xa0\x80x", 4, 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx" },
		{ "\xc0\xaf", 2, 2, "\xef\xbf\xbd\xef\xbf\xbd" },
		{ "a\xf4\x90\x80\x80" "b", 6, 4, "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "b" },
		{ "\xf0\x9f\x98", 3, 1, "\xef\xbf\xbd" },
		{ "\xff\xfe", 2, 2, "\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xe0\x80\xaf", 3, 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\xf1\x80\x80\xe1\x80\xc2\x80", 7, 2, "\xef\xbf\xbd\xef\xbf\xbd\xc2\x80" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf out = { 0 };
		size_t k = utf8_repair(&out, (const uint8_t *)cases[i].in, cases[i].n);
		CHECK_EQ_INT(k, cases[i].replaced);
		CHECK(out.len == strlen(cases[i].out) && memcmp(out.data, cases[i].out, out.len) == 0);
		CHECK_EQ_INT(utf8_valid_prefix(out.data, out.len), out.len);
		buf_release(&out);
	}
}

static void test_encode_decode_every_code_point(void)
{
	uint8_t b[4];
	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		size_t n = utf8_encode(cp, b);
		uint32_t back = 0;
		if (utf8_valid_prefix(b, n) != n || utf8_decode(b, n, &back) != n || back != cp) {
			CHECK(!"round trip");
			return;
		}
	}
	uint8_t sur[3] = { 0xed, 0xa0, 0x80 };
	uint32_t cp;
	CHECK_EQ_INT(utf8_decode(sur, 3, &cp), 1);
	CHECK_EQ_INT(cp, 0xfffd);
}

int main(void)
{
	RUN(test_repair_matches_python);
	RUN(test_encode_decode_every_code_point);
	CHECK_EXIT();
}
