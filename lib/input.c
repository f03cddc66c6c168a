/* input.c: format detection and one record at a time from any input. */
#include "input.h"
#include "json.h"
#include "utf8.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

struct input {
	char *path;
	int fd;
	input_format fmt;
	int started;
	source *src;            /* owned here unless handed to the reader */
	stream_reader *sr;
	buf line;
	uint64_t lineno, nrec, blank;
	char err[384];
	int failed;
	int repair;             /* text that is not UTF-8 is repaired */
	char repaired[160];     /* what was repaired in the last record */
	uint64_t replaced;      /* U+FFFD substitutions in all */
	buf fixed;
	rec *scratch;
};

static const char *names[] = { "auto", "records", "jsonl", "text" };

int input_format_parse(const char *s, input_format *out)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (input_format)i;
			return 0;
		}
	return -1;
}

const char *input_format_name(input_format f)
{
	return names[f];
}

static input *input_new(const char *path, input_format fmt)
{
	input *in = xcalloc(1, sizeof(*in));
	in->path = xstrdup(!path || strcmp(path, "-") == 0 ? "(stdin)" : path);
	in->fmt = fmt;
	in->fd = -1;
	return in;
}

input *input_open(const char *path, input_format fmt)
{
	int fd = !path || strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	input *in = input_new(path, fmt);
	in->fd = fd;
	in->src = source_open_fd(fd);
	return in;
}

input *input_open_mem(const void *p, size_t n, input_format fmt)
{
	input *in = input_new("(memory)", fmt);
	in->src = source_open_mem(p, n);
	return in;
}

void input_close(input *in)
{
	if (!in)
		return;
	if (in->sr)
		stream_reader_close(in->sr); /* closes the source too */
	else
		source_close(in->src);
	if (in->fd > STDIN_FILENO)
		close(in->fd);
	buf_release(&in->line);
	buf_release(&in->fixed);
	rec_free(in->scratch);
	free(in->path);
	free(in);
}

__attribute__((format(printf, 2, 3)))
static int fail(input *in, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(in->err, sizeof(in->err), fmt, ap);
	va_end(ap);
	in->failed = 1;
	return -1;
}

#define UTF8_BOM "\xEF\xBB\xBF"
#define DETECT_BYTES 4096
#define DETECT_LINES 16

static int blank(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Text whose first line is not a JSON object: if a later line (of those
 * in p[0..n)) is one, the file looks like JSON lines with a bad first
 * line, which is an error, not text.  Returns 0, or -1 after fail(). */
static int refuse_jsonl_lookalike(input *in, const uint8_t *p, long n, int whole)
{
	uint64_t first = 0, line = 1;
	long i = 0;
	char why[128];
	json_repair rep;
	if (!in->scratch)
		in->scratch = rec_new();
	for (int k = 0; k < DETECT_LINES && i < n; line++) {
		const uint8_t *nl = memchr(p + i, '\n', (size_t)(n - i));
		if (!nl && !whole)
			break;
		long end = nl ? nl - p : n, j = i;
		while (j < end && blank(p[j]))
			j++;
		if (j < end) {
			k++;
			if (!first)
				first = line;
			else if (p[j] == '{' && json_parse_line_repair(in->scratch, (const char *)p + i, (size_t)(end - i),
									&rep, why, sizeof(why)) == 0)
				return fail(in, "line %llu: not a JSON object, but line %llu is: JSON lines must be objects "
					    "throughout (--input-format text reads the file as text)",
					    (unsigned long long)first, (unsigned long long)line);
		}
		i = end + 1;
	}
	return 0;
}

/* Decide the format from the first bytes (after any zstd layer). */
static int detect(input *in)
{
	in->started = 1;
	const uint8_t *p;
	long n = source_peek(in->src, DETECT_BYTES, &p);
	if (n < 0) {
		uint64_t off;
		const char *msg = source_error_message(in->src, &off);
		return fail(in, "byte %llu (record 0): %s", (unsigned long long)off, msg);
	}
	/* A byte order mark starts some UTF-8 files: not part of the text. */
	if (in->fmt != INPUT_RECORDS && n >= 3 && memcmp(p, UTF8_BOM, 3) == 0) {
		uint8_t bom[3];
		if (source_read(in->src, bom, 3) != 3 || (n = source_peek(in->src, DETECT_BYTES, &p)) < 0) {
			uint64_t off;
			const char *msg = source_error_message(in->src, &off);
			return fail(in, "byte %llu (record 0): %s", (unsigned long long)off, msg);
		}
		if (in->fmt == INPUT_AUTO && n == 0)
			return fail(in, "empty input (a byte order mark alone)");
	}
	if (in->fmt == INPUT_AUTO) {
		if (n == 0)
			return fail(in, "empty input");
		if (n >= STREAM_MAGIC_LEN && memcmp(p, STREAM_MAGIC, STREAM_MAGIC_LEN) == 0) {
			in->fmt = INPUT_RECORDS;
		} else {
			long i = 0;
			while (i < n && blank(p[i]))
				i++;
			in->fmt = i < n && p[i] == '{' ? INPUT_JSONL : INPUT_TEXT;
			if (in->fmt == INPUT_TEXT && refuse_jsonl_lookalike(in, p, n, n < DETECT_BYTES) < 0)
				return -1;
		}
	}
	if (in->fmt == INPUT_RECORDS) {
		in->sr = stream_reader_open(in->src);
		in->src = NULL;
	}
	return 0;
}

static int read_line(input *in)
{
	int r = source_getline(in->src, &in->line, REC_MAX_BYTES);
	if (r < 0)
		return fail(in, "line %llu: %s", (unsigned long long)in->lineno + 1, source_error(in->src));
	if (r > 0) {
		in->lineno++;
		/* CRLF files: the '\r' belongs to the line ending, not the text. */
		if (in->line.len && in->line.data[in->line.len - 1] == '\r' && in->fmt == INPUT_JSONL)
			in->line.len--;
	}
	return r;
}

/* Repair the string fields of a record read from a stream that are not
 * valid UTF-8.  Returns 0, or -1 after fail(). */
static int repair_fields(input *in, rec *r)
{
	for (size_t i = 0; i < rec_nfields(r); i++) {
		const rec_field *f = rec_field_at(r, i);
		size_t ok;
		if (f->type != REC_STR || (ok = utf8_valid_prefix(f->val, f->len)) == f->len)
			continue;
		if (!in->repaired[0])
			snprintf(in->repaired, sizeof(in->repaired), "record %llu, field '%.*s', byte %zu: invalid UTF-8",
				 (unsigned long long)in->nrec + 1, f->name_len > 64 ? 64 : (int)f->name_len, f->name,
				 ok + 1);
		buf_reset(&in->fixed);
		in->replaced += utf8_repair(&in->fixed, f->val, f->len);
		char name[REC_NAME_MAX + 1];
		memcpy(name, f->name, f->name_len);
		if (rec_set(r, name, f->name_len, REC_STR, in->fixed.data, in->fixed.len) < 0)
			return fail(in, "record %llu: too large once repaired", (unsigned long long)in->nrec + 1);
	}
	return 0;
}

int input_read(input *in, rec *r)
{
	if (in->failed)
		return -1;
	if (!in->started && detect(in) < 0)
		return -1;
	char why[256];
	int ret;
	in->repaired[0] = '\0';
	switch (in->fmt) {
	case INPUT_RECORDS:
		ret = stream_read(in->sr, r);
		if (ret < 0)
			return fail(in, "%s", stream_reader_error(in->sr));
		if (ret > 0 && in->repair && repair_fields(in, r) < 0)
			return -1;
		break;
	case INPUT_JSONL:
		for (;;) {
			ret = read_line(in);
			if (ret <= 0)
				return ret;
			size_t i = 0;
			while (i < in->line.len && (in->line.data[i] == ' ' || in->line.data[i] == '\t' ||
						    in->line.data[i] == '\r'))
				i++;
			if (i < in->line.len)
				break;
			in->blank++;
		}
		if (!in->repair) {
			if (json_parse_line(r, (const char *)in->line.data, in->line.len, why, sizeof(why)) < 0)
				return fail(in, "line %llu, %s", (unsigned long long)in->lineno, why);
		} else {
			json_repair rep;
			if (json_parse_line_repair(r, (const char *)in->line.data, in->line.len, &rep, why, sizeof(why)) < 0)
				return fail(in, "line %llu, %s", (unsigned long long)in->lineno, why);
			if (rep.replaced) {
				in->replaced += rep.replaced;
				snprintf(in->repaired, sizeof(in->repaired), "line %llu, column %zu: %s",
					 (unsigned long long)in->lineno, rep.column, rep.what);
			}
		}
		ret = 1;
		break;
	default: /* INPUT_TEXT */ {
		ret = read_line(in);
		if (ret <= 0)
			return ret;
		const uint8_t *text = in->line.data;
		size_t len = in->line.len, ok = utf8_valid_prefix(text, len);
		if (ok < len && !in->repair)
			return fail(in, "line %llu, column %zu: invalid UTF-8", (unsigned long long)in->lineno, ok + 1);
		if (len && memchr(text, '\0', len))
			return fail(in, "line %llu: NUL byte in text (binary input?)", (unsigned long long)in->lineno);
		if (ok < len) {
			snprintf(in->repaired, sizeof(in->repaired), "line %llu, column %zu: invalid UTF-8",
				 (unsigned long long)in->lineno, ok + 1);
			buf_reset(&in->fixed);
			in->replaced += utf8_repair(&in->fixed, text, len);
			text = in->fixed.data;
			len = in->fixed.len;
		}
		rec_clear(r);
		if (rec_set_str(r, "text", (const char *)text, len) < 0)
			return fail(in, "line %llu: line too long", (unsigned long long)in->lineno);
		ret = 1;
		break;
	}
	}
	if (ret > 0)
		in->nrec++;
	return ret;
}

void input_repair_utf8(input *in)
{
	in->repair = 1;
}

const char *input_repaired(const input *in)
{
	return in->repaired[0] ? in->repaired : NULL;
}

uint64_t input_replaced(const input *in)
{
	return in->replaced;
}

int input_seek(input *in, uint64_t n)
{
	if (in->failed || (!in->started && detect(in) < 0))
		return -1;
	if (in->fmt != INPUT_RECORDS || in->nrec)
		return -1;
	if (stream_reader_seek(in->sr, n) < 0)
		return -1;
	in->nrec = n;
	return 0;
}

const char *input_error(const input *in)
{
	return in->err;
}

input_format input_detected(const input *in)
{
	return in->fmt;
}

const char *input_path(const input *in)
{
	return in->path;
}

const char *input_meta(input *in, size_t *len)
{
	if (!in->started)
		detect(in);
	/* A header that cannot be read shows at the next read. */
	if (in->sr && stream_reader_header(in->sr) == 0)
		return stream_reader_meta(in->sr, len);
	*len = 0;
	return "";
}

uint64_t input_records(const input *in) { return in->nrec; }
uint64_t input_blank_lines(const input *in) { return in->blank; }
uint64_t input_bytes(const input *in)
{
	return source_input_bytes(in->sr ? stream_reader_source(in->sr) : in->src);
}
stream_reader *input_stream(input *in) { return in->sr; }
