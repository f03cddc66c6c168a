/* test_stream.c: records and the record stream: round trips, threads,
 * truncation and corruption at every byte, the index, concatenation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "record.h"
#include "stream.h"
#include "util.h"

/* Deterministic pseudo-random numbers (xorshift64*). */
static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

/* Record i of the test set: text of varying length, tokens, a number. */
static void make_record(rec *r, uint64_t i)
{
	char text[3000];
	size_t n = (size_t)(next_rand() % 2500);
	for (size_t k = 0; k < n; k++)
		text[k] = (char)('a' + (i * 7 + k * 13 + k / 5) % 26);
	rec_clear(r);
	rec_set_str(r, "text", text, n);
	uint32_t toks[64];
	size_t nt = (size_t)(i % 64);
	for (size_t k = 0; k < nt; k++)
		toks[k] = (uint32_t)(i * 1000 + k);
	rec_set_u32s(r, "tokens", toks, nt);
	rec_set_int(r, "n", (int64_t)i);
	rec_set_flags(r, (uint8_t)(i & 7));
}

/* Write nrec records to a temporary file; returns its bytes. */
static uint8_t *write_stream(uint64_t nrec, stream_writer_opts *o, const char *meta, size_t *len)
{
	FILE *f = tmpfile();
	stream_writer *w = stream_writer_open(fileno(f), o);
	if (meta)
		CHECK(stream_writer_set_meta(w, meta, strlen(meta)) == 0);
	rec *r = rec_new();
	rng = 88172645463325252ull;
	for (uint64_t i = 0; i < nrec; i++) {
		make_record(r, i);
		CHECK(stream_write(w, r) == 0);
	}
	CHECK(stream_writer_close(w) == 0);
	rec_free(r);
	long size = lseek(fileno(f), 0, SEEK_END);
	uint8_t *p = xmalloc((size_t)size);
	CHECK(pread(fileno(f), p, (size_t)size, 0) == size);
	fclose(f);
	*len = (size_t)size;
	return p;
}

/* Read all records; returns the count, or -1 on error.  With check set,
 * every record must equal the one written. */
static long read_all(const uint8_t *p, size_t n, int check, char *err, size_t errlen)
{
	stream_reader *sr = stream_reader_open(source_open_mem(p, n));
	rec *r = rec_new(), *want = rec_new();
	long count = 0;
	int ret;
	rng = 88172645463325252ull;
	while ((ret = stream_read(sr, r)) == 1) {
		if (check) {
			make_record(want, (uint64_t)count);
			size_t a, b;
			const uint8_t *x = rec_bytes(r, &a), *y = rec_bytes(want, &b);
			if (a != b || memcmp(x, y, a) != 0)
				ret = -2;
		}
		if (ret == -2)
			break;
		count++;
	}
	if (ret < 0 && err)
		snprintf(err, errlen, "%s", ret == -2 ? "record differs" : stream_reader_error(sr));
	stream_reader_close(sr);
	rec_free(r);
	rec_free(want);
	return ret < 0 ? (ret == -2 ? -2 : -1) : count;
}

static void test_record_fields(void)
{
	rec *r = rec_new();
	CHECK_EQ_INT(rec_nfields(r), 0);
	CHECK(rec_set_str(r, "text", "hello", 5) == 0);
	CHECK(rec_set_int(r, "id", 42) == 0);
	CHECK(rec_set_float(r, "score", 0.5) == 0);
	CHECK_EQ_INT(rec_nfields(r), 3);
	int64_t v;
	double d;
	CHECK(rec_get_int(r, "id", &v) == 0 && v == 42);
	CHECK(rec_get_double(r, "score", &d) == 0 && d == 0.5);
	CHECK(rec_get_double(r, "id", &d) == 0 && d == 42.0);
	CHECK(rec_get_int(r, "nope", &v) == -1);
	/* Replacing keeps the position and the other fields. */
	CHECK(rec_set_str(r, "text", "a longer text", 13) == 0);
	const rec_field *f = rec_field_at(r, 0);
	CHECK(rec_field_is(f, "text") && f->len == 13 && memcmp(f->val, "a longer text", 13) == 0);
	CHECK(rec_get_int(r, "id", &v) == 0 && v == 42);
	CHECK_EQ_INT(rec_del(r, "id"), 1);
	CHECK_EQ_INT(rec_del(r, "id"), 0);
	CHECK_EQ_INT(rec_nfields(r), 2);
	CHECK(rec_field_is(rec_field_at(r, 1), "score"));
	/* JSON numbers read as numbers. */
	CHECK(rec_set(r, "j", 1, REC_JSON, "-17", 3) == 0);
	CHECK(rec_get_int(r, "j", &v) == 0 && v == -17);
	CHECK(rec_set(r, "k", 1, REC_JSON, "[1]", 3) == 0);
	CHECK(rec_get_int(r, "k", &v) == -1);
	/* Limits. */
	char longname[300];
	memset(longname, 'x', sizeof(longname));
	CHECK(rec_set(r, longname, 256, REC_STR, "", 0) == -1);
	CHECK(rec_set(r, longname, 255, REC_STR, "", 0) == 0);
	CHECK(rec_set(r, "i", 1, REC_INT, "abc", 3) == -1);
	CHECK(rec_set(r, "t", 1, REC_U32S, "abc", 3) == -1);
	/* A copy is independent of its source. */
	rec *c = rec_new();
	rec_copy(c, r);
	rec_set_str(r, "text", "x", 1);
	CHECK(rec_get(c, "text")->len == 13);
	rec_free(c);
	rec_free(r);
}

static void test_record_parse_rejects(void)
{
	rec *r = rec_new();
	char err[160];
	uint8_t good[] = { 0, 's', 1, 't', 2, 0, 0, 0, 'h', 'i' };
	CHECK(rec_parse(r, good, sizeof(good), err, sizeof(err)) == 0);
	CHECK(rec_get(r, "t") && rec_get(r, "t")->len == 2);
	CHECK(rec_parse(r, good, 0, err, sizeof(err)) == -1);
	/* Every proper prefix but the bare flags byte is malformed. */
	for (size_t n = 2; n < sizeof(good); n++)
		CHECK(rec_parse(r, good, n, err, sizeof(err)) == -1);
	uint8_t badint[] = { 0, 'i', 1, 'n', 3, 0, 0, 0, 1, 2, 3 };
	CHECK(rec_parse(r, badint, sizeof(badint), err, sizeof(err)) == -1);
	uint8_t badtype[] = { 0, 0x01, 1, 'n', 0, 0, 0, 0 };
	CHECK(rec_parse(r, badtype, sizeof(badtype), err, sizeof(err)) == -1);
	rec_free(r);
}

/* A parsed record is a view of its source bytes; any change must move it,
 * index and all, into its own storage. */
static void test_record_view_changes(void)
{
	static const uint8_t src[] = { 0, 's', 1, 'a', 1, 0, 0, 0, 'x', 's', 1, 'b', 2, 0, 0, 0, 'y', 'z' };
	char err[160];
	rec *r = rec_new();
	uint8_t *bytes = xmalloc(sizeof(src));
	memcpy(bytes, src, sizeof(src));
	CHECK(rec_parse(r, bytes, sizeof(src), err, sizeof(err)) == 0);
	rec_set_flags(r, REC_JSON_ASCII);
	memset(bytes, 0xEE, sizeof(src));
	free(bytes);
	const rec_field *a = rec_get(r, "a");
	CHECK(a && a->len == 1 && a->val[0] == 'x');
	CHECK(rec_flags(r) == REC_JSON_ASCII);

	/* Setting a field from another field of the same record. */
	const rec_field *b = rec_get(r, "b");
	char big[4096];
	memset(big, 'q', sizeof(big));
	CHECK(rec_set_str(r, "pad", big, sizeof(big)) == 0);
	b = rec_get(r, "b");
	CHECK(rec_set(r, "c", 1, REC_STR, b->val, b->len) == 0);
	CHECK(rec_set(r, "a", 1, REC_STR, rec_get(r, "pad")->val, sizeof(big)) == 0);
	const rec_field *c = rec_get(r, "c");
	CHECK(c && c->len == 2 && memcmp(c->val, "yz", 2) == 0);
	a = rec_get(r, "a");
	CHECK(a && a->len == sizeof(big) && memcmp(a->val, big, sizeof(big)) == 0);
	rec_free(r);
}

static void test_round_trip(void)
{
	size_t sizes[] = { 4096, 65536, 1 << 20 };
	for (size_t s = 0; s < 3; s++) {
		stream_writer_opts o = { 3, sizes[s], 1, 0 };
		size_t n;
		uint8_t *p = write_stream(500, &o, "{\"tokenizer\": \"gpt2\"}", &n);
		char err[400] = "";
		long got = read_all(p, n, 1, err, sizeof(err));
		if (got != 500)
			fprintf(stderr, "round trip: %ld records: %s\n", got, err);
		CHECK_EQ_INT(got, 500);
		stream_reader *sr = stream_reader_open(source_open_mem(p, n));
		rec *r = rec_new();
		CHECK(stream_read(sr, r) == 1);
		size_t ml;
		const char *m = stream_reader_meta(sr, &ml);
		CHECK(ml == 21 && memcmp(m, "{\"tokenizer\": \"gpt2\"}", 21) == 0);
		rec_free(r);
		stream_reader_close(sr);
		free(p);
	}
}

static void test_empty_stream(void)
{
	size_t n;
	uint8_t *p = write_stream(0, NULL, NULL, &n);
	CHECK_EQ_INT(read_all(p, n, 1, NULL, 0), 0);
	free(p);
	CHECK_EQ_INT(read_all((const uint8_t *)"", 0, 0, NULL, 0), -1);
}

static void test_threads_identical(void)
{
	stream_writer_opts o1 = { 3, 8192, 1, 1 }, o4 = { 3, 8192, 4, 1 };
	size_t n1, n4;
	uint8_t *p1 = write_stream(2000, &o1, NULL, &n1);
	uint8_t *p4 = write_stream(2000, &o4, NULL, &n4);
	CHECK(n1 == n4 && memcmp(p1, p4, n1) == 0);
	free(p1);
	free(p4);
}

static void test_truncation_everywhere(void)
{
	stream_writer_opts o = { 1, 4096, 1, 0 };
	size_t n;
	uint8_t *p = write_stream(60, &o, NULL, &n);
	int bad = 0;
	for (size_t cut = 0; cut < n; cut++) {
		long got = read_all(p, cut, 1, NULL, 0);
		if (got != -1) {
			fprintf(stderr, "cut at %zu of %zu read as %ld records\n", cut, n, got);
			bad++;
		}
	}
	CHECK_EQ_INT(bad, 0);
	free(p);
}

static void test_corruption_everywhere(void)
{
	/* A flipped bit is either reported or harmless (the records read are
	 * exactly those written): never silently different data. */
	stream_writer_opts o = { 1, 4096, 1, 0 };
	size_t n;
	uint8_t *p = write_stream(40, &o, NULL, &n);
	int silent = 0, reported = 0;
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			p[i] ^= (uint8_t)(1 << bit);
			long got = read_all(p, n, 1, NULL, 0);
			if (got == -1)
				reported++;
			else if (got != 40)
				silent++;
			p[i] ^= (uint8_t)(1 << bit);
		}
	}
	CHECK_EQ_INT(silent, 0);
	CHECK(reported > 0);
	free(p);
}

static void test_concatenation(void)
{
	size_t n;
	uint8_t *p = write_stream(100, NULL, NULL, &n);
	uint8_t *two = xmalloc(2 * n);
	memcpy(two, p, n);
	memcpy(two + n, p, n);
	stream_reader *sr = stream_reader_open(source_open_mem(two, 2 * n));
	rec *r = rec_new();
	long count = 0;
	while (stream_read(sr, r) == 1)
		count++;
	CHECK_EQ_INT(count, 200);
	CHECK(stream_reader_error(sr)[0] == '\0');
	stream_reader_close(sr);
	/* Garbage after the trailer is an error. */
	memcpy(two + n, "garbage!", 8);
	CHECK_EQ_INT(read_all(two, n + 8, 0, NULL, 0), -1);
	rec_free(r);
	free(two);
	free(p);
}

/* Concatenate streams with these metadata; returns the reader's result
 * (records, or -1 with the message in err). */
static long read_concat(const char *m1, const char *m2, char *err, size_t errlen, size_t *first_len)
{
	size_t n1, n2;
	uint8_t *a = write_stream(10, NULL, m1, &n1), *b = write_stream(10, NULL, m2, &n2);
	uint8_t *two = xmalloc(n1 + n2);
	memcpy(two, a, n1);
	memcpy(two + n1, b, n2);
	stream_reader *sr = stream_reader_open(source_open_mem(two, n1 + n2));
	rec *r = rec_new();
	long count = 0;
	int ret;
	while ((ret = stream_read(sr, r)) == 1)
		count++;
	snprintf(err, errlen, "%s", stream_reader_error(sr));
	stream_reader_close(sr);
	rec_free(r);
	free(two);
	free(a);
	free(b);
	*first_len = n1;
	return ret < 0 ? -1 : count;
}

static void test_concatenation_headers(void)
{
	char err[400], want[64];
	size_t n1;
	const char *gpt2 = "{\"tokenizer\": \"gpt2\", \"n_vocab\": 50257, \"eot\": 50256}";
	/* Different vocabularies: refused at the second header, by offset. */
	CHECK_EQ_INT(read_concat(gpt2, "{\"tokenizer\": \"shk\", \"n_vocab\": 4096, \"eot\": 4095}", err,
				 sizeof(err), &n1), -1);
	snprintf(want, sizeof(want), "byte %zu (record 11): ", n1);
	CHECK(strncmp(err, want, strlen(want)) == 0);
	CHECK(strstr(err, "tokenizer \"shk\" here, \"gpt2\" before") != NULL);
	CHECK_EQ_INT(read_concat(gpt2, "{\"tokenizer\": \"gpt2\", \"n_vocab\": 50304, \"eot\": 50256}", err,
				 sizeof(err), &n1), -1);
	CHECK(strstr(err, "n_vocab 50304 here, 50257 before") != NULL);
	/* A header without the tokenizer after one with it. */
	CHECK_EQ_INT(read_concat(gpt2, NULL, err, sizeof(err), &n1), -1);
	CHECK(strstr(err, "tokenizer absent here") != NULL);
	CHECK_EQ_INT(read_concat("{\"seq_len\": 1024}", "{\"seq_len\": 512}", err, sizeof(err), &n1), -1);
	/* Agreement on the keys compared is enough: shards of one split. */
	CHECK_EQ_INT(read_concat("{\"tokenizer\": \"gpt2\", \"seq_len\": 64, \"shard\": 0}",
				 "{\"tokenizer\":\"gpt2\",\"seq_len\":64,\"shard\":1}", err, sizeof(err), &n1), 20);
	CHECK_EQ_INT(read_concat(NULL, NULL, err, sizeof(err), &n1), 20);
	CHECK_EQ_INT(read_concat(gpt2, gpt2, err, sizeof(err), &n1), 20);
	/* Metadata that is not JSON agrees only with itself. */
	CHECK_EQ_INT(read_concat("x", "x", err, sizeof(err), &n1), 20);
	CHECK_EQ_INT(read_concat("x", "y", err, sizeof(err), &n1), -1);
}

/* An aborted writer leaves no trailer: the stream reads as cut short. */
static void test_writer_abort(void)
{
	for (int threads = 1; threads <= 2; threads++) {
		FILE *f = tmpfile();
		stream_writer_opts o = { 1, STREAM_BLOCK_MIN, threads, 1 };
		stream_writer *w = stream_writer_open(fileno(f), &o);
		rec *r = rec_new();
		rng = 88172645463325252ull;
		for (uint64_t i = 0; i < 500; i++) {
			make_record(r, i);
			CHECK(stream_write(w, r) == 0);
		}
		stream_writer_abort(w);
		rec_free(r);
		long size = lseek(fileno(f), 0, SEEK_END);
		CHECK(size > 0);
		uint8_t *p = xmalloc((size_t)size);
		CHECK(pread(fileno(f), p, (size_t)size, 0) == size);
		fclose(f);
		char err[400];
		CHECK_EQ_INT(read_all(p, (size_t)size, 1, err, sizeof(err)), -1);
		CHECK(strstr(err, "without its trailer") != NULL);
		free(p);
	}
	stream_writer_abort(NULL);
}

static void test_index_seek(void)
{
	stream_writer_opts o = { 3, 4096, 2, 1 };
	size_t n;
	uint8_t *p = write_stream(300, &o, NULL, &n);
	/* Sequential reading ignores the index frame. */
	CHECK_EQ_INT(read_all(p, n, 1, NULL, 0), 300);
	FILE *f = tmpfile();
	CHECK(fwrite(p, 1, n, f) == n);
	fflush(f);
	rec *r = rec_new(), *want = rec_new();
	uint64_t targets[] = { 0, 1, 57, 150, 298, 299 };
	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
		lseek(fileno(f), 0, SEEK_SET);
		stream_reader *sr = stream_reader_open(source_open_fd(fileno(f)));
		CHECK(stream_reader_seek(sr, targets[t]) == 0);
		rng = 88172645463325252ull;
		for (uint64_t i = 0; i <= targets[t]; i++)
			make_record(want, i);
		CHECK(stream_read(sr, r) == 1);
		size_t a, b;
		const uint8_t *x = rec_bytes(r, &a), *y = rec_bytes(want, &b);
		CHECK(a == b && memcmp(x, y, a) == 0);
		/* Reading goes on to the verified end. */
		uint64_t left = 0;
		int ret;
		while ((ret = stream_read(sr, r)) == 1)
			left++;
		CHECK_EQ_INT(ret, 0);
		CHECK_EQ_INT(left, 299 - targets[t]);
		stream_reader_close(sr);
	}
	/* Past the end, and a stream without an index: -1, reader still usable. */
	lseek(fileno(f), 0, SEEK_SET);
	stream_reader *sr = stream_reader_open(source_open_fd(fileno(f)));
	CHECK(stream_reader_seek(sr, 301) == -1);
	CHECK(stream_read(sr, r) == 1);
	stream_reader_close(sr);
	fclose(f);
	free(p);
	size_t m;
	p = write_stream(10, NULL, NULL, &m);
	f = tmpfile();
	CHECK(fwrite(p, 1, m, f) == m);
	fflush(f);
	lseek(fileno(f), 0, SEEK_SET);
	sr = stream_reader_open(source_open_fd(fileno(f)));
	CHECK(stream_reader_seek(sr, 3) == -1);
	CHECK(strstr(stream_reader_error(sr), "no index") != NULL);
	long count = 0;
	while (stream_read(sr, r) == 1)
		count++;
	CHECK_EQ_INT(count, 10);
	stream_reader_close(sr);
	fclose(f);
	free(p);
	rec_free(r);
	rec_free(want);
}

static void test_big_record(void)
{
	/* A record larger than the block size gets a block of its own. */
	stream_writer_opts o = { 1, 4096, 1, 0 };
	FILE *f = tmpfile();
	stream_writer *w = stream_writer_open(fileno(f), &o);
	rec *r = rec_new();
	size_t big = 3u << 20;
	char *text = xmalloc(big);
	memset(text, 'q', big);
	rec_set_str(r, "text", text, big);
	CHECK(stream_write(w, r) == 0);
	rec_set_str(r, "text", "small", 5);
	CHECK(stream_write(w, r) == 0);
	CHECK(stream_writer_close(w) == 0);
	lseek(fileno(f), 0, SEEK_SET);
	stream_reader *sr = stream_reader_open(source_open_fd(fileno(f)));
	CHECK(stream_read(sr, r) == 1 && rec_get(r, "text")->len == big);
	CHECK(stream_read(sr, r) == 1 && rec_get(r, "text")->len == 5);
	CHECK(stream_read(sr, r) == 0);
	CHECK_EQ_INT(stream_reader_blocks(sr), 2);
	stream_reader_close(sr);
	fclose(f);
	free(text);
	rec_free(r);
}

int main(void)
{
	RUN(test_record_fields);
	RUN(test_record_parse_rejects);
	RUN(test_record_view_changes);
	RUN(test_round_trip);
	RUN(test_empty_stream);
	RUN(test_threads_identical);
	RUN(test_truncation_everywhere);
	RUN(test_corruption_everywhere);
	RUN(test_concatenation);
	RUN(test_concatenation_headers);
	RUN(test_writer_abort);
	RUN(test_index_seek);
	RUN(test_big_record);
	CHECK_EXIT();
}
