/* stream_bench: the record stream's cost over raw zstd, in one process.
 *
 * Loads documents (the "text" of each record of INPUT, any format sluice
 * reads), repeats them to TARGET_MB, then times, at one zstd level:
 *   ours:   records -> stream_writer -> file;  file -> stream_reader -> records
 *   anchor: the same texts back to back -> ZSTD_compressStream2 -> file;
 *           file -> ZSTD_decompressStream -> memory
 * Both write to and read from files in the same directory, best of REPS.
 * Usage: stream_bench INPUT TARGET_MB LEVEL THREADS DIR [REPS] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "cli.h"
#include "input.h"
#include "stream.h"
#include "util.h"

struct docs {
	buf text;
	size_t *off, n, cap;
};

static void load(struct docs *d, const char *path, size_t target)
{
	input *in = cli_input_open(path, INPUT_AUTO);
	if (!in)
		exit(1);
	rec *r = rec_new();
	int ret;
	while ((ret = input_read(in, r)) == 1) {
		const rec_field *t = rec_get(r, "text");
		if (!t || t->len == 0)
			continue;
		if (d->n == d->cap) {
			d->cap = d->cap ? 2 * d->cap : 1024;
			d->off = xrealloc(d->off, (d->cap + 1) * sizeof(*d->off));
		}
		d->off[d->n++] = d->text.len;
		buf_add(&d->text, t->val, t->len);
	}
	if (ret < 0) {
		fprintf(stderr, "stream_bench: %s: %s\n", path, input_error(in));
		exit(1);
	}
	rec_free(r);
	input_close(in);
	/* Repeat the corpus up to the target size. */
	size_t base_n = d->n, base_len = d->text.len;
	while (d->text.len < target && base_n) {
		for (size_t i = 0; i < base_n && d->text.len < target; i++) {
			size_t end = i + 1 < base_n ? d->off[i + 1] : base_len;
			if (d->n == d->cap) {
				d->cap *= 2;
				d->off = xrealloc(d->off, (d->cap + 1) * sizeof(*d->off));
			}
			d->off[d->n++] = d->text.len;
			buf_grow(&d->text, end - d->off[i]);
			buf_add(&d->text, d->text.data + d->off[i], end - d->off[i]);
		}
	}
	d->off[d->n] = d->text.len;
}

static int open_out(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k <= 0) {
			perror("write");
			exit(1);
		}
		p = (const char *)p + k;
		n -= (size_t)k;
	}
}

static double ours_write(const struct docs *d, const char *path, int level, int threads)
{
	int fd = open_out(path);
	double t0 = util_now();
	stream_writer_opts o = { level, 0, threads, 0 };
	stream_writer *w = stream_writer_open(fd, &o);
	rec *r = rec_new();
	for (size_t i = 0; i < d->n; i++) {
		rec_clear(r);
		rec_set_str(r, "text", (const char *)d->text.data + d->off[i], d->off[i + 1] - d->off[i]);
		if (stream_write(w, r) < 0)
			exit(1);
	}
	if (stream_writer_close(w) < 0)
		exit(1);
	double t = util_now() - t0;
	rec_free(r);
	close(fd);
	return t;
}

static double ours_read(const char *path, size_t want_bytes)
{
	int fd = open(path, O_RDONLY);
	double t0 = util_now();
	stream_reader *sr = stream_reader_open(source_open_fd(fd));
	rec *r = rec_new();
	size_t bytes = 0;
	int ret;
	while ((ret = stream_read(sr, r)) == 1)
		bytes += rec_get(r, "text")->len;
	double t = util_now() - t0;
	if (ret < 0 || bytes != want_bytes) {
		fprintf(stderr, "stream_bench: read back %zu of %zu bytes: %s\n", bytes, want_bytes,
			stream_reader_error(sr));
		exit(1);
	}
	stream_reader_close(sr);
	rec_free(r);
	close(fd);
	return t;
}

static double zstd_write(const struct docs *d, const char *path, int level, int threads)
{
	int fd = open_out(path);
	double t0 = util_now();
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	if (threads > 1)
		ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, threads);
	size_t cap = ZSTD_CStreamOutSize();
	uint8_t *out = xmalloc(cap);
	size_t chunk = 1 << 20;
	for (size_t pos = 0; pos < d->text.len || pos == 0;) {
		size_t n = d->text.len - pos < chunk ? d->text.len - pos : chunk;
		int last = pos + n == d->text.len;
		ZSTD_inBuffer ib = { d->text.data + pos, n, 0 };
		size_t rem;
		do {
			ZSTD_outBuffer ob = { out, cap, 0 };
			rem = ZSTD_compressStream2(c, &ob, &ib, last ? ZSTD_e_end : ZSTD_e_continue);
			write_all(fd, out, ob.pos);
		} while (last ? rem != 0 : ib.pos < ib.size);
		pos += n;
		if (last)
			break;
	}
	double t = util_now() - t0;
	ZSTD_freeCCtx(c);
	free(out);
	close(fd);
	return t;
}

static double zstd_read(const char *path, size_t want_bytes)
{
	int fd = open(path, O_RDONLY);
	double t0 = util_now();
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	size_t icap = ZSTD_DStreamInSize(), ocap = ZSTD_DStreamOutSize();
	uint8_t *in = xmalloc(icap), *out = xmalloc(ocap);
	size_t total = 0;
	ssize_t k;
	while ((k = read(fd, in, icap)) > 0) {
		ZSTD_inBuffer ib = { in, (size_t)k, 0 };
		while (ib.pos < ib.size) {
			ZSTD_outBuffer ob = { out, ocap, 0 };
			size_t ret = ZSTD_decompressStream(dc, &ob, &ib);
			if (ZSTD_isError(ret))
				exit(1);
			total += ob.pos;
		}
	}
	double t = util_now() - t0;
	if (total != want_bytes)
		exit(1);
	ZSTD_freeDCtx(dc);
	free(in);
	free(out);
	close(fd);
	return t;
}

static long file_size(const char *path)
{
	int fd = open(path, O_RDONLY);
	long n = lseek(fd, 0, SEEK_END);
	close(fd);
	return n;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: stream_bench INPUT TARGET_MB LEVEL THREADS DIR [REPS]\n");
		return 2;
	}
	size_t target = (size_t)atol(argv[2]) << 20;
	int level = atoi(argv[3]), threads = atoi(argv[4]), reps = argc > 6 ? atoi(argv[6]) : 3;
	char ours[4096], anchor[4096];
	snprintf(ours, sizeof(ours), "%s/bench.slc", argv[5]);
	snprintf(anchor, sizeof(anchor), "%s/bench.zst", argv[5]);
	struct docs d = { 0 };
	load(&d, argv[1], target);
	double ow = 1e9, orr = 1e9, zw = 1e9, zr = 1e9;
	for (int i = 0; i < reps; i++) {
		double t;
		if ((t = ours_write(&d, ours, level, threads)) < ow) ow = t;
		if ((t = zstd_write(&d, anchor, level, threads)) < zw) zw = t;
		if ((t = ours_read(ours, d.text.len)) < orr) orr = t;
		if ((t = zstd_read(anchor, d.text.len)) < zr) zr = t;
	}
	double mb = (double)d.text.len / 1e6;
	printf("{\"docs\": %zu, \"text_mb\": %.1f, \"level\": %d, \"threads\": %d, "
	       "\"ours_write_mbs\": %.1f, \"zstd_write_mbs\": %.1f, \"write_ratio\": %.3f, "
	       "\"ours_read_mbs\": %.1f, \"zstd_read_mbs\": %.1f, \"read_ratio\": %.3f, "
	       "\"ours_bytes\": %ld, \"zstd_bytes\": %ld, \"size_ratio\": %.4f}\n",
	       d.n, mb, level, threads, mb / ow, mb / zw, (mb / ow) / (mb / zw), mb / orr, mb / zr,
	       (mb / orr) / (mb / zr), file_size(ours), file_size(anchor),
	       (double)file_size(ours) / (double)file_size(anchor));
	unlink(ours);
	unlink(anchor);
	buf_release(&d.text);
	free(d.off);
	return 0;
}
