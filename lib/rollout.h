/* rollout.h: reading scored rollouts (doc/rl.md) for GRPO and DPO.
 *
 * A rollout is one completion of one prompt as sluice-sample wrote it,
 * with the fields RL reads checked and copied out: the tokens, the
 * sampler's log-probabilities, the reward, the reference's log-probs.
 * Rollouts come a group at a time; a group is the completions of one
 * prompt, written one after the other.
 *
 * Errors: functions that fail return -1 and leave a message naming the
 * record in rollout_error() ("FILE: record N: what").
 *
 * Ownership: the caller owns the reader (rollout_close accepts NULL); the
 * rollouts a batch holds are the batch's and stay valid until the next
 * rollout_read_batch() on it or rollout_batch_free(). */
#ifndef SLUICE_ROLLOUT_H
#define SLUICE_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

/* What a reader asks of each record. */
enum {
	ROLLOUT_NEED_REWARD = 1,        /* a finite reward field */
	ROLLOUT_NEED_OLD_LOGPROBS = 2,  /* the sampler's log-probs, a temperature > 0, no truncation */
	ROLLOUT_NEED_REF_LOGPROBS = 4,  /* ref_logprobs */
};

typedef struct rollout {
	uint32_t *tok;              /* the prompt's tokens, then the completion's */
	size_t nprompt, ncomp;
	float *old_logp;            /* ncomp: the sampler's, or NULL */
	float *ref_logp;            /* ncomp: ref_logprobs, or NULL */
	double reward, temperature;
	int64_t group, sample, policy_step, max_new;
	int truncated;              /* stopped by the length limit */
	uint64_t record;            /* its number in the input, from 1 */
} rollout;

typedef struct rollout_batch {
	rollout *r;
	size_t n, cap;
	size_t *group_start;        /* ngroups + 1 offsets into r */
	size_t ngroups, gcap;
} rollout_batch;

typedef struct rollout_reader rollout_reader;

/* Open path (NULL or "-": stdin) with the model's vocabulary and context
 * (sequences longer than n_ctx + 1 tokens are refused) and the step it is
 * at; need is a set of ROLLOUT_NEED_* flags.  NULL with errno set if it
 * cannot be opened. */
rollout_reader *rollout_open(const char *path, uint64_t n_vocab, uint64_t n_ctx, unsigned need);
void rollout_close(rollout_reader *rd);
const char *rollout_error(const rollout_reader *rd);
const char *rollout_path(const rollout_reader *rd);
/* The stream's header fields, "" where absent. */
const char *rollout_tokenizer(const rollout_reader *rd);
const char *rollout_chat_template(const rollout_reader *rd);
/* Records read so far (whole groups). */
uint64_t rollout_records(const rollout_reader *rd);

/* "rollouts/HASH": names the input by its first record, for a checkpoint's
 * data position ("" for an input without records).  Returns 0, or -1 if
 * that record is bad. */
int rollout_stream_id(rollout_reader *rd, char *out, size_t size);

/* Refuse rollouts sampled more than max_staleness steps before step, or
 * after it. */
void rollout_set_step(rollout_reader *rd, int64_t step, int64_t max_staleness);

/* Skip whole groups until n records have been read.  Returns 0, or -1 if
 * the input ends first or n falls inside a group. */
int rollout_skip(rollout_reader *rd, uint64_t n);

/* Read up to max_groups groups (0: to the end) into b.  Every group must
 * have as many completions as the first (a group split across files shows
 * as a short one).
 * Returns the groups read (0 at the end), or -1. */
long rollout_read_batch(rollout_reader *rd, size_t max_groups, rollout_batch *b);
void rollout_batch_free(rollout_batch *b);

#endif
