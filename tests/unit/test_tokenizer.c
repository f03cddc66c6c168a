/* test_tokenizer.c: parity with tiktoken on real and stress corpora (fixed
 * vectors from tests/tokenize/make_vectors.py), round trips, the two merge
 * paths against each other, special tokens, vocabulary file errors, and
 * training. */
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpe_train.h"
#include "check.h"
#include "json.h"
#include "record.h"
#include "tokenizer.h"
#include "utf8.h"
#include "util.h"

static const char *const encodings[] = { "gpt2", "cl100k_base", "o200k_base" };

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(1);
	}
	buf b = { 0 };
	char tmp[65536];
	size_t k;
	while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(&b, tmp, k);
	fclose(f);
	buf_addc(&b, '\0');
	*len = b.len - 1;
	return b.data;
}

/* A corpus: documents as (pointer, length) into memory it owns. */
struct corpus {
	const char *name;
	buf mem;
	size_t n, cap;
	size_t *off, *len;
};

static void corpus_add(struct corpus *c, const void *p, size_t n)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 1024;
		c->off = xrealloc(c->off, c->cap * sizeof(*c->off));
		c->len = xrealloc(c->len, c->cap * sizeof(*c->len));
	}
	c->off[c->n] = c->mem.len;
	c->len[c->n++] = n;
	buf_add(&c->mem, p, n);
}

static void corpus_free(struct corpus *c)
{
	buf_release(&c->mem);
	free(c->off);
	free(c->len);
}

/* The corpora as make_vectors.py defines them. */
static void load_lines(struct corpus *c, const char *path, int whole)
{
	size_t n;
	uint8_t *p = slurp(path, &n);
	if (whole) {
		corpus_add(c, p, n);
	} else {
		size_t start = 0;
		for (size_t i = 0; i < n; i++)
			if (p[i] == '\n') {
				corpus_add(c, p + start, i - start);
				start = i + 1;
			}
		if (start < n)
			corpus_add(c, p + start, n - start);
	}
	free(p);
}

static void load_jsonl(struct corpus *c, const char *path, const char *field)
{
	size_t n;
	uint8_t *p = slurp(path, &n);
	rec *r = rec_new();
	char err[200];
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && p[i] != '\n')
			continue;
		if (i > start) {
			if (json_parse_line(r, (const char *)p + start, i - start, err, sizeof(err)) < 0) {
				fprintf(stderr, "%s: %s\n", path, err);
				exit(1);
			}
			const rec_field *f = rec_get(r, field);
			CHECK(f && f->type == REC_STR);
			if (f)
				corpus_add(c, f->val, f->len);
		}
		start = i + 1;
	}
	rec_free(r);
	free(p);
}

static void load_corpus(struct corpus *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	c->name = name;
	if (!strcmp(name, "shakespeare_lines"))
		load_lines(c, "data/tinyshakespeare.txt", 0);
	else if (!strcmp(name, "shakespeare_whole"))
		load_lines(c, "data/tinyshakespeare.txt", 1);
	else if (!strcmp(name, "stress"))
		load_jsonl(c, "tests/data/tokenize/stress.jsonl", "text");
	else {
		char path[256];
		const char *field = strstr(name, "_question") ? "question" : "answer";
		snprintf(path, sizeof(path), "data/gsm8k/%s.jsonl", strstr(name, "train") ? "train" : "test");
		load_jsonl(c, path, field);
	}
}

static uint64_t fnv64(uint64_t h, const uint32_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 4; k++) {
			h ^= (ids[i] >> (8 * k)) & 0xff;
			h *= 0x100000001b3ull;
		}
	return h;
}

static tok_vocab *load_vocab(const char *name)
{
	char path[256], err[512];
	snprintf(path, sizeof(path), "vocab/%s.tiktoken", name);
	tok_vocab *v = tok_load(path, NULL, err, sizeof(err));
	if (!v) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	return v;
}

/* Every line of expected.tsv: same document count, token count and hash;
 * and decoding gives the text back. */
static void test_parity_with_tiktoken(void)
{
	size_t n;
	char *tsv = (char *)slurp("tests/data/tokenize/expected.tsv", &n);
	tok_vocab *vocabs[3];
	for (int i = 0; i < 3; i++)
		vocabs[i] = load_vocab(encodings[i]);
	int lines = 0;
	buf text = { 0 };
	for (char *line = strtok(tsv, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == '#')
			continue;
		char corpus_name[64], enc[32];
		unsigned long long docs, tokens, hash;
		if (sscanf(line, "%63s %31s %llu %llu %llx", corpus_name, enc, &docs, &tokens, &hash) != 5) {
			CHECK(!"malformed expected.tsv line");
			continue;
		}
		tok_vocab *v = NULL;
		for (int i = 0; i < 3; i++)
			if (!strcmp(enc, encodings[i]))
				v = vocabs[i];
		CHECK(v != NULL);
		if (!v)
			continue;
		struct corpus c;
		load_corpus(&c, corpus_name);
		tok_state *s = tok_state_new(v);
		uint64_t h = 0xcbf29ce484222325ull, total = 0, round_trip_bad = 0;
		char err[256];
		for (size_t d = 0; d < c.n; d++) {
			size_t replaced, nids;
			const uint8_t *p = c.mem.data + c.off[d];
			CHECK(tok_encode(s, p, c.len[d], &replaced, err, sizeof(err)) == 0);
			const uint32_t *ids = tok_ids(s, &nids);
			h = fnv64(h, ids, nids);
			total += nids;
			buf_reset(&text);
			size_t bad;
			if (tok_decode(v, ids, nids, &text, &bad) < 0 || text.len != c.len[d] ||
			    (text.len && memcmp(text.data, p, text.len) != 0))
				round_trip_bad++;
		}
		if (c.n != docs || total != tokens || h != hash)
			fprintf(stderr, "%s %s: got %zu docs %llu tokens hash %016llx, tiktoken %llu %llu %016llx\n",
				corpus_name, enc, c.n, (unsigned long long)total, (unsigned long long)h, docs, tokens,
				hash);
		CHECK_EQ_INT(c.n, docs);
		CHECK_EQ_INT(total, tokens);
		CHECK(h == hash);
		CHECK_EQ_INT(round_trip_bad, 0);
		tok_state_free(s);
		corpus_free(&c);
		lines++;
	}
	CHECK_EQ_INT(lines, 21);
	buf_release(&text);
	for (int i = 0; i < 3; i++)
		tok_free(vocabs[i]);
	free(tsv);
}

/* A tiny vocabulary in memory: the 256 bytes and a few merges. */
static tok_vocab *tiny_vocab(const char *extra_tokens[], size_t nextra, const char *config)
{
	buf f = { 0 };
	char line[64];
	for (int b = 0; b < 256; b++) {
		uint8_t c = (uint8_t)b;
		tok_base64_encode(&f, &c, 1);
		snprintf(line, sizeof(line), " %d\n", b);
		buf_adds(&f, line);
	}
	for (size_t i = 0; i < nextra; i++) {
		tok_base64_encode(&f, (const uint8_t *)extra_tokens[i], strlen(extra_tokens[i]));
		snprintf(line, sizeof(line), " %zu\n", 256 + i);
		buf_adds(&f, line);
	}
	char err[256];
	tok_vocab *v = tok_load_mem("tiny", f.data, f.len, config, config ? strlen(config) : 0,
				    config ? NULL : "[a-z]+|[^a-z]+", err, sizeof(err));
	buf_release(&f);
	return v;
}

/* Long pieces (the heap path) encode and decode exactly. */
static void test_long_pieces_agree(void)
{
	tok_vocab *v = load_vocab("gpt2");
	tok_state *s = tok_state_new(v);
	char err[256];
	size_t replaced, n1, n2;
	/* "abab...": one piece of 4000 bytes. */
	buf big = { 0 }, ids = { 0 };
	for (int i = 0; i < 2000; i++)
		buf_adds(&big, "ab");
	CHECK(tok_encode(s, big.data, big.len, &replaced, err, sizeof(err)) == 0);
	const uint32_t *a = tok_ids(s, &n1);
	buf_add(&ids, a, n1 * 4);
	/* Decoding gives the run back, and each token is a whole "ab" multiple. */
	buf text = { 0 };
	size_t bad;
	CHECK(tok_decode(v, (const uint32_t *)ids.data, n1, &text, &bad) == 0);
	CHECK(text.len == big.len && memcmp(text.data, big.data, big.len) == 0);
	/* Random words of 40 to 200 letters, on both sides of the cut-over
	 * between the merge paths, decode to themselves. */
	uint64_t rng = 12345;
	for (int t = 0; t < 300; t++) {
		char word[256];
		size_t len = 40 + (size_t)(t % 160);
		for (size_t i = 0; i < len; i++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			word[i] = "etaoinshrdlu"[(rng >> 33) % 12];
		}
		CHECK(tok_encode(s, (const uint8_t *)word, len, &replaced, err, sizeof(err)) == 0);
		const uint32_t *w = tok_ids(s, &n2);
		buf_reset(&text);
		CHECK(tok_decode(v, w, n2, &text, &bad) == 0);
		CHECK(text.len == len && memcmp(text.data, word, len) == 0);
	}
	buf_release(&big);
	buf_release(&ids);
	buf_release(&text);
	tok_state_free(s);
	tok_free(v);
}

/* The heap path against the array path directly: a vocabulary whose
 * pieces are long letter strings, encoded with the split that keeps each
 * piece whole, below and above the cut-over length. */
static void test_merge_paths_equal(void)
{
	const char *merges[] = { "ab", "abab", "ba", "aa", "bb", "aab", "abb", "baba", "abababab", "bab" };
	tok_vocab *v = tiny_vocab(merges, 10, NULL);
	CHECK(v != NULL);
	if (!v)
		return;
	tok_state *s = tok_state_new(v);
	char err[256], word[200];
	size_t replaced, n;
	uint64_t rng = 777;
	for (int t = 0; t < 2000; t++) {
		size_t len = 2 + (size_t)(t % 150);
		for (size_t i = 0; i < len; i++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			word[i] = (rng >> 40) & 1 ? 'a' : 'b';
		}
		CHECK(tok_encode(s, (const uint8_t *)word, len, &replaced, err, sizeof(err)) == 0);
		const uint32_t *ids = tok_ids(s, &n);
		/* Reference: the plain quadratic BPE, written out here. */
		uint32_t part[200], start[201];
		size_t m = len;
		for (size_t i = 0; i <= len; i++)
			start[i] = (uint32_t)i;
		for (;;) {
			size_t best_at = SIZE_MAX;
			uint32_t best = UINT32_MAX;
			for (size_t i = 0; i + 1 < m; i++) {
				size_t l = start[i + 2] - start[i];
				for (size_t k = 0; k < 10; k++)
					if (strlen(merges[k]) == l && !memcmp(merges[k], word + start[i], l) &&
					    256 + k < best) {
						best = (uint32_t)(256 + k);
						best_at = i;
					}
			}
			if (best_at == SIZE_MAX)
				break;
			memmove(start + best_at + 1, start + best_at + 2, (m - best_at - 1) * sizeof(*start));
			m--;
		}
		for (size_t i = 0; i < m; i++) {
			size_t l = start[i + 1] - start[i];
			part[i] = l == 1 ? (uint8_t)word[start[i]] : UINT32_MAX;
			for (size_t k = 0; k < 10 && part[i] == UINT32_MAX; k++)
				if (strlen(merges[k]) == l && !memcmp(merges[k], word + start[i], l))
					part[i] = (uint32_t)(256 + k);
		}
		CHECK_EQ_INT(n, m);
		if (n == m)
			CHECK(memcmp(ids, part, n * 4) == 0);
	}
	tok_state_free(s);
	tok_free(v);
}

/* Pieces longer than the window are merged a window at a time: the ids are
 * those of merging each piece whole, on long runs of letters (random, one
 * letter repeated, Shakespeare with everything but letters taken out) for
 * every encoding and at several window sizes, and the windows are used. */
static void test_windows_equal_whole(void)
{
	buf shk = { 0 };
	FILE *f = fopen("data/tinyshakespeare.txt", "rb");
	CHECK(f != NULL);
	if (!f)
		return;
	int c;
	while ((c = getc(f)) != EOF && shk.len < 60000)
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			buf_addc(&shk, (uint8_t)c);
	fclose(f);
	enum { LEN = 30000 };
	static char text[3][LEN];
	uint64_t rng = 99;
	for (size_t i = 0; i < LEN; i++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		text[0][i] = "abcdefghijklmnopqrstuvwxyz"[(rng >> 33) % 26];
		text[1][i] = 'a';
	}
	memcpy(text[2], shk.data, LEN);
	buf_release(&shk);
	static const char *const encodings[] = { "gpt2", "cl100k_base", "o200k_base" };
	static const size_t windows[] = { 128, 300, 1000, 4096 };
	char err[256];
	size_t replaced, nw, nwin, refused, total = 0, total_refused = 0, compared = 0, equal = 0;
	for (size_t e = 0; e < 3; e++) {
		tok_vocab *v = load_vocab(encodings[e]);
		tok_state *whole = tok_state_new(v), *win = tok_state_new(v);
		tok_set_window(whole, 0);
		for (size_t t = 0; t < 3; t++) {
			CHECK(tok_encode(whole, (const uint8_t *)text[t], LEN, &replaced, err, sizeof(err)) == 0);
			const uint32_t *a = tok_ids(whole, &nw);
			for (size_t k = 0; k < sizeof(windows) / sizeof(windows[0]); k++) {
				tok_set_window(win, windows[k]);
				CHECK(tok_encode(win, (const uint8_t *)text[t], LEN, &replaced, err, sizeof(err)) == 0);
				const uint32_t *b = tok_ids(win, &nwin);
				compared++;
				equal += nw == nwin && !memcmp(a, b, nw * sizeof(*a));
				if (nw != nwin || memcmp(a, b, nw * sizeof(*a)))
					fprintf(stderr, "# %s, text %zu, window %zu: %zu ids, %zu whole\n", encodings[e], t,
						windows[k], nwin, nw);
			}
		}
		CHECK_EQ_INT(tok_windowed(whole, &refused), 0);
		total += tok_windowed(win, &refused);
		total_refused += refused;
		tok_state_free(whole);
		tok_state_free(win);
		tok_free(v);
	}
	printf("# %zu of %zu windowed encodings equal to whole ones; %zu pieces by windows, %zu merged whole "
	       "after a cut check failed\n", equal, compared, total, total_refused);
	CHECK_EQ_INT(equal, compared);
	CHECK(total >= compared);
	CHECK_EQ_INT(total_refused, 0);
	/* A small vocabulary of a's and b's, where merges chain far: equal
	 * still, whether the cuts hold or the piece is merged whole. */
	const char *merges[] = { "ab", "abab", "ba", "aa", "bb", "aab", "abb", "baba", "abababab", "bab" };
	tok_vocab *v = tiny_vocab(merges, 10, NULL);
	CHECK(v != NULL);
	if (!v)
		return;
	tok_state *whole = tok_state_new(v), *win = tok_state_new(v);
	tok_set_window(whole, 0);
	tok_set_window(win, 128);
	size_t tiny_equal = 0;
	for (int t = 0; t < 200; t++) {
		size_t len = 200 + (size_t)t * 37;
		for (size_t i = 0; i < len; i++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			text[0][i] = (rng >> 40) & 1 ? 'a' : 'b';
		}
		CHECK(tok_encode(whole, (const uint8_t *)text[0], len, &replaced, err, sizeof(err)) == 0);
		CHECK(tok_encode(win, (const uint8_t *)text[0], len, &replaced, err, sizeof(err)) == 0);
		const uint32_t *a = tok_ids(whole, &nw), *b = tok_ids(win, &nwin);
		tiny_equal += nw == nwin && !memcmp(a, b, nw * sizeof(*a));
	}
	total = tok_windowed(win, &refused);
	printf("# a/b vocabulary: %zu of 200 equal; %zu pieces by windows, %zu merged whole after a failed check\n",
	       tiny_equal, total, refused);
	CHECK_EQ_INT(tiny_equal, 200);
	CHECK(refused < total);
	tok_state_free(whole);
	tok_state_free(win);
	tok_free(v);
}

/* One piece of a million letters: the encoder's memory does not grow with
 * it (the whole-piece merge took 28 bytes a byte, 30 MB here).  Run first,
 * while the process's peak is its own; not under AddressSanitizer, whose
 * quarantine keeps freed blocks. */
static void test_long_piece_memory(void)
{
#if defined(__SANITIZE_ADDRESS__)
	printf("# skip: peak memory is not measured under AddressSanitizer\n");
#else
	tok_vocab *v = load_vocab("gpt2");
	tok_state *s = tok_state_new(v);
	enum { LEN = 1 << 20 };
	char *text = malloc(LEN), err[256];
	memset(text, 'a', LEN);
	struct rusage before, after;
	size_t replaced, n;
	getrusage(RUSAGE_SELF, &before);
	CHECK(tok_encode(s, (const uint8_t *)text, LEN, &replaced, err, sizeof(err)) == 0);
	getrusage(RUSAGE_SELF, &after);
	const uint32_t *ids = tok_ids(s, &n);
	buf back = { 0 };
	size_t bad;
	CHECK(tok_decode(v, ids, n, &back, &bad) == 0);
	CHECK(back.len == LEN && !memcmp(back.data, text, LEN));
	long grew = after.ru_maxrss - before.ru_maxrss;
	printf("# a piece of %d bytes: %zu ids, peak memory up %ld KiB\n", LEN, n, grew);
	CHECK(grew < 8 * 1024);
	buf_release(&back);
	free(text);
	tok_state_free(s);
	tok_free(v);
#endif
}

static void test_special_tokens(void)
{
	tok_vocab *v = load_vocab("cl100k_base");
	tok_state *s = tok_state_new(v);
	const char *text = "a<|endoftext|>b<|fim_prefix|>";
	char err[256];
	size_t replaced, n;
	CHECK(tok_encode(s, (const uint8_t *)text, strlen(text), &replaced, err, sizeof(err)) == 0);
	const uint32_t *ids = tok_ids(s, &n);
	int has_special = 0;
	for (size_t i = 0; i < n; i++)
		has_special |= ids[i] >= 100257;
	CHECK(!has_special); /* ordinary text unless allowed */
	CHECK(tok_allow_special(v, "<|endoftext|>") == 0);
	CHECK(tok_allow_special(v, "<|nope|>") == -1);
	CHECK(tok_encode(s, (const uint8_t *)text, strlen(text), &replaced, err, sizeof(err)) == 0);
	ids = tok_ids(s, &n);
	/* tiktoken: encode(text, allowed_special={"<|endoftext|>"}) with the
	 * fim token ordinary: [64, 100257, 65, 27, 91, 69, 318, 14301, 91, 29] */
	static const uint32_t want[] = { 64, 100257, 65, 27, 91, 69, 318, 14301, 91, 29 };
	CHECK_EQ_INT(n, sizeof(want) / 4);
	if (n == sizeof(want) / 4)
		CHECK(memcmp(ids, want, sizeof(want)) == 0);
	size_t len;
	const uint8_t *b = tok_bytes(v, 100257, &len);
	CHECK(b && len == 13 && memcmp(b, "<|endoftext|>", 13) == 0);
	CHECK(tok_bytes(v, 100256, &len) == NULL); /* a hole in cl100k's ids */
	CHECK(tok_bytes(v, tok_n_vocab(v), &len) == NULL);
	tok_state_free(s);
	tok_free(v);
}

static void test_invalid_utf8_replaced(void)
{
	tok_vocab *v = load_vocab("gpt2");
	tok_state *s = tok_state_new(v);
	char err[256];
	size_t replaced, n;
	const char bad[] = "ok \xff\xfe then \xe2\x82";
	CHECK(tok_encode(s, (const uint8_t *)bad, sizeof(bad) - 1, &replaced, err, sizeof(err)) == 0);
	CHECK_EQ_INT(replaced, 3);
	const uint32_t *ids = tok_ids(s, &n);
	buf text = { 0 };
	size_t at;
	CHECK(tok_decode(v, ids, n, &text, &at) == 0);
	const char want[] = "ok \xef\xbf\xbd\xef\xbf\xbd then \xef\xbf\xbd";
	CHECK(text.len == sizeof(want) - 1 && memcmp(text.data, want, text.len) == 0);
	uint32_t out_of_range[] = { 1, 2, 50257 };
	CHECK(tok_decode(v, out_of_range, 3, &text, &at) == -1);
	CHECK_EQ_INT(at, 2);
	buf_release(&text);
	tok_state_free(s);
	tok_free(v);
}

static void test_vocab_errors(void)
{
	char err[256];
	static const struct { const char *ranks, *why; } cases[] = {
		{ "", "no tokens" },
		{ "YQ==\n", "expected 'base64 rank'" },
		{ "YQ== x\n", "bad rank" },
		{ "Y!== 1\n", "bad base64" },
		{ "YQ== 1\nYQ== 2\n", "appears twice" },
		{ "YQ== 1\nYg== 1\n", "appears twice" },
		{ "YQ== 99999999999\n", "bad rank" },
		{ "YQ== 0\n", "has no token" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tok_vocab *v = tok_load_mem("t", (const uint8_t *)cases[i].ranks, strlen(cases[i].ranks), NULL, 0,
					    "\\w+", err, sizeof(err));
		CHECK(v == NULL);
		if (!strstr(err, cases[i].why))
			fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, err, cases[i].why);
		CHECK(strstr(err, cases[i].why) != NULL);
		tok_free(v);
	}
	CHECK(tiny_vocab(NULL, 0, "{\"pat_str\": 5}") == NULL);
	CHECK(tiny_vocab(NULL, 0, "{\"pat_str\": \"(\"}") == NULL);
	CHECK(tiny_vocab(NULL, 0, "{\"pat_str\": \"a\", \"special_tokens\": {\"<s>\": 65}}") == NULL);
	tok_vocab *v = tiny_vocab(NULL, 0, "{\"pat_str\": \"a\", \"special_tokens\": {\"<s>\": 1000}}");
	CHECK(v && tok_n_vocab(v) == 1001 && tok_special(v, "<s>") == 1000);
	tok_free(v);
	v = tok_load("no-such-encoding", NULL, err, sizeof(err));
	CHECK(v == NULL && strstr(err, "unknown encoding"));
}

/* Training is deterministic, and its vocabulary encodes and decodes. */
static void test_train(void)
{
	size_t n;
	uint8_t *text = slurp("data/tinyshakespeare.txt", &n);
	const char *pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
	char err[256];
	buf first = { 0 };
	for (int round = 0; round < 2; round++) {
		bpe_trainer *t = bpe_train_new(pattern, err, sizeof(err));
		CHECK(t != NULL);
		if (!t)
			break;
		CHECK(bpe_train_add(t, text, n / 2, err, sizeof(err)) == 0);
		CHECK(bpe_train_run(t, 600, err, sizeof(err)) == 0);
		CHECK_EQ_INT(bpe_train_merges(t), 343);
		CHECK(bpe_train_write(t, "build-train-test", "shakes", err, sizeof(err)) == 0);
		bpe_train_free(t);
		size_t len;
		uint8_t *ranks = slurp("build-train-test.tiktoken", &len);
		if (round == 0)
			buf_add(&first, ranks, len);
		else
			CHECK(len == first.len && memcmp(ranks, first.data, len) == 0);
		free(ranks);
	}
	tok_vocab *v = tok_load("build-train-test.tiktoken", NULL, err, sizeof(err));
	CHECK(v != NULL);
	if (v) {
		CHECK_EQ_INT(tok_n_vocab(v), 600);
		CHECK_EQ_INT(tok_special(v, "<|endoftext|>"), 599);
		tok_state *s = tok_state_new(v);
		size_t replaced, nids;
		CHECK(tok_encode(s, text + n / 2, n - n / 2, &replaced, err, sizeof(err)) == 0);
		const uint32_t *ids = tok_ids(s, &nids);
		CHECK(nids > 0 && nids < (n - n / 2) / 2); /* merges do compress held-out text */
		buf back = { 0 };
		size_t bad;
		CHECK(tok_decode(v, ids, nids, &back, &bad) == 0);
		CHECK(back.len == n - n / 2 && memcmp(back.data, text + n / 2, back.len) == 0);
		buf_release(&back);
		tok_state_free(s);
		tok_free(v);
	}
	remove("build-train-test.tiktoken");
	remove("build-train-test.json");
	buf_release(&first);
	free(text);
}


/* ---- tokenizer.json ---- */

/* A byte in the byte-level alphabet (GPT-2's bytes_to_unicode), as UTF-8. */
static void byte_char(buf *b, int byte)
{
	int printable = (byte >= '!' && byte <= '~') || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae);
	int cp = byte;
	if (!printable) {
		cp = 256;
		for (int k = 0; k < byte; k++)
			cp += !((k >= '!' && k <= '~') || (k >= 0xa1 && k <= 0xac) || (k >= 0xae));
	}
	uint8_t u[2];
	if (cp < 0x80) {
		buf_addc(b, (uint8_t)cp);
	} else {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		buf_add(b, u, 2);
	}
}

/* A tokenizer.json: the 256 bytes at ids 1000 + byte, then tokens[i] (of
 * ASCII letters) at ids[i], the merges "l r" in order, no split.  model_extra
 * and top_extra are spliced in (each starting with a comma, or ""). */
static char *hf_json(const char *const *tokens, const uint32_t *ids, size_t nt, const char *const *merges,
		     size_t nm, const char *model_extra, const char *top_extra)
{
	buf b = { 0 };
	char tmp[64];
	buf_adds(&b, "{\"added_tokens\": [{\"id\": 5, \"content\": \"<|end|>\", \"special\": true}],\n"
		     " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": false},\n"
		     " \"model\": {\"type\": \"BPE\"");
	buf_adds(&b, model_extra);
	buf_adds(&b, ", \"vocab\": {");
	for (int i = 0; i < 256; i++) {
		buf_adds(&b, i ? ", \"" : "\"");
		if (i == '"' || i == '\\')
			buf_addc(&b, '\\');
		byte_char(&b, i);
		snprintf(tmp, sizeof(tmp), "\": %d", 1000 + i);
		buf_adds(&b, tmp);
	}
	for (size_t i = 0; i < nt; i++) {
		snprintf(tmp, sizeof(tmp), ", \"%s\": %u", tokens[i], ids[i]);
		buf_adds(&b, tmp);
	}
	buf_adds(&b, "},\n \"merges\": [");
	for (size_t i = 0; i < nm; i++) {
		buf_adds(&b, i ? ", \"" : "\"");
		buf_adds(&b, merges[i]);
		buf_adds(&b, "\"");
	}
	buf_adds(&b, "]}");
	buf_adds(&b, top_extra);
	buf_adds(&b, "}\n");
	buf_addc(&b, '\0');
	return (char *)b.data;
}

static size_t encode_str(tok_state *s, const char *text, uint32_t *out, size_t max)
{
	char err[256];
	size_t replaced, n;
	if (tok_encode(s, (const uint8_t *)text, strlen(text), &replaced, err, sizeof(err)) < 0)
		return SIZE_MAX;
	const uint32_t *ids = tok_ids(s, &n);
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = ids[i];
	return n;
}

/* Merges go by the pair's place in the merges list, not by ids; with
 * ignore_merges a piece that is a token is that token. */
static void test_hf_merges_by_pairs(void)
{
	const char *tokens[] = { "abc", "bc", "ab" };
	const uint32_t ids[] = { 7, 8, 9 };
	const char *merges[] = { "b c", "a b", "ab c" };
	char err[256];
	for (int ignore = 0; ignore < 2; ignore++) {
		char *js = hf_json(tokens, ids, 3, merges, 3, ignore ? ", \"ignore_merges\": true" : "", "");
		tok_vocab *v = tok_load_hf_mem("t", js, strlen(js), NULL, err, sizeof(err));
		free(js);
		CHECK(v != NULL);
		if (!v) {
			fprintf(stderr, "%s\n", err);
			continue;
		}
		CHECK_EQ_INT(tok_n_vocab(v), 1256);
		CHECK_EQ_INT(tok_special(v, "<|end|>"), 5);
		tok_state *s = tok_state_new(v);
		uint32_t out[8];
		size_t n = encode_str(s, "abc", out, 8);
		if (ignore) {
			CHECK(n == 1 && out[0] == 7); /* the whole piece */
		} else {
			/* "b c" ranks first: a + bc, which no merge joins */
			CHECK(n == 2 && out[0] == 1000 + 'a' && out[1] == 8);
		}
		n = encode_str(s, "abd", out, 8);
		CHECK(n == 2 && out[0] == 9 && out[1] == 1000 + 'd');
		n = encode_str(s, "x<|end|>", out, 8); /* special: text unless allowed */
		CHECK(n == 8);
		tok_allow_special(v, "<|end|>");
		n = encode_str(s, "x<|end|>", out, 8);
		CHECK(n == 2 && out[1] == 5);
		buf d = { 0 };
		size_t bad;
		uint32_t back[] = { 7, 5, 1000 + 'z' };
		CHECK(tok_decode(v, back, 3, &d, &bad) == 0 && d.len == 11 && !memcmp(d.data, "abc<|end|>z", 11));
		buf_release(&d);
		tok_state_free(s);
		tok_free(v);
	}
}

/* Pair merges through every path (array, heap, windows) against a plain
 * quadratic BPE over pairs written out here, on random a/b/c words. */
static void test_hf_merge_paths(void)
{
	const char *tokens[] = { "ab", "ba", "aa", "bc", "abc", "aab", "bab", "aaaa", "abab", "cc" };
	const uint32_t ids[] = { 50, 40, 30, 20, 10, 60, 70, 80, 90, 15 };
	const char *merges[] = { "b a", "a a", "a b", "b c", "ab c", "a ab", "aa aa", "ab ab", "ba b", "c c" };
	const size_t nm = 10;
	/* merge k: left, right, result id */
	const uint32_t ml[] = { 1000 + 'b', 1000 + 'a', 1000 + 'a', 1000 + 'b', 50, 1000 + 'a', 30, 50, 40, 1000 + 'c' };
	const uint32_t mr[] = { 1000 + 'a', 1000 + 'a', 1000 + 'b', 1000 + 'c', 1000 + 'c', 50, 30, 50, 1000 + 'b',
				1000 + 'c' };
	const uint32_t mk[] = { 40, 30, 50, 20, 10, 60, 80, 90, 70, 15 };
	char err[256];
	char *js = hf_json(tokens, ids, 10, merges, nm, "", "");
	tok_vocab *v = tok_load_hf_mem("t", js, strlen(js), NULL, err, sizeof(err));
	free(js);
	CHECK(v != NULL);
	if (!v) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	tok_state *s = tok_state_new(v);
	static char word[4000];
	static uint32_t ref[4000];
	uint64_t rng = 99;
	for (int t = 0; t < 600; t++) {
		size_t len = t < 500 ? 2 + (size_t)(t % 200) : 1000 + (size_t)t;
		tok_set_window(s, t % 3 == 2 ? 128 : 0);
		for (size_t i = 0; i < len; i++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			word[i] = "aabbc"[(rng >> 40) % 5];
		}
		word[len] = '\0';
		size_t m = len;
		for (size_t i = 0; i < len; i++)
			ref[i] = 1000 + (uint8_t)word[i];
		for (;;) {
			size_t at = SIZE_MAX, best = SIZE_MAX;
			for (size_t i = 0; i + 1 < m; i++)
				for (size_t k = 0; k < nm && k < best; k++)
					if (ml[k] == ref[i] && mr[k] == ref[i + 1]) {
						best = k;
						at = i;
					}
			if (at == SIZE_MAX)
				break;
			ref[at] = mk[best];
			memmove(ref + at + 1, ref + at + 2, (m - at - 2) * sizeof(*ref));
			m--;
		}
		uint32_t *out = xmalloc(len * sizeof(*out));
		size_t n = encode_str(s, word, out, len);
		CHECK_EQ_INT(n, m);
		CHECK(n == m && !memcmp(out, ref, m * sizeof(*ref)));
		free(out);
	}
	tok_state_free(s);
	tok_free(v);
}

static void test_hf_errors(void)
{
	const char *tokens[] = { "ab" };
	const uint32_t ids[] = { 7 };
	const char *ok_merges[] = { "a b" };
	const char *unk[] = { "a b", "q zz" };
	const char *notok[] = { "a b", "b a" };
	struct {
		const char *const *merges;
		size_t nm;
		const char *model_extra, *top_extra, *cut, *want;
	} cases[] = {
		{ unk, 2, "", "", NULL, "model: merges: merge 2 names 'zz', which is not in the vocabulary" },
		{ notok, 2, "", "", NULL, "model: merges: merge 2 makes 'ba', which is not in the vocabulary" },
		{ ok_merges, 1, ", \"dropout\": 0.1", "", NULL, "model: dropout is not supported" },
		{ ok_merges, 1, ", \"byte_fallback\": true", "", NULL, "model: byte_fallback is not supported" },
		{ ok_merges, 1, "", ", \"normalizer\": {\"type\": \"Lowercase\"}", NULL,
		  "normalizer: Lowercase is not supported" },
		{ ok_merges, 1, "", ", \"added_tokens\": 3", NULL, "added_tokens: line 4, column 38: expected an array" },
		{ ok_merges, 1, "", "", "\"merges\"", "line 4, column " },
		{ ok_merges, 1, "", "}", NULL, "line 4, column 21: text after the object" },
		{ ok_merges, 1, "", ", \"x\": [1,]", NULL, "line 4, column 30: unexpected character ']'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *js = hf_json(tokens, ids, 1, cases[i].merges, cases[i].nm, cases[i].model_extra, cases[i].top_extra);
		if (cases[i].cut)
			*strstr(js, cases[i].cut) = '\0';
		char err[256] = "";
		tok_vocab *v = tok_load_hf_mem("t", js, strlen(js), NULL, err, sizeof(err));
		CHECK(v == NULL);
		if (!strstr(err, cases[i].want)) {
			fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, err, cases[i].want);
			CHECK(0);
		}
		tok_free(v);
		free(js);
	}
	const char *type = "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}";
	char err[256] = "";
	CHECK(tok_load_hf_mem("t", type, strlen(type), NULL, err, sizeof(err)) == NULL &&
	      strstr(err, "model: type Unigram is not supported (only BPE)"));
}

/* One name for one tokenizer however its path is written; names that are
 * not paths unchanged; a name that does not fit refused. */
static void test_canonical_name(void)
{
	char dir[] = "/tmp/sluice-canon-" MKSTEMP_SUFFIX, real[PATH_MAX], f[PATH_MAX + 64], got[TOK_NAME_MAX];
	CHECK(mkdtemp(dir) != NULL);
	CHECK(realpath(dir, real) != NULL);
	snprintf(f, sizeof(f), "%s/tokenizer.json", dir);
	FILE *fp = fopen(f, "w");
	CHECK(fp && fputs("{}", fp) >= 0 && fclose(fp) == 0);
	const char *fmt[] = { "%s", "%s/", "%s//", "%s/./tokenizer.json", "%s/../%s/tokenizer.json" };
	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		char p[PATH_MAX + 64];
		snprintf(p, sizeof(p), fmt[i], dir, strrchr(dir, '/') + 1);
		CHECK(tok_canonical_name(p, got, sizeof(got)) == 0 && !strcmp(got, real));
	}
	/* Another .json file keeps its own name after its directory's path. */
	char other[PATH_MAX + 64], want[PATH_MAX + 64];
	snprintf(other, sizeof(other), "%s/./tok.json", dir);
	snprintf(want, sizeof(want), "%s/tok.json", real);
	CHECK(tok_canonical_name(other, got, sizeof(got)) == 0 && !strcmp(got, want));
	CHECK(tok_canonical_name("gpt2", got, sizeof(got)) == 0 && !strcmp(got, "gpt2"));
	CHECK(tok_canonical_name("vocab/cl100k_base.tiktoken", got, sizeof(got)) == 0 && !strcmp(got, "cl100k_base"));
	CHECK(tok_canonical_name("/no/such/dir/tok.json", got, sizeof(got)) == 0 && !strcmp(got, "/no/such/dir/tok.json"));
	char small[8];
	errno = 0;
	CHECK(tok_canonical_name(dir, small, sizeof(small)) == -1 && errno == ENAMETOOLONG);
	unlink(f);
	rmdir(dir);
}

int main(void)
{
	RUN(test_long_piece_memory);
	RUN(test_parity_with_tiktoken);
	RUN(test_long_pieces_agree);
	RUN(test_merge_paths_equal);
	RUN(test_windows_equal_whole);
	RUN(test_special_tokens);
	RUN(test_invalid_utf8_replaced);
	RUN(test_vocab_errors);
	RUN(test_train);
	RUN(test_hf_merges_by_pairs);
	RUN(test_hf_merge_paths);
	RUN(test_hf_errors);
	RUN(test_canonical_name);
	CHECK_EXIT();
}
