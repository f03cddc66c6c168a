/* safetensors.h: the safetensors file format, read and written.
 *
 * A file is an 8-byte little-endian header length N, N bytes of JSON (an
 * object mapping each tensor's name to {"dtype", "shape", "data_offsets":
 * [begin, end]}, plus an optional "__metadata__" object of string values),
 * then the data buffer: every tensor's bytes, little-endian, at the
 * offsets given, which cover the buffer with no gaps or overlaps.
 *
 * st_parse() checks all of that and never trusts a length it has not
 * checked against the bytes it has.  The writer lays tensors out in the
 * order they are added and pads the header with spaces to a multiple of 8
 * bytes, so the data starts aligned.
 *
 * Ownership: st_file and st_writer belong to the caller (st_free,
 * st_writer_free, both accepting NULL); names, metadata and data pointers
 * returned point into the st_file. */
#ifndef SLUICE_SAFETENSORS_H
#define SLUICE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_HEADER_MAX (100u << 20) /* the format's limit on the JSON header */
#define ST_DIMS_MAX 8

typedef enum {
	ST_BOOL, ST_U8, ST_I8, ST_U16, ST_I16, ST_F16, ST_BF16, ST_U32, ST_I32, ST_F32, ST_U64, ST_I64, ST_F64,
	ST_NDTYPES
} st_dtype;

const char *st_dtype_name(st_dtype d);
size_t st_dtype_size(st_dtype d);

typedef struct st_tensor {
	const char *name;
	st_dtype dtype;
	int ndim;
	int64_t shape[ST_DIMS_MAX];
	uint64_t numel;
	uint64_t begin, end;        /* byte offsets within the data buffer */
} st_tensor;

typedef struct st_file st_file;

/* Parse a whole file held in p[0..n); p must outlive the result.  Returns
 * NULL with the problem in err. */
st_file *st_parse(const uint8_t *p, size_t n, char *err, size_t errlen);
/* Read path into memory and parse it.  Returns NULL with the problem in
 * err. */
st_file *st_load(const char *path, char *err, size_t errlen);
void st_free(st_file *f);

size_t st_count(const st_file *f);
const st_tensor *st_at(const st_file *f, size_t i);             /* in file order */
const st_tensor *st_find(const st_file *f, const char *name);   /* NULL if absent */
const uint8_t *st_data(const st_file *f, const st_tensor *t);
/* A metadata value, NUL-terminated; NULL if absent. */
const char *st_meta(const st_file *f, const char *key);

typedef struct st_writer st_writer;

st_writer *st_writer_new(void);
void st_writer_free(st_writer *w);
/* Metadata; key and value are copied. */
void st_writer_meta(st_writer *w, const char *key, const char *value);
/* A tensor; data must hold numel * st_dtype_size(dtype) bytes and stay
 * valid until st_writer_save(). */
void st_writer_tensor(st_writer *w, const char *name, st_dtype dtype, int ndim, const int64_t *shape,
		      const void *data);
/* Write the file to fd.  Returns 0, or -1 with errno set. */
int st_writer_write(st_writer *w, int fd);
/* Write the file to a temporary name beside path, sync it and rename it
 * over path, so that path holds either the old file or the whole new one.
 * Returns 0, or -1 with the problem in err. */
int st_writer_save(st_writer *w, const char *path, char *err, size_t errlen);

#endif
