/* record.c: records as their serialized bytes plus an index of fields. */
#include "record.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rec {
	buf own;                /* owned serialized bytes, when not a view */
	const uint8_t *bytes;   /* the serialized record: own.data or a view */
	size_t len;
	rec_field *fields;
	size_t nfields, cap;
};

#define FIELD_HEAD(name_len) (1 + 1 + (size_t)(name_len) + 4)

rec *rec_new(void)
{
	rec *r = xcalloc(1, sizeof(*r));
	rec_clear(r);
	return r;
}

void rec_free(rec *r)
{
	if (!r)
		return;
	buf_release(&r->own);
	free(r->fields);
	free(r);
}

void rec_clear(rec *r)
{
	buf_reset(&r->own);
	buf_addc(&r->own, 0);
	r->bytes = r->own.data;
	r->len = r->own.len;
	r->nfields = 0;
}

/* Build the field index of r->bytes; the bytes are trusted to be valid
 * (they were checked by rec_parse or written by us). */
static void reindex(rec *r)
{
	size_t pos = 1;
	r->nfields = 0;
	while (pos < r->len) {
		const uint8_t *p = r->bytes + pos;
		if (r->nfields == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 8;
			r->fields = xrealloc(r->fields, r->cap * sizeof(*r->fields));
		}
		rec_field *f = &r->fields[r->nfields++];
		f->type = p[0];
		f->name_len = p[1];
		f->name = (const char *)p + 2;
		f->len = load_u32le(p + 2 + p[1]);
		f->val = p + FIELD_HEAD(p[1]);
		pos += FIELD_HEAD(p[1]) + f->len;
	}
}

/* Length a field of this type must have, as a multiple or exactly. */
static const char *check_value_len(int type, uint32_t len)
{
	switch (type) {
	case REC_INT:
	case REC_FLOAT:
		return len == 8 ? NULL : "value of an 'i' or 'f' field is not 8 bytes";
	case REC_U32S:
	case REC_F32S:
		return len % 4 == 0 ? NULL : "value of a 'T' or 'F' field is not a multiple of 4 bytes";
	default:
		return NULL;
	}
}

int rec_parse(rec *r, const uint8_t *p, size_t n, char *err, size_t errlen)
{
	if (n < 1) {
		snprintf(err, errlen, "empty record (no flags byte)");
		return -1;
	}
	if (n > REC_MAX_BYTES) {
		snprintf(err, errlen, "record of %zu bytes exceeds the %u byte limit", n, REC_MAX_BYTES);
		return -1;
	}
	size_t pos = 1, nf = 0;
	while (pos < n) {
		if (n - pos < 2 || n - pos < FIELD_HEAD(p[pos + 1])) {
			snprintf(err, errlen, "field %zu: header runs past the end of the record", nf);
			return -1;
		}
		uint8_t type = p[pos], name_len = p[pos + 1];
		uint32_t len = load_u32le(p + pos + 2 + name_len);
		if (type < 0x21 || type > 0x7e) {
			snprintf(err, errlen, "field %zu: type byte 0x%02x is not a printable character", nf, type);
			return -1;
		}
		if (len > n - pos - FIELD_HEAD(name_len)) {
			snprintf(err, errlen, "field %zu ('%.*s'): value of %u bytes runs past the end of the record",
				 nf, name_len, (const char *)p + pos + 2, len);
			return -1;
		}
		const char *why = check_value_len(type, len);
		if (why) {
			snprintf(err, errlen, "field %zu ('%.*s'): %s", nf, name_len, (const char *)p + pos + 2, why);
			return -1;
		}
		pos += FIELD_HEAD(name_len) + len;
		nf++;
	}
	r->bytes = p;
	r->len = n;
	reindex(r);
	return 0;
}

static void sync_own(rec *r)
{
	r->bytes = r->own.data;
	r->len = r->own.len;
	reindex(r);
}

/* Make r own its bytes before a change; the field index moves with them. */
static void own(rec *r)
{
	if (r->bytes == r->own.data)
		return;
	buf_reset(&r->own);
	buf_add(&r->own, r->bytes, r->len);
	sync_own(r);
}

void rec_copy(rec *r, const rec *src)
{
	if (r == src)
		return;
	buf_reset(&r->own);
	buf_add(&r->own, src->bytes, src->len);
	sync_own(r);
}

const uint8_t *rec_bytes(const rec *r, size_t *len)
{
	*len = r->len;
	return r->bytes;
}

uint8_t rec_flags(const rec *r)
{
	return r->bytes[0];
}

void rec_set_flags(rec *r, uint8_t flags)
{
	own(r);
	r->own.data[0] = flags;
}

size_t rec_nfields(const rec *r)
{
	return r->nfields;
}

const rec_field *rec_field_at(const rec *r, size_t i)
{
	return i < r->nfields ? &r->fields[i] : NULL;
}

int rec_field_is(const rec_field *f, const char *name)
{
	size_t n = strlen(name);
	return f->name_len == n && memcmp(f->name, name, n) == 0;
}

#define NOT_FOUND SIZE_MAX

static size_t find(const rec *r, const char *name, size_t name_len)
{
	for (size_t i = 0; i < r->nfields; i++)
		if (r->fields[i].name_len == name_len && memcmp(r->fields[i].name, name, name_len) == 0)
			return i;
	return NOT_FOUND;
}

const rec_field *rec_get(const rec *r, const char *name)
{
	size_t i = find(r, name, strlen(name));
	return i == NOT_FOUND ? NULL : &r->fields[i];
}

int rec_set(rec *r, const char *name, size_t name_len, int type, const void *val, size_t len)
{
	if (name_len > REC_NAME_MAX || len > REC_MAX_BYTES || check_value_len(type, (uint32_t)len))
		return -1;
	size_t i = find(r, name, name_len);
	size_t old_off = 0, old_size = 0, new_size = FIELD_HEAD(name_len) + len;
	if (i != NOT_FOUND) {
		old_off = (size_t)((const uint8_t *)r->fields[i].name - 2 - r->bytes);
		old_size = FIELD_HEAD(name_len) + r->fields[i].len;
	}
	if (r->len - old_size + new_size > REC_MAX_BYTES)
		return -1;
	if (len && (const uint8_t *)val >= r->bytes && (const uint8_t *)val < r->bytes + r->len) {
		/* The value is a field of r itself: copy it before r's storage moves. */
		uint8_t *copy = xmalloc(len);
		memcpy(copy, val, len);
		int ret = rec_set(r, name, name_len, type, copy, len);
		free(copy);
		return ret;
	}
	own(r);
	uint8_t head[FIELD_HEAD(REC_NAME_MAX)];
	head[0] = (uint8_t)type;
	head[1] = (uint8_t)name_len;
	memcpy(head + 2, name, name_len);
	store_u32le(head + 2 + name_len, (uint32_t)len);
	if (i == NOT_FOUND) {
		buf_add(&r->own, head, FIELD_HEAD(name_len));
		buf_add(&r->own, val, len);
	} else {
		/* Replace in place so the field keeps its position. */
		buf *b = &r->own;
		if (new_size > old_size)
			buf_grow(b, new_size - old_size);
		memmove(b->data + old_off + new_size, b->data + old_off + old_size, b->len - old_off - old_size);
		b->len = b->len - old_size + new_size;
		memcpy(b->data + old_off, head, FIELD_HEAD(name_len));
		if (len)
			memcpy(b->data + old_off + FIELD_HEAD(name_len), val, len);
	}
	sync_own(r);
	return 0;
}

int rec_set_str(rec *r, const char *name, const char *s, size_t len)
{
	return rec_set(r, name, strlen(name), REC_STR, s, len);
}

int rec_set_int(rec *r, const char *name, int64_t v)
{
	uint8_t b[8];
	store_u64le(b, (uint64_t)v);
	return rec_set(r, name, strlen(name), REC_INT, b, 8);
}

int rec_set_float(rec *r, const char *name, double v)
{
	uint64_t u;
	uint8_t b[8];
	memcpy(&u, &v, 8);
	store_u64le(b, u);
	return rec_set(r, name, strlen(name), REC_FLOAT, b, 8);
}

int rec_set_u32s(rec *r, const char *name, const uint32_t *v, size_t n)
{
	if (n > REC_MAX_BYTES / 4)
		return -1;
	uint8_t *b = xmalloc(n * 4);
	for (size_t i = 0; i < n; i++)
		store_u32le(b + 4 * i, v[i]);
	int ret = rec_set(r, name, strlen(name), REC_U32S, b, n * 4);
	free(b);
	return ret;
}

int rec_del(rec *r, const char *name)
{
	size_t i = find(r, name, strlen(name));
	if (i == NOT_FOUND)
		return 0;
	size_t off = (size_t)((const uint8_t *)r->fields[i].name - 2 - r->bytes);
	size_t size = FIELD_HEAD(r->fields[i].name_len) + r->fields[i].len;
	own(r);
	memmove(r->own.data + off, r->own.data + off + size, r->own.len - off - size);
	r->own.len -= size;
	sync_own(r);
	return 1;
}

int rec_get_int(const rec *r, const char *name, int64_t *out)
{
	const rec_field *f = rec_get(r, name);
	if (!f)
		return -1;
	if (f->type == REC_INT) {
		*out = (int64_t)load_u64le(f->val);
		return 0;
	}
	if (f->type == REC_JSON && f->len > 0 && f->len < 32) {
		char tmp[32], *end;
		memcpy(tmp, f->val, f->len);
		tmp[f->len] = '\0';
		long long v = strtoll(tmp, &end, 10);
		if (*end == '\0') {
			*out = v;
			return 0;
		}
	}
	return -1;
}

int rec_get_double(const rec *r, const char *name, double *out)
{
	const rec_field *f = rec_get(r, name);
	if (!f)
		return -1;
	if (f->type == REC_FLOAT) {
		uint64_t u = load_u64le(f->val);
		memcpy(out, &u, 8);
		return 0;
	}
	if (f->type == REC_INT) {
		*out = (double)(int64_t)load_u64le(f->val);
		return 0;
	}
	if (f->type == REC_JSON && f->len > 0 && f->len < 64) {
		char tmp[64], *end;
		memcpy(tmp, f->val, f->len);
		tmp[f->len] = '\0';
		double v = strtod(tmp, &end);
		if (*end == '\0' && end != tmp) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

uint32_t rec_u32_at(const rec_field *f, size_t i)
{
	return load_u32le(f->val + 4 * i);
}

float rec_f32_at(const rec_field *f, size_t i)
{
	uint32_t u = load_u32le(f->val + 4 * i);
	float v;
	memcpy(&v, &u, 4);
	return v;
}
