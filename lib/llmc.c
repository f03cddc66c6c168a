/* llmc.c: reading and writing llm.c's token shards. */
#include "llmc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define IO_TOKENS 65536

int llmc_sniff(const uint8_t *p, size_t n)
{
	return n >= 8 && load_u32le(p) == LLMC_MAGIC && (load_u32le(p + 4) == 1 || load_u32le(p + 4) == 2);
}

struct llmc_reader {
	int fd, version;
	uint64_t count, done;
	uint8_t io[IO_TOKENS * 4];
};

llmc_reader *llmc_open(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	uint8_t h[LLMC_HEADER_BYTES];
	ssize_t got = read_full(fd, h, sizeof(h));
	struct stat st;
	if (got < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	if (got < (ssize_t)sizeof(h) || !llmc_sniff(h, (size_t)got)) {
		snprintf(err, errlen, "not an llm.c token file (header of 256 int32 starting %u)", LLMC_MAGIC);
		goto fail;
	}
	int version = (int)load_u32le(h + 4);
	uint32_t count = load_u32le(h + 8);
	if (count > LLMC_MAX_TOKENS) {
		snprintf(err, errlen, "header: token count %u is negative as llm.c's int32", count);
		goto fail;
	}
	uint64_t want = LLMC_HEADER_BYTES + (uint64_t)count * (version == 1 ? 2 : 4);
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size != want) {
		snprintf(err, errlen, "header says %u tokens (%llu bytes) but the file has %llu bytes", count,
			 (unsigned long long)want, (unsigned long long)st.st_size);
		goto fail;
	}
	llmc_reader *r = xcalloc(1, sizeof(*r));
	r->fd = fd;
	r->version = version;
	r->count = count;
	return r;
fail:
	close(fd);
	return NULL;
}

int llmc_version(const llmc_reader *r)
{
	return r->version;
}

uint64_t llmc_count(const llmc_reader *r)
{
	return r->count;
}

long llmc_read(llmc_reader *r, uint32_t *out, size_t max, char *err, size_t errlen)
{
	size_t width = r->version == 1 ? 2 : 4;
	size_t n = r->count - r->done;
	if (n > max)
		n = max;
	if (n > IO_TOKENS)
		n = IO_TOKENS;
	if (!n)
		return 0;
	ssize_t got = read_full(r->fd, r->io, n * width);
	if (got < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	if ((size_t)got != n * width) {
		snprintf(err, errlen, "cut short at token %llu of %llu",
			 (unsigned long long)(r->done + (size_t)got / width), (unsigned long long)r->count);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = width == 2 ? (uint32_t)r->io[2 * i] | (uint32_t)r->io[2 * i + 1] << 8 : load_u32le(r->io + 4 * i);
	r->done += n;
	return (long)n;
}

void llmc_close(llmc_reader *r)
{
	if (!r)
		return;
	close(r->fd);
	free(r);
}

struct llmc_writer {
	int fd, version;
	uint64_t count;
	size_t fill;               /* bytes waiting in io */
	uint8_t io[IO_TOKENS * 4];
};

llmc_writer *llmc_create(const char *path, int version, char *err, size_t errlen)
{
	if (version != 1 && version != 2) {
		snprintf(err, errlen, "llm.c token files have versions 1 and 2, not %d", version);
		return NULL;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	/* The header is written last, when the count is known. */
	uint8_t zero[LLMC_HEADER_BYTES] = { 0 };
	if (write_full(fd, zero, sizeof(zero)) < 0) {
		snprintf(err, errlen, "write error: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	llmc_writer *w = xcalloc(1, sizeof(*w));
	w->fd = fd;
	w->version = version;
	return w;
}

static int flush_io(llmc_writer *w, char *err, size_t errlen)
{
	if (w->fill && write_full(w->fd, w->io, w->fill) < 0) {
		snprintf(err, errlen, "write error: %s", strerror(errno));
		return -1;
	}
	w->fill = 0;
	return 0;
}

int llmc_write(llmc_writer *w, const uint32_t *tok, size_t n, char *err, size_t errlen)
{
	if (n > LLMC_MAX_TOKENS - w->count) {
		snprintf(err, errlen, "more than %u tokens in one file (llm.c's count is an int32)", LLMC_MAX_TOKENS);
		return -1;
	}
	size_t width = w->version == 1 ? 2 : 4;
	while (n) {
		if (w->fill == sizeof(w->io) && flush_io(w, err, errlen) < 0)
			return -1;
		size_t m = (sizeof(w->io) - w->fill) / width;
		if (m > n)
			m = n;
		uint8_t *o = w->io + w->fill;
		if (width == 2) {
			uint32_t high = 0;
			for (size_t i = 0; i < m; i++) {
				high |= tok[i] >> 16;
				o[2 * i] = (uint8_t)tok[i];
				o[2 * i + 1] = (uint8_t)(tok[i] >> 8);
			}
			if (high) {
				size_t i = 0;
				while (tok[i] <= 0xffff)
					i++;
				snprintf(err, errlen, "token id %u does not fit llm.c's uint16 tokens", tok[i]);
				return -1;
			}
		} else {
			for (size_t i = 0; i < m; i++)
				store_u32le(o + 4 * i, tok[i]);
		}
		w->fill += m * width;
		w->count += m;
		tok += m;
		n -= m;
	}
	return 0;
}

uint64_t llmc_written(const llmc_writer *w)
{
	return w->count;
}

int llmc_finish(llmc_writer *w, char *err, size_t errlen)
{
	int rc = flush_io(w, err, errlen);
	uint8_t h[12];
	store_u32le(h, LLMC_MAGIC);
	store_u32le(h + 4, (uint32_t)w->version);
	store_u32le(h + 8, (uint32_t)w->count);
	if (rc == 0 && (pwrite(w->fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) || fsync(w->fd) < 0)) {
		snprintf(err, errlen, "write error: %s", strerror(errno));
		rc = -1;
	}
	if (close(w->fd) < 0 && rc == 0) {
		snprintf(err, errlen, "write error: %s", strerror(errno));
		rc = -1;
	}
	free(w);
	return rc;
}
