/* test_json.c: JSON lines to records and back, byte for byte, and every
 * kind of bad line rejected with its column. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "json.h"
#include "record.h"
#include "util.h"

/* Parse line, write it back: must be identical. */
static int round_trip(const char *line)
{
	rec *r = rec_new();
	buf out = { 0 };
	char err[256];
	int same = 0;
	if (json_parse_line(r, line, strlen(line), err, sizeof(err)) != 0) {
		fprintf(stderr, "parse failed: %s: %s\n", err, line);
	} else if (json_write_record(&out, r, err, sizeof(err)) != 0) {
		fprintf(stderr, "write failed: %s: %s\n", err, line);
	} else {
		same = out.len == strlen(line) + 1 && memcmp(out.data, line, out.len - 1) == 0;
		if (!same)
			fprintf(stderr, "round trip differs:\n  in:  %s\n  out: %.*s", line, (int)out.len, out.data);
	}
	buf_release(&out);
	rec_free(r);
	return same;
}

/* The line must be rejected with a message mentioning want. */
static int rejects(const char *line, size_t len, const char *want)
{
	rec *r = rec_new();
	char err[256] = "";
	int ok = json_parse_line(r, line, len, err, sizeof(err)) == -1 && strstr(err, want) != NULL;
	if (!ok)
		fprintf(stderr, "expected an error with '%s' for %.*s, got '%s'\n", want, (int)len, line, err);
	rec_free(r);
	return ok;
}
#define REJECTS(line, want) CHECK(rejects(line, strlen(line), want))

static void test_styles_round_trip(void)
{
	/* Python json.dumps default (ensure_ascii), ensure_ascii=False, compact,
	 * escaped slashes. */
	CHECK(round_trip("{\"question\": \"It\\u2019s 5\\u00d72\", \"answer\": \"#### 10\"}"));
	CHECK(round_trip("{\"text\": \"Caf\u00e9 \u2014 \xf0\x9f\x98\x80\", \"n\": 1}"));
	CHECK(round_trip("{\"a\":1,\"b\":\"x\",\"c\":[1,2]}"));
	CHECK(round_trip("{\"u\": \"http:\\/\\/x\\/y\"}"));
	CHECK(round_trip("{\"e\": \"\\ud83d\\ude00\"}"));
	CHECK(round_trip("{\"c\": \"\\u0000\\u001f\\b\\f\\n\\r\\t\\\"\\\\\"}"));
	CHECK(round_trip("{\"del\": \"\\u007f\"}"));
	CHECK(round_trip("{\"meta\": {\"a\": [1, 2.5e-3, null, true], \"b\": {}}, \"text\": \"x\"}"));
	CHECK(round_trip("{}"));
	CHECK(round_trip("{\"tokens\": [1, 2, 4294967295], \"mask\": [0, 1, 255]}"));
	CHECK(round_trip("{\"tokens\":[],\"mask\":[]}"));
	CHECK(round_trip("{\"k\u00e9y\": \"v\"}"));
}

static void test_typed_fields(void)
{
	rec *r = rec_new();
	char err[256];
	const char *line = "{\"text\": \"hi\", \"tokens\": [7, 8], \"mask\": [1, 0], \"id\": 12, \"s\": 0.5}";
	CHECK(json_parse_line(r, line, strlen(line), err, sizeof(err)) == 0);
	const rec_field *f = rec_get(r, "tokens");
	CHECK(f && f->type == REC_U32S && f->len == 8 && rec_u32_at(f, 0) == 7 && rec_u32_at(f, 1) == 8);
	f = rec_get(r, "mask");
	CHECK(f && f->type == REC_U8S && f->len == 2 && f->val[0] == 1 && f->val[1] == 0);
	f = rec_get(r, "text");
	CHECK(f && f->type == REC_STR && f->len == 2);
	f = rec_get(r, "id");
	CHECK(f && f->type == REC_JSON && f->len == 2);
	int64_t v;
	double d;
	CHECK(rec_get_int(r, "id", &v) == 0 && v == 12);
	CHECK(rec_get_double(r, "s", &d) == 0 && d == 0.5);
	CHECK(rec_flags(r) == 0);
	line = "{\"a\":\"\\u00e9\",\"b\":\"\\/\"}";
	CHECK(json_parse_line(r, line, strlen(line), err, sizeof(err)) == 0);
	CHECK(rec_flags(r) == (REC_JSON_ASCII | REC_JSON_COMPACT | REC_JSON_SLASH));
	/* CRLF line endings and surrounding blanks are accepted. */
	line = "  {\"a\": 1} \r";
	CHECK(json_parse_line(r, line, strlen(line), err, sizeof(err)) == 0 && rec_nfields(r) == 1);
	rec_free(r);
}

static void test_rejects(void)
{
	REJECTS("", "empty line");
	REJECTS("   ", "empty line");
	REJECTS("[1, 2]", "column 1: expected a JSON object");
	REJECTS("{\"a\": 1,}", "column 9: expected a string key");
	REJECTS("{\"a\": 1", "column 8: expected ',' or '}'");
	REJECTS("{\"a\" 1}", "column 6: expected ':'");
	REJECTS("{\"a\": 1} x", "column 10: trailing characters");
	REJECTS("{\"a\": 1, \"a\": 2}", "column 10: duplicate key 'a'");
	REJECTS("{\"a\": \"x\\ud800\"}", "invalid surrogate");
	REJECTS("{\"a\": \"x\\udc00\\ud800\"}", "invalid surrogate");
	REJECTS("{\"a\": \"\\q\"}", "bad escape");
	REJECTS("{\"a\": \"\\u12g4\"}", "bad \\u escape");
	REJECTS("{\"a\": \"tab\there\"}", "control character");
	REJECTS("{\"a\": \"open}", "unterminated string");
	REJECTS("{\"text\": 5}", "column 10: \"text\" must be a string");
	REJECTS("{\"tokens\": [1, -2]}", "\"tokens\" must hold integers");
	REJECTS("{\"tokens\": [4294967296]}", "\"tokens\" must hold integers");
	REJECTS("{\"tokens\": [1.5]}", "\"tokens\" must hold integers");
	REJECTS("{\"tokens\": \"abc\"}", "\"tokens\" must be an array");
	REJECTS("{\"mask\": [256]}", "\"mask\" must hold integers");
	REJECTS("{\"a\": tru}", "unexpected character");
	REJECTS("{\"a\": nul}", "unexpected character");
	CHECK(rejects("{\"a\": \"x\xff\"}", 10, "column 9: invalid UTF-8"));
	CHECK(rejects("{\"a\": \"\xc0\x80\"}", 11, "column 8: invalid UTF-8"));
	CHECK(rejects("{\"a\": \"\0\"}", 10, "NUL byte"));
	char key[300] = "{\"";
	memset(key + 2, 'k', 256);
	strcpy(key + 258, "\": 1}");
	REJECTS(key, "key longer than 255");
	/* Depth: 256 levels of nesting pass, 257 do not. */
	char deep[1200];
	size_t n = 0;
	n += (size_t)sprintf(deep, "{\"a\": ");
	for (int i = 0; i < 255; i++) deep[n++] = '[';
	for (int i = 0; i < 255; i++) deep[n++] = ']';
	strcpy(deep + n, "}");
	CHECK(round_trip(deep));
	n = (size_t)sprintf(deep, "{\"a\": ");
	for (int i = 0; i < 300; i++) deep[n++] = '[';
	for (int i = 0; i < 300; i++) deep[n++] = ']';
	strcpy(deep + n, "}");
	REJECTS(deep, "nesting deeper than 256");
}

static void test_numbers(void)
{
	const char *good[] = { "0", "-0", "1.5e+10", "1E5", "-12.25", "0.0", "123456789012345678901234567890" };
	const char *bad[] = { "01", "+1", ".5", "1.", "1e", "-", "0x10", "1e+", "--1", "Infinity", "NaN" };
	char line[64];
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(line, sizeof(line), "{\"n\": %s}", good[i]);
		CHECK(round_trip(line));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "{\"n\": %s}", bad[i]);
		rec *r = rec_new();
		char err[256];
		int ret = json_parse_line(r, line, strlen(line), err, sizeof(err));
		if (ret != -1)
			fprintf(stderr, "accepted bad number %s\n", bad[i]);
		CHECK(ret == -1);
		rec_free(r);
	}
}

static void test_utf8(void)
{
	struct { const char *s; size_t n, valid; } cases[] = {
		{ "plain ascii text", 16, 16 },
		{ "caf\xc3\xa9", 5, 5 },
		{ "\xe2\x82\xac", 3, 3 },
		{ "\xf0\x9f\x98\x80", 4, 4 },
		{ "\xf4\x8f\xbf\xbf", 4, 4 },     /* U+10FFFF */
		{ "ab\xc0\x80", 4, 2 },           /* overlong NUL */
		{ "\xe0\x80\x80", 3, 0 },         /* overlong */
		{ "x\xed\xa0\x80", 4, 1 },        /* surrogate */
		{ "\xf4\x90\x80\x80", 4, 0 },     /* past U+10FFFF */
		{ "abc\xe2\x82", 5, 3 },          /* truncated */
		{ "12345678\xff", 9, 8 },         /* after the fast path */
		{ "\x80", 1, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t got = utf8_valid_prefix((const uint8_t *)cases[i].s, cases[i].n);
		if (got != cases[i].valid)
			fprintf(stderr, "utf8 case %zu: %zu, expected %zu\n", i, got, cases[i].valid);
		CHECK(got == cases[i].valid);
	}
}

static void test_write_numbers(void)
{
	struct { double v; const char *want; } cases[] = {
		{ 0.1, "0.1" }, { 1.0, "1.0" }, { 1e300, "1e+300" }, { -0.0, "-0.0" },
		{ 123456.0, "123456.0" }, { 0.5, "0.5" }, { NAN, "null" }, { INFINITY, "null" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rec *r = rec_new();
		buf out = { 0 };
		char err[128], want[64];
		rec_set_float(r, "x", cases[i].v);
		CHECK(json_write_record(&out, r, err, sizeof(err)) == 0);
		snprintf(want, sizeof(want), "{\"x\": %s}\n", cases[i].want);
		if (out.len != strlen(want) || memcmp(out.data, want, out.len) != 0)
			fprintf(stderr, "float %zu: got %.*s", i, (int)out.len, out.data);
		CHECK(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0);
		buf_release(&out);
		rec_free(r);
	}
	rec *r = rec_new();
	buf out = { 0 };
	char err[128];
	rec_set_int(r, "i", -42);
	float lp[3] = { -0.25f, -1.5f, 0.1f };
	uint8_t b[12];
	for (int k = 0; k < 3; k++) {
		uint32_t u;
		memcpy(&u, &lp[k], 4);
		store_u32le(b + 4 * k, u);
	}
	rec_set(r, "logprobs", 8, REC_F32S, b, 12);
	CHECK(json_write_record(&out, r, err, sizeof(err)) == 0);
	const char *want = "{\"i\": -42, \"logprobs\": [-0.25, -1.5, 0.1]}\n";
	CHECK(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0);
	/* Invalid UTF-8 in a text field is an error, never output. */
	buf_reset(&out);
	rec_clear(r);
	rec_set_str(r, "text", "bad \xff", 5);
	CHECK(json_write_record(&out, r, err, sizeof(err)) == -1 && strstr(err, "invalid UTF-8") && out.len == 0);
	rec_clear(r);
	rec_set(r, "q", 1, 'Q', "", 0);
	CHECK(json_write_record(&out, r, err, sizeof(err)) == -1 && strstr(err, "unknown type 'Q'"));
	buf_release(&out);
	rec_free(r);
}

static void test_gsm8k_lines(void)
{
	FILE *f = fopen("data/gsm8k/train.jsonl", "r");
	if (!f) {
		fprintf(stderr, "skip: data/gsm8k/train.jsonl not found\n");
		return;
	}
	char line[16384];
	int n = 0, bad = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!round_trip(line))
			bad++;
		n++;
	}
	fclose(f);
	CHECK_EQ_INT(n, 7473);
	CHECK_EQ_INT(bad, 0);
}

int main(void)
{
	RUN(test_styles_round_trip);
	RUN(test_typed_fields);
	RUN(test_rejects);
	RUN(test_numbers);
	RUN(test_utf8);
	RUN(test_write_numbers);
	RUN(test_gsm8k_lines);
	CHECK_EXIT();
}
