/* test_library.c: the library proper never prints and never exits
 * (doc/architecture.md).  Its failures come back to the caller, with errno
 * for a file that cannot be opened; its warnings go to the log hook and its
 * running out of memory to the out-of-memory hook.  Built without the
 * programs' headers, as the library is. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "input.h"
#include "rollout.h"
#include "seqs.h"
#include "util.h"

static char stderr_path[64];
static int saved_stderr = -1;

/* Send stderr to a file, to see what the library writes there. */
static void capture_stderr(void)
{
	fflush(stderr);
	snprintf(stderr_path, sizeof(stderr_path), "/tmp/sluice-test-library-%ld", (long)getpid());
	int fd = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

/* Restore stderr; returns the bytes written to it meanwhile, but for the
 * line AddressSanitizer writes when an allocation fails (the sanitizer
 * build's, not the library's). */
static long release_stderr(void)
{
	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	FILE *f = fopen(stderr_path, "r");
	long n = -1;
	if (f) {
		char line[512];
		n = 0;
		while (fgets(line, sizeof(line), f))
			if (!strstr(line, "WARNING: AddressSanitizer failed to allocate"))
				n += (long)strlen(line);
		fclose(f);
	}
	unlink(stderr_path);
	return n;
}

static void test_open_failures_are_returned(void)
{
	const char *missing = "/nonexistent-dir/none.slc";
	capture_stderr();
	errno = 0;
	input *in = input_open(missing, INPUT_AUTO);
	int e1 = errno;
	errno = 0;
	seqs *s = seqs_open(missing);
	int e2 = errno;
	errno = 0;
	rollout_reader *rd = rollout_open(missing, 50257, 64, ROLLOUT_NEED_REWARD);
	int e3 = errno;
	long printed = release_stderr();
	CHECK(!in && !s && !rd);
	CHECK_EQ_INT(e1, ENOENT);
	CHECK_EQ_INT(e2, ENOENT);
	CHECK_EQ_INT(e3, ENOENT);
	CHECK_EQ_INT(printed, 0);
}

static char logged[512];
static int nlogged;

static void log_hook(const char *msg)
{
	snprintf(logged, sizeof(logged), "%s", msg);
	nlogged++;
}

static void test_warnings_go_to_the_hook(void)
{
	capture_stderr();
	util_warn("dropped: %d", 1);       /* no hook: nothing, anywhere */
	util_set_log(log_hook);
	util_warn("could start %d of %d threads", 2, 4);
	util_set_log(NULL);
	long printed = release_stderr();
	CHECK_EQ_INT(nlogged, 1);
	CHECK(strcmp(logged, "could start 2 of 4 threads") == 0);
	CHECK_EQ_INT(printed, 0);
}

/* Under AddressSanitizer an impossible allocation aborts the program
 * unless the allocator may return NULL, as the C library's does. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

static jmp_buf oom_jump;
static int oom_calls;

static void oom_hook(void)
{
	oom_calls++;
	longjmp(oom_jump, 1);
}

static void test_out_of_memory_goes_to_the_hook(void)
{
	util_set_oom(oom_hook);
	capture_stderr();
	volatile int returned = 0;
	if (setjmp(oom_jump) == 0) {
		void *p = xmalloc(SIZE_MAX / 2);
		returned = p != NULL;
	}
	long printed = release_stderr();
	util_set_oom(NULL);
	CHECK_EQ_INT(oom_calls, 1);
	CHECK(!returned);
	CHECK_EQ_INT(printed, 0);
}

int main(void)
{
	RUN(test_open_failures_are_returned);
	RUN(test_warnings_go_to_the_hook);
	RUN(test_out_of_memory_goes_to_the_hook);
	CHECK_EXIT();
}
