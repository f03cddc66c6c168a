/* quality.c: Gopher, C4 and FineWeb measurements over one document. */
#include "quality.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include <xxhash.h>

#include "utf8.h"

static const char *const metric_names[Q_METRIC_COUNT] = {
	"chars", "bytes", "words", "lines", "nonsymbol_words", "mean_word_length", "hash_ratio",
	"ellipsis_ratio", "bullet_lines", "ellipsis_lines", "alpha_words", "stop_words",
	"dup_para_frac", "dup_para_chars", "dup_line_frac", "dup_line_chars", "top_ngram",
	"dup_ngram", "line_punct", "short_lines", "line_char_dup", "newline_ratio",
};

const char *quality_metric_name(quality_metric m)
{
	return m < Q_METRIC_COUNT ? metric_names[m] : "?";
}

int quality_metric_find(const char *name, size_t len, int *takes_param)
{
	for (int i = 0; i < Q_METRIC_COUNT; i++) {
		if (strlen(metric_names[i]) == len && memcmp(metric_names[i], name, len) == 0) {
			*takes_param = i == Q_TOP_NGRAM || i == Q_DUP_NGRAM || i == Q_SHORT_LINES;
			return i;
		}
	}
	return -1;
}

/* A set/counter of 64-bit hashes, cleared in O(1) by a generation stamp. */
struct slot {
	uint64_t key;
	uint32_t gen, count, first, chars;
};

struct quality {
	const uint8_t *s;
	size_t n;
	size_t chars;          /* (size_t)-1 until counted */
	words w;
	int have_words;
	struct slot *tab;
	size_t tab_cap;        /* power of two */
	uint32_t gen;
	uint64_t *tokhash;
	size_t tokhash_cap;
};

quality *quality_new(void)
{
	quality *q = xcalloc(1, sizeof(*q));
	return q;
}

void quality_free(quality *q)
{
	if (!q)
		return;
	words_release(&q->w);
	free(q->tab);
	free(q->tokhash);
	free(q);
}

void quality_set_text(quality *q, const uint8_t *s, size_t n)
{
	q->s = s;
	q->n = n;
	q->chars = (size_t)-1;
	q->have_words = 0;
}

const words *quality_words(quality *q)
{
	if (!q->have_words) {
		words_split(&q->w, q->s, q->n);
		q->have_words = 1;
	}
	return &q->w;
}

static size_t chars(quality *q)
{
	if (q->chars == (size_t)-1)
		q->chars = words_chars(q->s, q->n);
	return q->chars;
}

/* Start a fresh set able to hold n keys. */
static void set_reset(quality *q, size_t n)
{
	size_t want = 64;
	while (want < 2 * n + 2)
		want *= 2;
	if (want > q->tab_cap) {
		free(q->tab);
		q->tab = xcalloc(want, sizeof(*q->tab));
		q->tab_cap = want;
		q->gen = 0;
	}
	if (++q->gen == 0) {
		memset(q->tab, 0, q->tab_cap * sizeof(*q->tab));
		q->gen = 1;
	}
}

/* Find or add key; returns its slot (count 0 when new). */
static struct slot *set_slot(quality *q, uint64_t key)
{
	size_t mask = q->tab_cap - 1, i = (size_t)(key ^ (key >> 29)) & mask;
	for (;;) {
		struct slot *e = &q->tab[i];
		if (e->gen != q->gen) {
			e->gen = q->gen;
			e->key = key;
			e->count = 0;
			return e;
		}
		if (e->key == key)
			return e;
		i = (i + 1) & mask;
	}
}

/* ---- pieces of text: lines, paragraphs ---- */

struct span {
	const uint8_t *p;
	size_t n;
};

typedef struct spans {
	struct span *v;
	size_t n, cap;
} spans;

static void spans_add(spans *s, const uint8_t *p, size_t n)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n].p = p;
	s->v[s->n++].n = n;
}

/* Length of the str.splitlines() line break at p, or 0. */
static size_t line_break(const uint8_t *p, size_t avail)
{
	switch (p[0]) {
	case '\n': case 0x0B: case 0x0C: case 0x1C: case 0x1D: case 0x1E:
		return 1;
	case '\r':
		return avail > 1 && p[1] == '\n' ? 2 : 1;
	case 0xC2:
		return avail > 1 && p[1] == 0x85 ? 2 : 0;
	case 0xE2:
		return avail > 2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9) ? 3 : 0;
	}
	return 0;
}

static void splitlines(const uint8_t *s, size_t n, spans *out)
{
	size_t start = 0;
	out->n = 0;
	for (size_t i = 0; i < n;) {
		size_t b = line_break(s + i, n - i);
		if (!b) {
			i++;
			continue;
		}
		spans_add(out, s + start, i - start);
		i += b;
		start = i;
	}
	if (start < n)
		spans_add(out, s + start, n - start);
}

/* re.split(sep) for a run of at least min '\n' as the separator. */
static void split_newlines(const uint8_t *s, size_t n, size_t min, spans *out)
{
	size_t start = 0;
	out->n = 0;
	for (size_t i = 0; i < n;) {
		if (s[i] != '\n') {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && s[j] == '\n')
			j++;
		if (j - i >= min) {
			spans_add(out, s + start, i - start);
			start = j;
		}
		i = j;
	}
	spans_add(out, s + start, n - start);
}

static size_t lspace(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint32_t cp;
		size_t l = utf8_decode(s + i, n - i, &cp);
		if (!words_is_space(cp))
			break;
		i += l;
	}
	return i;
}

/* Length of s without trailing whitespace. */
static size_t rstrip_len(const uint8_t *s, size_t n)
{
	while (n > 0) {
		size_t k = n - 1;
		while (k > 0 && (s[k] & 0xC0) == 0x80 && n - k < 4)
			k--;
		uint32_t cp;
		utf8_decode(s + k, n - k, &cp);
		if (!words_is_space(cp))
			break;
		n = k;
	}
	return n;
}

static int starts_with(const uint8_t *s, size_t n, const char *p)
{
	size_t k = strlen(p);
	return n >= k && memcmp(s, p, k) == 0;
}

static int ends_with(const uint8_t *s, size_t n, const char *p)
{
	size_t k = strlen(p);
	return n >= k && memcmp(s + n - k, p, k) == 0;
}

static size_t count_str(const uint8_t *s, size_t n, const char *p)
{
	size_t k = strlen(p), c = 0;
	for (size_t i = 0; i + k <= n;) {
		if (memcmp(s + i, p, k) == 0) {
			c++;
			i += k;
		} else {
			i++;
		}
	}
	return c;
}

/* datatrove's find_duplicates: (duplicate elements, their characters). */
static void find_duplicates(quality *q, const spans *sp, double *dups, double *dup_chars)
{
	set_reset(q, sp->n);
	size_t d = 0, dc = 0;
	for (size_t i = 0; i < sp->n; i++) {
		struct slot *e = set_slot(q, XXH3_64bits(sp->v[i].p, sp->v[i].n));
		if (e->count++)
			d++, dc += words_chars(sp->v[i].p, sp->v[i].n);
	}
	*dups = (double)d;
	*dup_chars = (double)dc;
}

static double ratio(double a, double b)
{
	return b == 0 ? NAN : a / b;
}

/* Characters of the most frequent n-gram (words joined by spaces) times its
 * count; ties go to the n-gram seen first, as Counter.most_common does. */
static double top_ngram(quality *q, size_t n)
{
	const words *w = quality_words(q);
	if (w->n < n || n == 0)
		return NAN;
	if (w->n > q->tokhash_cap) {
		q->tokhash_cap = w->n;
		q->tokhash = xrealloc(q->tokhash, w->n * sizeof(*q->tokhash));
	}
	for (size_t i = 0; i < w->n; i++) {
		size_t len;
		const uint8_t *p = words_at(w, i, &len);
		q->tokhash[i] = XXH3_64bits(p, len);
	}
	size_t m = w->n - n + 1;
	set_reset(q, m);
	struct slot *best = NULL;
	for (size_t i = 0; i < m; i++) {
		uint64_t h = 0x9E3779B97F4A7C15ull * (n + 1);
		uint32_t ch = (uint32_t)(n - 1);
		for (size_t k = 0; k < n; k++) {
			h = (h ^ q->tokhash[i + k]) * 0x100000001B3ull;
			h ^= h >> 32;
			ch += w->v[i + k].chars;
		}
		struct slot *e = set_slot(q, h);
		if (e->count++ == 0) {
			e->first = (uint32_t)i;
			e->chars = ch;
		}
		if (!best || e->count > best->count || (e->count == best->count && e->first < best->first))
			best = e;
	}
	return (double)best->chars * best->count;
}

/* datatrove's find_all_duplicate: characters of n-grams (words joined with
 * nothing between) seen before, skipping past each repeat. */
static double dup_ngram(quality *q, size_t n)
{
	const words *w = quality_words(q);
	if (n == 0)
		return NAN;
	set_reset(q, w->n);
	size_t rep = 0;
	for (size_t i = 0; i + n <= w->n;) {
		const uint8_t *p = w->text.data + w->v[i].off;
		size_t len = w->v[i + n - 1].off + w->v[i + n - 1].len - w->v[i].off;
		struct slot *e = set_slot(q, XXH3_64bits(p, len));
		if (e->count++) {
			for (size_t k = 0; k < n; k++)
				rep += w->v[i + k].chars;
			i += n;
		} else {
			i++;
		}
	}
	return (double)rep;
}

static const char *const stop_words[] = { "the", "be", "to", "of", "and", "that", "have", "with" };

double quality_measure(quality *q, quality_metric m, int param)
{
	spans sp = { 0 };
	double v = NAN, a, b;
	switch (m) {
	case Q_CHARS:
		return (double)chars(q);
	case Q_BYTES:
		return (double)q->n;
	case Q_WORDS:
		return (double)quality_words(q)->n;
	case Q_LINES:
		splitlines(q->s, q->n, &sp);
		v = (double)sp.n;
		break;
	case Q_NONSYMBOL_WORDS:
	case Q_MEAN_WORD_LENGTH: {
		const words *w = quality_words(q);
		size_t k = 0, total = 0;
		for (size_t i = 0; i < w->n; i++) {
			size_t len;
			const uint8_t *p = words_at(w, i, &len);
			for (size_t j = 0; j < len;) {
				uint32_t cp;
				j += utf8_decode(p + j, len - j, &cp);
				if (!words_is_punct(cp)) {
					k++;
					total += w->v[i].chars;
					break;
				}
			}
		}
		return m == Q_NONSYMBOL_WORDS ? (double)k : ratio((double)total, (double)k);
	}
	case Q_HASH_RATIO:
		return ratio((double)count_str(q->s, q->n, "#"), (double)quality_words(q)->n);
	case Q_ELLIPSIS_RATIO:
		return ratio((double)(count_str(q->s, q->n, "...") + count_str(q->s, q->n, "\xE2\x80\xA6")),
			     (double)quality_words(q)->n);
	case Q_BULLET_LINES:
	case Q_ELLIPSIS_LINES: {
		splitlines(q->s, q->n, &sp);
		size_t k = 0;
		for (size_t i = 0; i < sp.n; i++) {
			const uint8_t *p = sp.v[i].p;
			size_t n = sp.v[i].n;
			if (m == Q_BULLET_LINES) {
				size_t l = lspace(p, n);
				k += starts_with(p + l, n - l, "\xE2\x80\xA2") || starts_with(p + l, n - l, "-");
			} else {
				size_t r = rstrip_len(p, n);
				k += ends_with(p, r, "...") || ends_with(p, r, "\xE2\x80\xA6");
			}
		}
		v = ratio((double)k, (double)sp.n);
		break;
	}
	case Q_ALPHA_WORDS: {
		const words *w = quality_words(q);
		size_t k = 0;
		for (size_t i = 0; i < w->n; i++) {
			size_t len;
			const uint8_t *p = words_at(w, i, &len);
			for (size_t j = 0; j < len;) {
				uint32_t cp;
				j += utf8_decode(p + j, len - j, &cp);
				if (words_is_alpha(cp)) {
					k++;
					break;
				}
			}
		}
		return ratio((double)k, (double)w->n);
	}
	case Q_STOP_WORDS: {
		const words *w = quality_words(q);
		unsigned seen = 0;
		for (size_t i = 0; i < w->n; i++) {
			size_t len;
			const uint8_t *p = words_at(w, i, &len);
			for (size_t k = 0; k < sizeof(stop_words) / sizeof(stop_words[0]); k++)
				if (strlen(stop_words[k]) == len && memcmp(stop_words[k], p, len) == 0)
					seen |= 1u << k;
		}
		return (double)__builtin_popcount(seen);
	}
	case Q_DUP_PARA_FRAC:
	case Q_DUP_PARA_CHARS: {
		size_t l = lspace(q->s, q->n);
		split_newlines(q->s + l, rstrip_len(q->s + l, q->n - l), 2, &sp);
		find_duplicates(q, &sp, &a, &b);
		v = m == Q_DUP_PARA_FRAC ? ratio(a, (double)sp.n) : ratio(b, (double)chars(q));
		break;
	}
	case Q_DUP_LINE_FRAC:
	case Q_DUP_LINE_CHARS:
		split_newlines(q->s, q->n, 1, &sp);
		find_duplicates(q, &sp, &a, &b);
		v = m == Q_DUP_LINE_FRAC ? ratio(a, (double)sp.n) : ratio(b, (double)chars(q));
		break;
	case Q_TOP_NGRAM:
		return ratio(top_ngram(q, (size_t)param), (double)chars(q));
	case Q_DUP_NGRAM:
		return ratio(dup_ngram(q, (size_t)param), (double)chars(q));
	case Q_LINE_PUNCT:
	case Q_SHORT_LINES:
	case Q_LINE_CHAR_DUP: {
		/* text.split("\n") without the blank lines */
		split_newlines(q->s, q->n, 1, &sp);
		size_t k = 0, newlines = count_str(q->s, q->n, "\n");
		for (size_t i = 0; i < sp.n; i++) {
			const uint8_t *p = sp.v[i].p;
			size_t n = sp.v[i].n;
			if (lspace(p, n) == n)
				continue;
			sp.v[k++] = sp.v[i];
		}
		sp.n = k;
		if (sp.n == 0)
			break;
		k = 0;
		for (size_t i = 0; i < sp.n; i++) {
			const uint8_t *p = sp.v[i].p;
			size_t n = sp.v[i].n;
			if (m == Q_LINE_PUNCT) {
				size_t j = n - 1;
				while (j > 0 && (p[j] & 0xC0) == 0x80 && n - j < 4)
					j--;
				uint32_t cp;
				utf8_decode(p + j, n - j, &cp);
				k += words_is_terminal(cp);
			} else if (m == Q_SHORT_LINES) {
				k += words_chars(p, n) <= (size_t)param;
			}
		}
		if (m == Q_LINE_CHAR_DUP) {
			find_duplicates(q, &sp, &a, &b);
			v = ratio(b, (double)(chars(q) - newlines));
		} else {
			v = ratio((double)k, (double)sp.n);
		}
		break;
	}
	case Q_NEWLINE_RATIO:
		return ratio((double)count_str(q->s, q->n, "\n"), (double)quality_words(q)->n);
	default:
		break;
	}
	free(sp.v);
	return v;
}

/* ---- C4 ---- */

static int has_ci(const uint8_t *s, size_t n, const char *pat)
{
	size_t k = strlen(pat);
	for (size_t i = 0; i + k <= n; i++) {
		size_t j = 0;
		while (j < k && (s[i + j] >= 'A' && s[i + j] <= 'Z' ? s[i + j] + 32 : s[i + j]) == pat[j])
			j++;
		if (j == k)
			return 1;
	}
	return 0;
}

/* Remove [digits], [edit] and [citation needed] from line into out. */
static void strip_citations(const uint8_t *s, size_t n, buf *out)
{
	for (size_t i = 0; i < n;) {
		if (s[i] == '[') {
			size_t j = i + 1;
			while (j < n && s[j] >= '0' && s[j] <= '9')
				j++;
			if (j < n && s[j] == ']') {
				i = j + 1;
				continue;
			}
			if (starts_with(s + i, n - i, "[edit]")) {
				i += 6;
				continue;
			}
			if (starts_with(s + i, n - i, "[citation needed]")) {
				i += 17;
				continue;
			}
		}
		buf_addc(out, s[i++]);
	}
}

/* ---- sentences: untrained Punkt (NLTK 3.10's PunktSentenceTokenizer) ----
 *
 * A candidate break is a '.', '?' or '!' followed by one of Punkt's non-word
 * characters or by whitespace and a next token; of the candidates inside
 * one run of text between ASCII whitespace only the last is tried, and one
 * opening the run (Punkt drops the others as overlapping).  A candidate is
 * tried on its context (the run up to it and what follows): Punkt's word
 * tokens, a first pass marking period-final tokens as breaks and a second
 * pass unmarking initials and numbers before a lowercase word or
 * punctuation (an initial also before a capital).  Closing quotes and
 * brackets after a break are moved back onto the sentence before, and
 * empty sentences are not counted. */

static int pk_nonword(uint32_t c)
{
	if (c < 0x80)
		return c && strchr(")\";}]*:@'({[?!", (int)c) != NULL;
	return c == 0x2018 || c == 0x2019 || c == 0x201C || c == 0x201D || c == 0xAB || c == 0xBB;
}

static int pk_closer(uint32_t c)
{
	if (c < 0x80)
		return c && strchr("\"')]}", (int)c) != NULL;
	return c == 0x2018 || c == 0x2019 || c == 0x201C || c == 0x201D || c == 0xAB || c == 0xBB;
}

/* Characters that cannot start a word token. */
static int pk_nostart(uint32_t c)
{
	return c < 0x80 && c && strchr("(\"`{[:;&#*@)}]-,", (int)c) != NULL;
}

/* Length of the multi-character punctuation (--, .., ". . .") at c[i], or 0. */
static size_t pk_multi(const uint32_t *c, size_t n, size_t i)
{
	if (i + 1 >= n)
		return 0;
	if ((c[i] == '-' || c[i] == '.') && c[i + 1] == c[i]) {
		size_t j = i + 2;
		while (j < n && c[j] == c[i])
			j++;
		return j - i;
	}
	/* (?:\.\s){2,}\. */
	size_t k = 0;
	while (i + 2 * k + 1 < n && c[i + 2 * k] == '.' && words_is_space(c[i + 2 * k + 1]))
		k++;
	if (k >= 2 && i + 2 * k < n && c[i + 2 * k] == '.')
		return 2 * k + 1;
	if (k >= 3)
		return 2 * k - 1;
	return 0;
}

/* End of the Punkt word token starting at the non-space c[i]. */
static size_t pk_token(const uint32_t *c, size_t n, size_t i)
{
	size_t m = pk_multi(c, n, i);
	if (m)
		return i + m;
	if (pk_nostart(c[i]))
		return i + 1;
	size_t j = i + 1;
	while (j < n && !words_is_space(c[j]) && !pk_nonword(c[j]) && !pk_multi(c, n, j) &&
	       !(c[j] == ',' && (j + 1 == n || words_is_space(c[j + 1]) || pk_nonword(c[j + 1]) ||
				 pk_multi(c, n, j + 1))))
		j++;
	return j;
}

/* [^\W\d] as the regex module reads it: letters, marks, letter numbers, '_'. */
static int pk_letter(uint32_t c)
{
	if (c < 0x80)
		return c == '_' || words_is_alpha(c);
	if (c > 0x10FFFF)
		return 0;
	utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
	return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_ME) || k == UTF8PROC_CATEGORY_NL ||
	       k == UTF8PROC_CATEGORY_PC;
}

/* ^-?[.,]?\d[\d,.-]*\.?$ */
static int pk_number(const uint32_t *c, size_t a, size_t b)
{
	if (a < b && c[a] == '-')
		a++;
	if (a < b && (c[a] == '.' || c[a] == ','))
		a++;
	if (a >= b || !words_is_digit(c[a]))
		return 0;
	for (a++; a < b; a++)
		if (!words_is_digit(c[a]) && c[a] != ',' && c[a] != '.' && c[a] != '-')
			return 0;
	return 1;
}

/* First pass: is the token c[a..b) a sentence break? */
static int pk_first(const uint32_t *c, size_t a, size_t b)
{
	if (b - a == 1 && (c[a] == '.' || c[a] == '?' || c[a] == '!'))
		return 1;
	size_t k = a;
	while (k < b && c[k] == '.')
		k++;
	if (k == b && b - a >= 2)
		return 0; /* an ellipsis */
	return c[b - 1] == '.' && !(b - a >= 2 && c[b - 2] == '.');
}

/* Does the context c[a..b) hold a break followed by another token? */
static int pk_breaks(const uint32_t *c, size_t a, size_t b)
{
	size_t i = a, pa = 0, pb = 0;
	int have = 0;
	for (;;) {
		while (i < b && words_is_space(c[i]))
			i++;
		if (i >= b)
			return 0;
		size_t e = pk_token(c, b, i);
		if (have && pk_first(c, pa, pb)) {
			/* second pass: an initial or a number before punctuation or a
			 * lowercase word (an initial also before a capital) is not a break */
			int initial = pb - pa == 2 && c[pb - 1] == '.' && pk_letter(c[pa]);
			int brk = 1;
			if (c[pb - 1] == '.' && (initial || pk_number(c, pa, pb))) {
				int punct = e - i == 1 && c[i] < 0x80 && strchr(";:,.!?", (int)c[i]);
				if (punct || words_is_lower(c[i]) || (initial && words_is_upper(c[i])))
					brk = 0;
			}
			if (brk)
				return 1;
		}
		pa = i, pb = e, have = 1;
		i = e;
	}
}

/* Punkt's realignment: the closing marks (then whitespace, "--" or the end)
 * that c[a..b) starts with; returns their count, *end past the whitespace. */
static size_t pk_realign(const uint32_t *c, size_t a, size_t b, size_t *end)
{
	for (size_t j = a; j < b && pk_closer(c[j]);) {
		j++;
		if (j == b || (j + 1 < b && c[j] == '-' && c[j + 1] == '-')) {
			*end = j;
			return j - a;
		}
		if (words_is_space(c[j])) {
			size_t k = j;
			while (k < b && words_is_space(c[k]))
				k++;
			*end = k;
			return j - a;
		}
	}
	return 0;
}

struct pk_count {
	const uint32_t *c;
	size_t n, a, b, realign;
	int have;
};

/* Take the next sentence slice c[a..b); count the previous one. */
static void pk_slice(struct pk_count *k, size_t a, size_t b)
{
	if (k->have) {
		size_t start = k->a + k->realign, end;
		if (pk_realign(k->c, a, b, &end)) {
			k->n++;
			k->realign = end - a;
		} else {
			k->realign = 0;
			k->n += start < k->b;
		}
	}
	k->a = a, k->b = b, k->have = 1;
}

size_t quality_sentences(const uint8_t *s, size_t n)
{
	uint32_t stack[512], *c = stack;
	if (n > sizeof(stack) / sizeof(stack[0]))
		c = xmalloc(n * sizeof(*c));
	size_t m = 0;
	for (size_t i = 0; i < n; m++) {
		uint32_t cp;
		i += utf8_decode(s + i, n - i, &cp);
		c[m] = cp;
	}
	struct pk_count k = { c, 0, 0, 0, 0, 0 };
	size_t last = 0;
	for (size_t r0 = 0; r0 < m;) {
		/* a run between ASCII whitespace, and its last candidate */
		size_t r1 = r0, p = (size_t)-1;
		while (r1 < m && !(c[r1] < 0x80 && words_is_space(c[r1])))
			r1++;
		size_t after = 0, next = 0;
		for (size_t j = r0; j < r1; j++) {
			if ((c[j] != '.' && c[j] != '?' && c[j] != '!') || j + 1 >= m)
				continue;
			size_t q = j + 1, na = j + 2, nn = j + 1;
			if (!pk_nonword(c[q])) {
				if (!words_is_space(c[q]))
					continue;
				while (q < m && words_is_space(c[q]))
					q++;
				if (q >= m)
					continue;
				nn = q;
				while (q < m && !words_is_space(c[q]))
					q++;
				na = q;
			}
			/* a later candidate drops this one, unless it opens the run */
			if (p == r0 && pk_breaks(c, r0, after)) {
				pk_slice(&k, last, p + 1);
				last = next;
			}
			p = j, after = na, next = nn;
		}
		if (p != (size_t)-1 && pk_breaks(c, r0, after)) {
			pk_slice(&k, last, p + 1);
			last = next;
		}
		r0 = r1;
		while (r0 < m && c[r0] < 0x80 && words_is_space(c[r0]))
			r0++;
	}
	size_t end = m;
	while (end > last && words_is_space(c[end - 1]))
		end--;
	pk_slice(&k, last, end);
	pk_slice(&k, 0, 0); /* count the last one */
	if (c != stack)
		free(c);
	return k.n;
}

static const char *const policy[] = {
	"terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies",
};

int quality_c4(quality *q, const quality_c4_params *p, buf *kept, double *sentences)
{
	spans sp = { 0 };
	buf line = { 0 };
	size_t nsent = 0;
	int ret = C4_OK;
	buf_reset(kept);
	splitlines(q->s, q->n, &sp);
	for (size_t i = 0; i < sp.n && ret == C4_OK; i++) {
		const uint8_t *s = sp.v[i].p;
		size_t n = sp.v[i].n, l = lspace(s, n);
		s += l;
		n = rstrip_len(s, n - l);
		/* words: line.split() */
		size_t nwords = 0, longest = 0;
		for (size_t j = 0; j < n;) {
			size_t k = lspace(s + j, n - j);
			j += k;
			if (j >= n)
				break;
			size_t start = j;
			while (j < n) {
				uint32_t cp;
				size_t cl = utf8_decode(s + j, n - j, &cp);
				if (words_is_space(cp))
					break;
				j += cl;
			}
			size_t c = words_chars(s + start, j - start);
			longest = c > longest ? c : longest;
			nwords++;
		}
		if (p->max_word_length > 0 && longest > (size_t)p->max_word_length)
			continue;
		buf_reset(&line);
		if (p->remove_citations)
			strip_citations(s, n, &line);
		else
			buf_add(&line, s, n);
		const uint8_t *t = line.data ? line.data : (const uint8_t *)"";
		size_t tn = line.len;
		if (p->terminal_punct) {
			int end = tn && strchr(".?!\"'", t[tn - 1]) && t[tn - 1] != 0;
			if (!end || ends_with(t, tn, "..."))
				continue;
		}
		if (p->min_words_per_line > 0 && nwords < (size_t)p->min_words_per_line)
			continue;
		if (has_ci(t, tn, "lorem ipsum")) {
			ret = C4_LOREM_IPSUM;
			break;
		}
		if (p->javascript && has_ci(t, tn, "javascript"))
			continue;
		if (memchr(t, '{', tn)) {
			ret = C4_CURLY_BRACKET;
			break;
		}
		int pol = 0;
		for (size_t k = 0; p->policy && k < sizeof(policy) / sizeof(policy[0]) && !pol; k++)
			pol = has_ci(t, tn, policy[k]);
		if (pol)
			continue;
		/* datatrove counts a line Punkt finds no sentence in (blank
		 * once citations are cut) as one */
		size_t ns = quality_sentences(t, tn);
		nsent += ns ? ns : 1;
		if (kept->len)
			buf_addc(kept, '\n');
		buf_add(kept, t, tn);
	}
	/* The kept text is stripped at the ends, as datatrove does. */
	if (ret == C4_OK && kept->len) {
		size_t l = lspace(kept->data, kept->len), r = rstrip_len(kept->data, kept->len);
		if (l || r < kept->len) {
			memmove(kept->data, kept->data + l, r - l);
			kept->len = r - l;
		}
	}
	*sentences = (double)nsent;
	free(sp.v);
	buf_release(&line);
	return ret;
}
