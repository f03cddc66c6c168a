/* tokenizer.h: byte-level BPE as tiktoken does it, exactly; and as Hugging
 * Face tokenizers does it for a tokenizer.json (tok_load_hf_mem).
 *
 * A vocabulary is a tiktoken rank file (one "base64(token) rank" per line)
 * plus a pre-tokenization pattern and special tokens, read from the JSON
 * file beside it (NAME.json: "pat_str", "special_tokens").  Encoding splits
 * the text with the pattern (PCRE2, JIT-compiled) and merges the bytes of
 * each piece by rank, lowest first, leftmost among equals.
 *
 * A tok_vocab is read-only once loaded and may be shared by threads; each
 * thread encodes with its own tok_state. */
#ifndef SLUICE_TOKENIZER_H
#define SLUICE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

typedef struct tok_vocab tok_vocab;
typedef struct tok_state tok_state;

#define TOK_NONE UINT32_MAX

/* Room for a tokenizer's name (a path, for a tokenizer.json) in headers,
 * checkpoints and readers: any path realpath() gives. */
#define TOK_NAME_MAX 4096

/* The name a tokenizer goes by in stream headers and checkpoints, into
 * out[size].  A tokenizer.json, or a model directory holding one, goes by
 * the real path of its directory, so `dir`, `dir/`, `./dir` and
 * `dir/tokenizer.json` are one tokenizer wherever the command runs; a
 * .tiktoken file by its base name without the suffix (as tok_load names
 * it); an encoding's name is itself.  A path that cannot be resolved (not
 * there) keeps its spelling.  Returns 0, or -1 (errno ENAMETOOLONG) if
 * the name does not fit. */
int tok_canonical_name(const char *name_or_path, char *out, size_t size);
/* 1 if name_or_path names a tokenizer.json (a path ending in .json) or a
 * directory (*dir then 1), else 0. */
int tok_hf_path(const char *name_or_path, int *dir);

/* Load an encoding by name ("gpt2", "cl100k_base", "o200k_base", found in
 * $SLUICE_VOCAB_DIR or the vocab directory of the build or installation)
 * or from a path to a .tiktoken file (its .json, if any, beside it).  A
 * pattern given here replaces the JSON's.  Returns NULL with the problem
 * in err. */
tok_vocab *tok_load(const char *name_or_path, const char *pattern, char *err, size_t errlen);
/* The same from memory: ranks as in a .tiktoken file, config as in the
 * .json (or NULL, then pattern is needed). */
tok_vocab *tok_load_mem(const char *name, const uint8_t *ranks, size_t ranks_len, const char *config,
			size_t config_len, const char *pattern, char *err, size_t errlen);
/* A Hugging Face tokenizer.json held in memory: a BPE model over the
 * byte-level alphabet with its vocabulary and merges (a pair merges at the
 * rank of its place in the merges list, whatever the ids), the
 * pre-tokenizer's pattern (one Split by a regular expression, Isolated,
 * and ByteLevel; or ByteLevel's own GPT-2 pattern), an NFC normaliser or
 * none, and the added tokens: special ones act as special tokens here do
 * (ordinary text unless allowed), the others are always found in the text,
 * as tokenizers finds them.  The post-processor is not applied (ids as
 * encode(text, add_special_tokens=False) gives them).  A pattern given
 * here replaces the file's.  Returns NULL with the problem in err ("model:
 * merges: merge 12 names 'x', which is not in the vocabulary"; JSON errors
 * with their line and column). tok_load() reads one from a path ending in
 * .json or from a directory holding a tokenizer.json; it is named by that
 * path. */
tok_vocab *tok_load_hf_mem(const char *name, const char *json, size_t len, const char *pattern, char *err,
			   size_t errlen);
void tok_free(tok_vocab *v);                            /* accepts NULL */

const char *tok_name(const tok_vocab *v);
const char *tok_pattern(const tok_vocab *v);
uint32_t tok_n_vocab(const tok_vocab *v);               /* largest id + 1 */
/* Id of a special token by its text ("<|endoftext|>"), or TOK_NONE. */
uint32_t tok_special(const tok_vocab *v, const char *text);
/* Let special token text (NULL: every special token) encode as its id;
 * otherwise it is ordinary text.  Returns -1 for an unknown name. */
int tok_allow_special(tok_vocab *v, const char *text);

tok_state *tok_state_new(const tok_vocab *v);
void tok_state_free(tok_state *s);                       /* accepts NULL */
/* Pieces (pattern matches) longer than this many bytes (default 64 KiB) are
 * merged a window at a time, so that memory stays bounded however long a
 * piece is; the ids are the same as merging it whole.  0 merges every piece
 * whole (for tests). */
void tok_set_window(tok_state *s, size_t bytes);
/* Pieces merged by windows since tok_state_new(), and in *refused those of
 * them merged whole after all because a cut failed its check. */
size_t tok_windowed(const tok_state *s, size_t *refused);

/* Encode text[0..n).  Invalid UTF-8 is first replaced by U+FFFD (the
 * number of replacements goes to *replaced).  The ids are at tok_ids()
 * until the next call.  Returns 0, or -1 if the pattern engine gave up
 * (err says why). */
int tok_encode(tok_state *s, const uint8_t *text, size_t n, size_t *replaced, char *err, size_t errlen);
const uint32_t *tok_ids(const tok_state *s, size_t *n);
/* Bytes of the last text that no pattern match covered: tiktoken drops
 * them, and so does tok_encode, but they are counted so that a pattern
 * which loses text is noticed.  Zero with the shipped encodings. */
size_t tok_skipped(const tok_state *s);

/* Append the bytes of ids to out.  Returns 0, or -1 with *bad the index of
 * the first id that is not in the vocabulary. */
int tok_decode(const tok_vocab *v, const uint32_t *ids, size_t n, buf *out, size_t *bad);
/* The bytes of one id, or NULL. */
const uint8_t *tok_bytes(const tok_vocab *v, uint32_t id, size_t *len);

/* The pre-tokenizer alone (for training): pieces of text by the pattern. */
typedef struct tok_splitter tok_splitter;
tok_splitter *tok_splitter_new(const char *pattern, char *err, size_t errlen);
void tok_splitter_free(tok_splitter *sp);                /* accepts NULL */
/* The next piece of valid UTF-8 text[0..n) at or after *pos: returns 1 with
 * it at [*start, *end) and *pos past it, 0 at the end, -1 with err.  Bytes
 * no match covers (none, with the usual patterns) are skipped, as
 * tiktoken skips them. */
int tok_split_next(tok_splitter *sp, const uint8_t *text, size_t n, size_t *pos, size_t *start, size_t *end,
		   char *err, size_t errlen);

/* Base64 as the rank files use it (standard alphabet, padded). */
void tok_base64_encode(buf *out, const uint8_t *p, size_t n);

#endif
