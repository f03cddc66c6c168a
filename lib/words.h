/* words.h: English words as NLTK's word_tokenize() splits them, and the
 * Unicode character classes the quality rules measure with.
 *
 * The splitter follows NLTK's Treebank-style tokenizer (NLTKWordTokenizer)
 * run on sentences cut at sentence-final periods the way an untrained Punkt
 * model cuts them: a '.' ending a whitespace-separated chunk ends a sentence,
 * except after a single letter (an initial) or a number followed by a
 * lowercase word.  Quotes become `` and '' as in the Treebank convention.
 * Deviations from NLTK are listed in sluice-synth-filter(1).
 *
 * Ownership: a words value is the caller's; words_release() frees it. */
#ifndef SLUICE_WORDS_H
#define SLUICE_WORDS_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct words_tok {
	uint32_t off, len;  /* bytes in words.text */
	uint32_t chars;     /* code points (a Python len()) */
} words_tok;

/* Zero-initialised is empty and valid; reuse it across documents. */
typedef struct words {
	buf text;           /* the tokens' bytes, back to back */
	words_tok *v;
	size_t n, cap;
	uint32_t *cps;      /* scratch: code points of one chunk */
	uint32_t *offs;     /* scratch: their byte offsets */
	size_t cps_cap;
} words;

/* Split s[0..n) into words, replacing w's contents. */
void words_split(words *w, const uint8_t *s, size_t n);
void words_release(words *w);

static inline const uint8_t *words_at(const words *w, size_t i, size_t *len)
{
	*len = w->v[i].len;
	return w->text.data + w->v[i].off;
}

/* Code points in s[0..n); an invalid byte counts as one. */
size_t words_chars(const uint8_t *s, size_t n);

/* Character classes.  punct: datatrove's PUNCTUATION_SET (ASCII and common
 * Unicode punctuation, control characters); terminal: its
 * TERMINAL_PUNCTUATION; alpha: Python's str.isalpha (letters); word: the
 * regex \w (letters, digits, '_'); space: Python's str.isspace. */
int words_is_punct(uint32_t cp);
int words_is_terminal(uint32_t cp);
int words_is_alpha(uint32_t cp);
int words_is_word(uint32_t cp);
int words_is_digit(uint32_t cp);
int words_is_space(uint32_t cp);
int words_is_upper(uint32_t cp);
int words_is_lower(uint32_t cp);
/* Simple lowercase mapping (Python's str.lower for one character). */
uint32_t words_lower(uint32_t cp);

#endif
