/* arith: verifiable arithmetic word problems for supervised fine-tuning
 * and RL, seeded and reproducible.
 *
 *   arith [-n COUNT] [-s SEED] [--digits D] [--steps S] [--ops OPS]
 *         [--work columns|plain] [--split train|test] [--test-per-mille P]
 *
 * Each problem is a short story of S operations on a count of things,
 * starting from a number of D digits; the worked solution has one line per
 * operation, in GSM8K's style, and ends with "#### ANSWER".  A line states
 * the operation whole ("48 + 47 = 95", the default), or works it column by
 * column ("--work columns"), one small fact and carry at a time.  Written as JSONL,
 * one problem a line:
 *
 *   {"id": "arith-d2s2-...", "question": "...", "solution": "...",
 *    "answer": "44", "messages": [{"role": "user", "content": QUESTION},
 *    {"role": "assistant", "content": SOLUTION}]}
 *
 * A problem belongs to the held-out split when the hash of its question
 * falls in the first P per mille (default 100), so the splits are disjoint
 * whatever the seed, count or order; within a run no question repeats.
 * Operations: + (buys, finds, is given), - (gives away, loses, sells; never
 * below zero), * (a number of boxes of a size, or "N times as many").
 * The same arguments give the same bytes on every machine. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "util.h"

static const char *const names[] = { "Ann", "Ben", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana",
				     "Ivan", "Jo", "Kim", "Leo", "Mia", "Ned", "Omar", "Pia" };
static const int female[] = { 1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1 };
static const char *const things[] = { "apples", "marbles", "stamps", "pencils", "cards", "shells",
				      "coins", "books", "stickers", "beads", "eggs", "nuts" };
#define COUNT(a) (sizeof(a) / sizeof(*(a)))

static unsigned pick(rng *r, unsigned n)
{
	return (unsigned)(rng_next(r) % n);
}

/* A number of exactly d digits (1 digit: 1..9). */
static long number(rng *r, int d)
{
	long lo = 1;
	for (int i = 1; i < d; i++)
		lo *= 10;
	long hi = lo * 10 - 1;
	if (d == 1)
		lo = 1;
	return lo + (long)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

typedef struct problem {
	char q[1024], s[1024];
	size_t qn, sn;
	long answer;
} problem;

#define ADD(buf, len, ...) (len += (size_t)snprintf(buf + len, sizeof(buf) - len, __VA_ARGS__))

/* One worked line for w = a OP b.  Plain: "a + b = w".  By columns, from
 * the units up, one small fact each, the carry or borrow written in:
 *
 *   154 + 87: 4+7=11, 5+8+1=14, 1+1=2, so 241
 *   154 - 87: 14-7=7, 15-8-1=6, 1-1=0, so 67
 *   46 * 5: 6*5=30, 4*5+3=23, so 230
 *
 * (a digit that borrows is written with its 10; the answer is the last
 * column's result before the earlier columns' last digits). */
static void work_line(problem *p, long a, char op, long b, long w, int columns)
{
	if (!columns) {
		ADD(p->s, p->sn, "%ld %c %ld = %ld\n", a, op, b, w);
		return;
	}
	ADD(p->s, p->sn, "%ld %c %ld:", a, op, b);
	long x = a, y = op == '*' ? 0 : b;
	int carry = 0;
	for (int col = 0; x || y || carry || !col; col++) {
		int da = (int)(x % 10), db = (int)(y % 10), has_b = y > 0, r;
		x /= 10, y /= 10;
		ADD(p->s, p->sn, col ? ", " : " ");
		if (op == '+') {
			r = da + db + carry;
			ADD(p->s, p->sn, "%d", da);
			if (has_b)
				ADD(p->s, p->sn, "+%d", db);
			if (carry)
				ADD(p->s, p->sn, "+1");
			ADD(p->s, p->sn, "=%d", r);
			carry = r / 10;
			if (!x && !y && carry) { /* the last column keeps its carry */
				carry = 0;
				break;
			}
		} else if (op == '-') {
			int need = db + carry, borrow = da < need;
			r = da + 10 * borrow - need;
			ADD(p->s, p->sn, "%d", da + 10 * borrow);
			if (has_b)
				ADD(p->s, p->sn, "-%d", db);
			if (carry)
				ADD(p->s, p->sn, "-1");
			ADD(p->s, p->sn, "=%d", r);
			carry = borrow;
		} else {
			r = da * (int)b + carry;
			ADD(p->s, p->sn, "%d*%ld", da, b);
			if (carry)
				ADD(p->s, p->sn, "+%d", carry);
			ADD(p->s, p->sn, "=%d", r);
			carry = r / 10;
			if (!x && carry) {
				carry = 0;
				break;
			}
		}
		if (!x && !y && !carry)
			break;
	}
	ADD(p->s, p->sn, ", so %ld\n", w);
}

static void generate(rng *r, problem *p, int digits, int steps, const char *ops, int columns)
{
	unsigned who = pick(r, COUNT(names)), what = pick(r, COUNT(things));
	const char *name = names[who], *he = female[who] ? "She" : "He", *him = female[who] ? "her" : "him";
	const char *thing = things[what];
	long v = number(r, digits);
	if (v == 1)
		v = 2; /* "has 1 apples" */
	p->qn = p->sn = 0;
	ADD(p->q, p->qn, "%s has %ld %s.", name, v, thing);
	for (int i = 0; i < steps; i++) {
		char op = ops[pick(r, (unsigned)strlen(ops))];
		if (op == '-' && v < 2)
			op = '+';
		long b, w;
		if (op == '+') {
			b = number(r, digits);
			w = v + b;
			switch (pick(r, 3)) {
			case 0: ADD(p->q, p->qn, " %s buys %ld more.", he, b); break;
			case 1: ADD(p->q, p->qn, " %s finds %ld more.", he, b); break;
			default: ADD(p->q, p->qn, " A friend gives %s %ld more.", him, b); break;
			}
			work_line(p, v, '+', b, w, columns);
		} else if (op == '-') {
			/* At most v - 1 of the current count, and at most D digits. */
			long cap = v - 1, lim = 1;
			for (int d = 0; d < digits; d++)
				lim *= 10;
			cap = cap < lim - 1 ? cap : lim - 1;
			b = 1 + (long)(rng_next(r) % (uint64_t)cap);
			w = v - b;
			switch (pick(r, 3)) {
			case 0: ADD(p->q, p->qn, " %s gives away %ld.", he, b); break;
			case 1: ADD(p->q, p->qn, " %s loses %ld.", he, b); break;
			default: ADD(p->q, p->qn, " %s sells %ld.", he, b); break;
			}
			work_line(p, v, '-', b, w, columns);
		} else {
			b = 2 + (long)pick(r, 4); /* 2..5 */
			w = v * b;
			ADD(p->q, p->qn, " Then %s has %ld times as many.", name, b);
			work_line(p, v, '*', b, w, columns);
		}
		v = w;
	}
	ADD(p->q, p->qn, " How many %s does %s have now?", thing, name);
	ADD(p->s, p->sn, "#### %ld", v);
	p->answer = v;
}

/* FNV-1a: the split is a property of the question's bytes alone. */
static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

/* The questions already written, to skip repeats. */
typedef struct seen {
	uint64_t *slot;
	size_t cap, n;
} seen;

static int seen_add(seen *s, uint64_t h)
{
	if (!h)
		h = 1;
	if (2 * (s->n + 1) > s->cap) {
		seen t = { xcalloc(s->cap ? 2 * s->cap : 1024, sizeof(uint64_t)), s->cap ? 2 * s->cap : 1024, 0 };
		for (size_t i = 0; i < s->cap; i++)
			if (s->slot[i])
				seen_add(&t, s->slot[i]);
		free(s->slot);
		*s = t;
	}
	size_t i = h & (s->cap - 1);
	while (s->slot[i]) {
		if (s->slot[i] == h)
			return 0;
		i = (i + 1) & (s->cap - 1);
	}
	s->slot[i] = h;
	s->n++;
	return 1;
}

/* Every string is plain ASCII without quotes or backslashes, so it is its
 * own JSON but for the solution's newlines. */
static void put_solution(const problem *p)
{
	for (size_t i = 0; i < p->sn; i++)
		if (p->s[i] == '\n')
			fputs("\\n", stdout);
		else
			putchar(p->s[i]);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: arith [-n COUNT] [-s SEED] [--digits D] [--steps S] [--ops OPS]\n"
		   "             [--work columns|plain] [--split train|test] [--test-per-mille P]\n"
		   "Arithmetic word problems with worked solutions, as chat JSONL on stdout.\n");
}

static long arg_long(const char *opt, const char *s, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "arith: %s: '%s' is not a number from %ld to %ld\n", opt, s, lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'n' }, { "seed", required_argument, NULL, 's' },
		{ "digits", required_argument, NULL, 'd' }, { "steps", required_argument, NULL, 'S' },
		{ "ops", required_argument, NULL, 'o' },    { "split", required_argument, NULL, 'p' },
		{ "test-per-mille", required_argument, NULL, 'P' }, { "work", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long count = 1000, seed = 1, digits = 2, steps = 2, per_mille = 100;
	const char *ops = "+-", *split = "train";
	int columns = 0;
	int c;
	while ((c = getopt_long(argc, argv, "n:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': count = arg_long("--count", optarg, 0, 100000000); break;
		case 's': seed = arg_long("--seed", optarg, 0, 0x7fffffffL); break;
		case 'd': digits = arg_long("--digits", optarg, 1, 6); break;
		case 'S': steps = arg_long("--steps", optarg, 1, 10); break;
		case 'P': per_mille = arg_long("--test-per-mille", optarg, 1, 999); break;
		case 'o':
			ops = optarg;
			if (!*ops || strspn(ops, "+-*") != strlen(ops)) {
				fprintf(stderr, "arith: --ops: '%s': use the characters + - *\n", ops);
				return 2;
			}
			break;
		case 'p':
			split = optarg;
			if (strcmp(split, "train") && strcmp(split, "test")) {
				fprintf(stderr, "arith: --split: '%s': train or test\n", split);
				return 2;
			}
			break;
		case 'w':
			if (strcmp(optarg, "columns") && strcmp(optarg, "plain")) {
				fprintf(stderr, "arith: --work: '%s': columns or plain\n", optarg);
				return 2;
			}
			columns = !strcmp(optarg, "columns");
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	int want_test = !strcmp(split, "test");
	rng r;
	rng_seed(&r, (uint64_t)seed);
	seen s = { 0 };
	problem p;
	long written = 0, tries = 0;
	while (written < count) {
		if (++tries > 100 * count + 100000) {
			fprintf(stderr, "arith: only %ld distinct problems found; ask for fewer or harder ones\n", written);
			return 1;
		}
		generate(&r, &p, (int)digits, (int)steps, ops, columns);
		uint64_t h = fnv1a(p.q, p.qn);
		if ((h % 1000 < (uint64_t)per_mille) != want_test || !seen_add(&s, h))
			continue;
		printf("{\"id\": \"arith-d%lds%ld-%s-%016llx\", \"question\": \"%s\", \"solution\": \"", digits, steps,
		       split, (unsigned long long)h, p.q);
		put_solution(&p);
		printf("\", \"answer\": \"%ld\", \"messages\": [{\"role\": \"user\", \"content\": \"%s\"}, "
		       "{\"role\": \"assistant\", \"content\": \"", p.answer, p.q);
		put_solution(&p);
		fputs("\"}]}\n", stdout);
		written++;
	}
	free(s.slot);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "arith: write error: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
