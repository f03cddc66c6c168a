/* seqs.c: the checked reader of training sequences. */
#include "seqs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "json.h"
#include "record.h"
#include "util.h"

struct seqs {
	input *in;
	rec *r;
	seqs_header h;
	uint64_t n_vocab, n_ctx, len; /* len: fixed by the header or the first record */
	uint64_t records;
	uint32_t *ids;              /* the tokens, copied out aligned */
	size_t cap;
	char err[512];
	int header_bad;
};

static void read_header(seqs *s)
{
	size_t len;
	const char *meta = input_meta(s->in, &len);
	s->h.shard = -1;
	if (!len)
		return;
	rec *m = rec_new();
	char perr[256];
	uint64_t shard;
	if (json_parse_line(m, meta, len, perr, sizeof(perr)) < 0) {
		snprintf(s->err, sizeof(s->err), "stream metadata is not a JSON object: %s", perr);
		s->header_bad = 1;
	} else if (json_get_u64(m, "n_vocab", &s->h.n_vocab) < 0 || json_get_u64(m, "eot", &s->h.eot) < 0 ||
		   json_get_u64(m, "seq_len", &s->h.seq_len) < 0 || json_get_u64(m, "shard", &shard) < 0) {
		snprintf(s->err, sizeof(s->err), "stream metadata: n_vocab, eot, seq_len and shard must be integers");
		s->header_bad = 1;
	} else {
		s->h.present = 1;
		json_copy_str(m, "tokenizer", s->h.tokenizer, sizeof(s->h.tokenizer));
		json_copy_str(m, "mode", s->h.mode, sizeof(s->h.mode));
		json_copy_str(m, "split", s->h.split, sizeof(s->h.split));
		json_copy_str(m, "dataset", s->h.dataset, sizeof(s->h.dataset));
		json_copy_str(m, "chat_template", s->h.chat_template, sizeof(s->h.chat_template));
		if (rec_get(m, "shard"))
			s->h.shard = (int64_t)shard;
		s->len = s->h.seq_len;
	}
	rec_free(m);
}

seqs *seqs_open(const char *path)
{
	input *in = input_open(path, INPUT_AUTO);
	if (!in)
		return NULL;
	seqs *s = xcalloc(1, sizeof(*s));
	s->in = in;
	s->r = rec_new();
	read_header(s);
	return s;
}

void seqs_close(seqs *s)
{
	if (!s)
		return;
	input_close(s->in);
	rec_free(s->r);
	free(s->ids);
	free(s);
}

const seqs_header *seqs_hdr(const seqs *s) { return &s->h; }
const char *seqs_path(const seqs *s) { return input_path(s->in); }
void seqs_set_model(seqs *s, uint64_t n_vocab, uint64_t n_ctx)
{
	s->n_vocab = n_vocab;
	s->n_ctx = n_ctx;
}
const char *seqs_error(const seqs *s) { return s->err; }
uint64_t seqs_records(const seqs *s) { return s->records; }

static int bad(seqs *s, const char *what)
{
	snprintf(s->err, sizeof(s->err), "record %llu: %s", (unsigned long long)s->records + 1, what);
	return -1;
}

int seqs_next(seqs *s, const uint32_t **tok, const uint8_t **mask, size_t *len)
{
	if (s->header_bad)
		return -1;
	int got = input_read(s->in, s->r);
	if (got < 0) {
		snprintf(s->err, sizeof(s->err), "%s", input_error(s->in));
		return -1;
	}
	if (got == 0)
		return 0;
	const rec_field *t = rec_get(s->r, "tokens"), *m = rec_get(s->r, "mask");
	char what[256];
	if (!t || t->type != REC_U32S)
		return bad(s, "no tokens field (uint32 array): not a sequence stream (sluice-shard writes one)");
	uint64_t n = t->len / 4;
	if (n < 2)
		return bad(s, "a sequence needs at least 2 tokens");
	if (!s->len)
		s->len = n;
	if (n != s->len) {
		snprintf(what, sizeof(what), "%llu tokens; the stream's sequences are %llu", (unsigned long long)n,
			 (unsigned long long)s->len);
		return bad(s, what);
	}
	if (s->n_ctx && n > s->n_ctx + 1) {
		snprintf(what, sizeof(what), "sequences of %llu tokens are longer than the model's context of %llu + 1",
			 (unsigned long long)n, (unsigned long long)s->n_ctx);
		return bad(s, what);
	}
	if (m && (m->type != REC_U8S || m->len != n))
		return bad(s, "mask is not a uint8 array as long as the tokens");
	/* A field inside a record need not be aligned: copy out. */
	if (s->cap < n) {
		free(s->ids);
		s->cap = n;
		s->ids = xmalloc(n * sizeof(*s->ids));
	}
	uint32_t *ids = s->ids;
	memcpy(ids, t->val, n * 4);
	for (uint64_t i = 0; s->n_vocab && i < n; i++)
		if (ids[i] >= s->n_vocab) {
			snprintf(what, sizeof(what), "token %u at position %llu is outside the vocabulary of %llu", ids[i],
				 (unsigned long long)i, (unsigned long long)s->n_vocab);
			return bad(s, what);
		}
	for (uint64_t i = 0; m && i < n; i++)
		if (m->val[i] > 1)
			return bad(s, "mask values must be 0 or 1");
	*tok = ids;
	*mask = m ? m->val : NULL;
	*len = n;
	s->records++;
	return 1;
}

int seqs_skip(seqs *s, uint64_t n)
{
	if (n && s->records == 0 && input_seek(s->in, n) == 0) {
		s->records = n;
		return 0;
	}
	const uint32_t *t;
	const uint8_t *m;
	size_t len;
	while (n--) {
		int got = seqs_next(s, &t, &m, &len);
		if (got <= 0) {
			if (got == 0)
				snprintf(s->err, sizeof(s->err), "ends after %llu records, before the position to resume from",
					 (unsigned long long)s->records);
			return -1;
		}
	}
	return 0;
}
