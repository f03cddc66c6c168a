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

int main(void)
{
	RUN(test_gsm8k_test_references);
	RUN(test_model_like_answers);
	CHECK_EXIT();
}
