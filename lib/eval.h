/* eval.h: measuring a model on data -- the loss over sequences, the KL to
 * a reference model, the log-likelihood of documents and of continuations.
 *
 * Log-probabilities are natural logs.  Positions count as targets where
 * the sequence's mask is 1 (all but the first without a mask), as in
 * training, so eval_loss over a validation shard is the loss train-step
 * logs for it. */
#ifndef SLUICE_EVAL_H
#define SLUICE_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "seqs.h"
#include "tokenizer.h"

typedef struct eval_loss_result {
	double loss;                /* mean -log p per target */
	uint64_t sequences, targets;
	uint64_t bytes;             /* UTF-8 bytes of the target tokens (with a vocabulary) */
} eval_loss_result;

/* Over every sequence of s, batch at a time.  v (may be NULL) gives the
 * byte counts for bits per byte; special tokens count 0 bytes.  Returns 0,
 * or -1 on a read error (seqs_error()). */
int eval_loss(model *m, seqs *s, int batch, const tok_vocab *v, eval_loss_result *out);

typedef struct eval_kl_result {
	double mean, std, max;      /* KL(model || ref) per target, nats */
	uint64_t targets;
} eval_kl_result;

/* Per-target KL(p_model || p_ref) = sum_v p(v) (log p(v) - log q(v)) over
 * every sequence of s.  The models must share the vocabulary size.
 * Returns 0, or -1 on a read error. */
int eval_kl(model *m, model *ref, seqs *s, int batch, eval_kl_result *out);

/* Sum of log p(tok[i] | tok[..i]) for i in [1, n): windows of n_ctx + 1
 * tokens, each sharing one token with the last (the context restarts at a
 * window's start).  *scored gets n - 1. */
double eval_doc_logprob(model *m, const uint32_t *tok, size_t n, uint64_t *scored);

/* Sum of log p(cont | ctx) over the continuation's tokens; ctx is cut
 * from the left to fit the context.  NaN unless 1 <= nctx and
 * 1 <= ncont <= n_ctx. */
double eval_continuation_logprob(model *m, const uint32_t *ctx, size_t nctx, const uint32_t *cont, size_t ncont);

/* The log-probability of each completion token given the prompt and the
 * completion tokens before it (temperature 1), for n sequences of a prompt
 * then a completion: seq[i] holds nprompt[i] >= 1 tokens and then ncomp[i]
 * (0 or more), n_ctx + 1 tokens at most, every id below n_vocab (the
 * caller checks).  One forward pass over the n, padded to the longest:
 * with causal attention the padding after a sequence changes nothing of
 * it.  out[i] gets ncomp[i] values. */
void eval_completion_logprobs(model *m, const uint32_t *const *seq, const size_t *nprompt, const size_t *ncomp,
			      size_t n, float *const *out);

#endif
