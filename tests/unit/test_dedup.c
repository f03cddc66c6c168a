/* test_dedup.c: text normalisation, MinHash, signature files, drop lists, and
 * the quality of near-duplicate detection on real text with planted
 * near-duplicates, against exact Jaccard similarity computed by brute force. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "check.h"
#include "dedup.h"
#include "json.h"
#include "minhash.h"
#include "record.h"
#include "textnorm.h"

static int norm_is(const char *in, unsigned flags, const char *want)
{
	buf b = { 0 };
	textnorm_apply(&b, (const uint8_t *)in, strlen(in), flags);
	int ok = b.len == strlen(want) && memcmp(b.data, want, b.len) == 0;
	if (!ok)
		fprintf(stderr, "normalise '%s': got '%.*s', want '%s'\n", in, (int)b.len, (const char *)b.data, want);
	buf_release(&b);
	return ok;
}

static void test_textnorm(void)
{
	unsigned f = TEXTNORM_DATATROVE;
	CHECK(norm_is("  Hello,   World!\n", f, "hello world"));
	CHECK(norm_is("Pi is 3.14159, e is 2,718 and 42", f, "pi is 0 e is 0 and 0"));
	/* The default keeps numbers: they tell documents apart. */
	CHECK(norm_is("Apple TV (5th generation)", TEXTNORM_DEFAULT, "apple tv 5th generation"));
	CHECK(norm_is("3F00FF", TEXTNORM_DEFAULT, "3f00ff"));
	CHECK(norm_is("Pi is 3.14", TEXTNORM_DEFAULT, "pi is 3 14"));
	/* Exact duplicates: only case, white space and composition. */
	CHECK(norm_is("  Hello,\tWORLD! \n", TEXTNORM_EXACT, "hello, world!"));
	CHECK(norm_is("GPL-2+ or Caf\xc3\xa9", TEXTNORM_EXACT, "gpl-2+ or caf\xc3\xa9"));
	CHECK(norm_is("Cafe\xcc\x81", TEXTNORM_EXACT, "caf\xc3\xa9"));
	CHECK(norm_is("Café CRÈME brûlée", f, "cafe creme brulee"));
	CHECK(norm_is("Straße", f, "strasse"));
	CHECK(norm_is("«quoted» — dash … ok", f, "quoted dash ok"));
	CHECK(norm_is("tab\tand\u00a0nbsp", f, "tab and nbsp"));
	CHECK(norm_is("١٢٣ digits", f, "0 digits"));
	CHECK(norm_is("Keep, This.", TEXTNORM_SPACE, "Keep, This."));
	CHECK(norm_is("A  b", 0, "A  b"));
	CHECK(norm_is("e\xcc\x81", TEXTNORM_NFC, "\xc3\xa9"));
	CHECK(norm_is("bad \xff byte", f, "bad byte")); /* U+FFFD is a symbol: a space */
	CHECK(norm_is("", f, ""));
	unsigned g;
	CHECK(textnorm_parse("case,punct", &g) == 0 && g == (TEXTNORM_CASE | TEXTNORM_PUNCT));
	CHECK(textnorm_parse("none", &g) == 0 && g == 0);
	CHECK(textnorm_parse("default", &g) == 0 && g == TEXTNORM_DEFAULT && !(g & TEXTNORM_DIGITS));
	CHECK(textnorm_parse("datatrove", &g) == 0 && g == TEXTNORM_DATATROVE);
	CHECK(textnorm_parse("default,digits", &g) == 0 && g == TEXTNORM_DATATROVE);
	CHECK(textnorm_parse("case,", &g) < 0);
	CHECK(textnorm_parse("bogus", &g) < 0);
	CHECK(textnorm_parse("", &g) < 0);
	CHECK(strcmp(textnorm_name(TEXTNORM_CASE | TEXTNORM_SPACE), "case,space") == 0);
}

static void test_minhash(void)
{
	minhash *m = minhash_new(5, 14, 8, 1);
	uint64_t k1[14], k2[14];
	uint8_t l1[112], l2[112];
	buf sh = { 0 }, scratch = { 0 };
	const char *a = "the quick brown fox jumps over the lazy dog and runs far away into the woods";
	const char *b = "the quick brown fox jumps over the lazy cat and runs far away into the woods";
	size_t n1 = minhash_sign(m, (const uint8_t *)a, strlen(a), k1, l1, &sh, &scratch);
	CHECK_EQ_INT(n1, 16 - 5 + 1);
	CHECK_EQ_INT(sh.len / 4, 12); /* all distinct */
	minhash_sign(m, (const uint8_t *)a, strlen(a), k2, l2, NULL, &scratch);
	CHECK(memcmp(k1, k2, sizeof(k1)) == 0 && minhash_estimate(l1, l2, 112) == 1);
	minhash_sign(m, (const uint8_t *)b, strlen(b), k2, l2, NULL, &scratch);
	double e = minhash_estimate(l1, l2, 112); /* true Jaccard: 7 shared of 17 */
	CHECK(e > 0.2 && e < 0.7);
	CHECK_EQ_INT(minhash_sign(m, (const uint8_t *)"", 0, k2, l2, NULL, &scratch), 0);
	CHECK_EQ_INT(minhash_sign(m, (const uint8_t *)"two words", 9, k2, l2, NULL, &scratch), 1);
	uint32_t x[] = { 1, 2, 3, 4 }, y[] = { 3, 4, 5, 6 };
	CHECK(minhash_jaccard(x, 4, y, 4) == 2.0 / 6);
	CHECK(minhash_jaccard(x, 0, y, 0) == 1);
	CHECK(minhash_new(0, 14, 8, 1) == NULL && minhash_new(5, 100, 100, 1) == NULL);
	buf_release(&sh);
	buf_release(&scratch);
	minhash_free(m);
}

/* ---- the corpus: GSM8K problems and Shakespeare passages ---- */

struct corpus {
	char **doc;
	size_t n, cap;
};

static void corpus_add(struct corpus *c, char *s)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 1024;
		c->doc = realloc(c->doc, c->cap * sizeof(char *));
	}
	c->doc[c->n++] = s;
}

static int load_base(struct corpus *c, size_t ngsm, size_t nshake)
{
	FILE *f = fopen("data/gsm8k/train.jsonl", "r");
	if (!f)
		return -1;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	rec *r = rec_new();
	char err[128];
	while (c->n < ngsm && (len = getline(&line, &cap, f)) > 0) {
		if (json_parse_line(r, line, (size_t)len - 1, err, sizeof(err)) < 0)
			continue;
		const rec_field *q = rec_get(r, "question"), *a = rec_get(r, "answer");
		char *d = malloc(q->len + a->len + 2);
		memcpy(d, q->val, q->len);
		d[q->len] = ' ';
		memcpy(d + q->len + 1, a->val, a->len);
		d[q->len + 1 + a->len] = 0;
		corpus_add(c, d);
	}
	fclose(f);
	rec_free(r);
	f = fopen("data/tinyshakespeare.txt", "r");
	if (!f) {
		free(line);
		return -1;
	}
	/* Passages of 12 lines. */
	buf p = { 0 };
	int lines = 0;
	while (c->n < ngsm + nshake && (len = getline(&line, &cap, f)) > 0) {
		buf_add(&p, line, (size_t)len);
		if (++lines == 12) {
			buf_addc(&p, 0);
			corpus_add(c, strdup((char *)p.data));
			buf_reset(&p);
			lines = 0;
		}
	}
	buf_release(&p);
	free(line);
	fclose(f);
	return 0;
}

static uint64_t rng_state = 12345;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A copy of s with each word replaced, with probability rate, by a word
 * taken from another document. */
static char *edit(const char *s, double rate, const struct corpus *c)
{
	buf out = { 0 };
	const char *p = s;
	while (*p) {
		size_t sp = strspn(p, " \n");
		buf_add(&out, p, sp);
		p += sp;
		size_t w = strcspn(p, " \n");
		if (!w)
			break;
		if ((double)(rnd() % 1000000) / 1e6 < rate) {
			const char *o = c->doc[rnd() % c->n];
			o += strspn(o, " \n");
			size_t ow = strcspn(o, " \n");
			buf_add(&out, "x", 1); /* make the new word unlike the old for sure */
			buf_add(&out, o, ow);
		} else {
			buf_add(&out, p, w);
		}
		p += w;
	}
	buf_addc(&out, 0);
	return (char *)out.data;
}

static void test_quality(void)
{
	struct corpus c = { 0 };
	if (load_base(&c, 700, 300) < 0) {
		CHECK(!"data/ not found (run from the repository root)");
		return;
	}
	size_t nbase = c.n;
	static const double rates[] = { 0.0, 0.005, 0.01, 0.02, 0.03, 0.04, 0.06, 0.1, 0.2 };
	for (size_t i = 0; i < 450; i++)
		corpus_add(&c, edit(c.doc[(i * 7) % nbase], rates[i % 9], &c));

	dedup_params p;
	dedup_params_default(&p);
	size_t n = c.n;
	/* Exact Jaccard of every pair, by brute force over the shingle sets. */
	minhash *m = minhash_new(p.ngram, p.bands, p.rows, p.seed);
	uint32_t **sets = calloc(n, sizeof(uint32_t *));
	size_t *ns = calloc(n, sizeof(size_t));
	buf norm = { 0 }, sh = { 0 }, scratch = { 0 };
	uint64_t keys[14];
	uint8_t low[112];
	for (size_t i = 0; i < n; i++) {
		textnorm_apply(&norm, (const uint8_t *)c.doc[i], strlen(c.doc[i]), p.norm);
		minhash_sign(m, norm.data, norm.len, keys, low, &sh, &scratch);
		ns[i] = sh.len / 4;
		sets[i] = malloc(sh.len + 4);
		memcpy(sets[i], sh.data, sh.len);
	}
	/* Ground truth: documents joined by pairs at J >= 0.8; a component of
	 * k documents should lose k - 1. */
	const double thr = 0.8;
	uint32_t *comp = malloc(n * sizeof(uint32_t));
	char *has = calloc(n, 1);
	for (size_t i = 0; i < n; i++)
		comp[i] = (uint32_t)i;
	size_t true_pairs = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (minhash_jaccard(sets[i], ns[i], sets[j], ns[j]) >= thr) {
				true_pairs++;
				has[i] = has[j] = 1;
				uint32_t a = comp[i], b = comp[j];
				while (comp[a] != a) a = comp[a];
				while (comp[b] != b) b = comp[b];
				if (a != b)
					comp[a > b ? a : b] = a < b ? a : b;
			}
	size_t should_drop = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t a = (uint32_t)i;
		while (comp[a] != a) a = comp[a];
		should_drop += a != i;
	}

	for (int verify = 0; verify <= 1; verify++) {
		dedup_set *s = dedup_set_new(&p);
		dedup_batch *b = dedup_batch_new(&p, verify);
		uint32_t shard = dedup_set_shard(s, "test");
		for (size_t i = 0; i < n; i++)
			dedup_batch_add(b, (const uint8_t *)c.doc[i], strlen(c.doc[i]), NULL, 0, i + 1);
		dedup_batch_sign(b);
		dedup_set_add_batch(s, b, shard, 0);
		dedup_cluster_opts o = { 0, 1, verify, thr };
		dedup_stats st;
		dedup_set_cluster(s, &o, &st);
		size_t dropped = 0, right = 0;
		for (size_t i = 0; i < n; i++) {
			dedup_verdict v;
			dedup_set_verdict(s, (uint32_t)i, &v);
			if (v.reason != DEDUP_KEPT) {
				dropped++;
				right += has[i];
			}
		}
		double prec = dropped ? (double)right / (double)dropped : 1;
		double rec = should_drop ? (double)right / (double)should_drop : 1;
		if (right > should_drop)
			rec = 1; /* a chain may drop more members of a true component than k - 1 */
		printf("# quality%s: %zu docs, %zu true pairs at J >= %.1f, %zu to drop; dropped %zu, "
		       "%llu candidate pairs checked; precision %.4f, recall %.4f\n",
		       verify ? " --verify" : "", n, true_pairs, thr, should_drop, dropped,
		       (unsigned long long)st.candidates, prec, rec);
		if (verify) {
			CHECK(prec >= 0.95);
			CHECK(rec >= 0.95);
		} else {
			CHECK(rec >= 0.95);
		}
		CHECK(should_drop > 200); /* the planted ones are there */
		dedup_batch_free(b);
		dedup_set_free(s);
	}
	for (size_t i = 0; i < n; i++) {
		free(sets[i]);
		free(c.doc[i]);
	}
	free(sets); free(ns); free(comp); free(has); free(c.doc);
	buf_release(&norm); buf_release(&sh); buf_release(&scratch);
	minhash_free(m);
}

/* Sign docs into a new set (shard "t", record numbers from 1) and cluster
 * them with o; the caller frees the set. */
static dedup_set *cluster_docs(const dedup_params *p, const char *const *docs, size_t n,
			       const dedup_cluster_opts *o, dedup_stats *st)
{
	dedup_set *s = dedup_set_new(p);
	dedup_batch *b = dedup_batch_new(p, o->verify);
	uint32_t shard = dedup_set_shard(s, "t");
	for (size_t i = 0; i < n; i++)
		dedup_batch_add(b, (const uint8_t *)docs[i], strlen(docs[i]), NULL, 0, i + 1);
	dedup_batch_sign(b);
	dedup_set_add_batch(s, b, shard, 0);
	dedup_batch_free(b);
	dedup_set_cluster(s, o, st);
	return s;
}

static int reason_of(const dedup_set *s, uint32_t doc)
{
	dedup_verdict v;
	dedup_set_verdict(s, doc, &v);
	return v.reason;
}

/* A text of n words "wK" with K from k0, with the words at the positions
 * in change[] (up to nchange of them) replaced by others. */
static char *words_text(int n, int k0, const int *change, int nchange)
{
	buf b = { 0 };
	for (int i = 0; i < n; i++) {
		int other = 0;
		for (int j = 0; j < nchange; j++)
			other |= change[j] == i;
		char w[32];
		snprintf(w, sizeof(w), "%s%s%d", i ? " " : "", other ? "x" : "w", k0 + i);
		buf_adds(&b, w);
	}
	buf_addc(&b, 0);
	return (char *)b.data;
}

/* Texts that differ in content are never exact duplicates, and the exact
 * count does not depend on the near-duplicate settings. */
static void test_exact(void)
{
	const char *docs[] = {
		"Apple TV (5th generation)", "Apple TV (4th generation)", "3F00FF", "7F00FF",
		"This program is free software; you can redistribute it under the terms of the GNU General "
		"Public License, version 2 or later (GPL-2+).",
		"This program is free software; you can redistribute it under the terms of the GNU General "
		"Public License, version 3 or later (GPL-3+).",
		"Hello,   World", "hello, world", "HELLO, WORLD ", "Hello World",
	};
	size_t n = sizeof(docs) / sizeof(docs[0]);
	dedup_params p;
	dedup_params_default(&p);
	const dedup_cluster_opts modes[] = { { 0, 0, 0, 0.9 }, { 0, 1, 0, 0.9 }, { 0, 1, 1, 0.9 }, { 1, 1, 1, 0.9 },
					     { 1, 1, 0, 0.5 } };
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		dedup_stats st;
		dedup_set *s = cluster_docs(&p, docs, n, &modes[m], &st);
		CHECK_EQ_INT(st.exact, 2); /* "hello, world" and "HELLO, WORLD " are "Hello,   World" */
		for (uint32_t i = 0; i < 7; i++)
			CHECK(reason_of(s, i) == DEDUP_KEPT);
		CHECK(reason_of(s, 7) == DEDUP_EXACT && reason_of(s, 8) == DEDUP_EXACT);
		CHECK(reason_of(s, 9) == DEDUP_KEPT); /* punctuation differs: not exact, and short */
		dedup_set_free(s);
	}
	/* With datatrove's normalisation and no minimum, the old behaviour:
	 * folded numbers make the short texts near duplicates. */
	p.norm = TEXTNORM_DATATROVE;
	p.min_words = 1;
	dedup_cluster_opts o = { 0, 1, 1, 0.9 };
	dedup_stats st;
	dedup_set *s = cluster_docs(&p, docs, n, &o, &st);
	CHECK_EQ_INT(st.exact, 2);
	CHECK(reason_of(s, 1) == DEDUP_NEAR && reason_of(s, 3) == DEDUP_NEAR && reason_of(s, 5) == DEDUP_NEAR);
	dedup_set_free(s);
}

/* Texts under min_words take part in exact deduplication only. */
static void test_short(void)
{
	const char *docs[] = { "Spanish-American War Museum", ("Spanish\xe2\x80\x93" "American War Museum"),
			       "spanish-american  war museum" };
	dedup_params p;
	dedup_params_default(&p);
	dedup_cluster_opts o = { 0, 1, 1, 0.9 };
	dedup_stats st;
	dedup_set *s = cluster_docs(&p, docs, 3, &o, &st);
	CHECK_EQ_INT(st.short_docs, 3);
	CHECK(reason_of(s, 1) == DEDUP_KEPT && reason_of(s, 2) == DEDUP_EXACT);
	dedup_set_free(s);
	p.min_words = 1; /* asked for: the dash is punctuation */
	s = cluster_docs(&p, docs, 3, &o, &st);
	CHECK_EQ_INT(st.short_docs, 0);
	CHECK(reason_of(s, 1) == DEDUP_NEAR && reason_of(s, 2) == DEDUP_EXACT);
	dedup_set_free(s);
}

/* A resembles B and B resembles C, but A not C: under verify C stays (its
 * only near duplicate, B, is dropped); without, the chain drops it. */
static void test_chain(void)
{
	int cb[] = { 40, 80 }, cc[] = { 40, 80, 120, 160 };
	char *docs[3] = { words_text(200, 0, NULL, 0), words_text(200, 0, cb, 2), words_text(200, 0, cc, 4) };
	dedup_params p;
	dedup_params_default(&p);
	dedup_cluster_opts o = { 0, 1, 1, 0.9 };
	dedup_stats st;
	dedup_set *s = cluster_docs(&p, (const char *const *)docs, 3, &o, &st);
	dedup_verdict v;
	dedup_set_verdict(s, 1, &v);
	CHECK(v.reason == DEDUP_NEAR && v.kept == 0 && v.similarity >= 0.9);
	CHECK(reason_of(s, 2) == DEDUP_KEPT);
	CHECK_EQ_INT(st.near, 1);
	dedup_set_free(s);
	o.verify = 0;
	s = cluster_docs(&p, (const char *const *)docs, 3, &o, &st);
	dedup_set_verdict(s, 2, &v);
	CHECK(v.reason == DEDUP_NEAR && v.kept == 0 && v.similarity < 0.9);
	dedup_set_free(s);
	for (int i = 0; i < 3; i++)
		free(docs[i]);
}

/* An index records its last run; the same run again is recognised and
 * gives the same verdicts, any other run is not. */
static void test_replay(void)
{
	const char *batch1[] = { "alpha beta gamma delta epsilon zeta eta theta", "one two three four five six" };
	const char *batch2[] = { "one two three four five six", "Alpha beta gamma delta epsilon zeta eta theta",
				 "a new text of some more words here" };
	dedup_params p;
	dedup_params_default(&p);
	dedup_cluster_opts o = { 0, 1, 1, 0.9 };
	char path[] = "/tmp/test_dedup." "XX" "XX" "XX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	/* Run 1 makes the index; run 2 adds batch 2 to it. */
	dedup_stats st;
	dedup_set *s = cluster_docs(&p, batch1, 2, &o, &st);
	CHECK(dedup_sigfile_write(s, fd, 1, 1) == 0);
	dedup_set_free(s);
	char err[256] = "";
	for (int run = 0; run < 3; run++) {
		s = dedup_set_new(&p);
		CHECK(dedup_sigfile_read(s, path, 1, err, sizeof(err)) == 0);
		dedup_batch *b = dedup_batch_new(&p, 1);
		uint32_t shard = dedup_set_shard(s, "t");
		for (size_t i = 0; i < 3; i++)
			dedup_batch_add(b, (const uint8_t *)batch2[i], strlen(batch2[i]), NULL, 0, i + 1);
		dedup_batch_sign(b);
		dedup_set_add_batch(s, b, shard, 0);
		dedup_batch_free(b);
		dedup_cluster_opts other = o;
		other.threshold = 0.95;
		/* run 0: a new run; 1: the same again; 2: with other options */
		CHECK_EQ_INT(dedup_set_replay(s, run == 2 ? &other : &o), run == 1);
		CHECK_EQ_INT(dedup_set_count(s), run == 1 ? 5 : 5 + (run == 2 ? 3 : 0));
		dedup_set_cluster(s, run == 2 ? &other : &o, &st);
		if (run < 2) {
			/* batch 2 against batch 1, both times */
			CHECK_EQ_INT(st.indexed, 2);
			CHECK(reason_of(s, 2) == DEDUP_EXACT && reason_of(s, 3) == DEDUP_EXACT && reason_of(s, 4) == DEDUP_KEPT);
		} else {
			/* batch 2 against batches 1 and 2: all seen */
			CHECK_EQ_INT(st.indexed, 5);
			CHECK(reason_of(s, 5) == DEDUP_EXACT && reason_of(s, 6) == DEDUP_EXACT && reason_of(s, 7) == DEDUP_EXACT);
		}
		if (run == 0) {
			fd = open(path, O_WRONLY | O_TRUNC);
			CHECK(fd >= 0 && dedup_sigfile_write(s, fd, 1, 1) == 0);
		}
		dedup_set_free(s);
	}
	unlink(path);
}

/* Write a set's signatures to a temporary file and read them back. */
static void test_sigfile(void)
{
	dedup_params p;
	dedup_params_default(&p);
	dedup_set *s = dedup_set_new(&p);
	dedup_batch *b = dedup_batch_new(&p, 1);
	uint32_t shard = dedup_set_shard(s, "a.jsonl");
	const char *docs[] = { "one two three four five six", "One  TWO three\tfour five six ", "x", "",
			       "one two three four five seven" };
	for (size_t i = 0; i < 5; i++)
		dedup_batch_add(b, (const uint8_t *)docs[i], strlen(docs[i]), i == 2 ? "id-x" : NULL, i == 2 ? 4 : 0,
				i + 1);
	dedup_batch_sign(b);
	dedup_set_add_batch(s, b, shard, 0);
	dedup_set_shard_records(s, shard, 6);
	char path[] = "/tmp/test_dedup." "XX" "XX" "XX"; /* mkstemp's template */
	int fd = mkstemp(path);
	CHECK(fd >= 0 && dedup_sigfile_write(s, fd, 0, 1) == 0);
	close(fd);
	dedup_set *t = dedup_set_new(&p);
	char err[256] = "";
	CHECK(dedup_sigfile_read(t, path, 0, err, sizeof(err)) == 0);
	CHECK_EQ_INT(dedup_set_count(t), 5);
	CHECK_EQ_INT(dedup_set_shard_count(t, 0), 6);
	CHECK(strcmp(dedup_set_doc_name(t, 2), "id-x") == 0);
	CHECK(strcmp(dedup_set_doc_name(t, 3), "a.jsonl:4") == 0);
	dedup_cluster_opts o = { 0, 1, 0, 0.8 };
	dedup_stats st1, st2;
	dedup_set_cluster(s, &o, &st1);
	dedup_set_cluster(t, &o, &st2);
	CHECK_EQ_INT(st1.exact, 1);
	CHECK_EQ_INT(st2.exact, st1.exact);
	CHECK_EQ_INT(st2.near, st1.near);
	dedup_verdict v;
	dedup_set_verdict(t, 1, &v);
	CHECK(v.reason == DEDUP_EXACT && v.kept == 0);

	/* Other parameters are refused, with a reason. */
	dedup_params q = p;
	q.rows = 4;
	dedup_set *u = dedup_set_new(&q);
	CHECK(dedup_sigfile_read(u, path, 0, err, sizeof(err)) < 0 && strstr(err, "other parameters"));
	dedup_set_free(u);

	/* The drop list round trip. */
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && dedup_drops_write(s, fd) == 0);
	close(fd);
	dedup_drops *d = dedup_drops_read(path, err, sizeof(err));
	CHECK(d != NULL);
	if (d) {
		uint64_t records = 0;
		const dedup_drop *first;
		CHECK_EQ_INT(dedup_drops_shard(d, "a.jsonl", &records, &first), 1);
		CHECK_EQ_INT(records, 6);
		CHECK_EQ_INT(first[0].recno, 2);
		CHECK(first[0].reason == DEDUP_EXACT && strcmp(first[0].dup_of, "a.jsonl:1") == 0);
		CHECK(dedup_drops_shard(d, "b.jsonl", &records, &first) < 0);
	}
	dedup_drops_free(d);
	/* A drop list is not a signature file, nor the reverse. */
	dedup_set *w = dedup_set_new(&p);
	CHECK(dedup_sigfile_read(w, path, 0, err, sizeof(err)) < 0 && strstr(err, "not a"));
	dedup_set_free(w);
	unlink(path);
	dedup_batch_free(b);
	dedup_set_free(s);
	dedup_set_free(t);
}

int main(void)
{
	RUN(test_textnorm);
	RUN(test_minhash);
	RUN(test_sigfile);
	RUN(test_exact);
	RUN(test_short);
	RUN(test_chain);
	RUN(test_replay);
	RUN(test_quality);
	CHECK_EXIT();
}
