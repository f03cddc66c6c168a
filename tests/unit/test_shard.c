/* test_shard.c: sluice-shard's library on real text (GSM8K questions and
 * tiny Shakespeare paragraphs, gpt2 tokens): no token lost or invented,
 * every sequence T+1 long, the same bytes whatever the memory or threads,
 * a seed that changes only the order, a split that follows the document,
 * mixing rates, SFT masks, and llm.c files both ways. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "check.h"
#include "input.h"
#include "llmc.h"
#include "record.h"
#include "shard.h"
#include "tokenizer.h"
#include "util.h"

#define EOT 50256

struct doc {
	uint32_t *t;
	size_t n;
};

struct docs {
	struct doc *d;
	size_t n, cap;
};

static void docs_add(struct docs *ds, const uint32_t *t, size_t n)
{
	if (ds->n == ds->cap) {
		ds->cap = ds->cap ? 2 * ds->cap : 256;
		ds->d = xrealloc(ds->d, ds->cap * sizeof(*ds->d));
	}
	ds->d[ds->n].t = xmalloc((n ? n : 1) * sizeof(uint32_t));
	memcpy(ds->d[ds->n].t, t, n * sizeof(uint32_t));
	ds->d[ds->n++].n = n;
}

static void docs_free(struct docs *ds)
{
	for (size_t i = 0; i < ds->n; i++)
		free(ds->d[i].t);
	free(ds->d);
	memset(ds, 0, sizeof(*ds));
}

static int doc_cmp(const void *a, const void *b)
{
	const struct doc *x = a, *y = b;
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	return memcmp(x->t, y->t, x->n * sizeof(uint32_t));
}

/* Same multiset of documents?  Sorts both. */
static int docs_same(struct docs *a, struct docs *b)
{
	if (a->n != b->n) {
		fprintf(stderr, "  %zu documents against %zu\n", a->n, b->n);
		return 0;
	}
	qsort(a->d, a->n, sizeof(*a->d), doc_cmp);
	qsort(b->d, b->n, sizeof(*b->d), doc_cmp);
	for (size_t i = 0; i < a->n; i++)
		if (doc_cmp(&a->d[i], &b->d[i]) != 0)
			return 0;
	return 1;
}

/* The corpus: GSM8K test questions, then tiny Shakespeare's paragraphs. */
static struct docs corpus;

static void load_corpus(void)
{
	char err[256];
	tok_vocab *v = tok_load("gpt2", NULL, err, sizeof(err));
	if (!v) {
		fprintf(stderr, "gpt2: %s\n", err);
		exit(1);
	}
	tok_state *s = tok_state_new(v);
	rec *r = rec_new();
	size_t replaced, n;
	input *in = input_open("data/gsm8k/test.jsonl", INPUT_AUTO);
	while (in && input_read(in, r) == 1) {
		const rec_field *f = rec_get(r, "question");
		if (f && tok_encode(s, f->val, f->len, &replaced, err, sizeof(err)) == 0) {
			const uint32_t *ids = tok_ids(s, &n);
			docs_add(&corpus, ids, n);
		}
	}
	input_close(in);
	FILE *f = fopen("data/tinyshakespeare.txt", "rb");
	buf text = { 0 };
	char tmp[65536];
	size_t k;
	while (f && (k = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(&text, tmp, k);
	if (f)
		fclose(f);
	const char *p = (const char *)text.data, *end = p + text.len;
	while (p < end) {
		const char *q = memmem(p, (size_t)(end - p), "\n\n", 2);
		q = q ? q + 2 : end;
		if (tok_encode(s, (const uint8_t *)p, (size_t)(q - p), &replaced, err, sizeof(err)) == 0) {
			const uint32_t *ids = tok_ids(s, &n);
			docs_add(&corpus, ids, n);
		}
		p = q;
	}
	buf_release(&text);
	rec_free(r);
	tok_state_free(s);
	tok_free(v);
	if (corpus.n < 8000) {
		fprintf(stderr, "corpus too small (%zu documents): data/ missing?\n", corpus.n);
		exit(1);
	}
}

static shard_opts base_opts(void)
{
	shard_opts o = { 0 };
	o.seq_len = 129;
	o.shuffle = 1;
	o.seed = 7;
	o.val_fraction = 0.05;
	o.shard_tokens = 100000;
	o.mem = 1ull << 30;
	o.level = 1;
	o.threads = 1;
	return o;
}

static char tmpdir[64];

static char *path_in(const char *dir, const char *name)
{
	size_t n = strlen(tmpdir) + strlen(dir) + strlen(name) + 3;
	char *p = xmalloc(n);
	snprintf(p, n, "%s/%s/%s", tmpdir, dir, name);
	return p;
}

static char *dir_path(const char *dir)
{
	size_t n = strlen(tmpdir) + strlen(dir) + 2;
	char *p = xmalloc(n);
	snprintf(p, n, "%s/%s", tmpdir, dir);
	return p;
}

/* Shard the documents [from, to) of the corpus as one source (reversed if
 * asked), or two sources split at the middle with weights w1, w2. */
static int run(const shard_opts *o, const char *dir, int reverse, double w1, double w2)
{
	char err[512];
	char *d = dir_path(dir);
	shard *s = shard_new(o, d, err, sizeof(err));
	free(d);
	if (!s) {
		fprintf(stderr, "shard_new: %s\n", err);
		return -1;
	}
	int rc = shard_vocab(s, "gpt2", 50257, EOT, err, sizeof(err));
	size_t half = w1 > 0 ? corpus.n / 3 : corpus.n;
	rc |= shard_source(s, w1, err, sizeof(err));
	shard_source_file(s, "a");
	for (size_t k = 0; k < corpus.n && rc == 0; k++) {
		if (k == half) {
			rc = shard_source(s, w2, err, sizeof(err));
			shard_source_file(s, "b");
		}
		size_t i = reverse ? corpus.n - 1 - k : k;
		rc = shard_add(s, NULL, 0, corpus.d[i].t, corpus.d[i].n, NULL, err, sizeof(err));
	}
	if (rc == 0)
		rc = shard_write(s, NULL, NULL, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "shard: %s\n", err);
	shard_free(s);
	return rc;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	buf b = { 0 };
	char tmp[65536];
	size_t k;
	while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(&b, tmp, k);
	fclose(f);
	buf_addc(&b, 0);
	*len = b.len - 1;
	return b.data;
}

/* Every file of dir a equals the one of the same name in b (the manifest
 * and the shards listed by index). */
static int same_dirs(const char *a, const char *b, const char *prefix, const char *suffix)
{
	for (int i = -1;; i++) {
		char name[64];
		if (i < 0)
			snprintf(name, sizeof(name), "manifest.json");
		else
			snprintf(name, sizeof(name), "%s%s%0*d%s", prefix, "", strcmp(suffix, ".bin") ? 5 : 6, i, suffix);
		char *pa = path_in(a, name), *pb = path_in(b, name);
		size_t la, lb;
		uint8_t *da = slurp(pa, &la), *db = slurp(pb, &lb);
		int same = (!da && !db) || (da && db && la == lb && memcmp(da, db, la) == 0);
		if (!same)
			fprintf(stderr, "  %s differs between %s and %s\n", name, a, b);
		free(pa);
		free(pb);
		free(da);
		free(db);
		if (!same)
			return 0;
		if (i >= 0 && !da)
			return 1;
	}
}

/* Read back one split of stream shards: every sequence seq_len long, each
 * one's first token the last of the one before (pretraining), padding only
 * at the very end; the documents between end-of-text tokens go to out.
 * Checks each shard's hash against the manifest. */
static int read_split(const char *dir, const char *split, uint32_t seq_len, int sft, struct docs *out,
		      uint64_t *nseq)
{
	char *mpath = path_in(dir, "manifest.json");
	size_t mlen;
	char *manifest = (char *)slurp(mpath, &mlen);
	free(mpath);
	if (!manifest)
		return -1;
	buf packed = { 0 };
	rec *r = rec_new();
	int ok = 1, padded = 0;
	uint32_t last = 0;
	*nseq = 0;
	for (int i = 0; ok; i++) {
		char name[64];
		snprintf(name, sizeof(name), "%s-%05d.slc", split, i);
		char *p = path_in(dir, name);
		size_t flen;
		uint8_t *file = slurp(p, &flen);
		if (!file) {
			free(p);
			break;
		}
		char want[128];
		snprintf(want, sizeof(want), "\"file\": \"%s\", \"split\": \"%s\"", name, split);
		char *entry = strstr(manifest, want);
		char hash[64];
		snprintf(hash, sizeof(hash), "\"xxh3\": \"%016llx\"", (unsigned long long)XXH3_64bits(file, flen));
		char *h = entry ? strstr(entry, "\"xxh3\"") : NULL;
		if (!h || strncmp(h, hash, strlen(hash)) != 0) {
			fprintf(stderr, "  %s: hash not in the manifest\n", name);
			ok = 0;
		}
		free(file);
		input *in = input_open(p, INPUT_RECORDS);
		free(p);
		int got;
		while (ok && (got = input_read(in, r)) == 1) {
			const rec_field *t = rec_get(r, "tokens"), *m = rec_get(r, "mask");
			if (!t || t->len != seq_len * 4 || padded || (m && (m->len != seq_len || m->val[0] != 0))) {
				fprintf(stderr, "  sequence %llu: bad shape\n", (unsigned long long)*nseq);
				ok = 0;
				break;
			}
			(*nseq)++;
			uint32_t n = seq_len;
			if (m) {
				/* Targets first, then padding (end-of-text, mask 0). */
				while (n > 1 && !m->val[n - 1]) {
					if (rec_u32_at(t, n - 1) != EOT)
						ok = 0;
					n--;
				}
				for (uint32_t j = 1; j < n; j++)
					if (!m->val[j])
						ok = 0;
				if (!sft)
					padded = 1;
			}
			if (sft) {
				uint32_t *tok = xmalloc(n * sizeof(*tok));
				for (uint32_t j = 0; j < n; j++)
					tok[j] = rec_u32_at(t, j);
				docs_add(out, tok, n);
				free(tok);
				continue;
			}
			uint32_t j = 0;
			if (packed.len) {
				if (rec_u32_at(t, 0) != last) {
					fprintf(stderr, "  sequence %llu does not start where the last ended\n",
						(unsigned long long)*nseq);
					ok = 0;
				}
				j = 1;
			}
			for (; j < n; j++) {
				uint32_t v = rec_u32_at(t, j);
				buf_add(&packed, &v, 4);
			}
			last = rec_u32_at(t, seq_len - 1);
		}
		input_close(in);
	}
	if (!sft) {
		const uint32_t *p = (const uint32_t *)(void *)packed.data;
		size_t n = packed.len / 4, start = 1;
		if (n && p[0] != EOT)
			ok = 0;
		for (size_t i = 1; i <= n; i++)
			if (i == n || p[i] == EOT) {
				if (i > start)
					docs_add(out, p + start, i - start);
				start = i + 1;
			}
	}
	buf_release(&packed);
	rec_free(r);
	free(manifest);
	return ok ? 0 : -1;
}

static void nonempty_corpus(struct docs *out)
{
	for (size_t i = 0; i < corpus.n; i++)
		if (corpus.d[i].n)
			docs_add(out, corpus.d[i].t, corpus.d[i].n);
}

static void test_nothing_lost(void)
{
	shard_opts o = base_opts();
	CHECK(run(&o, "mem", 0, -1, -1) == 0);
	struct docs got = { 0 }, want = { 0 };
	uint64_t ntrain, nval;
	CHECK(read_split("mem", "train", o.seq_len, 0, &got, &ntrain) == 0);
	size_t train_docs = got.n;
	CHECK(read_split("mem", "val", o.seq_len, 0, &got, &nval) == 0);
	nonempty_corpus(&want);
	CHECK(docs_same(&got, &want));
	/* About 5% held out, and several shards each way. */
	CHECK(got.n - train_docs > want.n / 40 && got.n - train_docs < want.n / 10);
	CHECK(ntrain > 3 * (o.shard_tokens / o.seq_len));
	printf("# %zu documents: %zu train (%llu sequences of %u), %zu val (%llu sequences)\n", want.n, train_docs,
	       (unsigned long long)ntrain, o.seq_len, got.n - train_docs, (unsigned long long)nval);
	docs_free(&got);
	docs_free(&want);
}

static void test_spill_and_threads_same_bytes(void)
{
	shard_opts o = base_opts();
	o.mem = 64 << 10; /* the corpus is ~1.5 MB of tokens: dozens of spills */
	CHECK(run(&o, "spill", 0, -1, -1) == 0);
	CHECK(same_dirs("mem", "spill", "train-", ".slc"));
	CHECK(same_dirs("mem", "spill", "val-", ".slc"));
	o = base_opts();
	o.threads = 3;
	CHECK(run(&o, "threads", 0, -1, -1) == 0);
	CHECK(same_dirs("mem", "threads", "train-", ".slc"));
	CHECK(same_dirs("mem", "threads", "val-", ".slc"));
}

static void test_seed_changes_order_only(void)
{
	shard_opts o = base_opts();
	o.seed = 8;
	CHECK(run(&o, "seed8", 0, -1, -1) == 0);
	char *a = path_in("mem", "train-00000.slc"), *b = path_in("seed8", "train-00000.slc");
	size_t la, lb;
	uint8_t *da = slurp(a, &la), *db = slurp(b, &lb);
	CHECK(da && db && (la != lb || memcmp(da, db, la) != 0));
	free(a);
	free(b);
	free(da);
	free(db);
	struct docs x = { 0 }, y = { 0 };
	uint64_t n;
	CHECK(read_split("mem", "train", o.seq_len, 0, &x, &n) == 0);
	CHECK(read_split("seed8", "train", o.seq_len, 0, &y, &n) == 0);
	CHECK(docs_same(&x, &y));
	docs_free(&x);
	docs_free(&y);
	/* The split does not follow the order of the input either. */
	o = base_opts();
	CHECK(run(&o, "reversed", 1, -1, -1) == 0);
	CHECK(read_split("mem", "val", o.seq_len, 0, &x, &n) == 0);
	CHECK(read_split("reversed", "val", o.seq_len, 0, &y, &n) == 0);
	CHECK(x.n > 0 && docs_same(&x, &y));
	docs_free(&x);
	docs_free(&y);
}

static void test_no_shuffle_keeps_order(void)
{
	shard_opts o = base_opts();
	o.shuffle = 0;
	o.val_fraction = 0;
	CHECK(run(&o, "ordered", 0, -1, -1) == 0);
	struct docs got = { 0 };
	uint64_t n;
	CHECK(read_split("ordered", "train", o.seq_len, 0, &got, &n) == 0);
	size_t k = 0;
	for (size_t i = 0; i < corpus.n && k < got.n; i++)
		if (corpus.d[i].n && doc_cmp(&corpus.d[i], &got.d[k++]) != 0) {
			CHECK(!"document out of order");
			break;
		}
	CHECK(k == got.n);
	docs_free(&got);
}

static void test_mixing(void)
{
	shard_opts o = base_opts();
	o.val_fraction = 0;
	o.shuffle = 0;
	/* Source a (first third) gets 70% of the tokens, b 30%: a is
	 * upsampled, b downsampled; the total stays the corpus's. */
	CHECK(run(&o, "mix", 0, 0.7, 0.3) == 0);
	struct docs got = { 0 };
	uint64_t n;
	CHECK(read_split("mix", "train", o.seq_len, 0, &got, &n) == 0);
	size_t third = corpus.n / 3;
	uint64_t total = 0, in_a = 0, got_a = 0, got_all = 0;
	for (size_t i = 0; i < corpus.n; i++) {
		total += corpus.d[i].n;
		if (i < third)
			in_a += corpus.d[i].n;
	}
	/* In input order, source a's copies come first. */
	for (size_t i = 0; i < got.n; i++) {
		got_all += got.d[i].n;
		int from_a = 0;
		for (size_t j = 0; j < third && !from_a; j++)
			from_a = doc_cmp(&got.d[i], &corpus.d[j]) == 0;
		if (from_a)
			got_a += got.d[i].n;
	}
	double share = (double)got_a / (double)got_all;
	printf("# mixing 0.7/0.3: source a %.4f of %llu tokens (corpus %llu, a alone %llu)\n", share,
	       (unsigned long long)got_all, (unsigned long long)total, (unsigned long long)in_a);
	CHECK(share > 0.68 && share < 0.72);
	CHECK(got_all > total * 0.97 && got_all < total * 1.03);
	char *m = path_in("mix", "manifest.json");
	size_t ml;
	char *man = (char *)slurp(m, &ml);
	CHECK(man && strstr(man, "\"weight\": 0.7") && strstr(man, "\"weight\": 0.3") && strstr(man, "\"rate\": "));
	free(man);
	free(m);
	docs_free(&got);
}

static void test_sft(void)
{
	shard_opts o = base_opts();
	o.sft = 1;
	o.seq_len = 65;
	o.val_fraction = 0;
	CHECK(run(&o, "sft", 0, -1, -1) == 0);
	struct docs got = { 0 }, want = { 0 };
	uint64_t n, truncated = 0;
	CHECK(read_split("sft", "train", o.seq_len, 1, &got, &n) == 0);
	for (size_t i = 0; i < corpus.n; i++)
		if (corpus.d[i].n) {
			size_t m = corpus.d[i].n < o.seq_len ? corpus.d[i].n : o.seq_len;
			truncated += corpus.d[i].n > o.seq_len;
			docs_add(&want, corpus.d[i].t, m);
		}
	CHECK(n == want.n);
	CHECK(docs_same(&got, &want));
	char *m = path_in("sft", "manifest.json");
	size_t ml;
	char *man = (char *)slurp(m, &ml);
	char t[64];
	snprintf(t, sizeof(t), "\"truncated\": %llu", (unsigned long long)truncated);
	CHECK(truncated > 0 && man && strstr(man, t));
	free(man);
	free(m);
	docs_free(&got);
	docs_free(&want);
}

/* Concatenated tokens of an llm.c split. */
static void read_llmc(const char *dir, const char *split, buf *out)
{
	for (int i = 0;; i++) {
		char name[64], err[256];
		snprintf(name, sizeof(name), "%s_%06d.bin", split, i);
		char *p = path_in(dir, name);
		llmc_reader *r = llmc_open(p, err, sizeof(err));
		free(p);
		if (!r)
			break;
		uint32_t tmp[4096];
		long n;
		while ((n = llmc_read(r, tmp, 4096, err, sizeof(err))) > 0)
			buf_add(out, tmp, (size_t)n * 4);
		CHECK(n == 0);
		llmc_close(r);
	}
}

static void test_llmc_both_ways(void)
{
	/* Export: the same documents as the stream shards, in the same order. */
	shard_opts o = base_opts();
	o.llmc = 1;
	o.shard_tokens = 150000;
	CHECK(run(&o, "llmc", 0, -1, -1) == 0);
	buf tok = { 0 };
	read_llmc("llmc", "train", &tok);
	struct docs got = { 0 }, want = { 0 };
	const uint32_t *p = (const uint32_t *)(void *)tok.data;
	size_t n = tok.len / 4, start = 1;
	CHECK(n > 2 * o.shard_tokens && p[0] == EOT);
	for (size_t i = 1; i <= n; i++)
		if (i == n || p[i] == EOT) {
			docs_add(&got, p + start, i - start);
			start = i + 1;
		}
	uint64_t nseq;
	CHECK(read_split("mem", "train", 129, 0, &want, &nseq) == 0);
	CHECK(got.n == want.n);
	int same_order = got.n == want.n;
	for (size_t i = 0; same_order && i < got.n; i++)
		same_order = doc_cmp(&got.d[i], &want.d[i]) == 0;
	CHECK(same_order);
	docs_free(&got);
	docs_free(&want);

	/* Import and export again, unshuffled: the same bytes. */
	char err[256];
	shard_opts o2 = o;
	o2.shuffle = 0;
	o2.val_fraction = 0;
	char *d = dir_path("llmc2");
	shard *s = shard_new(&o2, d, err, sizeof(err));
	free(d);
	CHECK(s && shard_vocab(s, "gpt2", 50257, EOT, err, sizeof(err)) == 0);
	CHECK(s && shard_source(s, -1, err, sizeof(err)) == 0);
	for (int i = 0; s; i++) {
		char name[64];
		snprintf(name, sizeof(name), "train_%06d.bin", i);
		char *pp = path_in("llmc", name);
		llmc_reader *r = llmc_open(pp, err, sizeof(err));
		free(pp);
		if (!r)
			break;
		CHECK(shard_add_llmc(s, r, err, sizeof(err)) == 0);
		llmc_close(r);
	}
	CHECK(s && shard_write(s, NULL, NULL, err, sizeof(err)) == 0);
	shard_free(s);
	for (int i = 0;; i++) {
		char name[64];
		snprintf(name, sizeof(name), "train_%06d.bin", i);
		char *a = path_in("llmc", name), *b = path_in("llmc2", name);
		size_t la, lb;
		uint8_t *da = slurp(a, &la), *db = slurp(b, &lb);
		CHECK(!!da == !!db);
		if (da && db)
			CHECK(la == lb && memcmp(da, db, la) == 0);
		free(a);
		free(b);
		free(da);
		free(db);
		if (!da || !db)
			break;
	}
	buf_release(&tok);
}

/* A file written from the published layout alone, byte by byte. */
static void test_llmc_independent_file(void)
{
	static const uint16_t toks[] = { EOT, 464, 3797, 13, EOT, 15496, 995, EOT, 40, 716, 1231, 1110, 13 };
	size_t n = sizeof(toks) / sizeof(toks[0]);
	uint8_t header[1024] = { 0 };
	uint32_t h[3] = { 20240520, 1, (uint32_t)n };
	for (int i = 0; i < 3; i++)
		for (int b = 0; b < 4; b++)
			header[4 * i + b] = (uint8_t)(h[i] >> (8 * b));
	char *dir = dir_path("indep");
	mkdir(dir, 0777);
	char *path = path_in("indep", "hand.bin");
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	if (!f)
		return;
	fwrite(header, 1, sizeof(header), f);
	for (size_t i = 0; i < n; i++) {
		uint8_t le[2] = { (uint8_t)toks[i], (uint8_t)(toks[i] >> 8) };
		fwrite(le, 1, 2, f);
	}
	fclose(f);
	char err[256];
	llmc_reader *r = llmc_open(path, err, sizeof(err));
	CHECK(r && llmc_version(r) == 1 && llmc_count(r) == n);
	shard_opts o = base_opts();
	o.shuffle = 0;
	o.val_fraction = 0;
	o.seq_len = 5;
	shard *s = shard_new(&o, dir, err, sizeof(err));
	CHECK(shard_vocab(s, "gpt2", 50257, EOT, err, sizeof(err)) == 0);
	CHECK(shard_source(s, -1, err, sizeof(err)) == 0);
	CHECK(r && shard_add_llmc(s, r, err, sizeof(err)) == 0);
	llmc_close(r);
	CHECK(shard_write(s, NULL, NULL, err, sizeof(err)) == 0);
	shard_free(s);
	/* Packed again: EOT 464 3797 13 | 13 EOT 15496 995 | 995 EOT 40 716 |
	 * 716 1231 1110 13 — three full windows of 5 and one padded. */
	struct docs got = { 0 };
	uint64_t nseq;
	CHECK(read_split("indep", "train", 5, 0, &got, &nseq) == 0);
	CHECK_EQ_INT(nseq, 3);
	CHECK_EQ_INT(got.n, 3);
	if (got.n == 3) {
		CHECK(got.d[0].n == 3 && got.d[0].t[0] == 464 && got.d[0].t[2] == 13);
		CHECK(got.d[1].n == 2 && got.d[1].t[0] == 15496);
		CHECK(got.d[2].n == 5 && got.d[2].t[4] == 13);
	}
	docs_free(&got);
	/* A header that lies about the count is refused. */
	f = fopen(path, "ab");
	fputc(0, f);
	fclose(f);
	r = llmc_open(path, err, sizeof(err));
	CHECK(r == NULL && strstr(err, "file has"));
	llmc_close(r);
	free(path);
	free(dir);
}

static void test_bad_input(void)
{
	char err[256];
	shard_opts o = base_opts();
	char *d = dir_path("bad");
	shard *s = shard_new(&o, d, err, sizeof(err));
	CHECK(shard_vocab(s, "gpt2", 50257, EOT, err, sizeof(err)) == 0);
	CHECK(shard_vocab(s, "o200k_base", 200019, 199999, err, sizeof(err)) < 0 && strstr(err, "mixing"));
	/* Conversations: one chat template and one set of ids for all sources. */
	const char *ids = "{\"<|im_start|>\": 50257, \"<|im_end|>\": 50258}";
	CHECK(shard_chat(s, "chatml", ids, err, sizeof(err)) == 0);
	CHECK(shard_chat(s, "chatml", ids, err, sizeof(err)) == 0);
	CHECK(shard_chat(s, "chatml", "{\"<|im_start|>\": 50258, \"<|im_end|>\": 50257}", err, sizeof(err)) < 0 &&
	      strstr(err, "chat template"));
	CHECK(shard_chat(s, "other", ids, err, sizeof(err)) < 0 && strstr(err, "sources before with chatml"));
	CHECK(shard_source(s, -1, err, sizeof(err)) == 0);
	uint32_t bad[] = { 1, 2, 50257 };
	CHECK(shard_add(s, NULL, 0, bad, 3, NULL, err, sizeof(err)) < 0 && strstr(err, "outside the vocabulary"));
	shard_free(s);
	/* llm.c's uint16 cannot hold a larger vocabulary. */
	o.llmc = 1;
	s = shard_new(&o, d, err, sizeof(err));
	CHECK(shard_vocab(s, "o200k_base", 200019, 199999, err, sizeof(err)) == 0);
	CHECK(shard_source(s, -1, err, sizeof(err)) == 0);
	uint32_t ok[] = { 1, 2, 3 };
	CHECK(shard_add(s, NULL, 0, ok, 3, NULL, err, sizeof(err)) == 0);
	CHECK(shard_write(s, NULL, NULL, err, sizeof(err)) < 0 && strstr(err, "uint16"));
	shard_free(s);
	free(d);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sluice-test-shard-%d", (int)getpid());
	mkdir(tmpdir, 0777);
	load_corpus();
	RUN(test_nothing_lost);
	RUN(test_spill_and_threads_same_bytes);
	RUN(test_seed_changes_order_only);
	RUN(test_no_shuffle_keeps_order);
	RUN(test_mixing);
	RUN(test_sft);
	RUN(test_llmc_both_ways);
	RUN(test_llmc_independent_file);
	RUN(test_bad_input);
	docs_free(&corpus);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	CHECK_EXIT();
}
