/* dedup.c: see dedup.h. */
#include "dedup.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "input.h"
#include "json.h"
#include "minhash.h"
#include "textnorm.h"

void dedup_params_default(dedup_params *p)
{
	p->ngram = 5;
	p->bands = 14;
	p->rows = 8;
	p->seed = 1;
	p->norm = TEXTNORM_DEFAULT;
	p->min_words = DEDUP_MIN_WORDS;
}

/* ---- signing ---- */

struct dedup_signer {
	dedup_params p;
	minhash *mh;
	int keep_shingles;
	buf norm, scratch;
};

dedup_signer *dedup_signer_new(const dedup_params *p, int keep_shingles)
{
	minhash *mh = minhash_new(p->ngram, p->bands, p->rows, p->seed);
	if (!mh)
		return NULL;
	dedup_signer *g = xcalloc(1, sizeof(*g));
	g->p = *p;
	g->mh = mh;
	g->keep_shingles = keep_shingles;
	return g;
}

void dedup_signer_free(dedup_signer *g)
{
	if (!g)
		return;
	minhash_free(g->mh);
	buf_release(&g->norm);
	buf_release(&g->scratch);
	free(g);
}

void dedup_sign(dedup_signer *g, const uint8_t *text, size_t len, dedup_sig *sig)
{
	unsigned exact = g->p.norm & TEXTNORM_EXACT;
	size_t min_words = g->p.min_words > 0 ? (size_t)g->p.min_words : 1;
	size_t k = (size_t)g->p.bands * (size_t)g->p.rows;
	buf_reset(&sig->shingles);
	textnorm_apply(&g->norm, text, len, exact);
	XXH128_hash_t h = XXH3_128bits(g->norm.data, g->norm.len);
	sig->exact[0] = h.low64;
	sig->exact[1] = h.high64;
	if (g->p.norm != exact)
		textnorm_apply(&g->norm, text, len, g->p.norm);
	sig->words = minhash_words(g->norm.data, g->norm.len) >= min_words;
	if (!sig->words) {
		memset(sig->keys, 0, (size_t)g->p.bands * sizeof(uint64_t));
		memset(sig->low8, 0, k);
		return;
	}
	minhash_sign(g->mh, g->norm.data, g->norm.len, sig->keys, sig->low8, g->keep_shingles ? &sig->shingles : NULL,
		     &g->scratch);
}

struct dedup_batch {
	dedup_params p;
	dedup_signer *g;
	size_t n, cap, k;
	buf text, ids;
	size_t *text_off, *id_off;      /* id_off: offset + 1, 0 for none */
	uint64_t *recno, *length, *exact, *keys;
	uint8_t *low8, *words;
	uint32_t **shingles;
	size_t *nshingles;
};

dedup_batch *dedup_batch_new(const dedup_params *p, int keep_shingles)
{
	dedup_signer *g = dedup_signer_new(p, keep_shingles);
	if (!g)
		return NULL;
	dedup_batch *b = xcalloc(1, sizeof(*b));
	b->p = *p;
	b->g = g;
	b->k = (size_t)p->bands * (size_t)p->rows;
	return b;
}

static void batch_clear(dedup_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->shingles[i]);
	b->n = 0;
	buf_reset(&b->text);
	buf_reset(&b->ids);
}

void dedup_batch_free(dedup_batch *b)
{
	if (!b)
		return;
	batch_clear(b);
	dedup_signer_free(b->g);
	buf_release(&b->text);
	buf_release(&b->ids);
	free(b->text_off); free(b->id_off); free(b->recno); free(b->length); free(b->exact);
	free(b->keys); free(b->low8); free(b->words); free(b->shingles); free(b->nshingles);
	free(b);
}

void dedup_batch_add(dedup_batch *b, const uint8_t *text, size_t len, const char *id, size_t idlen,
		     uint64_t recno)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 1024;
		b->text_off = xrealloc(b->text_off, (b->cap + 1) * sizeof(size_t));
		b->id_off = xrealloc(b->id_off, b->cap * sizeof(size_t));
		b->recno = xrealloc(b->recno, b->cap * sizeof(uint64_t));
		b->length = xrealloc(b->length, b->cap * sizeof(uint64_t));
		b->exact = xrealloc(b->exact, 2 * b->cap * sizeof(uint64_t));
		b->keys = xrealloc(b->keys, b->cap * (size_t)b->p.bands * sizeof(uint64_t));
		b->low8 = xrealloc(b->low8, b->cap * b->k);
		b->words = xrealloc(b->words, b->cap);
		b->shingles = xrealloc(b->shingles, b->cap * sizeof(uint32_t *));
		b->nshingles = xrealloc(b->nshingles, b->cap * sizeof(size_t));
	}
	size_t i = b->n++;
	b->text_off[i] = b->text.len;
	buf_add(&b->text, text, len);
	b->text_off[i + 1] = b->text.len;
	b->id_off[i] = 0;
	if (id) {
		b->id_off[i] = b->ids.len + 1;
		buf_add(&b->ids, id, idlen);
		buf_addc(&b->ids, 0);
	}
	b->recno[i] = recno;
	b->length[i] = len;
	b->shingles[i] = NULL;
	b->nshingles[i] = 0;
}

size_t dedup_batch_count(const dedup_batch *b) { return b->n; }
size_t dedup_batch_bytes(const dedup_batch *b) { return b->text.len; }

void dedup_batch_sign(dedup_batch *b)
{
	dedup_sig sig = { 0 };
	for (size_t i = 0; i < b->n; i++) {
		sig.keys = b->keys + i * (size_t)b->p.bands;
		sig.low8 = b->low8 + i * b->k;
		dedup_sign(b->g, b->text.data + b->text_off[i], b->text_off[i + 1] - b->text_off[i], &sig);
		b->exact[2 * i] = sig.exact[0];
		b->exact[2 * i + 1] = sig.exact[1];
		b->words[i] = (uint8_t)sig.words;
		free(b->shingles[i]);
		b->shingles[i] = NULL;
		b->nshingles[i] = 0;
		if (sig.shingles.len) {
			b->nshingles[i] = sig.shingles.len / sizeof(uint32_t);
			b->shingles[i] = xmalloc(sig.shingles.len);
			memcpy(b->shingles[i], sig.shingles.data, sig.shingles.len);
		}
	}
	buf_release(&sig.shingles);
}

/* ---- the set ---- */

/* F_DROPPED: an index document that its run dropped. */
enum { F_INDEXED = 1, F_WORDS = 2, F_EXACT_DUP = 4, F_COUNTED = 8, F_DROPPED = 16 };

struct dedup_set {
	dedup_params p;
	size_t k, n, cap;
	uint64_t *exact, *length, *recno, *keys, *id_off;
	uint32_t *shard;
	uint8_t *low8, *flags;
	buf ids;
	/* shingle sets, only of documents signed with them */
	uint64_t *sh_off;
	uint32_t *sh_n;
	buf sh;
	/* shards */
	char **shard_names;
	uint64_t *shard_records;
	size_t nshards;
	/* results */
	uint32_t *parent, *kept;
	uint8_t *reason;
	float *sim;
	buf name;
	/* the last run an index records (run_docs: -1 if none), and the
	 * options of the last clustering */
	int64_t run_docs;
	char run_opts[128], opts[128];
};

dedup_set *dedup_set_new(const dedup_params *p)
{
	dedup_set *s = xcalloc(1, sizeof(*s));
	s->p = *p;
	s->k = (size_t)p->bands * (size_t)p->rows;
	s->run_docs = -1;
	return s;
}

void dedup_set_free(dedup_set *s)
{
	if (!s)
		return;
	free(s->exact); free(s->length); free(s->recno); free(s->keys); free(s->id_off);
	free(s->shard); free(s->low8); free(s->flags); free(s->sh_off); free(s->sh_n);
	buf_release(&s->ids);
	buf_release(&s->sh);
	buf_release(&s->name);
	for (size_t i = 0; i < s->nshards; i++)
		free(s->shard_names[i]);
	free(s->shard_names); free(s->shard_records);
	free(s->parent); free(s->kept); free(s->reason); free(s->sim);
	free(s);
}

const dedup_params *dedup_set_params(const dedup_set *s) { return &s->p; }
size_t dedup_set_count(const dedup_set *s) { return s->n; }
size_t dedup_set_nshards(const dedup_set *s) { return s->nshards; }
const char *dedup_set_shard_name(const dedup_set *s, uint32_t shard) { return s->shard_names[shard]; }
uint64_t dedup_set_shard_count(const dedup_set *s, uint32_t shard) { return s->shard_records[shard]; }
uint32_t dedup_set_doc_shard(const dedup_set *s, uint32_t doc) { return s->shard[doc]; }
uint64_t dedup_set_doc_recno(const dedup_set *s, uint32_t doc) { return s->recno[doc]; }

uint32_t dedup_set_shard(dedup_set *s, const char *name)
{
	/* Few shards in practice; the last one is the usual hit. */
	for (size_t i = s->nshards; i-- > 0;)
		if (strcmp(s->shard_names[i], name) == 0)
			return (uint32_t)i;
	s->shard_names = xrealloc(s->shard_names, (s->nshards + 1) * sizeof(char *));
	s->shard_records = xrealloc(s->shard_records, (s->nshards + 1) * sizeof(uint64_t));
	s->shard_names[s->nshards] = xstrdup(name);
	s->shard_records[s->nshards] = UINT64_MAX; /* unknown until set */
	return (uint32_t)s->nshards++;
}

void dedup_set_shard_records(dedup_set *s, uint32_t shard, uint64_t records)
{
	s->shard_records[shard] = records;
}

static void set_reserve(dedup_set *s, size_t more)
{
	if (s->n + more <= s->cap)
		return;
	size_t cap = s->cap ? s->cap : 1024;
	while (cap < s->n + more)
		cap *= 2;
	s->exact = xrealloc(s->exact, 2 * cap * sizeof(uint64_t));
	s->length = xrealloc(s->length, cap * sizeof(uint64_t));
	s->recno = xrealloc(s->recno, cap * sizeof(uint64_t));
	s->id_off = xrealloc(s->id_off, cap * sizeof(uint64_t));
	s->keys = xrealloc(s->keys, cap * (size_t)s->p.bands * sizeof(uint64_t));
	s->shard = xrealloc(s->shard, cap * sizeof(uint32_t));
	s->low8 = xrealloc(s->low8, cap * s->k);
	s->flags = xrealloc(s->flags, cap);
	if (s->sh_off) {
		s->sh_off = xrealloc(s->sh_off, cap * sizeof(uint64_t));
		s->sh_n = xrealloc(s->sh_n, cap * sizeof(uint32_t));
	}
	s->cap = cap;
}

/* Append one document; the arrays have room. */
static void set_add(dedup_set *s, uint32_t shard, uint64_t recno, const char *id, size_t idlen, uint64_t length,
		    const uint64_t exact[2], const uint64_t *keys, const uint8_t *low8, uint8_t flags,
		    const uint32_t *sh, size_t nsh)
{
	size_t i = s->n++;
	s->shard[i] = shard;
	s->recno[i] = recno;
	s->id_off[i] = 0;
	if (id) {
		s->id_off[i] = s->ids.len + 1;
		buf_add(&s->ids, id, idlen);
		buf_addc(&s->ids, 0);
	}
	s->length[i] = length;
	s->exact[2 * i] = exact[0];
	s->exact[2 * i + 1] = exact[1];
	memcpy(s->keys + i * (size_t)s->p.bands, keys, (size_t)s->p.bands * sizeof(uint64_t));
	memcpy(s->low8 + i * s->k, low8, s->k);
	s->flags[i] = flags;
	if (nsh && !s->sh_off) {
		s->sh_off = xcalloc(s->cap, sizeof(uint64_t));
		s->sh_n = xcalloc(s->cap, sizeof(uint32_t));
	}
	if (s->sh_off) {
		s->sh_off[i] = s->sh.len / sizeof(uint32_t);
		s->sh_n[i] = (uint32_t)nsh;
		buf_add(&s->sh, sh, nsh * sizeof(uint32_t));
	}
}

void dedup_set_add_batch(dedup_set *s, dedup_batch *b, uint32_t shard, int indexed)
{
	set_reserve(s, b->n);
	for (size_t i = 0; i < b->n; i++) {
		const char *id = b->id_off[i] ? (const char *)b->ids.data + b->id_off[i] - 1 : NULL;
		set_add(s, shard, b->recno[i], id, id ? strlen(id) : 0, b->length[i], b->exact + 2 * i,
			b->keys + i * (size_t)b->p.bands, b->low8 + i * b->k,
			(uint8_t)((b->words[i] ? F_WORDS : 0) | (indexed ? F_INDEXED : 0)), b->shingles[i], b->nshingles[i]);
	}
	batch_clear(b);
}

void dedup_set_add_sig(dedup_set *s, uint32_t shard, uint64_t recno, const char *id, size_t idlen,
		       uint64_t length, const dedup_sig *sig)
{
	set_reserve(s, 1);
	set_add(s, shard, recno, id, id ? idlen : 0, length, sig->exact, sig->keys, sig->low8,
		(uint8_t)(sig->words ? F_WORDS : 0), (const uint32_t *)sig->shingles.data,
		sig->shingles.len / sizeof(uint32_t));
}

const char *dedup_set_doc_name(dedup_set *s, uint32_t doc)
{
	if (s->id_off[doc])
		return (const char *)s->ids.data + s->id_off[doc] - 1;
	char num[32];
	snprintf(num, sizeof(num), ":%llu", (unsigned long long)s->recno[doc]);
	buf_reset(&s->name);
	buf_adds(&s->name, s->shard_names[s->shard[doc]]);
	buf_adds(&s->name, num);
	buf_addc(&s->name, 0);
	return (const char *)s->name.data;
}

/* The clustering options an index records for its last run. */
static void options_name(const dedup_cluster_opts *o, char *out, size_t n)
{
	snprintf(out, n, "keep=%s near=%d verify=%d threshold=%.6g", o->keep_longest ? "longest" : "first",
		 o->near != 0, o->near && o->verify, o->near && o->verify ? o->threshold : 0.0);
}

/* Take documents [lo, hi) out of the set (the string pools keep their
 * bytes). */
static void set_remove(dedup_set *s, size_t lo, size_t hi)
{
	size_t tail = s->n - hi, d = hi - lo, nb = (size_t)s->p.bands;
#define SHIFT(arr, per) memmove((arr) + lo * (per), (arr) + hi * (per), tail * (per) * sizeof(*(arr)))
	SHIFT(s->exact, 2);
	SHIFT(s->length, 1);
	SHIFT(s->recno, 1);
	SHIFT(s->id_off, 1);
	SHIFT(s->keys, nb);
	SHIFT(s->shard, 1);
	SHIFT(s->low8, s->k);
	SHIFT(s->flags, 1);
	if (s->sh_off) {
		SHIFT(s->sh_off, 1);
		SHIFT(s->sh_n, 1);
	}
#undef SHIFT
	s->n -= d;
}

int dedup_set_replay(dedup_set *s, const dedup_cluster_opts *o)
{
	size_t first = 0;
	while (first < s->n && (s->flags[first] & F_INDEXED))
		first++;
	char opts[sizeof(s->opts)];
	options_name(o, opts, sizeof(opts));
	size_t run = s->n - first;
	if (s->run_docs < 0 || (uint64_t)s->run_docs != run || run > first || strcmp(opts, s->run_opts) != 0)
		return 0;
	size_t lo = first - run;
	for (size_t j = 0; j < run; j++) {
		size_t a = lo + j, b = first + j;
		if (strcmp(s->shard_names[s->shard[a]], s->shard_names[s->shard[b]]) != 0 || s->recno[a] != s->recno[b] ||
		    s->length[a] != s->length[b] || s->exact[2 * a] != s->exact[2 * b] ||
		    s->exact[2 * a + 1] != s->exact[2 * b + 1])
			return 0;
	}
	set_remove(s, lo, first);
	s->run_docs = -1;
	return 1;
}

double dedup_set_bytes_per_doc(const dedup_set *s)
{
	if (s->n == 0)
		return 0;
	/* The arrays per document, the result arrays of clustering, the id and
	 * shingle pools, and the one band's sort array live at a time. */
	double per = 2 * 8 + 8 + 8 + 8 + (double)s->p.bands * 8 + 4 + (double)s->k + 1 + 4 + 4 + 1 + 4 + 16;
	if (s->sh_off)
		per += 12;
	return per + (double)(s->ids.len + s->sh.len) / (double)s->n;
}

/* ---- clustering ---- */

static uint32_t uf_find(uint32_t *parent, uint32_t x)
{
	while (parent[x] != x) {
		parent[x] = parent[parent[x]];
		x = parent[x];
	}
	return x;
}

/* The root is the smaller number: the first document of a component. */
static void uf_union(uint32_t *parent, uint32_t a, uint32_t b)
{
	a = uf_find(parent, a);
	b = uf_find(parent, b);
	if (a < b)
		parent[b] = a;
	else if (b < a)
		parent[a] = b;
}

struct keyed { uint64_t key, key2; uint32_t doc; };

static int cmp_keyed(const void *x, const void *y)
{
	const struct keyed *a = x, *b = y;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (a->key2 != b->key2)
		return a->key2 < b->key2 ? -1 : 1;
	return a->doc < b->doc ? -1 : a->doc > b->doc;
}

static double similarity(const dedup_set *s, uint32_t a, uint32_t b)
{
	if (s->sh_off && s->sh_n[a] && s->sh_n[b]) {
		const uint32_t *sh = (const uint32_t *)(const void *)s->sh.data;
		return minhash_jaccard(sh + s->sh_off[a], s->sh_n[a], sh + s->sh_off[b], s->sh_n[b]);
	}
	return minhash_estimate(s->low8 + (size_t)a * s->k, s->low8 + (size_t)b * s->k, s->k);
}

/* Under verify, a document is compared with at most this many earlier
 * documents of one LSH bucket, and with at most this many documents kept
 * before it in its component, so that a huge bucket or component cannot
 * make the check quadratic (a comparison left out keeps a document). */
#define VERIFY_MAX_PER_BUCKET 64
#define VERIFY_MAX_KEPT 256

/* Where a document comes in keep order (smaller first, then by number):
 * documents an earlier run kept, then those it dropped, then this run's,
 * longest first under keep_longest. */
static uint64_t keep_rank(const dedup_set *s, uint32_t i, int longest)
{
	uint64_t cls = !(s->flags[i] & F_INDEXED) ? 2 : (s->flags[i] & F_DROPPED) ? 1 : 0;
	uint64_t len = s->length[i] < (1ull << 60) ? s->length[i] : (1ull << 60) - 1;
	return cls << 61 | (cls == 2 && longest ? (1ull << 60) - 1 - len : 0);
}

/* Candidate pairs: documents sharing a band key, except the copies already
 * grouped as exact duplicates (they share every band).  Joins them in
 * s->parent, under verify only at the threshold. */
static void join_candidates(dedup_set *s, const dedup_cluster_opts *o, struct keyed *v, dedup_stats *st)
{
	size_t n = s->n;
	for (int band = 0; band < s->p.bands; band++) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if ((s->flags[i] & (F_WORDS | F_EXACT_DUP)) == F_WORDS)
				v[m++] = (struct keyed){ s->keys[i * (size_t)s->p.bands + (size_t)band], 0, (uint32_t)i };
		qsort(v, m, sizeof(*v), cmp_keyed);
		for (size_t lo = 0, hi; lo < m; lo = hi) {
			for (hi = lo + 1; hi < m && v[hi].key == v[lo].key; hi++)
				;
			for (size_t j = lo + 1; j < hi; j++) {
				if (!o->verify) {
					uf_union(s->parent, v[lo].doc, v[j].doc);
					continue;
				}
				size_t first = j - lo > VERIFY_MAX_PER_BUCKET ? j - VERIFY_MAX_PER_BUCKET : lo;
				for (size_t i = first; i < j; i++) {
					if (uf_find(s->parent, v[i].doc) == uf_find(s->parent, v[j].doc))
						continue;
					st->candidates++;
					if (similarity(s, v[i].doc, v[j].doc) >= o->threshold) {
						st->verified++;
						uf_union(s->parent, v[i].doc, v[j].doc);
					}
				}
			}
		}
	}
}

static void drop(dedup_set *s, uint32_t i, int reason, uint32_t kept, double sim, dedup_stats *st)
{
	s->reason[i] = (uint8_t)reason;
	s->kept[i] = kept;
	s->sim[i] = (float)sim;
	if (reason == DEDUP_EXACT)
		st->exact++;
	else
		st->near++;
}

void dedup_set_cluster(dedup_set *s, const dedup_cluster_opts *o, dedup_stats *st)
{
	size_t n = s->n;
	int longest = o->keep_longest;
	memset(st, 0, sizeof(*st));
	st->docs = n;
	options_name(o, s->opts, sizeof(s->opts));
	free(s->parent); free(s->kept); free(s->reason); free(s->sim);
	s->parent = xmalloc((n ? n : 1) * sizeof(uint32_t));
	s->kept = xmalloc((n ? n : 1) * sizeof(uint32_t));
	s->reason = xcalloc(n ? n : 1, 1);
	s->sim = xcalloc(n ? n : 1, sizeof(float));
	for (size_t i = 0; i < n; i++) {
		s->parent[i] = (uint32_t)i;
		s->kept[i] = (uint32_t)i;
		s->flags[i] &= (uint8_t)~(F_EXACT_DUP | F_COUNTED);
		st->indexed += (s->flags[i] & F_INDEXED) != 0;
		st->short_docs += !(s->flags[i] & (F_WORDS | F_INDEXED));
	}
	struct keyed *v = xmalloc((n ? n : 1) * sizeof(*v));

	/* Exact duplicates: equal hashes.  Each group keeps its first document
	 * in keep order; the others are exact drops, whatever comes next. */
	for (size_t i = 0; i < n; i++)
		v[i] = (struct keyed){ s->exact[2 * i + 1], s->exact[2 * i], (uint32_t)i };
	qsort(v, n, sizeof(*v), cmp_keyed);
	for (size_t lo = 0, hi; lo < n; lo = hi) {
		uint32_t rep = v[lo].doc;
		for (hi = lo + 1; hi < n && v[hi].key == v[lo].key && v[hi].key2 == v[lo].key2; hi++)
			if (keep_rank(s, v[hi].doc, longest) < keep_rank(s, rep, longest))
				rep = v[hi].doc;
		for (size_t j = lo; j < hi; j++) {
			uint32_t d = v[j].doc;
			if (d == rep)
				continue;
			s->flags[d] |= F_EXACT_DUP;
			uf_union(s->parent, d, rep);
			if (!(s->flags[d] & F_INDEXED))
				drop(s, d, DEDUP_EXACT, rep, 1, st);
		}
	}

	if (o->near)
		join_candidates(s, o, v, st);

	/* Near duplicates among the documents left, component by component in
	 * keep order. */
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		s->parent[i] = uf_find(s->parent, (uint32_t)i); /* from here, each points at its root */
		if (o->near && (s->flags[i] & (F_WORDS | F_EXACT_DUP)) == F_WORDS)
			v[m++] = (struct keyed){ s->parent[i], keep_rank(s, (uint32_t)i, longest), (uint32_t)i };
	}
	qsort(v, m, sizeof(*v), cmp_keyed);
	uint32_t *keepers = xmalloc(VERIFY_MAX_KEPT * sizeof(uint32_t));
	for (size_t lo = 0, hi; lo < m; lo = hi) {
		for (hi = lo + 1; hi < m && v[hi].key == v[lo].key; hi++)
			;
		if (hi - lo < 2)
			continue;
		size_t nk = 0;
		for (size_t j = lo; j < hi; j++) {
			uint32_t d = v[j].doc;
			if (s->flags[d] & F_INDEXED) {
				/* An earlier run's verdict stands; what it kept is an original. */
				if (!(s->flags[d] & F_DROPPED) && nk < VERIFY_MAX_KEPT)
					keepers[nk++] = d;
				continue;
			}
			if (!o->verify) {
				/* Every member of a component goes but the first kept. */
				if (nk)
					drop(s, d, DEDUP_NEAR, keepers[0], similarity(s, d, keepers[0]), st);
				else
					keepers[nk++] = d;
				continue;
			}
			double best = -1;
			uint32_t to = d;
			for (size_t k = 0; k < nk; k++) {
				double sim = similarity(s, d, keepers[k]);
				if (sim >= o->threshold && sim > best)
					best = sim, to = keepers[k];
			}
			if (to != d)
				drop(s, d, DEDUP_NEAR, to, best, st);
			else if (nk < VERIFY_MAX_KEPT)
				keepers[nk++] = d;
		}
	}
	free(keepers);
	free(v);

	/* Clusters: the documents kept in the end that something was dropped
	 * for (an exact drop's original may itself be a near drop). */
	for (size_t i = 0; i < n; i++) {
		if (s->reason[i] == DEDUP_KEPT)
			continue;
		uint32_t k = s->kept[i];
		if (s->reason[k] != DEDUP_KEPT)
			k = s->kept[k];
		if (!(s->flags[k] & F_COUNTED)) {
			s->flags[k] |= F_COUNTED;
			st->clusters++;
		}
	}
	for (size_t i = 0; i < n; i++)
		s->flags[i] &= (uint8_t)~F_COUNTED;
}

void dedup_set_verdict(const dedup_set *s, uint32_t doc, dedup_verdict *v)
{
	v->reason = s->reason[doc];
	v->kept = s->kept[doc];
	v->similarity = round(s->sim[doc] * 1e4) / 1e4; /* four places are plenty to read */
}

/* ---- signature files and indexes ---- */

/* The header of a signature file or index (version 2: exact hashes under
 * TEXTNORM_EXACT, min_words); run_docs >= 0 adds the last run's count and
 * options. */
static void meta_json(const dedup_params *p, const char *format, int64_t run_docs, const char *run_opts, buf *out)
{
	char m[512];
	int k = snprintf(m, sizeof(m),
			 "{\"format\": \"%s\", \"version\": 2, \"ngram\": %d, \"bands\": %d, \"rows\": %d, "
			 "\"seed\": %llu, \"normalize\": \"%s\", \"min_words\": %d",
			 format, p->ngram, p->bands, p->rows, (unsigned long long)p->seed, textnorm_name(p->norm),
			 p->min_words);
	buf_reset(out);
	buf_add(out, m, (size_t)k);
	if (run_docs >= 0) {
		k = snprintf(m, sizeof(m), ", \"run_docs\": %lld, \"run_opts\": \"%s\"", (long long)run_docs, run_opts);
		buf_add(out, m, (size_t)k);
	}
	buf_adds(out, "}");
}

int dedup_sigfile_write(dedup_set *s, int fd, int index, int with_shingles)
{
	stream_writer *w = stream_writer_open(fd, NULL);
	buf meta = { 0 };
	int64_t run = 0;
	for (size_t i = 0; i < s->n; i++)
		run += !(s->flags[i] & F_INDEXED);
	meta_json(&s->p, "sluice-dedup-signatures", index ? run : -1, s->opts, &meta);
	int ret = stream_writer_set_meta(w, (const char *)meta.data, meta.len);
	buf_release(&meta);
	rec *r = rec_new();
	for (size_t i = 0; i < s->n && ret == 0; i++) {
		rec_clear(r);
		const char *shard = s->shard_names[s->shard[i]];
		uint8_t ex[16];
		store_u64le(ex, s->exact[2 * i]);
		store_u64le(ex + 8, s->exact[2 * i + 1]);
		rec_set_str(r, "shard", shard, strlen(shard));
		rec_set_int(r, "recno", (int64_t)s->recno[i]);
		if (s->id_off[i]) {
			const char *id = (const char *)s->ids.data + s->id_off[i] - 1;
			rec_set_str(r, "id", id, strlen(id));
		}
		rec_set_int(r, "length", (int64_t)s->length[i]);
		rec_set(r, "exact", 5, REC_U8S, ex, 16);
		if (index && ((s->flags[i] & F_DROPPED) || (s->reason && s->reason[i] != DEDUP_KEPT)))
			rec_set_int(r, "dropped", 1);
		if (s->flags[i] & F_WORDS) {
			uint8_t kb[MINHASH_MAX_HASHES * 8];
			for (int b = 0; b < s->p.bands; b++)
				store_u64le(kb + 8 * b, s->keys[i * (size_t)s->p.bands + (size_t)b]);
			rec_set(r, "keys", 4, REC_U8S, kb, (size_t)s->p.bands * 8);
			rec_set(r, "low8", 4, REC_U8S, s->low8 + i * s->k, s->k);
			if (with_shingles && s->sh_off && s->sh_n[i])
				rec_set_u32s(r, "shingles", (const uint32_t *)(const void *)s->sh.data + s->sh_off[i],
					     s->sh_n[i]);
		}
		ret = stream_write(w, r);
	}
	/* The record count of each shard, which the apply pass checks. */
	for (size_t i = 0; i < s->nshards && ret == 0 && !index; i++) {
		if (s->shard_records[i] == UINT64_MAX)
			continue;
		rec_clear(r);
		rec_set_str(r, "shard", s->shard_names[i], strlen(s->shard_names[i]));
		rec_set_int(r, "records", (int64_t)s->shard_records[i]);
		ret = stream_write(w, r);
	}
	rec_free(r);
	int saved = errno;
	if (stream_writer_close(w) < 0 && ret == 0)
		return -1;
	errno = saved;
	return ret;
}

/* Check the header metadata against s's parameters. */
static int check_meta(dedup_set *s, input *in, const char *format, int indexed, char *err, size_t errlen)
{
	size_t len;
	const char *m = input_meta(in, &len);
	rec *r = rec_new();
	char jerr[128];
	int ret = -1;
	int64_t ngram, bands, rows, seed, version, min_words, run_docs;
	const rec_field *f, *nf;
	if (len == 0 || json_parse_line(r, m, len, jerr, sizeof(jerr)) < 0 || !(f = rec_get(r, "format")) ||
	    f->type != REC_STR || f->len != strlen(format) || memcmp(f->val, format, f->len) != 0) {
		snprintf(err, errlen, "not a %s file", format);
		goto out;
	}
	if (rec_get_int(r, "version", &version) < 0 || version != (s ? 2 : 1)) {
		snprintf(err, errlen, "unsupported %s version%s", format,
			 s && version == 1 ? " (1: made by an older sluice-dedup, which compared other exact hashes; sign again)"
					   : "");
		goto out;
	}
	if (!s) {
		ret = 0;
		goto out;
	}
	if (rec_get_int(r, "ngram", &ngram) < 0 || rec_get_int(r, "bands", &bands) < 0 ||
	    rec_get_int(r, "rows", &rows) < 0 || rec_get_int(r, "seed", &seed) < 0 ||
	    rec_get_int(r, "min_words", &min_words) < 0 || !(nf = rec_get(r, "normalize")) || nf->type != REC_STR) {
		snprintf(err, errlen, "header lacks a parameter");
		goto out;
	}
	const char *want = textnorm_name(s->p.norm);
	if (ngram != s->p.ngram || bands != s->p.bands || rows != s->p.rows || (uint64_t)seed != s->p.seed ||
	    min_words != s->p.min_words || nf->len != strlen(want) || memcmp(nf->val, want, nf->len) != 0) {
		snprintf(err, errlen,
			 "signed with other parameters (ngram %lld, bands %lld, rows %lld, seed %lld, min-words %lld, "
			 "normalize %.*s)",
			 (long long)ngram, (long long)bands, (long long)rows, (long long)seed, (long long)min_words,
			 (int)(nf->len > 64 ? 64 : nf->len), (const char *)nf->val);
		goto out;
	}
	const rec_field *ro = rec_get(r, "run_opts");
	if (indexed && rec_get_int(r, "run_docs", &run_docs) == 0 && run_docs >= 0 && ro && ro->type == REC_STR &&
	    ro->len < sizeof(s->run_opts)) {
		s->run_docs = run_docs;
		memcpy(s->run_opts, ro->val, ro->len);
		s->run_opts[ro->len] = '\0';
	}
	ret = 0;
out:
	rec_free(r);
	return ret;
}

static const rec_field *get_typed(const rec *r, const char *name, int type)
{
	const rec_field *f = rec_get(r, name);
	return f && f->type == type ? f : NULL;
}

static int sigfile_load(dedup_set *s, input *in, int indexed, char *err, size_t errlen)
{
	rec *r = rec_new();
	int got, ret = -1;
	uint64_t n = 0;
	uint32_t *sh = NULL;
	buf name = { 0 };
	while ((got = input_read(in, r)) == 1) {
		n++;
		if (n == 1 && check_meta(s, in, "sluice-dedup-signatures", indexed, err, errlen) < 0)
			goto out;
		const rec_field *fs = get_typed(r, "shard", REC_STR), *fe = get_typed(r, "exact", REC_U8S);
		const rec_field *fk = get_typed(r, "keys", REC_U8S), *fl = get_typed(r, "low8", REC_U8S);
		const rec_field *fi = get_typed(r, "id", REC_STR), *fh = get_typed(r, "shingles", REC_U32S);
		int64_t recno, length, records, dropped = 0;
		if (!fs || memchr(fs->val, 0, fs->len)) {
			snprintf(err, errlen, "record %llu: no valid shard name", (unsigned long long)n);
			goto out;
		}
		buf_reset(&name);
		buf_add(&name, fs->val, fs->len);
		buf_addc(&name, 0);
		uint32_t shard = dedup_set_shard(s, (const char *)name.data);
		if (!fe && rec_get_int(r, "records", &records) == 0 && records >= 0) {
			if (!indexed)
				dedup_set_shard_records(s, shard, (uint64_t)records);
			continue;
		}
		if (!fe || fe->len != 16 || rec_get_int(r, "recno", &recno) < 0 || recno < 1 ||
		    rec_get_int(r, "length", &length) < 0 || length < 0) {
			snprintf(err, errlen, "record %llu: missing or bad recno, length or exact field",
				 (unsigned long long)n);
			goto out;
		}
		if (!fk != !fl || (fk && (fk->len != (size_t)s->p.bands * 8 || fl->len != s->k)) || (fh && !fk) ||
		    (fi && memchr(fi->val, 0, fi->len))) {
			snprintf(err, errlen, "record %llu: bad keys, low8, shingles or id field", (unsigned long long)n);
			goto out;
		}
		if (s->n >= UINT32_MAX - 1) {
			snprintf(err, errlen, "record %llu: too many documents", (unsigned long long)n);
			goto out;
		}
		size_t nsh = fh ? fh->len / 4 : 0;
		if (nsh) {
			sh = xrealloc(sh, nsh * sizeof(uint32_t));
			for (size_t i = 0; i < nsh; i++) {
				sh[i] = rec_u32_at(fh, i);
				if (i && sh[i] <= sh[i - 1]) {
					snprintf(err, errlen, "record %llu: shingles not sorted", (unsigned long long)n);
					goto out;
				}
			}
		}
		uint64_t ex[2] = { load_u64le(fe->val), load_u64le(fe->val + 8) };
		uint64_t keys[MINHASH_MAX_HASHES];
		uint8_t zero[MINHASH_MAX_HASHES] = { 0 };
		for (int b = 0; b < s->p.bands; b++)
			keys[b] = fk ? load_u64le(fk->val + 8 * b) : 0;
		if (rec_get(r, "dropped") && (rec_get_int(r, "dropped", &dropped) < 0 || dropped < 0 || dropped > 1)) {
			snprintf(err, errlen, "record %llu: bad dropped field", (unsigned long long)n);
			goto out;
		}
		set_reserve(s, 1);
		set_add(s, shard, (uint64_t)recno, fi ? (const char *)fi->val : NULL, fi ? fi->len : 0, (uint64_t)length,
			ex, keys, fl ? fl->val : zero,
			(uint8_t)((fk ? F_WORDS : 0) | (indexed ? F_INDEXED : 0) | (indexed && dropped ? F_DROPPED : 0)),
			sh, nsh);
	}
	if (got < 0) {
		snprintf(err, errlen, "%s", input_error(in));
		goto out;
	}
	if (n == 0 && check_meta(s, in, "sluice-dedup-signatures", indexed, err, errlen) < 0)
		goto out;
	ret = 0;
out:
	free(sh);
	buf_release(&name);
	rec_free(r);
	return ret;
}

int dedup_sigfile_read(dedup_set *s, const char *path, int indexed, char *err, size_t errlen)
{
	input *in = input_open(path, INPUT_RECORDS);
	if (!in) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return -1;
	}
	int ret = sigfile_load(s, in, indexed, err, errlen);
	input_close(in);
	return ret;
}

int dedup_sigfile_read_mem(dedup_set *s, const void *p, size_t n, int indexed, char *err, size_t errlen)
{
	input *in = input_open_mem(p, n, INPUT_RECORDS);
	int ret = sigfile_load(s, in, indexed, err, errlen);
	input_close(in);
	return ret;
}

/* ---- drop lists ---- */

const char *dedup_reason_name(int reason)
{
	return reason == DEDUP_EXACT ? "exact" : reason == DEDUP_NEAR ? "near" : "kept";
}

int dedup_drops_write(dedup_set *s, int fd)
{
	stream_writer *w = stream_writer_open(fd, NULL);
	static const char meta[] = "{\"format\": \"sluice-dedup-drops\", \"version\": 1}";
	int ret = stream_writer_set_meta(w, meta, sizeof(meta) - 1);
	rec *r = rec_new();
	for (size_t i = 0; i < s->nshards && ret == 0; i++) {
		if (s->shard_records[i] == UINT64_MAX)
			continue; /* a shard known only from the index */
		rec_clear(r);
		rec_set_str(r, "shard", s->shard_names[i], strlen(s->shard_names[i]));
		rec_set_int(r, "records", (int64_t)s->shard_records[i]);
		ret = stream_write(w, r);
	}
	for (size_t i = 0; i < s->n && ret == 0; i++) {
		if (s->reason[i] == DEDUP_KEPT)
			continue;
		rec_clear(r);
		const char *shard = s->shard_names[s->shard[i]];
		rec_set_str(r, "shard", shard, strlen(shard));
		rec_set_int(r, "recno", (int64_t)s->recno[i]);
		const char *reason = dedup_reason_name(s->reason[i]);
		rec_set_str(r, "reason", reason, strlen(reason));
		const char *dup = dedup_set_doc_name(s, s->kept[i]);
		rec_set_str(r, "dup_of", dup, strlen(dup));
		dedup_verdict v;
		dedup_set_verdict(s, (uint32_t)i, &v);
		rec_set_float(r, "similarity", v.similarity);
		ret = stream_write(w, r);
	}
	rec_free(r);
	int saved = errno;
	if (stream_writer_close(w) < 0 && ret == 0)
		return -1;
	errno = saved;
	return ret;
}

struct drop_entry {
	uint32_t shard;
	dedup_drop d;
};

struct dedup_drops {
	char **names;
	uint64_t *records;
	size_t nshards;
	struct drop_entry *e;
	dedup_drop *sorted;
	size_t n, cap;
	buf strings;
};

void dedup_drops_free(dedup_drops *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nshards; i++)
		free(d->names[i]);
	free(d->names);
	free(d->records);
	for (size_t i = 0; i < d->n; i++)
		free((char *)d->e[i].d.dup_of);
	free(d->e);
	free(d->sorted);
	free(d);
}

static int cmp_drop(const void *x, const void *y)
{
	const struct drop_entry *a = x, *b = y;
	if (a->shard != b->shard)
		return a->shard < b->shard ? -1 : 1;
	return a->d.recno < b->d.recno ? -1 : a->d.recno > b->d.recno;
}

static long drops_find(const dedup_drops *d, const char *name, size_t len)
{
	for (size_t i = 0; i < d->nshards; i++)
		if (strlen(d->names[i]) == len && memcmp(d->names[i], name, len) == 0)
			return (long)i;
	return -1;
}

static dedup_drops *drops_load(input *in, char *err, size_t errlen)
{
	dedup_drops *d = xcalloc(1, sizeof(*d));
	rec *r = rec_new();
	int got;
	uint64_t n = 0;
	while ((got = input_read(in, r)) == 1) {
		n++;
		if (n == 1 && check_meta(NULL, in, "sluice-dedup-drops", 0, err, errlen) < 0)
			goto bad;
		const rec_field *fs = get_typed(r, "shard", REC_STR);
		int64_t records, recno;
		double sim;
		if (!fs || memchr(fs->val, 0, fs->len)) {
			snprintf(err, errlen, "record %llu: no valid shard name", (unsigned long long)n);
			goto bad;
		}
		long sh = drops_find(d, (const char *)fs->val, fs->len);
		if (rec_get_int(r, "records", &records) == 0) {
			if (records < 0 || sh >= 0) {
				snprintf(err, errlen, "record %llu: bad or repeated shard record", (unsigned long long)n);
				goto bad;
			}
			d->names = xrealloc(d->names, (d->nshards + 1) * sizeof(char *));
			d->records = xrealloc(d->records, (d->nshards + 1) * sizeof(uint64_t));
			d->names[d->nshards] = xstrndup((const char *)fs->val, fs->len);
			d->records[d->nshards++] = (uint64_t)records;
			continue;
		}
		const rec_field *fr = get_typed(r, "reason", REC_STR), *fd = get_typed(r, "dup_of", REC_STR);
		int reason = 0;
		if (fr && fr->len == 5 && memcmp(fr->val, "exact", 5) == 0)
			reason = DEDUP_EXACT;
		else if (fr && fr->len == 4 && memcmp(fr->val, "near", 4) == 0)
			reason = DEDUP_NEAR;
		if (sh < 0 || rec_get_int(r, "recno", &recno) < 0 || recno < 1 || (uint64_t)recno > d->records[sh] ||
		    !reason || !fd || rec_get_double(r, "similarity", &sim) < 0) {
			snprintf(err, errlen, "record %llu: bad drop (shard not listed first, or a field missing or out of range)",
				 (unsigned long long)n);
			goto bad;
		}
		if (d->n == d->cap) {
			d->cap = d->cap ? 2 * d->cap : 256;
			d->e = xrealloc(d->e, d->cap * sizeof(*d->e));
		}
		struct drop_entry *e = &d->e[d->n++];
		e->shard = (uint32_t)sh;
		e->d.recno = (uint64_t)recno;
		e->d.reason = reason;
		e->d.similarity = sim;
		e->d.dup_of = xstrndup((const char *)fd->val, fd->len);
	}
	if (got < 0) {
		snprintf(err, errlen, "%s", input_error(in));
		goto bad;
	}
	if (n == 0 && check_meta(NULL, in, "sluice-dedup-drops", 0, err, errlen) < 0)
		goto bad;
	qsort(d->e, d->n, sizeof(*d->e), cmp_drop);
	d->sorted = xmalloc((d->n ? d->n : 1) * sizeof(dedup_drop));
	for (size_t i = 0; i < d->n; i++) {
		if (i && d->e[i].shard == d->e[i - 1].shard && d->e[i].d.recno == d->e[i - 1].d.recno) {
			snprintf(err, errlen, "record %llu dropped twice in shard %s", (unsigned long long)d->e[i].d.recno,
				 d->names[d->e[i].shard]);
			goto bad;
		}
		d->sorted[i] = d->e[i].d;
	}
	rec_free(r);
	return d;
bad:
	rec_free(r);
	dedup_drops_free(d);
	return NULL;
}

dedup_drops *dedup_drops_read(const char *path, char *err, size_t errlen)
{
	input *in = input_open(path, INPUT_RECORDS);
	if (!in) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return NULL;
	}
	dedup_drops *d = drops_load(in, err, errlen);
	input_close(in);
	return d;
}

dedup_drops *dedup_drops_read_mem(const void *p, size_t n, char *err, size_t errlen)
{
	input *in = input_open_mem(p, n, INPUT_RECORDS);
	dedup_drops *d = drops_load(in, err, errlen);
	input_close(in);
	return d;
}

long dedup_drops_shard(const dedup_drops *d, const char *shard, uint64_t *records, const dedup_drop **first)
{
	long sh = drops_find(d, shard, strlen(shard));
	if (sh < 0)
		return -1;
	*records = d->records[sh];
	size_t lo = 0;
	while (lo < d->n && d->e[lo].shard < (uint32_t)sh)
		lo++;
	size_t hi = lo;
	while (hi < d->n && d->e[hi].shard == (uint32_t)sh)
		hi++;
	*first = d->sorted + lo;
	return (long)(hi - lo);
}
