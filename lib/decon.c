/* decon.c: n-gram hash set for decontamination. */
#include "decon.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "utf8.h"
#include "util.h"
#include "words.h"

struct decon {
	int n;
	uint64_t *tab;        /* open addressing; 0 marks an empty slot */
	size_t cap, used, texts;
	uint64_t short_lens;  /* bit k: some text had k words (k < n) */
};

struct decon_scratch {
	uint64_t *h;          /* word hashes */
	size_t cap;
	buf low;
};

decon *decon_new(int n)
{
	decon *d = xcalloc(1, sizeof(*d));
	d->n = n;
	d->cap = 1024;
	d->tab = xcalloc(d->cap, sizeof(*d->tab));
	return d;
}

void decon_free(decon *d)
{
	if (!d)
		return;
	free(d->tab);
	free(d);
}

decon_scratch *decon_scratch_new(void)
{
	return xcalloc(1, sizeof(decon_scratch));
}

void decon_scratch_free(decon_scratch *s)
{
	if (!s)
		return;
	free(s->h);
	buf_release(&s->low);
	free(s);
}

size_t decon_size(const decon *d)
{
	return d->used;
}

size_t decon_texts(const decon *d)
{
	return d->texts;
}

/* Hash every word of s into sc->h; returns the count. */
static size_t word_hashes(decon_scratch *sc, const uint8_t *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = utf8_decode(s + i, n - i, &cp);
		if (!words_is_word(cp)) {
			i += l;
			continue;
		}
		buf_reset(&sc->low);
		while (i < n) {
			l = utf8_decode(s + i, n - i, &cp);
			if (!words_is_word(cp))
				break;
			uint8_t e[4];
			buf_add(&sc->low, e, utf8_encode(words_lower(cp), e));
			i += l;
		}
		if (k == sc->cap) {
			sc->cap = sc->cap ? 2 * sc->cap : 256;
			sc->h = xrealloc(sc->h, sc->cap * sizeof(*sc->h));
		}
		sc->h[k++] = XXH3_64bits(sc->low.data, sc->low.len);
	}
	return k;
}

static uint64_t gram(const uint64_t *h, size_t n)
{
	uint64_t g = XXH3_64bits(h, n * sizeof(*h));
	return g ? g : 1;
}

static int has(const decon *d, uint64_t g)
{
	for (size_t i = (size_t)g & (d->cap - 1);; i = (i + 1) & (d->cap - 1)) {
		if (d->tab[i] == g)
			return 1;
		if (d->tab[i] == 0)
			return 0;
	}
}

static void insert(decon *d, uint64_t g)
{
	if (2 * (d->used + 1) > d->cap) {
		uint64_t *old = d->tab;
		size_t oc = d->cap;
		d->cap *= 2;
		d->tab = xcalloc(d->cap, sizeof(*d->tab));
		d->used = 0;
		for (size_t i = 0; i < oc; i++)
			if (old[i])
				insert(d, old[i]);
		free(old);
	}
	size_t i = (size_t)g & (d->cap - 1);
	while (d->tab[i] && d->tab[i] != g)
		i = (i + 1) & (d->cap - 1);
	if (!d->tab[i]) {
		d->tab[i] = g;
		d->used++;
	}
}

void decon_add(decon *d, const uint8_t *s, size_t n)
{
	decon_scratch sc = { 0 };
	size_t k = word_hashes(&sc, s, n);
	d->texts++;
	if (k > 0 && k < (size_t)d->n) {
		d->short_lens |= 1ull << k;
		insert(d, gram(sc.h, k));
	}
	for (size_t i = 0; i + (size_t)d->n <= k; i++)
		insert(d, gram(sc.h + i, (size_t)d->n));
	free(sc.h);
	buf_release(&sc.low);
}

size_t decon_count(const decon *d, decon_scratch *sc, const uint8_t *s, size_t n)
{
	size_t k = word_hashes(sc, s, n), found = 0;
	for (size_t len = 1; len <= (size_t)d->n; len++) {
		if (len < (size_t)d->n && !(d->short_lens >> len & 1))
			continue;
		for (size_t i = 0; i + len <= k; i++)
			found += has(d, gram(sc->h + i, len));
	}
	return found;
}
