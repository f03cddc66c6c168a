/* output.c: records out as a stream, JSONL or text. */
#include "output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "util.h"

#define FLUSH_AT (1u << 20)

struct output {
	output_format fmt;
	int fd;
	const char *name;
	char *path, *tmp;       /* tmp: renamed over path on success */
	stream_writer *w;
	buf b;
	uint64_t records;
	int failed;
};

output *output_open(const char *path, output_format fmt, const stream_writer_opts *opts, int force,
		    int *status)
{
	/* A file is replaced only by a complete output: write beside it. */
	char *tmp = NULL;
	struct stat st;
	int fd;
	if (path && strcmp(path, "-") != 0 && (stat(path, &st) < 0 ? errno == ENOENT : S_ISREG(st.st_mode))) {
		fd = atomic_create(path, &tmp);
		if (fd < 0)
			cli_error(path, "cannot create: %s", strerror(errno));
	} else {
		fd = cli_open_output(path);
	}
	if (fd < 0) {
		*status = EXIT_DATA;
		return NULL;
	}
	if (fmt == OUTPUT_RECORDS && cli_refuse_tty(fd, force) < 0) {
		if (tmp)
			atomic_commit(fd, tmp, path, 1);
		else if (fd > STDOUT_FILENO)
			close(fd);
		*status = EXIT_USAGE;
		return NULL;
	}
	output *o = xcalloc(1, sizeof(*o));
	o->fmt = fmt;
	o->fd = fd;
	o->name = cli_name(path, 1);
	if (tmp) {
		o->path = xstrdup(path);
		o->tmp = tmp;
	}
	if (fmt == OUTPUT_RECORDS) {
		stream_writer_opts defaults = { 3, STREAM_BLOCK_DEFAULT, 1, 0 };
		o->w = stream_writer_open(fd, opts ? opts : &defaults);
	}
	return o;
}

static int flush(output *o)
{
	size_t off = 0;
	while (off < o->b.len) {
		ssize_t k = write(o->fd, o->b.data + off, o->b.len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			cli_error(o->name, "write error: %s", strerror(errno));
			o->failed = 1;
			return -1;
		}
		off += (size_t)k;
	}
	buf_reset(&o->b);
	return 0;
}

int output_set_meta(output *o, const char *json, size_t len)
{
	if (!o->w || !len)
		return 0;
	if (stream_writer_set_meta(o->w, json, len) < 0) {
		cli_error(o->name, "cannot set the stream header metadata");
		return -1;
	}
	return 0;
}

int output_write(output *o, const rec *r, const char *where)
{
	char err[256];
	if (o->failed)
		return -1;
	switch (o->fmt) {
	case OUTPUT_RECORDS:
		if (stream_write(o->w, r) < 0) {
			cli_error(o->name, "write error: %s", strerror(errno));
			o->failed = 1;
			return -1;
		}
		break;
	case OUTPUT_JSONL:
		if (json_write_record(&o->b, r, err, sizeof(err)) < 0) {
			cli_error(NULL, "%s: %s", where, err);
			return -1;
		}
		break;
	case OUTPUT_TEXT: {
		const rec_field *t = rec_get(r, "text");
		if (!t || t->type != REC_STR) {
			cli_error(NULL, "%s: no text field to write (try JSONL)", where);
			return -1;
		}
		buf_add(&o->b, t->val, t->len);
		buf_addc(&o->b, '\n');
		break;
	}
	}
	o->records++;
	return o->b.len >= FLUSH_AT ? flush(o) : 0;
}

int output_close(output *o, int status)
{
	if (!o)
		return 0;
	int ok = status == EXIT_OK && !o->failed;
	int ret = status == EXIT_OK && o->failed ? -1 : 0;
	if (o->w && !ok) {
		stream_writer_abort(o->w);
	} else if (o->w && stream_writer_close(o->w) < 0) {
		cli_error(o->name, "write error: %s", strerror(errno));
		ok = 0;
		ret = -1;
	}
	if (o->b.len && !o->failed && flush(o) < 0) {
		ok = 0;
		ret = -1;
	}
	buf_release(&o->b);
	if (o->tmp) {
		/* Either the complete output takes the file's place, or the file
		 * is left as it was. */
		if (atomic_commit(o->fd, o->tmp, o->path, !ok) < 0 && ok) {
			cli_error(o->name, "write error: %s", strerror(errno));
			ret = -1;
		}
		free(o->path);
	} else if (o->fd > STDOUT_FILENO && close(o->fd) < 0 && ok) {
		cli_error(o->name, "write error: %s", strerror(errno));
		ret = -1;
	}
	free(o);
	return ret;
}

const char *output_name(const output *o)
{
	return o->name;
}

uint64_t output_records(const output *o)
{
	return o->records;
}
