/* dedup.h: exact and near-duplicate detection over a set of documents.
 *
 * A document is signed (dedup_sign, or dedup_batch) from its text: the XXH3-128 hash of
 * its text under the normalisation steps that cannot merge different
 * content (TEXTNORM_EXACT of the chosen ones: case, white space, Unicode
 * composition) for exact duplicates, and a MinHash signature (minhash.h)
 * of its fully normalised text (textnorm.h) for near ones.  A text of
 * fewer than min_words words after normalisation takes no part in the
 * near-duplicate search: a title or a one-line stub shares its only
 * shingles with unrelated texts once numbers are folded.
 *
 * Signed documents go into a set (dedup_set) in order; dedup_set_cluster()
 * first groups equal exact hashes: each group keeps one document (the
 * first, or the longest) and drops the others as exact duplicates of it,
 * whatever the near-duplicate settings, so the exact count does not depend
 * on them.  Then the documents left that share an LSH band key are near
 * duplicate candidates.  With verify, a candidate pair is joined only at a
 * Jaccard similarity of threshold or more, and within each joined
 * component a document is dropped only if it reaches the threshold against
 * a document kept before it (in keep order), which it names; so no
 * document is dropped for a chain of resemblances.  Without verify every
 * candidate pair is joined, and each component keeps one document.
 *
 * Documents loaded from an index come from an earlier run and get no new
 * verdict; those it kept come first in keep order, those it dropped can be
 * the original of an exact copy but never the reason for a near drop.
 *
 * A document is named by its shard (a name: the input file, or one given)
 * and its record number in that shard, counted from 1 over every record,
 * with or without text; and by its "id" field when it has one.
 *
 * Signature files and indexes are sluice record streams, one record per
 * document (see sluice-dedup(1)); dedup_sigfile_* read and write them.
 *
 * Ownership: the caller owns every signer, batch, set and writer it creates and
 * frees it with the matching _free()/_close(); strings returned point into
 * the set and live as long as it does. */
#ifndef SLUICE_DEDUP_H
#define SLUICE_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "stream.h"
#include "util.h"

typedef struct dedup_params {
	int ngram, bands, rows;
	uint64_t seed;
	unsigned norm;          /* textnorm flags */
	int min_words;          /* fewer words: no near-duplicate search */
} dedup_params;

#define DEDUP_MIN_WORDS 5

/* datatrove's MinHash defaults: 5-grams, 14 bands of 8 rows, seed 1; and
 * TEXTNORM_DEFAULT, DEDUP_MIN_WORDS. */
void dedup_params_default(dedup_params *p);

enum { DEDUP_KEPT = 0, DEDUP_EXACT = 1, DEDUP_NEAR = 2 };

/* ---- signing ---- */

/* A signer signs one document at a time, on the calling thread; one per
 * thread signs in parallel (its MinHash tables and scratch are its own). */
typedef struct dedup_signer dedup_signer;

/* A document's signature as dedup_sign() writes it.  keys and low8 are the
 * caller's arrays of bands and bands * rows entries; shingles is reused
 * from call to call (buf_release() it at the end). */
typedef struct dedup_sig {
	uint64_t exact[2];      /* XXH3-128 of the exactly normalised text */
	uint64_t *keys;         /* LSH band keys, zero for too few words */
	uint8_t *low8;          /* low bytes of the MinHash values, likewise */
	int words;              /* enough words for the near-duplicate search */
	buf shingles;           /* with keep_shingles and words: sorted uint32_t shingle hashes */
} dedup_sig;

/* NULL for parameters MinHash refuses (minhash_new). keep_shingles: also
 * keep each document's shingle set (for --verify). */
dedup_signer *dedup_signer_new(const dedup_params *p, int keep_shingles);
void dedup_signer_free(dedup_signer *g);               /* accepts NULL */
void dedup_sign(dedup_signer *g, const uint8_t *text, size_t len, dedup_sig *sig);

/* A batch: documents added, then signed together on the calling thread,
 * then moved into a set (dedup_set_add_batch). */
typedef struct dedup_batch dedup_batch;

dedup_batch *dedup_batch_new(const dedup_params *p, int keep_shingles);
void dedup_batch_free(dedup_batch *b);                 /* accepts NULL */
/* Add a document: its text, its id (NULL if none), its record number. */
void dedup_batch_add(dedup_batch *b, const uint8_t *text, size_t len, const char *id, size_t idlen,
		     uint64_t recno);
size_t dedup_batch_count(const dedup_batch *b);
size_t dedup_batch_bytes(const dedup_batch *b);       /* text bytes held */
void dedup_batch_sign(dedup_batch *b);                /* sign every document added */

/* ---- the set ---- */

typedef struct dedup_set dedup_set;

dedup_set *dedup_set_new(const dedup_params *p);
void dedup_set_free(dedup_set *s);                     /* accepts NULL */
const dedup_params *dedup_set_params(const dedup_set *s);
/* The number of a shard name, added if new. */
uint32_t dedup_set_shard(dedup_set *s, const char *name);
const char *dedup_set_shard_name(const dedup_set *s, uint32_t shard);
size_t dedup_set_nshards(const dedup_set *s);
/* Record count of a shard (records with and without text), for the drop
 * list; UINT64_MAX until set. */
void dedup_set_shard_records(dedup_set *s, uint32_t shard, uint64_t records);
uint64_t dedup_set_shard_count(const dedup_set *s, uint32_t shard);

/* Move a signed batch's documents into the set under shard (the batch is
 * cleared).  indexed: they come from an index (kept by an earlier run). */
void dedup_set_add_batch(dedup_set *s, dedup_batch *b, uint32_t shard, int indexed);
/* Add one signed document (this run's, not from an index): its shard,
 * record number, id (NULL if none), text length in bytes and signature. */
void dedup_set_add_sig(dedup_set *s, uint32_t shard, uint64_t recno, const char *id, size_t idlen,
		       uint64_t length, const dedup_sig *sig);
size_t dedup_set_count(const dedup_set *s);

typedef struct dedup_cluster_opts {
	int keep_longest;   /* keep the longest text of a component, not the first */
	int near;           /* 0: exact duplicates only */
	int verify;         /* join and drop only at >= threshold similarity */
	double threshold;
} dedup_cluster_opts;

typedef struct dedup_stats {
	uint64_t docs, indexed, short_docs;   /* short: under min_words, exact only */
	uint64_t candidates, verified;   /* candidate pairs checked, and passed, under verify */
	uint64_t clusters;               /* components with a dropped document */
	uint64_t exact, near;            /* documents dropped, by reason */
} dedup_stats;

void dedup_set_cluster(dedup_set *s, const dedup_cluster_opts *o, dedup_stats *st);

typedef struct dedup_verdict {
	int reason;          /* DEDUP_KEPT, DEDUP_EXACT or DEDUP_NEAR */
	uint32_t kept;       /* the document it duplicates: for a near drop one
				that is kept; for an exact one the document its
				group keeps, which may itself be a near drop */
	double similarity;   /* 1 for exact; else exact Jaccard if both shingle
				sets are known, the signature estimate if not */
} dedup_verdict;

/* Valid after dedup_set_cluster(). */
void dedup_set_verdict(const dedup_set *s, uint32_t doc, dedup_verdict *v);
uint32_t dedup_set_doc_shard(const dedup_set *s, uint32_t doc);
uint64_t dedup_set_doc_recno(const dedup_set *s, uint32_t doc);
/* Its id field, or "SHARD:RECNO" when it had none. */
const char *dedup_set_doc_name(dedup_set *s, uint32_t doc);

/* A rerun of the run an index records last.  Call after loading the index
 * and signing this run's documents, before clustering.  When this run's
 * documents are the ones the index's last run added (the same shards,
 * record numbers, hashes and lengths, in order) and o is the options that
 * run clustered with, they are the same run again (one killed after it
 * updated the index, or repeated): the index's copies are taken out of the
 * set, so that the run gives the same verdicts as the first time, and 1
 * is returned.  Otherwise 0, and nothing changes. */
int dedup_set_replay(dedup_set *s, const dedup_cluster_opts *o);

/* Bytes of memory the set holds per document (its arrays divided by the
 * count), for reports. */
double dedup_set_bytes_per_doc(const dedup_set *s);

/* ---- signature files and indexes ---- */

/* Write every document of s to a new signature stream on fd, and unless
 * index, the record count of each shard.  An index holds dropped documents
 * too, marked as such, so that a later batch finds the exact copies one
 * run over all the batches would have found; and, in its header, how many
 * documents the last run added with what options (for dedup_set_replay;
 * write an index only after dedup_set_cluster).  with_shingles keeps the
 * shingle sets.
 * Returns 0, or -1 with errno set on a write error. */
int dedup_sigfile_write(dedup_set *s, int fd, int index, int with_shingles) MUST_CHECK;

/* Read a signature file or index at path into s, checking that its
 * parameters equal s's.  indexed: mark the documents as kept by an earlier
 * run.  Returns 0, or -1 with "what went wrong" in err. */
int dedup_sigfile_read(dedup_set *s, const char *path, int indexed, char *err, size_t errlen);
/* The same from memory (for tests and fuzzing). */
int dedup_sigfile_read_mem(dedup_set *s, const void *p, size_t n, int indexed, char *err, size_t errlen);

/* ---- drop lists ---- */

/* Write the drop list of a clustered set to fd: a record stream with one
 * record per shard {shard, records} and one per dropped document {shard,
 * recno, reason, dup_of, similarity}.  Returns 0, or -1 with errno set. */
int dedup_drops_write(dedup_set *s, int fd) MUST_CHECK;

typedef struct dedup_drops dedup_drops;
typedef struct dedup_drop {
	uint64_t recno;
	int reason;            /* DEDUP_EXACT or DEDUP_NEAR */
	double similarity;
	const char *dup_of;
} dedup_drop;

/* Read a drop list.  Returns NULL with "what went wrong" in err. */
dedup_drops *dedup_drops_read(const char *path, char *err, size_t errlen);
dedup_drops *dedup_drops_read_mem(const void *p, size_t n, char *err, size_t errlen);
void dedup_drops_free(dedup_drops *d);                 /* accepts NULL */
/* The drops of one shard, sorted by record number: returns how many and
 * points *first at them, and stores the shard's record count; returns -1
 * if the list does not name the shard. */
long dedup_drops_shard(const dedup_drops *d, const char *shard, uint64_t *records, const dedup_drop **first);

const char *dedup_reason_name(int reason);            /* "exact", "near" */

#endif
