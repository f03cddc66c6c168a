/* test_quality.c: the measures of lib/quality.h on crafted texts, with the
 * values worked out by hand from datatrove's definitions (GopherQuality,
 * GopherRepetition, C4Quality and FineWebQuality filters, NLTK 3.10's
 * word_tokenize and untrained Punkt); each was also checked against
 * datatrove 0.10.1 itself.  Lengths are code points, as Python's len(). */
#include <math.h>
#include <string.h>

#include "check.h"
#include "quality.h"
#include "util.h"

#define CHECK_NEAR(a, b) do { \
	double check_x_ = (a), check_y_ = (b); \
	if (!(fabs(check_x_ - check_y_) <= 1e-12)) { \
		fprintf(stderr, "%s:%d: check failed: %s == %s (%.17g != %.17g)\n", \
			__FILE__, __LINE__, #a, #b, check_x_, check_y_); \
		check_case_failed = 1; \
	} \
} while (0)

#define CHECK_NAN(a) do { \
	double check_x_ = (a); \
	if (!isnan(check_x_)) { \
		fprintf(stderr, "%s:%d: check failed: %s is NaN (%.17g)\n", __FILE__, __LINE__, #a, check_x_); \
		check_case_failed = 1; \
	} \
} while (0)

static quality *Q;

/* Measure metric k (with param p) on the C string t. */
static double m(const char *t, quality_metric k, int p)
{
	quality_set_text(Q, (const uint8_t *)t, strlen(t));
	return quality_measure(Q, k, p);
}

static void test_metric_names(void)
{
	int takes = -1;
	CHECK(strcmp(quality_metric_name(Q_MEAN_WORD_LENGTH), "mean_word_length") == 0);
	CHECK(strcmp(quality_metric_name(Q_METRIC_COUNT), "?") == 0);
	CHECK_EQ_INT(quality_metric_find("top_ngram", 9, &takes), Q_TOP_NGRAM);
	CHECK_EQ_INT(takes, 1);
	CHECK_EQ_INT(quality_metric_find("short_lines", 11, &takes), Q_SHORT_LINES);
	CHECK_EQ_INT(takes, 1);
	CHECK_EQ_INT(quality_metric_find("words", 5, &takes), Q_WORDS);
	CHECK_EQ_INT(takes, 0);
	CHECK_EQ_INT(quality_metric_find("word", 4, &takes), -1);
	for (int i = 0; i < Q_METRIC_COUNT; i++) {
		const char *n = quality_metric_name((quality_metric)i);
		CHECK_EQ_INT(quality_metric_find(n, strlen(n), &takes), i);
	}
}

/* The empty text: no words, no lines; every ratio over them is NaN.  Its
 * one (empty) paragraph and line are not duplicates: 0 / 1. */
static void test_empty(void)
{
	const char *t = "";
	CHECK_NEAR(m(t, Q_CHARS, 0), 0);
	CHECK_NEAR(m(t, Q_BYTES, 0), 0);
	CHECK_NEAR(m(t, Q_WORDS, 0), 0);
	CHECK_NEAR(m(t, Q_LINES, 0), 0);
	CHECK_NEAR(m(t, Q_NONSYMBOL_WORDS, 0), 0);
	CHECK_NEAR(m(t, Q_STOP_WORDS, 0), 0);
	CHECK_NAN(m(t, Q_MEAN_WORD_LENGTH, 0));
	CHECK_NAN(m(t, Q_HASH_RATIO, 0));
	CHECK_NAN(m(t, Q_ELLIPSIS_RATIO, 0));
	CHECK_NAN(m(t, Q_BULLET_LINES, 0));
	CHECK_NAN(m(t, Q_ELLIPSIS_LINES, 0));
	CHECK_NAN(m(t, Q_ALPHA_WORDS, 0));
	CHECK_NEAR(m(t, Q_DUP_PARA_FRAC, 0), 0);
	CHECK_NAN(m(t, Q_DUP_PARA_CHARS, 0));
	CHECK_NEAR(m(t, Q_DUP_LINE_FRAC, 0), 0);
	CHECK_NAN(m(t, Q_DUP_LINE_CHARS, 0));
	CHECK_NAN(m(t, Q_TOP_NGRAM, 2));
	CHECK_NAN(m(t, Q_DUP_NGRAM, 5));
	CHECK_NAN(m(t, Q_LINE_PUNCT, 0));
	CHECK_NAN(m(t, Q_SHORT_LINES, 30));
	CHECK_NAN(m(t, Q_LINE_CHAR_DUP, 0));
	CHECK_NAN(m(t, Q_NEWLINE_RATIO, 0));
	CHECK_EQ_INT(quality_sentences((const uint8_t *)"", 0), 0);
}

/* "   \n\t ": 6 characters, 2 lines (splitlines), no words; no non-blank
 * line for the FineWeb ratios; nothing repeated. */
static void test_whitespace_only(void)
{
	const char *t = "   \n\t ";
	CHECK_NEAR(m(t, Q_CHARS, 0), 6);
	CHECK_NEAR(m(t, Q_WORDS, 0), 0);
	CHECK_NEAR(m(t, Q_LINES, 0), 2);
	CHECK_NEAR(m(t, Q_BULLET_LINES, 0), 0);
	CHECK_NEAR(m(t, Q_ELLIPSIS_LINES, 0), 0);
	CHECK_NAN(m(t, Q_MEAN_WORD_LENGTH, 0));
	CHECK_NAN(m(t, Q_ALPHA_WORDS, 0));
	CHECK_NEAR(m(t, Q_DUP_PARA_FRAC, 0), 0);
	CHECK_NEAR(m(t, Q_DUP_PARA_CHARS, 0), 0);
	CHECK_NEAR(m(t, Q_DUP_LINE_FRAC, 0), 0);
	CHECK_NEAR(m(t, Q_DUP_LINE_CHARS, 0), 0);
	CHECK_NAN(m(t, Q_TOP_NGRAM, 2));
	CHECK_NEAR(m(t, Q_DUP_NGRAM, 5), 0);
	CHECK_NAN(m(t, Q_LINE_PUNCT, 0));
	CHECK_NAN(m(t, Q_SHORT_LINES, 30));
	CHECK_NAN(m(t, Q_LINE_CHAR_DUP, 0));
	CHECK_NAN(m(t, Q_NEWLINE_RATIO, 0));
	CHECK_EQ_INT(quality_sentences((const uint8_t *)t, strlen(t)), 0);
}

/* One word: "hello", 5 letters; no 2-gram; one short line without end
 * punctuation. */
static void test_one_word(void)
{
	const char *t = "hello";
	CHECK_NEAR(m(t, Q_WORDS, 0), 1);
	CHECK_NEAR(m(t, Q_NONSYMBOL_WORDS, 0), 1);
	CHECK_NEAR(m(t, Q_MEAN_WORD_LENGTH, 0), 5);
	CHECK_NEAR(m(t, Q_ALPHA_WORDS, 0), 1);
	CHECK_NEAR(m(t, Q_STOP_WORDS, 0), 0);
	CHECK_NEAR(m(t, Q_LINES, 0), 1);
	CHECK_NAN(m(t, Q_TOP_NGRAM, 2));
	CHECK_NEAR(m(t, Q_DUP_NGRAM, 2), 0);
	CHECK_NEAR(m(t, Q_LINE_PUNCT, 0), 0);
	CHECK_NEAR(m(t, Q_SHORT_LINES, 30), 1);
	CHECK_NEAR(m(t, Q_SHORT_LINES, 4), 0);
	CHECK_NEAR(m(t, Q_SHORT_LINES, 5), 1);
	CHECK_NEAR(m(t, Q_NEWLINE_RATIO, 0), 0);
	const words *w = quality_words(Q);
	size_t len;
	CHECK_EQ_INT(w->n, 1);
	CHECK(memcmp(words_at(w, 0, &len), "hello", 5) == 0 && len == 5);
	CHECK_EQ_INT(quality_sentences((const uint8_t *)t, 5), 1);
}

/* "The cat and the dog.": NLTK splits the final period off, so 6 words, 5
 * of them with a non-punctuation character, each 3 long; 5 of 6 with a
 * letter.  Stop words are matched case-sensitively: "the" and "and" (not
 * "The").  Top n-grams all occur once, the first kept: "The cat" (7 of 20
 * characters), "The cat and" (11), "The cat and the" (15). */
static void test_words_and_stop_words(void)
{
	const char *t = "The cat and the dog.";
	CHECK_NEAR(m(t, Q_WORDS, 0), 6);
	CHECK_NEAR(m(t, Q_NONSYMBOL_WORDS, 0), 5);
	CHECK_NEAR(m(t, Q_MEAN_WORD_LENGTH, 0), 3);
	CHECK_NEAR(m(t, Q_ALPHA_WORDS, 0), 5.0 / 6);
	CHECK_NEAR(m(t, Q_STOP_WORDS, 0), 2);
	CHECK_NEAR(m(t, Q_HASH_RATIO, 0), 0);
	CHECK_NEAR(m(t, Q_TOP_NGRAM, 2), 7.0 / 20);
	CHECK_NEAR(m(t, Q_TOP_NGRAM, 3), 11.0 / 20);
	CHECK_NEAR(m(t, Q_TOP_NGRAM, 4), 15.0 / 20);
	CHECK_NEAR(m(t, Q_LINE_PUNCT, 0), 1);
	/* distinct stop words: "to" and "be" twice count once each, with "that"
	 * and "the": 4; of 12 words (",", ":" split off) 10 are not symbols,
	 * 30 letters over them */
	t = "to be, or not to be: that is the question";
	CHECK_NEAR(m(t, Q_WORDS, 0), 12);
	CHECK_NEAR(m(t, Q_STOP_WORDS, 0), 4);
	CHECK_NEAR(m(t, Q_NONSYMBOL_WORDS, 0), 10);
	CHECK_NEAR(m(t, Q_MEAN_WORD_LENGTH, 0), 3);
	/* the 2-gram "to be" twice: 10 of 41 characters */
	CHECK_NEAR(m(t, Q_TOP_NGRAM, 2), 10.0 / 41);
	/* "tobe" seen again at word 5: 4 characters */
	CHECK_NEAR(m(t, Q_DUP_NGRAM, 2), 4.0 / 41);
}

/* Unicode: "Café naïve … ½ 東京" is 17 code points in 26 bytes; 5 words,
 * "…" punctuation, so 4 non-symbol words of 4 + 5 + 1 + 2 = 12 characters;
 * 3 with a letter (not "½", not "…"); one ellipsis per 5 words. */
static void test_unicode(void)
{
	const char *t = "Caf\xc3\xa9 na\xc3\xafve \xe2\x80\xa6 \xc2\xbd \xe6\x9d\xb1\xe4\xba\xac";
	CHECK_NEAR(m(t, Q_CHARS, 0), 17);
	CHECK_NEAR(m(t, Q_BYTES, 0), 26);
	CHECK_NEAR(m(t, Q_WORDS, 0), 5);
	CHECK_NEAR(m(t, Q_NONSYMBOL_WORDS, 0), 4);
	CHECK_NEAR(m(t, Q_MEAN_WORD_LENGTH, 0), 3);
	CHECK_NEAR(m(t, Q_ALPHA_WORDS, 0), 0.6);
	CHECK_NEAR(m(t, Q_ELLIPSIS_RATIO, 0), 0.2);
	/* "Café naïve" is 10 characters, not its 12 bytes */
	CHECK_NEAR(m(t, Q_TOP_NGRAM, 2), 10.0 / 17);
	CHECK_NEAR(m(t, Q_SHORT_LINES, 17), 1);
	CHECK_NEAR(m(t, Q_SHORT_LINES, 16), 0);
	/* every line break str.splitlines() knows: \r\n, \r, \v, \f, \x1c,
	 * U+2028, U+0085 (8 lines, 16 characters in 19 bytes) */
	t = "a\r\nb\rc\vd\fe\x1c" "f\xe2\x80\xa8g\xc2\x85h";
	CHECK_NEAR(m(t, Q_LINES, 0), 8);
	CHECK_NEAR(m(t, Q_CHARS, 0), 16);
	CHECK_NEAR(m(t, Q_WORDS, 0), 8);
	/* only "\n" counts for the list ratio: 1 per 8 words */
	CHECK_NEAR(m(t, Q_NEWLINE_RATIO, 0), 0.125);
}

/* Symbols: "# a\n- b...\n  • c…\nd" has 8 words ("#", "a", "-", "b", "...",
 * "•", "c…", "d"), 19 characters, 4 lines.  One '#' per 8 words; "..." and
 * "…" once each: 2 per 8; bullets ("-", and "•" after spaces) start 2 of 4
 * lines, 2 of 4 end in an ellipsis; 5 words are not symbols ("a", "b",
 * "•", which datatrove's punctuation set lacks, "c…", "d"), of 6
 * characters; 4 of 8 have a letter; 3 newlines per 8 words; 1 of 4
 * non-blank lines ends in terminal punctuation ("...", not "…"). */
static void test_symbols_and_lines(void)
{
	const char *t = "# a\n- b...\n  \xe2\x80\xa2 c\xe2\x80\xa6\nd";
	CHECK_NEAR(m(t, Q_CHARS, 0), 19);
	CHECK_NEAR(m(t, Q_WORDS, 0), 8);
	CHECK_NEAR(m(t, Q_LINES, 0), 4);
	CHECK_NEAR(m(t, Q_HASH_RATIO, 0), 0.125);
	CHECK_NEAR(m(t, Q_ELLIPSIS_RATIO, 0), 0.25);
	CHECK_NEAR(m(t, Q_BULLET_LINES, 0), 0.5);
	CHECK_NEAR(m(t, Q_ELLIPSIS_LINES, 0), 0.5);
	CHECK_NEAR(m(t, Q_NONSYMBOL_WORDS, 0), 5);
	CHECK_NEAR(m(t, Q_MEAN_WORD_LENGTH, 0), 1.2);
	CHECK_NEAR(m(t, Q_ALPHA_WORDS, 0), 0.5);
	CHECK_NEAR(m(t, Q_NEWLINE_RATIO, 0), 0.375);
	CHECK_NEAR(m(t, Q_LINE_PUNCT, 0), 0.25);
	/* "##" is two words: six '#' per six words; none is a non-symbol */
	t = "## ### #";
	CHECK_NEAR(m(t, Q_WORDS, 0), 6);
	CHECK_NEAR(m(t, Q_HASH_RATIO, 0), 1);
	CHECK_NEAR(m(t, Q_NONSYMBOL_WORDS, 0), 0);
	CHECK_NAN(m(t, Q_MEAN_WORD_LENGTH, 0));
	CHECK_NEAR(m(t, Q_ALPHA_WORDS, 0), 0);
	/* "...…....": "...", "…" and "...." (counted once, as str.count does) */
	t = "...\xe2\x80\xa6....";
	CHECK_NEAR(m(t, Q_WORDS, 0), 3);
	CHECK_NEAR(m(t, Q_ELLIPSIS_RATIO, 0), 1);
	CHECK_NEAR(m(t, Q_ELLIPSIS_LINES, 0), 1);
}

/* Paragraphs (split at two or more newlines, after strip) and lines (at
 * one or more): "a b\n\nc\n\na b\n\n\na b" gives "a b", "c", "a b", "a b"
 * either way: 2 of 4 duplicates, of 3 + 3 = 6 of 17 characters.  For
 * FineWeb's line ratio the newlines are not counted: 6 of 10. */
static void test_duplicate_paragraphs_and_lines(void)
{
	const char *t = "a b\n\nc\n\na b\n\n\na b";
	CHECK_NEAR(m(t, Q_DUP_PARA_FRAC, 0), 0.5);
	CHECK_NEAR(m(t, Q_DUP_PARA_CHARS, 0), 6.0 / 17);
	CHECK_NEAR(m(t, Q_DUP_LINE_FRAC, 0), 0.5);
	CHECK_NEAR(m(t, Q_DUP_LINE_CHARS, 0), 6.0 / 17);
	CHECK_NEAR(m(t, Q_LINE_CHAR_DUP, 0), 0.6);
	CHECK_NEAR(m(t, Q_NEWLINE_RATIO, 0), 1);
	/* The 92-character text below is 2 paragraphs ("Hello there." and the
	 * rest), none repeated; its 5 lines (a blank one of two spaces among
	 * them) repeat "Hello there." once: 1 of 5, 12 of 92 characters.  Of
	 * its 4 non-blank lines 3 end in punctuation and 3 are at most 30
	 * characters; the repeat is 12 of the 87 characters that are not '\n';
	 * 5 newlines per 18 words. */
	t = "Hello there.\n\nshort\nHello there.\n  \nA much longer line that has more than thirty characters!";
	CHECK_NEAR(m(t, Q_CHARS, 0), 92);
	CHECK_NEAR(m(t, Q_WORDS, 0), 18);
	CHECK_NEAR(m(t, Q_DUP_PARA_FRAC, 0), 0);
	CHECK_NEAR(m(t, Q_DUP_PARA_CHARS, 0), 0);
	CHECK_NEAR(m(t, Q_DUP_LINE_FRAC, 0), 0.2);
	CHECK_NEAR(m(t, Q_DUP_LINE_CHARS, 0), 12.0 / 92);
	CHECK_NEAR(m(t, Q_LINE_PUNCT, 0), 0.75);
	CHECK_NEAR(m(t, Q_SHORT_LINES, 30), 0.75);
	CHECK_NEAR(m(t, Q_LINE_CHAR_DUP, 0), 12.0 / 87);
	CHECK_NEAR(m(t, Q_NEWLINE_RATIO, 0), 5.0 / 18);
}

/* n-grams over "a b c a b c a b" (8 words, 15 characters): top 2-gram
 * "a b" three times (3 x 3), top 3-gram "a b c" twice (2 x 5), top 4-gram
 * "a b c a" twice (2 x 7); duplicated n-grams (joined without spaces, a
 * repeat skipping n words): "ab" at word 3 and "ca" at 5 (4 letters),
 * "abc" at 3 (3), "abca" at 3 (4), "abcab" at 3 (5). */
static void test_ngrams(void)
{
	const char *t = "a b c a b c a b";
	CHECK_NEAR(m(t, Q_TOP_NGRAM, 2), 9.0 / 15);
	CHECK_NEAR(m(t, Q_TOP_NGRAM, 3), 10.0 / 15);
	CHECK_NEAR(m(t, Q_TOP_NGRAM, 4), 14.0 / 15);
	CHECK_NEAR(m(t, Q_DUP_NGRAM, 2), 4.0 / 15);
	CHECK_NEAR(m(t, Q_DUP_NGRAM, 3), 3.0 / 15);
	CHECK_NEAR(m(t, Q_DUP_NGRAM, 4), 4.0 / 15);
	CHECK_NEAR(m(t, Q_DUP_NGRAM, 5), 5.0 / 15);
	CHECK_NAN(m(t, Q_TOP_NGRAM, 9));
	CHECK_NEAR(m(t, Q_DUP_NGRAM, 9), 0);
	/* "x y z" three times then "w" (10 words, 19 characters): "x y z" 3 x
	 * 5 = 15 is the top 3-gram; the 4-grams "x y z x" and "y z x y" twice
	 * each, the first kept: 2 x 7; duplicated 3-grams "xyz" at word 3 and
	 * at 6: 6 letters; 5-grams: "xyzxy" at word 3: 5 letters */
	t = "x y z x y z x y z w";
	CHECK_NEAR(m(t, Q_TOP_NGRAM, 3), 15.0 / 19);
	CHECK_NEAR(m(t, Q_TOP_NGRAM, 4), 14.0 / 19);
	CHECK_NEAR(m(t, Q_DUP_NGRAM, 3), 6.0 / 19);
	CHECK_NEAR(m(t, Q_DUP_NGRAM, 5), 5.0 / 19);
	/* a parameter of 0 measures nothing */
	CHECK_NAN(m(t, Q_TOP_NGRAM, 0));
	CHECK_NAN(m(t, Q_DUP_NGRAM, 0));
}

/* Sentences as untrained Punkt (NLTK 3.10) cuts them. */
static void test_sentences(void)
{
	static const struct { const char *s; size_t n; } cases[] = {
		{ "One. Two.", 2 },
		{ "No break here", 1 },
		{ "Why? Because.", 2 },
		{ "Hi!!! There.", 2 },
		{ "Wait... what?", 1 },                 /* an ellipsis is no break */
		{ "U.S. Army.", 2 },                    /* not an initial */
		{ "a.b.c. d", 2 },
		{ "Lisa M. Shalett is here.", 1 },      /* an initial before a capital */
		{ "A. B. C.", 1 },
		{ "It cost 3. dollars", 1 },            /* a number before lowercase */
		{ "It cost 3. Dollars", 2 },            /* ... but not before a capital */
		{ "Room 5.; next", 1 },                 /* ... nor before punctuation */
		{ "End.)", 1 },                         /* closing marks stay with the sentence */
		/* regressions: datatrove kept two Wikipedia articles (enwiki
		 * sample, documents 4424 and 8796 of the first 20,000) that these
		 * counts made -p fineweb drop: a curly quote after the period, and
		 * a period Punkt breaks at inside "etc.)," */
		{ "He said \xe2\x80\x9cStop.\xe2\x80\x9d Then left.", 2 },
		{ "(x, y, etc.), then more.", 2 },
		{ "\"H. greeffii\" is endemic.", 1 },   /* an initial after a quote */
		{ "He left.\xc2\xa0She stayed. Done.", 3 },
		{ "?]?]", 2 },                          /* a candidate opening a run is tried */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t got = quality_sentences((const uint8_t *)cases[i].s, strlen(cases[i].s));
		if (got != cases[i].n)
			fprintf(stderr, "sentences in '%s': want %zu, got %zu\n", cases[i].s, cases[i].n, got);
		CHECK_EQ_INT(got, cases[i].n);
	}
}

static const quality_c4_params C4_DEFAULT = { 1000, 1, 1, 3, 1, 1 };

/* Run the C4 line filter on t; the kept text into kept (NUL-terminated). */
static int c4(const char *t, const quality_c4_params *p, char *kept, size_t cap, double *sentences)
{
	buf b = { 0 };
	quality_set_text(Q, (const uint8_t *)t, strlen(t));
	int r = quality_c4(Q, p, &b, sentences);
	snprintf(kept, cap, "%.*s", (int)b.len, b.data ? (const char *)b.data : "");
	buf_release(&b);
	return r;
}

static void test_c4_lines(void)
{
	char kept[512];
	double s = -1;
	/* short line (1 word), javascript, no end punctuation, an ellipsis at
	 * the end and a privacy policy are removed; citations are cut */
	CHECK_EQ_INT(c4("One two three. Four five six.\nshort.\nUses javascript here.\n"
			"A line[1] with citations[edit] here.\nno end punctuation here\nWait for it...\n"
			"Please read our privacy policy now.", &C4_DEFAULT, kept, sizeof(kept), &s), C4_OK);
	CHECK(strcmp(kept, "One two three. Four five six.\nA line with citations here.") == 0);
	CHECK_NEAR(s, 3);
	/* lines are stripped; blank ones removed */
	CHECK_EQ_INT(c4("  One two three.  \n\n  Four five six!  ", &C4_DEFAULT, kept, sizeof(kept), &s), C4_OK);
	CHECK(strcmp(kept, "One two three.\nFour five six!") == 0);
	CHECK_NEAR(s, 2);
	/* a word longer than max_word_length removes its line */
	quality_c4_params p = C4_DEFAULT;
	p.max_word_length = 5;
	CHECK_EQ_INT(c4("abcde fg hi.\nabcdef gh ij.", &p, kept, sizeof(kept), &s), C4_OK);
	CHECK(strcmp(kept, "abcde fg hi.") == 0);
	CHECK_NEAR(s, 1);
	/* page rules fire only on lines that got past the line rules */
	CHECK_EQ_INT(c4("Lorem ipsum dolor sit.", &C4_DEFAULT, kept, sizeof(kept), &s), C4_LOREM_IPSUM);
	CHECK_EQ_INT(c4("lorem ipsum", &C4_DEFAULT, kept, sizeof(kept), &s), C4_OK);
	CHECK(strcmp(kept, "") == 0);
	CHECK_EQ_INT(c4("A {curly} line.", &C4_DEFAULT, kept, sizeof(kept), &s), C4_CURLY_BRACKET);
	CHECK_EQ_INT(c4("A {curly} line", &C4_DEFAULT, kept, sizeof(kept), &s), C4_OK);
	CHECK_NEAR(s, 0);
	/* the empty page: nothing kept, no sentence */
	CHECK_EQ_INT(c4("", &C4_DEFAULT, kept, sizeof(kept), &s), C4_OK);
	CHECK(strcmp(kept, "") == 0);
	CHECK_NEAR(s, 0);
	/* without the end-punctuation rule (FineWeb's C4) */
	p = C4_DEFAULT;
	p.terminal_punct = 0;
	CHECK_EQ_INT(c4("no end punctuation here", &p, kept, sizeof(kept), &s), C4_OK);
	CHECK(strcmp(kept, "no end punctuation here") == 0);
	CHECK_NEAR(s, 1);
	/* regression: a line left blank once its citations are cut has no
	 * sentence for Punkt, and datatrove counts it as one */
	CHECK_EQ_INT(c4("[1] [2] [3]\nOne two three.", &p, kept, sizeof(kept), &s), C4_OK);
	CHECK(strcmp(kept, "One two three.") == 0);
	CHECK_NEAR(s, 2);
	/* sentences of the kept lines, as Punkt counts each: 1 + 2 + 2 */
	CHECK_EQ_INT(c4("It cost 3. dollars and more.\nHe said \xe2\x80\x9cStop.\xe2\x80\x9d Then left.\n"
			"(x, y, etc.), then more.", &C4_DEFAULT, kept, sizeof(kept), &s), C4_OK);
	CHECK_NEAR(s, 5);
}

int main(void)
{
	Q = quality_new();
	RUN(test_metric_names);
	RUN(test_empty);
	RUN(test_whitespace_only);
	RUN(test_one_word);
	RUN(test_words_and_stop_words);
	RUN(test_unicode);
	RUN(test_symbols_and_lines);
	RUN(test_duplicate_paragraphs_and_lines);
	RUN(test_ngrams);
	RUN(test_sentences);
	RUN(test_c4_lines);
	quality_free(Q);
	quality_free(NULL);
	CHECK_EXIT();
}
