/* minhash.c: see minhash.h. */
#include "minhash.h"
#include "rng.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct minhash {
	int ngram, bands, rows, k;
	uint64_t *a, *b;
};

minhash *minhash_new(int ngram, int bands, int rows, uint64_t seed)
{
	if (ngram < 1 || bands < 1 || rows < 1 || bands > MINHASH_MAX_HASHES || rows > MINHASH_MAX_HASHES ||
	    bands * rows > MINHASH_MAX_HASHES)
		return NULL;
	minhash *m = xcalloc(1, sizeof(*m));
	m->ngram = ngram;
	m->bands = bands;
	m->rows = rows;
	m->k = bands * rows;
	m->a = xmalloc((size_t)m->k * sizeof(uint64_t));
	m->b = xmalloc((size_t)m->k * sizeof(uint64_t));
	uint64_t st = seed;
	for (int i = 0; i < m->k; i++) {
		m->a[i] = rng_splitmix64(&st) | 1;
		m->b[i] = rng_splitmix64(&st);
	}
	return m;
}

void minhash_free(minhash *m)
{
	if (!m)
		return;
	free(m->a);
	free(m->b);
	free(m);
}

int minhash_bands(const minhash *m) { return m->bands; }
int minhash_rows(const minhash *m) { return m->rows; }

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	return a < b ? -1 : a > b;
}

size_t minhash_sign(const minhash *m, const uint8_t *s, size_t n, uint64_t *keys, uint8_t *low8,
		    buf *shingles, buf *scratch)
{
	buf *wb = scratch;
	buf_reset(wb);
	size_t i = 0;
	while (i < n) {
		while (i < n && s[i] == ' ')
			i++;
		size_t start = i;
		while (i < n && s[i] != ' ')
			i++;
		if (i > start) {
			uint64_t h = XXH3_64bits(s + start, i - start);
			buf_add(wb, &h, sizeof(h));
		}
	}
	size_t nw = wb->len / sizeof(uint64_t);
	const uint64_t *w = (const uint64_t *)(void *)wb->data;
	memset(keys, 0, (size_t)m->bands * sizeof(uint64_t));
	memset(low8, 0, (size_t)m->k);
	if (shingles)
		buf_reset(shingles);
	if (nw == 0)
		return 0;

	size_t g = nw < (size_t)m->ngram ? nw : (size_t)m->ngram;
	size_t nsh = nw - g + 1;
	uint32_t mins[MINHASH_MAX_HASHES];
	for (int k = 0; k < m->k; k++)
		mins[k] = UINT32_MAX;
	const uint64_t *a = m->a, *b = m->b;
	const int kk = m->k;
	for (size_t j = 0; j < nsh; j++) {
		uint64_t h = XXH3_64bits(w + j, g * sizeof(uint64_t));
		if (shingles) {
			uint32_t lo = (uint32_t)h;
			buf_add(shingles, &lo, sizeof(lo));
		}
		for (int k = 0; k < kk; k++) {
			uint32_t v = (uint32_t)((a[k] * h + b[k]) >> 32);
			mins[k] = v < mins[k] ? v : mins[k];
		}
	}
	for (int band = 0; band < m->bands; band++)
		keys[band] = XXH3_64bits(mins + band * m->rows, (size_t)m->rows * sizeof(uint32_t));
	for (int k = 0; k < kk; k++)
		low8[k] = (uint8_t)mins[k];
	if (shingles) {
		uint32_t *v = (uint32_t *)(void *)shingles->data;
		qsort(v, nsh, sizeof(uint32_t), cmp_u32);
		size_t u = 0;
		for (size_t j = 0; j < nsh; j++)
			if (u == 0 || v[j] != v[u - 1])
				v[u++] = v[j];
		shingles->len = u * sizeof(uint32_t);
	}
	return nsh;
}

size_t minhash_words(const uint8_t *s, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		w += s[i] != ' ' && (i == 0 || s[i - 1] == ' ');
	return w;
}

double minhash_estimate(const uint8_t *a, const uint8_t *b, size_t k)
{
	if (k == 0)
		return 0;
	size_t eq = 0;
	for (size_t i = 0; i < k; i++)
		eq += a[i] == b[i];
	double c = 1.0 / 256, p = (double)eq / (double)k;
	double e = (p - c) / (1 - c);
	return e < 0 ? 0 : e;
}

double minhash_jaccard(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
	if (na == 0 && nb == 0)
		return 1;
	size_t i = 0, j = 0, both = 0;
	while (i < na && j < nb) {
		if (a[i] < b[j])
			i++;
		else if (a[i] > b[j])
			j++;
		else
			both++, i++, j++;
	}
	return (double)both / (double)(na + nb - both);
}
