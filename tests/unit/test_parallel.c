/* test_parallel.c: the ordered parallel map keeps input order and loses
 * nothing, whatever the thread count and batch boundaries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "parallel.h"
#include "record.h"
#include "util.h"

struct seen {
	int64_t next;
	int bad_order, bad_value, stop_at;
	int64_t emitted;
};

static int square(void *ctx, int worker, rec *r, void *slot)
{
	(void)slot;
	(void)ctx;
	(void)worker;
	int64_t v = 0;
	rec_get_int(r, "n", &v);
	rec_set_int(r, "sq", v * v);
	return (int)(v % 3);
}

static int check_emit(void *ctx, rec *r, int status, void *slot)
{
	(void)slot;
	struct seen *s = ctx;
	int64_t v = -1, sq = -1;
	rec_get_int(r, "n", &v);
	rec_get_int(r, "sq", &sq);
	if (v != s->next)
		s->bad_order = 1;
	if (sq != v * v || status != (int)(v % 3))
		s->bad_value = 1;
	s->next = v + 1;
	s->emitted++;
	return s->stop_at && s->emitted == s->stop_at ? -1 : 0;
}

static void run(int threads, int64_t n, size_t pad)
{
	struct seen s = { 0 };
	par *p = par_new(threads, square, check_emit, &s);
	rec *r = rec_new();
	char text[4096];
	memset(text, 'x', sizeof(text));
	for (int64_t i = 0; i < n; i++) {
		rec_clear(r);
		rec_set_int(r, "n", i);
		rec_set_str(r, "text", text, (size_t)(i * 7919) % pad);
		CHECK(par_push(p, r) == 0);
	}
	CHECK(par_finish(p) == 0);
	par_free(p);
	rec_free(r);
	CHECK_EQ_INT(s.emitted, n);
	CHECK(!s.bad_order);
	CHECK(!s.bad_value);
}

static void test_order_and_count(void)
{
	for (int t = 1; t <= 4; t++) {
		run(t, 0, 1);
		run(t, 1, 1);
		run(t, 5000, 16);
		run(t, 3000, 4096); /* batches cut by bytes */
	}
}

static void test_emit_stops(void)
{
	for (int t = 1; t <= 3; t++) {
		struct seen s = { .stop_at = 700 };
		par *p = par_new(t, square, check_emit, &s);
		rec *r = rec_new();
		int failed = 0;
		for (int64_t i = 0; i < 5000 && !failed; i++) {
			rec_clear(r);
			rec_set_int(r, "n", i);
			failed = par_push(p, r) < 0;
		}
		if (!failed)
			failed = par_finish(p) < 0;
		CHECK(failed);
		CHECK_EQ_INT(s.emitted, 700);
		par_free(p);
		rec_free(r);
	}
}

/* A slot: what work() found, beside the status; a buffer kept for reuse. */
struct slot {
	int64_t sq;
	buf text;
};

static int slot_work(void *ctx, int worker, rec *r, void *slot)
{
	(void)ctx;
	(void)worker;
	struct slot *sl = slot;
	int64_t v = 0;
	rec_get_int(r, "n", &v);
	sl->sq = v * v;
	char tmp[32];
	buf_reset(&sl->text);
	snprintf(tmp, sizeof(tmp), "n=%lld", (long long)v);
	buf_adds(&sl->text, tmp);
	return 0;
}

static int slot_emit(void *ctx, rec *r, int status, void *slot)
{
	struct seen *s = ctx;
	struct slot *sl = slot;
	int64_t v = -1;
	rec_get_int(r, "n", &v);
	char want[32];
	snprintf(want, sizeof(want), "n=%lld", (long long)v);
	if (v != s->next)
		s->bad_order = 1;
	if (status != 0 || sl->sq != v * v || sl->text.len != strlen(want) || memcmp(sl->text.data, want, sl->text.len))
		s->bad_value = 1;
	s->next = v + 1;
	s->emitted++;
	return 0;
}

static int released;

static void slot_release(void *slot)
{
	struct slot *sl = slot;
	buf_release(&sl->text);
	released++;
}

/* Slots carry results to emit() in order; pushing goes on after finish(). */
static void test_slots(void)
{
	for (int t = 1; t <= 4; t++) {
		struct seen s = { 0 };
		released = 0;
		par *p = par_new_slots(t, sizeof(struct slot), slot_release, slot_work, slot_emit, &s);
		rec *r = rec_new();
		for (int64_t i = 0; i < 3000; i++) {
			rec_clear(r);
			rec_set_int(r, "n", i);
			CHECK(par_push(p, r) == 0);
			if (i == 1000) {
				CHECK(par_finish(p) == 0);
				CHECK_EQ_INT(s.emitted, 1001);
			}
		}
		CHECK(par_finish(p) == 0);
		CHECK_EQ_INT(s.emitted, 3000);
		CHECK(!s.bad_order);
		CHECK(!s.bad_value);
		par_free(p);
		CHECK(released > 0);
		rec_free(r);
	}
}

int main(void)
{
	RUN(test_order_and_count);
	RUN(test_emit_stops);
	RUN(test_slots);
	CHECK_EXIT();
}
