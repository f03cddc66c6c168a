/* record.h: a record is an ordered bag of named, typed fields.
 *
 * Serialized form (see sluice-stream(5)), all integers little-endian:
 *
 *     record = flags:u8  field*
 *     field  = type:u8  name_len:u8  name[name_len]  value_len:u32  value[value_len]
 *
 * A record held in memory is exactly that serialized form plus an index of
 * its fields, so reading, passing through and writing a record never
 * re-encodes it.  A record may be a view into someone else's bytes (the
 * stream reader hands out views into its block buffer); any change first
 * copies it into the record's own storage.
 *
 * Ownership: the caller owns every rec it creates and frees it with
 * rec_free().  Field views returned by rec_get()/rec_field_at() point into the
 * record and stay valid until the record next changes. */
#ifndef SLUICE_RECORD_H
#define SLUICE_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* Field types.  The type fixes how the value bytes are read. */
enum {
	REC_STR    = 's', /* UTF-8 text */
	REC_JSON   = 'j', /* a JSON value as text, kept verbatim (JSONL metadata) */
	REC_INT    = 'i', /* int64, 8 bytes */
	REC_FLOAT  = 'f', /* IEEE float64, 8 bytes */
	REC_U32S   = 'T', /* array of uint32 (token ids) */
	REC_U8S    = 'B', /* array of uint8 (loss mask) */
	REC_F32S   = 'F', /* array of IEEE float32 (log-probs) */
};

/* Record flags: how the record was written as JSON, so that JSONL brought in
 * comes back out byte for byte.  Unknown bits are kept. */
enum {
	REC_JSON_ASCII   = 0x01, /* non-ASCII and DEL written as \u escapes */
	REC_JSON_COMPACT = 0x02, /* separators "," and ":" instead of ", " and ": " */
	REC_JSON_SLASH   = 0x04, /* '/' escaped as "\/" */
};

#define REC_NAME_MAX 255
#define REC_MAX_BYTES (256u << 20) /* largest serialized record: 256 MiB */

typedef struct rec_field {
	const char *name;        /* not NUL-terminated */
	uint8_t name_len;
	uint8_t type;
	uint32_t len;            /* value length in bytes */
	const uint8_t *val;
} rec_field;

typedef struct rec rec;

rec *rec_new(void);
void rec_free(rec *r);                  /* accepts NULL */
void rec_clear(rec *r);                 /* no fields, flags 0 */

/* Make r a view of the serialized record p[0..n).  Returns 0, or -1 with a
 * description in err (at least 128 bytes) if the bytes are malformed.  The
 * bytes must outlive the view. */
int rec_parse(rec *r, const uint8_t *p, size_t n, char *err, size_t errlen);
/* Copy another record (view or not) into r's own storage. */
void rec_copy(rec *r, const rec *src);

/* The serialized form. */
const uint8_t *rec_bytes(const rec *r, size_t *len);

uint8_t rec_flags(const rec *r);
void rec_set_flags(rec *r, uint8_t flags);

size_t rec_nfields(const rec *r);
const rec_field *rec_field_at(const rec *r, size_t i);
const rec_field *rec_get(const rec *r, const char *name); /* NULL if absent */
int rec_field_is(const rec_field *f, const char *name);

/* Replace the field of that name in place, or append it.  name must be at
 * most REC_NAME_MAX bytes; the record at most REC_MAX_BYTES.  Returns 0, or
 * -1 if a limit is exceeded (the record is unchanged). */
int rec_set(rec *r, const char *name, size_t name_len, int type, const void *val, size_t len);
int rec_set_str(rec *r, const char *name, const char *s, size_t len);
int rec_set_int(rec *r, const char *name, int64_t v);
int rec_set_float(rec *r, const char *name, double v);
int rec_set_u32s(rec *r, const char *name, const uint32_t *v, size_t n);
/* Remove a field; returns 1 if it was there, 0 if not. */
int rec_del(rec *r, const char *name);

/* Typed reads.  Return 0 on success, -1 if the field is absent or its type
 * does not fit (an 'i', 'f' or numeric 'j' field reads as a number). */
int rec_get_int(const rec *r, const char *name, int64_t *out);
int rec_get_double(const rec *r, const char *name, double *out);

/* Element i of an array field (no bounds check beyond the caller's). */
uint32_t rec_u32_at(const rec_field *f, size_t i);
float rec_f32_at(const rec_field *f, size_t i);

#endif
