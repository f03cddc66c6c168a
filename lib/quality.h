/* quality.h: the measurements behind the heuristic presets (Gopher quality
 * and repetition, C4, FineWeb), as datatrove defines them.
 *
 * A quality value holds one document's text and caches what several
 * measurements share (its words, its length in characters).  Lengths are in
 * code points, as Python's len() counts them.  A ratio whose denominator is
 * zero is NaN, which no threshold comparison fires on.
 *
 * Ownership: quality_new() gives a handle the caller frees with
 * quality_free(); it is used by one thread at a time.  The text given to
 * quality_set_text() must stay valid while it is measured. */
#ifndef SLUICE_QUALITY_H
#define SLUICE_QUALITY_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"
#include "words.h"

typedef enum {
	Q_CHARS,            /* characters */
	Q_BYTES,            /* bytes */
	Q_WORDS,            /* all word tokens */
	Q_LINES,            /* lines (str.splitlines) */
	Q_NONSYMBOL_WORDS,  /* words with a character that is not punctuation */
	Q_MEAN_WORD_LENGTH, /* mean length of those words */
	Q_HASH_RATIO,       /* '#' characters per word */
	Q_ELLIPSIS_RATIO,   /* "..." and U+2026 per word */
	Q_BULLET_LINES,     /* fraction of lines starting with a bullet or '-' */
	Q_ELLIPSIS_LINES,   /* fraction of lines ending with an ellipsis */
	Q_ALPHA_WORDS,      /* fraction of words with a letter */
	Q_STOP_WORDS,       /* distinct stop words present */
	Q_DUP_PARA_FRAC,    /* duplicate paragraphs / paragraphs */
	Q_DUP_PARA_CHARS,   /* characters in duplicate paragraphs / characters */
	Q_DUP_LINE_FRAC,
	Q_DUP_LINE_CHARS,
	Q_TOP_NGRAM,        /* param n: characters of the most frequent n-gram / characters */
	Q_DUP_NGRAM,        /* param n: characters in repeated n-grams / characters */
	Q_LINE_PUNCT,       /* fraction of non-blank lines ending in terminal punctuation */
	Q_SHORT_LINES,      /* param n: fraction of non-blank lines of at most n characters */
	Q_LINE_CHAR_DUP,    /* characters in duplicate non-blank lines / characters not '\n' */
	Q_NEWLINE_RATIO,    /* '\n' per word */
	Q_METRIC_COUNT
} quality_metric;

/* Name of a metric as the rules file writes it ("mean_word_length"). */
const char *quality_metric_name(quality_metric m);
/* Look a name up; *takes_param says whether it wants ":N".  Returns -1 if unknown. */
int quality_metric_find(const char *name, size_t len, int *takes_param);

typedef struct quality quality;

quality *quality_new(void);
void quality_free(quality *q);                         /* accepts NULL */
void quality_set_text(quality *q, const uint8_t *s, size_t n);
double quality_measure(quality *q, quality_metric m, int param);
const words *quality_words(quality *q);

/* C4's line filter (datatrove's C4QualityFilter): lines are kept or removed
 * one by one, and the page is judged on what is kept. */
typedef struct quality_c4_params {
	int max_word_length;     /* drop lines with a longer word; 0: off (1000) */
	int remove_citations;    /* strip [1], [edit], [citation needed] (1) */
	int terminal_punct;      /* keep only lines ending in . ? ! " ' (1) */
	int min_words_per_line;  /* 0: off (3) */
	int javascript;          /* drop lines mentioning javascript (1) */
	int policy;              /* drop lines with cookie/terms phrases (1) */
} quality_c4_params;

enum { C4_OK, C4_LOREM_IPSUM, C4_CURLY_BRACKET };

/* Run the line filter over the current text: the kept lines, joined by
 * '\n', are put in *kept (replacing its contents) and their sentence count
 * in *sentences.  Returns C4_OK, or the page-level rule that dropped it
 * (then *kept is incomplete). */
int quality_c4(quality *q, const quality_c4_params *p, buf *kept, double *sentences);

/* Sentences in s[0..n) as untrained Punkt cuts them. */
size_t quality_sentences(const uint8_t *s, size_t n);

#endif
