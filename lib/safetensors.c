/* safetensors.c: reading and writing safetensors files. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "record.h"
#include "util.h"

static const struct {
	const char *name;
	size_t size;
} dtypes[ST_NDTYPES] = {
	[ST_BOOL] = { "BOOL", 1 }, [ST_U8] = { "U8", 1 },   [ST_I8] = { "I8", 1 },     [ST_U16] = { "U16", 2 },
	[ST_I16] = { "I16", 2 },   [ST_F16] = { "F16", 2 }, [ST_BF16] = { "BF16", 2 }, [ST_U32] = { "U32", 4 },
	[ST_I32] = { "I32", 4 },   [ST_F32] = { "F32", 4 }, [ST_U64] = { "U64", 8 },   [ST_I64] = { "I64", 8 },
	[ST_F64] = { "F64", 8 },
};

const char *st_dtype_name(st_dtype d) { return dtypes[d].name; }
size_t st_dtype_size(st_dtype d) { return dtypes[d].size; }

struct st_meta_kv {
	char *key, *value;
};

struct st_file {
	uint8_t *owned;             /* the file, when st_load() read it */
	const uint8_t *data;        /* the data buffer */
	uint64_t data_len;
	st_tensor *t;
	size_t n;
	struct st_meta_kv *meta;
	size_t nmeta;
};

/* A JSON array of non-negative integers ("[768, 2304]"), already known to
 * be valid JSON.  Returns the count (at most max), or -1. */
static int parse_uints(const rec_field *f, uint64_t *out, int max)
{
	if (f->type != REC_JSON)
		return -1;
	const char *p = (const char *)f->val, *end = p + f->len;
	int n = 0;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if (p == end || *p++ != '[')
		return -1;
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
			p++;
		if (p < end && *p == ']' && n == 0)
			return 0;
		if (p == end || *p < '0' || *p > '9' || n == max)
			return -1;
		uint64_t v = 0;
		while (p < end && *p >= '0' && *p <= '9') {
			if (v > (UINT64_C(1) << 56))
				return -1;
			v = v * 10 + (uint64_t)(*p++ - '0');
		}
		out[n++] = v;
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
			p++;
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == ']')
			return n;
		return -1;
	}
}

static int parse_tensor(st_tensor *t, const rec_field *f, uint64_t data_len, char *err, size_t errlen)
{
	int rc = -1;
	char perr[256];
	rec *o = rec_new();
	if (f->type != REC_JSON || json_parse_line(o, (const char *)f->val, f->len, perr, sizeof(perr)) < 0) {
		snprintf(err, errlen, "tensor %s: not a JSON object", t->name);
		goto out;
	}
	const rec_field *dt = rec_get(o, "dtype"), *sh = rec_get(o, "shape"), *off = rec_get(o, "data_offsets");
	if (!dt || !sh || !off || rec_nfields(o) != 3) {
		snprintf(err, errlen, "tensor %s: needs exactly dtype, shape and data_offsets", t->name);
		goto out;
	}
	int d = -1;
	for (int i = 0; dt->type == REC_STR && i < ST_NDTYPES; i++)
		if (strlen(dtypes[i].name) == dt->len && !memcmp(dtypes[i].name, dt->val, dt->len))
			d = i;
	if (d < 0) {
		snprintf(err, errlen, "tensor %s: unknown dtype", t->name);
		goto out;
	}
	t->dtype = (st_dtype)d;
	uint64_t dims[ST_DIMS_MAX], offs[2];
	int nd = parse_uints(sh, dims, ST_DIMS_MAX);
	if (nd < 0) {
		snprintf(err, errlen, "tensor %s: shape is not a list of at most %d sizes", t->name, ST_DIMS_MAX);
		goto out;
	}
	if (parse_uints(off, offs, 2) != 2 || offs[0] > offs[1] || offs[1] > data_len) {
		snprintf(err, errlen, "tensor %s: data_offsets are not [begin, end] within the %llu data bytes",
			 t->name, (unsigned long long)data_len);
		goto out;
	}
	t->ndim = nd;
	t->numel = 1;
	for (int i = 0; i < nd; i++) {
		t->shape[i] = (int64_t)dims[i];
		if (dims[i] && t->numel > data_len / dims[i] + 1) {
			snprintf(err, errlen, "tensor %s: shape larger than the file", t->name);
			goto out;
		}
		t->numel *= dims[i];
	}
	t->begin = offs[0];
	t->end = offs[1];
	if (t->numel > data_len || t->numel * dtypes[d].size != t->end - t->begin) {
		snprintf(err, errlen, "tensor %s: %llu bytes at data_offsets, but its shape and dtype need %llu",
			 t->name, (unsigned long long)(t->end - t->begin),
			 (unsigned long long)(t->numel * dtypes[d].size));
		goto out;
	}
	rc = 0;
out:
	rec_free(o);
	return rc;
}

static int parse_meta(st_file *f, const rec_field *m, char *err, size_t errlen)
{
	char perr[256];
	rec *o = rec_new();
	int rc = -1;
	if (m->type != REC_JSON || json_parse_line(o, (const char *)m->val, m->len, perr, sizeof(perr)) < 0) {
		snprintf(err, errlen, "__metadata__ is not a JSON object: %s", m->type == REC_JSON ? perr : "not an object");
		goto out;
	}
	f->meta = xcalloc(rec_nfields(o) + 1, sizeof(*f->meta));
	for (size_t i = 0; i < rec_nfields(o); i++) {
		const rec_field *kv = rec_field_at(o, i);
		if (kv->type != REC_STR) {
			snprintf(err, errlen, "__metadata__: value of %.*s is not a string", (int)kv->name_len, kv->name);
			goto out;
		}
		f->meta[f->nmeta].key = xstrndup(kv->name, kv->name_len);
		f->meta[f->nmeta++].value = xstrndup((const char *)kv->val, kv->len);
	}
	rc = 0;
out:
	rec_free(o);
	return rc;
}

static int by_begin(const void *a, const void *b)
{
	const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* The tensors must tile the data buffer exactly. */
static int check_tiling(const st_file *f, char *err, size_t errlen)
{
	const st_tensor **order = xmalloc((f->n + 1) * sizeof(*order));
	for (size_t i = 0; i < f->n; i++)
		order[i] = &f->t[i];
	qsort(order, f->n, sizeof(*order), by_begin);
	uint64_t at = 0;
	int rc = 0;
	for (size_t i = 0; i < f->n && !rc; i++) {
		if (order[i]->begin != at) {
			snprintf(err, errlen, "tensor %s: data starts at %llu, not at %llu (%s)", order[i]->name,
				 (unsigned long long)order[i]->begin, (unsigned long long)at,
				 order[i]->begin < at ? "overlap" : "gap");
			rc = -1;
		}
		at = order[i]->end;
	}
	if (!rc && at != f->data_len) {
		snprintf(err, errlen, "the tensors cover %llu of the %llu data bytes", (unsigned long long)at,
			 (unsigned long long)f->data_len);
		rc = -1;
	}
	free(order);
	return rc;
}

st_file *st_parse(const uint8_t *p, size_t n, char *err, size_t errlen)
{
	if (n < 8) {
		snprintf(err, errlen, "not a safetensors file: %zu bytes, shorter than the header length", n);
		return NULL;
	}
	uint64_t hlen = load_u64le(p);
	if (hlen > ST_HEADER_MAX || hlen > n - 8) {
		snprintf(err, errlen, "not a safetensors file: header length %llu %s", (unsigned long long)hlen,
			 hlen > ST_HEADER_MAX ? "exceeds the format's 100 MB limit" : "runs past the end of the file");
		return NULL;
	}
	if (hlen < 2 || p[8] != '{') {
		snprintf(err, errlen, "not a safetensors file: the header is not a JSON object");
		return NULL;
	}
	st_file *f = xcalloc(1, sizeof(*f));
	f->data = p + 8 + hlen;
	f->data_len = n - 8 - hlen;
	rec *h = rec_new();
	char perr[256];
	if (json_parse_line(h, (const char *)p + 8, (size_t)hlen, perr, sizeof(perr)) < 0) {
		snprintf(err, errlen, "header JSON: %s", perr);
		goto fail;
	}
	f->t = xcalloc(rec_nfields(h) + 1, sizeof(*f->t));
	for (size_t i = 0; i < rec_nfields(h); i++) {
		const rec_field *fl = rec_field_at(h, i);
		if (rec_field_is(fl, "__metadata__")) {
			if (f->meta) {
				snprintf(err, errlen, "__metadata__ appears twice");
				goto fail;
			}
			if (parse_meta(f, fl, err, errlen) < 0)
				goto fail;
			continue;
		}
		st_tensor *t = &f->t[f->n++];
		t->name = xstrndup(fl->name, fl->name_len);
		if (parse_tensor(t, fl, f->data_len, err, errlen) < 0)
			goto fail;
	}
	if (check_tiling(f, err, errlen) < 0)
		goto fail;
	rec_free(h);
	return f;
fail:
	rec_free(h);
	st_free(f);
	return NULL;
}

st_file *st_load(const char *path, char *err, size_t errlen)
{
	uint8_t *p;
	size_t n;
	if (file_read_all(path, &p, &n) < 0) {
		snprintf(err, errlen, "%s", errno == EINVAL ? "not a regular file" : strerror(errno));
		return NULL;
	}
	st_file *f = st_parse(p, n, err, errlen);
	if (!f) {
		free(p);
		return NULL;
	}
	f->owned = p;
	return f;
}

void st_free(st_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		free((char *)f->t[i].name);
	for (size_t i = 0; i < f->nmeta; i++) {
		free(f->meta[i].key);
		free(f->meta[i].value);
	}
	free(f->t);
	free(f->meta);
	free(f->owned);
	free(f);
}

size_t st_count(const st_file *f) { return f->n; }
const st_tensor *st_at(const st_file *f, size_t i) { return &f->t[i]; }
const uint8_t *st_data(const st_file *f, const st_tensor *t) { return f->data + t->begin; }

const st_tensor *st_find(const st_file *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->t[i].name, name))
			return &f->t[i];
	return NULL;
}

const char *st_meta(const st_file *f, const char *key)
{
	for (size_t i = 0; i < f->nmeta; i++)
		if (!strcmp(f->meta[i].key, key))
			return f->meta[i].value;
	return NULL;
}

/* ---- writing ---- */

struct st_wtensor {
	char *name;
	st_dtype dtype;
	int ndim;
	int64_t shape[ST_DIMS_MAX];
	size_t bytes;
	const void *data;
};

struct st_writer {
	struct st_meta_kv *meta;
	size_t nmeta, capmeta;
	struct st_wtensor *t;
	size_t n, cap;
};

st_writer *st_writer_new(void)
{
	return xcalloc(1, sizeof(st_writer));
}

void st_writer_free(st_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->nmeta; i++) {
		free(w->meta[i].key);
		free(w->meta[i].value);
	}
	for (size_t i = 0; i < w->n; i++)
		free(w->t[i].name);
	free(w->meta);
	free(w->t);
	free(w);
}

void st_writer_meta(st_writer *w, const char *key, const char *value)
{
	if (w->nmeta == w->capmeta) {
		w->capmeta = w->capmeta ? 2 * w->capmeta : 16;
		w->meta = xrealloc(w->meta, w->capmeta * sizeof(*w->meta));
	}
	w->meta[w->nmeta].key = xstrdup(key);
	w->meta[w->nmeta++].value = xstrdup(value);
}

void st_writer_tensor(st_writer *w, const char *name, st_dtype dtype, int ndim, const int64_t *shape,
		      const void *data)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 64;
		w->t = xrealloc(w->t, w->cap * sizeof(*w->t));
	}
	struct st_wtensor *t = &w->t[w->n++];
	t->name = xstrdup(name);
	t->dtype = dtype;
	t->ndim = ndim;
	t->bytes = dtypes[dtype].size;
	for (int i = 0; i < ndim; i++) {
		t->shape[i] = shape[i];
		t->bytes *= (size_t)shape[i];
	}
	t->data = data;
}

static void header_json(const st_writer *w, buf *h)
{
	buf_addc(h, '{');
	if (w->nmeta) {
		buf_adds(h, "\"__metadata__\":{");
		for (size_t i = 0; i < w->nmeta; i++) {
			if (i)
				buf_addc(h, ',');
			(void)json_put_string(h, w->meta[i].key, strlen(w->meta[i].key));
			buf_addc(h, ':');
			(void)json_put_string(h, w->meta[i].value, strlen(w->meta[i].value));
		}
		buf_addc(h, '}');
	}
	size_t at = 0;
	for (size_t i = 0; i < w->n; i++) {
		const struct st_wtensor *t = &w->t[i];
		char tmp[64];
		if (i || w->nmeta)
			buf_addc(h, ',');
		(void)json_put_string(h, t->name, strlen(t->name));
		buf_adds(h, ":{\"dtype\":\"");
		buf_adds(h, dtypes[t->dtype].name);
		buf_adds(h, "\",\"shape\":[");
		for (int d = 0; d < t->ndim; d++) {
			snprintf(tmp, sizeof(tmp), "%s%lld", d ? "," : "", (long long)t->shape[d]);
			buf_adds(h, tmp);
		}
		snprintf(tmp, sizeof(tmp), "],\"data_offsets\":[%zu,%zu]}", at, at + t->bytes);
		buf_adds(h, tmp);
		at += t->bytes;
	}
	buf_addc(h, '}');
	while (h->len % 8)
		buf_addc(h, ' ');
}

int st_writer_write(st_writer *w, int fd)
{
	buf h = { 0 };
	header_json(w, &h);
	uint8_t len8[8];
	store_u64le(len8, h.len);
	int rc = write_full(fd, len8, 8) < 0 || write_full(fd, h.data, h.len) < 0 ? -1 : 0;
	for (size_t i = 0; i < w->n && rc == 0; i++)
		rc = write_full(fd, w->t[i].data, w->t[i].bytes);
	int e = errno;
	buf_release(&h);
	errno = e;
	return rc;
}

int st_writer_save(st_writer *w, const char *path, char *err, size_t errlen)
{
	char *tmp;
	int fd = atomic_create(path, &tmp);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a file beside it: %s", strerror(errno));
		return -1;
	}
	if (atomic_commit(fd, tmp, path, st_writer_write(w, fd) < 0) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	return 0;
}
