/* verify.c: final-answer extraction and refusal phrases. */
#include "verify.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Parse the first number in s[0..n): commas between digit groups, a sign,
 * decimals, "a/b" and \frac{a}{b}.  Returns 1 and sets *out if found. */
static int first_number(const uint8_t *s, size_t n, double *out, size_t *end)
{
	for (size_t i = 0; i < n; i++) {
		if (n - i > 6 && memcmp(s + i, "\\frac{", 6) == 0) {
			double a, b;
			size_t e1, e2;
			if (first_number(s + i + 6, n - i - 6, &a, &e1)) {
				size_t j = i + 6 + e1;
				if (j + 1 < n && s[j] == '}' && s[j + 1] == '{' &&
				    first_number(s + j + 2, n - j - 2, &b, &e2) && b != 0) {
					*out = a / b;
					*end = j + 2 + e2;
					return 1;
				}
			}
		}
		if (!digit(s[i]) && !(s[i] == '.' && i + 1 < n && digit(s[i + 1])))
			continue;
		int neg = i > 0 && s[i - 1] == '-';
		if (i > 1 && s[i - 1] == '$' && s[i - 2] == '-')
			neg = 1;
		char tmp[64];
		size_t k = 0, j = i;
		int dot = 0;
		while (j < n && k < sizeof(tmp) - 1) {
			if (digit(s[j])) {
				tmp[k++] = (char)s[j++];
			} else if (s[j] == ',' && !dot && j + 3 < n + 0 && digit(s[j + 1]) && j + 3 <= n &&
				   digit(s[j + 2]) && digit(s[j + 3]) && (j + 4 >= n || !digit(s[j + 4]))) {
				j++; /* thousands separator */
			} else if (s[j] == '.' && !dot && j + 1 < n && digit(s[j + 1])) {
				tmp[k++] = '.';
				dot = 1;
				j++;
			} else {
				break;
			}
		}
		tmp[k] = '\0';
		double v = strtod(tmp, NULL);
		/* a fraction a/b */
		if (j + 1 < n && s[j] == '/' && digit(s[j + 1])) {
			double b;
			size_t e;
			if (first_number(s + j + 1, n - j - 1, &b, &e) && b != 0) {
				v /= b;
				j += 1 + e;
			}
		}
		*out = neg ? -v : v;
		*end = j;
		return 1;
	}
	return 0;
}

/* Last occurrence of pat in s[0..n), case-insensitive ASCII; -1 if none. */
static long last_of(const uint8_t *s, size_t n, const char *pat)
{
	size_t k = strlen(pat);
	for (size_t i = n >= k ? n - k + 1 : 0; i-- > 0;) {
		size_t j = 0;
		while (j < k && (s[i + j] >= 'A' && s[i + j] <= 'Z' ? s[i + j] + 32 : s[i + j]) == pat[j])
			j++;
		if (j == k)
			return (long)i;
	}
	return -1;
}

int verify_final_answer(const uint8_t *s, size_t n, double *out)
{
	size_t end;
	long at = last_of(s, n, "\\boxed{");
	if (at >= 0) {
		/* the braced content, nested braces allowed */
		size_t i = (size_t)at + 7, depth = 1, j = i;
		while (j < n && depth) {
			depth += s[j] == '{';
			depth -= s[j] == '}';
			j++;
		}
		if (first_number(s + i, (depth ? j : j - 1) - i, out, &end))
			return 1;
	}
	at = last_of(s, n, "####");
	if (at >= 0 && first_number(s + at + 4, n - (size_t)at - 4, out, &end))
		return 1;
	static const char *const cues[] = { "answer is", "answer:" };
	for (size_t c = 0; c < 2; c++) {
		at = last_of(s, n, cues[c]);
		if (at >= 0 && first_number(s + at, n - (size_t)at, out, &end))
			return 1;
	}
	/* the last number in the text */
	int found = 0;
	for (size_t i = 0; i < n;) {
		double v;
		if (!first_number(s + i, n - i, &v, &end))
			break;
		*out = v;
		found = 1;
		i += end ? end : 1;
	}
	return found;
}

int verify_answer_matches(const uint8_t *sol, size_t sn, const uint8_t *ref, size_t rn)
{
	double a, b;
	if (!verify_final_answer(sol, sn, &a) || !verify_final_answer(ref, rn, &b))
		return 0;
	double scale = fabs(b) > 1 ? fabs(b) : 1;
	return fabs(a - b) <= 1e-6 * scale;
}

static const char *const refusals[] = {
	"as an ai language model", "as an ai model", "as a language model", "i'm sorry, but i can",
	"i am sorry, but i can", "i'm sorry, i can", "i cannot fulfill", "i can't fulfill",
	"i cannot help with", "i can't help with", "i cannot assist", "i can't assist",
	"i'm unable to", "i am unable to", "i cannot provide", "i can't provide",
	"it is not appropriate for me", "i don't have personal opinions", "my knowledge cutoff",
	"as of my last update", "i hope this helps", "feel free to ask",
};

size_t verify_refusals(const uint8_t *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		k += last_of(s, n, refusals[i]) >= 0;
	return k;
}
