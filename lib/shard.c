/* shard.c: split, mix, shuffle and pack documents into training shards. */
#include "shard.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "json.h"
#include "record.h"
#include "stream.h"
#include "util.h"

/* Seeds of the hashes that are not the user's: the split must not move when
 * the shuffle seed changes, and the mixture draw must not correlate with the
 * order. */
#define SPLIT_SALT 0x73706c6974ull /* "split" */
#define DRAW_SALT  0x64726177ull   /* "draw" */

enum { DOC_VAL = 1, DOC_MASK = 2, DOC_STARTS_EOT = 4, DOC_ENDS_EOT = 8 };

struct doc {
	uint64_t off;            /* byte offset in the store: tokens, then mask */
	uint32_t len;            /* tokens */
	uint32_t source;
	uint32_t flags;
};

struct source {
	char **files;
	size_t nfiles;
	double weight, rate;
	uint64_t first, ndocs;   /* its documents are docs[first .. first+ndocs) */
	uint64_t tokens, empty;
	uint64_t split_docs[2], split_tokens[2];   /* [0] train, [1] val */
	uint64_t out_docs, out_tokens;             /* train, after mixing */
};

/* One document copy in the output order. */
struct entry {
	uint64_t key;
	uint32_t doc, copy;
};

struct split_counts {
	uint64_t documents, doc_tokens, added_eot, tokens, sequences, padding, truncated, shards;
};

struct shard_file {
	char *name;
	int split;
	uint64_t sequences, tokens, hash;
};

struct shard {
	shard_opts o;
	char *dir;
	char *tokenizer;
	char *chat, *chat_tokens;  /* chat template and its ids, or NULL */
	uint64_t n_vocab;
	uint32_t eot;
	struct source *src;
	size_t nsrc;
	struct doc *docs;
	uint64_t ndocs, cap;
	/* the store: bytes [0, spilled) in the spill file, the rest in mem */
	buf mem;
	buf pending;             /* an llm.c document that may go on in the next file */
	int spill_fd;
	uint64_t spilled;
	buf scratch;
	struct split_counts split[2];
	struct shard_file *files;
	size_t nfiles;
	char dataset_hash[17];
	buf dataset;                /* the manifest's "dataset", once planned */
};

shard *shard_new(const shard_opts *o, const char *dir, char *err, size_t errlen)
{
	if (o->seq_len < 2) {
		snprintf(err, errlen, "sequences need at least 2 tokens");
		return NULL;
	}
	if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", dir);
		return NULL;
	}
	shard *s = xcalloc(1, sizeof(*s));
	s->o = *o;
	s->dir = xstrdup(dir);
	s->eot = UINT32_MAX;
	s->spill_fd = -1;
	return s;
}

void shard_free(shard *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nsrc; i++) {
		for (size_t k = 0; k < s->src[i].nfiles; k++)
			free(s->src[i].files[k]);
		free(s->src[i].files);
	}
	buf_release(&s->pending);
	buf_release(&s->dataset);
	for (size_t i = 0; i < s->nfiles; i++)
		free(s->files[i].name);
	free(s->files);
	free(s->src);
	free(s->docs);
	free(s->tokenizer);
	free(s->chat);
	free(s->chat_tokens);
	free(s->dir);
	buf_release(&s->mem);
	buf_release(&s->scratch);
	if (s->spill_fd >= 0)
		close(s->spill_fd);
	free(s);
}

int shard_vocab(shard *s, const char *tokenizer, uint64_t n_vocab, uint64_t eot, char *err, size_t errlen)
{
	if (tokenizer && s->tokenizer && strcmp(tokenizer, s->tokenizer) != 0) {
		snprintf(err, errlen, "tokens of '%s', but the sources before are '%s': mixing vocabularies", tokenizer,
			 s->tokenizer);
		return -1;
	}
	if (n_vocab && s->n_vocab && n_vocab != s->n_vocab) {
		snprintf(err, errlen, "vocabulary of %llu ids, but the sources before have %llu",
			 (unsigned long long)n_vocab, (unsigned long long)s->n_vocab);
		return -1;
	}
	if (eot != UINT32_MAX && s->eot != UINT32_MAX && eot != s->eot) {
		snprintf(err, errlen, "end-of-text id %llu, but the sources before use %u", (unsigned long long)eot,
			 s->eot);
		return -1;
	}
	if (eot != UINT32_MAX && (eot > UINT32_MAX || (n_vocab && eot >= n_vocab))) { /* UINT32_MAX: not named */
		snprintf(err, errlen, "end-of-text id %llu is not in the vocabulary", (unsigned long long)eot);
		return -1;
	}
	if (tokenizer && !s->tokenizer)
		s->tokenizer = xstrdup(tokenizer);
	if (n_vocab && !s->n_vocab)
		s->n_vocab = n_vocab;
	if (eot != UINT32_MAX)
		s->eot = (uint32_t)eot;
	return 0;
}

uint32_t shard_eot(const shard *s)
{
	return s->eot;
}

static int flush_pending(shard *s, char *err, size_t errlen);

int shard_source(shard *s, double weight, char *err, size_t errlen)
{
	if (flush_pending(s, err, errlen) < 0)
		return -1;
	s->src = xrealloc(s->src, (s->nsrc + 1) * sizeof(*s->src));
	struct source *src = &s->src[s->nsrc++];
	memset(src, 0, sizeof(*src));
	src->weight = weight;
	src->first = s->ndocs;
	return 0;
}

void shard_source_file(shard *s, const char *name)
{
	struct source *src = &s->src[s->nsrc - 1];
	src->files = xrealloc(src->files, (src->nfiles + 1) * sizeof(*src->files));
	src->files[src->nfiles++] = xstrdup(name);
}

/* ---- the store ---- */

static int spill(shard *s, char *err, size_t errlen)
{
	if (s->spill_fd < 0) {
		size_t n = strlen(s->dir) + 32;
		char *path = xmalloc(n);
		snprintf(path, n, "%s/.spill-" MKSTEMP_SUFFIX, s->dir);
		s->spill_fd = mkstemp(path);
		if (s->spill_fd >= 0)
			unlink(path);  /* gone when closed, even after a crash */
		else
			snprintf(err, errlen, "%s: cannot create a temporary file: %s", path, strerror(errno));
		free(path);
		if (s->spill_fd < 0)
			return -1;
	}
	if (write_full(s->spill_fd, s->mem.data, s->mem.len) < 0) {
		snprintf(err, errlen, "%s: writing the temporary file: %s", s->dir, strerror(errno));
		return -1;
	}
	s->spilled += s->mem.len;
	buf_reset(&s->mem);
	return 0;
}

/* The tokens (and mask) of document d, valid until the next call. */
static int doc_load(shard *s, const struct doc *d, const uint32_t **tok, const uint8_t **mask, char *err,
		    size_t errlen)
{
	size_t bytes = (size_t)d->len * 4 + (d->flags & DOC_MASK ? d->len : 0);
	const uint8_t *p;
	if (d->off >= s->spilled) {
		p = s->mem.data + (d->off - s->spilled);
	} else {
		buf_reset(&s->scratch);
		buf_grow(&s->scratch, bytes);
		size_t got = 0;
		while (got < bytes) {
			ssize_t k = pread(s->spill_fd, s->scratch.data + got, bytes - got, (off_t)(d->off + got));
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				snprintf(err, errlen, "%s: reading the temporary file: %s", s->dir,
					 k < 0 ? strerror(errno) : "cut short");
				return -1;
			}
			got += (size_t)k;
		}
		p = s->scratch.data;
	}
	*tok = (const uint32_t *)(const void *)p;
	*mask = d->flags & DOC_MASK ? p + (size_t)d->len * 4 : NULL;
	return 0;
}

static int add_doc(shard *s, const void *id, size_t id_len, const uint32_t *tok, size_t n, const uint8_t *mask,
		   char *err, size_t errlen)
{
	struct source *src = &s->src[s->nsrc - 1];
	if (n == 0) {
		src->empty++;
		return 0;
	}
	if (n > UINT32_MAX) {
		snprintf(err, errlen, "a document of %zu tokens is too long", n);
		return -1;
	}
	if (s->n_vocab)
		for (size_t i = 0; i < n; i++)
			if (tok[i] >= s->n_vocab) {
				snprintf(err, errlen, "token id %u at position %zu is outside the vocabulary (%llu ids%s%s)",
					 tok[i], i, (unsigned long long)s->n_vocab, s->tokenizer ? " of " : "",
					 s->tokenizer ? s->tokenizer : "");
				return -1;
			}
	if (s->ndocs == UINT32_MAX) {
		snprintf(err, errlen, "more than %u documents", UINT32_MAX);
		return -1;
	}
	size_t bytes = n * 4 + (mask ? n : 0);
	if (s->mem.len && s->mem.len + bytes > s->o.mem && spill(s, err, errlen) < 0)
		return -1;
	if (s->ndocs == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 4096;
		s->docs = xrealloc(s->docs, s->cap * sizeof(*s->docs));
	}
	struct doc *d = &s->docs[s->ndocs++];
	d->off = s->spilled + s->mem.len;
	d->len = (uint32_t)n;
	d->source = (uint32_t)(s->nsrc - 1);
	d->flags = mask ? DOC_MASK : 0;
	if (tok[0] == s->eot)
		d->flags |= DOC_STARTS_EOT;
	if (tok[n - 1] == s->eot)
		d->flags |= DOC_ENDS_EOT;
	uint64_t h = id ? XXH3_64bits_withSeed(id, id_len, SPLIT_SALT) : XXH3_64bits_withSeed(tok, n * 4, SPLIT_SALT);
	int val = (double)(h >> 11) * 0x1p-53 < s->o.val_fraction;
	if (val)
		d->flags |= DOC_VAL;
	buf_add(&s->mem, tok, n * 4);
	if (mask)
		buf_add(&s->mem, mask, n);
	src->ndocs++;
	src->tokens += n;
	src->split_docs[val]++;
	src->split_tokens[val] += n;
	return 0;
}

static int flush_pending(shard *s, char *err, size_t errlen)
{
	if (!s->pending.len)
		return 0;
	int rc = add_doc(s, NULL, 0, (const uint32_t *)(void *)s->pending.data, s->pending.len / 4, NULL, err, errlen);
	buf_reset(&s->pending);
	return rc;
}

int shard_add(shard *s, const void *id, size_t id_len, const uint32_t *tok, size_t n, const uint8_t *mask,
	      char *err, size_t errlen)
{
	if (flush_pending(s, err, errlen) < 0)
		return -1;
	return add_doc(s, id, id_len, tok, n, mask, err, errlen);
}

int shard_add_llmc(shard *s, llmc_reader *r, char *err, size_t errlen)
{
	enum { CHUNK = 65536 };
	uint32_t *chunk = xmalloc(CHUNK * sizeof(*chunk));
	int rc = 0;
	long n;
	uint64_t at = 0;
	while (rc == 0 && (n = llmc_read(r, chunk, CHUNK, err, errlen)) > 0) {
		for (long i = 0; i < n && rc == 0; i++, at++) {
			/* A document is what follows an end-of-text token, up to the
			 * next: the token itself is the delimiter. */
			if (chunk[i] == s->eot)
				rc = flush_pending(s, err, errlen);
			else
				buf_add(&s->pending, &chunk[i], 4);
		}
	}
	if (rc == 0 && n < 0)
		rc = -1;
	else if (rc < 0) {
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "token %llu: %s", (unsigned long long)at, err);
		snprintf(err, errlen, "%s", tmp);
	}
	free(chunk);
	return rc;
}

/* ---- planning ---- */

static uint64_t draw_key(uint64_t seed, uint32_t source, uint64_t index, uint32_t copy)
{
	uint8_t b[16];
	store_u64le(b, index);
	store_u32le(b + 8, source);
	store_u32le(b + 12, copy);
	return XXH3_64bits_withSeed(b, sizeof(b), seed);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->doc != y->doc)
		return x->doc < y->doc ? -1 : 1;
	return x->copy < y->copy ? -1 : x->copy > y->copy;
}

/* The rate at which each source's training documents are taken. */
static int plan_rates(shard *s, char *err, size_t errlen)
{
	double wsum = 0;
	uint64_t tsum = 0;
	for (size_t i = 0; i < s->nsrc; i++) {
		tsum += s->src[i].split_tokens[0];
		if (s->src[i].weight > 0)
			wsum += s->src[i].weight;
	}
	uint64_t total = s->o.train_tokens ? s->o.train_tokens : tsum;
	for (size_t i = 0; i < s->nsrc; i++) {
		struct source *src = &s->src[i];
		uint64_t have = src->split_tokens[0];
		double want = wsum > 0 ? (src->weight > 0 ? src->weight / wsum : 0) * (double)total
				       : (tsum ? (double)have / (double)tsum * (double)total : 0);
		if (want > 0 && have == 0) {
			snprintf(err, errlen, "%s: weight %g but no training tokens to take",
				 src->nfiles ? src->files[0] : "source", src->weight);
			return -1;
		}
		src->rate = have ? want / (double)have : 0;
		if (src->rate > 1e6) {
			snprintf(err, errlen, "%s: would be repeated %.0f times", src->nfiles ? src->files[0] : "source",
				 src->rate);
			return -1;
		}
	}
	return 0;
}

/* The copies of split sp's documents in output order. */
static struct entry *plan_order(shard *s, int sp, size_t *n)
{
	size_t cap = 1024, k = 0;
	struct entry *e = xmalloc(cap * sizeof(*e));
	for (uint64_t i = 0; i < s->ndocs; i++) {
		const struct doc *d = &s->docs[i];
		if (!!(d->flags & DOC_VAL) != sp)
			continue;
		struct source *src = &s->src[d->source];
		uint64_t index = i - src->first;
		uint32_t copies = 1;
		if (sp == 0) {
			double whole = floor(src->rate);
			uint64_t u = draw_key(s->o.seed ^ DRAW_SALT, d->source, index, 0);
			copies = (uint32_t)whole + ((double)(u >> 11) * 0x1p-53 < src->rate - whole);
			src->out_docs += copies;
			src->out_tokens += (uint64_t)copies * d->len;
		}
		for (uint32_t c = 0; c < copies; c++) {
			if (k == cap) {
				cap *= 2;
				e = xrealloc(e, cap * sizeof(*e));
			}
			e[k].key = s->o.shuffle ? draw_key(s->o.seed, d->source, index, c) : 0;
			e[k].doc = (uint32_t)i;
			e[k].copy = c;
			k++;
		}
	}
	if (s->o.shuffle)
		qsort(e, k, sizeof(*e), entry_cmp);
	*n = k;
	return e;
}

/* Whether an end-of-text token goes before document d, given the one
 * before it (NULL for the first). */
static int eot_before(const struct doc *prev, const struct doc *d)
{
	return !(d->flags & DOC_STARTS_EOT) && !(prev && (prev->flags & DOC_ENDS_EOT));
}

static void plan_counts(shard *s, int sp, const struct entry *e, size_t n)
{
	struct split_counts *c = &s->split[sp];
	uint64_t T = s->o.seq_len - 1;
	const struct doc *prev = NULL;
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < n; i++) {
		const struct doc *d = &s->docs[e[i].doc];
		c->documents++;
		c->doc_tokens += d->len;
		if (s->o.sft) {
			if (d->len > s->o.seq_len)
				c->truncated++;
		} else {
			c->added_eot += eot_before(prev, d);
		}
		prev = d;
	}
	if (s->o.sft) {
		c->sequences = n;
		c->tokens = n * s->o.seq_len;
		c->padding = c->tokens;
		for (size_t i = 0; i < n; i++) {
			uint32_t len = s->docs[e[i].doc].len;
			c->padding -= len < s->o.seq_len ? len : s->o.seq_len;
		}
	} else {
		c->tokens = c->doc_tokens + c->added_eot;
		if (s->o.llmc) {
			c->sequences = 0;
		} else {
			c->sequences = c->tokens > 1 ? (c->tokens - 1 + T - 1) / T : 0;
			c->padding = c->sequences ? c->sequences * T + 1 - c->tokens : 0;
		}
	}
	uint64_t per = s->o.llmc ? s->o.shard_tokens : (s->o.shard_tokens / s->o.seq_len ? s->o.shard_tokens / s->o.seq_len : 1);
	uint64_t units = s->o.llmc ? c->tokens : c->sequences;
	c->shards = (units + per - 1) / per;
}

/* ---- the manifest ---- */

static void put_str(buf *b, const char *s)
{
	size_t at = b->len;
	if (json_put_string(b, s, strlen(s)) < 0) {
		/* A name that is not UTF-8 (from the command line) still gives
		 * valid JSON. */
		b->len = at;
		buf_adds(b, "\"?\"");
	}
}

static void put_fmt(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_fmt(buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	buf_grow(b, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static const char *const split_names[2] = { "train", "val" };

static void put_split(buf *b, const struct split_counts *c)
{
	put_fmt(b,
		"{\"documents\": %llu, \"document_tokens\": %llu, \"added_eot\": %llu, \"tokens\": %llu, "
		"\"sequences\": %llu, \"padding\": %llu, \"truncated\": %llu, \"shards\": %llu}",
		(unsigned long long)c->documents, (unsigned long long)c->doc_tokens,
		(unsigned long long)c->added_eot, (unsigned long long)c->tokens, (unsigned long long)c->sequences,
		(unsigned long long)c->padding, (unsigned long long)c->truncated, (unsigned long long)c->shards);
}

int shard_chat(shard *s, const char *name, const char *tokens_json, char *err, size_t errlen)
{
	if (s->chat && (strcmp(name, s->chat) != 0 || strcmp(tokens_json, s->chat_tokens) != 0)) {
		snprintf(err, errlen, "conversations rendered with chat template %s %s, but the sources before with %s %s",
			 name, tokens_json, s->chat, s->chat_tokens);
		return -1;
	}
	if (!s->chat) {
		s->chat = xstrdup(name);
		s->chat_tokens = xstrdup(tokens_json);
	}
	return 0;
}

/* The chat template's members of a header or the dataset, if there is one. */
static void put_chat(const shard *s, buf *b)
{
	if (!s->chat)
		return;
	buf_adds(b, ", \"chat_template\": ");
	put_str(b, s->chat);
	buf_adds(b, ", \"chat_tokens\": ");
	buf_adds(b, s->chat_tokens);
}

/* Everything that decides the shards' content, in one JSON object. */
static void put_dataset(shard *s, buf *b)
{
	buf_adds(b, "{\"tokenizer\": ");
	if (s->tokenizer)
		put_str(b, s->tokenizer);
	else
		buf_adds(b, "null");
	put_fmt(b, ", \"n_vocab\": %llu, \"eot\": %u, \"seq_len\": %u, \"mode\": \"%s\", \"format\": \"%s\"",
		(unsigned long long)s->n_vocab, s->eot, s->o.seq_len, s->o.sft ? "sft" : "pretrain",
		s->o.llmc ? "llmc" : "slc");
	put_chat(s, b);
	put_fmt(b, ", \"shuffle\": %s, \"seed\": %llu, \"val_fraction\": %.10g, \"shard_tokens\": %llu",
		s->o.shuffle ? "true" : "false", (unsigned long long)s->o.seed, s->o.val_fraction,
		(unsigned long long)s->o.shard_tokens);
	buf_adds(b, ", \"sources\": [");
	for (size_t i = 0; i < s->nsrc; i++) {
		const struct source *src = &s->src[i];
		buf_adds(b, i ? ", {\"files\": [" : "{\"files\": [");
		for (size_t k = 0; k < src->nfiles; k++) {
			if (k)
				buf_adds(b, ", ");
			put_str(b, src->files[k]);
		}
		buf_adds(b, "]");
		if (src->weight >= 0)
			put_fmt(b, ", \"weight\": %.10g", src->weight);
		else
			buf_adds(b, ", \"weight\": null");
		put_fmt(b,
			", \"documents\": %llu, \"tokens\": %llu, \"empty\": %llu, \"train_documents\": %llu, "
			"\"train_tokens\": %llu, \"val_documents\": %llu, \"val_tokens\": %llu, \"rate\": %.10g, "
			"\"out_documents\": %llu, \"out_tokens\": %llu}",
			(unsigned long long)src->ndocs, (unsigned long long)src->tokens, (unsigned long long)src->empty,
			(unsigned long long)src->split_docs[0], (unsigned long long)src->split_tokens[0],
			(unsigned long long)src->split_docs[1], (unsigned long long)src->split_tokens[1], src->rate,
			(unsigned long long)src->out_docs, (unsigned long long)src->out_tokens);
	}
	buf_adds(b, "], \"train\": ");
	put_split(b, &s->split[0]);
	buf_adds(b, ", \"val\": ");
	put_split(b, &s->split[1]);
	buf_adds(b, "}");
}

/* ---- writing ---- */

/* Where sequences or tokens of one split go, shard after shard. */
struct sink {
	shard *s;
	int sp;
	uint64_t index;          /* of the shard open */
	uint64_t per;            /* sequences (streams) or tokens (llm.c) per shard */
	uint64_t in_shard;
	char *path;
	int fd;
	stream_writer *w;
	llmc_writer *lw;
	rec *r;
	buf bytes;               /* the record's tokens, little-endian */
	uint64_t seqs, toks;     /* of the shard open */
	/* pretraining: the window being filled */
	uint32_t *win;
	uint8_t *mask;
	uint32_t fill;
	uint64_t done;
};

static char *shard_path(shard *s, int sp, uint64_t index, char **name)
{
	char base[64];
	if (s->o.llmc)
		snprintf(base, sizeof(base), "%s_%06llu.bin", split_names[sp], (unsigned long long)index);
	else
		snprintf(base, sizeof(base), "%s-%05llu.slc", split_names[sp], (unsigned long long)index);
	size_t n = strlen(s->dir) + strlen(base) + 2;
	char *p = xmalloc(n);
	snprintf(p, n, "%s/%s", s->dir, base);
	if (name)
		*name = xstrdup(base);
	return p;
}

static int hash_file(const char *path, uint64_t *out, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	XXH3_state_t *st = XXH3_createState();
	XXH3_64bits_reset(st);
	static __thread uint8_t io[1 << 16];
	ssize_t k;
	while ((k = read(fd, io, sizeof(io))) > 0 || (k < 0 && errno == EINTR))
		if (k > 0)
			XXH3_64bits_update(st, io, (size_t)k);
	int rc = k < 0 ? -1 : 0;
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	*out = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	close(fd);
	return rc;
}

static int sink_open(struct sink *k, char *err, size_t errlen)
{
	shard *s = k->s;
	s->files = xrealloc(s->files, (s->nfiles + 1) * sizeof(*s->files));
	struct shard_file *f = &s->files[s->nfiles++];
	memset(f, 0, sizeof(*f));
	f->split = k->sp;
	k->path = shard_path(s, k->sp, k->index, &f->name);
	k->seqs = k->toks = 0;
	if (s->o.llmc) {
		k->lw = llmc_create(k->path, 1, err, errlen);
		if (!k->lw)
			goto fail;
		return 0;
	}
	k->fd = open(k->path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (k->fd < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	stream_writer_opts wo = { .level = s->o.level, .threads = s->o.threads, .index = 1 };
	k->w = stream_writer_open(k->fd, &wo);
	buf m = { 0 };
	buf_adds(&m, "{\"tokenizer\": ");
	if (s->tokenizer)
		put_str(&m, s->tokenizer);
	else
		buf_adds(&m, "null");
	put_fmt(&m, ", \"n_vocab\": %llu, \"eot\": %u", (unsigned long long)s->n_vocab, s->eot);
	put_chat(s, &m);
	put_fmt(&m, ", \"seq_len\": %u, \"mode\": \"%s\", \"split\": \"%s\", \"shard\": %llu, \"dataset\": \"%s\"}",
		s->o.seq_len, s->o.sft ? "sft" : "pretrain", split_names[k->sp], (unsigned long long)k->index,
		s->dataset_hash);
	int rc = stream_writer_set_meta(k->w, (const char *)m.data, m.len);
	buf_release(&m);
	if (rc < 0) {
		snprintf(err, errlen, "metadata too large");
		goto fail;
	}
	return 0;
fail: {
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "%s: %s", k->path, err);
	snprintf(err, errlen, "%s", tmp);
	return -1;
}
}

static int sink_close(struct sink *k, char *err, size_t errlen)
{
	shard *s = k->s;
	struct shard_file *f = &s->files[s->nfiles - 1];
	int rc = 0;
	if (k->lw) {
		rc = llmc_finish(k->lw, err, errlen);
		k->lw = NULL;
	} else {
		rc = stream_writer_close(k->w);
		if (rc < 0)
			snprintf(err, errlen, "write error: %s", strerror(errno));
		if (fsync(k->fd) < 0 && rc == 0) {
			snprintf(err, errlen, "write error: %s", strerror(errno));
			rc = -1;
		}
		if (close(k->fd) < 0 && rc == 0) {
			snprintf(err, errlen, "write error: %s", strerror(errno));
			rc = -1;
		}
		k->w = NULL;
	}
	if (rc == 0)
		rc = hash_file(k->path, &f->hash, err, errlen);
	else {
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "%s: %s", k->path, err);
		snprintf(err, errlen, "%s", tmp);
	}
	f->sequences = k->seqs;
	f->tokens = k->toks;
	free(k->path);
	k->path = NULL;
	k->index++;
	k->in_shard = 0;
	return rc;
}

/* One sequence of seq_len tokens to the stream shards. */
static int sink_sequence(struct sink *k, const uint32_t *tok, const uint8_t *mask, char *err, size_t errlen)
{
	shard *s = k->s;
	if (!k->w && sink_open(k, err, errlen) < 0)
		return -1;
	rec_clear(k->r);
	uint32_t n = s->o.seq_len;
	buf *b = &k->bytes;  /* not s->scratch: that may hold the document */
	buf_reset(b);
	buf_grow(b, (size_t)n * 4);
	for (uint32_t i = 0; i < n; i++)
		store_u32le(b->data + 4 * i, tok[i]);
	if (rec_set(k->r, "tokens", 6, REC_U32S, b->data, (size_t)n * 4) < 0 ||
	    (mask && rec_set(k->r, "mask", 4, REC_U8S, mask, n) < 0)) {
		snprintf(err, errlen, "a sequence of %u tokens is too large for a record", n);
		return -1;
	}
	if (stream_write(k->w, k->r) < 0) {
		snprintf(err, errlen, "%s: write error: %s", k->path, strerror(errno));
		return -1;
	}
	k->seqs++;
	k->toks += n;
	++k->done;
	if (k->s->o.progress)
		k->s->o.progress(k->s->o.progress_ctx, k->done);
	if (++k->in_shard == k->per)
		return sink_close(k, err, errlen);
	return 0;
}

/* Tokens of the packed stream (pretraining). */
static int sink_tokens(struct sink *k, const uint32_t *tok, size_t n, char *err, size_t errlen)
{
	shard *s = k->s;
	if (s->o.llmc) {
		while (n) {
			if (!k->lw && sink_open(k, err, errlen) < 0)
				return -1;
			size_t take = k->per - k->in_shard < n ? (size_t)(k->per - k->in_shard) : n;
			if (llmc_write(k->lw, tok, take, err, errlen) < 0) {
				char tmp[512];
				snprintf(tmp, sizeof(tmp), "%s: %s", k->path, err);
				snprintf(err, errlen, "%s", tmp);
				return -1;
			}
			k->toks += take;
			k->in_shard += take;
			tok += take;
			n -= take;
			if (k->in_shard == k->per && sink_close(k, err, errlen) < 0)
				return -1;
		}
		return 0;
	}
	uint32_t len = s->o.seq_len;
	while (n) {
		size_t take = len - k->fill < n ? len - k->fill : n;
		memcpy(k->win + k->fill, tok, take * 4);
		k->fill += (uint32_t)take;
		tok += take;
		n -= take;
		if (k->fill == len) {
			if (sink_sequence(k, k->win, NULL, err, errlen) < 0)
				return -1;
			/* The last token is the next window's first input. */
			k->win[0] = k->win[len - 1];
			k->fill = 1;
		}
	}
	return 0;
}

static int sink_finish(struct sink *k, char *err, size_t errlen)
{
	shard *s = k->s;
	if (!s->o.sft && !s->o.llmc && k->fill > 1) {
		uint32_t len = s->o.seq_len;
		memset(k->mask, 1, len);
		k->mask[0] = 0;
		for (uint32_t i = k->fill; i < len; i++) {
			k->win[i] = s->eot;
			k->mask[i] = 0;
		}
		if (sink_sequence(k, k->win, k->mask, err, errlen) < 0)
			return -1;
	}
	if ((k->w || k->lw) && sink_close(k, err, errlen) < 0)
		return -1;
	return 0;
}

static int write_split(shard *s, int sp, const struct entry *e, size_t n, char *err, size_t errlen)
{
	struct sink k = { .s = s, .sp = sp, .fd = -1 };
	uint32_t len = s->o.seq_len;
	k.per = s->o.llmc ? s->o.shard_tokens : (s->o.shard_tokens / len ? s->o.shard_tokens / len : 1);
	k.r = rec_new();
	k.win = xmalloc((size_t)len * sizeof(*k.win));
	k.mask = xmalloc(len);
	const struct doc *prev = NULL;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct doc *d = &s->docs[e[i].doc];
		const uint32_t *tok;
		const uint8_t *mask;
		if ((rc = doc_load(s, d, &tok, &mask, err, errlen)) < 0)
			break;
		if (s->o.sft) {
			uint32_t m = d->len < len ? d->len : len;
			memcpy(k.win, tok, (size_t)m * 4);
			for (uint32_t j = 0; j < m; j++)
				k.mask[j] = mask ? (mask[j] != 0) : 1;
			for (uint32_t j = m; j < len; j++) {
				k.win[j] = s->eot;
				k.mask[j] = 0;
			}
			k.mask[0] = 0;
			rc = sink_sequence(&k, k.win, k.mask, err, errlen);
		} else {
			if (eot_before(prev, d))
				rc = sink_tokens(&k, &s->eot, 1, err, errlen);
			if (rc == 0)
				rc = sink_tokens(&k, tok, d->len, err, errlen);
		}
		prev = d;
	}
	if (rc == 0) {
		rc = sink_finish(&k, err, errlen);
	} else if (k.w || k.lw) {
		/* Abandon the shard open, without a trailer so that no reader
		 * takes it for whole; the manifest will not be written. */
		char ignored[256];
		if (k.lw) {
			llmc_finish(k.lw, ignored, sizeof(ignored));
		} else {
			stream_writer_abort(k.w);
			close(k.fd);
		}
	}
	free(k.path);
	free(k.win);
	free(k.mask);
	buf_release(&k.bytes);
	rec_free(k.r);
	return rc;
}

/* Shards of an earlier, larger run left in the directory would pass for
 * part of this one. */
static void remove_stale(shard *s, int sp, uint64_t from)
{
	for (uint64_t i = from;; i++) {
		char *p = shard_path(s, sp, i, NULL);
		int gone = unlink(p) < 0;
		free(p);
		if (gone)
			break;
	}
}

static int write_manifest(shard *s, const buf *dataset, char *err, size_t errlen)
{
	buf m = { 0 };
	buf_adds(&m, "{\"format\": \"sluice-shard\", \"version\": 1, \"dataset\": ");
	buf_add(&m, dataset->data, dataset->len);
	put_fmt(&m, ", \"dataset_hash\": \"%s\", \"shards\": [", s->dataset_hash);
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct shard_file *f = &s->files[i];
		put_fmt(&m, "%s\n  {\"file\": ", i ? "," : "");
		put_str(&m, f->name);
		put_fmt(&m, ", \"split\": \"%s\", \"sequences\": %llu, \"tokens\": %llu, \"xxh3\": \"%016llx\"}",
			split_names[f->split], (unsigned long long)f->sequences, (unsigned long long)f->tokens,
			(unsigned long long)f->hash);
	}
	buf_adds(&m, "]}\n");
	size_t n = strlen(s->dir) + 32;
	char *tmp = xmalloc(n), *path = xmalloc(n);
	snprintf(tmp, n, "%s/.manifest.json.tmp", s->dir);
	snprintf(path, n, "%s/manifest.json", s->dir);
	int rc = -1, fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0 || write_full(fd, m.data, m.len) < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
	} else if (close(fd) < 0 || (fd = -1, rename(tmp, path) < 0)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	} else {
		rc = 0;
	}
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	free(path);
	buf_release(&m);
	return rc;
}

int shard_write(shard *s, shard_count_fn count, void *ctx, char *err, size_t errlen)
{
	return shard_write_data(s, count, ctx, err, errlen) < 0 ? -1 : shard_write_manifest(s, err, errlen);
}

int shard_write_manifest(shard *s, char *err, size_t errlen)
{
	return write_manifest(s, &s->dataset, err, errlen);
}

int shard_write_data(shard *s, shard_count_fn count, void *ctx, char *err, size_t errlen)
{
	if (flush_pending(s, err, errlen) < 0)
		return -1;
	if (s->eot == UINT32_MAX) {
		snprintf(err, errlen, "no end-of-text id: the input names no tokenizer (give --eot)");
		return -1;
	}
	if (s->o.llmc && s->n_vocab > 65536) {
		snprintf(err, errlen, "a vocabulary of %llu ids does not fit llm.c's uint16 tokens",
			 (unsigned long long)s->n_vocab);
		return -1;
	}
	if (plan_rates(s, err, errlen) < 0)
		return -1;
	struct entry *order[2];
	size_t n[2];
	for (int sp = 0; sp < 2; sp++) {
		order[sp] = plan_order(s, sp, &n[sp]);
		plan_counts(s, sp, order[sp], n[sp]);
	}
	buf_reset(&s->dataset);
	put_dataset(s, &s->dataset);
	snprintf(s->dataset_hash, sizeof(s->dataset_hash), "%016llx",
		 (unsigned long long)XXH3_64bits(s->dataset.data, s->dataset.len));
	/* The old manifest goes first: shards and manifest never disagree. */
	size_t pn = strlen(s->dir) + 16;
	char *mpath = xmalloc(pn);
	snprintf(mpath, pn, "%s/manifest.json", s->dir);
	unlink(mpath);
	free(mpath);
	int rc = 0;
	for (int sp = 0; sp < 2 && rc == 0; sp++) {
		rc = write_split(s, sp, order[sp], n[sp], err, errlen);
		if (rc == 0)
			remove_stale(s, sp, s->split[sp].shards);
	}
	if (rc == 0 && count) {
		for (int sp = 0; sp < 2; sp++) {
			char name[32];
			snprintf(name, sizeof(name), "%s_documents", split_names[sp]);
			count(ctx, name, s->split[sp].documents);
			snprintf(name, sizeof(name), "%s_%s", split_names[sp], s->o.llmc ? "tokens" : "sequences");
			count(ctx, name, s->o.llmc ? s->split[sp].tokens : s->split[sp].sequences);
		}
		count(ctx, "shards", s->nfiles);
		if (s->split[0].truncated + s->split[1].truncated)
			count(ctx, "truncated", s->split[0].truncated + s->split[1].truncated);
	}
	free(order[0]);
	free(order[1]);
	return rc;
}
