/* bpe_train.c: byte-level BPE training with incremental pair counts.
 *
 * Words are the distinct pieces with their counts.  A hash table keeps, for
 * every adjacent pair of tokens, its count over all words and the words it
 * occurs in; a max-heap orders pairs by count.  A merge rewrites only the
 * words that hold the pair, so a step costs what it changes, not the size
 * of the corpus.  Heap entries go stale as counts fall; a popped entry whose
 * count is no longer current is pushed back with the current count. */
#include "bpe_train.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "json.h"
#include "record.h"
#include "tokenizer.h"
#include "util.h"

struct word {
	uint32_t *sym;
	uint32_t len;
	uint64_t count;
	uint32_t stamp;          /* last merge that visited it */
};

struct pair {
	uint64_t key;            /* a << 32 | b, or UINT64_MAX when empty */
	int64_t count;
	uint32_t *words, nwords, cap;
};

struct heap_ent {
	int64_t count;
	uint64_t key;
};

struct token {
	uint64_t off;            /* in bytes */
	uint32_t len;
};

struct bpe_trainer {
	char *pattern;
	tok_splitter *split;
	/* distinct pieces while counting: hash of piece -> word index */
	uint32_t *piece_table;   /* word index + 1, 0 empty */
	uint64_t piece_mask;
	buf piece_bytes;         /* every distinct piece, back to back */
	uint64_t *piece_off;
	struct word *words;
	size_t nwords, words_cap;
	/* pairs */
	struct pair *pairs;
	uint64_t pair_mask, npairs;
	struct heap_ent *heap;
	size_t nheap, heap_cap;
	/* vocabulary */
	buf bytes;
	struct token *tokens;
	uint32_t ntokens, tokens_cap;
	uint32_t *token_table;   /* hash of token bytes -> id + 1, 0 empty */
	uint64_t token_mask;
	uint32_t merges;
};

#define EMPTY UINT64_MAX

bpe_trainer *bpe_train_new(const char *pattern, char *err, size_t errlen)
{
	tok_splitter *sp = tok_splitter_new(pattern, err, errlen);
	if (!sp)
		return NULL;
	bpe_trainer *t = xcalloc(1, sizeof(*t));
	t->split = sp;
	t->pattern = xmalloc(strlen(pattern) + 1);
	strcpy(t->pattern, pattern);
	t->piece_mask = 4095;
	t->piece_table = xcalloc(t->piece_mask + 1, sizeof(*t->piece_table));
	return t;
}

void bpe_train_free(bpe_trainer *t)
{
	if (!t)
		return;
	tok_splitter_free(t->split);
	free(t->pattern);
	free(t->piece_table);
	buf_release(&t->piece_bytes);
	free(t->piece_off);
	for (size_t i = 0; i < t->nwords; i++)
		free(t->words[i].sym);
	free(t->words);
	for (uint64_t i = 0; t->pairs && i <= t->pair_mask; i++)
		free(t->pairs[i].words);
	free(t->pairs);
	free(t->heap);
	buf_release(&t->bytes);
	free(t->tokens);
	free(t->token_table);
	free(t);
}

/* ---- counting pieces ---- */

static const uint8_t *piece_at(const bpe_trainer *t, size_t w, size_t *len)
{
	*len = t->words[w].len;
	return t->piece_bytes.data + t->piece_off[w];
}

static void piece_rehash(bpe_trainer *t)
{
	uint64_t size = 2 * (t->piece_mask + 1);
	uint32_t *tab = xcalloc(size, sizeof(*tab));
	for (size_t w = 0; w < t->nwords; w++) {
		size_t len;
		const uint8_t *p = piece_at(t, w, &len);
		uint64_t i = XXH3_64bits(p, len) & (size - 1);
		while (tab[i])
			i = (i + 1) & (size - 1);
		tab[i] = (uint32_t)w + 1;
	}
	free(t->piece_table);
	t->piece_table = tab;
	t->piece_mask = size - 1;
}

static int count_piece(bpe_trainer *t, const uint8_t *p, size_t n)
{
	uint64_t i = XXH3_64bits(p, n) & t->piece_mask;
	for (; t->piece_table[i]; i = (i + 1) & t->piece_mask) {
		size_t w = t->piece_table[i] - 1, len;
		const uint8_t *q = piece_at(t, w, &len);
		if (len == n && memcmp(p, q, n) == 0) {
			t->words[w].count++;
			return 0;
		}
	}
	if (t->nwords >= UINT32_MAX - 1 || n > UINT32_MAX)
		return -1;
	if (t->nwords == t->words_cap) {
		t->words_cap = t->words_cap ? 2 * t->words_cap : 4096;
		t->words = xrealloc(t->words, t->words_cap * sizeof(*t->words));
		t->piece_off = xrealloc(t->piece_off, t->words_cap * sizeof(*t->piece_off));
	}
	size_t w = t->nwords++;
	t->words[w] = (struct word){ .len = (uint32_t)n, .count = 1 };
	t->piece_off[w] = t->piece_bytes.len;
	buf_add(&t->piece_bytes, p, n);
	t->piece_table[i] = (uint32_t)w + 1;
	if (2 * t->nwords > t->piece_mask)
		piece_rehash(t);
	return 0;
}

int bpe_train_add(bpe_trainer *t, const uint8_t *text, size_t n, char *err, size_t errlen)
{
	size_t pos = 0, a, b;
	int rc;
	while ((rc = tok_split_next(t->split, text, n, &pos, &a, &b, err, errlen)) == 1)
		if (count_piece(t, text + a, b - a) < 0) {
			snprintf(err, errlen, "too many distinct pieces");
			return -1;
		}
	return rc;
}

/* ---- pairs ---- */

static inline uint64_t pair_hash(uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return key;
}

static struct pair *pair_get(bpe_trainer *t, uint64_t key, int create);

static void pairs_grow(bpe_trainer *t)
{
	struct pair *old = t->pairs;
	uint64_t old_size = old ? t->pair_mask + 1 : 0;
	uint64_t size = old_size ? 2 * old_size : 1 << 16;
	t->pairs = xmalloc(size * sizeof(*t->pairs));
	for (uint64_t i = 0; i < size; i++)
		t->pairs[i] = (struct pair){ .key = EMPTY };
	t->pair_mask = size - 1;
	for (uint64_t i = 0; i < old_size; i++)
		if (old[i].key != EMPTY) {
			uint64_t k = pair_hash(old[i].key) & t->pair_mask;
			while (t->pairs[k].key != EMPTY)
				k = (k + 1) & t->pair_mask;
			t->pairs[k] = old[i];
		}
	free(old);
}

static struct pair *pair_get(bpe_trainer *t, uint64_t key, int create)
{
	if (create && 2 * (t->npairs + 1) > t->pair_mask + 1)
		pairs_grow(t);
	uint64_t i = pair_hash(key) & t->pair_mask;
	for (; t->pairs[i].key != EMPTY; i = (i + 1) & t->pair_mask)
		if (t->pairs[i].key == key)
			return &t->pairs[i];
	if (!create)
		return NULL;
	t->npairs++;
	t->pairs[i].key = key;
	return &t->pairs[i];
}

static void pair_add_word(struct pair *p, uint32_t w)
{
	if (p->nwords && p->words[p->nwords - 1] == w)
		return;
	if (p->nwords == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 4;
		p->words = xrealloc(p->words, p->cap * sizeof(*p->words));
	}
	p->words[p->nwords++] = w;
}

/* Max-heap by count, then by the smaller pair (a, then b). */
static inline int heap_above(const struct heap_ent *x, const struct heap_ent *y)
{
	return x->count > y->count || (x->count == y->count && x->key < y->key);
}

static void heap_push(bpe_trainer *t, int64_t count, uint64_t key)
{
	if (t->nheap == t->heap_cap) {
		t->heap_cap = t->heap_cap ? 2 * t->heap_cap : 1 << 16;
		t->heap = xrealloc(t->heap, t->heap_cap * sizeof(*t->heap));
	}
	struct heap_ent e = { count, key };
	size_t i = t->nheap++;
	while (i > 0 && heap_above(&e, &t->heap[(i - 1) / 2])) {
		t->heap[i] = t->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	t->heap[i] = e;
}

static struct heap_ent heap_pop(bpe_trainer *t)
{
	struct heap_ent top = t->heap[0], last = t->heap[--t->nheap];
	size_t i = 0, n = t->nheap;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && heap_above(&t->heap[c + 1], &t->heap[c]))
			c++;
		if (!heap_above(&t->heap[c], &last))
			break;
		t->heap[i] = t->heap[c];
		i = c;
	}
	if (n)
		t->heap[i] = last;
	return top;
}

/* The id of the token spelled p[0..n), or UINT32_MAX; *slot is where it
 * would go in the table. */
static uint32_t find_token(const bpe_trainer *t, const uint8_t *p, size_t n, uint64_t *slot)
{
	uint64_t i = XXH3_64bits(p, n) & t->token_mask;
	for (; t->token_table[i]; i = (i + 1) & t->token_mask) {
		const struct token *k = &t->tokens[t->token_table[i] - 1];
		if (k->len == n && memcmp(t->bytes.data + k->off, p, n) == 0)
			return t->token_table[i] - 1;
	}
	*slot = i;
	return UINT32_MAX;
}

static uint32_t add_token(bpe_trainer *t, const uint8_t *p, size_t n)
{
	if (2 * ((uint64_t)t->ntokens + 1) > t->token_mask) {
		uint64_t size = t->token_table ? 2 * (t->token_mask + 1) : 4096;
		free(t->token_table);
		t->token_table = xcalloc(size, sizeof(*t->token_table));
		t->token_mask = size - 1;
		for (uint32_t k = 0; k < t->ntokens; k++) {
			uint64_t slot;
			find_token(t, t->bytes.data + t->tokens[k].off, t->tokens[k].len, &slot);
			t->token_table[slot] = k + 1;
		}
	}
	uint64_t slot;
	find_token(t, p, n, &slot);
	t->token_table[slot] = t->ntokens + 1;
	if (t->ntokens == t->tokens_cap) {
		t->tokens_cap = t->tokens_cap ? 2 * t->tokens_cap : 1024;
		t->tokens = xrealloc(t->tokens, t->tokens_cap * sizeof(*t->tokens));
	}
	t->tokens[t->ntokens] = (struct token){ t->bytes.len, (uint32_t)n };
	buf_add(&t->bytes, p, n);
	return t->ntokens++;
}

/* Count the pairs of word w (sign +1 or -1); with +1, note w in each pair
 * and collect pairs that hold the token fresh. */
static void count_pairs(bpe_trainer *t, uint32_t w, int sign, uint32_t fresh, uint64_t **touched, size_t *ntouched,
			size_t *cap)
{
	struct word *wd = &t->words[w];
	for (uint32_t i = 0; i + 1 < wd->len; i++) {
		uint64_t key = (uint64_t)wd->sym[i] << 32 | wd->sym[i + 1];
		struct pair *p = pair_get(t, key, sign > 0);
		p->count += sign * (int64_t)wd->count;
		if (sign > 0) {
			pair_add_word(p, w);
			if (touched && (wd->sym[i] == fresh || wd->sym[i + 1] == fresh)) {
				if (*ntouched == *cap) {
					*cap = *cap ? 2 * *cap : 64;
					*touched = xrealloc(*touched, *cap * sizeof(**touched));
				}
				(*touched)[(*ntouched)++] = key;
			}
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int bpe_train_run(bpe_trainer *t, uint32_t vocab_size, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	for (int b = 0; b < 256; b++) {
		uint8_t c = (uint8_t)b;
		add_token(t, &c, 1);
	}
	for (size_t w = 0; w < t->nwords; w++) {
		size_t len;
		const uint8_t *p = piece_at(t, w, &len);
		t->words[w].sym = xmalloc((len ? len : 1) * sizeof(uint32_t));
		for (size_t i = 0; i < len; i++)
			t->words[w].sym[i] = p[i];
		count_pairs(t, (uint32_t)w, +1, 0, NULL, NULL, NULL);
	}
	/* The distinct pieces are no longer needed. */
	free(t->piece_table);
	t->piece_table = NULL;
	for (uint64_t i = 0; i <= t->pair_mask && t->pairs; i++)
		if (t->pairs[i].key != EMPTY && t->pairs[i].count > 0)
			heap_push(t, t->pairs[i].count, t->pairs[i].key);
	uint64_t *touched = NULL;
	size_t ntouched = 0, tcap = 0;
	buf joined = { 0 };
	/* The vocabulary written has <|endoftext|> after the merged tokens. */
	while (t->ntokens + 1 < vocab_size && t->nheap) {
		struct heap_ent e = heap_pop(t);
		struct pair *p = pair_get(t, e.key, 0);
		if (!p || p->count <= 0)
			continue;
		if (p->count != e.count) {
			heap_push(t, p->count, e.key);
			continue;
		}
		uint32_t a = (uint32_t)(e.key >> 32), b = (uint32_t)e.key;
		buf_reset(&joined);
		buf_add(&joined, t->bytes.data + t->tokens[a].off, t->tokens[a].len);
		buf_add(&joined, t->bytes.data + t->tokens[b].off, t->tokens[b].len);
		/* Two merges can spell the same bytes ("ab"+"c", "a"+"bc"): the
		 * later one reuses the token, as a rank file cannot hold both. */
		uint64_t slot;
		uint32_t fresh = find_token(t, joined.data, joined.len, &slot);
		if (fresh == UINT32_MAX)
			fresh = add_token(t, joined.data, joined.len);
		t->merges++;
		/* Rewrite each word that holds (a, b).  The word list is taken
		 * out of the pair first: counting may move the table. */
		uint32_t *list = p->words, nlist = p->nwords;
		p->words = NULL;
		p->nwords = p->cap = 0;
		ntouched = 0;
		for (uint32_t k = 0; k < nlist; k++) {
			uint32_t w = list[k];
			struct word *wd = &t->words[w];
			if (wd->stamp == t->merges)
				continue;
			wd->stamp = t->merges;
			int found = 0;
			for (uint32_t i = 0; i + 1 < wd->len && !found; i++)
				found = wd->sym[i] == a && wd->sym[i + 1] == b;
			if (!found)
				continue;
			count_pairs(t, w, -1, 0, NULL, NULL, NULL);
			uint32_t o = 0;
			for (uint32_t i = 0; i < wd->len;) {
				if (i + 1 < wd->len && wd->sym[i] == a && wd->sym[i + 1] == b) {
					wd->sym[o++] = fresh;
					i += 2;
				} else {
					wd->sym[o++] = wd->sym[i++];
				}
			}
			wd->len = o;
			count_pairs(t, w, +1, fresh, &touched, &ntouched, &tcap);
		}
		free(list);
		/* Pairs with the new token only grew: push each once. */
		qsort(touched, ntouched, sizeof(*touched), cmp_u64);
		for (size_t k = 0; k < ntouched; k++) {
			if (k && touched[k] == touched[k - 1])
				continue;
			struct pair *q = pair_get(t, touched[k], 0);
			if (q && q->count > 0)
				heap_push(t, q->count, touched[k]);
		}
	}
	free(touched);
	buf_release(&joined);
	return 0;
}

uint32_t bpe_train_merges(const bpe_trainer *t)
{
	return t->merges;
}

/* b into a synced temporary file beside path (*tmp gets its name).
 * Returns 0, or -1 with err and nothing left on disk. */
static int write_tmp(const char *path, const buf *b, char **tmp, char *err, size_t errlen)
{
	int fd = atomic_create(path, tmp);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create a file beside it: %s", path, strerror(errno));
		return -1;
	}
	if (atomic_close(fd, *tmp, write_full(fd, b->data, b->len) < 0) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		*tmp = NULL;
		return -1;
	}
	return 0;
}

int bpe_train_write(const bpe_trainer *t, const char *prefix, const char *name, char *err, size_t errlen)
{
	buf vocab = { 0 }, config = { 0 };
	char tmp[64];
	for (uint32_t i = 0; i < t->ntokens; i++) {
		tok_base64_encode(&vocab, t->bytes.data + t->tokens[i].off, t->tokens[i].len);
		snprintf(tmp, sizeof(tmp), " %u\n", i);
		buf_adds(&vocab, tmp);
	}
	/* The config through the JSON writer, which escapes the pattern. */
	rec *r = rec_new();
	char special[64];
	rec_set_str(r, "name", name, strlen(name));
	rec_set_str(r, "pat_str", t->pattern, strlen(t->pattern));
	snprintf(special, sizeof(special), "{\"<|endoftext|>\": %u}", t->ntokens);
	rec_set(r, "special_tokens", 14, REC_JSON, special, strlen(special));
	rec_set_int(r, "n_vocab", (int64_t)t->ntokens + 1);
	int ret = json_write_record(&config, r, err, errlen);
	rec_free(r);
	/* Both files whole and synced before either replaces an old one. */
	size_t n = strlen(prefix) + 16;
	char *vpath = xmalloc(n), *cpath = xmalloc(n), *vtmp = NULL, *ctmp = NULL;
	snprintf(vpath, n, "%s.tiktoken", prefix);
	snprintf(cpath, n, "%s.json", prefix);
	if (ret == 0 && (ret = write_tmp(vpath, &vocab, &vtmp, err, errlen)) == 0 &&
	    (ret = write_tmp(cpath, &config, &ctmp, err, errlen)) < 0)
		atomic_rename(vtmp, vpath, 1);
	if (ret == 0 && atomic_rename(vtmp, vpath, 0) < 0) {
		snprintf(err, errlen, "%s: %s", vpath, strerror(errno));
		atomic_rename(ctmp, cpath, 1);
		ret = -1;
	}
	if (ret == 0 && atomic_rename(ctmp, cpath, 0) < 0) {
		snprintf(err, errlen, "%s: %s", cpath, strerror(errno));
		ret = -1;
	}
	free(vpath);
	free(cpath);
	buf_release(&vocab);
	buf_release(&config);
	return ret;
}
