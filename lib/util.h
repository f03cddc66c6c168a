/* util.h: allocation that never returns NULL, the library's two hooks (out
 * of memory, warnings), little-endian loads and stores.
 *
 * The library never prints and never exits (doc/architecture.md).
 * Allocation failure is not recoverable in sluice: the x*() wrappers call
 * the out-of-memory hook, which must not return; the programs set one that
 * prints "sluice-NAME: out of memory" and exits 1, as git's wrappers do, and
 * without one the library aborts.  So callers need not check.  Everything
 * else in lib/ reports errors by return value. */
#ifndef SLUICE_UTIL_H
#define SLUICE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SLUICE_VERSION "0.1.0"

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Seconds on the monotonic clock. */
double util_now(void);

/* The hook called when memory runs out; it must not return.  NULL restores
 * the default, abort(). */
void util_set_oom(void (*fn)(void));
/* Call the out-of-memory hook (for allocators other than the x*() ones). */
_Noreturn void util_oom(void);

/* The log hook: the few warnings the library has (a thread that would not
 * start, so the work runs on fewer) go to fn as one line without a newline.
 * NULL (the default) drops them. */
void util_set_log(void (*fn)(const char *msg));
void util_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline uint32_t load_u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t load_u64le(const uint8_t *p)
{
	return (uint64_t)load_u32le(p) | (uint64_t)load_u32le(p + 4) << 32;
}
static inline void store_u32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void store_u64le(uint8_t *p, uint64_t v)
{
	store_u32le(p, (uint32_t)v);
	store_u32le(p + 4, (uint32_t)(v >> 32));
}

/* write(2) all n bytes, retrying short writes and EINTR.  Returns 0, or -1
 * with errno set. */
int write_full(int fd, const void *p, size_t n);
/* read(2) until n bytes or the end of the file, retrying EINTR.  Returns
 * the number of bytes read (short only at the end), or -1 with errno set. */
long read_full(int fd, void *p, size_t n);

/* Read a whole regular file into *p (xmalloc'd, the caller frees it) and
 * its size into *n.  Returns 0, or -1 with errno set (EINVAL: not a
 * regular file; EIO: it changed size while read). */
int file_read_all(const char *path, uint8_t **p, size_t *n);

/* mkstemp()'s template: six X's, spelt so that no run of three stands in
 * the source. */
#define MKSTEMP_SUFFIX "XX" "XX" "XX"

/* Replace a file whole: atomic_create() makes a temporary file beside path
 * (named path.tmp. and a random suffix) and returns its descriptor (*tmp gets its name);
 * atomic_commit() syncs it, gives it the mode a new file gets (0666 less
 * the umask) and renames it over path, or, if fail is set or any of that
 * fails, removes it.  commit frees *tmp and closes fd either way.  Both
 * return -1 with errno set on failure.
 *
 * atomic_commit() is atomic_close() then atomic_rename(), for files that
 * are replaced together: close (sync) them all first, then rename them, so
 * that a full disk or a failed sync stops the change before any file of
 * the set is replaced.  atomic_close() removes the file and frees tmp on
 * failure and leaves both in place on success; atomic_rename() renames tmp
 * over path, or, if fail is set or the rename fails, removes it; it frees
 * tmp either way. */
int atomic_create(const char *path, char **tmp);
int atomic_commit(int fd, char *tmp, const char *path, int fail);
int atomic_close(int fd, char *tmp, int fail);
int atomic_rename(char *tmp, const char *path, int fail);
/* Remove the temporary files of path (path.tmp.*) that a writer
 * killed before its commit left behind.  Only for a path that one writer
 * at a time replaces.  Returns the number removed, or -1 with errno set. */
int atomic_cleanup(const char *path);

/* A growable byte buffer.  Zero-initialised is empty and valid. */
typedef struct buf {
	uint8_t *data;
	size_t len, cap;
} buf;

void buf_grow(buf *b, size_t extra);          /* room for len + extra bytes */
void buf_add(buf *b, const void *p, size_t n);
void buf_addc(buf *b, uint8_t c);
void buf_adds(buf *b, const char *s);
void buf_release(buf *b);                     /* free and zero */
static inline void buf_reset(buf *b) { b->len = 0; }

#endif
