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

/* Data parallelism: `size` copies of the trainer, one per rank, each fed
 * the same sequences in the same order.  Of every size x batch x accum
 * sequences, rank r keeps the r-th batch x accum and the others skip
 * them; a step's gradients, loss and counts are summed over the ranks, so
 * every rank takes the same optimizer step on the same parameters.  The
 * calls are collective: every rank makes them in the same order.  The
 * library knows no message-passing system: sum_real and sum_f64 replace
 * v[0..n) on every rank with its sum over the ranks and return 0, or -1
 * on failure; a deterministic implementation sums in a fixed order.
 * When the optimizer is sharded (optim_shard: rank r holds the moments of
 * parameters [train_share(n, r, size), train_share(n, r + 1, size))),
 * gather_real copies each rank's share of v[0..n) to every rank after the
 * step; NULL when every rank updates every parameter. */
typedef struct train_comm {
	int rank, size;
	int (*sum_real)(void *ctx, real *v, size_t n);
	int (*sum_f64)(void *ctx, double *v, size_t n);
	int (*gather_real)(void *ctx, real *v, size_t n);
	void *ctx;
} train_comm;

/* Where rank r's share of n items begins (r = size: n). */
static inline size_t train_share(size_t n, int r, int size)
{
	return (size_t)((unsigned long long)n * (unsigned)r / (unsigned)size);
}

typedef struct train_stats {
	double loss, lr, grad_norm, seconds, tokens_per_s, gflops;
	uint64_t targets;
} train_stats;

typedef struct train_opts {
	int batch, accum;           /* per rank */
	optim_opts opt;
	const train_comm *comm;     /* NULL: one process */
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
 * (of every rank) is full; returns 1 if it did, 0 if not, -1 if it did but
 * its log line could not be written (errno set) or, with a comm, a sum
 * failed (errno EIO).  mask may be NULL. */
int train_add(trainer *t, const uint32_t *tok, const uint8_t *mask, size_t len);
/* Run a step over the sequences gathered so far, if any.  Returns 1 if it
 * did, 0 if not, -1 as train_add(). */
int train_flush(trainer *t);
/* Sequences gathered but not yet stepped on (of every rank). */
int train_pending(const trainer *t);
const train_stats *train_last(const trainer *t);

#endif
