/* source.c: buffered reading with transparent zstd decompression. */
#include "source.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#define IN_CAP (1u << 17)
#define OUT_CAP (1u << 17)
#define FRAME_RING 256

/* Where a frame's decompressed bytes begin, and where the frame is stored. */
struct frame_mark {
	uint64_t out_pos, in_off;
};

struct source {
	int fd;                       /* -1 for a memory source */
	const uint8_t *mem;
	size_t mem_len;

	int zstd;
	ZSTD_DCtx *dctx;
	uint8_t *in;                  /* stored bytes (the memory itself for mem) */
	size_t in_pos, in_len;
	uint64_t in_base;             /* input offset of in[0] */
	int in_eof;
	int frame_open;

	uint8_t *out;                 /* decompressed bytes not yet consumed */
	size_t out_pos, out_len;
	uint64_t out_base;            /* decompressed offset of out[0] */
	uint64_t produced;            /* decompressed bytes produced in total */

	struct frame_mark marks[FRAME_RING];
	unsigned nmarks;              /* total marks ever made */

	int failed;
	uint64_t err_off;
	char err[256];
	char err_full[300];
};

__attribute__((format(printf, 3, 4)))
static int fail(source *s, uint64_t off, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	s->err_off = off;
	snprintf(s->err_full, sizeof(s->err_full), "byte %llu: %s", (unsigned long long)off, s->err);
	s->failed = 1;
	return -1;
}

static int is_zstd_magic(const uint8_t *p, size_t n)
{
	if (n < 4)
		return 0;
	uint32_t m = load_u32le(p);
	return m == ZSTD_MAGICNUMBER || (m & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START;
}

static source *source_new(void)
{
	source *s = xcalloc(1, sizeof(*s));
	s->out = xmalloc(OUT_CAP);
	return s;
}

/* Read more stored input; returns 0, or -1 on a read error. */
static int refill_in(source *s)
{
	if (s->in_eof)
		return 0;
	if (s->fd < 0) {
		s->in_eof = 1;
		return 0;
	}
	s->in_base += s->in_pos;
	memmove(s->in, s->in + s->in_pos, s->in_len - s->in_pos);
	s->in_len -= s->in_pos;
	s->in_pos = 0;
	while (s->in_len < IN_CAP) {
		ssize_t n = read(s->fd, s->in + s->in_len, IN_CAP - s->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(s, s->in_base + s->in_len, "read error: %s", strerror(errno));
		if (n == 0) {
			s->in_eof = 1;
			break;
		}
		s->in_len += (size_t)n;
		break;
	}
	return 0;
}

static void detect(source *s)
{
	static const uint8_t magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
	while (s->in_len < 4 && !s->in_eof && !s->failed)
		refill_in(s);
	s->zstd = is_zstd_magic(s->in, s->in_len);
	if (s->zstd)
		s->dctx = ZSTD_createDCtx();
	else if (s->in_len > 0 && s->in_len < 4 && memcmp(s->in, magic, s->in_len) == 0)
		fail(s, 0, "truncated: input ends inside a zstd frame header");
}

source *source_open_fd(int fd)
{
	source *s = source_new();
	s->fd = fd;
	s->in = xmalloc(IN_CAP);
	detect(s);
	return s;
}

source *source_open_mem(const void *p, size_t n)
{
	source *s = source_new();
	s->fd = -1;
	s->mem = p;
	s->mem_len = n;
	s->in = (uint8_t *)p;
	s->in_len = n;
	s->in_eof = 1;
	detect(s);
	return s;
}

void source_close(source *s)
{
	if (!s)
		return;
	ZSTD_freeDCtx(s->dctx);
	if (s->fd >= 0)
		free(s->in);
	free(s->out);
	free(s);
}

static void mark_frame(source *s, uint64_t in_off)
{
	struct frame_mark *m = &s->marks[s->nmarks++ % FRAME_RING];
	m->out_pos = s->produced;
	m->in_off = in_off;
}

/* Produce up to cap decompressed bytes into dst.  Returns the count (0 at a
 * clean end of input), or -1. */
static long produce(source *s, uint8_t *dst, size_t cap)
{
	if (s->failed)
		return -1;
	if (!s->zstd) {
		/* Uncompressed: stored bytes are the content. */
		if (s->in_pos == s->in_len && refill_in(s) < 0)
			return -1;
		size_t n = s->in_len - s->in_pos;
		if (n > cap)
			n = cap;
		memcpy(dst, s->in + s->in_pos, n);
		s->in_pos += n;
		s->produced += n;
		return (long)n;
	}
	for (;;) {
		if (s->in_pos == s->in_len) {
			if (refill_in(s) < 0)
				return -1;
			if (s->in_pos == s->in_len) {
				if (s->frame_open)
					return fail(s, s->marks[(s->nmarks - 1) % FRAME_RING].in_off,
						    "truncated: input ends inside this zstd frame");
				return 0;
			}
		}
		if (!s->frame_open) {
			s->frame_open = 1;
			mark_frame(s, s->in_base + s->in_pos);
		}
		ZSTD_inBuffer ib = { s->in, s->in_len, s->in_pos };
		ZSTD_outBuffer ob = { dst, cap, 0 };
		size_t ret = ZSTD_decompressStream(s->dctx, &ob, &ib);
		s->in_pos = ib.pos;
		if (ZSTD_isError(ret))
			return fail(s, s->marks[(s->nmarks - 1) % FRAME_RING].in_off,
				    "corrupt zstd data (%s)", ZSTD_getErrorName(ret));
		if (ret == 0)
			s->frame_open = 0;
		s->produced += ob.pos;
		if (ob.pos > 0)
			return (long)ob.pos;
	}
}

long source_peek(source *s, size_t n, const uint8_t **p)
{
	if (n > OUT_CAP)
		n = OUT_CAP;
	if (s->out_len - s->out_pos < n) {
		memmove(s->out, s->out + s->out_pos, s->out_len - s->out_pos);
		s->out_base += s->out_pos;
		s->out_len -= s->out_pos;
		s->out_pos = 0;
		while (s->out_len < n) {
			long got = produce(s, s->out + s->out_len, OUT_CAP - s->out_len);
			if (got < 0)
				return -1;
			if (got == 0)
				break;
			s->out_len += (size_t)got;
		}
	}
	*p = s->out + s->out_pos;
	size_t have = s->out_len - s->out_pos;
	return (long)(have < n ? have : n);
}

long source_read(source *s, void *dst, size_t n)
{
	uint8_t *d = dst;
	size_t done = 0;
	size_t have = s->out_len - s->out_pos;
	if (n == 0)
		return 0;
	if (have) {
		size_t k = have < n ? have : n;
		memcpy(d, s->out + s->out_pos, k);
		s->out_pos += k;
		done = k;
	}
	/* Large reads go straight to the caller's buffer. */
	while (done < n && n - done >= OUT_CAP / 2) {
		long got = produce(s, d + done, n - done);
		if (got < 0)
			return -1;
		if (got == 0)
			return (long)done;
		done += (size_t)got;
		s->out_base += (uint64_t)got;
	}
	while (done < n) {
		const uint8_t *p;
		long got = source_peek(s, n - done, &p);
		if (got < 0)
			return -1;
		if (got == 0)
			break;
		memcpy(d + done, p, (size_t)got);
		s->out_pos += (size_t)got;
		done += (size_t)got;
	}
	return (long)done;
}

int source_getline(source *s, buf *line, size_t max)
{
	buf_reset(line);
	for (;;) {
		/* Scan what is buffered; refill only when it is used up, so the
		 * buffer is not shifted once per line. */
		const uint8_t *p = s->out + s->out_pos;
		long have = (long)(s->out_len - s->out_pos);
		if (have == 0 && (have = source_peek(s, 1, &p)) <= 0) {
			if (have < 0)
				return -1;
			return line->len ? 1 : 0;
		}
		have = (long)(s->out_len - s->out_pos);
		const uint8_t *nl = memchr(p, '\n', (size_t)have);
		size_t take = nl ? (size_t)(nl - p) : (size_t)have;
		if (line->len + take > max)
			return fail(s, source_pos(s), "line longer than %zu bytes", max);
		buf_add(line, p, take);
		s->out_pos += take + (nl ? 1 : 0);
		if (nl)
			return 1;
	}
}

int source_fd(const source *s)
{
	return s->fd;
}

int source_is_zstd(const source *s)
{
	return s->zstd;
}

uint64_t source_pos(const source *s)
{
	return s->out_base + s->out_pos;
}

uint64_t source_input_offset(const source *s, uint64_t pos)
{
	if (!s->zstd)
		return pos;
	/* Newest mark at or before pos; marks older than the ring are lost, and
	 * the oldest one kept is the best answer left. */
	unsigned kept = s->nmarks < FRAME_RING ? s->nmarks : FRAME_RING;
	for (unsigned i = 0; i < kept; i++) {
		const struct frame_mark *m = &s->marks[(s->nmarks - 1 - i) % FRAME_RING];
		if (m->out_pos <= pos)
			return m->in_off;
	}
	return kept ? s->marks[(s->nmarks - kept) % FRAME_RING].in_off : 0;
}

uint64_t source_input_bytes(const source *s)
{
	return s->in_base + s->in_pos;
}

int source_seek(source *s, uint64_t off)
{
	if (s->fd >= 0) {
		if (lseek(s->fd, (off_t)off, SEEK_SET) < 0)
			return fail(s, off, "cannot seek: %s", strerror(errno));
		s->in_base = off;
		s->in_pos = s->in_len = 0;
		s->in_eof = 0;
	} else {
		if (off > s->mem_len)
			return fail(s, off, "seek past the end of the input");
		s->in_base = 0;
		s->in_pos = (size_t)off;
	}
	if (s->zstd)
		ZSTD_DCtx_reset(s->dctx, ZSTD_reset_session_only);
	s->frame_open = 0;
	s->out_base = s->produced;
	s->out_pos = s->out_len = 0;
	return 0;
}

const char *source_error(const source *s)
{
	return s->err_full;
}

const char *source_error_message(const source *s, uint64_t *offset)
{
	*offset = s->err_off;
	return s->err;
}
