/* train.h: optimizer steps over a stream of sequences.
 *
 * The trainer gathers batch x accum sequences, weights each target by
 * 1 / (targets in the step) so that the step's loss is the mean over its
 * targets whatever the masks, runs forward and backward micro-batch by
 * micro-batch, clips, steps AdamW at the schedule's rate and writes one
 * JSON line to the log.  The caller owns the trainer, the model, the
 * optimizer and info (updated: step, tokens, flops). */
#ifndef SLUICE_TRAIN_H
#define SLUICE_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "ckpt.h"
#include "model.h"
#include "optim.h"
#include "seqs.h"

typedef struct train_stats {
	double loss, lr, grad_norm, seconds, tokens_per_s, gflops;
	uint64_t targets;
} train_stats;

typedef struct train_opts {
	int batch, accum;
	optim_opts opt;
	FILE *log;                  /* JSON lines; NULL: none */
	/* Called after each step with its statistics and its number; NULL:
	 * not called.  (A progress line is the caller's to draw.) */
	void (*on_step)(void *ctx, const train_stats *s, int64_t step);
	void *on_step_ctx;
} train_opts;

typedef struct trainer trainer;

trainer *train_new(model *m, optim *o, const train_opts *opts, ckpt_info *info);
void train_free(trainer *t);                     /* accepts NULL */

/* Add one sequence of len tokens (checked by seqs: ids in the vocabulary,
 * len - 1 <= n_ctx, the same len every call).  Runs a step when the batch
 * is full; returns 1 if it did, 0 if not, -1 if it did but its log line
 * could not be written (errno set).  mask may be NULL. */
int train_add(trainer *t, const uint32_t *tok, const uint8_t *mask, size_t len);
/* Run a step over the sequences gathered so far, if any.  Returns 1 if it
 * did, 0 if not, -1 as train_add(). */
int train_flush(trainer *t);
/* Sequences gathered but not yet stepped on. */
int train_pending(const trainer *t);
const train_stats *train_last(const trainer *t);

#endif
