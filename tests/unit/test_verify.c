/* test_verify: the final-answer extraction sluice-eval --gsm8k and the
 * synth-filter verifiers use, on GSM8K test's reference answers and on
 * answers written the way models write them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "input.h"
#include "verify.h"

/* The number after "####", read by hand: digits, commas dropped, a sign. */
static int after_hashes(const rec_field *f, double *out)
{
	const char *s = (const char *)f->val, *end = s + f->len, *h = NULL;
	for (const char *p = s; p + 4 <= end; p++)
		if (!memcmp(p, "####", 4))
			h = p + 4;
	if (!h)
		return 0;
	char num[64];
	size_t n = 0;
	for (; h < end && n + 1 < sizeof(num); h++)
		if ((*h >= '0' && *h <= '9') || *h == '-' || *h == '.')
			num[n++] = *h;
		else if (*h != ',' && *h != ' ')
			break;
	num[n] = 0;
	*out = strtod(num, NULL);
	return n > 0;
}

static void test_gsm8k_test_references(void)
{
	input *in = input_open("data/gsm8k/test.jsonl", INPUT_JSONL);
	CHECK(in != NULL);
	if (!in)
		return;
	rec *r = rec_new();
	int got;
	unsigned items = 0, extracted = 0, equal = 0;
	while ((got = input_read(in, r)) == 1) {
		const rec_field *a = rec_get(r, "answer");
		double want, have;
		items++;
		if (!a || !after_hashes(a, &want))
			continue;
		if (verify_final_answer(a->val, a->len, &have)) {
			extracted++;
			equal += have == want;
		}
	}
	CHECK(got == 0);
	printf("# GSM8K test: %u answers, %u extracted, %u equal to the number after ####\n", items, extracted, equal);
	CHECK_EQ_INT(items, 1319);
	CHECK_EQ_INT(extracted, items);
	CHECK_EQ_INT(equal, items);
	rec_free(r);
	input_close(in);
}

/* Each GSM8K test answer against itself, and with the last digit of its
 * final number changed (9 becomes 0, any other digit goes up by one):
 * the changed one must not match, however large the number. */
static void test_gsm8k_last_digit_changed(void)
{
	input *in = input_open("data/gsm8k/test.jsonl", INPUT_JSONL);
	CHECK(in != NULL);
	if (!in)
		return;
	rec *r = rec_new();
	int got;
	unsigned items = 0, same = 0, changed = 0;
	while ((got = input_read(in, r)) == 1) {
		const rec_field *a = rec_get(r, "answer");
		if (!a)
			continue;
		items++;
		same += verify_answer_matches(a->val, a->len, a->val, a->len);
		char *c = malloc(a->len);
		memcpy(c, a->val, a->len);
		size_t i = a->len;
		while (i > 0 && !(c[i - 1] >= '0' && c[i - 1] <= '9'))
			i--;
		if (i > 0) {
			c[i - 1] = c[i - 1] == '9' ? '0' : (char)(c[i - 1] + 1);
			int m = verify_answer_matches((const uint8_t *)c, a->len, a->val, a->len);
			if (m)
				fprintf(stderr, "# changed answer still matches: %.*s\n", (int)(a->len - (size_t)(strstr(c, "####") ? strstr(c, "####") - c : 0)), strstr(c, "####") ? strstr(c, "####") : c);
			changed += !m;
		}
		free(c);
	}
	CHECK(got == 0);
	printf("# GSM8K test: %u answers, %u match themselves, %u with the last digit changed do not\n", items, same,
	       changed);
	CHECK_EQ_INT(items, 1319);
	CHECK_EQ_INT(same, items);
	CHECK_EQ_INT(changed, items);
	rec_free(r);
	input_close(in);
}

static void test_model_like_answers(void)
{
	static const struct {
		const char *text;
		int found;
		double value;
	} cases[] = {
		{ "She has 3 + 4 = 7 apples.\n#### 7", 1, 7 },
		{ "The total is $1,234.50.", 1, 1234.5 },
		{ "So the answer is 18 dollars per day. I hope this helps!", 1, 18 },
		{ "Answer: -5", 1, -5 },
		{ "First 12, then 30, so \\boxed{42} in all, not 50.", 1, 42 },
		{ "#### 1,000,000", 1, 1e6 },
		{ "It takes 3/4 of an hour.", 1, 0.75 },
		{ "The growth is 25%.", 1, 25 },
		{ "I do not know how to solve this.", 0, 0 },
		{ "", 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double v = 0;
		int f = verify_final_answer((const uint8_t *)cases[i].text, strlen(cases[i].text), &v);
		if (f != cases[i].found || (f && v != cases[i].value))
			fprintf(stderr, "case %zu: '%s' -> %d %g\n", i, cases[i].text, f, v);
		CHECK(f == cases[i].found && (!f || v == cases[i].value));
	}
	const char *ref = "Natalia sold 48/2 = 24 clips in May.\n#### 72";
	CHECK(verify_answer_matches((const uint8_t *)"She sold 72 clips.", 18, (const uint8_t *)ref, strlen(ref)));
	CHECK(!verify_answer_matches((const uint8_t *)"She sold 73 clips.", 18, (const uint8_t *)ref, strlen(ref)));
}

/* Integers and fractions compare exactly at any size; a decimal against a
 * fraction matches when it is the fraction rounded up or down to its
 * places. */
static void test_exact_comparison(void)
{
	static const struct {
		const char *sol, *ref;
		int match;
	} cases[] = {
		{ "1450001", "#### 1,450,000", 0 },
		{ "1,450,000", "#### 1450000", 1 },
		{ "2880001", "2880000", 0 },
		{ "123456789012345678901234567890", "123456789012345678901234567890", 1 },
		{ "123456789012345678901234567891", "123456789012345678901234567890", 0 },
		{ "100000000000000000000000000000000000000000000000000000000000000000000001",
		  "100000000000000000000000000000000000000000000000000000000000000000000000", 0 },
		{ "9007199254740993", "9007199254740992", 0 },
		{ "-5", "-5", 1 },
		{ "-5", "5", 0 },
		{ "-0", "0", 1 },
		{ "72.0", "72", 1 },
		{ "72.5", "72", 0 },
		{ "2.50", "2.5", 1 },
		{ "1450000.0", "1450001", 0 },
		{ "0.75", "3/4", 1 },
		{ "6/8", "3/4", 1 },
		{ "\\boxed{\\frac{3}{4}}", "0.75", 1 },
		{ "\\frac{-3}{4}", "-0.75", 1 },
		{ "2/3", "4/6", 1 },
		{ "2/3", "0.6667", 1 },
		{ "0.67", "2/3", 1 },
		{ "0.66", "2/3", 1 },
		{ "0.65", "2/3", 0 },
		{ "0.333333", "1/3", 1 },
		{ "0.333", "0.3333", 0 },
		{ "-0.33", "-1/3", 1 },
		{ "0.33", "-1/3", 0 },
		{ "1/3", "0.3334", 1 },
		{ "1/3", "0.3335", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int m = verify_answer_matches((const uint8_t *)cases[i].sol, strlen(cases[i].sol),
					      (const uint8_t *)cases[i].ref, strlen(cases[i].ref));
		if (m != cases[i].match)
			fprintf(stderr, "case %zu: '%s' against '%s' -> %d\n", i, cases[i].sol, cases[i].ref, m);
		CHECK(m == cases[i].match);
	}
	double v = 0;
	CHECK(verify_final_answer((const uint8_t *)"#### 123456789012345678901234567890", 35, &v));
	CHECK(v == 123456789012345678901234567890.0);
}

int main(void)
{
	RUN(test_gsm8k_test_references);
	RUN(test_gsm8k_last_digit_changed);
	RUN(test_model_like_answers);
	RUN(test_exact_comparison);
	CHECK_EXIT();
}
