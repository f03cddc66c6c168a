/* sample.h: generating completions from a model, batched over a key/value
 * cache.
 *
 * A job is one completion of one prompt.  Each job draws from its own
 * random stream, seeded by (seed, group, index) alone, so a job's output
 * does not depend on which other jobs share the batch or on the thread
 * count: the same seed gives the same completions.  Two log-probabilities
 * are kept with each generated token: the model's own (temperature 1, no
 * truncation), the one a full forward pass gives, and the sampler's, under
 * the distribution the token was drawn from (the logits divided by the
 * temperature, cut by top-k and top-p and renormalised over what is kept),
 * the old policy's probability that RL's ratios divide by. */
#ifndef SLUICE_SAMPLE_H
#define SLUICE_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "tokenizer.h"

enum { SAMPLE_LENGTH, SAMPLE_STOP_TOKEN, SAMPLE_STOP_STRING };

typedef struct sample_cache sample_cache;

typedef struct sample_opts {
	double temperature;         /* 0: greedy (the lowest id among equals) */
	int top_k;                  /* keep the k likeliest tokens (0: all) */
	double top_p;               /* keep the smallest set of this mass (1: all) */
	int max_new;                /* tokens to generate at most */
	uint64_t seed;
	const uint32_t *stop_tokens;
	size_t n_stop_tokens;
	const char *const *stop_strings;  /* need vocab */
	size_t n_stop_strings;
	const tok_vocab *vocab;
	int slots;                  /* sequences decoded together */
	int weights;                /* the products' weights: KERN_F32 (0), KERN_BF16, KERN_I8 */
	sample_cache *cache;        /* NULL, or from sample_cache_new() for these slots and weights */
} sample_opts;

typedef struct sample_job {
	const uint32_t *prompt;     /* at least one token, fewer than n_ctx */
	size_t nprompt;
	uint64_t group, index;      /* the random stream's key */
	/* Results, owned by the job (sample_job_release frees them). */
	uint32_t *out;
	float *logprobs;            /* the model's own, at temperature 1 */
	float *sample_logprobs;     /* the sampler's; NULL when greedy (temperature 0) */
	size_t nout;
	int finish;                 /* SAMPLE_* */
	size_t text_len;            /* bytes of the completion's text before a stop string */
} sample_job;

/* The key/value cache and the products' weights packed for decoding, for
 * sample_run() calls with o->slots and o->weights on model m: set as
 * o->cache, it is kept from one call to the next, so that the weights are
 * packed once, not at every call.  It holds the parameters as they are
 * now (later changes to them are not seen: make a new one after training).
 * The completions are the same as without it.  A slot holds the
 * positions the longest prompt of a call and its completion reach, not the
 * model's whole context: the cache is made at the first call and made
 * again (weights packed again) when a call needs more.  sample_cache_free
 * accepts NULL. */
sample_cache *sample_cache_new(const model *m, const sample_opts *o);
void sample_cache_free(sample_cache *c);

/* Run every job to its end.  Returns 0, or -1 with err for a job the
 * model cannot take (an empty prompt or one that fills the context), or
 * an o->cache made for another model, slot count or weight storage. */
int sample_run(model *m, const sample_opts *o, sample_job *jobs, size_t n, char *err, size_t errlen);
void sample_job_release(sample_job *j);

#endif
