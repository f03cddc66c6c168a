/* check.h: the unit-test harness.  Each TEST is a function; RUN(name) runs
 * it and prints "ok NAME" or "not ok NAME" (the runner counts these lines).
 * CHECK(cond) records a failure with file and line but goes on. */
#ifndef SLUICE_CHECK_H
#define SLUICE_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int check_case_failed, check_total_failed;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		check_case_failed = 1; \
	} \
} while (0)

#define CHECK_EQ_INT(a, b) do { \
	long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
	if (check_a_ != check_b_) { \
		fprintf(stderr, "%s:%d: check failed: %s == %s (%lld != %lld)\n", \
			__FILE__, __LINE__, #a, #b, check_a_, check_b_); \
		check_case_failed = 1; \
	} \
} while (0)

#define RUN(name) do { \
	check_case_failed = 0; \
	name(); \
	printf("%s %s\n", check_case_failed ? "not ok" : "ok", #name); \
	fflush(stdout); \
	check_total_failed |= check_case_failed; \
} while (0)

#define CHECK_EXIT() return check_total_failed ? 1 : 0

#endif
