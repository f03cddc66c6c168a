/* util.c: allocation wrappers, the byte buffer, whole writes. */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

double util_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void (*oom_hook)(void);
static void (*log_hook)(const char *msg);

void util_set_oom(void (*fn)(void))
{
	oom_hook = fn;
}

_Noreturn void util_oom(void)
{
	if (oom_hook)
		oom_hook();
	abort();
}

static void *oom(void)
{
	util_oom();
}

void util_set_log(void (*fn)(const char *msg))
{
	log_hook = fn;
}

void util_warn(const char *fmt, ...)
{
	if (!log_hook)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_hook(msg);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	return p ? p : oom();
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	return p ? p : oom();
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	return p ? p : oom();
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void buf_grow(buf *b, size_t extra)
{
	if (extra > SIZE_MAX - b->len)
		oom();
	if (b->len + extra <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra)
		cap = cap > SIZE_MAX / 2 ? b->len + extra : cap * 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void buf_add(buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

void buf_addc(buf *b, uint8_t c)
{
	buf_grow(b, 1);
	b->data[b->len++] = c;
}

void buf_adds(buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_release(buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

long read_full(int fd, void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = read(fd, (uint8_t *)p + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (long)got;
}

int write_full(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		p = (const uint8_t *)p + k;
		n -= (size_t)k;
	}
	return 0;
}

int atomic_create(const char *path, char **tmp)
{
	size_t n = strlen(path) + 16;
	*tmp = xmalloc(n);
	snprintf(*tmp, n, "%s.tmp.%s", path, MKSTEMP_SUFFIX);
	int fd = mkstemp(*tmp);
	if (fd < 0) {
		int e = errno;
		free(*tmp);
		*tmp = NULL;
		errno = e;
	}
	return fd;
}

int atomic_close(int fd, char *tmp, int fail)
{
	int e = fail ? errno : 0;
	mode_t mask = umask(0);
	umask(mask);
	if (!fail && (fchmod(fd, 0666 & ~mask) < 0 || fsync(fd) < 0))
		fail = 1, e = errno;
	if (close(fd) < 0 && !fail)
		fail = 1, e = errno;
	if (fail) {
		unlink(tmp);
		free(tmp);
		if (e)
			errno = e;
		return -1;
	}
	return 0;
}

int atomic_rename(char *tmp, const char *path, int fail)
{
	int e = fail ? errno : 0;
	if (!fail && rename(tmp, path) < 0)
		fail = 1, e = errno;
	if (fail)
		unlink(tmp);
	free(tmp);
	if (fail && e)
		errno = e;
	return fail ? -1 : 0;
}

int atomic_commit(int fd, char *tmp, const char *path, int fail)
{
	if (atomic_close(fd, tmp, fail) < 0)
		return -1;
	return atomic_rename(tmp, path, 0);
}

/* A name atomic_create() gives: base, ".tmp.", six letters or digits. */
static int is_atomic_tmp(const char *name, const char *base, size_t nb)
{
	if (strncmp(name, base, nb) || strncmp(name + nb, ".tmp.", 5))
		return 0;
	const char *x = name + nb + 5;
	size_t i = 0;
	for (; x[i]; i++)
		if (!((x[i] >= 'a' && x[i] <= 'z') || (x[i] >= 'A' && x[i] <= 'Z') || (x[i] >= '0' && x[i] <= '9')))
			return 0;
	return i == 6;
}

int atomic_cleanup(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
	const char *base = slash ? slash + 1 : path;
	size_t nb = strlen(base), nd = strlen(dir);
	DIR *d = opendir(dir);
	int removed = 0, e = 0;
	if (!d) {
		e = errno;
		free(dir);
		errno = e;
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!is_atomic_tmp(de->d_name, base, nb))
			continue;
		size_t n = nd + strlen(de->d_name) + 2;
		char *p = xmalloc(n);
		snprintf(p, n, "%s/%s", dir, de->d_name);
		if (unlink(p) == 0)
			removed++;
		else if (errno != ENOENT)
			e = errno;
		free(p);
	}
	closedir(d);
	free(dir);
	if (e) {
		errno = e;
		return -1;
	}
	return removed;
}

int file_read_all(const char *path, uint8_t **p, size_t *n)
{
	int fd = open(path, O_RDONLY);
	struct stat sb;
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		int e = S_ISREG(sb.st_mode) ? errno : EINVAL;
		close(fd);
		errno = e;
		return -1;
	}
	size_t size = (size_t)sb.st_size;
	uint8_t *buf = xmalloc(size ? size : 1);
	long got = read_full(fd, buf, size);
	int e = errno;
	close(fd);
	if (got < 0 || (size_t)got != size) {
		free(buf);
		errno = got < 0 ? e : EIO;
		return -1;
	}
	*p = buf;
	*n = size;
	return 0;
}
