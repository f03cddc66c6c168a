/* verify.c: final-answer extraction and refusal phrases. */
#include "verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* A number as written, pointing into the text: the digits before the
 * point (thousands commas among them) and after it. */
typedef struct plain {
	const uint8_t *ip, *fp;
	size_t in, fn;
} plain;

/* A final answer: a, or a/b when frac is set; neg for a minus sign. */
typedef struct number {
	plain a, b;
	int frac, neg;
} number;

/* A plain number starting at s[0] (a digit, or a point before a digit).
 * Returns the bytes it spans, 0 if none starts there. */
static size_t read_plain(const uint8_t *s, size_t n, plain *p)
{
	size_t j = 0;
	memset(p, 0, sizeof(*p));
	if (!n || !(digit(s[0]) || (s[0] == '.' && n > 1 && digit(s[1]))))
		return 0;
	p->ip = s;
	while (j < n) {
		if (digit(s[j]))
			j++;
		else if (s[j] == ',' && j > 0 && j + 3 < n && digit(s[j + 1]) && digit(s[j + 2]) &&
			 digit(s[j + 3]) && (j + 4 >= n || !digit(s[j + 4])))
			j++; /* thousands separator */
		else
			break;
	}
	p->in = j;
	if (j + 1 < n && s[j] == '.' && digit(s[j + 1])) {
		p->fp = s + j + 1;
		while (++j < n && digit(s[j]))
			;
		p->fn = (size_t)(s + j - p->fp);
	}
	return j;
}

static int plain_zero(const plain *p)
{
	for (size_t i = 0; i < p->in; i++)
		if (digit(p->ip[i]) && p->ip[i] != '0')
			return 0;
	for (size_t i = 0; i < p->fn; i++)
		if (p->fp[i] != '0')
			return 0;
	return 1;
}

static size_t skip_spaces(const uint8_t *s, size_t n, size_t i)
{
	while (i < n && s[i] == ' ')
		i++;
	return i;
}

/* \frac{a}{b} at s[0]: a and b plain numbers, each with an optional minus
 * sign.  Returns the bytes it spans, 0 if it is not one. */
static size_t read_frac(const uint8_t *s, size_t n, number *x)
{
	size_t i = 6, e;
	int neg = 0;
	if (n < 6 || memcmp(s, "\\frac{", 6) != 0)
		return 0;
	for (int part = 0; part < 2; part++) {
		plain *p = part ? &x->b : &x->a;
		i = skip_spaces(s, n, i);
		if (i < n && s[i] == '-') {
			neg ^= 1;
			i = skip_spaces(s, n, i + 1);
		}
		if (!(e = read_plain(s + i, n - i, p)))
			return 0;
		i = skip_spaces(s, n, i + e);
		if (i >= n || s[i] != '}')
			return 0;
		i++;
		if (!part) {
			if (i >= n || s[i] != '{')
				return 0;
			i++;
		}
	}
	if (plain_zero(&x->b))
		return 0;
	x->frac = 1;
	x->neg ^= neg;
	return i;
}

/* The first number in s[0..n): a plain number, "a/b" or \frac{a}{b}, a
 * minus sign (or "-$") before it.  Returns 1 and sets *x and *end (the
 * offset just past it) if found. */
static int first_number(const uint8_t *s, size_t n, number *x, size_t *end)
{
	for (size_t i = 0; i < n; i++) {
		size_t e;
		memset(x, 0, sizeof(*x));
		x->neg = (i > 0 && s[i - 1] == '-') || (i > 1 && s[i - 1] == '$' && s[i - 2] == '-');
		if (s[i] == '\\' && (e = read_frac(s + i, n - i, x))) {
			*end = i + e;
			return 1;
		}
		if (!(e = read_plain(s + i, n - i, &x->a)))
			continue;
		size_t j = i + e;
		/* a fraction a/b */
		if (j + 1 < n && s[j] == '/' && (e = read_plain(s + j + 1, n - j - 1, &x->b)) && !plain_zero(&x->b)) {
			x->frac = 1;
			j += 1 + e;
		}
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

static int final_number(const uint8_t *s, size_t n, number *out)
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
		number v;
		if (!first_number(s + i, n - i, &v, &end))
			break;
		*out = v;
		found = 1;
		i += end ? end : 1;
	}
	return found;
}

/* The nearest double to a plain number: its digits, at most 400 of them
 * significant, through strtod. */
static double plain_double(const plain *p)
{
	char tmp[512];
	size_t k = 0, skipped = 0;
	for (size_t i = 0; i < p->in; i++) {
		if (!digit(p->ip[i]))
			continue;
		if (k < 400)
			tmp[k++] = (char)p->ip[i];
		else
			skipped++;
	}
	if (k < 400 && p->fn) {
		tmp[k++] = '.';
		for (size_t i = 0; i < p->fn && k < 401; i++)
			tmp[k++] = (char)p->fp[i];
	}
	k += (size_t)snprintf(tmp + k, sizeof(tmp) - k, "e%zu", skipped);
	return strtod(tmp, NULL);
}

int verify_final_answer(const uint8_t *s, size_t n, double *out)
{
	number x;
	if (!final_number(s, n, &x))
		return 0;
	double v = plain_double(&x.a);
	if (x.frac)
		v /= plain_double(&x.b);
	*out = x.neg ? -v : v;
	return 1;
}

/* Non-negative integers of any size: base 10^9 limbs, least significant
 * first, no leading zero limbs (zero has none). */
#define LIMB 1000000000u
typedef struct big {
	uint32_t *d;
	size_t n;
} big;

static void big_trim(big *x)
{
	while (x->n && !x->d[x->n - 1])
		x->n--;
}

/* The digits of s[0..n) (other bytes skipped), then `zeros` zeros. */
static big big_digits(const uint8_t *s, size_t n, const uint8_t *t, size_t tn, size_t zeros)
{
	size_t nd = zeros;
	for (size_t i = 0; i < n; i++)
		nd += digit(s[i]);
	nd += tn;
	big x = { xcalloc(nd / 9 + 1, sizeof(uint32_t)), 0 };
	/* fill from the least significant digit */
	size_t pos = 0;
	uint32_t pow[9] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000 };
	pos += zeros;
	for (size_t i = tn; i-- > 0; pos++)
		x.d[pos / 9] += (uint32_t)(t[i] - '0') * pow[pos % 9];
	for (size_t i = n; i-- > 0;)
		if (digit(s[i])) {
			x.d[pos / 9] += (uint32_t)(s[i] - '0') * pow[pos % 9];
			pos++;
		}
	x.n = nd / 9 + 1;
	big_trim(&x);
	return x;
}

static big big_mul(const big *a, const big *b)
{
	big r = { xcalloc(a->n + b->n + 1, sizeof(uint32_t)), a->n + b->n };
	for (size_t i = 0; i < a->n; i++) {
		uint64_t carry = 0;
		for (size_t j = 0; j < b->n; j++) {
			uint64_t t = (uint64_t)a->d[i] * b->d[j] + r.d[i + j] + carry;
			r.d[i + j] = (uint32_t)(t % LIMB);
			carry = t / LIMB;
		}
		for (size_t k = i + b->n; carry; k++) {
			uint64_t t = r.d[k] + carry;
			r.d[k] = (uint32_t)(t % LIMB);
			carry = t / LIMB;
		}
	}
	big_trim(&r);
	return r;
}

static big big_add(const big *a, const big *b)
{
	size_t n = a->n > b->n ? a->n : b->n;
	big r = { xcalloc(n + 1, sizeof(uint32_t)), n + 1 };
	uint32_t carry = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t t = (i < a->n ? a->d[i] : 0) + (i < b->n ? b->d[i] : 0) + carry;
		carry = t >= LIMB;
		r.d[i] = carry ? t - LIMB : t;
	}
	r.d[n] = carry;
	big_trim(&r);
	return r;
}

static int big_cmp(const big *a, const big *b)
{
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	for (size_t i = a->n; i-- > 0;)
		if (a->d[i] != b->d[i])
			return a->d[i] < b->d[i] ? -1 : 1;
	return 0;
}

/* A number as num/den exactly (sign apart). */
static void exact(const number *x, big *num, big *den)
{
	big an = big_digits(x->a.ip, x->a.in, x->a.fp, x->a.fn, 0);
	big ad = big_digits((const uint8_t *)"1", 1, NULL, 0, x->a.fn);
	if (!x->frac) {
		*num = an;
		*den = ad;
		return;
	}
	big bn = big_digits(x->b.ip, x->b.in, x->b.fp, x->b.fn, 0);
	big bd = big_digits((const uint8_t *)"1", 1, NULL, 0, x->b.fn);
	*num = big_mul(&an, &bd);
	*den = big_mul(&ad, &bn);
	free(an.d);
	free(ad.d);
	free(bn.d);
	free(bd.d);
}

/* Whether x and y are equal: exactly, as rationals, except that a
 * decimal of k places (d) against a fraction (f) matches when they differ
 * by less than 10^-k, that is when d is f rounded up or down to k places. */
static int numbers_match(const number *x, const number *y)
{
	big xn, xd, yn, yd;
	exact(x, &xn, &xd);
	exact(y, &yn, &yd);
	int xneg = x->neg && xn.n, yneg = y->neg && yn.n; /* -0 is 0 */
	big l = big_mul(&xn, &yd), r = big_mul(&yn, &xd);
	int eq = xneg == yneg && big_cmp(&l, &r) == 0;
	const number *dec = NULL;
	if (!eq && !x->frac && x->a.fn && y->frac)
		dec = x;
	else if (!eq && !y->frac && y->a.fn && x->frac)
		dec = y;
	if (dec) {
		/* |l - r| < xd * yd * 10^-k, where xd * yd = 10^k * (the fraction's den) */
		big fden = dec == x ? yd : xd;
		if (xneg == yneg) {
			big lq = big_add(&l, &fden), rq = big_add(&r, &fden);
			eq = big_cmp(&l, &rq) < 0 && big_cmp(&r, &lq) < 0;
			free(lq.d);
			free(rq.d);
		} else {
			big sum = big_add(&l, &r);
			eq = big_cmp(&sum, &fden) < 0;
			free(sum.d);
		}
	}
	free(l.d);
	free(r.d);
	free(xn.d);
	free(xd.d);
	free(yn.d);
	free(yd.d);
	return eq;
}

int verify_answer_matches(const uint8_t *sol, size_t sn, const uint8_t *ref, size_t rn)
{
	number a, b;
	if (!final_number(sol, sn, &a) || !final_number(ref, rn, &b))
		return 0;
	return numbers_match(&a, &b);
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
