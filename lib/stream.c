/* stream.c: writing and reading sluice record streams. */
#include "stream.h"
#include "json.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <xxhash.h>
#include <zstd.h>

/* Content layout (sluice-stream(5)):
 *   header  = "SLUICE" version:u16 meta_len:u32 meta
 *   block   = "SLCB" nrec:u32 payload_len:u32 xxh3:u64 payload
 *   trailer = "SLCE" reserved:u32 nrec:u64 nblocks:u64 hash:u64
 * Index (skippable frame): per block {back:u64 csize:u32 nrec:u32},
 *   then nblocks:u64 xxh3:u64 "SLCINDEX". */
#define HEADER_LEN 12
#define BLOCK_HEAD 20
#define TRAILER_LEN 32
#define INDEX_ENTRY 16
#define INDEX_FOOTER 24
#define INDEX_MAGIC "SLCINDEX"
#define SKIPPABLE_INDEX 0x184D2A5Eu

/* ================================ writer ================================ */

struct job {
	buf in;               /* block header + payload */
	uint8_t *out;
	size_t out_cap, out_len;
	uint32_t nrec;
	int state;            /* JOB_FREE, JOB_QUEUED, JOB_BUSY, JOB_DONE */
	size_t zerr;          /* zstd error code, if compression failed */
};
enum { JOB_FREE, JOB_QUEUED, JOB_BUSY, JOB_DONE };

struct stream_writer {
	int fd;
	stream_writer_opts o;
	buf meta;
	int header_done;
	int failed, err;

	buf block;            /* the block being filled, with room for its header */
	uint32_t block_nrec;
	uint64_t nrec, nblocks, out_off;
	XXH3_state_t *chain;  /* hash of the block hashes, for the trailer */
	buf index;

	ZSTD_CCtx *cctx;      /* inline compression (threads == 1) */

	/* Parallel compression: a ring of jobs, written in order. */
	struct job *jobs;
	int njobs, head, tail;  /* head: oldest unwritten; tail: next to fill */
	pthread_t *workers;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

static int write_all(stream_writer *w, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n && !w->failed) {
		ssize_t k = write(w->fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			w->failed = 1;
			w->err = errno;
			break;
		}
		b += k;
		n -= (size_t)k;
		w->out_off += (uint64_t)k;
	}
	return w->failed ? -1 : 0;
}

static size_t compress_frame(ZSTD_CCtx *c, int level, uint8_t *dst, size_t cap, const void *src, size_t n)
{
	ZSTD_CCtx_reset(c, ZSTD_reset_session_only);
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	return ZSTD_compress2(c, dst, cap, src, n);
}

/* Write a small frame (header or trailer) inline. */
static int write_small_frame(stream_writer *w, const void *p, size_t n)
{
	uint8_t out[ZSTD_COMPRESSBOUND(HEADER_LEN + 64)];
	uint8_t *dst = n <= 64 ? out : xmalloc(ZSTD_compressBound(n));
	size_t cap = n <= 64 ? sizeof(out) : ZSTD_compressBound(n);
	if (!w->cctx)
		w->cctx = ZSTD_createCCtx();
	size_t z = compress_frame(w->cctx, w->o.level, dst, cap, p, n);
	int ret = ZSTD_isError(z) ? (w->failed = 1, w->err = EIO, -1) : write_all(w, dst, z);
	if (dst != out)
		free(dst);
	return ret;
}

static int write_header(stream_writer *w)
{
	if (w->header_done)
		return 0;
	w->header_done = 1;
	buf h = { 0 };
	uint8_t fixed[HEADER_LEN];
	memcpy(fixed, STREAM_MAGIC, STREAM_MAGIC_LEN);
	fixed[6] = STREAM_VERSION & 0xff;
	fixed[7] = STREAM_VERSION >> 8;
	store_u32le(fixed + 8, (uint32_t)w->meta.len);
	buf_add(&h, fixed, HEADER_LEN);
	buf_add(&h, w->meta.data, w->meta.len);
	int ret = write_small_frame(w, h.data, h.len);
	buf_release(&h);
	return ret;
}

/* Emit one compressed block, in order, and note it in the index. */
static int emit_block(stream_writer *w, const uint8_t *z, size_t zlen, uint32_t nrec)
{
	if (w->o.index) {
		uint8_t e[INDEX_ENTRY];
		store_u64le(e, w->out_off); /* made relative once the index is placed */
		store_u32le(e + 8, (uint32_t)zlen);
		store_u32le(e + 12, nrec);
		buf_add(&w->index, e, INDEX_ENTRY);
	}
	return write_all(w, z, zlen);
}

static void *worker_main(void *arg)
{
	stream_writer *w = arg;
	ZSTD_CCtx *c = ZSTD_createCCtx();
	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct job *j = NULL;
		/* Oldest queued job first, so the writer is never starved. */
		for (int k = 0; k < w->njobs && !j; k++) {
			struct job *cand = &w->jobs[(w->head + k) % w->njobs];
			if (cand->state == JOB_QUEUED)
				j = cand;
		}
		if (!j) {
			if (w->stop)
				break;
			pthread_cond_wait(&w->cv, &w->mu);
			continue;
		}
		j->state = JOB_BUSY;
		pthread_mutex_unlock(&w->mu);
		size_t need = ZSTD_compressBound(j->in.len);
		if (j->out_cap < need) {
			free(j->out);
			j->out = xmalloc(need);
			j->out_cap = need;
		}
		size_t z = compress_frame(c, w->o.level, j->out, j->out_cap, j->in.data, j->in.len);
		pthread_mutex_lock(&w->mu);
		j->zerr = ZSTD_isError(z) ? z : 0;
		j->out_len = ZSTD_isError(z) ? 0 : z;
		j->state = JOB_DONE;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	ZSTD_freeCCtx(c);
	return NULL;
}

/* Write the oldest job once it is done.  With wait == 0, only if done. */
static int drain_one(stream_writer *w, int wait)
{
	struct job *j = &w->jobs[w->head];
	pthread_mutex_lock(&w->mu);
	while (wait && (j->state == JOB_QUEUED || j->state == JOB_BUSY))
		pthread_cond_wait(&w->cv, &w->mu);
	int done = j->state == JOB_DONE;
	pthread_mutex_unlock(&w->mu);
	if (!done)
		return 0;
	int ret = j->zerr ? (w->failed = 1, w->err = EIO, -1) : emit_block(w, j->out, j->out_len, j->nrec);
	j->state = JOB_FREE;
	w->head = (w->head + 1) % w->njobs;
	return ret < 0 ? -1 : 1;
}

static void block_start(stream_writer *w)
{
	buf_reset(&w->block);
	buf_grow(&w->block, BLOCK_HEAD);
	w->block.len = BLOCK_HEAD;
	w->block_nrec = 0;
}

static int flush_block(stream_writer *w)
{
	if (w->block_nrec == 0 || w->failed)
		return w->failed ? -1 : 0;
	if (write_header(w) < 0)
		return -1;
	uint8_t *h = w->block.data;
	size_t payload = w->block.len - BLOCK_HEAD;
	uint64_t hash = XXH3_64bits(h + BLOCK_HEAD, payload);
	memcpy(h, "SLCB", 4);
	store_u32le(h + 4, w->block_nrec);
	store_u32le(h + 8, (uint32_t)payload);
	store_u64le(h + 12, hash);
	uint8_t hb[8];
	store_u64le(hb, hash);
	XXH3_64bits_update(w->chain, hb, 8);
	w->nblocks++;

	if (w->njobs == 0) {
		size_t cap = ZSTD_compressBound(w->block.len);
		uint8_t *z = xmalloc(cap);
		size_t n = compress_frame(w->cctx, w->o.level, z, cap, w->block.data, w->block.len);
		int ret = ZSTD_isError(n) ? (w->failed = 1, w->err = EIO, -1) : emit_block(w, z, n, w->block_nrec);
		free(z);
		block_start(w);
		return ret;
	}
	/* Hand the block to a worker; make room in the ring first. */
	struct job *j = &w->jobs[w->tail];
	if (j->state != JOB_FREE && drain_one(w, 1) < 0)
		return -1;
	buf tmp = j->in;
	j->in = w->block;
	w->block = tmp;
	j->nrec = w->block_nrec;
	pthread_mutex_lock(&w->mu);
	j->state = JOB_QUEUED;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	w->tail = (w->tail + 1) % w->njobs;
	while (w->jobs[w->head].state != JOB_FREE) {
		int r = drain_one(w, 0);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
	}
	block_start(w);
	return 0;
}

stream_writer *stream_writer_open(int fd, const stream_writer_opts *opts)
{
	stream_writer *w = xcalloc(1, sizeof(*w));
	w->fd = fd;
	w->o.level = 3;
	w->o.block_size = STREAM_BLOCK_DEFAULT;
	w->o.threads = 1;
	if (opts) {
		w->o = *opts;
		if (w->o.block_size == 0)
			w->o.block_size = STREAM_BLOCK_DEFAULT;
		if (w->o.block_size < STREAM_BLOCK_MIN)
			w->o.block_size = STREAM_BLOCK_MIN;
		if (w->o.block_size > STREAM_BLOCK_MAX)
			w->o.block_size = STREAM_BLOCK_MAX;
		if (w->o.threads < 1)
			w->o.threads = 1;
	}
	w->chain = XXH3_createState();
	XXH3_64bits_reset(w->chain);
	w->cctx = ZSTD_createCCtx();
	block_start(w);
	if (w->o.threads > 1) {
		w->njobs = 2 * w->o.threads;
		w->jobs = xcalloc((size_t)w->njobs, sizeof(*w->jobs));
		w->workers = xcalloc((size_t)w->o.threads, sizeof(*w->workers));
		pthread_mutex_init(&w->mu, NULL);
		pthread_cond_init(&w->cv, NULL);
		int started = 0;
		while (started < w->o.threads && pthread_create(&w->workers[started], NULL, worker_main, w) == 0)
			started++;
		if (started < w->o.threads) {
			/* The output does not depend on the threads: go on with
			 * those that started, or compress inline. */
			util_warn("could start %d of %d compression threads", started, w->o.threads);
			w->o.threads = started;
			if (!started) {
				w->njobs = 0;
				free(w->jobs);
				free(w->workers);
				w->jobs = NULL;
				w->workers = NULL;
				pthread_mutex_destroy(&w->mu);
				pthread_cond_destroy(&w->cv);
				w->o.threads = 1;
			}
		}
	}
	return w;
}

int stream_writer_set_meta(stream_writer *w, const char *json, size_t len)
{
	if (w->header_done || len > STREAM_META_MAX)
		return -1;
	buf_reset(&w->meta);
	buf_add(&w->meta, json, len);
	return 0;
}

int stream_write(stream_writer *w, const rec *r)
{
	if (w->failed) {
		errno = w->err;
		return -1;
	}
	size_t len;
	const uint8_t *p = rec_bytes(r, &len);
	/* A record that does not fit the current block starts a new one; a
	 * record bigger than a block gets a block of its own. */
	if (w->block_nrec && w->block.len - BLOCK_HEAD + 4 + len > w->o.block_size && flush_block(w) < 0)
		goto fail;
	uint8_t lb[4];
	store_u32le(lb, (uint32_t)len);
	buf_add(&w->block, lb, 4);
	buf_add(&w->block, p, len);
	w->block_nrec++;
	w->nrec++;
	if (w->block.len - BLOCK_HEAD >= w->o.block_size && flush_block(w) < 0)
		goto fail;
	return 0;
fail:
	errno = w->err;
	return -1;
}

static int write_index(stream_writer *w)
{
	uint64_t start = w->out_off;  /* the index frame starts here */
	size_t n = w->index.len / INDEX_ENTRY;
	/* Offsets become distances back from the index frame, so the index
	 * stays right when streams are concatenated. */
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = w->index.data + i * INDEX_ENTRY;
		store_u64le(e, start - load_u64le(e));
	}
	uint8_t foot[INDEX_FOOTER], head[8];
	store_u64le(foot, n);
	store_u64le(foot + 8, XXH3_64bits(w->index.data, w->index.len));
	memcpy(foot + 16, INDEX_MAGIC, 8);
	store_u32le(head, SKIPPABLE_INDEX);
	store_u32le(head + 4, (uint32_t)(w->index.len + INDEX_FOOTER));
	if (w->index.len + INDEX_FOOTER > UINT32_MAX) {
		w->failed = 1;
		w->err = EFBIG;
		return -1;
	}
	if (write_all(w, head, 8) < 0 || write_all(w, w->index.data, w->index.len) < 0)
		return -1;
	return write_all(w, foot, INDEX_FOOTER);
}

/* Stop the compression threads and free everything. */
static void writer_free(stream_writer *w)
{
	if (w->njobs) {
		pthread_mutex_lock(&w->mu);
		w->stop = 1;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		for (int i = 0; i < w->o.threads; i++)
			pthread_join(w->workers[i], NULL);
		for (int i = 0; i < w->njobs; i++) {
			buf_release(&w->jobs[i].in);
			free(w->jobs[i].out);
		}
		free(w->jobs);
		free(w->workers);
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
	}
	ZSTD_freeCCtx(w->cctx);
	XXH3_freeState(w->chain);
	buf_release(&w->block);
	buf_release(&w->meta);
	buf_release(&w->index);
	free(w);
}

int stream_writer_close(stream_writer *w)
{
	if (!w)
		return 0;
	int ret = flush_block(w);
	while (ret == 0 && w->njobs && w->jobs[w->head].state != JOB_FREE)
		if (drain_one(w, 1) < 0)
			ret = -1;
	if (ret == 0)
		ret = write_header(w);
	if (ret == 0) {
		uint8_t t[TRAILER_LEN];
		memcpy(t, "SLCE", 4);
		store_u32le(t + 4, 0);
		store_u64le(t + 8, w->nrec);
		store_u64le(t + 16, w->nblocks);
		store_u64le(t + 24, XXH3_64bits_digest(w->chain));
		ret = write_small_frame(w, t, TRAILER_LEN);
	}
	if (ret == 0 && w->o.index)
		ret = write_index(w);
	int err = w->err;
	writer_free(w);
	if (ret < 0)
		errno = err ? err : EIO;
	return ret;
}

void stream_writer_abort(stream_writer *w)
{
	if (w)
		writer_free(w);
}

uint64_t stream_writer_records(const stream_writer *w)
{
	return w->nrec;
}

/* ============================== metadata ================================ */

static const char *const agree_keys[] = { "tokenizer", "n_vocab", "eot", "seq_len", "mode", "format", "version" };

/* A field's value for messages: a string in quotes, JSON as it is. */
static void show_value(char *dst, size_t n, const rec_field *f)
{
	if (!f)
		snprintf(dst, n, "absent");
	else if (f->type == REC_STR)
		snprintf(dst, n, "\"%.*s\"", f->len > 40 ? 40 : (int)f->len, (const char *)f->val);
	else
		snprintf(dst, n, "%.*s", f->len > 40 ? 40 : (int)f->len, (const char *)f->val);
}

int stream_meta_agree(const char *first, size_t first_len, const char *later, size_t later_len, char *why,
		      size_t whylen)
{
	if (first_len == later_len && (first_len == 0 || memcmp(first, later, first_len) == 0))
		return 1;
	rec *a = rec_new(), *b = rec_new();
	char err[128];
	int agree = 1;
	if ((first_len && json_parse_line(a, first, first_len, err, sizeof(err)) < 0) ||
	    (later_len && json_parse_line(b, later, later_len, err, sizeof(err)) < 0)) {
		snprintf(why, whylen, "metadata differs and is not a JSON object");
		agree = 0;
	}
	for (size_t i = 0; agree && i < sizeof(agree_keys) / sizeof(*agree_keys); i++) {
		const rec_field *fa = rec_get(a, agree_keys[i]), *fb = rec_get(b, agree_keys[i]);
		if (!fa && !fb)
			continue;
		if (fa && fb && fa->type == fb->type && fa->len == fb->len && memcmp(fa->val, fb->val, fa->len) == 0)
			continue;
		char va[64], vb[64];
		show_value(va, sizeof(va), fb);
		show_value(vb, sizeof(vb), fa);
		snprintf(why, whylen, "%s %s here, %s before", agree_keys[i], va, vb);
		agree = 0;
	}
	rec_free(a);
	rec_free(b);
	return agree;
}

/* ================================ reader ================================ */

enum { R_HEADER, R_BLOCKS, R_END, R_FAILED };

struct stream_reader {
	source *src;
	int state;
	buf meta;
	int have_meta;

	buf block;              /* payload of the current block */
	size_t pos;             /* next record in block */
	uint32_t left;          /* records left in block */
	uint64_t block_pos;     /* decompressed offset of the block header */

	uint64_t nrec, nblocks, payload;
	uint64_t stream_nrec, stream_nblocks; /* within the current stream */
	XXH3_state_t *chain;
	int partial;            /* started mid-stream: no chain to check */
	char err[320];
};

static int vrfail(stream_reader *r, uint64_t input_off, const char *fmt, va_list ap)
{
	/* The record being read, counted from 1. */
	int n = snprintf(r->err, sizeof(r->err), "byte %llu (record %llu): ", (unsigned long long)input_off,
			 (unsigned long long)r->nrec + 1);
	vsnprintf(r->err + n, sizeof(r->err) - (size_t)n, fmt, ap);
	r->state = R_FAILED;
	return -1;
}

/* Fail at content position pos, named by the offset of its frame. */
__attribute__((format(printf, 3, 4)))
static int rfail(stream_reader *r, uint64_t pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vrfail(r, source_input_offset(r->src, pos), fmt, ap);
	va_end(ap);
	return -1;
}

/* Fail at the end of the input read so far (a stream cut short). */
__attribute__((format(printf, 2, 3)))
static int rfail_end(stream_reader *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vrfail(r, source_input_bytes(r->src), fmt, ap);
	va_end(ap);
	return -1;
}

/* An error that leaves the reader usable (a seek that could not be done). */
static int rnote(stream_reader *r, const char *msg)
{
	snprintf(r->err, sizeof(r->err), "%s", msg);
	return -1;
}

static int rfail_source(stream_reader *r)
{
	uint64_t off;
	const char *msg = source_error_message(r->src, &off);
	snprintf(r->err, sizeof(r->err), "byte %llu (record %llu): %s", (unsigned long long)off,
		 (unsigned long long)r->nrec + 1, msg);
	r->state = R_FAILED;
	return -1;
}

stream_reader *stream_reader_open(source *src)
{
	stream_reader *r = xcalloc(1, sizeof(*r));
	r->src = src;
	r->chain = XXH3_createState();
	return r;
}

void stream_reader_close(stream_reader *r)
{
	if (!r)
		return;
	source_close(r->src);
	XXH3_freeState(r->chain);
	buf_release(&r->block);
	buf_release(&r->meta);
	free(r);
}

/* Read exactly n bytes or fail, naming what was being read. */
static int read_exact(stream_reader *r, void *dst, size_t n, const char *what)
{
	uint64_t at = source_pos(r->src);
	long got = source_read(r->src, dst, n);
	if (got < 0)
		return rfail_source(r);
	if ((size_t)got < n)
		return rfail(r, at, "truncated: input ends inside the %s", what);
	return 0;
}

static int read_header(stream_reader *r)
{
	uint8_t h[HEADER_LEN];
	uint64_t at = source_pos(r->src);
	long got = source_read(r->src, h, HEADER_LEN);
	if (got < 0)
		return rfail_source(r);
	if (got == 0 && at == 0)
		return rfail(r, at, "empty input");
	if (got < STREAM_MAGIC_LEN || memcmp(h, STREAM_MAGIC, STREAM_MAGIC_LEN) != 0)
		return rfail(r, at, "not a sluice record stream (bad magic)");
	if (got < HEADER_LEN)
		return rfail(r, at, "truncated: input ends inside the stream header");
	unsigned version = h[6] | h[7] << 8;
	if (version != STREAM_VERSION)
		return rfail(r, at, "unsupported format version %u (this build reads version %d)",
			     version, STREAM_VERSION);
	uint32_t mlen = load_u32le(h + 8);
	if (mlen > STREAM_META_MAX)
		return rfail(r, at, "header metadata of %u bytes exceeds the %u byte limit", mlen, STREAM_META_MAX);
	buf m = { 0 };
	buf_grow(&m, mlen);
	if (read_exact(r, m.data, mlen, "stream header") < 0) {
		buf_release(&m);
		return -1;
	}
	m.len = mlen;
	if (!r->have_meta) {
		r->meta = m;
		r->have_meta = 1;
	} else {
		/* A concatenation is one stream only if its parts describe
		 * their records alike. */
		char why[200];
		int agree = stream_meta_agree((const char *)r->meta.data, r->meta.len, (const char *)m.data, m.len, why,
					      sizeof(why));
		buf_release(&m);
		if (!agree)
			return rfail(r, at, "the header of a concatenated stream disagrees with the first one: %s", why);
	}
	XXH3_64bits_reset(r->chain);
	r->stream_nrec = r->stream_nblocks = 0;
	r->state = R_BLOCKS;
	return 0;
}

static int read_trailer(stream_reader *r, uint64_t at, const uint8_t tag[4])
{
	uint8_t t[TRAILER_LEN];
	memcpy(t, tag, 4);
	if (read_exact(r, t + 4, TRAILER_LEN - 4, "trailer") < 0)
		return -1;
	uint64_t nrec = load_u64le(t + 8), nblocks = load_u64le(t + 16), hash = load_u64le(t + 24);
	if (r->partial) {
		if (nrec != r->nrec)
			return rfail(r, at, "trailer counts %llu records but the index led to %llu",
				     (unsigned long long)nrec, (unsigned long long)r->nrec);
	} else {
		if (nrec != r->stream_nrec || nblocks != r->stream_nblocks)
			return rfail(r, at, "trailer counts %llu records in %llu blocks but %llu in %llu were read",
				     (unsigned long long)nrec, (unsigned long long)nblocks,
				     (unsigned long long)r->stream_nrec, (unsigned long long)r->stream_nblocks);
		if (hash != XXH3_64bits_digest(r->chain))
			return rfail(r, at, "trailer hash does not match the blocks read (blocks lost or reordered)");
	}
	/* Another stream may follow (concatenated files); otherwise the end. */
	const uint8_t *p;
	long got = source_peek(r->src, STREAM_MAGIC_LEN, &p);
	if (got < 0)
		return rfail_source(r);
	if (got == 0) {
		r->state = R_END;
		return 0;
	}
	if (got == STREAM_MAGIC_LEN && memcmp(p, STREAM_MAGIC, STREAM_MAGIC_LEN) == 0) {
		r->partial = 0;
		return read_header(r);
	}
	return rfail(r, source_pos(r->src), "unexpected data after the trailer");
}

static int next_block(stream_reader *r)
{
	uint8_t h[BLOCK_HEAD];
	uint64_t at = source_pos(r->src);
	long got = source_read(r->src, h, 4);
	if (got < 0)
		return rfail_source(r);
	if (got == 0)
		return rfail_end(r, "truncated: stream ends without its trailer (cut short?)");
	if (got < 4)
		return rfail(r, at, "truncated: input ends inside a block header");
	if (memcmp(h, "SLCE", 4) == 0)
		return read_trailer(r, at, h);
	if (memcmp(h, "SLCB", 4) != 0)
		return rfail(r, at, "expected a block or the trailer, found bytes %02x %02x %02x %02x",
			     h[0], h[1], h[2], h[3]);
	if (read_exact(r, h + 4, BLOCK_HEAD - 4, "block header") < 0)
		return -1;
	uint32_t nrec = load_u32le(h + 4), len = load_u32le(h + 8);
	uint64_t hash = load_u64le(h + 12);
	if (len > REC_MAX_BYTES + 4u + STREAM_BLOCK_MAX)
		return rfail(r, at, "block of %u bytes exceeds the size limit", len);
	if ((uint64_t)nrec * 5 > len)
		return rfail(r, at, "block claims %u records in %u bytes", nrec, len);
	buf_reset(&r->block);
	buf_grow(&r->block, len);
	if (read_exact(r, r->block.data, len, "block") < 0)
		return -1;
	r->block.len = len;
	if (XXH3_64bits(r->block.data, len) != hash)
		return rfail(r, at, "block checksum mismatch (corrupt data)");
	uint8_t hb[8];
	store_u64le(hb, hash);
	XXH3_64bits_update(r->chain, hb, 8);
	r->pos = 0;
	r->left = nrec;
	r->block_pos = at;
	r->nblocks++;
	r->stream_nblocks++;
	r->payload += len;
	if (nrec == 0)
		return rfail(r, at, "empty block");
	return 0;
}

int stream_read(stream_reader *r, rec *out)
{
	char why[160];
	for (;;) {
		switch (r->state) {
		case R_FAILED:
			return -1;
		case R_END:
			return 0;
		case R_HEADER:
			if (read_header(r) < 0)
				return -1;
			continue;
		case R_BLOCKS:
			break;
		}
		if (r->left == 0) {
			if (next_block(r) < 0)
				return -1;
			continue;
		}
		size_t avail = r->block.len - r->pos;
		if (avail < 4)
			return rfail(r, r->block_pos, "block ends inside a record length");
		uint32_t len = load_u32le(r->block.data + r->pos);
		if (len > avail - 4)
			return rfail(r, r->block_pos, "record of %u bytes runs past the end of its block", len);
		if (rec_parse(out, r->block.data + r->pos + 4, len, why, sizeof(why)) < 0)
			return rfail(r, r->block_pos, "malformed record: %s", why);
		r->pos += 4 + (size_t)len;
		r->left--;
		if (r->left == 0 && r->pos != r->block.len)
			return rfail(r, r->block_pos, "block has %zu bytes after its last record",
				     r->block.len - r->pos);
		r->nrec++;
		r->stream_nrec++;
		return 1;
	}
}

/* Load the index from the end of a seekable descriptor. */
static int load_index(stream_reader *r, int fd, buf *idx, uint64_t *idx_start)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return rnote(r, "cannot seek: input is not a regular file");
	uint64_t size = (uint64_t)st.st_size;
	uint8_t foot[INDEX_FOOTER];
	if (size < INDEX_FOOTER + 8 || pread(fd, foot, INDEX_FOOTER, (off_t)(size - INDEX_FOOTER)) != INDEX_FOOTER ||
	    memcmp(foot + 16, INDEX_MAGIC, 8) != 0)
		return rnote(r, "cannot seek: the stream has no index (write it with --index)");
	uint64_t n = load_u64le(foot);
	if (n > (size - INDEX_FOOTER - 8) / INDEX_ENTRY)
		return rnote(r, "cannot seek: corrupt index (entries do not fit the file)");
	uint64_t start = size - INDEX_FOOTER - n * INDEX_ENTRY - 8;
	uint8_t head[8];
	buf_reset(idx);
	buf_grow(idx, n * INDEX_ENTRY);
	if (pread(fd, head, 8, (off_t)start) != 8 || load_u32le(head) != SKIPPABLE_INDEX ||
	    load_u32le(head + 4) != n * INDEX_ENTRY + INDEX_FOOTER ||
	    pread(fd, idx->data, n * INDEX_ENTRY, (off_t)start + 8) != (ssize_t)(n * INDEX_ENTRY))
		return rnote(r, "cannot seek: corrupt index frame");
	idx->len = n * INDEX_ENTRY;
	if (XXH3_64bits(idx->data, idx->len) != load_u64le(foot + 8))
		return rnote(r, "cannot seek: index checksum mismatch");
	*idx_start = start;
	return 0;
}

int stream_reader_header(stream_reader *r)
{
	if (r->state == R_FAILED)
		return -1;
	return r->state == R_HEADER ? read_header(r) : 0;
}

int stream_reader_seek(stream_reader *r, uint64_t n)
{
	if (r->state == R_FAILED)
		return -1;
	if (r->state == R_HEADER && read_header(r) < 0)
		return -1;
	int fd = source_fd(r->src);
	buf idx = { 0 };
	uint64_t start = 0;
	if (fd < 0 || load_index(r, fd, &idx, &start) < 0) {
		if (fd < 0)
			rnote(r, "cannot seek: input is not a file");
		buf_release(&idx);
		return -1;
	}
	size_t nb = idx.len / INDEX_ENTRY;
	uint64_t first = 0;
	size_t b = 0;
	for (; b < nb; b++) {
		uint32_t k = load_u32le(idx.data + b * INDEX_ENTRY + 12);
		if (n < first + k)
			break;
		first += k;
	}
	if (b == nb) {
		/* Past the last record: position at the trailer, which follows
		 * the last block. */
		if (n > first) {
			buf_release(&idx);
			return rnote(r, "cannot seek: record past the end of the stream");
		}
	}
	uint64_t off;
	if (b < nb) {
		off = start - load_u64le(idx.data + b * INDEX_ENTRY);
	} else if (nb) {
		const uint8_t *e = idx.data + (nb - 1) * INDEX_ENTRY;
		off = start - load_u64le(e) + load_u32le(e + 8);
	} else {
		off = 0; /* no blocks: reread from the start */
	}
	buf_release(&idx);
	if (off > start)
		return rnote(r, "cannot seek: corrupt index (offset before the file start)");
	if (b == nb && nb == 0) {
		if (source_seek(r->src, 0) < 0)
			return rfail_source(r);
		r->state = R_HEADER;
		r->nrec = 0;
		return 0;
	}
	if (source_seek(r->src, off) < 0)
		return rfail_source(r);
	r->state = R_BLOCKS;
	r->left = 0;
	r->nrec = first;
	r->partial = 1;
	rec *skip = rec_new();
	int ret = 0;
	while (ret == 0 && r->nrec < n)
		if (stream_read(r, skip) != 1)
			ret = -1;
	rec_free(skip);
	return ret;
}

const char *stream_reader_error(const stream_reader *r)
{
	return r->err;
}

const char *stream_reader_meta(const stream_reader *r, size_t *len)
{
	*len = r->meta.len;
	return r->meta.len ? (const char *)r->meta.data : "";
}

uint64_t stream_reader_records(const stream_reader *r) { return r->nrec; }
uint64_t stream_reader_blocks(const stream_reader *r) { return r->nblocks; }
uint64_t stream_reader_payload(const stream_reader *r) { return r->payload; }
source *stream_reader_source(stream_reader *r) { return r->src; }
